/* Non-blocking mode against the test server: one thread and poll(2) drive
 * 60 connections at once (TLS with SQL login, Kerberos and NTLM, over TCP
 * and the named pipe), each running a script of requests: a batch of rows
 * and a message behind a WAITFOR (so that all are in flight together), a
 * 128 KiB value read in pieces, a transaction, a cancel during a WAITFOR,
 * a query timeout.  Every row, every byte and every code is checked, and
 * each connection takes its next request after a cancel or a timeout. */
#define _DEFAULT_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static th_realm realm;
static th_server srv;
static int port;
static char dir[600], pipepath[700];

/* The server with Kerberos (keytab), NTLM (users file) and a pipe, as
 * check_transports sets it up. */
static void serve(void) {
  char portstr[16], users[700], keytab[700], map1[128], d[700];
  ck_assert(th_realm_create(&realm));
  port = th_free_port();
  snprintf(portstr, sizeof portstr, "%d", port);
  snprintf(dir, sizeof dir, "%s/local", realm.dir);
  snprintf(pipepath, sizeof pipepath, "%s/pipe/sql/query", dir);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(users, sizeof users, "%s/ntlm.users", realm.dir);
  snprintf(map1, sizeof map1, "alice@%s=TDSC\\alice", realm.realm);
  mkdir(dir, 0700);
  snprintf(d, sizeof d, "%s/pipe", dir);
  mkdir(d, 0700);
  snprintf(d, sizeof d, "%s/pipe/sql", dir);
  mkdir(d, 0700);
  FILE *f = fopen(users, "w");
  ck_assert_ptr_nonnull(f);
  fputs("TDSC:alice:alice-nt-pw\n", f);
  fclose(f);
  char spn_tcp[128];
  snprintf(spn_tcp, sizeof spn_tcp, "MSSQLSvc/localhost:%d", port);
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password",
                         "alice-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn_tcp, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", "MSSQLSvc/localhost",
                         "--randkey", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn_tcp,
                         "MSSQLSvc/localhost", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--keytab", keytab,
                                "--ntlm-users", users, "--map", map1,
                                "--map", "TDSC\\alice=TDSC\\alice", "--pipe",
                                pipepath, (const char *)NULL),
                "the test server did not start");
}

static void teardown(void) {
  th_server_stop(&srv);
  th_realm_destroy(&realm);
}

/* ------------------------------------------------------------ the jobs */

typedef enum {
  OP_ROWS,
  OP_LARGE,
  OP_TXN,
  OP_CANCEL,
  OP_TIMEOUT,
  OP_PREPARED
} op_kind;
#define NOPS 5
#define BIG_REPEAT 16384 /* 'abcdefgh' x 16384 = 128 KiB */

typedef struct job {
  int id;
  tdsc_conn *c;
  const char *how; /* "tcp sql", ... for messages */
  const char *login;
  op_kind ops[NOPS];
  int op;          /* index in ops; NOPS when done */
  int phase;       /* within the op: 0 = not sent yet */
  tdsc_result *r;
  tdsc_stmt *stmt;
  int row;
  size_t got;      /* OP_LARGE: bytes read so far */
  long long t0, cancel_at;
  bool cancelled;
  int messages;    /* INFO messages handed to the handler */
  bool waiting;    /* the last call returned TDSC_E_WOULD_BLOCK */
  bool done;
} job;

static long long would_block, in_flight, max_in_flight;

static void on_message(void *ud, const tdsc_message *m) {
  job *j = ud;
  if (!tdsc_message_is_error(m) &&
      strcmp(tdsc_message_text(m), "half way") == 0)
    j->messages++;
}

static const char *why(const job *j) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "job %d (%s), op %d phase %d: %s", j->id, j->how,
           j->op, j->phase, th_report(j->c));
  return buf;
}

/* True when the last call returned TDSC_E_WOULD_BLOCK (counted). */
static bool blocked(job *j) {
  const tdsc_error *e = tdsc_conn_error(j->c);
  if (e && tdsc_error_code(e) == TDSC_E_WOULD_BLOCK) {
    would_block++;
    j->waiting = true;
    return true;
  }
  return false;
}

