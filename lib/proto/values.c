/* Column values (values.h): a decoded value's payload bytes to C integers,
 * doubles, exact decimals, GUIDs, bytes and UTF-8 text, per the column's
 * TYPE_INFO (MS-TDS 2.2.5.5).  Date/time payloads are in datetime.c,
 * collations and code pages in collation.c; the session's getters call
 * these.  Every payload length is checked against its type first. */
#include "config.h"

#include "proto/values.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tdsc_type_name(tdsc_type t) {
  static const char *const names[] = {"unknown",
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
  if ((unsigned)t >= sizeof names / sizeof names[0])
    return "unknown";
  return names[t];
}

static tdsc_errc conv_error(const tdsc__colinfo *c, const char *target,
                            tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_CONVERSION, "cannot read a %s column as %s",
                       tdsc_type_name(c->type), target);
}

static tdsc_errc bad_len(const tdsc__colinfo *c, size_t len, size_t want,
                         tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_PROTOCOL,
                       "%s value of %zu bytes (expected %zu)",
                       tdsc_type_name(c->type), len, want);
}

static tdsc_errc null_error(tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_NULL_VALUE, "the value is NULL");
}

/* ------------------------------------------------------------ integers */

/* Width of the integer types; the same in fixed (INT4...) and nullable
 * (INTN/BITN, 2.2.5.4.2) form, where the payload length must match. */
static size_t int_width(tdsc_type t) {
  switch (t) {
  case TDSC_TYPE_BIT:
  case TDSC_TYPE_TINYINT:
    return 1;
  case TDSC_TYPE_SMALLINT:
    return 2;
  case TDSC_TYPE_INT:
    return 4;
  case TDSC_TYPE_BIGINT:
    return 8;
  default:
    return 0;
  }
}

static tdsc_errc read_int(const tdsc__colinfo *c, const tdsc__value *v,
                          int64_t *out, tdsc_error *err) {
  size_t w = int_width(c->type);
  if (v->len != w)
    return bad_len(c, v->len, w, err);
  switch (c->type) {
  case TDSC_TYPE_BIT:
    *out = v->data[0] != 0;
    break;
  case TDSC_TYPE_TINYINT:
    *out = v->data[0]; /* unsigned, 0..255 */
    break;
  case TDSC_TYPE_SMALLINT:
    *out = (int16_t)tdsc__le16(v->data);
    break;
  case TDSC_TYPE_INT:
    *out = (int32_t)tdsc__le32(v->data);
    break;
  default:
    *out = (int64_t)tdsc__le64(v->data);
    break;
  }
  return TDSC_OK;
}

/* money (8 bytes: high signed half first, then the low half) and
 * smallmoney (4 bytes signed), in 1/10000 units: 2.2.5.5.1.3. */
static tdsc_errc read_money(const tdsc__colinfo *c, const tdsc__value *v,
                            int64_t *units, tdsc_error *err) {
  if (c->type == TDSC_TYPE_MONEY) {
    if (v->len != 8)
      return bad_len(c, v->len, 8, err);
    uint64_t hi = tdsc__le32(v->data), lo = tdsc__le32(v->data + 4);
    *units = (int64_t)((hi << 32) | lo);
  } else {
    if (v->len != 4)
      return bad_len(c, v->len, 4, err);
    *units = (int32_t)tdsc__le32(v->data);
  }
  return TDSC_OK;
}

/* ------------------------------------------------------------- decimal */

static void mag_from_u64(uint8_t mag[16], uint64_t u) {
  memset(mag, 0, 16);
  for (int i = 0; i < 8; i++)
    mag[i] = (uint8_t)(u >> (8 * i));
}

static bool mag_is_zero(const uint8_t mag[16]) {
  for (int i = 0; i < 16; i++)
    if (mag[i])
      return false;
  return true;
}

