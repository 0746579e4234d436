/* TYPE_INFO parsing (MS-TDS 2.2.5.4 data type definitions, 2.2.5.6
 * TYPE_INFO): from the wire type byte and its extras to tdsc__colinfo, and
 * the lengths each type allows, and the names of the types for messages.
 * The token parser calls in here for COLMETADATA and RETURNVALUE
 * (tok_colmeta.c, tok_row.c) and for values' lengths; values.c reads the
 * result. */
#include "config.h"

#include "proto/typeinfo.h"

#include <string.h>

/* Wire type bytes (2.2.5.4.1-2.2.5.4.3). */
enum {
  T_NULL = 0x1F,
  T_INT1 = 0x30,
  T_BIT = 0x32,
  T_INT2 = 0x34,
  T_INT4 = 0x38,
  T_DATETIM4 = 0x3A,
  T_FLT4 = 0x3B,
  T_MONEY = 0x3C,
  T_DATETIME = 0x3D,
  T_FLT8 = 0x3E,
  T_MONEY4 = 0x7A,
  T_INT8 = 0x7F,
  T_GUID = 0x24,
  T_INTN = 0x26,
  T_DECIMAL = 0x37,
  T_NUMERIC = 0x3F,
  T_BITN = 0x68,
  T_DECIMALN = 0x6A,
  T_NUMERICN = 0x6C,
  T_FLTN = 0x6D,
  T_MONEYN = 0x6E,
  T_DATETIMN = 0x6F,
  T_DATEN = 0x28,
  T_TIMEN = 0x29,
  T_DATETIME2N = 0x2A,
  T_DATETIMEOFFSETN = 0x2B,
  T_CHAR = 0x2F,
  T_VARCHAR = 0x27,
  T_BINARY = 0x2D,
  T_VARBINARY = 0x25,
  T_BIGVARBIN = 0xA5,
  T_BIGVARCHR = 0xA7,
  T_BIGBINARY = 0xAD,
  T_BIGCHAR = 0xAF,
  T_NVARCHAR = 0xE7,
  T_NCHAR = 0xEF,
  T_XML = 0xF1,
  T_UDT = 0xF0,
  T_TEXT = 0x23,
  T_IMAGE = 0x22,
  T_NTEXT = 0x63,
  T_SSVARIANT = 0x62
};

#define PLP_MAXLEN 0xFFFFu /* USHORTLEN max_len announcing a MAX type */
#define SHORT_MAXLEN 8000u /* largest non-MAX char/binary column */

/* The SQL types' names (tdsclient.h), in tdsc_type order. */
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

const char *tdsc__typeinfo_name(uint8_t t) {
  switch (t) {
  case T_NULL:
    return "NULL";
  case T_INT1:
    return "INT1";
  case T_BIT:
    return "BIT";
  case T_INT2:
    return "INT2";
  case T_INT4:
    return "INT4";
  case T_DATETIM4:
    return "DATETIM4";
  case T_FLT4:
    return "FLT4";
  case T_MONEY:
    return "MONEY";
  case T_DATETIME:
    return "DATETIME";
  case T_FLT8:
    return "FLT8";
  case T_MONEY4:
    return "MONEY4";
  case T_INT8:
    return "INT8";
  case T_GUID:
    return "GUID";
  case T_INTN:
    return "INTN";
  case T_DECIMAL:
    return "DECIMAL";
  case T_NUMERIC:
    return "NUMERIC";
  case T_BITN:
    return "BITN";
  case T_DECIMALN:
    return "DECIMALN";
  case T_NUMERICN:
    return "NUMERICN";
  case T_FLTN:
    return "FLTN";
  case T_MONEYN:
    return "MONEYN";
  case T_DATETIMN:
    return "DATETIMN";
  case T_DATEN:
    return "DATEN";
  case T_TIMEN:
    return "TIMEN";
  case T_DATETIME2N:
    return "DATETIME2N";
  case T_DATETIMEOFFSETN:
    return "DATETIMEOFFSETN";
  case T_CHAR:
    return "CHAR";
  case T_VARCHAR:
    return "VARCHAR";
  case T_BINARY:
    return "BINARY";
  case T_VARBINARY:
    return "VARBINARY";
  case T_BIGVARBIN:
    return "BIGVARBIN";
  case T_BIGVARCHR:
    return "BIGVARCHR";
  case T_BIGBINARY:
    return "BIGBINARY";
  case T_BIGCHAR:
    return "BIGCHAR";
  case T_NVARCHAR:
    return "NVARCHAR";
  case T_NCHAR:
    return "NCHAR";
  case T_XML:
    return "XML";
  case T_UDT:
    return "UDT";
  case T_TEXT:
    return "TEXT";
  case T_IMAGE:
    return "IMAGE";
  case T_NTEXT:
    return "NTEXT";
  case T_SSVARIANT:
    return "SSVARIANT";
  default:
    return "?";
  }
}

