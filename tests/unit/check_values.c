/* Unit tests of lib/proto/values.c (with values_text.c, decimal.c and
 * variant.c), datetime.c and collation.c: column
 * payloads built by hand, byte for byte, and real bytes from the vectors of
 * the vectors folder (vectors.h), decoded through every getter, including every error path.
 * One suite per source file. */
#include "config.h"

#include <check.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/values.h"
#include "vectors.h"

/* ---------------------------------------------------------------- helpers */

static char g_text[16384]; /* the last text result */
static char g_msg[1024];   /* the last error message */

static tdsc__colinfo col(tdsc_type t) {
  tdsc__colinfo c;
  memset(&c, 0, sizeof c);
  c.type = t;
  return c;
}

static tdsc__colinfo colps(tdsc_type t, uint8_t precision, uint8_t scale) {
  tdsc__colinfo c = col(t);
  c.precision = precision;
  c.scale = scale;
  return c;
}

static tdsc__colinfo colcoll(tdsc_type t, const char *coll_hex) {
  tdsc__colinfo c = col(t);
  size_t n;
  uint8_t *p = tdsc_test_hex(coll_hex, &n);
  ck_assert_ptr_nonnull(p);
  ck_assert_uint_eq(n, 5);
  memcpy(c.collation, p, 5);
  c.has_collation = true;
  free(p);
  return c;
}

static int coll_cp(const char *coll_hex) {
  tdsc__colinfo c = colcoll(TDSC_TYPE_VARCHAR, coll_hex);
  return tdsc__collation_codepage(c.collation);
}

enum getter {
  G_TEXT,
  G_INT64,
  G_DOUBLE,
  G_DECIMAL,
  G_DATETIME,
  G_GUID,
  G_BYTES
};

/* Runs one getter on a payload given in hex; keeps the text and message. */
static tdsc_errc get_raw(enum getter g, const tdsc__colinfo *c,
                         const uint8_t *p, size_t n, void *out) {
  tdsc__value v = {false, p, n};
  tdsc_error e;
  tdsc__buf b;
  tdsc_errc rc = TDSC_OK;
  const uint8_t *bp = NULL;
  size_t bl = 0;

  memset(&e, 0, sizeof e);
  tdsc__buf_init(&b);
  switch (g) {
  case G_TEXT:
    rc = tdsc__val_text(c, &v, &b, &e);
    break;
  case G_INT64:
    rc = tdsc__val_int64(c, &v, out, &e);
    break;
  case G_DOUBLE:
    rc = tdsc__val_double(c, &v, out, &e);
    break;
  case G_DECIMAL:
    rc = tdsc__val_decimal(c, &v, out, &e);
    break;
  case G_DATETIME:
    rc = tdsc__val_datetime(c, &v, out, &e);
    break;
  case G_GUID:
    rc = tdsc__val_guid(c, &v, out, &e);
    break;
  case G_BYTES:
    rc = tdsc__val_bytes(c, &v, &bp, &bl, &e);
    if (rc == TDSC_OK) {
      ck_assert(bl == 0 || (bp >= p && bp + bl <= p + n));
      *(size_t *)out = bl;
    }
    break;
  }
  ck_assert_uint_lt(b.len, sizeof g_text);
  snprintf(g_text, sizeof g_text, "%.*s", (int)b.len,
           b.data ? (const char *)b.data : "");
  snprintf(g_msg, sizeof g_msg, "%s", e.message ? e.message : "");
  if (rc != TDSC_OK) {
    ck_assert_int_eq(tdsc_error_code(&e), rc);
    ck_assert_msg(g_msg[0] != '\0', "error %d without a message", rc);
  }
  tdsc__err_clear(&e);
  tdsc__buf_free(&b);
  return rc;
}

static tdsc_errc get(enum getter g, const tdsc__colinfo *c, const char *hex,
                     void *out) {
  size_t n;
  uint8_t *p = tdsc_test_hex(hex, &n);
  ck_assert_ptr_nonnull(p);
  tdsc_errc rc = get_raw(g, c, n ? p : NULL, n, out);
  free(p);
  return rc;
}

#define CK_TEXT(c, hex, want)                                                  \
  do {                                                                         \
    tdsc__colinfo c_ = (c);                                                    \
    ck_assert_int_eq(get(G_TEXT, &c_, hex, NULL), TDSC_OK);                    \
    ck_assert_str_eq(g_text, want);                                            \
  } while (0)

#define CK_FAIL(g, c, hex, code, msgpart)                                      \
  do {                                                                         \
    tdsc__colinfo c_ = (c);                                                    \
    union {                                                                    \
      int64_t i;                                                               \
      double d;                                                                \
      tdsc_decimal dec;                                                        \
      tdsc_datetime dt;                                                        \
      uint8_t g16[16];                                                         \
      size_t n;                                                                \
    } o_;                                                                      \
    ck_assert_int_eq(get(g, &c_, hex, &o_), code);                             \
    ck_assert_msg(strstr(g_msg, msgpart) != NULL,                              \
                  "message \"%s\" lacks \"%s\"", g_msg, msgpart);              \
  } while (0)

static int64_t get_i64(tdsc__colinfo c, const char *hex) {
  int64_t i = 0;
  ck_assert_int_eq(get(G_INT64, &c, hex, &i), TDSC_OK);
  return i;
}

static double get_dbl(tdsc__colinfo c, const char *hex) {
  double d = 0;
  ck_assert_int_eq(get(G_DOUBLE, &c, hex, &d), TDSC_OK);
  return d;
}

static tdsc_datetime get_dt(tdsc__colinfo c, const char *hex) {
  tdsc_datetime dt;
  ck_assert_int_eq(get(G_DATETIME, &c, hex, &dt), TDSC_OK);
  return dt;
}

#define SQL_LATIN1_CP1_CI_AS "0904d00034" /* 1252; in MS-TDS 4.4 and 4.7 */

/* ================================================================ values.c */

START_TEST(type_names_cover_every_type) {
  static const char *const want[] = {"unknown",
                                     "bit",
                                     "tinyint",
                                     "smallint",
                                     "int",
                                     "bigint",
                                     "real",
                                     "float",
                                     "decimal",
                                     "numeric",
                                     "smallmoney",
                                     "money",
                                     "char",
                                     "varchar",
                                     "text",
                                     "nchar",
                                     "nvarchar",
                                     "ntext",
                                     "binary",
                                     "varbinary",
                                     "image",
                                     "uniqueidentifier",
                                     "date",
                                     "time",
                                     "smalldatetime",
                                     "datetime",
                                     "datetime2",
                                     "datetimeoffset",
                                     "xml",
                                     "sql_variant",
                                     "udt"};
  for (int t = 0; t <= TDSC_TYPE_UDT; t++)
    ck_assert_str_eq(tdsc_type_name((tdsc_type)t), want[t]);
  ck_assert_str_eq(tdsc_type_name((tdsc_type)31), "unknown");
  ck_assert_str_eq(tdsc_type_name((tdsc_type)-1), "unknown");
}
END_TEST

START_TEST(integers_read_little_endian_at_their_limits) {
  CK_TEXT(col(TDSC_TYPE_BIT), "00", "0");
  CK_TEXT(col(TDSC_TYPE_BIT), "01", "1");
  CK_TEXT(col(TDSC_TYPE_TINYINT), "ff", "255"); /* tinyint is unsigned */
  CK_TEXT(col(TDSC_TYPE_TINYINT), "00", "0");
  CK_TEXT(col(TDSC_TYPE_SMALLINT), "0080", "-32768");
  CK_TEXT(col(TDSC_TYPE_SMALLINT), "ff7f", "32767");
  CK_TEXT(col(TDSC_TYPE_INT), "00000080", "-2147483648");
  CK_TEXT(col(TDSC_TYPE_INT), "ffffff7f", "2147483647");
  CK_TEXT(col(TDSC_TYPE_INT), "d2040000", "1234");
  CK_TEXT(col(TDSC_TYPE_BIGINT), "0000000000000080", "-9223372036854775808");
  CK_TEXT(col(TDSC_TYPE_BIGINT), "ffffffffffffff7f", "9223372036854775807");
  CK_TEXT(col(TDSC_TYPE_BIGINT), "ffffffffffffffff", "-1");

  ck_assert_int_eq(get_i64(col(TDSC_TYPE_BIT), "01"), 1);
  ck_assert_int_eq(get_i64(col(TDSC_TYPE_TINYINT), "ff"), 255);
  ck_assert_int_eq(get_i64(col(TDSC_TYPE_SMALLINT), "0080"), -32768);
  ck_assert_int_eq(get_i64(col(TDSC_TYPE_INT), "00000080"), INT32_MIN);
  ck_assert_int_eq(get_i64(col(TDSC_TYPE_BIGINT), "0000000000000080"),
                   INT64_MIN);
  ck_assert_int_eq(get_i64(col(TDSC_TYPE_BIGINT), "ffffffffffffff7f"),
                   INT64_MAX);

  ck_assert(get_dbl(col(TDSC_TYPE_INT), "00000080") == -2147483648.0);
  ck_assert(get_dbl(col(TDSC_TYPE_BIGINT), "ffffffffffffff7f") ==
            9223372036854775807.0);
  ck_assert(get_dbl(col(TDSC_TYPE_BIT), "01") == 1.0);

  tdsc__colinfo c = col(TDSC_TYPE_BIGINT);
  tdsc_decimal d;
  ck_assert_int_eq(get(G_DECIMAL, &c, "0000000000000080", &d), TDSC_OK);
  ck_assert(d.negative);
  ck_assert_uint_eq(d.precision, 19);
  ck_assert_uint_eq(d.scale, 0);
  static const uint8_t m63[16] = {0, 0, 0, 0, 0, 0, 0, 0x80};
  ck_assert_mem_eq(d.magnitude, m63, 16);
  c = col(TDSC_TYPE_INT);
  ck_assert_int_eq(get(G_DECIMAL, &c, "d2040000", &d), TDSC_OK);
  ck_assert(!d.negative);
  ck_assert_uint_eq(d.precision, 10);
  ck_assert_uint_eq(d.magnitude[0], 0xd2);
  ck_assert_uint_eq(d.magnitude[1], 0x04);
}
END_TEST

