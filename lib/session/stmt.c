/* Statements: parameterised SQL through sp_executesql (or sp_prepare /
 * sp_execute / sp_unprepare once prepared) and stored procedures by name,
 * sent as RPC requests (MS-TDS 2.2.6.6).  Values are converted to their
 * wire form when bound (lib/proto/rpc.c), so type errors come before any
 * traffic; streamed values are read and sent packet by packet through
 * wire.c, never held whole.  The response is an ordinary tdsc_result
 * (exec.c), with the return status and output parameters. */
#include "config.h"

#include "session/session.h"

#include "clock.h"
#include "proto/rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STREAM_CHUNK 32768 /* bytes read from a tdsc_read_fn at a time */

typedef struct bound {
  char *name; /* "@x", or NULL when positional */
  tdsc__param p;
  tdsc__buf store; /* the value's bytes (text converted, bytes copied) */
  tdsc_read_fn read;
  void *ud;
  long long total;
} bound;

struct tdsc_stmt {
  tdsc_conn *conn;
  bool is_proc;
  char *text; /* the SQL, or the procedure's name */
  bound *b;
  size_t n, cap;
  bool prepared;
  int32_t handle;
  int64_t timeout_ms; /* -1: the connection's query timeout */
  /* sp_prepare's response while tdsc_stmt_prepare would block
   * (non-blocking mode): the same call again goes on with it */
  tdsc_result *pending;
  tdsc_error pend_err; /* its first failure */
  int32_t pend_handle;
  bool pend_got;
};

static tdsc_stmt *stmt_new(tdsc_conn *c, const char *text, bool proc) {
  if (!c || !text || !*text)
    return NULL;
  tdsc_stmt *s = calloc(1, sizeof *s);
  if (!s || !(s->text = strdup(text))) {
    free(s);
    return NULL;
  }
  s->conn = c;
  s->is_proc = proc;
  s->timeout_ms = -1;
  return s;
}

void tdsc_stmt_set_query_timeout(tdsc_stmt *s, uint32_t ms) {
  if (s)
    s->timeout_ms = ms;
}

tdsc_stmt *tdsc_stmt_new_sql(tdsc_conn *c, const char *sql) {
  return stmt_new(c, sql, false);
}

tdsc_stmt *tdsc_stmt_new_proc(tdsc_conn *c, const char *procedure) {
  return stmt_new(c, procedure, true);
}

static tdsc_errc usage(tdsc_stmt *s, const char *fmt, const char *arg) {
  tdsc__err_set(&s->conn->err, TDSC_E_INVALID_ARGUMENT, fmt, arg);
  return tdsc__conn_fail(s->conn);
}

/* The slot for name ("x" and "@x" alike; NULL: the next position). A new
 * slot is appended with *fresh set. */
static tdsc_errc slot(tdsc_stmt *s, const char *name, bound **out,
                      bool *fresh) {
  *fresh = false;
  if (!name && !s->is_proc)
    return usage(s, "%s: parameters of a SQL statement are bound by name "
                 "(@x), not by position", "tdsc_stmt_bind");
  char norm[260];
  if (name) {
    const char *bare = name[0] == '@' ? name + 1 : name;
    if (!*bare || strlen(bare) > 127)
      return usage(s, "parameter name '%s' is empty or longer than 127 "
                   "characters", name);
    snprintf(norm, sizeof norm, "@%s", bare);
    for (size_t i = 0; i < s->n; i++)
      if (s->b[i].name && strcasecmp(s->b[i].name, norm) == 0) {
        *out = &s->b[i];
        return TDSC_OK;
      }
  } else {
    for (size_t i = 0; i < s->n; i++)
      if (s->b[i].name)
        return usage(s, "%s: a positional parameter cannot follow a named "
                     "one", "tdsc_stmt_bind");
  }
  if (s->n == s->cap) {
    size_t cap = s->cap ? 2 * s->cap : 8;
    bound *nb = realloc(s->b, cap * sizeof *nb);
    if (!nb) {
      tdsc__err_oom(&s->conn->err);
      return tdsc__conn_fail(s->conn);
    }
    s->b = nb;
    s->cap = cap;
  }
  bound *b = &s->b[s->n];
  memset(b, 0, sizeof *b);
  tdsc__buf_init(&b->store);
  if (name && !(b->name = strdup(norm))) {
    tdsc__err_oom(&s->conn->err);
    return tdsc__conn_fail(s->conn);
  }
  s->n++;
  *out = b;
  *fresh = true;
  return TDSC_OK;
}

