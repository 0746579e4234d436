/* The current row's values and the columns' descriptions: thin checks in
 * front of the value decoders of lib/proto/values.c, with errors recorded
 * on the connection like every other call. */
#include "config.h"

#include "session/session.h"

#include "proto/values.h"

size_t tdsc_result_column_count(const tdsc_result *r) {
  return r ? r->ncols : 0;
}

const tdsc_column *tdsc_result_column(const tdsc_result *r, size_t i) {
  return r && i < r->ncols ? &r->cols[i] : NULL;
}

const char *tdsc_column_name(const tdsc_column *col) {
  return col && col->ci->name ? col->ci->name : "";
}

tdsc_type tdsc_column_type(const tdsc_column *col) {
  return col ? col->ci->type : TDSC_TYPE_UNKNOWN;
}

int32_t tdsc_column_max_size(const tdsc_column *col) {
  if (!col)
    return 0;
  const tdsc__colinfo *ci = col->ci;
  switch (ci->lenkind) {
  case TDSC__LEN_FIXED:
    return (int32_t)ci->fixed_len;
  case TDSC__LEN_PLP:
  case TDSC__LEN_LONG:
    return -1;
  default:
    return (int32_t)ci->max_len;
  }
}

uint8_t tdsc_column_precision(const tdsc_column *col) {
  return col ? col->ci->precision : 0;
}

uint8_t tdsc_column_scale(const tdsc_column *col) {
  return col ? col->ci->scale : 0;
}

bool tdsc_column_nullable(const tdsc_column *col) {
  return col ? (col->ci->flags & 0x0001) != 0 : false;
}

/* Checks common to every getter (and tdsc_result_is_null): the result
 * still has its connection, a row is current, col is in range.  The
 * connection is held in c before anything reads the stream: a failed read
 * detaches r (r->conn becomes NULL) while c lives on.  row_col is the
 * common case inline (issue 15: the getters' calls were a quarter of a
 * typed row), row_col_fail the same checks in order for the rest. */
static tdsc_errc row_col_fail(tdsc_result *r, size_t col) {
  if (!r)
    return TDSC_E_INVALID_ARGUMENT;
  if (!r->conn)
    return tdsc__result_gone(r);
  tdsc_conn *c = r->conn;
  tdsc__conn_begin(c);
  if (!r->has_row) {
    tdsc__err_set(&c->err, TDSC_E_NO_ROW,
                  "no current row: call tdsc_result_next_row first");
    return tdsc__conn_fail(c);
  }
  if (col >= r->ncols) {
    tdsc__err_set(&c->err, TDSC_E_COLUMN_RANGE,
                  "column %zu does not exist: the result has %zu column%s",
                  col, r->ncols, r->ncols == 1 ? "" : "s");
    return tdsc__conn_fail(c);
  }
  return TDSC_OK;
}

static inline tdsc_errc row_col(tdsc_result *r, size_t col) {
  if (!r || !r->conn || !r->has_row || col >= r->ncols)
    return row_col_fail(r, col);
  tdsc__conn_begin(r->conn);
  return TDSC_OK;
}

static tdsc_errc null_fail(tdsc_result *r, size_t col) {
  tdsc_conn *c = r->conn;
  tdsc__err_set(&c->err, TDSC_E_NULL_VALUE, "column %zu ('%s') is NULL", col,
                r->cols[col].ci->name ? r->cols[col].ci->name : "");
  return tdsc__conn_fail(c);
}

/* On success *v is the value of col, which is not NULL.  A row without
 * large values is whole in r->values; a lazy one is read up to col
 * (stream.c). */
static inline tdsc_errc value_at(tdsc_result *r, size_t col,
                                 const tdsc__value **v) {
  tdsc_errc rc = row_col(r, col);
  if (rc != TDSC_OK)
    return rc;
  if (!r->lazy)
    *v = &r->values[col];
  else {
    tdsc_conn *c = r->conn;
    if (tdsc__row_value(r, col, v) != TDSC_OK)
      return tdsc__conn_fail(c);
  }
  if ((*v)->null)
    return null_fail(r, col);
  return TDSC_OK;
}

