/* NTLMv2 (MS-NLMP), the "ntlm" mechanism of auth.h, written here on
 * ntlm_crypto.c's primitives: NEGOTIATE out, CHALLENGE in, AUTHENTICATE
 * out, raw or inside SPNEGO (spnego.c, RFC 4178 with MS-SPNG's
 * mechListMIC).  NTLM has no mutual authentication: the AUTHENTICATE
 * proves the client, nothing proves the server (beyond the mechListMIC of
 * a SPNEGO accept, which only shows the server knows the session key, i.e.
 * it asked the client's domain controller).  The mechanism is DONE as soon
 * as AUTHENTICATE is produced; whether the credentials were good, only the
 * server's login answer tells.
 *
 * Secrets: the password is turned into NTOWFv2 at init (MS-NLMP 3.3.2)
 * and every copy of it wiped; NTOWFv2, the session keys and the signing
 * keys are wiped on free.  No message ever carries them. */
#include "config.h"

#include "auth/auth.h"
#include "auth/credfile.h"
#include "auth/exchange.h"
#include "auth/ntlm_crypto.h"
#include "auth/spnego.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* What we ask for.  SIGN (and SEAL, as Windows' SSPI does) so that the
 * session keys exist: MS-SPNG's mechListMIC is an NTLM signature, and the
 * MS-NLMP 4.2.4 example negotiates exactly this set. */
#define OUR_FLAGS                                                              \
  (NEG_UNICODE | NEG_REQUEST_TARGET | NEG_SIGN | NEG_SEAL | NEG_NTLM |         \
   NEG_ALWAYS_SIGN | NEG_ESS | NEG_TARGET_INFO | NEG_VERSION | NEG_128 |       \
   NEG_KEY_EXCH | NEG_56)

/* MS-NLMP 2.2.2.1 AvId */
enum {
  AV_EOL = 0,
  AV_NB_COMPUTER = 1,
  AV_NB_DOMAIN = 2,
  AV_DNS_COMPUTER = 3,
  AV_DNS_DOMAIN = 4,
  AV_DNS_TREE = 5,
  AV_FLAGS = 6,
  AV_TIMESTAMP = 7,
  AV_SINGLE_HOST = 8,
  AV_TARGET_NAME = 9,
  AV_CHANNEL_BINDINGS = 10
};

#define AV_FLAG_MIC 0x00000002u /* MsvAvFlags: the MIC field is set */

static const uint8_t signature[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};
/* VERSION (2.2.2.10): 6.1.7601, NTLMSSP_REVISION_W2K3; informational. */
static const uint8_t our_version[8] = {6, 1, 0xb1, 0x1d, 0, 0, 0, 0x0f};

#define NEGOTIATE_LEN 40
#define AUTH_HDR_LEN 72 /* without the MIC */
#define MIC_OFFSET 72

typedef struct ntlm_state {
  tdsc__exchange x; /* the token exchange (exchange.c) */
  char *user, *domain, *workstation, *spn;
  char *cred_desc;     /* where the credentials came from */
  uint8_t ntowfv2[16]; /* ResponseKeyNT (= ResponseKeyLM) */
  tdsc__buf negotiate; /* the NEGOTIATE we sent (the MIC covers it) */
  tdsc__buf challenge; /* the server's CHALLENGE, copied */
  bool fixed;
  tdsc__ntlm_fixed fix;
  tdsc__ntlm_info info;
} ntlm_state;
_Static_assert(offsetof(ntlm_state, x) == 0, "tdsc__exchange_step's state");

static const tdsc__mech_hooks ntlm_hooks; /* with the steps */

/* ------------------------------------------------------------- helpers */

static uint64_t filetime_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  /* 100 ns intervals since 1601-01-01 (MS-DTYP 2.3.3) */
  return ((uint64_t)ts.tv_sec + 11644473600ull) * 10000000ull +
         (uint64_t)ts.tv_nsec / 100;
}

/* The mechListMIC (MS-SPNG 3.3.5.1 / RFC 4178 5) over mech_list in one
 * direction: a fresh sealing handle and sequence number 0, since it is the
 * first signed message each way. */
