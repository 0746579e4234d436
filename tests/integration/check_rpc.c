/* Statements against the test server: sp_executesql with every type and
 * NULLs round-tripping, procedures with output parameters and return
 * status, positional binding, prepare + execute, errors (unknown procedure,
 * wrong binding before any traffic, a procedure raising an error), and a
 * 20 MB varbinary(max) streamed from a callback in constant memory. */
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

static void up(void) {
  ck_assert_msg(th_server_start(&srv, (const char *)NULL),
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

static const char *report(void) {
  return tdsc_error_report(tdsc_conn_error(conn));
}

#define OK(call) ck_assert_msg((call) == TDSC_OK, "%s: %s", #call, report())

static const char *text(tdsc_result *r, size_t col) {
  const char *t;
  ck_assert_msg(tdsc_result_get_text(r, col, &t, NULL) == TDSC_OK,
                "column %zu: %s", col, report());
  return t;
}

/* ------------------------------------------------- every type round trip */

typedef struct {
  const char *name;
  tdsc_type type;
  const char *want; /* text of SELECT @x and of the OUTPUT value; NULL: NULL */
} expect;

static void bind_all(tdsc_stmt *s) {
  tdsc_decimal dec = {.precision = 10, .scale = 4, .negative = true,
                      .magnitude = {0x4e, 0x61, 0xbc}}; /* -1234.5678 */
  tdsc_datetime dt = {.year = 2024, .month = 2, .day = 29, .hour = 13,
                      .minute = 45, .second = 1, .nanosecond = 123456700,
                      .offset_minutes = 330};
  const uint8_t g[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                         0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  OK(tdsc_stmt_bind_int64(s, "@bit", TDSC_TYPE_BIT, 1));
  OK(tdsc_stmt_bind_int64(s, "tiny", TDSC_TYPE_TINYINT, 255));
  OK(tdsc_stmt_bind_int64(s, "@small", TDSC_TYPE_SMALLINT, -32768));
  OK(tdsc_stmt_bind_int64(s, "@i", TDSC_TYPE_INT, 2147483647));
  OK(tdsc_stmt_bind_int64(s, "@big", TDSC_TYPE_BIGINT, INT64_MIN));
  OK(tdsc_stmt_bind_double(s, "@real", TDSC_TYPE_REAL, 1.5));
  OK(tdsc_stmt_bind_double(s, "@flt", TDSC_TYPE_FLOAT, -2.25));
  OK(tdsc_stmt_bind_decimal(s, "@dec", TDSC_TYPE_DECIMAL, &dec));
  OK(tdsc_stmt_bind_decimal(s, "@num", TDSC_TYPE_NUMERIC, &dec));
  OK(tdsc_stmt_bind_int64(s, "@money", TDSC_TYPE_MONEY, 123456789));
  OK(tdsc_stmt_bind_decimal(s, "@smoney", TDSC_TYPE_SMALLMONEY, &dec));
  OK(tdsc_stmt_bind_text(s, "@vc", TDSC_TYPE_VARCHAR, "caf\xc3\xa9 \xe2\x82\xac", 9));
  OK(tdsc_stmt_bind_text(s, "@ch", TDSC_TYPE_CHAR, "abc", 3));
  OK(tdsc_stmt_bind_text(s, "@nvc", TDSC_TYPE_NVARCHAR, "\xce\xb1\xce\xb2 \xe4\xb8\xad", 8));
  OK(tdsc_stmt_bind_text(s, "@nch", TDSC_TYPE_NCHAR, "xy", 2));
  OK(tdsc_stmt_bind_bytes(s, "@bin", TDSC_TYPE_BINARY, "\x01\x02", 2));
  OK(tdsc_stmt_bind_bytes(s, "@vbin", TDSC_TYPE_VARBINARY, "\xde\xad\xbe\xef", 4));
  OK(tdsc_stmt_bind_guid(s, "@g", g));
  OK(tdsc_stmt_bind_datetime(s, "@d", TDSC_TYPE_DATE, &dt));
  OK(tdsc_stmt_bind_datetime(s, "@t", TDSC_TYPE_TIME, &dt));
  OK(tdsc_stmt_bind_datetime(s, "@dt2", TDSC_TYPE_DATETIME2, &dt));
  OK(tdsc_stmt_bind_datetime(s, "@dto", TDSC_TYPE_DATETIMEOFFSET, &dt));
  OK(tdsc_stmt_bind_datetime(s, "@dtm", TDSC_TYPE_DATETIME, &dt));
  OK(tdsc_stmt_bind_datetime(s, "@sdt", TDSC_TYPE_SMALLDATETIME, &dt));
  OK(tdsc_stmt_bind_null(s, "@nint", TDSC_TYPE_INT));
  OK(tdsc_stmt_bind_null(s, "@nstr", TDSC_TYPE_NVARCHAR));
  OK(tdsc_stmt_bind_null(s, "@ndate", TDSC_TYPE_DATETIME2));
  OK(tdsc_stmt_bind_null(s, "@nbin", TDSC_TYPE_VARBINARY));
}

static const expect all[] = {
    {"@bit", TDSC_TYPE_BIT, "1"},
    {"@tiny", TDSC_TYPE_TINYINT, "255"},
    {"@small", TDSC_TYPE_SMALLINT, "-32768"},
    {"@i", TDSC_TYPE_INT, "2147483647"},
    {"@big", TDSC_TYPE_BIGINT, "-9223372036854775808"},
    {"@real", TDSC_TYPE_REAL, "1.5"},
    {"@flt", TDSC_TYPE_FLOAT, "-2.25"},
    {"@dec", TDSC_TYPE_DECIMAL, "-1234.5678"},
    {"@num", TDSC_TYPE_NUMERIC, "-1234.5678"},
    {"@money", TDSC_TYPE_MONEY, "123456789.0000"},
    {"@smoney", TDSC_TYPE_SMALLMONEY, "-1234.5678"},
    {"@vc", TDSC_TYPE_VARCHAR, "caf\xc3\xa9 \xe2\x82\xac"},
    {"@ch", TDSC_TYPE_CHAR, "abc"},
    {"@nvc", TDSC_TYPE_NVARCHAR, "\xce\xb1\xce\xb2 \xe4\xb8\xad"},
    {"@nch", TDSC_TYPE_NCHAR, "xy"},
    {"@bin", TDSC_TYPE_BINARY, "0x0102"},
    {"@vbin", TDSC_TYPE_VARBINARY, "0xDEADBEEF"},
    {"@g", TDSC_TYPE_UNIQUEIDENTIFIER, "01234567-89AB-CDEF-0123-456789ABCDEF"},
    {"@d", TDSC_TYPE_DATE, "2024-02-29"},
    {"@t", TDSC_TYPE_TIME, "13:45:01.1234567"},
    {"@dt2", TDSC_TYPE_DATETIME2, "2024-02-29 13:45:01.1234567"},
    {"@dto", TDSC_TYPE_DATETIMEOFFSET, "2024-02-29 13:45:01.1234567 +05:30"},
    {"@dtm", TDSC_TYPE_DATETIME, "2024-02-29 13:45:01.123"},
    {"@sdt", TDSC_TYPE_SMALLDATETIME, "2024-02-29 13:45:00"},
    {"@nint", TDSC_TYPE_INT, NULL},
    {"@nstr", TDSC_TYPE_NVARCHAR, NULL},
    {"@ndate", TDSC_TYPE_DATETIME2, NULL},
    {"@nbin", TDSC_TYPE_VARBINARY, NULL},
};
#define NALL (sizeof all / sizeof all[0])

static void check_row(tdsc_result *r, const char *what) {
  ck_assert_uint_eq(tdsc_result_column_count(r), NALL);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  for (size_t i = 0; i < NALL; i++) {
    const tdsc_column *col = tdsc_result_column(r, i);
    ck_assert_msg(tdsc_column_type(col) == all[i].type,
                  "%s %s: type %s, want %s", what, all[i].name,
                  tdsc_type_name(tdsc_column_type(col)),
                  tdsc_type_name(all[i].type));
    if (!all[i].want) {
      ck_assert_msg(is_null(r, i), "%s %s: not NULL", what,
                    all[i].name);
      continue;
    }
    const char *t = text(r, i);
    ck_assert_msg(strcmp(t, all[i].want) == 0, "%s %s: got '%s', want '%s'",
                  what, all[i].name, t, all[i].want);
  }
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
}

START_TEST(executesql_round_trips_every_type_and_null) {
  up();
  /* SELECT @x for each parameter, and each one also OUTPUT */
  char sql[2048] = "SELECT ";
  for (size_t i = 0; i < NALL; i++) {
    strcat(sql, i ? ", " : "");
    strcat(sql, all[i].name);
  }
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, sql);
  ck_assert_ptr_nonnull(s);
  bind_all(s);
  for (size_t i = 0; i < NALL; i++)
    OK(tdsc_stmt_set_output(s, all[i].name));
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  tdsc_step st0 = tdsc_result_next_set(r);
  ck_assert_msg(st0 == TDSC_STEP_RESULT, "%s", report());
  ck_assert_int_eq(tdsc_result_kind_of(r), TDSC_RESULT_ROWS);
  check_row(r, "SELECT");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_kind_of(r), TDSC_RESULT_OUTPUT);
  ck_assert_str_eq(tdsc_column_name(tdsc_result_column(r, 0)), "@bit");
  check_row(r, "OUTPUT");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  int32_t st = -1;
  ck_assert(tdsc_result_return_status(r, &st));
  ck_assert_int_eq(st, 0);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  down();
}
END_TEST

/* ------------------------------------- parameters from text (issue 19) */

/* Each type bound from its text comes back from the server as the same
 * text (SELECT @x through sp_executesql), and a double as decimal and
 * money comes back exact. */
START_TEST(text_binds_round_trip_every_parsed_type) {
  static const struct {
    tdsc_type t;
    const char *in, *want;
  } v[] = {
      {TDSC_TYPE_DECIMAL, "-1234.5678", "-1234.5678"},
      /* the test server holds numerics in 64 bits: 38 digits are the
       * unit tests' (check_rpc unit, decimal_from_string_edge_cases) */
      {TDSC_TYPE_NUMERIC, "-12345678901234.5678", "-12345678901234.5678"},
      {TDSC_TYPE_MONEY, "-922337203685477.5808", "-922337203685477.5808"},
      {TDSC_TYPE_SMALLMONEY, "214748.3647", "214748.3647"},
      {TDSC_TYPE_DATE, "2024-02-29", "2024-02-29"},
      {TDSC_TYPE_TIME, "13:45:01.1234567", "13:45:01.1234567"},
      {TDSC_TYPE_DATETIME2, "2024-02-29T13:45:01.1234567",
       "2024-02-29 13:45:01.1234567"},
      {TDSC_TYPE_DATETIMEOFFSET, "2024-02-29 13:45:01.1234567 +05:30",
       "2024-02-29 13:45:01.1234567 +05:30"},
      {TDSC_TYPE_DATETIME, "2024-02-29 13:45:01.123",
       "2024-02-29 13:45:01.123"},
      {TDSC_TYPE_SMALLDATETIME, "2024-02-29 13:45", "2024-02-29 13:45:00"},
      {TDSC_TYPE_UNIQUEIDENTIFIER, "01234567-89ab-cdef-0123-456789abcdef",
       "01234567-89AB-CDEF-0123-456789ABCDEF"},
  };
  up();
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT @x");
    ck_assert_ptr_nonnull(s);
    OK(tdsc_stmt_bind_text(s, "@x", v[i].t, v[i].in, strlen(v[i].in)));
    tdsc_result *r;
    OK(tdsc_stmt_execute(s, &r));
    ck_assert_msg(tdsc_result_next_set(r) == TDSC_STEP_RESULT, "%s: %s",
                  tdsc_type_name(v[i].t), report());
    ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
    ck_assert_msg(strcmp(text(r, 0), v[i].want) == 0, "%s: got '%s', want '%s'",
                  tdsc_type_name(v[i].t), text(r, 0), v[i].want);
    tdsc_result_free(r);
    tdsc_stmt_free(s);
  }
  static const struct {
    tdsc_type t;
    double d;
    const char *want;
  } dv[] = {{TDSC_TYPE_DECIMAL, 0.1, "0.1"},
            {TDSC_TYPE_DECIMAL, -1234.5678, "-1234.5678"},
            {TDSC_TYPE_MONEY, 19.99, "19.9900"},
            {TDSC_TYPE_SMALLMONEY, 2.00005, "2.0001"}};
  for (size_t i = 0; i < sizeof dv / sizeof *dv; i++) {
    tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT @x");
    OK(tdsc_stmt_bind_double(s, "@x", dv[i].t, dv[i].d));
    tdsc_result *r;
    OK(tdsc_stmt_execute(s, &r));
    ck_assert_msg(tdsc_result_next_set(r) == TDSC_STEP_RESULT, "%s: %s",
                  tdsc_type_name(dv[i].t), report());
    ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
    ck_assert_msg(strcmp(text(r, 0), dv[i].want) == 0,
                  "double %.17g as %s: got '%s', want '%s'", dv[i].d,
                  tdsc_type_name(dv[i].t), text(r, 0), dv[i].want);
    tdsc_result_free(r);
    tdsc_stmt_free(s);
  }
  /* a malformed text fails at bind time, naming the parameter and form */
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT @x");
  ck_assert_int_eq(tdsc_stmt_bind_text(s, "@x", TDSC_TYPE_DATE, "29/02/2024",
                                       10),
                   TDSC_E_CONVERSION);
  const tdsc_error *e = tdsc_conn_error(conn);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "@x"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "YYYY-MM-DD"));
  ck_assert_ptr_null(strstr(tdsc_error_hint(e), "getter"));
  tdsc_stmt_free(s);
  down();
}
END_TEST

