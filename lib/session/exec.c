/* Requests and the walk through their responses: tdsc_conn_execute sends a
 * SQL batch; tdsc_result_next_set / next_row read the token stream (one
 * result per statement: its rows, or its row count) and route messages,
 * ENVCHANGEs and errors on the way.  Getters are in result.c. */
#include "config.h"

#include "session/session.h"

#include "clock.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void free_columns(tdsc_result *r) {
  for (size_t i = 0; i < r->ncols; i++)
    tdsc__buf_free(&r->text[i]);
  tdsc__row_free(r);
  /* the arrays stay in r->colmem for the next set (set_columns) */
  r->cols = NULL;
  r->text = NULL;
  r->text_ok = NULL;
  r->ncols = 0;
  r->has_row = false;
  r->values = NULL;
  r->is_output = false;
}

/* The offset of n elements of size sz at *at in the column block, aligned
 * for any type (carve_columns). */
static size_t carve(size_t *at, size_t n, size_t sz) {
  const size_t a = _Alignof(max_align_t);
  size_t off = *at;
  *at += (n * sz + a - 1) / a * a;
  return off;
}

/* Lays the per-column arrays of n columns out in block (NULL: only
 * measures, in offsets: no arithmetic on a null pointer); returns the
 * bytes they take. */
static size_t carve_columns(tdsc_result *r, uint8_t *block, size_t n) {
  size_t at = 0;
  size_t cols = carve(&at, n, sizeof *r->cols);
  size_t text = carve(&at, n, sizeof *r->text);
  size_t rc = carve(&at, n, sizeof *r->rc);
  size_t lazy_vals = carve(&at, n, sizeof *r->lazy_vals);
  size_t text_ok = carve(&at, n, sizeof *r->text_ok);
  if (block) {
    r->cols = (struct tdsc_column *)(void *)(block + cols);
    r->text = (tdsc__buf *)(void *)(block + text);
    r->rc = (tdsc__rowcol *)(void *)(block + rc);
    r->lazy_vals = (tdsc__value *)(void *)(block + lazy_vals);
    r->text_ok = (bool *)(void *)(block + text_ok);
  }
  return at;
}

/* The per-column arrays (cols, text, text_ok, and stream.c's rc and
 * lazy_vals) are one block, kept by the result across its sets and grown
 * when a set has more columns: no allocation for a set that fits, where
 * there were five (issue 15: SELECT 1 round trips). */
static tdsc_errc set_columns(tdsc_result *r, size_t n,
                             const tdsc__colinfo *ci) {
  free_columns(r);
  if (!n)
    return TDSC_OK;
  /* (at most 4096 columns, or 2100 parameters: no overflow) */
  size_t size = carve_columns(r, NULL, n);
  if (n > r->colcap) {
    uint8_t *block = malloc(size);
    if (!block)
      return tdsc__err_oom(&r->conn->err);
    free(r->colmem);
    r->colmem = block;
    r->colcap = n;
  }
  memset(r->colmem, 0, size);
  carve_columns(r, r->colmem, n);
  for (size_t i = 0; i < n; i++)
    r->cols[i].ci = &ci[i];
  r->ncols = n;
  return TDSC_OK;
}

/* Reads to its end a response whose result was freed in non-blocking
 * mode before it was complete (tdsc_result_free): messages still reach
 * the handler and ENVCHANGEs still apply.  TDSC_E_WOULD_BLOCK while it
 * has to wait. */
static tdsc_errc settle(tdsc_conn *c) {
  while (c->in_response) {
    tdsc__event ev;
    bool end;
    tdsc_errc rc = tdsc__wire_next_event(c, &ev, &end);
    if (rc == TDSC_E_WOULD_BLOCK)
      return rc;
    if (rc != TDSC_OK && tdsc__wire_aborted(c, rc)) {
      tdsc__err_clear(&c->err); /* nobody asked for that response */
      break;
    }
    if (rc == TDSC_OK && !end && ev.kind == TDSC__EV_ENVCHANGE)
      rc = tdsc__conn_envchange(c, &ev);
    if (rc != TDSC_OK) {
      tdsc__conn_drop(c);
      return rc;
    }
    if (end)
      break;
    if (ev.kind == TDSC__EV_INFO)
      tdsc__conn_message(c, &ev.u.msg);
  }
  return TDSC_OK;
}