START_TEST(integer_payload_of_wrong_length_is_a_protocol_error) {
  /* INTN columns: the length byte must agree with the declared width. */
  CK_FAIL(G_INT64, col(TDSC_TYPE_INT), "0100", TDSC_E_PROTOCOL,
          "int value of 2 bytes (expected 4)");
  CK_FAIL(G_INT64, col(TDSC_TYPE_BIGINT), "01000000", TDSC_E_PROTOCOL,
          "bigint value of 4 bytes (expected 8)");
  CK_FAIL(G_TEXT, col(TDSC_TYPE_SMALLINT), "010000", TDSC_E_PROTOCOL,
          "smallint");
  CK_FAIL(G_TEXT, col(TDSC_TYPE_BIT), "", TDSC_E_PROTOCOL, "bit");
  CK_FAIL(G_DOUBLE, col(TDSC_TYPE_TINYINT), "0101", TDSC_E_PROTOCOL, "tinyint");
  CK_FAIL(G_DECIMAL, col(TDSC_TYPE_INT), "01", TDSC_E_PROTOCOL, "int");
}
END_TEST

START_TEST(floats_print_shortest_round_trip_text) {
  CK_TEXT(col(TDSC_TYPE_REAL), "cdcccc3d", "0.1");          /* 0.1f */
  CK_TEXT(col(TDSC_TYPE_FLOAT), "9a9999999999b93f", "0.1"); /* 0.1 */
  CK_TEXT(col(TDSC_TYPE_FLOAT), "555555555555d53f", "0.3333333333333333");
  CK_TEXT(col(TDSC_TYPE_REAL), "abaaaa3e", "0.33333334");
  CK_TEXT(col(TDSC_TYPE_REAL), "0000804b", "16777216");
  CK_TEXT(col(TDSC_TYPE_REAL), "ffff7f7f", "3.4028235e+38"); /* FLT_MAX */
  CK_TEXT(col(TDSC_TYPE_FLOAT), "ffffffffffffef7f",
          "1.7976931348623157e+308");                          /* DBL_MAX */
  CK_TEXT(col(TDSC_TYPE_FLOAT), "0100000000000000", "5e-324"); /* min sub */
  CK_TEXT(col(TDSC_TYPE_FLOAT), "000000000000f0bf", "-1");
  CK_TEXT(col(TDSC_TYPE_FLOAT), "0000000000000000", "0");
  CK_TEXT(col(TDSC_TYPE_FLOAT), "00000080e060c140", "8897.75390625");
  /* Never from SQL Server, but they must not crash. */
  CK_TEXT(col(TDSC_TYPE_FLOAT), "000000000000f87f", "nan");
  CK_TEXT(col(TDSC_TYPE_FLOAT), "000000000000f0ff", "-inf");
  CK_TEXT(col(TDSC_TYPE_REAL), "0000807f", "inf");

  ck_assert(get_dbl(col(TDSC_TYPE_REAL), "cdcccc3d") == (double)0.1f);
  ck_assert(get_dbl(col(TDSC_TYPE_FLOAT), "9a9999999999b93f") == 0.1);
  CK_FAIL(G_DOUBLE, col(TDSC_TYPE_REAL), "0000000000000000", TDSC_E_PROTOCOL,
          "real value of 8 bytes (expected 4)");
  CK_FAIL(G_TEXT, col(TDSC_TYPE_FLOAT), "00000000", TDSC_E_PROTOCOL,
          "float value of 4 bytes (expected 8)");
}
END_TEST

START_TEST(float_text_uses_a_point_in_every_locale) {
  /* The machines here have no de_DE locale compiled unless LOCPATH points
   * at one (localedef -i de_DE -f UTF-8); without it this checks C only. */
  const char *loc = setlocale(LC_NUMERIC, "de_DE.UTF-8");
  if (loc) {
    char s[16];
    snprintf(s, sizeof s, "%.1f", 0.5);
    ck_assert_str_eq(s, "0,5"); /* the locale really is active */
  }
  CK_TEXT(col(TDSC_TYPE_FLOAT), "9a9999999999b93f", "0.1");
  CK_TEXT(col(TDSC_TYPE_REAL), "ffff7f7f", "3.4028235e+38");
  CK_TEXT(col(TDSC_TYPE_FLOAT), "000000000000f8bf", "-1.5");
  ck_assert(get_dbl(colps(TDSC_TYPE_DECIMAL, 5, 2), "01e2040000") == 12.5);
  setlocale(LC_NUMERIC, "C");
}
END_TEST

START_TEST(decimal_text_is_exact_with_scale_digits) {
  /* 10^38 - 1, the largest decimal(38,x) magnitude */
  const char *max = "01ffffffff3f228a097ac4865aa84c3b4b";
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 38, 0), max,
          "99999999999999999999999999999999999999");
  CK_TEXT(colps(TDSC_TYPE_NUMERIC, 38, 38), max,
          "0.99999999999999999999999999999999999999");
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 38, 10),
          "00ffffffff3f228a097ac4865aa84c3b4b",
          "-9999999999999999999999999999.9999999999");
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 9, 4), "0008e20100", "-12.3400");
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 5, 2), "0105000000", "0.05");
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 5, 0), "0105000000", "5");
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 18, 6), "01ffffffffffffffff",
          "18446744073709.551615");
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 28, 0), "01000000000000000001000000",
          "18446744073709551616"); /* 2^64, 12-byte magnitude */
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 38, 0), "0100000000000000000000000001000000",
          "79228162514264337593543950336"); /* 2^96 */
  /* Negative zero (sign byte 0, magnitude 0) is plain zero. */
  CK_TEXT(colps(TDSC_TYPE_DECIMAL, 5, 2), "0000000000", "0.00");
  tdsc__colinfo c = colps(TDSC_TYPE_DECIMAL, 5, 2);
  tdsc_decimal d;
  ck_assert_int_eq(get(G_DECIMAL, &c, "0000000000", &d), TDSC_OK);
  ck_assert(!d.negative);
  ck_assert_int_eq(get(G_DECIMAL, &c, "0008e20100", &d), TDSC_OK);
  ck_assert(d.negative);
  ck_assert_uint_eq(d.precision, 5);
  ck_assert_uint_eq(d.scale, 2);
  ck_assert_uint_eq(d.magnitude[0], 0x08);
  ck_assert_uint_eq(d.magnitude[1], 0xe2);
  ck_assert_uint_eq(d.magnitude[2], 0x01);
  for (int i = 3; i < 16; i++)
    ck_assert_uint_eq(d.magnitude[i], 0);
}
END_TEST