/* ------------------------------------------- protocol trace (issue 19) */

typedef struct {
  char *text; /* every line, '\n'-terminated */
  size_t len, calls;
} trace_log;

static void on_trace(void *ud, const char *line) {
  trace_log *t = ud;
  size_t n = strlen(line);
  ck_assert_msg(!strchr(line, '\n'), "a trace line holds a newline: %s",
                line);
  t->text = realloc(t->text, t->len + n + 2);
  ck_assert_ptr_nonnull(t->text);
  memcpy(t->text + t->len, line, n);
  t->len += n;
  t->text[t->len++] = '\n';
  t->text[t->len] = 0;
  t->calls++;
}

#define HAS(t, s) ck_assert_msg(strstr((t)->text, s), "no '%s' in:\n%s", s, \
                                (t)->text)

/* Set on an open connection, the callback sees the RPC with its
 * parameters decoded and the response's tokens; set to NULL, nothing
 * more. */
START_TEST(trace_callback_decodes_rpc_parameters_and_return_values) {
  up();
  trace_log t = {0};
  tdsc_conn_set_trace(conn, on_trace, &t);
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT @i, @dec, @s");
  ck_assert_ptr_nonnull(s);
  tdsc_decimal dec = {.precision = 10, .scale = 4, .negative = true,
                      .magnitude = {0x4e, 0x61, 0xbc}}; /* -1234.5678 */
  OK(tdsc_stmt_bind_int64(s, "@i", TDSC_TYPE_INT, 2147483647));
  OK(tdsc_stmt_bind_decimal(s, "@dec", TDSC_TYPE_DECIMAL, &dec));
  OK(tdsc_stmt_bind_text(s, "@s", TDSC_TYPE_NVARCHAR, "h\xc3\xa9llo", 6));
  OK(tdsc_stmt_set_output(s, "@i"));
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  while (tdsc_result_next_set(r) == TDSC_STEP_RESULT)
    while (tdsc_result_next_row(r) == TDSC_STEP_ROW)
      ;
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  ck_assert_ptr_nonnull(t.text);
  HAS(&t, "tdsc_conn_set_trace");
  HAS(&t, " > RPC (0x03) packet 1, ");
  HAS(&t, "  RPC ProcID 10 (sp_executesql)");
  HAS(&t, "\"SELECT @i, @dec, @s\"");
  HAS(&t, "\"@i\" INTN(max 4, p0 s0) OUTPUT = \"2147483647\"");
  HAS(&t, "\"@dec\" DECIMALN(max 9, p10 s4) = \"-1234.5678\"");
  HAS(&t, "\"@s\" NVARCHAR");
  HAS(&t, "= \"h\xc3\xa9llo\"");
  HAS(&t, " < REPLY (0x04) packet 1, ");
  HAS(&t, "  ROW [0]=\"2147483647\" [1]=\"-1234.5678\" [2]=\"h\xc3\xa9llo\"");
  HAS(&t, "  RETURNVALUE ordinal ");
  HAS(&t, "  RETURNSTATUS 0");
  HAS(&t, "  DONEPROC status=");
  size_t calls = t.calls;
  tdsc_conn_set_trace(conn, NULL, NULL);
  tdsc_result *r2;
  OK(tdsc_conn_execute(conn, "SELECT 1", &r2));
  tdsc_result_free(r2);
  ck_assert_uint_eq(t.calls, calls);
  free(t.text);
  down();
}
END_TEST

