/* sql_variant (MS-TDS 2.2.5.5.4): a variant value's base type, its
 * properties and its inner value, unpacked into a column info and value
 * that the getters (values.c, values_text.c) then read as usual.  Calls
 * nothing of theirs. */
#include "config.h"

#include "proto/values.h"

#include <string.h>

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
