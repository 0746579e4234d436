/* The worker for blocking calls (worker.h), written once over the
 * thread primitives of sys.h (pthreads in sys_posix.c, Windows threads in
 * sys_win32.c).
 *
 * A work is shared by the caller and the worker until one of them lets go:
 * the caller when it ends or abandons the work, the worker when its call
 * returns.  Whoever lets go last discards the payload.  The caller joins a
 * worker it waited for; abandoned works go on a list, and each later start
 * joins and frees those whose call has returned. */
#include "config.h"

#include "transport/worker.h"
#include "clock.h"
#include "sys.h"

#include <stdatomic.h>
#include <stdlib.h>

struct tdsc__work {
  tdsc__monitor *mon;   /* guards done and abandoned; signalled when done */
  tdsc__thread *thread; /* to join; NULL: never started */
  bool done;            /* the call returned: outputs valid */
  bool abandoned;       /* the caller left: the worker discards the payload */
  bool exited; /* (abandoned) the worker is past its last use of w; under
                  the global lock */
  tdsc__waker *wake; /* the caller's; fired when done unless abandoned */
  tdsc__work_fn call, discard;
  void *payload;
  struct tdsc__work *next; /* on the abandoned list */
};

static atomic_uint active;
void (*tdsc__work_pause)(void);

unsigned tdsc__work_active(void) { return atomic_load(&active); }

static tdsc__work *abandoned; /* guarded by tdsc__global_lock */

static void work_free(tdsc__work *w) {
  tdsc__monitor_free(w->mon);
  free(w);
}

/* Joins and frees the abandoned works whose worker is done with them. */
static void reap(void) {
  tdsc__global_lock();
  tdsc__work **pp = &abandoned;
  while (*pp) {
    tdsc__work *w = *pp;
    if (!w->exited) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    tdsc__thread_join(w->thread);
    work_free(w);
  }
  tdsc__global_unlock();
}

/* An abandoned call outlives its connection: from the first one on, the
 * library stays loaded until the process ends, so that a dlclose (or
 * FreeLibrary) cannot unmap the code the worker returns to. */
static atomic_flag pinned = ATOMIC_FLAG_INIT;

/* The caller lets go of a running w (its lock held). */
static void leave(tdsc__work *w) {
  w->abandoned = true;
  if (!atomic_flag_test_and_set(&pinned))
    tdsc__pin_library();
  tdsc__global_lock();
  w->next = abandoned;
  abandoned = w;
  tdsc__global_unlock();
}

tdsc__work *tdsc__work_new(tdsc__work_fn call, tdsc__work_fn discard,
                           void *payload) {
  tdsc__work *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  if (!(w->mon = tdsc__monitor_new())) {
    free(w);
    return NULL;
  }
  w->call = call;
  w->discard = discard;
  w->payload = payload;
  return w;
}

void *tdsc__work_payload(tdsc__work *w) { return w->payload; }

/* A worker whose caller still waits makes no provider call after the one
 * it ran, and the caller joins it: the program may exit, or unload the
 * library, as soon as the caller returns (a krb5 call in a thread still
 * running then aborts in krb5's destroyed mutexes, seen in check_auth). */
static void worker(void *arg) {
  tdsc__work *w = arg;
  w->call(w->payload);
  tdsc__monitor_lock(w->mon);
  w->done = true;
  bool orphan = w->abandoned;
  if (!orphan && w->wake) /* under the lock: a caller that leaves sets
                             abandoned */
    tdsc__waker_fire(w->wake);
  tdsc__monitor_signal(w->mon);
  tdsc__monitor_unlock(w->mon);
  if (tdsc__work_pause)
    tdsc__work_pause();
  if (orphan) {
    w->discard(w->payload);
    tdsc__global_lock();
    w->exited = true; /* the next reap joins and frees w */
    tdsc__global_unlock();
  }
  atomic_fetch_sub(&active, 1);
}

bool tdsc__work_start(tdsc__work *w, tdsc__waker *wake) {
  reap();
  w->wake = wake;
  atomic_fetch_add(&active, 1);
  if ((w->thread = tdsc__thread_start(worker, w)))
    return true;
  atomic_fetch_sub(&active, 1);
  return false;
}

tdsc_errc tdsc__work_no_thread(tdsc_error *err, const char *what) {
  return tdsc__err_set(err, TDSC_E_NO_MEMORY,
                       "cannot start a thread for %s (out of memory, or the "
                       "system's limit on threads reached)",
                       what);
}

int tdsc__work_poll(tdsc__work *w, int64_t deadline) {
  tdsc__monitor_lock(w->mon);
  bool done = w->done;
  if (!done && tdsc__ms_left(deadline) == 0)
    leave(w);
  bool gone = w->abandoned;
  tdsc__monitor_unlock(w->mon);
  return done ? 1 : gone ? -1 : 0;
}

int tdsc__work_run(tdsc__work *w, int64_t deadline) {
  if (!tdsc__work_start(w, NULL))
    return 0;
  tdsc__monitor_lock(w->mon);
  while (!w->done) {
    if (tdsc__ms_left(deadline) == 0) {
      leave(w);
      break;
    }
    tdsc__monitor_wait(w->mon, deadline);
  }
  bool done = w->done;
  tdsc__monitor_unlock(w->mon);
  return done ? 1 : -1;
}

void tdsc__work_end(tdsc__work *w) {
  if (w->thread)
    tdsc__thread_join(w->thread);
  w->discard(w->payload);
  work_free(w);
}

void tdsc__work_abandon(tdsc__work *w) {
  tdsc__monitor_lock(w->mon);
  bool done = w->done || !w->thread;
  if (!done)
    leave(w);
  tdsc__monitor_unlock(w->mon);
  if (done)
    tdsc__work_end(w);
}
