/* tdsc: run SQL against a server and print the results as an aligned table
 * or CSV; on failure print the structured error (code, message, hint,
 * provider status, trail) and exit non-zero.  Uses the public API only. */
#include "config.h"

#include <tdsclient.h>

#include <getopt.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

enum { EXIT_SQL = 1, EXIT_CONNECT = 2, EXIT_USAGE = 64, EXIT_CANCELLED = 130 };

/* Ctrl-C cancels the running query (an attention, the connection stays
 * sound) instead of killing the program mid-stream; a second one kills
 * it.  tdsc_conn_cancel may be called from a signal handler. */
static tdsc_conn *volatile running;

static void on_interrupt(int sig) {
  if (running)
    tdsc_conn_cancel(running);
  signal(sig, SIG_DFL);
}

/* tdsc's own allocation failed: said the way the library says it. */
static void no_memory(void) {
  fputs("error TDSC_E_NO_MEMORY (resource): tdsc ran out of memory\n",
        stderr);
  exit(EXIT_CONNECT);
}

typedef struct strbuf {
  char *s;
  size_t len, cap;
} strbuf;

static void sb_putn(strbuf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->s, cap);
    if (!p)
      no_memory();
    b->s = p;
    b->cap = cap;
  }
  memcpy(b->s + b->len, s, n);
  b->len += n;
  b->s[b->len] = 0;
}

static void sb_puts(strbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }

/* Appends key={value} with '}' doubled, so any value survives. */
static void add_kv(strbuf *b, const char *key, const char *value) {
  sb_puts(b, key);
  sb_puts(b, "={");
  for (const char *p = value; *p; p++) {
    sb_putn(b, p, 1);
    if (*p == '}')
      sb_putn(b, "}", 1);
  }
  sb_puts(b, "};");
}

static void usage(FILE *f) {
  fputs("usage: tdsc [options] [SQL]\n"
        "Runs SQL (an argument, -Q, -i FILE, or standard input) and prints "
        "its results.\n\n"
        "  -c, --connect STRING   connection string (see below)\n"
        "  -S, --server TARGET    Server=, e.g. tcp:db.example.com,1433\n"
        "  -U, --user NAME        UID=\n"
        "  -P, --password PWD     PWD= (better: TDSC_PASSWORD in the "
        "environment)\n"
        "  -d, --database NAME    Database=\n"
        "  -Q, --query SQL        the batch to run\n"
        "  -i, --input FILE       read the batch from FILE\n"
        "      --csv              CSV output (RFC 4180) instead of a table\n"
        "  -q, --quiet            no row counts or server messages\n"
        "  -h, --help             this help\n\n"
        "Flags are added to the connection string after -c. Keywords:\n",
        f);
  for (size_t i = 0; tdsc_option_at(i); i++) {
    const tdsc_option_info *o = tdsc_option_at(i);
    fprintf(f, "  %-24s %s", o->keyword, o->doc);
    if (o->default_value)
      fprintf(f, " [%s]", o->default_value);
    if (o->aliases)
      fprintf(f, " (also: %s)", o->aliases);
    fputc('\n', f);
  }
}

static void print_error(const tdsc_conn *c) {
  const tdsc_error *e = tdsc_conn_error(c);
  if (!e) {
    fputs("error: (no details)\n", stderr);
    return;
  }
  const char *report = tdsc_error_report(e);
  if (!strncmp(report, "error: ", 7)) {
    fputs(report, stderr);
    return;
  }
  /* the full report needs memory: out of it, the code and message */
  fprintf(stderr, "error: TDSC_E_%s: %s\n",
          tdsc_errc_name(tdsc_error_code(e)), tdsc_error_message(e));
}

static void on_message(void *quiet, const tdsc_message *m) {
  if (*(bool *)quiet)
    return;
  if (tdsc_message_is_error(m))
    return; /* errors are reported with the step that meets them */
  if (tdsc_message_number(m) == 0)
    fprintf(stderr, "%s\n", tdsc_message_text(m));
  else
    fprintf(stderr, "msg %d, state %u: %s\n", (int)tdsc_message_number(m),
            tdsc_message_state(m), tdsc_message_text(m));
}

