/* Cancel and query timeouts against the test server: WAITFOR DELAY and
 * large results stopped by an attention from another thread, by the
 * connection's and the statement's timeouts, over TLS, shared memory and
 * the pipe; each time the server's DONE_ATTN is consumed and the
 * connection takes the next query.  A server that never acknowledges
 * costs the connection, within CancelTimeout. */
#define _DEFAULT_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static th_server srv;
static tdsc_conn *conn;

static const char *report(void) { return th_report(conn); }

#define OK(call) ck_assert_msg((call) == TDSC_OK, "%s: %s", #call, report())

static void up_with(const char *opt1, const char *opt2, const char *extra) {
  ck_assert_msg(th_server_start(&srv, opt1, opt2, (const char *)NULL),
                "the test server did not start");
  conn = tdsc_conn_new();
  OK(tdsc_conn_connect(conn, th_connstr(&srv, extra)));
}

static void up(void) { up_with(NULL, NULL, ""); }

static void down(void) {
  tdsc_conn_free(conn);
  conn = NULL;
  th_server_stop(&srv);
}

/* The connection answers a query after the cancel: the acknowledgement
 * was consumed, nothing of the old response is left in the stream. */
static void still_usable(void) {
  tdsc_result *r;
  const char *t;
  ck_assert(tdsc_conn_is_connected(conn));
  OK(tdsc_conn_execute(conn, "SELECT N'after' AS v", &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_msg(tdsc_result_next_row(r) == TDSC_STEP_ROW, "%s", report());
  OK(tdsc_result_get_text(r, 0, &t, NULL));
  ck_assert_str_eq(t, "after");
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
}

static char last_message[1024];

/* Runs sql and steps to its first error; returns the code and how long
 * the failing step took (its message is in last_message). */
static tdsc_errc run_to_error(const char *sql, long long *took) {
  tdsc_result *r;
  long long t0 = th_now_ms();
  OK(tdsc_conn_execute(conn, sql, &r));
  tdsc_step s;
  while ((s = tdsc_result_next_set(r)) == TDSC_STEP_RESULT)
    while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW)
      ;
  *took = th_now_ms() - t0;
  tdsc_errc rc = s == TDSC_STEP_ERROR ? tdsc_error_code(tdsc_conn_error(conn))
                                      : TDSC_OK;
  snprintf(last_message, sizeof last_message, "%s",
           rc ? tdsc_error_message(tdsc_conn_error(conn)) : "");
  if (tdsc_conn_is_connected(conn)) /* it is over */
    ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  return rc;
}

typedef struct {
  tdsc_conn *c;
  unsigned delay_ms;
} canceller;

static void *cancel_later(void *arg) {
  canceller *k = arg;
  usleep(k->delay_ms * 1000u);
  tdsc_conn_cancel(k->c);
  return NULL;
}

static void cancel_waitfor_from_a_thread(void) {
  pthread_t th;
  canceller k = {conn, 300};
  long long took;
  ck_assert_int_eq(pthread_create(&th, NULL, cancel_later, &k), 0);
  tdsc_errc rc = run_to_error("WAITFOR DELAY '00:00:20'; SELECT 1", &took);
  pthread_join(th, NULL);
  ck_assert_msg(rc == TDSC_E_CANCELLED, "%s", report());
  ck_assert_msg(took >= 250 && took < 8000, "took %lld ms", took);
  still_usable();
}

START_TEST(a_cancel_from_another_thread_stops_waitfor_over_tls) {
  up();
  ck_assert_str_eq(tdsc_conn_encryption(conn), "tds7");
  cancel_waitfor_from_a_thread();
  cancel_waitfor_from_a_thread(); /* and again on the same connection */
  down();
}
END_TEST

/* The attention travels every transport: shared memory and the pipe. */
START_TEST(a_cancel_works_over_shared_memory_and_the_pipe) {
  char dir[] = "/tmp/tdsc-cancel.XXXXXX", shm[64], pipe[64], cs[1024];
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(shm, sizeof shm, "%s/MSSQLSERVER.shm", dir);
  snprintf(pipe, sizeof pipe, "%s/query.sock", dir);
  ck_assert_msg(th_server_start(&srv, "--shm", shm, "--pipe", pipe,
                                (const char *)NULL),
                "the test server did not start");
  static const char *const targets[] = {"shm:", "np:"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(cs, sizeof cs,
             "Server=%s%s;LocalDir=%s;UID=sa;PWD=Secret-123;CAFile=%s",
             targets[i], i ? pipe : "", dir, th_cert("ca.pem"));
    conn = tdsc_conn_new();
    OK(tdsc_conn_connect(conn, cs));
    ck_assert_str_eq(tdsc_attempt_transport(tdsc_conn_attempt_at(conn, 0)),
                     i ? "np" : "shm");
    cancel_waitfor_from_a_thread();
    tdsc_conn_free(conn);
  }
  conn = NULL;
  th_server_stop(&srv);
  rmdir(dir);
}
END_TEST

START_TEST(a_cancel_works_without_tls_too) {
  /* TLS for the login only: the attention goes in clear */
  up_with("--encryption", "off", "Encrypt=optional");
  ck_assert_str_eq(tdsc_conn_encryption(conn), "login-only");
  cancel_waitfor_from_a_thread();
  down();
}
END_TEST

START_TEST(the_connection_query_timeout_cancels_and_keeps_the_connection) {
  long long took;
  up_with(NULL, NULL, "QueryTimeout=1");
  tdsc_errc rc = run_to_error("WAITFOR DELAY '00:00:20'", &took);
  ck_assert_msg(rc == TDSC_E_QUERY_TIMEOUT, "%s", report());
  ck_assert_msg(took >= 900 && took < 8000, "took %lld ms", took);
  ck_assert_msg(strstr(last_message, "1000 ms"), "%s", last_message);
  still_usable();
  /* changed at run time */
  tdsc_conn_set_query_timeout(conn, 300);
  rc = run_to_error("WAITFOR DELAY '00:00:20'", &took);
  ck_assert_int_eq(rc, TDSC_E_QUERY_TIMEOUT);
  ck_assert_msg(took >= 250 && took < 5000, "took %lld ms", took);
  still_usable();
  /* a query that answers in time is not disturbed */
  rc = run_to_error("WAITFOR DELAY '00:00:00.100'; SELECT 1", &took);
  ck_assert_msg(rc == TDSC_OK, "%s", report());
  down();
}
END_TEST

START_TEST(a_statement_timeout_overrides_the_connections) {
  up(); /* no connection timeout */
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "WAITFOR DELAY '00:00:20'");
  tdsc_stmt_set_query_timeout(s, 300);
  tdsc_result *r;
  long long t0 = th_now_ms();
  OK(tdsc_stmt_execute(s, &r));
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_RESULT)
    ;
  long long took = th_now_ms() - t0;
  ck_assert_int_eq(st, TDSC_STEP_ERROR);
  ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(conn)),
                   TDSC_E_QUERY_TIMEOUT);
  ck_assert_msg(took >= 250 && took < 5000, "took %lld ms", took);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  still_usable();
  down();
}
END_TEST

