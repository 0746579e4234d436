/* The session through the public API against an in-process peer that
 * answers each request with recorded bytes: real SQL Server replies from
 * public captures (the vectors pb_* and ndpi_*, check_captures.c decodes
 * the same bytes token by token) and hand-built ones.  The peer keeps what
 * the client sent, so LOGIN7 is checked byte for byte too.  Encrypt=off:
 * the recorded logins used TLS, whose bytes are not in the captures, so the
 * peer's PRELOGIN reply says ENCRYPT_NOT_SUP. */
#include "config.h"

#include "tdsclient.h"

#include "proto/proto.h"
#include "vectors.h"

#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- peer */

#define MAX_STEPS 8

typedef struct peer {
  int lfd;
  uint16_t port;
  pthread_t th;
  /* replies[i] (whole messages, headers included) answers request i */
  uint8_t *replies[MAX_STEPS];
  size_t reply_len[MAX_STEPS], nreplies;
  /* what the client sent: each message's type and payload */
  uint8_t req_type[MAX_STEPS];
  uint8_t *req[MAX_STEPS];
  size_t req_len[MAX_STEPS], nreqs;
  char failure[200]; /* what went wrong in the peer, "" if nothing */
} peer;

static bool read_full(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    if (poll(&pf, 1, 10000) != 1)
      return false;
    ssize_t got = recv(fd, p, n, 0);
    if (got <= 0)
      return false;
    p += got;
    n -= (size_t)got;
  }
  return true;
}

/* One client message, packets up to EOM. */
static bool read_message(peer *pr, int fd) {
  size_t i = pr->nreqs;
  uint8_t h[8];
  pr->req[i] = NULL;
  pr->req_len[i] = 0;
  do {
    if (!read_full(fd, h, 8))
      return false;
    size_t n = (size_t)(h[2] << 8 | h[3]);
    if (n < 8)
      return false;
    if (pr->req_len[i] == 0)
      pr->req_type[i] = h[0];
    pr->req[i] = realloc(pr->req[i], pr->req_len[i] + n - 8 + 1);
    if (!read_full(fd, pr->req[i] + pr->req_len[i], n - 8))
      return false;
    pr->req_len[i] += n - 8;
  } while (!(h[1] & 0x01));
  pr->nreqs++;
  return true;
}

static void *peer_main(void *arg) {
  peer *pr = arg;
  struct pollfd pf = {.fd = pr->lfd, .events = POLLIN};
  if (poll(&pf, 1, 10000) != 1) {
    snprintf(pr->failure, sizeof pr->failure, "no client came");
    return NULL;
  }
  int fd = accept(pr->lfd, NULL, NULL);
  for (size_t i = 0; i < pr->nreplies; i++) {
    if (!read_message(pr, fd)) {
      snprintf(pr->failure, sizeof pr->failure,
               "request %zu did not come whole", i + 1);
      break;
    }
    if (getenv("TDSC_TEST_VERBOSE"))
      fprintf(stderr, "peer: request %zu type 0x%02x, %zu bytes\n", i + 1,
              pr->req_type[i], pr->req_len[i]);
    if (send(fd, pr->replies[i], pr->reply_len[i], MSG_NOSIGNAL) !=
        (ssize_t)pr->reply_len[i]) {
      snprintf(pr->failure, sizeof pr->failure, "reply %zu not sent", i + 1);
      break;
    }
  }
  /* Then wait for the client to hang up (or to send one more request,
   * which no step expects). */
  uint8_t b;
  struct pollfd cf = {.fd = fd, .events = POLLIN};
  if (!pr->failure[0] && poll(&cf, 1, 10000) == 1 && recv(fd, &b, 1, 0) > 0)
    snprintf(pr->failure, sizeof pr->failure,
             "a request after the last scripted reply");
  close(fd);
  return NULL;
}

static void peer_add(peer *pr, uint8_t *msg, size_t len) {
  ck_assert_ptr_nonnull(msg);
  ck_assert_uint_lt(pr->nreplies, MAX_STEPS);
  pr->replies[pr->nreplies] = msg;
  pr->reply_len[pr->nreplies++] = len;
}