#define STEP(j, call, want)                                                   \
  do {                                                                        \
    tdsc_step s_ = (call);                                                    \
    if (s_ == TDSC_STEP_ERROR && blocked(j))                                  \
      return;                                                                 \
    ck_assert_msg(s_ == (want), "%s -> %d: %s", #call, (int)s_, why(j));      \
  } while (0)
#define CALL(j, call)                                                         \
  do {                                                                        \
    tdsc_errc e_ = (call);                                                    \
    if (e_ == TDSC_E_WOULD_BLOCK && blocked(j))                               \
      return;                                                                 \
    ck_assert_msg(e_ == TDSC_OK, "%s: %s", #call, why(j));                    \
  } while (0)
#define FAILS(j, call, code)                                                  \
  do {                                                                        \
    tdsc_step s_ = (call);                                                    \
    if (s_ == TDSC_STEP_ERROR && blocked(j))                                  \
      return;                                                                 \
    ck_assert_msg(s_ == TDSC_STEP_ERROR, "%s -> %d: %s", #call, (int)s_,      \
                  why(j));                                                    \
    ck_assert_msg(tdsc_error_code(tdsc_conn_error(j->c)) == (code),           \
                  "%s: %s", #call, why(j));                                   \
  } while (0)

/* False when the connection is still reading the rest of an earlier
 * response (a freed result, a statement's unprepare): call again. */
static bool send_request(job *j, const char *sql) {
  tdsc_errc e = tdsc_conn_execute(j->c, sql, &j->r);
  if (e == TDSC_E_WOULD_BLOCK && blocked(j))
    return false;
  ck_assert_msg(e == TDSC_OK, "%s", why(j));
  j->phase = 1;
  j->t0 = th_now_ms();
  if (++in_flight > max_in_flight)
    max_in_flight = in_flight;
  return true;
}

static void next_op(job *j) {
  if (j->r) {
    tdsc_result_free(j->r);
    j->r = NULL;
    in_flight--;
  }
  j->phase = 0;
  j->row = 0;
  j->got = 0;
  j->cancelled = false;
  j->op++;
}

/* OP_ROWS: 9 rows in order, a message, then one text; the first time
 * behind a WAITFOR so that every connection has a request in flight. */
static void op_rows(job *j) {
  if (j->phase == 0) {
    char sql[400];
    snprintf(sql, sizeof sql,
             "%sSELECT a.id AS x, b.id AS y FROM typed a, typed b "
             "ORDER BY x, y; PRINT 'half way'; "
             "SELECT SUSER_NAME() AS who, N'job %d' AS t",
             j->op == 0 ? "WAITFOR DELAY '00:00:01'; " : "", j->id);
    if (!send_request(j, sql))
      return;
  }
  while (j->phase == 1) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_RESULT);
    if (tdsc_result_column_count(j->r) > 0) /* not the WAITFOR's count */
      j->phase = 2;
  }
  while (j->phase == 2) {
    tdsc_step s = tdsc_result_next_row(j->r);
    if (s == TDSC_STEP_ERROR && blocked(j))
      return;
    if (s == TDSC_STEP_END) {
      ck_assert_msg(j->row == 9, "%d rows: %s", j->row, why(j));
      j->phase = 3;
      break;
    }
    ck_assert_msg(s == TDSC_STEP_ROW, "%s", why(j));
    int64_t x, y;
    CALL(j, tdsc_result_get_int64(j->r, 0, &x));
    CALL(j, tdsc_result_get_int64(j->r, 1, &y));
    ck_assert_int_eq(x, 1 + j->row / 3);
    ck_assert_int_eq(y, 1 + j->row % 3);
    j->row++;
  }
  if (j->phase == 3) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_RESULT);
    j->phase = 4;
  }
  if (j->phase == 4) {
    STEP(j, tdsc_result_next_row(j->r), TDSC_STEP_ROW);
    const char *who, *t;
    char want[32];
    CALL(j, tdsc_result_get_text(j->r, 0, &who, NULL));
    CALL(j, tdsc_result_get_text(j->r, 1, &t, NULL));
    snprintf(want, sizeof want, "job %d", j->id);
    ck_assert_str_eq(who, j->login);
    ck_assert_str_eq(t, want);
    j->phase = 5;
  }
  if (j->phase == 5) {
    STEP(j, tdsc_result_next_row(j->r), TDSC_STEP_END);
    j->phase = 6;
  }
  if (j->phase == 6) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_END);
    ck_assert_msg(j->messages == 1, "%d messages: %s", j->messages, why(j));
    j->messages = 0;
    next_op(j);
  }
}

