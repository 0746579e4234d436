/* Column values to C types (values.h): a decoded value's payload bytes to
 * integers, doubles, exact decimals, GUIDs and bytes, per the column's
 * TYPE_INFO (MS-TDS 2.2.5.5); every payload length is checked against its
 * type first.  The session's getters call these; decimals are decimal.c's,
 * sql_variant's unpacking variant.c's, date/time datetime.c's, and the
 * text forms (values_text.c) build on the readers here. */
#include "config.h"

#include "proto/values_priv.h"

#include <string.h>

tdsc_errc tdsc__val_conv_error(const tdsc__colinfo *c, const char *target,
                               tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_CONVERSION, "cannot read a %s column as %s",
                       tdsc_type_name(c->type), target);
}

tdsc_errc tdsc__val_bad_len(const tdsc__colinfo *c, size_t len, size_t want,
                            tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_PROTOCOL,
                       "%s value of %zu bytes (expected %zu)",
                       tdsc_type_name(c->type), len, want);
}

tdsc_errc tdsc__val_null_error(tdsc_error *err) {
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

/* The integer types' payloads; the caller checked the type (int_width
 * not 0).  Inline: it is the int64 getter's common case. */
static inline tdsc_errc read_int(const tdsc__colinfo *c, const tdsc__value *v,
                                 size_t w, int64_t *out, tdsc_error *err) {
  if (v->len != w)
    return tdsc__val_bad_len(c, v->len, w, err);
  switch (w) {
  case 1: /* bit, or tinyint: unsigned, 0..255 */
    *out = c->type == TDSC_TYPE_BIT ? v->data[0] != 0 : v->data[0];
    break;
  case 2:
    *out = (int16_t)tdsc__le16(v->data);
    break;
  case 4:
    *out = (int32_t)tdsc__le32(v->data);
    break;
  default:
    *out = (int64_t)tdsc__le64(v->data);
    break;
  }
  return TDSC_OK;
}

tdsc_errc tdsc__val_read_int(const tdsc__colinfo *c, const tdsc__value *v,
                             int64_t *out, tdsc_error *err) {
  size_t w = int_width(c->type);
  if (!w)
    return tdsc__val_bad_len(c, v->len, w, err);
  return read_int(c, v, w, out, err);
}

/* money (8 bytes: high signed half first, then the low half) and
 * smallmoney (4 bytes signed), in 1/10000 units: 2.2.5.5.1.3. */
static tdsc_errc read_money(const tdsc__colinfo *c, const tdsc__value *v,
                            int64_t *units, tdsc_error *err) {
  if (c->type == TDSC_TYPE_MONEY) {
    if (v->len != 8)
      return tdsc__val_bad_len(c, v->len, 8, err);
    uint64_t hi = tdsc__le32(v->data), lo = tdsc__le32(v->data + 4);
    *units = (int64_t)((hi << 32) | lo);
  } else {
    if (v->len != 4)
      return tdsc__val_bad_len(c, v->len, 4, err);
    *units = (int32_t)tdsc__le32(v->data);
  }
  return TDSC_OK;
}

/* Any exact numeric type (integers, decimal/numeric, money) as a decimal;
 * CONVERSION for the others. */
tdsc_errc tdsc__val_to_decimal(const tdsc__colinfo *c, const tdsc__value *v,
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
    if ((rc = tdsc__val_read_int(c, v, &i, err)) != TDSC_OK)
      return rc;
    tdsc__decimal_from_int(d, i, prec[c->type], 0);
    return TDSC_OK;
  }
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY:
    if ((rc = read_money(c, v, &i, err)) != TDSC_OK)
      return rc;
    tdsc__decimal_from_int(d, i, c->type == TDSC_TYPE_MONEY ? 19 : 10, 4);
    return TDSC_OK;
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
    return tdsc__decimal_read(c, v, d, err);
  default:
    return tdsc__val_conv_error(c, target, err);
  }
}

/* --------------------------------------------------------------- getters */

