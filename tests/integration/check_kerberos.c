/* Integrated security with Kerberos, for real: a throwaway MIT realm
 * (tests/realm), the test server accepting with GSSAPI from its keytab, and
 * our client through GSSAPI.  Each scenario builds the broken world users
 * meet in the field (the machine off its domain, a missing or stale SPN,
 * clocks apart, no ticket...) and checks the code, the facts the message
 * names, and the trail. */
#include "harness.h"
#include "login_as.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static th_realm realm;
static th_server srv;
static int port;
static char keytab[700], spn[128], mapping[128];

/* The healthy world: alice (mapped to the login TDSC\alice) holds a TGT,
 * bob (no login) exists, and the server's SPN MSSQLSvc/localhost:<port> is
 * registered with its keys in the server's keytab. */
static void world(void) {
  ck_assert(th_realm_create(&realm));
  port = th_free_port();
  snprintf(spn, sizeof spn, "MSSQLSvc/localhost:%d", port);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(mapping, sizeof mapping, "alice@%s=TDSC\\alice", realm.realm);
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password",
                         "alice-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", "bob", "--password", "bob-pw",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn, (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
}

static void serve(const char *extra1, const char *extra2) {
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--keytab", keytab,
                                "--map", mapping, extra1, extra2,
                                (const char *)NULL),
                "the test server did not start");
}

static void teardown(void) {
  th_server_stop(&srv);
  th_realm_destroy(&realm);
}

static tdsc_errc connect_krb(const char *extra, tdsc_conn **out) {
  char cs[2048];
  extra = extra ? extra : "";
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s%s%s", port,
           th_cert("ca.pem"),
           strstr(extra, "Authentication=") ? "" : "Authentication=kerberos;",
           strstr(extra, "LoginTimeout=") ? "" : "LoginTimeout=10;", extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

static const tdsc_error *expect(tdsc_conn *c, tdsc_errc rc, tdsc_errc want) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_ptr_nonnull(e);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), tdsc_error_report(e));
  ck_assert_str_ne(tdsc_error_hint(e), "");
  return e;
}

static void expect_in_message(const tdsc_error *e, const char *fact) {
  ck_assert_msg(strstr(tdsc_error_message(e), fact), "'%s' lacks '%s'",
                tdsc_error_message(e), fact);
}

/* tdsc, the CLI, on the same connection string: it must name the same
 * code as the library (its "error: TDSC_E_..." line). */
static void expect_cli(const char *extra, tdsc_errc want) {
  char cs[2048], cmd[4400], line[2048];
  extra = extra ? extra : "";
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s;%s%s%s", port,
           th_cert("ca.pem"),
           strstr(extra, "Authentication=") ? "" : "Authentication=kerberos;",
           strstr(extra, "LoginTimeout=") ? "" : "LoginTimeout=10;", extra);
  ck_assert_ptr_null(strchr(cs, '\''));
  snprintf(cmd, sizeof cmd, "'%s/tools/tdsc' --quiet -c '%s' -Q 'SELECT 1' 2>&1",
           getenv("TDSC_BUILDDIR"), cs);
  FILE *f = popen(cmd, "r");
  ck_assert_ptr_nonnull(f);
  char want_line[128];
  snprintf(want_line, sizeof want_line, "error: TDSC_E_%s ",
           tdsc_errc_name(want));
  bool found = false;
  while (fgets(line, sizeof line, f))
    found = found || strncmp(line, want_line, strlen(want_line)) == 0;
  int st = pclose(f);
  ck_assert_msg(found, "tdsc did not print '%s'", want_line);
  ck_assert_int_ne(st, 0);
}

/* Whether the failed connect tried another mechanism after the first. */
static void expect_no_fallback(const tdsc_error *e, const char *rest) {
  char words[128];
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  snprintf(words, sizeof words, "not falling back to %s", rest);
  expect_in_message(e, words);
}

