/* TLS causes, for real (issue 11): the test server with a broken
 * certificate, or its OpenSSL constrained by a configuration file
 * (OPENSSL_CONF: versions, cipher suites), against the library and, where
 * the client's own OpenSSL configuration is the broken part, against tdsc
 * (OpenSSL reads its configuration once per process).  Each cause is
 * asserted on its code, the facts its message states and its hint. */
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static th_server srv;
static char scratch[300];

/* Writes an OpenSSL configuration whose system_default section holds
 * lines; returns its path (static buffer per slot). */
static const char *openssl_conf(int slot, const char *lines) {
  static char path[2][400];
  snprintf(path[slot], sizeof path[slot], "%s/openssl-%d.cnf", scratch, slot);
  FILE *f = fopen(path[slot], "w");
  ck_assert_ptr_nonnull(f);
  fprintf(f,
          "openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\n"
          "system_default = sys\n[sys]\n%s\n",
          lines);
  fclose(f);
  return path[slot];
}

/* Starts the server with a certificate (its .pem and .key), extra
 * arguments and, when conf is not NULL, that OpenSSL configuration. */
static void serve(const char *cert, const char *conf, const char *a1,
                  const char *a2, const char *a3, const char *a4) {
  char pem[600], key[600];
  snprintf(pem, sizeof pem, "%s", th_cert(cert));
  strcat(pem, ".pem");
  snprintf(key, sizeof key, "%s", th_cert(cert));
  strcat(key, ".key");
  th_server_openssl_conf = conf;
  ck_assert_msg(th_server_start(&srv, "--cert", pem, "--key", key, a1, a2, a3,
                                a4, (const char *)NULL),
                "the test server did not start with %s", cert);
}

/* Connects with the default test connection string and extra; asserts
 * the code, that the message holds each of facts ('|'-separated) and the
 * hint each of hints. */
static void expect_cause(const char *extra, tdsc_errc want, const char *facts,
                         const char *hints) {
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, th_connstr(&srv, extra));
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_msg(rc == want, "got %s, want %s:\n%s", tdsc_errc_name(rc),
                tdsc_errc_name(want), tdsc_error_report(e));
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_TLS);
  const char *lists[2] = {facts, hints};
  const char *texts[2] = {tdsc_error_message(e), tdsc_error_hint(e)};
  for (int k = 0; k < 2; k++) {
    char buf[600];
    snprintf(buf, sizeof buf, "%s", lists[k] ? lists[k] : "");
    for (char *save = NULL, *w = strtok_r(buf, "|", &save); w;
         w = strtok_r(NULL, "|", &save))
      ck_assert_msg(strstr(texts[k], w), "%s lacks '%s':\n%s",
                    k ? "the hint" : "the message", w, tdsc_error_report(e));
  }
  tdsc_conn_free(c);
}

/* Runs tdsc with OPENSSL_CONF=conf against the server; asserts exit 2, the
 * code's name and each '|'-separated fact in its output (message and
 * hint); returns nothing. */
static void expect_tdsc(const char *conf, const char *extra, tdsc_errc want,
                        const char *facts) {
  char cmd[4000], out[8192];
  snprintf(cmd, sizeof cmd,
           "OPENSSL_CONF='%s' TDSC_PASSWORD=Secret-123 '%s/tools/tdsc' -c "
           "'Server=tcp:localhost,%d;UID=sa;CAFile=%s;%s' -Q 'SELECT 1' 2>&1",
           conf, getenv("TDSC_BUILDDIR"), srv.port, th_cert("ca.pem"),
           extra ? extra : "");
  FILE *p = popen(cmd, "r");
  ck_assert_ptr_nonnull(p);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = '\0';
  int st = pclose(p);
  ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 2, "tdsc: %d\n%s", st,
                out);
  char name[80];
  snprintf(name, sizeof name, "TDSC_E_%s", tdsc_errc_name(want));
  ck_assert_msg(strstr(out, name), "want %s:\n%s", name, out);
  char buf[600];
  snprintf(buf, sizeof buf, "%s", facts);
  for (char *save = NULL, *w = strtok_r(buf, "|", &save); w;
       w = strtok_r(NULL, "|", &save))
    ck_assert_msg(strstr(out, w), "tdsc's output lacks '%s':\n%s", w, out);
}

/* ------------------------------------------------------------ certificate */

