/* Queries against the test server: every column type of the typed table
 * (compared with tests/peers/typed_table.expected, which pytds checks too),
 * batches with several results, server errors and messages, the cursor's
 * rules, and hostile servers. */
#define _DEFAULT_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* tdsc_result_is_null, which must succeed here. */
static bool is_null(tdsc_result *r, size_t col) {
  bool null = false;
  tdsc_errc rc = tdsc_result_is_null(r, col, &null);
  ck_assert_msg(rc == TDSC_OK, "tdsc_result_is_null(%zu): %s", col,
                tdsc_errc_name(rc));
  return null;
}

static th_server srv;
static tdsc_conn *conn;

static void up(const char *misbehave) {
  ck_assert_msg(th_server_start(&srv, misbehave ? "--misbehave" : NULL,
                                misbehave, (const char *)NULL),
                "the test server did not start");
  conn = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect(conn, th_connstr(&srv, ""));
  ck_assert_msg(rc == TDSC_OK, "%s",
                rc ? tdsc_error_report(tdsc_conn_error(conn)) : "");
}

static void down(void) {
  tdsc_conn_free(conn);
  conn = NULL;
  th_server_stop(&srv);
}

static tdsc_result *run(const char *sql) {
  tdsc_result *r;
  tdsc_errc rc = tdsc_conn_execute(conn, sql, &r);
  ck_assert_msg(rc == TDSC_OK, "%s: %s", sql,
                rc ? tdsc_error_report(tdsc_conn_error(conn)) : "");
  return r;
}

static const char *text(tdsc_result *r, size_t col) {
  const char *t;
  tdsc_errc rc = tdsc_result_get_text(r, col, &t, NULL);
  ck_assert_msg(rc == TDSC_OK, "column %zu: %s", col,
                tdsc_error_report(tdsc_conn_error(conn)));
  return t;
}

/* ---------------------------------------------------------------- types */

static const struct {
  const char *name;
  tdsc_type type;
  int precision, scale; /* -1: not checked */
} typed_columns[] = {
    {"id", TDSC_TYPE_INT, -1, -1},
    {"c_bit", TDSC_TYPE_BIT, -1, -1},
    {"c_tinyint", TDSC_TYPE_TINYINT, -1, -1},
    {"c_smallint", TDSC_TYPE_SMALLINT, -1, -1},
    {"c_int", TDSC_TYPE_INT, -1, -1},
    {"c_bigint", TDSC_TYPE_BIGINT, -1, -1},
    {"c_real", TDSC_TYPE_REAL, -1, -1},
    {"c_float", TDSC_TYPE_FLOAT, -1, -1},
    {"c_decimal", TDSC_TYPE_DECIMAL, 18, 4},
    {"c_numeric", TDSC_TYPE_NUMERIC, 38, 10},
    {"c_money", TDSC_TYPE_MONEY, -1, -1},
    {"c_smallmoney", TDSC_TYPE_SMALLMONEY, -1, -1},
    {"c_char", TDSC_TYPE_CHAR, -1, -1},
    {"c_varchar", TDSC_TYPE_VARCHAR, -1, -1},
    {"c_varcharmax", TDSC_TYPE_VARCHAR, -1, -1},
    {"c_text", TDSC_TYPE_TEXT, -1, -1},
    {"c_nchar", TDSC_TYPE_NCHAR, -1, -1},
    {"c_nvarchar", TDSC_TYPE_NVARCHAR, -1, -1},
    {"c_nvarcharmax", TDSC_TYPE_NVARCHAR, -1, -1},
    {"c_ntext", TDSC_TYPE_NTEXT, -1, -1},
    {"c_binary", TDSC_TYPE_BINARY, -1, -1},
    {"c_varbinary", TDSC_TYPE_VARBINARY, -1, -1},
    {"c_varbinarymax", TDSC_TYPE_VARBINARY, -1, -1},
    {"c_image", TDSC_TYPE_IMAGE, -1, -1},
    {"c_guid", TDSC_TYPE_UNIQUEIDENTIFIER, -1, -1},
    {"c_date", TDSC_TYPE_DATE, -1, -1},
    {"c_time", TDSC_TYPE_TIME, -1, 7},
    {"c_smalldatetime", TDSC_TYPE_SMALLDATETIME, -1, -1},
    {"c_datetime", TDSC_TYPE_DATETIME, -1, -1},
    {"c_datetime2", TDSC_TYPE_DATETIME2, -1, 7},
    {"c_dto", TDSC_TYPE_DATETIMEOFFSET, -1, 7},
};
#define NTYPED (sizeof typed_columns / sizeof typed_columns[0])

