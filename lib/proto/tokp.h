/* The token parser's insides, shared by its files and by nothing else
 * (callers use tokens.h).  The parser is split by responsibility:
 *   tokens.c       the driver: lifecycle, framing, dispatch by token type
 *   tok_mem.c      event memory (the arena), errors
 *   tok_colmeta.c  COLMETADATA (2.2.7.4) over typeinfo.c's TYPE_INFO
 *   tok_row.c      values of ROW/NBCROW (2.2.7.17, 2.2.7.13) and RETURNVALUE,
 *                  and the row plan of a COLMETADATA of fixed-size columns
 *   tok_lazy.c     lazy rows: one column per call, large values in pieces
 *   tok_session.c  LOGINACK, ENVCHANGE, INFO/ERROR, FEATUREEXTACK
 * Calls go down only: tokens.c calls the token files, they call tok_mem.c
 * (and tok_lazy.c calls tok_row.c for its small values, tok_colmeta.c
 * has tok_row.c plan the rows of a new COLMETADATA); none calls up. */
#ifndef TDSC_TOKP_H
#define TDSC_TOKP_H

#include "proto/tokens.h"
#include "proto/typeinfo.h" /* tdsc__cur */

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

#define NONE SIZE_MAX          /* "no arena offset" */
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

/* How one column's value is laid out when its row takes the planned path
 * (tok_row.c): a fixed size, or a 1-byte length that is either 0 (NULL)
 * or the one length the column allows (INTN, FLTN, GUID, ...). */
typedef struct tok_plan {
  bool fixed;   /* no length prefix: len bytes */
  uint32_t len; /* the size, or the one non-NULL length allowed; for the
                   other checks, the column's maximum */
  uint8_t check; /* how tok_row.c's fast_row reads and checks the length:
                    one of tok_row.c's PLAN_ values, typeinfo.c's rules */
  size_t off;    /* where the value starts in a row without NULL, from the
                    byte after the token byte (plan_ok only) */
} tok_plan;

/* Eight bytes of a planned row (tok_row.c), copied to plan_row as they
 * are checked: the bytes under mask must equal want's, i.e. every length
 * byte there is the one its column allows.  Bytes taken in memory order,
 * whatever the host's. */
typedef struct tok_lencheck {
  size_t off; /* from the byte after the token byte */
  uint64_t mask, want;
} tok_lencheck;

struct tdsc__tokp {
  tdsc__colinfo *cols; /* current COLMETADATA, names in `names` */
  size_t ncols;
  size_t cols_cap;
  tdsc__buf names; /* the columns' names, each NUL-terminated */
  /* The storage of the COLMETADATA before the current one, which the
   * next one is read into (tok_colmeta.c): the two swap when it is
   * complete. */
  tdsc__colinfo *spare_cols;
  size_t spare_cap;
  tdsc__buf spare_names;
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

  /* The row plan of the current COLMETADATA (tok_row.c): plan_ok when
   * every column is fixed-size or of one allowed length, plan_max the
   * most bytes a ROW's values can take then. */
  bool plan_ok;
  bool plan_all; /* plan has an entry (check) for every column */
  size_t plan_max;
  tok_plan *plan;
  size_t plan_cap;
  /* A planned row without NULL is copied to plan_row and checked eight
   * bytes at a time, the words of plan_span (plan_max, but no less than
   * 8) bytes after the token byte (nlchk of them); the input holds at
   * least that.  vals_planned: vals[0..ncols) hold what such a row sets
   * (not NULL, the plan's length, a data pointer into plan_row), so that
   * the next one sets nothing; any other way of filling vals clears it. */
  size_t plan_span;
  tok_lencheck *lchk;
  size_t nlchk, lchk_cap;
  uint8_t *plan_row;
  size_t plan_row_cap;
  bool vals_planned;
};

/* A token parser's outcome: done (the cursor past the token), more input
 * needed (the cursor's need says how much), or failed (err set). */
typedef enum { R_OK, R_MORE, R_FAIL } tok_res;

/* ---------------------------------------------------- tok_mem.c */

/* TDSC_E_PROTOCOL with the token and the stream offset as context. */
tok_res tdsc__tok_fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok,
                       const char *fmt, ...) TDSC__PRINTF(4, 5);
/* typeinfo.c set err; adds where (token, offset, column from 1). */
tok_res tdsc__tok_typeinfo_fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok,
                                size_t column);
tok_res tdsc__tok_oom(tdsc_error *err);
/* Append to the arena; return the offset, or NONE on out-of-memory. */
size_t tdsc__tok_arena_text(tdsc__tokp *p, const uint8_t *s, size_t nbytes);
size_t tdsc__tok_arena_bytes(tdsc__tokp *p, const uint8_t *d, size_t n);
/* Reads a B_VARCHAR / US_VARCHAR into the arena. On a short read returns
 * NONE with the cursor bad; on OOM returns NONE with *oomp set. */
size_t tdsc__tok_read_varchar(tdsc__tokp *p, tdsc__cur *c, bool ushort,
                              bool *oomp);
/* Grows vals/offs to n entries; false on out-of-memory. */
bool tdsc__tok_grow_vals(tdsc__tokp *p, size_t n);

/* A string in the arena by its offset (NULL for NONE). */
static inline char *tdsc__tok_astr(tdsc__tokp *p, size_t off) {
  return off == NONE ? NULL : (char *)p->arena.data + off;
}

/* Room for n values; inline because every row asks. */
static inline bool tdsc__tok_ensure_vals(tdsc__tokp *p, size_t n) {
  return n <= p->vcap || tdsc__tok_grow_vals(p, n);
}

