/* TLS filter over any I/O stack, with OpenSSL (tls.h).  The SSL object talks
 * to the filter below through a custom BIO over the non-blocking ops
 * (io.h): the layer below's TDSC__AGAIN is a BIO retry, and its want comes
 * back up with OpenSSL's SSL_ERROR_WANT_READ/WRITE; lower-layer errors
 * (reset, close) keep their own codes; handshake failures are translated
 * here into the TLS error codes.  The blocking forms loop in io.c (records)
 * and in tls.c (handshake).  Used by
 * lib/session after PRELOGIN (TDS 7.x, through prelogin_wrap.c) or first
 * thing on the transport (TDS 8.0 strict). */
#include "config.h"

#include "tls/tls.h"
#include "tls/tls_diag.h"
#include "tls/tls_openssl.h"

#include "buf.h"
#include "sys.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define WHERE_LEN TDSC__TLS_WHERE_LEN

#ifndef ERR_SYSTEM_ERROR /* OpenSSL 1.1.1 */
#define ERR_SYSTEM_ERROR(e) (ERR_GET_LIB(e) == ERR_LIB_SYS)
#endif

typedef struct tls_io {
  tdsc__io base; /* base.next: the transport below (old *top) */
  SSL *ssl;
  tdsc__io *below;  /* what the BIO uses: the wrap during a 7.x handshake */
  int want;         /* what the layer below waits for, after a BIO retry */
  tdsc_error lower; /* the lower layer's error that failed a BIO call */
  bool first_read;  /* handshake: no byte from the server yet */
  bool strict;
  X509 *fail_cert;       /* first certificate that failed verification */
  X509 *leaf;            /* the server's certificate, as verification saw it */
  char where[WHERE_LEN]; /* "localhost at 127.0.0.1:1433", for messages */
  /* seen during the handshake (msg_cb), for tdsc__tls_diag_mismatch */
  int alert_received; /* the server's alert description, -1 none */
  int server_version; /* of its ServerHello, 0 none */
  char server_cipher[64];
} tls_io;

static const tdsc__io_ops tls_ops;

/* ---------------------------------------------------------------- BIO */

static int bio_write_ex(BIO *b, const char *data, size_t len, size_t *written) {
  tls_io *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *written = 0;
  if (len == 0)
    return 1;
  int want = 0;
  tdsc_errc rc =
      tdsc__io_write_some(t->below, data, len, written, &want, &t->lower);
  if (rc == TDSC__AGAIN) {
    /* OpenSSL keeps the record and writes the same bytes again. */
    t->want |= want;
    BIO_set_retry_write(b);
    return 0;
  }
  return rc == TDSC_OK;
}

static int bio_read_ex(BIO *b, char *data, size_t len, size_t *readbytes) {
  tls_io *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  *readbytes = 0;
  if (len == 0)
    return 1;
  size_t got = 0;
  int want = 0;
  tdsc_errc rc =
      tdsc__io_read_some(t->below, data, len, &got, &want, &t->lower);
  if (rc == TDSC__AGAIN) {
    /* Nothing was consumed: as a retry the TLS state stays intact (the
     * caller waits, or gives up on a timeout or cancel and sends an
     * attention later over the same state). */
    t->want |= want;
    BIO_set_retry_read(b);
    return 0;
  }
  if (t->first_read) {
    rc = tdsc__tls_first_read(t->where, t->strict, rc, (const uint8_t *)data,
                              got, &t->lower);
    t->first_read = false;
  }
  if (rc != TDSC_OK)
    return 0;
  *readbytes = got;
  return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)num;
  (void)ptr;
  switch (cmd) {
  case BIO_CTRL_FLUSH:
    return 1; /* writes go straight down */
  case BIO_CTRL_EOF: {
    tls_io *t = BIO_get_data(b);
    return t && t->lower.code == TDSC_E_CONN_CLOSED;
  }
  default:
    return 0;
  }
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static int bio_destroy(BIO *b) {
  (void)b; /* the tls_io owns the data */
  return 1;
}

static BIO_METHOD *bio_method;
static CRYPTO_ONCE bio_once = CRYPTO_ONCE_STATIC_INIT;

