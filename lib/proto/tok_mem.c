/* The token parser's event memory and errors (tokp.h): the arena that
 * holds an event's strings and values until the next call, the value
 * arrays of a row, and the protocol errors
 * that name the token and its stream offset.  Used by every tok_*.c file
 * and tokens.c; calls only buf.c, utf.c and error.c. */
#include "config.h"

#include "proto/tokp.h"

#include <stdlib.h>

tok_res tdsc__tok_fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok,
                       const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tdsc__err_vset(err, TDSC_E_PROTOCOL, fmt, ap);
  va_end(ap);
  tdsc__err_context(err, "token 0x%02X at stream offset %llu", tok,
                    (unsigned long long)p->consumed);
  return R_FAIL;
}

/* typeinfo.c set err; say where. */
tok_res tdsc__tok_typeinfo_fail(tdsc__tokp *p, tdsc_error *err, uint8_t tok,
                                size_t column) {
  tdsc__err_context(err, "token 0x%02X at stream offset %llu, column %zu", tok,
                    (unsigned long long)p->consumed, column);
  return R_FAIL;
}

tok_res tdsc__tok_oom(tdsc_error *err) {
  tdsc__err_oom(err);
  return R_FAIL;
}

/* Appends UTF-16LE text as NUL-terminated UTF-8; returns its offset or
 * NONE on out-of-memory. */
size_t tdsc__tok_arena_text(tdsc__tokp *p, const uint8_t *s, size_t nbytes) {
  size_t off = p->arena.len;
  if (!tdsc__utf16le_to_utf8(s, nbytes, &p->arena))
    return NONE;
  tdsc__buf_put_u8(&p->arena, 0);
  return p->arena.oom ? NONE : off;
}

size_t tdsc__tok_arena_bytes(tdsc__tokp *p, const uint8_t *d, size_t n) {
  size_t off = p->arena.len;
  tdsc__buf_put(&p->arena, d, n);
  return p->arena.oom ? NONE : off;
}

/* Reads a B_VARCHAR / US_VARCHAR into the arena. On a short read returns
 * NONE with the cursor bad; on OOM returns NONE with *oomp set. */
size_t tdsc__tok_read_varchar(tdsc__tokp *p, tdsc__cur *c, bool ushort,
                              bool *oomp) {
  size_t nchars = ushort ? tdsc__cur_u16(c) : tdsc__cur_u8(c);
  const uint8_t *s = tdsc__cur_take(c, nchars * 2);
  if (!s)
    return NONE;
  size_t off = tdsc__tok_arena_text(p, s, nchars * 2);
  if (off == NONE)
    *oomp = true;
  return off;
}

bool tdsc__tok_grow_vals(tdsc__tokp *p, size_t n) {
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