/* The expected text of a value: long ones are "len=N sha256=HEX" of the
 * UTF-8 text (character types) or of the raw bytes (binary types). */
static void check_value(tdsc_result *r, size_t col, const char *want,
                        long row) {
  const char *name = typed_columns[col].name;
  if (!strcmp(want, "NULL")) {
    ck_assert_msg(is_null(r, col), "row %ld %s: want NULL", row,
                  name);
    return;
  }
  ck_assert_msg(!is_null(r, col), "row %ld %s: NULL, want %s",
                row, name, want);
  if (!strncmp(want, "len=", 4)) {
    const uint8_t *p;
    size_t n;
    tdsc_type t = typed_columns[col].type;
    if (t == TDSC_TYPE_VARBINARY || t == TDSC_TYPE_IMAGE ||
        t == TDSC_TYPE_BINARY) {
      ck_assert_int_eq(tdsc_result_get_bytes(r, col, &p, &n), TDSC_OK);
    } else {
      const char *s;
      ck_assert_int_eq(tdsc_result_get_text(r, col, &s, &n), TDSC_OK);
      p = (const uint8_t *)s;
    }
    unsigned char md[SHA256_DIGEST_LENGTH];
    char got[128];
    int k = snprintf(got, sizeof got, "len=%zu sha256=", n);
    SHA256(p, n, md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
      k += snprintf(got + k, sizeof got - (size_t)k, "%02x", md[i]);
    ck_assert_msg(!strcasecmp(got, want), "row %ld %s: got %s want %s", row,
                  name, got, want);
    return;
  }
  if (typed_columns[col].type == TDSC_TYPE_REAL) {
    /* The file holds the float32 widened to double in Python's repr; our
     * text is the shortest form that round-trips as float32, so compare
     * the numbers. */
    double d;
    ck_assert_int_eq(tdsc_result_get_double(r, col, &d), TDSC_OK);
    ck_assert_msg(d == strtod(want, NULL), "row %ld %s: got %.17g want %s",
                  row, name, d, want);
    return;
  }
  const char *got = text(r, col);
  ck_assert_msg(!strcmp(got, want), "row %ld %s: got '%s' want '%s'", row,
                name, got, want);
}

START_TEST(every_type_of_the_typed_table_reads_as_the_peers_read_it) {
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/peers/typed_table.expected",
           getenv("TDSC_SRCDIR"));
  FILE *f = fopen(path, "r");
  ck_assert_msg(f != NULL, "cannot open %s", path);
  up(NULL);
  tdsc_result *r = run("SELECT * FROM typed ORDER BY id");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), NTYPED);
  for (size_t i = 0; i < NTYPED; i++) {
    const tdsc_column *col = tdsc_result_column(r, i);
    ck_assert_str_eq(tdsc_column_name(col), typed_columns[i].name);
    ck_assert_msg(tdsc_column_type(col) == typed_columns[i].type,
                  "%s: type %s", typed_columns[i].name,
                  tdsc_type_name(tdsc_column_type(col)));
    if (typed_columns[i].precision >= 0)
      ck_assert_int_eq(tdsc_column_precision(col), typed_columns[i].precision);
    if (typed_columns[i].scale >= 0)
      ck_assert_int_eq(tdsc_column_scale(col), typed_columns[i].scale);
    ck_assert(tdsc_column_nullable(col) == (i != 0)); /* id is NOT NULL */
  }
  char *line = NULL;
  size_t cap = 0;
  long row = 0;
  while (getline(&line, &cap, f) > 0) {
    line[strcspn(line, "\r\n")] = 0;
    if (!*line || *line == '#')
      continue;
    ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
    row++;
    char *rest = line; /* strsep keeps empty fields: '' is a value */
    for (size_t i = 0; i < NTYPED; i++) {
      char *field = strsep(&rest, "\t");
      ck_assert_msg(field != NULL, "expected file row %ld is short", row);
      check_value(r, i, field, row);
    }
  }
  free(line);
  fclose(f);
  ck_assert_int_ge(row, 3);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_rows_affected(r), row);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(typed_getters_read_the_extremes) {
  up(NULL);
  tdsc_result *r = run("SELECT c_tinyint, c_bigint, c_money, c_smallmoney, "
                       "c_date, c_datetime2, c_dto, c_float, c_decimal "
                       "FROM typed WHERE id = 3");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  int64_t i;
  ck_assert_int_eq(tdsc_result_get_int64(r, 0, &i), TDSC_OK);
  ck_assert_int_eq(i, 255);
  ck_assert_int_eq(tdsc_result_get_int64(r, 1, &i), TDSC_OK);
  ck_assert(i == INT64_MAX);
  tdsc_decimal d;
  ck_assert_int_eq(tdsc_result_get_decimal(r, 2, &d), TDSC_OK);
  ck_assert(d.negative);
  ck_assert_int_eq(d.scale, 4);
  ck_assert_str_eq(text(r, 2), "-922337203685477.5808");
  ck_assert_str_eq(text(r, 3), "214748.3647");
  tdsc_datetime dt;
  ck_assert_int_eq(tdsc_result_get_datetime(r, 4, &dt), TDSC_OK);
  ck_assert(dt.has_date && !dt.has_time);
  ck_assert_int_eq(dt.year, 1);
  ck_assert_int_eq(dt.month, 1);
  ck_assert_int_eq(dt.day, 1);
  ck_assert_int_eq(tdsc_result_get_datetime(r, 5, &dt), TDSC_OK);
  ck_assert_int_eq(dt.year, 9999);
  ck_assert_int_eq(dt.nanosecond, 999999900);
  ck_assert_int_eq(tdsc_result_get_datetime(r, 6, &dt), TDSC_OK);
  ck_assert(dt.has_offset);
  ck_assert_int_eq(dt.offset_minutes, -14 * 60);
  double f;
  ck_assert_int_eq(tdsc_result_get_double(r, 7, &f), TDSC_OK);
  ck_assert_int_eq(tdsc_result_get_decimal(r, 8, &d), TDSC_OK);
  ck_assert_str_eq(text(r, 8), "-99999999999999.9999");
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(a_guid_reads_in_rfc4122_order) {
  up(NULL);
  tdsc_result *r = run("SELECT c_guid FROM typed WHERE id = 1");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  uint8_t g[16];
  ck_assert_int_eq(tdsc_result_get_guid(r, 0, g), TDSC_OK);
  char hex[40];
  snprintf(hex, sizeof hex,
           "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
           g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10],
           g[11], g[12], g[13], g[14], g[15]);
  ck_assert_str_eq(hex, text(r, 0));
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(getters_refuse_what_does_not_fit) {
  up(NULL);
  tdsc_result *r = run("SELECT c_nvarchar, c_int, c_datetime2 FROM typed "
                       "ORDER BY id");
  int64_t i;
  double d;
  tdsc_datetime dt;
  uint8_t g[16];
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  /* before the first row */
  ck_assert_int_eq(tdsc_result_get_int64(r, 1, &i), TDSC_E_NO_ROW);
  ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(conn)), TDSC_E_NO_ROW);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_int_eq(tdsc_result_get_int64(r, 0, &i), TDSC_E_CONVERSION);
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(tdsc_conn_error(conn)), "nvarchar"));
  ck_assert_int_eq(tdsc_result_get_datetime(r, 1, &dt), TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc_result_get_guid(r, 2, g), TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc_result_get_double(r, 2, &d), TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc_result_get_int64(r, 3, &i), TDSC_E_COLUMN_RANGE);
  ck_assert_int_eq(tdsc_result_get_int64(r, 1, &i), TDSC_OK);
  ck_assert_ptr_null(tdsc_conn_error(conn)); /* cleared by the good call */
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW); /* id 2: NULLs */
  ck_assert(is_null(r, 1));
  ck_assert_int_eq(tdsc_result_get_int64(r, 1, &i), TDSC_E_NULL_VALUE);
  tdsc_result_free(r);
  down();
}
END_TEST

