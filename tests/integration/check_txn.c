/* Transactions against the test server, which maps them onto SQLite's and,
 * as SQL Server does, refuses a request whose ALL_HEADERS descriptor is not
 * the open transaction's (error 3989): so every query inside a transaction
 * below also checks that the descriptor from ENVCHANGE is tracked and sent.
 * Transaction manager requests (begin, commit, rollback, savepoints), SQL
 * BEGIN TRAN tracked alike, and the server's refusals. */
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static th_server srv;
static tdsc_conn *conn;

static const char *report(void) { return th_report(conn); }

#define OK(call) ck_assert_msg((call) == TDSC_OK, "%s: %s", #call, report())

static void up(void) {
  ck_assert_msg(th_server_start(&srv, (const char *)NULL),
                "the test server did not start");
  conn = tdsc_conn_new();
  OK(tdsc_conn_connect(conn, th_connstr(&srv, "")));
}

static void down(void) {
  tdsc_conn_free(conn);
  conn = NULL;
  th_server_stop(&srv);
}

/* Runs a batch to its end; TDSC_OK or the first error. */
static tdsc_errc batch(const char *sql) {
  tdsc_result *r;
  tdsc_errc rc = tdsc_conn_execute(conn, sql, &r);
  if (rc != TDSC_OK)
    return rc;
  tdsc_step s;
  tdsc_errc first = TDSC_OK;
  while ((s = tdsc_result_next_set(r)) != TDSC_STEP_END)
    if (s == TDSC_STEP_ERROR && first == TDSC_OK) {
      first = tdsc_error_code(tdsc_conn_error(conn));
      break;
    }
  tdsc_result_free(r);
  return first;
}

static int64_t count(const char *where) {
  char sql[256];
  tdsc_result *r;
  int64_t n = -1;
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM txn_t WHERE %s", where);
  OK(tdsc_conn_execute(conn, sql, &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_msg(tdsc_result_next_row(r) == TDSC_STEP_ROW, "%s", report());
  OK(tdsc_result_get_int64(r, 0, &n));
  tdsc_result_free(r);
  return n;
}

static int64_t trancount(void) {
  tdsc_result *r;
  int64_t n = -1;
  OK(tdsc_conn_execute(conn, "SELECT @@TRANCOUNT", &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_msg(tdsc_result_next_row(r) == TDSC_STEP_ROW, "%s", report());
  OK(tdsc_result_get_int64(r, 0, &n));
  tdsc_result_free(r);
  return n;
}

static void make_table(void) {
  OK(batch("CREATE TABLE txn_t (id int NOT NULL PRIMARY KEY, v nvarchar(20))"));
}

START_TEST(rollback_undoes_and_commit_keeps) {
  up();
  make_table();
  ck_assert(!tdsc_conn_in_transaction(conn));
  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, NULL));
  ck_assert(tdsc_conn_in_transaction(conn));
  ck_assert_int_eq(trancount(), 1);
  OK(batch("INSERT INTO txn_t VALUES (1, N'gone')"));
  ck_assert_int_eq(count("id = 1"), 1); /* visible inside */
  OK(tdsc_conn_rollback(conn));
  ck_assert(!tdsc_conn_in_transaction(conn));
  ck_assert_int_eq(count("id = 1"), 0);
  ck_assert_int_eq(trancount(), 0);

  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_READ_COMMITTED, "t1"));
  OK(batch("INSERT INTO txn_t VALUES (2, N'kept')"));
  OK(tdsc_conn_commit(conn));
  ck_assert(!tdsc_conn_in_transaction(conn));
  ck_assert_int_eq(count("id = 2"), 1);
  down();
}
END_TEST

START_TEST(a_savepoint_rolls_back_part_of_a_transaction) {
  up();
  make_table();
  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, NULL));
  OK(batch("INSERT INTO txn_t VALUES (1, N'before')"));
  OK(tdsc_conn_savepoint(conn, "sp_één")); /* a non-ASCII name */
  OK(batch("INSERT INTO txn_t VALUES (2, N'after')"));
  OK(tdsc_conn_rollback_to(conn, "sp_één"));
  ck_assert(tdsc_conn_in_transaction(conn)); /* still open */
  ck_assert_int_eq(count("id = 2"), 0);
  OK(batch("INSERT INTO txn_t VALUES (3, N'later')"));
  OK(tdsc_conn_commit(conn));
  ck_assert_int_eq(count("id IN (1, 3)"), 2);
  ck_assert_int_eq(count("id = 2"), 0);
  down();
}
END_TEST

