/* Fuzz target: the server's PRELOGIN answer (lib/proto/prelogin.c) and
 * packet headers (lib/proto/packet.c).
 *
 * Input: a PRELOGIN message as on the wire, header included (the recorded
 * corpus and the public vectors are such).  The header is decoded as the
 * session does; the payload (the bytes after the header, whatever its
 * length field says) is decoded, and what decodes is encoded again and
 * must decode to the same fields. */
#include "config.h"

#include "fuzz.h"
#include "proto/proto.h"

#include <string.h>

static void roundtrip(const tdsc__prelogin *pl) {
  tdsc__buf b;
  tdsc_error err = {0};
  tdsc__prelogin again;
  tdsc__buf_init(&b);
  if (tdsc__prelogin_encode(pl, &b, &err) == TDSC_OK && !b.oom) {
    FUZZ_CHECK(tdsc__prelogin_decode(b.data, b.len, &again, &err) == TDSC_OK);
    FUZZ_CHECK(again.ver_major == pl->ver_major &&
               again.ver_minor == pl->ver_minor &&
               again.ver_build == pl->ver_build &&
               again.ver_subbuild == pl->ver_subbuild);
    FUZZ_CHECK(again.has_encryption == pl->has_encryption &&
               (!pl->has_encryption || again.encryption == pl->encryption));
  }
  tdsc__buf_free(&b);
  tdsc__err_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tdsc_error err = {0};
  if (size >= TDSC__PKT_HDR_LEN) {
    tdsc__pkt_hdr h;
    if (tdsc__pkt_hdr_decode(data, TDSC__PKT_MAX, &h, &err) == TDSC_OK)
      FUZZ_CHECK(h.length >= TDSC__PKT_HDR_LEN && h.length <= TDSC__PKT_MAX);
    tdsc__err_clear(&err);
  }
  const uint8_t *p = size >= TDSC__PKT_HDR_LEN ? data + TDSC__PKT_HDR_LEN
                                               : data;
  size_t n = size >= TDSC__PKT_HDR_LEN ? size - TDSC__PKT_HDR_LEN : size;
  tdsc__prelogin pl;
  memset(&pl, 0xA5, sizeof pl); /* what decode leaves unset shows */
  if (tdsc__prelogin_decode(p, n, &pl, &err) == TDSC_OK) {
    FUZZ_CHECK(memchr(pl.instance, 0, sizeof pl.instance));
    roundtrip(&pl);
  } else {
    FUZZ_CHECK(err.code != TDSC_OK && err.message);
  }
  tdsc__err_clear(&err);
  return 0;
}
