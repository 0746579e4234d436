/* Routing after login (MS-TDS 2.2.7.9, ENVCHANGE routing), for real: the
 * test server as a gateway (--route-to) sends the login on to a second
 * instance, which the client logs in to anew (PRELOGIN, TLS verified for
 * the routed host, login) and queries; read-only routing by intent
 * (ApplicationIntent=ReadOnly); a loop, malformed routing data and each
 * value MS-TDS forbids are refused with their codes; the non-blocking
 * connect routes as the blocking one does; every hop is in the trail. */
#define _DEFAULT_SOURCE
#include "expect.h"
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static th_server gw, replica;

/* The replica (@@SERVERNAME REPLICA, with the certificate cert or the
 * localhost one), then a gateway routing to route_host and the replica's
 * port, with the extra arguments a1, a2 (NULL for none). */
static void start(const char *cert, const char *route_host, const char *a1,
                  const char *a2) {
  char key[1024] = "";
  if (cert) {
    snprintf(key, sizeof key, "%s", th_cert(cert));
    memcpy(strstr(key, ".pem"), ".key", 4);
  }
  char certpath[1024];
  snprintf(certpath, sizeof certpath, "%s", cert ? th_cert(cert) : "");
  ck_assert_msg(cert ? th_server_start(&replica, "--server-name", "REPLICA",
                                       "--cert", certpath, "--key", key,
                                       (const char *)NULL)
                     : th_server_start(&replica, "--server-name", "REPLICA",
                                       (const char *)NULL),
                "the replica did not start");
  char to[300];
  snprintf(to, sizeof to, "%s,%d", route_host, replica.port);
  ck_assert_msg(th_server_start(&gw, "--server-name", "GATEWAY", "--route-to",
                                to, a1, a2, (const char *)NULL),
                "the gateway did not start");
}

static void stop(void) {
  th_server_stop(&gw);
  th_server_stop(&replica);
}

/* ------------------------------------------------------------ following */

