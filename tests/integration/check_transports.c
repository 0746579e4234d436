/* Transports, for real: the test server listens on TCP, a named pipe (an
 * AF_UNIX socket on POSIX), shared memory, and answers SQL Browser on a UDP
 * port of the test's choosing.  Each transport carries the connect-query
 * path with TLS and every mechanism; a local target tries shared memory,
 * then the pipe, then TCP, and the trail says so; each resolution and
 * connection failure has its code. */
#include "expect.h"
#include "harness.h"
#include "login_as.h"

#include <tdsclient.h>

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static th_realm realm;
static th_server srv;
static int port, browser;
static char dir[600], shm[700], pipepath[700], keytab[700];

/* The server's local endpoints live in dir as the library expects them
 * (LocalDir=dir): dir/MSSQLSERVER.shm and dir/pipe/sql/query. */
static void serve(bool with_shm, bool with_pipe, const char *extra1,
                  const char *extra2) {
  char portstr[16], bport[16], users[700], map1[128];
  ck_assert(th_realm_create(&realm));
  port = th_free_port();
  browser = th_free_port(); /* a UDP port free as a TCP one: good enough */
  snprintf(portstr, sizeof portstr, "%d", port);
  snprintf(bport, sizeof bport, "%d", browser);
  snprintf(dir, sizeof dir, "%s/local", realm.dir);
  snprintf(shm, sizeof shm, "%s/MSSQLSERVER.shm", dir);
  snprintf(pipepath, sizeof pipepath, "%s/pipe/sql/query", dir);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(users, sizeof users, "%s/ntlm.users", realm.dir);
  snprintf(map1, sizeof map1, "alice@%s=TDSC\\alice", realm.realm);
  mkdir(dir, 0700);
  char pdir[700];
  snprintf(pdir, sizeof pdir, "%s/pipe", dir);
  mkdir(pdir, 0700);
  snprintf(pdir, sizeof pdir, "%s/pipe/sql", dir);
  mkdir(pdir, 0700);
  FILE *f = fopen(users, "w");
  fputs("TDSC:alice:alice-nt-pw\n", f);
  fclose(f);
  /* the SPNs SQL Server registers: by port for TCP, by host for the local
   * transports of the default instance */
  char spn_tcp[128], spn_local[128];
  snprintf(spn_tcp, sizeof spn_tcp, "MSSQLSvc/localhost:%d", port);
  snprintf(spn_local, sizeof spn_local, "MSSQLSvc/localhost");
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password",
                         "alice-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn_tcp, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn_local, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn_tcp, spn_local,
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--ssrp-port", bport,
                                "--keytab", keytab, "--ntlm-users", users,
                                "--map", map1, "--map",
                                "TDSC\\alice=TDSC\\alice",
                                with_shm ? "--shm" : "--server-name",
                                with_shm ? shm : "TDSCTEST",
                                with_pipe ? "--pipe" : "--server-name",
                                with_pipe ? pipepath : "TDSCTEST", extra1,
                                extra2, (const char *)NULL),
                "the test server did not start");
}

static void teardown(void) {
  th_server_stop(&srv);
  th_realm_destroy(&realm);
}

static tdsc_errc connect_to(const char *server, const char *extra,
                            tdsc_conn **out) {
  char cs[3000];
  snprintf(cs, sizeof cs,
           "Server=%s;LocalDir=%s;BrowserPort=%d;CAFile=%s;"
           "HostNameInCertificate=localhost;LoginTimeout=10;%s",
           server, dir, browser, th_cert("ca.pem"), extra);
  *out = tdsc_conn_new();
  return tdsc_conn_connect(*out, cs);
}

static void expect_ok(tdsc_conn *c, tdsc_errc rc) {
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_report(tdsc_conn_error(c)));
}

static const char *via(const tdsc_conn *c) {
  size_t n = tdsc_conn_attempt_count(c);
  return tdsc_attempt_transport(tdsc_conn_attempt_at(c, n - 1));
}

/* ---------------------------------------------------------------- carry */

