/* The current row, column by column.  A row with large values (MAX types,
 * xml, text, image) comes lazily from the token parser: each value is read
 * from the stream only when the application asks for it, whole for the
 * getters or in pieces with tdsc_result_read, which holds no more than a
 * packet whatever the value's size.  Columns are delivered in order: one
 * passed over while reading a later one is kept in memory when it has not
 * been touched (so getters in any order keep working) up to
 * TDSC__VALUE_MAX, and a value streamed part way is gone. */
#include "config.h"

#include "session/session.h"

#include "clock.h"
#include "proto/typeinfo.h"

#include <stdlib.h>
#include <string.h>

void tdsc__row_free(tdsc_result *r) {
  for (size_t i = 0; r->rc && i < r->ncols; i++)
    tdsc__buf_free(&r->rc[i].buf);
  r->rc = NULL; /* the arrays are exec.c's set_columns's block */
  r->lazy_vals = NULL;
  r->lazy = false;
}

void tdsc__row_start(tdsc_result *r, bool lazy) {
  r->lazy = lazy;
  r->next_col = 0;
  r->pend = NULL;
  r->pend_len = 0;
  r->keep_too_large = r->keep_oom = false;
  for (size_t i = 0; i < r->ncols; i++) {
    tdsc__rowcol *rc = &r->rc[i];
    rc->state = lazy ? TDSC__COL_PENDING : TDSC__COL_HELD;
    rc->read_off = 0;
    rc->delivered = 0;
    tdsc__buf_reset(&rc->buf);
  }
  if (lazy) {
    memset(r->lazy_vals, 0, r->ncols * sizeof *r->lazy_vals);
    r->values = r->lazy_vals;
  }
}

static const char *col_name(const tdsc_result *r, size_t col) {
  const char *n = r->cols[col].ci->name;
  return n && *n ? n : "(unnamed)";
}

/* The next event of the row; any other kind is a broken stream. */
static tdsc_errc pull(tdsc_result *r, tdsc__event *ev) {
  tdsc_conn *c = r->conn;
  tdsc_errc rc = tdsc__result_pull(r, ev);
  if (rc != TDSC_OK)
    return rc;
  switch (ev->kind) {
  case TDSC__EV_COLUMN:
  case TDSC__EV_LARGE_BEGIN:
  case TDSC__EV_LARGE_DATA:
  case TDSC__EV_LARGE_END:
    return TDSC_OK;
  default:
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "internal: a token (event %d) inside a row",
                       (int)ev->kind);
    tdsc__conn_drop(c);
    return rc;
  }
}

/* Reads the rest of the large value being streamed: appended to keep when
 * not NULL (up to TDSC__VALUE_MAX), dropped otherwise.  The value is read
 * to its end whatever happens to keep (too large, out of memory), so the
 * stream stays in step and the row's later columns stay readable. */
static tdsc_errc finish_large(tdsc_result *r, tdsc__buf *keep) {
  tdsc_conn *c = r->conn;
  size_t col = r->streaming;
  /* an announced length says at once what will not fit; what did not fit
   * is kept in r, as a call that would block comes back here */
  uint64_t total = r->rc[col].total;
  bool too_large = r->keep_too_large ||
                   (keep && total != UINT64_MAX && total > TDSC__VALUE_MAX);
  bool oom = r->keep_oom;
  for (;;) {
    if (r->pend_len) {
      if (keep && !too_large && !oom) {
        if (keep->len + r->pend_len > TDSC__VALUE_MAX)
          too_large = true;
        else {
          tdsc__buf_put(keep, r->pend, r->pend_len);
          oom = keep->oom;
        }
      }
      r->pend_len = 0;
    }
    tdsc__event ev;
    tdsc_errc rc = pull(r, &ev);
    if (rc == TDSC_E_WOULD_BLOCK) {
      r->keep_too_large = too_large;
      r->keep_oom = oom;
    }
    if (rc != TDSC_OK)
      return rc; /* r may be detached now: c holds the error */
    if (ev.kind == TDSC__EV_LARGE_END)
      break;
    if (ev.kind != TDSC__EV_LARGE_DATA) {
      rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "internal: event %d inside a large value",
                         (int)ev.kind);
      tdsc__conn_drop(c);
      return rc;
    }
    r->pend = ev.u.large.data;
    r->pend_len = ev.u.large.len;
  }
  r->pend = NULL;
  r->next_col = col + 1;
  r->keep_too_large = r->keep_oom = false;
  if (oom) {
    tdsc__buf_free(keep);
    return tdsc__err_oom(&c->err);
  }
  if (too_large)
    return tdsc__err_set(&r->conn->err, TDSC_E_VALUE_TOO_LARGE,
                         "column %zu ('%s') holds more than %zu bytes: read "
                         "it in pieces with tdsc_result_read",
                         col, col_name(r, col), (size_t)TDSC__VALUE_MAX);
  return TDSC_OK;
}