static bool spnego_mic(const ntlm_state *s, const tdsc__buf *msg,
                       bool client_to_server, uint8_t out[16]) {
  uint8_t sign[16], seal[16];
  tdsc__rc4 rc4;
  uint32_t fl = s->info.flags;
  bool ok = tdsc__ntlm_signkey(s->info.exported_session_key, client_to_server,
                               sign) &&
            tdsc__ntlm_sealkey(s->info.exported_session_key, fl,
                               client_to_server, seal);
  if (ok) {
    tdsc__rc4_init(&rc4, seal, 16);
    ok = tdsc__ntlm_mac(sign, &rc4, (fl & NEG_KEY_EXCH) != 0, 0, msg->data,
                        msg->len, out);
    tdsc__rc4_wipe(&rc4);
  }
  tdsc__wipe(sign, sizeof sign);
  tdsc__wipe(seal, sizeof seal);
  return ok;
}

/* ---------------------------------------------------------- credentials */

/* Splits "DOMAIN\user" or "user@domain" (or a bare "user"). */
static bool split_user(ntlm_state *s, const char *name) {
  const char *bs = strchr(name, '\\');
  const char *at = strrchr(name, '@');
  if (bs) {
    s->domain = strndup(name, (size_t)(bs - name));
    s->user = strdup(bs + 1);
  } else if (at) {
    s->user = strndup(name, (size_t)(at - name));
    s->domain = strdup(at + 1);
  } else {
    s->user = strdup(name);
    s->domain = strdup("");
  }
  if (!s->user || !s->domain)
    return false;
  s->x.identity = *s->domain ? tdsc__strdup_printf("%s\\%s", s->domain, s->user)
                             : tdsc__strdup(s->user);
  return s->x.identity != NULL;
}

/* NTOWFv2 from the password: MD4(UNICODE(password)) then HMAC (3.3.2); the
 * UTF-16 copy and the NT hash are wiped. */
static bool derive_key(ntlm_state *s, const char *pw, size_t pwlen) {
  tdsc__buf u;
  uint8_t nthash[16];
  tdsc__buf_init(&u);
  /* room for the worst case up front: no realloc leaves a copy behind */
  if (!tdsc__buf_reserve(&u, 2 * pwlen + 2))
    return false;
  bool ok = tdsc__utf8_to_utf16le(pw, pwlen, &u) != (size_t)-1;
  if (ok) {
    tdsc__md4(u.data, u.len, nthash);
    ok = tdsc__ntlm_ntowfv2(nthash, s->user, s->domain, s->ntowfv2);
  }
  tdsc__wipe(nthash, sizeof nthash);
  tdsc__buf_wipe(&u);
  tdsc__buf_free(&u);
  return ok;
}

/* NTLMCredFile= (credfile.h): the entry for want, or the first. */
static tdsc_errc read_credfile(ntlm_state *s, const char *path,
                               const char *want, tdsc_error *err) {
  FILE *f = fopen(path, "r");
  if (!f)
    return tdsc__err_errno(err, TDSC_E_NTLM_CREDFILE_UNUSABLE, errno,
                           "cannot read the NTLM credential file %s", path);
  tdsc__buf all;
  tdsc__buf_init(&all);
  uint8_t chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
    tdsc__buf_put(&all, chunk, n);
  bool failed = ferror(f) != 0;
  int errnum = errno;
  fclose(f);
  tdsc__wipe(chunk, sizeof chunk);
  tdsc__buf_put_u8(&all, 0);
  tdsc_errc rc;
  char *name, *pw;
  unsigned lineno;
  if (all.oom)
    rc = tdsc__err_oom(err);
  else if (failed)
    rc = tdsc__err_errno(err, TDSC_E_NTLM_CREDFILE_UNUSABLE, errnum,
                         "cannot read the NTLM credential file %s", path);
  else if (!(rc = tdsc__credfile_pick((char *)all.data, path, want, &name, &pw,
                                      &lineno, err))) {
    if (!split_user(s, name) || !derive_key(s, pw, strlen(pw)) ||
        !(s->cred_desc = tdsc__strdup_printf("line %u of %s", lineno, path)))
      rc = tdsc__err_oom(err);
  }
  tdsc__buf_wipe(&all);
  tdsc__buf_free(&all);
  return rc;
}