/* Set before the connect, the callback sees the login: the user name,
 * never the password in any form; it stays across a reconnect. */
START_TEST(trace_callback_sees_the_login_without_the_password) {
  ck_assert_msg(th_server_start(&srv, (const char *)NULL),
                "the test server did not start");
  conn = tdsc_conn_new();
  trace_log t = {0};
  tdsc_conn_set_trace(conn, on_trace, &t);
  for (int i = 0; i < 2; i++) {
    tdsc_errc rc = tdsc_conn_connect(conn, th_connstr(&srv, ""));
    ck_assert_msg(rc == TDSC_OK, "%s", rc ? report() : "");
    tdsc_conn_close(conn);
  }
  HAS(&t, "  LOGIN7 UserName=\"sa\"");
  HAS(&t, "  LOGIN7 Password=<redacted>");
  HAS(&t, "  LOGINACK ");
  ck_assert_msg(!strstr(t.text, "Secret-123"), "the password is traced");
  /* twice: the callback outlived the first close */
  char *second = strstr(t.text, "  LOGINACK ");
  ck_assert_ptr_nonnull(strstr(second + 1, "  LOGINACK "));
  free(t.text);
  tdsc_conn_free(conn);
  conn = NULL;
  th_server_stop(&srv);
}
END_TEST

