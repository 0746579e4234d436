/* Extended Protection (doc/channel-binding.md), for real: the test server
 * checks tls-unique channel bindings with MIT krb5's acceptor (Kerberos)
 * and gss-ntlmssp's (NTLM), as SQL Server with Extended Protection
 * allowed or required; a relay that terminates TLS (tls_relay.py) stands
 * for the machine in the middle. */
#include "harness.h"
#include "login_as.h"

#include <tdsclient.h>

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static th_realm realm;
static th_server srv;
static int port;
static char keytab[700], users[700], krbmap[128];
static pid_t relay_pid = -1;
static int relay_port;

/* alice: a Kerberos principal with a TGT and an NTLM account, both mapped
 * to the login TDSC\alice.  mode: --extended-protection; extra: one more
 * server argument or NULL. */
static void world(const char *mode, const char *extra1, const char *extra2) {
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
  fputs("TDSC:alice:alice-nt-pw\n", f);
  fclose(f);
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert(
      th_realm_cmd(&realm, "addprinc", spn, "--randkey", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn, (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--keytab", keytab,
                                "--ntlm-users", users, "--map", krbmap, "--map",
                                "TDSC\\alice=TDSC\\alice",
                                "--extended-protection", mode, extra1, extra2,
                                (const char *)NULL),
                "the test server did not start");
}

/* The relay in front of the server (tls_relay.py), with the test CA's
 * localhost certificate: the client trusts it as it trusts the server. */
static void relay_start(void) {
  char script[1024];
  snprintf(script, sizeof script, "%s/tests/integration/tls_relay.py",
           getenv("TDSC_SRCDIR"));
  char up[16], cert[1024], key[1024];
  snprintf(up, sizeof up, "%d", port);
  snprintf(cert, sizeof cert, "%s", th_cert("server.pem"));
  snprintf(key, sizeof key, "%s", th_cert("server.key"));
  int fds[2];
  ck_assert_int_eq(pipe(fds), 0);
  relay_pid = fork();
  ck_assert_int_ge(relay_pid, 0);
  if (relay_pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    execlp(getenv("PYTHON3"), getenv("PYTHON3"), script, up, cert, key,
           (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char line[64] = "";
  size_t len = 0;
  struct pollfd p = {.fd = fds[0], .events = POLLIN};
  while (len < sizeof line - 1 && poll(&p, 1, 10000) > 0 &&
         read(fds[0], line + len, 1) == 1 && line[len] != '\n')
    len++;
  line[len] = 0;
  close(fds[0]);
  ck_assert_msg(sscanf(line, "READY %d", &relay_port) == 1,
                "the relay did not start (got '%s')", line);
}

static void teardown(void) {
  if (relay_pid > 0) {
    kill(relay_pid, SIGTERM);
    waitpid(relay_pid, NULL, 0);
    relay_pid = -1;
  }
  th_server_stop(&srv);
  th_realm_destroy(&realm);
}

static tdsc_errc connect_to(int to, const char *extra, tdsc_conn **out) {
  char cs[2048];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;CAFile=%s;ServerSPN="
           "MSSQLSvc/localhost:%d;%s",
           to, th_cert("ca.pem"), port, extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

/* How many lines of the server's log hold needle. */
static int log_count(const char *needle) {
  char path[512], line[4096];
  snprintf(path, sizeof path, "%s/server.log", srv.dir);
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  int n = 0;
  while (fgets(line, sizeof line, f))
    n += strstr(line, needle) != NULL;
  fclose(f);
  return n;
}

static void expect_ok(tdsc_conn *c, tdsc_errc rc) {
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
}

static const tdsc_error *expect(tdsc_conn *c, tdsc_errc rc, tdsc_errc want) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_ptr_nonnull(e);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), tdsc_error_report(e));
  return e;
}

#define ALICE_NTLM                                                             \
  "Authentication=ntlm;NTLMUser=TDSC\\alice;"                                  \
  "NTLMPassword=alice-nt-pw;"
#define ALICE_KRB "Authentication=kerberos;"

static const char *const logins[] = {
    ALICE_NTLM "SPNEGO=no;", ALICE_NTLM "SPNEGO=yes;", ALICE_KRB "SPNEGO=no;",
    ALICE_KRB "SPNEGO=yes;"};

/* ------------------------------------------------------------- bound */

START_TEST(every_integrated_login_is_bound_and_passes_required) {
  world("required", NULL, NULL);
  for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
    tdsc_conn *c;
    expect_ok(c, connect_to(port, logins[i], &c));
    th_expect_login_as(c, "TDSC\\alice");
    ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
    ck_assert_str_eq(tdsc_attempt_channel_binding(tdsc_conn_attempt_at(c, 0)),
                     "tls-unique");
    tdsc_conn_free(c);
  }
  ck_assert_int_eq(log_count("17806"), 0);
  teardown();
}
END_TEST

/* Login-only encryption (a server with encryption off): LOGIN7 and the
 * first token still travel in TLS, so they are bound, and pass. */
START_TEST(login_only_encryption_is_bound_too) {
  world("required", "--encryption", "off");
  for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
    tdsc_conn *c;
    char cs[256];
    snprintf(cs, sizeof cs, "%sEncrypt=optional;", logins[i]);
    expect_ok(c, connect_to(port, cs, &c));
    ck_assert_str_eq(tdsc_conn_encryption(c), "login-only");
    ck_assert_str_eq(tdsc_attempt_channel_binding(tdsc_conn_attempt_at(c, 0)),
                     "tls-unique");
    th_expect_login_as(c, "TDSC\\alice");
    tdsc_conn_free(c);
  }
  ck_assert_int_eq(log_count("17806"), 0);
  teardown();
}
END_TEST

