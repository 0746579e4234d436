/* Connect and query: the smallest useful tdsclient program.
 *
 *   query 'Server=tcp:db.example.com,1433;UID=app;Database=sales' \
 *         'SELECT id, name FROM people ORDER BY id'
 *
 * The password comes from the environment (TDSC_PASSWORD), never from the
 * command line, where other users of the machine could read it.  Prints
 * each result set as tab-separated lines, NULL as "NULL", and each
 * statement's row count.  Exit status 0, or 1 with the error on stderr. */
#include "example.h"

static int print_results(tdsc_result *r) {
  tdsc_step step;
  while ((step = tdsc_result_next_set(r)) != TDSC_STEP_END) {
    if (step == TDSC_STEP_ERROR)
      return -1;
    size_t ncol = tdsc_result_column_count(r);
    for (size_t i = 0; i < ncol; i++)
      printf("%s%s", i ? "\t" : "",
             tdsc_column_name(tdsc_result_column(r, i)));
    if (ncol)
      printf("\n");
    while ((step = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      for (size_t i = 0; i < ncol; i++) {
        const char *text;
        tdsc_errc rc = tdsc_result_get_text(r, i, &text, NULL);
        if (rc == TDSC_E_NULL_VALUE)
          text = "NULL";
        else if (rc != TDSC_OK)
          return -1;
        printf("%s%s", i ? "\t" : "", text);
      }
      printf("\n");
    }
    if (step == TDSC_STEP_ERROR)
      return -1;
    long long n = (long long)tdsc_result_rows_affected(r);
    if (n >= 0)
      printf("(%lld row%s)\n", n, n == 1 ? "" : "s");
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s CONNECTION-STRING SQL\n", argv[0]);
    return 2;
  }
  char *connstr = example_connstr(argv[1]);
  tdsc_conn *c = tdsc_conn_new();
  if (!connstr || !c) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  int status = 1;
  tdsc_result *r = NULL;
  if (tdsc_conn_connect(c, connstr) != TDSC_OK ||
      tdsc_conn_execute(c, argv[2], &r) != TDSC_OK || print_results(r) != 0)
    example_report(c);
  else
    status = 0;
  tdsc_result_free(r);
  tdsc_conn_free(c);
  free(connstr);
  return status;
}
