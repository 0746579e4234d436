/* TDS messages over the filter stack: splitting a message into packets of
 * the negotiated size on the way out, and on the way in, reassembling
 * packets into the byte stream the token parser reads (MS-TDS 2.2.3). */
#include "config.h"

#include "session/session.h"

#include "clock.h"

#include <string.h>

/* Every whole packet the connection sends goes out here (after this, TLS
 * may encrypt it): the one place the protocol trace sees them. */
static tdsc_errc send_packet(tdsc_conn *c, const uint8_t *pkt, size_t len,
                             int64_t deadline) {
  if (c->trace)
    tdsc__trace_packet(c, TDSC__TRACE_SEND, pkt, pkt + TDSC__PKT_HDR_LEN,
                       len - TDSC__PKT_HDR_LEN);
  return c->io->ops->write(c->io, pkt, len, deadline, &c->err);
}

tdsc_errc tdsc__wire_send(tdsc_conn *c, uint8_t type, const uint8_t *payload,
                          size_t len, int64_t deadline) {
  size_t max = c->packet_size - TDSC__PKT_HDR_LEN;
  c->packet_id = 0; /* numbered from 1 in each message (2.2.3.1.5) */
  uint8_t pkt[TDSC__PKT_MAX + 1];
  do {
    size_t n = len < max ? len : max;
    tdsc__pkt_hdr h = {.type = type,
                       .status = n == len ? TDSC__PKT_EOM : 0,
                       .length = (uint16_t)(n + TDSC__PKT_HDR_LEN),
                       .packet_id = ++c->packet_id};
    tdsc__pkt_hdr_encode(pkt, &h);
    memcpy(pkt + TDSC__PKT_HDR_LEN, payload, n);
    tdsc_errc rc = send_packet(c, pkt, n + TDSC__PKT_HDR_LEN, deadline);
    if (rc != TDSC_OK)
      return rc;
    payload += n;
    len -= n;
  } while (len > 0);
  return TDSC_OK;
}

tdsc_errc tdsc__wire_send_part(tdsc_conn *c, uint8_t type, tdsc__buf *b,
                               bool first, bool last, uint8_t last_status,
                               int64_t deadline) {
  size_t max = c->packet_size - TDSC__PKT_HDR_LEN;
  if (first)
    c->packet_id = 0;
  uint8_t pkt[TDSC__PKT_MAX + 1];
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
    tdsc__pkt_hdr_encode(pkt, &h);
    memcpy(pkt + TDSC__PKT_HDR_LEN, b->data + off, n);
    tdsc_errc rc = send_packet(c, pkt, n + TDSC__PKT_HDR_LEN, deadline);
    if (rc != TDSC_OK)
      return rc;
    off += n;
    if (eom)
      break;
  }
  tdsc__buf_consume(b, off);
  return TDSC_OK;
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
#define RX_CAP (64 * 1024)