static tdsc_errc ntlm_init(void **state, const tdsc__auth_params *p,
                           tdsc_error *err) {
  ntlm_state *s = calloc(1, sizeof *s);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  tdsc__buf_init(&s->negotiate);
  tdsc__buf_init(&s->challenge);
  tdsc__exchange_init(&s->x, &tdsc__facts_ntlm, &ntlm_hooks, s, p->spnego);
  /* MsvAvTargetName is the SPN without Kerberos' "@REALM" */
  s->spn = p->spn && *p->spn ? strndup(p->spn, strcspn(p->spn, "@")) : NULL;
  s->workstation = tdsc__strdup(p->workstation ? p->workstation : "");
  if ((p->spn && *p->spn && !s->spn) || !s->workstation)
    return tdsc__err_oom(err);
  const char *user = p->ntlm_user && *p->ntlm_user ? p->ntlm_user : NULL;
  if (user && p->ntlm_password) {
    if (!split_user(s, user) ||
        !derive_key(s, p->ntlm_password, strlen(p->ntlm_password)))
      return tdsc__err_oom(err);
    s->cred_desc = tdsc__strdup("a password given in the connection "
                                "options");
  } else if (p->ntlm_credfile && *p->ntlm_credfile) {
    tdsc_errc rc = read_credfile(s, p->ntlm_credfile, user, err);
    if (rc)
      return rc;
  } else if (user) {
    return tdsc__err_set(err, TDSC_E_NTLM_NO_CREDENTIALS,
                         "NTLM user %s has no password (NTLMPassword= or "
                         "NTLMCredFile=)",
                         user);
  } else {
    return tdsc__err_set(err, TDSC_E_NTLM_NO_CREDENTIALS,
                         "no NTLM user or credential file was given");
  }
  if (!s->cred_desc)
    return tdsc__err_oom(err);
  return TDSC_OK;
}

/* ------------------------------------------------------------ NEGOTIATE */

/* MS-NLMP 2.2.1.1: no OEM domain or workstation supplied. */
static void put_negotiate(tdsc__buf *b) {
  tdsc__buf_put(b, signature, 8);
  tdsc__buf_put_u32le(b, 1);
  tdsc__buf_put_u32le(b, OUR_FLAGS);
  tdsc__buf_put_u16le(b, 0), tdsc__buf_put_u16le(b, 0);
  tdsc__buf_put_u32le(b, NEGOTIATE_LEN); /* DomainNameFields */
  tdsc__buf_put_u16le(b, 0), tdsc__buf_put_u16le(b, 0);
  tdsc__buf_put_u32le(b, NEGOTIATE_LEN); /* WorkstationFields */
  tdsc__buf_put(b, our_version, 8);
}

/* ------------------------------------------------------------ CHALLENGE */

static tdsc_errc bad_challenge(ntlm_state *s, tdsc_error *err, size_t len,
                               const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static tdsc_errc bad_challenge(ntlm_state *s, tdsc_error *err, size_t len,
                               const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  tdsc__err_vset(err, TDSC_E_NTLM_FAILED, fmt, ap);
  va_end(ap);
  tdsc__err_context(err,
                    "the server's NTLM CHALLENGE (%zu bytes, for %s%s%s) is "
                    "unusable",
                    len, s->x.identity, s->spn ? " to " : "",
                    s->spn ? s->spn : "");
  return TDSC_E_NTLM_FAILED;
}

/* A payload field (MS-NLMP 2.2.1.2: Len, MaxLen, BufferOffset) of msg,
 * checked to lie inside it. */
static const uint8_t *field(const uint8_t *msg, size_t len, tdsc__rd *hdr,
                            size_t *flen) {
  uint16_t n = tdsc__rd_u16le(hdr);
  (void)tdsc__rd_u16le(hdr); /* MaxLen: SHOULD equal Len, ignored */
  uint32_t off = tdsc__rd_u32le(hdr);
  tdsc__rd r;
  tdsc__rd_init(&r, msg, len);
  *flen = n;
  if (!tdsc__rd_ok(hdr))
    return NULL;
  if (n == 0)
    return msg; /* nothing to read: the offset does not matter */
  if (!tdsc__rd_skip(&r, off))
    return NULL;
  return tdsc__rd_take(&r, n);
}

static char *utf16_dup(const uint8_t *p, size_t n) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  if (!tdsc__utf16le_to_utf8(p, n, &b)) {
    tdsc__buf_free(&b);
    return NULL;
  }
  const char *c = tdsc__buf_cstr(&b);
  char *r = c ? tdsc__strdup(c) : NULL;
  tdsc__buf_free(&b);
  return r;
}

