/* Unit tests of lib/proto/rpc.c: RPC request payloads byte for byte (the
 * MS-TDS example request, a sp_executesql request built by hand from
 * MS-TDS 2.2.6.6), every parameter type's TYPE_INFO and value, the
 * conversions that must fail, PLP chunks and the @params declarations. */
#include "config.h"

#include "proto/rpc.h"
#include "vectors.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t zero_txn[8] = {0};
/* SQL_Latin1_General_CP1_CI_AS, as the test server and SQL Server send it */
static const uint8_t latin1[5] = {0x09, 0x04, 0xd0, 0x00, 0x34};

static void assert_hex(const tdsc__buf *b, size_t from, const char *hex) {
  size_t n;
  uint8_t *want = tdsc_test_hex(hex, &n);
  ck_assert_ptr_nonnull(want);
  ck_assert_msg(b->len - from == n, "length %zu, want %zu", b->len - from, n);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(b->data[from + i] == want[i], "byte %zu: got %02x, want %02x",
                  i, b->data[from + i], want[i]);
  free(want);
}

/* One parameter's bytes (name, status, TYPE_INFO, value). */
static void param_is(const tdsc__param *p, const char *hex) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert_int_eq(tdsc__rpc_param(&b, p, -1, NULL), TDSC_OK);
  assert_hex(&b, 0, hex);
  tdsc__buf_free(&b);
}

static void decl_is(const tdsc__param *p, const char *want) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc__param_decl(p, &b);
  ck_assert_str_eq(tdsc__buf_cstr(&b), want);
  tdsc__buf_free(&b);
}