static void decimal_from_int(tdsc_decimal *d, int64_t i, uint8_t precision,
                             uint8_t scale) {
  d->precision = precision;
  d->scale = scale;
  d->negative = i < 0;
  /* 0 - (uint64_t)i is |i| also for INT64_MIN */
  mag_from_u64(d->magnitude, i < 0 ? 0 - (uint64_t)i : (uint64_t)i);
}

/* decimal/numeric payload (2.2.5.5.1.5): a sign byte (1 positive, 0
 * negative), then a little-endian magnitude of 4, 8, 12 or 16 bytes. */
static tdsc_errc read_decimal(const tdsc__colinfo *c, const tdsc__value *v,
                              tdsc_decimal *d, tdsc_error *err) {
  if (v->len != 5 && v->len != 9 && v->len != 13 && v->len != 17)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s value of %zu bytes (expected 5, 9, 13 or 17)",
                         tdsc_type_name(c->type), v->len);
  if (v->data[0] > 1)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s value has sign byte 0x%02x (expected 0 or 1)",
                         tdsc_type_name(c->type), (unsigned)v->data[0]);
  if (c->scale > 38 || c->scale > c->precision || c->precision > 38)
    return tdsc__err_set(err, TDSC_E_PROTOCOL, "%s(%u,%u) is not a valid type",
                         tdsc_type_name(c->type), (unsigned)c->precision,
                         (unsigned)c->scale);
  memset(d, 0, sizeof *d);
  d->precision = c->precision;
  d->scale = c->scale;
  memcpy(d->magnitude, v->data + 1, v->len - 1);
  /* A zero with sign byte 0 is still zero: never report "-0". */
  d->negative = v->data[0] == 0 && !mag_is_zero(d->magnitude);
  return TDSC_OK;
}

/* Writes the magnitude's decimal digits, most significant first, without
 * leading zeros ("0" for zero); returns their count (at most 39). The
 * 128-bit number is four 32-bit limbs divided by 10^9 by hand, so that no
 * compiler-specific 128-bit type is needed. */
static size_t mag_digits(const uint8_t mag[16], char out[40]) {
  uint32_t limb[4];
  char rev[48];
  size_t n = 0;
  for (int i = 0; i < 4; i++)
    limb[i] = tdsc__le32(mag + 4 * i);
  for (;;) {
    uint64_t rem = 0;
    bool zero = true;
    for (int i = 3; i >= 0; i--) {
      uint64_t cur = (rem << 32) | limb[i];
      limb[i] = (uint32_t)(cur / 1000000000u);
      rem = cur % 1000000000u;
      if (limb[i])
        zero = false;
    }
    for (int k = 0; k < 9; k++) {
      rev[n++] = (char)('0' + rem % 10);
      rem /= 10;
    }
    if (zero)
      break;
  }
  while (n > 1 && rev[n - 1] == '0')
    n--;
  for (size_t i = 0; i < n; i++)
    out[i] = rev[n - 1 - i];
  out[n] = '\0';
  return n;
}

void tdsc__decimal_text(const tdsc_decimal *d, tdsc__buf *out) {
  char digits[40];
  size_t n = mag_digits(d->magnitude, digits);
  size_t scale = d->scale;
  if (d->negative && !(n == 1 && digits[0] == '0'))
    tdsc__buf_put_u8(out, '-');
  if (scale == 0) {
    tdsc__buf_put(out, digits, n);
    return;
  }
  /* At least one digit before the point: pad with zeros to scale + 1. */
  size_t lead_zeros = n < scale + 1 ? scale + 1 - n : 0;
  size_t total = n + lead_zeros, int_part = total - scale;
  for (size_t i = 0; i < total; i++) {
    if (i == int_part)
      tdsc__buf_put_u8(out, '.');
    tdsc__buf_put_u8(out,
                     (uint8_t)(i < lead_zeros ? '0' : digits[i - lead_zeros]));
  }
}