static void peer_start(peer *pr) {
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  pr->lfd = socket(AF_INET, SOCK_STREAM, 0);
  ck_assert_int_ge(pr->lfd, 0);
  ck_assert_int_eq(bind(pr->lfd, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(listen(pr->lfd, 1), 0);
  ck_assert_int_eq(getsockname(pr->lfd, (struct sockaddr *)&a, &al), 0);
  pr->port = ntohs(a.sin_port);
  ck_assert_int_eq(pthread_create(&pr->th, NULL, peer_main, pr), 0);
}

/* Waits for the peer to see the client hang up; then its requests can be
 * read. */
static void peer_join(peer *pr) {
  pthread_join(pr->th, NULL);
  close(pr->lfd);
  ck_assert_msg(!pr->failure[0], "peer: %s", pr->failure);
}

static void peer_free(peer *pr) {
  for (size_t i = 0; i < pr->nreplies; i++)
    free(pr->replies[i]);
  for (size_t i = 0; i < pr->nreqs; i++)
    free(pr->req[i]);
}

/* One message of type 4 (tabular result) around payload, SPID 0. */
static void peer_finish(peer *pr) {
  peer_join(pr);
  peer_free(pr);
}

static uint8_t *message(const uint8_t *payload, size_t n, size_t *len) {
  uint8_t *m = malloc(n + 8);
  ck_assert_ptr_nonnull(m);
  tdsc__pkt_hdr h = {.type = TDSC__PKT_REPLY,
                     .status = TDSC__PKT_EOM,
                     .length = (uint16_t)(n + 8),
                     .packet_id = 1};
  tdsc__pkt_hdr_encode(m, &h);
  memcpy(m + 8, payload, n);
  *len = n + 8;
  return m;
}

/* Our own PRELOGIN reply: version 16.0, ENCRYPT_NOT_SUP. */
static uint8_t *prelogin_not_sup(size_t *len) {
  tdsc__prelogin pl = {.ver_major = 16,
                       .has_encryption = true,
                       .encryption = TDSC__ENCRYPT_NOT_SUP};
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert_int_eq(tdsc__prelogin_encode(&pl, &b, NULL), TDSC_OK);
  uint8_t *m = message(b.data, b.len, len);
  tdsc__buf_free(&b);
  return m;
}

/* A recorded PRELOGIN reply with its ENCRYPTION option set to
 * ENCRYPT_NOT_SUP (MS-TDS 2.2.6.5: the option table's offsets are from
 * the payload's start). */
static uint8_t *prelogin_vector_not_sup(const char *name, size_t *len) {
  uint8_t *v = tdsc_test_vector(name, len);
  ck_assert_ptr_nonnull(v);
  const uint8_t *p = v + 8;
  size_t n = *len - 8;
  for (size_t i = 0; i + 5 <= n && p[i] != 0xff; i += 5)
    if (p[i] == 0x01) {
      size_t off = (size_t)(p[i + 1] << 8 | p[i + 2]);
      ck_assert_uint_lt(off, n);
      v[8 + off] = TDSC__ENCRYPT_NOT_SUP;
      return v;
    }
  ck_abort_msg("%s has no ENCRYPTION option", name);
  return NULL;
}

static uint8_t *vector(const char *name, size_t *len) {
  uint8_t *v = tdsc_test_vector(name, len);
  ck_assert_msg(v != NULL, "vector %s", name);
  return v;
}

static tdsc_conn *connect_to(peer *pr, const char *server_fmt) {
  char server[300], cs[600];
  snprintf(server, sizeof server, server_fmt, pr->port);
  snprintf(cs, sizeof cs,
           "Server=%s;UID=replay;PWD=not-a-secret;Encrypt=off;"
           "LoginTimeout=10",
           server);
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_ptr_nonnull(c);
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  ck_assert_msg(rc == TDSC_OK, "connect %s: %s", server,
                tdsc_error_report(tdsc_conn_error(c)));
  return c;
}

/* ---------------------------------------------------------------- LOGIN7 */

/* A login reply of our own: LOGINACK (TDS 7.4, "test" 16.0.2.88), DONE. */
static uint8_t *login_ok(size_t *len) {
  static const uint8_t toks[] = {
      0xad, 0x12, 0x00, 0x01, 0x74, 0x00, 0x00, 0x04, 0x04, 't',  0,
      'e',  0,    's',  0,    't',  0,    0x10, 0x00, 0x02, 0x58, 0xfd,
      0x00, 0x00, 0x00, 0x00, 0,    0,    0,    0,    0,    0,    0,
      0};
  return message(toks, sizeof toks, len);
}

/* LOGIN7's ServerName (MS-TDS 2.2.6.4: ibServerName, cchServerName at
 * offsets 52 and 54 of the fixed part) must be `want` in UTF-16LE. */
static void assert_servername(const peer *pr, const char *want) {
  ck_assert_uint_ge(pr->nreqs, 2);
  ck_assert_uint_eq(pr->req_type[1], TDSC__PKT_LOGIN7);
  const uint8_t *l = pr->req[1];
  size_t n = pr->req_len[1];
  ck_assert_uint_ge(n, 94);
  size_t ib = (size_t)(l[52] | l[53] << 8), cch = (size_t)(l[54] | l[55] << 8);
  uint8_t wide[600];
  size_t wn = strlen(want);
  for (size_t i = 0; i < wn; i++) {
    wide[2 * i] = (uint8_t)want[i];
    wide[2 * i + 1] = 0;
  }
  ck_assert_msg(cch == wn, "cchServerName %zu, want %zu (%s)", cch, wn, want);
  ck_assert_uint_le(ib + 2 * cch, n);
  ck_assert_mem_eq(l + ib, wide, 2 * wn);
}

static void login_with(const char *server_fmt, const char *want) {
  peer pr = {0};
  size_t n;
  uint8_t *m = prelogin_not_sup(&n);
  peer_add(&pr, m, n);
  m = login_ok(&n);
  peer_add(&pr, m, n);
  peer_start(&pr);
  tdsc_conn *c = connect_to(&pr, server_fmt);
  ck_assert_str_eq(tdsc_conn_server_name(c), "test");
  tdsc_conn_free(c);
  peer_join(&pr);
  assert_servername(&pr, want);
  peer_free(&pr);
}

START_TEST(login7_servername_is_the_host_without_the_port) {
  login_with("localhost,%u", "localhost");
  login_with("tcp:127.0.0.1,%u", "127.0.0.1");
}
END_TEST

START_TEST(login7_servername_keeps_the_instance_as_written) {
  /* a port given with the instance: no SQL Browser, the name stays */
  login_with("tcp:127.0.0.1\\SQLEXPRESS,%u", "127.0.0.1\\SQLEXPRESS");
}
END_TEST

/* ---------------------------------------------------------------- captures */

/* Login with the recorded PRELOGIN and login replies of `prefix` (01, 02),
 * then two batches answered by its SESSIONSTATE replies (03, 04), then one
 * answered by 05; returns the connection with 05's result open in *r. */
static tdsc_conn *replay_session(peer *pr, const char *prefix,
                                 tdsc_result **r) {
  char name[100];
  size_t n;
  snprintf(name, sizeof name, "%s_01_server_reply.hex", prefix);
  uint8_t *m = prelogin_vector_not_sup(name, &n);
  peer_add(pr, m, n);
  for (int k = 2; k <= 5; k++) {
    snprintf(name, sizeof name, "%s_0%d_server_reply.hex", prefix, k);
    m = vector(name, &n);
    peer_add(pr, m, n);
  }
  peer_start(pr);
  tdsc_conn *c = connect_to(pr, "tcp:127.0.0.1,%u");
  ck_assert_str_eq(tdsc_conn_database(c), "master");
  ck_assert_uint_eq(tdsc_conn_tds_version(c), 0x74000004);
  ck_assert_uint_eq(tdsc_conn_packet_size(c), 4096);
  ck_assert_str_eq(tdsc_conn_server_name(c), "Microsoft SQL Server");
  ck_assert_str_eq(tdsc_conn_encryption(c), "off");
  static const char *const sets[] = {"SET ANSI_NULLS ON",
                                     "SET TEXTSIZE 2147483647"};
  for (int k = 0; k < 2; k++) {
    tdsc_result *s;
    /* SESSIONSTATE, then a DONE without DONE_COUNT: no result at all */
    ck_assert_int_eq(tdsc_conn_execute(c, sets[k], &s), TDSC_OK);
    ck_assert_int_eq(tdsc_result_next_set(s), TDSC_STEP_END);
    tdsc_result_free(s);
  }
  ck_assert_int_eq(tdsc_conn_execute(c, "SELECT * FROM t", r), TDSC_OK);
  return c;
}

static void assert_column(tdsc_result *r, size_t i, const char *name,
                          tdsc_type type, int32_t max_size) {
  const tdsc_column *col = tdsc_result_column(r, i);
  ck_assert_ptr_nonnull(col);
  ck_assert_str_eq(tdsc_column_name(col), name);
  ck_assert_int_eq(tdsc_column_type(col), type);
  ck_assert_int_eq(tdsc_column_max_size(col), max_size);
  ck_assert(tdsc_column_nullable(col));
}

START_TEST(sql2022_session_login_sets_and_select) {
  TDSC_NEED_VECTORS();
  peer pr = {0};
  tdsc_result *r;
  tdsc_conn *c = replay_session(&pr, "pb_sql2022_login_select", &r);
  ck_assert_str_eq(tdsc_conn_server_version(c), "16.0.600");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 3);
  assert_column(r, 0, "id", TDSC_TYPE_INT, 4);
  assert_column(r, 1, "name", TDSC_TYPE_NVARCHAR, 100);
  assert_column(r, 2, "quantity", TDSC_TYPE_INT, 4);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  int64_t id, qty;
  const char *s;
  ck_assert_int_eq(tdsc_result_get_int64(r, 0, &id), TDSC_OK);
  ck_assert_int_eq(tdsc_result_get_text(r, 1, &s, NULL), TDSC_OK);
  ck_assert_int_eq(tdsc_result_get_int64(r, 2, &qty), TDSC_OK);
  ck_assert_int_eq(id, 2);
  ck_assert_str_eq(s, "orange");
  ck_assert_int_eq(qty, 154);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_rows_affected(r), 1);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  tdsc_conn_free(c);
  peer_finish(&pr);
}
END_TEST

