/* The tokens about the session rather than a result: LOGINACK (MS-TDS
 * 2.2.7.14), ENVCHANGE (2.2.7.9), INFO/ERROR (2.2.7.12, 2.2.7.10) and
 * FEATUREEXTACK (2.2.7.11) and FEDAUTHINFO (2.2.7.12), decoded into the
 * event for the session
 * (lib/session) to judge.  Called by tokens.c's dispatch with the
 * token's framed body; strings go to the arena through tok_mem.c. */
#include "config.h"

#include "proto/tokp.h"

#include <string.h>

/* FEATUREEXTACK (2.2.7.11): FeatureId, DWORD length, data; until 0xFF. */
tok_res tdsc__tok_featureextack(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                                tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_FEATUREEXTACK;
  size_t n = 0;
  for (;;) {
    uint8_t id = tdsc__cur_u8(c);
    if (!tdsc__cur_ok(c))
      return R_MORE;
    if (id == TDSC__FEAT_TERMINATOR)
      break;
    uint32_t len = tdsc__cur_u32(c);
    if (tdsc__cur_ok(c) && len > TDSC__VALUE_MAX)
      return tdsc__tok_fail(p, err, tok,
                            "feature 0x%02X acknowledgement of %lu bytes", id,
                            (unsigned long)len);
    const uint8_t *d = tdsc__cur_take(c, len);
    if (!d)
      return R_MORE;
    if (n == MAX_FEATURES)
      return tdsc__tok_fail(
          p, err, tok, "more than %u feature acknowledgements", MAX_FEATURES);
    p->fe_ids[n] = id;
    p->fe_lens[n] = len;
    if ((p->fe_offs[n] = tdsc__tok_arena_bytes(p, d, len)) == NONE)
      return tdsc__tok_oom(err);
    n++;
  }
  for (size_t i = 0; i < n; i++)
    p->fe_data[i] = p->arena.data + p->fe_offs[i];
  ev->kind = TDSC__EV_FEATUREEXTACK;
  ev->u.featureextack.n = n;
  ev->u.featureextack.ids = p->fe_ids;
  ev->u.featureextack.data = p->fe_data;
  ev->u.featureextack.lens = p->fe_lens;
  return R_OK;
}

/* The FedAuthInfoIDs of FEDAUTHINFO (2.2.7.12); others are skipped. */
#define FEDAUTHINFO_STSURL 0x01u
#define FEDAUTHINFO_SPN 0x02u
#define FEDAUTHINFO_OPT 9u /* FedAuthInfoID, DataLen, DataOffset */

/* FEDAUTHINFO (2.2.7.12), its body whole (TokenLength framed it):
 * CountOfInfoIDs, that many options (an id, the data's length and its
 * offset measured from CountOfInfoIDs), then the data, UTF-16LE text.
 * Every option's data must lie in the data part of the token, an id
 * comes at most once, and the text holds no NUL (it becomes a C string
 * the session reads as a URL). */
tok_res tdsc__tok_fedauthinfo(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                              tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_FEDAUTHINFO;
  const uint8_t *base = c->rd.p;
  size_t blen = c->rd.len;
  size_t offs[2] = {NONE, NONE};
  if (blen < 4)
    return tdsc__tok_fail(p, err, tok,
                          "FEDAUTHINFO of %zu bytes: shorter than its "
                          "CountOfInfoIDs (4 bytes)",
                          blen);
  uint32_t count = tdsc__cur_u32(c);
  if (count > (blen - 4) / FEDAUTHINFO_OPT)
    return tdsc__tok_fail(p, err, tok,
                          "FEDAUTHINFO counts %lu options (CountOfInfoIDs), "
                          "more than its %zu bytes can hold",
                          (unsigned long)count, blen);
  size_t data_start = 4 + (size_t)count * FEDAUTHINFO_OPT;
  for (uint32_t i = 0; i < count; i++) {
    uint8_t id = tdsc__cur_u8(c);
    uint32_t len = tdsc__cur_u32(c);
    uint32_t off = tdsc__cur_u32(c);
    if (off < data_start || off > blen || len > blen - off)
      return tdsc__tok_fail(p, err, tok,
                            "FEDAUTHINFO option 0x%02X: %lu bytes at offset "
                            "%lu lie outside the token's data (offsets "
                            "%zu to %zu)",
                            id, (unsigned long)len, (unsigned long)off,
                            data_start, blen);
    if (id != FEDAUTHINFO_STSURL && id != FEDAUTHINFO_SPN)
      continue; /* reserved ids: nothing this client reads */
    const char *what = id == FEDAUTHINFO_STSURL ? "STSURL" : "SPN";
    size_t *slot = &offs[id - 1];
    if (*slot != NONE)
      return tdsc__tok_fail(p, err, tok, "FEDAUTHINFO names its %s twice",
                            what);
    if (len % 2)
      return tdsc__tok_fail(p, err, tok,
                            "FEDAUTHINFO's %s is %lu bytes long: odd, not "
                            "UTF-16 text",
                            what, (unsigned long)len);
    for (size_t k = 0; k < len; k += 2)
      if (!base[off + k] && !base[off + k + 1])
        return tdsc__tok_fail(p, err, tok,
                              "FEDAUTHINFO's %s holds a NUL character", what);
    if ((*slot = tdsc__tok_arena_text(p, base + off, len)) == NONE)
      return tdsc__tok_oom(err);
  }
  ev->kind = TDSC__EV_FEDAUTHINFO;
  ev->u.fedauthinfo.sts_url = tdsc__tok_astr(p, offs[0]);
  ev->u.fedauthinfo.spn = tdsc__tok_astr(p, offs[1]);
  return R_OK;
}

