/* Connecting, for real, to the test server (tests/server): every TLS mode,
 * SQL login, and each failure the foundation promises a code for, provoked
 * by a real broken world (bad certificates, hostile servers, closed ports). */
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static th_server srv;

static void start(const char *a1, const char *a2, const char *a3,
                  const char *a4) {
  ck_assert_msg(th_server_start(&srv, a1, a2, a3, a4, (const char *)NULL),
                "the test server did not start");
}

static void stop(void) { th_server_stop(&srv); }

/* Connects with the default connection string plus extra; returns the
 * code, leaving the connection in *out (caller frees). */
static tdsc_errc connect_with(const char *extra, tdsc_conn **out) {
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_ptr_nonnull(c);
  tdsc_errc rc = tdsc_conn_connect(c, th_connstr(&srv, extra));
  *out = c;
  return rc;
}

static const tdsc_error *expect_failure(tdsc_conn *c, tdsc_errc rc,
                                        tdsc_errc want) {
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_ptr_nonnull(e);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), tdsc_error_report(e));
  ck_assert_int_eq(tdsc_error_code(e), want);
  ck_assert_str_ne(tdsc_error_hint(e), "");
  ck_assert(!tdsc_conn_is_connected(c));
  return e;
}

static void expect_query_works(tdsc_conn *c) {
  tdsc_result *r;
  int64_t v = 0;
  ck_assert_int_eq(tdsc_conn_execute(c, "SELECT 41 + 1 AS answer", &r),
                   TDSC_OK);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_int_eq(tdsc_result_get_int64(r, 0, &v), TDSC_OK);
  ck_assert_int_eq(v, 42);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
}

/* ---------------------------------------------------------------- TLS modes */

