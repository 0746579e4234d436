/* TLS filter over any I/O stack, with Schannel (tls.h): the Windows
 * counterpart of tls_openssl.c, with the same codes for the same failures.
 * The handshake runs InitializeSecurityContextW over the filter below
 * (prelogin_wrap.c for TDS 7.x, the transport itself for TDS 8.0 strict
 * with ALPN "tds/8.0"); records are sealed with EncryptMessage and opened
 * with DecryptMessage, buffered here, so a lower-layer error (timeout,
 * reset, cancel) keeps its own code and a cancelled read loses nothing.
 *
 * The server's certificate is judged by schannel_cert.c.
 *
 * The provider status of a TLS error is TDSC_PROVIDER_SSPI: [0] the
 * SECURITY_STATUS of the failed call, or for a certificate the CERT_E_* /
 * TRUST_E_* HRESULT of the verdict; [1] the chain's CERT_TRUST_* error
 * bits, when a chain was built.
 *
 * TLS 1.2 at least: SCH_CREDENTIALS disabling older versions (Windows 10
 * 1809 and later; TLS 1.3 lives there), else SCHANNEL_CRED with TLS 1.2;
 * and the negotiated version is checked after the handshake, before any
 * data, for a Schannel that does not honour either (Wine 8 ignores
 * SCH_CREDENTIALS' disabled protocols). */
#include "config.h"

#include "tls/tls_diag.h"
#include "tls/tls_schannel.h" /* first: winsock2.h before windows.h */

#include "sec_win32.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHERE_LEN TDSC__TLS_WHERE_LEN
#define TOKEN_BUF 65536 /* an ISC output token: a flight of the client's */
#define IN_CHUNK 16384  /* what one read from below asks for */

/* Output made but not all sent yet: buf[pos, len). */
typedef struct pending {
  uint8_t *buf;
  size_t pos, len, cap;
} pending;

/* What the handshake does next (hs_advance): call ISC over t->in, read
 * more of the server's flight first, or nothing (done). */
enum { HS_CALL, HS_READ, HS_DONE };

typedef struct tls_io {
  tdsc__io base; /* base.next: the transport below (old *top) */
  CredHandle cred;
  CtxtHandle ctx;
  bool have_cred, have_ctx;
  tdsc__io *below; /* the wrap during a 7.x handshake, then base.next */
  bool strict;
  bool first_read; /* handshake: no byte from the server yet */
  int hs;          /* HS_*: also after SEC_I_RENEGOTIATE */
  WCHAR *target;   /* SNI, for the handshake's ISC calls; or NULL */
  struct {         /* ALPN tds/8.0 (strict), for the first ISC call */
    SEC_APPLICATION_PROTOCOLS hdr;
    unsigned char rest[16];
  } alpn;
  ULONG alpnlen; /* 0: no ALPN */
  pending tok;   /* a handshake flight (TOKEN_BUF) */
  pending rec;   /* a sealed record, of rec_payload bytes of a write */
  size_t rec_payload;
  SecPkgContext_StreamSizes sizes;
  DWORD protocol; /* SP_PROT_*, after the handshake */
  /* received records not yet decrypted */
  uint8_t *in;
  size_t inlen, incap;
  /* decrypted bytes not yet returned */
  uint8_t *plain;
  size_t plainoff, plainlen, plaincap;
  PCCERT_CONTEXT peer;   /* the server's certificate, with its store */
  HRESULT verify_status; /* of the policy; 0 = passed or not checked */
  tdsc_error verdict;    /* report_only: what verification would say */
  char where[WHERE_LEN]; /* "localhost at 127.0.0.1:1433", for messages */
} tls_io;

static const tdsc__io_ops tls_ops;

/* -------------------------------------------------------------- buffers */

static bool in_reserve(tls_io *t, size_t more) {
  if (t->incap - t->inlen >= more)
    return true;
  size_t cap = t->incap ? t->incap : IN_CHUNK;
  while (cap - t->inlen < more)
    cap *= 2;
  uint8_t *p = realloc(t->in, cap);
  if (!p)
    return false;
  t->in = p;
  t->incap = cap;
  return true;
}

