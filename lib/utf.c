/* UTF-16LE <-> UTF-8, the two encodings TDS strings travel in (buf.h).
 * Lenient on input (bad sequences become U+FFFD) so that hostile bytes
 * never stop a conversion half-way. */
#include "config.h"

#include "buf.h"

#include <stdint.h>

void tdsc__buf_put_utf8(tdsc__buf *out, uint32_t c) {
  uint8_t x[4];
  size_t n;
  if (c < 0x80) {
    x[0] = (uint8_t)c;
    n = 1;
  } else if (c < 0x800) {
    x[0] = (uint8_t)(0xC0 | (c >> 6));
    x[1] = (uint8_t)(0x80 | (c & 0x3F));
    n = 2;
  } else if (c < 0x10000) {
    x[0] = (uint8_t)(0xE0 | (c >> 12));
    x[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    x[2] = (uint8_t)(0x80 | (c & 0x3F));
    n = 3;
  } else {
    x[0] = (uint8_t)(0xF0 | (c >> 18));
    x[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    x[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    x[3] = (uint8_t)(0x80 | (c & 0x3F));
    n = 4;
  }
  tdsc__buf_put(out, x, n);
}

/* Encodes c (at most U+10FFFF) at d; returns the bytes written. */
static size_t put_utf8(uint8_t *d, uint32_t c) {
  if (c < 0x80) {
    d[0] = (uint8_t)c;
    return 1;
  }
  if (c < 0x800) {
    d[0] = (uint8_t)(0xC0 | (c >> 6));
    d[1] = (uint8_t)(0x80 | (c & 0x3F));
    return 2;
  }
  if (c < 0x10000) {
    d[0] = (uint8_t)(0xE0 | (c >> 12));
    d[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    d[2] = (uint8_t)(0x80 | (c & 0x3F));
    return 3;
  }
  d[0] = (uint8_t)(0xF0 | (c >> 18));
  d[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
  d[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
  d[3] = (uint8_t)(0x80 | (c & 0x3F));
  return 4;
}

/* Writes into memory reserved once for the worst case (3 bytes per UTF-16
 * unit: a surrogate pair's 4 bytes of UTF-8 come from 2 units, a lone odd
 * byte's U+FFFD takes 3), with a tight loop for ASCII, the common case of
 * names and most text (issue 15: the character-at-a-time path cost about
 * 80 instructions a character). */
bool tdsc__utf16le_to_utf8(const uint8_t *p, size_t n, tdsc__buf *out) {
  size_t i = 0;
  if (n > (SIZE_MAX - 3) / 2 || !tdsc__buf_reserve(out, n / 2 * 3 + 3))
    return false;
  uint8_t *d = out->data + out->len, *start = d;
  while (i + 1 < n) {
    /* ASCII run, four units at a time: each unit's high byte zero and its
     * low byte below 0x80, i.e. no bit of 0xFF80 set in any of them */
    while (n - i >= 8) {
      uint64_t w = tdsc__le64(p + i);
      if (w & 0xFF80FF80FF80FF80u)
        break;
      d[0] = (uint8_t)w, d[1] = (uint8_t)(w >> 16);
      d[2] = (uint8_t)(w >> 32), d[3] = (uint8_t)(w >> 48);
      d += 4;
      i += 8;
    }
    /* and one at a time to its end */
    while (i + 1 < n && p[i + 1] == 0 && p[i] < 0x80) {
      *d++ = p[i];
      i += 2;
    }
    if (i + 1 >= n)
      break;
    uint32_t c = tdsc__le16(p + i);
    i += 2;
    if (c >= 0xD800 && c <= 0xDBFF) {
      uint32_t lo = i + 1 < n ? tdsc__le16(p + i) : 0;
      if (lo >= 0xDC00 && lo <= 0xDFFF) {
        c = 0x10000 + ((c - 0xD800) << 10) + (lo - 0xDC00);
        i += 2;
      } else {
        c = 0xFFFD;
      }
    } else if (c >= 0xDC00 && c <= 0xDFFF) {
      c = 0xFFFD;
    }
    d += put_utf8(d, c);
  }
  if (i < n)
    d += put_utf8(d, 0xFFFD);
  out->len += (size_t)(d - start);
  return true;
}

/* Length of the valid UTF-8 sequence at s[0..n) (RFC 3629 section 4), or
 * 0 when there is none; then *skip is the length of its longest valid
 * prefix (at least 1), which becomes one U+FFFD: the "maximal subpart"
 * practice of Unicode 3.9 (U+FFFD substitution), as WHATWG decoders do. */
size_t tdsc__utf8_seq(const uint8_t *s, size_t n, size_t *skip) {
  uint8_t b = s[0];
  size_t len, i;
  uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
  *skip = 1;
  if (b < 0x80)
    return 1;
  if (b >= 0xC2 && b <= 0xDF)
    len = 2;
  else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    if (b == 0xE0)
      lo = 0xA0; /* overlong */
    else if (b == 0xED)
      hi = 0x9F; /* surrogates */
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    if (b == 0xF0)
      lo = 0x90; /* overlong */
    else if (b == 0xF4)
      hi = 0x8F; /* beyond U+10FFFF */
  } else {
    return 0;
  }
  if (n < 2 || s[1] < lo || s[1] > hi)
    return 0;
  for (i = 2; i < len && i < n; i++)
    if ((s[i] & 0xC0) != 0x80)
      break;
  if (i == len)
    return len;
  *skip = i;
  return 0;
}

/* Decodes one UTF-8 sequence at s[0..n): its length, and the code point
 * (U+FFFD for an invalid part, whose length is then that part's). */
static size_t get_utf8(const uint8_t *s, size_t n, uint32_t *cp) {
  size_t skip, len = tdsc__utf8_seq(s, n, &skip);
  static const uint8_t first_mask[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  if (!len) {
    *cp = 0xFFFD;
    return skip;
  }
  uint32_t c = s[0] & first_mask[len];
  for (size_t i = 1; i < len; i++)
    c = (c << 6) | (s[i] & 0x3F);
  *cp = c;
  return len;
}

/* Copies valid UTF-8, replacing each invalid part with U+FFFD. */
void tdsc__utf8_sanitize(const uint8_t *p, size_t n, tdsc__buf *out) {
  size_t i = 0, run = 0, skip;
  tdsc__buf_reserve(out, n);
  while (i < n) {
    size_t k = tdsc__utf8_seq(p + i, n - i, &skip);
    if (k) {
      i += k;
      continue;
    }
    tdsc__buf_put(out, p + run, i - run);
    tdsc__buf_put(out, "\xEF\xBF\xBD", 3);
    i += skip;
    run = i;
  }
  tdsc__buf_put(out, p + run, n - run);
}

size_t tdsc__utf8_to_utf16le(const char *str, size_t n, tdsc__buf *out) {
  const uint8_t *s = (const uint8_t *)str;
  size_t start = out->len;
  /* Each input byte gives at most two output bytes (a 4-byte sequence a
   * surrogate pair, an invalid part one U+FFFD), so that the loop writes
   * in place without a check per character: the SQL text of every
   * request comes here (issue 15). */
  if (n > SIZE_MAX / 2 || !tdsc__buf_reserve(out, 2 * n))
    return (size_t)-1;
  if (n == 0)
    return 0; /* (out->data may be NULL) */
  uint8_t *o = out->data + out->len;
  for (size_t i = 0; i < n;) {
    uint32_t c = s[i];
    if (c < 0x80)
      i++;
    else
      i += get_utf8(s + i, n - i, &c);
    if (c >= 0x10000) {
      c -= 0x10000;
      uint32_t hi = 0xD800 + (c >> 10), lo = 0xDC00 + (c & 0x3FF);
      o[0] = (uint8_t)hi, o[1] = (uint8_t)(hi >> 8);
      o[2] = (uint8_t)lo, o[3] = (uint8_t)(lo >> 8);
      o += 4;
    } else {
      o[0] = (uint8_t)c, o[1] = (uint8_t)(c >> 8);
      o += 2;
    }
  }
  out->len = (size_t)(o - out->data);
  return out->len - start;
}