START_TEST(decimal_text_of_a_hand_built_decimal) {
  tdsc_decimal d;
  tdsc__buf b;
  memset(&d, 0, sizeof d);
  memset(d.magnitude, 0xff, 16); /* 2^128 - 1: beyond decimal(38) */
  d.scale = 5;
  d.negative = true;
  tdsc__buf_init(&b);
  tdsc__decimal_text(&d, &b);
  ck_assert_uint_eq(b.len, strlen("-3402823669209384634633746074317682.11455"));
  ck_assert_mem_eq(b.data, "-3402823669209384634633746074317682.11455", b.len);
  tdsc__buf_reset(&b);
  memset(&d, 0, sizeof d);
  d.negative = true; /* negative zero */
  d.scale = 3;
  tdsc__decimal_text(&d, &b);
  ck_assert_uint_eq(b.len, 5);
  ck_assert_mem_eq(b.data, "0.000", 5);
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(decimal_to_int64_only_for_scale_0_that_fits) {
  ck_assert_int_eq(get_i64(colps(TDSC_TYPE_DECIMAL, 10, 0), "0139300000"),
                   12345);
  ck_assert_int_eq(
      get_i64(colps(TDSC_TYPE_NUMERIC, 19, 0), "000000000000000080"),
      INT64_MIN);
  ck_assert_int_eq(
      get_i64(colps(TDSC_TYPE_NUMERIC, 19, 0), "01ffffffffffffff7f"),
      INT64_MAX);
  ck_assert_int_eq(get_i64(colps(TDSC_TYPE_DECIMAL, 5, 0), "0000000000"), 0);
  CK_FAIL(G_INT64, colps(TDSC_TYPE_NUMERIC, 19, 0), "010000000000000080",
          TDSC_E_CONVERSION, "9223372036854775808 does not fit in int64");
  CK_FAIL(G_INT64, colps(TDSC_TYPE_DECIMAL, 38, 0),
          "01ffffffff3f228a097ac4865aa84c3b4b", TDSC_E_CONVERSION,
          "does not fit in int64");
  CK_FAIL(G_INT64, colps(TDSC_TYPE_DECIMAL, 10, 2), "0139300000",
          TDSC_E_CONVERSION, "cannot read a decimal(10,2) column as int64");
}
END_TEST

START_TEST(decimal_to_double_is_correctly_rounded) {
  ck_assert(get_dbl(colps(TDSC_TYPE_DECIMAL, 5, 1), "0101000000") == 0.1);
  ck_assert(get_dbl(colps(TDSC_TYPE_DECIMAL, 9, 4), "0008e20100") == -12.34);
  ck_assert(get_dbl(colps(TDSC_TYPE_DECIMAL, 38, 0),
                    "01ffffffff3f228a097ac4865aa84c3b4b") == 1e38);
  ck_assert(get_dbl(colps(TDSC_TYPE_DECIMAL, 38, 38),
                    "01ffffffff3f228a097ac4865aa84c3b4b") == 1.0);
  ck_assert(get_dbl(colps(TDSC_TYPE_DECIMAL, 5, 2), "0000000000") == 0.0);
}
END_TEST

START_TEST(decimal_payload_errors) {
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DECIMAL, 9, 2), "010000000000",
          TDSC_E_PROTOCOL,
          "decimal value of 6 bytes (expected 5, 9, 13 or 17)");
  CK_FAIL(G_DECIMAL, colps(TDSC_TYPE_DECIMAL, 9, 2), "", TDSC_E_PROTOCOL,
          "decimal value of 0 bytes");
  CK_FAIL(G_DOUBLE, colps(TDSC_TYPE_NUMERIC, 9, 2), "0201000000",
          TDSC_E_PROTOCOL, "sign byte 0x02");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DECIMAL, 9, 10), "0101000000",
          TDSC_E_PROTOCOL, "decimal(9,10) is not a valid type");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DECIMAL, 39, 0), "0101000000",
          TDSC_E_PROTOCOL, "decimal(39,0)");
}
END_TEST

START_TEST(money_and_smallmoney_have_four_decimals) {
  /* money: high 4 bytes first, then the low 4 (2.2.5.5.1.3) */
  CK_TEXT(col(TDSC_TYPE_MONEY), "0000008000000000", "-922337203685477.5808");
  CK_TEXT(col(TDSC_TYPE_MONEY), "ffffff7fffffffff", "922337203685477.5807");
  CK_TEXT(col(TDSC_TYPE_MONEY), "0000000010270000", "1.0000");
  CK_TEXT(col(TDSC_TYPE_MONEY), "fffffffff0d8ffff", "-1.0000");
  CK_TEXT(col(TDSC_TYPE_MONEY), "0100000000000000", "429496.7296"); /* 2^32 */
  CK_TEXT(col(TDSC_TYPE_MONEY), "0000000001000000", "0.0001");
  CK_TEXT(col(TDSC_TYPE_SMALLMONEY), "00000080", "-214748.3648");
  CK_TEXT(col(TDSC_TYPE_SMALLMONEY), "ffffff7f", "214748.3647");
  CK_TEXT(col(TDSC_TYPE_SMALLMONEY), "00000000", "0.0000");

  tdsc__colinfo c = col(TDSC_TYPE_MONEY);
  tdsc_decimal d;
  ck_assert_int_eq(get(G_DECIMAL, &c, "0000008000000000", &d), TDSC_OK);
  ck_assert(d.negative);
  ck_assert_uint_eq(d.precision, 19);
  ck_assert_uint_eq(d.scale, 4);
  ck_assert_uint_eq(d.magnitude[7], 0x80);
  c = col(TDSC_TYPE_SMALLMONEY);
  ck_assert_int_eq(get(G_DECIMAL, &c, "ffffff7f", &d), TDSC_OK);
  ck_assert_uint_eq(d.precision, 10);
  ck_assert_uint_eq(d.scale, 4);

  ck_assert(get_dbl(col(TDSC_TYPE_MONEY), "0000000010270000") == 1.0);
  ck_assert(get_dbl(col(TDSC_TYPE_SMALLMONEY), "00000080") == -214748.3648);
  ck_assert(get_dbl(col(TDSC_TYPE_MONEY), "0000008000000000") ==
            -922337203685477.5808);

  CK_FAIL(G_INT64, col(TDSC_TYPE_MONEY), "0000000010270000", TDSC_E_CONVERSION,
          "cannot read a money column as int64");
  CK_FAIL(G_TEXT, col(TDSC_TYPE_MONEY), "00000000", TDSC_E_PROTOCOL,
          "money value of 4 bytes (expected 8)");
  CK_FAIL(G_DECIMAL, col(TDSC_TYPE_SMALLMONEY), "0000000000000000",
          TDSC_E_PROTOCOL, "smallmoney value of 8 bytes (expected 4)");
}
END_TEST

START_TEST(guid_reorders_the_mixed_endian_wire_form) {
  const char *wire = "ff19966f868b11d0b42d00c04fc964ff";
  CK_TEXT(col(TDSC_TYPE_UNIQUEIDENTIFIER), wire,
          "6F9619FF-8B86-D011-B42D-00C04FC964FF");
  tdsc__colinfo c = col(TDSC_TYPE_UNIQUEIDENTIFIER);
  uint8_t g[16];
  static const uint8_t rfc[16] = {0x6f, 0x96, 0x19, 0xff, 0x8b, 0x86,
                                  0xd0, 0x11, 0xb4, 0x2d, 0x00, 0xc0,
                                  0x4f, 0xc9, 0x64, 0xff};
  ck_assert_int_eq(get(G_GUID, &c, wire, g), TDSC_OK);
  ck_assert_mem_eq(g, rfc, 16);
  CK_TEXT(col(TDSC_TYPE_UNIQUEIDENTIFIER), "00000000000000000000000000000000",
          "00000000-0000-0000-0000-000000000000");
  CK_FAIL(G_GUID, col(TDSC_TYPE_UNIQUEIDENTIFIER),
          "ff19966f868b11d0b42d00c04fc964", TDSC_E_PROTOCOL,
          "uniqueidentifier value of 15 bytes (expected 16)");
  CK_FAIL(G_TEXT, col(TDSC_TYPE_UNIQUEIDENTIFIER), "", TDSC_E_PROTOCOL,
          "uniqueidentifier value of 0 bytes");
}
END_TEST

