/* The incremental token-stream parser (MS-TDS 2.2.7): one whole token per
 * call, or NEED_MORE with a lower bound and nothing consumed.  Column
 * metadata is kept between calls; values and strings of an event live in
 * the parser's arena until the next call.  In lazy mode a row with PLP or
 * LONG columns is walked one column per call instead, large values handed
 * out in pieces of the caller's input.  TYPE_INFO is typeinfo.c's; the
 * session (lib/session/wire.c) feeds packet payloads in and acts on
 * events; values.c converts the values. */
#include "config.h"

#include "proto/tokens.h"
#include "proto/typeinfo.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* SQL Server allows 4096 columns in a SELECT; a larger COLMETADATA count
 * is hostile or corrupt (0xFFFF alone means "no metadata", 2.2.7.4). */
#define MAX_COLUMNS 4096u
#define NO_METADATA 0xFFFFu
#define MAX_FEATURES 256u /* FEATUREEXTACK entries */

#define PLP_NULL UINT64_C(0xFFFFFFFFFFFFFFFF)
#define PLP_UNKNOWN UINT64_C(0xFFFFFFFFFFFFFFFE)

/* Column flags (2.2.7.4). */
#define COLFLAG_ENCRYPTED 0x0800u

#define NONE SIZE_MAX /* "no arena offset" */
#define INPLACE (SIZE_MAX - 1) /* the value is read in place, in the input */

/* Where a lazy row stands (see tdsc__tokp_set_lazy). */
typedef enum {
  LZ_VALUE, /* at the start of column `col`'s value */
  LZ_PLP,   /* inside a PLP value: a chunk header or chunk data next */
  LZ_LONG   /* inside a LONG value: `left` bytes of it still to come */
} lz_phase;

typedef struct lazy_row {
  bool active; /* between ROW_BEGIN and the row's last column */
  uint8_t tok; /* ROW or NBCROW */
  uint8_t bitmap[MAX_COLUMNS / 8]; /* NBCROW's null bitmap */
  size_t col;                      /* the current column */
  lz_phase phase;
  uint64_t total; /* announced length, or PLP_UNKNOWN */
  uint64_t got;   /* bytes of the value handed out so far */
  uint64_t left;  /* bytes left of the current PLP chunk / LONG value */
} lazy_row;

struct tdsc__tokp {
  tdsc__colinfo *cols; /* current COLMETADATA, names malloc'd */
  size_t ncols;
  bool has_meta;
  bool has_large;    /* a PLP or LONG column among cols */
  bool lazy;         /* tdsc__tokp_set_lazy */
  lazy_row row;      /* the lazy row being walked */
  uint64_t consumed; /* stream offset, for error messages */

  /* Event memory, reset at each call. Strings and values are appended to
   * the arena as offsets while a token is parsed (appending may move it)
   * and turned into pointers once the token is complete. */
  tdsc__buf arena;
  tdsc__value *vals;
  size_t *offs;
  size_t vcap;
  uint8_t fe_ids[MAX_FEATURES];
  const uint8_t *fe_data[MAX_FEATURES];
  uint32_t fe_lens[MAX_FEATURES];
  size_t fe_offs[MAX_FEATURES];
  tdsc__colinfo rv_col; /* the last RETURNVALUE's TYPE_INFO; name in arena */
};

typedef enum { R_OK, R_MORE, R_FAIL } res;

tdsc__tokp *tdsc__tokp_new(void) {
  tdsc__tokp *p = calloc(1, sizeof *p);
  if (p)
    tdsc__buf_init(&p->arena);
  return p;
}

static void free_cols(tdsc__colinfo *cols, size_t n) {
  if (!cols)
    return;
  for (size_t i = 0; i < n; i++)
    free(cols[i].name);
  free(cols);
}

void tdsc__tokp_reset(tdsc__tokp *p) {
  free_cols(p->cols, p->ncols);
  p->cols = NULL;
  p->ncols = 0;
  p->has_meta = false;
  p->has_large = false;
  p->row.active = false;
}

void tdsc__tokp_free(tdsc__tokp *p) {
  if (!p)
    return;
  tdsc__tokp_reset(p);
  tdsc__buf_free(&p->arena);
  free(p->vals);
  free(p->offs);
  free(p);
}