/* OP_LARGE: a 128 KiB value in pieces of 1000 bytes, arriving over many
 * packets. */
static void op_large(job *j) {
  if (j->phase == 0 &&
      !send_request(j, "SELECT CONVERT(varbinary(max), REPLICATE(CONVERT("
                       "varchar(max), 'abcdefgh'), 16384)) AS big, 7 AS "
                       "after"))
    return;
  if (j->phase == 1) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_RESULT);
    j->phase = 2;
  }
  if (j->phase == 2) {
    STEP(j, tdsc_result_next_row(j->r), TDSC_STEP_ROW);
    j->phase = 3;
  }
  while (j->phase == 3) {
    char buf[1000];
    size_t got;
    CALL(j, tdsc_result_read(j->r, 0, buf, sizeof buf, &got));
    for (size_t i = 0; i < got; i++)
      ck_assert_msg(buf[i] == "abcdefgh"[(j->got + i) % 8], "byte %zu: %s",
                    j->got + i, why(j));
    j->got += got;
    if (got == 0)
      j->phase = 4;
  }
  if (j->phase == 4) {
    ck_assert_uint_eq(j->got, 8 * BIG_REPEAT);
    int64_t v;
    CALL(j, tdsc_result_get_int64(j->r, 1, &v));
    ck_assert_int_eq(v, 7);
    j->phase = 5;
  }
  if (j->phase == 5) {
    STEP(j, tdsc_result_next_row(j->r), TDSC_STEP_END);
    j->phase = 6;
  }
  if (j->phase == 6) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_END);
    next_op(j);
  }
}

/* OP_TXN: begin and commit, each resumed after TDSC_E_WOULD_BLOCK. */
static void op_txn(job *j) {
  if (j->phase == 0) {
    CALL(j, tdsc_conn_begin(j->c, TDSC_ISOLATION_UNCHANGED, NULL));
    ck_assert_msg(tdsc_conn_in_transaction(j->c), "%s", why(j));
    j->phase = 1;
  }
  if (j->phase == 1) {
    CALL(j, tdsc_conn_commit(j->c));
    ck_assert_msg(!tdsc_conn_in_transaction(j->c), "%s", why(j));
    next_op(j);
  }
}

/* OP_CANCEL: a WAITFOR of 2 min cancelled after 100 to 300 ms (from the
 * loop, when cancel_at comes). */
static void op_cancel(job *j) {
  if (j->phase == 0) {
    if (!send_request(j, "WAITFOR DELAY '00:02:00'"))
      return;
    j->cancel_at = j->t0 + 100 + (j->id % 3) * 100;
  }
  if (j->phase == 1) {
    if (!j->cancelled && th_now_ms() >= j->cancel_at) {
      tdsc_conn_cancel(j->c);
      j->cancelled = true;
    }
    FAILS(j, tdsc_result_next_set(j->r), TDSC_E_CANCELLED);
    ck_assert_msg(j->cancelled, "%s", why(j));
    ck_assert_msg(tdsc_conn_is_connected(j->c), "%s", why(j));
    j->phase = 2;
  }
  if (j->phase == 2) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_END);
    next_op(j);
  }
}

/* OP_TIMEOUT: a WAITFOR of 2 min under a query timeout of 300 ms. */
static void op_timeout(job *j) {
  if (j->phase == 0) {
    tdsc_conn_set_query_timeout(j->c, 300);
    if (!send_request(j, "WAITFOR DELAY '00:02:00'"))
      return;
    int ms = tdsc_conn_timeout_ms(j->c);
    ck_assert_msg(ms > 0 && ms <= 300, "%d ms", ms);
  }
  if (j->phase == 1) {
    FAILS(j, tdsc_result_next_set(j->r), TDSC_E_QUERY_TIMEOUT);
    long long took = th_now_ms() - j->t0;
    ck_assert_msg(took >= 290, "took %lld ms: %s", took, why(j));
    ck_assert_msg(tdsc_conn_is_connected(j->c), "%s", why(j));
    tdsc_conn_set_query_timeout(j->c, 0);
    j->phase = 2;
  }
  if (j->phase == 2) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_END);
    next_op(j);
  }
}

/* OP_PREPARED: a statement prepared (sp_prepare, resumed), executed with
 * a parameter, freed (its unprepare queued behind). */
