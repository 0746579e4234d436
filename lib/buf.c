/* Growable byte buffers and the bounds-checked reader (buf.h).  Every layer
 * builds wire data with tdsc__buf and parses it with tdsc__rd. */
#include "config.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>

void tdsc__buf_init(tdsc__buf *b) { memset(b, 0, sizeof *b); }

void tdsc__buf_free(tdsc__buf *b) {
  free(b->data);
  tdsc__buf_init(b);
}

void tdsc__buf_reset(tdsc__buf *b) {
  b->len = 0;
  b->oom = false;
}

void tdsc__wipe(void *p, size_t n) {
#ifdef HAVE_EXPLICIT_BZERO
  explicit_bzero(p, n);
#else
  volatile uint8_t *v = p;
  while (n--)
    *v++ = 0;
#endif
}

void tdsc__buf_wipe(tdsc__buf *b) {
  if (b->data)
    tdsc__wipe(b->data, b->cap);
  tdsc__buf_reset(b);
}

bool tdsc__buf_reserve(tdsc__buf *b, size_t n) {
  if (b->oom)
    return false;
  if (n <= b->cap - b->len)
    return true;
  if (n > SIZE_MAX / 2 - b->len) {
    b->oom = true;
    return false;
  }
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len < n)
    cap *= 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) {
    b->oom = true;
    return false;
  }
  b->data = p;
  b->cap = cap;
  return true;
}

uint8_t *tdsc__buf_extend(tdsc__buf *b, size_t n) {
  /* at least one byte: an empty buffer has no data yet, and NULL + 0 is
   * undefined (an empty first packet of a reply extends by 0) */
  if (!tdsc__buf_reserve(b, n ? n : 1))
    return NULL;
  uint8_t *p = b->data + b->len;
  b->len += n;
  return p;
}

void tdsc__buf_put(tdsc__buf *b, const void *p, size_t n) {
  uint8_t *d = n ? tdsc__buf_extend(b, n) : NULL;
  if (d)
    memcpy(d, p, n);
}

void tdsc__buf_put_u8(tdsc__buf *b, uint8_t v) { tdsc__buf_put(b, &v, 1); }

void tdsc__buf_put_u16le(tdsc__buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
  tdsc__buf_put(b, x, 2);
}

void tdsc__buf_put_u16be(tdsc__buf *b, uint16_t v) {
  uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
  tdsc__buf_put(b, x, 2);
}

void tdsc__buf_put_u32le(tdsc__buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                  (uint8_t)(v >> 24)};
  tdsc__buf_put(b, x, 4);
}

void tdsc__buf_put_u32be(tdsc__buf *b, uint32_t v) {
  uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8),
                  (uint8_t)v};
  tdsc__buf_put(b, x, 4);
}

void tdsc__buf_put_u64le(tdsc__buf *b, uint64_t v) {
  tdsc__buf_put_u32le(b, (uint32_t)v);
  tdsc__buf_put_u32le(b, (uint32_t)(v >> 32));
}

void tdsc__buf_put_str(tdsc__buf *b, const char *s) {
  tdsc__buf_put(b, s, strlen(s));
}

void tdsc__buf_set_u16le(tdsc__buf *b, size_t off, uint16_t v) {
  if (b->oom || off + 2 > b->len)
    return;
  b->data[off] = (uint8_t)v;
  b->data[off + 1] = (uint8_t)(v >> 8);
}

void tdsc__buf_set_u16be(tdsc__buf *b, size_t off, uint16_t v) {
  if (b->oom || off + 2 > b->len)
    return;
  b->data[off] = (uint8_t)(v >> 8);
  b->data[off + 1] = (uint8_t)v;
}

void tdsc__buf_set_u32le(tdsc__buf *b, size_t off, uint32_t v) {
  if (b->oom || off + 4 > b->len)
    return;
  for (int i = 0; i < 4; i++)
    b->data[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

void tdsc__buf_consume(tdsc__buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

char *tdsc__buf_cstr(tdsc__buf *b) {
  if (!tdsc__buf_reserve(b, 1))
    return NULL;
  b->data[b->len] = 0;
  return (char *)b->data;
}

bool tdsc__rd_skip(tdsc__rd *r, size_t n) { return tdsc__rd_take(r, n) != NULL; }

uint8_t tdsc__rd_u8(tdsc__rd *r) {
  const uint8_t *p = tdsc__rd_take(r, 1);
  return p ? p[0] : 0;
}

uint16_t tdsc__rd_u16le(tdsc__rd *r) {
  const uint8_t *p = tdsc__rd_take(r, 2);
  return p ? tdsc__le16(p) : 0;
}

uint16_t tdsc__rd_u16be(tdsc__rd *r) {
  const uint8_t *p = tdsc__rd_take(r, 2);
  return p ? (uint16_t)((p[0] << 8) | p[1]) : 0;
}

uint32_t tdsc__rd_u32le(tdsc__rd *r) {
  const uint8_t *p = tdsc__rd_take(r, 4);
  return p ? tdsc__le32(p) : 0;
}

uint32_t tdsc__rd_u32be(tdsc__rd *r) {
  const uint8_t *p = tdsc__rd_take(r, 4);
  return p ? ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
                 ((uint32_t)p[2] << 8) | p[3]
           : 0;
}

uint64_t tdsc__rd_u64le(tdsc__rd *r) {
  const uint8_t *p = tdsc__rd_take(r, 8);
  return p ? tdsc__le64(p) : 0;
}
