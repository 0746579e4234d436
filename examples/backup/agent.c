/* tdsc-backup-agent: backs up a SQL Server database on the database host
 * and hands the backup over as a .zip, with tdsclient's public API only
 * (and libzip).  README.md beside this file walks through it.
 *
 *   tdsc-backup-agent once  -d DB -o OUT.zip [-c CONNSTR] [--workdir DIR]
 *   tdsc-backup-agent serve -d DB --listen HOST:PORT [--count N]
 *                           [-c CONNSTR] [--workdir DIR]
 *
 * Every request runs the same six steps, after connecting:
 *   1 checkdb   DBCC CHECKDB, the server's messages shown
 *   2 shrink    DBCC SHRINKFILE on the log (file 2)
 *   3 backup    BACKUP DATABASE ... TO DISK (a path in the work folder: the
 *               agent shares the server's file system) WITH STATS = 10,
 *               drawn as a progress bar, then RESTORE VERIFYONLY
 *   4 compress  the .bak into a .zip, streamed from the file by libzip
 *   5 handover  the .zip to OUT.zip (once) or to a client's socket (serve)
 *   6 cleanup   the .bak, the .zip and the work folder removed, whatever
 *               happened before
 * A failure stops the steps, names its step, prints tdsclient's structured
 * error (code, message, hint, provider status, trail of attempts) and
 * makes the exit status 10 + the step's number (10: connect). */
#include <tdsclient.h>

#include <zip.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

/* ------------------------------------------------------------ the steps */

typedef enum step {
  STEP_CONNECT = 0,
  STEP_CHECKDB,
  STEP_SHRINK,
  STEP_BACKUP,
  STEP_COMPRESS,
  STEP_HANDOVER,
  STEP_CLEANUP,
  STEP_COUNT
} step;

static const char *const step_names[STEP_COUNT] = {
    "connect", "checkdb", "shrink", "backup", "compress", "handover", "cleanup"};

enum {
  EXIT_USAGE = 2,
  EXIT_SETUP = 3,     /* no work folder, no listening socket */
  EXIT_STEP_BASE = 10 /* + the failed step's number */
};

/* SQL Server's "N percent processed." (BACKUP ... WITH STATS). */
#define MSG_PERCENT_PROCESSED 3211

/* What went wrong, kept from the moment it happened until the report at the
 * end (after cleanup): tdsclient's error when the library failed, else a
 * code and a message of our own (libzip, the file system, the socket). */
typedef struct failure {
  step step;
  tdsc_error *error; /* a copy (tdsc_error_dup), or NULL */
  char code[32];     /* when error is NULL: "ERRNO", "ZIP_ER_WRITE", ... */
  char message[512];
} failure;

typedef struct options {
  const char *mode; /* "once" or "serve" */
  const char *connstr;
  const char *database;
  const char *output;  /* once */
  const char *listen;  /* serve: HOST:PORT */
  long count;          /* serve: requests to answer, 0 = forever */
  const char *workdir; /* parent of the private work folder */
} options;

/* One request's state. */
typedef struct job {
  const options *opt;
  char *connstr; /* the options' string with the agent's defaults added */
  tdsc_conn *conn;
  char dir[PATH_MAX]; /* private work folder, "" when not created */
  char bak[PATH_MAX + 256]; /* written by the server */
  char zip[PATH_MAX + 256]; /* written by us */
  bool failed;
  failure fail; /* the first failure only: the others follow from it */
  bool bar_open; /* a progress bar is drawn on stderr without its newline */
  int handover_fd; /* serve: the client's socket */
} job;

/* ---------------------------------------------------------- reporting */

static void end_bar(job *j) {
  if (j->bar_open) {
    fputc('\n', stderr);
    j->bar_open = false;
  }
}

/* Records a failure of the library; the error is copied because the next
 * call on the connection replaces it.  Returns false, for `return fail..`. */
static bool fail_tdsc(job *j, step s, const tdsc_error *e) {
  if (j->failed)
    return false;
  j->failed = true;
  j->fail.step = s;
  j->fail.error = tdsc_error_dup(e);
  snprintf(j->fail.code, sizeof j->fail.code, "%s",
           tdsc_errc_name(tdsc_error_code(e)));
  snprintf(j->fail.message, sizeof j->fail.message, "%s",
           tdsc_error_message(e));
  return false;
}

