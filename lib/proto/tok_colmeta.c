/* COLMETADATA (MS-TDS 2.2.7.4): the column list rows are decoded
 * against, kept by the parser until the next COLMETADATA or reset; each
 * column's TYPE_INFO is typeinfo.c's.  Called by tokens.c's dispatch;
 * uses tok_mem.c for errors, keeps two column lists (the current one and
 * a spare), and has tok_row.c plan the rows. */
#include "config.h"

#include "proto/tokp.h"
#include "proto/typeinfo.h"

#include <stdlib.h>
#include <string.h>

/* Room for n columns in the spare storage; false when out of memory. */
static bool spare_room(tdsc__tokp *p, size_t n) {
  if (n <= p->spare_cap)
    return true;
  tdsc__colinfo *c = realloc(p->spare_cols, n * sizeof *c);
  if (!c)
    return false;
  p->spare_cols = c;
  p->spare_cap = n;
  return true;
}

/* COLMETADATA (2.2.7.4); replaces the current metadata only once the whole
 * token has been read.  It is read into the spare storage (the column
 * array and the names' buffer of the metadata before the current one),
 * and the two swap when it is complete: no allocation once both have
 * room (issue 15: a SELECT 1 round trip has one COLMETADATA). */
tok_res tdsc__tok_colmetadata(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_COLMETADATA;
  uint16_t count = tdsc__cur_u16(c);
  tdsc__colinfo *cols = p->spare_cols;
  tdsc__buf *names = &p->spare_names;
  size_t n = 0;

  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (count == NO_METADATA) {
    n = 0;
    goto install;
  }
  if (count > MAX_COLUMNS)
    return tdsc__tok_fail(p, err, tok,
                          "%u columns; SQL Server sends at most %u",
                          (unsigned)count, MAX_COLUMNS);
  /* offs holds the names' offsets until the buffer stops moving */
  if (!spare_room(p, count) || !tdsc__tok_ensure_vals(p, count))
    return tdsc__tok_oom(err);
  cols = p->spare_cols;
  if (count)
    memset(cols, 0, count * sizeof *cols);
  tdsc__buf_reset(names);
  for (; n < count; n++) {
    tdsc__colinfo *col = &cols[n];
    col->user_type = tdsc__cur_u32(c);
    col->flags = tdsc__cur_u16(c);
    if (tdsc__cur_ok(c) && (col->flags & COLFLAG_ENCRYPTED))
      return tdsc__tok_fail(p, err, tok,
                            "column %zu is encrypted (Always Encrypted was "
                            "not negotiated)",
                            n + 1);
    if (tdsc__typeinfo_read(c, col, err) != TDSC_OK)
      return tdsc__tok_typeinfo_fail(p, err, tok, n + 1);
    if (tdsc__cur_ok(c) && col->lenkind == TDSC__LEN_LONG) {
      /* TableName (TDS 7.2+): NumParts, then each part a US_VARCHAR. */
      uint8_t parts = tdsc__cur_u8(c);
      for (uint8_t i = 0; i < parts && tdsc__cur_ok(c); i++) {
        uint16_t l = tdsc__cur_u16(c);
        tdsc__cur_take(c, (size_t)l * 2);
      }
    }
    uint8_t nl = tdsc__cur_u8(c);
    const uint8_t *s = tdsc__cur_take(c, (size_t)nl * 2);
    if (!s)
      return R_MORE;
    /* Names outlive the event: they are the parser's until the
     * COLMETADATA after the next one. */
    p->offs[n] = names->len;
    if (!tdsc__utf16le_to_utf8(s, (size_t)nl * 2, names))
      return tdsc__tok_oom(err);
    tdsc__buf_put_u8(names, 0);
    if (names->oom)
      return tdsc__tok_oom(err);
  }
  for (size_t i = 0; i < n; i++)
    cols[i].name = (char *)names->data + p->offs[i];
install:
  /* the current storage becomes the spare */
  p->spare_cols = p->cols;
  p->cols = cols;
  size_t cap = p->spare_cap;
  p->spare_cap = p->cols_cap;
  p->cols_cap = cap;
  tdsc__buf t = p->names;
  p->names = p->spare_names;
  p->spare_names = t;
  p->ncols = n;
  p->has_meta = n > 0;
  p->has_large = false;
  for (size_t i = 0; i < n; i++)
    if (cols[i].lenkind == TDSC__LEN_PLP || cols[i].lenkind == TDSC__LEN_LONG)
      p->has_large = true;
  if (!tdsc__tok_plan_rows(p))
    return tdsc__tok_oom(err);
  ev->kind = TDSC__EV_COLMETADATA;
  ev->u.colmetadata.ncols = n;
  ev->u.colmetadata.cols = cols;
  return R_OK;
}