/* decimal/numeric to int64: only scale 0 (an integer) that fits. */
static tdsc_errc decimal_to_int64(const tdsc__colinfo *c, const tdsc__value *v,
                                  int64_t *out, tdsc_error *err) {
  tdsc_decimal d;
  tdsc_errc rc = tdsc__decimal_read(c, v, &d, err);
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

/* The int64 getter's other types, apart so that the integers' path stays
 * a small function. */
static tdsc_errc int64_other(const tdsc__colinfo *c, const tdsc__value *v,
                             int64_t *out, tdsc_error *err) {
  if (c->type == TDSC_TYPE_DECIMAL || c->type == TDSC_TYPE_NUMERIC)
    return decimal_to_int64(c, v, out, err);
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
#define CALL(bc, bv) tdsc__val_int64(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  return tdsc__val_conv_error(c, "int64", err);
}

tdsc_errc tdsc__val_int64(const tdsc__colinfo *c, const tdsc__value *v,
                          int64_t *out, tdsc_error *err) {
  if (v->null)
    return tdsc__val_null_error(err);
  size_t w = int_width(c->type);
  if (w)
    return read_int(c, v, w, out, err);
  return int64_other(c, v, out, err);
}

tdsc_errc tdsc__val_double(const tdsc__colinfo *c, const tdsc__value *v,
                           double *out, tdsc_error *err) {
  if (v->null)
    return tdsc__val_null_error(err);
  switch (c->type) {
  case TDSC_TYPE_REAL:
    if (v->len != 4)
      return tdsc__val_bad_len(c, v->len, 4, err);
    {
      uint32_t u = tdsc__le32(v->data);
      float f;
      memcpy(&f, &u, 4);
      *out = f;
    }
    return TDSC_OK;
  case TDSC_TYPE_FLOAT:
    if (v->len != 8)
      return tdsc__val_bad_len(c, v->len, 8, err);
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
    tdsc_errc rc = tdsc__val_read_int(c, v, &i, err);
    if (rc == TDSC_OK)
      *out = (double)i;
    return rc;
  }
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY: {
    tdsc_decimal d;
    tdsc_errc rc = tdsc__val_to_decimal(c, v, &d, "double", err);
    if (rc == TDSC_OK)
      *out = tdsc__decimal_to_double(&d);
    return rc;
  }
  case TDSC_TYPE_SQL_VARIANT: {
#define CALL(bc, bv) tdsc__val_double(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  default:
    return tdsc__val_conv_error(c, "double", err);
  }
}

tdsc_errc tdsc__val_decimal(const tdsc__colinfo *c, const tdsc__value *v,
                            tdsc_decimal *out, tdsc_error *err) {
  if (v->null)
    return tdsc__val_null_error(err);
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
#define CALL(bc, bv) tdsc__val_decimal(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  return tdsc__val_to_decimal(c, v, out, "decimal", err);
}

/* uniqueidentifier (2.2.5.5.1.6 GUID): the first three fields travel
 * little-endian (Windows GUID layout), the last 8 bytes as they are. */
static void guid_from_wire(const uint8_t *w, uint8_t out[16]) {
  /* spelled out: the loop over an order table cost 100 instructions */
  out[0] = w[3], out[1] = w[2], out[2] = w[1], out[3] = w[0];
  out[4] = w[5], out[5] = w[4];
  out[6] = w[7], out[7] = w[6];
  memcpy(out + 8, w + 8, 8);
}

tdsc_errc tdsc__val_guid(const tdsc__colinfo *c, const tdsc__value *v,
                         uint8_t out[16], tdsc_error *err) {
  if (v->null)
    return tdsc__val_null_error(err);
  if (c->type == TDSC_TYPE_SQL_VARIANT) {
#define CALL(bc, bv) tdsc__val_guid(bc, bv, out, err)
    VARIANT_DISPATCH(c, v, err, CALL);
#undef CALL
  }
  if (c->type != TDSC_TYPE_UNIQUEIDENTIFIER)
    return tdsc__val_conv_error(c, "guid", err);
  if (v->len != 16)
    return tdsc__val_bad_len(c, v->len, 16, err);
  guid_from_wire(v->data, out);
  return TDSC_OK;
}

tdsc_errc tdsc__val_bytes(const tdsc__colinfo *c, const tdsc__value *v,
                          const uint8_t **out, size_t *len, tdsc_error *err) {
  if (v->null)
    return tdsc__val_null_error(err);
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
    return tdsc__val_conv_error(c, "bytes", err);
  }
}