size_t tdsc__tokp_ncols(const tdsc__tokp *p) { return p->ncols; }
const tdsc__colinfo *tdsc__tokp_cols(const tdsc__tokp *p) { return p->cols; }

void tdsc__tokp_set_lazy(tdsc__tokp *p, bool lazy) { p->lazy = lazy; }
bool tdsc__tokp_in_row(const tdsc__tokp *p) { return p->row.active; }

/* ------------------------------------------------------------ helpers */

static res fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok, const char *fmt,
                ...) TDSC__PRINTF(4, 5);
static res fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok, const char *fmt,
                ...) {
  va_list ap;
  va_start(ap, fmt);
  tdsc__err_vset(err, TDSC_E_PROTOCOL, fmt, ap);
  va_end(ap);
  tdsc__err_context(err, "token 0x%02X at stream offset %llu", tok,
                    (unsigned long long)p->consumed);
  return R_FAIL;
}

/* typeinfo.c set err; say where. */
static res typeinfo_fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok,
                         size_t column) {
  tdsc__err_context(err, "token 0x%02X at stream offset %llu, column %zu", tok,
                    (unsigned long long)p->consumed, column);
  return R_FAIL;
}

static res oom(tdsc_error *err) {
  tdsc__err_oom(err);
  return R_FAIL;
}

/* Appends UTF-16LE text as NUL-terminated UTF-8; returns its offset or
 * NONE on out-of-memory. */
static size_t arena_text(tdsc__tokp *p, const uint8_t *s, size_t nbytes) {
  size_t off = p->arena.len;
  if (!tdsc__utf16le_to_utf8(s, nbytes, &p->arena))
    return NONE;
  tdsc__buf_put_u8(&p->arena, 0);
  return p->arena.oom ? NONE : off;
}

static size_t arena_bytes(tdsc__tokp *p, const uint8_t *d, size_t n) {
  size_t off = p->arena.len;
  tdsc__buf_put(&p->arena, d, n);
  return p->arena.oom ? NONE : off;
}

static char *astr(tdsc__tokp *p, size_t off) {
  return off == NONE ? NULL : (char *)p->arena.data + off;
}

/* Reads a B_VARCHAR / US_VARCHAR into the arena. On a short read returns
 * NONE with the cursor bad; on OOM returns NONE with *oomp set. */
static size_t read_varchar(tdsc__tokp *p, tdsc__cur *c, bool ushort,
                           bool *oomp) {
  size_t nchars = ushort ? tdsc__cur_u16(c) : tdsc__cur_u8(c);
  const uint8_t *s = tdsc__cur_take(c, nchars * 2);
  if (!s)
    return NONE;
  size_t off = arena_text(p, s, nchars * 2);
  if (off == NONE)
    *oomp = true;
  return off;
}

static bool ensure_vals(tdsc__tokp *p, size_t n) {
  if (n <= p->vcap)
    return true;
  tdsc__value *v = realloc(p->vals, n * sizeof *v);
  if (!v)
    return false;
  p->vals = v;
  size_t *o = realloc(p->offs, n * sizeof *o);
  if (!o)
    return false;
  p->offs = o;
  p->vcap = n;
  return true;
}

/* ------------------------------------------------------------ values */

/* Reads one value of column col (2.2.5.2 data type dependent lengths),
 * copying its payload to the arena: *off (NONE for NULL) and *len.  With
 * inplace, a value whose bytes are contiguous in the input (all but PLP)
 * is not copied: *inplace points at it and *off is INPLACE. */