/* ---------------------------------------------------------------- works */

START_TEST(kerberos_login_through_spnego_works) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  tdsc_errc rc = connect_krb("", &c);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(raw_kerberos_tokens_work_too) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  tdsc_errc rc = connect_krb("SPNEGO=no", &c);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(integrated_security_is_the_default_without_uid) {
  tdsc_conn *c = tdsc_conn_new();
  char cs[1024];
  world();
  serve(NULL, NULL);
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;CAFile=%s", port,
           th_cert("ca.pem"));
  ck_assert_int_eq(tdsc_conn_connect(c, cs), TDSC_OK);
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_named_ccache_a_keytab_and_a_password_all_work) {
  tdsc_conn *c;
  char extra[1200], ccache[700], ktab[700];
  world();
  serve(NULL, NULL);
  /* a named cache holding alice's TGT, the default cache emptied */
  snprintf(ccache, sizeof ccache, "FILE:%s/named.cc", realm.dir);
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         "--ccache", ccache, (const char *)NULL));
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  snprintf(extra, sizeof extra, "KrbCCache=%s", ccache);
  ck_assert_int_eq(connect_krb(extra, &c), TDSC_OK);
  tdsc_conn_free(c);
  /* a client keytab, as an unattended service has */
  snprintf(ktab, sizeof ktab, "%s/alice.keytab", realm.dir);
  ck_assert(th_realm_cmd(&realm, "ktadd", ktab, "alice", (const char *)NULL));
  snprintf(extra, sizeof extra, "KrbKeytab=%s;KrbPrincipal=alice@%s", ktab,
           realm.realm);
  tdsc_errc rc = connect_krb(extra, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  /* principal and password, in memory: bob's (ktadd gave alice new keys) */
  snprintf(mapping, sizeof mapping, "bob@%s=TDSC\\bob", realm.realm);
  th_server_stop(&srv);
  serve(NULL, NULL);
  snprintf(extra, sizeof extra, "KrbPrincipal=bob@%s;KrbPassword=bob-pw",
           realm.realm);
  rc = connect_krb(extra, &c);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  th_expect_login_as(c, "TDSC\\bob");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* ---------------------------------------------------------------- broken */

START_TEST(off_the_domain_the_kdc_is_unreachable) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_KERBEROS);
  expect_in_message(e, spn);
  /* a stopped KDC refuses: the message says so, not "did not answer" */
  expect_in_message(e, "refused the connection");
  ck_assert_ptr_null(strstr(tdsc_error_message(e), "did not answer"));
  ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_GSSAPI);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_error_trail_at(e, 0)),
                   "kerberos");
  ck_assert_ptr_nonnull(
      strstr(tdsc_attempt_target(tdsc_error_trail_at(e, 0)), spn));
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "NTLM"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_silent_kdc_is_bounded_by_the_login_timeout) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "silent", (const char *)NULL));
  long long t0 = th_now_ms();
  tdsc_errc rc = connect_krb("LoginTimeout=2", &c);
  long long took = th_now_ms() - t0;
  expect(c, rc, TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_msg(took < 8000, "took %lld ms (a silent KDC costs 27 s "
                             "unbounded)", took);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_unregistered_spn_is_named_with_its_derivation) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "delprinc", spn, (const char *)NULL));
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_SPN_UNKNOWN);
  expect_in_message(e, spn);
  ck_assert_ptr_nonnull(
      strstr(tdsc_attempt_target(tdsc_error_trail_at(e, 0)), "forward DNS"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "setspn"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_spn_built_from_an_ip_address_is_unknown_and_says_why) {
  tdsc_conn *c = tdsc_conn_new();
  char cs[1024];
  world();
  serve(NULL, NULL);
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1,%d;CAFile=%s;HostNameInCertificate=localhost;"
           "Authentication=kerberos",
           port, th_cert("ca.pem"));
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_SPN_UNKNOWN);
  expect_in_message(e, "MSSQLSvc/127.0.0.1:");
  ck_assert_ptr_nonnull(
      strstr(tdsc_attempt_target(tdsc_error_trail_at(e, 0)), "IP address"));
  tdsc_conn_free(c);
  /* ServerSPN= is the way out */
  char extra[256];
  snprintf(extra, sizeof extra, "ServerSPN=%s", spn);
  c = tdsc_conn_new();
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1,%d;CAFile=%s;HostNameInCertificate=localhost;"
           "Authentication=kerberos;%s",
           port, th_cert("ca.pem"), extra);
  ck_assert_int_eq(tdsc_conn_connect(c, cs), TDSC_OK);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(no_ticket_means_no_credentials) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  setenv("KRB5CCNAME", "FILE:/nonexistent/ccache", 1);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_NO_CREDENTIALS);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "kinit"));
  /* found before any traffic: no connection was made */
  ck_assert_str_eq(tdsc_attempt_tls(tdsc_error_trail_at(e, 0)), "-");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_expired_ticket_is_named) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         "--lifetime", "1", (const char *)NULL));
  sleep(2);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_TICKET_EXPIRED);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "kinit"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_server_clock_ten_minutes_ahead_is_clock_skew) {
  tdsc_conn *c;
  world();
  ck_assert_msg(access(TH_LIBFAKETIME, R_OK) == 0,
                "%s is missing (Debian: faketime)", TH_LIBFAKETIME);
  th_server_faketime = "+10m";
  serve(NULL, NULL);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CLOCK_SKEW);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "NTP"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_stale_service_keytab_is_a_key_mismatch) {
  tdsc_conn *c;
  world();
  /* the service account's password changes; the server keeps old keys */
  ck_assert(th_realm_cmd(&realm, "cpw", spn, "--randkey", (const char *)NULL));
  serve(NULL, NULL);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_SERVICE_KEY_MISMATCH);
  expect_in_message(e, spn);
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "duplicate SPN"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_principal_in_an_unknown_realm_is_named) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  tdsc_errc rc = connect_krb(
      "KrbPrincipal=alice@NOWHERE.TEST;KrbPassword=alice-pw", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_REALM_UNKNOWN);
  expect_in_message(e, "NOWHERE.TEST");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_wrong_password_is_preauth_failed_and_never_shown) {
  tdsc_conn *c;
  char extra[256];
  world();
  serve(NULL, NULL);
  snprintf(extra, sizeof extra, "KrbPrincipal=alice@%s;KrbPassword=WrOnG-pw",
           realm.realm);
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_PREAUTH_FAILED);
  ck_assert_ptr_null(strstr(tdsc_error_report(e), "WrOnG-pw"));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_authenticated_principal_without_a_login_is_refused) {
  tdsc_conn *c;
  char extra[256];
  world();
  serve(NULL, NULL);
  snprintf(extra, sizeof extra, "KrbPrincipal=bob@%s;KrbPassword=bob-pw",
           realm.realm);
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_INTEGRATED_LOGIN_FAILED);
  ck_assert_int_eq(tdsc_message_number(tdsc_error_server_message(e)), 18456);
  expect_in_message(e, "bob@");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_server_without_integrated_security_says_untrusted_domain) {
  tdsc_conn *c;
  world();
  serve("--no-integrated", NULL);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_UNTRUSTED_DOMAIN);
  ck_assert_int_eq(tdsc_message_number(tdsc_error_server_message(e)), 18452);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* --------------------------------------------------------------- judged */

