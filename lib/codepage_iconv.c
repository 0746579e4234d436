/* Code pages by iconv (codepage.h), for POSIX systems; codepage_win32.c is
 * the Windows counterpart.  One descriptor per call: no shared state, so
 * no lock; glibc caches the loaded gconv modules itself. */
#include "config.h"

#include "codepage.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>

static iconv_t open_cp(const char *to, const char *from, int cp) {
  char name[16];
  snprintf(name, sizeof name, "CP%d", cp);
  return iconv_open(to ? to : name, from ? from : name);
}

bool tdsc__cp_to_utf8(int cp, const uint8_t *p, size_t n, tdsc__buf *out) {
  iconv_t cd = open_cp("UTF-8", NULL, cp);
  if (cd == (iconv_t)-1)
    return false;
  char *in = (char *)(uintptr_t)p; /* iconv's prototype is not const */
  size_t inleft = n;
  while (inleft > 0 && !out->oom) {
    /* Room for the worst case (3 UTF-8 bytes per input byte, at least one
     * character of 4 bytes). */
    size_t room = 3 * inleft + 4;
    uint8_t *dst = tdsc__buf_extend(out, room);
    if (!dst)
      break;
    char *o = (char *)dst;
    size_t oleft = room;
    size_t rc = iconv(cd, &in, &inleft, &o, &oleft);
    out->len -= oleft; /* give back what iconv did not write */
    if (rc == (size_t)-1) {
      if (errno == E2BIG)
        continue;
      /* EILSEQ: an invalid byte; EINVAL: a sequence cut at the end. */
      tdsc__buf_put(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
      in++;
      inleft--;
      iconv(cd, NULL, NULL, NULL, NULL);
    }
  }
  /* Flush a stateful converter (cp1258 may hold a base character back). */
  if (!out->oom) {
    uint8_t *dst = tdsc__buf_extend(out, 16);
    if (dst) {
      char *o = (char *)dst;
      size_t oleft = 16;
      iconv(cd, NULL, NULL, &o, &oleft);
      out->len -= oleft;
    }
  }
  iconv_close(cd);
  return true;
}

tdsc__cp_result tdsc__cp_from_utf8(int cp, const char *s, size_t n,
                                   tdsc__buf *out, size_t *bad) {
  iconv_t cd = open_cp(NULL, "UTF-8", cp);
  if (cd == (iconv_t)-1)
    return TDSC__CP_NO_CONVERTER;
  tdsc__cp_result res = TDSC__CP_OK;
  char *in = (char *)(uintptr_t)s;
  size_t left = n;
  while (left > 0 && res == TDSC__CP_OK) {
    if (!tdsc__buf_reserve(out, left * 2 + 8)) {
      res = TDSC__CP_OOM;
      break;
    }
    char *o = (char *)out->data + out->len;
    size_t room = out->cap - out->len;
    size_t r = iconv(cd, &in, &left, &o, &room);
    out->len = (size_t)((uint8_t *)o - out->data);
    if (r == (size_t)-1 && errno != E2BIG) {
      *bad = n - left;
      res = TDSC__CP_LOSSY;
    }
  }
  iconv_close(cd);
  return res;
}
