/* The integration tests' checks of a connect's outcome that several
 * programs share (inline, as login_as.h: only the programs that link the
 * library include it). */
#ifndef TDSC_TESTS_EXPECT_H
#define TDSC_TESTS_EXPECT_H

#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

/* The server a connected c is logged in to: @@SERVERNAME. */
static inline void th_expect_server(tdsc_conn *c, const char *name) {
  tdsc_result *r;
  ck_assert_msg(tdsc_conn_execute(c, "SELECT @@SERVERNAME", &r) == TDSC_OK,
                "%s", th_report(c));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  const char *got = NULL;
  ck_assert_int_eq(tdsc_result_get_text(r, 0, &got, NULL), TDSC_OK);
  ck_assert_str_eq(got, name);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  tdsc_result_free(r);
}

/* A new connection, connected over cs. */
static inline tdsc_conn *th_connect_ok(const char *cs) {
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_ptr_nonnull(c);
  ck_assert_msg(tdsc_conn_connect(c, cs) == TDSC_OK, "%s", th_report(c));
  return c;
}

/* The connect that returned rc failed with want, its message naming
 * named, and left c not connected; its error. */
static inline const tdsc_error *th_expect_failure(tdsc_conn *c, tdsc_errc rc,
                                                  tdsc_errc want,
                                                  const char *named) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_ptr_nonnull(e);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), tdsc_error_report(e));
  ck_assert_msg(strstr(tdsc_error_message(e), named), "'%s' lacks '%s'",
                tdsc_error_message(e), named);
  ck_assert(!tdsc_conn_is_connected(c));
  return e;
}

/* A connect begun with tdsc_conn_connect_start (rc: what it returned) run
 * to its end, waiting with poll(2) on what the connection wants: its last
 * code; *polls (NULL: not wanted) how many waits it took.  Nothing here
 * allocates, so that the torture may call it armed: a poll that fails, or
 * a connect still pending after a minute (every LoginTimeout of the tests
 * is shorter), aborts. */
static inline tdsc_errc th_connect_wait(tdsc_conn *c, tdsc_errc rc,
                                        int *polls) {
  long long t0 = th_now_ms();
  int n = 0;
  for (; rc == TDSC_E_WOULD_BLOCK; n++) {
    int w = tdsc_conn_wants(c);
    struct pollfd p = {.fd = tdsc_conn_socket(c),
                       .events = (short)((w & TDSC_WANT_READ ? POLLIN : 0) |
                                         (w & TDSC_WANT_WRITE ? POLLOUT : 0))};
    if (th_now_ms() - t0 > 60000 ||
        poll(&p, p.fd == TDSC_INVALID_SOCKET ? 0 : 1, tdsc_conn_timeout_ms(c)) <
            0)
      abort();
    rc = tdsc_conn_connect_poll(c);
  }
  if (polls)
    *polls = n;
  return rc;
}

#endif