/* carol: an account the KDC will judge; sa's SQL login would work, so a
 * fallback would log in (and must not happen). */
static void carol(const char *opt1, const char *opt2) {
  ck_assert(th_realm_cmd(&realm, "addprinc", "carol", "--password",
                         "carol-pw", (const char *)NULL));
  if (opt1)
    ck_assert(th_realm_cmd(&realm, "modprinc", "carol", opt1, opt2,
                           (const char *)NULL));
}

static const char *carol_then_sql(char *buf, size_t n, const char *pw) {
  snprintf(buf, n,
           "Authentication=kerberos,sql;KrbPrincipal=carol@%s;KrbPassword=%s;"
           "UID=sa;PWD=Secret-123",
           realm.realm, pw);
  return buf;
}

START_TEST(an_expired_account_is_revoked_and_never_falls_back) {
  tdsc_conn *c;
  char extra[512];
  world();
  carol("-expire", "yesterday");
  serve(NULL, NULL);
  carol_then_sql(extra, sizeof extra, "carol-pw");
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CLIENT_REVOKED);
  expect_in_message(e, "carol@");
  expect_in_message(e, "expired");
  expect_in_message(e, "the KDC judged this identity");
  expect_no_fallback(e, "sql");
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "re-enable"));
  tdsc_conn_free(c);
  expect_cli(extra, TDSC_E_KRB_CLIENT_REVOKED);
  teardown();
}
END_TEST