tdsc_errc tdsc__result_new(tdsc_conn *c, tdsc_result **out) {
  if (c->cx) /* (c->io may hold a half-made stack) */
    return tdsc__err_set(&c->err, TDSC_E_NOT_CONNECTED,
                         "the connect is still in progress: call "
                         "tdsc_conn_connect_poll until it returns TDSC_OK");
  if (!c->io)
    return tdsc__err_set(&c->err, TDSC_E_NOT_CONNECTED,
                         "the connection is not open");
  if (c->result)
    return tdsc__err_set(&c->err, TDSC_E_BUSY,
                         "a result of this connection is still open: free it "
                         "before sending another request");
  tdsc_errc rc = settle(c);
  if (rc != TDSC_OK)
    return rc;
  tdsc_result *r = calloc(1, sizeof *r);
  if (!r)
    return tdsc__err_oom(&c->err);
  r->conn = c;
  r->rows_affected = -1;
  r->timeout_ms = c->query_timeout_ms;
  /* A cancel that came while no request ran is forgotten. */
  atomic_store(&c->cancel, false);
  tdsc__waker_clear(c->waker);
  *out = r;
  return TDSC_OK;
}

void tdsc__result_start(tdsc_conn *c, tdsc_result *r, int64_t timeout_ms) {
  r->timeout_ms = timeout_ms;
  tdsc__wire_begin_response(c, tdsc__deadline_in(timeout_ms));
  c->cancellable = true;
  c->result = r;
}

tdsc_errc tdsc_conn_execute(tdsc_conn *c, const char *sql, tdsc_result **out) {
  if (!c || !sql || !out)
    return TDSC_E_INVALID_ARGUMENT;
  *out = NULL;
  tdsc__conn_begin(c);
  tdsc_result *r;
  if (tdsc__result_new(c, &r) != TDSC_OK)
    return tdsc__conn_fail(c);
  int64_t deadline = tdsc__deadline_in(c->query_timeout_ms);
  tdsc__buf_reset(&c->out);
  tdsc_errc rc = tdsc__sqlbatch_encode(sql, strlen(sql), c->txn, 1, &c->out,
                                       &c->err);
  if (rc == TDSC_OK && c->out.oom)
    rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK) {
    rc = tdsc__wire_send(c, TDSC__PKT_SQLBATCH, c->out.data, c->out.len,
                         deadline);
    if (rc != TDSC_OK)
      tdsc__conn_drop(c); /* a half-sent request leaves no usable session */
  }
  if (rc != TDSC_OK) {
    free(r);
    return tdsc__conn_fail(c);
  }
  tdsc__result_start(c, r, c->query_timeout_ms);
  *out = r;
  return TDSC_OK;
}

/* Keeps a copy of an output parameter (RETURNVALUE) for the OUTPUT
 * result presented after the procedure's DONEPROC. */
static bool keep_output(tdsc_result *r, const tdsc__event *ev) {
  const tdsc__colinfo *ci = ev->u.returnvalue.col;
  const tdsc__value *v = &ev->u.returnvalue.values[0];
  size_t n = r->nout + 1;
  tdsc__colinfo *cols = realloc(r->out_cols, n * sizeof *cols);
  if (!cols)
    return false;
  r->out_cols = cols;
  tdsc__value *vals = realloc(r->out_vals, n * sizeof *vals);
  if (!vals)
    return false;
  r->out_vals = vals;
  tdsc__colinfo *c = &cols[r->nout];
  tdsc__value *nv = &vals[r->nout];
  *c = *ci;
  *nv = *v;
  c->name = strdup(ci->name ? ci->name : "");
  uint8_t *d = v->null ? NULL : malloc(v->len ? v->len : 1);
  if (!c->name || (!v->null && !d)) {
    free(c->name);
    free(d);
    return false;
  }
  if (d)
    memcpy(d, v->data, v->len);
  nv->data = d;
  r->nout = n;
  return true;
}

