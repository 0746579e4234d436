/* Code pages by Windows' own converters (codepage.h): code page to UTF-16
 * to UTF-8 and back.  The POSIX counterpart is codepage_iconv.c.  Windows
 * maps the bytes a code page leaves undefined as SQL Server itself does,
 * since SQL Server converts with the same functions. */
#include "config.h"

#include "codepage.h"

#include <limits.h>
#include <stdlib.h>

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

/* UTF-16 of n bytes of cp (flags for MultiByteToWideChar), malloc'ed;
 * NULL with *len 0 when cp is unknown or the text invalid, NULL with *len
 * 1 when out of memory. */
static wchar_t *to_wide(UINT cp, DWORD flags, const char *p, size_t n,
                        int *len) {
  *len = 0;
  if (n > INT_MAX / 2)
    return NULL;
  int w = MultiByteToWideChar(cp, flags, p, (int)n, NULL, 0);
  if (w <= 0)
    return NULL;
  wchar_t *ws = malloc((size_t)w * sizeof *ws);
  if (!ws) {
    *len = 1;
    return NULL;
  }
  *len = MultiByteToWideChar(cp, flags, p, (int)n, ws, w);
  return ws;
}

bool tdsc__cp_to_utf8(int cp, const uint8_t *p, size_t n, tdsc__buf *out) {
  if (!IsValidCodePage((UINT)cp))
    return false;
  if (n == 0)
    return true;
  int wn;
  /* flags 0: undefined bytes become the code page's default character,
   * never an error */
  wchar_t *ws = to_wide((UINT)cp, 0, (const char *)p, n, &wn);
  if (!ws) {
    if (wn)
      out->oom = true;
    else
      tdsc__buf_put(out, "\xEF\xBF\xBD", 3); /* nothing convertible */
    return true;
  }
  int u = WideCharToMultiByte(CP_UTF8, 0, ws, wn, NULL, 0, NULL, NULL);
  uint8_t *dst = u > 0 ? tdsc__buf_extend(out, (size_t)u) : NULL;
  if (dst)
    WideCharToMultiByte(CP_UTF8, 0, ws, wn, (char *)dst, u, NULL, NULL);
  free(ws);
  return true;
}

/* Whether the UTF-16 text ws converts to cp without a default character. */
static bool fits(UINT cp, const wchar_t *ws, int wn, int *bytes) {
  BOOL lossy = FALSE;
  *bytes = WideCharToMultiByte(cp, WC_NO_BEST_FIT_CHARS, ws, wn, NULL, 0,
                               NULL, &lossy);
  return *bytes > 0 && !lossy;
}

tdsc__cp_result tdsc__cp_from_utf8(int cp, const char *s, size_t n,
                                   tdsc__buf *out, size_t *bad) {
  if (!IsValidCodePage((UINT)cp))
    return TDSC__CP_NO_CONVERTER;
  if (n == 0)
    return TDSC__CP_OK;
  int wn;
  wchar_t *ws = to_wide(CP_UTF8, MB_ERR_INVALID_CHARS, s, n, &wn);
  int bytes = 0;
  if (ws && fits((UINT)cp, ws, wn, &bytes)) {
    uint8_t *dst = tdsc__buf_extend(out, (size_t)bytes);
    if (dst)
      WideCharToMultiByte((UINT)cp, WC_NO_BEST_FIT_CHARS, ws, wn, (char *)dst,
                          bytes, NULL, NULL);
    free(ws);
    return dst ? TDSC__CP_OK : TDSC__CP_OOM;
  }
  free(ws);
  if (!ws && wn)
    return TDSC__CP_OOM;
  /* Find the first character that does not convert, for the message. */
  size_t i = 0;
  while (i < n) {
    size_t k = 1;
    while (i + k < n && ((unsigned char)s[i + k] & 0xC0) == 0x80)
      k++;
    int cn;
    wchar_t *c = to_wide(CP_UTF8, MB_ERR_INVALID_CHARS, s + i, k, &cn);
    bool ok = c && fits((UINT)cp, c, cn, &bytes);
    free(c);
    if (!ok)
      break;
    i += k;
  }
  *bad = i < n ? i : 0;
  return TDSC__CP_LOSSY;
}