/* Every transport carries SQL login, Kerberos and NTLM, under TLS. */
START_TEST(each_transport_carries_every_mechanism_under_tls) {
  static const char *const names[] = {"shm", "np", "tcp"};
  static const struct {
    const char *extra, *login;
  } mechs[] = {
      {"Authentication=sql;UID=sa;PWD=Secret-123", "sa"},
      {"Authentication=kerberos", "TDSC\\alice"},
      {"Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw",
       "TDSC\\alice"},
  };
  serve(true, true, NULL, NULL);
  char np[800], tcp[64];
  snprintf(np, sizeof np, "np:%s", pipepath);
  snprintf(tcp, sizeof tcp, "tcp:localhost,%d", port);
  for (size_t i = 0; i < 3; i++) {
    const char *server = i == 0 ? "shm:" : i == 1 ? np : tcp;
    for (size_t m = 0; m < 3; m++) {
      tdsc_conn *c;
      tdsc_errc rc = connect_to(server, mechs[m].extra, &c);
      ck_assert_msg(rc == TDSC_OK, "%s with %s: %s", names[i],
                    mechs[m].extra, tdsc_error_report(tdsc_conn_error(c)));
      ck_assert_str_eq(via(c), names[i]);
      ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
      th_expect_login_as(c, mechs[m].login);
      tdsc_conn_free(c);
    }
  }
  teardown();
}
END_TEST

START_TEST(a_local_server_is_reached_by_shared_memory_first) {
  tdsc_conn *c;
  serve(true, true, NULL, NULL);
  /* no port given: the plan is shm, np, tcp:1433; shm answers */
  expect_ok(c, connect_to("(local)", "UID=sa;PWD=Secret-123", &c));
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
  ck_assert_str_eq(via(c), "shm");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(without_shared_memory_the_pipe_is_next_and_the_trail_says_so) {
  tdsc_conn *c;
  serve(false, true, NULL, NULL);
  expect_ok(c, connect_to("(local)", "UID=sa;PWD=Secret-123", &c));
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  const tdsc_attempt *a0 = tdsc_conn_attempt_at(c, 0);
  ck_assert_str_eq(tdsc_attempt_transport(a0), "shm");
  ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a0)),
                   TDSC_E_SHM_NOT_FOUND);
  ck_assert_str_eq(via(c), "np");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(transport_pins_the_order) {
  tdsc_conn *c;
  char extra[200];
  serve(true, true, NULL, NULL);
  /* the pipe before shared memory, and no TCP at all */
  snprintf(extra, sizeof extra, "Transport=np,shm;UID=sa;PWD=Secret-123");
  expect_ok(c, connect_to("(local)", extra, &c));
  ck_assert_str_eq(via(c), "np");
  tdsc_conn_free(c);
  teardown();
}
END_TEST

START_TEST(a_named_instance_is_found_through_sql_browser) {
  tdsc_conn *c;
  serve(false, false, "--instance", "TDSCINST");
  expect_ok(c, connect_to("tcp:localhost\\TDSCINST", "UID=sa;PWD=Secret-123",
                          &c));
  char want[32];
  snprintf(want, sizeof want, ":%d", port);
  ck_assert_ptr_nonnull(
      strstr(tdsc_attempt_address(tdsc_conn_attempt_at(c, 0)), want));
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* Runs the connect without waiting (tdsc_conn_connect_start / _poll),
 * waiting with poll(2); *first gets what the start returned. */
static tdsc_errc connect_nb(tdsc_conn *c, const char *cs, tdsc_errc *first) {
  *first = tdsc_conn_connect_start(c, cs);
  return th_connect_wait(c, *first, NULL);
}

/* Issue 16: SQL Browser is asked without blocking the caller: the start
 * returns while the question is out, waiting on its UDP socket, and the
 * answer (or the silence, at LoginTimeout) ends the connect as the
 * blocking one does. */
START_TEST(sql_browser_is_asked_without_blocking) {
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc first;
  char cs[3000];
  serve(false, false, "--instance", "TDSCINST");
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost\\TDSCINST;BrowserPort=%d;CAFile=%s;"
           "HostNameInCertificate=localhost;LoginTimeout=10;UID=sa;"
           "PWD=Secret-123",
           browser, th_cert("ca.pem"));
  expect_ok(c, connect_nb(c, cs, &first));
  ck_assert_int_eq(first, TDSC_E_WOULD_BLOCK);
  char want[32];
  snprintf(want, sizeof want, ":%d", port);
  ck_assert_ptr_nonnull(
      strstr(tdsc_attempt_address(tdsc_conn_attempt_at(c, 0)), want));
  tdsc_conn_free(c);
  /* a browser that never answers: a UDP socket nobody reads */
  int silent = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t salen = sizeof sa;
  ck_assert_int_eq(bind(silent, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(getsockname(silent, (struct sockaddr *)&sa, &salen), 0);
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1\\TDSCINST;BrowserPort=%d;CAFile=%s;"
           "LoginTimeout=1;UID=sa;PWD=x",
           ntohs(sa.sin_port), th_cert("ca.pem"));
  c = tdsc_conn_new();
  ck_assert_int_eq(tdsc_conn_connect_start(c, cs), TDSC_E_WOULD_BLOCK);
  /* the descriptor to wait on is the question's UDP socket */
  int type = 0;
  socklen_t tlen = sizeof type;
  ck_assert_int_eq(getsockopt(tdsc_conn_socket(c), SOL_SOCKET, SO_TYPE, &type,
                              &tlen),
                   0);
  ck_assert_int_eq(type, SOCK_DGRAM);
  ck_assert_int_eq(tdsc_conn_wants(c), TDSC_WANT_READ);
  ck_assert_int_gt(tdsc_conn_timeout_ms(c), 0);
  tdsc_conn_free(c);
  c = tdsc_conn_new();
  tdsc_errc rc = connect_nb(c, cs, &first);
  ck_assert_msg(rc == TDSC_E_BROWSER_UNREACHABLE, "%s",
                tdsc_error_report(tdsc_conn_error(c)));
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(tdsc_conn_error(c)), "no answer"));
  tdsc_conn_free(c);
  close(silent);
  teardown();
}
END_TEST