static void free_outputs(tdsc_result *r) {
  for (size_t i = 0; i < r->nout; i++) {
    free(r->out_cols[i].name);
    free((void *)r->out_vals[i].data);
  }
  free(r->out_cols);
  free(r->out_vals);
  r->out_cols = NULL;
  r->out_vals = NULL;
  r->nout = 0;
}

/* Records a server ERROR token as the current statement's failure: the
 * first one wins (later ones of the same statement, such as 3621 "The
 * statement has been terminated", only reach the message handler). */
static void statement_error(tdsc_result *r, const tdsc_message *m) {
  tdsc_conn *c = r->conn;
  if (r->pending_error)
    return;
  tdsc__err_set(&c->err, TDSC_E_SERVER_ERROR,
                "server error %d (state %u, class %u) at line %d%s%s: %s",
                (int)m->number, m->state, m->cls, (int)m->line,
                m->procedure && *m->procedure ? " of " : "",
                m->procedure ? m->procedure : "", m->text ? m->text : "");
  if (!tdsc__err_server_msg(&c->err, m))
    tdsc__err_oom(&c->err);
  r->pending_error = true;
}

/* What one event means to the cursor. */
typedef enum {
  EV_CONTINUE, /* nothing for the caller: read on */
  EV_META,     /* a new result with columns */
  EV_ROW,
  EV_DONE,     /* a statement's DONE */
  EV_END,      /* the response is complete */
  EV_ABORTED,  /* cancelled or timed out; the connection is usable, c->err
                  says which */
  EV_FATAL,    /* the connection is lost; c->err says why */
  EV_WOULD_BLOCK /* non-blocking mode: nothing changed, call again */
} ev_meaning;

static ev_meaning pump(tdsc_result *r, tdsc__event *ev) {
  tdsc_conn *c = r->conn;
  bool end;
  tdsc_errc rc = tdsc__wire_next_event(c, ev, &end);
  if (rc == TDSC_E_WOULD_BLOCK)
    return EV_WOULD_BLOCK;
  if (rc != TDSC_OK && tdsc__wire_aborted(c, rc)) {
    r->state = TDSC__R_END;
    r->pending_error = false;
    r->has_row = false;
    return EV_ABORTED;
  }
  if (rc != TDSC_OK) {
    tdsc__conn_drop(c); /* detaches r */
    r->state = TDSC__R_END;
    return EV_FATAL;
  }
  if (end)
    return EV_END;
  switch (ev->kind) {
  case TDSC__EV_COLMETADATA:
    return EV_META;
  case TDSC__EV_ROW:
  case TDSC__EV_ROW_BEGIN:
    return EV_ROW;
  case TDSC__EV_DONE:
    if (ev->u.done.token == TDSC__TOK_DONEPROC && r->nout)
      r->out_ready = true;
    return EV_DONE;
  case TDSC__EV_RETURNSTATUS:
    r->has_status = true;
    r->return_status = ev->u.return_status;
    return EV_CONTINUE;
  case TDSC__EV_RETURNVALUE:
    if (!keep_output(r, ev)) {
      tdsc__err_oom(&c->err);
      tdsc__conn_drop(c);
      r->state = TDSC__R_END;
      return EV_FATAL;
    }
    return EV_CONTINUE;
  case TDSC__EV_INFO:
    tdsc__conn_message(c, &ev->u.msg);
    if (ev->u.msg.is_error)
      statement_error(r, &ev->u.msg);
    return EV_CONTINUE;
  case TDSC__EV_ENVCHANGE:
    if (tdsc__conn_envchange(c, ev) != TDSC_OK) {
      tdsc__conn_drop(c);
      r->state = TDSC__R_END;
      return EV_FATAL;
    }
    return EV_CONTINUE;
  default:
    return EV_CONTINUE;
  }
}