START_TEST(a_disabled_account_is_revoked_too) {
  tdsc_conn *c;
  char extra[512];
  world();
  carol("-allow_tix", NULL);
  serve(NULL, NULL);
  tdsc_errc rc = connect_krb(carol_then_sql(extra, sizeof extra, "carol-pw"),
                             &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CLIENT_REVOKED);
  expect_in_message(e, "revoked");
  expect_no_fallback(e, "sql");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(an_expired_password_is_named_and_never_falls_back) {
  tdsc_conn *c;
  char extra[512];
  world();
  carol("-pwexpire", "yesterday");
  serve(NULL, NULL);
  carol_then_sql(extra, sizeof extra, "carol-pw");
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_PASSWORD_EXPIRED);
  expect_in_message(e, "password of carol@");
  expect_no_fallback(e, "sql");
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "kpasswd"));
  ck_assert_ptr_null(strstr(tdsc_error_report(e), "carol-pw"));
  tdsc_conn_free(c);
  expect_cli(extra, TDSC_E_KRB_PASSWORD_EXPIRED);
  teardown();
}
END_TEST

START_TEST(a_wrong_password_under_required_preauth_never_falls_back) {
  tdsc_conn *c;
  char extra[512];
  world();
  carol("+requires_preauth", NULL);
  serve(NULL, NULL);
  carol_then_sql(extra, sizeof extra, "WrOnG-pw");
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_PREAUTH_FAILED);
  expect_no_fallback(e, "sql");
  ck_assert_ptr_null(strstr(tdsc_error_report(e), "WrOnG-pw"));
  tdsc_conn_free(c);
  expect_cli(extra, TDSC_E_KRB_PREAUTH_FAILED);
  teardown();
}
END_TEST

/* ------------------------------------------------------------- identity */

