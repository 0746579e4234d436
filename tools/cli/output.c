/* tdsc's text output: the aligned table, streamed in bounded memory, and
 * CSV (RFC 4180); the error report and the cell reader every format uses.
 * JSON is output_json.c. */
#include "config.h"

#include "tdsc.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* The table's column widths come from the header and the first TABLE_WINDOW
 * rows, which are held; later rows are printed as they arrive, a wider
 * value overflowing its column (never cut).  Memory is thus bounded by the
 * window, whatever the row count (man/tdsc.1, OUTPUT). */
#define TABLE_WINDOW 100

void output_capture(output *w, tdsc_result *r) {
  bool null;
  const char *t;
  if (!w->capture || tdsc_result_is_null(r, 0, &null) != TDSC_OK || null ||
      tdsc_result_get_text(r, 0, &t, NULL) != TDSC_OK)
    return;
  char *end;
  long long v = strtoll(t, &end, 10);
  if (end != t) {
    w->value = v;
    w->captured = true;
  }
}

void print_count(FILE *f, int64_t n) {
  fprintf(f, "(%lld row%s affected)\n", (long long)n, n == 1 ? "" : "s");
  fflush(f);
}

void print_error(output *w, const tdsc_conn *c) {
  const tdsc_error *e = tdsc_conn_error(c);
  fflush(w->out);
  if (!e) {
    fputs("error: (no details)\n", stderr);
    return;
  }
  if (w->ops->error)
    w->ops->error(w, e);
  const char *report = tdsc_error_report(e);
  if (!strncmp(report, "error: ", 7)) {
    fputs(report, stderr);
    return;
  }
  /* the full report needs memory: out of it, the code and message */
  fprintf(stderr, "error: TDSC_E_%s: %s\n", tdsc_errc_name(tdsc_error_code(e)),
          tdsc_error_message(e));
}

bool cell_text(output *w, const tdsc_conn *c, tdsc_result *r, size_t i,
               const char *null_text, const char **t, bool *is_null) {
  bool null = false;
  *t = null_text;
  if (tdsc_result_is_null(r, i, &null) == TDSC_OK &&
      (null || tdsc_result_get_text(r, i, t, NULL) == TDSC_OK)) {
    if (is_null)
      *is_null = null;
    return true;
  }
  print_error(w, c);
  return false;
}

/* Server messages other than errors (errors are reported with the step
 * that meets them): PRINT text as is, others with their number. */
static void text_message(output *w, const tdsc_message *m) {
  if (tdsc_message_number(m) == 0)
    fprintf(w->msg, "%s\n", tdsc_message_text(m));
  else
    fprintf(w->msg, "msg %d, state %u: %s\n", (int)tdsc_message_number(m),
            tdsc_message_state(m), tdsc_message_text(m));
  fflush(w->msg);
}

static void text_count(output *w, int64_t n) {
  if (!w->o->quiet)
    print_count(w->msg, n);
}

/* ---------------------------------------------------------------- table */

/* Writes one line, broken every `width` display columns when width > 0
 * (sqlcmd's -w). */
static void emit_line(FILE *f, const char *s, size_t len, int width) {
  if (width <= 0) {
    fwrite(s, 1, len, f);
    putc('\n', f);
    return;
  }
  mbstate_t st;
  memset(&st, 0, sizeof st);
  size_t col = 0;
  while (len) {
    wchar_t wc;
    size_t k = mbrtowc(&wc, s, len, &st);
    int cw = 1;
    if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
      memset(&st, 0, sizeof st);
      k = 1;
    } else {
      char one[8] = {0};
      memcpy(one, s, k < 7 ? k : 7);
      cw = (int)display_width(one);
    }
    if (col && col + (size_t)cw > (size_t)width) {
      putc('\n', f);
      col = 0;
    }
    fwrite(s, 1, k, f);
    col += (size_t)cw;
    s += k;
    len -= k;
  }
  putc('\n', f);
}

typedef struct table {
  output *w;
  size_t nc;
  size_t *width;
  const char *sep;
  strbuf line;
} table;