tdsc_errc tdsc__result_pull(tdsc_result *r, tdsc__event *ev) {
  tdsc_conn *c = r->conn;
  bool end;
  tdsc_errc rc = tdsc__wire_next_event(c, ev, &end);
  if (rc == TDSC_OK && end)
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server's response ended inside a row");
  if (rc == TDSC_OK || rc == TDSC_E_WOULD_BLOCK)
    return rc; /* would block: nothing changed, the same call resumes */
  if (tdsc__wire_aborted(c, rc)) {
    r->state = TDSC__R_END;
    r->pending_error = false;
    r->has_row = false;
  } else {
    tdsc__conn_drop(c); /* detaches r */
  }
  return rc;
}

tdsc_errc tdsc__result_gone(const tdsc_result *r) {
  return r->lost ? r->lost : TDSC_E_NOT_CONNECTED;
}

static tdsc_step step_error(tdsc_conn *c) {
  tdsc__conn_fail(c);
  return TDSC_STEP_ERROR;
}

void tdsc__result_arm(tdsc_result *r) {
  tdsc_conn *c = r->conn;
  bool resume = c->wb_pending;
  c->wb_pending = false;
  if (!resume)
    c->deadline = tdsc__deadline_in(r->timeout_ms);
}

/* Starts a call on r: checks, clears the connection's error, and gives the
 * server QueryTimeout for what comes next. */
static bool begin_step(tdsc_result *r) {
  if (!r)
    return false;
  if (!r->conn)
    return false;
  tdsc__result_arm(r);
  tdsc__conn_begin(r->conn);
  return true;
}

static void take_done(tdsc_result *r, const tdsc__event *ev) {
  r->rows_affected = ev->u.done.status & TDSC__DONE_COUNT
                         ? (int64_t)ev->u.done.rowcount
                         : -1;
}

/* next_row after begin_step: also the way next_set skips rows, within
 * its own call's deadline.  Every event's effect is kept in r as it is
 * read, so a call that would block resumes where it stopped. */
static tdsc_step next_row(tdsc_result *r) {
  tdsc_conn *c = r->conn;
  r->has_row = false;
  if (r->state != TDSC__R_ROWS)
    return TDSC_STEP_END;
  if (r->is_output) { /* one row, already read */
    if (r->out_row_read) {
      r->state = TDSC__R_AFTER_ROWS;
      return TDSC_STEP_END;
    }
    r->out_row_read = true;
    r->values = r->out_vals;
    tdsc__row_start(r, false);
    r->has_row = true;
    for (size_t i = 0; i < r->ncols; i++)
      r->text_ok[i] = false;
    return TDSC_STEP_ROW;
  }
  for (;;) {
    tdsc__event ev;
    switch (pump(r, &ev)) {
    case EV_CONTINUE:
      continue;
    case EV_ROW:
      if (r->pending_error)
        continue; /* rows after an error belong to no one */
      if (ev.kind == TDSC__EV_ROW_BEGIN) {
        tdsc__row_start(r, true); /* its values come when asked for */
      } else {
        r->values = ev.u.row.values;
        tdsc__row_start(r, false);
      }
      r->has_row = true;
      for (size_t i = 0; i < r->ncols; i++)
        r->text_ok[i] = false;
      return TDSC_STEP_ROW;
    case EV_META:
      /* A result without its DONE: hand the new one to next_set. */
      r->pending_meta = true;
      r->state = TDSC__R_AFTER_ROWS;
      return TDSC_STEP_END;
    case EV_DONE:
      take_done(r, &ev);
      r->state = TDSC__R_AFTER_ROWS;
      if (r->pending_error) {
        r->pending_error = false;
        return step_error(c);
      }
      return TDSC_STEP_END;
    case EV_END:
      r->state = TDSC__R_END;
      return TDSC_STEP_END;
    case EV_ABORTED:
    case EV_FATAL:
    case EV_WOULD_BLOCK:
      return step_error(c);
    }
  }
}

tdsc_step tdsc_result_next_row(tdsc_result *r) {
  if (!begin_step(r))
    return r && r->state == TDSC__R_END && !r->lost ? TDSC_STEP_END
                                                    : TDSC_STEP_ERROR;
  return next_row(r);
}