static void bio_method_init(void) {
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                               "tdsclient I/O filter");
  if (!m)
    return;
  if (!BIO_meth_set_write_ex(m, bio_write_ex) ||
      !BIO_meth_set_read_ex(m, bio_read_ex) ||
      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create) ||
      !BIO_meth_set_destroy(m, bio_destroy)) {
    BIO_meth_free(m);
    return;
  }
  bio_method = m; /* shared by every connection */
}

/* A program that unloads the library (dlclose) gets it back; at exit this
 * runs after OpenSSL's own clean-up, and frees with the plain allocator. */
__attribute__((destructor)) static void bio_method_free(void) {
  BIO_meth_free(bio_method);
  bio_method = NULL;
}

/* ---------------------------------------------------------------- helpers */

/* RFC 2253 form of a name ("CN=localhost,O=tdsclient tests"). */
static void name_text(const X509_NAME *n, char *out, size_t cap) {
  snprintf(out, cap, "?");
  BIO *m = BIO_new(BIO_s_mem());
  if (!m)
    return;
  if (X509_NAME_print_ex(m, n, 0, XN_FLAG_RFC2253) >= 0) {
    char *p = NULL;
    long len = BIO_get_mem_data(m, &p);
    if (len > 0 && p)
      snprintf(out, cap, "%.*s", (int)len, p);
  }
  BIO_free(m);
}

static void time_text(const ASN1_TIME *at, char *out, size_t cap) {
  struct tm tm;
  snprintf(out, cap, "?");
  if (at && ASN1_TIME_to_tm(at, &tm) == 1)
    strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* "DNS:localhost, IP:127.0.0.1": the names a certificate holds. */
static void san_text(X509 *c, char *out, size_t cap) {
  out[0] = '\0';
  GENERAL_NAMES *gens = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
  if (!gens) {
    snprintf(out, cap, "no subjectAltName");
    return;
  }
  size_t used = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
    const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
    char item[INET6_ADDRSTRLEN + 8];
    if (g->type == GEN_DNS) {
      const ASN1_IA5STRING *s = g->d.dNSName;
      snprintf(item, sizeof item, "DNS:%.*s",
               (int)(s->length < 64 ? s->length : 64), (const char *)s->data);
    } else if (g->type == GEN_IPADD) {
      tdsc__tls_ip_text(g->d.iPAddress->data, (size_t)g->d.iPAddress->length,
                        item, sizeof item);
    } else {
      continue;
    }
    if (!tdsc__tls_list_add(out, cap, &used, item))
      break;
  }
  GENERAL_NAMES_free(gens);
}

/* Keeps the certificates verification failed on, for the message; never
 * changes the verdict (returns preverify_ok as given). */
static int verify_cb(int preverify_ok, X509_STORE_CTX *x) {
  if (preverify_ok)
    return 1;
  SSL *ssl =
      X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
  tls_io *t = ssl ? SSL_get_app_data(ssl) : NULL;
  if (t) {
    X509 *cur = X509_STORE_CTX_get_current_cert(x);
    if (!t->fail_cert && cur && X509_up_ref(cur))
      t->fail_cert = cur;
    X509 *leaf = X509_STORE_CTX_get0_cert(x);
    if (!t->leaf && leaf && X509_up_ref(leaf))
      t->leaf = leaf;
  }
  return 0;
}

/* ---------------------------------------------------------------- errors */

/* OpenSSL's reason text; system errors (a missing CAFile) have none of
 * their own but carry errno. */
static const char *reason_text(unsigned long e) {
  if (!e)
    return NULL;
  if (ERR_SYSTEM_ERROR(e))
    return strerror(ERR_GET_REASON(e));
  return ERR_reason_error_string(e);
}

/* Hands the lower layer's error to the caller; returns its code. */
static tdsc_errc surface_lower(tls_io *t, tdsc_error *err) {
  tdsc_errc code = t->lower.code;
  if (err)
    tdsc__err_move(err, &t->lower);
  else
    tdsc__err_clear(&t->lower);
  return code;
}