static bool fail_local(job *j, step s, const char *code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
static bool fail_local(job *j, step s, const char *code, const char *fmt,
                       ...) {
  if (j->failed)
    return false;
  j->failed = true;
  j->fail.step = s;
  snprintf(j->fail.code, sizeof j->fail.code, "%s", code);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(j->fail.message, sizeof j->fail.message, fmt, ap);
  va_end(ap);
  return false;
}

static void report_failure(const job *j) {
  const failure *f = &j->fail;
  fprintf(stderr, "step %d (%s) failed:\n", (int)f->step,
          step_names[f->step]);
  if (f->error)
    fputs(tdsc_error_report(f->error), stderr);
  else
    fprintf(stderr, "error: %s\nmessage: %s\n", f->code, f->message);
}

/* One line per connect attempt: what was tried and how it ended.  On
 * success this is how a fallback (Kerberos, then NTLM) stays visible. */
static void print_attempts(tdsc_conn *c) {
  for (size_t i = 0; i < tdsc_conn_attempt_count(c); i++) {
    const tdsc_attempt *a = tdsc_conn_attempt_at(c, i);
    const tdsc_error *e = tdsc_attempt_error(a);
    printf("  attempt %zu: %s %s, tls %s, %s as %s: %s%s%s\n", i + 1,
           tdsc_attempt_transport(a), tdsc_attempt_address(a),
           tdsc_attempt_tls(a), tdsc_attempt_mechanism(a),
           tdsc_attempt_target(a), e ? tdsc_errc_name(tdsc_error_code(e)) : "ok",
           e ? ": " : "", e ? tdsc_error_message(e) : "");
  }
}

/* ---------------------------------------------------- server messages */

/* BACKUP's percent messages become a bar redrawn in place on a terminal,
 * one line each otherwise (logs). */
static void draw_bar(job *j, int pct) {
  char bar[41];
  int full = pct * 40 / 100;
  memset(bar, '#', (size_t)full);
  memset(bar + full, ' ', (size_t)(40 - full));
  bar[40] = '\0';
  if (isatty(STDERR_FILENO)) {
    fprintf(stderr, "\r  [%s] %3d%%", bar, pct);
    j->bar_open = true;
    if (pct >= 100)
      end_bar(j);
  } else {
    fprintf(stderr, "  [%s] %3d%%\n", bar, pct);
  }
  fflush(stderr);
}

/* Every INFO and ERROR token as it arrives: DBCC's report, BACKUP's
 * progress and summary, and the errors that the failing step repeats. */
static void on_message(void *userdata, const tdsc_message *m) {
  job *j = userdata;
  if (tdsc_message_number(m) == MSG_PERCENT_PROCESSED) {
    draw_bar(j, atoi(tdsc_message_text(m)));
    return;
  }
  end_bar(j);
  if (tdsc_message_is_error(m))
    printf("  server: Msg %d, Level %u, State %u: %s\n",
           (int)tdsc_message_number(m), (unsigned)tdsc_message_class(m),
           (unsigned)tdsc_message_state(m), tdsc_message_text(m));
  else
    printf("  server: %s\n", tdsc_message_text(m));
  fflush(stdout);
}

/* ---------------------------------------------------------- SQL helpers */

/* [name] with ] doubled, as T-SQL quotes identifiers. */
static void quote_name(char *out, size_t n, const char *name) {
  size_t k = 0;
  if (n < 3)
    return;
  out[k++] = '[';
  for (const char *p = name; *p && k + 3 < n; p++) {
    if (*p == ']')
      out[k++] = ']';
    out[k++] = *p;
  }
  out[k++] = ']';
  out[k] = '\0';
}

/* N'text' with ' doubled. */
static void quote_string(char *out, size_t n, const char *s) {
  size_t k = 0;
  if (n < 4)
    return;
  out[k++] = 'N';
  out[k++] = '\'';
  for (const char *p = s; *p && k + 3 < n; p++) {
    if (*p == '\'')
      out[k++] = '\'';
    out[k++] = *p;
  }
  out[k++] = '\'';
  out[k] = '\0';
}

/* Runs a batch and reads all of its results.  Rows (DBCC SHRINKFILE's
 * report) are printed as name=value pairs; server messages go through
 * on_message.  A failing statement fails the step. */
static bool run_sql(job *j, step s, const char *sql) {
  tdsc_result *r;
  printf("  > %s\n", sql);
  fflush(stdout);
  if (tdsc_conn_execute(j->conn, sql, &r) != TDSC_OK)
    return fail_tdsc(j, s, tdsc_conn_error(j->conn));
  bool ok = true;
  tdsc_step st;
  while (ok && (st = tdsc_result_next_set(r)) != TDSC_STEP_END) {
    if (st == TDSC_STEP_ERROR) {
      ok = fail_tdsc(j, s, tdsc_conn_error(j->conn));
      break;
    }
    size_t ncol = tdsc_result_column_count(r);
    while (ok && ncol && (st = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      printf("  row:");
      for (size_t i = 0; ok && i < ncol; i++) {
        const char *v = "NULL";
        bool null;
        if (tdsc_result_is_null(r, i, &null) != TDSC_OK ||
            (!null && tdsc_result_get_text(r, i, &v, NULL) != TDSC_OK))
          ok = fail_tdsc(j, s, tdsc_conn_error(j->conn));
        else
          printf(" %s=%s", tdsc_column_name(tdsc_result_column(r, i)), v);
      }
      printf("\n");
    }
    if (ok && ncol && st == TDSC_STEP_ERROR)
      ok = fail_tdsc(j, s, tdsc_conn_error(j->conn));
  }
  tdsc_result_free(r);
  end_bar(j);
  return ok;
}

/* ---------------------------------------------------------- connecting */

/* Whether connstr sets the option `keyword` under any of its names (the
 * library's option table knows the aliases). */
static bool has_keyword(const char *connstr, const char *keyword) {
  const tdsc_option_info *info = NULL;
  for (size_t i = 0; (info = tdsc_option_at(i)) != NULL; i++)
    if (!strcasecmp(info->keyword, keyword))
      break;
  for (const char *p = connstr; p && *p;) {
    while (*p == ' ' || *p == ';')
      p++;
    const char *eq = strchr(p, '=');
    if (!eq)
      break;
    const char *end = eq;
    while (end > p && end[-1] == ' ')
      end--;
    size_t n = (size_t)(end - p);
    bool match = n == strlen(keyword) && !strncasecmp(p, keyword, n);
    for (const char *a = info ? info->aliases : NULL; a && *a && !match;) {
      size_t an = strcspn(a, "|");
      match = an == n && !strncasecmp(p, a, n);
      a += an + (a[an] == '|');
    }
    if (match)
      return true;
    p = eq + 1; /* skip the value, {braced} or up to ';' */
    if (*p == '{')
      p = strchr(p, '}') ? strchr(p, '}') + 1 : p + strlen(p);
    p += strcspn(p, ";");
  }
  return false;
}

/* The caller's connection string plus the agent's defaults for what it
 * leaves out: the local server (shared memory, named pipe, then TCP) and
 * integrated security, Kerberos first, NTLM when no KDC answers -- unless
 * a UID says which login to use (the library then picks SQL login, or
 * NTLM for a DOMAIN\user). */
static char *agent_connstr(const char *user) {
  const char *server =
      has_keyword(user, "Server") || getenv("TDSC_SERVER") ? "" : "Server=(local);";
  const char *auth =
      has_keyword(user, "Authentication") || has_keyword(user, "UID")
          ? ""
          : "Authentication=kerberos,ntlm;";
  size_t n = strlen(user) + strlen(server) + strlen(auth) + 2;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s%s%s", server, auth, user);
  return s;
}

static bool step_connect(job *j) {
  printf("connect: %s\n", tdsc_version());
  j->conn = tdsc_conn_new();
  if (!j->conn || !j->connstr)
    return fail_local(j, STEP_CONNECT, "ERRNO", "out of memory");
  if (tdsc_conn_connect(j->conn, j->connstr) != TDSC_OK)
    return fail_tdsc(j, STEP_CONNECT, tdsc_conn_error(j->conn));
  print_attempts(j->conn);
  tdsc_conn_set_message_handler(j->conn, on_message, j);
  printf("  connected to %s %s, encryption %s\n",
         tdsc_conn_server_name(j->conn), tdsc_conn_server_version(j->conn),
         tdsc_conn_encryption(j->conn));
  return true;
}

/* ----------------------------------------------------- steps 1, 2 and 3 */

static bool step_checkdb(job *j) {
  char sql[600], db[260];
  quote_name(db, sizeof db, j->opt->database);
  snprintf(sql, sizeof sql, "DBCC CHECKDB (%s)", db);
  return run_sql(j, STEP_CHECKDB, sql);
}

/* The log is file 2 of every database (its first log file); SHRINKFILE
 * works in the current database, hence the USE. */
static bool step_shrink(job *j) {
  char sql[600], db[260];
  quote_name(db, sizeof db, j->opt->database);
  snprintf(sql, sizeof sql, "USE %s; DBCC SHRINKFILE (2)", db);
  return run_sql(j, STEP_SHRINK, sql);
}

/* COPY_ONLY: a backup taken on demand must not change the database's own
 * backup chain.  The server writes the file; we are on the same host. */
static bool step_backup(job *j) {
  char sql[2 * PATH_MAX + 1200], db[260], path[2 * PATH_MAX + 600];
  quote_name(db, sizeof db, j->opt->database);
  quote_string(path, sizeof path, j->bak);
  snprintf(sql, sizeof sql,
           "BACKUP DATABASE %s TO DISK = %s WITH COPY_ONLY, INIT, STATS = 10",
           db, path);
  if (!run_sql(j, STEP_BACKUP, sql))
    return false;
  snprintf(sql, sizeof sql, "RESTORE VERIFYONLY FROM DISK = %s", path);
  return run_sql(j, STEP_BACKUP, sql);
}

/* -------------------------------------------------------- step 4: zip */

static const char *zip_code_name(int ze) {
  switch (ze) {
  case ZIP_ER_WRITE: return "ZIP_ER_WRITE";
  case ZIP_ER_READ: return "ZIP_ER_READ";
  case ZIP_ER_OPEN: return "ZIP_ER_OPEN";
  case ZIP_ER_TMPOPEN: return "ZIP_ER_TMPOPEN";
  case ZIP_ER_RENAME: return "ZIP_ER_RENAME";
  case ZIP_ER_CLOSE: return "ZIP_ER_CLOSE";
  case ZIP_ER_EXISTS: return "ZIP_ER_EXISTS";
  case ZIP_ER_MEMORY: return "ZIP_ER_MEMORY";
  default: return "ZIP_ER";
  }
}

static bool fail_zip(job *j, zip_error_t *ze, const char *what) {
  bool r = fail_local(j, STEP_COMPRESS, zip_code_name(zip_error_code_zip(ze)),
                      "%s %s: %s", what, j->zip, zip_error_strerror(ze));
  return r;
}

/* The archive holds one member, the .bak.  zip_source_file reads the file
 * in chunks while zip_close deflates it into the archive: the backup is
 * never held in memory, however large. */
static bool step_compress(job *j) {
  int code;
  zip_error_t ze;
  zip_t *za = zip_open(j->zip, ZIP_CREATE | ZIP_EXCL, &code);
  if (!za) {
    zip_error_init_with_code(&ze, code);
    fail_zip(j, &ze, "cannot create");
    zip_error_fini(&ze);
    return false;
  }
  const char *member = strrchr(j->bak, '/') + 1;
  zip_source_t *src = zip_source_file(za, j->bak, 0, -1);
  zip_int64_t idx = src ? zip_file_add(za, member, src, ZIP_FL_ENC_UTF_8) : -1;
  if (idx < 0) {
    zip_source_free(src);
    fail_zip(j, zip_get_error(za), "cannot add the backup to");
    zip_discard(za);
    return false;
  }
  zip_set_file_compression(za, (zip_uint64_t)idx, ZIP_CM_DEFLATE, 0);
  if (zip_close(za) < 0) { /* where the data is read and written */
    fail_zip(j, zip_get_error(za), "cannot write");
    zip_discard(za);
    return false;
  }
  struct stat bs, zs;
  if (stat(j->bak, &bs) == 0 && stat(j->zip, &zs) == 0)
    printf("  %s: %lld bytes, deflated to %lld bytes in %s\n", member,
           (long long)bs.st_size, (long long)zs.st_size, j->zip);
  return true;
}

/* --------------------------------------------------- step 5: handover */

/* Copies the .zip to fd, 64 KiB at a time. */
static bool copy_zip(job *j, int fd, const char *dest) {
  char buf[65536];
  int in = open(j->zip, O_RDONLY);
  if (in < 0)
    return fail_local(j, STEP_HANDOVER, "ERRNO", "cannot read %s: %s (errno %d)",
                      j->zip, strerror(errno), errno);
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n == 0)
      break;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close(in);
      return fail_local(j, STEP_HANDOVER, "ERRNO", "cannot read %s: %s (errno %d)",
                        j->zip, strerror(e), e);
    }
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(fd, buf + off, (size_t)(n - off));
      if (w < 0 && errno == EINTR)
        continue;
      if (w < 0) {
        int e = errno;
        close(in);
        return fail_local(j, STEP_HANDOVER, "ERRNO", "cannot write to %s: %s (errno %d)",
                          dest, strerror(e), e);
      }
      off += w;
    }
  }
  close(in);
  return true;
}

