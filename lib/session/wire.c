/* TDS messages over the filter stack: splitting a message into packets of
 * the negotiated size on the way out, and on the way in, reassembling
 * packets into the byte stream the token parser reads (MS-TDS 2.2.3). */
#include "config.h"

#include "session/session.h"

#include "clock.h"

#include <string.h>

/* The output side: whole messages are framed into c->tx and sent from
 * c->tx_pos with write_some, the unsent bytes kept in place until they go
 * (a TLS write must be retried with the same bytes).  In blocking mode a
 * send waits in io_run until all is out; in non-blocking mode what does
 * not go at once is sent by tdsc_conn_flush and before every read. */

/* Every whole packet the connection sends is queued here (later, TLS may
 * encrypt it): the one place the protocol trace sees them. */
static tdsc_errc queue_packet(tdsc_conn *c,
                              const uint8_t hdr[TDSC__PKT_HDR_LEN],
                              const uint8_t *payload, size_t n) {
  uint8_t *p = tdsc__buf_extend(&c->tx, TDSC__PKT_HDR_LEN + n);
  if (!p)
    return tdsc__err_oom(&c->err);
  memcpy(p, hdr, TDSC__PKT_HDR_LEN);
  if (n)
    memcpy(p + TDSC__PKT_HDR_LEN, payload, n);
  if (c->trace)
    tdsc__trace_packet(c, TDSC__TRACE_SEND, p, p + TDSC__PKT_HDR_LEN, n);
  return TDSC_OK;
}

size_t tdsc__wire_tx_pending(const tdsc_conn *c) {
  return c->tx.len - c->tx_pos;
}

/* Room for a message of len payload bytes in packets of max, reserved
 * before it is queued: the queue never moves (realloc) while it holds a
 * secret. */
static tdsc_errc tx_reserve(tdsc_conn *c, size_t len, size_t max) {
  size_t n = len + (len / max + 1) * TDSC__PKT_HDR_LEN;
  if (!tdsc__buf_reserve(&c->tx, n))
    return tdsc__err_oom(&c->err);
  return TDSC_OK;
}

/* All sent: the queue may have held a secret (LOGIN7's scrambled
 * password, an authentication token), so it is wiped, not only reset. */
static void tx_sent(tdsc_conn *c) {
  if (c->tx.data)
    tdsc__wipe(c->tx.data, c->tx.len);
  tdsc__buf_reset(&c->tx);
  c->tx_pos = 0;
}

void tdsc__wire_tx_free(tdsc_conn *c) {
  tdsc__buf_wipe(&c->tx);
  tdsc__buf_free(&c->tx);
  c->tx_pos = 0;
  c->attn = false;
  c->want = 0;
}

#define RX_CAP (64 * 1024)

/* One try, never waiting: sends what is queued, then (with read) reads
 * what the transport has into c->rx.  TDSC__AGAIN with c->want set when
 * the transport has to wait. */
static tdsc_errc io_try(tdsc_conn *c, bool read) {
  int want = 0;
  while (c->tx_pos < c->tx.len) {
    size_t put = 0;
    tdsc_errc rc = tdsc__io_write_some(c->io, c->tx.data + c->tx_pos,
                                       c->tx.len - c->tx_pos, &put, &want,
                                       &c->err);
    if (rc == TDSC__AGAIN) {
      c->want = want;
      return rc;
    }
    if (rc != TDSC_OK)
      return rc;
    c->tx_pos += put;
    if (c->tx_pos == c->tx.len)
      tx_sent(c);
  }
  c->want = 0;
  if (!read)
    return TDSC_OK;
  size_t got = 0;
  tdsc_errc rc = tdsc__io_read_some(c->io, c->rx.data + c->rx.len,
                                    RX_CAP - c->rx.len, &got, &want, &c->err);
  if (rc == TDSC__AGAIN) {
    c->want = want;
    return rc;
  }
  if (rc == TDSC_OK)
    c->rx.len += got;
  return rc;
}

/* A transport with no descriptor to poll (none, once every transport
 * has one: io.h "Non-blocking use") is waited on through its own blocking
 * operation, as before the non-blocking interface. */