/* Reads 1..IN_CHUNK bytes from below into t->in, without waiting
 * (TDSC__AGAIN with *want: nothing read).  The first bytes of a
 * handshake are checked to be TLS (tls.c). */
static tdsc_errc fill(tls_io *t, int *want, tdsc_error *err) {
  if (!in_reserve(t, IN_CHUNK))
    return tdsc__err_oom(err);
  size_t got = 0;
  tdsc_errc rc =
      tdsc__io_read_some(t->below, t->in + t->inlen, IN_CHUNK, &got, want, err);
  if (rc == TDSC__AGAIN)
    return rc;
  if (t->first_read) {
    rc = tdsc__tls_first_read(t->where, t->strict, rc, t->in + t->inlen, got,
                              err);
    t->first_read = rc != TDSC_OK || got == 0;
    if (rc != TDSC_OK)
      return rc;
  } else if (rc != TDSC_OK) {
    return rc;
  }
  t->inlen += got;
  return TDSC_OK;
}

/* Keeps the SECBUFFER_EXTRA bytes (the tail of t->in) and drops the rest. */
static void keep_extra(tls_io *t, const SecBuffer *bufs, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (bufs[i].BufferType == SECBUFFER_EXTRA && bufs[i].cbBuffer > 0 &&
        bufs[i].cbBuffer <= t->inlen) {
      memmove(t->in, t->in + (t->inlen - bufs[i].cbBuffer), bufs[i].cbBuffer);
      t->inlen = bufs[i].cbBuffer;
      return;
    }
  t->inlen = 0;
}

/* Sends what is left of o (a handshake flight or a record) without
 * waiting: TDSC__AGAIN with *want leaves the rest for the next call. */
static tdsc_errc flush(tls_io *t, pending *o, int *want, tdsc_error *err) {
  while (o->pos < o->len) {
    size_t put = 0;
    tdsc_errc rc = tdsc__io_write_some(t->below, o->buf + o->pos,
                                       o->len - o->pos, &put, want, err);
    if (rc != TDSC_OK)
      return rc;
    o->pos += put;
  }
  return TDSC_OK;
}

/* ---------------------------------------------------------------- errors */

static tdsc_errc handshake_error(tls_io *t, SECURITY_STATUS st,
                                 tdsc_error *err) {
  char text[400];
  tdsc__sec_status_text(st, text, sizeof text);
  const tdsc__tls_diag_row *row =
      tdsc__tls_diag_find(TDSC__TLS_DIAG_SSPI, (long)st);
  tdsc_errc code = row->code;
  switch (code) {
  case TDSC_E_TLS_PROTOCOL_MISMATCH:
  case TDSC_E_TLS_CIPHER_MISMATCH:
    /* Schannel tells no more than this: its versions come from the
     * machine's SCHANNEL registry settings */
    tdsc__err_set(err, code,
                  "%s with %s (%s): this client offers TLS 1.2 and later as "
                  "the machine's Schannel settings allow",
                  row->what, t->where, text);
    break;
  case TDSC_E_NO_MEMORY:
    tdsc__err_set(err, code, "out of memory in Schannel: %s", text);
    break;
  case TDSC_E_TLS_HANDSHAKE:
    tdsc__err_set(err, code, "the TLS handshake with %s failed: %s", t->where,
                  text);
    break;
  default:
    /* Schannel's own verdict (not asked for: we validate manually) */
    tdsc__err_set(err, code, "the certificate of %s was refused: it %s (%s)",
                  t->where, row->what ? row->what : "failed", text);
    break;
  }
  tdsc__schannel_provider(err, st, 0);
  return code;
}

/* --------------------------------------------------------------- handshake */

#define ISC_FLAGS                                                              \
  (ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT | ISC_REQ_CONFIDENTIALITY | \
   ISC_REQ_EXTENDED_ERROR | ISC_REQ_STREAM | ISC_REQ_MANUAL_CRED_VALIDATION)

/* Credentials for TLS 1.2 and later: SCH_CREDENTIALS (Windows 10 1809 and
 * later, where TLS 1.3 lives), else SCHANNEL_CRED limited to TLS 1.2. */
