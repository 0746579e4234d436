/* The authentication policy, for real: Kerberos (a throwaway MIT realm),
 * NTLM (our NTLMv2 judged by gss-ntlmssp in the test server) and SQL login,
 * tried in the order Authentication= gives.  The scenario that started the
 * project comes first: a service on the database host, integrated security,
 * and no KDC to be reached. */
#include "harness.h"
#include "login_as.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static th_realm realm;
static th_server srv;
static int port;
static char keytab[700], users[700], krbmap[128];

/* alice is both a Kerberos principal (with a TGT) and an NTLM account,
 * mapped to the login TDSC\alice either way; bob is an NTLM account without
 * a login. */
static void world(const char *extra1, const char *extra2) {
  char spn[128], portstr[16];
  ck_assert(th_realm_create(&realm));
  port = th_free_port();
  snprintf(portstr, sizeof portstr, "%d", port);
  snprintf(spn, sizeof spn, "MSSQLSvc/localhost:%d", port);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(users, sizeof users, "%s/ntlm.users", realm.dir);
  snprintf(krbmap, sizeof krbmap, "alice@%s=TDSC\\alice", realm.realm);
  FILE *f = fopen(users, "w");
  ck_assert_ptr_nonnull(f);
  fputs("TDSC:alice:alice-nt-pw\nTDSC:bob:bob-nt-pw\n", f);
  fclose(f);
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password",
                         "alice-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn, (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--keytab", keytab,
                                "--ntlm-users", users, "--map", krbmap,
                                "--map", "TDSC\\alice=TDSC\\alice", extra1,
                                extra2, (const char *)NULL),
                "the test server did not start");
}

static void teardown(void) {
  th_server_stop(&srv);
  th_realm_destroy(&realm);
}

static tdsc_errc connect_with(const char *extra, tdsc_conn **out) {
  char cs[2048];
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s", port,
           th_cert("ca.pem"), extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

static const tdsc_error *expect(tdsc_conn *c, tdsc_errc rc, tdsc_errc want) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_ptr_nonnull(e);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), tdsc_error_report(e));
  return e;
}

static void expect_ok(tdsc_conn *c, tdsc_errc rc) {
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
}

static const char *mech_of(const tdsc_error *e, size_t i) {
  return tdsc_attempt_mechanism(tdsc_error_trail_at(e, i));
}

static tdsc_errc code_of(const tdsc_error *e, size_t i) {
  return tdsc_error_code(tdsc_attempt_error(tdsc_error_trail_at(e, i)));
}

#define ALICE_NTLM "NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw;"

/* ---------------------------------------------------------------- story */