static tdsc_errc io_block(tdsc_conn *c, bool read, int64_t deadline,
                          bool wake) {
  if (tdsc__wire_tx_pending(c)) {
    tdsc_errc rc = c->io->ops->write(c->io, c->tx.data + c->tx_pos,
                                     c->tx.len - c->tx_pos, deadline, &c->err);
    if (rc != TDSC_OK)
      return rc;
    tx_sent(c);
  }
  if (!read)
    return TDSC_OK;
  size_t got = 0;
  if (wake)
    tdsc__io_set_wake(c->io, c->waker);
  tdsc_errc rc = c->io->ops->read(c->io, c->rx.data + c->rx.len,
                                  RX_CAP - c->rx.len, &got, deadline, &c->err);
  if (wake)
    tdsc__io_set_wake(c->io, NULL);
  if (rc == TDSC_OK)
    c->rx.len += got;
  return rc;
}

/* The one loop every blocking call waits in: a non-blocking try, then
 * tdsc__io_wait for what it wants, until deadline.  In non-blocking mode
 * (nb) the try is made once and TDSC__AGAIN returned; a deadline that has
 * passed is a timeout in either mode, so a non-blocking caller that calls
 * again at tdsc_conn_timeout_ms meets the same codes as a blocking one.
 * With interruptible, a wait that starts with no partial packet in hand
 * also ends when the connection's waker fires (tdsc_conn_cancel from
 * another thread: TDSC_E_CANCELLED). */
static tdsc_errc io_run(tdsc_conn *c, bool read, int64_t deadline,
                        bool interruptible, bool nb) {
  for (;;) {
    tdsc_errc rc = io_try(c, read);
    if (rc != TDSC__AGAIN)
      return rc;
    if (deadline != TDSC__NO_DEADLINE && tdsc__now_ms() >= deadline)
      rc = TDSC_E_READ_TIMEOUT;
    else if (nb)
      return TDSC__AGAIN;
    else {
      bool wake = interruptible && !tdsc__wire_rx_pending(c) &&
                  !tdsc__wire_tx_pending(c);
      if (tdsc__io_pollfd(c->io) == TDSC__NO_POLLFD)
        return io_block(c, read, deadline, wake);
      if (wake)
        tdsc__io_set_wake(c->io, c->waker);
      rc = tdsc__io_wait(c->io, c->want, deadline, &c->err);
      if (wake)
        tdsc__io_set_wake(c->io, NULL);
      if (rc == TDSC_OK)
        continue;
    }
    if (rc != TDSC_E_READ_TIMEOUT)
      return rc;
    if (tdsc__wire_tx_pending(c))
      return tdsc__err_set(&c->err, TDSC_E_READ_TIMEOUT,
                           "%s did not accept data before the timeout "
                           "(%zu bytes of the request were not sent)",
                           c->address, tdsc__wire_tx_pending(c));
    return tdsc__err_set(&c->err, TDSC_E_READ_TIMEOUT,
                         "no data from %s before the timeout", c->address);
  }
}

tdsc_errc tdsc__wire_flush(tdsc_conn *c, int64_t deadline) {
  return io_run(c, false, deadline, false, c->nonblocking);
}

/* After queuing: sends at once in blocking mode, else as much as goes. */
static tdsc_errc send_queued(tdsc_conn *c, int64_t deadline) {
  tdsc_errc rc = tdsc__wire_flush(c, deadline);
  return rc == TDSC__AGAIN ? TDSC_OK : rc;
}

tdsc_errc tdsc__wire_send(tdsc_conn *c, uint8_t type, const uint8_t *payload,
                          size_t len, int64_t deadline) {
  size_t max = c->packet_size - TDSC__PKT_HDR_LEN;
  c->packet_id = 0; /* numbered from 1 in each message (2.2.3.1.5) */
  tdsc_errc rc = tx_reserve(c, len, max);
  if (rc != TDSC_OK)
    return rc;
  do {
    size_t n = len < max ? len : max;
    tdsc__pkt_hdr h = {.type = type,
                       .status = n == len ? TDSC__PKT_EOM : 0,
                       .length = (uint16_t)(n + TDSC__PKT_HDR_LEN),
                       .packet_id = ++c->packet_id};
    uint8_t hdr[TDSC__PKT_HDR_LEN];
    tdsc__pkt_hdr_encode(hdr, &h);
    rc = queue_packet(c, hdr, payload, n);
    if (rc != TDSC_OK)
      return rc;
    payload += n;
    len -= n;
  } while (len > 0);
  return send_queued(c, deadline);
}