static SECURITY_STATUS acquire(tls_io *t) {
  TimeStamp exp;
  DWORD flags = SCH_CRED_MANUAL_CRED_VALIDATION | SCH_CRED_NO_DEFAULT_CREDS |
                SCH_USE_STRONG_CRYPTO;
  TLS_PARAMETERS tp;
  memset(&tp, 0, sizeof tp);
  tp.grbitDisabledProtocols =
      (DWORD) ~(SP_PROT_TLS1_2_CLIENT | SP_PROT_TLS1_3_CLIENT);
  SCH_CREDENTIALS sc;
  memset(&sc, 0, sizeof sc);
  sc.dwVersion = SCH_CREDENTIALS_VERSION;
  sc.dwFlags = flags;
  sc.cTlsParameters = 1;
  sc.pTlsParameters = &tp;
  SECURITY_STATUS st = AcquireCredentialsHandleW(
      NULL, (WCHAR *)UNISP_NAME_W, SECPKG_CRED_OUTBOUND, NULL, &sc, NULL, NULL,
      &t->cred, &exp);
  if (st == SEC_E_OK)
    return st;
  SCHANNEL_CRED old;
  memset(&old, 0, sizeof old);
  old.dwVersion = SCHANNEL_CRED_VERSION;
  old.dwFlags = flags;
  old.grbitEnabledProtocols = SP_PROT_TLS1_2_CLIENT;
  return AcquireCredentialsHandleW(NULL, (WCHAR *)UNISP_NAME_W,
                                   SECPKG_CRED_OUTBOUND, NULL, &old, NULL, NULL,
                                   &t->cred, &exp);
}

/* One InitializeSecurityContextW call over what t->in holds: its output
 * goes to t->tok (sent by hs_advance), and t->hs says what comes next. */
static tdsc_errc isc_once(tls_io *t, tdsc_error *err) {
  bool first = !t->have_ctx;
  SecBuffer ib[2], ob[1];
  SecBufferDesc id = {SECBUFFER_VERSION, 2, ib},
                od = {SECBUFFER_VERSION, 1, ob};
  if (first) {
    ib[0].BufferType = SECBUFFER_APPLICATION_PROTOCOLS;
    ib[0].cbBuffer = t->alpnlen;
    ib[0].pvBuffer = &t->alpn;
    id.cBuffers = 1;
  } else {
    ib[0].BufferType = SECBUFFER_TOKEN;
    ib[0].cbBuffer = (ULONG)t->inlen;
    ib[0].pvBuffer = t->in;
    ib[1].BufferType = SECBUFFER_EMPTY;
    ib[1].cbBuffer = 0;
    ib[1].pvBuffer = NULL;
  }
  /* Our own output buffer (Wine fails ISC_REQ_ALLOCATE_MEMORY). */
  ob[0].BufferType = SECBUFFER_TOKEN;
  ob[0].cbBuffer = TOKEN_BUF;
  ob[0].pvBuffer = t->tok.buf;
  ULONG attrs = 0;
  TimeStamp exp;
  SECURITY_STATUS st = InitializeSecurityContextW(
      &t->cred, t->have_ctx ? &t->ctx : NULL, t->target, ISC_FLAGS, 0, 0,
      (first && !t->alpnlen) ? NULL : &id, 0, &t->ctx, &od, &attrs, &exp);
  if (first &&
      (st == SEC_E_OK || st == SEC_I_CONTINUE_NEEDED ||
       st == SEC_E_INCOMPLETE_MESSAGE || st == SEC_I_INCOMPLETE_CREDENTIALS))
    t->have_ctx = true;
  if (st == SEC_E_INCOMPLETE_MESSAGE && !first) {
    t->hs = HS_READ; /* the rest of the server's flight */
    return TDSC_OK;
  }
  if (st == SEC_I_INCOMPLETE_CREDENTIALS) {
    /* The server asks for a client certificate: we have none, and say so
     * by calling again (Schannel then answers without one). */
    t->hs = HS_CALL;
    return TDSC_OK;
  }
  if (st != SEC_E_OK && st != SEC_I_CONTINUE_NEEDED) {
    /* Best effort, never waiting: a fatal alert Schannel made for the
     * server.  The server's alert may have been the answer: a lower error
     * that came first is not it; Schannel's is the verdict. */
    if (ob[0].cbBuffer > 0 && ob[0].cbBuffer <= TOKEN_BUF) {
      tdsc_error ignored = {0};
      size_t put = 0;
      int want = 0;
      tdsc__io_write_some(t->below, t->tok.buf, ob[0].cbBuffer, &put, &want,
                          &ignored);
      tdsc__err_clear(&ignored);
    }
    return handshake_error(t, st, err);
  }
  t->tok.pos = 0;
  t->tok.len = ob[0].cbBuffer <= TOKEN_BUF ? ob[0].cbBuffer : 0;
  if (!first)
    keep_extra(t, ib, 2);
  t->hs = st == SEC_E_OK ? HS_DONE : t->inlen ? HS_CALL : HS_READ;
  return TDSC_OK;
}

