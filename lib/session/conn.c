/* The connection handle: its life cycle, the error of the last call, the
 * session facts that ENVCHANGE and LOGINACK keep current, and the message
 * handler.  The connect sequence itself is in connect.c. */
#include "config.h"

#include "session/session.h"

#include "clock.h"
#include "tls/tls.h"

#include <stdlib.h>
#include <string.h>

tdsc_conn *tdsc_conn_new(void) {
  tdsc_conn *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  c->packet_size = TDSC__PKT_DEFAULT;
  c->encryption = "";
  if (!(c->waker = tdsc__waker_new())) {
    free(c);
    return NULL;
  }
  atomic_init(&c->cancel, false);
  return c;
}

void tdsc_conn_cancel(tdsc_conn *c) {
  if (!c)
    return;
  atomic_store(&c->cancel, true);
  tdsc__waker_fire(c->waker);
}

/* ---- Non-blocking mode (tdsclient.h): the state is wire.c's; these
 * are the application's view of it. */
tdsc_errc tdsc_conn_set_nonblocking(tdsc_conn *c, bool on) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  c->nonblocking = on;
  return TDSC_OK;
}

bool tdsc_conn_is_nonblocking(const tdsc_conn *c) {
  return c && c->nonblocking;
}

tdsc_socket tdsc_conn_socket(const tdsc_conn *c) {
  intptr_t fd;
  int want, ms;
  if (c && tdsc__connect_waits(c, &fd, &want, &ms))
    return fd == TDSC__NO_POLLFD ? TDSC_INVALID_SOCKET : (tdsc_socket)fd;
  if (!c || !c->io || c->cx)
    return TDSC_INVALID_SOCKET;
  fd = tdsc__io_pollfd(c->io);
  return fd == TDSC__NO_POLLFD ? TDSC_INVALID_SOCKET : (tdsc_socket)fd;
}

static int public_want(int want) {
  return (want & TDSC__WANT_READ ? TDSC_WANT_READ : 0) |
         (want & TDSC__WANT_WRITE ? TDSC_WANT_WRITE : 0);
}

int tdsc_conn_wants(const tdsc_conn *c) {
  intptr_t fd;
  int want, ms;
  if (c && tdsc__connect_waits(c, &fd, &want, &ms))
    return public_want(want);
  if (!c || !c->io || c->cx)
    return 0;
  if (!c->in_response && !c->attn && !tdsc__wire_tx_pending(c))
    return 0; /* idle */
  if (c->want)
    return public_want(c->want);
  int w = 0;
  if (tdsc__wire_tx_pending(c))
    w |= TDSC_WANT_WRITE;
  if (c->in_response)
    w |= TDSC_WANT_READ;
  return w;
}

int tdsc_conn_timeout_ms(const tdsc_conn *c) {
  intptr_t fd;
  int want, ms;
  if (c && tdsc__connect_waits(c, &fd, &want, &ms))
    return ms;
  if (!c || c->cx)
    return -1;
  return tdsc__ms_left(tdsc__wire_deadline(c));
}

/* The deadline for sending what is queued: the response's when one is
 * awaited, else the query timeout from now. */
static int64_t flush_deadline(tdsc_conn *c) {
  return c->in_response ? c->deadline
                        : tdsc__deadline_in(c->query_timeout_ms);
}

tdsc_errc tdsc_conn_flush(tdsc_conn *c) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc__conn_begin(c);
  if (!c->io) {
    tdsc__err_set(&c->err, TDSC_E_NOT_CONNECTED, "the connection is not open");
    return tdsc__conn_fail(c);
  }
  tdsc_errc rc = tdsc__wire_flush(c, flush_deadline(c));
  if (rc == TDSC__AGAIN) {
    tdsc__err_fixed(&c->err, TDSC_E_WOULD_BLOCK,
                    "part of the request is still queued: wait until "
                    "tdsc_conn_socket is ready for tdsc_conn_wants, then "
                    "flush again");
    return tdsc__conn_fail(c);
  }
  if (rc != TDSC_OK) {
    tdsc__conn_drop(c); /* a half-sent request leaves no usable session */
    return tdsc__conn_fail(c);
  }
  return TDSC_OK;
}