START_TEST(executesql_set_assigns_an_output_parameter) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SET @out = @a * 2");
  OK(tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, 21));
  OK(tdsc_stmt_bind_null(s, "@out", TDSC_TYPE_BIGINT));
  OK(tdsc_stmt_set_output(s, "out"));
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  tdsc_step st;
  bool seen = false;
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_RESULT) {
    if (tdsc_result_kind_of(r) != TDSC_RESULT_OUTPUT)
      continue;
    ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
    int64_t v;
    OK(tdsc_result_get_int64(r, 0, &v));
    ck_assert_int_eq(v, 42);
    seen = true;
  }
  ck_assert_int_eq(st, TDSC_STEP_END);
  ck_assert(seen);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  down();
}
END_TEST

/* ------------------------------------------------------------ procedures */

static void run_add(tdsc_stmt *s) {
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  /* in order: the rows, the output row, then the status */
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_kind_of(r), TDSC_RESULT_ROWS);
  ck_assert(!tdsc_result_return_status(r, NULL));
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "2");
  ck_assert_str_eq(text(r, 1), "40");
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_kind_of(r), TDSC_RESULT_OUTPUT);
  ck_assert_uint_eq(tdsc_result_column_count(r), 1);
  ck_assert_str_eq(tdsc_column_name(tdsc_result_column(r, 0)), "@sum");
  ck_assert_int_eq(tdsc_column_type(tdsc_result_column(r, 0)), TDSC_TYPE_INT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  int64_t v;
  OK(tdsc_result_get_int64(r, 0, &v));
  ck_assert_int_eq(v, 42);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_END);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  int32_t st = -1;
  ck_assert(tdsc_result_return_status(r, &st));
  ck_assert_int_eq(st, 0);
  tdsc_result_free(r);
}