/* Drives the handshake (or a post-handshake exchange) as far as it goes
 * without waiting: TDSC_OK once it is done and its last flight sent. */
static tdsc_errc hs_advance(tls_io *t, int *want, tdsc_error *err) {
  for (;;) {
    /* a record the caller is retrying goes out whole first */
    tdsc_errc rc = flush(t, &t->rec, want, err);
    if (rc == TDSC_OK)
      rc = flush(t, &t->tok, want, err);
    if (rc != TDSC_OK)
      return rc;
    if (t->hs == HS_DONE)
      return TDSC_OK;
    if (t->hs == HS_READ && (rc = fill(t, want, err)) != TDSC_OK)
      return rc;
    if ((rc = isc_once(t, err)) != TDSC_OK)
      return rc;
  }
}

/* ---------------------------------------------------------------- filter */

static tdsc_errc tls_read_some(tdsc__io *io, void *buf, size_t len, size_t *got,
                               int *want, tdsc_error *err) {
  tls_io *t = (tls_io *)io;
  *got = 0;
  bool incomplete = t->inlen == 0;
  while (t->plainlen == 0) {
    if (t->hs != HS_DONE) {
      /* SEC_I_RENEGOTIATE: post-handshake messages (a TLS 1.3
       * NewSessionTicket or KeyUpdate) go back through ISC. */
      tdsc_errc rc = hs_advance(t, want, err);
      if (rc != TDSC_OK && rc != TDSC__AGAIN)
        tdsc__err_context(err, "TLS post-handshake message from %s", t->where);
      if (rc != TDSC_OK)
        return rc;
      incomplete = t->inlen == 0;
      continue;
    }
    if (incomplete) {
      /* AGAIN keeps a record read in part in t->in */
      tdsc_errc rc = fill(t, want, err);
      if (rc != TDSC_OK)
        return rc; /* CANCELLED included: nothing consumed */
    }
    SecBuffer b[4] = {{(ULONG)t->inlen, SECBUFFER_DATA, t->in},
                      {0, SECBUFFER_EMPTY, NULL},
                      {0, SECBUFFER_EMPTY, NULL},
                      {0, SECBUFFER_EMPTY, NULL}};
    SecBufferDesc d = {SECBUFFER_VERSION, 4, b};
    SECURITY_STATUS st = DecryptMessage(&t->ctx, &d, 0, NULL);
    incomplete = st == SEC_E_INCOMPLETE_MESSAGE;
    if (incomplete)
      continue;
    if (st == SEC_I_CONTEXT_EXPIRED)
      return tdsc__err_set(err, TDSC_E_CONN_CLOSED,
                           "the server closed the connection (TLS "
                           "close_notify from %s)",
                           t->where);
    if (st != SEC_E_OK && st != SEC_I_RENEGOTIATE) {
      /* Corrupt or forged records: the stream is broken below TDS, and
       * the nearest code is a protocol violation (tls_openssl.c). */
      char text[400];
      tdsc__sec_status_text(st, text, sizeof text);
      tdsc__err_set(err, TDSC_E_PROTOCOL, "TLS error reading from %s: %s",
                    t->where, text);
      tdsc__schannel_provider(err, st, 0);
      return TDSC_E_PROTOCOL;
    }
    for (int i = 0; i < 4; i++)
      if (b[i].BufferType == SECBUFFER_DATA && b[i].cbBuffer > 0) {
        if (t->plaincap < b[i].cbBuffer) {
          uint8_t *p = realloc(t->plain, b[i].cbBuffer);
          if (!p)
            return tdsc__err_oom(err);
          t->plain = p;
          t->plaincap = b[i].cbBuffer;
        }
        memcpy(t->plain, b[i].pvBuffer, b[i].cbBuffer);
        t->plainoff = 0;
        t->plainlen = b[i].cbBuffer;
      }
    keep_extra(t, b, 4);
    incomplete = t->inlen == 0;
    if (st == SEC_I_RENEGOTIATE)
      t->hs = HS_CALL;
  }
  size_t n = len < t->plainlen ? len : t->plainlen;
  memcpy(buf, t->plain + t->plainoff, n);
  t->plainoff += n;
  t->plainlen -= n;
  *got = n;
  return TDSC_OK;
}

