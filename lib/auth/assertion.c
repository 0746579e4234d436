/* The client assertion of a service principal's certificate (assertion.h):
 * RFC 7523 section 2.2's JWT, with the header and claims Microsoft Entra
 * ID's certificate credentials ask for: alg PS256 (RFC 7518 section 3.5:
 * RSASSA-PSS, SHA-256, MGF1 SHA-256, a salt as long as the hash), x5t#S256
 * and x5t (RFC 7515 sections 4.1.8 and 4.1.7: the base64url SHA-256 and
 * SHA-1 of the certificate's DER, by which the identity provider finds the
 * registered certificate), aud the token endpoint, iss = sub the client id,
 * a random jti, nbf = iat now, exp ten minutes later.  oauth.c sends it;
 * the PEM file and the key are wiped once it is signed. */
#include "config.h"

#include "auth/assertion.h"

#include "buf.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_PEM (1u << 20) /* a certificate chain and a key: a few KiB */
/* The assertion's lifetime: long enough for the request's round trip,
 * short as Entra ID advises (a replayed one is of little use). */
#define LIFETIME 600
/* A certificate whose notBefore is this far ahead of this machine's
 * clock is taken as valid (the skew Entra ID tolerates). */
#define NBF_SKEW 300

static void b64url(tdsc__buf *b, const unsigned char *in, size_t n) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 |
                 (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    tdsc__buf_put_u8(b, (uint8_t)a[v >> 18 & 63]);
    tdsc__buf_put_u8(b, (uint8_t)a[v >> 12 & 63]);
    if (i + 1 < n)
      tdsc__buf_put_u8(b, (uint8_t)a[v >> 6 & 63]);
    if (i + 2 < n)
      tdsc__buf_put_u8(b, (uint8_t)a[v & 63]);
  }
}

/* s as a JSON string (RFC 8259 section 7). */
static void json_str(tdsc__buf *b, const char *s) {
  tdsc__buf_put_u8(b, '"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    char esc[8];
    if (ch == '"' || ch == '\\' || ch < 0x20) {
      snprintf(esc, sizeof esc, "\\u%04x", ch);
      tdsc__buf_put_str(b, esc);
    } else {
      tdsc__buf_put_u8(b, ch);
    }
  }
  tdsc__buf_put_u8(b, '"');
}

/* The passphrase callback: never the terminal's prompt, which OpenSSL
 * would show without one. */
static int passphrase_cb(char *buf, int size, int rwflag, void *u) {
  (void)rwflag;
  const char *pass = u;
  size_t n = pass ? strlen(pass) : 0;
  if (!pass || size < 0 || n > (size_t)size)
    return -1;
  memcpy(buf, pass, n);
  return (int)n;
}

static void when(const ASN1_TIME *t, char *buf, size_t cap) {
  struct tm tm;
  if (!ASN1_TIME_to_tm(t, &tm)) {
    snprintf(buf, cap, "(unreadable date)");
    return;
  }
  snprintf(buf, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The file's text (at most MAX_PEM bytes) into b. */
static tdsc_errc read_pem(const char *file, const char *path, tdsc__buf *b,
                          tdsc_error *err) {
  FILE *f = fopen(file, "rb");
  if (!f)
    return tdsc__err_errno(err, TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE, errno,
                           "cannot read the certificate file %s", path);
  char chunk[4096];
  size_t n;
  /* room for it all at once: a copy left behind by realloc would hold
   * the key */
  tdsc__buf_reserve(b, MAX_PEM + sizeof chunk + 1);
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b->len <= MAX_PEM)
    tdsc__buf_put(b, chunk, n);
  int failed = ferror(f);
  fclose(f);
  tdsc__wipe(chunk, sizeof chunk);
  if (b->oom)
    return tdsc__err_oom(err);
  if (failed || b->len > MAX_PEM)
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE,
                         "the certificate file %s "
                         "%s",
                         path,
                         failed ? "could not be read to its end"
                                : "is larger than a certificate and key "
                                  "can be (1 MiB)");
  return TDSC_OK;
}

static bool has(const tdsc__buf *b, const char *what) {
  size_t n = strlen(what);
  for (size_t i = 0; i + n <= b->len; i++)
    if (!memcmp(b->data + i, what, n))
      return true;
  return false;
}

/* The private key of the file: its absence, a wrong or missing passphrase
 * each named (OpenSSL says the same "bad decrypt" for both of the
 * latter, so the file's own "ENCRYPTED" marker decides). */