/* MS-NLMP 2.2.1.2 and 2.2.2.1: header, target name, target info AV pairs
 * (a list that must end with MsvAvEOL, each value inside it), version. */
static tdsc_errc parse_challenge(ntlm_state *s, const uint8_t *in, size_t len,
                                 tdsc_error *err) {
  tdsc__ntlm_info *I = &s->info;
  tdsc__rd h;
  tdsc__rd_init(&h, in, len);
  const uint8_t *sig = tdsc__rd_take(&h, 8);
  if (!sig)
    return bad_challenge(s, err, len, "it is shorter than its signature");
  if (memcmp(sig, signature, 8) != 0)
    return bad_challenge(s, err, len,
                         "it does not start with the NTLMSSP signature");
  uint32_t type = tdsc__rd_u32le(&h);
  if (tdsc__rd_ok(&h) && type != 2)
    return bad_challenge(s, err, len,
                         "its MessageType is %u, not 2 (CHALLENGE)",
                         (unsigned)type);
  tdsc__rd tn_hdr = h;
  if (!tdsc__rd_skip(&h, 8))
    return bad_challenge(s, err, len,
                         "it ends inside its fixed header (48 bytes)");
  I->challenge_flags = tdsc__rd_u32le(&h);
  const uint8_t *chal = tdsc__rd_take(&h, 8);
  tdsc__rd_skip(&h, 8); /* Reserved */
  tdsc__rd ti_hdr = h;
  if (!tdsc__rd_skip(&h, 8) || !chal)
    return bad_challenge(s, err, len,
                         "it ends inside its fixed header (48 bytes)");
  memcpy(I->server_challenge, chal, 8);

  size_t tnlen, tilen;
  const uint8_t *tn = field(in, len, &tn_hdr, &tnlen);
  if (!tn)
    return bad_challenge(s, err, len,
                         "its TargetName (%zu bytes) lies outside the "
                         "message",
                         tnlen);
  const uint8_t *ti = field(in, len, &ti_hdr, &tilen);
  if (!ti)
    return bad_challenge(s, err, len,
                         "its TargetInfo (%zu bytes) lies outside the "
                         "message",
                         tilen);
  /* Version (2.2.2.10) follows the header when negotiated and when the
   * payload leaves room for it (servers older than Vista put payload at
   * offset 48). */
  if ((I->challenge_flags & NEG_VERSION) && tdsc__rd_left(&h) >= 8) {
    const uint8_t *v = tdsc__rd_take(&h, 8);
    memcpy(I->version, v, 8);
    I->have_version = true;
  }
  free(I->target);
  if (I->challenge_flags & NEG_UNICODE) {
    if (tnlen % 2)
      return bad_challenge(
          s, err, len, "its Unicode TargetName has an odd length (%zu)", tnlen);
    I->target = utf16_dup(tn, tnlen);
  } else {
    tdsc__buf b;
    tdsc__buf_init(&b);
    tdsc__utf8_sanitize(tn, tnlen, &b); /* OEM: ASCII in practice */
    I->target = tdsc__strdup(tdsc__buf_cstr(&b));
    tdsc__buf_free(&b);
  }
  if (!I->target)
    return tdsc__err_oom(err);

  if (!(I->challenge_flags & NEG_TARGET_INFO) || tilen == 0)
    return bad_challenge(s, err, len,
                         "it carries no TargetInfo (flags 0x%08x), which "
                         "NTLMv2 needs (MS-NLMP 3.3.2: the response covers "
                         "the server's AV pairs); the server may allow only "
                         "NTLMv1, which this client refuses",
                         (unsigned)I->challenge_flags);
  tdsc__rd av;
  tdsc__rd_init(&av, ti, tilen);
  bool eol = false;
  char **names[6] = {NULL,           &I->nb_computer,
                     &I->nb_domain,  &I->dns_computer,
                     &I->dns_domain, NULL};
  while (!eol) {
    size_t at = av.pos;
    uint16_t id = tdsc__rd_u16le(&av);
    uint16_t n = tdsc__rd_u16le(&av);
    const uint8_t *v = tdsc__rd_take(&av, n);
    if (!v)
      return bad_challenge(s, err, len,
                           "its TargetInfo AV pair at offset %zu (AvId %u, "
                           "AvLen %u) runs past the %zu bytes of TargetInfo",
                           at, (unsigned)id, (unsigned)n, tilen);
    switch (id) {
    case AV_EOL:
      eol = true;
      break;
    case AV_NB_COMPUTER:
    case AV_NB_DOMAIN:
    case AV_DNS_COMPUTER:
    case AV_DNS_DOMAIN:
      free(*names[id]);
      if (!(*names[id] = utf16_dup(v, n)))
        return tdsc__err_oom(err);
      break;
    case AV_TIMESTAMP:
      if (n != 8)
        return bad_challenge(
            s, err, len, "its MsvAvTimestamp has %u bytes, not 8", (unsigned)n);
      I->have_timestamp = true;
      I->timestamp = tdsc__le64(v);
      break;
    case AV_FLAGS:
      if (n != 4)
        return bad_challenge(s, err, len, "its MsvAvFlags has %u bytes, not 4",
                             (unsigned)n);
      break;
    default:
      break; /* DnsTreeName and the rest: carried back unread */
    }
  }
  I->target_info = ti;
  I->target_info_len = av.pos; /* anything after MsvAvEOL is ignored */
  return TDSC_OK;
}