/* One record of the first bytes of buf: sealed into t->rec, then sent;
 * after TDSC__AGAIN the caller retries with the same bytes (io.h) and
 * the record already made goes out. */
static tdsc_errc tls_write_some(tdsc__io *io, const void *buf, size_t len,
                                size_t *put, int *want, tdsc_error *err) {
  tls_io *t = (tls_io *)io;
  *put = 0;
  if (t->rec.len == 0) {
    /* a post-handshake flight goes first, whole: at most one of the two
     * is ever sent in part */
    tdsc_errc rc = flush(t, &t->tok, want, err);
    if (rc != TDSC_OK)
      return rc;
    size_t n =
        len < t->sizes.cbMaximumMessage ? len : t->sizes.cbMaximumMessage;
    uint8_t *rec = t->rec.buf;
    memcpy(rec + t->sizes.cbHeader, buf, n);
    SecBuffer b[4] = {{t->sizes.cbHeader, SECBUFFER_STREAM_HEADER, rec},
                      {(ULONG)n, SECBUFFER_DATA, rec + t->sizes.cbHeader},
                      {t->sizes.cbTrailer, SECBUFFER_STREAM_TRAILER,
                       rec + t->sizes.cbHeader + n},
                      {0, SECBUFFER_EMPTY, NULL}};
    SecBufferDesc d = {SECBUFFER_VERSION, 4, b};
    SECURITY_STATUS st = EncryptMessage(&t->ctx, 0, &d, 0);
    if (st != SEC_E_OK) {
      char text[400];
      tdsc__sec_status_text(st, text, sizeof text);
      tdsc__err_set(err, TDSC_E_PROTOCOL, "TLS error writing to %s: %s",
                    t->where, text);
      tdsc__schannel_provider(err, st, 0);
      return TDSC_E_PROTOCOL;
    }
    t->rec.pos = 0;
    t->rec.len = (size_t)b[0].cbBuffer + b[1].cbBuffer + b[2].cbBuffer;
    t->rec_payload = n;
  }
  tdsc_errc rc = flush(t, &t->rec, want, err);
  if (rc != TDSC_OK)
    return rc;
  *put = t->rec_payload;
  SecureZeroMemory(t->rec.buf, t->rec.len);
  t->rec.pos = t->rec.len = t->rec_payload = 0;
  return TDSC_OK;
}

static void tls_destroy(tdsc__io *io) {
  tls_io *t = (tls_io *)io;
  /* no close_notify: callers drop TLS (login-only) or close the transport */
  if (t->have_ctx)
    DeleteSecurityContext(&t->ctx);
  if (t->have_cred)
    FreeCredentialsHandle(&t->cred);
  if (t->peer)
    CertFreeCertificateContext(t->peer);
  if (t->plain)
    SecureZeroMemory(t->plain, t->plaincap);
  if (t->rec.buf)
    SecureZeroMemory(t->rec.buf, t->rec.cap);
  free(t->rec.buf);
  free(t->tok.buf);
  free(t->plain);
  free(t->in);
  free(t->target);
  tdsc__err_clear(&t->verdict);
  free(t);
}