/* ---------------------------------------------------- the token files */
/* Each parses one token's body from the cursor (past the token byte, or
 * the framed body alone for the length-framed ones) and fills ev. */

tok_res tdsc__tok_colmetadata(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err);

/* One value of column col (2.2.5.2), copied to the arena: *off (NONE for
 * NULL) and *len; with inplace, a value contiguous in the input (all but
 * PLP) is not copied: *inplace points at it and *off is INPLACE. */
tok_res tdsc__tok_read_value(tdsc__tokp *p, tdsc__cur *c,
                             const tdsc__colinfo *col, size_t *off, size_t *len,
                             tdsc_error *err, uint8_t tok,
                             const uint8_t **inplace);
/* Plans the rows of the COLMETADATA just installed (tok_colmeta.c): sets
 * plan_ok when every column is fixed-size or has one allowed length
 * (INTN, FLTN, GUID, ...: typeinfo.c says which).  False when out of
 * memory: reported as NO_MEMORY like any other allocation failure (the
 * general path would have needed the same values array). */
bool tdsc__tok_plan_rows(tdsc__tokp *p);
/* A planned ROW that has a NULL (tdsc__tok_planned_row takes those without
 * one), whole in in[0..n) (n >= 1, the token byte first): as
 * tdsc__tok_planned_row, per value one length byte compared with the one
 * allowed. */
bool tdsc__tok_planned_row_nulls(tdsc__tokp *p, const uint8_t *in, size_t n,
                                 size_t *used, tdsc__event *ev);

/* Copies the row at q (plan_span bytes there) to plan_row; true when
 * every length byte is the one its column allows: no NULL, every value
 * where the plan says.  One pass, a word at a time: the check's loads are
 * the copy's (a memcpy call and its own loop cost a third of a row). */
static inline bool tdsc__tok_planned_copy(tdsc__tokp *p, const uint8_t *q) {
  uint64_t diff = 0, x;
  uint8_t *dst = p->plan_row;
  for (const tok_lencheck *w = p->lchk, *end = w + p->nlchk; w < end; w++) {
    memcpy(&x, q + w->off, 8);
    memcpy(dst + w->off, &x, 8);
    diff |= (x & w->mask) ^ w->want;
  }
  return diff == 0;
}

/* A ROW without NULL of a COLMETADATA whose columns all have one size
 * (tok_row.c's plan), whole in in[0..n) (n >= 1, the token byte first),
 * the input holding at least plan_span bytes after the token byte, so that
 * no value needs a bounds check of its own: true with *used and ev set, or
 * false having changed neither (no plan, a short input, NBCROW, a NULL or
 * a length the column does not allow: then tdsc__tok_planned_row_nulls
 * or tdsc__tok_row_token decodes or reports the row).
 *
 * Its bytes are copied to plan_row as its length bytes are checked,
 * eight at a time, so that every value is where the plan says: the
 * values' data pointers, not NULL and the lengths stay from the previous
 * row when that was such a row too (vals_planned), and the row costs
 * its words' copy instead of a pointer store a column (issue 15: decode
 * only).  The values live until the next call, as those read in place in
 * the input do.  Inline in tokens.c's driver, whose every such row comes
 * here: a call and the registers it saved were a fifth of the row's
 * cost. */
static inline bool tdsc__tok_planned_row(tdsc__tokp *p, const uint8_t *in,
                                         size_t n, size_t *used,
                                         tdsc__event *ev) {
  if (!p->plan_ok || in[0] != TDSC__TOK_ROW || n - 1 < p->plan_span)
    return false;
  if (!tdsc__tok_planned_copy(p, in + 1))
    return false;
  if (!p->vals_planned) {
    const tok_plan *pl = p->plan;
    tdsc__value *v = p->vals;
    for (size_t i = 0; i < p->ncols; i++)
      v[i].null = false, v[i].len = pl[i].len,
      v[i].data = p->plan_row + pl[i].off;
    p->vals_planned = true;
  }
  *used = 1 + p->plan_max;
  ev->kind = TDSC__EV_ROW;
  ev->u.row.ncols = p->ncols;
  ev->u.row.values = p->vals;
  return true;
}

/* A whole ROW/NBCROW token from in[0..n), the token byte first. */
tok_res tdsc__tok_row_token(tdsc__tokp *p, const uint8_t *in, size_t n,
                            size_t *used, size_t *need, tdsc__event *ev,
                            tdsc_error *err);
tok_res tdsc__tok_returnvalue(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err);

tok_res tdsc__tok_lazy_row_begin(tdsc__tokp *p, tdsc__cur *c, uint8_t tok,
                                 tdsc__event *ev);
/* One step of a lazy row from in[0..n): *used or *need as tokp_next. */
tok_res tdsc__tok_lazy_step(tdsc__tokp *p, const uint8_t *in, size_t n,
                            size_t *used, size_t *need, tdsc__event *ev,
                            tdsc_error *err);

tok_res tdsc__tok_loginack(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                           tdsc_error *err);
tok_res tdsc__tok_envchange(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                            tdsc_error *err);
tok_res tdsc__tok_msg(tdsc__tokp *p, tdsc__cur *c, uint8_t tok, tdsc__event *ev,
                      tdsc_error *err);
tok_res tdsc__tok_featureextack(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                                tdsc_error *err);
/* FEDAUTHINFO's framed body (tok_session.c): R_OK or R_FAIL, never
 * R_MORE (the body is whole). */
tok_res tdsc__tok_fedauthinfo(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err);

#endif
