/* Fuzz target: the server's login reply (MS-TDS 2.2.7.14 LOGINACK,
 * 2.2.7.9 ENVCHANGE, 2.2.7.11 FEATUREEXTACK, INFO/ERROR, DONE) as the
 * session reads it: packets (lib/proto/packet.c) whose payloads are parsed
 * as they arrive (tokens.c), ENVCHANGEs applied to a connection's session
 * facts (lib/session/conn.c), LOGINACK's fields formatted as connect.c
 * does.
 *
 * Input: the reply as on the wire, packet headers included, up to the
 * packet with EOM (the public vectors and the recorded corpus are such). */
#include "config.h"

#include "fuzz.h"
#include "session/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_event(tdsc_conn *c, const tdsc__event *ev) {
  switch (ev->kind) {
  case TDSC__EV_LOGINACK: {
    char ver[24];
    const char *prog = ev->u.loginack.prog_name;
    if (prog)
      fuzz_touch(prog, strlen(prog));
    snprintf(ver, sizeof ver, "%u.%u.%u", ev->u.loginack.ver[0],
             ev->u.loginack.ver[1],
             (unsigned)(ev->u.loginack.ver[2] << 8 | ev->u.loginack.ver[3]));
    break;
  }
  case TDSC__EV_ENVCHANGE:
    if (ev->u.envchange.type == TDSC__ENV_ROUTING) {
      if (ev->u.envchange.routing.server)
        fuzz_touch(ev->u.envchange.routing.server,
                   strlen(ev->u.envchange.routing.server));
      break;
    }
    if (tdsc__conn_envchange(c, ev) == TDSC_OK &&
        ev->u.envchange.type == TDSC__ENV_PACKETSIZE)
      FUZZ_CHECK(c->packet_size >= TDSC__PKT_MIN &&
                 c->packet_size <= TDSC__PKT_MAX);
    tdsc__err_clear(&c->err);
    break;
  case TDSC__EV_FEATUREEXTACK:
    for (size_t i = 0; i < ev->u.featureextack.n; i++)
      if (ev->u.featureextack.lens[i])
        fuzz_touch(ev->u.featureextack.data[i], ev->u.featureextack.lens[i]);
    break;
  case TDSC__EV_INFO:
    if (ev->u.msg.text)
      fuzz_touch(ev->u.msg.text, strlen(ev->u.msg.text));
    if (ev->u.msg.server)
      fuzz_touch(ev->u.msg.server, strlen(ev->u.msg.server));
    if (ev->u.msg.procedure)
      fuzz_touch(ev->u.msg.procedure, strlen(ev->u.msg.procedure));
    break;
  case TDSC__EV_SSPI:
    if (ev->u.sspi.len)
      fuzz_touch(ev->u.sspi.data, ev->u.sspi.len);
    break;
  default:
    break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tdsc_conn c;
  memset(&c, 0, sizeof c);
  c.packet_size = TDSC__PKT_DEFAULT;
  tdsc__tokp *p = tdsc__tokp_new();
  if (!p)
    return 0;
  tdsc__buf in;
  tdsc__buf_init(&in);
  tdsc_error err = {0};
  size_t off = 0;
  bool eom = false, failed = false;
  while (!eom && !failed && size - off >= TDSC__PKT_HDR_LEN) {
    tdsc__pkt_hdr h;
    if (tdsc__pkt_hdr_decode(data + off, TDSC__PKT_MAX, &h, &err) != TDSC_OK)
      break;
    size_t plen = h.length - TDSC__PKT_HDR_LEN;
    if (plen > size - off - TDSC__PKT_HDR_LEN)
      break; /* the connection would end inside the packet */
    tdsc__buf_put(&in, data + off + TDSC__PKT_HDR_LEN, plen);
    off += h.length;
    eom = h.status & TDSC__PKT_EOM;
    size_t pos = 0;
    for (;;) { /* every event the bytes so far hold */
      size_t used, need;
      tdsc__event ev;
      /* in.data is NULL until a payload byte came (empty packets) */
      const uint8_t *at = in.len ? in.data + pos : (const uint8_t *)"";
      tdsc__tok_status st =
          tdsc__tokp_next(p, at, in.len - pos, &used, &need, &ev, &err);
      if (st == TDSC__TOK_FAIL) {
        failed = true;
        break;
      }
      if (st == TDSC__TOK_NEED_MORE) {
        FUZZ_CHECK(need > in.len - pos);
        break;
      }
      FUZZ_CHECK(used > 0 && used <= in.len - pos);
      on_event(&c, &ev);
      pos += used;
    }
    tdsc__buf_consume(&in, pos);
  }
  free(c.database);
  free(c.language);
  free(c.failover_partner); /* ENVCHANGE 13 */
  tdsc__err_clear(&c.err);
  tdsc__err_clear(&err);
  tdsc__buf_free(&in);
  tdsc__tokp_free(p);
  return 0;
}
