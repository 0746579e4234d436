/* The incremental token-stream parser's driver (MS-TDS 2.2.7): one whole
 * token per call, or NEED_MORE with a lower bound and nothing consumed.
 * This file owns the parser's lifecycle, frames each token (a length, a
 * fixed size, or none) and dispatches by token type to tok_colmeta.c,
 * tok_row.c, tok_lazy.c and tok_session.c (tokp.h says who does what);
 * the fixed-size tokens (DONE family, RETURNSTATUS) it decodes itself.
 * The session (lib/session/wire.c) feeds packet payloads in and acts on
 * events; values.c converts the values. */
#include "config.h"

#include "proto/tokp.h"

#include <stdlib.h>
#include <string.h>

tdsc__tokp *tdsc__tokp_new(void) {
  tdsc__tokp *p = calloc(1, sizeof *p);
  if (p) {
    tdsc__buf_init(&p->arena);
    tdsc__buf_init(&p->names);
    tdsc__buf_init(&p->spare_names);
  }
  return p;
}

/* (the column storage stays for the next COLMETADATA: tok_colmeta.c) */
void tdsc__tokp_reset(tdsc__tokp *p) {
  p->ncols = 0;
  p->has_meta = false;
  p->plan_ok = p->plan_all = p->vals_planned = false;
  p->has_large = false;
  p->row.active = false;
}

void tdsc__tokp_free(tdsc__tokp *p) {
  if (!p)
    return;
  tdsc__tokp_reset(p);
  free(p->cols);
  free(p->spare_cols);
  tdsc__buf_free(&p->names);
  tdsc__buf_free(&p->spare_names);
  tdsc__buf_free(&p->arena);
  free(p->vals);
  free(p->offs);
  free(p->plan);
  free(p->lchk);
  free(p->plan_row);
  free(p);
}

size_t tdsc__tokp_ncols(const tdsc__tokp *p) { return p->ncols; }
const tdsc__colinfo *tdsc__tokp_cols(const tdsc__tokp *p) { return p->cols; }

void tdsc__tokp_set_lazy(tdsc__tokp *p, bool lazy) { p->lazy = lazy; }
bool tdsc__tokp_in_row(const tdsc__tokp *p) { return p->row.active; }

/* Tokens framed by a length (2.2.4.2.1.2/3): waits for the whole token,
 * then parses the body alone, so that a body overrunning its length is a
 * protocol error and not a wait for more input. */
static tok_res parse_framed(tdsc__tokp *p, const uint8_t *in, size_t n,
                            uint8_t tok, size_t lenbytes, size_t *used,
                            size_t *need, tdsc__event *ev, tdsc_error *err) {
  tdsc__cur c;
  size_t blen;
  tok_res r;

  tdsc__cur_init(&c, in, n);
  tdsc__cur_u8(&c);
  blen = lenbytes == 2 ? tdsc__cur_u16(&c) : tdsc__cur_u32(&c);
  if (!tdsc__cur_ok(&c)) {
    *need = c.need;
    return R_MORE;
  }
  if (blen > TDSC__VALUE_MAX)
    return tdsc__tok_fail(p, err, tok, "length %zu exceeds the %zu-byte limit",
                          blen, TDSC__VALUE_MAX);
  if (n - c.rd.pos < blen) {
    *need = c.rd.pos + blen;
    return R_MORE;
  }
  *used = c.rd.pos + blen;
  tdsc__cur_init(&c, in + 1 + lenbytes, blen);
  switch (tok) {
  case TDSC__TOK_LOGINACK:
    r = tdsc__tok_loginack(p, &c, ev, err);
    break;
  case TDSC__TOK_ENVCHANGE:
    r = tdsc__tok_envchange(p, &c, ev, err);
    break;
  case TDSC__TOK_INFO:
  case TDSC__TOK_ERROR:
    r = tdsc__tok_msg(p, &c, tok, ev, err);
    break;
  case TDSC__TOK_ORDER:
    /* ColNum USHORTs; the session does not need them. */
    if (blen % 2)
      return tdsc__tok_fail(p, err, tok, "odd length %zu", blen);
    ev->kind = TDSC__EV_ORDER;
    return R_OK;
  case TDSC__TOK_SSPI: {
    size_t off = tdsc__tok_arena_bytes(p, in + 3, blen);
    if (off == NONE)
      return tdsc__tok_oom(err);
    ev->kind = TDSC__EV_SSPI;
    ev->u.sspi.data = p->arena.data + off;
    ev->u.sspi.len = blen;
    return R_OK;
  }
  case TDSC__TOK_FEDAUTHINFO:
    return tdsc__tok_fedauthinfo(p, &c, ev, err);
  default: /* TABNAME, COLINFO, SESSIONSTATE */
    ev->kind = TDSC__EV_SKIPPED;
    return R_OK;
  }
  if (r == R_MORE)
    return tdsc__tok_fail(p, err, tok, "fields overrun the token's length %zu",
                          blen);
  return r;
}