/* A cancel between rows of a large result: the next step sends the
 * attention and the rest of the result is dropped. */
START_TEST(a_cancel_between_rows_ends_a_large_result) {
  up();
  tdsc_result *r;
  OK(tdsc_conn_execute(conn,
                       "SELECT a.id, b.id FROM typed a, typed b, typed c, "
                       "typed d, typed e, typed f, typed g, typed h, typed i, "
                       "typed j, typed k", /* 3^11 = 177147 rows */
                       &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  for (int i = 0; i < 5; i++)
    ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  tdsc_conn_cancel(conn);
  tdsc_step s;
  int more = 0;
  while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW)
    more++; /* rows already in the buffer may still come */
  ck_assert_int_eq(s, TDSC_STEP_ERROR);
  ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(conn)), TDSC_E_CANCELLED);
  ck_assert_int_lt(more, 170000);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  still_usable();
  /* and freeing a result after a cancel stops it too */
  OK(tdsc_conn_execute(conn, "WAITFOR DELAY '00:00:20'", &r));
  tdsc_conn_cancel(conn);
  long long t0 = th_now_ms();
  tdsc_result_free(r);
  ck_assert_int_lt(th_now_ms() - t0, 8000);
  still_usable();
  down();
}
END_TEST

START_TEST(a_cancel_while_idle_is_forgotten) {
  up();
  tdsc_conn_cancel(conn);
  still_usable();
  tdsc_conn_cancel(NULL); /* harmless */
  down();
}
END_TEST

/* A server that reads the attention and never answers: the connection
 * is closed after CancelTimeout, with a code that says so. */
START_TEST(an_unacknowledged_cancel_closes_the_connection_in_time) {
  long long took;
  up_with("--misbehave", "ignore-attention", "QueryTimeout=1;CancelTimeout=1");
  tdsc_errc rc = run_to_error("WAITFOR DELAY '00:00:30'", &took);
  ck_assert_msg(rc == TDSC_E_READ_TIMEOUT, "%s", report());
  ck_assert_msg(strstr(last_message, "CancelTimeout"), "%s", last_message);
  ck_assert_msg(took >= 1800 && took < 10000, "took %lld ms", took);
  ck_assert(!tdsc_conn_is_connected(conn));
  down();
}
END_TEST

static Suite *cancel_suite(void) {
  Suite *s = suite_create("cancel");
  TCase *tc = tcase_create("cancel");
  tcase_set_timeout(tc, 90);
  tcase_add_test(tc, a_cancel_from_another_thread_stops_waitfor_over_tls);
  tcase_add_test(tc, a_cancel_works_without_tls_too);
  tcase_add_test(tc, a_cancel_works_over_shared_memory_and_the_pipe);
  tcase_add_test(tc, the_connection_query_timeout_cancels_and_keeps_the_connection);
  tcase_add_test(tc, a_statement_timeout_overrides_the_connections);
  tcase_add_test(tc, a_cancel_between_rows_ends_a_large_result);
  tcase_add_test(tc, a_cancel_while_idle_is_forgotten);
  tcase_add_test(tc, an_unacknowledged_cancel_closes_the_connection_in_time);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(cancel_suite());
}