/* Exact decimal to the nearest double: strtod of "digitsE-scale" rounds
 * correctly, and a form without a decimal point reads the same in every
 * locale. */
static double decimal_to_double(const tdsc_decimal *d) {
  char s[64];
  char digits[40];
  mag_digits(d->magnitude, digits);
  snprintf(s, sizeof s, "%s%se-%u", d->negative ? "-" : "", digits,
           (unsigned)d->scale);
  return strtod(s, NULL);
}

/* Any exact numeric type (integers, decimal/numeric, money) as a decimal;
 * CONVERSION for the others. */
static tdsc_errc to_decimal(const tdsc__colinfo *c, const tdsc__value *v,
                            tdsc_decimal *d, const char *target,
                            tdsc_error *err) {
  int64_t i = 0;
  tdsc_errc rc;
  switch (c->type) {
  case TDSC_TYPE_BIT:
  case TDSC_TYPE_TINYINT:
  case TDSC_TYPE_SMALLINT:
  case TDSC_TYPE_INT:
  case TDSC_TYPE_BIGINT: {
    static const uint8_t prec[] = {0, 1, 3, 5, 10, 19};
    if ((rc = read_int(c, v, &i, err)) != TDSC_OK)
      return rc;
    decimal_from_int(d, i, prec[c->type], 0);
    return TDSC_OK;
  }
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY:
    if ((rc = read_money(c, v, &i, err)) != TDSC_OK)
      return rc;
    decimal_from_int(d, i, c->type == TDSC_TYPE_MONEY ? 19 : 10, 4);
    return TDSC_OK;
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
    return read_decimal(c, v, d, err);
  default:
    return conv_error(c, target, err);
  }
}

/* ------------------------------------------------------------- variant */