/* Fixed-size tokens: DONE family, RETURNSTATUS, OFFSET. */
static tok_res parse_fixed(const uint8_t *in, size_t n, uint8_t tok,
                           size_t size, size_t *used, size_t *need,
                           tdsc__event *ev) {
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
static tok_res parse_stream(tdsc__tokp *p, const uint8_t *in, size_t n,
                            uint8_t tok, size_t *used, size_t *need,
                            tdsc__event *ev, tdsc_error *err) {
  tdsc__cur c;
  tok_res r;
  tdsc__cur_init(&c, in, n);
  tdsc__cur_u8(&c);
  switch (tok) {
  case TDSC__TOK_COLMETADATA:
    r = tdsc__tok_colmetadata(p, &c, ev, err);
    break;
  case TDSC__TOK_ROW:
  case TDSC__TOK_NBCROW:
    if (!(p->lazy && p->has_large))
      return tdsc__tok_row_token(p, in, n, used, need, ev, err);
    r = tdsc__tok_lazy_row_begin(p, &c, tok, ev);
    break;
  case TDSC__TOK_RETURNVALUE:
    r = tdsc__tok_returnvalue(p, &c, ev, err);
    break;
  default:
    r = tdsc__tok_featureextack(p, &c, ev, err);
    break;
  }
  if (r == R_MORE) {
    *need = c.need > n ? c.need : n + 1;
  } else if (r == R_OK) {
    *used = c.rd.pos;
  }
  return r;
}

/* Every token but a planned row.  Out of line, so that the planned row's
 * path (tdsc__tokp_next) does not pay for this one's registers. */
static __attribute__((noinline)) tdsc__tok_status
next_token(tdsc__tokp *p, const uint8_t *in, size_t n, size_t *used,
           size_t *need, tdsc__event *ev, tdsc_error *err) {
  tok_res r;
  /* the paths below fill the values their own way (tok_row.c) */
  p->vals_planned = false;
  /* a planned row with a NULL, or one near the input's end */
  if (p->plan_ok && n && !p->row.active &&
      tdsc__tok_planned_row_nulls(p, in, n, used, ev)) {
    *need = 0;
    ev->token = in[0];
    p->consumed += *used;
    return TDSC__TOK_EVENT;
  }
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
  if (!p->row.active && n &&
      (in[0] == TDSC__TOK_ROW || in[0] == TDSC__TOK_NBCROW) &&
      !(p->lazy && p->has_large)) {
    ev->token = in[0];
    r = tdsc__tok_row_token(p, in, n, used, need, ev, err);
    goto out;
  }
  memset(ev, 0, sizeof *ev);
  if (p->row.active) {
    /* Some steps consume nothing, so even an empty input may do. */
    r = tdsc__tok_lazy_step(p, in, n, used, need, ev, err);
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
    r = tdsc__tok_fail(p, err, tok, "token not supported (never requested)");
    break;
  default:
    r = tdsc__tok_fail(p, err, tok, "unknown token type");
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

tdsc__tok_status tdsc__tokp_next(tdsc__tokp *p, const uint8_t *in, size_t n,
                                 size_t *used, size_t *need, tdsc__event *ev,
                                 tdsc_error *err) {
  /* The most common token first: a ROW of a COLMETADATA whose columns all
   * have one size (tok_row.c's plan), its values read in place, no event
   * memory used, so nothing to reset (issue 15: decode only).  Rows of
   * lazy mode's large columns are never planned. */
  if (p->plan_ok && n && !p->row.active &&
      tdsc__tok_planned_row(p, in, n, used, ev)) {
    *need = 0;
    ev->token = in[0];
    p->consumed += *used;
    return TDSC__TOK_EVENT;
  }
  return next_token(p, in, n, used, need, ev, err);
}