/* Issue 16: shared memory's rendezvous does not block the caller either:
 * a server that takes the connection but never answers the hello leaves
 * the start waiting on the rendezvous socket (readable), and LoginTimeout
 * ends the connect as the blocking one does.  (The start used to wait for
 * the answer inside, for the whole LoginTimeout.) */
START_TEST(shared_memory_is_opened_without_blocking) {
  char d[32], path[64];
  snprintf(d, sizeof d, "/tmp/tdsc-silent.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(d));
  snprintf(path, sizeof path, "%s/MSSQLSERVER.shm", d);
  int ls = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
  ck_assert_int_eq(bind(ls, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(ls, 4), 0); /* never accepted, never answered */
  char cs[3000];
  snprintf(cs, sizeof cs,
           "Server=lpc:.;LocalDir=%s;CAFile=%s;LoginTimeout=2;UID=sa;PWD=x", d,
           th_cert("ca.pem"));
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_int_eq(tdsc_conn_connect_start(c, cs), TDSC_E_WOULD_BLOCK);
  int domain = 0;
  socklen_t dlen = sizeof domain;
  ck_assert_int_eq(
      getsockopt(tdsc_conn_socket(c), SOL_SOCKET, SO_DOMAIN, &domain, &dlen),
      0);
  ck_assert_int_eq(domain, AF_UNIX);
  ck_assert_int_eq(tdsc_conn_wants(c), TDSC_WANT_READ);
  ck_assert_int_gt(tdsc_conn_timeout_ms(c), 0);
  tdsc_conn_free(c);
  c = tdsc_conn_new();
  tdsc_errc first;
  tdsc_errc rc = connect_nb(c, cs, &first);
  ck_assert_int_eq(first, TDSC_E_WOULD_BLOCK);
  ck_assert_msg(rc == TDSC_E_READ_TIMEOUT, "%s",
                tdsc_error_report(tdsc_conn_error(c)));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(c)),
                               "did not answer the shared-memory hello"));
  tdsc_conn_free(c);
  close(ls);
  unlink(path);
  rmdir(d);
}
END_TEST

/* A pipe or shared memory is the local host's: the certificate is checked
 * against that name without HostNameInCertificate= (this failed with
 * "no host name to verify" before). */
START_TEST(local_transports_verify_the_certificate_as_the_local_host) {
  serve(true, true, NULL, NULL);
  static const char *const prefix[] = {"np:", "shm:"};
  for (size_t i = 0; i < 2; i++) {
    char cs[3000];
    snprintf(cs, sizeof cs,
             "Server=%s%s;LocalDir=%s;CAFile=%s;LoginTimeout=10;UID=sa;"
             "PWD=Secret-123",
             prefix[i], i == 0 ? pipepath : "", dir, th_cert("ca.pem"));
    tdsc_conn *c = tdsc_conn_new();
    expect_ok(c, tdsc_conn_connect(c, cs));
    ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
    tdsc_conn_free(c);
  }
  teardown();
}
END_TEST

/* ---------------------------------------------------------------- broken */

