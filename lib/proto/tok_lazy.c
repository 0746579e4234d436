/* Lazy rows (tokens.h, tdsc__tokp_set_lazy): a ROW/NBCROW with PLP or
 * LONG columns walked one column per call, a large value handed out in
 * pieces of the caller's input, so that a value of any size passes
 * through about one packet (2.2.5.2.3 PLP).  Called by tokens.c's
 * dispatch; reads small values with tok_row.c, errors via tok_mem.c. */
#include "config.h"

#include "proto/tokp.h"
#include "proto/typeinfo.h"

#include <assert.h>
#include <string.h>

/* Moves the lazy row on to its next column; past the last, the row is
 * over. */
static void lazy_next_column(tdsc__tokp *p) {
  p->row.col++;
  p->row.phase = LZ_VALUE;
  if (p->row.col == p->ncols)
    p->row.active = false;
}

/* ROW / NBCROW in lazy mode: NBCROW's null bitmap after the token byte
 * (already read). */
tok_res tdsc__tok_lazy_row_begin(tdsc__tokp *p, tdsc__cur *c, uint8_t tok,
                                 tdsc__event *ev) {
  const uint8_t *bitmap = NULL;
  size_t nbytes = (p->ncols + 7) / 8;

  assert(p->has_meta && p->ncols > 0 && p->ncols <= MAX_COLUMNS);
  if (tok == TDSC__TOK_NBCROW)
    bitmap = tdsc__cur_take(c, nbytes);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  lazy_row *z = &p->row;
  if (bitmap)
    memcpy(z->bitmap, bitmap, nbytes);
  z->active = true;
  z->tok = tok;
  z->col = 0;
  z->phase = LZ_VALUE;
  ev->kind = TDSC__EV_ROW_BEGIN;
  ev->u.row.ncols = p->ncols;
  return R_OK;
}

/* The start of column z->col's value: a whole value (TDSC__EV_COLUMN), or
 * the header of a large one (TDSC__EV_LARGE_BEGIN). */