/* once: the .zip is written beside OUT under a temporary name and renamed,
 * so OUT is either the whole archive or untouched. */
static bool handover_file(job *j) {
  const char *out = j->opt->output;
  char tmp[PATH_MAX];
  printf("  to %s\n", out);
  if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", out) >= (int)sizeof tmp)
    return fail_local(j, STEP_HANDOVER, "ERRNO", "%s: name too long", out);
  int fd = mkstemp(tmp);
  if (fd < 0)
    return fail_local(j, STEP_HANDOVER, "ERRNO", "cannot create %s: %s (errno %d)",
                      tmp, strerror(errno), errno);
  bool ok = copy_zip(j, fd, out);
  if (ok && fchmod(fd, 0600) == 0 && fsync(fd) != 0)
    ok = fail_local(j, STEP_HANDOVER, "ERRNO", "cannot write to %s: %s (errno %d)",
                    out, strerror(errno), errno);
  if (close(fd) != 0 && ok)
    ok = fail_local(j, STEP_HANDOVER, "ERRNO", "cannot write to %s: %s (errno %d)",
                    out, strerror(errno), errno);
  if (ok && rename(tmp, out) != 0)
    ok = fail_local(j, STEP_HANDOVER, "ERRNO", "cannot rename %s to %s: %s (errno %d)",
                    tmp, out, strerror(errno), errno);
  if (!ok)
    unlink(tmp);
  return ok;
}