START_TEST(each_resolution_failure_has_its_code) {
  tdsc_conn *c;
  serve(false, false, "--instance", "TDSCINST");
  /* the browser knows no such instance */
  tdsc_errc rc = connect_to("tcp:localhost\\NOSUCH", "UID=sa;PWD=x", &c);
  ck_assert_msg(rc == TDSC_E_INSTANCE_NOT_FOUND, "%s",
                tdsc_error_report(tdsc_conn_error(c)));
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(tdsc_conn_error(c)), "NOSUCH"));
  tdsc_conn_free(c);
  /* nobody answers SQL Browser */
  char extra[64];
  snprintf(extra, sizeof extra, "UID=sa;PWD=x;BrowserPort=%d",
           th_free_port());
  char cs[2000];
  c = tdsc_conn_new();
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost\\TDSCINST;CAFile=%s;LoginTimeout=2;%s",
           th_cert("ca.pem"), extra);
  rc = tdsc_conn_connect(c, cs);
  ck_assert_msg(rc == TDSC_E_BROWSER_UNREACHABLE, "%s",
                tdsc_error_report(tdsc_conn_error(c)));
  tdsc_conn_free(c);
  /* no pipe there */
  rc = connect_to("np:/nonexistent/tdsc.sock", "UID=sa;PWD=x", &c);
  ck_assert_int_eq(rc, TDSC_E_PIPE_NOT_FOUND);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(c)),
                               "/nonexistent/tdsc.sock"));
  tdsc_conn_free(c);
  /* no shared memory there */
  rc = connect_to("shm:", "UID=sa;PWD=x", &c);
  ck_assert_int_eq(rc, TDSC_E_SHM_NOT_FOUND);
  tdsc_conn_free(c);
  teardown();
}
END_TEST

/* Issue 11: KRB_KDC_UNREACHABLE's hint offered "connect through a local
 * transport" after an attempt that was already local (and for a remote
 * server, which has none).  TCP to this machine keeps the offer. */
START_TEST(the_kdc_hint_offers_a_local_transport_only_where_one_helps) {
  tdsc_conn *c;
  serve(true, true, NULL, NULL);
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  /* 0.0.0.0 reaches this machine on Linux, yet names no local host: the
   * library sees a remote server */
  static const char *const servers[] = {"shm:", "np:", "tcp:localhost",
                                        "tcp:0.0.0.0"};
  for (size_t i = 0; i < 4; i++) {
    char server[800];
    if (i >= 2)
      snprintf(server, sizeof server, "%s,%d", servers[i], port);
    else
      snprintf(server, sizeof server, "%s%s", servers[i],
               i == 1 ? pipepath : "");
    tdsc_errc rc = connect_to(server, "Authentication=kerberos", &c);
    const tdsc_error *e = tdsc_conn_error(c);
    ck_assert_msg(rc == TDSC_E_KRB_KDC_UNREACHABLE, "%s: %s", server,
                  tdsc_error_report(e));
    const char *hint = tdsc_error_hint(e);
    ck_assert_msg(strstr(hint, "KDC") && strstr(hint, "NTLM"), "%s: %s",
                  server, hint);
    ck_assert_msg(!strstr(hint, "local transport") == (i != 2), "%s: %s",
                  server, hint);
    if (i < 2) /* says why the transport is no remedy */
      ck_assert_msg(strstr(hint, "already local"), "%s: %s", server, hint);
    /* the trail entry's error carries the same hint */
    const tdsc_error *a0 =
        tdsc_attempt_error(tdsc_error_trail_at(e, tdsc_error_trail_count(e) - 1));
    ck_assert_str_eq(tdsc_error_hint(a0), hint);
    tdsc_conn_free(c);
  }
  teardown();
}
END_TEST

static Suite *transports_suite(void) {
  Suite *s = suite_create("transports");
  TCase *tc = tcase_create("transports");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, each_transport_carries_every_mechanism_under_tls);
  tcase_add_test(tc, a_local_server_is_reached_by_shared_memory_first);
  tcase_add_test(tc,
                 without_shared_memory_the_pipe_is_next_and_the_trail_says_so);
  tcase_add_test(tc, transport_pins_the_order);
  tcase_add_test(tc, a_named_instance_is_found_through_sql_browser);
  tcase_add_test(tc, sql_browser_is_asked_without_blocking);
  tcase_add_test(tc, shared_memory_is_opened_without_blocking);
  tcase_add_test(tc, local_transports_verify_the_certificate_as_the_local_host);
  tcase_add_test(tc, each_resolution_failure_has_its_code);
  tcase_add_test(tc, the_kdc_hint_offers_a_local_transport_only_where_one_helps);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_realm();
  return th_run_suite(transports_suite());
}