/* --------------------------------------------------------- AUTHENTICATE */

/* The client's AV pairs for temp (MS-NLMP 3.1.5.1.2): the server's, with
 * MsvAvFlags (MIC bit when a MIC is sent), MsvAvChannelBindings (when the
 * session gave bindings) and MsvAvTargetName (the SPN) added, then
 * MsvAvEOL. */
static void put_client_av(const ntlm_state *s, bool mic, tdsc__buf *b) {
  const tdsc__ntlm_info *I = &s->info;
  uint32_t avflags = mic ? AV_FLAG_MIC : 0;
  bool flags_seen = false;
  tdsc__rd av;
  tdsc__rd_init(&av, I->target_info, I->target_info_len);
  for (;;) {
    uint16_t id = tdsc__rd_u16le(&av);
    uint16_t n = tdsc__rd_u16le(&av);
    const uint8_t *v = tdsc__rd_take(&av, n);
    if (!v || id == AV_EOL)
      break;
    if (id == AV_TARGET_NAME || id == AV_CHANNEL_BINDINGS)
      continue; /* ours to say */
    tdsc__buf_put_u16le(b, id);
    tdsc__buf_put_u16le(b, n);
    if (id == AV_FLAGS) {
      flags_seen = true;
      tdsc__buf_put_u32le(b, tdsc__le32(v) | avflags);
    } else {
      tdsc__buf_put(b, v, n);
    }
  }
  if (!flags_seen && avflags) {
    tdsc__buf_put_u16le(b, AV_FLAGS);
    tdsc__buf_put_u16le(b, 4);
    tdsc__buf_put_u32le(b, avflags);
  }
  if (s->x.bindings.len) {
    /* 2.2.2.1: the MD5 of the serialised gss_channel_bindings_struct
     * (doc/channel-binding.md).  Without MD5 the pair is left out: the
     * NTLMv2 response that follows fails on it with its own message. */
    tdsc__buf gcb;
    tdsc__buf_init(&gcb);
    tdsc__chan_bindings_serialise(s->x.bindings.data, s->x.bindings.len,
                                  &gcb);
    uint8_t h[16];
    tdsc__iov v = {gcb.data, gcb.len};
    if (gcb.oom) {
      b->oom = true;
    } else if (tdsc__md5(&v, 1, h)) {
      tdsc__buf_put_u16le(b, AV_CHANNEL_BINDINGS);
      tdsc__buf_put_u16le(b, 16);
      tdsc__buf_put(b, h, 16);
    }
    tdsc__buf_free(&gcb);
  }
  if (s->spn && *s->spn) {
    size_t at = b->len;
    tdsc__buf_put_u16le(b, AV_TARGET_NAME);
    tdsc__buf_put_u16le(b, 0);
    size_t n = tdsc__utf8_to_utf16le(s->spn, strlen(s->spn), b);
    if (n != (size_t)-1 && n <= 0xffff)
      tdsc__buf_set_u16le(b, at + 2, (uint16_t)n);
    else
      b->oom = true;
  }
  tdsc__buf_put_u16le(b, AV_EOL);
  tdsc__buf_put_u16le(b, 0);
}