START_TEST(rpc_reproduces_the_mstds_example_request) {
  TDSC_NEED_VECTORS();
  /* 2.2.6.6 example: procedure "foo3", one unnamed parameter with
   * fDefaultValue and a NULL smallint (INTN of length 2), in one packet */
  size_t n;
  uint8_t *want = tdsc_test_vector("mstds_v39_08-rpc-client-request.hex", &n);
  ck_assert_ptr_nonnull(want);
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc__buf_extend(&b, TDSC__PKT_HDR_LEN);
  /* The example's ALL_HEADERS carries transaction descriptor bytes
   * 00 .. 00 01 and an outstanding-request count of 0 (as decoded). */
  static const uint8_t txn[8] = {0, 0, 0, 0, 0, 0, 0, 1};
  ck_assert_int_eq(tdsc__rpc_begin(&b, txn, 0, 0, "foo3", 0, NULL),
                   TDSC_OK);
  tdsc__param p = {0};
  p.status = TDSC__PARAM_DEFAULT; /* the example's StatusFlags: 0x02 */
  ck_assert_int_eq(tdsc__param_null(&p, TDSC_TYPE_SMALLINT, NULL, NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__rpc_param(&b, &p, -1, NULL), TDSC_OK);
  tdsc__pkt_hdr h = {TDSC__PKT_RPC, TDSC__PKT_EOM, (uint16_t)b.len, 0, 1, 0};
  tdsc__pkt_hdr_encode(b.data, &h);
  ck_assert_uint_eq(b.len, n);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(b.data[i] == want[i], "byte %zu: got %02x, want %02x", i,
                  b.data[i], want[i]);
  free(want);
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(rpc_sp_executesql_request_matches_the_spec_by_hand) {
  tdsc__buf b, s1, s2;
  tdsc__buf_init(&b), tdsc__buf_init(&s1), tdsc__buf_init(&s2);
  ck_assert_int_eq(tdsc__rpc_begin(&b, zero_txn, 1, TDSC__PROC_EXECUTESQL,
                                   NULL, 0, NULL),
                   TDSC_OK);
  tdsc__param stmt = {0}, decl = {0}, a = {.name = "@a"};
  ck_assert_int_eq(tdsc__param_text(&stmt, TDSC_TYPE_NVARCHAR, "SELECT @a",
                                    9, latin1, &s1, NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__param_text(&decl, TDSC_TYPE_NVARCHAR, "@a int", 6,
                                    latin1, &s2, NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__param_int64(&a, TDSC_TYPE_INT, 42, NULL), TDSC_OK);
  ck_assert_int_eq(tdsc__rpc_param(&b, &stmt, -1, NULL), TDSC_OK);
  ck_assert_int_eq(tdsc__rpc_param(&b, &decl, -1, NULL), TDSC_OK);
  ck_assert_int_eq(tdsc__rpc_param(&b, &a, -1, NULL), TDSC_OK);
  assert_hex(&b, 0,
             /* ALL_HEADERS: total 22, header 18, type 2, txn 0, 1 request */
             "16000000 12000000 0200 0000000000000000 01000000"
             /* ProcIDSwitch 0xFFFF, ProcID 10, OptionFlags 0 */
             "ffff 0a00 0000"
             /* unnamed, status 0, NVARCHAR(4000) collation, 18 bytes */
             "00 00 e7 401f 0904d00034 1200"
             "53004500 4c004500 43005400 20004000 6100"
             "00 00 e7 401f 0904d00034 0c00 4000 6100 2000 6900 6e00 7400"
             /* "@a", status 0, INTN 4, value 42 */
             "02 4000 6100 00 26 04 04 2a000000");
  tdsc__buf_free(&b), tdsc__buf_free(&s1), tdsc__buf_free(&s2);
}
END_TEST

START_TEST(rpc_encodes_numbers) {
  tdsc__param p = {.name = "@x"};
  const char *nm = "02 4000 7800 00 "; /* "@x", input */
  char want[200];
#define IS(hex)                                                               \
  do {                                                                        \
    snprintf(want, sizeof want, "%s%s", nm, hex);                             \
    param_is(&p, want);                                                       \
  } while (0)
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_BIT, 1, NULL), TDSC_OK);
  IS("68 01 01 01");
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_TINYINT, 255, NULL), 0);
  IS("26 01 01 ff");
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_SMALLINT, -2, NULL), 0);
  IS("26 02 02 feff");
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_BIGINT, INT64_MIN, NULL), 0);
  IS("26 08 08 0000000000000080");
  ck_assert_int_eq(tdsc__param_double(&p, TDSC_TYPE_REAL, 1.5, NULL), 0);
  IS("6d 04 04 0000c03f");
  ck_assert_int_eq(tdsc__param_double(&p, TDSC_TYPE_FLOAT, -2.25, NULL), 0);
  IS("6d 08 08 00000000000002c0");
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_MONEY, 123456789, NULL), 0);
  IS("6e 08 08 1f0100005004fb71"); /* high dword first (2.2.5.5.1.4) */
  tdsc_decimal d = {.precision = 10, .scale = 4, .negative = false,
                    .magnitude = {0x4e, 0x61, 0xbc}};
  ck_assert_int_eq(tdsc__param_decimal(&p, TDSC_TYPE_DECIMAL, &d, NULL), 0);
  IS("6a 09 0a 04 09 01 4e61bc0000000000");
  decl_is(&p, "decimal(10,4)");
  d.negative = true, d.scale = 4;
  ck_assert_int_eq(tdsc__param_decimal(&p, TDSC_TYPE_SMALLMONEY, &d, NULL), 0);
  IS("6e 04 04 b29e43ff"); /* -1234.5678 * 10^4 as int32 */
  d.scale = 6; /* -12.345678 -> money -12.3457 (half away from zero) */
  ck_assert_int_eq(tdsc__param_decimal(&p, TDSC_TYPE_MONEY, &d, NULL), 0);
  IS("6e 08 08 ffffffffbf1dfeff");
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_NUMERIC, -7, NULL), 0);
  IS("6c 05 01 00 05 00 07000000");
  decl_is(&p, "numeric(1,0)");
#undef IS
}
END_TEST