static tdsc_errc finish(tdsc_result *r, tdsc_errc rc) {
  return rc == TDSC_OK ? TDSC_OK : tdsc__conn_fail(r->conn);
}

tdsc_errc tdsc_result_is_null(tdsc_result *r, size_t col, bool *null) {
  if (null)
    *null = false;
  if (!null)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc_errc rc = row_col(r, col);
  if (rc != TDSC_OK)
    return rc;
  if (!r->lazy) {
    *null = r->values[col].null;
    return TDSC_OK;
  }
  /* A lazy row may have to read up to the column, and the read may fail
   * and detach r: report on c, never through r->conn. */
  tdsc_conn *c = r->conn;
  if (tdsc__row_is_null(r, col, null) != TDSC_OK) {
    *null = false;
    return tdsc__conn_fail(c);
  }
  return TDSC_OK;
}

tdsc_errc tdsc_result_get_int64(tdsc_result *r, size_t col, int64_t *out) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out)
    return TDSC_E_INVALID_ARGUMENT;
  return finish(r, tdsc__val_int64(r->cols[col].ci, v, out, &r->conn->err));
}

tdsc_errc tdsc_result_get_double(tdsc_result *r, size_t col, double *out) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out)
    return TDSC_E_INVALID_ARGUMENT;
  return finish(r, tdsc__val_double(r->cols[col].ci, v, out, &r->conn->err));
}

tdsc_errc tdsc_result_get_decimal(tdsc_result *r, size_t col,
                                  tdsc_decimal *out) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out)
    return TDSC_E_INVALID_ARGUMENT;
  return finish(r, tdsc__val_decimal(r->cols[col].ci, v, out, &r->conn->err));
}

tdsc_errc tdsc_result_get_datetime(tdsc_result *r, size_t col,
                                   tdsc_datetime *out) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out)
    return TDSC_E_INVALID_ARGUMENT;
  return finish(r,
                tdsc__val_datetime(r->cols[col].ci, v, out, &r->conn->err));
}

tdsc_errc tdsc_result_get_guid(tdsc_result *r, size_t col, uint8_t out[16]) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out)
    return TDSC_E_INVALID_ARGUMENT;
  return finish(r, tdsc__val_guid(r->cols[col].ci, v, out, &r->conn->err));
}

tdsc_errc tdsc_result_get_bytes(tdsc_result *r, size_t col,
                                const uint8_t **out, size_t *len) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out || !len)
    return TDSC_E_INVALID_ARGUMENT;
  return finish(r,
                tdsc__val_bytes(r->cols[col].ci, v, out, len, &r->conn->err));
}

tdsc_errc tdsc_result_get_text(tdsc_result *r, size_t col, const char **out,
                               size_t *len) {
  const tdsc__value *v;
  tdsc_errc rc = value_at(r, col, &v);
  if (rc != TDSC_OK)
    return rc;
  if (!out)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc__buf *b = &r->text[col];
  if (!r->text_ok[col]) {
    tdsc__buf_reset(b);
    rc = tdsc__val_text(r->cols[col].ci, v, b, &r->conn->err);
    if (rc == TDSC_OK && !tdsc__buf_cstr(b))
      rc = tdsc__err_oom(&r->conn->err);
    if (rc != TDSC_OK)
      return finish(r, rc);
    r->text_ok[col] = true;
  }
  *out = (const char *)b->data;
  if (len)
    *len = b->len;
  return TDSC_OK;
}

tdsc_result_kind tdsc_result_kind_of(const tdsc_result *r) {
  if (r && r->is_output)
    return TDSC_RESULT_OUTPUT;
  return r && r->ncols ? TDSC_RESULT_ROWS : TDSC_RESULT_COUNT;
}

bool tdsc_result_return_status(const tdsc_result *r, int32_t *out) {
  if (!r || !r->has_status)
    return false;
  if (out)
    *out = r->return_status;
  return true;
}