tdsc_errc tdsc__wire_send_part(tdsc_conn *c, uint8_t type, tdsc__buf *b,
                               bool first, bool last, uint8_t last_status,
                               int64_t deadline) {
  size_t max = c->packet_size - TDSC__PKT_HDR_LEN;
  if (first)
    c->packet_id = 0;
  tdsc_errc rc = tx_reserve(c, b->len, max);
  if (rc != TDSC_OK)
    return rc;
  size_t off = 0;
  /* Keep at least one byte back unless this is the end: the EOM packet
   * must carry the message's last bytes. */
  while (last ? off < b->len || off == 0 : b->len - off > max) {
    size_t n = b->len - off < max ? b->len - off : max;
    bool eom = last && off + n == b->len;
    tdsc__pkt_hdr h = {.type = type,
                       .status = eom ? (uint8_t)(TDSC__PKT_EOM | last_status)
                                     : 0,
                       .length = (uint16_t)(n + TDSC__PKT_HDR_LEN),
                       .packet_id = ++c->packet_id};
    uint8_t hdr[TDSC__PKT_HDR_LEN];
    tdsc__pkt_hdr_encode(hdr, &h);
    rc = queue_packet(c, hdr, b->data + off, n);
    if (rc != TDSC_OK)
      return rc;
    off += n;
    if (eom)
      break;
  }
  tdsc__buf_consume(b, off);
  /* A streamed value is sent as it is read, with constant memory: its
   * packets go before more is read, waiting even in non-blocking mode
   * (tdsclient(3)); the message's last packets may stay queued. */
  if (last)
    return send_queued(c, deadline);
  return io_run(c, false, deadline, false, false);
}

/* The connection's input buffer (doc/design.md, "The input buffer"):
 * c->rx holds the bytes the transport gave (plaintext: TLS is a filter
 * below), packet headers included, of which c->rx[rx_pos..) are not taken
 * yet.  Two steps, kept apart so that a non-blocking API can drive them:
 *   rx_fill    one read of what is available (never more than the free
 *              room): the only step that waits, so the one that will
 *              return "would block";
 *   rx_packet  takes the next whole packet out of c->rx, or says that
 *              more bytes are needed; never reads.
 * One read brings a header and its payload together, and the packets
 * after it (read-ahead).  The room is fixed (RX_CAP), so memory stays
 * constant for values of any size; bytes left over at the end of a
 * response stay for the next one. */
/* Makes room in c->rx for a read: keeps room for a whole packet. */
static tdsc_errc rx_room(tdsc_conn *c) {
  if (c->rx_pos == c->rx.len) {
    c->rx.len = c->rx_pos = 0;
  } else if (RX_CAP - c->rx.len <= TDSC__PKT_MAX) {
    /* keep room for a whole packet: move the partial one down */
    tdsc__buf_consume(&c->rx, c->rx_pos);
    c->rx_pos = 0;
  }
  if (c->rx.cap < RX_CAP && !tdsc__buf_reserve(&c->rx, RX_CAP - c->rx.len))
    return tdsc__err_oom(&c->err);
  return TDSC_OK;
}

/* One read of what is available (queued output goes first): the only
 * step of the input side that waits, or in non-blocking mode returns
 * TDSC__AGAIN. */
static tdsc_errc rx_fill(tdsc_conn *c, int64_t deadline, bool interruptible) {
  tdsc_errc rc = rx_room(c);
  if (rc != TDSC_OK)
    return rc;
  return io_run(c, true, deadline, interruptible, c->nonblocking);
}

tdsc_errc tdsc__wire_consume(tdsc_conn *c) {
  for (;;) {
    tdsc_errc rc = rx_room(c);
    if (rc != TDSC_OK)
      return rc;
    if (RX_CAP - c->rx.len <= TDSC__PKT_MAX && c->rx_pos == 0)
      return TDSC_OK; /* full: the parser takes some first */
    size_t had = c->rx.len;
    rc = io_try(c, true);
    if (rc == TDSC__AGAIN)
      return TDSC_OK;
    if (rc != TDSC_OK)
      return rc;
    if (c->rx.len == had)
      return TDSC_OK;
  }
}

/* The next whole packet in c->rx: *h and *payload (h->length - 8 bytes
 * in c->rx, valid until the next rx_fill), consumed from c->rx; *have is
 * false when c->rx holds no whole packet yet.  Its one caller,
 * recv_packet, is where the trace sees each packet received. */