/* A column finish_large could not keep is gone for the getters, and the
 * caller's error is the reason (VALUE_TOO_LARGE or NO_MEMORY). */
static bool lost_value(tdsc_errc e) {
  return e == TDSC_E_VALUE_TOO_LARGE || e == TDSC_E_NO_MEMORY;
}

/* Keeps the value of a finished column (keep holds its bytes). */
static void hold(tdsc_result *r, size_t col, bool null) {
  tdsc__rowcol *rc = &r->rc[col];
  rc->state = TDSC__COL_HELD;
  r->lazy_vals[col].null = null;
  static const uint8_t empty[1];
  r->lazy_vals[col].data = rc->buf.data ? rc->buf.data : empty;
  r->lazy_vals[col].len = rc->buf.len;
}

/* Reads the stream up to the start of column col: every column before
 * it ends up held (or consumed), col itself held or, for a large value,
 * STREAMING with nothing read yet. */
static tdsc_errc open_column(tdsc_result *r, size_t col) {
  tdsc_conn *c = r->conn;
  tdsc__result_arm(r);
  while (r->next_col <= col) {
    size_t i = r->next_col;
    tdsc__rowcol *rc = &r->rc[i];
    if (rc->state == TDSC__COL_STREAMING) {
      /* passed over: untouched, it is kept; half read, it is gone */
      bool untouched = rc->delivered == 0;
      tdsc_errc e = finish_large(r, untouched ? &rc->buf : NULL);
      if (lost_value(e)) {
        tdsc__buf_reset(&rc->buf);
        rc->state = TDSC__COL_CONSUMED;
        if (e == TDSC_E_NO_MEMORY)
          return e; /* the stream is in step: the row goes on */
        continue; /* not the caller's column: no error */
      }
      if (e != TDSC_OK)
        return e;
      if (untouched)
        hold(r, i, false);
      else
        rc->state = TDSC__COL_CONSUMED;
      continue;
    }
    tdsc__event ev;
    tdsc_errc e = pull(r, &ev);
    if (e != TDSC_OK)
      return e;
    if (ev.kind == TDSC__EV_COLUMN && ev.u.column.index == i) {
      const tdsc__value *v = &ev.u.column.value;
      if (!v->null && v->len) {
        tdsc__buf_put(&rc->buf, v->data, v->len);
        if (rc->buf.oom) {
          /* the event is consumed: the column is gone, the stream stays
           * in step for the next ones */
          tdsc__buf_free(&rc->buf);
          rc->state = TDSC__COL_CONSUMED;
          r->next_col = i + 1;
          return tdsc__err_oom(&c->err);
        }
      }
      hold(r, i, v->null);
      r->next_col = i + 1;
    } else if (ev.kind == TDSC__EV_LARGE_BEGIN && ev.u.large.index == i) {
      rc->state = TDSC__COL_STREAMING;
      rc->total = ev.u.large.total;
      r->streaming = i;
      if (i < col)
        continue; /* the loop passes over it */
      break;
    } else {
      e = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                        "internal: column %zu out of order", i);
      tdsc__conn_drop(c);
      return e;
    }
  }
  return TDSC_OK;
}

/* Reads a lazy row up to the start of col unless that is done. */
static tdsc_errc reach(tdsc_result *r, size_t col) {
  if (!r->lazy || r->rc[col].state != TDSC__COL_PENDING)
    return TDSC_OK;
  return open_column(r, col);
}

static tdsc_errc consumed(tdsc_result *r, size_t col) {
  return tdsc__err_set(&r->conn->err, TDSC_E_VALUE_CONSUMED,
                       "column %zu ('%s') of this row was %s: read a row's "
                       "columns in order, and a streamed one only with "
                       "tdsc_result_read",
                       col, col_name(r, col),
                       r->rc[col].state == TDSC__COL_CONSUMED
                           ? "passed over while it was being read in pieces"
                           : "read in pieces with tdsc_result_read");
}