/* Bytes of the time part of TIMEN/DATETIME2N/DATETIMEOFFSETN for a scale
 * (2.2.5.5.1.8): 3 up to scale 2, 4 up to 4, 5 up to 7. */
static uint32_t time_bytes(uint8_t scale) {
  return scale <= 2 ? 3 : scale <= 4 ? 4 : 5;
}

static void set_fixed(tdsc__colinfo *col, tdsc_type type, uint32_t len) {
  col->type = type;
  col->lenkind = TDSC__LEN_FIXED;
  col->fixed_len = len;
  col->max_len = len;
}

static tdsc_errc bad(tdsc_error *err, const tdsc__colinfo *col,
                     const char *what, unsigned v) {
  return tdsc__err_set(
      err, TDSC_E_PROTOCOL, "TYPE_INFO %s (0x%02X): invalid %s %u",
      tdsc__typeinfo_name(col->wire_type), col->wire_type, what, v);
}

/* Skips a B_VARCHAR (1-byte count of UTF-16 characters). */
static void skip_bvarchar(tdsc__cur *c) {
  uint8_t n = tdsc__cur_u8(c);
  tdsc__cur_take(c, (size_t)n * 2);
}

/* Skips a US_VARCHAR (2-byte count of UTF-16 characters). */
static void skip_usvarchar(tdsc__cur *c) {
  uint16_t n = tdsc__cur_u16(c);
  tdsc__cur_take(c, (size_t)n * 2);
}

/* BYTELEN types whose length byte names one of a few storage sizes. */
static tdsc_errc read_bytelen_sized(tdsc__cur *c, tdsc__colinfo *col,
                                    tdsc_error *err) {
  uint8_t len = tdsc__cur_u8(c);
  if (!tdsc__cur_ok(c))
    return TDSC_OK;
  col->lenkind = TDSC__LEN_BYTE;
  col->max_len = len;
  switch (col->wire_type) {
  case T_GUID:
    col->type = TDSC_TYPE_UNIQUEIDENTIFIER;
    return len == 16 ? TDSC_OK : bad(err, col, "length", len);
  case T_INTN:
    col->type = len == 1   ? TDSC_TYPE_TINYINT
                : len == 2 ? TDSC_TYPE_SMALLINT
                : len == 4 ? TDSC_TYPE_INT
                           : TDSC_TYPE_BIGINT;
    return len == 1 || len == 2 || len == 4 || len == 8
               ? TDSC_OK
               : bad(err, col, "length", len);
  case T_BITN:
    col->type = TDSC_TYPE_BIT;
    return len == 1 ? TDSC_OK : bad(err, col, "length", len);
  case T_FLTN:
    col->type = len == 4 ? TDSC_TYPE_REAL : TDSC_TYPE_FLOAT;
    break;
  case T_MONEYN:
    col->type = len == 4 ? TDSC_TYPE_SMALLMONEY : TDSC_TYPE_MONEY;
    break;
  default: /* T_DATETIMN */
    col->type = len == 4 ? TDSC_TYPE_SMALLDATETIME : TDSC_TYPE_DATETIME;
    break;
  }
  return len == 4 || len == 8 ? TDSC_OK : bad(err, col, "length", len);
}