START_TEST(off_the_domain_kerberos_then_ntlm_logs_in_through_ntlm) {
  tdsc_conn *c;
  world(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  tdsc_errc rc =
      connect_with("Authentication=kerberos,ntlm;" ALICE_NTLM, &c);
  expect_ok(c, rc);
  th_expect_login_as(c, "TDSC\\alice");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  const tdsc_attempt *a0 = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a0), "kerberos");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a0)),
                   TDSC_E_KRB_KDC_UNREACHABLE);
  const tdsc_attempt *a1 = tdsc_conn_attempt_at(c, 1);
  ck_assert_str_eq(tdsc_attempt_mechanism(a1), "ntlm");
  ck_assert_str_eq(tdsc_attempt_target(a1), "TDSC\\alice");
  ck_assert_ptr_null(tdsc_attempt_error(a1));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(off_the_domain_kerberos_alone_names_the_remedies) {
  tdsc_conn *c;
  world(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  tdsc_errc rc = connect_with("Authentication=kerberos;" ALICE_NTLM, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_KDC_UNREACHABLE);
  const char *hint = tdsc_error_hint(e);
  ck_assert_ptr_nonnull(strstr(hint, "domain"));
  ck_assert_ptr_nonnull(strstr(hint, "local transport"));
  ck_assert_ptr_nonnull(strstr(hint, "NTLM"));
  /* NTLM credentials were there, but the policy does not list NTLM */
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_str_eq(mech_of(e, 0), "kerberos");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* ---------------------------------------------------------------- NTLM */

START_TEST(ntlm_logs_in_raw_and_through_spnego) {
  tdsc_conn *c;
  world(NULL, NULL);
  expect_ok(c, connect_with("Authentication=ntlm;" ALICE_NTLM, &c));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  expect_ok(c, connect_with("Authentication=ntlm;SPNEGO=no;" ALICE_NTLM, &c));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_domain_uid_means_ntlm_as_freetds_has_it) {
  tdsc_conn *c;
  world(NULL, NULL);
  expect_ok(c, connect_with("UID=TDSC\\alice;PWD=alice-nt-pw", &c));
  th_expect_login_as(c, "TDSC\\alice");
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 0)),
                   "ntlm");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_credentials_file_serves_unattended_services) {
  tdsc_conn *c;
  char extra[900], path[800];
  world(NULL, NULL);
  snprintf(path, sizeof path, "%s/agent.cred", realm.dir);
  FILE *f = fopen(path, "w");
  fputs("# the backup agent's account\nTDSC\\alice:alice-nt-pw\n", f);
  fclose(f);
  snprintf(extra, sizeof extra, "Authentication=ntlm;NTLMCredFile=%s", path);
  expect_ok(c, connect_with(extra, &c));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_wrong_ntlm_password_is_logon_denied_and_never_falls_back) {
  tdsc_conn *c;
  world(NULL, NULL);
  tdsc_errc rc = connect_with(
      "Authentication=ntlm,sql;NTLMUser=TDSC\\alice;NTLMPassword=WrOnG;"
      "UID=sa;PWD=Secret-123",
      &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_NTLM_LOGON_DENIED);
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_NTLM);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "not falling back"));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_ptr_null(strstr(tdsc_error_report(e), "WrOnG"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_unknown_ntlm_account_is_logon_denied_too) {
  tdsc_conn *c;
  world(NULL, NULL);
  tdsc_errc rc = connect_with(
      "Authentication=ntlm;NTLMUser=TDSC\\mallory;NTLMPassword=x", &c);
  expect(c, rc, TDSC_E_NTLM_LOGON_DENIED);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_server_refusing_ntlm_is_named_and_cured_by_the_next_mechanism) {
  tdsc_conn *c;
  world("--no-ntlm", NULL);
  tdsc_errc rc = connect_with("Authentication=ntlm;" ALICE_NTLM, &c);
  expect(c, rc, TDSC_E_NTLM_REFUSED);
  tdsc_conn_free(c);
  rc = connect_with("Authentication=ntlm,sql;" ALICE_NTLM
                    "UID=sa;PWD=Secret-123",
                    &c);
  expect_ok(c, rc);
  th_expect_login_as(c, "sa");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(tdsc_conn_attempt_at(c, 0))),
                   TDSC_E_NTLM_REFUSED);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_authenticated_but_unmapped_account_never_falls_back) {
  tdsc_conn *c;
  world(NULL, NULL);
  tdsc_errc rc = connect_with("Authentication=ntlm,sql;NTLMUser=TDSC\\bob;"
                              "NTLMPassword=bob-nt-pw;UID=sa;PWD=Secret-123",
                              &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_INTEGRATED_LOGIN_FAILED);
  ck_assert_int_eq(tdsc_message_number(tdsc_error_server_message(e)), 18456);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(ntlm_never_runs_outside_tls_unless_encrypt_is_off) {
  tdsc_conn *c;
  world("--encryption", "not_sup");
  tdsc_errc rc =
      connect_with("Authentication=ntlm;Encrypt=optional;" ALICE_NTLM, &c);
  expect(c, rc, TDSC_E_TLS_ENCRYPTION_UNAVAILABLE);
  tdsc_conn_free(c);
  expect_ok(c, connect_with("Authentication=ntlm;Encrypt=off;" ALICE_NTLM, &c));
  ck_assert_str_eq(tdsc_conn_encryption(c), "off");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* ---------------------------------------------------------------- skips */

START_TEST(a_mechanism_without_credentials_is_passed_over_and_said_so) {
  tdsc_conn *c;
  world(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  /* the default policy, kerberos then ntlm, but no NTLM account */
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_str_eq(mech_of(e, 0), "kerberos");
  ck_assert_int_eq(code_of(e, 0), TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_str_eq(mech_of(e, 1), "ntlm");
  ck_assert_int_eq(code_of(e, 1), TDSC_E_NTLM_NO_CREDENTIALS);
  /* passed over before any traffic */
  ck_assert_str_eq(tdsc_attempt_tls(tdsc_error_trail_at(e, 1)), "-");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(no_ticket_passes_kerberos_over_to_ntlm) {
  tdsc_conn *c;
  world(NULL, NULL);
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  expect_ok(c, connect_with(ALICE_NTLM, &c));
  ck_assert_int_eq(
      tdsc_error_code(tdsc_attempt_error(tdsc_conn_attempt_at(c, 0))),
      TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 1)),
                   "ntlm");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(nothing_outside_the_list_is_ever_tried) {
  tdsc_conn *c;
  world(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  /* SQL login credentials are there, the list does not name sql */
  tdsc_errc rc = connect_with("Authentication=kerberos,ntlm;UID=sa;"
                              "PWD=Secret-123",
                              &c);
  /* sql unlisted, UID= is the Kerberos principal asked for, which the
   * cache (alice's) does not hold */
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_WRONG_PRINCIPAL);
  for (size_t i = 0; i < tdsc_error_trail_count(e); i++)
    ck_assert_str_ne(mech_of(e, i), "sql");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(no_uid_and_no_ticket_headlines_kinit_not_ntlmuser) {
  tdsc_conn *c;
  world(NULL, NULL);
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  /* the default policy, kerberos then ntlm: both lack credentials; the
   * fix is a ticket for the preferred mechanism */
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "kinit"));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_int_eq(code_of(e, 1), TDSC_E_NTLM_NO_CREDENTIALS);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "lacked credentials"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* SQL login with no user name lacks credentials as Kerberos without a
 * ticket does: passed over, and the headline stays kinit (it used to stop
 * the chain as a bad option). */
START_TEST(sql_without_uid_is_passed_over_like_missing_credentials) {
  tdsc_conn *c;
  world(NULL, NULL);
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  tdsc_errc rc = connect_with("Authentication=kerberos,sql", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "kinit"));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_int_eq(code_of(e, 1), TDSC_E_LOGIN_NO_CREDENTIALS);
  tdsc_conn_free(c);
  /* sql first: still passed over, Kerberos tried after it */
  rc = connect_with("Authentication=sql,kerberos", &c);
  e = expect(c, rc, TDSC_E_LOGIN_NO_CREDENTIALS);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_int_eq(code_of(e, 1), TDSC_E_KRB_NO_CREDENTIALS);
  tdsc_conn_free(c);
  /* alone: its own code and hint, naming UID= */
  rc = connect_with("Authentication=sql", &c);
  e = expect(c, rc, TDSC_E_LOGIN_NO_CREDENTIALS);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "UID="));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_real_failure_headlines_over_missing_credentials) {
  tdsc_conn *c;
  char extra[800];
  world(NULL, NULL);
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  /* Kerberos has no ticket; the NTLM file the user named is missing: the
   * file is what to fix */
  snprintf(extra, sizeof extra, "NTLMCredFile=%s/absent.cred", realm.dir);
  tdsc_errc rc = connect_with(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_NTLM_CREDFILE_UNUSABLE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "absent.cred"));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_int_eq(code_of(e, 0), TDSC_E_KRB_NO_CREDENTIALS);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_revoked_kerberos_account_never_falls_back_to_ntlm) {
  tdsc_conn *c;
  char extra[800];
  world(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "addprinc", "carol", "--password",
                         "carol-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "modprinc", "carol", "-allow_tix",
                         (const char *)NULL));
  /* alice's NTLM account would log in */
  snprintf(extra, sizeof extra,
           "Authentication=kerberos,ntlm;KrbPrincipal=carol@%s;"
           "KrbPassword=carol-pw;" ALICE_NTLM,
           realm.realm);
  tdsc_errc rc = connect_with(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CLIENT_REVOKED);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(e), "not falling back to ntlm: the KDC "
                                    "judged this identity"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