static res read_value(tdsc__tokp *p, tdsc__cur *c, const tdsc__colinfo *col,
                      size_t *off, size_t *len, tdsc_error *err, uint8_t tok,
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
      return fail(p, err, tok, "%s value of %zu bytes (column allows %u)",
                  tdsc__typeinfo_name(col->wire_type), n,
                  (unsigned)col->max_len);
    break;
  case TDSC__LEN_USHORT:
    n = tdsc__cur_u16(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (n == 0xFFFF)
      return R_OK;
    if (n > col->max_len)
      return fail(p, err, tok,
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
      return fail(p, err, tok,
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
      return fail(p, err, tok,
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
      return fail(p, err, tok,
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
        return fail(p, err, tok, "PLP chunks exceed the %zu-byte limit",
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
      if (arena_bytes(p, d, chunk) == NONE)
        return oom(err);
      got += chunk;
    }
    if (total != PLP_UNKNOWN && got != total)
      return fail(p, err, tok,
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
  if ((*off = arena_bytes(p, d, n)) == NONE)
    return oom(err);
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

/* ------------------------------------------------------------ tokens */

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
  if (c->rd.bad)
    return false;
  if (tok == TDSC__TOK_NBCROW) {
    size_t nb = (p->ncols + 7) / 8;
    if (n - pos < nb)
      return false;
    bitmap = in + pos;
    pos += nb;
  }
  for (size_t i = 0; i < p->ncols; i++) {
    const tdsc__colinfo *col = &p->cols[i];
    tdsc__value *v = &p->vals[i];
    size_t len;
    if (bitmap && (bitmap[i / 8] >> (i % 8)) & 1) {
      v->null = true, v->data = NULL, v->len = 0;
      continue;
    }
    switch (col->lenkind) {
    case TDSC__LEN_BYTE:
      if (pos >= n)
        return false;
      len = in[pos++];
      if (len == 0) {
        v->null = true, v->data = NULL, v->len = 0;
        continue;
      }
      if (!tdsc__typeinfo_len_ok(col, len))
        return false;
      break;
    case TDSC__LEN_USHORT:
      if (n - pos < 2)
        return false;
      len = tdsc__le16(in + pos);
      pos += 2;
      if (len == 0xFFFF) {
        v->null = true, v->data = NULL, v->len = 0;
        continue;
      }
      if (len > col->max_len)
        return false;
      break;
    case TDSC__LEN_FIXED:
      len = col->fixed_len;
      if (len == 0)
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
static res parse_row(tdsc__tokp *p, tdsc__cur *c, uint8_t tok, tdsc__event *ev,
                     tdsc_error *err) {
  const uint8_t *bitmap = NULL;
  if (!p->has_meta || p->ncols == 0)
    return fail(p, err, tok, "row without column metadata");
  if (!ensure_vals(p, p->ncols))
    return oom(err);
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
    res r = read_value(p, c, &p->cols[i], &p->offs[i], &p->vals[i].len, err,
                       tok, &p->vals[i].data);
    if (r != R_OK)
      return r;
  }
  fix_values(p, p->ncols);
  ev->kind = TDSC__EV_ROW;
  ev->u.row.ncols = p->ncols;
  ev->u.row.values = p->vals;
  return R_OK;
}

/* ------------------------------------------------------------ lazy rows */

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
static res lazy_row_begin(tdsc__tokp *p, tdsc__cur *c, uint8_t tok,
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
static res lazy_value(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
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
      return fail(p, err, z->tok,
                  "column %zu: %s value of %lu bytes exceeds the column's "
                  "maximum %u",
                  i + 1, tdsc__typeinfo_name(col->wire_type),
                  (unsigned long)len, (unsigned)col->max_len);
    z->phase = LZ_LONG;
    z->total = len;
    z->got = 0;
    z->left = len;
  } else {
    size_t off, len;
    res r = read_value(p, c, col, &off, &len, err, z->tok, NULL);
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
static res lazy_large(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
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
        return fail(p, err, z->tok,
                    "column %zu: PLP chunks add up to %llu bytes, the value "
                    "announced %llu",
                    i + 1, (unsigned long long)z->got,
                    (unsigned long long)z->total);
      ev->kind = TDSC__EV_LARGE_END;
      lazy_next_column(p);
      return R_OK;
    }
    /* z->got <= z->total holds for a known total: no chunk went past it. */
    if (z->total != PLP_UNKNOWN && chunk > z->total - z->got)
      return fail(p, err, z->tok,
                  "column %zu: PLP chunk of %lu bytes after %llu, the value "
                  "announced %llu",
                  i + 1, (unsigned long)chunk, (unsigned long long)z->got,
                  (unsigned long long)z->total);
    if (chunk > UINT64_MAX - z->got)
      return fail(p, err, z->tok, "column %zu: PLP value beyond 2^64 bytes",
                  i + 1);
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
static res lazy_step(tdsc__tokp *p, const uint8_t *in, size_t n, size_t *used,
                     size_t *need, tdsc__event *ev, tdsc_error *err) {
  tdsc__cur c;
  res r;
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

/* COLMETADATA (2.2.7.4); replaces the current metadata only once the whole
 * token has been read. */
static res parse_colmetadata(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                             tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_COLMETADATA;
  uint16_t count = tdsc__cur_u16(c);
  tdsc__colinfo *cols = NULL;
  size_t n = 0;
  res r = R_OK;

  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (count == NO_METADATA) {
    n = 0;
    goto install;
  }
  if (count > MAX_COLUMNS)
    return fail(p, err, tok, "%u columns; SQL Server sends at most %u",
                (unsigned)count, MAX_COLUMNS);
  if (count && !(cols = calloc(count, sizeof *cols)))
    return oom(err);
  for (; n < count; n++) {
    tdsc__colinfo *col = &cols[n];
    col->user_type = tdsc__cur_u32(c);
    col->flags = tdsc__cur_u16(c);
    if (tdsc__cur_ok(c) && (col->flags & COLFLAG_ENCRYPTED)) {
      r = fail(p, err, tok,
               "column %zu is encrypted (Always Encrypted was "
               "not negotiated)",
               n + 1);
      goto out;
    }
    if (tdsc__typeinfo_read(c, col, err) != TDSC_OK) {
      r = typeinfo_fail(p, err, tok, n + 1);
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
      r = oom(err);
      goto out;
    }
    col->name = (char *)name.data;
  }
install:
  free_cols(p->cols, p->ncols);
  p->cols = cols;
  p->ncols = n;
  p->has_meta = n > 0;
  p->has_large = false;
  for (size_t i = 0; i < n; i++)
    if (cols[i].lenkind == TDSC__LEN_PLP || cols[i].lenkind == TDSC__LEN_LONG)
      p->has_large = true;
  ev->kind = TDSC__EV_COLMETADATA;
  ev->u.colmetadata.ncols = n;
  ev->u.colmetadata.cols = cols;
  return R_OK;
out:
  free_cols(cols, count);
  return r;
}

/* RETURNVALUE (2.2.7.19): ParamOrdinal, ParamName, Status, UserType,
 * Flags, TYPE_INFO, value. The value is offered as a one-column row. */
static res parse_returnvalue(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                             tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_RETURNVALUE;
  tdsc__colinfo col;
  bool o = false;
  memset(&col, 0, sizeof col);
  uint16_t ordinal = tdsc__cur_u16(c);
  size_t name_off = read_varchar(p, c, false, &o);
  if (o)
    return oom(err);
  uint8_t status = tdsc__cur_u8(c); /* output parameter or UDF return */
  col.user_type = tdsc__cur_u32(c);
  col.flags = tdsc__cur_u16(c);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (col.flags & COLFLAG_ENCRYPTED)
    return fail(p, err, tok,
                "encrypted return value (Always Encrypted was "
                "not negotiated)");
  if (tdsc__typeinfo_read(c, &col, err) != TDSC_OK)
    return typeinfo_fail(p, err, tok, 1);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (!ensure_vals(p, 1))
    return oom(err);
  p->vals[0].len = 0;
  res r =
      read_value(p, c, &col, &p->offs[0], &p->vals[0].len, err, tok, NULL);
  if (r != R_OK)
    return r;
  fix_values(p, 1);
  col.name = astr(p, name_off);
  p->rv_col = col;
  ev->kind = TDSC__EV_RETURNVALUE;
  ev->u.returnvalue.ncols = 1;
  ev->u.returnvalue.values = p->vals;
  ev->u.returnvalue.col = &p->rv_col;
  ev->u.returnvalue.ordinal = ordinal;
  ev->u.returnvalue.status = status;
  return R_OK;
}

/* FEATUREEXTACK (2.2.7.11): FeatureId, DWORD length, data; until 0xFF. */
static res parse_featureextack(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                               tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_FEATUREEXTACK;
  size_t n = 0;
  for (;;) {
    uint8_t id = tdsc__cur_u8(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (id == TDSC__FEAT_TERMINATOR)
      break;
    uint32_t len = tdsc__cur_u32(c);
    if (tdsc__cur_ok(c) && len > TDSC__VALUE_MAX)
      return fail(p, err, tok, "feature 0x%02X acknowledgement of %lu bytes",
                  id, (unsigned long)len);
    const uint8_t *d = tdsc__cur_take(c, len);
    if (!d)
      return R_MORE;
    if (n == MAX_FEATURES)
      return fail(p, err, tok, "more than %u feature acknowledgements",
                  MAX_FEATURES);
    p->fe_ids[n] = id;
    p->fe_lens[n] = len;
    if ((p->fe_offs[n] = arena_bytes(p, d, len)) == NONE)
      return oom(err);
    n++;
  }
  for (size_t i = 0; i < n; i++)
    p->fe_data[i] = p->arena.data + p->fe_offs[i];
  ev->kind = TDSC__EV_FEATUREEXTACK;
  ev->u.featureextack.n = n;
  ev->u.featureextack.ids = p->fe_ids;
  ev->u.featureextack.data = p->fe_data;
  ev->u.featureextack.lens = p->fe_lens;
  return R_OK;
}

/* LOGINACK (2.2.7.14): Interface, TDSVersion (sent most significant byte
 * first), ProgName B_VARCHAR, ProgVersion (4 bytes). */
static res parse_loginack(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                          tdsc_error *err) {
  bool o = false;
  ev->u.loginack.interface = tdsc__cur_u8(c);
  const uint8_t *v = tdsc__cur_take(c, 4);
  size_t name = read_varchar(p, c, false, &o);
  const uint8_t *pv = tdsc__cur_take(c, 4);
  if (o)
    return oom(err);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  ev->u.loginack.tds_version = ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) |
                               ((uint32_t)v[2] << 8) | v[3];
  memcpy(ev->u.loginack.ver, pv, 4);
  ev->u.loginack.prog_name = astr(p, name);
  ev->kind = TDSC__EV_LOGINACK;
  return R_OK;
}

/* INFO / ERROR (2.2.7.12, 2.2.7.10). The body is bounded by the token's
 * length; LineNumber is 4 bytes from TDS 7.2 on, 2 before. */
static res parse_msg(tdsc__tokp *p, tdsc__cur *c, uint8_t tok, tdsc__event *ev,
                     tdsc_error *err) {
  bool o = false;
  tdsc_message *m = &ev->u.msg;
  m->is_error = tok == TDSC__TOK_ERROR;
  m->number = (int32_t)tdsc__cur_u32(c);
  m->state = tdsc__cur_u8(c);
  m->cls = tdsc__cur_u8(c);
  size_t text = read_varchar(p, c, true, &o);
  size_t server = o ? NONE : read_varchar(p, c, false, &o);
  size_t proc = o ? NONE : read_varchar(p, c, false, &o);
  if (o)
    return oom(err);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  size_t left = tdsc__rd_left(&c->rd);
  if (left == 4)
    m->line = (int32_t)tdsc__cur_u32(c);
  else if (left == 2)
    m->line = tdsc__cur_u16(c);
  else
    return fail(p, err, tok, "%zu bytes left for the line number", left);
  m->text = astr(p, text);
  m->server = astr(p, server);
  m->procedure = astr(p, proc);
  ev->kind = TDSC__EV_INFO;
  return R_OK;
}

/* ENVCHANGE (2.2.7.9): Type, then NewValue and OldValue whose framing
 * depends on the type. */
static res parse_envchange(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                           tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_ENVCHANGE;
  bool o = false;
  size_t nt = NONE, ot = NONE, nv = NONE, ov = NONE, srv = NONE;
  size_t nl = 0, ol = 0;
  uint8_t type = tdsc__cur_u8(c);
  ev->u.envchange.type = type;
  switch (type) {
  case TDSC__ENV_DATABASE:
  case TDSC__ENV_LANGUAGE:
  case TDSC__ENV_CHARSET:
  case TDSC__ENV_SORTLCID:
  case TDSC__ENV_SORTFLAGS:
  case TDSC__ENV_MIRRORPARTNER:
  case TDSC__ENV_USERINSTANCE:
    /* B_VARCHAR both (the packet size too: decimal text, "4096"). */
    nt = read_varchar(p, c, false, &o);
    if (!o)
      ot = read_varchar(p, c, false, &o);
    break;
  case TDSC__ENV_PACKETSIZE: {
    /* B_VARCHAR decimal text ("4096"), also kept raw (new_val, UTF-16LE)
     * so that the session judges every character, a NUL included */
    tdsc__cur at = *c;
    nt = read_varchar(p, c, false, &o);
    if (!o && tdsc__cur_ok(c)) {
      size_t n = (size_t)tdsc__cur_u8(&at) * 2;
      if ((nv = arena_bytes(p, tdsc__cur_take(&at, n), n)) == NONE)
        o = true;
      nl = n;
    }
    if (!o)
      ot = read_varchar(p, c, false, &o);
    break;
  }
  case TDSC__ENV_PROMOTETRAN: {
    /* L_VARBYTE new value, then a zero byte. */
    uint32_t l = tdsc__cur_u32(c);
    const uint8_t *d = tdsc__cur_take(c, l);
    if (d && (nv = arena_bytes(p, d, l)) == NONE)
      o = true;
    nl = l;
    tdsc__cur_u8(c);
    break;
  }
  case TDSC__ENV_ROUTING: {
    /* RoutingData (US_VARBYTE): Protocol, ProtocolProperty (port),
     * AlternateServer US_VARCHAR; old value: 2 zero bytes. */
    uint16_t l = tdsc__cur_u16(c);
    const uint8_t *d = tdsc__cur_take(c, l);
    tdsc__cur_u16(c);
    if (!tdsc__cur_ok(c))
      break;
    tdsc__cur rc;
    tdsc__cur_init(&rc, d, l);
    ev->u.envchange.routing.protocol = tdsc__cur_u8(&rc);
    ev->u.envchange.routing.port = tdsc__cur_u16(&rc);
    srv = read_varchar(p, &rc, true, &o);
    if (!o && (!tdsc__cur_ok(&rc) || tdsc__rd_left(&rc.rd) != 0))
      return fail(p, err, tok, "malformed routing data (%u bytes)",
                  (unsigned)l);
    break;
  }
  case TDSC__ENV_COLLATION:
  case TDSC__ENV_BEGINTRAN:
  case TDSC__ENV_COMMITTRAN:
  case TDSC__ENV_ROLLBACKTRAN:
  case TDSC__ENV_ENLISTDTC:
  case TDSC__ENV_DEFECTTRAN:
  case TDSC__ENV_TRANMGRADDR:
  case TDSC__ENV_TRANENDED:
  case TDSC__ENV_RESETACK: {
    /* B_VARBYTE both: collation (5 bytes), transaction descriptors (8). */
    uint8_t l1 = tdsc__cur_u8(c);
    const uint8_t *d1 = tdsc__cur_take(c, l1);
    uint8_t l2 = tdsc__cur_u8(c);
    const uint8_t *d2 = tdsc__cur_take(c, l2);
    if (!tdsc__cur_ok(c))
      break;
    if ((nv = arena_bytes(p, d1, l1)) == NONE ||
        (ov = arena_bytes(p, d2, l2)) == NONE)
      o = true;
    nl = l1;
    ol = l2;
    break;
  }
  default: {
    /* A type this version does not know: the rest, raw, as new_val. */
    size_t rest = tdsc__rd_left(&c->rd);
    if ((nv = arena_bytes(p, tdsc__cur_take(c, rest), rest)) == NONE)
      o = true;
    nl = rest;
    break;
  }
  }
  if (o)
    return oom(err);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (tdsc__rd_left(&c->rd) != 0)
    return fail(p, err, tok, "type %u: %zu bytes left over", (unsigned)type,
                tdsc__rd_left(&c->rd));
  ev->u.envchange.new_text = astr(p, nt);
  ev->u.envchange.old_text = astr(p, ot);
  ev->u.envchange.new_val = nv == NONE ? NULL : p->arena.data + nv;
  ev->u.envchange.old_val = ov == NONE ? NULL : p->arena.data + ov;
  ev->u.envchange.new_len = nl;
  ev->u.envchange.old_len = ol;
  ev->u.envchange.routing.server = astr(p, srv);
  ev->kind = TDSC__EV_ENVCHANGE;
  return R_OK;
}

/* Tokens framed by a length (2.2.4.2.1.2/3): waits for the whole token,
 * then parses the body alone, so that a body overrunning its length is a
 * protocol error and not a wait for more input. */
static res parse_framed(tdsc__tokp *p, const uint8_t *in, size_t n, uint8_t tok,
                        size_t lenbytes, size_t *used, size_t *need,
                        tdsc__event *ev, tdsc_error *err) {
  tdsc__cur c;
  size_t blen;
  res r;

  tdsc__cur_init(&c, in, n);
  tdsc__cur_u8(&c);
  blen = lenbytes == 2 ? tdsc__cur_u16(&c) : tdsc__cur_u32(&c);
  if (!tdsc__cur_ok(&c)) {
    *need = c.need;
    return R_MORE;
  }
  if (blen > TDSC__VALUE_MAX)
    return fail(p, err, tok, "length %zu exceeds the %zu-byte limit", blen,
                TDSC__VALUE_MAX);
  if (n - c.rd.pos < blen) {
    *need = c.rd.pos + blen;
    return R_MORE;
  }
  *used = c.rd.pos + blen;
  tdsc__cur_init(&c, in + 1 + lenbytes, blen);
  switch (tok) {
  case TDSC__TOK_LOGINACK:
    r = parse_loginack(p, &c, ev, err);
    break;
  case TDSC__TOK_ENVCHANGE:
    r = parse_envchange(p, &c, ev, err);
    break;
  case TDSC__TOK_INFO:
  case TDSC__TOK_ERROR:
    r = parse_msg(p, &c, tok, ev, err);
    break;
  case TDSC__TOK_ORDER:
    /* ColNum USHORTs; the session does not need them. */
    if (blen % 2)
      return fail(p, err, tok, "odd length %zu", blen);
    ev->kind = TDSC__EV_ORDER;
    return R_OK;
  case TDSC__TOK_SSPI: {
    size_t off = arena_bytes(p, in + 3, blen);
    if (off == NONE)
      return oom(err);
    ev->kind = TDSC__EV_SSPI;
    ev->u.sspi.data = p->arena.data + off;
    ev->u.sspi.len = blen;
    return R_OK;
  }
  default: /* TABNAME, COLINFO, SESSIONSTATE, FEDAUTHINFO */
    ev->kind = TDSC__EV_SKIPPED;
    return R_OK;
  }
  if (r == R_MORE)
    return fail(p, err, tok, "fields overrun the token's length %zu", blen);
  return r;
}

/* Fixed-size tokens: DONE family, RETURNSTATUS, OFFSET. */
static res parse_fixed(const uint8_t *in, size_t n, uint8_t tok, size_t size,
                       size_t *used, size_t *need, tdsc__event *ev) {
  tdsc__cur c;
  if (n < size) {
    *need = size;
    return R_MORE;
  }
  tdsc__cur_init(&c, in + 1, size - 1);
  switch (tok) {
  case TDSC__TOK_RETURNSTATUS:
    ev->kind = TDSC__EV_RETURNSTATUS;
    ev->u.return_status = (int32_t)tdsc__cur_u32(&c);
    break;
  case TDSC__TOK_OFFSET: /* Identifier, OffsetLen: not used by us */
    ev->kind = TDSC__EV_SKIPPED;
    break;
  default: /* DONE, DONEPROC, DONEINPROC (2.2.7.6-8); 8-byte count 7.2+ */
    ev->kind = TDSC__EV_DONE;
    ev->u.done.token = tok;
    ev->u.done.status = tdsc__cur_u16(&c);
    ev->u.done.curcmd = tdsc__cur_u16(&c);
    ev->u.done.rowcount = tdsc__cur_u64(&c);
    break;
  }
  *used = size;
  return R_OK;
}

/* Tokens without an overall length: parsed straight from the input. */
static res parse_stream(tdsc__tokp *p, const uint8_t *in, size_t n, uint8_t tok,
                        size_t *used, size_t *need, tdsc__event *ev,
                        tdsc_error *err) {
  tdsc__cur c;
  res r;
  tdsc__cur_init(&c, in, n);
  tdsc__cur_u8(&c);
  switch (tok) {
  case TDSC__TOK_COLMETADATA:
    r = parse_colmetadata(p, &c, ev, err);
    break;
  case TDSC__TOK_ROW:
  case TDSC__TOK_NBCROW:
    if (p->lazy && p->has_large)
      r = lazy_row_begin(p, &c, tok, ev);
    else
      r = parse_row(p, &c, tok, ev, err);
    break;
  case TDSC__TOK_RETURNVALUE:
    r = parse_returnvalue(p, &c, ev, err);
    break;
  default:
    r = parse_featureextack(p, &c, ev, err);
    break;
  }
  if (r == R_MORE) {
    *need = c.need > n ? c.need : n + 1;
  } else if (r == R_OK) {
    *used = c.rd.pos;
  }
  return r;
}

tdsc__tok_status tdsc__tokp_next(tdsc__tokp *p, const uint8_t *in, size_t n,
                                 size_t *used, size_t *need, tdsc__event *ev,
                                 tdsc_error *err) {
  res r;
  *used = 0;
  *need = 0;
  tdsc__buf_reset(&p->arena);
  /* Empty values and strings still need a valid pointer. */
  if (!p->arena.data && !tdsc__buf_reserve(&p->arena, 1)) {
    tdsc__err_oom(err);
    return TDSC__TOK_FAIL;
  }
  /* A whole row, the common case: its values are read in place and only
   * u.row is set (2.2.7.17, 2.2.7.13); clearing the event is for the
   * tokens whose parsers leave fields out. */
  if (!p->row.active && n && (in[0] == TDSC__TOK_ROW || in[0] == TDSC__TOK_NBCROW) &&
      !(p->lazy && p->has_large)) {
    ev->token = in[0];
    r = parse_stream(p, in, n, in[0], used, need, ev, err);
    goto out;
  }
  memset(ev, 0, sizeof *ev);
  if (p->row.active) {
    /* Some steps consume nothing, so even an empty input may do. */
    r = lazy_step(p, in, n, used, need, ev, err);
    goto out;
  }
  if (n == 0) {
    *need = 1;
    return TDSC__TOK_NEED_MORE;
  }
  uint8_t tok = in[0];
  ev->token = tok;
  switch (tok) {
  case TDSC__TOK_LOGINACK:
  case TDSC__TOK_ENVCHANGE:
  case TDSC__TOK_INFO:
  case TDSC__TOK_ERROR:
  case TDSC__TOK_ORDER:
  case TDSC__TOK_SSPI:
  case TDSC__TOK_TABNAME:
  case TDSC__TOK_COLINFO:
    r = parse_framed(p, in, n, tok, 2, used, need, ev, err);
    break;
  case TDSC__TOK_SESSIONSTATE:
  case TDSC__TOK_FEDAUTHINFO:
    r = parse_framed(p, in, n, tok, 4, used, need, ev, err);
    break;
  case TDSC__TOK_DONE:
  case TDSC__TOK_DONEPROC:
  case TDSC__TOK_DONEINPROC:
    r = parse_fixed(in, n, tok, 13, used, need, ev);
    break;
  case TDSC__TOK_RETURNSTATUS:
  case TDSC__TOK_OFFSET:
    r = parse_fixed(in, n, tok, 5, used, need, ev);
    break;
  case TDSC__TOK_COLMETADATA:
  case TDSC__TOK_ROW:
  case TDSC__TOK_NBCROW:
  case TDSC__TOK_RETURNVALUE:
  case TDSC__TOK_FEATUREEXTACK:
    r = parse_stream(p, in, n, tok, used, need, ev, err);
    break;
  case TDSC__TOK_DATACLASSIFICATION:
  case TDSC__TOK_ALTMETADATA:
  case TDSC__TOK_ALTROW:
    /* DATACLASSIFICATION only follows a DATACLASSIFICATION feature request
     * and ALTMETADATA/ALTROW only COMPUTE BY (gone since SQL Server
     * 2012); neither has an overall length to skip by. */
    r = fail(p, err, tok, "token not supported (never requested)");
    break;
  default:
    r = fail(p, err, tok, "unknown token type");
    break;
  }
out:
  if (r == R_OK) {
    p->consumed += *used;
    return TDSC__TOK_EVENT;
  }
  memset(ev, 0, sizeof *ev);
  *used = 0;
  return r == R_MORE ? TDSC__TOK_NEED_MORE : TDSC__TOK_FAIL;
}