START_TEST(sql2019_session_login_sets_and_select) {
  TDSC_NEED_VECTORS();
  peer pr = {0};
  tdsc_result *r;
  tdsc_conn *c = replay_session(&pr, "pb_sql2019_login_select", &r);
  ck_assert_str_eq(tdsc_conn_server_version(c), "15.0.4236");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 2);
  assert_column(r, 0, "id", TDSC_TYPE_INT, 4);
  assert_column(r, 1, "name", TDSC_TYPE_NVARCHAR, 200);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  int64_t id;
  const char *s;
  ck_assert_int_eq(tdsc_result_get_int64(r, 0, &id), TDSC_OK);
  ck_assert_int_eq(tdsc_result_get_text(r, 1, &s, NULL), TDSC_OK);
  ck_assert_int_eq(id, 10);
  ck_assert_str_eq(s, "Fast & Furious");
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  tdsc_conn_free(c);
  peer_finish(&pr);
}
END_TEST

START_TEST(sql2022_session_insert_counts_one_row) {
  TDSC_NEED_VECTORS();
  peer pr = {0};
  tdsc_result *r;
  tdsc_conn *c = replay_session(&pr, "pb_sql2022_login_insert", &r);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_kind_of(r), TDSC_RESULT_COUNT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 0);
  ck_assert_int_eq(tdsc_result_rows_affected(r), 1);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  tdsc_conn_free(c);
  peer_finish(&pr);
}
END_TEST