/* serve: "OK <size>\n", then the bytes (the protocol in README.md). */
static bool handover_socket(job *j) {
  struct stat st;
  char head[64];
  printf("  to the client\n");
  if (stat(j->zip, &st) != 0)
    return fail_local(j, STEP_HANDOVER, "ERRNO", "cannot read %s: %s (errno %d)",
                      j->zip, strerror(errno), errno);
  int n = snprintf(head, sizeof head, "OK %lld\n", (long long)st.st_size);
  if (write(j->handover_fd, head, (size_t)n) != n)
    return fail_local(j, STEP_HANDOVER, "ERRNO", "cannot write to the client: %s (errno %d)",
                      strerror(errno), errno);
  return copy_zip(j, j->handover_fd, "the client");
}

/* ---------------------------------------------------- step 6: cleanup */

/* A cleanup failure is printed at once: after an earlier failure it would
 * not be the one reported. */
static bool remove_file(job *j, const char *path) {
  if (!path[0] || unlink(path) == 0 || errno == ENOENT)
    return true;
  int e = errno;
  fprintf(stderr, "cleanup: cannot remove %s: %s\n", path, strerror(e));
  return fail_local(j, STEP_CLEANUP, "ERRNO", "cannot remove %s: %s (errno %d)",
                    path, strerror(e), e);
}

