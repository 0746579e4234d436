/* Conversion between Windows code pages and UTF-8, one file per platform:
 * codepage_iconv.c (POSIX, iconv) and codepage_win32.c (Windows'
 * MultiByteToWideChar).  Which code page a column or parameter uses is
 * lib/proto's business (collation.c, rpc.c); these only convert. */
#ifndef TDSC_CODEPAGE_H
#define TDSC_CODEPAGE_H

#include "buf.h"

/* Appends the UTF-8 of n bytes of code page cp to out; bytes the code page
 * does not define become U+FFFD and the conversion goes on after them.
 * false when this system has no converter for cp (out unchanged).  Running
 * out of memory sets out->oom. */
bool tdsc__cp_to_utf8(int cp, const uint8_t *p, size_t n, tdsc__buf *out);

typedef enum tdsc__cp_result {
  TDSC__CP_OK,
  TDSC__CP_NO_CONVERTER, /* this system cannot convert to cp */
  TDSC__CP_LOSSY,        /* a character cp lacks (or bad UTF-8) at *bad */
  TDSC__CP_OOM
} tdsc__cp_result;

/* Appends s (n bytes of UTF-8) in code page cp to out, with no
 * transliteration: a character cp lacks fails (a "?" would be data loss),
 * *bad receiving its byte offset in s. */
tdsc__cp_result tdsc__cp_from_utf8(int cp, const char *s, size_t n,
                                   tdsc__buf *out, size_t *bad);

#endif