/* BEGIN TRAN in SQL: the descriptor comes from the same ENVCHANGE, later
 * requests (SQL or RPC) carry it, and the API ends the transaction. */
START_TEST(a_transaction_begun_in_sql_is_tracked) {
  up();
  make_table();
  OK(batch("BEGIN TRANSACTION"));
  ck_assert(tdsc_conn_in_transaction(conn));
  OK(batch("INSERT INTO txn_t VALUES (7, N'sql')"));
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "INSERT INTO txn_t VALUES (@id, N'rpc')");
  OK(tdsc_stmt_bind_int64(s, "@id", TDSC_TYPE_INT, 8));
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) != TDSC_STEP_END)
    ck_assert_msg(st != TDSC_STEP_ERROR, "%s", report());
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  OK(tdsc_conn_rollback(conn));
  ck_assert(!tdsc_conn_in_transaction(conn));
  ck_assert_int_eq(count("id IN (7, 8)"), 0);
  /* and the other way round: begun by the API, committed in SQL */
  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, NULL));
  OK(batch("INSERT INTO txn_t VALUES (9, N'x'); COMMIT"));
  ck_assert(!tdsc_conn_in_transaction(conn));
  ck_assert_int_eq(count("id = 9"), 1);
  down();
}
END_TEST

static void expect_server_error(tdsc_errc rc, int number) {
  ck_assert_int_eq(rc, TDSC_E_SERVER_ERROR);
  const tdsc_message *m = tdsc_error_server_message(tdsc_conn_error(conn));
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(tdsc_message_number(m), number);
}

START_TEST(the_servers_refusals_are_server_errors) {
  up();
  make_table();
  expect_server_error(tdsc_conn_commit(conn), 3902);
  expect_server_error(tdsc_conn_rollback(conn), 3903);
  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, NULL));
  expect_server_error(tdsc_conn_rollback_to(conn, "never_saved"), 6401);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(conn)),
                               "never_saved"));
  /* the connection and the transaction are still usable */
  OK(batch("INSERT INTO txn_t VALUES (1, N'x')"));
  OK(tdsc_conn_commit(conn));
  ck_assert_int_eq(count("id = 1"), 1);
  down();
}
END_TEST

START_TEST(misuse_is_refused_before_any_traffic) {
  up();
  ck_assert_int_eq(tdsc_conn_begin(conn, (tdsc_isolation)9, NULL),
                   TDSC_E_INVALID_ARGUMENT);
  ck_assert_int_eq(tdsc_conn_savepoint(conn, ""), TDSC_E_INVALID_ARGUMENT);
  char longname[300];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  ck_assert_int_eq(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, longname),
                   TDSC_E_INVALID_ARGUMENT);
  tdsc_result *r;
  OK(tdsc_conn_execute(conn, "SELECT 1", &r));
  ck_assert_int_eq(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, NULL),
                   TDSC_E_BUSY);
  tdsc_result_free(r);
  ck_assert(!tdsc_conn_in_transaction(conn));
  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_SERIALIZABLE, NULL));
  OK(tdsc_conn_rollback(conn));
  tdsc_conn_close(conn);
  ck_assert_int_eq(tdsc_conn_commit(conn), TDSC_E_NOT_CONNECTED);
  down();
}
END_TEST

/* A connection that closes inside a transaction leaves nothing behind:
 * the server rolls it back. */
START_TEST(closing_inside_a_transaction_rolls_it_back) {
  up();
  make_table();
  OK(tdsc_conn_begin(conn, TDSC_ISOLATION_UNCHANGED, NULL));
  OK(batch("INSERT INTO txn_t VALUES (5, N'orphan')"));
  tdsc_conn_close(conn);
  ck_assert(!tdsc_conn_in_transaction(conn));
  OK(tdsc_conn_connect(conn, th_connstr(&srv, "")));
  ck_assert_int_eq(count("id = 5"), 0);
  down();
}
END_TEST

static Suite *txn_suite(void) {
  Suite *s = suite_create("transactions");
  TCase *tc = tcase_create("txn");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, rollback_undoes_and_commit_keeps);
  tcase_add_test(tc, a_savepoint_rolls_back_part_of_a_transaction);
  tcase_add_test(tc, a_transaction_begun_in_sql_is_tracked);
  tcase_add_test(tc, the_servers_refusals_are_server_errors);
  tcase_add_test(tc, misuse_is_refused_before_any_traffic);
  tcase_add_test(tc, closing_inside_a_transaction_rolls_it_back);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(txn_suite());
}