START_TEST(binary_types_give_bytes_and_hex_text) {
  CK_TEXT(col(TDSC_TYPE_VARBINARY), "0001abff", "0x0001ABFF");
  CK_TEXT(col(TDSC_TYPE_BINARY), "00000000", "0x00000000");
  CK_TEXT(col(TDSC_TYPE_IMAGE), "", "0x");
  CK_TEXT(col(TDSC_TYPE_UDT), "deadbeef", "0xDEADBEEF");
  tdsc__colinfo c = col(TDSC_TYPE_VARBINARY);
  size_t n = 0;
  ck_assert_int_eq(get(G_BYTES, &c, "0001abff", &n), TDSC_OK);
  ck_assert_uint_eq(n, 4);
  c = col(TDSC_TYPE_IMAGE);
  ck_assert_int_eq(get(G_BYTES, &c, "", &n), TDSC_OK);
  ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(character_types_convert_to_utf8) {
  CK_TEXT(colcoll(TDSC_TYPE_VARCHAR, SQL_LATIN1_CP1_CI_AS), "636166e9",
          "caf\xc3\xa9");
  CK_TEXT(colcoll(TDSC_TYPE_VARCHAR, SQL_LATIN1_CP1_CI_AS), "80",
          "\xe2\x82\xac"); /* the euro sign */
  CK_TEXT(colcoll(TDSC_TYPE_CHAR, SQL_LATIN1_CP1_CI_AS), "6162202020",
          "ab   "); /* char(n) keeps its padding */
  CK_TEXT(colcoll(TDSC_TYPE_TEXT, SQL_LATIN1_CP1_CI_AS), "", "");
  /* nvarchar: UTF-16LE "café€" and U+1F600 as a surrogate pair */
  CK_TEXT(col(TDSC_TYPE_NVARCHAR), "630061006600e900ac20",
          "caf\xc3\xa9\xe2\x82\xac");
  CK_TEXT(col(TDSC_TYPE_NCHAR), "3dd800de2000", "\xf0\x9f\x98\x80 ");
  CK_TEXT(col(TDSC_TYPE_NTEXT), "", "");
  CK_TEXT(col(TDSC_TYPE_NVARCHAR), "610000dc", "a\xef\xbf\xbd"); /* lone low */
  CK_TEXT(col(TDSC_TYPE_NVARCHAR), "6100 62", "a\xef\xbf\xbd");  /* odd byte */
  /* xml: UTF-16LE; a byte order mark is dropped */
  CK_TEXT(col(TDSC_TYPE_XML), "fffe3c0061002f003e00", "<a/>");
  CK_TEXT(col(TDSC_TYPE_XML), "3c0061002f003e00", "<a/>");
}
END_TEST

START_TEST(character_conversion_errors) {
  tdsc__colinfo c = col(TDSC_TYPE_VARCHAR); /* no collation at all */
  CK_FAIL(G_TEXT, c, "61", TDSC_E_PROTOCOL, "varchar column has no collation");
  /* Hindi_100_CI_AS: a Unicode-only locale, no code page */
  CK_FAIL(G_TEXT, colcoll(TDSC_TYPE_VARCHAR, "3904d02000"), "61",
          TDSC_E_CONVERSION, "LCID 0x00439, SortId 0");
  CK_FAIL(G_TEXT, colcoll(TDSC_TYPE_CHAR, "0904d00001"), "61",
          TDSC_E_CONVERSION, "has no known code page");
  CK_FAIL(G_INT64, colcoll(TDSC_TYPE_VARCHAR, SQL_LATIN1_CP1_CI_AS), "31",
          TDSC_E_CONVERSION, "cannot read a varchar column as int64");
  CK_FAIL(G_DOUBLE, col(TDSC_TYPE_NVARCHAR), "3100", TDSC_E_CONVERSION,
          "cannot read a nvarchar column as double");
  CK_FAIL(G_BYTES, col(TDSC_TYPE_NVARCHAR), "3100", TDSC_E_CONVERSION,
          "cannot read a nvarchar column as bytes");
  CK_FAIL(G_DECIMAL, col(TDSC_TYPE_XML), "3100", TDSC_E_CONVERSION,
          "cannot read a xml column as decimal");
}
END_TEST

START_TEST(every_getter_rejects_types_it_does_not_read) {
  CK_FAIL(G_INT64, colps(TDSC_TYPE_DATETIME2, 0, 7), "0000000000000000",
          TDSC_E_CONVERSION, "cannot read a datetime2 column as int64");
  CK_FAIL(G_INT64, col(TDSC_TYPE_FLOAT), "0000000000000000", TDSC_E_CONVERSION,
          "cannot read a float column as int64");
  CK_FAIL(G_INT64, col(TDSC_TYPE_UNIQUEIDENTIFIER),
          "00000000000000000000000000000000", TDSC_E_CONVERSION, "as int64");
  CK_FAIL(G_DOUBLE, col(TDSC_TYPE_DATE), "000000", TDSC_E_CONVERSION,
          "cannot read a date column as double");
  CK_FAIL(G_DOUBLE, col(TDSC_TYPE_VARBINARY), "00", TDSC_E_CONVERSION,
          "cannot read a varbinary column as double");
  CK_FAIL(G_DECIMAL, col(TDSC_TYPE_FLOAT), "0000000000000000",
          TDSC_E_CONVERSION, "cannot read a float column as decimal");
  CK_FAIL(G_DECIMAL, col(TDSC_TYPE_REAL), "00000000", TDSC_E_CONVERSION,
          "cannot read a real column as decimal");
  CK_FAIL(G_DATETIME, col(TDSC_TYPE_INT), "00000000", TDSC_E_CONVERSION,
          "cannot read a int column as datetime");
  CK_FAIL(G_DATETIME, col(TDSC_TYPE_NVARCHAR), "3100", TDSC_E_CONVERSION,
          "cannot read a nvarchar column as datetime");
  CK_FAIL(G_GUID, col(TDSC_TYPE_BINARY), "00000000000000000000000000000000",
          TDSC_E_CONVERSION, "cannot read a binary column as guid");
  CK_FAIL(G_BYTES, col(TDSC_TYPE_UNIQUEIDENTIFIER),
          "00000000000000000000000000000000", TDSC_E_CONVERSION,
          "cannot read a uniqueidentifier column as bytes");
  CK_FAIL(G_BYTES, col(TDSC_TYPE_INT), "00000000", TDSC_E_CONVERSION,
          "cannot read a int column as bytes");
  CK_FAIL(G_TEXT, col(TDSC_TYPE_UNKNOWN), "00", TDSC_E_CONVERSION,
          "cannot read a unknown column as text");
}
END_TEST

START_TEST(null_values_are_refused) {
  tdsc__colinfo c = col(TDSC_TYPE_INT);
  tdsc__value v = {true, NULL, 0};
  tdsc_error e;
  tdsc__buf b;
  int64_t i;
  memset(&e, 0, sizeof e);
  tdsc__buf_init(&b);
  ck_assert_int_eq(tdsc__val_int64(&c, &v, &i, &e), TDSC_E_NULL_VALUE);
  ck_assert_int_eq(tdsc__val_text(&c, &v, &b, &e), TDSC_E_NULL_VALUE);
  c = col(TDSC_TYPE_DATE);
  tdsc_datetime dt;
  ck_assert_int_eq(tdsc__val_datetime(&c, &v, &dt, &e), TDSC_E_NULL_VALUE);
  ck_assert_uint_eq(b.len, 0);
  tdsc__err_clear(&e);
  tdsc__buf_free(&b);
}
END_TEST

START_TEST(sql_variant_reads_its_base_value) {
  tdsc__colinfo v = col(TDSC_TYPE_SQL_VARIANT);
  /* int 42: base 0x38 (INT4), no properties */
  CK_TEXT(v, "38002a000000", "42");
  ck_assert_int_eq(get_i64(v, "38002a000000"), 42);
  ck_assert(get_dbl(v, "38002a000000") == 42.0);
  CK_TEXT(v,
          "3200"
          "01",
          "1"); /* bit */
  CK_TEXT(v,
          "3000"
          "ff",
          "255"); /* tinyint */
  CK_TEXT(v,
          "7f00"
          "ffffffffffffff7f",
          "9223372036854775807");
  CK_TEXT(v,
          "3e00"
          "9a9999999999b93f",
          "0.1"); /* float */
  CK_TEXT(v,
          "3b00"
          "cdcccc3d",
          "0.1"); /* real */
  CK_TEXT(v,
          "3c00"
          "0000000010270000",
          "1.0000"); /* money */
  /* decimal(5,2) 123.45: properties precision, scale */
  CK_TEXT(v,
          "6a020502"
          "0139300000",
          "123.45");
  tdsc_decimal d;
  ck_assert_int_eq(get(G_DECIMAL, &v,
                       "6c020502"
                       "0039300000",
                       &d),
                   TDSC_OK);
  ck_assert(d.negative);
  ck_assert_uint_eq(d.precision, 5);
  ck_assert_uint_eq(d.scale, 2);
  /* nvarchar: collation + max length, then UTF-16LE */
  CK_TEXT(v,
          "e707" SQL_LATIN1_CP1_CI_AS "0800"
          "680069004e01",
          "hi\xc5\x8e");
  /* varchar in cp1252 */
  CK_TEXT(v,
          "a707" SQL_LATIN1_CP1_CI_AS "0800"
          "636166e9",
          "caf\xc3\xa9");
  /* varbinary: max length */
  CK_TEXT(v,
          "a5021000"
          "beef",
          "0xBEEF");
  size_t n;
  ck_assert_int_eq(get(G_BYTES, &v,
                       "a5021000"
                       "beef",
                       &n),
                   TDSC_OK);
  ck_assert_uint_eq(n, 2);
  /* date, datetime, datetime2(3), time(0), datetimeoffset(0) */
  CK_TEXT(v,
          "2800"
          "80460b",
          "2024-02-29");
  CK_TEXT(v,
          "3d00"
          "0000000001000000",
          "1900-01-01 00:00:00.003");
  CK_TEXT(v,
          "2a0103"
          "952cb302"
          "80460b",
          "2024-02-29 12:34:56.789");
  CK_TEXT(v,
          "290100"
          "7f5101",
          "23:59:59");
  CK_TEXT(v,
          "2b0100"
          "000000"
          "80460b"
          "4a01",
          "2024-02-29 05:30:00 +05:30");
  tdsc_datetime dt = get_dt(v, "2800"
                               "80460b");
  ck_assert_int_eq(dt.year, 2024);
  /* uniqueidentifier */
  CK_TEXT(v,
          "2400"
          "ff19966f868b11d0b42d00c04fc964ff",
          "6F9619FF-8B86-D011-B42D-00C04FC964FF");
  uint8_t g[16];
  ck_assert_int_eq(get(G_GUID, &v,
                       "2400"
                       "ff19966f868b11d0b42d00c04fc964ff",
                       g),
                   TDSC_OK);
  ck_assert_uint_eq(g[0], 0x6f);
  /* a longer property block than the type needs is skipped */
  CK_TEXT(v,
          "3802abcd"
          "2a000000",
          "42");

  tdsc__colinfo base;
  tdsc__value bv, val;
  tdsc_error e;
  size_t len;
  uint8_t *p = tdsc_test_hex("6a020502"
                             "0139300000",
                             &len);
  memset(&e, 0, sizeof e);
  val.null = false, val.data = p, val.len = len;
  ck_assert_int_eq(tdsc__variant_unpack(&v, &val, &base, &bv, &e), TDSC_OK);
  ck_assert_int_eq(base.type, TDSC_TYPE_DECIMAL);
  ck_assert_uint_eq(base.wire_type, 0x6a);
  ck_assert_uint_eq(base.precision, 5);
  ck_assert_uint_eq(base.scale, 2);
  ck_assert_ptr_eq(bv.data, p + 4);
  ck_assert_uint_eq(bv.len, 5);
  free(p);
}
END_TEST

START_TEST(sql_variant_errors) {
  tdsc__colinfo v = col(TDSC_TYPE_SQL_VARIANT);
  CK_FAIL(G_TEXT, v, "38", TDSC_E_PROTOCOL,
          "sql_variant value of 1 bytes is truncated");
  CK_FAIL(G_TEXT, v, "3805", TDSC_E_PROTOCOL, "truncated");
  CK_FAIL(G_TEXT, v, "9900", TDSC_E_PROTOCOL, "base type 0x99");
  CK_FAIL(G_TEXT, v, "620000", TDSC_E_PROTOCOL, "base type 0x62"); /* nested */
  CK_FAIL(G_TEXT, v,
          "e702"
          "0904",
          TDSC_E_PROTOCOL,
          "sql_variant nvarchar value has 2 property bytes (expected 7)");
  CK_FAIL(G_TEXT, v,
          "6a00"
          "0139300000",
          TDSC_E_PROTOCOL, "(expected 2)");
  CK_FAIL(G_TEXT, v,
          "3800"
          "2a00",
          TDSC_E_PROTOCOL, "sql_variant: int value of 2 bytes (expected 4)");
  CK_FAIL(G_GUID, v, "38002a000000", TDSC_E_CONVERSION,
          "sql_variant: cannot read a int column as guid");
  CK_FAIL(G_INT64, v,
          "e707" SQL_LATIN1_CP1_CI_AS "0800"
          "6800",
          TDSC_E_CONVERSION,
          "sql_variant: cannot read a nvarchar column as int64");
  CK_FAIL(G_DATETIME, v, "38002a000000", TDSC_E_CONVERSION,
          "sql_variant: cannot read a int column as datetime");
  CK_FAIL(G_BYTES, v, "38002a000000", TDSC_E_CONVERSION, "as bytes");
}
END_TEST

/* MS-TDS 4.7 (mstds_v39_07): "select 'foo' as 'bar'": COLMETADATA of one
 * varchar(3) column in SQL_Latin1_General_CP1_CI_AS, then a ROW. */
START_TEST(spec_example_varchar_row) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *pk =
      tdsc_test_vector("mstds_v39_07-sql-batch-server-response.hex", &n);
  ck_assert_ptr_nonnull(pk);
  /* packet header (8), 0x81, count (2), usertype (4), flags (2) */
  ck_assert_uint_ge(n, 40);
  ck_assert_uint_eq(pk[8], 0x81);
  const uint8_t *ti = pk + 8 + 1 + 2 + 4 + 2;
  ck_assert_uint_eq(ti[0], 0xa7); /* BIGVARCHARTYPE */
  ck_assert_uint_eq(tdsc__le16(ti + 1), 3);
  tdsc__colinfo c = col(TDSC_TYPE_VARCHAR);
  c.wire_type = ti[0];
  c.max_len = 3;
  c.has_collation = true;
  memcpy(c.collation, ti + 3, 5);
  ck_assert_int_eq(tdsc__collation_codepage(c.collation), 1252);
  const uint8_t *name = ti + 8; /* B_VARCHAR name "bar" */
  const uint8_t *row = name + 1 + 2 * name[0];
  ck_assert_uint_eq(row[0], 0xd1);
  ck_assert_uint_eq(tdsc__le16(row + 1), 3);
  ck_assert_int_eq(get_raw(G_TEXT, &c, row + 3, 3, NULL), TDSC_OK);
  ck_assert_str_eq(g_text, "foo");
  free(pk);
}
END_TEST