static Suite *policy_suite(void) {
  Suite *s = suite_create("policy");
  TCase *story = tcase_create("story");
  tcase_set_timeout(story, 90);
  tcase_add_test(story, off_the_domain_kerberos_then_ntlm_logs_in_through_ntlm);
  tcase_add_test(story, off_the_domain_kerberos_alone_names_the_remedies);
  suite_add_tcase(s, story);
  TCase *ntlm = tcase_create("ntlm");
  tcase_set_timeout(ntlm, 90);
  tcase_add_test(ntlm, ntlm_logs_in_raw_and_through_spnego);
  tcase_add_test(ntlm, a_domain_uid_means_ntlm_as_freetds_has_it);
  tcase_add_test(ntlm, a_credentials_file_serves_unattended_services);
  tcase_add_test(ntlm, a_wrong_ntlm_password_is_logon_denied_and_never_falls_back);
  tcase_add_test(ntlm, an_unknown_ntlm_account_is_logon_denied_too);
  tcase_add_test(ntlm,
                 a_server_refusing_ntlm_is_named_and_cured_by_the_next_mechanism);
  tcase_add_test(ntlm, an_authenticated_but_unmapped_account_never_falls_back);
  tcase_add_test(ntlm, ntlm_never_runs_outside_tls_unless_encrypt_is_off);
  suite_add_tcase(s, ntlm);
  TCase *skip = tcase_create("skips");
  tcase_set_timeout(skip, 90);
  tcase_add_test(skip, a_mechanism_without_credentials_is_passed_over_and_said_so);
  tcase_add_test(skip, no_ticket_passes_kerberos_over_to_ntlm);
  tcase_add_test(skip, nothing_outside_the_list_is_ever_tried);
  tcase_add_test(skip, no_uid_and_no_ticket_headlines_kinit_not_ntlmuser);
  tcase_add_test(skip, sql_without_uid_is_passed_over_like_missing_credentials);
  tcase_add_test(skip, a_real_failure_headlines_over_missing_credentials);
  tcase_add_test(skip, a_revoked_kerberos_account_never_falls_back_to_ntlm);
  suite_add_tcase(s, skip);
  return s;
}

int main(void) {
  th_require_realm();
  return th_run_suite(policy_suite());
}