START_TEST(an_expired_certificate_names_its_end) {
  serve("expired", NULL, NULL, NULL, NULL, NULL);
  expect_cause(NULL, TDSC_E_TLS_CERT_EXPIRED,
               "expired on 2021-01-01|CN=localhost", "renew");
  /* the control: not verifying, the same server takes the login */
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_int_eq(tdsc_conn_connect(
                       c, th_connstr(&srv, "TrustServerCertificate=yes")),
                   TDSC_OK);
  tdsc_conn_free(c);
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_certificate_not_yet_valid_names_its_start) {
  serve("notyet", NULL, NULL, NULL, NULL, NULL);
  expect_cause(NULL, TDSC_E_TLS_CERT_EXPIRED, "is not valid before 20",
               "clock");
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_certificate_for_another_name_names_both) {
  serve("wrongname", NULL, NULL, NULL, NULL, NULL);
  expect_cause(NULL, TDSC_E_TLS_CERT_NAME_MISMATCH,
               "wrong.example|name checked, localhost",
               "HostNameInCertificate");
  th_server_stop(&srv);
  /* the name asked for with HostNameInCertificate=, not the host's */
  serve("server", NULL, NULL, NULL, NULL, NULL);
  expect_cause("HostNameInCertificate=db.example", TDSC_E_TLS_CERT_NAME_MISMATCH,
               "db.example (HostNameInCertificate)|DNS:localhost", NULL);
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_self_signed_certificate_is_untrusted) {
  serve("selfsigned", NULL, NULL, NULL, NULL, NULL);
  expect_cause(NULL, TDSC_E_TLS_CERT_UNTRUSTED,
               "self-signed|trust store: CAFile=", "CAFile=");
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_certificate_of_an_unknown_ca_is_untrusted) {
  serve("otherleaf", NULL, NULL, NULL, NULL, NULL);
  expect_cause(NULL, TDSC_E_TLS_CERT_UNTRUSTED,
               "issuer CN=some other CA|not in the trust store",
               "CAFile=");
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_client_certificate_on_the_server_is_the_wrong_purpose) {
  serve("clientonly", NULL, NULL, NULL, NULL, NULL);
  expect_cause(NULL, TDSC_E_TLS_CERT_WRONG_PURPOSE,
               "not for TLS server authentication", "serverAuth");
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_revoked_certificate_is_named_by_the_crl_in_cafile) {
  char extra[700];
  snprintf(extra, sizeof extra, "CAFile=%s", th_cert("ca-crl.pem"));
  serve("revoked", NULL, NULL, NULL, NULL, NULL);
  /* th_connstr's CAFile comes first: a second one is an error, so the
   * string is built here */
  tdsc_conn *c = tdsc_conn_new();
  char cs[2000];
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;%s",
           srv.port, extra);
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  const tdsc_error *e = tdsc_conn_error(c);
  ck_assert_msg(rc == TDSC_E_TLS_CERT_REVOKED, "%s", tdsc_error_report(e));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "revoked by its CA"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "ca-crl.pem"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "new certificate"));
  tdsc_conn_free(c);
  th_server_stop(&srv);
  /* the control: the same CRLs pass a certificate they do not list */
  serve("server", NULL, NULL, NULL, NULL, NULL);
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;%s",
           srv.port, extra);
  c = tdsc_conn_new();
  rc = tdsc_conn_connect(c, cs);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
  tdsc_conn_free(c);
  th_server_stop(&srv);
  /* CRLs in CAFile, but none of the issuer of this chain */
  char both[700];
  snprintf(both, sizeof both, "%s/ca-crl-other.pem", scratch);
  char cmd[2000], crls[700];
  snprintf(crls, sizeof crls, "%s", th_cert("ca-crl.pem")); /* static */
  snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", crls,
           th_cert("otherca.pem"), both);
  ck_assert_int_eq(system(cmd), 0);
  serve("otherleaf", NULL, NULL, NULL, NULL, NULL);
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;CAFile=%s", srv.port,
           both);
  c = tdsc_conn_new();
  rc = tdsc_conn_connect(c, cs);
  e = tdsc_conn_error(c);
  ck_assert_msg(rc == TDSC_E_TLS_REVOCATION_UNKNOWN, "%s",
                tdsc_error_report(e));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "no CRL of its issuer"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_hint(e), "CRL"));
  tdsc_conn_free(c);
  th_server_stop(&srv);
}
END_TEST

/* Copies file from to to (through a temporary file and rename when
 * replace, so that to is a new file; in place otherwise), with pad bytes
 * of newline after it so that sizes differ. */