/* MS-TDS 4.15 (mstds_v39_15): a sparse column set: rows of an INTN id and
 * an XML column set sent as PLP; the first row's values. */
START_TEST(spec_example_sparse_column_set_row) {
  TDSC_NEED_VECTORS();
  size_t n;
  uint8_t *pk = tdsc_test_vector("mstds_v39_15-sparse-column-select.hex", &n);
  ck_assert_ptr_nonnull(pk);
  static const uint8_t row1[] = {0xd1, 0x04, 0x01, 0x00, 0x00, 0x00, 0xfe,
                                 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  const uint8_t *r = NULL;
  for (size_t i = 0; i + sizeof row1 <= n; i++)
    if (memcmp(pk + i, row1, sizeof row1) == 0) {
      r = pk + i;
      break;
    }
  ck_assert_ptr_nonnull(r);
  tdsc__colinfo id = col(TDSC_TYPE_INT);
  ck_assert_int_eq(get_raw(G_TEXT, &id, r + 2, 4, NULL), TDSC_OK);
  ck_assert_str_eq(g_text, "1");
  /* PLP: 8-byte total (unknown), 4-byte chunk length, chunk, 0 terminator */
  uint32_t chunk = tdsc__le32(r + 14);
  ck_assert_uint_eq(chunk, 0x7a);
  ck_assert_uint_le((size_t)(r + 18 + chunk - pk), n);
  tdsc__colinfo xml = col(TDSC_TYPE_XML);
  ck_assert_int_eq(get_raw(G_TEXT, &xml, r + 18, chunk, NULL), TDSC_OK);
  ck_assert_str_eq(g_text, "<sparseProp1>1000</sparseProp1>"
                           "<sparseProp2>foo</sparseProp2>");
  free(pk);
}
END_TEST

/* Hostile payloads: every type, lengths 0..40, pseudo-random bytes (and
 * scales/precisions), through every getter: errors are fine, crashes and
 * out-of-bounds reads (run under valgrind or ASan) are not. */
START_TEST(random_payloads_never_crash) {
  uint32_t x = 2463534242u; /* xorshift32 */
  uint8_t p[40];
  for (int t = 0; t <= TDSC_TYPE_UDT + 1; t++)
    for (size_t n = 0; n <= sizeof p; n++)
      for (int round = 0; round < 8; round++) {
        for (size_t i = 0; i < n; i++) {
          x ^= x << 13, x ^= x >> 17, x ^= x << 5;
          p[i] = (uint8_t)x;
        }
        tdsc__colinfo c =
            colps((tdsc_type)t, (uint8_t)(x % 40), (uint8_t)(x >> 8) % 9);
        c.has_collation = round & 1;
        memcpy(c.collation,
               round & 2 ? "\x09\x04\xd0\x00\x34" : "\x11\x04\xd0\x00\x00", 5);
        if (round == 7 && n > 0)
          p[0] = (uint8_t)(x % 2 ? 0x6a : 0xe7); /* variant base types */
        union {
          int64_t i;
          double d;
          tdsc_decimal dec;
          tdsc_datetime dt;
          uint8_t g16[16];
          size_t n;
        } o;
        for (int g = G_TEXT; g <= G_BYTES; g++) {
          tdsc_errc rc = get_raw((enum getter)g, &c, n ? p : NULL, n, &o);
          ck_assert(rc == TDSC_OK || rc == TDSC_E_PROTOCOL ||
                    rc == TDSC_E_CONVERSION);
        }
      }
}
END_TEST

static Suite *values_suite(void) {
  Suite *s = suite_create("values");
  TCase *tc = tcase_create("values");
  tcase_add_test(tc, type_names_cover_every_type);
  tcase_add_test(tc, integers_read_little_endian_at_their_limits);
  tcase_add_test(tc, integer_payload_of_wrong_length_is_a_protocol_error);
  tcase_add_test(tc, floats_print_shortest_round_trip_text);
  tcase_add_test(tc, float_text_uses_a_point_in_every_locale);
  tcase_add_test(tc, decimal_text_is_exact_with_scale_digits);
  tcase_add_test(tc, decimal_text_of_a_hand_built_decimal);
  tcase_add_test(tc, decimal_to_int64_only_for_scale_0_that_fits);
  tcase_add_test(tc, decimal_to_double_is_correctly_rounded);
  tcase_add_test(tc, decimal_payload_errors);
  tcase_add_test(tc, money_and_smallmoney_have_four_decimals);
  tcase_add_test(tc, guid_reorders_the_mixed_endian_wire_form);
  tcase_add_test(tc, binary_types_give_bytes_and_hex_text);
  tcase_add_test(tc, character_types_convert_to_utf8);
  tcase_add_test(tc, character_conversion_errors);
  tcase_add_test(tc, every_getter_rejects_types_it_does_not_read);
  tcase_add_test(tc, null_values_are_refused);
  tcase_add_test(tc, sql_variant_reads_its_base_value);
  tcase_add_test(tc, sql_variant_errors);
  tcase_add_test(tc, spec_example_varchar_row);
  tcase_add_test(tc, spec_example_sparse_column_set_row);
  tcase_add_test(tc, random_payloads_never_crash);
  suite_add_tcase(s, tc);
  return s;
}

/* ============================================================== datetime.c */

START_TEST(date_range_and_leap_days) {
  tdsc__colinfo c = col(TDSC_TYPE_DATE);
  CK_TEXT(c, "000000", "0001-01-01");
  CK_TEXT(c, "dab937", "9999-12-31");
  CK_TEXT(c, "42240b", "2000-02-29"); /* 400-year rule: leap */
  CK_TEXT(c, "95950a", "1900-02-28"); /* 100-year rule: not leap */
  CK_TEXT(c, "96950a", "1900-03-01");
  CK_TEXT(c, "eeb20b", "2100-02-28");
  CK_TEXT(c, "efb20b", "2100-03-01");
  CK_TEXT(c, "80460b", "2024-02-29");
  tdsc_datetime dt = get_dt(c, "dab937");
  ck_assert_int_eq(dt.year, 9999);
  ck_assert_uint_eq(dt.month, 12);
  ck_assert_uint_eq(dt.day, 31);
  ck_assert(dt.has_date && !dt.has_time && !dt.has_offset);
  ck_assert_uint_eq(dt.hour, 0);
  CK_FAIL(G_DATETIME, c, "dbb937", TDSC_E_PROTOCOL, "date value of 3 bytes");
  CK_FAIL(G_TEXT, c, "0000", TDSC_E_PROTOCOL, "date value of 2 bytes");
  CK_FAIL(G_TEXT, c, "00000000", TDSC_E_PROTOCOL, "date value of 4 bytes");
}
END_TEST

/* Every day of 0001-01-01..9999-12-31 against a plain day-by-day count. */
START_TEST(every_date_matches_a_day_by_day_calendar) {
  static const uint8_t mdays[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  tdsc__colinfo c = col(TDSC_TYPE_DATE);
  tdsc_error e;
  int y = 1, m = 1, d = 1;
  memset(&e, 0, sizeof e);
  for (uint32_t day = 0; day <= 3652058; day++) {
    uint8_t p[3] = {(uint8_t)day, (uint8_t)(day >> 8), (uint8_t)(day >> 16)};
    tdsc__value v = {false, p, 3};
    tdsc_datetime dt;
    if (tdsc__val_datetime(&c, &v, &dt, &e) != TDSC_OK || dt.year != y ||
        dt.month != m || dt.day != d)
      ck_abort_msg("day %u: got %d-%d-%d, want %d-%d-%d", day, dt.year,
                   dt.month, dt.day, y, m, d);
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    int ml = mdays[m - 1] + (m == 2 && leap);
    if (++d > ml) {
      d = 1;
      if (++m > 12)
        m = 1, y++;
    }
  }
  ck_assert_int_eq(y, 10000);
  tdsc__err_clear(&e);
}
END_TEST

START_TEST(time_scales_and_lengths) {
  CK_TEXT(colps(TDSC_TYPE_TIME, 0, 0), "7f5101", "23:59:59");
  CK_TEXT(colps(TDSC_TYPE_TIME, 0, 0), "000000", "00:00:00");
  CK_TEXT(colps(TDSC_TYPE_TIME, 0, 7), "ffbf692ac9", "23:59:59.9999999");
  CK_TEXT(colps(TDSC_TYPE_TIME, 0, 3), "952cb302", "12:34:56.789");
  CK_TEXT(colps(TDSC_TYPE_TIME, 0, 1), "0d0000", "00:00:01.3");
  CK_TEXT(colps(TDSC_TYPE_TIME, 0, 5), "0100000000", "00:00:00.00001");
  tdsc_datetime dt = get_dt(colps(TDSC_TYPE_TIME, 0, 7), "ffbf692ac9");
  ck_assert(!dt.has_date && dt.has_time);
  ck_assert_uint_eq(dt.hour, 23);
  ck_assert_uint_eq(dt.minute, 59);
  ck_assert_uint_eq(dt.second, 59);
  ck_assert_uint_eq(dt.nanosecond, 999999900);
  ck_assert_int_eq(dt.year, 0);
  /* 24:00:00 and beyond are not times */
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_TIME, 0, 7), "00c0692ac9", TDSC_E_PROTOCOL,
          "time value of 5 bytes (scale 7)");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_TIME, 0, 0), "805101", TDSC_E_PROTOCOL,
          "time value");
  /* the length follows the scale: 0-2 -> 3, 3-4 -> 4, 5-7 -> 5 */
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_TIME, 0, 3), "7f5101", TDSC_E_PROTOCOL,
          "time value of 3 bytes (scale 3)");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_TIME, 0, 2), "00000000", TDSC_E_PROTOCOL,
          "scale 2");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_TIME, 0, 8), "0000000000", TDSC_E_PROTOCOL,
          "scale 8");
}
END_TEST

