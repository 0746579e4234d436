/* COLMETADATA (MS-TDS 2.2.7.4): the column list rows are decoded
 * against, kept by the parser until the next COLMETADATA or reset; each
 * column's TYPE_INFO is typeinfo.c's.  Called by tokens.c's dispatch;
 * uses tok_mem.c for errors and the column list's storage, and has
 * tok_row.c plan the rows. */
#include "config.h"

#include "proto/tokp.h"
#include "proto/typeinfo.h"

#include <stdlib.h>

/* COLMETADATA (2.2.7.4); replaces the current metadata only once the whole
 * token has been read. */
tok_res tdsc__tok_colmetadata(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_COLMETADATA;
  uint16_t count = tdsc__cur_u16(c);
  tdsc__colinfo *cols = NULL;
  size_t n = 0;
  tok_res r = R_OK;

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
  if (count && !(cols = calloc(count, sizeof *cols)))
    return tdsc__tok_oom(err);
  for (; n < count; n++) {
    tdsc__colinfo *col = &cols[n];
    col->user_type = tdsc__cur_u32(c);
    col->flags = tdsc__cur_u16(c);
    if (tdsc__cur_ok(c) && (col->flags & COLFLAG_ENCRYPTED)) {
      r = tdsc__tok_fail(p, err, tok,
                         "column %zu is encrypted (Always Encrypted was "
                         "not negotiated)",
                         n + 1);
      goto out;
    }
    if (tdsc__typeinfo_read(c, col, err) != TDSC_OK) {
      r = tdsc__tok_typeinfo_fail(p, err, tok, n + 1);
      goto out;
    }
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
    if (!s) {
      r = R_MORE;
      goto out;
    }
    /* Names outlive the event: they are the parser's until the next
     * COLMETADATA, so each gets its own allocation. */
    tdsc__buf name;
    tdsc__buf_init(&name);
    if (!tdsc__utf16le_to_utf8(s, (size_t)nl * 2, &name) ||
        !tdsc__buf_cstr(&name)) {
      tdsc__buf_free(&name);
      r = tdsc__tok_oom(err);
      goto out;
    }
    col->name = (char *)name.data;
  }
install:
  tdsc__tok_free_cols(p->cols, p->ncols);
  p->cols = cols;
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
out:
  tdsc__tok_free_cols(cols, count);
  return r;
}