/* LOGINACK (2.2.7.14): Interface, TDSVersion (sent most significant byte
 * first), ProgName B_VARCHAR, ProgVersion (4 bytes). */
tok_res tdsc__tok_loginack(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                           tdsc_error *err) {
  bool o = false;
  ev->u.loginack.interface = tdsc__cur_u8(c);
  const uint8_t *v = tdsc__cur_take(c, 4);
  size_t name = tdsc__tok_read_varchar(p, c, false, &o);
  const uint8_t *pv = tdsc__cur_take(c, 4);
  if (o)
    return tdsc__tok_oom(err);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  ev->u.loginack.tds_version = ((uint32_t)v[0] << 24) | ((uint32_t)v[1] << 16) |
                               ((uint32_t)v[2] << 8) | v[3];
  memcpy(ev->u.loginack.ver, pv, 4);
  ev->u.loginack.prog_name = tdsc__tok_astr(p, name);
  ev->kind = TDSC__EV_LOGINACK;
  return R_OK;
}

/* INFO / ERROR (2.2.7.12, 2.2.7.10). The body is bounded by the token's
 * length; LineNumber is 4 bytes from TDS 7.2 on, 2 before. */
tok_res tdsc__tok_msg(tdsc__tokp *p, tdsc__cur *c, uint8_t tok, tdsc__event *ev,
                      tdsc_error *err) {
  bool o = false;
  tdsc_message *m = &ev->u.msg;
  m->is_error = tok == TDSC__TOK_ERROR;
  m->number = (int32_t)tdsc__cur_u32(c);
  m->state = tdsc__cur_u8(c);
  m->cls = tdsc__cur_u8(c);
  size_t text = tdsc__tok_read_varchar(p, c, true, &o);
  size_t server = o ? NONE : tdsc__tok_read_varchar(p, c, false, &o);
  size_t proc = o ? NONE : tdsc__tok_read_varchar(p, c, false, &o);
  if (o)
    return tdsc__tok_oom(err);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  size_t left = tdsc__rd_left(&c->rd);
  if (left == 4)
    m->line = (int32_t)tdsc__cur_u32(c);
  else if (left == 2)
    m->line = tdsc__cur_u16(c);
  else
    return tdsc__tok_fail(p, err, tok, "%zu bytes left for the line number",
                          left);
  m->text = tdsc__tok_astr(p, text);
  m->server = tdsc__tok_astr(p, server);
  m->procedure = tdsc__tok_astr(p, proc);
  ev->kind = TDSC__EV_INFO;
  return R_OK;
}

/* ENVCHANGE (2.2.7.9): Type, then NewValue and OldValue whose framing
 * depends on the type. */