/* ---------------------------------------------------------------- RPC */

/* The RPC's procedure id (MS-TDS 2.2.6.6: after ALL_HEADERS, 0xFFFF and
 * the id) of request i. */
static unsigned rpc_proc_id(const peer *pr, size_t i) {
  const uint8_t *p = pr->req[i];
  size_t n = pr->req_len[i];
  ck_assert_uint_eq(pr->req_type[i], TDSC__PKT_RPC);
  ck_assert_uint_ge(n, 4);
  size_t h = (size_t)(p[0] | p[1] << 8 | p[2] << 16 | (size_t)p[3] << 24);
  ck_assert_uint_le(h + 4, n);
  ck_assert_uint_eq(p[h] & p[h + 1], 0xff); /* by id, not by name */
  return (unsigned)(p[h + 2] | p[h + 3] << 8);
}

static bool has_bytes(const peer *pr, size_t i, const uint8_t *b, size_t n) {
  for (size_t k = 0; k + n <= pr->req_len[i]; k++)
    if (!memcmp(pr->req[i] + k, b, n))
      return true;
  return false;
}

START_TEST(older_server_prepare_execute_and_doubled_returnstatus) {
  TDSC_NEED_VECTORS();
  peer pr = {0};
  size_t n;
  uint8_t *m = prelogin_not_sup(&n);
  peer_add(&pr, m, n);
  m = login_ok(&n);
  peer_add(&pr, m, n);
  m = vector("ndpi_rpc_s4_01_server_reply.hex", &n);
  peer_add(&pr, m, n);
  m = vector("ndpi_rpc_s4_02_server_reply.hex", &n);
  peer_add(&pr, m, n);
  m = vector("ndpi_rpc_s4_06_server_reply.hex", &n);
  peer_add(&pr, m, n);
  m = vector("ndpi_rpc_s4_04_server_reply.hex", &n);
  peer_add(&pr, m, n);
  static const uint8_t unprepared[] = {0xfe, 0, 0, 0xe0, 0, 0, 0, 0,
                                       0,    0, 0, 0,    0};
  m = message(unprepared, sizeof unprepared, &n);
  peer_add(&pr, m, n);
  peer_start(&pr);
  tdsc_conn *c = connect_to(&pr, "tcp:127.0.0.1,%u");

  /* two SET statements: two DONEs without counts, no result */
  tdsc_result *r;
  ck_assert_int_eq(tdsc_conn_execute(c,
                                     "SET TRANSACTION ISOLATION LEVEL READ "
                                     "COMMITTED SET IMPLICIT_TRANSACTIONS OFF",
                                     &r),
                   TDSC_OK);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);

  /* sp_prepare answered by a real sp_prepexec reply: DONEINPROC,
   * RETURNSTATUS, the unnamed handle 1, DONEPROC */
  tdsc_stmt *st = tdsc_stmt_new_sql(c, "SELECT column1, column2, column3 "
                                       "FROM t WHERE k = @k");
  ck_assert_ptr_nonnull(st);
  ck_assert_int_eq(tdsc_stmt_bind_int64(st, "@k", TDSC_TYPE_INT, 7), TDSC_OK);
  ck_assert_msg(tdsc_stmt_prepare(st) == TDSC_OK, "%s",
                tdsc_error_report(tdsc_conn_error(c)));
  ck_assert_uint_eq(rpc_proc_id(&pr, 3), 11); /* sp_prepare */

  /* sp_execute: three char(30) rows, RETURNSTATUS 0 */
  ck_assert_int_eq(tdsc_stmt_execute(st, &r), TDSC_OK);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 3);
  assert_column(r, 1, "column2", TDSC_TYPE_CHAR, 30);
  ck_assert(!tdsc_column_nullable(tdsc_result_column(r, 0)));
  int rows = 0;
  while (tdsc_result_next_row(r) == TDSC_STEP_ROW) {
    const char *v;
    size_t len;
    ck_assert_int_eq(tdsc_result_get_text(r, 0, &v, &len), TDSC_OK);
    ck_assert_uint_eq(len, 30); /* char(30): blank-padded */
    ck_assert(strncmp(v, "first ", 6) == 0);
    ck_assert_int_eq(tdsc_result_get_text(r, 2, &v, &len), TDSC_OK);
    ck_assert(strncmp(v, "third ", 6) == 0);
    rows++;
  }
  ck_assert_int_eq(rows, 3);
  ck_assert_int_eq(tdsc_result_rows_affected(r), 3);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  int32_t status = -1;
  ck_assert(tdsc_result_return_status(r, &status));
  ck_assert_int_eq(status, 0);
  tdsc_result_free(r);
  ck_assert_uint_eq(rpc_proc_id(&pr, 4), 12); /* sp_execute */
  static const uint8_t handle1[] = {0x26, 4, 4, 1, 0, 0, 0};
  ck_assert(has_bytes(&pr, 4, handle1, sizeof handle1));

  /* the reply to two sp_execute in one batch (DONEPROC with DONE_MORE
   * and RPCINBATCH, each RETURNSTATUS twice): two counts of one row, and
   * nothing looks complete before the final DONEPROC */
  ck_assert_int_eq(tdsc_stmt_execute(st, &r), TDSC_OK);
  int counts = 0;
  tdsc_step step;
  while ((step = tdsc_result_next_set(r)) == TDSC_STEP_RESULT) {
    ck_assert_int_eq(tdsc_result_kind_of(r), TDSC_RESULT_COUNT);
    ck_assert_int_eq(tdsc_result_rows_affected(r), 1);
    counts++;
  }
  ck_assert_msg(step == TDSC_STEP_END, "%s",
                tdsc_error_report(tdsc_conn_error(c)));
  ck_assert_int_eq(counts, 2);
  ck_assert(tdsc_result_return_status(r, &status));
  ck_assert_int_eq(status, 0);
  tdsc_result_free(r);

  tdsc_stmt_free(st); /* sp_unprepare of handle 1 */
  ck_assert_uint_eq(rpc_proc_id(&pr, 6), 15);
  ck_assert(has_bytes(&pr, 6, handle1, sizeof handle1));
  tdsc_conn_free(c);
  peer_finish(&pr);
}
END_TEST

Suite *replay_suite(void);
Suite *replay_suite(void) {
  Suite *s = suite_create("replay");
  TCase *tc = tcase_create("login7");
  tcase_add_test(tc, login7_servername_is_the_host_without_the_port);
  tcase_add_test(tc, login7_servername_keeps_the_instance_as_written);
  suite_add_tcase(s, tc);
  tc = tcase_create("captures");
  tcase_add_test(tc, sql2022_session_login_sets_and_select);
  tcase_add_test(tc, sql2019_session_login_sets_and_select);
  tcase_add_test(tc, sql2022_session_insert_counts_one_row);
  tcase_add_test(tc, older_server_prepare_execute_and_doubled_returnstatus);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(replay_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