/* ---------------------------------------------------------------- batches */

START_TEST(a_batch_yields_each_statements_result_in_order) {
  up(NULL);
  tdsc_result *r = run(
      "CREATE TABLE t (a int, b nvarchar(10));"
      "INSERT INTO t VALUES (1, N'one'), (2, N'two'), (3, N'three');"
      "SELECT a, b FROM t ORDER BY a;"
      "UPDATE t SET b = N'x' WHERE a > 1;"
      "SELECT COUNT(*) AS n FROM t WHERE b = N'x'");
  /* CREATE gives no count: the INSERT is the first result */
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 0);
  ck_assert_int_eq(tdsc_result_rows_affected(r), 3);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 2);
  ck_assert_str_eq(tdsc_column_name(tdsc_result_column(r, 1)), "b");
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 1), "one");
  /* leave rows unread: next_set skips them */
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 0);
  ck_assert_int_eq(tdsc_result_rows_affected(r), 2);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "2");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(a_failed_statement_is_a_structured_error_and_the_batch_goes_on) {
  up(NULL);
  tdsc_result *r = run("SELECT 1 AS a;\nSELECT * FROM no_such_table;\n"
                       "SELECT 2 AS b");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  const tdsc_error *e = tdsc_conn_error(conn);
  ck_assert_int_eq(tdsc_error_code(e), TDSC_E_SERVER_ERROR);
  ck_assert_int_eq(tdsc_error_category(e), TDSC_CAT_SERVER);
  const tdsc_message *m = tdsc_error_server_message(e);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(tdsc_message_number(m), 208);
  ck_assert_int_eq(tdsc_message_class(m), 16);
  ck_assert_int_eq(tdsc_message_line(m), 2);
  ck_assert(tdsc_message_is_error(m));
  ck_assert_ptr_nonnull(strstr(tdsc_message_text(m), "no_such_table"));
  ck_assert_str_ne(tdsc_message_server(m), "");
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "208"));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "2");
  tdsc_result_free(r);
  ck_assert(tdsc_conn_is_connected(conn));
  down();
}
END_TEST