static void set_openssl_provider(tdsc_error *err, unsigned long e, long v) {
  const char *reason = reason_text(e);
  char text[512];
  if (v != X509_V_OK)
    snprintf(text, sizeof text, "%s; verify: %s",
             reason ? reason : "no OpenSSL error",
             X509_verify_cert_error_string(v));
  else
    snprintf(text, sizeof text, "%s", reason ? reason : "no OpenSSL error");
  tdsc__err_provider(err, TDSC_PROVIDER_OPENSSL, (long long)e, v, 0, text);
}

/* Reasons that say this client had nothing to offer: no handshake left. */
static bool is_client_empty(unsigned long e) {
  if (ERR_GET_LIB(e) != ERR_LIB_SSL)
    return false;
  switch (ERR_GET_REASON(e)) {
  case SSL_R_NO_PROTOCOLS_AVAILABLE:
  case SSL_R_NO_CIPHERS_AVAILABLE:
    return true;
  default:
    return false;
  }
}

/* Records the server's alert and its ServerHello's choice (version and
 * cipher, RFC 8446 4.1.3; a TLS 1.3 choice is in supported_versions, 4.2.1)
 * for the diagnosis of a failed handshake. */
static void msg_cb(int write_p, int version, int content_type, const void *buf,
                   size_t len, SSL *ssl, void *arg) {
  (void)version;
  (void)arg;
  tls_io *t = SSL_get_app_data(ssl);
  if (!t || write_p)
    return;
  tdsc__rd r;
  tdsc__rd_init(&r, buf, len);
  if (content_type == SSL3_RT_ALERT && len >= 2) {
    tdsc__rd_u8(&r); /* level */
    t->alert_received = tdsc__rd_u8(&r);
    return;
  }
  if (content_type != SSL3_RT_HANDSHAKE || tdsc__rd_u8(&r) != 2)
    return;             /* not a ServerHello */
  tdsc__rd_skip(&r, 3); /* length */
  int ver = tdsc__rd_u16be(&r);
  tdsc__rd_skip(&r, 32);              /* random */
  tdsc__rd_skip(&r, tdsc__rd_u8(&r)); /* legacy_session_id_echo */
  const uint8_t *cs = tdsc__rd_take(&r, 2);
  tdsc__rd_skip(&r, 1); /* compression */
  if (!tdsc__rd_ok(&r))
    return;
  if (tdsc__rd_left(&r) >= 2) {
    tdsc__rd ext;
    size_t elen = tdsc__rd_u16be(&r);
    const uint8_t *e = tdsc__rd_take(&r, elen);
    tdsc__rd_init(&ext, e, e ? elen : 0);
    while (tdsc__rd_ok(&ext) && tdsc__rd_left(&ext) >= 4) {
      uint16_t type = tdsc__rd_u16be(&ext);
      uint16_t n = tdsc__rd_u16be(&ext);
      const uint8_t *d = tdsc__rd_take(&ext, n);
      if (d && type == 43 && n == 2) /* supported_versions */
        ver = (d[0] << 8) | d[1];
    }
  }
  t->server_version = ver;
  const SSL_CIPHER *c = SSL_CIPHER_find(ssl, cs);
  snprintf(t->server_cipher, sizeof t->server_cipher, "%s",
           c ? SSL_CIPHER_get_name(c) : "an unknown cipher suite");
}

/* "OPENSSL_CONF=/x/client.cnf" or the default file: where this client's
 * TLS versions and ciphers come from. */
static void conf_text(char *out, size_t cap) {
  const char *env = getenv("OPENSSL_CONF");
  if (env && *env) {
    snprintf(out, cap, "OPENSSL_CONF=%s", env);
    return;
  }
  char *def = CONF_get1_default_config_file();
  snprintf(out, cap, "the OpenSSL configuration %s", def ? def : "(none)");
  OPENSSL_free(def);
}

/* The cipher suites this client offers for its version range. */
static void ciphers_text(SSL *ssl, char *out, size_t cap) {
  STACK_OF(SSL_CIPHER) *sk = SSL_get1_supported_ciphers(ssl);
  int n = sk ? sk_SSL_CIPHER_num(sk) : 0;
  size_t used = 0;
  out[0] = '\0';
  int shown = 0;
  for (int i = 0; i < n && shown < 6; i++, shown++) {
    int k = snprintf(out + used, cap - used, "%s%s", i ? ", " : "",
                     SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i)));
    if (k < 0 || (size_t)k >= cap - used)
      break;
    used += (size_t)k;
  }
  if (!n)
    snprintf(out, cap, "no usable cipher suite");
  else if (n > shown)
    snprintf(out + used, cap - used, " and %d more", n - shown);
  used = strlen(out);
  snprintf(out + used, cap - used, ", security level %d",
           SSL_get_security_level(ssl));
  sk_SSL_CIPHER_free(sk);
}