static void put_file(const char *from, const char *to, bool replace,
                     int pad) {
  char tmp[700], cmd[2000];
  snprintf(tmp, sizeof tmp, "%s.new", to);
  snprintf(cmd, sizeof cmd, "cat '%s' > '%s' && printf '%%*s' %d '' | tr ' ' '\\n' >> '%s'",
           from, replace ? tmp : to, pad, replace ? tmp : to);
  ck_assert_int_eq(system(cmd), 0);
  if (replace)
    ck_assert_int_eq(rename(tmp, to), 0);
}

static tdsc_errc connect_with_ca(const char *cafile) {
  char cs[2000];
  snprintf(cs, sizeof cs, "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;"
           "CAFile=%s", srv.port, cafile);
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  tdsc_conn_free(c);
  return rc;
}

/* The TLS context of a CAFile is kept across connects (tls_openssl.c),
 * but a CAFile changed on disk, in place or replaced by a new file, is
 * read again at the next connect (tdsclient(3), CAFile). */
START_TEST(a_cafile_changed_on_disk_is_read_again) {
  char ca[700];
  snprintf(ca, sizeof ca, "%s/rotating-ca.pem", scratch);
  char good[700], other[700];
  snprintf(good, sizeof good, "%s", th_cert("ca.pem"));
  snprintf(other, sizeof other, "%s", th_cert("otherca.pem"));
  serve("server", NULL, NULL, NULL, NULL, NULL);
  put_file(good, ca, false, 0);
  ck_assert_int_eq(connect_with_ca(ca), TDSC_OK);
  ck_assert_int_eq(connect_with_ca(ca), TDSC_OK);
  /* in place, another CA: no longer trusted */
  put_file(other, ca, false, 1);
  ck_assert_int_eq(connect_with_ca(ca), TDSC_E_TLS_CERT_UNTRUSTED);
  /* replaced by a new file with the right CA: trusted again */
  put_file(good, ca, true, 2);
  ck_assert_int_eq(connect_with_ca(ca), TDSC_OK);
  /* replaced by the other CA */
  put_file(other, ca, true, 3);
  ck_assert_int_eq(connect_with_ca(ca), TDSC_E_TLS_CERT_UNTRUSTED);
  /* gone: the loader's error, not a context kept from before */
  ck_assert_int_eq(unlink(ca), 0);
  ck_assert_int_eq(connect_with_ca(ca), TDSC_E_BAD_OPTION_VALUE);
  th_server_stop(&srv);
}
END_TEST

/* Threads connecting with the same trust settings share one context
 * (tls_openssl.c): each connect still succeeds, and a wrong CA in one
 * thread is still that thread's failure. */
typedef struct ctx_thread {
  const char *cafile;
  tdsc_errc want;
  int ok;
} ctx_thread;

static void *connect_thread(void *arg) {
  ctx_thread *t = arg;
  for (int i = 0; i < 4; i++)
    t->ok += connect_with_ca(t->cafile) == t->want;
  return NULL;
}

START_TEST(threads_connect_with_shared_contexts) {
  char good[700], other[700];
  snprintf(good, sizeof good, "%s", th_cert("ca.pem"));
  snprintf(other, sizeof other, "%s", th_cert("otherca.pem"));
  serve("server", NULL, NULL, NULL, NULL, NULL);
  ctx_thread t[3] = {{good, TDSC_OK, 0},
                     {good, TDSC_OK, 0},
                     {other, TDSC_E_TLS_CERT_UNTRUSTED, 0}};
  pthread_t th[3];
  for (int i = 0; i < 3; i++)
    ck_assert_int_eq(pthread_create(&th[i], NULL, connect_thread, &t[i]), 0);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq(pthread_join(th[i], NULL), 0);
    ck_assert_int_eq(t[i].ok, 4);
  }
  th_server_stop(&srv);
}
END_TEST

/* ------------------------------------------------------- versions, ciphers */

START_TEST(a_server_below_tls_1_2_is_told_to_enable_it) {
  serve("server", NULL, "--tls-min", "1.0", "--tls-max", "1.1");
  expect_cause(NULL, TDSC_E_TLS_PROTOCOL_MISMATCH,
               "TLS 1.2 to TLS 1.3", "Enable TLS 1.2 or later on the server");
  th_server_stop(&srv);
}
END_TEST

/* The case of issue 11: a server limited to TLS 1.3 and a client limited
 * to TLS 1.2 were told "enable TLS 1.2 on the server". */
