/* SPNEGO (RFC 4178) token codec: builds the initiator's NegTokenInit and
 * NegTokenResp, parses the acceptor's NegTokenResp (and, for tests and
 * servers, a NegTokenInit).  Only the DER subset RFC 4178 4.2 needs:
 * single-byte tags, definite lengths (short and long form, capped).  Every
 * length read is checked against what remains through tdsc__rd (buf.h);
 * the mechanism tokens themselves are opaque here. */
#include "config.h"

#include "auth/spnego.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* OID contents (X.690 8.19). */
static const uint8_t oid_spnego[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
static const uint8_t oid_krb5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7,
                                   0x12, 0x01, 0x02, 0x02};
static const uint8_t oid_ms_krb5[] = {0x2a, 0x86, 0x48, 0x82, 0xf7,
                                      0x12, 0x01, 0x02, 0x02};
static const uint8_t oid_ntlmssp[] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                      0x82, 0x37, 0x02, 0x02, 0x0a};

const tdsc__oid tdsc__oid_spnego = {oid_spnego, sizeof oid_spnego};
const tdsc__oid tdsc__oid_krb5 = {oid_krb5, sizeof oid_krb5};
const tdsc__oid tdsc__oid_ms_krb5 = {oid_ms_krb5, sizeof oid_ms_krb5};
const tdsc__oid tdsc__oid_ntlmssp = {oid_ntlmssp, sizeof oid_ntlmssp};

bool tdsc__oid_eq(const tdsc__oid *a, const uint8_t *der, size_t len) {
  return der && a->len == len && memcmp(a->der, der, len) == 0;
}

/* DER tags (X.690 8.1.2): universal and context-specific constructed. */
enum {
  TAG_ENUMERATED = 0x0a,
  TAG_OCTET_STRING = 0x04,
  TAG_OID = 0x06,
  TAG_SEQUENCE = 0x30,
  TAG_APPLICATION_0 = 0x60, /* RFC 2743 3.1 InitialContextToken */
  TAG_CTX0 = 0xa0,
  TAG_CTX1 = 0xa1,
  TAG_CTX2 = 0xa2,
  TAG_CTX3 = 0xa3
};

/* No SSPI token TDS can carry comes near this (LOGIN7's field is 64 KiB,
 * packet 0x11 has no length of its own); anything longer is garbage. */
#define DER_MAX_LEN ((size_t)1 << 24)

/* ------------------------------------------------------------- encoding */

static size_t hdr_size(size_t n) {
  if (n < 0x80)
    return 2;
  if (n <= 0xff)
    return 3;
  if (n <= 0xffff)
    return 4;
  if (n <= 0xffffff)
    return 5;
  return 6;
}

static size_t tlv_size(size_t n) { return hdr_size(n) + n; }

/* X.690 8.1.3: short form below 128, else the minimal long form. */
static void put_hdr(tdsc__buf *b, uint8_t tag, size_t n) {
  tdsc__buf_put_u8(b, tag);
  if (n < 0x80) {
    tdsc__buf_put_u8(b, (uint8_t)n);
    return;
  }
  size_t nbytes = hdr_size(n) - 2;
  tdsc__buf_put_u8(b, (uint8_t)(0x80 | nbytes));
  for (size_t i = nbytes; i-- > 0;)
    tdsc__buf_put_u8(b, (uint8_t)(n >> (8 * i)));
}

static size_t mech_list_content(const tdsc__oid *mechs, size_t n) {
  size_t sum = 0;
  for (size_t i = 0; i < n; i++)
    sum += tlv_size(mechs[i].len);
  return sum;
}

void tdsc__spnego_mech_list(const tdsc__oid *mechs, size_t n, tdsc__buf *out) {
  put_hdr(out, TAG_SEQUENCE, mech_list_content(mechs, n));
  for (size_t i = 0; i < n; i++) {
    put_hdr(out, TAG_OID, mechs[i].len);
    tdsc__buf_put(out, mechs[i].der, mechs[i].len);
  }
}