tdsc_errc tdsc_conn_consume(tdsc_conn *c) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc__conn_begin(c);
  if (!c->io) {
    tdsc__err_set(&c->err, TDSC_E_NOT_CONNECTED, "the connection is not open");
    return tdsc__conn_fail(c);
  }
  if (tdsc__wire_consume(c) != TDSC_OK) {
    tdsc__conn_drop(c); /* the transport failed: a result learns why */
    return tdsc__conn_fail(c);
  }
  return TDSC_OK;
}

void tdsc_conn_set_query_timeout(tdsc_conn *c, uint32_t ms) {
  if (c)
    c->query_timeout_ms = ms;
}

tdsc_errc tdsc__conn_fail(tdsc_conn *c) {
  c->has_err = true;
  /* the same call again resumes, within the same deadline */
  c->wb_pending = c->err.code == TDSC_E_WOULD_BLOCK;
  if (c->err.code == TDSC_OK) /* a path that forgot to say why */
    tdsc__err_set(&c->err, TDSC_E_PROTOCOL, "internal: failure without "
                                            "an error");
  return c->err.code;
}

static void forget_session(tdsc_conn *c) {
  free(c->database);
  free(c->language);
  free(c->server_name);
  free(c->failover_partner);
  c->database = c->language = c->server_name = c->failover_partner = NULL;
  c->server_version[0] = 0;
  c->tls_version[0] = 0;
  c->address[0] = 0;
  c->tds_version = 0;
  c->encryption = "";
  memset(c->txn, 0, sizeof c->txn);
  memset(c->collation, 0, sizeof c->collation);
  c->packet_size = TDSC__PKT_DEFAULT;
}

void tdsc__conn_drop(tdsc_conn *c) {
  tdsc__io_destroy_all(c->io);
  c->io = NULL;
  c->in_response = false;
  c->cancellable = false;
  tdsc__buf_free(&c->in);
  c->in_pos = 0;
  tdsc__wire_rx_free(c);
  tdsc__wire_tx_free(c);
  c->wb_pending = false;
  if (c->result) {
    /* the fatal error that dropped the connection, set before */
    tdsc__result_detach(c->result, c->err.code != TDSC_OK
                                       ? c->err.code
                                       : TDSC_E_NOT_CONNECTED);
    c->result = NULL;
  }
}

void tdsc_conn_close(tdsc_conn *c) {
  if (!c)
    return;
  tdsc__connect_free(c); /* a connect in progress is abandoned */
  if (c->result) { /* closed by the application, not by a failure */
    tdsc__result_detach(c->result, TDSC_E_NOT_CONNECTED);
    c->result = NULL;
  }
  tdsc__conn_drop(c);
  /* a transaction request that waited (non-blocking mode) is over */
  tdsc_result_free(c->tm);
  c->tm = NULL;
  forget_session(c);
  tdsc__options_clear(&c->opts);
  tdsc__trace_close(c);
}

void tdsc_conn_free(tdsc_conn *c) {
  if (!c)
    return;
  tdsc_conn_close(c);
  tdsc__err_clear(&c->err);
  tdsc__err_clear(&c->attempts);
  tdsc__tokp_free(c->tokp);
  tdsc__buf_free(&c->out);
  tdsc__wire_tx_free(c);
  tdsc__err_clear(&c->tm_first);
  tdsc__waker_free(c->waker);
  tdsc__trace_free(c);
  free(c);
}

/* ---- The connect (connect.c): one walk over the attempts, resumed by
 * tdsc_conn_connect_poll or by the blocking loop below. */

/* After the connect's last step: the session is open, or everything the
 * connect made is undone (the error and the trail stay). */