/* A handshake that failed on what each side offered: the facts, judged by
 * tdsc__tls_diag_mismatch.  TDSC_OK when they show no mismatch. */
static tdsc_errc mismatch_error(tls_io *t, unsigned long e, bool empty,
                                tdsc_error *err) {
  tdsc__tls_facts f = {
      .client_min = (int)SSL_get_min_proto_version(t->ssl),
      .client_max = (int)SSL_get_max_proto_version(t->ssl),
      .highest = TLS1_3_VERSION,
      .alert_received = t->alert_received,
      .server_version = t->server_version,
      .client_empty = empty,
      .detail = reason_text(e),
  };
  if (!f.client_min)
    f.client_min = TLS1_2_VERSION;
  snprintf(f.server_cipher, sizeof f.server_cipher, "%s", t->server_cipher);
  ciphers_text(t->ssl, f.ciphers, sizeof f.ciphers);
  conf_text(f.conf, sizeof f.conf);
  tdsc_errc code = tdsc__tls_diag_mismatch(&f, t->where, err);
  if (code != TDSC_OK)
    set_openssl_provider(err, e, X509_V_OK);
  return code;
}

static tdsc_errc verify_errc(long v) {
  return tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, v)->code;
}

static tdsc_errc cert_error(tls_io *t, const tdsc__tls_opts *o, long v,
                            unsigned long e, tdsc_error *err) {
  tdsc_errc code = verify_errc(v);
  X509 *leaf = t->leaf; /* set by verify_cb whenever verification failed */
  X509 *bad = t->fail_cert ? t->fail_cert : leaf;
  char subj[256] = "?", iss[256] = "?", cert[600];
  if (leaf) {
    name_text(X509_get_subject_name(leaf), subj, sizeof subj);
    name_text(X509_get_issuer_name(leaf), iss, sizeof iss);
  }
  tdsc__tls_cert_text(cert, sizeof cert, t->where, subj, iss);
  switch (v) {
  case X509_V_ERR_CERT_HAS_EXPIRED:
  case X509_V_ERR_CERT_NOT_YET_VALID: {
    bool expired = v == X509_V_ERR_CERT_HAS_EXPIRED;
    char when[64], bsubj[256] = "?";
    time_text(
        bad ? (expired ? X509_get0_notAfter(bad) : X509_get0_notBefore(bad))
            : NULL,
        when, sizeof when);
    if (bad && bad != leaf)
      name_text(X509_get_subject_name(bad), bsubj, sizeof bsubj);
    tdsc__tls_cert_time_error(
        err, code, cert, bad && bad != leaf ? bsubj : NULL, !expired, when);
    break;
  }
  case X509_V_ERR_HOSTNAME_MISMATCH:
  case X509_V_ERR_IP_ADDRESS_MISMATCH: {
    char names[512] = "?";
    if (leaf)
      san_text(leaf, names, sizeof names);
    tdsc__tls_cert_name_error(err, code, cert, o, names);
    break;
  }
  default: {
    const tdsc__tls_diag_row *row =
        tdsc__tls_diag_find(TDSC__TLS_DIAG_VERIFY, v);
    const char *what = row->what ? row->what : X509_verify_cert_error_string(v);
    char bsubj[256] = "", about[300] = "";
    /* a verdict on an issuer names it: the leaf may be fine */
    if (bad && bad != leaf) {
      name_text(X509_get_subject_name(bad), bsubj, sizeof bsubj);
      snprintf(about, sizeof about, " (at the issuing certificate %s)", bsubj);
    }
    if (code == TDSC_E_TLS_CERT_UNTRUSTED)
      tdsc__err_set(err, code, "%s is not trusted: it %s%s (trust store: %s%s)",
                    cert, what, about,
                    o->cafile ? "CAFile=" : "the system CA store",
                    o->cafile ? o->cafile : "");
    else if (code == TDSC_E_TLS_CERT_REVOKED ||
             code == TDSC_E_TLS_REVOCATION_UNKNOWN)
      tdsc__err_set(err, code, "%s %s%s (CRLs from CAFile=%s)", cert, what,
                    about, o->cafile ? o->cafile : "?");
    else
      tdsc__err_set(err, code, "%s was rejected: it %s%s (%s)", cert, what,
                    about, row->name);
    break;
  }
  }
  set_openssl_provider(err, e, v);
  return code;
}

