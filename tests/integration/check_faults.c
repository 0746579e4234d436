/* A server that misbehaves the way networks and broken servers do.  A
 * session with the test server (SQL login, Encrypt=off: plaintext, so
 * the packets can be cut and re-framed) is recorded once through a proxy,
 * then replayed to the client broken: closed (FIN), reset (RST) or stalled
 * at every byte offset of the PRELOGIN reply, the login reply and a result
 * holding every column kind of the typed table (int, decimal, money,
 * (max), text, image, guid, datetime2, ...), as it came and re-packetised
 * one byte of token stream per packet (so every token boundary is a
 * packet boundary); and replaced by absurd token streams.  Each run must
 * end in an error with the right code, on the call that meets the fault
 * and on the next one (never a clean end), without a crash or a leak;
 * tdsc, the CLI, must exit non-zero naming the error. */
#define _DEFAULT_SOURCE
#include "faults_proxy.h"
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

/* Rows 1 and 2 of the typed table: every column kind, with values and
 * NULL; row 3 has (max) values spanning packets and PLP chunks. */
#define QUERY "SELECT * FROM typed WHERE id < 3 ORDER BY id"
#define QUERY_BIG "SELECT * FROM typed WHERE id = 3"

static th_server srv;
static fp_session rec;  /* the recorded session of QUERY */
static fp_session big;  /* of QUERY_BIG */
static size_t rec_rows, big_rows;
static const char *query = QUERY; /* what run_client runs */
static fp_server hostile;

static bool under_valgrind(void) {
  const char *pre = getenv("LD_PRELOAD");
  return pre && strstr(pre, "vgpreload");
}

static const char *connstr(int port, const char *extra) {
  static char buf[512];
  snprintf(buf, sizeof buf,
           "Server=tcp:127.0.0.1,%d;UID=sa;PWD=Secret-123;Encrypt=off;"
           "LoginTimeout=1;CancelTimeout=1;%s",
           port, extra ? extra : "");
  return buf;
}

/* What a client run met. */
typedef struct outcome {
  tdsc_errc code;     /* the first error (TDSC_OK: none) */
  const char *where;  /* the call that met it */
  char message[512];
  bool connected;     /* the login succeeded */
  bool next_failed;   /* the call after the failure failed too */
  size_t rows;        /* rows read whole */
} outcome;

static void failed(outcome *o, tdsc_conn *c, tdsc_errc code,
                   const char *where) {
  if (o->code != TDSC_OK)
    return;
  const tdsc_error *e = tdsc_conn_error(c);
  o->code = code;
  o->where = where;
  snprintf(o->message, sizeof o->message, "%s",
           e ? tdsc_error_message(e) : "(no error on the connection)");
  if (e && tdsc_error_code(e) != code)
    snprintf(o->message, sizeof o->message,
             "the call returned %s, the connection says %s",
             tdsc_errc_name(code), tdsc_errc_name(tdsc_error_code(e)));
}

/* Connects, runs QUERY and reads every value of every row with the
 * getters (is_null first, as applications do). */