START_TEST(procedure_by_name_returns_rows_output_and_status) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_proc(conn, "tdsc_add");
  OK(tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, 2));
  OK(tdsc_stmt_bind_int64(s, "b", TDSC_TYPE_INT, 40));
  OK(tdsc_stmt_bind_null(s, "@sum", TDSC_TYPE_INT));
  OK(tdsc_stmt_set_output(s, "@sum"));
  run_add(s);
  run_add(s); /* the statement runs again with the same values */
  tdsc_stmt_free(s);
  down();
}
END_TEST

START_TEST(procedure_by_position) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_proc(conn, "tdsc_add");
  OK(tdsc_stmt_bind_int64(s, NULL, TDSC_TYPE_INT, 2));
  OK(tdsc_stmt_bind_int64(s, NULL, TDSC_TYPE_INT, 40));
  OK(tdsc_stmt_bind_null(s, "@sum", TDSC_TYPE_INT));
  OK(tdsc_stmt_set_output(s, "@sum"));
  /* a positional parameter after a named one is refused */
  ck_assert_int_eq(tdsc_stmt_bind_int64(s, NULL, TDSC_TYPE_INT, 1),
                   TDSC_E_INVALID_ARGUMENT);
  run_add(s);
  tdsc_stmt_free(s);
  down();
}
END_TEST