static void op_prepared(job *j) {
  if (j->phase == 0) {
    j->stmt = tdsc_stmt_new_sql(j->c, "SELECT @x + 1 AS y");
    ck_assert_ptr_nonnull(j->stmt);
    ck_assert_int_eq(
        tdsc_stmt_bind_int64(j->stmt, "@x", TDSC_TYPE_INT, 1000 + j->id),
        TDSC_OK);
    j->phase = 1;
  }
  if (j->phase == 1) {
    CALL(j, tdsc_stmt_prepare(j->stmt));
    j->phase = 2;
  }
  if (j->phase == 2) {
    CALL(j, tdsc_stmt_execute(j->stmt, &j->r));
    if (++in_flight > max_in_flight)
      max_in_flight = in_flight;
    j->phase = 3;
  }
  if (j->phase == 3) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_RESULT);
    j->phase = 4;
  }
  if (j->phase == 4) {
    STEP(j, tdsc_result_next_row(j->r), TDSC_STEP_ROW);
    int64_t y;
    CALL(j, tdsc_result_get_int64(j->r, 0, &y));
    ck_assert_int_eq(y, 1001 + j->id);
    j->phase = 5;
  }
  if (j->phase == 5) {
    STEP(j, tdsc_result_next_set(j->r), TDSC_STEP_END);
    tdsc_result_free(j->r);
    j->r = NULL;
    in_flight--;
    tdsc_stmt_free(j->stmt);
    j->stmt = NULL;
    next_op(j);
  }
}

/* Runs j until a call would block or its script ends. */
static void job_step(job *j) {
  j->waiting = false;
  while (!j->done && !j->waiting) {
    switch (j->ops[j->op]) {
    case OP_ROWS:
      op_rows(j);
      break;
    case OP_LARGE:
      op_large(j);
      break;
    case OP_TXN:
      op_txn(j);
      break;
    case OP_CANCEL:
      op_cancel(j);
      break;
    case OP_TIMEOUT:
      op_timeout(j);
      break;
    case OP_PREPARED:
      op_prepared(j);
      break;
    }
    if (j->op == NOPS)
      j->done = true;
  }
}

#define NJOBS 60

static const struct {
  const char *how, *server_fmt, *extra, *login;
} kinds[] = {
    {"tcp sql", "tcp:localhost,%d", "Authentication=sql;UID=sa;PWD=Secret-123",
     "sa"},
    {"tcp kerberos", "tcp:localhost,%d", "Authentication=kerberos",
     "TDSC\\alice"},
    {"tcp ntlm", "tcp:localhost,%d",
     "Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw",
     "TDSC\\alice"},
    {"pipe sql", "np:%s", "Authentication=sql;UID=sa;PWD=Secret-123", "sa"},
    {"pipe kerberos", "np:%s", "Authentication=kerberos", "TDSC\\alice"},
    {"pipe ntlm", "np:%s",
     "Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw",
     "TDSC\\alice"},
};

static void open_job(job *j, int id) {
  size_t k = (size_t)id % (sizeof kinds / sizeof kinds[0]);
  char server[800], cs[3000];
  if (kinds[k].server_fmt[0] == 't')
    snprintf(server, sizeof server, kinds[k].server_fmt, port);
  else
    snprintf(server, sizeof server, kinds[k].server_fmt, pipepath);
  snprintf(cs, sizeof cs,
           "Server=%s;CAFile=%s;HostNameInCertificate=localhost;"
           "LoginTimeout=20;%s",
           server, th_cert("ca.pem"), kinds[k].extra);
  memset(j, 0, sizeof *j);
  j->id = id;
  j->how = kinds[k].how;
  j->login = kinds[k].login;
  j->c = tdsc_conn_new();
  ck_assert_ptr_nonnull(j->c);
  /* set before the connect: the connect blocks anyway */
  ck_assert_int_eq(tdsc_conn_set_nonblocking(j->c, true), TDSC_OK);
  ck_assert_msg(tdsc_conn_connect(j->c, cs) == TDSC_OK, "%s: %s", j->how,
                th_report(j->c));
  ck_assert_str_eq(tdsc_conn_encryption(j->c), "tds7");
  ck_assert(tdsc_conn_is_nonblocking(j->c));
  ck_assert_int_ne(tdsc_conn_socket(j->c), TDSC_INVALID_SOCKET);
  ck_assert_int_eq(tdsc_conn_wants(j->c), 0);
  ck_assert_int_eq(tdsc_conn_timeout_ms(j->c), -1);
  tdsc_conn_set_message_handler(j->c, on_message, j);
  /* everyone starts with rows behind a WAITFOR and ends with rows (the
   * connection took requests after whatever came before) */
  static const op_kind middle[] = {OP_CANCEL, OP_TIMEOUT, OP_TXN, OP_LARGE,
                                   OP_PREPARED};
  j->ops[0] = OP_ROWS;
  j->ops[1] = middle[id % 5];
  j->ops[2] = OP_LARGE;
  j->ops[3] = middle[(id / 5) % 5];
  j->ops[4] = OP_ROWS;
}