/* A string of the AUTHENTICATE payload: UTF-16LE, or OEM (the bytes as
 * they are) when the server did not accept Unicode. */
static size_t put_string(tdsc__buf *b, const char *str, bool unicode) {
  if (unicode)
    return tdsc__utf8_to_utf16le(str, strlen(str), b);
  tdsc__buf_put_str(b, str);
  return strlen(str);
}

/* MS-NLMP 3.1.5.1.2 and 3.3.2: appends AUTHENTICATE to out. */
static tdsc_errc build_authenticate(ntlm_state *s, tdsc__buf *out,
                                    tdsc_error *err) {
  tdsc__ntlm_info *I = &s->info;
  uint32_t cf = I->challenge_flags;
  bool unicode = (cf & NEG_UNICODE) != 0;
  if (!unicode && !(cf & NEG_OEM))
    return bad_challenge(s, err, s->challenge.len,
                         "it chose neither Unicode nor OEM strings (flags "
                         "0x%08x)",
                         (unsigned)cf);
  uint32_t fl = (cf & OUR_FLAGS) | NEG_REQUEST_TARGET;
  if (!unicode)
    fl |= NEG_OEM;
  I->flags = fl;
  if (s->x.spnego && !(fl & NEG_ESS))
    return bad_challenge(s, err, s->challenge.len,
                         "it refused extended session security (flags "
                         "0x%08x), without which this client cannot compute "
                         "SPNEGO's mechListMIC",
                         (unsigned)cf);

  uint8_t cc[8], rnd[16], proof[16], lmr[16], kx[16];
  tdsc__buf temp, msg;
  tdsc__buf_init(&temp);
  tdsc__buf_init(&msg);
  tdsc_errc rc = TDSC_OK;
  if (s->fixed) {
    memcpy(cc, s->fix.client_challenge, 8);
    memcpy(rnd, s->fix.session_key, 16);
  } else if (RAND_bytes(cc, 8) != 1 || RAND_bytes(rnd, 16) != 1) {
    rc = tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                       "OpenSSL's random generator failed (NTLM client "
                       "challenge and session key)");
    goto out;
  }
  /* 3.1.5.1.2: a MIC whenever the server sent a timestamp. */
  bool mic = I->have_timestamp;
  uint64_t t = I->have_timestamp ? I->timestamp
               : s->fixed        ? s->fix.time
                                 : filetime_now();
  /* temp (3.3.2) */
  tdsc__buf_put_u8(&temp, 1);
  tdsc__buf_put_u8(&temp, 1);
  tdsc__buf_put(&temp, "\0\0\0\0\0\0", 6);
  tdsc__buf_put_u64le(&temp, t);
  tdsc__buf_put(&temp, cc, 8);
  tdsc__buf_put_u32le(&temp, 0);
  put_client_av(s, mic, &temp);
  tdsc__buf_put_u32le(&temp, 0);
  if (temp.oom) {
    rc = tdsc__err_oom(err);
    goto out;
  }
  tdsc__iov pv[2] = {{I->server_challenge, 8}, {temp.data, temp.len}};
  tdsc__iov lv[2] = {{I->server_challenge, 8}, {cc, 8}};
  tdsc__iov bv = {proof, 16};
  if (!tdsc__hmac_md5(s->ntowfv2, 16, pv, 2, proof) ||
      !tdsc__hmac_md5(s->ntowfv2, 16, lv, 2, lmr) ||
      !tdsc__hmac_md5(s->ntowfv2, 16, &bv, 1, I->session_base_key)) {
    rc = tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                       "OpenSSL offers no MD5 (a FIPS-only configuration?), "
                       "which NTLM cannot do without");
    goto out;
  }
  /* KeyExchangeKey = SessionBaseKey for NTLMv2 (3.4.5.1). */
  bool key_exch = (fl & NEG_KEY_EXCH) != 0;
  if (key_exch) {
    tdsc__rc4 rc4;
    memcpy(I->exported_session_key, rnd, 16);
    tdsc__rc4_init(&rc4, I->session_base_key, 16);
    tdsc__rc4_crypt(&rc4, rnd, kx, 16);
    tdsc__rc4_wipe(&rc4);
  } else {
    memcpy(I->exported_session_key, I->session_base_key, 16);
  }

  /* 2.2.1.3: header, then Domain, User, Workstation, Lm, Nt, Key. */
  tdsc__buf_put(&msg, signature, 8);
  tdsc__buf_put_u32le(&msg, 3);
  uint8_t *fields = tdsc__buf_extend(&msg, 6 * 8);
  if (fields)
    memset(fields, 0, 6 * 8);
  tdsc__buf_put_u32le(&msg, fl);
  tdsc__buf_put(&msg, s->fixed && s->fix.version ? s->fix.version : our_version,
                8);
  if (mic)
    tdsc__buf_put(&msg, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
  size_t lens[6], offs[6];
  offs[2] = msg.len; /* Domain */
  lens[2] = put_string(&msg, s->domain, unicode);
  offs[3] = msg.len; /* User */
  lens[3] = put_string(&msg, s->user, unicode);
  offs[4] = msg.len; /* Workstation */
  lens[4] = put_string(&msg, s->workstation, unicode);
  offs[0] = msg.len; /* LmChallengeResponse: Z(24) with a timestamp */
  if (I->have_timestamp) {
    tdsc__buf_put(&msg, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24);
  } else {
    tdsc__buf_put(&msg, lmr, 16);
    tdsc__buf_put(&msg, cc, 8);
  }
  lens[0] = 24;
  offs[1] = msg.len; /* NtChallengeResponse = NTProofStr || temp */
  tdsc__buf_put(&msg, proof, 16);
  tdsc__buf_put(&msg, temp.data, temp.len);
  lens[1] = 16 + temp.len;
  offs[5] = msg.len; /* EncryptedRandomSessionKey */
  lens[5] = key_exch ? 16 : 0;
  if (key_exch)
    tdsc__buf_put(&msg, kx, 16);
  if (msg.oom) {
    rc = tdsc__err_oom(err);
    goto out;
  }
  for (int i = 0; i < 6; i++) {
    if (lens[i] > 0xffff || lens[i] == (size_t)-1) {
      rc = tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                         "an NTLM AUTHENTICATE field for %s is longer than "
                         "65535 bytes (user, domain, workstation or the "
                         "server's TargetInfo)",
                         s->x.identity);
      goto out;
    }
    tdsc__buf_set_u16le(&msg, 12 + 8 * (size_t)i, (uint16_t)lens[i]);
    tdsc__buf_set_u16le(&msg, 14 + 8 * (size_t)i, (uint16_t)lens[i]);
    tdsc__buf_set_u32le(&msg, 16 + 8 * (size_t)i, (uint32_t)offs[i]);
  }
  if (mic) {
    /* MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE ||
     * AUTHENTICATE with the MIC zeroed) (3.1.5.1.2) */
    tdsc__iov mv[3] = {{s->negotiate.data, s->negotiate.len},
                       {s->challenge.data, s->challenge.len},
                       {msg.data, msg.len}};
    uint8_t m[16];
    if (!tdsc__hmac_md5(I->exported_session_key, 16, mv, 3, m)) {
      rc = tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                         "OpenSSL offers no MD5, which NTLM needs");
      goto out;
    }
    memcpy(msg.data + MIC_OFFSET, m, 16);
    I->mic_sent = true;
  }
  tdsc__buf_put(out, msg.data, msg.len);
  if (out->oom)
    rc = tdsc__err_oom(err);