#ifndef HAVE_WCWIDTH
/* Windows has no wcwidth: the common cases, from Unicode's East Asian Width
 * (W and F ranges) and the combining marks. */
static int wcwidth(wchar_t c) {
  unsigned u = (unsigned)c;
  if (u >= 0x0300 && u <= 0x036F)
    return 0;
  if ((u >= 0x1100 && u <= 0x115F) || (u >= 0x2E80 && u <= 0xA4CF) ||
      (u >= 0xAC00 && u <= 0xD7A3) || (u >= 0xF900 && u <= 0xFAFF) ||
      (u >= 0xFE30 && u <= 0xFE4F) || (u >= 0xFF00 && u <= 0xFF60) ||
      (u >= 0xFFE0 && u <= 0xFFE6))
    return 2;
  return 1;
}
#endif

/* Display width of UTF-8 text in a terminal. */
static size_t display_width(const char *s) {
  mbstate_t st;
  memset(&st, 0, sizeof st);
  size_t w = 0, n = strlen(s);
  while (n) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, n, &st);
    if (k == (size_t)-1 || k == (size_t)-2) {
      memset(&st, 0, sizeof st);
      k = 1;
      wc = L'?';
    } else if (k == 0) {
      break;
    }
    int cw = wcwidth(wc);
    w += cw < 0 ? 1 : (size_t)cw;
    s += k;
    n -= k;
  }
  return w;
}

static void print_csv_field(const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (; *s; s++) {
    if (*s == '"')
      putchar('"');
    putchar(*s);
  }
  putchar('"');
}

static void pad(size_t n) {
  while (n--)
    putchar(' ');
}

/* The text of a cell (null_text for NULL), or false after printing the
 * error: a cell that cannot be read ends the result (its connection may
 * be gone), it is never printed as a placeholder. */
static bool cell_text(const tdsc_conn *c, tdsc_result *r, size_t i,
                      const char *null_text, const char **t) {
  bool null;
  *t = null_text;
  if (tdsc_result_is_null(r, i, &null) == TDSC_OK &&
      (null || tdsc_result_get_text(r, i, t, NULL) == TDSC_OK))
    return true;
  print_error(c);
  return false;
}