bool tdsc__spnego_init_token(const tdsc__oid *mechs, size_t n,
                             const uint8_t *mechtok, size_t mechtoklen,
                             tdsc__buf *out) {
  size_t ml = tlv_size(mech_list_content(mechs, n));
  size_t f0 = tlv_size(ml);
  size_t f2 = mechtok ? tlv_size(tlv_size(mechtoklen)) : 0;
  size_t seq = tlv_size(f0 + f2);
  size_t neg = tlv_size(seq);
  put_hdr(out, TAG_APPLICATION_0, tlv_size(tdsc__oid_spnego.len) + neg);
  put_hdr(out, TAG_OID, tdsc__oid_spnego.len);
  tdsc__buf_put(out, tdsc__oid_spnego.der, tdsc__oid_spnego.len);
  put_hdr(out, TAG_CTX0, seq); /* negTokenInit [0] */
  put_hdr(out, TAG_SEQUENCE, f0 + f2);
  put_hdr(out, TAG_CTX0, ml); /* mechTypes [0] */
  tdsc__spnego_mech_list(mechs, n, out);
  if (mechtok) { /* mechToken [2] */
    put_hdr(out, TAG_CTX2, tlv_size(mechtoklen));
    put_hdr(out, TAG_OCTET_STRING, mechtoklen);
    tdsc__buf_put(out, mechtok, mechtoklen);
  }
  return !out->oom;
}

const char *tdsc__spnego_state_name(tdsc__neg_state st) {
  switch (st) {
  case TDSC__NEG_ACCEPT_COMPLETED:
    return "accept-completed";
  case TDSC__NEG_ACCEPT_INCOMPLETE:
    return "accept-incomplete";
  case TDSC__NEG_REJECT:
    return "reject";
  case TDSC__NEG_REQUEST_MIC:
    return "request-mic";
  default:
    return "absent";
  }
}

bool tdsc__spnego_resp_token(tdsc__neg_state st, const tdsc__oid *mech,
                             const uint8_t *tok, size_t toklen,
                             const uint8_t *mic, size_t miclen,
                             tdsc__buf *out) {
  size_t f0 = st != TDSC__NEG_ABSENT ? tlv_size(tlv_size(1)) : 0;
  size_t f1 = mech ? tlv_size(tlv_size(mech->len)) : 0;
  size_t f2 = tok ? tlv_size(tlv_size(toklen)) : 0;
  size_t f3 = mic ? tlv_size(tlv_size(miclen)) : 0;
  size_t body = f0 + f1 + f2 + f3;
  put_hdr(out, TAG_CTX1, tlv_size(body)); /* negTokenResp [1] */
  put_hdr(out, TAG_SEQUENCE, body);
  if (st != TDSC__NEG_ABSENT) {
    put_hdr(out, TAG_CTX0, tlv_size(1));
    put_hdr(out, TAG_ENUMERATED, 1);
    tdsc__buf_put_u8(out, (uint8_t)st);
  }
  if (mech) {
    put_hdr(out, TAG_CTX1, tlv_size(mech->len));
    put_hdr(out, TAG_OID, mech->len);
    tdsc__buf_put(out, mech->der, mech->len);
  }
  if (tok) {
    put_hdr(out, TAG_CTX2, tlv_size(toklen));
    put_hdr(out, TAG_OCTET_STRING, toklen);
    tdsc__buf_put(out, tok, toklen);
  }
  if (mic) {
    put_hdr(out, TAG_CTX3, tlv_size(miclen));
    put_hdr(out, TAG_OCTET_STRING, miclen);
    tdsc__buf_put(out, mic, miclen);
  }
  return !out->oom;
}

/* ------------------------------------------------------------- decoding */

/* One parse: where the input starts (for offsets in messages) and which
 * token we are reading (for the message's prefix). */
typedef struct der_ctx {
  const uint8_t *start;
  const char *token;
  tdsc_error *err;
} der_ctx;

static size_t offset_of(const der_ctx *c, const tdsc__rd *r) {
  return (size_t)(r->p + r->pos - c->start);
}