START_TEST(datetime2_is_time_then_date) {
  CK_TEXT(colps(TDSC_TYPE_DATETIME2, 0, 7),
          "ffbf692ac9"
          "dab937",
          "9999-12-31 23:59:59.9999999");
  CK_TEXT(colps(TDSC_TYPE_DATETIME2, 0, 0),
          "000000"
          "000000",
          "0001-01-01 00:00:00");
  CK_TEXT(colps(TDSC_TYPE_DATETIME2, 0, 3),
          "952cb302"
          "80460b",
          "2024-02-29 12:34:56.789");
  tdsc_datetime dt = get_dt(colps(TDSC_TYPE_DATETIME2, 0, 3), "952cb302"
                                                              "80460b");
  ck_assert(dt.has_date && dt.has_time && !dt.has_offset);
  ck_assert_uint_eq(dt.nanosecond, 789000000);
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DATETIME2, 0, 7),
          "ffbf692ac9"
          "dab9",
          TDSC_E_PROTOCOL, "datetime2 value of 7 bytes (scale 7)");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DATETIME2, 0, 7),
          "ffbf692ac9"
          "dbb937",
          TDSC_E_PROTOCOL, "datetime2");
}
END_TEST

START_TEST(datetimeoffset_shows_local_time) {
  /* 2024-01-01 05:00 +14:00 is 2023-12-31 15:00 UTC: back across a year. */
  const char *east = "001882ba7d"
                     "44460b"
                     "4803";
  CK_TEXT(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 7), east,
          "2024-01-01 05:00:00.0000000 +14:00");
  tdsc_datetime dt = get_dt(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 7), east);
  ck_assert(dt.has_date && dt.has_time && dt.has_offset);
  ck_assert_int_eq(dt.offset_minutes, 840);
  ck_assert_int_eq(dt.year, 2024);
  ck_assert_uint_eq(dt.hour, 5);
  /* 2023-12-31 20:00 -14:00 is 2024-01-01 10:00 UTC. */
  const char *west = "0010acd153"
                     "45460b"
                     "b8fc";
  CK_TEXT(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 7), west,
          "2023-12-31 20:00:00.0000000 -14:00");
  dt = get_dt(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 7), west);
  ck_assert_int_eq(dt.offset_minutes, -840);
  ck_assert_uint_eq(dt.day, 31);
  /* scale 0, +05:30 and +00:00 */
  CK_TEXT(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 0),
          "000000"
          "80460b"
          "4a01",
          "2024-02-29 05:30:00 +05:30");
  CK_TEXT(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 3),
          "952cb302"
          "80460b"
          "0000",
          "2024-02-29 12:34:56.789 +00:00");
  /* the last UTC instant with a positive offset stays inside 9999 */
  CK_TEXT(colps(TDSC_TYPE_DATETIMEOFFSET, 0, 0),
          "000000"
          "dab937"
          "c4ff",
          "9999-12-30 23:00:00 -01:00");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DATETIMEOFFSET, 0, 0),
          "000000"
          "80460b"
          "4903",
          TDSC_E_PROTOCOL, "offset of 841 minutes");
  CK_FAIL(G_TEXT, colps(TDSC_TYPE_DATETIMEOFFSET, 0, 0),
          "000000"
          "80460b"
          "4a",
          TDSC_E_PROTOCOL, "datetimeoffset value of 7 bytes (scale 0)");
}
END_TEST

