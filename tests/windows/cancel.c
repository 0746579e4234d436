/* cancel: a Windows program for tests/windows/run-wine.sh.  Connects with
 * the connection string given, starts WAITFOR DELAY '00:00:20', cancels it
 * from another thread after 300 ms (tdsc_conn_cancel: wake_win32.c wakes
 * the socket wait, or the pipe's), and checks that the call fails with
 * CANCELLED soon and that the connection then answers another query.
 * Prints one line; exit 0 when all held.  Public API only. */
#include "config.h"

#include <tdsclient.h>

#include <windows.h>

#include <stdio.h>
#include <string.h>

static DWORD WINAPI cancel_later(LPVOID arg) {
  Sleep(300);
  tdsc_conn_cancel(arg);
  return 0;
}

/* Runs sql to its end or first error; the error's code (TDSC_OK if none). */
static tdsc_errc run(tdsc_conn *c, const char *sql, char *text, size_t len) {
  tdsc_result *r;
  text[0] = '\0';
  tdsc_errc rc = tdsc_conn_execute(c, sql, &r);
  if (rc != TDSC_OK)
    return rc;
  tdsc_step s;
  while ((s = tdsc_result_next_set(r)) == TDSC_STEP_RESULT)
    while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      const char *t;
      if (tdsc_result_get_text(r, 0, &t, NULL) == TDSC_OK)
        snprintf(text, len, "%s", t);
    }
  rc = s == TDSC_STEP_ERROR ? tdsc_error_code(tdsc_conn_error(c)) : TDSC_OK;
  tdsc_result_free(r);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cancel CONNECTION-STRING\n");
    return 64;
  }
  tdsc_conn *c = tdsc_conn_new();
  if (!c || tdsc_conn_connect(c, argv[1]) != TDSC_OK) {
    printf("connect: %s\n", c ? tdsc_error_report(tdsc_conn_error(c)) : "");
    return 1;
  }
  char text[64];
  ULONGLONG t0 = GetTickCount64();
  HANDLE th = CreateThread(NULL, 0, cancel_later, c, 0, NULL);
  tdsc_errc rc = run(c, "WAITFOR DELAY '00:00:20'; SELECT 1", text,
                     sizeof text);
  unsigned long took = (unsigned long)(GetTickCount64() - t0);
  if (th) {
    WaitForSingleObject(th, INFINITE);
    CloseHandle(th);
  }
  tdsc_errc after = run(c, "SELECT N'after'", text, sizeof text);
  bool ok = rc == TDSC_E_CANCELLED && took >= 250 && took < 8000 &&
            after == TDSC_OK && strcmp(text, "after") == 0;
  printf("%s after %lu ms, then %s \"%s\"\n", tdsc_errc_name(rc), took,
         tdsc_errc_name(after), text);
  tdsc_conn_free(c);
  return ok ? 0 : 1;
}