/* Translates a failed SSL_connect into err. */
static tdsc_errc handshake_error(tls_io *t, const tdsc__tls_opts *o,
                                 tdsc_error *err) {
  unsigned long e = ERR_peek_error();
  long v = SSL_get_verify_result(t->ssl);
  /* Our own verdict on a non-TLS answer comes first: OpenSSL only saw
   * the BIO fail. */
  if (t->lower.code == TDSC_E_TLS_STRICT_UNSUPPORTED ||
      t->lower.code == TDSC_E_TLS_HANDSHAKE)
    return surface_lower(t, err);
  /* A certificate verdict is definitive even if the alert we sent after
   * it could not be written. */
  if (o->verify && v != X509_V_OK)
    return cert_error(t, o, v, e, err);
  /* What each side offered decides a version or cipher mismatch. */
  tdsc_errc code = mismatch_error(t, e, e && is_client_empty(e), err);
  if (code != TDSC_OK)
    return code;
  if (t->alert_received >= 0) {
    const tdsc__tls_diag_row *row =
        tdsc__tls_diag_find(TDSC__TLS_DIAG_ALERT, t->alert_received);
    tdsc__err_set(err, row->code,
                  "%s ended the TLS handshake with alert %s (%d): it %s",
                  t->where, row->name, t->alert_received,
                  row->what ? row->what : "gave no reason");
    if (row->code == TDSC_E_TLS_CERT_NAME_MISMATCH)
      tdsc__err_hint(err, "Connect by a host name the server is set up for "
                          "(it is sent in SNI); HostNameInCertificate= "
                          "changes only what the certificate is checked "
                          "against.");
    set_openssl_provider(err, e, v);
    return row->code;
  }
  /* The transport failed (timeout, reset, close): its own error. */
  if (t->lower.code != TDSC_OK) {
    code = surface_lower(t, err);
    tdsc__err_context(err, "TLS handshake with %s", t->where);
    return code;
  }
  const char *reason = reason_text(e);
  tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                "the TLS handshake with %s failed: %s", t->where,
                reason ? reason : "unknown reason");
  set_openssl_provider(err, e, v);
  return TDSC_E_TLS_HANDSHAKE;
}

/* ---------------------------------------------------------------- filter */

/* Starts an operation: fresh lower-layer error and OpenSSL queue (the
 * queue is per thread, and stale entries would end up in this report).
 * Each is cleared only when it holds something: clearing an empty one
 * cost a tenth of a SELECT 1 round trip over TLS (bench/README.md). */
static void op_begin(tls_io *t) {
  if (ERR_peek_error())
    ERR_clear_error();
  if (!tdsc__err_is_clear(&t->lower))
    tdsc__err_clear(&t->lower);
  t->want = 0;
}

/* After a failed SSL call: 1 when the BIO met the layer below waiting
 * (*want is its want: return TDSC__AGAIN), 0 when OpenSSL wants I/O the
 * BIO did not refuse (it only consumed a message without application
 * data, a TLS 1.3 session ticket: call again), -1 for a failure. */
static int would_block(tls_io *t, int se, int *want) {
  if ((se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) ||
      t->lower.code != TDSC_OK)
    return -1;
  if (!t->want)
    return 0;
  *want = t->want;
  return 1;
}

