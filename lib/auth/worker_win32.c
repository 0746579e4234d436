/* The worker for blocking provider calls (worker.h), on Windows threads:
 * worker_posix.c's contract with a critical section, a condition variable
 * and _beginthreadex.  The library pins itself with
 * GET_MODULE_HANDLE_EX_FLAG_PIN at the first abandoned call. */
#include "config.h"

#include "auth/worker.h"
#include "clock.h"
#include "transport/win32.h"

#include <process.h>
#include <stdlib.h>

struct tdsc__work {
  CRITICAL_SECTION mu;
  CONDITION_VARIABLE cv;
  HANDLE thread;  /* to join; NULL: never started */
  bool done;      /* the call returned: outputs valid */
  bool abandoned; /* the caller left: the worker discards the payload */
  bool exited;    /* (abandoned) the worker is past its last use of w */
  tdsc__waker *wake; /* the caller's; fired when done unless abandoned */
  tdsc__work_fn call, discard;
  void *payload;
  struct tdsc__work *next; /* on the abandoned list */
};

static volatile LONG active;
void (*tdsc__work_pause)(void);

unsigned tdsc__work_active(void) {
  return (unsigned)InterlockedCompareExchange(&active, 0, 0);
}

static SRWLOCK abandoned_mu = SRWLOCK_INIT;
static tdsc__work *abandoned; /* guarded by abandoned_mu */

static void work_free(tdsc__work *w) {
  if (w->thread)
    CloseHandle(w->thread);
  DeleteCriticalSection(&w->mu);
  free(w);
}

static void join(tdsc__work *w) {
  WaitForSingleObject(w->thread, INFINITE);
}

/* Joins and frees the abandoned works whose worker is done with them. */
static void reap(void) {
  AcquireSRWLockExclusive(&abandoned_mu);
  tdsc__work **pp = &abandoned;
  while (*pp) {
    tdsc__work *w = *pp;
    if (!w->exited) {
      pp = &w->next;
      continue;
    }
    *pp = w->next;
    join(w);
    work_free(w);
  }
  ReleaseSRWLockExclusive(&abandoned_mu);
}

/* The caller lets go of a running w (its lock held); the first time, the
 * library stays loaded until the process ends. */
static void leave(tdsc__work *w) {
  static volatile LONG pinned;
  w->abandoned = true;
  if (InterlockedExchange(&pinned, 1) == 0) {
    HMODULE self;
    GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                           GET_MODULE_HANDLE_EX_FLAG_PIN,
                       (LPCWSTR)(void *)&tdsc__work_start, &self);
  }
  AcquireSRWLockExclusive(&abandoned_mu);
  w->next = abandoned;
  abandoned = w;
  ReleaseSRWLockExclusive(&abandoned_mu);
}

tdsc__work *tdsc__work_new(tdsc__work_fn call, tdsc__work_fn discard,
                           void *payload) {
  tdsc__work *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  InitializeCriticalSection(&w->mu);
  InitializeConditionVariable(&w->cv);
  w->call = call;
  w->discard = discard;
  w->payload = payload;
  return w;
}

void *tdsc__work_payload(tdsc__work *w) { return w->payload; }

static unsigned __stdcall worker(void *arg) {
  tdsc__work *w = arg;
  w->call(w->payload);
  EnterCriticalSection(&w->mu);
  w->done = true;
  bool orphan = w->abandoned;
  if (!orphan && w->wake)
    tdsc__waker_fire(w->wake);
  WakeConditionVariable(&w->cv);
  LeaveCriticalSection(&w->mu);
  if (tdsc__work_pause)
    tdsc__work_pause();
  if (orphan) {
    w->discard(w->payload);
    AcquireSRWLockExclusive(&abandoned_mu);
    w->exited = true; /* the next reap joins and frees w */
    ReleaseSRWLockExclusive(&abandoned_mu);
  }
  InterlockedDecrement(&active);
  return 0;
}

bool tdsc__work_start(tdsc__work *w, tdsc__waker *wake) {
  reap();
  w->wake = wake;
  InterlockedIncrement(&active);
  w->thread = (HANDLE)_beginthreadex(NULL, 0, worker, w, 0, NULL);
  if (w->thread)
    return true;
  InterlockedDecrement(&active);
  w->call(w->payload);
  w->done = true;
  return false;
}

int tdsc__work_poll(tdsc__work *w, int64_t deadline) {
  EnterCriticalSection(&w->mu);
  bool done = w->done;
  if (!done && tdsc__ms_left(deadline) == 0)
    leave(w);
  bool gone = w->abandoned;
  LeaveCriticalSection(&w->mu);
  return done ? 1 : gone ? -1 : 0;
}

bool tdsc__work_run(tdsc__work *w, int64_t deadline) {
  if (!tdsc__work_start(w, NULL))
    return true;
  EnterCriticalSection(&w->mu);
  while (!w->done) {
    int ms = tdsc__ms_left(deadline);
    if (ms == 0) {
      leave(w);
      break;
    }
    SleepConditionVariableCS(&w->cv, &w->mu, ms < 0 ? INFINITE : (DWORD)ms);
  }
  bool done = w->done;
  LeaveCriticalSection(&w->mu);
  return done;
}

void tdsc__work_end(tdsc__work *w) {
  if (w->thread)
    join(w);
  w->discard(w->payload);
  work_free(w);
}

void tdsc__work_abandon(tdsc__work *w) {
  EnterCriticalSection(&w->mu);
  bool done = w->done || !w->thread;
  if (!done)
    leave(w);
  LeaveCriticalSection(&w->mu);
  if (done)
    tdsc__work_end(w);
}