/* DECIMAL/NUMERIC, legacy and N forms: length, precision, scale
 * (2.2.5.5.1.6). */
static tdsc_errc read_decimal(tdsc__cur *c, tdsc__colinfo *col,
                              tdsc_error *err) {
  uint8_t len = tdsc__cur_u8(c);
  col->precision = tdsc__cur_u8(c);
  col->scale = tdsc__cur_u8(c);
  if (!tdsc__cur_ok(c))
    return TDSC_OK;
  col->lenkind = TDSC__LEN_BYTE;
  col->max_len = len;
  col->type = col->wire_type == T_DECIMAL || col->wire_type == T_DECIMALN
                  ? TDSC_TYPE_DECIMAL
                  : TDSC_TYPE_NUMERIC;
  if (len != 5 && len != 9 && len != 13 && len != 17)
    return bad(err, col, "length", len);
  if (col->precision < 1 || col->precision > 38)
    return bad(err, col, "precision", col->precision);
  if (col->scale > col->precision)
    return bad(err, col, "scale", col->scale);
  return TDSC_OK;
}

/* TIMEN, DATETIME2N, DATETIMEOFFSETN: SCALE only; the length follows from
 * it (2.2.5.4.2). */
static tdsc_errc read_scaled(tdsc__cur *c, tdsc__colinfo *col,
                             tdsc_error *err) {
  col->scale = tdsc__cur_u8(c);
  if (!tdsc__cur_ok(c))
    return TDSC_OK;
  col->lenkind = TDSC__LEN_BYTE;
  if (col->scale > 7)
    return bad(err, col, "scale", col->scale);
  col->max_len = time_bytes(col->scale);
  if (col->wire_type == T_TIMEN) {
    col->type = TDSC_TYPE_TIME;
  } else if (col->wire_type == T_DATETIME2N) {
    col->type = TDSC_TYPE_DATETIME2;
    col->max_len += 3;
  } else {
    col->type = TDSC_TYPE_DATETIMEOFFSET;
    col->max_len += 5;
  }
  return TDSC_OK;
}

static void read_collation(tdsc__cur *c, tdsc__colinfo *col) {
  const uint8_t *p = tdsc__cur_take(c, 5);
  if (p) {
    memcpy(col->collation, p, 5);
    col->has_collation = true;
  }
}

static tdsc_errc read_ushortlen(tdsc__cur *c, tdsc__colinfo *col,
                                tdsc_error *err) {
  bool chars = false, can_max = false;
  col->max_len = tdsc__cur_u16(c);
  switch (col->wire_type) {
  case T_BIGVARBIN:
    col->type = TDSC_TYPE_VARBINARY;
    can_max = true;
    break;
  case T_BIGBINARY:
    col->type = TDSC_TYPE_BINARY;
    break;
  case T_BIGVARCHR:
    col->type = TDSC_TYPE_VARCHAR;
    chars = can_max = true;
    break;
  case T_BIGCHAR:
    col->type = TDSC_TYPE_CHAR;
    chars = true;
    break;
  case T_NVARCHAR:
    col->type = TDSC_TYPE_NVARCHAR;
    chars = can_max = true;
    break;
  default: /* T_NCHAR */
    col->type = TDSC_TYPE_NCHAR;
    chars = true;
    break;
  }
  if (chars)
    read_collation(c, col);
  if (!tdsc__cur_ok(c))
    return TDSC_OK;
  if (col->max_len == PLP_MAXLEN && can_max) {
    col->lenkind = TDSC__LEN_PLP;
    return TDSC_OK;
  }
  col->lenkind = TDSC__LEN_USHORT;
  if (col->max_len > SHORT_MAXLEN)
    return bad(err, col, "maximum length", col->max_len);
  return TDSC_OK;
}

