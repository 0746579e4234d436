/* TYPE_INFO (MS-TDS 2.2.5.6) of COLMETADATA and RETURNVALUE: the wire type
 * byte and what follows it (length, precision/scale, collation, XML/UDT
 * extras), mapped to tdsc__colinfo.  Internal to lib/proto: the token
 * parser (tok_colmeta.c, tok_row.c, tok_lazy.c) reads column metadata and
 * row values with it, and shares its cursor. */
#ifndef TDSC_TYPEINFO_H
#define TDSC_TYPEINFO_H

#include "proto/tokens.h"

/* Largest single value (or skipped token) we accept from the wire. SQL
 * Server's own limit for MAX types is 2 GiB - 1; a client buffering whole
 * values draws the line lower. */
#define TDSC__VALUE_MAX ((size_t)1 << 30)

/* A reader over the input received so far that, when the input runs out,
 * remembers how much input would have let that read succeed: the `need`
 * of TDSC__TOK_NEED_MORE. */
typedef struct tdsc__cur {
  tdsc__rd rd;
  size_t need; /* valid once rd went bad */
} tdsc__cur;

static inline void tdsc__cur_init(tdsc__cur *c, const uint8_t *p, size_t n) {
  tdsc__rd_init(&c->rd, p, n);
  c->need = 0;
}
static inline bool tdsc__cur_ok(const tdsc__cur *c) {
  return tdsc__rd_ok(&c->rd);
}
static inline const uint8_t *tdsc__cur_take(tdsc__cur *c, size_t n) {
  size_t pos = c->rd.pos;
  bool was_ok = tdsc__rd_ok(&c->rd);
  const uint8_t *p = tdsc__rd_take(&c->rd, n);
  if (!p && was_ok)
    c->need = n > SIZE_MAX - pos ? SIZE_MAX : pos + n;
  return p;
}
static inline uint8_t tdsc__cur_u8(tdsc__cur *c) {
  const uint8_t *p = tdsc__cur_take(c, 1);
  return p ? p[0] : 0;
}
static inline uint16_t tdsc__cur_u16(tdsc__cur *c) {
  const uint8_t *p = tdsc__cur_take(c, 2);
  return p ? tdsc__le16(p) : 0;
}
static inline uint32_t tdsc__cur_u32(tdsc__cur *c) {
  const uint8_t *p = tdsc__cur_take(c, 4);
  return p ? tdsc__le32(p) : 0;
}
static inline uint64_t tdsc__cur_u64(tdsc__cur *c) {
  const uint8_t *p = tdsc__cur_take(c, 8);
  return p ? tdsc__le64(p) : 0;
}

/* Reads one TYPE_INFO into col (wire_type, type, lenkind, fixed_len,
 * max_len, precision, scale, collation); the XML schema and UDT names are
 * read and skipped. Returns TDSC_OK also when the cursor ran out (the
 * caller checks tdsc__cur_ok); TDSC_E_PROTOCOL for an unknown type byte or
 * a length/precision/scale the type does not allow. */
tdsc_errc tdsc__typeinfo_read(tdsc__cur *c, tdsc__colinfo *col,
                              tdsc_error *err);

/* Whether a non-NULL value of len bytes is valid for the column (BYTELEN
 * types have fixed sets of lengths: INTN 1/2/4/8, DECIMALN 5/9/13/17, a
 * TIMEN of scale 7 exactly 5, ...; others at most max_len). */
bool tdsc__typeinfo_len_ok(const tdsc__colinfo *col, size_t len);
/* True when col's values are decimal/numeric's (2.2.5.5.1.4): 5, 9, 13 or
 * 17 bytes, up to its maximum (tok_row.c plans rows with it). */
bool tdsc__typeinfo_decimal_lens(const tdsc__colinfo *col);
/* The one length a non-NULL value of a BYTELEN column may have when its
 * type has a single storage size (INTN, FLTN, GUID, TIMEN, ...: the one
 * TYPE_INFO announced), else 0. */
size_t tdsc__typeinfo_exact_len(const tdsc__colinfo *col);

/* Readable name of a wire type byte ("INTN", "NVARCHAR", ...), for error
 * messages; "?" for unknown bytes. */
const char *tdsc__typeinfo_name(uint8_t wire_type);

#endif