static const tdsc__io_ops tls_ops = {.name = "tls",
                                     .read = tdsc__io_read,
                                     .write = tdsc__io_write,
                                     .destroy = tls_destroy,
                                     .read_some = tls_read_some,
                                     .write_some = tls_write_some};

/* ---------------------------------------------------------------- start */

void tdsc__tls_be_free(tdsc__tls_hs *hs) {
  (void)hs; /* all Schannel holds is in the filter */
}

void tdsc__tls_be_below(tdsc__io *filter, tdsc__io *below) {
  ((tls_io *)filter)->below = below;
}

/* ALPN "tds/8.0" for TDS 8.0 strict: one SEC_APPLICATION_PROTOCOLS list. */
static void set_alpn(tls_io *t) {
  static const unsigned char proto[] = "\x07tds/8.0";
  SEC_APPLICATION_PROTOCOL_LIST *l = &t->alpn.hdr.ProtocolLists[0];
  memset(&t->alpn, 0, sizeof t->alpn);
  l->ProtoNegoExt = SecApplicationProtocolNegotiationExt_ALPN;
  l->ProtocolListSize = (unsigned short)(sizeof proto - 1);
  memcpy(l->ProtocolList, proto, sizeof proto - 1);
  t->alpnlen = (ULONG)(offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists) +
                       offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtocolList) +
                       sizeof proto - 1);
  t->alpn.hdr.ProtocolListsSize =
      (unsigned long)(t->alpnlen -
                      offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists));
}

tdsc_errc tdsc__tls_be_new(tdsc__tls_hs *hs, tdsc_error *err) {
  const tdsc__tls_opts *opts = &hs->opts;
  tls_io *t = calloc(1, sizeof *t);
  if (!t)
    return tdsc__err_oom(err);
  hs->filter = &t->base;
  tdsc__tls_where(opts, t->where, sizeof t->where);
  t->base.ops = &tls_ops;
  t->base.next = hs->top;
  t->strict = opts->strict;
  t->first_read = true;
  t->hs = HS_CALL;
  SECURITY_STATUS st = acquire(t);
  if (st != SEC_E_OK) {
    char text[400];
    tdsc__sec_status_text(st, text, sizeof text);
    tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                  "cannot get Schannel credentials for TLS 1.2 or later: %s",
                  text);
    tdsc__schannel_provider(err, st, 0);
    return TDSC_E_TLS_HANDSHAKE;
  }
  t->have_cred = true;
  /* SNI names a host; RFC 6066 3 forbids IP literals there. */
  if (!(t->tok.buf = malloc(TOKEN_BUF)) ||
      (opts->host && *opts->host && !tdsc__is_ip_literal(opts->host) &&
       !(t->target = tdsc__utf8_to_wide(opts->host))))
    return tdsc__err_oom(err);
  if (opts->strict)
    set_alpn(t);
  return TDSC_OK;
}

/* After the handshake, before any data: the record sizes, the version
 * negotiated, the server's certificate judged. */