START_TEST(many_connections_in_one_thread) {
  serve();
  static job jobs[NJOBS];
  struct pollfd pfd[NJOBS];
  /* Under valgrind every call costs fifty times as much: 12 connections
   * (two of each kind), and a longer bound; the plain and sanitizer runs
   * take all 60. */
  const char *pre = getenv("LD_PRELOAD");
  bool vg = pre && strstr(pre, "vgpreload");
  const int njobs = vg ? 12 : NJOBS;
  const long long bound_ms = vg ? 600000 : 200000;
  for (int i = 0; i < njobs; i++)
    open_job(&jobs[i], i);
  long long start = th_now_ms();
  for (int i = 0; i < njobs; i++)
    job_step(&jobs[i]);
  int left = njobs;
  while (left > 0) {
    if (th_now_ms() - start > bound_ms) {
      for (int i = 0; i < njobs; i++)
        if (!jobs[i].done)
          fprintf(stderr, "left: job %d (%s) op %d (%d) phase %d, wants %d, "
                  "timeout %d ms\n", i, jobs[i].how, jobs[i].op,
                  (int)jobs[i].ops[jobs[i].op], jobs[i].phase,
                  tdsc_conn_wants(jobs[i].c), tdsc_conn_timeout_ms(jobs[i].c));
      ck_abort_msg("%d jobs left after %lld s", left, bound_ms / 1000);
    }
    int timeout = -1;
    for (int i = 0; i < njobs; i++) {
      job *j = &jobs[i];
      pfd[i].fd = -1;
      pfd[i].events = 0;
      pfd[i].revents = 0;
      if (j->done)
        continue;
      int w = tdsc_conn_wants(j->c);
      ck_assert_msg(w != 0, "%s", why(j));
      pfd[i].fd = tdsc_conn_socket(j->c);
      pfd[i].events = (short)((w & TDSC_WANT_READ ? POLLIN : 0) |
                              (w & TDSC_WANT_WRITE ? POLLOUT : 0));
      int t = tdsc_conn_timeout_ms(j->c);
      if (j->ops[j->op] == OP_CANCEL && j->phase == 1 && !j->cancelled) {
        long long c = j->cancel_at - th_now_ms();
        if (t < 0 || c < t)
          t = c < 0 ? 0 : (int)c;
      }
      if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    }
    int n = poll(pfd, (nfds_t)njobs, timeout);
    ck_assert_int_ge(n, 0);
    for (int i = 0; i < njobs; i++) {
      job *j = &jobs[i];
      if (j->done)
        continue;
      bool due = tdsc_conn_timeout_ms(j->c) == 0 ||
                 (j->ops[j->op] == OP_CANCEL && j->phase == 1 &&
                  !j->cancelled && th_now_ms() >= j->cancel_at);
      if (pfd[i].revents || due) {
        job_step(j);
        if (j->done)
          left--;
      }
    }
  }
  /* all were waiting for the server at once, and it took waiting */
  ck_assert_int_eq(max_in_flight, njobs);
  ck_assert_int_gt(would_block, njobs);
  for (int i = 0; i < njobs; i++) {
    ck_assert_int_eq(tdsc_conn_wants(jobs[i].c), 0);
    tdsc_conn_free(jobs[i].c);
  }
  teardown();
}
END_TEST

/* ------------------------------------------------- one connection, closer */