START_TEST(uid_is_the_principal_and_a_cache_of_another_fails) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  /* the default cache holds alice; UID=bob must not log in as alice */
  tdsc_errc rc = connect_krb("UID=bob", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_WRONG_PRINCIPAL);
  expect_in_message(e, "alice@");
  expect_in_message(e, "bob@");
  expect_in_message(e, realm.dir); /* which cache */
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "kinit"));
  tdsc_conn_free(c);
  expect_cli("UID=bob", TDSC_E_KRB_WRONG_PRINCIPAL);
  /* KrbPrincipal= alike, and a named cache */
  char extra[1024];
  snprintf(extra, sizeof extra, "KrbPrincipal=bob;KrbCCache=FILE:%s/ccache",
           realm.dir);
  rc = connect_krb(extra, &c);
  e = expect(c, rc, TDSC_E_KRB_WRONG_PRINCIPAL);
  expect_in_message(e, "alice@");
  tdsc_conn_free(c);
  /* UID= naming the cache's own principal logs in */
  rc = connect_krb("UID=alice", &c);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  th_expect_login_as(c, "TDSC\\alice");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_client_keytab_missing_or_without_the_principal_is_named) {
  tdsc_conn *c;
  char extra[1400], ktab[700];
  world();
  serve(NULL, NULL);
  snprintf(ktab, sizeof ktab, "%s/alice.keytab", realm.dir);
  snprintf(extra, sizeof extra, "KrbKeytab=%s;KrbPrincipal=alice", ktab);
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_KEYTAB_UNUSABLE);
  expect_in_message(e, ktab);
  expect_in_message(e, "does not exist");
  tdsc_conn_free(c);
  expect_cli(extra, TDSC_E_KRB_KEYTAB_UNUSABLE);
  ck_assert(th_realm_cmd(&realm, "ktadd", ktab, "alice", "--norandkey",
                         (const char *)NULL));
  snprintf(extra, sizeof extra, "KrbKeytab=%s;KrbPrincipal=bob", ktab);
  rc = connect_krb(extra, &c);
  e = expect(c, rc, TDSC_E_KRB_KEYTAB_UNUSABLE);
  expect_in_message(e, "no key for bob@");
  expect_in_message(e, "holds alice@");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_corrupt_ticket_cache_is_named) {
  tdsc_conn *c;
  char cc[700], ccname[720];
  world();
  serve(NULL, NULL);
  snprintf(cc, sizeof cc, "%s/garbage.cc", realm.dir);
  FILE *f = fopen(cc, "w");
  ck_assert_ptr_nonnull(f);
  fputs("this is no ticket cache\n", f);
  fclose(f);
  snprintf(ccname, sizeof ccname, "FILE:%s", cc);
  setenv("KRB5CCNAME", ccname, 1);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CCACHE_UNUSABLE);
  expect_in_message(e, cc);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* ---------------------------------------------------------------- set-up */

START_TEST(krb5_config_pointing_nowhere_is_named) {
  tdsc_conn *c;
  char conf[700];
  world();
  serve(NULL, NULL);
  snprintf(conf, sizeof conf, "%s/absent/krb5.conf", realm.dir);
  setenv("KRB5_CONFIG", conf, 1);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CONFIG_INVALID);
  expect_in_message(e, "KRB5_CONFIG=");
  expect_in_message(e, conf);
  expect_in_message(e, "does not exist");
  tdsc_conn_free(c);
  expect_cli("", TDSC_E_KRB_CONFIG_INVALID);
  teardown();
}
END_TEST

START_TEST(an_unparsable_krb5_conf_is_named) {
  tdsc_conn *c;
  char conf[700];
  world();
  serve(NULL, NULL);
  snprintf(conf, sizeof conf, "%s/broken.conf", realm.dir);
  FILE *f = fopen(conf, "w");
  ck_assert_ptr_nonnull(f);
  fputs("[libdefaults\n\tdefault_realm = {\n", f);
  fclose(f);
  setenv("KRB5_CONFIG", conf, 1);
  tdsc_errc rc = connect_krb("", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_CONFIG_INVALID);
  expect_in_message(e, conf);
  expect_in_message(e, "does not parse");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_service_key_of_an_enctype_the_client_refuses_is_named) {
  tdsc_conn *c;
  char conf[700], src[700], extra[256], line[512];
  world();
  /* the service account has an AES-256 key only ... */
  ck_assert(th_realm_cmd(&realm, "cpw", spn, "--randkey", "--enctypes",
                         "aes256-cts:normal", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn, "--norandkey",
                         (const char *)NULL));
  serve(NULL, NULL);
  /* ... and this client allows AES-128 only */
  snprintf(src, sizeof src, "%s/krb5.conf", realm.dir);
  snprintf(conf, sizeof conf, "%s/aes128.conf", realm.dir);
  FILE *in = fopen(src, "r"), *out = fopen(conf, "w");
  ck_assert(in && out);
  while (fgets(line, sizeof line, in)) {
    char *p = strstr(line, "aes256-cts aes128-cts");
    if (p)
      memmove(p, p + strlen("aes256-cts "), strlen(p + strlen("aes256-cts ")) + 1);
    fputs(line, out);
  }
  fclose(in);
  fclose(out);
  setenv("KRB5_CONFIG", conf, 1);
  snprintf(extra, sizeof extra, "KrbPrincipal=alice@%s;KrbPassword=alice-pw",
           realm.realm);
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_ENCTYPE_UNSUPPORTED);
  expect_in_message(e, "service key");
  expect_in_message(e, "allows aes128-cts");
  tdsc_conn_free(c);
  expect_cli(extra, TDSC_E_KRB_ENCTYPE_UNSUPPORTED);
  teardown();
}
END_TEST

