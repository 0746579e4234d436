/* Parameters and a transaction: values are sent typed, never spliced into
 * the SQL text, and the work is committed only when all of it succeeded.
 *
 *   params CONNECTION-STRING ID NAME [rollback]
 *
 * In one transaction, inserts (ID, NAME) into the table
 *   CREATE TABLE notes (id int PRIMARY KEY, name nvarchar(100))
 * and reads the row back by parameter; commits, or rolls back when asked
 * (or on any error), then counts the rows with that id once the
 * transaction is over.  Prints "inserted", the row read back, and
 * "committed N" or "rolled back N".  Password: TDSC_PASSWORD. */
#include "example.h"

#include <errno.h>

static tdsc_errc run(tdsc_conn *c, tdsc_stmt *s) {
  tdsc_result *r = NULL;
  tdsc_errc rc = tdsc_stmt_execute(s, &r);
  tdsc_step step;
  while (rc == TDSC_OK && (step = tdsc_result_next_set(r)) != TDSC_STEP_END) {
    if (step == TDSC_STEP_ERROR) {
      rc = tdsc_error_code(tdsc_conn_error(c));
      break;
    }
    while ((step = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      int64_t id;
      const char *name;
      if ((rc = tdsc_result_get_int64(r, 0, &id)) != TDSC_OK ||
          (rc = tdsc_result_get_text(r, 1, &name, NULL)) != TDSC_OK)
        break;
      printf("row %lld %s\n", (long long)id, name);
    }
    if (step == TDSC_STEP_ERROR)
      rc = tdsc_error_code(tdsc_conn_error(c));
  }
  tdsc_result_free(r);
  return rc;
}

/* Executes sql with @id bound (and @name when name is not NULL). */
static tdsc_errc exec_params(tdsc_conn *c, const char *sql, int64_t id,
                             const char *name) {
  tdsc_stmt *s = tdsc_stmt_new_sql(c, sql);
  if (!s)
    return TDSC_E_NO_MEMORY;
  tdsc_errc rc = tdsc_stmt_bind_int64(s, "@id", TDSC_TYPE_INT, id);
  if (rc == TDSC_OK && name)
    rc = tdsc_stmt_bind_text(s, "@name", TDSC_TYPE_NVARCHAR, name,
                             strlen(name));
  if (rc == TDSC_OK)
    rc = run(c, s);
  tdsc_stmt_free(s);
  return rc;
}

static tdsc_errc count(tdsc_conn *c, int64_t id, long long *n) {
  tdsc_result *r = NULL;
  tdsc_stmt *s = tdsc_stmt_new_sql(c, "SELECT COUNT(*) FROM notes WHERE id = @id");
  tdsc_errc rc = s ? tdsc_stmt_bind_int64(s, "@id", TDSC_TYPE_INT, id)
                   : TDSC_E_NO_MEMORY;
  if (rc == TDSC_OK && (rc = tdsc_stmt_execute(s, &r)) == TDSC_OK) {
    int64_t v = 0;
    if (tdsc_result_next_set(r) != TDSC_STEP_RESULT ||
        tdsc_result_next_row(r) != TDSC_STEP_ROW ||
        (rc = tdsc_result_get_int64(r, 0, &v)) != TDSC_OK)
      rc = rc != TDSC_OK ? rc : tdsc_error_code(tdsc_conn_error(c));
    *n = v;
  }
  tdsc_result_free(r);
  tdsc_stmt_free(s);
  return rc;
}

int main(int argc, char **argv) {
  if (argc != 4 && !(argc == 5 && strcmp(argv[4], "rollback") == 0)) {
    fprintf(stderr, "usage: %s CONNECTION-STRING ID NAME [rollback]\n",
            argv[0]);
    return 2;
  }
  char *end;
  errno = 0;
  long long id = strtoll(argv[2], &end, 10);
  if (errno || *end || end == argv[2]) {
    fprintf(stderr, "%s: ID must be an integer\n", argv[0]);
    return 2;
  }
  bool rollback = argc == 5;
  char *connstr = example_connstr(argv[1]);
  tdsc_conn *c = tdsc_conn_new();
  if (!connstr || !c) {
    fprintf(stderr, "out of memory\n");
    return 1;
  }
  int status = 1;
  long long n = -1;
  bool failed;
  if (tdsc_conn_connect(c, connstr) != TDSC_OK)
    goto fail;
  if (tdsc_conn_begin(c, TDSC_ISOLATION_UNCHANGED, NULL) != TDSC_OK)
    goto fail;
  failed = exec_params(c, "INSERT INTO notes VALUES (@id, @name)", id,
                       argv[3]) != TDSC_OK;
  if (!failed) {
    printf("inserted\n");
    failed = exec_params(c, "SELECT id, name FROM notes WHERE id = @id", id,
                         NULL) != TDSC_OK;
  }
  if (failed) {
    example_report(c);
    rollback = true; /* never commit half of the work */
  }
  if ((rollback ? tdsc_conn_rollback(c) : tdsc_conn_commit(c)) != TDSC_OK ||
      count(c, id, &n) != TDSC_OK)
    goto fail;
  printf("%s %lld\n", rollback ? "rolled back" : "committed", n);
  status = failed ? 1 : 0;
  goto out;
fail:
  example_report(c);
out:
  tdsc_conn_free(c);
  free(connstr);
  return status;
}
