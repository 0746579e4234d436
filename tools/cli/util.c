/* tdsc: growing strings, tdsc's own out-of-memory exit, and the display
 * width of UTF-8 text (for the aligned table). */
#include "config.h"

#include "tdsc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

void no_memory(void) {
  fputs("error: TDSC_E_NO_MEMORY (resource): tdsc ran out of memory\n", stderr);
  exit(EXIT_CONNECT);
}

char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p)
    no_memory();
  return p;
}

static void sb_reserve(strbuf *b, size_t n) {
  if (b->len + n + 1 <= b->cap)
    return;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->len + n + 1)
    cap *= 2;
  char *p = realloc(b->s, cap);
  if (!p)
    no_memory();
  b->s = p;
  b->cap = cap;
}

void sb_putn(strbuf *b, const char *s, size_t n) {
  sb_reserve(b, n);
  if (n)
    memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

void sb_puts(strbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
void sb_putc(strbuf *b, char c) { sb_putn(b, &c, 1); }

void sb_printf(strbuf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  sb_reserve(b, (size_t)n);
  va_start(ap, fmt);
  vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

void sb_wipe(strbuf *b) {
  if (b->s) {
    volatile char *p = b->s;
    for (size_t i = 0; i < b->cap; i++)
      p[i] = 0;
  }
  free(b->s);
  b->s = NULL;
  b->len = b->cap = 0;
}

void sb_add_kv(strbuf *b, const char *key, const char *value) {
  sb_puts(b, key);
  sb_puts(b, "={");
  for (const char *p = value; *p; p++) {
    sb_putn(b, p, 1);
    if (*p == '}')
      sb_putn(b, "}", 1);
  }
  sb_puts(b, "};");
}

#ifndef HAVE_WCWIDTH
/* Windows has no wcwidth: the common cases, from Unicode's East Asian Width
 * (W and F ranges) and the combining marks. */
static int wcwidth(wchar_t c) {
  unsigned u = (unsigned)c;
  if (u >= 0x0300 && u <= 0x036F)
    return 0;
  if ((u >= 0x1100 && u <= 0x115F) || (u >= 0x2E80 && u <= 0xA4CF) ||
      (u >= 0xAC00 && u <= 0xD7A3) || (u >= 0xF900 && u <= 0xFAFF) ||
      (u >= 0xFE30 && u <= 0xFE4F) || (u >= 0xFF00 && u <= 0xFF60) ||
      (u >= 0xFFE0 && u <= 0xFFE6))
    return 2;
  return 1;
}
#endif

size_t display_width(const char *s) {
  mbstate_t st;
  memset(&st, 0, sizeof st);
  size_t w = 0, n = strlen(s);
  while (n) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, n, &st);
    if (k == (size_t)-1 || k == (size_t)-2) {
      memset(&st, 0, sizeof st);
      k = 1;
      wc = L'?';
    } else if (k == 0) {
      break;
    }
    int cw = wcwidth(wc);
    w += cw < 0 ? 1 : (size_t)cw;
    s += k;
    n -= k;
  }
  return w;
}
