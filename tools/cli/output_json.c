/* tdsc's JSON output: --json, one array of objects (a result set with its
 * columns and typed rows, a row count, a message, an error), streamed as
 * the rows arrive; --jsonl, JSON Lines: one object per line, a result set
 * as its columns, its rows and its end (man/tdsc.1, OUTPUT). */
#include "config.h"

#include "tdsc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Messages and errors met while a result set's rows are being printed are
 * held here and printed after it: --json's rows array stays whole. */
static strbuf pending;
static bool in_rows;

static void json_string(strbuf *b, const char *s) {
  sb_putc(b, '"');
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    switch (*p) {
    case '"':
      sb_puts(b, "\\\"");
      break;
    case '\\':
      sb_puts(b, "\\\\");
      break;
    case '\n':
      sb_puts(b, "\\n");
      break;
    case '\r':
      sb_puts(b, "\\r");
      break;
    case '\t':
      sb_puts(b, "\\t");
      break;
    default:
      if (*p < 0x20)
        sb_printf(b, "\\u%04x", *p);
      else
        sb_putc(b, (char)*p);
    }
  }
  sb_putc(b, '"');
}

/* Starts an object of the top-level stream: "[" before the first, "," between
 * them for --json; nothing for --jsonl. */
static void json_open(output *w, strbuf *b) {
  if (w->o->fmt == FMT_JSON) {
    sb_puts(b, w->begun ? ",\n" : "[\n");
    w->begun = true;
  }
}

static void json_close(output *w, strbuf *b) {
  if (w->o->fmt == FMT_JSONL)
    sb_putc(b, '\n');
  (void)w;
}

static void emit(output *w, strbuf *b) {
  if (in_rows) {
    sb_putn(&pending, b->s, b->len);
  } else {
    fwrite(b->s, 1, b->len, w->out);
    fflush(w->out);
  }
  b->len = 0;
}

/* The value of a cell: numbers as JSON numbers (decimal, numeric and money
 * exactly as the server sent them), bit as true/false, NULL as null, every
 * other type as its text (dates ISO 8601, binary "0x..."). */
static bool json_value(strbuf *b, tdsc_result *r, size_t i) {
  bool null;
  if (tdsc_result_is_null(r, i, &null) != TDSC_OK)
    goto fail;
  if (null) {
    sb_puts(b, "null");
    return true;
  }
  tdsc_type t = tdsc_column_type(tdsc_result_column(r, i));
  int64_t v;
  double d;
  const char *text;
  switch (t) {
  case TDSC_TYPE_BIT:
    if (tdsc_result_get_int64(r, i, &v) != TDSC_OK)
      goto fail;
    sb_puts(b, v ? "true" : "false");
    return true;
  case TDSC_TYPE_TINYINT:
  case TDSC_TYPE_SMALLINT:
  case TDSC_TYPE_INT:
  case TDSC_TYPE_BIGINT:
    if (tdsc_result_get_int64(r, i, &v) != TDSC_OK)
      goto fail;
    sb_printf(b, "%lld", (long long)v);
    return true;
  case TDSC_TYPE_REAL:
  case TDSC_TYPE_FLOAT:
    if (tdsc_result_get_double(r, i, &d) != TDSC_OK)
      goto fail;
    if (!isfinite(d)) /* JSON has no NaN nor infinity */
      sb_puts(b, "null");
    else
      sb_printf(b, t == TDSC_TYPE_REAL ? "%.9g" : "%.17g", d);
    return true;
  case TDSC_TYPE_DECIMAL:
  case TDSC_TYPE_NUMERIC:
  case TDSC_TYPE_MONEY:
  case TDSC_TYPE_SMALLMONEY:
    if (tdsc_result_get_text(r, i, &text, NULL) != TDSC_OK)
      goto fail;
    sb_puts(b, text);
    return true;
  default:
    if (tdsc_result_get_text(r, i, &text, NULL) != TDSC_OK)
      goto fail;
    json_string(b, text);
    return true;
  }
fail:
  return false;
}

static void json_columns(strbuf *b, tdsc_result *r) {
  size_t nc = tdsc_result_column_count(r);
  sb_puts(b, "\"columns\":[");
  for (size_t i = 0; i < nc; i++) {
    const tdsc_column *col = tdsc_result_column(r, i);
    sb_puts(b, i ? ",{\"name\":" : "{\"name\":");
    json_string(b, tdsc_column_name(col));
    sb_printf(b, ",\"type\":\"%s\",\"nullable\":%s",
              tdsc_type_name(tdsc_column_type(col)),
              tdsc_column_nullable(col) ? "true" : "false");
    int32_t size = tdsc_column_max_size(col);
    sb_printf(b, ",\"max_size\":%ld", (long)size);
    if (tdsc_column_precision(col) || tdsc_column_scale(col))
      sb_printf(b, ",\"precision\":%u,\"scale\":%u", tdsc_column_precision(col),
                tdsc_column_scale(col));
    sb_putc(b, '}');
  }
  sb_putc(b, ']');
}