/* The error of a failed SSL_read_ex/SSL_write_ex after the handshake. */
static tdsc_errc data_error(tls_io *t, int r, const char *what,
                            tdsc_error *err) {
  int se = SSL_get_error(t->ssl, r);
  if (se == SSL_ERROR_ZERO_RETURN)
    return tdsc__err_set(err, TDSC_E_CONN_CLOSED,
                         "the server closed the connection (TLS close_notify "
                         "from %s)",
                         t->where);
  if (t->lower.code != TDSC_OK)
    return surface_lower(t, err);
  unsigned long e = ERR_peek_error();
  const char *reason = reason_text(e);
  /* Corrupt or forged records: not a TDS error, but the stream is broken
   * below TDS and the nearest code is a protocol violation. */
  tdsc__err_set(err, TDSC_E_PROTOCOL, "TLS error %s %s: %s", what, t->where,
                reason ? reason : "unknown reason");
  set_openssl_provider(err, e, X509_V_OK);
  return TDSC_E_PROTOCOL;
}

static tdsc_errc tls_read_some(tdsc__io *io, void *buf, size_t len, size_t *got,
                               int *want, tdsc_error *err) {
  tls_io *t = (tls_io *)io;
  *got = 0;
  for (;;) {
    op_begin(t);
    int r = SSL_read_ex(t->ssl, buf, len, got);
    if (r == 1)
      return TDSC_OK;
    int wb = would_block(t, SSL_get_error(t->ssl, r), want);
    if (wb > 0)
      return TDSC__AGAIN;
    if (wb == 0)
      continue;
    return data_error(t, r, "reading from", err);
  }
}

static tdsc_errc tls_write_some(tdsc__io *io, const void *buf, size_t len,
                                size_t *put, int *want, tdsc_error *err) {
  tls_io *t = (tls_io *)io;
  *put = 0;
  for (;;) {
    op_begin(t);
    /* SSL_MODE_ENABLE_PARTIAL_WRITE: done after each record sent. */
    int r = SSL_write_ex(t->ssl, buf, len, put);
    if (r == 1)
      return TDSC_OK;
    int wb = would_block(t, SSL_get_error(t->ssl, r), want);
    if (wb > 0)
      return TDSC__AGAIN;
    if (wb == 0)
      continue;
    return data_error(t, r, "writing to", err);
  }
}

static void tls_destroy(tdsc__io *io) {
  tls_io *t = (tls_io *)io;
  SSL_free(t->ssl); /* and the BIO; no close_notify: callers drop TLS */
  X509_free(t->fail_cert);
  X509_free(t->leaf);
  tdsc__err_clear(&t->lower);
  free(t);
}

static const tdsc__io_ops tls_ops = {.name = "tls",
                                     .read = tdsc__io_read,
                                     .write = tdsc__io_write,
                                     .destroy = tls_destroy,
                                     .read_some = tls_read_some,
                                     .write_some = tls_write_some};

/* ---------------------------------------------------------------- start */

tdsc_errc tdsc__ossl_setup_error(tdsc_error *err, tdsc_errc code,
                                 const char *what, const char *arg) {
  unsigned long e = ERR_peek_error();
  const char *reason = reason_text(e);
  tdsc__err_set(err, code, "%s%s: %s", what, arg ? arg : "",
                reason ? reason : "unknown reason");
  tdsc__err_provider(err, TDSC_PROVIDER_OPENSSL, (long long)e, 0, 0, reason);
  return code;
}

void tdsc__tls_be_free(tdsc__tls_hs *hs) {
  SSL_CTX_free(hs->extra); /* the SSL object keeps its own reference */
  ERR_clear_error();
}

void tdsc__tls_be_below(tdsc__io *filter, tdsc__io *below) {
  ((tls_io *)filter)->below = below;
}