/* Binding: the value is converted into a scratch slot first, so a failed
 * rebind leaves the previous value in place; a failed first bind leaves no
 * slot. */
typedef enum { V_NULL, V_INT, V_DOUBLE, V_DEC, V_TEXT, V_BYTES, V_DT,
               V_GUID, V_STREAM } vkind;

typedef struct value {
  vkind k;
  int64_t i;
  double d;
  const tdsc_decimal *dec;
  const void *p;
  size_t n;
  const tdsc_datetime *dt;
  tdsc_read_fn read;
  void *ud;
  long long total;
} value;

static tdsc_errc bind_value(tdsc_stmt *s, const char *name, tdsc_type t,
                      const value *v) {
  if (!s)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc_conn *c = s->conn;
  tdsc__conn_begin(c);
  bound *b = NULL;
  bool fresh;
  if (slot(s, name, &b, &fresh) != TDSC_OK)
    return c->err.code;
  bound nb;
  memset(&nb, 0, sizeof nb);
  tdsc__buf_init(&nb.store);
  nb.p.name = b->name;
  nb.p.status = b->p.status;
  const uint8_t *coll = c->collation;
  tdsc_error *err = &c->err;
  tdsc_errc rc;
  switch (v->k) {
  case V_NULL:
    rc = tdsc__param_null(&nb.p, t, coll, err);
    break;
  case V_INT:
    rc = tdsc__param_int64(&nb.p, t, v->i, err);
    break;
  case V_DOUBLE:
    rc = tdsc__param_double(&nb.p, t, v->d, err);
    break;
  case V_DEC:
    rc = tdsc__param_decimal(&nb.p, t, v->dec, err);
    break;
  case V_TEXT:
    rc = tdsc__param_text(&nb.p, t, v->p, v->n, coll, &nb.store, err);
    break;
  case V_BYTES:
    tdsc__buf_put(&nb.store, v->p, v->n);
    rc = nb.store.oom ? tdsc__err_oom(err)
                      : tdsc__param_bytes(&nb.p, t, nb.store.data, v->n, err);
    break;
  case V_DT:
    rc = tdsc__param_datetime(&nb.p, t, v->dt, err);
    break;
  case V_GUID:
    rc = tdsc__param_guid(&nb.p, v->p);
    break;
  default:
    rc = tdsc__param_stream(&nb.p, t, coll, err);
    nb.read = v->read, nb.ud = v->ud, nb.total = v->total;
    if (rc == TDSC_OK && nb.p.status & TDSC__PARAM_BYREF)
      rc = tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "parameter %s is OUTPUT: a streamed value cannot "
                         "be one", b->name ? b->name : "(positional)");
  }
  if (rc != TDSC_OK) {
    tdsc__buf_free(&nb.store);
    if (fresh) {
      free(b->name);
      s->n--;
    }
    return tdsc__conn_fail(c);
  }
  /* Values live in the heap store, never in the slot (slots move when
   * the array grows). */
  if (nb.p.data == nb.p.fixed) {
    tdsc__buf_reset(&nb.store);
    tdsc__buf_put(&nb.store, nb.p.fixed, nb.p.len ? nb.p.len : 1);
    if (nb.store.oom) {
      tdsc__buf_free(&nb.store);
      tdsc__err_oom(err);
      if (fresh) {
        free(b->name);
        s->n--;
      }
      return tdsc__conn_fail(c);
    }
    nb.p.data = nb.store.data;
  }
  tdsc__buf_free(&b->store);
  nb.name = b->name;
  *b = nb;
  return TDSC_OK;
}