tdsc_errc tdsc__variant_unpack(const tdsc__colinfo *c, const tdsc__value *v,
                               tdsc__colinfo *base, tdsc__value *bv,
                               tdsc_error *err) {
  tdsc__rd r;
  uint8_t wire, nprops;
  const uint8_t *props;
  size_t need = 0, fixed = 0;
  tdsc_type t;

  (void)c;
  tdsc__rd_init(&r, v->data, v->len);
  wire = tdsc__rd_u8(&r);
  nprops = tdsc__rd_u8(&r);
  props = tdsc__rd_take(&r, nprops);
  if (!props)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "sql_variant value of %zu bytes is truncated", v->len);
  /* Base types and their properties: 2.2.5.5.4 (VARIANT_PROPBYTES). */
  switch (wire) {
  case 0x30:
    t = TDSC_TYPE_TINYINT;
    fixed = 1;
    break;
  case 0x32:
    t = TDSC_TYPE_BIT;
    fixed = 1;
    break;
  case 0x34:
    t = TDSC_TYPE_SMALLINT;
    fixed = 2;
    break;
  case 0x38:
    t = TDSC_TYPE_INT;
    fixed = 4;
    break;
  case 0x7F:
    t = TDSC_TYPE_BIGINT;
    fixed = 8;
    break;
  case 0x3B:
    t = TDSC_TYPE_REAL;
    fixed = 4;
    break;
  case 0x3E:
    t = TDSC_TYPE_FLOAT;
    fixed = 8;
    break;
  case 0x7A:
    t = TDSC_TYPE_SMALLMONEY;
    fixed = 4;
    break;
  case 0x3C:
    t = TDSC_TYPE_MONEY;
    fixed = 8;
    break;
  case 0x3A:
    t = TDSC_TYPE_SMALLDATETIME;
    fixed = 4;
    break;
  case 0x3D:
    t = TDSC_TYPE_DATETIME;
    fixed = 8;
    break;
  case 0x24:
    t = TDSC_TYPE_UNIQUEIDENTIFIER;
    fixed = 16;
    break;
  case 0x28:
    t = TDSC_TYPE_DATE;
    fixed = 3;
    break;
  case 0x29:
    t = TDSC_TYPE_TIME;
    need = 1;
    break;
  case 0x2A:
    t = TDSC_TYPE_DATETIME2;
    need = 1;
    break;
  case 0x2B:
    t = TDSC_TYPE_DATETIMEOFFSET;
    need = 1;
    break;
  case 0x6A:
    t = TDSC_TYPE_DECIMAL;
    need = 2;
    break;
  case 0x6C:
    t = TDSC_TYPE_NUMERIC;
    need = 2;
    break;
  case 0xA5:
    t = TDSC_TYPE_VARBINARY;
    need = 2;
    break;
  case 0xAD:
    t = TDSC_TYPE_BINARY;
    need = 2;
    break;
  case 0xA7:
    t = TDSC_TYPE_VARCHAR;
    need = 7;
    break;
  case 0xAF:
    t = TDSC_TYPE_CHAR;
    need = 7;
    break;
  case 0xE7:
    t = TDSC_TYPE_NVARCHAR;
    need = 7;
    break;
  case 0xEF:
    t = TDSC_TYPE_NCHAR;
    need = 7;
    break;
  default:
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "sql_variant holds base type 0x%02x, which a "
                         "variant cannot hold",
                         (unsigned)wire);
  }
  if (nprops < need)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "sql_variant %s value has %u property bytes "
                         "(expected %zu)",
                         tdsc_type_name(t), (unsigned)nprops, need);

  memset(base, 0, sizeof *base);
  base->wire_type = wire;
  base->type = t;
  base->lenkind = fixed ? TDSC__LEN_FIXED : TDSC__LEN_USHORT;
  base->fixed_len = (uint32_t)fixed;
  switch (t) {
  case TDSC_TYPE_TIME:
  case TDSC_TYPE_DATETIME2:
  case TDSC_TYPE_DATETIMEOFFSET:
    base->scale = props[0];
    break;
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
    base->precision = props[0];
    base->scale = props[1];
    break;
  case TDSC_TYPE_VARBINARY:
  case TDSC_TYPE_BINARY:
    base->max_len = tdsc__le16(props);
    break;
  case TDSC_TYPE_VARCHAR:
  case TDSC_TYPE_CHAR:
  case TDSC_TYPE_NVARCHAR:
  case TDSC_TYPE_NCHAR:
    base->has_collation = true;
    memcpy(base->collation, props, 5);
    base->max_len = tdsc__le16(props + 5);
    break;
  default:
    break;
  }
  bv->null = false;
  bv->len = tdsc__rd_left(&r);
  bv->data = bv->len ? v->data + r.pos : v->data;
  return TDSC_OK;
}

/* Runs getter on a variant's base value; the message says it was one. */
#define VARIANT_DISPATCH(c, v, err, call)                                      \
  do {                                                                         \
    tdsc__colinfo bc_;                                                         \
    tdsc__value bv_;                                                           \
    tdsc_errc rc_ = tdsc__variant_unpack(c, v, &bc_, &bv_, err);               \
    if (rc_ == TDSC_OK)                                                        \
      rc_ = call(&bc_, &bv_);                                                  \
    if (rc_ != TDSC_OK && rc_ != TDSC_E_NO_MEMORY)                             \
      tdsc__err_context(err, "sql_variant");                                   \
    return rc_;                                                                \
  } while (0)

/* --------------------------------------------------------------- getters */