static tdsc_errc read_key(const tdsc__buf *b, const char *path,
                          const char *pass, EVP_PKEY **key,
                          tdsc_error *err) {
  bool any = has(b, "PRIVATE KEY-----");
  bool encrypted = has(b, "-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
                   has(b, "Proc-Type: 4,ENCRYPTED");
  if (!any)
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_NO_KEY,
                         "the certificate file %s "
                         "holds no private key, only the certificate",
                         path);
  if (encrypted && !(pass && *pass))
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_PASSPHRASE,
                         "the private key in %s is "
                         "encrypted, and no passphrase was given",
                         path);
  BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
  if (!bio)
    return tdsc__err_oom(err);
  ERR_clear_error();
  *key = PEM_read_bio_PrivateKey(bio, NULL, passphrase_cb,
                                 (void *)(encrypted ? pass : NULL));
  unsigned long e = ERR_peek_last_error();
  BIO_free(bio);
  ERR_clear_error();
  if (!*key && encrypted)
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_PASSPHRASE,
                         "the private key in %s "
                         "does not decrypt with the passphrase given",
                         path);
  if (!*key) {
    char why[160];
    ERR_error_string_n(e, why, sizeof why);
    tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_NO_KEY,
                  "the private key in %s cannot be "
                  "read: %s",
                  path, e ? why : "not a PEM private key");
    tdsc__err_provider(err, TDSC_PROVIDER_OPENSSL, (long long)e, 0, 0, NULL);
    return TDSC_E_ENTRA_CLIENT_CERT_NO_KEY;
  }
  if (!EVP_PKEY_is_a(*key, "RSA"))
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_NO_KEY,
                         "the private key in %s is "
                         "%s, not RSA: Entra ID's certificate credentials "
                         "are signed RS256 or PS256",
                         path, EVP_PKEY_get0_type_name(*key));
  return TDSC_OK;
}

/* The certificate: read, its facts kept, its validity checked. */
static tdsc_errc read_cert(const tdsc__buf *b, const char *path, X509 **cert,
                           tdsc__cert_facts *facts, tdsc_error *err) {
  BIO *bio = BIO_new_mem_buf(b->data, (int)b->len);
  if (!bio)
    return tdsc__err_oom(err);
  *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
  BIO_free(bio);
  ERR_clear_error();
  if (!*cert)
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE,
                         "the file %s holds no PEM "
                         "certificate (-----BEGIN CERTIFICATE-----)",
                         path);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (X509_digest(*cert, EVP_sha1(), md, &n) && n == 20)
    for (unsigned i = 0; i < n; i++)
      snprintf(facts->sha1 + 2 * i, 3, "%02X", md[i]);
  X509_NAME_oneline(X509_get_subject_name(*cert), facts->subject,
                    sizeof facts->subject);
  const ASN1_TIME *nb = X509_get0_notBefore(*cert);
  const ASN1_TIME *na = X509_get0_notAfter(*cert);
  time_t now = time(NULL), ahead = now + NBF_SKEW;
  char t1[64];
  if (X509_cmp_time(na, &now) < 0) {
    when(na, t1, sizeof t1);
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_EXPIRED,
                         "the certificate %s (thumbprint %s) of %s expired "
                         "at %s (notAfter): Entra ID refuses an assertion it "
                         "signs",
                         facts->subject, facts->sha1, path, t1);
  }
  if (X509_cmp_time(nb, &ahead) > 0) {
    when(nb, t1, sizeof t1);
    return tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_EXPIRED,
                         "the certificate %s (thumbprint %s) of %s is valid "
                         "only from %s (notBefore): this machine's clock or "
                         "the certificate is wrong",
                         facts->subject, facts->sha1, path, t1);
  }
  return TDSC_OK;
}