tdsc_errc tdsc__typeinfo_read(tdsc__cur *c, tdsc__colinfo *col,
                              tdsc_error *err) {
  col->wire_type = tdsc__cur_u8(c);
  col->type = TDSC_TYPE_UNKNOWN;
  col->fixed_len = 0;
  col->max_len = 0;
  col->precision = 0;
  col->scale = 0;
  col->has_collation = false;
  memset(col->collation, 0, sizeof col->collation);
  if (!tdsc__cur_ok(c))
    return TDSC_OK;

  switch (col->wire_type) {
  /* FIXEDLENTYPE (2.2.5.4.1) */
  case T_NULL:
    set_fixed(col, TDSC_TYPE_UNKNOWN, 0);
    return TDSC_OK;
  case T_INT1:
    set_fixed(col, TDSC_TYPE_TINYINT, 1);
    return TDSC_OK;
  case T_BIT:
    set_fixed(col, TDSC_TYPE_BIT, 1);
    return TDSC_OK;
  case T_INT2:
    set_fixed(col, TDSC_TYPE_SMALLINT, 2);
    return TDSC_OK;
  case T_INT4:
    set_fixed(col, TDSC_TYPE_INT, 4);
    return TDSC_OK;
  case T_INT8:
    set_fixed(col, TDSC_TYPE_BIGINT, 8);
    return TDSC_OK;
  case T_DATETIM4:
    set_fixed(col, TDSC_TYPE_SMALLDATETIME, 4);
    return TDSC_OK;
  case T_FLT4:
    set_fixed(col, TDSC_TYPE_REAL, 4);
    return TDSC_OK;
  case T_MONEY:
    set_fixed(col, TDSC_TYPE_MONEY, 8);
    return TDSC_OK;
  case T_DATETIME:
    set_fixed(col, TDSC_TYPE_DATETIME, 8);
    return TDSC_OK;
  case T_FLT8:
    set_fixed(col, TDSC_TYPE_FLOAT, 8);
    return TDSC_OK;
  case T_MONEY4:
    set_fixed(col, TDSC_TYPE_SMALLMONEY, 4);
    return TDSC_OK;

  /* BYTELEN types (2.2.5.4.2) */
  case T_GUID:
  case T_INTN:
  case T_BITN:
  case T_FLTN:
  case T_MONEYN:
  case T_DATETIMN:
    return read_bytelen_sized(c, col, err);
  case T_DECIMAL:
  case T_NUMERIC:
  case T_DECIMALN:
  case T_NUMERICN:
    return read_decimal(c, col, err);
  case T_DATEN: /* no TYPE_VARLEN at all */
    col->type = TDSC_TYPE_DATE;
    col->lenkind = TDSC__LEN_BYTE;
    col->max_len = 3;
    return TDSC_OK;
  case T_TIMEN:
  case T_DATETIME2N:
  case T_DATETIMEOFFSETN:
    return read_scaled(c, col, err);
  case T_CHAR:
  case T_VARCHAR:
  case T_BINARY:
  case T_VARBINARY:
    /* Legacy (pre-7.0) forms: a length byte, no collation. */
    col->max_len = tdsc__cur_u8(c);
    col->lenkind = TDSC__LEN_BYTE;
    col->type = col->wire_type == T_CHAR      ? TDSC_TYPE_CHAR
                : col->wire_type == T_VARCHAR ? TDSC_TYPE_VARCHAR
                : col->wire_type == T_BINARY  ? TDSC_TYPE_BINARY
                                              : TDSC_TYPE_VARBINARY;
    return TDSC_OK;

  /* USHORTLEN types, PLP when max_len is 0xFFFF */
  case T_BIGVARBIN:
  case T_BIGVARCHR:
  case T_BIGBINARY:
  case T_BIGCHAR:
  case T_NVARCHAR:
  case T_NCHAR:
    return read_ushortlen(c, col, err);

  /* LONGLEN types */
  case T_TEXT:
  case T_NTEXT:
  case T_IMAGE:
    col->max_len = tdsc__cur_u32(c);
    col->lenkind = TDSC__LEN_LONG;
    col->type = col->wire_type == T_TEXT    ? TDSC_TYPE_TEXT
                : col->wire_type == T_NTEXT ? TDSC_TYPE_NTEXT
                                            : TDSC_TYPE_IMAGE;
    if (col->wire_type != T_IMAGE)
      read_collation(c, col);
    return TDSC_OK;
  case T_SSVARIANT:
    col->max_len = tdsc__cur_u32(c);
    col->lenkind = TDSC__LEN_VARIANT;
    col->type = TDSC_TYPE_SQL_VARIANT;
    return TDSC_OK;

  /* PARTLENTYPE (2.2.5.4.3) */
  case T_XML: {
    /* XML_INFO: SCHEMA_PRESENT, then DBNAME, OWNING_SCHEMA (B_VARCHAR),
     * XML_SCHEMA_COLLECTION (US_VARCHAR). */
    uint8_t schema = tdsc__cur_u8(c);
    col->type = TDSC_TYPE_XML;
    col->lenkind = TDSC__LEN_PLP;
    col->max_len = PLP_MAXLEN;
    if (tdsc__cur_ok(c) && schema > 1)
      return bad(err, col, "SCHEMA_PRESENT", schema);
    if (schema) {
      skip_bvarchar(c);
      skip_bvarchar(c);
      skip_usvarchar(c);
    }
    return TDSC_OK;
  }
  case T_UDT:
    /* UDT_INFO_IN_COLMETADATA (2.2.5.5.5.2): MAX_BYTE_SIZE, DB_NAME,
     * SCHEMA_NAME, TYPE_NAME (B_VARCHAR), ASSEMBLY_QUALIFIED_NAME
     * (US_VARCHAR). Values are PLP whatever MAX_BYTE_SIZE says. */
    tdsc__cur_u16(c);
    skip_bvarchar(c);
    skip_bvarchar(c);
    skip_bvarchar(c);
    skip_usvarchar(c);
    col->type = TDSC_TYPE_UDT;
    col->lenkind = TDSC__LEN_PLP;
    col->max_len = PLP_MAXLEN;
    return TDSC_OK;

  default:
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "TYPE_INFO: unknown data type 0x%02X", col->wire_type);
  }
}

size_t tdsc__typeinfo_exact_len(const tdsc__colinfo *col) {
  switch (col->wire_type) {
  case T_GUID:
  case T_INTN:
  case T_BITN:
  case T_FLTN:
  case T_MONEYN:
  case T_DATETIMN:
  case T_DATEN:
  case T_TIMEN:
  case T_DATETIME2N:
  case T_DATETIMEOFFSETN:
    /* One storage size per column: the one TYPE_INFO announced. */
    return col->max_len;
  default:
    return 0;
  }
}

bool tdsc__typeinfo_decimal_lens(const tdsc__colinfo *col) {
  switch (col->wire_type) {
  case T_DECIMAL:
  case T_NUMERIC:
  case T_DECIMALN:
  case T_NUMERICN:
    return true;
  default:
    return false;
  }
}

bool tdsc__typeinfo_len_ok(const tdsc__colinfo *col, size_t len) {
  size_t exact = tdsc__typeinfo_exact_len(col);
  if (exact)
    return len == exact;
  if (tdsc__typeinfo_decimal_lens(col))
    return (len == 5 || len == 9 || len == 13 || len == 17) &&
           len <= col->max_len;
  return len <= col->max_len;
}