START_TEST(mandatory_encrypts_everything_and_verifies_the_certificate) {
  tdsc_conn *c;
  start("--encryption", "on", NULL, NULL);
  ck_assert_int_eq(connect_with("Encrypt=mandatory", &c), TDSC_OK);
  ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
  ck_assert(strncmp(tdsc_conn_tls_version(c), "TLSv1.", 6) == 0);
  ck_assert_str_eq(tdsc_conn_database(c), "tdsc_test");
  ck_assert_uint_eq(tdsc_conn_tds_version(c), 0x74000004);
  ck_assert_str_eq(tdsc_conn_server_version(c), "16.0.1000");
  ck_assert_uint_eq(tdsc_conn_packet_size(c), 4096);
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(mandatory_is_the_default) {
  tdsc_conn *c;
  start("--encryption", "req", NULL, NULL);
  ck_assert_int_eq(connect_with("", &c), TDSC_OK);
  ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(optional_encrypts_only_the_login_when_the_server_says_off) {
  tdsc_conn *c;
  start("--encryption", "off", NULL, NULL);
  ck_assert_int_eq(connect_with("Encrypt=optional", &c), TDSC_OK);
  ck_assert_str_eq(tdsc_conn_encryption(c), "login-only");
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(encrypt_off_logs_in_without_tls_only_when_asked) {
  tdsc_conn *c;
  start("--encryption", "not_sup", NULL, NULL);
  ck_assert_int_eq(connect_with("Encrypt=off", &c), TDSC_OK);
  ck_assert_str_eq(tdsc_conn_encryption(c), "off");
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(optional_never_sends_a_password_in_clear) {
  tdsc_conn *c;
  start("--encryption", "not_sup", NULL, NULL);
  tdsc_errc rc = connect_with("Encrypt=optional", &c);
  const tdsc_error *e =
      expect_failure(c, rc, TDSC_E_TLS_ENCRYPTION_UNAVAILABLE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "ENCRYPT_NOT_SUP"));
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_TLS);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(mandatory_fails_against_a_server_without_encryption) {
  tdsc_conn *c;
  start("--encryption", "not_sup", NULL, NULL);
  tdsc_errc rc = connect_with("Encrypt=yes", &c);
  expect_failure(c, rc, TDSC_E_TLS_ENCRYPTION_UNAVAILABLE);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(strict_runs_tls_first) {
  tdsc_conn *c;
  start("--strict", NULL, NULL, NULL);
  ck_assert_int_eq(connect_with("Encrypt=strict", &c), TDSC_OK);
  ck_assert_str_eq(tdsc_conn_encryption(c), "strict");
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(strict_works_with_a_server_that_accepts_both) {
  tdsc_conn *c;
  start(NULL, NULL, NULL, NULL);
  ck_assert_int_eq(connect_with("Encrypt=strict", &c), TDSC_OK);
  ck_assert_str_eq(tdsc_conn_encryption(c), "strict");
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(strict_against_a_tds7_server_is_named) {
  tdsc_conn *c;
  start("--tds7-only", NULL, NULL, NULL);
  tdsc_errc rc = connect_with("Encrypt=strict", &c);
  expect_failure(c, rc, TDSC_E_TLS_STRICT_UNSUPPORTED);
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* ---------------------------------------------------------------- certificates */

START_TEST(self_signed_certificate_is_untrusted) {
  tdsc_conn *c;
  char cert[1024], key[1024];
  snprintf(cert, sizeof cert, "%s", th_cert("selfsigned.pem"));
  snprintf(key, sizeof key, "%s", th_cert("selfsigned.key"));
  start("--cert", cert, "--key", key);
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_TLS_CERT_UNTRUSTED);
  ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_OPENSSL);
  ck_assert_int_ne(tdsc_error_provider_status(e, 1), 0); /* verify result */
  tdsc_conn_free(c);
  /* TrustServerCertificate=yes is the (testing-only) way past it. */
  ck_assert_int_eq(connect_with("TrustServerCertificate=yes", &c), TDSC_OK);
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(a_certificate_from_another_ca_is_untrusted) {
  tdsc_conn *c;
  start(NULL, NULL, NULL, NULL);
  char extra[1100];
  /* th_connstr names ca.pem; a later CAFile would be a duplicate keyword, so
   * build this one by hand. */
  tdsc_conn *d = tdsc_conn_new();
  snprintf(extra, sizeof extra,
           "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;CAFile=%s",
           srv.port, th_cert("otherca.pem"));
  tdsc_errc rc = tdsc_conn_connect(d, extra);
  expect_failure(d, rc, TDSC_E_TLS_CERT_UNTRUSTED);
  tdsc_conn_free(d);
  (void)c;
  stop();
}
END_TEST

START_TEST(expired_certificate_is_named) {
  tdsc_conn *c;
  char cert[1024], key[1024];
  snprintf(cert, sizeof cert, "%s", th_cert("expired.pem"));
  snprintf(key, sizeof key, "%s", th_cert("expired.key"));
  start("--cert", cert, "--key", key);
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_TLS_CERT_EXPIRED);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "localhost"));
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(certificate_for_another_name_is_a_mismatch) {
  tdsc_conn *c;
  char cert[1024], key[1024];
  snprintf(cert, sizeof cert, "%s", th_cert("wrongname.pem"));
  snprintf(key, sizeof key, "%s", th_cert("wrongname.key"));
  start("--cert", cert, "--key", key);
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_TLS_CERT_NAME_MISMATCH);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "localhost"));
  tdsc_conn_free(c);
  ck_assert_int_eq(connect_with("HostNameInCertificate=wrong.example", &c),
                   TDSC_OK);
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* ---------------------------------------------------------------- login */

START_TEST(wrong_password_is_login_failed_with_the_servers_words) {
  tdsc_conn *c = tdsc_conn_new();
  char cs[1200];
  start(NULL, NULL, NULL, NULL);
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;UID=sa;PWD=not-the-password;CAFile=%s",
           srv.port, th_cert("ca.pem"));
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_LOGIN_FAILED);
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_SQL_LOGIN);
  const tdsc_message *m = tdsc_error_server_message(e);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(tdsc_message_number(m), 18456);
  ck_assert_int_eq(tdsc_message_state(m), 1);
  ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_SERVER);
  ck_assert_int_eq(tdsc_error_provider_status(e, 0), 18456);
  /* the trail names the attempt; nothing anywhere names the password */
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  const tdsc_attempt *a = tdsc_error_trail_at(e, 0);
  ck_assert_str_eq(tdsc_attempt_transport(a), "tcp");
  ck_assert_str_eq(tdsc_attempt_mechanism(a), "sql");
  ck_assert_str_eq(tdsc_attempt_target(a), "sa");
  ck_assert_str_eq(tdsc_attempt_tls(a), "tds7");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a)),
                   TDSC_E_LOGIN_FAILED);
  ck_assert_ptr_null(strstr(tdsc_error_report(e), "not-the-password"));
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(unknown_database_is_named) {
  tdsc_conn *c;
  start(NULL, NULL, NULL, NULL);
  tdsc_errc rc = connect_with("Database=nosuchdb", &c);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_LOGIN_NO_DATABASE);
  ck_assert_int_eq(tdsc_message_number(tdsc_error_server_message(e)), 4060);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "nosuchdb"));
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(database_and_packet_size_are_negotiated) {
  tdsc_conn *c;
  start(NULL, NULL, NULL, NULL);
  ck_assert_int_eq(connect_with("Database=master;PacketSize=512", &c),
                   TDSC_OK);
  ck_assert_str_eq(tdsc_conn_database(c), "master");
  ck_assert_uint_eq(tdsc_conn_packet_size(c), 512);
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(ipv6_loopback_works) {
  tdsc_conn *c = tdsc_conn_new();
  char cs[1200];
  ck_assert(th_server_start(&srv, "--host", "::1", (const char *)NULL));
  snprintf(cs, sizeof cs,
           "Server=tcp:[::1],%d;UID=sa;PWD=Secret-123;CAFile=%s", srv.port,
           th_cert("ca.pem"));
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  ck_assert_msg(rc == TDSC_OK, "%s",
                rc ? tdsc_error_report(tdsc_conn_error(c)) : "");
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* ---------------------------------------------------------------- transport */

static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd); /* bound, never listened: the port is closed */
  return ntohs(a.sin_port);
}