START_TEST(a_user_of_an_untrusted_realm_is_told_the_missing_krbtgt) {
  tdsc_conn *c;
  th_realm other;
  char extra[512], tmpl[sizeof other.dir], want[256];
  world();
  serve(NULL, NULL);
  /* OTHER.TEST: its own KDC and user, no trust with TDSC.TEST */
  memset(&other, 0, sizeof other);
  ck_assert_uint_lt(strlen(realm.dir), sizeof tmpl - 16);
  snprintf(tmpl, sizeof tmpl, "%.490s/other.XXXXXX", realm.dir);
  ck_assert_ptr_nonnull(mkdtemp(tmpl));
  snprintf(other.dir, sizeof other.dir, "%s", tmpl);
  snprintf(other.realm, sizeof other.realm, "OTHER.TEST");
  ck_assert(th_realm_cmd(&other, "create", "--realm", "OTHER.TEST",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&other, "addprinc", "carol", "--password",
                         "carol-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addrealm", other.dir, (const char *)NULL));
  snprintf(extra, sizeof extra,
           "KrbPrincipal=carol@OTHER.TEST;KrbPassword=carol-pw");
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_KRB_NO_TRUST_PATH);
  expect_in_message(e, "realm OTHER.TEST");
  snprintf(want, sizeof want, "realm %s", realm.realm);
  expect_in_message(e, want);
  snprintf(want, sizeof want, "krbtgt/%s@OTHER.TEST", realm.realm);
  expect_in_message(e, want);
  tdsc_conn_free(c);
  expect_cli(extra, TDSC_E_KRB_NO_TRUST_PATH);
  ck_assert(th_realm_cmd(&other, "destroy", (const char *)NULL));
  teardown();
}
END_TEST

/* ---------------------------------------------------------------- policy */

START_TEST(kdc_down_falls_back_to_sql_login_when_listed) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  tdsc_errc rc = connect_krb(
      "Authentication=kerberos,sql;UID=sa;PWD=Secret-123", &c);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  th_expect_login_as(c, "sa");
  /* the fallback is visible: kerberos failed, then sql logged in */
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  const tdsc_attempt *a0 = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a0), "kerberos");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a0)),
                   TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 1)), "sql");
  ck_assert_ptr_null(tdsc_attempt_error(tdsc_conn_attempt_at(c, 1)));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_refused_identity_never_falls_back) {
  tdsc_conn *c;
  char extra[256];
  world();
  serve(NULL, NULL);
  snprintf(extra, sizeof extra,
           "Authentication=kerberos,sql;KrbPrincipal=bob@%s;KrbPassword=bob-pw;"
           "UID=sa;PWD=Secret-123",
           realm.realm);
  tdsc_errc rc = connect_krb(extra, &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_INTEGRATED_LOGIN_FAILED);
  expect_in_message(e, "not falling back to sql");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(the_whole_trail_is_kept_when_every_mechanism_fails) {
  tdsc_conn *c;
  world();
  serve(NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  tdsc_errc rc = connect_krb(
      "Authentication=kerberos,sql;UID=sa;PWD=not-it", &c);
  const tdsc_error *e = expect(c, rc, TDSC_E_LOGIN_FAILED);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  const tdsc_attempt *a0 = tdsc_error_trail_at(e, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a0), "kerberos");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a0)),
                   TDSC_E_KRB_KDC_UNREACHABLE);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_error_trail_at(e, 1)), "sql");
  expect_in_message(e, "every mechanism");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