/* Prints one result set; returns false on a failed step. */
static bool print_rows(tdsc_conn *c, tdsc_result *r, bool csv, bool quiet) {
  size_t nc = tdsc_result_column_count(r);
  char **cells = NULL;
  size_t nrows = 0, cap = 0;
  size_t *width = calloc(nc ? nc : 1, sizeof *width);
  bool ok = true;
  tdsc_step s = TDSC_STEP_END;
  if (!width)
    no_memory();
  for (size_t i = 0; i < nc; i++)
    width[i] = display_width(tdsc_column_name(tdsc_result_column(r, i)));
  if (csv) {
    for (size_t i = 0; i < nc; i++) {
      if (i)
        putchar(',');
      print_csv_field(tdsc_column_name(tdsc_result_column(r, i)));
    }
    putchar('\n');
  }
  while (ok && (s = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
    if (csv) {
      for (size_t i = 0; ok && i < nc; i++) {
        const char *t;
        ok = cell_text(c, r, i, "", &t);
        if (!ok)
          break;
        if (i)
          putchar(',');
        print_csv_field(t);
      }
      if (!ok)
        break;
      putchar('\n');
      nrows++;
      continue;
    }
    if ((nrows + 1) * nc > cap) {
      cap = cap ? cap * 2 : 64 * (nc ? nc : 1);
      char **p = realloc(cells, cap * sizeof *cells);
      if (!p)
        no_memory();
      cells = p;
    }
    size_t i;
    for (i = 0; i < nc; i++) {
      const char *t;
      if (!(ok = cell_text(c, r, i, "NULL", &t)))
        break;
      char *copy = strdup(t);
      if (!copy)
        no_memory();
      cells[nrows * nc + i] = copy;
      size_t w = display_width(copy);
      if (w > width[i])
        width[i] = w;
    }
    if (!ok) { /* the row is not printed: free its cells */
      while (i--)
        free(cells[nrows * nc + i]);
      break;
    }
    nrows++;
  }
  if (ok && s == TDSC_STEP_ERROR) {
    print_error(c);
    ok = false;
  }
  if (!csv) {
    for (size_t i = 0; i < nc; i++) {
      const char *name = tdsc_column_name(tdsc_result_column(r, i));
      fputs(i ? " | " : "", stdout);
      fputs(name, stdout);
      if (i + 1 < nc)
        pad(width[i] - display_width(name));
    }
    putchar('\n');
    for (size_t i = 0; i < nc; i++) {
      fputs(i ? "-+-" : "", stdout);
      for (size_t k = 0; k < width[i]; k++)
        putchar('-');
    }
    putchar('\n');
    for (size_t row = 0; row < nrows; row++) {
      for (size_t i = 0; i < nc; i++) {
        const char *t = cells[row * nc + i];
        fputs(i ? " | " : "", stdout);
        fputs(t, stdout);
        if (i + 1 < nc)
          pad(width[i] - display_width(t));
        free(cells[row * nc + i]);
      }
      putchar('\n');
    }
  }
  if (!quiet)
    fprintf(stderr, "(%zu row%s)\n", nrows, nrows == 1 ? "" : "s");
  free(cells);
  free(width);
  return ok;
}

static char *read_all(FILE *f) {
  strbuf b = {0};
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    sb_putn(&b, chunk, n);
  if (!b.s)
    sb_puts(&b, "");
  return b.s;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"connect", required_argument, NULL, 'c'},
      {"server", required_argument, NULL, 'S'},
      {"user", required_argument, NULL, 'U'},
      {"password", required_argument, NULL, 'P'},
      {"database", required_argument, NULL, 'd'},
      {"query", required_argument, NULL, 'Q'},
      {"input", required_argument, NULL, 'i'},
      {"csv", no_argument, NULL, 'C'},
      {"quiet", no_argument, NULL, 'q'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  strbuf cs = {0}, flags = {0};
  const char *query = NULL, *input = NULL, *password = NULL;
  bool csv = false, quiet = false;
  int opt;

  setlocale(LC_CTYPE, "");
  sb_puts(&cs, "");
  sb_puts(&flags, "");
  while ((opt = getopt_long(argc, argv, "c:S:U:P:d:Q:i:qh", longopts, NULL)) !=
         -1) {
    switch (opt) {
    case 'c':
      sb_puts(&cs, optarg);
      if (cs.len && cs.s[cs.len - 1] != ';')
        sb_puts(&cs, ";");
      break;
    case 'S':
      add_kv(&flags, "Server", optarg);
      break;
    case 'U':
      add_kv(&flags, "UID", optarg);
      break;
    case 'P':
      password = optarg;
      break;
    case 'd':
      add_kv(&flags, "Database", optarg);
      break;
    case 'Q':
      query = optarg;
      break;
    case 'i':
      input = optarg;
      break;
    case 'C':
      csv = true;
      break;
    case 'q':
      quiet = true;
      break;
    case 'h':
    default:
      usage(opt == 'h' ? stdout : stderr);
      free(cs.s);
      free(flags.s);
      return opt == 'h' ? 0 : EXIT_USAGE;
    }
  }
  if (!password)
    password = getenv("TDSC_PASSWORD");
  if (password)
    add_kv(&flags, "PWD", password);
  sb_puts(&cs, flags.s);

  char *sql = NULL;
  if (query) {
    sql = strdup(query);
  } else if (optind < argc) {
    strbuf q = {0};
    for (int i = optind; i < argc; i++) {
      if (q.len)
        sb_puts(&q, " ");
      sb_puts(&q, argv[i]);
    }
    sql = q.s;
  } else {
    FILE *f = input ? fopen(input, "r") : stdin;
    if (!f) {
      perror(input);
      free(cs.s);
      free(flags.s);
      return EXIT_USAGE;
    }
    sql = read_all(f);
    if (f != stdin)
      fclose(f);
  }
  int status = 0;
  tdsc_conn *c = sql ? tdsc_conn_new() : NULL;
  if (!c)
    no_memory(); /* tdsc_conn_new fails on nothing else */
  if (tdsc_conn_connect(c, cs.s) != TDSC_OK) {
    print_error(c);
    status = tdsc_error_category(tdsc_conn_error(c)) == TDSC_CAT_USAGE
                 ? EXIT_USAGE
                 : EXIT_CONNECT;
    goto out;
  }
  /* A fallback is not silent: say which attempts failed before this one. */
  if (!quiet && tdsc_conn_attempt_count(c) > 1) {
    size_t n = tdsc_conn_attempt_count(c);
    const tdsc_attempt *ok = tdsc_conn_attempt_at(c, n - 1);
    fprintf(stderr, "note: logged in with %s after %zu failed attempt%s:\n",
            tdsc_attempt_mechanism(ok), n - 1, n == 2 ? "" : "s");
    for (size_t i = 0; i + 1 < n; i++) {
      const tdsc_attempt *a = tdsc_conn_attempt_at(c, i);
      const tdsc_error *e = tdsc_attempt_error(a);
      fprintf(stderr, "  attempt %zu: %s %s as %s: TDSC_E_%s: %s\n", i + 1,
              tdsc_attempt_mechanism(a), tdsc_attempt_address(a),
              tdsc_attempt_target(a), tdsc_errc_name(tdsc_error_code(e)),
              tdsc_error_message(e));
    }
  }
  /* After the login: its database and language notices are noise here. */
  tdsc_conn_set_message_handler(c, on_message, &quiet);
  tdsc_result *r;
  running = c;
  signal(SIGINT, on_interrupt);
  if (tdsc_conn_execute(c, sql, &r) != TDSC_OK) {
    print_error(c);
    status = EXIT_CONNECT;
    goto out;
  }
  bool first = true;
  for (;;) {
    tdsc_step s = tdsc_result_next_set(r);
    if (s == TDSC_STEP_END)
      break;
    if (s == TDSC_STEP_ERROR) {
      print_error(c);
      if (tdsc_error_code(tdsc_conn_error(c)) == TDSC_E_CANCELLED) {
        status = EXIT_CANCELLED;
        break;
      }
      status = EXIT_SQL;
      if (!tdsc_conn_is_connected(c)) {
        status = EXIT_CONNECT;
        break;
      }
      continue;
    }
    if (tdsc_result_column_count(r) == 0) {
      if (!quiet && tdsc_result_rows_affected(r) >= 0)
        fprintf(stderr, "(%lld row%s affected)\n",
                (long long)tdsc_result_rows_affected(r),
                tdsc_result_rows_affected(r) == 1 ? "" : "s");
      continue;
    }
    if (!first && !csv)
      putchar('\n');
    first = false;
    if (!print_rows(c, r, csv, quiet)) {
      if (tdsc_error_code(tdsc_conn_error(c)) == TDSC_E_CANCELLED) {
        status = EXIT_CANCELLED;
        break;
      }
      status = tdsc_conn_is_connected(c) ? EXIT_SQL : EXIT_CONNECT;
      if (status == EXIT_CONNECT)
        break; /* reported once: the rest of the batch is lost */
    }
  }
  tdsc_result_free(r);
  signal(SIGINT, SIG_DFL);
  running = NULL;
out:
  tdsc_conn_free(c);
  free(sql);
  if (cs.s)
    memset(cs.s, 0, cs.len); /* it held the password */
  if (flags.s)
    memset(flags.s, 0, flags.len);
  free(cs.s);
  free(flags.s);
  return status;
}