static tok_res lazy_value(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                          tdsc_error *err) {
  lazy_row *z = &p->row;
  const size_t i = z->col;
  const tdsc__colinfo *col = &p->cols[i];

  if (z->tok == TDSC__TOK_NBCROW && (z->bitmap[i / 8] >> (i % 8)) & 1) {
    ev->kind = TDSC__EV_COLUMN;
    ev->u.column.index = i;
    ev->u.column.value.null = true;
    lazy_next_column(p);
    return R_OK;
  }
  if (col->lenkind == TDSC__LEN_PLP) { /* 2.2.5.2.3 */
    uint64_t total = tdsc__cur_u64(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (total == PLP_NULL) {
      ev->kind = TDSC__EV_COLUMN;
      ev->u.column.index = i;
      ev->u.column.value.null = true;
      lazy_next_column(p);
      return R_OK;
    }
    z->phase = LZ_PLP;
    z->total = total;
    z->got = 0;
    z->left = 0; /* a chunk header next */
  } else if (col->lenkind == TDSC__LEN_LONG) {
    /* TEXTPTR length (0 = NULL), TEXTPTR, 8-byte timestamp, 4-byte length
     * (2.2.7.17 ROW, 2.2.5.2.3). */
    uint8_t tp = tdsc__cur_u8(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (tp == 0) {
      ev->kind = TDSC__EV_COLUMN;
      ev->u.column.index = i;
      ev->u.column.value.null = true;
      lazy_next_column(p);
      return R_OK;
    }
    tdsc__cur_take(c, (size_t)tp + 8);
    uint32_t len = tdsc__cur_u32(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (len > col->max_len)
      return tdsc__tok_fail(
          p, err, z->tok,
          "column %zu: %s value of %lu bytes exceeds the column's "
          "maximum %u",
          i + 1, tdsc__typeinfo_name(col->wire_type), (unsigned long)len,
          (unsigned)col->max_len);
    z->phase = LZ_LONG;
    z->total = len;
    z->got = 0;
    z->left = len;
  } else {
    size_t off, len;
    tok_res r = tdsc__tok_read_value(p, c, col, &off, &len, err, z->tok, NULL);
    if (r != R_OK)
      return r;
    ev->kind = TDSC__EV_COLUMN;
    ev->u.column.index = i;
    ev->u.column.value.null = off == NONE;
    ev->u.column.value.data = off == NONE ? NULL : p->arena.data + off;
    ev->u.column.value.len = len;
    lazy_next_column(p);
    return R_OK;
  }
  ev->kind = TDSC__EV_LARGE_BEGIN;
  ev->u.large.index = i;
  ev->u.large.total = z->total == PLP_UNKNOWN ? UINT64_MAX : z->total;
  return R_OK;
}

/* Inside a large value: the next piece, as much of the current chunk (or
 * of the LONG value) as the input holds, or its end. Nothing is copied:
 * the data points into the input. */
static tok_res lazy_large(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                          tdsc_error *err) {
  lazy_row *z = &p->row;
  const size_t i = z->col;
  uint64_t left = z->left;

  ev->u.large.index = i;
  ev->u.large.total = z->total == PLP_UNKNOWN ? UINT64_MAX : z->total;
  if (z->phase == LZ_PLP && left == 0) {
    uint32_t chunk = tdsc__cur_u32(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (chunk == 0) { /* PLP_TERMINATOR */
      if (z->total != PLP_UNKNOWN && z->got != z->total)
        return tdsc__tok_fail(
            p, err, z->tok,
            "column %zu: PLP chunks add up to %llu bytes, the value "
            "announced %llu",
            i + 1, (unsigned long long)z->got, (unsigned long long)z->total);
      ev->kind = TDSC__EV_LARGE_END;
      lazy_next_column(p);
      return R_OK;
    }
    /* z->got <= z->total holds for a known total: no chunk went past it. */
    if (z->total != PLP_UNKNOWN && chunk > z->total - z->got)
      return tdsc__tok_fail(
          p, err, z->tok,
          "column %zu: PLP chunk of %lu bytes after %llu, the value "
          "announced %llu",
          i + 1, (unsigned long)chunk, (unsigned long long)z->got,
          (unsigned long long)z->total);
    if (chunk > UINT64_MAX - z->got)
      return tdsc__tok_fail(p, err, z->tok,
                            "column %zu: PLP value beyond 2^64 bytes", i + 1);
    left = chunk;
  } else if (z->phase == LZ_LONG && left == 0) {
    ev->kind = TDSC__EV_LARGE_END;
    lazy_next_column(p);
    return R_OK;
  }
  size_t have = tdsc__rd_left(&c->rd);
  size_t len = left < have ? (size_t)left : have;
  const uint8_t *d = tdsc__cur_take(c, len ? len : 1);
  if (!d)
    return R_MORE;
  z->left = left - len;
  z->got += len;
  ev->kind = TDSC__EV_LARGE_DATA;
  ev->u.large.data = d;
  ev->u.large.len = len;
  return R_OK;
}

/* One step of a lazy row; the event names the row's token. */
tok_res tdsc__tok_lazy_step(tdsc__tokp *p, const uint8_t *in, size_t n,
                            size_t *used, size_t *need, tdsc__event *ev,
                            tdsc_error *err) {
  tdsc__cur c;
  tok_res r;
  tdsc__cur_init(&c, in, n);
  ev->token = p->row.tok;
  if (p->row.phase == LZ_VALUE)
    r = lazy_value(p, &c, ev, err);
  else
    r = lazy_large(p, &c, ev, err);
  if (r == R_MORE)
    *need = c.need > n ? c.need : n + 1;
  else if (r == R_OK)
    *used = c.rd.pos;
  return r;
}