static Suite *kerberos_suite(void) {
  Suite *s = suite_create("kerberos");
  TCase *ok = tcase_create("works");
  tcase_set_timeout(ok, 90);
  tcase_add_test(ok, kerberos_login_through_spnego_works);
  tcase_add_test(ok, raw_kerberos_tokens_work_too);
  tcase_add_test(ok, integrated_security_is_the_default_without_uid);
  tcase_add_test(ok, a_named_ccache_a_keytab_and_a_password_all_work);
  suite_add_tcase(s, ok);
  TCase *bad = tcase_create("broken");
  tcase_set_timeout(bad, 90);
  tcase_add_test(bad, off_the_domain_the_kdc_is_unreachable);
  tcase_add_test(bad, a_silent_kdc_is_bounded_by_the_login_timeout);
  tcase_add_test(bad, an_unregistered_spn_is_named_with_its_derivation);
  tcase_add_test(bad, an_spn_built_from_an_ip_address_is_unknown_and_says_why);
  tcase_add_test(bad, no_ticket_means_no_credentials);
  tcase_add_test(bad, an_expired_ticket_is_named);
  tcase_add_test(bad, a_server_clock_ten_minutes_ahead_is_clock_skew);
  tcase_add_test(bad, a_stale_service_keytab_is_a_key_mismatch);
  tcase_add_test(bad, a_principal_in_an_unknown_realm_is_named);
  tcase_add_test(bad, a_wrong_password_is_preauth_failed_and_never_shown);
  tcase_add_test(bad, an_authenticated_principal_without_a_login_is_refused);
  tcase_add_test(bad, a_server_without_integrated_security_says_untrusted_domain);
  suite_add_tcase(s, bad);
  TCase *jud = tcase_create("judged");
  tcase_set_timeout(jud, 90);
  tcase_add_test(jud, an_expired_account_is_revoked_and_never_falls_back);
  tcase_add_test(jud, a_disabled_account_is_revoked_too);
  tcase_add_test(jud, an_expired_password_is_named_and_never_falls_back);
  tcase_add_test(jud, a_wrong_password_under_required_preauth_never_falls_back);
  suite_add_tcase(s, jud);
  TCase *id = tcase_create("identity");
  tcase_set_timeout(id, 90);
  tcase_add_test(id, uid_is_the_principal_and_a_cache_of_another_fails);
  tcase_add_test(id, a_client_keytab_missing_or_without_the_principal_is_named);
  tcase_add_test(id, a_corrupt_ticket_cache_is_named);
  suite_add_tcase(s, id);
  TCase *cfg = tcase_create("setup");
  tcase_set_timeout(cfg, 90);
  tcase_add_test(cfg, krb5_config_pointing_nowhere_is_named);
  tcase_add_test(cfg, an_unparsable_krb5_conf_is_named);
  tcase_add_test(cfg, a_service_key_of_an_enctype_the_client_refuses_is_named);
  tcase_add_test(cfg, a_user_of_an_untrusted_realm_is_told_the_missing_krbtgt);
  suite_add_tcase(s, cfg);
  TCase *pol = tcase_create("policy");
  tcase_set_timeout(pol, 90);
  tcase_add_test(pol, kdc_down_falls_back_to_sql_login_when_listed);
  tcase_add_test(pol, a_refused_identity_never_falls_back);
  tcase_add_test(pol, the_whole_trail_is_kept_when_every_mechanism_fails);
  suite_add_tcase(s, pol);
  return s;
}

int main(void) {
  th_require_realm();
  return th_run_suite(kerberos_suite());
}