/* base64url(header).base64url(claims) into b. */
static void signing_input(tdsc__buf *b, X509 *cert, const char *client_id,
                          const char *aud) {
  unsigned char s1[EVP_MAX_MD_SIZE], s256[EVP_MAX_MD_SIZE], jti[16];
  unsigned int n1 = 0, n256 = 0;
  tdsc__buf j;
  tdsc__buf_init(&j);
  if (!X509_digest(cert, EVP_sha1(), s1, &n1) ||
      !X509_digest(cert, EVP_sha256(), s256, &n256) ||
      RAND_bytes(jti, sizeof jti) != 1) {
    b->oom = true;
    return;
  }
  tdsc__buf_put_str(&j, "{\"alg\":\"PS256\",\"typ\":\"JWT\",\"x5t#S256\":\"");
  b64url(&j, s256, n256);
  tdsc__buf_put_str(&j, "\",\"x5t\":\"");
  b64url(&j, s1, n1);
  tdsc__buf_put_str(&j, "\"}");
  b64url(b, j.data, j.len);
  tdsc__buf_put_u8(b, '.');
  /* jti: a random (version 4) UUID, as Entra ID's example */
  jti[6] = (unsigned char)((jti[6] & 0x0f) | 0x40);
  jti[8] = (unsigned char)((jti[8] & 0x3f) | 0x80);
  char id[40], nums[96];
  snprintf(id, sizeof id,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           jti[0], jti[1], jti[2], jti[3], jti[4], jti[5], jti[6], jti[7],
           jti[8], jti[9], jti[10], jti[11], jti[12], jti[13], jti[14],
           jti[15]);
  long long now = (long long)time(NULL);
  tdsc__buf_reset(&j);
  tdsc__buf_put_str(&j, "{\"aud\":");
  json_str(&j, aud);
  tdsc__buf_put_str(&j, ",\"iss\":");
  json_str(&j, client_id);
  tdsc__buf_put_str(&j, ",\"sub\":");
  json_str(&j, client_id);
  tdsc__buf_put_str(&j, ",\"jti\":");
  json_str(&j, id);
  snprintf(nums, sizeof nums, ",\"nbf\":%lld,\"iat\":%lld,\"exp\":%lld}", now,
           now, now + LIFETIME);
  tdsc__buf_put_str(&j, nums);
  b64url(b, j.data, j.len);
  b->oom = b->oom || j.oom;
  tdsc__buf_free(&j);
}

/* PS256 (RFC 7518 section 3.5) over the signing input. */
static bool sign(EVP_PKEY *key, const tdsc__buf *in, tdsc__buf *out) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX *pctx = NULL;
  unsigned char *sig = NULL;
  size_t n = 0;
  bool ok = ctx && EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
            EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0 &&
            EVP_DigestSign(ctx, NULL, &n, in->data, in->len) == 1 &&
            (sig = OPENSSL_malloc(n)) != NULL &&
            EVP_DigestSign(ctx, sig, &n, in->data, in->len) == 1;
  if (ok) {
    tdsc__buf_put_u8(out, '.');
    b64url(out, sig, n);
  }
  OPENSSL_free(sig);
  EVP_MD_CTX_free(ctx);
  ERR_clear_error();
  return ok;
}

tdsc_errc tdsc__client_assertion(const char *pem, const char *from,
                                 const char *passphrase,
                                 const char *client_id, const char *aud,
                                 char **out, tdsc__cert_facts *facts,
                                 tdsc_error *err) {
  tdsc__buf file, jwt;
  tdsc__buf_init(&file);
  tdsc__buf_init(&jwt);
  X509 *cert = NULL;
  EVP_PKEY *key = NULL;
  *out = NULL;
  memset(facts, 0, sizeof *facts);
  /* the file as messages name it: where its path came from */
  char where[700];
  snprintf(where, sizeof where, "%s (%s)", pem, from);
  tdsc_errc rc = read_pem(pem, where, &file, err);
  if (rc == TDSC_OK)
    rc = read_cert(&file, where, &cert, facts, err);
  if (rc == TDSC_OK)
    rc = read_key(&file, where, passphrase, &key, err);
  if (rc == TDSC_OK && X509_check_private_key(cert, key) != 1)
    rc = tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_KEY_MISMATCH,
                       "the private key in %s is "
                       "not the key of its certificate %s (thumbprint %s)",
                       where, facts->subject, facts->sha1);
  ERR_clear_error();
  if (rc != TDSC_OK)
    goto out;
  tdsc__buf_reserve(&jwt, 8192); /* no realloc's copy of the signature */
  signing_input(&jwt, cert, client_id, aud);
  if (jwt.oom || !sign(key, &jwt, &jwt) || jwt.oom) {
    rc = tdsc__err_set(err, TDSC_E_ENTRA_CLIENT_CERT_NO_KEY,
                       "the private key in %s "
                       "could not sign the client assertion (PS256)",
                       where);
    goto out;
  }
  char *s = tdsc__buf_cstr(&jwt);
  if (!s || !(*out = tdsc__strdup(s)))
    rc = tdsc__err_oom(err);
out:
  EVP_PKEY_free(key); /* OpenSSL clears the key's numbers */
  X509_free(cert);
  tdsc__buf_wipe(&file); /* the key's PEM */
  tdsc__buf_free(&file);
  tdsc__buf_wipe(&jwt);
  tdsc__buf_free(&jwt);
  return rc;
}