START_TEST(closed_port_is_refused) {
  tdsc_conn *c = tdsc_conn_new();
  char cs[256];
  int port = closed_port();
  snprintf(cs, sizeof cs, "Server=tcp:127.0.0.1,%d;UID=sa;PWD=x", port);
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_CONN_REFUSED);
  char want[32];
  snprintf(want, sizeof want, "%d", port);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), want));
  ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_ERRNO);
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  tdsc_conn_free(c);
}
END_TEST

START_TEST(unknown_host_is_not_found) {
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(
      c, "Server=tcp:no-such-host.invalid,1433;UID=sa;PWD=x");
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_HOST_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "no-such-host.invalid"));
  ck_assert_int_eq(tdsc_error_provider(e), TDSC_PROVIDER_GETADDRINFO);
  tdsc_conn_free(c);
}
END_TEST

START_TEST(a_full_accept_queue_times_out_within_login_timeout) {
  /* A listener whose accept queue is full drops further SYNs: the connect
   * neither succeeds nor fails, as with a firewall that drops packets. */
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(lfd, 0), 0);
  ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&a, &len), 0);
  int fill[2];
  for (int i = 0; i < 2; i++) {
    fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(fill[i], (struct sockaddr *)&a, sizeof a);
  }
  usleep(100000);
  tdsc_conn *c = tdsc_conn_new();
  char cs[256];
  snprintf(cs, sizeof cs, "Server=tcp:127.0.0.1,%d;UID=sa;PWD=x;LoginTimeout=1",
           ntohs(a.sin_port));
  long long t0 = th_now_ms();
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  long long took = th_now_ms() - t0;
  expect_failure(c, rc, TDSC_E_CONN_TIMEOUT);
  ck_assert_msg(took >= 900 && took < 10000, "took %lld ms", took);
  tdsc_conn_free(c);
  close(fill[0]);
  close(fill[1]);
  close(lfd);
}
END_TEST

