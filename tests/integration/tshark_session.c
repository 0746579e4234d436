/* A full client session for tests/integration/tshark.sh, through the
 * public API only: every kind of request the library sends (SQL batches,
 * RPCs by name and by id, sp_prepare / sp_execute / sp_unprepare,
 * transaction-manager requests, an attention), and replies with every
 * data type of the sample database, so that tshark's TDS dissector reads
 * each of them from the capture.  Usage: tshark_session CONNSTR.  Exit 0
 * when every request got its expected answer. */
#include "tdsclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tdsc_conn *c;

static void die(const char *what) {
  fprintf(stderr, "tshark_session: %s: %s\n", what,
          tdsc_error_report(tdsc_conn_error(c)));
  exit(1);
}

/* Runs sql and reads every result and row; returns the rows seen. */
static int batch(const char *sql, tdsc_errc want) {
  tdsc_result *r;
  int rows = 0;
  if (tdsc_conn_execute(c, sql, &r) != TDSC_OK)
    die(sql);
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_RESULT)
    while (tdsc_result_next_row(r) == TDSC_STEP_ROW) {
      for (size_t i = 0; i < tdsc_result_column_count(r); i++) {
        const char *s;
        bool null;
        if (tdsc_result_is_null(r, i, &null) != TDSC_OK)
          die("is_null");
        if (!null && tdsc_result_get_text(r, i, &s, NULL) != TDSC_OK)
          die("a value as text");
      }
      rows++;
    }
  if (st == TDSC_STEP_ERROR &&
      tdsc_error_code(tdsc_conn_error(c)) != want)
    die(sql);
  if (st != TDSC_STEP_ERROR && want != TDSC_OK) {
    fprintf(stderr, "tshark_session: %s: no error\n", sql);
    exit(1);
  }
  tdsc_result_free(r);
  return rows;
}

static void drain_stmt(tdsc_stmt *s, const char *what) {
  tdsc_result *r;
  if (tdsc_stmt_execute(s, &r) != TDSC_OK)
    die(what);
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_RESULT)
    while (tdsc_result_next_row(r) == TDSC_STEP_ROW)
      ;
  if (st == TDSC_STEP_ERROR)
    die(what);
  tdsc_result_free(r);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: tshark_session CONNSTR\n");
    return 2;
  }
  c = tdsc_conn_new();
  if (!c || tdsc_conn_connect(c, argv[1]) != TDSC_OK)
    die("connect");

  /* SQL batches: every type of the sample database (large values span
   * many packets), a PRINT, a server error, row counts */
  if (batch("SELECT * FROM typed ORDER BY id", TDSC_OK) != 3)
    die("typed rows");
  batch("PRINT N'from PRINT'; SELECT id, name FROM people", TDSC_OK);
  batch("SELECT * FROM no_such_table", TDSC_E_SERVER_ERROR);
  batch("CREATE TABLE cap (id int, s nvarchar(20)); "
        "INSERT INTO cap VALUES (1, N'one'), (2, NULL)",
        TDSC_OK);

  /* RPCs: sp_executesql with parameters, a procedure by name with an
   * OUTPUT parameter, sp_prepare / sp_execute / sp_unprepare */
  tdsc_stmt *s = tdsc_stmt_new_sql(c, "SELECT @a + 1, @t");
  if (!s || tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, 41) != TDSC_OK ||
      tdsc_stmt_bind_text(s, "@t", TDSC_TYPE_NVARCHAR, "Grüße", 6) != TDSC_OK)
    die("bind");
  drain_stmt(s, "sp_executesql");
  if (tdsc_stmt_prepare(s) != TDSC_OK)
    die("sp_prepare");
  drain_stmt(s, "sp_execute");
  tdsc_stmt_free(s);
  s = tdsc_stmt_new_proc(c, "tdsc_add");
  if (!s || tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, 2) != TDSC_OK ||
      tdsc_stmt_bind_int64(s, "@b", TDSC_TYPE_INT, 3) != TDSC_OK ||
      tdsc_stmt_bind_null(s, "@sum", TDSC_TYPE_INT) != TDSC_OK ||
      tdsc_stmt_set_output(s, "@sum") != TDSC_OK)
    die("bind tdsc_add");
  drain_stmt(s, "tdsc_add");
  tdsc_stmt_free(s);

  /* transaction-manager requests */
  if (tdsc_conn_begin(c, TDSC_ISOLATION_READ_COMMITTED, "t1") != TDSC_OK)
    die("begin");
  batch("INSERT INTO cap VALUES (3, N'three')", TDSC_OK);
  if (tdsc_conn_rollback(c) != TDSC_OK)
    die("rollback");
  if (tdsc_conn_begin(c, TDSC_ISOLATION_UNCHANGED, NULL) != TDSC_OK ||
      tdsc_conn_commit(c) != TDSC_OK)
    die("begin and commit");

  /* an attention: the query timeout cancels a WAITFOR */
  tdsc_conn_set_query_timeout(c, 300);
  tdsc_result *r;
  tdsc_errc rc = tdsc_conn_execute(c, "WAITFOR DELAY '00:00:05'; SELECT 1", &r);
  if (rc == TDSC_OK) {
    tdsc_step st;
    while ((st = tdsc_result_next_set(r)) == TDSC_STEP_RESULT)
      ;
    rc = st == TDSC_STEP_ERROR ? tdsc_error_code(tdsc_conn_error(c))
                               : TDSC_OK;
    tdsc_result_free(r);
  }
  if (rc != TDSC_E_QUERY_TIMEOUT)
    die("query timeout");
  tdsc_conn_set_query_timeout(c, 0);
  if (batch("SELECT 1", TDSC_OK) != 1)
    die("after the cancel");

  tdsc_conn_free(c);
  puts("session complete");
  return 0;
}