static tdsc_errc connect_end(tdsc_conn *c, tdsc_errc rc) {
  tdsc__connect_free(c);
  if (rc != TDSC_OK) {
    tdsc__conn_drop(c);
    forget_session(c);
    tdsc__options_clear(&c->opts);
    tdsc__trace_close(c);
    return tdsc__conn_fail(c);
  }
  c->query_timeout_ms = (int64_t)c->opts.query_timeout * 1000;
  c->cancel_timeout_ms = (int64_t)c->opts.cancel_timeout * 1000;
  c->wb_pending = false; /* the polls' WOULD_BLOCK was the connect's */
  /* a cancel meant for an earlier request must not stop the next one */
  atomic_store(&c->cancel, false);
  tdsc__waker_clear(c->waker);
  return TDSC_OK;
}

static tdsc_errc connect_begin(tdsc_conn *c, const char *connstr) {
  tdsc_conn_close(c);
  tdsc__conn_begin(c);
  return tdsc__connect_start(c, connstr);
}

/* One poll: TDSC_E_WOULD_BLOCK while the connect waits. */
static tdsc_errc connect_advance(tdsc_conn *c) {
  tdsc_errc rc = tdsc__connect_poll(c);
  if (rc != TDSC__AGAIN)
    return connect_end(c, rc);
  /* (set, not cleared first: c->err keeps the trail of the attempts
   * that failed so far, for the connect's verdict) */
  tdsc__err_fixed(&c->err, TDSC_E_WOULD_BLOCK,
                  "the connect waits for the server: wait until "
                  "tdsc_conn_socket is ready for tdsc_conn_wants, at most "
                  "tdsc_conn_timeout_ms, then call tdsc_conn_connect_poll");
  return tdsc__conn_fail(c);
}

tdsc_errc tdsc_conn_connect_start(tdsc_conn *c, const char *connstr) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  tdsc_errc rc = connect_begin(c, connstr);
  if (rc != TDSC_OK)
    return connect_end(c, rc);
  return connect_advance(c);
}

tdsc_errc tdsc_conn_connect_poll(tdsc_conn *c) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  if (!c->cx) {
    tdsc__conn_begin(c);
    if (c->io)
      return TDSC_OK; /* connected already */
    tdsc__err_set(&c->err, TDSC_E_NOT_CONNECTED,
                  "no connect is in progress (tdsc_conn_connect_start "
                  "starts one; a failed connect returned its error once)");
    return tdsc__conn_fail(c);
  }
  c->has_err = false; /* (not tdsc__conn_begin: c->err holds the trail) */
  return connect_advance(c);
}

tdsc_errc tdsc_conn_connect(tdsc_conn *c, const char *connstr) {
  if (!c)
    return TDSC_E_INVALID_ARGUMENT;
  /* the same walk as tdsc_conn_connect_poll's, waiting between steps */
  tdsc_errc rc = connect_begin(c, connstr);
  while (rc == TDSC_OK && (rc = tdsc__connect_poll(c)) == TDSC__AGAIN) {
    tdsc__connect_wait(c);
    rc = TDSC_OK;
  }
  return connect_end(c, rc);
}

bool tdsc_conn_is_connected(const tdsc_conn *c) {
  return c && c->io && !c->cx;
}

const tdsc_error *tdsc_conn_error(const tdsc_conn *c) {
  return c && c->has_err ? &c->err : NULL;
}

void tdsc_conn_set_message_handler(tdsc_conn *c, tdsc_message_fn fn,
                                   void *userdata) {
  if (!c)
    return;
  c->on_msg = fn;
  c->on_msg_ud = userdata;
}

void tdsc__conn_message(tdsc_conn *c, const tdsc_message *m) {
  if (c->on_msg)
    c->on_msg(c->on_msg_ud, m);
}

static tdsc_errc set_text(tdsc_conn *c, char **dst, const char *src) {
  char *s = tdsc__strdup(src ? src : "");
  if (!s)
    return tdsc__err_oom(&c->err);
  free(*dst);
  *dst = s;
  return TDSC_OK;
}