static void add_cell(table *t, size_t i, const char *text) {
  if (i)
    sb_puts(&t->line, t->sep);
  sb_puts(&t->line, text);
  if (i + 1 < t->nc && !t->w->o->trim) {
    size_t dw = display_width(text);
    for (size_t k = dw; k < t->width[i]; k++)
      sb_putc(&t->line, ' ');
  }
}

static void flush_line(table *t) {
  emit_line(t->w->out, t->line.s ? t->line.s : "", t->line.len, t->w->o->width);
  t->line.len = 0;
  if (t->line.s)
    t->line.s[0] = 0;
}

static void table_header(table *t, tdsc_result *r) {
  for (size_t i = 0; i < t->nc; i++)
    add_cell(t, i, tdsc_column_name(tdsc_result_column(r, i)));
  flush_line(t);
  /* the rule: dashes under each column, joined by the separator ('+'
   * where the default separator has its bar) */
  const char *join = t->w->o->colsep ? t->w->o->colsep : "-+-";
  for (size_t i = 0; i < t->nc; i++) {
    size_t n = t->width[i];
    if (t->w->o->trim)
      n = display_width(tdsc_column_name(tdsc_result_column(r, i)));
    if (i)
      sb_puts(&t->line, join);
    for (size_t k = 0; k < (n ? n : 1); k++)
      sb_putc(&t->line, '-');
  }
  flush_line(t);
}

/* Prints a row's cells (freeing them when `owned`), with the header again
 * every -h N rows. */
static void table_row(table *t, tdsc_result *r, char **cells, bool owned,
                      size_t *nrows) {
  int every = t->w->o->headers;
  if (every > 0 && *nrows && *nrows % (size_t)every == 0)
    table_header(t, r);
  for (size_t i = 0; i < t->nc; i++) {
    add_cell(t, i, cells[i]);
    if (owned)
      free(cells[i]);
  }
  flush_line(t);
  ++*nrows;
}

static bool table_rows(output *w, tdsc_conn *c, tdsc_result *r) {
  table t = {.w = w,
             .nc = tdsc_result_column_count(r),
             .sep = w->o->colsep ? w->o->colsep : " | "};
  const opts *o = w->o;
  size_t nc = t.nc;
  char **held = NULL;  /* the window's cells, nc per row */
  char **cells = NULL; /* one row's, once streaming */
  size_t nheld = 0, nrows = 0;
  bool ok = true, streaming = false, first = true;
  tdsc_step s;

  t.width = calloc(nc ? nc : 1, sizeof *t.width);
  held = calloc(TABLE_WINDOW * (nc ? nc : 1), sizeof *held);
  cells = calloc(nc ? nc : 1, sizeof *cells);
  if (!t.width || !held || !cells)
    no_memory();
  for (size_t i = 0; i < nc; i++)
    t.width[i] = display_width(tdsc_column_name(tdsc_result_column(r, i)));
  if (w->sets++ && o->headers >= 0)
    putc('\n', w->out);
  if (o->trim) { /* -W pads nothing: no widths to learn */
    streaming = true;
    if (o->headers >= 0)
      table_header(&t, r);
  }
  while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
    if (first && !(first = false))
      output_capture(w, r);
    size_t i;
    char **row = streaming ? cells : &held[nheld * nc];
    for (i = 0; i < nc; i++) {
      const char *text;
      if (!(ok = cell_text(w, c, r, i, "NULL", &text, NULL)))
        break;
      if (streaming) {
        row[i] = (char *)text; /* valid until the next row */
        continue;
      }
      row[i] = xstrdup(text);
      size_t dw = display_width(text);
      if (dw > t.width[i])
        t.width[i] = dw;
    }
    if (!ok) { /* the row is not printed */
      while (!streaming && i--)
        free(row[i]);
      break;
    }
    if (streaming) {
      table_row(&t, r, cells, false, &nrows);
    } else if (++nheld == TABLE_WINDOW) {
      /* the window is full: the widths are fixed from here on */
      streaming = true;
      if (o->headers >= 0)
        table_header(&t, r);
      for (size_t k = 0; k < nheld; k++)
        table_row(&t, r, &held[k * nc], true, &nrows);
      nheld = 0;
    }
  }
  if (!streaming) { /* fewer rows than the window (or a failed step) */
    if (o->headers >= 0)
      table_header(&t, r);
    for (size_t k = 0; k < nheld; k++)
      table_row(&t, r, &held[k * nc], true, &nrows);
  }
  if (ok && s == TDSC_STEP_ERROR) {
    print_error(w, c);
    ok = false;
  }
  fflush(w->out);
  if (ok && !o->quiet && tdsc_result_rows_affected(r) >= 0) {
    if (w->msg == w->out)
      putc('\n', w->out);
    print_count(w->msg, tdsc_result_rows_affected(r));
  }
  free(held);
  free(cells);
  free(t.width);
  free(t.line.s);
  return ok;
}

