/* The smallest program built against an installed tdsclient through
 * pkg-config: it checks the header and the library agree, and that an
 * error value explains itself without any server. */
#include <tdsclient.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  if (strcmp(tdsc_version(), TDSC_VERSION_STRING) != 0) {
    fprintf(stderr, "header %s, library %s\n", TDSC_VERSION_STRING,
            tdsc_version());
    return 1;
  }
  tdsc_conn *c = tdsc_conn_new();
  if (!c)
    return 1;
  /* A misspelt keyword fails before any network traffic. */
  tdsc_errc rc = tdsc_conn_connect(c, "Server=tcp:localhost,1433;Usre=sa");
  const tdsc_error *e = tdsc_conn_error(c);
  printf("tdsclient %s: %s (%s): %s\n", tdsc_version(), tdsc_errc_name(rc),
         tdsc_category_name(tdsc_error_category(e)), tdsc_error_message(e));
  int ok = rc == TDSC_E_UNKNOWN_KEYWORD;
  tdsc_conn_free(c);
  return ok ? 0 : 1;
}
