/* What the API examples share: the connection string with the password
 * taken from the environment, and printing a failure.  Header-only so that
 * each example stays one file to read and copy. */
#ifndef TDSC_EXAMPLE_H
#define TDSC_EXAMPLE_H

#include <tdsclient.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* connstr followed by ";PWD={...}" when TDSC_PASSWORD is set: a password
 * on the command line is visible to every user of the machine.  Braces
 * quote a ';' or '=' in the password; a '}' inside them is doubled.
 * The caller frees the result; NULL when out of memory. */
static inline char *example_connstr(const char *connstr) {
  const char *pw = getenv("TDSC_PASSWORD");
  size_t n = strlen(connstr) + (pw ? 2 * strlen(pw) : 0) + 16;
  char *s = malloc(n);
  if (!s)
    return NULL;
  strcpy(s, connstr);
  if (pw) {
    char *p = s + strlen(s);
    p += sprintf(p, ";PWD={");
    for (; *pw; pw++) {
      if (*pw == '}')
        *p++ = '}';
      *p++ = *pw;
    }
    strcpy(p, "}");
  }
  return s;
}

/* The connection's last error, whole: code, message, hint, provider
 * status and the trail of attempts (never a secret). */
static inline void example_report(const tdsc_conn *c) {
  fprintf(stderr, "%s\n", tdsc_error_report(tdsc_conn_error(c)));
}

#endif