static tdsc_errc finish(tls_io *t, const tdsc__tls_opts *opts,
                        tdsc_error *err) {
  SECURITY_STATUS st =
      QueryContextAttributesW(&t->ctx, SECPKG_ATTR_STREAM_SIZES, &t->sizes);
  SecPkgContext_ConnectionInfo ci;
  if (st == SEC_E_OK)
    st = QueryContextAttributesW(&t->ctx, SECPKG_ATTR_CONNECTION_INFO, &ci);
  if (st != SEC_E_OK) {
    char text[400];
    tdsc__sec_status_text(st, text, sizeof text);
    tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                  "Schannel does not tell the record sizes of the TLS "
                  "session with %s: %s",
                  t->where, text);
    tdsc__schannel_provider(err, st, 0);
    return TDSC_E_TLS_HANDSHAKE;
  }
  t->protocol = ci.dwProtocol;
  if (!(ci.dwProtocol & (SP_PROT_TLS1_2_CLIENT | SP_PROT_TLS1_3_CLIENT))) {
    /* only where the credentials could not exclude older versions */
    tdsc__err_set(err, TDSC_E_TLS_PROTOCOL_MISMATCH,
                  "%s negotiated a TLS version older than 1.2 "
                  "(Schannel protocol 0x%lx): this client needs TLS 1.2 "
                  "or later",
                  t->where, (unsigned long)ci.dwProtocol);
    tdsc__schannel_provider(err, SEC_E_ALGORITHM_MISMATCH, 0);
    return TDSC_E_TLS_PROTOCOL_MISMATCH;
  }
  t->rec.cap = (size_t)t->sizes.cbHeader + t->sizes.cbMaximumMessage +
               t->sizes.cbTrailer;
  if (!(t->rec.buf = malloc(t->rec.cap)))
    return tdsc__err_oom(err);
  if (QueryContextAttributesW(&t->ctx, SECPKG_ATTR_REMOTE_CERT_CONTEXT,
                              (void *)&t->peer) != SEC_E_OK)
    t->peer = NULL;
  if (opts->verify)
    return tdsc__schannel_verify(t->peer, t->where, opts, &t->verify_status,
                                 err);
  if (opts->report_only) {
    /* the doctor: the same verdict, kept, never failing the handshake */
    tdsc_errc v = tdsc__schannel_verify(t->peer, t->where, opts,
                                        &t->verify_status, &t->verdict);
    if (v == TDSC_E_BAD_OPTION_VALUE) {
      tdsc__err_move(err, &t->verdict);
      return v;
    }
  }
  return TDSC_OK;
}

tdsc_errc tdsc__tls_be_handshake(tdsc__tls_hs *hs, int *want, tdsc_error *err) {
  return hs_advance((tls_io *)hs->filter, want, err);
}

tdsc_errc tdsc__tls_be_done(tdsc__tls_hs *hs, tdsc_error *err) {
  tls_io *t = (tls_io *)hs->filter;
  free(t->target); /* a post-handshake exchange names no target */
  t->target = NULL;
  return finish(t, &hs->opts, err);
}

bool tdsc__tls_is_filter(const tdsc__io *io) {
  return io && io->ops == &tls_ops;
}

const char *tdsc__tls_version(const tdsc__io *io) {
  if (!tdsc__tls_is_filter(io))
    return "";
  DWORD p = ((const tls_io *)io)->protocol;
  if (p & SP_PROT_TLS1_3_CLIENT)
    return "TLSv1.3";
  if (p & SP_PROT_TLS1_2_CLIENT)
    return "TLSv1.2";
  if (p & SP_PROT_TLS1_1_CLIENT)
    return "TLSv1.1";
  if (p & SP_PROT_TLS1_0_CLIENT)
    return "TLSv1";
  return "TLS";
}

/* ---------------------------------------------------------------- report */

/* As tls_openssl.c's, with Schannel's words: cipher is the suite's name
 * where Windows tells it (SECPKG_ATTR_CIPHER_INFO), else the CALG number;
 * verify_result is the SSL policy's HRESULT (0: passed, or not checked)
 * rather than an X509_V_ERR_* value; certs are the leaf, then the other
 * certificates the server sent, in the order Schannel stores them. */