/* SQL Server's errors where SQLite would be lenient (issue 13): each
 * failed statement is a server error with SQL Server's number, class and
 * state, its effect is undone, and the batch goes on. */
static void expect_server_error(tdsc_result *r, int number, int cls, int state,
                                const char *text) {
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  const tdsc_error *e = tdsc_conn_error(conn);
  ck_assert_int_eq(tdsc_error_code(e), TDSC_E_SERVER_ERROR);
  const tdsc_message *m = tdsc_error_server_message(e);
  ck_assert_ptr_nonnull(m);
  ck_assert_int_eq(tdsc_message_number(m), number);
  ck_assert_int_eq(tdsc_message_class(m), cls);
  ck_assert_int_eq(tdsc_message_state(m), state);
  ck_assert_ptr_nonnull(strstr(tdsc_message_text(m), text));
}

START_TEST(sql_server_errors_come_where_sqlite_would_be_lenient) {
  up(NULL);
  tdsc_result *r = run(
      "CREATE TABLE cq_strict (id int PRIMARY KEY, name varchar(3) NOT NULL);\n"
      "INSERT INTO cq_strict VALUES (1, 'a');\n"
      "INSERT INTO cq_strict VALUES (1, 'b');\n"
      "INSERT INTO cq_strict VALUES (2, 'long');\n"
      "INSERT INTO cq_strict VALUES (3, NULL);\n"
      "SELECT 1/0;\n"
      "SELECT CAST('x' AS int);\n"
      "SELECT COUNT(*) FROM cq_strict;\n"
      "DROP TABLE cq_strict");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT); /* 1 row */
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_rows_affected(r), 1);
  expect_server_error(r, 2627, 14, 1, "Violation of PRIMARY KEY constraint");
  ck_assert_int_eq(tdsc_message_line(tdsc_error_server_message(
                       tdsc_conn_error(conn))),
                   3);
  expect_server_error(r, 2628, 16, 1,
                      "String or binary data would be truncated");
  expect_server_error(r, 515, 16, 2, "Cannot insert the value NULL");
  expect_server_error(r, 8134, 16, 1, "Divide by zero error encountered.");
  expect_server_error(r, 245, 16, 1, "Conversion failed");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "1");
  tdsc_result_free(r);
  ck_assert(tdsc_conn_is_connected(conn));
  down();
}
END_TEST

