/* Allocation-failure torture against the test server: for N = 1, 2, ...
 * the Nth allocation of a whole session (connect, a query over every
 * column kind read with every getter, a failing statement, close) fails.
 * Each run must end without a crash or a leak (AddressSanitizer and
 * valgrind see to that), report TDSC_E_NO_MEMORY and no other code, and
 * leave the handle usable (the rest of the session works) or cleanly
 * broken (not connected).  N stops when a run no longer meets the
 * failure; a stride bounds the time under valgrind. */
#define _DEFAULT_SOURCE
#include "alloc_fail.h"
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static th_server srv;

typedef struct seen {
  tdsc_errc bad;     /* a code other than NO_MEMORY */
  const char *where;
  char message[300];
  bool no_memory;    /* NO_MEMORY was reported */
  bool in_server_error; /* the failure came while the server's error was
                           recorded: its code stays, its text is lost */
} seen;

static void note(seen *s, tdsc_conn *c, tdsc_errc rc, const char *where) {
  if (rc == TDSC_OK)
    return;
  if (rc == TDSC_E_NO_MEMORY) {
    s->no_memory = true;
    return;
  }
  /* a statement's own error is the server's, expected */
  if (rc == TDSC_E_SERVER_ERROR && !strcmp(where, "bad statement"))
    return;
  if (s->bad == TDSC_OK) {
    s->bad = rc;
    s->where = where;
    const tdsc_error *e = tdsc_conn_error(c);
    snprintf(s->message, sizeof s->message, "%s",
             e ? tdsc_error_message(e) : "");
  }
}

/* Runs sql, reading every cell with is_null and get_text. */
static void query(seen *s, tdsc_conn *c, const char *sql, const char *what) {
  tdsc_result *r;
  tdsc_errc rc = tdsc_conn_execute(c, sql, &r);
  note(s, c, rc, what);
  if (rc != TDSC_OK)
    return;
  tdsc_step st;
  for (int guard = 0; guard < 100; guard++) {
    st = tdsc_result_next_set(r);
    if (st == TDSC_STEP_END)
      break;
    if (st == TDSC_STEP_ERROR) {
      note(s, c, tdsc_error_code(tdsc_conn_error(c)), what);
      if (!tdsc_conn_is_connected(c))
        break;
      continue;
    }
    size_t nc = tdsc_result_column_count(r);
    while ((st = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      for (size_t i = 0; i < nc; i++) {
        bool null;
        const char *t;
        rc = tdsc_result_is_null(r, i, &null);
        if (rc == TDSC_OK && !null)
          rc = tdsc_result_get_text(r, i, &t, NULL);
        note(s, c, rc, what);
      }
    }
    if (st == TDSC_STEP_ERROR) {
      note(s, c, tdsc_error_code(tdsc_conn_error(c)), what);
      if (!tdsc_conn_is_connected(c))
        break;
    }
  }
  tdsc_result_free(r);
}

/* One session with the Nth allocation failing; true when it failed. */
static bool session(long n, seen *s) {
  memset(s, 0, sizeof *s);
  char cs[512];
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1,%d;UID=sa;PWD=Secret-123;Encrypt=off;"
           "LoginTimeout=5",
           srv.port);
  af_arm(n);
  tdsc_conn *c = tdsc_conn_new();
  if (!c) {
    af_disarm();
    s->no_memory = true; /* the only way it fails */
    return true;
  }
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  note(s, c, rc, "connect");
  if (rc == TDSC_OK) {
    query(s, c, "SELECT * FROM typed ORDER BY id", "typed");
    if (tdsc_conn_is_connected(c)) { /* else cleanly broken */
      bool before = af_fired();
      query(s, c, "SELECT * FROM no_such_table", "bad statement");
      s->in_server_error = !before && af_fired() && !s->no_memory;
    }
    /* usable or cleanly broken: a last query works, or it is refused as
     * not connected */
    if (tdsc_conn_is_connected(c))
      query(s, c, "SELECT 1 AS one", "after");
  }
  bool fired = af_fired();
  af_disarm();
  if (fired && tdsc_conn_is_connected(c)) {
    /* the handle is usable: a query without failures goes through */
    seen again = {0};
    query(&again, c, "SELECT name FROM people ORDER BY id", "usable");
    ck_assert_msg(again.bad == TDSC_OK && !again.no_memory,
                  "N=%ld: the handle is not usable afterwards: %s at %s: %s",
                  n, tdsc_errc_name(again.bad), again.where, again.message);
  }
  tdsc_conn_free(c);
  return fired;
}

START_TEST(every_allocation_failure_reports_no_memory) {
  const char *pre = getenv("LD_PRELOAD");
  /* under valgrind every session costs seconds: every fifth N (a
   * session needs a few hundred allocations) */
  long stride = pre && strstr(pre, "vgpreload") ? 5 : 1;
  long runs = 0;
  for (long n = 1; n < 20000; n += stride) {
    seen s;
    bool fired = session(n, &s);
    ck_assert_msg(s.bad == TDSC_OK,
                  "allocation %ld failed: %s at %s (%s), want NO_MEMORY", n,
                  tdsc_errc_name(s.bad), s.where, s.message);
    if (!fired)
      break; /* the whole session needs fewer allocations */
    runs++;
    ck_assert_msg(s.no_memory || s.in_server_error,
                  "allocation %ld failed and nothing reported NO_MEMORY", n);
  }
  fprintf(stderr, "torture: %ld runs, stride %ld\n", runs, stride);
  ck_assert_int_gt(runs * stride, 50);
}
END_TEST

static void stop_here(long n) {
  if (getenv("AF_STOP") && atol(getenv("AF_STOP")) == n)
    abort(); /* to see where (gdb) */
}

int main(void) {
  th_require_server();
  af_trace = stop_here;
  if (!th_server_start(&srv, "--encryption", "not_sup", (const char *)NULL))
    return EXIT_FAILURE;
  Suite *s = suite_create("torture");
  TCase *tc = tcase_create("alloc");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, every_allocation_failure_reports_no_memory);
  suite_add_tcase(s, tc);
  int rc = th_run_suite(s);
  th_server_stop(&srv);
  return rc;
}
