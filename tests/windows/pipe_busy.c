/* pipe_busy: a Windows program for tests/windows/run-wine.sh, on the
 * library's internals (pipe_win32.c).  Makes a pipe whose only instance it
 * holds itself (checked: a second open says ERROR_PIPE_BUSY, so nothing
 * races for it), then opens it until a deadline and checks that the open
 * fails with PIPE_BUSY, no later than the deadline and a bound:
 *
 *   gap       the opener (the worker form, as a connection opens a pipe),
 *             its worker's wait given a deadline GAP_MS earlier than its
 *             own and the worker paused after the wait: the opener's
 *             deadline passes when the wait has ended and the open has
 *             not.  Left to itself (both waits timed to one deadline,
 *             either ending first), that came about once in 30 connects
 *             under Wine, and used to say CONN_TIMEOUT ("its host does not
 *             answer").
 *   opener    the opener, no pause, ROUNDS times (the race left to itself).
 *   blocking  the blocking form (tdsc__pipe_connect, tdsc__shm_connect).
 *   free      the blocking form again, the instance freed HOLD_MS after the
 *             open said it waits (its busy flag): then it opens.  No race
 *             either: the open has met the busy pipe before it is freed.
 *
 * Prints a line per check and a last line "N passed, N failed"; exit 0
 * when all held. */
#include "config.h"

#include "clock.h"
#include "error.h"
#include "transport/win32.h"
#include "transport/worker.h"

#include <stdio.h>
#include <stdlib.h>

#define DEADLINE_MS 300
#define GAP_MS 200
#define PAUSE_MS 800 /* past the deadline, by far */
#define LATE_MS 250  /* how far past the deadline an open may end */
#define ROUNDS 10
#define HOLD_MS 300

static int passed, failed;

static void count(bool ok) {
  if (ok)
    passed++;
  else
    failed++;
}

static void say(bool ok, const char *what, const tdsc_error *err,
                long long took) {
  printf("%s: %s (%s after %lld ms)\n", ok ? "ok" : "FAIL", what,
         err->code ? tdsc_error_message(err) : "opened", took);
  fflush(stdout);
}

static void pause_worker(void) { Sleep(PAUSE_MS); }

typedef enum { BLOCKING, OPENER, GAP } form;

/* The opener, its worker's deadline gap ms before its own. */
static tdsc_errc open_gap(const char *name, int64_t deadline, int gap,
                          tdsc__io **io, tdsc_error *err) {
  tdsc__opener *o;
  tdsc_errc rc = tdsc__pipe_opener_win32(name, "np", &o, err);
  if (rc != TDSC_OK)
    return rc;
  /* The first step starts the worker with its deadline. */
  tdsc__open_wait w;
  rc = tdsc__opener_step(o, deadline - gap, io, NULL, 0, &w, err);
  if (rc != TDSC__AGAIN) {
    tdsc__opener_free(o);
    return rc;
  }
  return tdsc__opener_run(o, deadline, io, NULL, 0, err);
}

/* One open of name until DEADLINE_MS from now, in form f: PIPE_BUSY, and
 * in time?  Said when it is not, or unless quiet. */
static bool open_busy(const char *name, form f, bool quiet, const char *what) {
  tdsc_error err = {0};
  tdsc__io *io = NULL;
  int64_t t0 = tdsc__now_ms(), deadline = t0 + DEADLINE_MS;
  tdsc_errc rc =
      f == BLOCKING
          ? tdsc__pipe_open_win32(name, "np", deadline, NULL, &io, &err)
          : open_gap(name, deadline, f == GAP ? GAP_MS : 0, &io, &err);
  long long took = (long long)(tdsc__now_ms() - t0);
  bool ok = rc == TDSC_E_PIPE_BUSY && took >= DEADLINE_MS - 50 &&
            took <= DEADLINE_MS + LATE_MS;
  if (!ok || !quiet)
    say(ok, what, &err, took);
  if (io)
    tdsc__io_destroy_all(io);
  tdsc__err_clear(&err);
  return ok;
}

/* The instance held (held: our client end), until the open waits for it
 * (busy) and HOLD_MS more; then free for the open. */