TDSC__PRINTF(3, 4)
static tdsc_errc der_fail(der_ctx *c, const tdsc__rd *r, const char *fmt, ...) {
  char what[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return tdsc__err_set(c->err, TDSC_E_PROTOCOL,
                       "malformed SPNEGO %s from the server: %s at offset %zu",
                       c->token, what, offset_of(c, r));
}

static bool der_peek(const tdsc__rd *r, uint8_t tag) {
  return tdsc__rd_left(r) > 0 && r->p[r->pos] == tag;
}

/* Reads one TLV that must carry tag; *sub reads its contents. */
static tdsc_errc der_read(der_ctx *c, tdsc__rd *r, uint8_t tag,
                          const char *what, tdsc__rd *sub) {
  if (tdsc__rd_left(r) == 0)
    return der_fail(c, r, "%s missing (data ends)", what);
  if (r->p[r->pos] != tag)
    return der_fail(c, r, "%s: expected tag 0x%02x, found 0x%02x", what, tag,
                    r->p[r->pos]);
  tdsc__rd at = *r;
  tdsc__rd_u8(r);
  if (tdsc__rd_left(r) == 0)
    return der_fail(c, &at, "%s: length missing", what);
  uint8_t l0 = tdsc__rd_u8(r);
  size_t len = l0;
  if (l0 == 0x80)
    return der_fail(c, &at, "%s: indefinite length (not DER)", what);
  if (l0 > 0x80) {
    size_t nbytes = l0 & 0x7f;
    if (nbytes > 4)
      return der_fail(c, &at, "%s: length of %zu bytes", what, nbytes);
    if (tdsc__rd_left(r) < nbytes)
      return der_fail(c, &at, "%s: length truncated", what);
    len = 0;
    for (size_t i = 0; i < nbytes; i++)
      len = (len << 8) | tdsc__rd_u8(r);
    if (len > DER_MAX_LEN)
      return der_fail(c, &at, "%s: length %zu over the %zu limit", what, len,
                      DER_MAX_LEN);
  }
  if (len > tdsc__rd_left(r))
    return der_fail(c, &at, "%s: length %zu runs past the end (%zu left)", what,
                    len, tdsc__rd_left(r));
  tdsc__rd_init(sub, tdsc__rd_take(r, len), len);
  return TDSC_OK;
}

static tdsc_errc der_end(der_ctx *c, const tdsc__rd *r, const char *what) {
  if (tdsc__rd_left(r) != 0)
    return der_fail(c, r, "%zu unexpected bytes after %s", tdsc__rd_left(r),
                    what);
  return TDSC_OK;
}

/* [n] EXPLICIT wrapping one element of tag inner; *v gets its contents. */
static tdsc_errc der_explicit(der_ctx *c, tdsc__rd *r, uint8_t ctx,
                              uint8_t inner, const char *what, tdsc__rd *v) {
  tdsc__rd f;
  tdsc_errc e = der_read(c, r, ctx, what, &f);
  if (!e)
    e = der_read(c, &f, inner, what, v);
  if (!e)
    e = der_end(c, &f, what);
  return e;
}

/* An optional [ctx] EXPLICIT OCTET STRING of a NegToken (RFC 4178 4.2):
 * *p and *n point at its contents when present. */
static tdsc_errc der_opt_octets(der_ctx *c, tdsc__rd *seq, uint8_t ctx,
                                const char *what, const uint8_t **p,
                                size_t *n) {
  tdsc__rd v;
  if (!der_peek(seq, ctx))
    return TDSC_OK;
  tdsc_errc e = der_explicit(c, seq, ctx, TAG_OCTET_STRING, what, &v);
  if (!e) {
    *p = v.p;
    *n = v.len;
  }
  return e;
}

/* A NegToken's SEQUENCE read to its last known field: nothing may follow
 * (no extension fields in RFC 4178). */
static tdsc_errc der_fields_end(der_ctx *c, const tdsc__rd *seq) {
  if (tdsc__rd_left(seq))
    return der_fail(c, seq, "unexpected field (tag 0x%02x) in %s",
                    seq->p[seq->pos], c->token);
  return TDSC_OK;
}

tdsc_errc tdsc__spnego_parse_resp(const uint8_t *in, size_t len,
                                  tdsc__spnego_resp *r, tdsc_error *err) {
  der_ctx c = {in, "NegTokenResp", err};
  memset(r, 0, sizeof *r);
  r->state = TDSC__NEG_ABSENT;
  tdsc__rd rd, outer, seq, v;
  tdsc__rd_init(&rd, in, len);
  tdsc_errc e;
  if ((e = der_read(&c, &rd, TAG_CTX1, "negTokenResp [1]", &outer)) ||
      (e = der_end(&c, &rd, "the token")) ||
      (e = der_read(&c, &outer, TAG_SEQUENCE, "NegTokenResp SEQUENCE", &seq)) ||
      (e = der_end(&c, &outer, "the SEQUENCE")))
    return e;
  /* RFC 4178 4.2.2: all four fields optional, in this order. */
  if (der_peek(&seq, TAG_CTX0)) {
    tdsc__rd at = seq;
    if ((e = der_explicit(&c, &seq, TAG_CTX0, TAG_ENUMERATED, "negState", &v)))
      return e;
    if (v.len != 1 || v.p[0] > TDSC__NEG_REQUEST_MIC)
      return der_fail(&c, &at, "negState is not one of 0..3");
    r->state = (tdsc__neg_state)v.p[0];
  }
  if (der_peek(&seq, TAG_CTX1)) {
    if ((e = der_explicit(&c, &seq, TAG_CTX1, TAG_OID, "supportedMech", &v)))
      return e;
    if (v.len == 0)
      return der_fail(&c, &seq, "empty supportedMech");
    r->mech = v.p;
    r->mechlen = v.len;
  }
  if ((e = der_opt_octets(&c, &seq, TAG_CTX2, "responseToken", &r->token,
                          &r->toklen)) ||
      (e = der_opt_octets(&c, &seq, TAG_CTX3, "mechListMIC", &r->mic,
                          &r->miclen)))
    return e;
  return der_fields_end(&c, &seq);
}

tdsc_errc tdsc__spnego_parse_init(const uint8_t *in, size_t len,
                                  tdsc__spnego_init *r, tdsc_error *err) {
  der_ctx c = {in, "NegTokenInit", err};
  memset(r, 0, sizeof *r);
  tdsc__rd rd, app, oid, neg, seq, f, list, v;
  tdsc__rd_init(&rd, in, len);
  tdsc_errc e;
  if ((e = der_read(&c, &rd, TAG_APPLICATION_0, "InitialContextToken", &app)) ||
      (e = der_end(&c, &rd, "the token")) ||
      (e = der_read(&c, &app, TAG_OID, "thisMech", &oid)))
    return e;
  if (!tdsc__oid_eq(&tdsc__oid_spnego, oid.p, oid.len))
    return der_fail(&c, &app, "thisMech is not the SPNEGO OID");
  if ((e = der_read(&c, &app, TAG_CTX0, "negTokenInit [0]", &neg)) ||
      (e = der_end(&c, &app, "negTokenInit")) ||
      (e = der_read(&c, &neg, TAG_SEQUENCE, "NegTokenInit SEQUENCE", &seq)) ||
      (e = der_end(&c, &neg, "the SEQUENCE")))
    return e;
  if (der_peek(&seq, TAG_CTX0)) {
    if ((e = der_read(&c, &seq, TAG_CTX0, "mechTypes", &f)))
      return e;
    r->mech_list = f.p;
    r->mech_list_len = f.len;
    if ((e = der_read(&c, &f, TAG_SEQUENCE, "MechTypeList", &list)) ||
        (e = der_end(&c, &f, "MechTypeList")))
      return e;
    while (tdsc__rd_left(&list)) {
      if ((e = der_read(&c, &list, TAG_OID, "MechType", &v)))
        return e;
      if (!r->first_mech) {
        r->first_mech = v.p;
        r->first_mech_len = v.len;
      }
    }
  }
  if (der_peek(&seq, TAG_CTX1) &&
      (e = der_read(&c, &seq, TAG_CTX1, "reqFlags", &f)))
    return e;
  if ((e = der_opt_octets(&c, &seq, TAG_CTX2, "mechToken", &r->token,
                          &r->toklen)) ||
      (e = der_opt_octets(&c, &seq, TAG_CTX3, "mechListMIC", &r->mic,
                          &r->miclen)) ||
      (e = der_fields_end(&c, &seq)))
    return e;
  if (!r->first_mech)
    return der_fail(&c, &seq, "no mechTypes");
  return TDSC_OK;
}