START_TEST(datetime_ticks_round_like_sql_server) {
  tdsc__colinfo c = col(TDSC_TYPE_DATETIME);
  CK_TEXT(c,
          "462effff"
          "00000000",
          "1753-01-01 00:00:00.000");
  CK_TEXT(c,
          "7f242d00"
          "ff818b01",
          "9999-12-31 23:59:59.997");
  CK_TEXT(c,
          "00000000"
          "01000000",
          "1900-01-01 00:00:00.003");
  CK_TEXT(c,
          "00000000"
          "02000000",
          "1900-01-01 00:00:00.007");
  CK_TEXT(c,
          "00000000"
          "03000000",
          "1900-01-01 00:00:00.010");
  CK_TEXT(c,
          "ffffffff"
          "00000000",
          "1899-12-31 00:00:00.000"); /* days < 0 */
  CK_TEXT(c,
          "3b000000"
          "00000000",
          "1900-03-01 00:00:00.000"); /* no 02-29 */
  tdsc_datetime dt = get_dt(c, "7f242d00"
                               "ff818b01");
  ck_assert_uint_eq(dt.nanosecond, 997000000);
  ck_assert_uint_eq(dt.second, 59);
  ck_assert(dt.has_date && dt.has_time && !dt.has_offset);
  CK_FAIL(G_TEXT, c,
          "00000000"
          "00828b01",
          TDSC_E_PROTOCOL,
          "datetime value (day 0, tick 25920000) is out of range");
  CK_FAIL(G_TEXT, c,
          "452effff"
          "00000000",
          TDSC_E_PROTOCOL, "out of range");
  CK_FAIL(G_TEXT, c, "00000000", TDSC_E_PROTOCOL, "datetime value of 4 bytes");
}
END_TEST

START_TEST(smalldatetime_days_and_minutes) {
  tdsc__colinfo c = col(TDSC_TYPE_SMALLDATETIME);
  CK_TEXT(c,
          "ffff"
          "9f05",
          "2079-06-06 23:59:00");
  CK_TEXT(c,
          "0000"
          "0000",
          "1900-01-01 00:00:00");
  tdsc_datetime dt = get_dt(c, "ffff"
                               "9f05");
  ck_assert_uint_eq(dt.minute, 59);
  ck_assert_uint_eq(dt.nanosecond, 0);
  CK_FAIL(G_TEXT, c,
          "0000"
          "a005",
          TDSC_E_PROTOCOL, "minute 1440");
  CK_FAIL(G_TEXT, c, "000000", TDSC_E_PROTOCOL, "smalldatetime value of 3");
}
END_TEST

START_TEST(datetime_text_forms) {
  tdsc_datetime dt;
  tdsc__buf b;
  memset(&dt, 0, sizeof dt);
  tdsc__buf_init(&b);
  dt.year = 2024, dt.month = 2, dt.day = 29, dt.has_date = true;
  dt.hour = 13, dt.minute = 45, dt.second = 1, dt.has_time = true;
  dt.nanosecond = 123456789;
  tdsc__datetime_text(&dt, 9, &b);
  ck_assert_str_eq(tdsc__buf_cstr(&b), "2024-02-29 13:45:01.123456789");
  tdsc__buf_reset(&b);
  tdsc__datetime_text(&dt, 12, &b); /* more than 9 digits: clamped */
  ck_assert_str_eq(tdsc__buf_cstr(&b), "2024-02-29 13:45:01.123456789");
  tdsc__buf_reset(&b);
  dt.has_offset = true, dt.offset_minutes = -330;
  tdsc__datetime_text(&dt, 1, &b);
  ck_assert_str_eq(tdsc__buf_cstr(&b), "2024-02-29 13:45:01.1 -05:30");
  tdsc__buf_reset(&b);
  dt.has_date = false, dt.has_offset = false;
  tdsc__datetime_text(&dt, 0, &b);
  ck_assert_str_eq(tdsc__buf_cstr(&b), "13:45:01");
  tdsc__buf_free(&b);
}
END_TEST

static Suite *datetime_suite(void) {
  Suite *s = suite_create("datetime");
  TCase *tc = tcase_create("datetime");
  tcase_set_timeout(tc, 120); /* the every-day test under valgrind */
  tcase_add_test(tc, date_range_and_leap_days);
  tcase_add_test(tc, every_date_matches_a_day_by_day_calendar);
  tcase_add_test(tc, time_scales_and_lengths);
  tcase_add_test(tc, datetime2_is_time_then_date);
  tcase_add_test(tc, datetimeoffset_shows_local_time);
  tcase_add_test(tc, datetime_ticks_round_like_sql_server);
  tcase_add_test(tc, smalldatetime_days_and_minutes);
  tcase_add_test(tc, datetime_text_forms);
  suite_add_tcase(s, tc);
  return s;
}

/* ============================================================= collation.c */

START_TEST(collations_map_to_code_pages) {
  /* SQL_Latin1_General_CP1_CI_AS: LCID 0x0409, CI/KI/WI, SortId 52 */
  ck_assert_int_eq(coll_cp(SQL_LATIN1_CP1_CI_AS), 1252);
  /* Latin1_General_100_CI_AS_SC_UTF8: fUTF8 (bit 26), version 2 */
  ck_assert_int_eq(coll_cp("0904d02400"), 0);
  ck_assert_int_eq(coll_cp("0904d02000"), 1252); /* the same without UTF8 */
  ck_assert_int_eq(coll_cp("1104d00000"), 932);  /* Japanese_CI_AS */
  ck_assert_int_eq(coll_cp("1904d00000"), 1251); /* Cyrillic_General_CI_AS */
  ck_assert_int_eq(coll_cp("0408d00000"), 936);  /* Chinese_PRC_CI_AS */
  ck_assert_int_eq(coll_cp("0404d00000"), 950);  /* Chinese_Taiwan_Stroke */
  ck_assert_int_eq(coll_cp("1204d00000"), 949);  /* Korean_Wansung_CI_AS */
  ck_assert_int_eq(coll_cp("1e04d00000"), 874);  /* Thai_CI_AS */
  ck_assert_int_eq(coll_cp("1f04d00000"), 1254); /* Turkish_CI_AS */
  ck_assert_int_eq(coll_cp("0804d00000"), 1253); /* Greek_CI_AS */
  ck_assert_int_eq(coll_cp("0d04d00000"), 1255); /* Hebrew */
  ck_assert_int_eq(coll_cp("0104d00000"), 1256); /* Arabic */
  ck_assert_int_eq(coll_cp("2504d00000"), 1257); /* Estonian */
  ck_assert_int_eq(coll_cp("2704d00000"), 1257); /* Lithuanian */
  ck_assert_int_eq(coll_cp("2a04d00000"), 1258); /* Vietnamese */
  ck_assert_int_eq(coll_cp("0504d00000"), 1250); /* Czech */
  ck_assert_int_eq(coll_cp("1a0cd00000"), 1251); /* Serbian_Cyrillic */
  ck_assert_int_eq(coll_cp("1a08d00000"), 1250); /* Serbian_Latin */
  ck_assert_int_eq(coll_cp("2c04d00000"), 1254); /* Azeri_Latin */
  ck_assert_int_eq(coll_cp("2c08d00000"), 1251); /* Azeri_Cyrillic */
  ck_assert_int_eq(coll_cp("0704d10000"), 1252); /* German_PhoneBook: sort
                                                    id in LCID bits 16-19 */
  ck_assert_int_eq(coll_cp("0904000000"), 1252); /* Latin1_General_CS_AS */
  ck_assert_int_eq(coll_cp("3904d02000"), -1);   /* Hindi: Unicode only */
  ck_assert_int_eq(coll_cp("ff03d00000"), -1);   /* no such language */
  /* SQL collations by SortId, LCID notwithstanding */
  ck_assert_int_eq(coll_cp("0904d0001e"),
                   437); /* SQL_Latin1_General_CP437_BIN */
  ck_assert_int_eq(coll_cp("0904d0002a"), 850);  /* ..._CP850_CI_AS (42) */
  ck_assert_int_eq(coll_cp("0904d00033"), 1252); /* ..._CP1_CS_AS (51) */
  ck_assert_int_eq(coll_cp("0504d00052"), 1250); /* ..._CP1250_CI_AS (82) */
  ck_assert_int_eq(coll_cp("1904d0006a"), 1251); /* ..._CP1251_CI_AS (106) */
  ck_assert_int_eq(coll_cp("0804d00072"), 1253); /* ..._CP1253_CI_AS (114) */
  ck_assert_int_eq(coll_cp("1f04d00082"), 1254); /* ..._CP1254_CI_AS (130) */
  ck_assert_int_eq(coll_cp("0d04d0008a"), 1255); /* (138) */
  ck_assert_int_eq(coll_cp("0104d00092"), 1256); /* (146) */
  ck_assert_int_eq(coll_cp("2504d0009a"), 1257); /* (154) */
  ck_assert_int_eq(coll_cp("0904d000b7"), 1252); /* SQL_Danish_Pref (183) */
  ck_assert_int_eq(coll_cp("1104d000c0"), 932);  /* bin_cp932 (192) */
  ck_assert_int_eq(coll_cp("0904d000d2"), 1252); /* SQL_EBCDIC037 (210) */
  ck_assert_int_eq(coll_cp("0904d00001"), -1);   /* unknown SortId */
  ck_assert_int_eq(coll_cp("0904d00034"), 1252);
  /* fUTF8 wins over the SortId */
  ck_assert_int_eq(coll_cp("0904d00434"), 0);
}
END_TEST