/* decimal/numeric to int64: only scale 0 (an integer) that fits. */
static tdsc_errc decimal_to_int64(const tdsc__colinfo *c, const tdsc__value *v,
                                  int64_t *out, tdsc_error *err) {
  tdsc_decimal d;
  tdsc_errc rc = read_decimal(c, v, &d, err);
  bool fits = true;
  if (rc != TDSC_OK)
    return rc;
  if (d.scale != 0)
    return tdsc__err_set(err, TDSC_E_CONVERSION,
                         "cannot read a %s(%u,%u) column as int64: only "
                         "scale 0 is an integer",
                         tdsc_type_name(c->type), (unsigned)d.precision,
                         (unsigned)d.scale);
  for (int i = 8; i < 16; i++)
    if (d.magnitude[i])
      fits = false;
  uint64_t m = tdsc__le64(d.magnitude);
  if (m > (d.negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX))
    fits = false;
  if (fits) {
    *out = d.negative ? (int64_t)(0 - m) : (int64_t)m;
    return TDSC_OK;
  }
  tdsc__buf b;
  tdsc__buf_init(&b);
  tdsc__decimal_text(&d, &b);
  const char *text = tdsc__buf_cstr(&b);
  rc =
      tdsc__err_set(err, TDSC_E_CONVERSION, "%s value %s does not fit in int64",
                    tdsc_type_name(c->type), text ? text : "(out of memory)");
  tdsc__buf_free(&b);
  return rc;
}

tdsc_errc tdsc__val_int64(const tdsc__colinfo *c, const tdsc__value *v,
                          int64_t *out, tdsc_error *err) {
  if (v->null)
    return null_error(err);
  if (int_width(c->type))
    return read_int(c, v, out, err);
  if (c->type == TDSC_TYPE_DECIMAL || c->type == TDSC_TYPE_NUMERIC)
    return decimal_to_int64(c, v, out, err);
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
#define CALL(bc, bv) tdsc__val_int64(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  return conv_error(c, "int64", err);
}

