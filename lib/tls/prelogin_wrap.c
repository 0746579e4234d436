/* The PRELOGIN wrap filter (tls.h): in TDS 7.x the TLS handshake travels
 * inside PRELOGIN packets (MS-TDS 2.2.6.5, 3.2.5.2).  tls_openssl.c pushes
 * this filter under the TLS BIO for the handshake and removes it after;
 * packet headers come from lib/proto (packet.c). */
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
  uint8_t packet_id; /* of the next packet we send */
} wrap_io;

static tdsc_errc wrap_read(tdsc__io *io, void *buf, size_t len, size_t *got,
                           int64_t deadline, tdsc_error *err) {
  wrap_io *w = (wrap_io *)io;
  *got = 0;
  if (len == 0)
    return TDSC_OK;
  while (w->left == 0) {
    uint8_t raw[TDSC__PKT_HDR_LEN];
    tdsc__pkt_hdr h;
    tdsc_errc rc = tdsc__io_read_full(io->next, raw, sizeof raw, deadline, err);
    if (rc != TDSC_OK)
      return rc;
    rc = tdsc__pkt_hdr_decode(raw, TDSC__PKT_MAX, &h, err);
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
  size_t want = len < w->left ? len : w->left;
  size_t n = 0;
  tdsc_errc rc = io->next->ops->read(io->next, buf, want, &n, deadline, err);
  if (rc != TDSC_OK)
    return rc;
  w->left -= n;
  *got = n;
  return TDSC_OK;
}

static tdsc_errc wrap_write(tdsc__io *io, const void *buf, size_t len,
                            int64_t deadline, tdsc_error *err) {
  wrap_io *w = (wrap_io *)io;
  const uint8_t *p = buf;
  uint8_t pkt[WRAP_PKT_SIZE];
  const size_t room = sizeof pkt - TDSC__PKT_HDR_LEN;
  do {
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
    tdsc__pkt_hdr_encode(pkt, &h);
    memcpy(pkt + TDSC__PKT_HDR_LEN, p, n);
    tdsc_errc rc = io->next->ops->write(io->next, pkt, n + TDSC__PKT_HDR_LEN,
                                        deadline, err);
    if (rc != TDSC_OK)
      return rc;
    p += n;
    len -= n;
  } while (len > 0);
  return TDSC_OK;
}

static void wrap_destroy(tdsc__io *io) { free(io); }

static const tdsc__io_ops wrap_ops = {"prelogin-wrap", wrap_read, wrap_write,
                                      wrap_destroy, NULL};

tdsc__io *tdsc__prelogin_wrap_new(tdsc__io *next) {
  wrap_io *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->base.ops = &wrap_ops;
  w->base.next = next;
  w->packet_id = 1;
  return &w->base;
}