tok_res tdsc__tok_envchange(tdsc__tokp *p, tdsc__cur *c, tdsc__event *ev,
                            tdsc_error *err) {
  const uint8_t tok = TDSC__TOK_ENVCHANGE;
  bool o = false;
  size_t nt = NONE, ot = NONE, nv = NONE, ov = NONE, srv = NONE;
  size_t nl = 0, ol = 0;
  uint8_t type = tdsc__cur_u8(c);
  ev->u.envchange.type = type;
  switch (type) {
  case TDSC__ENV_DATABASE:
  case TDSC__ENV_LANGUAGE:
  case TDSC__ENV_CHARSET:
  case TDSC__ENV_SORTLCID:
  case TDSC__ENV_SORTFLAGS:
  case TDSC__ENV_MIRRORPARTNER:
  case TDSC__ENV_USERINSTANCE:
    /* B_VARCHAR both (the packet size too: decimal text, "4096"). */
    nt = tdsc__tok_read_varchar(p, c, false, &o);
    if (!o)
      ot = tdsc__tok_read_varchar(p, c, false, &o);
    break;
  case TDSC__ENV_PACKETSIZE: {
    /* B_VARCHAR decimal text ("4096"), also kept raw (new_val, UTF-16LE)
     * so that the session judges every character, a NUL included */
    tdsc__cur at = *c;
    nt = tdsc__tok_read_varchar(p, c, false, &o);
    if (!o && tdsc__cur_ok(c)) {
      size_t n = (size_t)tdsc__cur_u8(&at) * 2;
      if ((nv = tdsc__tok_arena_bytes(p, tdsc__cur_take(&at, n), n)) == NONE)
        o = true;
      nl = n;
    }
    if (!o)
      ot = tdsc__tok_read_varchar(p, c, false, &o);
    break;
  }
  case TDSC__ENV_PROMOTETRAN: {
    /* L_VARBYTE new value, then a zero byte. */
    uint32_t l = tdsc__cur_u32(c);
    const uint8_t *d = tdsc__cur_take(c, l);
    if (d && (nv = tdsc__tok_arena_bytes(p, d, l)) == NONE)
      o = true;
    nl = l;
    tdsc__cur_u8(c);
    break;
  }
  case TDSC__ENV_ROUTING: {
    /* RoutingData (US_VARBYTE): Protocol, ProtocolProperty (port),
     * AlternateServer US_VARCHAR; old value: 2 zero bytes. */
    uint16_t l = tdsc__cur_u16(c);
    const uint8_t *d = tdsc__cur_take(c, l);
    tdsc__cur_u16(c);
    if (!tdsc__cur_ok(c))
      break;
    tdsc__cur rc;
    tdsc__cur_init(&rc, d, l);
    ev->u.envchange.routing.protocol = tdsc__cur_u8(&rc);
    ev->u.envchange.routing.port = tdsc__cur_u16(&rc);
    srv = tdsc__tok_read_varchar(p, &rc, true, &o);
    if (!o && (!tdsc__cur_ok(&rc) || tdsc__rd_left(&rc.rd) != 0))
      return tdsc__tok_fail(p, err, tok, "malformed routing data (%u bytes)",
                            (unsigned)l);
    break;
  }
  case TDSC__ENV_COLLATION:
  case TDSC__ENV_BEGINTRAN:
  case TDSC__ENV_COMMITTRAN:
  case TDSC__ENV_ROLLBACKTRAN:
  case TDSC__ENV_ENLISTDTC:
  case TDSC__ENV_DEFECTTRAN:
  case TDSC__ENV_TRANMGRADDR:
  case TDSC__ENV_TRANENDED:
  case TDSC__ENV_RESETACK: {
    /* B_VARBYTE both: collation (5 bytes), transaction descriptors (8). */
    uint8_t l1 = tdsc__cur_u8(c);
    const uint8_t *d1 = tdsc__cur_take(c, l1);
    uint8_t l2 = tdsc__cur_u8(c);
    const uint8_t *d2 = tdsc__cur_take(c, l2);
    if (!tdsc__cur_ok(c))
      break;
    if ((nv = tdsc__tok_arena_bytes(p, d1, l1)) == NONE ||
        (ov = tdsc__tok_arena_bytes(p, d2, l2)) == NONE)
      o = true;
    nl = l1;
    ol = l2;
    break;
  }
  default: {
    /* A type this version does not know: the rest, raw, as new_val. */
    size_t rest = tdsc__rd_left(&c->rd);
    if ((nv = tdsc__tok_arena_bytes(p, tdsc__cur_take(c, rest), rest)) == NONE)
      o = true;
    nl = rest;
    break;
  }
  }
  if (o)
    return tdsc__tok_oom(err);
  if (!tdsc__cur_ok(c))
    return R_MORE;
  if (tdsc__rd_left(&c->rd) != 0)
    return tdsc__tok_fail(p, err, tok, "type %u: %zu bytes left over",
                          (unsigned)type, tdsc__rd_left(&c->rd));
  ev->u.envchange.new_text = tdsc__tok_astr(p, nt);
  ev->u.envchange.old_text = tdsc__tok_astr(p, ot);
  ev->u.envchange.new_val = nv == NONE ? NULL : p->arena.data + nv;
  ev->u.envchange.old_val = ov == NONE ? NULL : p->arena.data + ov;
  ev->u.envchange.new_len = nl;
  ev->u.envchange.old_len = ol;
  ev->u.envchange.routing.server = tdsc__tok_astr(p, srv);
  ev->kind = TDSC__EV_ENVCHANGE;
  return R_OK;
}