out:
  tdsc__wipe(cc, sizeof cc);
  tdsc__wipe(rnd, sizeof rnd);
  tdsc__wipe(proof, sizeof proof);
  tdsc__wipe(lmr, sizeof lmr);
  tdsc__wipe(kx, sizeof kx);
  tdsc__buf_free(&temp);
  tdsc__buf_wipe(&msg);
  tdsc__buf_free(&msg);
  return rc;
}

/* CHALLENGE in, AUTHENTICATE appended to out. */
static tdsc_errc answer_challenge(ntlm_state *s, const uint8_t *in, size_t len,
                                  tdsc__buf *out, tdsc_error *err) {
  if (!in || !len)
    return tdsc__err_set(err, TDSC_E_NTLM_REFUSED,
                         "the server answered the NTLM NEGOTIATE of %s with "
                         "an empty token instead of a CHALLENGE",
                         s->x.identity);
  tdsc__buf_reset(&s->challenge);
  tdsc__buf_put(&s->challenge, in, len);
  if (s->challenge.oom)
    return tdsc__err_oom(err);
  /* parse the copy: info.target_info points into it */
  tdsc_errc rc = parse_challenge(s, s->challenge.data, len, err);
  if (rc)
    return rc;
  return build_authenticate(s, out, err);
}

