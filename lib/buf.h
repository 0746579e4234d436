/* Byte buffers for building wire data (tdsc__buf, growable, sticky
 * out-of-memory) and a bounds-checked reader for parsing it (tdsc__rd,
 * sticky failure: once a read runs past the end every later read returns
 * zero and tdsc__rd_ok() is false).  Every length taken from the wire goes
 * through a reader; no parser indexes raw pointers by hand. */
#ifndef TDSC_BUF_H
#define TDSC_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tdsc__buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  bool oom; /* an append failed; data holds what fitted before */
} tdsc__buf;

void tdsc__buf_init(tdsc__buf *b);
void tdsc__buf_free(tdsc__buf *b);
/* Forgets the contents, keeps the memory (and clears oom). */
void tdsc__buf_reset(tdsc__buf *b);
/* Wipes the contents with zeros before forgetting them (secrets). */
void tdsc__buf_wipe(tdsc__buf *b);
/* Zeroes n bytes at p in a way the compiler keeps (secrets). */
void tdsc__wipe(void *p, size_t n);
/* Makes room for n more bytes; false (and oom set) on failure. */
bool tdsc__buf_reserve(tdsc__buf *b, size_t n);
/* Appends n bytes, returns where they start (NULL on oom), contents
 * unspecified: for callers that fill them in. */
uint8_t *tdsc__buf_extend(tdsc__buf *b, size_t n);
void tdsc__buf_put(tdsc__buf *b, const void *p, size_t n);
void tdsc__buf_put_u8(tdsc__buf *b, uint8_t v);
void tdsc__buf_put_u16le(tdsc__buf *b, uint16_t v);
void tdsc__buf_put_u16be(tdsc__buf *b, uint16_t v);
void tdsc__buf_put_u32le(tdsc__buf *b, uint32_t v);
void tdsc__buf_put_u32be(tdsc__buf *b, uint32_t v);
void tdsc__buf_put_u64le(tdsc__buf *b, uint64_t v);
/* Appends a NUL-terminated string without its NUL. */
void tdsc__buf_put_str(tdsc__buf *b, const char *s);
/* Overwrites 2/4 bytes at off (must be within len). */
void tdsc__buf_set_u16le(tdsc__buf *b, size_t off, uint16_t v);
void tdsc__buf_set_u16be(tdsc__buf *b, size_t off, uint16_t v);
void tdsc__buf_set_u32le(tdsc__buf *b, size_t off, uint32_t v);
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void tdsc__buf_consume(tdsc__buf *b, size_t n);
/* Appends a NUL and returns data as a C string (len excludes the NUL);
 * NULL on oom. */
char *tdsc__buf_cstr(tdsc__buf *b);

typedef struct tdsc__rd {
  const uint8_t *p;
  size_t len;
  size_t pos;
  bool bad;
} tdsc__rd;

static inline void tdsc__rd_init(tdsc__rd *r, const void *p, size_t len) {
  r->p = (const uint8_t *)p;
  r->len = len;
  r->pos = 0;
  r->bad = false;
}
static inline size_t tdsc__rd_left(const tdsc__rd *r) {
  return r->bad ? 0 : r->len - r->pos;
}
static inline bool tdsc__rd_ok(const tdsc__rd *r) { return !r->bad; }
/* Returns a pointer to the next n bytes and advances, or NULL (and marks
 * the reader bad) when fewer than n remain.  Inline: the token parser
 * takes every value through it. */
static inline const uint8_t *tdsc__rd_take(tdsc__rd *r, size_t n) {
  if (r->bad || n > r->len - r->pos) {
    r->bad = true;
    return NULL;
  }
  const uint8_t *p = r->p + r->pos;
  r->pos += n;
  return p;
}
bool tdsc__rd_skip(tdsc__rd *r, size_t n);
uint8_t tdsc__rd_u8(tdsc__rd *r);
uint16_t tdsc__rd_u16le(tdsc__rd *r);
uint16_t tdsc__rd_u16be(tdsc__rd *r);
uint32_t tdsc__rd_u32le(tdsc__rd *r);
uint32_t tdsc__rd_u32be(tdsc__rd *r);
uint64_t tdsc__rd_u64le(tdsc__rd *r);

/* Little-endian loads from memory already bounds-checked by a reader. */
static inline uint16_t tdsc__le16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t tdsc__le32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
         ((uint32_t)p[3] << 24);
}
static inline uint64_t tdsc__le64(const uint8_t *p) {
  return (uint64_t)tdsc__le32(p) | ((uint64_t)tdsc__le32(p + 4) << 32);
}

/* UTF-16LE (n bytes, n may be odd: the stray byte is an error) to UTF-8,
 * appended to out. Unpaired surrogates become U+FFFD. False on oom. */
bool tdsc__utf16le_to_utf8(const uint8_t *p, size_t n, tdsc__buf *out);
/* Appends code point c as UTF-8. */
void tdsc__buf_put_utf8(tdsc__buf *b, uint32_t c);
/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629), or 0 when
 * there is none; then *skip is the length of the invalid part (its longest
 * valid prefix, at least 1), which stands for one U+FFFD (Unicode's
 * "maximal subpart" practice). */
size_t tdsc__utf8_seq(const uint8_t *s, size_t n, size_t *skip);
/* Appends UTF-8 text, each invalid part replaced by U+FFFD. */
void tdsc__utf8_sanitize(const uint8_t *p, size_t n, tdsc__buf *out);
/* UTF-8 (n bytes) to UTF-16LE, appended to out. Invalid UTF-8 sequences
 * become U+FFFD. Returns the number of bytes appended, or (size_t)-1 on
 * oom. */
size_t tdsc__utf8_to_utf16le(const char *s, size_t n, tdsc__buf *out);

#endif
