/* Database mirroring's Failover Partner= (ENVCHANGE 13, MS-TDS 2.2.7.9),
 * for real: the test server as principal (--mirror-partner names the
 * mirror after login) and as mirror (--mirror-role mirror refuses every
 * login with 4060 + 18456).  The partner is tried when the principal is
 * out of reach, silent, or answers as a mirror; never after a TLS or
 * identity verdict; within one LoginTimeout; every attempt in the trail,
 * both causes in the message when both fail; the non-blocking connect
 * alike. */
#define _DEFAULT_SOURCE
#include "expect.h"
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static th_server prin, part;

/* "Server=tcp:localhost,P;Failover Partner=localhost,Q;Database=..." with
 * the test login and extra. */
static const char *cs(int primary, int partner, const char *extra) {
  static char buf[2048];
  snprintf(buf, sizeof buf,
           "Server=tcp:localhost,%d;Failover Partner=localhost,%d;"
           "Database=tdsc_test;UID=sa;PWD=Secret-123;CAFile=%s;%s",
           primary, partner, th_cert("ca.pem"), extra ? extra : "");
  return buf;
}

/* Attempt i of c's trail reached port and ended with want. */
static void expect_attempt(const tdsc_attempt *a, int port, tdsc_errc want) {
  ck_assert_ptr_nonnull(a);
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  ck_assert_msg(strstr(tdsc_attempt_address(a), p), "%s lacks %s",
                tdsc_attempt_address(a), p);
  const tdsc_error *e = tdsc_attempt_error(a);
  if (want == TDSC_OK)
    ck_assert_msg(!e, "%s", e ? tdsc_error_message(e) : "");
  else
    ck_assert_msg(e && tdsc_error_code(e) == want, "attempt: %s, want %s",
                  e ? tdsc_errc_name(tdsc_error_code(e)) : "OK",
                  tdsc_errc_name(want));
}

/* ------------------------------------------------------------ failing over */

/* The principal's port is closed: the partner serves the login, and the
 * trail has both attempts (the refused one first). */
START_TEST(a_principal_out_of_reach_fails_over) {
  ck_assert(th_server_start(&part, "--server-name", "PARTNER",
                            "--mirror-partner", "OLDPRINCIPAL",
                            (const char *)NULL));
  int closed = th_free_port();
  tdsc_conn *c = th_connect_ok(cs(closed, part.port, ""));
  th_expect_server(c, "PARTNER");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  expect_attempt(tdsc_conn_attempt_at(c, 0), closed, TDSC_E_CONN_REFUSED);
  expect_attempt(tdsc_conn_attempt_at(c, 1), part.port, TDSC_OK);
  /* what the partner names is what to store for next time */
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "OLDPRINCIPAL");
  tdsc_conn_free(c);
  th_server_stop(&part);
}
END_TEST

/* The aliases of the keyword fail over alike. */
START_TEST(the_keyword_aliases_fail_over_too) {
  static const char *const kw[] = {"Failover_Partner", "FailoverPartner"};
  ck_assert(th_server_start(&part, "--server-name", "PARTNER",
                            (const char *)NULL));
  int closed = th_free_port();
  for (size_t k = 0; k < 2; k++) {
    char s[2048];
    snprintf(s, sizeof s,
             "Server=tcp:localhost,%d;%s=localhost,%d;Database=master;"
             "UID=sa;PWD=Secret-123;CAFile=%s",
             closed, kw[k], part.port, th_cert("ca.pem"));
    tdsc_conn *c = th_connect_ok(s);
    th_expect_server(c, "PARTNER");
    ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
    tdsc_conn_free(c);
  }
  th_server_stop(&part);
}
END_TEST

/* The principal answers as a mirror (4060 then 18456): the partner, now
 * the principal, serves the login. */
START_TEST(a_principal_that_is_the_mirror_fails_over) {
  ck_assert(th_server_start(&prin, "--server-name", "MIRROR", "--mirror-role",
                            "mirror", (const char *)NULL));
  ck_assert(th_server_start(&part, "--server-name", "PARTNER",
                            (const char *)NULL));
  tdsc_conn *c = th_connect_ok(cs(prin.port, part.port, "Encrypt=mandatory"));
  th_expect_server(c, "PARTNER");
  ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  const tdsc_attempt *a0 = tdsc_conn_attempt_at(c, 0);
  expect_attempt(a0, prin.port, TDSC_E_LOGIN_NO_DATABASE);
  const tdsc_message *m = tdsc_error_server_message(tdsc_attempt_error(a0));
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(tdsc_message_number(m), 4060);
  expect_attempt(tdsc_conn_attempt_at(c, 1), part.port, TDSC_OK);
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "");
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

