/* The PRELOGIN wrap filter (tls.h): in TDS 7.x the TLS handshake travels
 * inside PRELOGIN packets (MS-TDS 2.2.6.5, 3.2.5.2).  tls_openssl.c pushes
 * this filter under the TLS BIO for the handshake and removes it after;
 * packet headers come from lib/proto (packet.c).  Non-blocking (io.h): a
 * packet header read in part waits in the filter, and a packet sent in
 * part is finished when the caller retries with the same bytes. */
#include "config.h"

#include "proto/proto.h"
#include "tls/tls.h"

#include <stdlib.h>
#include <string.h>

/* Each write goes out as one TDS message: packets of at most the default
 * packet size (the size is only negotiated later, by LOGIN7). */
#define WRAP_PKT_SIZE TDSC__PKT_DEFAULT

typedef struct wrap_io {
  tdsc__io base;
  size_t left;       /* payload bytes of the current packet not yet read */
  uint8_t hdr[TDSC__PKT_HDR_LEN]; /* of the next packet, hdr_have read */
  size_t hdr_have;
  uint8_t packet_id; /* of the next packet we send */
  /* The packet being sent: out[out_pos, out_len) has not gone yet; it
   * carries the first out_payload bytes of the write being retried. */
  uint8_t out[WRAP_PKT_SIZE];
  size_t out_pos, out_len, out_payload;
} wrap_io;

static tdsc_errc wrap_read_some(tdsc__io *io, void *buf, size_t len,
                                size_t *got, int *want, tdsc_error *err) {
  wrap_io *w = (wrap_io *)io;
  *got = 0;
  while (w->left == 0) {
    while (w->hdr_have < sizeof w->hdr) {
      size_t n = 0;
      tdsc_errc rc = tdsc__io_read_some(io->next, w->hdr + w->hdr_have,
                                        sizeof w->hdr - w->hdr_have, &n, want,
                                        err);
      if (rc != TDSC_OK)
        return rc;
      w->hdr_have += n;
    }
    w->hdr_have = 0;
    tdsc__pkt_hdr h;
    tdsc_errc rc = tdsc__pkt_hdr_decode(w->hdr, TDSC__PKT_MAX, &h, err);
    if (rc != TDSC_OK)
      return rc;
    /* SQL Server answers handshake flights as PRELOGIN (0x12); some
     * servers use the tabular-result type (0x04). Anything else means
     * the server is not doing the handshake. */
    if (h.type != TDSC__PKT_PRELOGIN && h.type != TDSC__PKT_REPLY)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "expected a PRELOGIN packet carrying the TLS "
                           "handshake, got a packet of type 0x%02x",
                           (unsigned)h.type);
    w->left = (size_t)h.length - TDSC__PKT_HDR_LEN; /* may be 0: skip */
  }
  size_t n = len < w->left ? len : w->left;
  tdsc_errc rc = tdsc__io_read_some(io->next, buf, n, got, want, err);
  if (rc == TDSC_OK)
    w->left -= *got;
  return rc;
}

/* Sends what is left of the packet in out. */
static tdsc_errc wrap_flush(wrap_io *w, int *want, tdsc_error *err) {
  while (w->out_pos < w->out_len) {
    size_t put = 0;
    tdsc_errc rc = tdsc__io_write_some(w->base.next, w->out + w->out_pos,
                                       w->out_len - w->out_pos, &put, want,
                                       err);
    if (rc != TDSC_OK)
      return rc;
    w->out_pos += put;
  }
  return TDSC_OK;
}

static tdsc_errc wrap_write_some(tdsc__io *io, const void *buf, size_t len,
                                 size_t *put, int *want, tdsc_error *err) {
  wrap_io *w = (wrap_io *)io;
  *put = 0;
  if (w->out_len == 0) {
    const size_t room = sizeof w->out - TDSC__PKT_HDR_LEN;
    size_t n = len < room ? len : room;
    tdsc__pkt_hdr h = {
        .type = TDSC__PKT_PRELOGIN,
        /* EOM on the last packet of this write: one flight, one message */
        .status = n == len ? TDSC__PKT_EOM : 0,
        .length = (uint16_t)(n + TDSC__PKT_HDR_LEN),
        .spid = 0,
        .packet_id = w->packet_id++,
        .window = 0,
    };
    tdsc__pkt_hdr_encode(w->out, &h);
    memcpy(w->out + TDSC__PKT_HDR_LEN, buf, n);
    w->out_pos = 0;
    w->out_len = n + TDSC__PKT_HDR_LEN;
    w->out_payload = n;
  }
  /* Otherwise a retry: the packet was built from these same bytes. */
  tdsc_errc rc = wrap_flush(w, want, err);
  if (rc != TDSC_OK)
    return rc;
  *put = w->out_payload;
  w->out_pos = w->out_len = w->out_payload = 0;
  return TDSC_OK;
}

static void wrap_destroy(tdsc__io *io) { free(io); }

static const tdsc__io_ops wrap_ops = {.name = "prelogin-wrap",
                                      .read = tdsc__io_read,
                                      .write = tdsc__io_write,
                                      .destroy = wrap_destroy,
                                      .read_some = wrap_read_some,
                                      .write_some = wrap_write_some};

tdsc__io *tdsc__prelogin_wrap_new(tdsc__io *next) {
  wrap_io *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->base.ops = &wrap_ops;
  w->base.next = next;
  w->packet_id = 1;
  return &w->base;
}
