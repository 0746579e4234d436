/* The protocol trace's decodings of the client's messages and of the
 * server's PRELOGIN answer (trace.h): PRELOGIN (MS-TDS 2.2.6.5), LOGIN7
 * (2.2.6.4), SQLBatch (2.2.6.7), RPC (2.2.6.6), SSPI (2.2.6.8) and
 * transaction manager requests (2.2.6.9).  Reads through tdsc__rd only; a
 * short or odd message decodes as far as it is sound.  Secrets are never
 * formatted: the LOGIN7 password fields are named, not shown, and an SSPI
 * token or FEDAUTH feature is reduced to its length and kind. */
#include "config.h"

#include "proto/trace.h"

#include "proto/rpc.h"
#include "proto/typeinfo.h"
#include "proto/values.h"

#include <stdio.h>
#include <string.h>

#define LINE_MAX_BYTES 2048

void tdsc__tout_line(const tdsc__tout *o, const char *fmt, ...) {
  char line[LINE_MAX_BYTES];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n >= sizeof line) /* cut: say so */
    memcpy(line + sizeof line - 4, "...", 4);
  o->emit(o->ud, line);
}

void tdsc__trace_quote(tdsc__buf *out, const uint8_t *s, size_t n, size_t max) {
  tdsc__buf_put_u8(out, '"');
  size_t i = 0;
  for (; i < n && i < max; i++) {
    uint8_t ch = s[i];
    if (ch == '"' || ch == '\\') {
      tdsc__buf_put_u8(out, '\\');
      tdsc__buf_put_u8(out, ch);
    } else if (ch < 0x20 || ch == 0x7F) {
      char esc[8];
      snprintf(esc, sizeof esc, "\\x%02x", ch);
      tdsc__buf_put_str(out, esc);
    } else {
      tdsc__buf_put_u8(out, ch);
    }
  }
  tdsc__buf_put_u8(out, '"');
  if (i < n)
    tdsc__buf_put_str(out, "...");
}

const char *tdsc__trace_pkt_name(uint8_t type) {
  switch (type) {
  case TDSC__PKT_SQLBATCH:
    return "SQLBATCH";
  case TDSC__PKT_RPC:
    return "RPC";
  case TDSC__PKT_REPLY:
    return "REPLY";
  case TDSC__PKT_ATTENTION:
    return "ATTENTION";
  case TDSC__PKT_BULK:
    return "BULKLOAD";
  case TDSC__PKT_FEDAUTH:
    return "FEDAUTH_TOKEN";
  case TDSC__PKT_TRANSMGR:
    return "TRANSMGR";
  case TDSC__PKT_LOGIN7:
    return "LOGIN7";
  case TDSC__PKT_SSPI:
    return "SSPI";
  case TDSC__PKT_PRELOGIN:
    return "PRELOGIN";
  }
  return "?";
}

/* UTF-16LE bytes as a quoted UTF-8 string into a NUL-terminated buffer
 * (a static empty string on out-of-memory). */
static const char *u16q(tdsc__buf *tmp, const uint8_t *p, size_t nbytes,
                        size_t max) {
  tdsc__buf u8;
  tdsc__buf_init(&u8);
  tdsc__buf_reset(tmp);
  if (!p || !tdsc__utf16le_to_utf8(p, nbytes & ~(size_t)1, &u8))
    tdsc__buf_put_str(tmp, "(not UTF-16)");
  else
    tdsc__trace_quote(tmp, u8.data ? u8.data : (const uint8_t *)"", u8.len,
                      max);
  tdsc__buf_free(&u8);
  const char *s = tdsc__buf_cstr(tmp);
  return s ? s : "";
}

/* ---- SSPI tokens: the mechanism, never the bytes */

static const uint8_t OID_SPNEGO[] = {0x06, 0x06, 0x2b, 0x06,
                                     0x01, 0x05, 0x05, 0x02};
static const uint8_t OID_KRB5[] = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
                                   0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_NTLM[] = {0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04,
                                   0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};