START_TEST(procedure_return_status) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_proc(conn, "tdsc_status");
  OK(tdsc_stmt_bind_int64(s, "@code", TDSC_TYPE_INT, -17));
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  int32_t st = 0;
  ck_assert(tdsc_result_return_status(r, &st));
  ck_assert_int_eq(st, -17);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  down();
}
END_TEST

START_TEST(prepare_once_execute_three_times) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT @a + 1 AS n, @s AS s");
  OK(tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, 0));
  OK(tdsc_stmt_bind_text(s, "@s", TDSC_TYPE_NVARCHAR, "x", 1));
  OK(tdsc_stmt_prepare(s));
  for (int i = 0; i < 3; i++) {
    char want[8];
    OK(tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, i * 10));
    OK(tdsc_stmt_bind_text(s, "@s", TDSC_TYPE_NVARCHAR, "abc" + i, 3 - i));
    tdsc_result *r;
    OK(tdsc_stmt_execute(s, &r));
    ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
    ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
    snprintf(want, sizeof want, "%d", i * 10 + 1);
    ck_assert_str_eq(text(r, 0), want);
    ck_assert_str_eq(text(r, 1), "abc" + i);
    ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
    tdsc_result_free(r);
  }
  tdsc_stmt_free(s); /* sp_unprepare: the connection stays usable */
  tdsc_result *r;
  OK(tdsc_conn_execute(conn, "SELECT 1", &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  tdsc_result_free(r);
  down();
}
END_TEST

/* ---------------------------------------------------------------- errors */

START_TEST(unknown_procedure_is_2812) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_proc(conn, "no_such_proc");
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  const tdsc_error *e = tdsc_conn_error(conn);
  ck_assert_int_eq(tdsc_error_code(e), TDSC_E_SERVER_ERROR);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "2812"));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(e), "no_such_proc"));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  down();
}
END_TEST

START_TEST(wrong_binding_fails_before_any_traffic) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT @x");
  ck_assert_int_eq(tdsc_stmt_bind_text(s, "@x", TDSC_TYPE_INT, "1", 1),
                   TDSC_E_CONVERSION);
  const char *m = tdsc_error_message(tdsc_conn_error(conn));
  ck_assert_ptr_nonnull(strstr(m, "@x"));
  ck_assert_ptr_nonnull(strstr(m, "int"));
  ck_assert_int_eq(tdsc_stmt_bind_int64(s, "@x", TDSC_TYPE_TINYINT, 300),
                   TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc_stmt_bind_int64(s, NULL, TDSC_TYPE_INT, 1),
                   TDSC_E_INVALID_ARGUMENT); /* SQL: by name only */
  ck_assert_int_eq(tdsc_stmt_set_output(s, "@nope"),
                   TDSC_E_INVALID_ARGUMENT);
  /* nothing was bound: the statement runs without parameters */
  tdsc_stmt_free(s);
  /* BUSY: one request at a time */
  tdsc_result *r, *r2;
  s = tdsc_stmt_new_sql(conn, "SELECT @x");
  OK(tdsc_stmt_bind_int64(s, "@x", TDSC_TYPE_INT, 5));
  OK(tdsc_stmt_execute(s, &r));
  ck_assert_int_eq(tdsc_stmt_execute(s, &r2), TDSC_E_BUSY);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "5");
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  down();
}
END_TEST

START_TEST(procedure_raising_an_error) {
  up();
  tdsc_stmt *s = tdsc_stmt_new_proc(conn, "tdsc_fail");
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_ERROR);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(conn)),
                               "tdsc_fail was called"));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  int32_t st = 0;
  ck_assert(tdsc_result_return_status(r, &st));
  ck_assert_int_eq(st, -6);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  down();
}
END_TEST

/* --------------------------------------------------------------- streams */

#define BIG (20 * 1024 * 1024)

typedef struct {
  long long left;
  uint32_t x; /* xorshift state: deterministic bytes */
  SHA256_CTX sha;
  long long abort_at; /* -1: never */
} gen;

