/* Error handling: what a failed connect tells, field by field.
 *
 *   errors CONNECTION-STRING
 *
 * Connects (password from TDSC_PASSWORD) and, on failure, prints the
 * structured error: the stable code and its number, the category, the
 * message naming the concrete host, SPN or certificate, the hint, the raw
 * provider status, the server's message when there is one, and each
 * attempt of the trail with its own outcome.  A program decides on the
 * code (never on the message text, which may change).  Exit status 0 when
 * connected, 1 when not. */
#include "example.h"

static void print_error(const tdsc_error *e, const char *indent) {
  tdsc_errc code = tdsc_error_code(e);
  printf("%scode: %s (%d), category %s\n", indent, tdsc_errc_name(code),
         (int)code, tdsc_category_name(tdsc_error_category(e)));
  printf("%smessage: %s\n", indent, tdsc_error_message(e));
  printf("%shint: %s\n", indent, tdsc_error_hint(e));
  const char *ptext = tdsc_error_provider_text(e);
  if (tdsc_error_provider(e) != TDSC_PROVIDER_NONE)
    printf("%sprovider status: %lld %lld %lld%s%s\n", indent,
           tdsc_error_provider_status(e, 0), tdsc_error_provider_status(e, 1),
           tdsc_error_provider_status(e, 2), ptext ? ": " : "",
           ptext ? ptext : "");
  const tdsc_message *m = tdsc_error_server_message(e);
  if (m)
    printf("%sserver: Msg %d, Level %u, State %u: %s\n", indent,
           (int)tdsc_message_number(m), (unsigned)tdsc_message_class(m),
           (unsigned)tdsc_message_state(m), tdsc_message_text(m));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s CONNECTION-STRING\n", argv[0]);
    return 2;
  }
  char *connstr = example_connstr(argv[1]);
  tdsc_conn *c = tdsc_conn_new();
  if (!connstr || !c) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  int status = 0;
  if (tdsc_conn_connect(c, connstr) == TDSC_OK) {
    printf("connected: %s %s, encryption %s\n", tdsc_conn_server_name(c),
           tdsc_conn_server_version(c), tdsc_conn_encryption(c));
  } else {
    const tdsc_error *e = tdsc_conn_error(c);
    print_error(e, "");
    size_t n = tdsc_error_trail_count(e);
    for (size_t i = 0; i < n; i++) {
      const tdsc_attempt *a = tdsc_error_trail_at(e, i);
      printf("attempt %zu: %s %s, TLS %s, %s as %s\n", i + 1,
             tdsc_attempt_transport(a), tdsc_attempt_address(a),
             tdsc_attempt_tls(a), tdsc_attempt_mechanism(a),
             tdsc_attempt_target(a));
      if (tdsc_attempt_error(a))
        print_error(tdsc_attempt_error(a), "    ");
    }
    status = 1;
  }
  tdsc_conn_free(c);
  free(connstr);
  return status;
}