typedef struct {
  int n;
  char last[256];
  int number;
  bool error;
} inbox;

static void collect(void *ud, const tdsc_message *m) {
  inbox *in = ud;
  in->n++;
  snprintf(in->last, sizeof in->last, "%s", tdsc_message_text(m));
  in->number = tdsc_message_number(m);
  in->error = tdsc_message_is_error(m);
}

START_TEST(print_and_database_changes_reach_the_message_handler) {
  inbox in = {0};
  up(NULL);
  tdsc_conn_set_message_handler(conn, collect, &in);
  tdsc_result *r = run("PRINT N'hello, Grüße'");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  ck_assert_int_eq(in.n, 1);
  ck_assert_str_eq(in.last, "hello, Grüße");
  ck_assert(!in.error);
  r = run("USE master");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  ck_assert_str_eq(tdsc_conn_database(conn), "master");
  ck_assert_int_eq(in.number, 5701);
  r = run("USE no_such_db");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  ck_assert_int_eq(
      tdsc_message_number(tdsc_error_server_message(tdsc_conn_error(conn))),
      911);
  ck_assert(in.error); /* errors reach the handler too */
  tdsc_result_free(r);
  ck_assert_str_eq(tdsc_conn_database(conn), "master");
  down();
}
END_TEST

START_TEST(version_and_set_statements_work) {
  up(NULL);
  tdsc_result *r = run("SET NOCOUNT ON; SELECT @@VERSION");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert(strncmp(text(r, 0), "Microsoft SQL Server", 20) == 0);
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(one_request_at_a_time) {
  up(NULL);
  tdsc_result *r = run("SELECT id FROM typed"), *r2;
  ck_assert_int_eq(tdsc_conn_execute(conn, "SELECT 1", &r2), TDSC_E_BUSY);
  ck_assert_int_eq(tdsc_error_category(tdsc_conn_error(conn)),
                   TDSC_CAT_USAGE);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  tdsc_result_free(r); /* unread rows are drained */
  r = run("SELECT 5 AS five");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "5");
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(large_values_span_packets_at_the_smallest_packet_size) {
  ck_assert(th_server_start(&srv, (const char *)NULL));
  conn = tdsc_conn_new();
  ck_assert_int_eq(tdsc_conn_connect(conn, th_connstr(&srv, "PacketSize=512")),
                   TDSC_OK);
  ck_assert_uint_eq(tdsc_conn_packet_size(conn), 512);
  tdsc_result *r = run("SELECT c_nvarcharmax, c_varbinarymax FROM typed "
                       "WHERE id = 3");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_column_max_size(tdsc_result_column(r, 0)), -1);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  const uint8_t *p;
  size_t n;
  ck_assert_int_eq(tdsc_result_get_bytes(r, 1, &p, &n), TDSC_OK);
  ck_assert_uint_gt(n, 10000);
  const char *t;
  ck_assert_int_eq(tdsc_result_get_text(r, 0, &t, &n), TDSC_OK);
  ck_assert_uint_gt(n, 5000);
  ck_assert_uint_eq(strlen(t), n);
  tdsc_result_free(r);
  /* a long batch is split into packets on the way out, too */
  char *sql = malloc(20000);
  strcpy(sql, "SELECT '");
  memset(sql + 8, 'q', 15000);
  strcpy(sql + 15008, "' AS long_literal");
  r = run(sql);
  free(sql);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_int_eq(tdsc_result_get_text(r, 0, &t, &n), TDSC_OK);
  ck_assert_uint_eq(n, 15000);
  tdsc_result_free(r);
  down();
}
END_TEST

