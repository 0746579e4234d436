/* Integrated security: log in as the Kerberos principal of the ticket
 * cache (kinit), falling back to NTLM only where the policy allows it, and
 * show which mechanism logged in.
 *
 *   integrated 'Server=tcp:db.example.com,1433;Authentication=kerberos,ntlm'
 *
 * Without Authentication= the library's default policy applies.  Prints
 * every attempt of the connect (after a fallback, the failed ones first),
 * then the login the server mapped the identity to (SUSER_NAME()).  On
 * failure the error names the cause (KDC unreachable, SPN unknown, clock
 * skew, ...) with its hint.  No password is involved: NTLM credentials,
 * when used, come from NTLMUser/NTLMPassword or the environment. */
#include "example.h"

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONNECTION-STRING\n", argv[0]);
    return 2;
  }
  tdsc_conn *c = tdsc_conn_new();
  if (!c) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  int status = 1;
  tdsc_result *r = NULL;
  if (tdsc_conn_connect(c, argv[1]) != TDSC_OK) {
    example_report(c);
    goto out;
  }
  for (size_t i = 0; i < tdsc_conn_attempt_count(c); i++) {
    const tdsc_attempt *a = tdsc_conn_attempt_at(c, i);
    const tdsc_error *e = tdsc_attempt_error(a);
    printf("attempt %zu: %s for %s: %s\n", i + 1, tdsc_attempt_mechanism(a),
           tdsc_attempt_target(a),
           e ? tdsc_errc_name(tdsc_error_code(e)) : "logged in");
  }
  const char *login;
  if (tdsc_conn_execute(c, "SELECT SUSER_NAME()", &r) != TDSC_OK ||
      tdsc_result_next_set(r) != TDSC_STEP_RESULT ||
      tdsc_result_next_row(r) != TDSC_STEP_ROW ||
      tdsc_result_get_text(r, 0, &login, NULL) != TDSC_OK) {
    example_report(c);
    goto out;
  }
  printf("logged in as %s\n", login);
  status = 0;
out:
  tdsc_result_free(r);
  tdsc_conn_free(c);
  return status;
}