static tdsc_errc rx_packet(tdsc_conn *c, tdsc__pkt_hdr *h,
                           const uint8_t **payload, bool *have) {
  size_t avail = c->rx.len - c->rx_pos;
  *have = false;
  if (avail < TDSC__PKT_HDR_LEN)
    return TDSC_OK; /* (before any read rx.data is NULL: no arithmetic) */
  const uint8_t *p = c->rx.data + c->rx_pos;
  tdsc_errc rc = tdsc__pkt_hdr_decode(p, TDSC__PKT_MAX, h, &c->err);
  if (rc != TDSC_OK)
    return rc;
  if (h->type != TDSC__PKT_REPLY)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server answered with a packet of type 0x%02x "
                         "where a reply (0x04) belongs",
                         h->type);
  if (avail < h->length)
    return TDSC_OK;
  *payload = p + TDSC__PKT_HDR_LEN;
  c->rx_pos += h->length;
  *have = true;
  return TDSC_OK;
}

size_t tdsc__wire_rx_pending(const tdsc_conn *c) {
  return c->rx.len - c->rx_pos;
}

void tdsc__wire_rx_free(tdsc_conn *c) {
  tdsc__buf_free(&c->rx);
  c->rx_pos = 0;
}

/* Reads one packet and appends its payload to out.  With interruptible,
 * a wait that starts with no byte of the packet in hand also ends when
 * the connection's waker fires (TDSC_E_CANCELLED); *clean (optional)
 * tells whether a failure came before any byte of the packet, so the
 * stream is still in step and an attention can follow. */
static tdsc_errc recv_packet(tdsc_conn *c, tdsc__buf *out, bool *eom,
                             int64_t deadline, bool interruptible,
                             bool *clean) {
  if (clean)
    *clean = true;
  for (;;) {
    tdsc__pkt_hdr h;
    const uint8_t *payload;
    bool have;
    tdsc_errc rc = rx_packet(c, &h, &payload, &have);
    if (clean && (tdsc__wire_rx_pending(c) || tdsc__wire_tx_pending(c)))
      *clean = false;
    if (rc != TDSC_OK)
      return rc;
    if (have) {
      size_t n = h.length - TDSC__PKT_HDR_LEN;
      uint8_t *d = tdsc__buf_extend(out, n);
      if (!d)
        return tdsc__err_oom(&c->err);
      memcpy(d, payload, n);
      *eom = (h.status & TDSC__PKT_EOM) != 0;
      /* the one place the protocol trace sees a whole packet received */
      if (c->trace)
        tdsc__trace_packet(c, TDSC__TRACE_RECV, payload - TDSC__PKT_HDR_LEN,
                           payload, n);
      return TDSC_OK;
    }
    rc = rx_fill(c, deadline, interruptible);
    if (rc != TDSC_OK)
      return rc;
  }
}
tdsc_errc tdsc__wire_recv_message(tdsc_conn *c, tdsc__buf *out,
                                  int64_t deadline) {
  bool eom = false;
  while (!eom) {
    tdsc_errc rc = recv_packet(c, out, &eom, deadline, false, NULL);
    if (rc != TDSC_OK)
      return rc;
    if (out->len > 1024 * 1024)
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server's PRELOGIN answer exceeds 1 MiB");
  }
  return TDSC_OK;
}

void tdsc__wire_begin_response(tdsc_conn *c, int64_t deadline) {
  tdsc__buf_reset(&c->in);
  c->in_pos = 0;
  c->in_eom = false;
  c->in_response = true;
  c->in_final = false;
  c->in_partial_ok = false;
  c->deadline = deadline;
  tdsc__tokp_reset(c->tokp);
}

/* The bytes not parsed yet (never a null pointer, even when empty). */
static const uint8_t *unparsed(const tdsc_conn *c) {
  static const uint8_t none[1];
  return c->in.data ? c->in.data + c->in_pos : none;
}

static void end_response(tdsc_conn *c) {
  c->in_response = false;
  c->cancellable = false;
}

/* The next token of the message being read, reading packets (until
 * deadline) as the parser needs them; *end at the end of the message.
 * With interruptible, the wait for a packet's first bytes may end early
 * (TDSC_E_CANCELLED, or TDSC_E_READ_TIMEOUT with *clean set): the stream
 * is in step there, so an attention can follow. */
