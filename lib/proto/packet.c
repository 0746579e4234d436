/* Packet header framing (MS-TDS 2.2.3.1): the 8 bytes in front of every
 * packet.  lib/session splits messages into packets with these; the TLS
 * layer wraps its PRELOGIN handshake packets with them too. */
#include "config.h"

#include "proto/proto.h"

void tdsc__pkt_hdr_encode(uint8_t out[TDSC__PKT_HDR_LEN],
                          const tdsc__pkt_hdr *h) {
  out[0] = h->type;
  out[1] = h->status;
  /* Length and SPID are the two big-endian fields of TDS (2.2.3.1.3/4). */
  out[2] = (uint8_t)(h->length >> 8);
  out[3] = (uint8_t)h->length;
  out[4] = (uint8_t)(h->spid >> 8);
  out[5] = (uint8_t)h->spid;
  out[6] = h->packet_id;
  out[7] = h->window;
}

tdsc_errc tdsc__pkt_hdr_decode(const uint8_t in[TDSC__PKT_HDR_LEN],
                               size_t max_len, tdsc__pkt_hdr *h,
                               tdsc_error *err) {
  h->type = in[0];
  h->status = in[1];
  h->length = (uint16_t)((in[2] << 8) | in[3]);
  h->spid = (uint16_t)((in[4] << 8) | in[5]);
  h->packet_id = in[6];
  h->window = in[7];
  if (h->length < TDSC__PKT_HDR_LEN)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "packet header: length %u is shorter than the "
                         "header itself (8)",
                         (unsigned)h->length);
  if (h->length > max_len)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "packet header: length %u exceeds the negotiated "
                         "packet size %zu",
                         (unsigned)h->length, max_len);
  return TDSC_OK;
}

void tdsc__attention_encode(uint8_t out[TDSC__PKT_HDR_LEN]) {
  /* A header alone, EOM set, packet 1 (2.2.1.7; MS-TDS 4.10). */
  const tdsc__pkt_hdr h = {.type = TDSC__PKT_ATTENTION,
                           .status = TDSC__PKT_EOM,
                           .length = TDSC__PKT_HDR_LEN,
                           .packet_id = 1};
  tdsc__pkt_hdr_encode(out, &h);
}