static bool contains(const uint8_t *p, size_t n, const uint8_t *pat, size_t m) {
  for (size_t i = 0; m <= n && i <= n - m; i++)
    if (memcmp(p + i, pat, m) == 0)
      return true;
  return false;
}

/* NTLMSSP message type at p (MS-NLMP 2.2.1), or NULL. */
static const char *ntlm_type(const uint8_t *p, size_t n) {
  static const uint8_t sig[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
  for (size_t i = 0; n >= 12 && i <= n - 12; i++) {
    if (memcmp(p + i, sig, 8) != 0)
      continue;
    switch (tdsc__le32(p + i + 8)) {
    case 1:
      return "NTLMSSP NEGOTIATE";
    case 2:
      return "NTLMSSP CHALLENGE";
    case 3:
      return "NTLMSSP AUTHENTICATE";
    default:
      return "NTLMSSP (unknown message type)";
    }
  }
  return NULL;
}

const char *tdsc__trace_sspi_kind(const uint8_t *p, size_t n, char *buf,
                                  size_t len) {
  const char *kind = "unrecognised mechanism";
  const char *ntlm = ntlm_type(p, n);
  char tmp[128];
  bool krb = contains(p, n, OID_KRB5, sizeof OID_KRB5);
  bool spnego = n > 2 && p[0] == 0x60 &&
                contains(p, n < 32 ? n : 32, OID_SPNEGO, sizeof OID_SPNEGO);
  if (spnego) {
    snprintf(tmp, sizeof tmp, "SPNEGO NegTokenInit (%s%s%s)",
             krb ? "Kerberos" : "",
             krb && contains(p, n, OID_NTLM, sizeof OID_NTLM) ? ", " : "",
             contains(p, n, OID_NTLM, sizeof OID_NTLM) ? "NTLM" : "");
    if (ntlm && !krb)
      snprintf(tmp, sizeof tmp, "SPNEGO NegTokenInit carrying %s", ntlm);
    kind = tmp;
  } else if (n > 0 && p[0] == 0xa1) {
    snprintf(tmp, sizeof tmp, "SPNEGO NegTokenResp%s%s",
             ntlm  ? " carrying "
             : krb ? " (Kerberos)"
                   : "",
             ntlm ? ntlm : "");
    kind = tmp;
  } else if (ntlm) {
    kind = ntlm;
  } else if (n > 0 && p[0] == 0x60 && krb) {
    kind = "Kerberos (GSS-API token)";
  } else if (n > 0 && (p[0] == 0x6e || p[0] == 0x6f)) {
    kind = p[0] == 0x6e ? "Kerberos AP-REQ" : "Kerberos AP-REP";
  }
  snprintf(buf, len, "%zu bytes, %s, redacted", n, kind);
  return buf;
}

/* ---- PRELOGIN (2.2.6.5) */

static const char *pl_option(uint8_t t) {
  switch (t) {
  case 0:
    return "VERSION";
  case 1:
    return "ENCRYPTION";
  case 2:
    return "INSTOPT";
  case 3:
    return "THREADID";
  case 4:
    return "MARS";
  case 5:
    return "TRACEID";
  case 6:
    return "FEDAUTHREQUIRED";
  case 7:
    return "NONCEOPT";
  }
  return "unknown option";
}

static const char *encryption_name(uint8_t e) {
  switch (e & 0x0F) {
  case TDSC__ENCRYPT_OFF:
    return "ENCRYPT_OFF";
  case TDSC__ENCRYPT_ON:
    return "ENCRYPT_ON";
  case TDSC__ENCRYPT_NOT_SUP:
    return "ENCRYPT_NOT_SUP";
  case TDSC__ENCRYPT_REQ:
    return "ENCRYPT_REQ";
  }
  return "undefined";
}

void tdsc__trace_prelogin(const tdsc__tout *o, const char *who,
                          const uint8_t *p, size_t n) {
  tdsc__rd r;
  tdsc__rd_init(&r, p, n);
  tdsc__buf q;
  tdsc__buf_init(&q);
  for (int i = 0; i < 64; i++) {
    uint8_t t = tdsc__rd_u8(&r);
    if (!tdsc__rd_ok(&r) || t == 0xFF)
      break;
    uint16_t off = tdsc__rd_u16be(&r), len = tdsc__rd_u16be(&r);
    if (!tdsc__rd_ok(&r))
      break;
    tdsc__rd v;
    tdsc__rd_init(&v, p, n);
    const uint8_t *d = tdsc__rd_skip(&v, off) ? tdsc__rd_take(&v, len) : NULL;
    if (!d) {
      tdsc__tout_line(o, "  %s %s: offset %u length %u outside the message",
                      who, pl_option(t), off, len);
      continue;
    }
    if (t == 0 && len >= 6)
      tdsc__tout_line(o, "  %s VERSION %u.%u.%u sub-build %u", who, d[0], d[1],
                      (d[2] << 8) | d[3], (d[4] << 8) | d[5]);
    else if (t == 1 && len >= 1)
      tdsc__tout_line(o, "  %s ENCRYPTION 0x%02x %s%s", who, d[0],
                      encryption_name(d[0]),
                      d[0] & 0x20 ? " (client certificate)" : "");
    else if (t == 2) {
      tdsc__buf_reset(&q);
      size_t sl = strnlen((const char *)d, len);
      tdsc__trace_quote(&q, d, sl, 128);
      const char *s = tdsc__buf_cstr(&q);
      tdsc__tout_line(o, "  %s INSTOPT %s", who, s ? s : "");
    } else if (t == 3 && len >= 4)
      tdsc__tout_line(o, "  %s THREADID %u", who,
                      (unsigned)((uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
                                 (uint32_t)d[2] << 8 | d[3]));
    else if ((t == 4 || t == 6) && len >= 1)
      tdsc__tout_line(o, "  %s %s %u", who, pl_option(t), d[0]);
    else
      tdsc__tout_line(o, "  %s %s (%u bytes)", who, pl_option(t), len);
  }
  tdsc__buf_free(&q);
}

/* ---- LOGIN7 (2.2.6.4) */

static const char *feature_name(uint8_t id) {
  switch (id) {
  case TDSC__FEAT_SESSIONRECOVERY:
    return "SESSIONRECOVERY";
  case TDSC__FEAT_FEDAUTH:
    return "FEDAUTH";
  case TDSC__FEAT_COLUMNENCRYPTION:
    return "COLUMNENCRYPTION";
  case TDSC__FEAT_GLOBALTRANSACTIONS:
    return "GLOBALTRANSACTIONS";
  case TDSC__FEAT_AZURESQLSUPPORT:
    return "AZURESQLSUPPORT";
  case TDSC__FEAT_DATACLASSIFICATION:
    return "DATACLASSIFICATION";
  case TDSC__FEAT_UTF8_SUPPORT:
    return "UTF8_SUPPORT";
  }
  return "unknown feature";
}

/* The offset/length pairs of the fixed part, in order (2.2.6.4). */
static const struct {
  const char *name;
  bool secret;
} login_fields[] = {
    {"HostName", false},   {"UserName", false},   {"Password", true},
    {"AppName", false},    {"ServerName", false}, {"Extension", false},
    {"CltIntName", false}, {"Language", false},   {"Database", false},
};

static void trace_login7(const tdsc__tout *o, const uint8_t *p, size_t n) {
  tdsc__rd r;
  tdsc__rd_init(&r, p, n);
  uint32_t total = tdsc__rd_u32le(&r);
  uint32_t ver = tdsc__rd_u32le(&r), psize = tdsc__rd_u32le(&r);
  uint32_t progver = tdsc__rd_u32le(&r), pid = tdsc__rd_u32le(&r);
  uint32_t connid = tdsc__rd_u32le(&r);
  uint8_t of1 = tdsc__rd_u8(&r), of2 = tdsc__rd_u8(&r);
  uint8_t tf = tdsc__rd_u8(&r), of3 = tdsc__rd_u8(&r);
  int32_t tz = (int32_t)tdsc__rd_u32le(&r);
  uint32_t lcid = tdsc__rd_u32le(&r);
  if (!tdsc__rd_ok(&r)) {
    tdsc__tout_line(o, "  LOGIN7 too short (%zu bytes) to decode", n);
    return;
  }
  tdsc__tout_line(o,
                  "  LOGIN7 Length=%u TDSVersion=0x%08x PacketSize=%u "
                  "ClientProgVer=0x%08x ClientPID=%u ConnectionID=%u",
                  total, ver, psize, progver, pid, connid);
  tdsc__tout_line(o,
                  "  LOGIN7 OptionFlags1=0x%02x OptionFlags2=0x%02x%s "
                  "TypeFlags=0x%02x%s OptionFlags3=0x%02x%s "
                  "ClientTimeZone=%d ClientLCID=0x%08x",
                  of1, of2, of2 & TDSC__OF2_INTEGRATED ? " (fIntSecurity)" : "",
                  tf, tf & TDSC__TF_READ_ONLY_INTENT ? " (ReadOnlyIntent)" : "",
                  of3, of3 & TDSC__OF3_EXTENSION ? " (fExtension)" : "", tz,
                  lcid);
  tdsc__buf q;
  tdsc__buf_init(&q);
  uint16_t ext_off = 0, ext_len = 0;
  for (size_t i = 0; i < sizeof login_fields / sizeof *login_fields; i++) {
    uint16_t off = tdsc__rd_u16le(&r), cch = tdsc__rd_u16le(&r);
    if (!tdsc__rd_ok(&r))
      break;
    if (i == 5) { /* ibExtension: bytes, not characters */
      ext_off = off, ext_len = cch;
      continue;
    }
    if (login_fields[i].secret) {
      tdsc__tout_line(o, "  LOGIN7 %s=%s", login_fields[i].name,
                      cch ? "<redacted>" : "<empty>");
      continue;
    }
    tdsc__rd v;
    tdsc__rd_init(&v, p, n);
    const uint8_t *d =
        tdsc__rd_skip(&v, off) ? tdsc__rd_take(&v, (size_t)cch * 2) : NULL;
    if (!d && cch)
      tdsc__tout_line(o,
                      "  LOGIN7 %s: offset %u, %u characters: outside "
                      "the message",
                      login_fields[i].name, off, cch);
    else
      tdsc__tout_line(
          o, "  LOGIN7 %s=%s", login_fields[i].name,
          u16q(&q, d ? d : (const uint8_t *)"", (size_t)cch * 2, 256));
  }
  const uint8_t *cid = tdsc__rd_take(&r, 6);
  uint16_t sspi_off = tdsc__rd_u16le(&r), sspi_len = tdsc__rd_u16le(&r);
  tdsc__rd_skip(&r, 4); /* ibAtchDBFile, cchAtchDBFile: not used here */
  uint16_t cp_off = tdsc__rd_u16le(&r), cp_cch = tdsc__rd_u16le(&r);
  uint32_t sspi_long = tdsc__rd_u32le(&r);
  (void)cp_off;
  if (cid)
    tdsc__tout_line(o, "  LOGIN7 ClientID=%02x:%02x:%02x:%02x:%02x:%02x",
                    cid[0], cid[1], cid[2], cid[3], cid[4], cid[5]);
  if (tdsc__rd_ok(&r)) {
    size_t slen = sspi_len == 0xFFFF ? sspi_long : sspi_len;
    tdsc__rd v;
    tdsc__rd_init(&v, p, n);
    const uint8_t *d =
        tdsc__rd_skip(&v, sspi_off) ? tdsc__rd_take(&v, slen) : NULL;
    char kind[160];
    if (slen == 0)
      tdsc__tout_line(o, "  LOGIN7 SSPI=<none>");
    else if (!d)
      tdsc__tout_line(o, "  LOGIN7 SSPI: %zu bytes outside the message", slen);
    else
      tdsc__tout_line(o, "  LOGIN7 SSPI=<%s>",
                      tdsc__trace_sspi_kind(d, slen, kind, sizeof kind));
    tdsc__tout_line(o, "  LOGIN7 ChangePassword=%s",
                    cp_cch ? "<redacted>" : "<empty>");
  }
  /* FeatureExt: ibExtension points at a DWORD offset of the list. */
  if ((of3 & TDSC__OF3_EXTENSION) && ext_len >= 4) {
    tdsc__rd v;
    tdsc__rd_init(&v, p, n);
    uint32_t fe = tdsc__rd_skip(&v, ext_off) ? tdsc__rd_u32le(&v) : 0;
    tdsc__rd_init(&v, p, n);
    if (fe && tdsc__rd_ok(&v) && tdsc__rd_skip(&v, fe)) {
      for (int i = 0; i < 64; i++) {
        uint8_t id = tdsc__rd_u8(&v);
        if (!tdsc__rd_ok(&v) || id == TDSC__FEAT_TERMINATOR)
          break;
        uint32_t fl = tdsc__rd_u32le(&v);
        const uint8_t *fd = tdsc__rd_take(&v, fl);
        if (!fd)
          break;
        /* FEDAUTH carries access tokens and nonces: length only */
        if (id == TDSC__FEAT_UTF8_SUPPORT || id == TDSC__FEAT_FEDAUTH ||
            fl == 0)
          tdsc__tout_line(o, "  LOGIN7 FeatureExt %s (0x%02x), %u bytes%s",
                          feature_name(id), id, fl,
                          id == TDSC__FEAT_FEDAUTH ? ", redacted" : "");
        else
          tdsc__tout_line(o,
                          "  LOGIN7 FeatureExt %s (0x%02x), %u bytes, "
                          "first 0x%02x",
                          feature_name(id), id, fl, fd[0]);
      }
    }
  }
  tdsc__buf_free(&q);
}

/* ---- SQLBatch, RPC, transaction manager */

/* Skips ALL_HEADERS (2.2.5.3); false when it does not fit. */
static bool skip_all_headers(tdsc__rd *r) {
  uint32_t total = tdsc__rd_u32le(r);
  return tdsc__rd_ok(r) && total >= 4 && tdsc__rd_skip(r, total - 4);
}

static void trace_sqlbatch(const tdsc__tout *o, const uint8_t *p, size_t n,
                           bool truncated) {
  tdsc__rd r;
  tdsc__rd_init(&r, p, n);
  if (!skip_all_headers(&r)) {
    tdsc__tout_line(o, "  SQLBATCH: ALL_HEADERS does not fit");
    return;
  }
  tdsc__buf q;
  tdsc__buf_init(&q);
  size_t left = tdsc__rd_left(&r);
  tdsc__tout_line(o, "  SQLBATCH %s%s",
                  u16q(&q, tdsc__rd_take(&r, left), left, 1500),
                  truncated ? " (message cut in the trace)" : "");
  tdsc__buf_free(&q);
}

static const char *proc_name(uint16_t id) {
  switch (id) {
  case 1:
    return "sp_cursor";
  case 2:
    return "sp_cursoropen";
  case 3:
    return "sp_cursorprepare";
  case 4:
    return "sp_cursorexecute";
  case 5:
    return "sp_cursorprepexec";
  case 6:
    return "sp_cursorunprepare";
  case 7:
    return "sp_cursorfetch";
  case 8:
    return "sp_cursoroption";
  case 9:
    return "sp_cursorclose";
  case TDSC__PROC_EXECUTESQL:
    return "sp_executesql";
  case TDSC__PROC_PREPARE:
    return "sp_prepare";
  case TDSC__PROC_EXECUTE:
    return "sp_execute";
  case 13:
    return "sp_prepexec";
  case 14:
    return "sp_prepexecrpc";
  case TDSC__PROC_UNPREPARE:
    return "sp_unprepare";
  }
  return "?";
}

/* One parameter's value (2.2.5.5 after TYPE_INFO) into v; PLP chunks are
 * gathered into plp (at most a few KiB kept: *cut set beyond). */
static bool read_param_value(tdsc__cur *c, const tdsc__colinfo *col,
                             tdsc__value *v, tdsc__buf *plp, bool *cut) {
  *v = (tdsc__value){0};
  *cut = false;
  switch (col->lenkind) {
  case TDSC__LEN_FIXED:
    v->len = col->fixed_len;
    break;
  case TDSC__LEN_BYTE:
    v->len = tdsc__cur_u8(c);
    v->null = v->len == 0;
    break;
  case TDSC__LEN_USHORT:
    v->len = tdsc__cur_u16(c);
    v->null = v->len == 0xFFFF;
    break;
  case TDSC__LEN_LONG: {
    uint32_t l = tdsc__cur_u32(c);
    v->null = l == 0xFFFFFFFFu;
    v->len = v->null ? 0 : l;
    break;
  }
  case TDSC__LEN_VARIANT:
    v->len = tdsc__cur_u32(c);
    v->null = v->len == 0;
    break;
  case TDSC__LEN_PLP: {
    uint64_t total = tdsc__cur_u64(c);
    if (total == UINT64_MAX) {
      v->null = true;
      return tdsc__cur_ok(c);
    }
    tdsc__buf_reset(plp);
    for (;;) {
      uint32_t cl = tdsc__cur_u32(c);
      const uint8_t *d = cl ? tdsc__cur_take(c, cl) : NULL;
      if (!tdsc__cur_ok(c) || cl == 0)
        break;
      size_t keep = plp->len < 4096 ? 4096 - plp->len : 0;
      tdsc__buf_put(plp, d, cl < keep ? cl : keep);
      *cut = *cut || cl > keep;
    }
    v->data = plp->data ? plp->data : (const uint8_t *)"";
    v->len = plp->len;
    return tdsc__cur_ok(c);
  }
  }
  if (v->null)
    v->len = 0;
  v->data = v->len ? tdsc__cur_take(c, v->len) : (const uint8_t *)"";
  return tdsc__cur_ok(c);
}

static void trace_rpc(const tdsc__tout *o, const uint8_t *p, size_t n,
                      bool truncated) {
  tdsc__rd r;
  tdsc__rd_init(&r, p, n);
  if (!skip_all_headers(&r)) {
    tdsc__tout_line(o, "  RPC: ALL_HEADERS does not fit");
    return;
  }
  tdsc__buf q, val, plp;
  tdsc__buf_init(&q);
  tdsc__buf_init(&val);
  tdsc__buf_init(&plp);
  tdsc__cur c;
  tdsc__cur_init(&c, p + r.pos, tdsc__rd_left(&r));
  for (int req = 0; req < 64 && tdsc__rd_left(&c.rd) > 0; req++) {
    uint16_t nl = tdsc__cur_u16(&c);
    if (nl == 0xFFFF) {
      uint16_t id = tdsc__cur_u16(&c);
      uint16_t flags = tdsc__cur_u16(&c);
      if (tdsc__cur_ok(&c))
        tdsc__tout_line(o, "  RPC ProcID %u (%s) OptionFlags=0x%04x", id,
                        proc_name(id), flags);
    } else {
      const uint8_t *name = tdsc__cur_take(&c, (size_t)nl * 2);
      uint16_t flags = tdsc__cur_u16(&c);
      if (tdsc__cur_ok(&c))
        tdsc__tout_line(o, "  RPC ProcName %s OptionFlags=0x%04x",
                        u16q(&q, name, (size_t)nl * 2, 256), flags);
    }
    for (size_t i = 0; tdsc__cur_ok(&c) && tdsc__rd_left(&c.rd) > 0; i++) {
      size_t at = c.rd.pos;
      uint8_t b = tdsc__cur_u8(&c);
      if (b == 0xFF || b == 0x80) /* the next request of a batch */
        break;
      c.rd.pos = at;
      uint8_t nlen = tdsc__cur_u8(&c);
      const uint8_t *pname = tdsc__cur_take(&c, (size_t)nlen * 2);
      uint8_t status = tdsc__cur_u8(&c);
      tdsc__colinfo col;
      memset(&col, 0, sizeof col);
      tdsc_error err = {0};
      if (!tdsc__cur_ok(&c) || tdsc__typeinfo_read(&c, &col, &err) != TDSC_OK ||
          !tdsc__cur_ok(&c)) {
        tdsc__err_clear(&err);
        break;
      }
      tdsc__value v;
      bool cut;
      if (!read_param_value(&c, &col, &v, &plp, &cut))
        break;
      tdsc__buf_reset(&val);
      if (v.null) {
        tdsc__buf_put_str(&val, "NULL");
      } else {
        tdsc__buf txt;
        tdsc__buf_init(&txt);
        if (tdsc__val_text(&col, &v, &txt, &err) == TDSC_OK && !txt.oom)
          tdsc__trace_quote(&val, txt.data ? txt.data : (const uint8_t *)"",
                            txt.len, 200);
        else {
          char s[64];
          snprintf(s, sizeof s, "<%zu bytes>", v.len);
          tdsc__buf_put_str(&val, s);
        }
        tdsc__buf_free(&txt);
        tdsc__err_clear(&err);
        if (cut)
          tdsc__buf_put_str(&val, " (cut in the trace)");
      }
      const char *vs = tdsc__buf_cstr(&val);
      char pn[300];
      snprintf(pn, sizeof pn, "%s",
               nlen ? u16q(&q, pname, (size_t)nlen * 2, 128) : "(unnamed)");
      tdsc__tout_line(
          o, "  RPC param %zu %s %s(max %u, p%u s%u)%s%s = %s", i, pn,
          tdsc__typeinfo_name(col.wire_type), col.max_len, col.precision,
          col.scale, status & TDSC__PARAM_BYREF ? " OUTPUT" : "",
          status & TDSC__PARAM_DEFAULT ? " DEFAULT" : "", vs ? vs : "");
    }
    if (!tdsc__cur_ok(&c)) {
      tdsc__tout_line(o, "  RPC: %s",
                      truncated ? "the rest was cut in the trace"
                                : "the rest does not decode");
      break;
    }
  }
  tdsc__buf_free(&q);
  tdsc__buf_free(&val);
  tdsc__buf_free(&plp);
}

static void trace_tm(const tdsc__tout *o, const uint8_t *p, size_t n) {
  tdsc__rd r;
  tdsc__rd_init(&r, p, n);
  uint16_t t = skip_all_headers(&r) ? tdsc__rd_u16le(&r) : 0;
  const char *name = t == TDSC__TM_BEGIN      ? "BEGIN_XACT"
                     : t == TDSC__TM_COMMIT   ? "COMMIT_XACT"
                     : t == TDSC__TM_ROLLBACK ? "ROLLBACK_XACT"
                     : t == TDSC__TM_SAVE     ? "SAVE_XACT"
                                              : "request";
  tdsc__tout_line(o, "  TRANSMGR %s (type %u)", name, t);
}

void tdsc__trace_client_msg(const tdsc__tout *o, uint8_t type, const uint8_t *p,
                            size_t n, bool truncated) {
  char kind[160];
  switch (type) {
  case TDSC__PKT_PRELOGIN:
    tdsc__trace_prelogin(o, "PRELOGIN", p, n);
    break;
  case TDSC__PKT_LOGIN7:
    trace_login7(o, p, n);
    break;
  case TDSC__PKT_SQLBATCH:
    trace_sqlbatch(o, p, n, truncated);
    break;
  case TDSC__PKT_RPC:
    trace_rpc(o, p, n, truncated);
    break;
  case TDSC__PKT_SSPI:
    tdsc__tout_line(o, "  SSPI token <%s>",
                    tdsc__trace_sspi_kind(p, n, kind, sizeof kind));
    break;
  case TDSC__PKT_TRANSMGR:
    trace_tm(o, p, n);
    break;
  case TDSC__PKT_ATTENTION:
    break;
  default:
    tdsc__tout_line(o, "  (%zu bytes, not decoded)", n);
  }
}