tdsc_errc tdsc__tls_peer_info(const tdsc__io *io, tdsc__tls_info *out) {
  memset(out, 0, sizeof *out);
  if (!tdsc__tls_is_filter(io))
    return TDSC_E_INVALID_ARGUMENT;
  tls_io *t = (tls_io *)io;
  snprintf(out->version, sizeof out->version, "%s", tdsc__tls_version(io));
  SecPkgContext_CipherInfo cinfo;
  memset(&cinfo, 0, sizeof cinfo);
  SecPkgContext_ConnectionInfo ci;
  if (QueryContextAttributesW(&t->ctx, SECPKG_ATTR_CIPHER_INFO, &cinfo) ==
          SEC_E_OK &&
      cinfo.szCipherSuite[0])
    snprintf(out->cipher, sizeof out->cipher, "%ls", cinfo.szCipherSuite);
  else if (QueryContextAttributesW(&t->ctx, SECPKG_ATTR_CONNECTION_INFO, &ci) ==
           SEC_E_OK)
    snprintf(out->cipher, sizeof out->cipher, "CALG 0x%04lx, %lu bits",
             (unsigned long)ci.aiCipher, (unsigned long)ci.dwCipherStrength);
  SecPkgContext_ApplicationProtocol ap;
  memset(&ap, 0, sizeof ap);
  if (QueryContextAttributesW(&t->ctx, SECPKG_ATTR_APPLICATION_PROTOCOL, &ap) ==
          SEC_E_OK &&
      ap.ProtoNegoStatus == SecApplicationProtocolNegotiationStatus_Success)
    snprintf(out->alpn, sizeof out->alpn, "%.*s", (int)ap.ProtocolIdSize,
             (const char *)ap.ProtocolId);
  out->verify_result = (long)t->verify_status;
  if (t->verify_status)
    tdsc__sec_status_text(t->verify_status, out->verify_text,
                          sizeof out->verify_text);
  else
    snprintf(out->verify_text, sizeof out->verify_text, "ok");
  if (t->peer) {
    tdsc__schannel_cert_info(t->peer, &out->certs[out->ncerts++]);
    PCCERT_CONTEXT c = NULL;
    while (t->peer->hCertStore && out->ncerts < TDSC__TLS_MAX_CERTS &&
           (c = CertEnumCertificatesInStore(t->peer->hCertStore, c)) != NULL)
      if (!CertCompareCertificate(X509_ASN_ENCODING, c->pCertInfo,
                                  t->peer->pCertInfo))
        tdsc__schannel_cert_info(c, &out->certs[out->ncerts++]);
    if (c)
      CertFreeCertificateContext(c);
  }
  return TDSC_OK;
}

tdsc_errc tdsc__tls_verdict(const tdsc__io *io, const tdsc__tls_opts *opts,
                            tdsc_error *err) {
  (void)opts; /* the verdict was reached at the handshake, with them */
  if (!tdsc__tls_is_filter(io))
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT, "not a TLS filter");
  const tls_io *t = (const tls_io *)io;
  if (t->verdict.code == TDSC_OK)
    return TDSC_OK;
  if (err && !tdsc__err_copy(err, &t->verdict))
    return tdsc__err_oom(err);
  return t->verdict.code;
}

/* ------------------------------------------------------ channel binding */

/* RFC 5929 section 3 through SChannel: SECPKG_ATTR_UNIQUE_BINDINGS gives a
 * SEC_CHANNEL_BINDINGS whose application data is "tls-unique:" and the
 * bytes (the first Finished of the handshake, which SChannel picks).  TLS
 * 1.3: none, as tls_openssl.c says. */
void tdsc__tls_be_binding(const tdsc__io *filter, tdsc__tls_binding *out) {
  static const char prefix[] = "tls-unique:";
  const size_t plen = sizeof prefix - 1;
  tls_io *t = (tls_io *)filter;
  if (t->protocol & SP_PROT_TLS1_3_CLIENT) {
    out->why = "TLS 1.3 has no tls-unique, and which binding SQL Server "
               "expects under TLS 1.3 is not established";
    return;
  }
  SecPkgContext_Bindings b = {0};
  if (QueryContextAttributesW(&t->ctx, SECPKG_ATTR_UNIQUE_BINDINGS, &b) !=
          SEC_E_OK ||
      !b.Bindings) {
    out->why = "SChannel gave no unique bindings (SECPKG_ATTR_UNIQUE_"
               "BINDINGS)";
    return;
  }
  const SEC_CHANNEL_BINDINGS *cb = b.Bindings;
  const uint8_t *app = (const uint8_t *)cb + cb->dwApplicationDataOffset;
  size_t n = cb->cbApplicationDataLength;
  if ((size_t)cb->dwApplicationDataOffset + n > b.BindingsLength ||
      n <= plen || n - plen > sizeof out->data ||
      memcmp(app, prefix, plen) != 0) {
    out->why = "SChannel's unique bindings are not tls-unique";
  } else {
    out->len = n - plen;
    memcpy(out->data, app + plen, out->len);
    out->type = "tls-unique";
  }
  FreeContextBuffer(b.Bindings);
}
