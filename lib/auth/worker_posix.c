/* The worker for blocking provider calls (worker.h), on POSIX threads.
 *
 * A work is shared by the caller and the worker until one of them lets go:
 * the caller when it ends or abandons the work, the worker when its call
 * returns.  Whoever lets go last discards the payload.  The caller joins a
 * worker it waited for; abandoned works go on a list, and each later start
 * joins and frees those whose call has returned. */
#define _GNU_SOURCE /* dladdr */
#include "config.h"

#include "auth/worker.h"
#include "clock.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct tdsc__work {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t tid;
  bool started;   /* tid is a thread to join */
  bool done;      /* the call returned: outputs valid */
  bool abandoned; /* the caller left: the worker discards the payload */
  bool exited;    /* (abandoned) the worker is past its last use of w */
  tdsc__waker *wake; /* the caller's; fired when done unless abandoned */
  tdsc__work_fn call, discard;
  void *payload;
  struct tdsc__work *next; /* on the abandoned list */
};

static atomic_uint active;
void (*tdsc__work_pause)(void);

unsigned tdsc__work_active(void) { return atomic_load(&active); }

static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;
static tdsc__work *abandoned; /* guarded by abandoned_mu */

static void work_free(tdsc__work *w) {
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}

/* Joins and frees the abandoned works whose worker is done with them. */
static void reap(void) {
  pthread_mutex_lock(&abandoned_mu);
  tdsc__work **pp = &abandoned;
  while (*pp) {
    tdsc__work *w = *pp;
    if (!w->exited) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    pthread_join(w->tid, NULL);
    work_free(w);
  }
  pthread_mutex_unlock(&abandoned_mu);
}

/* An abandoned call outlives its connection: the library stays loaded
 * until the process ends, so that a dlclose cannot unmap the code the
 * worker returns to. */
static void pin_library(void) {
  Dl_info info;
  if (dladdr((void *)&tdsc__work_start, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

static pthread_once_t pinned = PTHREAD_ONCE_INIT;

/* The caller lets go of a running w (its lock held). */
static void leave(tdsc__work *w) {
  w->abandoned = true;
  pthread_once(&pinned, pin_library);
  pthread_mutex_lock(&abandoned_mu);
  w->next = abandoned;
  abandoned = w;
  pthread_mutex_unlock(&abandoned_mu);
}

tdsc__work *tdsc__work_new(tdsc__work_fn call, tdsc__work_fn discard,
                           void *payload) {
  tdsc__work *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
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
static void *worker(void *arg) {
  tdsc__work *w = arg;
  w->call(w->payload);
  pthread_mutex_lock(&w->mu);
  w->done = true;
  bool orphan = w->abandoned;
  if (!orphan && w->wake) /* under the lock: a caller that leaves sets
                             abandoned */
    tdsc__waker_fire(w->wake);
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  if (tdsc__work_pause)
    tdsc__work_pause();
  if (orphan) {
    w->discard(w->payload);
    pthread_mutex_lock(&abandoned_mu);
    w->exited = true; /* the next reap joins and frees w */
    pthread_mutex_unlock(&abandoned_mu);
  }
  atomic_fetch_sub(&active, 1);
  return NULL;
}

bool tdsc__work_start(tdsc__work *w, tdsc__waker *wake) {
  reap();
  w->wake = wake;
  atomic_fetch_add(&active, 1);
  if (pthread_create(&w->tid, NULL, worker, w) == 0)
    return w->started = true;
  atomic_fetch_sub(&active, 1);
  w->call(w->payload);
  w->done = true;
  return false;
}

int tdsc__work_poll(tdsc__work *w, int64_t deadline) {
  pthread_mutex_lock(&w->mu);
  bool done = w->done;
  if (!done && tdsc__ms_left(deadline) == 0)
    leave(w);
  bool gone = w->abandoned;
  pthread_mutex_unlock(&w->mu);
  return done ? 1 : gone ? -1 : 0;
}

bool tdsc__work_run(tdsc__work *w, int64_t deadline) {
  if (!tdsc__work_start(w, NULL))
    return true;
  pthread_mutex_lock(&w->mu);
  while (!w->done) {
    if (deadline == TDSC__NO_DEADLINE) {
      pthread_cond_wait(&w->cv, &w->mu);
      continue;
    }
    struct timespec ts = {(time_t)(deadline / 1000),
                          (long)(deadline % 1000) * 1000000L};
    if (pthread_cond_timedwait(&w->cv, &w->mu, &ts) == ETIMEDOUT &&
        !w->done) {
      leave(w);
      break;
    }
  }
  bool done = w->done;
  pthread_mutex_unlock(&w->mu);
  return done;
}

void tdsc__work_end(tdsc__work *w) {
  if (w->started)
    pthread_join(w->tid, NULL);
  w->discard(w->payload);
  work_free(w);
}

void tdsc__work_abandon(tdsc__work *w) {
  pthread_mutex_lock(&w->mu);
  bool done = w->done || !w->started;
  if (!done)
    leave(w);
  pthread_mutex_unlock(&w->mu);
  if (done)
    tdsc__work_end(w);
}