static bool json_rows(output *w, tdsc_conn *c, tdsc_result *r) {
  bool lines = w->o->fmt == FMT_JSONL;
  size_t nc = tdsc_result_column_count(r), set = w->sets++, nrows = 0;
  strbuf b = {0};
  bool ok = true;
  tdsc_step s;

  json_open(w, &b);
  sb_printf(&b, "{\"type\":\"%s\",\"set\":%zu,",
            lines ? "columns" : "resultset", set);
  json_columns(&b, r);
  sb_puts(&b, lines ? "}\n" : ",\"rows\":[");
  emit(w, &b);
  in_rows = true;
  while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
    if (!nrows)
      output_capture(w, r);
    if (lines)
      sb_printf(&b, "{\"type\":\"row\",\"set\":%zu,\"values\":[", set);
    else
      sb_puts(&b, nrows ? ",\n[" : "\n[");
    for (size_t i = 0; ok && i < nc; i++) {
      if (i)
        sb_putc(&b, ',');
      ok = json_value(&b, r, i);
    }
    if (!ok) {
      b.len = 0;
      break;
    }
    sb_puts(&b, lines ? "]}\n" : "]");
    fwrite(b.s, 1, b.len, w->out);
    b.len = 0;
    nrows++;
  }
  in_rows = false;
  if (ok && s == TDSC_STEP_ERROR)
    ok = false;
  /* the end of the set says whether it is whole: a result cut short by an
   * error never looks complete */
  if (lines)
    sb_printf(&b, "{\"type\":\"done\",\"set\":%zu,\"rows\":%zu", set, nrows);
  else
    sb_printf(&b, "%s],\"rows_count\":%zu", nrows ? "\n" : "", nrows);
  if (ok && tdsc_result_rows_affected(r) >= 0)
    sb_printf(&b, ",\"rows_affected\":%lld",
              (long long)tdsc_result_rows_affected(r));
  sb_printf(&b, ",\"complete\":%s}", ok ? "true" : "false");
  json_close(w, &b);
  emit(w, &b);
  if (!ok)
    print_error(w, c); /* the error object follows the set */
  if (pending.len) {
    fwrite(pending.s, 1, pending.len, w->out);
    pending.len = 0;
  }
  fflush(w->out);
  free(b.s);
  return ok;
}

static void json_count(output *w, int64_t n) {
  strbuf b = {0};
  json_open(w, &b);
  sb_printf(&b, "{\"type\":\"count\",\"rows_affected\":%lld}", (long long)n);
  json_close(w, &b);
  emit(w, &b);
  free(b.s);
}

static void json_message_fields(strbuf *b, const tdsc_message *m) {
  sb_printf(b, "\"number\":%ld,\"state\":%u,\"class\":%u,\"text\":",
            (long)tdsc_message_number(m), tdsc_message_state(m),
            tdsc_message_class(m));
  json_string(b, tdsc_message_text(m));
  sb_puts(b, ",\"server\":");
  json_string(b, tdsc_message_server(m));
  sb_puts(b, ",\"procedure\":");
  json_string(b, tdsc_message_procedure(m));
  sb_printf(b, ",\"line\":%ld", (long)tdsc_message_line(m));
}

static void json_message(output *w, const tdsc_message *m) {
  strbuf b = {0};
  json_open(w, &b);
  sb_puts(&b, "{\"type\":\"message\",");
  json_message_fields(&b, m);
  sb_putc(&b, '}');
  json_close(w, &b);
  emit(w, &b);
  free(b.s);
}

static void json_error(output *w, const tdsc_error *e) {
  strbuf b = {0};
  json_open(w, &b);
  sb_printf(&b, "{\"type\":\"error\",\"code\":\"TDSC_E_%s\",\"category\":",
            tdsc_errc_name(tdsc_error_code(e)));
  json_string(&b, tdsc_category_name(tdsc_error_category(e)));
  sb_puts(&b, ",\"message\":");
  json_string(&b, tdsc_error_message(e));
  sb_puts(&b, ",\"hint\":");
  json_string(&b, tdsc_error_hint(e));
  const tdsc_message *m = tdsc_error_server_message(e);
  if (m) {
    sb_puts(&b, ",");
    json_message_fields(&b, m);
  }
  sb_putc(&b, '}');
  json_close(w, &b);
  emit(w, &b);
  free(b.s);
}

static void json_finish(output *w) {
  if (w->o->fmt == FMT_JSON)
    fputs(w->begun ? "\n]\n" : "[]\n", w->out);
  fflush(w->out);
  sb_wipe(&pending);
}

const output_ops output_json_ops = {json_rows, json_count, json_message,
                                    json_error, json_finish};
const output_ops output_jsonl_ops = {json_rows, json_count, json_message,
                                     json_error, json_finish};