START_TEST(a_silent_server_times_out_within_login_timeout) {
  tdsc_conn *c;
  start("--misbehave", "hang-after-prelogin", NULL, NULL);
  long long t0 = th_now_ms();
  tdsc_errc rc = connect_with("LoginTimeout=1", &c);
  long long took = th_now_ms() - t0;
  expect_failure(c, rc, TDSC_E_READ_TIMEOUT);
  ck_assert_msg(took >= 900 && took < 10000, "took %lld ms", took);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(a_reset_is_named) {
  tdsc_conn *c;
  start("--misbehave", "reset-after-prelogin", NULL, NULL);
  tdsc_errc rc = connect_with("", &c);
  expect_failure(c, rc, TDSC_E_CONN_RESET);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(a_close_is_named) {
  tdsc_conn *c;
  start("--misbehave", "close-after-prelogin", NULL, NULL);
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_CONN_CLOSED);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "PRELOGIN"));
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(a_garbage_prelogin_answer_is_a_protocol_error) {
  tdsc_conn *c;
  start("--misbehave", "garbage-prelogin", NULL, NULL);
  tdsc_errc rc = connect_with("", &c);
  expect_failure(c, rc, TDSC_E_PROTOCOL);
  tdsc_conn_free(c);
  stop();
}
END_TEST

START_TEST(a_tds73_server_is_refused) {
  tdsc_conn *c;
  start("--misbehave", "tds73", NULL, NULL);
  tdsc_errc rc = connect_with("", &c);
  expect_failure(c, rc, TDSC_E_PROTOCOL_VERSION);
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* A server that breaks the login protocol: each lie is named. */
static const struct {
  const char *mode;
  tdsc_errc code;
  const char *named;
} lies[] = {
    {"bad-encryption", TDSC_E_PROTOCOL, "0x07"},
    {"wrong-packet-type", TDSC_E_PROTOCOL, "type 0x01"},
    {"no-loginack", TDSC_E_PROTOCOL, "LOGINACK"},
    {"bad-packet-size", TDSC_E_PROTOCOL, "'12'"},
};

START_TEST(a_lying_server_is_named) {
  tdsc_conn *c;
  start("--misbehave", lies[_i].mode, NULL, NULL);
  tdsc_errc rc = connect_with("", &c);
  const tdsc_error *e = expect_failure(c, rc, lies[_i].code);
  ck_assert_msg(strstr(tdsc_error_message(e), lies[_i].named),
                "%s: '%s' lacks '%s'", lies[_i].mode, tdsc_error_message(e),
                lies[_i].named);
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* ---------------------------------------------------------------- usage */

START_TEST(bad_connection_strings_fail_before_any_traffic) {
  static const struct {
    const char *cs;
    tdsc_errc code;
    const char *named;
  } cases[] = {
      {"Server=tcp:x,1;Sever=y", TDSC_E_UNKNOWN_KEYWORD, "Sever"},
      {"Server=tcp:x,1;LoginTimeout=soon", TDSC_E_BAD_OPTION_VALUE,
       "LoginTimeout"},
      {"Server=tcp:x,1;Encrypt=maybe", TDSC_E_BAD_OPTION_VALUE, "Encrypt"},
      {"Server=tcp:x,99999;UID=a", TDSC_E_BAD_OPTION_VALUE, "99999"},
      {"Server=tcp:x,1;PWD={abc", TDSC_E_BAD_CONNSTR, "PWD"},
      {"Server=a;Data Source=b", TDSC_E_BAD_CONNSTR, "Server"},
      {"UID=sa", TDSC_E_BAD_OPTION_VALUE, "Server"},
      {"Server=tcp:x,1;UID=a;Authentication=carrier-pigeon",
       TDSC_E_BAD_OPTION_VALUE, "carrier-pigeon"},
      {"Server=tcp:x,1;UID=a;PWD=s3cret;PacketSize=5", TDSC_E_BAD_OPTION_VALUE,
       "PacketSize"},
      {"Server=tcp:x;Transport=carrier-pigeon;UID=a", TDSC_E_BAD_OPTION_VALUE,
       "carrier-pigeon"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tdsc_conn *c = tdsc_conn_new();
    tdsc_errc rc = tdsc_conn_connect(c, cases[i].cs);
    const tdsc_error *e = tdsc_conn_error(c);
    ck_assert_msg(rc == cases[i].code, "%s: got %s", cases[i].cs,
                  tdsc_errc_name(rc));
    ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_USAGE);
    ck_assert_msg(strstr(tdsc_error_message(e), cases[i].named), "%s: '%s'",
                  cases[i].cs, tdsc_error_message(e));
    ck_assert_ptr_null(strstr(tdsc_error_report(e), "s3cret"));
    ck_assert_uint_eq(tdsc_error_trail_count(e), 0); /* nothing was tried */
    tdsc_conn_free(c);
  }
}
END_TEST

START_TEST(sql_login_without_uid_fails_before_any_traffic_with_a_trail) {
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, "Server=tcp:x,1;Authentication=sql");
  const tdsc_error *e = expect_failure(c, rc, TDSC_E_LOGIN_NO_CREDENTIALS);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "UID"));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 1);
  const tdsc_attempt *a = tdsc_error_trail_at(e, 0);
  ck_assert_str_eq(tdsc_attempt_mechanism(a), "sql");
  ck_assert_str_eq(tdsc_attempt_tls(a), "-"); /* no connection was made */
  ck_assert_str_eq(tdsc_attempt_address(a), "x,1");
  tdsc_conn_free(c);
}
END_TEST