tdsc_errc tdsc__row_value(tdsc_result *r, size_t col, const tdsc__value **v) {
  if (!r->lazy) {
    *v = &r->values[col];
    return TDSC_OK;
  }
  tdsc__rowcol *rc = &r->rc[col];
  tdsc_errc e = reach(r, col);
  if (e != TDSC_OK)
    return e;
  if (rc->state == TDSC__COL_STREAMING && rc->delivered == 0 &&
      r->pend_len == 0) {
    e = finish_large(r, &rc->buf);
    if (e != TDSC_OK) {
      if (lost_value(e))
        rc->state = TDSC__COL_CONSUMED;
      return e;
    }
    hold(r, col, false);
  }
  if (rc->state != TDSC__COL_HELD)
    return consumed(r, col);
  *v = &r->lazy_vals[col];
  return TDSC_OK;
}

tdsc_errc tdsc__row_is_null(tdsc_result *r, size_t col, bool *null) {
  if (!r->lazy) {
    *null = r->values[col].null;
    return TDSC_OK;
  }
  tdsc__rowcol *rc = &r->rc[col];
  tdsc_errc e = reach(r, col);
  if (e != TDSC_OK)
    return e;
  /* only non-NULL large values are streamed */
  *null = rc->state == TDSC__COL_HELD && r->lazy_vals[col].null;
  return TDSC_OK;
}

/* ------------------------------------------------------ tdsc_result_read */

static tdsc_errc read_fail(tdsc_result *r, tdsc_errc code, const char *fmt,
                           size_t col) {
  tdsc_conn *c = r->conn;
  tdsc__err_set(&c->err, code, fmt, col, r->ncols);
  return tdsc__conn_fail(c);
}

tdsc_errc tdsc_result_read(tdsc_result *r, size_t col, void *buf, size_t len,
                           size_t *got) {
  if (got)
    *got = 0;
  if (!r || !got || (!buf && len))
    return TDSC_E_INVALID_ARGUMENT;
  if (!r->conn)
    return tdsc__result_gone(r);
  tdsc_conn *c = r->conn;
  tdsc__conn_begin(c);
  if (!r->has_row)
    return read_fail(r, TDSC_E_NO_ROW,
                     "no current row to read column %zu of (%zu columns): "
                     "call tdsc_result_next_row first",
                     col);
  if (col >= r->ncols)
    return read_fail(r, TDSC_E_COLUMN_RANGE,
                     "column %zu does not exist: the result has %zu columns",
                     col);
  tdsc__rowcol *rc = &r->rc[col];
  if (reach(r, col) != TDSC_OK)
    return tdsc__conn_fail(c); /* c outlives a dropped connection */
  if (rc->state == TDSC__COL_HELD) {
    const tdsc__value *v = &r->values[col];
    if (v->null) {
      tdsc__err_set(&c->err, TDSC_E_NULL_VALUE, "column %zu ('%s') is NULL",
                    col, col_name(r, col));
      return tdsc__conn_fail(c);
    }
    size_t n = v->len - rc->read_off < len ? v->len - rc->read_off : len;
    if (n)
      memcpy(buf, v->data + rc->read_off, n);
    rc->read_off += n;
    *got = n;
    return TDSC_OK;
  }
  if (rc->state == TDSC__COL_STREAMED)
    return TDSC_OK; /* the end, again */
  if (rc->state != TDSC__COL_STREAMING) {
    consumed(r, col);
    return tdsc__conn_fail(c);
  }
  /* Fill buf from the stream: what the last event left, then new events,
   * until buf is full or the value ends. */
  tdsc__result_arm(r);
  uint8_t *out = buf;
  while (*got < len) {
    if (r->pend_len) {
      size_t n = r->pend_len < len - *got ? r->pend_len : len - *got;
      memcpy(out + *got, r->pend, n);
      r->pend += n;
      r->pend_len -= n;
      *got += n;
      rc->delivered += n;
      continue;
    }
    tdsc__event ev;
    tdsc_errc e = pull(r, &ev);
    if (e == TDSC_E_WOULD_BLOCK && *got > 0) {
      tdsc__err_clear(&c->err); /* what came is the caller's now */
      return TDSC_OK;
    }
    if (e != TDSC_OK) {
      *got = 0;
      return tdsc__conn_fail(c);
    }
    if (ev.kind == TDSC__EV_LARGE_END) {
      rc->state = TDSC__COL_STREAMED;
      r->pend = NULL;
      r->next_col = col + 1;
      break;
    }
    r->pend = ev.u.large.data;
    r->pend_len = ev.u.large.len;
  }
  return TDSC_OK;
}
