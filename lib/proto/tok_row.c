/* Values of rows (MS-TDS 2.2.5.2, 2.2.7.17 ROW, 2.2.7.13 NBCROW) and of
 * RETURNVALUE (2.2.7.19): each value's length prefix, text pointer or PLP
 * chunks read against the current COLMETADATA, whole rows read in place
 * from the caller's input (issue 15): planned rows (every column of one
 * size: a loop without per-value bounds checks), then fast_row (one pass
 * for the 1- and 2-byte prefixes), then the general reader.  Called by
 * tokens.c's dispatch, by tok_colmeta.c to plan, and for small values by
 * tok_lazy.c; uses tok_mem.c and typeinfo.c's length rules. */
#include "config.h"

#include "proto/tokp.h"
#include "proto/typeinfo.h"

#include <stdlib.h>
#include <string.h>

/* Reads one value of column col (2.2.5.2 data type dependent lengths),
 * copying its payload to the arena: *off (NONE for NULL) and *len.  With
 * inplace, a value whose bytes are contiguous in the input (all but PLP)
 * is not copied: *inplace points at it and *off is INPLACE. */
tok_res tdsc__tok_read_value(tdsc__tokp *p, tdsc__cur *c,
                             const tdsc__colinfo *col, size_t *off, size_t *len,
                             tdsc_error *err, uint8_t tok,
                             const uint8_t **inplace) {
  const uint8_t *d = NULL;
  size_t n;

  *off = NONE;
  *len = 0;
  switch (col->lenkind) {
  case TDSC__LEN_FIXED:
    if (col->fixed_len == 0) /* NULLTYPE: always NULL, no bytes */
      return R_OK;
    n = col->fixed_len;
    break;
  case TDSC__LEN_BYTE:
    n = tdsc__cur_u8(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (n == 0)
      return R_OK;
    if (!tdsc__typeinfo_len_ok(col, n))
      return tdsc__tok_fail(
          p, err, tok, "%s value of %zu bytes (column allows %u)",
          tdsc__typeinfo_name(col->wire_type), n, (unsigned)col->max_len);
    break;
  case TDSC__LEN_USHORT:
    n = tdsc__cur_u16(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (n == 0xFFFF)
      return R_OK;
    if (n > col->max_len)
      return tdsc__tok_fail(p, err, tok,
                            "%s value of %zu bytes exceeds the column's "
                            "maximum %u",
                            tdsc__typeinfo_name(col->wire_type), n,
                            (unsigned)col->max_len);
    break;
  case TDSC__LEN_VARIANT:
    n = tdsc__cur_u32(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (n == 0)
      return R_OK;
    if (n > col->max_len || n > TDSC__VALUE_MAX)
      return tdsc__tok_fail(p, err, tok,
                            "sql_variant value of %zu bytes exceeds the "
                            "column's maximum %u",
                            n, (unsigned)col->max_len);
    break;
  case TDSC__LEN_LONG: {
    /* TEXTPTR length (0 = NULL), TEXTPTR, 8-byte timestamp, 4-byte length
     * (2.2.7.17 ROW, 2.2.5.2.3). */
    uint8_t tp = tdsc__cur_u8(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (tp == 0)
      return R_OK;
    tdsc__cur_take(c, (size_t)tp + 8);
    n = tdsc__cur_u32(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (n > col->max_len || n > TDSC__VALUE_MAX)
      return tdsc__tok_fail(p, err, tok,
                            "%s value of %zu bytes exceeds the column's "
                            "maximum %u",
                            tdsc__typeinfo_name(col->wire_type), n,
                            (unsigned)col->max_len);
    break;
  }
  default: { /* TDSC__LEN_PLP (2.2.5.2.3) */
    uint64_t total = tdsc__cur_u64(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (total == PLP_NULL)
      return R_OK;
    if (total != PLP_UNKNOWN && total > TDSC__VALUE_MAX)
      return tdsc__tok_fail(p, err, tok,
                            "PLP value of %llu bytes exceeds the %zu-byte "
                            "limit",
                            (unsigned long long)total, TDSC__VALUE_MAX);
    size_t start = p->arena.len, got = 0;
    for (;;) {
      size_t hdr = c->rd.pos;
      uint32_t chunk = tdsc__cur_u32(c);
      if (tdsc__cur_ok(c) && chunk == 0)
        break; /* PLP_TERMINATOR */
      if (chunk > TDSC__VALUE_MAX - got)
        return tdsc__tok_fail(p, err, tok,
                              "PLP chunks exceed the %zu-byte limit",
                              TDSC__VALUE_MAX);
      d = tdsc__cur_take(c, chunk);
      if (!d) {
        /* With a known total, the rest of the data and a terminating
         * chunk must still come: a much better bound than one chunk. */
        if (total != PLP_UNKNOWN && total >= got) {
          size_t rest = (size_t)total - got;
          size_t bound = hdr + 4 + (rest ? rest + 4 : 0);
          if (bound > c->need)
            c->need = bound;
        }
        return R_MORE;
      }
      if (tdsc__tok_arena_bytes(p, d, chunk) == NONE)
        return tdsc__tok_oom(err);
      got += chunk;
    }
    if (total != PLP_UNKNOWN && got != total)
      return tdsc__tok_fail(p, err, tok,
                            "PLP chunks add up to %zu bytes, the value "
                            "announced %llu",
                            got, (unsigned long long)total);
    *off = start;
    *len = got;
    return R_OK;
  }
  }
  d = tdsc__cur_take(c, n);
  if (!d)
    return R_MORE;
  *len = n;
  if (inplace) {
    *inplace = d;
    *off = INPLACE;
    return R_OK;
  }
  if ((*off = tdsc__tok_arena_bytes(p, d, n)) == NONE)
    return tdsc__tok_oom(err);
  *len = n;
  return R_OK;
}

/* Turns value offsets into pointers once the arena no longer moves. */
static void fix_values(tdsc__tokp *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    p->vals[i].null = p->offs[i] == NONE;
    if (p->offs[i] != INPLACE)
      p->vals[i].data = p->vals[i].null ? NULL : p->arena.data + p->offs[i];
  }
}

/* How fast_row reads a column's length (tok_plan.check), decided once per
 * COLMETADATA by tdsc__tok_plan_rows with typeinfo.c's rules, so that a
 * row costs no call per value to them. */
enum {
  PLAN_FIXED,  /* no prefix, len bytes */
  PLAN_EXACT1, /* 1-byte length: 0 (NULL) or exactly len */
  PLAN_MAX1,   /* 1-byte length: 0 (NULL) or up to len */
  PLAN_DEC1,   /* 1-byte length: 0 (NULL) or 5, 9, 13, 17 up to len */
  PLAN_MAX2,   /* 2-byte length: 0xFFFF (NULL) or up to len */
  PLAN_NONE    /* anything else: the general reader */
};

/* A ROW whose values are all of 1- or 2-byte length prefixes (or fixed
 * length), whole in the input: decoded in one pass with the bounds checked
 * by hand against the input's end, a fraction of read_value's cost per
 * value (issue 15: decode only).  Returns false for anything else -- a
 * short input, a large, LONG or sql_variant value, a length the column
 * does not allow -- and then the cursor is untouched and the general path
 * below decodes (or reports) the row as before. */
static bool fast_row(tdsc__tokp *p, tdsc__cur *c, uint8_t tok) {
  const uint8_t *in = c->rd.p, *bitmap = NULL;
  size_t n = c->rd.len, pos = c->rd.pos;
  if (c->rd.bad || !p->plan_all)
    return false;
  if (tok == TDSC__TOK_NBCROW) {
    size_t nb = (p->ncols + 7) / 8;
    if (n - pos < nb)
      return false;
    bitmap = in + pos;
    pos += nb;
  }
  for (size_t i = 0; i < p->ncols; i++) {
    const tok_plan *pl = &p->plan[i];
    tdsc__value *v = &p->vals[i];
    size_t len;
    if (bitmap && (bitmap[i / 8] >> (i % 8)) & 1) {
      v->null = true, v->data = NULL, v->len = 0;
      continue;
    }
    switch (pl->check) {
    case PLAN_FIXED:
      len = pl->len;
      break;
    case PLAN_EXACT1:
    case PLAN_MAX1:
    case PLAN_DEC1:
      if (pos >= n)
        return false;
      len = in[pos++];
      if (len == 0) {
        v->null = true, v->data = NULL, v->len = 0;
        continue;
      }
      if (pl->check == PLAN_EXACT1 ? len != pl->len : len > pl->len)
        return false;
      if (pl->check == PLAN_DEC1 && len != 5 && len != 9 && len != 13 &&
          len != 17)
        return false;
      break;
    case PLAN_MAX2:
      if (n - pos < 2)
        return false;
      len = tdsc__le16(in + pos);
      pos += 2;
      if (len == 0xFFFF) {
        v->null = true, v->data = NULL, v->len = 0;
        continue;
      }
      if (len > pl->len)
        return false;
      break;
    default:
      return false;
    }
    if (n - pos < len)
      return false;
    v->null = false, v->data = in + pos, v->len = len;
    pos += len;
  }
  c->rd.pos = pos;
  return true;
}

/* ROW / NBCROW (2.2.7.17, 2.2.7.13). */
static tok_res parse_row(tdsc__tokp *p, tdsc__cur *c, uint8_t tok,
                         tdsc__event *ev, tdsc_error *err) {
  const uint8_t *bitmap = NULL;
  if (!p->has_meta || p->ncols == 0)
    return tdsc__tok_fail(p, err, tok, "row without column metadata");
  if (!tdsc__tok_ensure_vals(p, p->ncols))
    return tdsc__tok_oom(err);
  if (fast_row(p, c, tok)) {
    ev->kind = TDSC__EV_ROW;
    ev->u.row.ncols = p->ncols;
    ev->u.row.values = p->vals;
    return R_OK;
  }
  if (tok == TDSC__TOK_NBCROW) {
    /* NullBitmap: one bit per column, set = NULL, no value follows. */
    bitmap = tdsc__cur_take(c, (p->ncols + 7) / 8);
    if (!bitmap)
      return R_MORE;
  }
  for (size_t i = 0; i < p->ncols; i++) {
    p->vals[i].len = 0;
    p->offs[i] = NONE;
    if (bitmap && (bitmap[i / 8] >> (i % 8)) & 1)
      continue;
    tok_res r =
        tdsc__tok_read_value(p, c, &p->cols[i], &p->offs[i], &p->vals[i].len,
                             err, tok, &p->vals[i].data);
    if (r != R_OK)
      return r;
  }
  fix_values(p, p->ncols);
  ev->kind = TDSC__EV_ROW;
  ev->u.row.ncols = p->ncols;
  ev->u.row.values = p->vals;
  return R_OK;
}
/* fast_row's check of col's length: typeinfo.c's tdsc__typeinfo_len_ok
 * decided per column. */
static void plan_check(const tdsc__colinfo *col, tok_plan *pl) {
  size_t exact;
  pl->fixed = false;
  pl->len = col->max_len;
  switch (col->lenkind) {
  case TDSC__LEN_FIXED:
    pl->fixed = col->fixed_len > 0;
    pl->len = (uint32_t)col->fixed_len;
    pl->check = pl->fixed ? PLAN_FIXED : PLAN_NONE; /* NULLTYPE */
    return;
  case TDSC__LEN_BYTE:
    if ((exact = tdsc__typeinfo_exact_len(col)) > 0) {
      pl->len = (uint32_t)exact;
      pl->check = PLAN_EXACT1;
    } else if (tdsc__typeinfo_decimal_lens(col))
      pl->check = PLAN_DEC1;
    else
      pl->check = PLAN_MAX1;
    return;
  case TDSC__LEN_USHORT:
    pl->check = PLAN_MAX2;
    return;
  default:
    pl->check = PLAN_NONE;
  }
}

/* Sets byte i (memory order) of *w to b. */
static void word_set_byte(uint64_t *w, size_t i, uint8_t b) {
  uint8_t x[8];
  memcpy(x, w, 8);
  x[i] = b;
  memcpy(w, x, 8);
}

/* Where each value of a row without NULL starts, and the words that copy
 * and check it (tok_lencheck): one at 0, 8, 16, ... of the row, the last
 * moved back to end at plan_span so that no read goes past what
 * tdsc__tok_planned_row has checked is there; each length byte checked in
 * one of them; room for the copy (plan_row).  False when out of memory. */
static bool plan_lencheck(tdsc__tokp *p) {
  size_t span = p->plan_max < 8 ? 8 : p->plan_max;
  size_t nw = (span + 7) / 8, pos = 0;
  if (nw > p->lchk_cap) {
    tok_lencheck *nl = realloc(p->lchk, nw * sizeof *nl);
    if (!nl)
      return false;
    p->lchk = nl;
    p->lchk_cap = nw;
  }
  if (span > p->plan_row_cap) {
    uint8_t *nr = realloc(p->plan_row, span);
    if (!nr)
      return false;
    p->plan_row = nr;
    p->plan_row_cap = span;
  }
  p->plan_span = span;
  p->nlchk = nw;
  for (size_t k = 0; k < nw; k++)
    p->lchk[k] = (tok_lencheck){.off = k < nw - 1 ? 8 * k : span - 8};
  for (size_t i = 0; i < p->ncols; i++) {
    tok_plan *pl = &p->plan[i];
    if (!pl->fixed) {
      tok_lencheck *w = &p->lchk[pos / 8 < nw - 1 ? pos / 8 : nw - 1];
      word_set_byte(&w->mask, pos - w->off, 0xFF);
      word_set_byte(&w->want, pos - w->off, (uint8_t)pl->len);
      pos++;
    }
    pl->off = pos;
    pos += pl->len;
  }
  return true;
}

bool tdsc__tok_plan_rows(tdsc__tokp *p) {
  size_t max = 0;
  bool one_size = true;
  p->plan_ok = p->plan_all = p->vals_planned = false;
  if (!p->has_meta || p->ncols == 0)
    return true;
  if (!tdsc__tok_ensure_vals(p, p->ncols))
    return false;
  if (p->ncols > p->plan_cap) {
    tok_plan *np = realloc(p->plan, p->ncols * sizeof *np);
    if (!np)
      return false;
    p->plan = np;
    p->plan_cap = p->ncols;
  }
  for (size_t i = 0; i < p->ncols; i++) {
    tok_plan *pl = &p->plan[i];
    plan_check(&p->cols[i], pl);
    if (pl->check == PLAN_FIXED)
      max += pl->len;
    else if (pl->check == PLAN_EXACT1)
      max += 1 + pl->len;
    else
      one_size = false;
  }
  p->plan_all = true;
  p->plan_max = max;
  if (one_size && !plan_lencheck(p))
    return false;
  p->plan_ok = one_size;
  return true;
}

/* A planned row that has a NULL (tokp.h's tdsc__tok_planned_row takes
 * those without one): per value one length byte compared with the one
 * allowed, no bounds check of its own (the input holds plan_max bytes
 * after the token byte). */
bool tdsc__tok_planned_row_nulls(tdsc__tokp *p, const uint8_t *in, size_t n,
                                 size_t *used, tdsc__event *ev) {
  if (!p->plan_ok || in[0] != TDSC__TOK_ROW || n - 1 < p->plan_max)
    return false;
  /* Locals, not p->: the stores to the values could alias p's fields, and
   * the compiler would reload them at every column. */
  const tok_plan *pl = p->plan, *end = p->plan + p->ncols;
  tdsc__value *v = p->vals;
  const uint8_t *q = in + 1;
  p->vals_planned = false;
  for (; pl < end; pl++, v++) {
    uint32_t len = pl->len;
    if (!pl->fixed) {
      uint8_t b = *q++;
      if (b != len) {
        if (b != 0)
          return false;
        v->null = true, v->data = NULL, v->len = 0;
        continue;
      }
    }
    v->null = false, v->data = q, v->len = len;
    q += len;
  }
  *used = (size_t)(q - in);
  ev->kind = TDSC__EV_ROW;
  ev->u.row.ncols = p->ncols;
  ev->u.row.values = p->vals;
  return true;
}

/* A whole ROW/NBCROW token from in[0..n), the token byte first: the
 * driver's path for the common case, so that a row costs one call here
 * (issue 15). *used or *need as tdsc__tokp_next. */
tok_res tdsc__tok_row_token(tdsc__tokp *p, const uint8_t *in, size_t n,
                            size_t *used, size_t *need, tdsc__event *ev,
                            tdsc_error *err) {
  tdsc__cur c;
  tdsc__cur_init(&c, in, n);
  tdsc__cur_u8(&c);
  tok_res r = parse_row(p, &c, in[0], ev, err);
  if (r == R_MORE)
    *need = c.need > n ? c.need : n + 1;
  else if (r == R_OK)
    *used = c.rd.pos;
  return r;
}

/* RETURNVALUE (2.2.7.19): ParamOrdinal, ParamName, Status, UserType,
 * Flags, TYPE_INFO, value. The value is offered as a one-column row. */
tok_res tdsc__tok_returnvalue(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_RETURNVALUE;
  tdsc__colinfo col;
  bool o = false;
  memset(&col, 0, sizeof col);
  uint16_t ordinal = tdsc__cur_u16(c);
  size_t name_off = tdsc__tok_read_varchar(p, c, false, &o);
  if (o)
    return tdsc__tok_oom(err);
  uint8_t status = tdsc__cur_u8(c); /* output parameter or UDF return */
  col.user_type = tdsc__cur_u32(c);
  col.flags = tdsc__cur_u16(c);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (col.flags & COLFLAG_ENCRYPTED)
    return tdsc__tok_fail(p, err, tok,
                          "encrypted return value (Always Encrypted was "
                          "not negotiated)");
  if (tdsc__typeinfo_read(c, &col, err) != TDSC_OK)
    return tdsc__tok_typeinfo_fail(p, err, tok, 1);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (!tdsc__tok_ensure_vals(p, 1))
    return tdsc__tok_oom(err);
  p->vals[0].len = 0;
  tok_res r = tdsc__tok_read_value(p, c, &col, &p->offs[0], &p->vals[0].len,
                                   err, tok, NULL);
  if (r != R_OK)
    return r;
  fix_values(p, 1);
  col.name = tdsc__tok_astr(p, name_off);
  p->rv_col = col;
  ev->kind = TDSC__EV_RETURNVALUE;
  ev->u.returnvalue.ncols = 1;
  ev->u.returnvalue.values = p->vals;
  ev->u.returnvalue.col = &p->rv_col;
  ev->u.returnvalue.ordinal = ordinal;
  ev->u.returnvalue.status = status;
  return R_OK;
}