#define OK(c, call)                                                           \
  ck_assert_msg((call) == TDSC_OK, "%s: %s", #call, th_report(c))

/* Waits (poll) until c may progress, as an event loop would. */
static void wait_for(tdsc_conn *c) {
  int w = tdsc_conn_wants(c);
  ck_assert_int_ne(w, 0);
  struct pollfd p = {.fd = tdsc_conn_socket(c),
                     .events = (short)((w & TDSC_WANT_READ ? POLLIN : 0) |
                                       (w & TDSC_WANT_WRITE ? POLLOUT : 0))};
  ck_assert_int_ge(poll(&p, 1, tdsc_conn_timeout_ms(c)), 0);
}

static bool would_block_now(tdsc_conn *c) {
  const tdsc_error *e = tdsc_conn_error(c);
  return e && tdsc_error_code(e) == TDSC_E_WOULD_BLOCK;
}

/* 3^6 rows */
#define SIX_WAY                                                               \
  "SELECT a.id AS x, b.id AS y FROM typed a, typed b, typed c, typed d, "     \
  "typed e, typed f"

/* An edge-triggered loop drains the descriptor with tdsc_conn_consume at
 * each event, then steps until a step would block; a result freed half
 * way leaves its rest to the next request; the usage errors; and the
 * same connection back in blocking mode. */
START_TEST(consume_flush_a_freed_result_and_back_to_blocking) {
  ck_assert_msg(th_server_start(&srv, (const char *)NULL),
                "the test server did not start");
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_int_eq(tdsc_conn_set_nonblocking(NULL, true),
                   TDSC_E_INVALID_ARGUMENT);
  ck_assert_int_eq(tdsc_conn_flush(c), TDSC_E_NOT_CONNECTED);
  ck_assert_int_eq(tdsc_conn_consume(c), TDSC_E_NOT_CONNECTED);
  ck_assert_int_eq(tdsc_conn_flush(NULL), TDSC_E_INVALID_ARGUMENT);
  ck_assert_int_eq(tdsc_conn_consume(NULL), TDSC_E_INVALID_ARGUMENT);
  ck_assert_int_eq(tdsc_conn_socket(c), TDSC_INVALID_SOCKET);
  ck_assert_int_eq(tdsc_conn_wants(c), 0);
  ck_assert_int_eq(tdsc_conn_timeout_ms(c), -1);
  ck_assert(!tdsc_conn_is_nonblocking(c));
  OK(c, tdsc_conn_connect(c, th_connstr(&srv, "")));
  OK(c, tdsc_conn_set_nonblocking(c, true));

  tdsc_result *r;
  OK(c, tdsc_conn_execute(c, SIX_WAY, &r));
  OK(c, tdsc_conn_flush(c)); /* a small request: all of it went */
  ck_assert_int_eq(tdsc_conn_wants(c), TDSC_WANT_READ);
  int rows = 0;
  int64_t sum = 0;
  bool in_rows = false, end = false;
  while (!end) {
    wait_for(c);
    OK(c, tdsc_conn_consume(c));
    for (;;) {
      tdsc_step st = in_rows ? tdsc_result_next_row(r)
                             : tdsc_result_next_set(r);
      if (st == TDSC_STEP_ERROR) {
        /* (whether a step waits depends on the server's speed) */
        ck_assert_msg(would_block_now(c), "%s", th_report(c));
        break;
      }
      if (st == TDSC_STEP_RESULT) {
        in_rows = true;
      } else if (st == TDSC_STEP_ROW) {
        int64_t x;
        OK(c, tdsc_result_get_int64(r, 0, &x));
        sum += x;
        rows++;
      } else if (in_rows) {
        in_rows = false;
      } else {
        end = true;
        break;
      }
    }
  }
  ck_assert_int_eq(rows, 729);
  ck_assert_int_eq(sum, 243 * (1 + 2 + 3));
  tdsc_result_free(r);
  ck_assert_int_eq(tdsc_conn_wants(c), 0);

  /* freed before its answer came (the server waits a second first):
   * returns at once, and the answer is read by the next request, which
   * would block for it */
  OK(c, tdsc_conn_execute(c, "WAITFOR DELAY '00:00:01'; SELECT id FROM typed",
                          &r));
  tdsc_result_free(r);
  ck_assert_int_eq(tdsc_conn_wants(c), TDSC_WANT_READ);
  tdsc_errc rc;
  int tries = 0;
  while ((rc = tdsc_conn_execute(c, "SELECT N'next' AS t", &r)) ==
         TDSC_E_WOULD_BLOCK) {
    ck_assert_ptr_null(r);
    tries++;
    wait_for(c);
  }
  OK(c, rc);
  ck_assert_int_gt(tries, 0);
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_ERROR &&
         would_block_now(c))
    wait_for(c);
  ck_assert_int_eq(st, TDSC_STEP_RESULT);
  while ((st = tdsc_result_next_row(r)) == TDSC_STEP_ERROR &&
         would_block_now(c))
    wait_for(c);
  ck_assert_int_eq(st, TDSC_STEP_ROW);
  const char *t;
  OK(c, tdsc_result_get_text(r, 0, &t, NULL));
  ck_assert_str_eq(t, "next");
  tdsc_result_free(r);

  /* blocking again: the same calls wait */
  OK(c, tdsc_conn_set_nonblocking(c, false));
  OK(c, tdsc_conn_execute(c, "SELECT N'blocking' AS t", &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  OK(c, tdsc_result_get_text(r, 0, &t, NULL));
  ck_assert_str_eq(t, "blocking");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);

  /* a transaction request left waiting ends with the connection: after
   * a reconnect, a commit is a request of its own (3902: no transaction),
   * not the old one's answer */
  OK(c, tdsc_conn_set_nonblocking(c, true));
  rc = tdsc_conn_begin(c, TDSC_ISOLATION_UNCHANGED, NULL);
  /* (the server is never that fast, but an answer in time is no error) */
  ck_assert_msg(rc == TDSC_E_WOULD_BLOCK || rc == TDSC_OK, "%s",
                th_report(c));
  tdsc_conn_close(c);
  OK(c, tdsc_conn_connect(c, th_connstr(&srv, "")));
  while ((rc = tdsc_conn_commit(c)) == TDSC_E_WOULD_BLOCK)
    wait_for(c);
  ck_assert_msg(rc == TDSC_E_SERVER_ERROR, "%s", th_report(c));
  ck_assert_int_eq(
      tdsc_message_number(tdsc_error_server_message(tdsc_conn_error(c))),
      3902);
  tdsc_conn_free(c);
  th_server_stop(&srv);
}
END_TEST

/* A server that never acknowledges the attention: after the query
 * timeout the deadline becomes CancelTimeout's, then the connection is
 * closed with READ_TIMEOUT, in non-blocking mode as in blocking mode. */
START_TEST(an_unacknowledged_timeout_closes_the_connection) {
  ck_assert_msg(th_server_start(&srv, "--misbehave", "ignore-attention",
                                (const char *)NULL),
                "the test server did not start");
  tdsc_conn *c = tdsc_conn_new();
  OK(c, tdsc_conn_connect(c, th_connstr(&srv, "QueryTimeout=1;"
                                              "CancelTimeout=1")));
  OK(c, tdsc_conn_set_nonblocking(c, true));
  tdsc_result *r;
  OK(c, tdsc_conn_execute(c, "WAITFOR DELAY '00:00:30'", &r));
  long long t0 = th_now_ms();
  int ms = tdsc_conn_timeout_ms(c);
  ck_assert_msg(ms > 0 && ms <= 1000, "%d ms", ms);
  bool saw_attention_deadline = false;
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_ERROR &&
         would_block_now(c)) {
    /* the query timeout has passed: the attention waits for its ack */
    if (th_now_ms() - t0 >= 1000 && tdsc_conn_timeout_ms(c) > 0)
      saw_attention_deadline = true;
    wait_for(c);
  }
  ck_assert_int_eq(st, TDSC_STEP_ERROR);
  ck_assert_msg(tdsc_error_code(tdsc_conn_error(c)) == TDSC_E_READ_TIMEOUT,
                "%s", th_report(c));
  ck_assert(saw_attention_deadline);
  ck_assert_int_ge(th_now_ms() - t0, 1900);
  ck_assert(!tdsc_conn_is_connected(c));
  ck_assert_int_eq(tdsc_conn_socket(c), TDSC_INVALID_SOCKET);
  tdsc_result_free(r);
  tdsc_conn_free(c);
  th_server_stop(&srv);
}
END_TEST

static Suite *async_suite(void) {
  Suite *s = suite_create("async");
  TCase *tc = tcase_create("async");
  tcase_set_timeout(tc, 400);
  tcase_add_test(tc, many_connections_in_one_thread);
  tcase_add_test(tc, consume_flush_a_freed_result_and_back_to_blocking);
  tcase_add_test(tc, an_unacknowledged_timeout_closes_the_connection);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_realm();
  return th_run_suite(async_suite());
}