/* ENVCHANGE 13 after a login: the getter returns the partner the server
 * named (without Failover Partner= too), "" when it named none, and ""
 * once the connection is closed. */
START_TEST(the_partner_the_server_names_is_kept) {
  ck_assert(th_server_start(&prin, "--mirror-partner", "mirror.example\\INST",
                            (const char *)NULL));
  ck_assert(th_server_start(&part, (const char *)NULL));
  tdsc_conn *c = th_connect_ok(th_connstr(&prin, "Database=tdsc_test"));
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "mirror.example\\INST");
  tdsc_conn_close(c);
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "");
  tdsc_conn_free(c);
  c = th_connect_ok(cs(prin.port, part.port, ""));
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "mirror.example\\INST");
  tdsc_conn_free(c);
  c = th_connect_ok(th_connstr(&part, ""));
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "");
  ck_assert_str_eq(tdsc_conn_failover_partner(NULL), "");
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

/* ------------------------------------------------------------ both fail */

/* Both ports closed: the partner's code, and the message names both
 * servers with each one's cause; both in the trail. */
START_TEST(both_down_names_both_causes) {
  int p1 = th_free_port(), p2 = th_free_port();
  ck_assert_int_ne(p1, p2);
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, cs(p1, p2, ""));
  char n1[64], n2[64];
  snprintf(n1, sizeof n1, "principal tcp:localhost,%d failed", p1);
  snprintf(n2, sizeof n2, "failover partner localhost,%d", p2);
  const tdsc_error *e = th_expect_failure(c, rc, TDSC_E_CONN_REFUSED, n1);
  ck_assert_msg(strstr(tdsc_error_message(e), n2), "%s",
                tdsc_error_message(e));
  ck_assert_msg(strstr(tdsc_error_message(e), "CONN_REFUSED"), "%s",
                tdsc_error_message(e));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  expect_attempt(tdsc_error_trail_at(e, 0), p1, TDSC_E_CONN_REFUSED);
  expect_attempt(tdsc_error_trail_at(e, 1), p2, TDSC_E_CONN_REFUSED);
  tdsc_conn_free(c);
}
END_TEST

/* The principal is a mirror and the partner is down: the partner's code,
 * the principal's 4060 in the message. */
START_TEST(a_mirror_and_a_partner_down_name_both_causes) {
  ck_assert(th_server_start(&prin, "--mirror-role", "mirror",
                            (const char *)NULL));
  int p2 = th_free_port();
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, cs(prin.port, p2, ""));
  const tdsc_error *e =
      th_expect_failure(c, rc, TDSC_E_CONN_REFUSED, "LOGIN_NO_DATABASE");
  ck_assert_msg(strstr(tdsc_error_message(e), "error 4060"), "%s",
                tdsc_error_message(e));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  expect_attempt(tdsc_error_trail_at(e, 0), prin.port,
                 TDSC_E_LOGIN_NO_DATABASE);
  expect_attempt(tdsc_error_trail_at(e, 1), p2, TDSC_E_CONN_REFUSED);
  tdsc_conn_free(c);
  th_server_stop(&prin);
}
END_TEST

/* -------------------------------------------------- verdicts stop there */

/* A principal whose certificate does not name it: a TLS verdict, never
 * failed over (the partner, which would log in, is not tried). */