static void run_client(int port, outcome *o) {
  memset(o, 0, sizeof *o);
  tdsc_conn *c = tdsc_conn_new();
  if (!c)
    abort(); /* (no ck_assert: also called outside the tests) */
  tdsc_errc rc = tdsc_conn_connect(c, connstr(port, NULL));
  if (rc != TDSC_OK) {
    failed(o, c, rc, "connect");
    o->next_failed = true;
    tdsc_conn_free(c);
    return;
  }
  o->connected = true;
  tdsc_conn_set_query_timeout(c, 300);
  tdsc_result *r;
  if ((rc = tdsc_conn_execute(c, query, &r)) != TDSC_OK) {
    failed(o, c, rc, "execute");
    o->next_failed = true;
    tdsc_conn_free(c);
    return;
  }
  tdsc_step st;
  while (o->code == TDSC_OK && (st = tdsc_result_next_set(r)) != TDSC_STEP_END) {
    if (st == TDSC_STEP_ERROR) {
      failed(o, c, tdsc_error_code(tdsc_conn_error(c)), "next_set");
      break;
    }
    size_t nc = tdsc_result_column_count(r);
    while (o->code == TDSC_OK &&
           (st = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      for (size_t i = 0; i < nc; i++) {
        bool null;
        const char *t;
        if ((rc = tdsc_result_is_null(r, i, &null)) != TDSC_OK) {
          failed(o, c, rc, "is_null");
          break;
        }
        if (!null && (rc = tdsc_result_get_text(r, i, &t, NULL)) != TDSC_OK) {
          failed(o, c, rc, "get_text");
          break;
        }
      }
      if (o->code == TDSC_OK)
        o->rows++;
    }
    if (o->code == TDSC_OK && st == TDSC_STEP_ERROR)
      failed(o, c, tdsc_error_code(tdsc_conn_error(c)), "next_row");
  }
  if (o->code != TDSC_OK) {
    /* the next call fails as well, whatever it is */
    bool null;
    o->next_failed = tdsc_result_is_null(r, 0, &null) != TDSC_OK &&
                     tdsc_result_next_row(r) == TDSC_STEP_ERROR &&
                     tdsc_result_next_set(r) == TDSC_STEP_ERROR;
  }
  tdsc_result_free(r);
  tdsc_conn_free(c);
}

static void replay(const fp_plan *p, outcome *o) {
  query = p->s == &big ? QUERY_BIG : QUERY;
  fp_serve(&hostile, p);
  run_client(hostile.port, o);
  fp_serve_wait(&hostile);
}

/* The code a fault must give: FIN a closed connection, RST a reset, a
 * stall a read timeout (the login's, or the query's and then the
 * unacknowledged cancel's). */
static tdsc_errc want_code(fp_action a) {
  return a == FP_FIN ? TDSC_E_CONN_CLOSED
         : a == FP_RST ? TDSC_E_CONN_RESET
                       : TDSC_E_READ_TIMEOUT;
}

static const char *action_name(fp_action a) {
  return a == FP_FIN ? "FIN" : a == FP_RST ? "RST" : "stall";
}

static void expect_fault(const fp_plan *p, tdsc_errc want) {
  outcome o;
  long long t0 = th_now_ms();
  replay(p, &o);
  if (getenv("FAULTS_DEBUG"))
    fprintf(stderr, "msg %zu cut %zu %s: %s at %s, %lld ms\n", p->msg, p->cut,
            action_name(p->action), tdsc_errc_name(o.code), o.where,
            th_now_ms() - t0);
  ck_assert_msg(o.code == want,
                "reply %zu cut at %zu%s then %s: %s at %s (%s), want %s "
                "(%zu rows read)",
                p->msg, p->cut, p->one_byte ? " (1-byte packets)" : "",
                action_name(p->action), tdsc_errc_name(o.code),
                o.where ? o.where : "-", o.message, tdsc_errc_name(want),
                o.rows);
  ck_assert_msg(o.next_failed,
                "reply %zu cut at %zu then %s: the call after %s did not "
                "fail",
                p->msg, p->cut, action_name(p->action), o.where);
}

/* Every offset of reply msg of s (with a stride), the last byte
 * included. */
static void sweep_in(const fp_session *s, size_t msg, fp_action a,
                     bool one_byte, size_t stride) {
  fp_plan p = {.s = s, .msg = msg, .action = a, .one_byte = one_byte};
  size_t len = s->len[msg];
  if (one_byte)
    free(fp_repacketise(s->reply[msg], s->len[msg], 1, &len));
  for (size_t cut = 0; cut < len; cut += stride) {
    p.cut = cut;
    expect_fault(&p, want_code(a));
  }
  p.cut = len - 1;
  expect_fault(&p, want_code(a));
}

static void sweep(size_t msg, fp_action a, bool one_byte, size_t stride) {
  sweep_in(&rec, msg, a, one_byte, stride);
}

/* Under valgrind every run costs a hundred times more: sample. */
static size_t stride(size_t plain) {
  return under_valgrind() ? plain * 61 : plain;
}

START_TEST(replayed_session_is_whole) {
  fp_plan p = {.s = &rec, .msg = SIZE_MAX, .cut = SIZE_MAX};
  outcome o;
  replay(&p, &o);
  ck_assert_msg(o.code == TDSC_OK, "%s at %s: %s", tdsc_errc_name(o.code),
                o.where, o.message);
  ck_assert_uint_eq(o.rows, rec_rows);
  p.one_byte = true;
  replay(&p, &o);
  ck_assert_msg(o.code == TDSC_OK, "1-byte packets: %s at %s: %s",
                tdsc_errc_name(o.code), o.where, o.message);
  ck_assert_uint_eq(o.rows, rec_rows);
  p.s = &big;
  replay(&p, &o);
  ck_assert_msg(o.code == TDSC_OK, "row 3: %s at %s: %s",
                tdsc_errc_name(o.code), o.where, o.message);
  ck_assert_uint_eq(o.rows, big_rows);
}
END_TEST

START_TEST(fin_and_rst_inside_max_values_spanning_packets) {
  /* the crash of issue 12: a value read lazily (is_null, then the
   * getter) when the connection goes */
  sweep_in(&big, 2, FP_FIN, false, stride(499));
  sweep_in(&big, 2, FP_RST, false, stride(1999));
  sweep_in(&big, 2, FP_FIN, true, stride(9 * 4999));
}
END_TEST

START_TEST(fin_at_every_offset_of_prelogin_and_login_reply) {
  sweep(0, FP_FIN, false, 1);
  sweep(1, FP_FIN, false, stride(1));
}
END_TEST

START_TEST(fin_at_every_offset_of_a_result_with_every_column_kind) {
  sweep(2, FP_FIN, false, stride(1));
}
END_TEST

START_TEST(fin_at_every_token_stream_offset_one_byte_packets) {
  /* 9 bytes a packet: a stride of 9 cuts at every packet boundary (every
   * byte of the token stream), the offset 4 inside every header */
  sweep(1, FP_FIN, true, stride(9));
  sweep(2, FP_FIN, true, stride(9));
  fp_plan p = {.s = &rec, .msg = 2, .action = FP_FIN, .one_byte = true};
  size_t len;
  free(fp_repacketise(rec.reply[2], rec.len[2], 1, &len));
  for (p.cut = 4; p.cut < len; p.cut += stride(9) * 7)
    expect_fault(&p, TDSC_E_CONN_CLOSED);
}
END_TEST

START_TEST(rst_at_offsets_of_login_reply_and_result) {
  sweep(0, FP_RST, false, 7);
  sweep(1, FP_RST, false, stride(5));
  sweep(2, FP_RST, false, stride(5));
  sweep(2, FP_RST, true, stride(9 * 5));
}
END_TEST

START_TEST(stall_in_login_reply_and_result_times_out) {
  /* each costs LoginTimeout or QueryTimeout + CancelTimeout: a few */
  size_t l1 = rec.len[1], l2 = rec.len[2];
  size_t cuts1[] = {0, 9, l1 / 2, l1 - 1};
  size_t cuts2[] = {0, 8, l2 / 3, l2 / 2, l2 - 1};
  for (size_t i = 0; i < sizeof cuts1 / sizeof *cuts1; i++) {
    fp_plan p = {.s = &rec, .msg = 1, .cut = cuts1[i], .action = FP_STALL};
    expect_fault(&p, TDSC_E_READ_TIMEOUT);
  }
  for (size_t i = 0; i < sizeof cuts2 / sizeof *cuts2; i++) {
    fp_plan p = {.s = &rec, .msg = 2, .cut = cuts2[i], .action = FP_STALL};
    expect_fault(&p, TDSC_E_READ_TIMEOUT);
  }
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("faults");
  TCase *tc = tcase_create("hostile");
  tcase_set_timeout(tc, 600);
  tcase_add_test(tc, replayed_session_is_whole);
  tcase_add_test(tc, fin_at_every_offset_of_prelogin_and_login_reply);
  tcase_add_test(tc, fin_at_every_offset_of_a_result_with_every_column_kind);
  tcase_add_test(tc, fin_and_rst_inside_max_values_spanning_packets);
  tcase_add_test(tc, fin_at_every_token_stream_offset_one_byte_packets);
  tcase_add_test(tc, rst_at_offsets_of_login_reply_and_result);
  tcase_add_test(tc, stall_in_login_reply_and_result_times_out);
  suite_add_tcase(s, tc);
  return s;
}

/* Records the session q makes with the real server. */
static bool record(const char *q, fp_session *s, size_t *rows) {
  int port;
  fp_recorder *r = fp_record_start(srv.port, &port);
  if (!r)
    return false;
  outcome o;
  query = q;
  run_client(port, &o);
  fp_record_end(r, s);
  if (o.code != TDSC_OK) {
    fprintf(stderr, "recording failed: %s at %s: %s\n",
            tdsc_errc_name(o.code), o.where, o.message);
    return false;
  }
  *rows = o.rows;
  if (s->nmsgs != 3 || *rows == 0) {
    fprintf(stderr, "recording: %zu messages, %zu rows\n", s->nmsgs, *rows);
    return false;
  }
  return true;
}

int main(void) {
  th_require_server();
  /* a server without TLS: the login goes in clear (Encrypt=off) */
  if (!th_server_start(&srv, "--encryption", "not_sup", (const char *)NULL))
    return EXIT_FAILURE;
  bool ok = record(QUERY, &rec, &rec_rows) && record(QUERY_BIG, &big, &big_rows);
  th_server_stop(&srv);
  if (!ok || !fp_server_open(&hostile))
    return EXIT_FAILURE;
  fprintf(stderr, "recorded: PRELOGIN reply %zu bytes, login reply %zu, "
                  "result %zu (%zu rows)\n",
          rec.len[0], rec.len[1], rec.len[2], rec_rows);
  fprintf(stderr, "recorded: row 3, %zu bytes\n", big.len[2]);
  int rc = th_run_suite(suite());
  fp_server_close(&hostile);
  fp_session_free(&rec);
  fp_session_free(&big);
  return rc;
}
