/* Transactions through transaction manager requests (MS-TDS 2.2.6.9):
 * begin, commit, roll back, savepoints.  The server's ENVCHANGEs keep the
 * descriptor current (conn.c), and every request carries it in ALL_HEADERS;
 * a transaction begun or ended in SQL (BEGIN TRAN in a batch) is tracked
 * the same way. */
#include "config.h"

#include "session/session.h"

#include "clock.h"

#include <stdlib.h>
#include <string.h>

/* Sends one TM request and reads its response to the end: TDSC_OK, or
 * the first error (a server error such as 3902 "no corresponding BEGIN
 * TRANSACTION", a cancel, a lost connection). */
static tdsc_errc tm_request(tdsc_conn *c, tdsc__tm_type type,
                            uint8_t isolation, const char *name) {
  tdsc__conn_begin(c);
  tdsc_result *r = c->tm;
  if (!r) {
    if (tdsc__result_new(c, &r) != TDSC_OK)
      return tdsc__conn_fail(c);
    tdsc__buf_reset(&c->out);
    tdsc_errc rc =
        tdsc__tm_encode(type, isolation, name, c->txn, &c->out, &c->err);
    if (rc == TDSC_OK) {
      rc = tdsc__wire_send(c, TDSC__PKT_TRANSMGR, c->out.data, c->out.len,
                           tdsc__deadline_in(c->query_timeout_ms));
      if (rc != TDSC_OK)
        tdsc__conn_drop(c); /* a half-sent request leaves no usable session */
    }
    tdsc__buf_reset(&c->out);
    if (rc != TDSC_OK) {
      free(r);
      return tdsc__conn_fail(c);
    }
    tdsc__result_start(c, r, c->query_timeout_ms);
    tdsc__err_clear(&c->tm_first);
    /* In non-blocking mode the request waits here for its answer, and
     * the same call again resumes it (whatever its arguments). */
    c->tm = r;
  }
  tdsc_step st;
  while ((st = tdsc_result_next_set(r)) != TDSC_STEP_END) {
    if (st != TDSC_STEP_ERROR)
      continue;
    if (c->err.code == TDSC_E_WOULD_BLOCK && r->conn)
      return tdsc__conn_fail(c);
    if (c->tm_first.code == TDSC_OK && !tdsc__err_copy(&c->tm_first, &c->err))
      tdsc__err_oom(&c->tm_first);
    if (!r->conn)
      break;
  }
  c->tm = NULL;
  tdsc_result_free(r);
  if (c->tm_first.code == TDSC_OK)
    return TDSC_OK;
  tdsc__err_move(&c->err, &c->tm_first);
  return tdsc__conn_fail(c);
}

tdsc_errc tdsc_conn_begin(tdsc_conn *c, tdsc_isolation isolation,
                          const char *name) {
  if (!c || (unsigned)isolation > TDSC_ISOLATION_SNAPSHOT)
    return TDSC_E_INVALID_ARGUMENT;
  return tm_request(c, TDSC__TM_BEGIN, (uint8_t)isolation, name);
}

tdsc_errc tdsc_conn_commit(tdsc_conn *c) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  return tm_request(c, TDSC__TM_COMMIT, 0, NULL);
}

tdsc_errc tdsc_conn_rollback(tdsc_conn *c) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  return tm_request(c, TDSC__TM_ROLLBACK, 0, NULL);
}

tdsc_errc tdsc_conn_savepoint(tdsc_conn *c, const char *name) {
  if (!c || !name || !*name)
    return TDSC_E_INVALID_ARGUMENT;
  return tm_request(c, TDSC__TM_SAVE, 0, name);
}

tdsc_errc tdsc_conn_rollback_to(tdsc_conn *c, const char *name) {
  if (!c || !name || !*name)
    return TDSC_E_INVALID_ARGUMENT;
  return tm_request(c, TDSC__TM_ROLLBACK, 0, name);
}

bool tdsc_conn_in_transaction(const tdsc_conn *c) {
  static const uint8_t none[8] = {0};
  return c && c->io && memcmp(c->txn, none, sizeof none) != 0;
}