/* The output parameters as a one-row result (TDSC_RESULT_OUTPUT). */
static tdsc_step present_output(tdsc_result *r) {
  r->out_ready = false;
  if (set_columns(r, r->nout, r->out_cols))
    return step_error(r->conn);
  r->is_output = true;
  r->out_row_read = false;
  r->rows_affected = -1;
  r->state = TDSC__R_ROWS;
  return TDSC_STEP_RESULT;
}

tdsc_step tdsc_result_next_set(tdsc_result *r) {
  if (!begin_step(r))
    return r && r->state == TDSC__R_END && !r->lost ? TDSC_STEP_END
                                                    : TDSC_STEP_ERROR;
  tdsc_conn *c = r->conn;
  /* Skip what is left of the current result. */
  while (r->state == TDSC__R_ROWS) {
    tdsc_step s = next_row(r);
    if (s == TDSC_STEP_ERROR)
      return s;
  }
  if (r->state == TDSC__R_END)
    return TDSC_STEP_END;
  r->has_row = false;
  if (r->out_ready)
    return present_output(r);
  if (r->pending_meta) {
    r->pending_meta = false;
    if (set_columns(r, tdsc__tokp_ncols(c->tokp), tdsc__tokp_cols(c->tokp)))
      return step_error(c);
    r->rows_affected = -1;
    r->state = TDSC__R_ROWS;
    return TDSC_STEP_RESULT;
  }
  for (;;) {
    tdsc__event ev;
    switch (pump(r, &ev)) {
    case EV_CONTINUE:
    case EV_ROW: /* rows without a result: none in a sane stream */
      continue;
    case EV_META:
      if (set_columns(r, ev.u.colmetadata.ncols, ev.u.colmetadata.cols))
        return step_error(c);
      r->rows_affected = -1;
      if (r->pending_error) /* an error before its statement's rows */
        continue;
      r->state = TDSC__R_ROWS;
      return TDSC_STEP_RESULT;
    case EV_DONE:
      if (r->pending_error) {
        r->pending_error = false;
        free_columns(r);
        r->state = TDSC__R_AFTER_ROWS;
        return step_error(c);
      }
      if (r->rpc && ev.u.done.token == TDSC__TOK_DONEPROC) {
        if (r->out_ready)
          return present_output(r);
        continue;
      }
      if (ev.u.done.status & TDSC__DONE_COUNT) {
        free_columns(r);
        take_done(r, &ev);
        r->state = TDSC__R_AFTER_ROWS;
        return TDSC_STEP_RESULT;
      }
      continue;
    case EV_END:
      free_columns(r);
      r->state = TDSC__R_END;
      if (r->pending_error) { /* an ERROR with no DONE after it */
        r->pending_error = false;
        return step_error(c);
      }
      return TDSC_STEP_END;
    case EV_ABORTED:
    case EV_FATAL:
    case EV_WOULD_BLOCK:
      return step_error(c);
    }
  }
}

void tdsc__result_detach(tdsc_result *r, tdsc_errc why) {
  r->conn = NULL;
  if (r->state != TDSC__R_END && !r->lost)
    r->lost = why;
  r->state = TDSC__R_END;
  r->has_row = false;
  r->values = NULL;
}

void tdsc_result_free(tdsc_result *r) {
  if (!r)
    return;
  tdsc_conn *c = r->conn;
  if (c && c->in_response) {
    /* Read the rest so the connection can take the next request; in
     * non-blocking mode what has not arrived is read by the next request
     * (tdsc__result_new). */
    tdsc__event ev;
    ev_meaning m;
    tdsc__result_arm(r);
    tdsc__conn_begin(c);
    do
      m = pump(r, &ev);
    while (m != EV_END && m != EV_FATAL && m != EV_ABORTED &&
           m != EV_WOULD_BLOCK);
    if (m == EV_WOULD_BLOCK)
      tdsc__err_clear(&c->err);
  }
  if (r->conn)
    r->conn->result = NULL;
  free_columns(r);
  free(r->colmem);
  free_outputs(r);
  free(r);
}

int64_t tdsc_result_rows_affected(const tdsc_result *r) {
  return r ? r->rows_affected : -1;
}