tdsc_errc tdsc__tls_be_new(tdsc__tls_hs *hs, tdsc_error *err) {
  const tdsc__tls_opts *opts = &hs->opts;
  ERR_clear_error();
  if (!CRYPTO_THREAD_run_once(&bio_once, bio_method_init) || !bio_method)
    return tdsc__ossl_setup_error(err, TDSC_E_NO_MEMORY,
                                  "cannot set up the TLS BIO", NULL);
  tls_io *t = calloc(1, sizeof *t);
  if (!t)
    return tdsc__err_oom(err);
  t->base.ops = &tls_ops; /* first: tls.c destroys it on failure */
  hs->filter = &t->base;
  tdsc__tls_where(opts, t->where, sizeof t->where);

  /* A context shared with the connects of the same trust settings
   * (tls_openssl_ctx.c): it is not changed after it is set up, so threads
   * share it safely, and a CAFile changed on disk gets a new one. */
  SSL_CTX *ctx = NULL;
  tdsc_errc rc = tdsc__ossl_ctx_get(opts, verify_cb, &ctx, err);
  if (rc != TDSC_OK)
    return rc;
  hs->extra = ctx;
  bool verifying = opts->verify || opts->report_only;

  t->ssl = SSL_new(ctx);
  if (!t->ssl) {
    return tdsc__ossl_setup_error(err, TDSC_E_NO_MEMORY,
                                  "cannot create a TLS session", NULL);
  }
  SSL_set_app_data(t->ssl, t);
  /* Non-blocking records (io.h): a write may end after a record, and is
   * retried with the same bytes, possibly from a buffer that moved. */
  SSL_set_mode(t->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
                           SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  t->alert_received = -1;
  SSL_set_msg_callback(t->ssl, msg_cb);

  const char *check = opts->cert_host ? opts->cert_host : opts->host;
  if (verifying && check && *check) {
    int ok;
    if (tdsc__is_ip_literal(check)) {
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), check);
    } else {
      SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      ok = SSL_set1_host(t->ssl, check);
    }
    if (ok != 1) {
      return tdsc__ossl_setup_error(err, TDSC_E_BAD_OPTION_VALUE,
                                    "cannot check the certificate against ",
                                    check);
    }
  }
  /* SNI names a host; RFC 6066 3 forbids IP literals there. */
  if (opts->host && *opts->host && !tdsc__is_ip_literal(opts->host) &&
      SSL_set_tlsext_host_name(t->ssl, opts->host) != 1) {
    return tdsc__ossl_setup_error(err, TDSC_E_BAD_OPTION_VALUE,
                                  "cannot send the server name ", opts->host);
  }
  if (opts->strict) {
    static const unsigned char alpn[] = "\x07tds/8.0";
    if (SSL_set_alpn_protos(t->ssl, alpn, sizeof alpn - 1) != 0) {
      return tdsc__ossl_setup_error(err, TDSC_E_NO_MEMORY,
                                    "cannot offer ALPN tds/8.0", NULL);
    }
  }

  BIO *bio = BIO_new(bio_method);
  if (!bio) {
    return tdsc__ossl_setup_error(err, TDSC_E_NO_MEMORY,
                                  "cannot create the TLS BIO", NULL);
  }
  BIO_set_data(bio, t);
  SSL_set_bio(t->ssl, bio, bio);

  t->base.next = hs->top;
  t->strict = opts->strict;
  t->first_read = true;
  return TDSC_OK;
}

tdsc_errc tdsc__tls_be_handshake(tdsc__tls_hs *hs, int *want, tdsc_error *err) {
  tls_io *t = (tls_io *)hs->filter;
  for (;;) {
    op_begin(t);
    int r = SSL_connect(t->ssl);
    if (r == 1)
      return TDSC_OK;
    int wb = would_block(t, SSL_get_error(t->ssl, r), want);
    if (wb > 0)
      return TDSC__AGAIN;
    if (wb < 0)
      return handshake_error(t, &hs->opts, err);
  }
}

tdsc_errc tdsc__tls_be_done(tdsc__tls_hs *hs, tdsc_error *err) {
  (void)err;
  tls_io *t = (tls_io *)hs->filter;
  if (!hs->opts.report_only) { /* kept for tdsc__tls_verdict's message */
    X509_free(t->fail_cert);   /* only for messages of a failed handshake */
    X509_free(t->leaf);
    t->fail_cert = t->leaf = NULL;
  }
  /* What msg_cb records is for a failed handshake: after it, OpenSSL
   * would call it for every record (issue 15: round trips). */
  SSL_set_msg_callback(t->ssl, NULL);
  /* Records are read whole, header and body in one read from the layer
   * below, and what follows them kept for the next SSL_read: one read
   * (a system call) a response where there were two or three.  Only now
   * that the records go raw over the transport: during a TDS 7.x
   * handshake the layer below is the PRELOGIN wrap, and no read can
   * happen between here and login-only TLS's end (the session pops it
   * after LOGIN7 is sent).  A caller waits on the transport only after a
   * read said AGAIN, when what OpenSSL holds is no whole record. */
  SSL_set_read_ahead(t->ssl, 1);
  return TDSC_OK;
}