/* Runs whatever happened before: closes the connection and removes the
 * .bak, the .zip and the work folder.  rmdir fails if anything else was
 * left there (a libzip temporary, say), and that is reported too. */
static void step_cleanup(job *j) {
  end_bar(j);
  tdsc_conn_free(j->conn);
  j->conn = NULL;
  bool clean = remove_file(j, j->bak);
  clean = remove_file(j, j->zip) && clean;
  if (j->dir[0] && rmdir(j->dir) != 0) {
    int e = errno;
    fprintf(stderr, "cleanup: cannot remove %s: %s\n", j->dir, strerror(e));
    clean = fail_local(j, STEP_CLEANUP, "ERRNO",
                       "cannot remove the work folder %s: %s (errno %d)",
                       j->dir, strerror(e), e);
  }
  printf("step 6/6 (cleanup): %s %s\n", j->dir, clean ? "removed" : "NOT removed");
}

/* ------------------------------------------------------------ a request */

/* The private work folder, under --workdir or $TMPDIR or /tmp; group
 * access so that a server running under its own account (in the folder's
 * group) can write the .bak into it. */
static bool make_workdir(job *j) {
  const char *parent = j->opt->workdir ? j->opt->workdir : getenv("TMPDIR");
  char safe[200];
  size_t k = 0;
  for (const char *p = j->opt->database; *p && k + 1 < sizeof safe; p++)
    safe[k++] = (strchr("/\\:*?\"<>| '", *p) || *p < ' ') ? '_' : *p;
  safe[k] = '\0';
  int n = snprintf(j->dir, sizeof j->dir, "%s/tdsc-backup.XXXXXX",
                   parent ? parent : "/tmp");
  if (n < 0 || (size_t)n >= sizeof j->dir)
    errno = ENAMETOOLONG;
  if (n < 0 || (size_t)n >= sizeof j->dir || !mkdtemp(j->dir)) {
    fprintf(stderr, "tdsc-backup-agent: cannot create a work folder %s: %s\n",
            j->dir, strerror(errno));
    j->dir[0] = '\0';
    return false;
  }
  chmod(j->dir, 0770);
  snprintf(j->bak, sizeof j->bak, "%s/%s.bak", j->dir, safe);
  snprintf(j->zip, sizeof j->zip, "%s/%s.zip", j->dir, safe);
  return true;
}