typedef struct holder {
  HANDLE server, held;
  volatile LONG busy;
  bool saw_busy;
} holder;

static DWORD WINAPI free_when_waited(LPVOID arg) {
  holder *h = arg;
  for (int i = 0; i < 1000 && !h->saw_busy; i++) {
    h->saw_busy = InterlockedCompareExchange(&h->busy, 0, 0) != 0;
    if (!h->saw_busy)
      Sleep(5);
  }
  Sleep(HOLD_MS);
  CloseHandle(h->held);
  DisconnectNamedPipe(h->server);
  /* listens again, until the open connects */
  if (!ConnectNamedPipe(h->server, NULL) &&
      GetLastError() != ERROR_PIPE_CONNECTED)
    return 1;
  return 0;
}

/* The abandoned workers have ended (their pause is over). */
static bool workers_done(void) {
  for (int i = 0; i < 100 && tdsc__work_active() != 0; i++)
    Sleep(50);
  return tdsc__work_active() == 0;
}

/* The open of the held instance, freed HOLD_MS after the open said it
 * waits: it opens, not before. */
static bool opens_when_free(const char *name, HANDLE server, HANDLE held) {
  holder h = {server, held, 0, false};
  HANDLE th = CreateThread(NULL, 0, free_when_waited, &h, 0, NULL);
  tdsc_error err = {0};
  tdsc__io *io = NULL;
  int64_t t0 = tdsc__now_ms();
  tdsc_errc rc =
      th ? tdsc__pipe_open_win32(name, "np", t0 + 5000, &h.busy, &io, &err)
         : TDSC_E_SYSTEM;
  long long took = (long long)(tdsc__now_ms() - t0);
  DWORD freed = 1;
  if (th) {
    WaitForSingleObject(th, 10000);
    GetExitCodeThread(th, &freed);
    CloseHandle(th);
  }
  bool ok = rc == TDSC_OK && h.saw_busy && freed == 0 && took >= HOLD_MS;
  say(ok, "free: waits for the busy pipe, opens once it is free", &err, took);
  if (io)
    tdsc__io_destroy_all(io);
  tdsc__err_clear(&err);
  return ok;
}

int main(void) {
  char name[128];
  snprintf(name, sizeof name, "\\\\.\\pipe\\tdsc-busy-%lu",
           (unsigned long)GetCurrentProcessId());
  /* The only instance, taken by ourselves (as pipe_bridge's stuck pipe). */
  HANDLE server = CreateNamedPipeA(name, PIPE_ACCESS_DUPLEX,
                                   PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE, 1,
                                   4096, 4096, 0, NULL);
  HANDLE held = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                            OPEN_EXISTING, 0, NULL);
  HANDLE other = CreateFileA(name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                             OPEN_EXISTING, 0, NULL);
  DWORD e = GetLastError();
  if (server == INVALID_HANDLE_VALUE || held == INVALID_HANDLE_VALUE ||
      other != INVALID_HANDLE_VALUE || e != ERROR_PIPE_BUSY) {
    printf("FAIL: the pipe %s is not busy (error %lu)\n", name,
           (unsigned long)e);
    return 1;
  }

  tdsc__pipe_wait_pause = pause_worker;
  count(open_busy(name, GAP, false,
                  "gap: PIPE_BUSY when the deadline passes after the wait "
                  "ended"));
  tdsc__pipe_wait_pause = NULL;
  bool ended = workers_done();
  printf("%s: gap: the abandoned open ended\n", ended ? "ok" : "FAIL");
  count(ended);

  int n = 0;
  for (int i = 0; i < ROUNDS; i++)
    n += open_busy(name, OPENER, true, "opener: PIPE_BUSY at the deadline");
  printf("%s: opener: PIPE_BUSY in time in %d of %d rounds\n",
         n == ROUNDS ? "ok" : "FAIL", n, ROUNDS);
  count(n == ROUNDS);

  count(
      open_busy(name, BLOCKING, false, "blocking: PIPE_BUSY at the deadline"));

  count(opens_when_free(name, server, held));

  (void)workers_done();
  CloseHandle(server);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