/* ---------------------------------------------------------------- hostile */

START_TEST(an_unknown_token_is_a_protocol_error_and_drops_the_connection) {
  up("bad-token");
  tdsc_result *r = run("SELECT 1");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(conn)), TDSC_E_PROTOCOL);
  ck_assert(!tdsc_conn_is_connected(conn));
  /* the response was lost, not ended: the next call fails too */
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  tdsc_result_free(r);
  tdsc_result *r2;
  ck_assert_int_eq(tdsc_conn_execute(conn, "SELECT 1", &r2),
                   TDSC_E_NOT_CONNECTED);
  down();
}
END_TEST

START_TEST(a_truncated_row_is_a_protocol_error) {
  up("truncated-row");
  tdsc_result *r = run("SELECT 1");
  tdsc_step s = tdsc_result_next_set(r);
  if (s == TDSC_STEP_RESULT)
    s = tdsc_result_next_row(r);
  ck_assert_int_eq(s, TDSC_STEP_ERROR);
  ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(conn)), TDSC_E_PROTOCOL);
  tdsc_result_free(r);
  down();
}
END_TEST

START_TEST(a_server_that_stops_answering_times_out_with_query_timeout) {
  /* The server drops the request on the floor but still acknowledges the
   * attention that the timeout sends: the connection stays usable. */
  ck_assert(th_server_start(&srv, "--misbehave", "stall-after-login",
                            (const char *)NULL));
  conn = tdsc_conn_new();
  ck_assert_int_eq(tdsc_conn_connect(conn, th_connstr(&srv, "QueryTimeout=1")),
                   TDSC_OK);
  tdsc_result *r = run("SELECT 1");
  long long t0 = th_now_ms();
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  long long took = th_now_ms() - t0;
  ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(conn)),
                   TDSC_E_QUERY_TIMEOUT);
  ck_assert_msg(took >= 900 && took < 10000, "took %lld ms", took);
  ck_assert(tdsc_conn_is_connected(conn));
  tdsc_result_free(r);
  down();
}
END_TEST

static Suite *query_suite(void) {
  Suite *s = suite_create("query");
  TCase *types = tcase_create("types");
  tcase_set_timeout(types, 60);
  tcase_add_test(types, every_type_of_the_typed_table_reads_as_the_peers_read_it);
  tcase_add_test(types, typed_getters_read_the_extremes);
  tcase_add_test(types, a_guid_reads_in_rfc4122_order);
  tcase_add_test(types, getters_refuse_what_does_not_fit);
  tcase_add_test(types, large_values_span_packets_at_the_smallest_packet_size);
  suite_add_tcase(s, types);
  TCase *batch = tcase_create("batches");
  tcase_set_timeout(batch, 60);
  tcase_add_test(batch, a_batch_yields_each_statements_result_in_order);
  tcase_add_test(batch,
                 a_failed_statement_is_a_structured_error_and_the_batch_goes_on);
  tcase_add_test(batch, sql_server_errors_come_where_sqlite_would_be_lenient);
  tcase_add_test(batch, print_and_database_changes_reach_the_message_handler);
  tcase_add_test(batch, version_and_set_statements_work);
  tcase_add_test(batch, one_request_at_a_time);
  suite_add_tcase(s, batch);
  TCase *hostile = tcase_create("hostile");
  tcase_set_timeout(hostile, 60);
  tcase_add_test(hostile,
                 an_unknown_token_is_a_protocol_error_and_drops_the_connection);
  tcase_add_test(hostile, a_truncated_row_is_a_protocol_error);
  tcase_add_test(hostile,
                 a_server_that_stops_answering_times_out_with_query_timeout);
  suite_add_tcase(s, hostile);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(query_suite());
}