/* Connects, runs the steps up to the first failure, hands over through
 * `handover`, always cleans up, and reports.  Returns the exit status. */
static int run_request(const options *opt, bool (*handover)(job *), int fd) {
  job j = {.opt = opt, .handover_fd = fd};
  if (!make_workdir(&j))
    return EXIT_SETUP;
  j.connstr = agent_connstr(opt->connstr ? opt->connstr : "");
  static const struct {
    step s;
    bool (*run)(job *);
    const char *what;
  } steps[] = {
      {STEP_CHECKDB, step_checkdb, "DBCC CHECKDB"},
      {STEP_SHRINK, step_shrink, "DBCC SHRINKFILE on the log"},
      {STEP_BACKUP, step_backup, "BACKUP DATABASE, then RESTORE VERIFYONLY"},
      {STEP_COMPRESS, step_compress, "the backup into a .zip"},
      {STEP_HANDOVER, NULL, "the .zip to its reader"},
  };
  bool ok = step_connect(&j);
  for (size_t i = 0; ok && i < sizeof steps / sizeof steps[0]; i++) {
    printf("step %d/6 (%s): %s\n", (int)steps[i].s, step_names[steps[i].s],
           steps[i].what);
    fflush(stdout);
    ok = steps[i].run ? steps[i].run(&j) : handover(&j);
  }
  /* serve: a client waiting for its archive hears why there is none
   * (cleanup first, so that nothing is left when it reads this) */
  step_cleanup(&j);
  if (j.failed && fd >= 0 && j.fail.step < STEP_HANDOVER) {
    char line[700];
    for (char *p = j.fail.message; *p; p++)
      if (*p == '\n' || *p == '\r')
        *p = ' ';
    int n = snprintf(line, sizeof line, "ERR %d %s %s %s\n", (int)j.fail.step,
                     step_names[j.fail.step], j.fail.code, j.fail.message);
    if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
      fprintf(stderr, "tdsc-backup-agent: the client left: %s\n", strerror(errno));
  }
  fflush(stdout);
  int status = 0;
  if (j.failed) {
    report_failure(&j);
    status = EXIT_STEP_BASE + (int)j.fail.step;
  } else {
    printf("done: backup of %s handed over\n", opt->database);
  }
  tdsc_error_free(j.fail.error);
  free(j.connstr);
  return status;
}

/* ------------------------------------------------------------ serve */