START_TEST(rpc_encodes_dates_guids_and_text) {
  tdsc__param p = {0};
  tdsc__buf st;
  tdsc__buf_init(&st);
  tdsc_datetime dt = {.year = 2024, .month = 2, .day = 29, .hour = 13,
                      .minute = 45, .second = 1, .nanosecond = 123456700,
                      .offset_minutes = 330};
  ck_assert_int_eq(tdsc__param_datetime(&p, TDSC_TYPE_DATE, &dt, NULL), 0);
  param_is(&p, "00 00 28 03 80460b");
  ck_assert_int_eq(tdsc__param_datetime(&p, TDSC_TYPE_TIME, &dt, NULL), 0);
  param_is(&p, "00 00 29 07 05 0703f84073");
  decl_is(&p, "time(7)");
  ck_assert_int_eq(tdsc__param_datetime(&p, TDSC_TYPE_DATETIME2, &dt, NULL), 0);
  param_is(&p, "00 00 2a 07 08 0703f84073 80460b");
  /* datetimeoffset travels as UTC (08:15:01) plus the offset */
  ck_assert_int_eq(
      tdsc__param_datetime(&p, TDSC_TYPE_DATETIMEOFFSET, &dt, NULL), 0);
  param_is(&p, "00 00 2b 07 0a 07c73f274580460b4a01");
  ck_assert_int_eq(tdsc__param_datetime(&p, TDSC_TYPE_DATETIME, &dt, NULL), 0);
  param_is(&p, "00 00 6f 08 08 25b100002199e200");
  ck_assert_int_eq(
      tdsc__param_datetime(&p, TDSC_TYPE_SMALLDATETIME, &dt, NULL), 0);
  param_is(&p, "00 00 6f 04 04 25b13903");
  const uint8_t g[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                         0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  tdsc__param_guid(&p, g);
  param_is(&p, "00 00 24 10 10 67452301ab89efcd0123456789abcdef");
  /* varchar: the collation's code page (1252), not UTF-8 */
  ck_assert_int_eq(tdsc__param_text(&p, TDSC_TYPE_VARCHAR, "\xc3\xa9\xe2\x82\xac",
                                    5, latin1, &st, NULL),
                   0);
  param_is(&p, "00 00 a7 401f 0904d00034 0200 e980");
  decl_is(&p, "varchar(8000)");
  ck_assert_int_eq(tdsc__param_text(&p, TDSC_TYPE_NCHAR, "ab", 2, latin1, &st,
                                    NULL),
                   0);
  param_is(&p, "00 00 ef 0400 0904d00034 0400 61006200");
  decl_is(&p, "nchar(2)");
  ck_assert_int_eq(tdsc__param_bytes(&p, TDSC_TYPE_VARBINARY, "\x01\x02", 2,
                                     NULL),
                   0);
  param_is(&p, "00 00 a5 401f 0200 0102");
  /* image travels as varbinary(max): PLP, one chunk, terminator */
  ck_assert_int_eq(tdsc__param_bytes(&p, TDSC_TYPE_IMAGE, "\x01\x02", 2, NULL),
                   0);
  param_is(&p, "00 00 a5 ffff 0200000000000000 02000000 0102 00000000");
  decl_is(&p, "varbinary(max)");
  ck_assert_int_eq(tdsc__param_null(&p, TDSC_TYPE_NVARCHAR, latin1, NULL), 0);
  param_is(&p, "00 00 e7 401f 0904d00034 ffff");
  ck_assert_int_eq(tdsc__param_null(&p, TDSC_TYPE_XML, NULL, NULL), 0);
  param_is(&p, "00 00 f1 00 ffffffffffffffff");
  p.status = TDSC__PARAM_BYREF;
  ck_assert_int_eq(tdsc__param_null(&p, TDSC_TYPE_DATETIMEOFFSET, NULL, NULL),
                   0);
  param_is(&p, "00 01 2b 07 00");
  tdsc__buf_free(&st);
}
END_TEST

START_TEST(rpc_refuses_what_the_type_cannot_hold) {
  tdsc__param p = {.name = "@v"};
  tdsc_error e;
  memset(&e, 0, sizeof e);
  tdsc__buf st;
  tdsc__buf_init(&st);
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_TINYINT, 256, &e),
                   TDSC_E_CONVERSION);
  ck_assert_ptr_nonnull(strstr(e.message, "@v"));
  ck_assert_ptr_nonnull(strstr(e.message, "tinyint"));
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_NVARCHAR, 1, &e),
                   TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc__param_double(&p, TDSC_TYPE_INT, 1, &e),
                   TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc__param_double(&p, TDSC_TYPE_FLOAT, 1.0 / 0.0, &e),
                   TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc__param_int64(&p, TDSC_TYPE_SMALLMONEY, 300000, &e),
                   TDSC_E_CONVERSION);
  tdsc_datetime bad = {.year = 2023, .month = 2, .day = 29};
  ck_assert_int_eq(tdsc__param_datetime(&p, TDSC_TYPE_DATE, &bad, &e),
                   TDSC_E_CONVERSION);
  bad.year = 1700, bad.day = 28;
  ck_assert_int_eq(tdsc__param_datetime(&p, TDSC_TYPE_DATETIME, &bad, &e),
                   TDSC_E_CONVERSION);
  /* a character code page 1252 lacks is an error, never a '?' */
  ck_assert_int_eq(tdsc__param_text(&p, TDSC_TYPE_VARCHAR, "\xe4\xb8\xad", 3,
                                    latin1, &st, &e),
                   TDSC_E_CONVERSION);
  ck_assert_ptr_nonnull(strstr(e.message, "nvarchar"));
  ck_assert_int_eq(tdsc__param_bytes(&p, TDSC_TYPE_VARCHAR, "x", 1, &e),
                   TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc__param_stream(&p, TDSC_TYPE_INT, NULL, &e),
                   TDSC_E_CONVERSION);
  ck_assert_int_eq(tdsc__param_null(&p, TDSC_TYPE_UDT, NULL, &e),
                   TDSC_E_CONVERSION);
  tdsc__buf_free(&st);
  tdsc__err_clear(&e);
}
END_TEST