START_TEST(a_gateway_routes_the_login_to_the_replica) {
  start(NULL, "localhost", NULL, NULL);
  char routed[300];
  snprintf(routed, sizeof routed, "localhost,%d", replica.port);
  tdsc_conn *c = th_connect_ok(th_connstr(&gw, "Encrypt=mandatory"));
  th_expect_server(c, "REPLICA");
  ck_assert_str_eq(tdsc_conn_encryption(c), "tds7");
  /* two hops in the trail: the gateway's login, routed, then the
   * replica's */
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  const tdsc_attempt *a0 = tdsc_conn_attempt_at(c, 0);
  const tdsc_attempt *a1 = tdsc_conn_attempt_at(c, 1);
  ck_assert_ptr_null(tdsc_attempt_error(a0));
  ck_assert_str_eq(tdsc_attempt_routed_to(a0), routed);
  char gwport[16];
  snprintf(gwport, sizeof gwport, ":%d", gw.port);
  ck_assert_msg(strstr(tdsc_attempt_address(a0), gwport), "%s",
                tdsc_attempt_address(a0));
  ck_assert_ptr_null(tdsc_attempt_error(a1));
  ck_assert_str_eq(tdsc_attempt_routed_to(a1), "");
  ck_assert_str_eq(tdsc_attempt_mechanism(a1), "sql");
  ck_assert_str_eq(tdsc_attempt_tls(a1), "tds7");
  char port[16];
  snprintf(port, sizeof port, ":%d", replica.port);
  ck_assert_msg(strstr(tdsc_attempt_address(a1), port), "%s",
                tdsc_attempt_address(a1));
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* The certificate is verified for the routed host, not the one the
 * connection string named: a replica whose certificate names only
 * wrong.example fails with the routed host in the message (the gateway was
 * reached as 127.0.0.1, which its certificate names). */
START_TEST(tls_is_verified_for_the_routed_host) {
  start("wrongname.pem", "localhost", NULL, NULL);
  char cs[2048];
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1,%d;UID=sa;PWD=Secret-123;CAFile=%s;"
           "Encrypt=mandatory",
           gw.port, th_cert("ca.pem"));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  const tdsc_error *e =
      th_expect_failure(c, rc, TDSC_E_TLS_CERT_NAME_MISMATCH, "localhost");
  ck_assert_msg(!strstr(tdsc_error_message(e), "127.0.0.1,"), "%s",
                tdsc_error_message(e));
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_str_ne(tdsc_attempt_routed_to(tdsc_error_trail_at(e, 0)), "");
  ck_assert_ptr_nonnull(tdsc_attempt_error(tdsc_error_trail_at(e, 1)));
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* A server routing the login back to itself: a loop, refused with its
 * code once the route comes back, every hop in the trail. */
START_TEST(a_routing_loop_is_refused) {
  ck_assert(th_server_start(&gw, "--misbehave", "route", (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, th_connstr(&gw, ""));
  const tdsc_error *e =
      th_expect_failure(c, rc, TDSC_E_ROUTING_TOO_MANY_HOPS, "loop");
  /* localhost routed to 127.0.0.1, which routes to itself */
  ck_assert_uint_eq(tdsc_error_trail_count(e), 2);
  ck_assert_str_ne(tdsc_attempt_routed_to(tdsc_error_trail_at(e, 1)), "");
  ck_assert_msg(strstr(tdsc_error_report(e), "routed to 127.0.0.1,"), "%s",
                tdsc_error_report(e));
  tdsc_conn_free(c);
  th_server_stop(&gw);
}
END_TEST

/* Six gateways in a chain, each routing to the next: the sixth route is
 * one too many (at most 5 are followed). */
START_TEST(more_than_five_hops_are_refused) {
  th_server chain[7];
  ck_assert(th_server_start(&chain[6], "--server-name", "LAST",
                            (const char *)NULL));
  for (int k = 5; k >= 0; k--) {
    char to[64];
    snprintf(to, sizeof to, "localhost,%d", chain[k + 1].port);
    ck_assert(th_server_start(&chain[k], "--route-to", to,
                              (const char *)NULL));
  }
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, th_connstr(&chain[0], ""));
  const tdsc_error *e =
      th_expect_failure(c, rc, TDSC_E_ROUTING_TOO_MANY_HOPS, "more than the 5");
  ck_assert_uint_eq(tdsc_error_trail_count(e), 6);
  tdsc_conn_free(c);
  /* five hops are followed */
  c = th_connect_ok(th_connstr(&chain[1], ""));
  th_expect_server(c, "LAST");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 6);
  tdsc_conn_free(c);
  for (int k = 0; k < 7; k++)
    th_server_stop(&chain[k]);
}
END_TEST

/* Routing data MS-TDS forbids, each a protocol error naming what. */
static const struct {
  const char *to, *a1, *a2;
  const char *named;
} bad[] = {
    {"localhost,%d", "--route-protocol", "1", "protocol 1"},
    {",%d", NULL, NULL, "empty server name"},
    {"localhost,0", NULL, NULL, "port 0"},
    {"localhost,%d", "--route-malformed", NULL, "malformed routing data"},
};

START_TEST(bad_routing_data_is_a_protocol_error) {
  char to[64];
  snprintf(to, sizeof to, bad[_i].to, th_free_port());
  ck_assert(th_server_start(&gw, "--route-to", to, bad[_i].a1, bad[_i].a2,
                            (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(c, th_connstr(&gw, ""));
  th_expect_failure(c, rc, TDSC_E_PROTOCOL, bad[_i].named);
  tdsc_conn_free(c);
  th_server_stop(&gw);
}
END_TEST

/* The routed attempt has what is left of LoginTimeout, not a new one: a
 * replica that stalls after PRELOGIN times the connect out within it. */
START_TEST(the_routed_hop_keeps_the_login_timeout) {
  ck_assert(th_server_start(&replica, "--misbehave", "hang-after-prelogin",
                            (const char *)NULL));
  char to[64];
  snprintf(to, sizeof to, "localhost,%d", replica.port);
  ck_assert(th_server_start(&gw, "--route-to", to, (const char *)NULL));
  tdsc_conn *c = tdsc_conn_new();
  long long t0 = th_now_ms();
  tdsc_errc rc = tdsc_conn_connect(c, th_connstr(&gw, "LoginTimeout=2"));
  long long took = th_now_ms() - t0;
  th_expect_failure(c, rc, TDSC_E_READ_TIMEOUT, "");
  ck_assert_msg(took < 2900, "took %lld ms", took);
  ck_assert_uint_eq(tdsc_error_trail_count(tdsc_conn_error(c)), 2);
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* Read-only routing (an availability group's): only a login whose intent
 * is read-only (ApplicationIntent=ReadOnly, LOGIN7's fReadOnlyIntent) is
 * sent to the readable secondary; a read-write one stays. */
START_TEST(read_only_intent_is_routed_read_write_stays) {
  start(NULL, "localhost", "--route-read-only", NULL);
  tdsc_conn *c = th_connect_ok(th_connstr(&gw, "ApplicationIntent=ReadOnly"));
  th_expect_server(c, "REPLICA");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  tdsc_conn_free(c);
  c = th_connect_ok(th_connstr(&gw, "ApplicationIntent=ReadWrite"));
  th_expect_server(c, "GATEWAY");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 1);
  ck_assert_str_eq(tdsc_attempt_routed_to(tdsc_conn_attempt_at(c, 0)), "");
  tdsc_conn_free(c);
  c = th_connect_ok(th_connstr(&gw, ""));
  th_expect_server(c, "GATEWAY");
  tdsc_conn_free(c);
  stop();
}
END_TEST

/* -------------------------------------------------------- non-blocking */

START_TEST(the_non_blocking_connect_routes_too) {
  start(NULL, "localhost", NULL, NULL);
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect_start(c, th_connstr(&gw, ""));
  int polls;
  rc = th_connect_wait(c, rc, &polls);
  ck_assert_msg(rc == TDSC_OK, "%s", th_report(c));
  ck_assert_int_gt(polls, 1);
  th_expect_server(c, "REPLICA");
  ck_assert_uint_eq(tdsc_conn_attempt_count(c), 2);
  ck_assert_str_ne(tdsc_attempt_routed_to(tdsc_conn_attempt_at(c, 0)), "");
  tdsc_conn_free(c);
  stop();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("routing");
  TCase *tc = tcase_create("routing");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, a_gateway_routes_the_login_to_the_replica);
  tcase_add_test(tc, tls_is_verified_for_the_routed_host);
  tcase_add_test(tc, a_routing_loop_is_refused);
  tcase_add_test(tc, more_than_five_hops_are_refused);
  tcase_add_loop_test(tc, bad_routing_data_is_a_protocol_error, 0,
                      (int)(sizeof bad / sizeof bad[0]));
  tcase_add_test(tc, the_routed_hop_keeps_the_login_timeout);
  tcase_add_test(tc, read_only_intent_is_routed_read_write_stays);
  tcase_add_test(tc, the_non_blocking_connect_routes_too);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(suite());
}