bool tdsc__tls_is_filter(const tdsc__io *io) {
  return io && io->ops == &tls_ops;
}

const char *tdsc__tls_version(const tdsc__io *io) {
  if (!tdsc__tls_is_filter(io))
    return "";
  return SSL_get_version(((const tls_io *)io)->ssl);
}

/* ---------------------------------------------------------------- report */

static void cert_info(X509 *c, tdsc__tls_cert_info *ci) {
  name_text(X509_get_subject_name(c), ci->subject, sizeof ci->subject);
  name_text(X509_get_issuer_name(c), ci->issuer, sizeof ci->issuer);
  time_text(X509_get0_notBefore(c), ci->not_before, sizeof ci->not_before);
  time_text(X509_get0_notAfter(c), ci->not_after, sizeof ci->not_after);
  san_text(c, ci->sans, sizeof ci->sans);
}

tdsc_errc tdsc__tls_peer_info(const tdsc__io *io, tdsc__tls_info *out) {
  memset(out, 0, sizeof *out);
  if (!tdsc__tls_is_filter(io))
    return TDSC_E_INVALID_ARGUMENT;
  const tls_io *t = (const tls_io *)io;
  snprintf(out->version, sizeof out->version, "%s", SSL_get_version(t->ssl));
  snprintf(out->cipher, sizeof out->cipher, "%s",
           SSL_CIPHER_get_name(SSL_get_current_cipher(t->ssl)));
  const unsigned char *alpn = NULL;
  unsigned alpnlen = 0;
  SSL_get0_alpn_selected(t->ssl, &alpn, &alpnlen);
  if (alpn)
    snprintf(out->alpn, sizeof out->alpn, "%.*s", (int)alpnlen,
             (const char *)alpn);
  out->verify_result = SSL_get_verify_result(t->ssl);
  snprintf(out->verify_text, sizeof out->verify_text, "%s",
           X509_verify_cert_error_string(out->verify_result));
  /* the chain as sent (a client's chain includes the leaf) */
  STACK_OF(X509) *chain = SSL_get_peer_cert_chain(t->ssl);
  for (int i = 0;
       chain && i < sk_X509_num(chain) && out->ncerts < TDSC__TLS_MAX_CERTS;
       i++)
    cert_info(sk_X509_value(chain, i), &out->certs[out->ncerts++]);
  return TDSC_OK;
}

tdsc_errc tdsc__tls_verdict(const tdsc__io *io, const tdsc__tls_opts *opts,
                            tdsc_error *err) {
  if (!io || io->ops != &tls_ops)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT, "not a TLS filter");
  tls_io *t = (tls_io *)io;
  long v = SSL_get_verify_result(t->ssl);
  if (v == X509_V_OK)
    return TDSC_OK;
  return cert_error(t, opts, v, 0, err);
}

/* ------------------------------------------------------ channel binding */

/* RFC 5929 section 3: tls-unique is the first Finished message of the
 * latest handshake: ours (the client's) after a full handshake, the
 * server's after a resumed one.  TLS 1.3 has none (RFC 9266 section 2),
 * and what SQL Server checks there is not established
 * (doc/channel-binding.md). */
void tdsc__tls_be_binding(const tdsc__io *filter, tdsc__tls_binding *out) {
  const tls_io *t = (const tls_io *)filter;
  int v = SSL_version(t->ssl);
  if (v >= TLS1_3_VERSION || v < TLS1_VERSION) {
    out->why = v >= TLS1_3_VERSION
                   ? "TLS 1.3 has no tls-unique, and which binding SQL "
                     "Server expects under TLS 1.3 is not established"
                   : "the TLS version has no tls-unique this client sends";
    return;
  }
  size_t n = SSL_session_reused(t->ssl)
                 ? SSL_get_peer_finished(t->ssl, out->data, sizeof out->data)
                 : SSL_get_finished(t->ssl, out->data, sizeof out->data);
  if (n == 0 || n > sizeof out->data) {
    out->len = 0;
    out->why = "the handshake's Finished message is not available";
    return;
  }
  out->len = n;
  out->type = "tls-unique";
}