static long long gen_read(void *ud, void *buf, size_t len) {
  gen *g = ud;
  if (g->abort_at >= 0 && BIG - g->left >= g->abort_at)
    return -1;
  size_t n = (long long)len < g->left ? len : (size_t)g->left;
  uint8_t *p = buf;
  for (size_t i = 0; i < n; i++) {
    g->x ^= g->x << 13, g->x ^= g->x >> 17, g->x ^= g->x << 5;
    p[i] = (uint8_t)g->x;
  }
  SHA256_Update(&g->sha, p, n);
  g->left -= (long long)n;
  return (long long)n;
}

static long vm_hwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
      break;
  if (f)
    fclose(f);
  return kb;
}

static void stream_once(long long total) {
  gen g = {.left = BIG, .x = 2463534242u, .abort_at = -1};
  SHA256_Init(&g.sha);
  tdsc_stmt *s = tdsc_stmt_new_sql(
      conn, "SELECT DATALENGTH(@blob) AS n, HASHBYTES('SHA2_256', @blob) AS h");
  OK(tdsc_stmt_bind_stream(s, "@blob", TDSC_TYPE_VARBINARY, gen_read, &g,
                           total));
  long before = vm_hwm_kb();
  tdsc_result *r;
  OK(tdsc_stmt_execute(s, &r));
  long after = vm_hwm_kb();
  ck_assert_int_eq(g.left, 0);
  ck_assert_msg(after - before < 2048,
                "VmHWM grew by %ld kB while streaming %d MB", after - before,
                BIG >> 20);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  int64_t n;
  OK(tdsc_result_get_int64(r, 0, &n));
  ck_assert_int_eq(n, BIG);
  uint8_t want[32];
  SHA256_Final(want, &g.sha);
  const uint8_t *h;
  size_t hl;
  OK(tdsc_result_get_bytes(r, 1, &h, &hl));
  ck_assert_uint_eq(hl, 32);
  ck_assert(memcmp(h, want, 32) == 0);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
}

START_TEST(stream_20mb_varbinary_in_constant_memory) {
  up();
  stream_once(BIG); /* known length */
  stream_once(-1);  /* unknown length (PLP_UNKNOWN) */
  down();
}
END_TEST

START_TEST(stream_abort_abandons_the_request_and_keeps_the_connection) {
  up();
  gen g = {.left = BIG, .x = 1, .abort_at = 1024 * 1024};
  SHA256_Init(&g.sha);
  tdsc_stmt *s = tdsc_stmt_new_sql(conn, "SELECT DATALENGTH(@blob)");
  OK(tdsc_stmt_bind_stream(s, "@blob", TDSC_TYPE_VARBINARY, gen_read, &g, -1));
  tdsc_result *r = NULL;
  ck_assert_int_eq(tdsc_stmt_execute(s, &r), TDSC_E_INVALID_ARGUMENT);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(conn)),
                               "aborted"));
  tdsc_stmt_free(s);
  OK(tdsc_conn_execute(conn, "SELECT 7", &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_str_eq(text(r, 0), "7");
  tdsc_result_free(r);
  down();
}
END_TEST

int main(void) {
  th_require_server();
  Suite *su = suite_create("rpc");
  TCase *tc = tcase_create("rpc");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, executesql_round_trips_every_type_and_null);
  tcase_add_test(tc, executesql_set_assigns_an_output_parameter);
  tcase_add_test(tc, text_binds_round_trip_every_parsed_type);
  tcase_add_test(tc, trace_callback_decodes_rpc_parameters_and_return_values);
  tcase_add_test(tc, trace_callback_sees_the_login_without_the_password);
  tcase_add_test(tc, procedure_by_name_returns_rows_output_and_status);
  tcase_add_test(tc, procedure_by_position);
  tcase_add_test(tc, procedure_return_status);
  tcase_add_test(tc, prepare_once_execute_three_times);
  tcase_add_test(tc, unknown_procedure_is_2812);
  tcase_add_test(tc, wrong_binding_fails_before_any_traffic);
  tcase_add_test(tc, procedure_raising_an_error);
  tcase_add_test(tc, stream_20mb_varbinary_in_constant_memory);
  tcase_add_test(tc, stream_abort_abandons_the_request_and_keeps_the_connection);
  suite_add_tcase(su, tc);
  return th_run_suite(su);
}