static tdsc_errc rx_fill(tdsc_conn *c, int64_t deadline) {
  if (c->rx_pos == c->rx.len) {
    c->rx.len = c->rx_pos = 0;
  } else if (RX_CAP - c->rx.len <= TDSC__PKT_MAX) {
    /* keep room for a whole packet: move the partial one down */
    tdsc__buf_consume(&c->rx, c->rx_pos);
    c->rx_pos = 0;
  }
  if (c->rx.cap < RX_CAP && !tdsc__buf_reserve(&c->rx, RX_CAP - c->rx.len))
    return tdsc__err_oom(&c->err);
  size_t got = 0;
  tdsc_errc rc = c->io->ops->read(c->io, c->rx.data + c->rx.len,
                                  RX_CAP - c->rx.len, &got, deadline,
                                  &c->err);
  if (rc == TDSC_OK)
    c->rx.len += got;
  return rc;
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
    if (clean && tdsc__wire_rx_pending(c))
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
    bool wake = interruptible && !tdsc__wire_rx_pending(c);
    if (wake)
      tdsc__io_set_wake(c->io, c->waker);
    rc = rx_fill(c, deadline);
    if (wake)
      tdsc__io_set_wake(c->io, NULL);
    if (rc != TDSC_OK)
      return rc;
  }
}
tdsc_errc tdsc__wire_recv_message(tdsc_conn *c, tdsc__buf *out,
                                  int64_t deadline) {
  bool eom = false;
  tdsc__buf_reset(out);
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

/* Stops the request in progress (MS-TDS 2.2.1.7, 3.2.5.x): sends an
 * ATTENTION packet, then reads and drops what the server still sends until
 * the DONE token that acknowledges it (DONE_ATTN), within CancelTimeout.
 * ENVCHANGEs on the way still apply (a transaction may end) and messages
 * still reach the handler.  Returns why (CANCELLED, QUERY_TIMEOUT) with
 * the connection usable, or a fatal error. */
static tdsc_errc attention(tdsc_conn *c, tdsc_errc why) {
  int64_t waited = c->result ? c->result->timeout_ms : c->query_timeout_ms;
  bool in_row = tdsc__tokp_in_row(c->tokp);
  int64_t dl = tdsc__deadline_in(c->cancel_timeout_ms);
  atomic_store(&c->cancel, false);
  tdsc__waker_clear(c->waker);
  tdsc__err_clear(&c->err);
  uint8_t pkt[TDSC__PKT_HDR_LEN];
  tdsc__attention_encode(pkt);
  tdsc_errc rc = send_packet(c, pkt, sizeof pkt, dl);
  if (rc != TDSC_OK)
    return rc;
  for (bool acked = false;;) {
    tdsc__event ev;
    bool end, clean;
    rc = next_token(c, &ev, &end, dl, false, &clean);
    if (rc == TDSC_E_READ_TIMEOUT)
      return tdsc__err_set(&c->err, TDSC_E_READ_TIMEOUT,
                           "the server did not acknowledge the cancel "
                           "(attention) within CancelTimeout (%lld ms): "
                           "the connection is closed",
                           (long long)c->cancel_timeout_ms);
    if (rc != TDSC_OK)
      return rc;
    if (end) {
      if (acked)
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
      acked = true;
    else if (ev.kind == TDSC__EV_ENVCHANGE &&
             (rc = tdsc__conn_envchange(c, &ev)) != TDSC_OK)
      return rc;
    else if (ev.kind == TDSC__EV_INFO)
      tdsc__conn_message(c, &ev.u.msg);
  }
  tdsc__buf_reset(&c->in);
  c->in_pos = 0;
  end_response(c);
  if (why == TDSC_E_QUERY_TIMEOUT)
    return tdsc__err_set(&c->err, TDSC_E_QUERY_TIMEOUT,
                         "the server sent nothing for %lld ms (the query "
                         "timeout)%s, so the request was cancelled; the "
                         "server acknowledged and the connection is open",
                         (long long)waited,
                         in_row ? " while a row was still arriving" : "");
  return tdsc__err_set(&c->err, TDSC_E_CANCELLED,
                       "the request was cancelled (tdsc_conn_cancel); the "
                       "server acknowledged and the connection is open");
}

bool tdsc__wire_aborted(const tdsc_conn *c, tdsc_errc rc) {
  return (rc == TDSC_E_CANCELLED || rc == TDSC_E_QUERY_TIMEOUT) && c->io &&
         !c->in_response;
}

tdsc_errc tdsc__wire_next_event(tdsc_conn *c, tdsc__event *ev, bool *end) {
  if (c->cancellable && atomic_load(&c->cancel))
    return attention(c, TDSC_E_CANCELLED);
  bool clean;
  tdsc_errc rc =
      next_token(c, ev, end, c->deadline, c->cancellable, &clean);
  if (rc == TDSC_E_CANCELLED)
    return attention(c, TDSC_E_CANCELLED);
  if (rc == TDSC_E_READ_TIMEOUT && c->cancellable && clean)
    return attention(c, TDSC_E_QUERY_TIMEOUT);
  if (rc == TDSC_E_READ_TIMEOUT && c->cancellable) {
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