tdsc_errc tdsc_stmt_bind_null(tdsc_stmt *s, const char *name, tdsc_type t) {
  value v = {.k = V_NULL};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_int64(tdsc_stmt *s, const char *name, tdsc_type t,
                               int64_t x) {
  value v = {.k = V_INT, .i = x};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_double(tdsc_stmt *s, const char *name, tdsc_type t,
                                double x) {
  value v = {.k = V_DOUBLE, .d = x};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_decimal(tdsc_stmt *s, const char *name, tdsc_type t,
                                 const tdsc_decimal *x) {
  if (!x)
    return TDSC_E_INVALID_ARGUMENT;
  value v = {.k = V_DEC, .dec = x};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_text(tdsc_stmt *s, const char *name, tdsc_type t,
                              const char *utf8, size_t len) {
  if (!utf8 && len)
    return TDSC_E_INVALID_ARGUMENT;
  value v = {.k = V_TEXT, .p = utf8 ? utf8 : "", .n = len};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_bytes(tdsc_stmt *s, const char *name, tdsc_type t,
                               const void *p, size_t len) {
  if (!p && len)
    return TDSC_E_INVALID_ARGUMENT;
  value v = {.k = V_BYTES, .p = p ? p : "", .n = len};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_datetime(tdsc_stmt *s, const char *name,
                                  tdsc_type t, const tdsc_datetime *x) {
  if (!x)
    return TDSC_E_INVALID_ARGUMENT;
  value v = {.k = V_DT, .dt = x};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_bind_guid(tdsc_stmt *s, const char *name,
                              const uint8_t g[16]) {
  if (!g)
    return TDSC_E_INVALID_ARGUMENT;
  value v = {.k = V_GUID, .p = g};
  return bind_value(s, name, TDSC_TYPE_UNIQUEIDENTIFIER, &v);
}

tdsc_errc tdsc_stmt_bind_stream(tdsc_stmt *s, const char *name, tdsc_type t,
                                tdsc_read_fn read, void *userdata,
                                long long total) {
  if (!read)
    return TDSC_E_INVALID_ARGUMENT;
  value v = {.k = V_STREAM, .read = read, .ud = userdata,
             .total = total < 0 ? -1 : total};
  return bind_value(s, name, t, &v);
}

tdsc_errc tdsc_stmt_set_output(tdsc_stmt *s, const char *name) {
  if (!s || !name)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc__conn_begin(s->conn);
  const char *bare = name[0] == '@' ? name + 1 : name;
  for (size_t i = 0; i < s->n; i++) {
    bound *b = &s->b[i];
    if (b->name && strcasecmp(b->name + 1, bare) == 0) {
      if (b->p.stream)
        return usage(s, "parameter %s is streamed: it cannot be OUTPUT",
                     b->name);
      b->p.status |= TDSC__PARAM_BYREF;
      return TDSC_OK;
    }
  }
  return usage(s, "no parameter %s is bound: bind it before marking it "
               "OUTPUT", name);
}

/* "@a int, @b nvarchar(4000) OUTPUT, ..." from the bound types. */
static bool declaration(const tdsc_stmt *s, tdsc__buf *out) {
  for (size_t i = 0; i < s->n; i++) {
    const bound *b = &s->b[i];
    if (i)
      tdsc__buf_put_str(out, ", ");
    tdsc__buf_put_str(out, b->name);
    tdsc__buf_put_u8(out, ' ');
    tdsc__param_decl(&b->p, out);
    if (b->p.status & TDSC__PARAM_BYREF)
      tdsc__buf_put_str(out, " OUTPUT");
  }
  return !out->oom;
}

/* An internal parameter of the system procedures (statement text,
 * declaration, handle), positional. */
static tdsc_errc put_text_param(tdsc_conn *c, const char *text,
                                tdsc__buf *store) {
  tdsc__param p = {0};
  tdsc_errc rc = tdsc__param_text(&p, TDSC_TYPE_NVARCHAR, text, strlen(text),
                                  c->collation, store, &c->err);
  return rc ? rc : tdsc__rpc_param(&c->out, &p, -1, &c->err);
}

static tdsc_errc put_int_param(tdsc_conn *c, bool null, int32_t v,
                               uint8_t status) {
  tdsc__param p = {.status = status};
  tdsc_errc rc = null ? tdsc__param_null(&p, TDSC_TYPE_INT, NULL, &c->err)
                      : tdsc__param_int64(&p, TDSC_TYPE_INT, v, &c->err);
  return rc ? rc : tdsc__rpc_param(&c->out, &p, -1, &c->err);
}

/* Streams one PLP value: reads chunks from the callback and sends whole
 * packets as c->out fills. *sent tells whether packets went out. */
static tdsc_errc stream_value(tdsc_conn *c, const bound *b, uint8_t *chunk,
                              bool *sent, int64_t deadline, bool *aborted) {
  long long got = 0;
  for (;;) {
    long long n = b->read(b->ud, chunk, STREAM_CHUNK);
    if (n < 0 || n > STREAM_CHUNK) {
      *aborted = true;
      return tdsc__err_set(&c->err, TDSC_E_INVALID_ARGUMENT,
                           "the read callback of parameter %s %s after %lld "
                           "bytes: the request was abandoned",
                           b->name ? b->name : "(positional)",
                           n < 0 ? "aborted" : "returned more than asked",
                           got);
    }
    if (n == 0)
      break;
    got += n;
    if (b->total >= 0 && got > b->total)
      break;
    tdsc__rpc_plp_chunk(&c->out, chunk, (uint32_t)n);
    if (c->out.oom)
      return tdsc__err_oom(&c->err);
    tdsc_errc rc = tdsc__wire_send_part(c, TDSC__PKT_RPC, &c->out, !*sent,
                                        false, 0, deadline);
    if (rc != TDSC_OK)
      return rc;
    *sent = true;
  }
  if (b->total >= 0 && got != b->total) {
    *aborted = true;
    return tdsc__err_set(&c->err, TDSC_E_INVALID_ARGUMENT,
                         "parameter %s was declared %lld bytes long but its "
                         "read callback gave %s%lld: the request was "
                         "abandoned",
                         b->name ? b->name : "(positional)", b->total,
                         got > b->total ? "more than " : "",
                         got > b->total ? b->total : got);
  }
  tdsc__rpc_plp_end(&c->out);
  return TDSC_OK;
}

typedef enum { RPC_USER, RPC_PREPARE, RPC_UNPREPARE } rpc_kind;

/* Builds and sends the request; on success the response is r's. */
static tdsc_errc send_rpc(tdsc_stmt *s, rpc_kind kind, tdsc_result **out) {
  tdsc_conn *c = s->conn;
  tdsc_result *r;
  if (tdsc__result_new(c, &r) != TDSC_OK)
    return c->err.code;
  int64_t timeout = s->timeout_ms >= 0 ? s->timeout_ms : c->query_timeout_ms;
  int64_t deadline = tdsc__deadline_in(timeout);
  tdsc__buf decl, store;
  tdsc__buf_init(&decl);
  tdsc__buf_init(&store);
  uint8_t *chunk = NULL;
  bool sent = false, aborted = false;
  tdsc_errc rc = TDSC_OK;
  tdsc__buf_reset(&c->out);
  if (kind == RPC_PREPARE || (kind == RPC_USER && !s->is_proc && s->n))
    if (!declaration(s, &decl) || !tdsc__buf_cstr(&decl))
      rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK) {
    if (kind == RPC_UNPREPARE)
      rc = tdsc__rpc_begin(&c->out, c->txn, 1, TDSC__PROC_UNPREPARE, NULL, 0,
                           &c->err);
    else if (kind == RPC_PREPARE)
      rc = tdsc__rpc_begin(&c->out, c->txn, 1, TDSC__PROC_PREPARE, NULL, 0,
                           &c->err);
    else if (s->is_proc)
      rc = tdsc__rpc_begin(&c->out, c->txn, 1, 0, s->text, 0, &c->err);
    else
      rc = tdsc__rpc_begin(&c->out, c->txn, 1,
                           s->prepared ? TDSC__PROC_EXECUTE
                                       : TDSC__PROC_EXECUTESQL,
                           NULL, 0, &c->err);
  }
  if (rc == TDSC_OK) {
    switch (kind) {
    case RPC_UNPREPARE:
      rc = put_int_param(c, false, s->handle, 0);
      break;
    case RPC_PREPARE: /* @handle OUTPUT, @params, @stmt, @options = 1 */
      rc = put_int_param(c, true, 0, TDSC__PARAM_BYREF);
      if (rc == TDSC_OK)
        rc = put_text_param(c, (const char *)decl.data, &store);
      if (rc == TDSC_OK)
        rc = put_text_param(c, s->text, &store);
      if (rc == TDSC_OK)
        rc = put_int_param(c, false, 1, 0);
      break;
    default:
      if (s->is_proc)
        break;
      if (s->prepared) {
        rc = put_int_param(c, false, s->handle, 0);
        break;
      }
      rc = put_text_param(c, s->text, &store); /* @stmt */
      if (rc == TDSC_OK && s->n)
        rc = put_text_param(c, (const char *)decl.data, &store); /* @params */
    }
  }
  for (size_t i = 0; kind == RPC_USER && rc == TDSC_OK && i < s->n; i++) {
    const bound *b = &s->b[i];
    rc = tdsc__rpc_param(&c->out, &b->p, b->total, &c->err);
    if (rc != TDSC_OK || !b->p.stream)
      continue;
    if (!chunk && !(chunk = malloc(STREAM_CHUNK))) {
      rc = tdsc__err_oom(&c->err);
      break;
    }
    rc = stream_value(c, b, chunk, &sent, deadline, &aborted);
  }
  if (rc == TDSC_OK && c->out.oom)
    rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK)
    rc = tdsc__wire_send_part(c, TDSC__PKT_RPC, &c->out, !sent, true, 0,
                              deadline);
  else if (sent && aborted) {
    /* Part of the message is on the wire: end it with the ignore bit
     * (2.2.3.1.2), which tells the server to drop the whole message; no
     * response follows. Keep the callback's error. */
    tdsc_error keep = c->err;
    memset(&c->err, 0, sizeof c->err);
    tdsc_errc wrc = tdsc__wire_send_part(c, TDSC__PKT_RPC, &c->out, false,
                                         true, TDSC__PKT_IGNORE, deadline);
    if (wrc != TDSC_OK) {
      tdsc__err_clear(&keep);
      sent = true, aborted = false; /* drop the connection below */
      rc = wrc;
    } else {
      tdsc__err_clear(&c->err);
      c->err = keep;
      sent = false;
    }
  }
  if (rc != TDSC_OK && sent)
    tdsc__conn_drop(c); /* a half-sent request leaves no usable session */
  tdsc__buf_reset(&c->out);
  free(chunk);
  tdsc__buf_free(&decl);
  tdsc__buf_free(&store);
  if (rc != TDSC_OK) {
    free(r);
    return rc;
  }
  r->rpc = true;
  tdsc__result_start(c, r, timeout);
  *out = r;
  return TDSC_OK;
}

tdsc_errc tdsc_stmt_execute(tdsc_stmt *s, tdsc_result **out) {
  if (!s || !out)
    return TDSC_E_INVALID_ARGUMENT;
  *out = NULL;
  tdsc__conn_begin(s->conn);
  for (size_t i = 0; !s->is_proc && i < s->n; i++)
    if (!s->b[i].name)
      return usage(s, "%s: SQL statement parameters need names",
                   "tdsc_stmt_execute");
  if (send_rpc(s, RPC_USER, out) != TDSC_OK)
    return tdsc__conn_fail(s->conn);
  return TDSC_OK;
}

/* Reads sp_prepare's response (s->pending) to its end, keeping the
 * handle of its output parameter; TDSC_E_WOULD_BLOCK (non-blocking mode)
 * leaves the response and what was read of it in s for the next call. */
static tdsc_errc drain(tdsc_stmt *s) {
  tdsc_conn *c = s->conn;
  tdsc_result *r = s->pending;
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) != TDSC_STEP_END) {
    if (st == TDSC_STEP_ERROR) {
      if (r->conn && c->err.code == TDSC_E_WOULD_BLOCK)
        return TDSC_E_WOULD_BLOCK;
      if (!r->conn && c->err.code == TDSC_OK) /* closed while it waited */
        tdsc__err_set(&c->err, tdsc__result_gone(r),
                      "the connection was closed before sp_prepare "
                      "answered");
      if (s->pend_err.code == TDSC_OK && !tdsc__err_copy(&s->pend_err, &c->err))
        tdsc__err_oom(&s->pend_err);
      if (!r->conn)
        break;
      continue;
    }
    /* the output row is held already: no network */
    if (tdsc_result_kind_of(r) == TDSC_RESULT_OUTPUT &&
        tdsc_result_next_row(r) == TDSC_STEP_ROW) {
      int64_t h;
      if (tdsc_result_get_int64(r, 0, &h) == TDSC_OK) {
        s->pend_handle = (int32_t)h;
        s->pend_got = true;
      }
    }
  }
  s->pending = NULL;
  tdsc_result_free(r);
  if (s->pend_err.code != TDSC_OK) {
    /* the first failure's description, kept across result_free */
    tdsc__err_move(&c->err, &s->pend_err);
    return c->err.code;
  }
  return TDSC_OK;
}

/* In blocking mode the response is read at once; in non-blocking mode
 * by the connection's next request (tdsc_result_free). */
static void unprepare(tdsc_stmt *s) {
  tdsc_conn *c = s->conn;
  if (!s->prepared)
    return;
  s->prepared = false;
  if (!c->io || c->result)
    return; /* not idle: the server frees it with the session */
  tdsc_result *r;
  if (send_rpc(s, RPC_UNPREPARE, &r) == TDSC_OK)
    tdsc_result_free(r);
}

tdsc_errc tdsc_stmt_prepare(tdsc_stmt *s) {
  if (!s)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc_conn *c = s->conn;
  tdsc__conn_begin(c);
  if (s->pending)
    goto resume;
  if (s->is_proc)
    return usage(s, "%s: only SQL statements are prepared; a procedure "
                 "is executed by name", "tdsc_stmt_prepare");
  for (size_t i = 0; i < s->n; i++)
    if (s->b[i].p.stream)
      return usage(s, "parameter %s is streamed: a prepared statement "
                   "takes no streamed values", s->b[i].name);
  if (c->result) {
    tdsc__err_set(&c->err, TDSC_E_BUSY,
                  "a result of this connection is still open: free it "
                  "before preparing a statement");
    return tdsc__conn_fail(c);
  }
  unprepare(s);
  tdsc__conn_begin(c);
  if (send_rpc(s, RPC_PREPARE, &s->pending) != TDSC_OK)
    return tdsc__conn_fail(c);
  tdsc__err_clear(&s->pend_err);
  s->pend_got = false;
  s->pend_handle = 0;
resume:
  if (drain(s) != TDSC_OK)
    return tdsc__conn_fail(c);
  if (!s->pend_got) {
    tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                  "sp_prepare returned no handle (no output parameter)");
    return tdsc__conn_fail(c);
  }
  s->handle = s->pend_handle;
  s->prepared = true;
  return TDSC_OK;
}

void tdsc_stmt_free(tdsc_stmt *s) {
  if (!s)
    return;
  tdsc_result_free(s->pending); /* a prepare left waiting */
  tdsc__err_clear(&s->pend_err);
  unprepare(s);
  for (size_t i = 0; i < s->n; i++) {
    free(s->b[i].name);
    tdsc__buf_free(&s->b[i].store);
  }
  free(s->b);
  free(s->text);
  free(s);
}
