/* The integration tests' check of who a connection is logged in as
 * (inline: some programs that use harness.c do not link the library). */
#ifndef TDSC_TESTS_LOGIN_AS_H
#define TDSC_TESTS_LOGIN_AS_H

#include <tdsclient.h>

#include <check.h>

/* Asserts that c is logged in as login (SELECT SUSER_NAME()). */
static inline void th_expect_login_as(tdsc_conn *c, const char *login) {
  tdsc_result *r;
  const char *t;
  ck_assert_int_eq(tdsc_conn_execute(c, "SELECT SUSER_NAME() AS who", &r),
                   TDSC_OK);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_int_eq(tdsc_result_get_text(r, 0, &t, NULL), TDSC_OK);
  ck_assert_str_eq(t, login);
  tdsc_result_free(r);
}

#endif