START_TEST(a_sql_login_carries_no_binding_and_says_nothing_of_it) {
  tdsc_conn *c;
  world("required", NULL, NULL);
  expect_ok(c,
            connect_to(port, "Authentication=sql;UID=sa;PWD=Secret-123;", &c));
  ck_assert_str_eq(tdsc_attempt_channel_binding(tdsc_conn_attempt_at(c, 0)),
                   "");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* -------------------------------------------------------------- none */

/* TLS 1.3 has no tls-unique: nothing is sent, the trail says why, and a
 * server requiring Extended Protection refuses as SQL Server does. */
START_TEST(tls13_sends_no_binding_and_required_refuses_it) {
  world("required", "--strict", NULL);
  for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
    tdsc_conn *c;
    char cs[256];
    snprintf(cs, sizeof cs, "%sEncrypt=strict;", logins[i]);
    tdsc_errc rc = connect_to(port, cs, &c);
    const tdsc_error *e = expect(
        c, rc, i < 2 ? TDSC_E_NTLM_LOGON_DENIED : TDSC_E_UNTRUSTED_DOMAIN);
    const char *b = tdsc_attempt_channel_binding(tdsc_error_trail_at(e, 0));
    ck_assert_msg(strstr(b, "none: TLS 1.3 has no tls-unique"), "%s", b);
    ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "no channel binding"));
    ck_assert_ptr_nonnull(
        strstr(tdsc_error_report(e), "channel binding none: TLS 1.3"));
    tdsc_conn_free(c);
  }
  ck_assert_int_eq(log_count("state 46 (error 17806)"), 4);
  ck_assert_int_eq(log_count("none sent (TLSv1.3 has no tls-unique"), 4);
  teardown();
}
END_TEST

START_TEST(allowed_lets_an_unbound_tls13_login_in) {
  world("allowed", "--strict", NULL);
  for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
    tdsc_conn *c;
    char cs[256];
    snprintf(cs, sizeof cs, "%sEncrypt=strict;", logins[i]);
    expect_ok(c, connect_to(port, cs, &c));
    th_expect_login_as(c, "TDSC\\alice");
    tdsc_conn_free(c);
  }
  teardown();
}
END_TEST

/* ------------------------------------------------------------- relay */

/* Through the relay the login arrives intact inside another TLS session:
 * with Extended Protection off it passes (the relay works), with it on
 * (allowed or required) the bindings do not match and it is refused: NTLM
 * as refused credentials (18452, or SPNEGO's reject), Kerberos with the
 * acceptor's KRB-ERROR (MIT: KRB_ERR_GENERIC), the hint naming the proxy
 * either way. */
START_TEST(a_tls_intercepting_relay_passes_only_when_protection_is_off) {
  static const char *const modes[] = {"off", "allowed", "required"};
  for (size_t m = 0; m < 3; m++) {
    world(modes[m], NULL, NULL);
    relay_start();
    for (size_t i = 0; i < sizeof logins / sizeof logins[0]; i++) {
      tdsc_conn *c;
      tdsc_errc rc = connect_to(relay_port, logins[i], &c);
      if (m == 0) {
        expect_ok(c, rc);
        th_expect_login_as(c, "TDSC\\alice");
        tdsc_conn_free(c);
        continue;
      }
      const tdsc_error *e =
          expect(c, rc, i < 2 ? TDSC_E_NTLM_LOGON_DENIED : TDSC_E_KRB_FAILED);
      ck_assert_str_eq(tdsc_attempt_channel_binding(tdsc_error_trail_at(e, 0)),
                       "tls-unique");
      ck_assert_msg(strstr(tdsc_error_hint(e), "TLS-intercepting proxy"), "%s",
                    tdsc_error_hint(e));
      tdsc_conn_free(c);
    }
    ck_assert_int_eq(log_count("state 46 (error 17806)"), m == 0 ? 0 : 4);
    ck_assert_int_eq(log_count(": they do not match"), m == 0 ? 0 : 4);
    teardown();
  }
}
END_TEST

static Suite *epa_suite(void) {
  Suite *s = suite_create("extended protection");
  TCase *t = tcase_create("bindings");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, every_integrated_login_is_bound_and_passes_required);
  tcase_add_test(t, login_only_encryption_is_bound_too);
  tcase_add_test(t, a_sql_login_carries_no_binding_and_says_nothing_of_it);
  tcase_add_test(t, tls13_sends_no_binding_and_required_refuses_it);
  tcase_add_test(t, allowed_lets_an_unbound_tls13_login_in);
  tcase_add_test(t,
                 a_tls_intercepting_relay_passes_only_when_protection_is_off);
  suite_add_tcase(s, t);
  return s;
}

int main(void) {
  th_require_realm();
  return th_run_suite(epa_suite());
}