START_TEST(a_client_capped_below_the_servers_version_is_told_to_raise_it) {
  const char *cli = openssl_conf(0, "MaxProtocol = TLSv1.2");
  serve("server", NULL, "--tls-min", "1.3", NULL, NULL);
  expect_tdsc(cli, NULL, TDSC_E_TLS_CLIENT_VERSION_TOO_LOW,
              "TLS 1.2 only|protocol_version|OPENSSL_CONF=|Allow TLS 1.3 on "
              "this client|MaxProtocol");
  th_server_stop(&srv);
}
END_TEST

START_TEST(no_common_tls_1_3_cipher_suite_lists_the_clients) {
  const char *srvconf =
      openssl_conf(0, "Ciphersuites = TLS_CHACHA20_POLY1305_SHA256");
  const char *cli = openssl_conf(1, "Ciphersuites = TLS_AES_128_GCM_SHA256\n"
                                    "MinProtocol = TLSv1.3");
  serve("server", srvconf, "--tls-min", "1.3", NULL, NULL);
  expect_tdsc(cli, NULL, TDSC_E_TLS_CIPHER_MISMATCH,
              "TLS_AES_128_GCM_SHA256|TLS 1.3 only|handshake_failure|"
              "Enable on the server a cipher suite");
  th_server_stop(&srv);
}
END_TEST

START_TEST(no_common_tls_1_2_cipher_suite_lists_the_clients) {
  const char *cli = openssl_conf(0, "MaxProtocol = TLSv1.2\n"
                                    "CipherString = AES128-SHA256");
  serve("server", NULL, NULL, NULL, NULL, NULL);
  expect_tdsc(cli, NULL, TDSC_E_TLS_CIPHER_MISMATCH,
              "AES128-SHA256|TLS 1.2 only|CipherString");
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_client_configured_out_of_every_version_blames_its_config) {
  const char *cli = openssl_conf(0, "MaxProtocol = TLSv1.1");
  serve("server", NULL, NULL, NULL, NULL, NULL);
  expect_tdsc(cli, NULL, TDSC_E_TLS_CLIENT_CONFIG,
              "no TLS version|OPENSSL_CONF=|raise MaxProtocol");
  th_server_stop(&srv);
}
END_TEST

START_TEST(a_client_config_above_the_library_floor_is_kept) {
  /* MinProtocol=TLSv1.3 in the client's configuration must not be
   * lowered to the library's TLS 1.2 floor: against a TLS 1.2 server
   * (TDS 7.x defaults to it) the handshake fails, naming TLS 1.3 only. */
  const char *cli = openssl_conf(0, "MinProtocol = TLSv1.3");
  serve("server", NULL, NULL, NULL, NULL, NULL);
  expect_tdsc(cli, NULL, TDSC_E_TLS_PROTOCOL_MISMATCH, "TLS 1.3 only");
  th_server_stop(&srv);
}
END_TEST

static Suite *tls_suite(void) {
  Suite *s = suite_create("tls");
  TCase *tc = tcase_create("causes");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, an_expired_certificate_names_its_end);
  tcase_add_test(tc, a_certificate_not_yet_valid_names_its_start);
  tcase_add_test(tc, a_certificate_for_another_name_names_both);
  tcase_add_test(tc, a_self_signed_certificate_is_untrusted);
  tcase_add_test(tc, a_certificate_of_an_unknown_ca_is_untrusted);
  tcase_add_test(tc, a_client_certificate_on_the_server_is_the_wrong_purpose);
  tcase_add_test(tc, a_revoked_certificate_is_named_by_the_crl_in_cafile);
  tcase_add_test(tc, a_cafile_changed_on_disk_is_read_again);
  tcase_add_test(tc, threads_connect_with_shared_contexts);
  tcase_add_test(tc, a_server_below_tls_1_2_is_told_to_enable_it);
  tcase_add_test(tc,
                 a_client_capped_below_the_servers_version_is_told_to_raise_it);
  tcase_add_test(tc, no_common_tls_1_3_cipher_suite_lists_the_clients);
  tcase_add_test(tc, no_common_tls_1_2_cipher_suite_lists_the_clients);
  tcase_add_test(tc, a_client_configured_out_of_every_version_blames_its_config);
  tcase_add_test(tc, a_client_config_above_the_library_floor_is_kept);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_server();
  snprintf(scratch, sizeof scratch, "%s/tdsc-tls.XXXXXX",
           getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (!mkdtemp(scratch))
    return 99;
  int rc = th_run_suite(tls_suite());
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", scratch);
  return rc;
}
