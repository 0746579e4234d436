/* NTLMCredFile=: lines "DOMAIN\user:password", '#' comments, blank lines;
 * the first entry, or the one for the user asked for.  One parser for
 * ntlm.c and sspi.c (each reads the file its platform's way). */
#ifndef TDSC_CREDFILE_H
#define TDSC_CREDFILE_H

#include "error.h"

/* Picks the entry from text (the whole file, NUL-terminated; edited in
 * place: *name and *password point into it, each NUL-terminated).  want:
 * the "DOMAIN\user" asked for (case-insensitive), or NULL for the first.
 * *lineno: the entry's line.  TDSC_E_NTLM_CREDFILE_UNUSABLE (err names
 * the file and line) when a line is malformed or no entry fits. */
tdsc_errc tdsc__credfile_pick(char *text, const char *path, const char *want,
                              char **name, char **password, unsigned *lineno,
                              tdsc_error *err);

#endif