/* ENVCHANGE (MS-TDS 2.2.7.9): keep what later requests depend on. */
tdsc_errc tdsc__conn_envchange(tdsc_conn *c, const tdsc__event *ev) {
  const uint8_t *nv = ev->u.envchange.new_val;
  size_t nlen = ev->u.envchange.new_len;
  switch (ev->u.envchange.type) {
  case TDSC__ENV_DATABASE:
    return set_text(c, &c->database, ev->u.envchange.new_text);
  case TDSC__ENV_LANGUAGE:
    return set_text(c, &c->language, ev->u.envchange.new_text);
  case TDSC__ENV_MIRRORPARTNER:
    /* the database's mirroring partner, as the server names it: what the
     * application should give as Failover Partner= next time */
    return set_text(c, &c->failover_partner, ev->u.envchange.new_text);
  case TDSC__ENV_PACKETSIZE: {
    /* decimal digits only (no sign, space or NUL: strtol would take
     * " 512" and "+600", and stop at a NUL), 512..32767 */
    const char *t = ev->u.envchange.new_text;
    uint32_t n = 0;
    bool ok = nv && nlen >= 2 && nlen <= 10 && nlen % 2 == 0;
    for (size_t i = 0; ok && i < nlen; i += 2) {
      ok = nv[i + 1] == 0 && nv[i] >= '0' && nv[i] <= '9';
      n = n * 10 + (uint32_t)(nv[i] - '0');
    }
    if (!ok || n < TDSC__PKT_MIN || n > TDSC__PKT_MAX)
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server set the packet size to '%s' (%zu "
                           "characters): not a decimal number in 512..32767",
                           t ? t : "", nlen / 2);
    c->packet_size = n;
    return TDSC_OK;
  }
  case TDSC__ENV_COLLATION:
    if (nlen == 5)
      memcpy(c->collation, nv, 5);
    return TDSC_OK;
  case TDSC__ENV_BEGINTRAN:
    if (nlen != 8)
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "a begin-transaction ENVCHANGE carries %zu bytes, "
                           "not 8",
                           nlen);
    memcpy(c->txn, nv, 8);
    return TDSC_OK;
  case TDSC__ENV_COMMITTRAN:
  case TDSC__ENV_ROLLBACKTRAN:
  case TDSC__ENV_DEFECTTRAN:
  case TDSC__ENV_TRANENDED:
    memset(c->txn, 0, sizeof c->txn);
    return TDSC_OK;
  default:
    return TDSC_OK;
  }
}

const char *tdsc_conn_database(const tdsc_conn *c) {
  return c && c->database ? c->database : "";
}
const char *tdsc_conn_server_name(const tdsc_conn *c) {
  return c && c->server_name ? c->server_name : "";
}
const char *tdsc_conn_failover_partner(const tdsc_conn *c) {
  return c && c->failover_partner ? c->failover_partner : "";
}
const char *tdsc_conn_server_version(const tdsc_conn *c) {
  return c ? c->server_version : "";
}
uint32_t tdsc_conn_tds_version(const tdsc_conn *c) {
  return c ? c->tds_version : 0;
}
uint32_t tdsc_conn_packet_size(const tdsc_conn *c) {
  return c ? c->packet_size : 0;
}
const char *tdsc_conn_encryption(const tdsc_conn *c) {
  return c && c->io ? c->encryption : "";
}
const char *tdsc_conn_tls_version(const tdsc_conn *c) {
  return c && c->io ? c->tls_version : "";
}

size_t tdsc_conn_attempt_count(const tdsc_conn *c) {
  return c ? c->attempts.ntrail : 0;
}

const tdsc_attempt *tdsc_conn_attempt_at(const tdsc_conn *c, size_t i) {
  return c && i < c->attempts.ntrail ? &c->attempts.trail[i] : NULL;
}