static tdsc_errc next_token(tdsc_conn *c, tdsc__event *ev, bool *end,
                            int64_t deadline, bool interruptible,
                            bool *clean) {
  *end = false;
  *clean = false;
  for (;;) {
    size_t avail = c->in.len - c->in_pos;
    bool in_row = tdsc__tokp_in_row(c->tokp);
    if (avail == 0 && c->in_eom && !in_row) {
      *end = true;
      return TDSC_OK;
    }
    size_t used = 0, need = 0;
    /* inside a lazy row, some events consume nothing: ask even when the
     * buffer is empty */
    tdsc__tok_status st =
        avail || in_row ? tdsc__tokp_next(c->tokp, unparsed(c), avail, &used,
                                          &need, ev, &c->err)
                        : TDSC__TOK_NEED_MORE;
    if (st == TDSC__TOK_EVENT) {
      c->in_pos += used;
      return TDSC_OK;
    }
    if (st == TDSC__TOK_FAIL)
      return c->err.code;
    if (c->in_eom)
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server's response ended inside a token "
                           "(%zu bytes left unparsed)",
                           avail);
    /* Drop what was parsed, then read packets until the token can be
     * complete (need is a lower bound from the start of the input). */
    tdsc__buf_consume(&c->in, c->in_pos);
    c->in_pos = 0;
    do {
      tdsc_errc rc = recv_packet(c, &c->in, &c->in_eom, deadline,
                                 interruptible, clean);
      if (rc != TDSC_OK)
        return rc;
    } while (!c->in_eom && c->in.len < need);
  }
}

/* Stops the request in progress (MS-TDS 2.2.1.7, 3.2.5.x): queues an
 * ATTENTION packet (after whatever of the request is still queued), then
 * reads and drops what the server still sends until the DONE token that
 * acknowledges it (DONE_ATTN), within CancelTimeout.  ENVCHANGEs on the
 * way still apply (a transaction may end) and messages still reach the
 * handler.  Its state is in c (c->attn...), so in non-blocking mode the
 * next call goes on where run_attention stopped (TDSC__AGAIN). */
static tdsc_errc start_attention(tdsc_conn *c, tdsc_errc why) {
  c->attn_why = why;
  c->attn_waited = c->result ? c->result->timeout_ms : c->query_timeout_ms;
  c->attn_in_row = tdsc__tokp_in_row(c->tokp);
  c->attn_deadline = tdsc__deadline_in(c->cancel_timeout_ms);
  c->attn_acked = false;
  atomic_store(&c->cancel, false);
  tdsc__waker_clear(c->waker);
  tdsc__err_clear(&c->err);
  uint8_t pkt[TDSC__PKT_HDR_LEN];
  tdsc__attention_encode(pkt);
  tdsc_errc rc = queue_packet(c, pkt, NULL, 0);
  if (rc != TDSC_OK)
    return rc;
  c->attn = true;
  return TDSC_OK;
}

/* Returns why (CANCELLED, QUERY_TIMEOUT) with the connection usable, a
 * fatal error, or TDSC__AGAIN (non-blocking: call again). */
static tdsc_errc run_attention(tdsc_conn *c) {
  for (;;) {
    tdsc__event ev;
    bool end, clean;
    tdsc_errc rc = next_token(c, &ev, &end, c->attn_deadline, false, &clean);
    if (rc == TDSC_E_READ_TIMEOUT)
      return tdsc__err_set(&c->err, TDSC_E_READ_TIMEOUT,
                           "the server did not acknowledge the cancel "
                           "(attention) within CancelTimeout (%lld ms): "
                           "the connection is closed",
                           (long long)c->cancel_timeout_ms);
    if (rc != TDSC_OK)
      return rc;
    if (end) {
      if (c->attn_acked)
        break;
      /* The response ended before the acknowledgement: it comes as a
       * message of its own. */
      tdsc__buf_reset(&c->in);
      c->in_pos = 0;
      c->in_eom = false;
      tdsc__tokp_reset(c->tokp);
      continue;
    }
    if (ev.kind == TDSC__EV_DONE && (ev.u.done.status & TDSC__DONE_ATTN))
      c->attn_acked = true;
    else if (ev.kind == TDSC__EV_ENVCHANGE &&
             (rc = tdsc__conn_envchange(c, &ev)) != TDSC_OK)
      return rc;
    else if (ev.kind == TDSC__EV_INFO)
      tdsc__conn_message(c, &ev.u.msg);
  }
  c->attn = false;
  tdsc__buf_reset(&c->in);
  c->in_pos = 0;
  end_response(c);
  if (c->attn_why == TDSC_E_QUERY_TIMEOUT)
    return tdsc__err_set(&c->err, TDSC_E_QUERY_TIMEOUT,
                         "the server sent nothing for %lld ms (the query "
                         "timeout)%s, so the request was cancelled; the "
                         "server acknowledged and the connection is open",
                         (long long)c->attn_waited,
                         c->attn_in_row ? " while a row was still arriving"
                                        : "");
  return tdsc__err_set(&c->err, TDSC_E_CANCELLED,
                       "the request was cancelled (tdsc_conn_cancel); the "
                       "server acknowledged and the connection is open");
}