/* --------------------------------------------------------------- steps */

/* The exchange's context call (exchange.h): NEGOTIATE first, then the
 * CHALLENGE in and AUTHENTICATE out, which completes NTLM. */
static tdsc_errc ntlm_ctx(void *m, const uint8_t *in, size_t inlen,
                          tdsc__buf *tok, bool *complete, tdsc_error *err) {
  ntlm_state *s = m;
  if (!in) {
    tdsc__buf_reset(&s->negotiate);
    put_negotiate(&s->negotiate);
    tdsc__buf_put(tok, s->negotiate.data, s->negotiate.len);
    return s->negotiate.oom || tok->oom ? tdsc__err_oom(err) : TDSC_OK;
  }
  tdsc_errc rc = answer_challenge(s, in, inlen, tok, err);
  *complete = rc == TDSC_OK;
  return rc;
}

static tdsc_errc ntlm_get_mic(void *m, const tdsc__buf *msg, tdsc__buf *mic,
                              tdsc_error *err) {
  uint8_t *p = tdsc__buf_extend(mic, 16);
  if (!p)
    return tdsc__err_oom(err);
  if (!spnego_mic(m, msg, true, p))
    return tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                         "OpenSSL offers no MD5, which NTLM needs");
  return TDSC_OK;
}

static bool ntlm_verify_mic(void *m, const tdsc__buf *msg, const uint8_t *mic,
                            size_t miclen, tdsc_error *prov) {
  ntlm_state *s = m;
  uint8_t want[16];
  (void)prov;
  bool ok = spnego_mic(s, msg, false, want) && miclen == 16 &&
            CRYPTO_memcmp(want, mic, 16) == 0;
  tdsc__wipe(want, sizeof want);
  s->info.server_mic_verified = ok;
  return ok;
}

static void ntlm_subject(void *m, char *buf, size_t n) {
  ntlm_state *s = m;
  snprintf(buf, n, "%s%s%s", s->x.identity ? s->x.identity : "",
           s->spn ? " to " : "", s->spn ? s->spn : "");
}

static const tdsc__mech_hooks ntlm_hooks = {ntlm_ctx, ntlm_get_mic,
                                            ntlm_verify_mic, ntlm_subject};

static void ntlm_free(void *state) {
  ntlm_state *s = state;
  if (!s)
    return;
  tdsc__ntlm_info *I = &s->info;
  free(I->target);
  free(I->nb_domain);
  free(I->nb_computer);
  free(I->dns_domain);
  free(I->dns_computer);
  tdsc__buf_free(&s->negotiate);
  tdsc__buf_free(&s->challenge);
  tdsc__exchange_free(&s->x);
  free(s->user);
  free(s->domain);
  free(s->workstation);
  free(s->spn);
  free(s->cred_desc);
  tdsc__wipe(s, sizeof *s); /* NTOWFv2, session keys */
  free(s);
}

/* ---------------------------------------------------------- test hooks */

void tdsc__ntlm_fix(void *state, const tdsc__ntlm_fixed *f) {
  ntlm_state *s = state;
  s->fixed = true;
  s->fix = *f;
}

const tdsc__ntlm_info *tdsc__ntlm_info_of(void *state) {
  ntlm_state *s = state;
  return &s->info;
}

static const tdsc__mech_ops ntlm_ops = {
    .name = "ntlm",
    .init = ntlm_init,
    .step = tdsc__exchange_step,
    .identity = tdsc__exchange_identity,
    .free_state = ntlm_free,
    .bind = tdsc__exchange_bind,
};

const tdsc__mech_ops *const tdsc__mech_ntlm = &ntlm_ops;