START_TEST(a_connection_is_reusable_after_a_failed_connect) {
  tdsc_conn *c;
  start(NULL, NULL, NULL, NULL);
  tdsc_errc rc = connect_with("Database=nosuchdb", &c);
  ck_assert_int_eq(rc, TDSC_E_LOGIN_NO_DATABASE);
  ck_assert_int_eq(tdsc_conn_connect(c, th_connstr(&srv, "")), TDSC_OK);
  ck_assert_ptr_null(tdsc_conn_error(c));
  expect_query_works(c);
  tdsc_conn_free(c);
  stop();
}
END_TEST

static Suite *connect_suite(void) {
  Suite *s = suite_create("connect");
  TCase *tls = tcase_create("tls");
  tcase_set_timeout(tls, 60);
  tcase_add_test(tls, mandatory_encrypts_everything_and_verifies_the_certificate);
  tcase_add_test(tls, mandatory_is_the_default);
  tcase_add_test(tls, optional_encrypts_only_the_login_when_the_server_says_off);
  tcase_add_test(tls, encrypt_off_logs_in_without_tls_only_when_asked);
  tcase_add_test(tls, optional_never_sends_a_password_in_clear);
  tcase_add_test(tls, mandatory_fails_against_a_server_without_encryption);
  tcase_add_test(tls, strict_runs_tls_first);
  tcase_add_test(tls, strict_works_with_a_server_that_accepts_both);
  tcase_add_test(tls, strict_against_a_tds7_server_is_named);
  tcase_add_test(tls, self_signed_certificate_is_untrusted);
  tcase_add_test(tls, a_certificate_from_another_ca_is_untrusted);
  tcase_add_test(tls, expired_certificate_is_named);
  tcase_add_test(tls, certificate_for_another_name_is_a_mismatch);
  suite_add_tcase(s, tls);

  TCase *login = tcase_create("login");
  tcase_set_timeout(login, 60);
  tcase_add_test(login, wrong_password_is_login_failed_with_the_servers_words);
  tcase_add_test(login, unknown_database_is_named);
  tcase_add_test(login, database_and_packet_size_are_negotiated);
  tcase_add_test(login, ipv6_loopback_works);
  tcase_add_test(login, a_connection_is_reusable_after_a_failed_connect);
  tcase_add_test(login, bad_connection_strings_fail_before_any_traffic);
  tcase_add_test(login,
                 sql_login_without_uid_fails_before_any_traffic_with_a_trail);
  suite_add_tcase(s, login);

  TCase *net = tcase_create("transport");
  tcase_set_timeout(net, 60);
  tcase_add_test(net, closed_port_is_refused);
  tcase_add_test(net, unknown_host_is_not_found);
  tcase_add_test(net, a_full_accept_queue_times_out_within_login_timeout);
  tcase_add_test(net, a_silent_server_times_out_within_login_timeout);
  tcase_add_test(net, a_reset_is_named);
  tcase_add_test(net, a_close_is_named);
  tcase_add_test(net, a_garbage_prelogin_answer_is_a_protocol_error);
  tcase_add_test(net, a_tds73_server_is_refused);
  tcase_add_loop_test(net, a_lying_server_is_named, 0,
                      (int)(sizeof lies / sizeof lies[0]));
  suite_add_tcase(s, net);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(connect_suite());
}