static int listen_on(const char *spec) {
  char host[256];
  const char *colon = strrchr(spec, ':');
  if (!colon || (size_t)(colon - spec) >= sizeof host) {
    fprintf(stderr, "tdsc-backup-agent: --listen wants HOST:PORT, got %s\n", spec);
    return -1;
  }
  memcpy(host, spec, (size_t)(colon - spec));
  host[colon - spec] = '\0';
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai;
  int rc = getaddrinfo(host, colon + 1, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "tdsc-backup-agent: %s: %s\n", spec, gai_strerror(rc));
    return -1;
  }
  int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol), one = 1;
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 8) != 0) {
    fprintf(stderr, "tdsc-backup-agent: cannot listen on %s: %s\n", spec,
            strerror(errno));
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  if (fd >= 0) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    char h[NI_MAXHOST], p[NI_MAXSERV];
    getsockname(fd, (struct sockaddr *)&sa, &len);
    getnameinfo((struct sockaddr *)&sa, len, h, sizeof h, p, sizeof p,
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf("listening on %s:%s\n", h, p); /* port 0 picks one: say which */
    fflush(stdout);
  }
  return fd;
}

/* Reads the request line, "BACKUP\n", within 10 seconds. */
static bool read_request(int fd) {
  char line[16];
  size_t n = 0;
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  while (n < sizeof line - 1) {
    ssize_t r = read(fd, line + n, 1);
    if (r <= 0)
      return false;
    if (line[n++] == '\n')
      break;
  }
  line[n] = '\0';
  return !strcmp(line, "BACKUP\n");
}

static int serve(const options *opt) {
  int lfd = listen_on(opt->listen), status = 0;
  if (lfd < 0)
    return EXIT_SETUP;
  for (long served = 0; opt->count == 0 || served < opt->count;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR)
        continue;
      fprintf(stderr, "tdsc-backup-agent: accept: %s\n", strerror(errno));
      status = EXIT_SETUP;
      break;
    }
    served++;
    printf("request %ld\n", served);
    if (!read_request(fd)) {
      static const char bad[] = "ERR 0 request BAD_REQUEST send \"BACKUP\\n\"\n";
      if (write(fd, bad, sizeof bad - 1) < 0) { /* the client is gone */
      }
      fprintf(stderr, "request %ld: not a backup request\n", served);
      status = EXIT_USAGE;
    } else {
      int rc = run_request(opt, handover_socket, fd);
      if (rc)
        status = rc;
    }
    close(fd); /* after cleanup: the client's EOF means "all done" */
    fflush(stdout);
  }
  close(lfd);
  return status;
}

/* --------------------------------------------------------------- main */

static int usage(void) {
  fputs("usage: tdsc-backup-agent once  -d DATABASE -o OUT.zip [-c CONNSTR] [--workdir DIR]\n"
        "       tdsc-backup-agent serve -d DATABASE --listen HOST:PORT [--count N]\n"
        "                               [-c CONNSTR] [--workdir DIR]\n"
        "CONNSTR defaults to Server=(local);Authentication=kerberos,ntlm (what it\n"
        "leaves out); unattended: KrbKeytab=...;KrbPrincipal=... or NTLMCredFile=...\n"
        "(also from $TDSC_BACKUP_CONNSTR).  Exit status: 0 done, 2 usage, 3 setup,\n"
        "10 connect, 11 checkdb, 12 shrink, 13 backup, 14 compress, 15 handover,\n"
        "16 cleanup.\n",
        stderr);
  return EXIT_USAGE;
}

int main(int argc, char **argv) {
  options opt = {.connstr = getenv("TDSC_BACKUP_CONNSTR")};
  if (argc < 2)
    return usage();
  opt.mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v)
      return usage();
    if (!strcmp(a, "-c"))
      opt.connstr = v;
    else if (!strcmp(a, "-d"))
      opt.database = v;
    else if (!strcmp(a, "-o"))
      opt.output = v;
    else if (!strcmp(a, "--workdir"))
      opt.workdir = v;
    else if (!strcmp(a, "--listen"))
      opt.listen = v;
    else if (!strcmp(a, "--count"))
      opt.count = strtol(v, NULL, 10);
    else
      return usage();
    i++;
  }
  bool once = !strcmp(opt.mode, "once"), serving = !strcmp(opt.mode, "serve");
  if (!opt.database || (!once && !serving) || (once && !opt.output) ||
      (serving && !opt.listen) || opt.count < 0)
    return usage();
  /* a write to a gone client or past a file-size limit is an error to
   * report, not a reason to die before cleaning up */
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  setvbuf(stdout, NULL, _IOLBF, 0);
  return once ? run_request(&opt, handover_file, -1) : serve(&opt);
}