/* The ENVCHANGE SQL collation (type 7, 2.2.7.9) of a login response:
 * length 8, type 7, a new value of 5 bytes, an empty old value. */
static void check_envchange_collation(const char *vector, const char *want_hex,
                                      int want_cp) {
  size_t n, wn;
  uint8_t *p = tdsc_test_vector(vector, &n);
  uint8_t *want = tdsc_test_hex(want_hex, &wn);
  const uint8_t *coll = NULL;
  ck_assert_ptr_nonnull(p);
  for (size_t i = 0; i + 11 <= n && !coll; i++)
    if (p[i] == 0xe3 && p[i + 1] == 8 && p[i + 2] == 0 && p[i + 3] == 7 &&
        p[i + 4] == 5 && p[i + 10] == 0)
      coll = p + i + 5;
  ck_assert_ptr_nonnull(coll);
  ck_assert_mem_eq(coll, want, 5);
  ck_assert_int_eq(tdsc__collation_codepage(coll), want_cp);
  free(want);
  free(p);
}

START_TEST(login_response_collations) {
  TDSC_NEED_VECTORS();
  /* A real SQL Server 2008 SP4: Latin1_General_BIN (LCID 0x0409, fBinary,
   * SortId 0). */
  check_envchange_collation("pytds_login_resp.hex", "0904000100", 1252);
  /* MS-TDS 4.4's example: SQL_Latin1_General_CP1_CI_AS (SortId 52). */
  check_envchange_collation("mstds_v39_04-login-response.hex",
                            SQL_LATIN1_CP1_CI_AS, 1252);
}
END_TEST

static tdsc_errc cp_text(int cp, const char *hex) {
  size_t n;
  uint8_t *p = tdsc_test_hex(hex, &n);
  tdsc__buf b;
  tdsc_error e;
  tdsc__buf_init(&b);
  memset(&e, 0, sizeof e);
  tdsc_errc rc = tdsc__codepage_to_utf8(cp, p, n, &b, &e);
  snprintf(g_text, sizeof g_text, "%.*s", (int)b.len,
           b.data ? (const char *)b.data : "");
  snprintf(g_msg, sizeof g_msg, "%s", e.message ? e.message : "");
  tdsc__err_clear(&e);
  tdsc__buf_free(&b);
  free(p);
  return rc;
}

#define CK_CP(cp, hex, want)                                                   \
  do {                                                                         \
    ck_assert_int_eq(cp_text(cp, hex), TDSC_OK);                               \
    ck_assert_str_eq(g_text, want);                                            \
  } while (0)

#define FFFD "\xef\xbf\xbd"

START_TEST(cp1252_covers_its_whole_range) {
  CK_CP(1252, "636166e9", "caf\xc3\xa9");
  CK_CP(1252, "80", "\xe2\x82\xac");
  CK_CP(1252, "9f", "\xc5\xb8"); /* Y diaeresis */
  CK_CP(1252, "a0ff", "\xc2\xa0\xc3\xbf");
  CK_CP(1252, "81", "\xc2\x81"); /* undefined: C1, as Windows does */
  CK_CP(1252, "", "");
  /* Bytes 01-FF each become one character: 127 ASCII bytes, 0x80-0x9F
   * as 17 three-byte, 10 two-byte and 5 C1 (two-byte) characters, and
   * 96 two-byte Latin-1 characters: 127 + 81 + 192 bytes of UTF-8. */
  char hex[511];
  for (int i = 1; i < 256; i++)
    snprintf(hex + 2 * (i - 1), 3, "%02x", i);
  ck_assert_int_eq(cp_text(1252, hex), TDSC_OK);
  ck_assert_uint_eq(strlen(g_text), 400);
}
END_TEST

START_TEST(multibyte_code_pages_through_iconv) {
  CK_CP(932, "93fa967b", "\xe6\x97\xa5\xe6\x9c\xac"); /* 日本 */
  CK_CP(932, "b1", "\xef\xbd\xb1");                   /* half-width ｱ */
  CK_CP(932, "8740", "\xe2\x91\xa0");                 /* NEC ① */
  CK_CP(932, "6193", "a" FFFD);                       /* cut at the end */
  CK_CP(932, "61ff62", "a" FFFD "b");                 /* invalid byte */
  CK_CP(936, "d6d0cec4", "\xe4\xb8\xad\xe6\x96\x87"); /* 中文 */
  CK_CP(949, "c7d1b1b9", "\xed\x95\x9c\xea\xb5\xad"); /* 한국 */
  CK_CP(950, "a4a4a4e5", "\xe4\xb8\xad\xe6\x96\x87"); /* 中文 (Big5) */
  CK_CP(1251, "cff0e8e2e5f2",
        "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82"); /* Привет */
  CK_CP(1250, "8a", "\xc5\xa0");                             /* Š */
  CK_CP(1253, "61aa62", "a" FFFD "b");                       /* undefined */
  CK_CP(874, "a1", "\xe0\xb8\x81");                          /* Thai ko kai */
  CK_CP(437, "82", "\xc3\xa9");
  CK_CP(850, "9b", "\xc3\xb8");
  CK_CP(1257, "616263", "abc"); /* ASCII fast path */
  /* a long text crosses iconv's output chunks */
  char hex[4 * 3000 + 1];
  for (int i = 0; i < 3000; i++)
    memcpy(hex + 4 * i, "93fa", 4);
  hex[4 * 3000] = '\0';
  ck_assert_int_eq(cp_text(932, hex), TDSC_OK);
  ck_assert_uint_eq(strlen(g_text), 9000);
}
END_TEST

START_TEST(utf8_collation_text_is_validated) {
  CK_CP(0, "636166c3a9", "caf\xc3\xa9");
  CK_CP(0, "f09f9880", "\xf0\x9f\x98\x80");
  CK_CP(0, "61ff62", "a" FFFD "b");
  CK_CP(0, "c0af", FFFD FFFD);               /* overlong '/' */
  CK_CP(0, "eda080", FFFD FFFD FFFD);        /* a surrogate */
  CK_CP(0, "f4908080", FFFD FFFD FFFD FFFD); /* beyond U+10FFFF */
  CK_CP(0, "61e282", "a" FFFD);              /* cut: one replacement */
  CK_CP(0, "e28261", FFFD "a");
  CK_CP(0, "80", FFFD);
  /* through a varchar column in a UTF-8 collation */
  CK_TEXT(colcoll(TDSC_TYPE_VARCHAR, "0904d02400"), "e282ac41ff",
          "\xe2\x82\xac"
          "A" FFFD);
}
END_TEST

START_TEST(unknown_code_page_is_a_conversion_error) {
  ck_assert_int_eq(cp_text(12345, "61"), TDSC_E_CONVERSION);
  ck_assert_ptr_nonnull(strstr(g_msg, "code page 12345"));
  ck_assert_int_eq(cp_text(-1, "61"), TDSC_E_CONVERSION);
  ck_assert_ptr_nonnull(strstr(g_msg, "code page -1"));
}
END_TEST

static Suite *collation_suite(void) {
  Suite *s = suite_create("collation");
  TCase *tc = tcase_create("collation");
  tcase_add_test(tc, collations_map_to_code_pages);
  tcase_add_test(tc, login_response_collations);
  tcase_add_test(tc, cp1252_covers_its_whole_range);
  tcase_add_test(tc, multibyte_code_pages_through_iconv);
  tcase_add_test(tc, utf8_collation_text_is_validated);
  tcase_add_test(tc, unknown_code_page_is_a_conversion_error);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(values_suite());
  srunner_add_suite(sr, datetime_suite());
  srunner_add_suite(sr, collation_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