tdsc_errc tdsc__val_double(const tdsc__colinfo *c, const tdsc__value *v,
                           double *out, tdsc_error *err) {
  if (v->null)
    return null_error(err);
  switch (c->type) {
  case TDSC_TYPE_REAL:
    if (v->len != 4)
      return bad_len(c, v->len, 4, err);
    {
      uint32_t u = tdsc__le32(v->data);
      float f;
      memcpy(&f, &u, 4);
      *out = f;
    }
    return TDSC_OK;
  case TDSC_TYPE_FLOAT:
    if (v->len != 8)
      return bad_len(c, v->len, 8, err);
    {
      uint64_t u = tdsc__le64(v->data);
      memcpy(out, &u, 8);
    }
    return TDSC_OK;
  case TDSC_TYPE_BIT:
  case TDSC_TYPE_TINYINT:
  case TDSC_TYPE_SMALLINT:
  case TDSC_TYPE_INT:
  case TDSC_TYPE_BIGINT: {
    int64_t i;
    tdsc_errc rc = read_int(c, v, &i, err);
    if (rc == TDSC_OK)
      *out = (double)i;
    return rc;
  }
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY: {
    tdsc_decimal d;
    tdsc_errc rc = to_decimal(c, v, &d, "double", err);
    if (rc == TDSC_OK)
      *out = decimal_to_double(&d);
    return rc;
  }
  case TDSC_TYPE_SQL_VARIANT: {
#define CALL(bc, bv) tdsc__val_double(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  default:
    return conv_error(c, "double", err);
  }
}

tdsc_errc tdsc__val_decimal(const tdsc__colinfo *c, const tdsc__value *v,
                            tdsc_decimal *out, tdsc_error *err) {
  if (v->null)
    return null_error(err);
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
#define CALL(bc, bv) tdsc__val_decimal(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  return to_decimal(c, v, out, "decimal", err);
}

/* uniqueidentifier (2.2.5.5.1.6 GUID): the first three fields travel
 * little-endian (Windows GUID layout), the last 8 bytes as they are. */
static void guid_from_wire(const uint8_t *w, uint8_t out[16]) {
  static const uint8_t order[16] = {3, 2, 1,  0,  5,  4,  7,  6,
                                    8, 9, 10, 11, 12, 13, 14, 15};
  for (int i = 0; i < 16; i++)
    out[i] = w[order[i]];
}

tdsc_errc tdsc__val_guid(const tdsc__colinfo *c, const tdsc__value *v,
                         uint8_t out[16], tdsc_error *err) {
  if (v->null)
    return null_error(err);
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
#define CALL(bc, bv) tdsc__val_guid(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  if (c->type != TDSC_TYPE_UNIQUEIDENTIFIER)
    return conv_error(c, "guid", err);
  if (v->len != 16)
    return bad_len(c, v->len, 16, err);
  guid_from_wire(v->data, out);
  return TDSC_OK;
}

tdsc_errc tdsc__val_bytes(const tdsc__colinfo *c, const tdsc__value *v,
                          const uint8_t **out, size_t *len, tdsc_error *err) {
  if (v->null)
    return null_error(err);
  switch (c->type) {
  case TDSC_TYPE_BINARY:
  case TDSC_TYPE_VARBINARY:
  case TDSC_TYPE_IMAGE:
  case TDSC_TYPE_UDT: /* a CLR type's serialized form is its only value */
    *out = v->data;
    *len = v->len;
    return TDSC_OK;
  case TDSC_TYPE_SQL_VARIANT: {
#define CALL(bc, bv) tdsc__val_bytes(bc, bv, out, len, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  default:
    return conv_error(c, "bytes", err);
  }
}

/* ------------------------------------------------------------------ text */

/* Replaces the locale's decimal point in a "%g" result with '.': the form
 * is [-]digits[<point>digits][e...], so the point is whatever sits between
 * the first digit run and the next digit or 'e' (it may be multibyte). */
static void c_locale_point(char *s) {
  char *p = s;
  if (*p == '-')
    p++;
  while (*p >= '0' && *p <= '9')
    p++;
  if (*p == '\0' || *p == 'e' || *p == '.')
    return;
  char *q = p;
  while (*q && !(*q >= '0' && *q <= '9') && *q != 'e')
    q++;
  *p = '.';
  memmove(p + 1, q, strlen(q) + 1);
}

/* The shortest "%.Ng" text that reads back as the same value in the
 * column's own precision (real: float, float: double). */
static void float_text(double d, bool single, tdsc__buf *out) {
  char s[64];
  if (isnan(d)) {
    tdsc__buf_put_str(out, "nan");
    return;
  }
  if (isinf(d)) {
    tdsc__buf_put_str(out, d < 0 ? "-inf" : "inf");
    return;
  }
  int maxp = single ? 9 : 17;
  for (int p = 1; p <= maxp; p++) {
    snprintf(s, sizeof s, "%.*g", p, d);
    if (single ? strtof(s, NULL) == (float)d : strtod(s, NULL) == d)
      break;
  }
  c_locale_point(s);
  tdsc__buf_put_str(out, s);
}

static void hex_text(const uint8_t *p, size_t n, tdsc__buf *out) {
  static const char hex[] = "0123456789ABCDEF";
  uint8_t *o = tdsc__buf_extend(out, 2 + 2 * n);
  if (!o)
    return;
  *o++ = '0';
  *o++ = 'x';
  for (size_t i = 0; i < n; i++) {
    *o++ = (uint8_t)hex[p[i] >> 4];
    *o++ = (uint8_t)hex[p[i] & 15];
  }
}

static tdsc_errc char_text(const tdsc__colinfo *c, const tdsc__value *v,
                           tdsc__buf *out, tdsc_error *err) {
  if (!c->has_collation)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s column has no collation, so no code page",
                         tdsc_type_name(c->type));
  int cp = tdsc__collation_codepage(c->collation);
  if (cp < 0)
    return tdsc__err_set(err, TDSC_E_CONVERSION,
                         "cannot read a %s column as text: its collation "
                         "(LCID 0x%05lx, SortId %u) has no known code page",
                         tdsc_type_name(c->type),
                         (unsigned long)(tdsc__le32(c->collation) & 0xFFFFF),
                         (unsigned)c->collation[4]);
  return tdsc__codepage_to_utf8(cp, v->data, v->len, out, err);
}

static unsigned frac_digits(const tdsc__colinfo *c) {
  switch (c->type) {
  case TDSC_TYPE_DATETIME:
    return 3;
  case TDSC_TYPE_TIME:
  case TDSC_TYPE_DATETIME2:
  case TDSC_TYPE_DATETIMEOFFSET:
    return c->scale;
  default:
    return 0;
  }
}

tdsc_errc tdsc__val_text(const tdsc__colinfo *c, const tdsc__value *v,
                         tdsc__buf *out, tdsc_error *err) {
  tdsc_errc rc = TDSC_OK;
  if (v->null)
    return null_error(err);
  switch (c->type) {
  case TDSC_TYPE_BIT:
  case TDSC_TYPE_TINYINT:
  case TDSC_TYPE_SMALLINT:
  case TDSC_TYPE_INT:
  case TDSC_TYPE_BIGINT: {
    int64_t i;
    char s[24];
    if ((rc = read_int(c, v, &i, err)) != TDSC_OK)
      return rc;
    snprintf(s, sizeof s, "%lld", (long long)i);
    tdsc__buf_put_str(out, s);
    break;
  }
  case TDSC_TYPE_REAL:
  case TDSC_TYPE_FLOAT: {
    double d;
    if ((rc = tdsc__val_double(c, v, &d, err)) != TDSC_OK)
      return rc;
    float_text(d, c->type == TDSC_TYPE_REAL, out);
    break;
  }
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY: {
    tdsc_decimal d;
    if ((rc = to_decimal(c, v, &d, "text", err)) != TDSC_OK)
      return rc;
    tdsc__decimal_text(&d, out);
    break;
  }
  case TDSC_TYPE_CHAR:
  case TDSC_TYPE_VARCHAR:
  case TDSC_TYPE_TEXT:
    if ((rc = char_text(c, v, out, err)) != TDSC_OK)
      return rc;
    break;
  case TDSC_TYPE_XML:
  case TDSC_TYPE_NCHAR:
  case TDSC_TYPE_NVARCHAR:
  case TDSC_TYPE_NTEXT: {
    const uint8_t *p = v->data;
    size_t n = v->len;
    /* xml may start with a byte order mark: it is not part of the text. */
    if (c->type == TDSC_TYPE_XML && n >= 2 && p[0] == 0xFF && p[1] == 0xFE)
      p += 2, n -= 2;
    tdsc__utf16le_to_utf8(p, n, out);
    break;
  }
  case TDSC_TYPE_BINARY:
  case TDSC_TYPE_VARBINARY:
  case TDSC_TYPE_IMAGE:
  case TDSC_TYPE_UDT:
    hex_text(v->data, v->len, out);
    break;
  case TDSC_TYPE_UNIQUEIDENTIFIER: {
    uint8_t g[16];
    char s[40];
    if ((rc = tdsc__val_guid(c, v, g, err)) != TDSC_OK)
      return rc;
    snprintf(s, sizeof s,
             "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
             "%02X%02X%02X%02X%02X%02X",
             g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10],
             g[11], g[12], g[13], g[14], g[15]);
    tdsc__buf_put_str(out, s);
    break;
  }
  case TDSC_TYPE_DATE:
  case TDSC_TYPE_TIME:
  case TDSC_TYPE_SMALLDATETIME:
  case TDSC_TYPE_DATETIME:
  case TDSC_TYPE_DATETIME2:
  case TDSC_TYPE_DATETIMEOFFSET: {
    tdsc_datetime dt;
    if ((rc = tdsc__val_datetime(c, v, &dt, err)) != TDSC_OK)
      return rc;
    tdsc__datetime_text(&dt, frac_digits(c), out);
    break;
  }
  case TDSC_TYPE_SQL_VARIANT: {
#define CALL(bc, bv) tdsc__val_text(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  default:
    return conv_error(c, "text", err);
  }
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}