static tdsc_errc attention(tdsc_conn *c, tdsc_errc why) {
  tdsc_errc rc = start_attention(c, why);
  return rc != TDSC_OK ? rc : run_attention(c);
}

bool tdsc__wire_aborted(const tdsc_conn *c, tdsc_errc rc) {
  return (rc == TDSC_E_CANCELLED || rc == TDSC_E_QUERY_TIMEOUT) && c->io &&
         !c->in_response;
}

int64_t tdsc__wire_deadline(const tdsc_conn *c) {
  if (!c->io)
    return TDSC__NO_DEADLINE;
  if (c->attn)
    return c->attn_deadline;
  if (c->in_response || tdsc__wire_tx_pending(c))
    return c->deadline;
  return TDSC__NO_DEADLINE;
}

/* A step that has to wait, in non-blocking mode: the caller's error. */
static tdsc_errc would_block(tdsc_conn *c) {
#define WAIT_(w)                                                               \
  "the server's answer has not all arrived: wait until tdsc_conn_socket "    \
  "is ready for tdsc_conn_wants (" w "), then call again"
  static const char *const text[4] = {WAIT_(""), WAIT_("read"),
                                      WAIT_("write"), WAIT_("read write")};
#undef WAIT_
  return tdsc__err_fixed(&c->err, TDSC_E_WOULD_BLOCK,
                         text[(c->want & TDSC__WANT_READ ? 1 : 0) |
                              (c->want & TDSC__WANT_WRITE ? 2 : 0)]);
}

static tdsc_errc next_event(tdsc_conn *c, tdsc__event *ev, bool *end) {
  *end = false;
  if (c->attn)
    return run_attention(c);
  if (c->cancellable && atomic_load(&c->cancel))
    return attention(c, TDSC_E_CANCELLED);
  bool clean;
  tdsc_errc rc =
      next_token(c, ev, end, c->deadline, c->cancellable, &clean);
  if (rc == TDSC_E_CANCELLED)
    return attention(c, TDSC_E_CANCELLED);
  if (rc == TDSC_E_READ_TIMEOUT && c->cancellable && clean)
    return attention(c, TDSC_E_QUERY_TIMEOUT);
  if (rc == TDSC_E_READ_TIMEOUT && c->cancellable &&
      !tdsc__wire_tx_pending(c)) {
    /* the server stopped in the middle of a packet: no attention can
     * follow (the stream is out of step), and the transport's "no data"
     * would hide that the response had begun */
    int64_t waited = c->result ? c->result->timeout_ms : c->query_timeout_ms;
    return tdsc__err_set(&c->err, TDSC_E_READ_TIMEOUT,
                         "the server stopped in the middle of a packet of "
                         "its response%s and sent nothing more for %lld ms "
                         "(the query timeout); the connection is closed",
                         tdsc__tokp_in_row(c->tokp)
                             ? ", while a value of the current row was still "
                               "arriving"
                             : "",
                         (long long)waited);
  }
  if (rc != TDSC_OK)
    return rc;
  if (*end) {
    if (!c->in_final && !c->in_partial_ok)
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server's response ended without its final "
                           "DONE token (the last DONE said more follows, "
                           "or none came): the response is incomplete");
    end_response(c);
    return TDSC_OK;
  }
  if (c->in_final)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server sent a token (event %d) after the "
                         "final DONE of its response",
                         (int)ev->kind);
  /* DONE_ATTN acknowledges an attention (MS-TDS 2.2.7.6); attention()
   * reads those itself, so none was sent: the server ended the request on
   * its own and what came looks complete when it is not */
  if (ev->kind == TDSC__EV_DONE && (ev->u.done.status & TDSC__DONE_ATTN))
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server acknowledged a cancel (DONE_ATTN) that "
                         "was never sent: the response is incomplete");
  if (ev->kind == TDSC__EV_DONE && ev->u.done.token != TDSC__TOK_DONEINPROC &&
      !(ev->u.done.status & TDSC__DONE_MORE))
    c->in_final = true;
  return TDSC_OK;
}

tdsc_errc tdsc__wire_next_event(tdsc_conn *c, tdsc__event *ev, bool *end) {
  tdsc_errc rc = next_event(c, ev, end);
  return rc == TDSC__AGAIN ? would_block(c) : rc;
}