static void noop_finish(output *w) { fflush(w->out); }

const output_ops output_table_ops = {table_rows, text_count, text_message, NULL,
                                     noop_finish};

/* ------------------------------------------------------------------ CSV */

/* RFC 4180: a field with the separator, a quote, CR or LF is quoted, its
 * quotes doubled.  An empty string is "" so that NULL (an empty field, or
 * --null's text) stays distinct from it. */
static void csv_field(FILE *f, const char *s, const char *sep, bool null) {
  if (null) {
    fputs(s, f);
    return;
  }
  if (*s && !strpbrk(s, "\"\r\n") && !strstr(s, sep)) {
    fputs(s, f);
    return;
  }
  putc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      putc('"', f);
    putc(*s, f);
  }
  putc('"', f);
}

static bool csv_rows(output *w, tdsc_conn *c, tdsc_result *r) {
  size_t nc = tdsc_result_column_count(r);
  const char *sep = w->o->colsep ? w->o->colsep : ",";
  const char *null_text = w->o->null_text ? w->o->null_text : "";
  bool ok = true, first = true;
  tdsc_step s;
  /* result sets are separated by an empty line */
  if (w->sets++)
    putc('\n', w->out);
  if (w->o->headers >= 0) {
    for (size_t i = 0; i < nc; i++) {
      if (i)
        fputs(sep, w->out);
      const char *name = tdsc_column_name(tdsc_result_column(r, i));
      csv_field(w->out, name, sep, !*name);
    }
    putc('\n', w->out);
  }
  while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
    if (first && !(first = false))
      output_capture(w, r);
    for (size_t i = 0; ok && i < nc; i++) {
      const char *t;
      bool null;
      if (!(ok = cell_text(w, c, r, i, null_text, &t, &null)))
        break;
      if (i)
        fputs(sep, w->out);
      csv_field(w->out, t, sep, null);
    }
    if (!ok)
      break;
    putc('\n', w->out);
  }
  if (ok && s == TDSC_STEP_ERROR) {
    print_error(w, c);
    ok = false;
  }
  fflush(w->out);
  if (ok && !w->o->quiet && tdsc_result_rows_affected(r) >= 0)
    print_count(w->msg, tdsc_result_rows_affected(r));
  return ok;
}

const output_ops output_csv_ops = {csv_rows, text_count, text_message, NULL,
                                   noop_finish};

void output_init(output *w, const opts *o, FILE *out) {
  static const output_ops *const by_fmt[] = {[FMT_TABLE] = &output_table_ops,
                                             [FMT_CSV] = &output_csv_ops,
                                             [FMT_JSON] = &output_json_ops,
                                             [FMT_JSONL] = &output_jsonl_ops};
  *w = (output){.ops = by_fmt[o->fmt], .o = o, .out = out, .msg = stderr};
  /* sqlcmd writes messages and row counts into its -o file; -r sends
   * them to standard error; CSV and JSON keep their file clean */
  if (o->fmt == FMT_TABLE && out != stdout && o->redirect < 1)
    w->msg = out;
}