/* ------------------------------------------ parameters from text (issue 19) */

static tdsc_decimal dec_of(const char *s) {
  tdsc_decimal d;
  ck_assert_msg(tdsc_decimal_from_string(s, &d) == TDSC_OK, "'%s'", s);
  return d;
}

static unsigned __int128 mag(const tdsc_decimal *d) {
  unsigned __int128 m = 0;
  for (int i = 15; i >= 0; i--)
    m = m << 8 | d->magnitude[i];
  return m;
}

START_TEST(decimal_from_string_edge_cases) {
  tdsc_decimal d = dec_of("-1234.5678");
  ck_assert(d.negative);
  ck_assert_uint_eq(d.precision, 8);
  ck_assert_uint_eq(d.scale, 4);
  ck_assert(mag(&d) == 12345678);
  d = dec_of("+0.50");
  ck_assert(!d.negative);
  ck_assert_uint_eq(d.scale, 2);
  ck_assert_uint_eq(d.precision, 2);
  ck_assert(mag(&d) == 50);
  d = dec_of("-0");
  ck_assert(!d.negative); /* no negative zero */
  ck_assert_uint_eq(d.precision, 1);
  d = dec_of("007");
  ck_assert_uint_eq(d.precision, 1);
  ck_assert(mag(&d) == 7);
  d = dec_of(".5");
  ck_assert_uint_eq(d.scale, 1);
  /* 38 digits: the largest that fits; 39: overflow */
  d = dec_of("99999999999999999999999999999999999999");
  ck_assert_uint_eq(d.precision, 38);
  ck_assert(mag(&d) + 1 == (unsigned __int128)10000000000000000000u *
                               10000000000000000000u);
  d = dec_of("0.00000000000000000000000000000000000001");
  ck_assert_uint_eq(d.scale, 38);
  ck_assert_uint_eq(d.precision, 38);
  tdsc_decimal x;
  const char *bad[] = {"999999999999999999999999999999999999999",
                       "0.000000000000000000000000000000000000001",
                       "", "-", ".", "1..2", "1.2.3", " 1", "1 ", "1e5",
                       "0x10", "1,5", "12a", "--1", "+-1", "NaN", "inf"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ck_assert_msg(tdsc_decimal_from_string(bad[i], &x) == TDSC_E_CONVERSION,
                  "'%s' accepted", bad[i]);
  ck_assert_int_eq(tdsc_decimal_from_string(NULL, &x), TDSC_E_INVALID_ARGUMENT);
  ck_assert_int_eq(tdsc_decimal_from_string("1", NULL), TDSC_E_INVALID_ARGUMENT);
}
END_TEST

/* The text's parameter is byte for byte the typed value's. */
static void same_param(const tdsc__param *a, const tdsc__param *b) {
  ck_assert_uint_eq(a->wire_type, b->wire_type);
  ck_assert_uint_eq(a->max_len, b->max_len);
  ck_assert_uint_eq(a->precision, b->precision);
  ck_assert_uint_eq(a->scale, b->scale);
  ck_assert_uint_eq(a->len, b->len);
  ck_assert_int_eq(memcmp(a->data, b->data, a->len), 0);
}

static void text_ok(tdsc_type t, const char *s, tdsc__param *out) {
  tdsc__buf store;
  tdsc__buf_init(&store);
  tdsc_error err = {0};
  memset(out, 0, sizeof *out);
  out->name = "@p";
  ck_assert_msg(tdsc__param_text(out, t, s, strlen(s), latin1, &store,
                                 &err) == TDSC_OK,
                "'%s' as %s: %s", s, tdsc_type_name(t), err.message);
  tdsc__buf_free(&store);
}

static void text_bad(tdsc_type t, const char *s, const char *msg_part) {
  tdsc__buf store;
  tdsc__buf_init(&store);
  tdsc_error err = {0};
  tdsc__param p;
  memset(&p, 0, sizeof p);
  p.name = "@p";
  ck_assert_msg(tdsc__param_text(&p, t, s, strlen(s), latin1, &store, &err) ==
                    TDSC_E_CONVERSION,
                "'%s' accepted as %s", s, tdsc_type_name(t));
  ck_assert_msg(strstr(err.message, "@p") && strstr(err.message, msg_part),
                "'%s' as %s: %s (want '%s')", s, tdsc_type_name(t),
                err.message, msg_part);
  ck_assert_ptr_null(strstr(tdsc_error_hint(&err), "getter"));
  tdsc__err_clear(&err);
  tdsc__buf_free(&store);
}

START_TEST(text_binds_as_the_typed_value) {
  tdsc__param a, b;
  memset(&b, 0, sizeof b);
  tdsc_decimal d = dec_of("-1234.5678");
  text_ok(TDSC_TYPE_DECIMAL, "-1234.5678", &a);
  ck_assert_int_eq(tdsc__param_decimal(&b, TDSC_TYPE_DECIMAL, &d, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  text_ok(TDSC_TYPE_MONEY, "-922337203685477.5808", &a);
  d = dec_of("-922337203685477.5808");
  ck_assert_int_eq(tdsc__param_decimal(&b, TDSC_TYPE_MONEY, &d, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  text_ok(TDSC_TYPE_SMALLMONEY, "214748.3647", &a);
  tdsc_datetime dt = {.year = 2024, .month = 2, .day = 29, .hour = 13,
                      .minute = 45, .second = 1, .nanosecond = 123456700,
                      .offset_minutes = 330};
  static const struct {
    tdsc_type t;
    const char *s;
  } dts[] = {{TDSC_TYPE_DATETIMEOFFSET, "2024-02-29 13:45:01.1234567 +05:30"},
             {TDSC_TYPE_DATETIME2, "2024-02-29T13:45:01.1234567"},
             {TDSC_TYPE_TIME, "13:45:01.1234567"}};
  for (size_t i = 0; i < 3; i++) {
    text_ok(dts[i].t, dts[i].s, &a);
    ck_assert_int_eq(tdsc__param_datetime(&b, dts[i].t, &dt, NULL), TDSC_OK);
    same_param(&a, &b);
  }
  dt.nanosecond = 123000000;
  text_ok(TDSC_TYPE_DATETIME, "2024-02-29 13:45:01.123", &a);
  ck_assert_int_eq(tdsc__param_datetime(&b, TDSC_TYPE_DATETIME, &dt, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  text_ok(TDSC_TYPE_DATE, "2024-02-29", &a);
  ck_assert_int_eq(tdsc__param_datetime(&b, TDSC_TYPE_DATE, &dt, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  dt.second = 0, dt.nanosecond = 0;
  text_ok(TDSC_TYPE_SMALLDATETIME, "2024-02-29 13:45", &a);
  ck_assert_int_eq(
      tdsc__param_datetime(&b, TDSC_TYPE_SMALLDATETIME, &dt, NULL), TDSC_OK);
  same_param(&a, &b);
  const uint8_t g[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                         0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
  tdsc__param_guid(&b, g);
  text_ok(TDSC_TYPE_UNIQUEIDENTIFIER, "01234567-89AB-cdef-0123-456789abcdef",
          &a);
  same_param(&a, &b);
  text_ok(TDSC_TYPE_UNIQUEIDENTIFIER, "{01234567-89ab-cdef-0123-456789abcdef}",
          &a);
  same_param(&a, &b);
}
END_TEST

START_TEST(malformed_text_names_the_parameter_and_the_form) {
  text_bad(TDSC_TYPE_DECIMAL, "12,5", "[-]digits[.digits]");
  text_bad(TDSC_TYPE_DECIMAL, "1e3", "[-]digits[.digits]");
  text_bad(TDSC_TYPE_NUMERIC, "1234567890123456789012345678901234567890",
           "more than 38 digits");
  text_bad(TDSC_TYPE_MONEY, "1.23456", "more than 4 decimals");
  text_bad(TDSC_TYPE_MONEY, "922337203685477.5808", "out of range");
  text_bad(TDSC_TYPE_SMALLMONEY, "214748.3648", "out of range");
  text_bad(TDSC_TYPE_DATE, "2024-02-30", "invalid date");
  text_bad(TDSC_TYPE_DATE, "2024-2-3", "YYYY-MM-DD");
  text_bad(TDSC_TYPE_DATE, "2024-02-29 ", "YYYY-MM-DD");
  text_bad(TDSC_TYPE_TIME, "24:00:00", "invalid time");
  text_bad(TDSC_TYPE_TIME, "13:45:01.12345678", "more fractional digits");
  text_bad(TDSC_TYPE_DATETIME, "2024-02-29 13:45:01.1234",
           "more fractional digits");
  text_bad(TDSC_TYPE_SMALLDATETIME, "2024-02-29 13:45:01.5",
           "fractional seconds");
  text_bad(TDSC_TYPE_DATETIMEOFFSET, "2024-02-29 13:45:01", "no offset");
  text_bad(TDSC_TYPE_DATETIMEOFFSET, "2024-02-29 13:45:01 +15:00",
           "offset beyond");
  text_bad(TDSC_TYPE_DATETIME2, "yesterday", "YYYY-MM-DD hh:mm:ss");
  text_bad(TDSC_TYPE_UNIQUEIDENTIFIER, "01234567-89ab-cdef-0123-456789abcdeg",
           "xxxxxxxx-xxxx");
  text_bad(TDSC_TYPE_UNIQUEIDENTIFIER, "0123456789abcdef0123456789abcdef",
           "xxxxxxxx-xxxx");
  text_bad(TDSC_TYPE_INT, "12", "cannot send text as int");
}
END_TEST

START_TEST(double_binds_as_decimal_and_money) {
  tdsc__param a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  tdsc_decimal d = dec_of("0.1");
  ck_assert_int_eq(tdsc__param_double(&a, TDSC_TYPE_DECIMAL, 0.1, NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__param_decimal(&b, TDSC_TYPE_DECIMAL, &d, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  d = dec_of("-1234.5678");
  ck_assert_int_eq(tdsc__param_double(&a, TDSC_TYPE_NUMERIC, -1234.5678,
                                      NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__param_decimal(&b, TDSC_TYPE_NUMERIC, &d, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  d = dec_of("100000000000000000000"); /* 1e20: exponent form inside */
  ck_assert_int_eq(tdsc__param_double(&a, TDSC_TYPE_DECIMAL, 1e20, NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__param_decimal(&b, TDSC_TYPE_DECIMAL, &d, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  /* money: rounded half away from zero to 4 decimals */
  d = dec_of("2.0001");
  ck_assert_int_eq(tdsc__param_double(&a, TDSC_TYPE_MONEY, 2.00005, NULL),
                   TDSC_OK);
  ck_assert_int_eq(tdsc__param_decimal(&b, TDSC_TYPE_MONEY, &d, NULL),
                   TDSC_OK);
  same_param(&a, &b);
  tdsc_error err = {0};
  ck_assert_int_eq(tdsc__param_double(&a, TDSC_TYPE_DECIMAL, 1e300, &err),
                   TDSC_E_CONVERSION);
  ck_assert_ptr_nonnull(strstr(err.message, "38 decimal digits"));
  tdsc__err_clear(&err);
  ck_assert_int_eq(tdsc__param_double(&a, TDSC_TYPE_MONEY, NAN, &err),
                   TDSC_E_CONVERSION);
  tdsc__err_clear(&err);
}
END_TEST

START_TEST(rpc_streams_plp_chunks) {
  tdsc__param p = {.name = "@b"};
  ck_assert_int_eq(tdsc__param_stream(&p, TDSC_TYPE_VARBINARY, NULL, NULL), 0);
  decl_is(&p, "varbinary(max)");
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert_int_eq(tdsc__rpc_param(&b, &p, 3, NULL), 0);
  tdsc__rpc_plp_chunk(&b, "\xaa\xbb", 2);
  tdsc__rpc_plp_chunk(&b, "\xcc", 1);
  tdsc__rpc_plp_end(&b);
  assert_hex(&b, 0, "02 4000 6200 00 a5 ffff 0300000000000000"
                    "02000000 aabb 01000000 cc 00000000");
  tdsc__buf_reset(&b);
  ck_assert_int_eq(tdsc__rpc_param(&b, &p, -1, NULL), 0); /* unknown length */
  assert_hex(&b, 0, "02 4000 6200 00 a5 ffff feffffffffffffff");
  tdsc__buf_free(&b);
}
END_TEST

int main(void) {
  Suite *s = suite_create("rpc");
  TCase *tc = tcase_create("rpc");
  tcase_add_test(tc, rpc_reproduces_the_mstds_example_request);
  tcase_add_test(tc, rpc_sp_executesql_request_matches_the_spec_by_hand);
  tcase_add_test(tc, rpc_encodes_numbers);
  tcase_add_test(tc, rpc_encodes_dates_guids_and_text);
  tcase_add_test(tc, rpc_refuses_what_the_type_cannot_hold);
  tcase_add_test(tc, rpc_streams_plp_chunks);
  tcase_add_test(tc, decimal_from_string_edge_cases);
  tcase_add_test(tc, text_binds_as_the_typed_value);
  tcase_add_test(tc, malformed_text_names_the_parameter_and_the_form);
  tcase_add_test(tc, double_binds_as_decimal_and_money);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
