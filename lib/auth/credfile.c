/* The NTLM credential file's format (credfile.h), parsed once for every
 * NTLM provider.  Never quotes a password: a malformed line is named by
 * its number only. */
#include "config.h"

#include "auth/credfile.h"

#include <ctype.h>
#include <string.h>

/* Whether a line's "DOMAIN\user" (a, alen bytes) is the one asked for:
 * Windows account names are case-insensitive (ASCII folding suffices for
 * the comparison the file's user makes). */
static bool same_user(const char *a, size_t alen, const char *want) {
  if (strlen(want) != alen)
    return false;
  for (size_t i = 0; i < alen; i++)
    if (tolower((unsigned char)a[i]) != tolower((unsigned char)want[i]))
      return false;
  return true;
}

tdsc_errc tdsc__credfile_pick(char *text, const char *path, const char *want,
                              char **name, char **password, unsigned *lineno,
                              tdsc_error *err) {
  *lineno = 0;
  for (char *p = text; p;) {
    char *end = p + strcspn(p, "\n");
    char *next = *end ? end + 1 : NULL;
    *end = '\0';
    ++*lineno;
    size_t len = strlen(p);
    while (len > 0 && p[len - 1] == '\r')
      p[--len] = '\0';
    while (*p == ' ' || *p == '\t')
      p++;
    if (*p && *p != '#') {
      char *colon = strchr(p, ':');
      if (!colon || colon == p)
        return tdsc__err_set(err, TDSC_E_NTLM_CREDFILE_UNUSABLE,
                             "line %u of the NTLM credential file %s is not "
                             "DOMAIN\\user:password",
                             *lineno, path);
      if (!want || same_user(p, (size_t)(colon - p), want)) {
        *colon = '\0';
        *name = p;
        *password = colon + 1;
        return TDSC_OK;
      }
    }
    p = next;
  }
  return tdsc__err_set(err, TDSC_E_NTLM_CREDFILE_UNUSABLE,
                       want ? "the NTLM credential file %s has no entry for %s"
                            : "the NTLM credential file %s has no entry%s",
                       path, want ? want : "");
}