START_TEST(a_bad_certificate_never_fails_over) {
  char key[1024];
  snprintf(key, sizeof key, "%s", th_cert("wrongname.pem"));
  memcpy(strstr(key, ".pem"), ".key", 4);
  char cert[1024];
  snprintf(cert, sizeof cert, "%s", th_cert("wrongname.pem"));
  ck_assert(th_server_start(&prin, "--cert", cert, "--key", key,
                            (const char *)NULL));
  ck_assert(th_server_start(&part, (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc =
      tdsc_conn_connect(c, cs(prin.port, part.port, "Encrypt=mandatory"));
  const tdsc_error *e = th_expect_failure(c, rc, TDSC_E_TLS_CERT_NAME_MISMATCH,
                                          "not trying the failover partner");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

/* A wrong password on the principal: the server judged the identity (18456),
 * never failed over. */
START_TEST(a_wrong_password_never_fails_over) {
  ck_assert(th_server_start(&prin, (const char *)NULL));
  ck_assert(th_server_start(&part, (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  char s[2048];
  snprintf(s, sizeof s, "%s", cs(prin.port, part.port, ""));
  memcpy(strstr(s, "Secret-123"), "Wrong-4567", 10);
  tdsc_errc rc = tdsc_conn_connect(c, s);
  const tdsc_error *e = th_expect_failure(c, rc, TDSC_E_LOGIN_FAILED,
                                          "not trying the failover partner");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_msg(!strstr(tdsc_error_message(e), "Wrong-4567"), "%s",
                tdsc_error_message(e));
  tdsc_conn_free(c);
  /* a mirror checks the password first too: 18456 alone, not failed over */
  th_server_stop(&prin);
  ck_assert(th_server_start(&prin, "--mirror-role", "mirror",
                            (const char *)NULL));
  snprintf(s, sizeof s, "%s", cs(prin.port, part.port, ""));
  memcpy(strstr(s, "Secret-123"), "Wrong-4567", 10);
  c = tdsc_conn_new();
  rc = tdsc_conn_connect(c, s);
  th_expect_failure(c, rc, TDSC_E_LOGIN_FAILED, "18456");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

/* ------------------------------------------------------------- options */

static const struct {
  const char *cs;
  tdsc_errc code;
  const char *named;
} bad[] = {
    {"Server=tcp:localhost,1;Failover Partner=localhost,2;UID=sa;PWD=x",
     TDSC_E_BAD_OPTION_VALUE, "Failover Partner= needs Database="},
    {"Server=tcp:localhost,1;Failover Partner=localhost,2;Database=d;"
     "MultiSubnetFailover=yes",
     TDSC_E_BAD_CONNSTR, "MultiSubnetFailover"},
    {"Server=tcp:localhost,1;Failover Partner=np:\\\\h\\pipe\\sql\\query;"
     "Database=d",
     TDSC_E_BAD_OPTION_VALUE, "over TCP only"},
    {"Server=tcp:localhost,1;Failover Partner=shm:;Database=d",
     TDSC_E_BAD_OPTION_VALUE, "over TCP only"},
    {"Server=tcp:localhost,1;Failover Partner=localhost,99999;Database=d",
     TDSC_E_BAD_OPTION_VALUE, "Failover Partner=: port '99999'"},
    {"Server=tcp:localhost,1;Failover Partner=localhost:1433;Database=d",
     TDSC_E_BAD_OPTION_VALUE, "write Failover Partner=localhost,1433"},
    {"Server=tcp:localhost,1;Failover Partner=;Database=d",
     TDSC_E_BAD_OPTION_VALUE, "Failover Partner"},
    {"Server=tcp:localhost,1;Failover Partner=[::1;Database=d",
     TDSC_E_BAD_OPTION_VALUE, "'[' without ']'"},
    {"Server=localhost;Failover Partner=h;Database=d;Transport=shm,np",
     TDSC_E_BAD_OPTION_VALUE, "Transport=shm,np"},
    {"Server=tcp:localhost,1;Failover Partner=h;FailoverPartner=h;"
     "Database=d",
     TDSC_E_BAD_CONNSTR, ""},
};

START_TEST(bad_partner_options_are_refused_before_any_traffic) {
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, bad[_i].cs);
  th_expect_failure(c, rc, bad[_i].code, bad[_i].named);
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 0);
  tdsc_conn_free(c);
}
END_TEST

/* ------------------------------------------------------------- timeout */

/* A principal that stalls after PRELOGIN has half of LoginTimeout; the
 * partner serves the login within the rest. */
START_TEST(a_stalled_principal_leaves_the_partner_time) {
  ck_assert(th_server_start(&prin, "--misbehave", "hang-after-prelogin",
                            (const char *)NULL));
  ck_assert(th_server_start(&part, "--server-name", "PARTNER",
                            (const char *)NULL));
  long long t0 = th_now_ms();
  tdsc_conn *c = th_connect_ok(cs(prin.port, part.port, "LoginTimeout=4"));
  long long took = th_now_ms() - t0;
  th_expect_server(c, "PARTNER");
  ck_assert_msg(took >= 1900 && took < 3900, "took %lld ms", took);
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  expect_attempt(tdsc_conn_attempt_at(c, 0), prin.port, TDSC_E_READ_TIMEOUT);
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

/* Both stall: the whole connect ends within LoginTimeout. */
START_TEST(two_stalled_partners_keep_the_login_timeout) {
  ck_assert(th_server_start(&prin, "--misbehave", "hang-after-prelogin",
                            (const char *)NULL));
  ck_assert(th_server_start(&part, "--misbehave", "hang-after-prelogin",
                            (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  long long t0 = th_now_ms();
  tdsc_errc rc = tdsc_conn_connect(c, cs(prin.port, part.port,
                                         "LoginTimeout=2"));
  long long took = th_now_ms() - t0;
  const tdsc_error *e =
      th_expect_failure(c, rc, TDSC_E_READ_TIMEOUT, "READ_TIMEOUT");
  ck_assert_msg(took >= 1900 && took < 2900, "took %lld ms", took);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

/* The partner's chain has its own fallback policy: with the principal out
 * of reach (a failure that stopped the principal's chain), the partner
 * refusing NTLM (curable) and Kerberos lacking credentials, the headline
 * is the partner's first real failure, as without a partner. */
START_TEST(the_partner_has_its_own_fallback_policy) {
  ck_assert(th_server_start(&part, (const char *)NULL));
  int closed = th_free_port();
  char s[2048];
  snprintf(s, sizeof s,
           "Server=tcp:localhost,%d;Failover Partner=localhost,%d;"
           "Database=master;Authentication=ntlm,kerberos;UID=DOM\\u;"
           "PWD=Secret-123;KrbCCache=FILE:/nonexistent/cc;CAFile=%s",
           closed, part.port, th_cert("ca.pem"));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, s);
  th_expect_failure(c, rc, TDSC_E_NTLM_REFUSED, "failover partner");
  tdsc_conn_free(c);
  th_server_stop(&part);
}
END_TEST

/* -------------------------------------------------------- non-blocking */

/* The non-blocking connect fails over as the blocking one does. */
START_TEST(the_non_blocking_connect_fails_over_too) {
  ck_assert(th_server_start(&prin, "--mirror-role", "mirror",
                            (const char *)NULL));
  ck_assert(th_server_start(&part, "--server-name", "PARTNER",
                            "--mirror-partner", "MIRROR", (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect_start(c, cs(prin.port, part.port, ""));
  int polls;
  rc = th_connect_wait(c, rc, &polls);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  ck_assert_int_gt(polls, 1);
  th_expect_server(c, "PARTNER");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  expect_attempt(tdsc_conn_attempt_at(c, 0), prin.port,
                 TDSC_E_LOGIN_NO_DATABASE);
  ck_assert_str_eq(tdsc_conn_failover_partner(c), "MIRROR");
  tdsc_conn_free(c);
  th_server_stop(&prin);
  th_server_stop(&part);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("failover");
  TCase *tc = tcase_create("failover");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, a_principal_out_of_reach_fails_over);
  tcase_add_test(tc, the_keyword_aliases_fail_over_too);
  tcase_add_test(tc, a_principal_that_is_the_mirror_fails_over);
  tcase_add_test(tc, the_partner_the_server_names_is_kept);
  tcase_add_test(tc, both_down_names_both_causes);
  tcase_add_test(tc, a_mirror_and_a_partner_down_name_both_causes);
  tcase_add_test(tc, a_bad_certificate_never_fails_over);
  tcase_add_test(tc, a_wrong_password_never_fails_over);
  tcase_add_loop_test(tc, bad_partner_options_are_refused_before_any_traffic,
                      0, (int)(sizeof bad / sizeof bad[0]));
  tcase_add_test(tc, a_stalled_principal_leaves_the_partner_time);
  tcase_add_test(tc, two_stalled_partners_keep_the_login_timeout);
  tcase_add_test(tc, the_non_blocking_connect_fails_over_too);
  tcase_add_test(tc, the_partner_has_its_own_fallback_policy);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(suite());
}
