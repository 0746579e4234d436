/* TLS filter over any I/O stack, with Schannel (tls.h): the Windows
 * counterpart of tls_openssl.c, with the same codes for the same failures.
 * The handshake runs InitializeSecurityContextW over the filter below
 * (prelogin_wrap.c for TDS 7.x, the transport itself for TDS 8.0 strict
 * with ALPN "tds/8.0"); records are sealed with EncryptMessage and opened
 * with DecryptMessage, buffered here, so a lower-layer error (timeout,
 * reset, cancel) keeps its own code and a cancelled read loses nothing.
 *
 * Verification is ours, not Schannel's (SCH_CRED_MANUAL_CRED_VALIDATION),
 * so that CAFile= can be the only trusted root, as it is with OpenSSL: its
 * PEM certificates go to a memory store given to CertGetCertificateChain as
 * an additional store, and the chain passes only when its root is one of
 * them.  The verdict reads the chain's CERT_TRUST_* bits itself (Wine's SSL
 * policy passes a chain whose issuer was never found), matches the host
 * name as OpenSSL's X509_check_host / X509_check_ip do (the SSL policy's
 * handling of IP addresses differs between Windows versions and Wine), and
 * leaves the rest to CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL).
 * Precedence as OpenSSL reports: trust, then the name, then validity.
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

#include "tls/tls.h" /* first: winsock2.h before windows.h */
#include "tls/tls_diag.h"

#include "buf.h"
#include "clock.h"
#include "sec_win32.h"

/* Order matters: windows.h, then UNICODE_STRING, then what uses it. */
#define SECURITY_WIN32
#define SCHANNEL_USE_BLACKLISTS /* SCH_CREDENTIALS, TLS_PARAMETERS */
#include <windows.h>

#include <subauth.h> /* UNICODE_STRING, which SCH_CREDENTIALS uses */

#include <schannel.h>
#include <security.h>
#include <wincrypt.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define WHERE_LEN 320
#define TOKEN_BUF 65536 /* an ISC output token: a flight of the client's */
#define IN_CHUNK 16384  /* what one read from below asks for */

/* SSL_EXTRA_CERT_CHAIN_POLICY_PARA's fdwChecks take wininet's flags. */
#ifndef SECURITY_FLAG_IGNORE_UNKNOWN_CA
#define SECURITY_FLAG_IGNORE_UNKNOWN_CA 0x00000100
#endif
#ifndef SECURITY_FLAG_IGNORE_CERT_CN_INVALID
#define SECURITY_FLAG_IGNORE_CERT_CN_INVALID 0x00001000
#endif
#ifndef SP_PROT_TLS1_3_CLIENT
#define SP_PROT_TLS1_3_CLIENT 0x00002000
#endif

typedef struct tls_io {
  tdsc__io base; /* base.next: the transport below (old *top) */
  CredHandle cred;
  CtxtHandle ctx;
  bool have_cred, have_ctx;
  tdsc__io *below; /* the wrap during a 7.x handshake, then base.next */
  bool strict;
  bool first_read; /* handshake: no byte from the server yet */
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

/* ---------------------------------------------------------------- helpers */

static bool is_ip_literal(const char *s) {
  struct in_addr a4;
  struct in6_addr a6;
  return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

static void set_where(tls_io *t, const tdsc__tls_opts *o) {
  const char *host = o->host && *o->host ? o->host : NULL;
  const char *peer = o->peer && *o->peer ? o->peer : NULL;
  if (host && peer && strncmp(peer, host, strlen(host)) != 0 &&
      !(peer[0] == '[' && strncmp(peer + 1, host, strlen(host)) == 0))
    snprintf(t->where, sizeof t->where, "%s at %s", host, peer);
  else
    snprintf(t->where, sizeof t->where, "%s",
             peer   ? peer
             : host ? host
                    : "the server");
}

static void set_provider(tdsc_error *err, long st, long long trust) {
  char text[400];
  tdsc__sec_status_text(st, text, sizeof text);
  tdsc__err_provider(err, TDSC_PROVIDER_SSPI, (long long)st, trust, 0, text);
}

/* ----------------------------------------------------- certificate text */

/* RFC 2253 order ("CN=localhost, O=tdsclient tests"). */
static void name_text(const CERT_NAME_BLOB *n, char *out, size_t cap) {
  snprintf(out, cap, "?");
  DWORD len = CertNameToStrA(X509_ASN_ENCODING, (CERT_NAME_BLOB *)n,
                             CERT_X500_NAME_STR | CERT_NAME_STR_REVERSE_FLAG,
                             out, (DWORD)cap);
  if (len <= 1)
    snprintf(out, cap, "?");
}

static void time_text(const FILETIME *ft, char *out, size_t cap) {
  SYSTEMTIME st;
  snprintf(out, cap, "?");
  if (FileTimeToSystemTime(ft, &st))
    snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u UTC", st.wYear, st.wMonth,
             st.wDay, st.wHour, st.wMinute, st.wSecond);
}

/* "DNS:localhost, IP:127.0.0.1": the names a certificate holds. */
static void san_text(PCCERT_CONTEXT c, char *out, size_t cap) {
  snprintf(out, cap, "no subjectAltName");
  PCERT_EXTENSION ext =
      CertFindExtension(szOID_SUBJECT_ALT_NAME2, c->pCertInfo->cExtension,
                        c->pCertInfo->rgExtension);
  if (!ext)
    return;
  CERT_ALT_NAME_INFO *info = NULL;
  DWORD size = 0;
  if (!CryptDecodeObjectEx(X509_ASN_ENCODING, X509_ALTERNATE_NAME,
                           ext->Value.pbData, ext->Value.cbData,
                           CRYPT_DECODE_ALLOC_FLAG, NULL, &info, &size))
    return;
  size_t used = 0;
  out[0] = '\0';
  for (DWORD i = 0; i < info->cAltEntry && used + 1 < cap; i++) {
    const CERT_ALT_NAME_ENTRY *e = &info->rgAltEntry[i];
    char item[INET6_ADDRSTRLEN + 80] = "";
    if (e->dwAltNameChoice == CERT_ALT_NAME_DNS_NAME) {
      snprintf(item, sizeof item, "DNS:%.64ls", e->pwszDNSName);
    } else if (e->dwAltNameChoice == CERT_ALT_NAME_IP_ADDRESS) {
      char ip[INET6_ADDRSTRLEN] = "?";
      if (e->IPAddress.cbData == 4)
        inet_ntop(AF_INET, e->IPAddress.pbData, ip, sizeof ip);
      else if (e->IPAddress.cbData == 16)
        inet_ntop(AF_INET6, e->IPAddress.pbData, ip, sizeof ip);
      snprintf(item, sizeof item, "IP:%s", ip);
    } else {
      continue;
    }
    int n = snprintf(out + used, cap - used, "%s%s", used ? ", " : "", item);
    if (n < 0 || (size_t)n >= cap - used)
      break;
    used += (size_t)n;
  }
  LocalFree(info);
}

/* ------------------------------------------------------------ CAFile= */

/* Loads every "-----BEGIN CERTIFICATE-----" block of a PEM file into a new
 * memory store.  NULL (err set) when the file cannot be read or holds no
 * certificate. */
static HCERTSTORE load_cafile(const char *path, tdsc_error *err) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  DWORD werr = tdsc__read_file_win32(path, &b);
  if (werr && werr != ERROR_NOT_ENOUGH_MEMORY) {
    tdsc__buf_free(&b);
    tdsc__err_errno(err, TDSC_E_BAD_OPTION_VALUE, (int)werr,
                    "cannot load the CA certificates of CAFile=%s", path);
    return NULL;
  }
  char *text = tdsc__buf_cstr(&b);
  HCERTSTORE store = text ? CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0,
                                          CERT_STORE_CREATE_NEW_FLAG, NULL)
                          : NULL;
  if (!store) {
    tdsc__buf_free(&b);
    tdsc__err_oom(err);
    return NULL;
  }
  static const char begin[] = "-----BEGIN CERTIFICATE-----";
  static const char end[] = "-----END CERTIFICATE-----";
  unsigned count = 0, bad = 0;
  for (char *p = strstr(text, begin); p; p = strstr(p, begin)) {
    char *e = strstr(p, end);
    if (!e)
      break;
    e += sizeof end - 1;
    DWORD derlen = 0;
    if (CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER, NULL,
                             &derlen, NULL, NULL)) {
      BYTE *der = malloc(derlen);
      if (der &&
          CryptStringToBinaryA(p, (DWORD)(e - p), CRYPT_STRING_BASE64HEADER,
                               der, &derlen, NULL, NULL) &&
          CertAddEncodedCertificateToStore(store, X509_ASN_ENCODING, der,
                                           derlen, CERT_STORE_ADD_ALWAYS, NULL))
        count++;
      else
        bad++;
      free(der);
    } else {
      bad++;
    }
    p = e;
  }
  tdsc__buf_free(&b);
  if (count == 0) {
    CertCloseStore(store, 0);
    tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                  "cannot load the CA certificates of CAFile=%s: %s", path,
                  bad ? "no certificate in it could be decoded"
                      : "it holds no PEM certificate");
    return NULL;
  }
  return store;
}

/* ------------------------------------------------------- verification */

/* The numbers of the diagnosis table (tls_diag.h) are the SDK's. */
#define CHECK_ROW(name, v, c, what)                                            \
  _Static_assert((unsigned long)(name) == v##UL, #name " in tls_diag.h");
TDSC__TLS_SSPI_ROWS(CHECK_ROW)
#undef CHECK_ROW

static tdsc_errc policy_errc(HRESULT h) {
  const tdsc__tls_diag_row *row =
      tdsc__tls_diag_find(TDSC__TLS_DIAG_SSPI, (long)h);
  /* a chain verdict the table does not know still fails the certificate */
  return row->value == -1 ? TDSC_E_TLS_CERT_REJECTED : row->code;
}

/* The certificate error h (for chain, may be NULL) into err, with
 * tls_openssl.c's messages. */
static tdsc_errc cert_error(tls_io *t, const tdsc__tls_opts *o, HRESULT h,
                            PCCERT_CHAIN_CONTEXT chain, tdsc_error *err) {
  tdsc_errc code = policy_errc(h);
  char subj[256] = "?", iss[256] = "?", cert[600], text[400];
  PCCERT_CONTEXT leaf = t->peer;
  if (leaf) {
    name_text(&leaf->pCertInfo->Subject, subj, sizeof subj);
    name_text(&leaf->pCertInfo->Issuer, iss, sizeof iss);
  }
  snprintf(cert, sizeof cert, "the certificate of %s (subject %s, issuer %s)",
           t->where, subj, iss);
  tdsc__sec_status_text(h, text, sizeof text);
  const char *checked = o->cert_host ? o->cert_host : o->host;
  switch (code) {
  case TDSC_E_TLS_CERT_EXPIRED: {
    /* the first certificate of the chain out of its validity period */
    PCCERT_CONTEXT bad = leaf;
    if (chain && chain->cChain > 0)
      for (DWORD i = 0; i < chain->rgpChain[0]->cElement; i++) {
        const CERT_CHAIN_ELEMENT *el = chain->rgpChain[0]->rgpElement[i];
        if (el->TrustStatus.dwErrorStatus & CERT_TRUST_IS_NOT_TIME_VALID) {
          bad = el->pCertContext;
          break;
        }
      }
    FILETIME now;
    GetSystemTimeAsFileTime(&now);
    bool early = bad && CompareFileTime(&now, &bad->pCertInfo->NotBefore) < 0;
    char when[64] = "?", bsubj[256] = "?";
    if (bad)
      time_text(early ? &bad->pCertInfo->NotBefore : &bad->pCertInfo->NotAfter,
                when, sizeof when);
    if (bad && leaf &&
        !CertCompareCertificate(X509_ASN_ENCODING, bad->pCertInfo,
                                leaf->pCertInfo)) {
      name_text(&bad->pCertInfo->Subject, bsubj, sizeof bsubj);
      tdsc__err_set(err, code, "%s: the issuing certificate %s %s %s", cert,
                    bsubj, early ? "is not valid before" : "expired on", when);
    } else {
      tdsc__err_set(err, code, "%s %s %s", cert,
                    early ? "is not valid before" : "expired on", when);
    }
    break;
  }
  case TDSC_E_TLS_CERT_NAME_MISMATCH: {
    char names[512] = "?";
    if (leaf)
      san_text(leaf, names, sizeof names);
    tdsc__err_set(err, code,
                  "%s does not match the name checked, %s%s (it names %s)",
                  cert, checked ? checked : "?",
                  o->cert_host ? " (HostNameInCertificate)" : "", names);
    break;
  }
  case TDSC_E_TLS_CERT_UNTRUSTED:
    tdsc__err_set(err, code, "%s is not trusted: %s (trust store: %s%s)", cert,
                  text, o->cafile ? "CAFile=" : "the system CA store",
                  o->cafile ? o->cafile : "");
    break;
  default:
    tdsc__err_set(err, code, "%s was rejected: %s", cert, text);
    break;
  }
  set_provider(err, h, chain ? (long long)chain->TrustStatus.dwErrorStatus : 0);
  return code;
}

/* Whether the root of the chain is one of store's certificates. */
static bool root_in(PCCERT_CHAIN_CONTEXT chain, HCERTSTORE store) {
  if (!chain || chain->cChain == 0 || chain->rgpChain[0]->cElement == 0)
    return false;
  const CERT_SIMPLE_CHAIN *sc = chain->rgpChain[0];
  PCCERT_CONTEXT root = sc->rgpElement[sc->cElement - 1]->pCertContext;
  PCCERT_CONTEXT found = CertFindCertificateInStore(
      store, X509_ASN_ENCODING, 0, CERT_FIND_EXISTING, root, NULL);
  if (!found)
    return false;
  CertFreeCertificateContext(found);
  return true;
}

static WCHAR lower(WCHAR c) {
  return c >= L'A' && c <= L'Z' ? (WCHAR)(c + 32) : c;
}

static bool same_name(const WCHAR *a, size_t alen, const WCHAR *b,
                      size_t blen) {
  if (alen != blen)
    return false;
  for (size_t i = 0; i < alen; i++)
    if (lower(a[i]) != lower(b[i]))
      return false;
  return true;
}

/* RFC 6125 6.4 as OpenSSL's X509_check_host with
 * X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: a '*' only as the whole leftmost
 * label, with at least two labels after it, standing for one label. */
static bool dns_match(const WCHAR *pattern, const WCHAR *host) {
  size_t plen = wcslen(pattern), hlen = wcslen(host);
  if (plen > 2 && pattern[0] == L'*' && pattern[1] == L'.') {
    const WCHAR *prest = pattern + 1; /* ".example.com" */
    const WCHAR *dot = wcschr(prest + 1, L'.');
    if (!dot || dot[1] == L'\0')
      return false; /* "*.com": too wide */
    const WCHAR *hdot = wcschr(host, L'.');
    if (!hdot || hdot == host)
      return false;
    return same_name(prest, wcslen(prest), hdot, wcslen(hdot));
  }
  return same_name(pattern, plen, host, hlen);
}

/* Whether c names host: an IP literal against the iPAddress entries of
 * subjectAltName, a DNS name against its dNSName entries, or, when it has
 * none, the subject's CN (OpenSSL's rules: the same verdict whatever the
 * Windows version's SSL policy does with IP addresses). */
static bool name_matches(PCCERT_CONTEXT c, const char *host) {
  uint8_t ip[16];
  size_t iplen = 0;
  if (inet_pton(AF_INET, host, ip) == 1)
    iplen = 4;
  else if (inet_pton(AF_INET6, host, ip) == 1)
    iplen = 16;
  WCHAR *whost = iplen ? NULL : tdsc__utf8_to_wide(host);
  if (!iplen && !whost)
    return false;
  bool match = false, any_dns = false;
  PCERT_EXTENSION ext =
      CertFindExtension(szOID_SUBJECT_ALT_NAME2, c->pCertInfo->cExtension,
                        c->pCertInfo->rgExtension);
  CERT_ALT_NAME_INFO *info = NULL;
  DWORD size = 0;
  if (ext && CryptDecodeObjectEx(X509_ASN_ENCODING, X509_ALTERNATE_NAME,
                                 ext->Value.pbData, ext->Value.cbData,
                                 CRYPT_DECODE_ALLOC_FLAG, NULL, &info, &size)) {
    for (DWORD i = 0; i < info->cAltEntry && !match; i++) {
      const CERT_ALT_NAME_ENTRY *e = &info->rgAltEntry[i];
      if (iplen && e->dwAltNameChoice == CERT_ALT_NAME_IP_ADDRESS)
        match = e->IPAddress.cbData == iplen &&
                memcmp(e->IPAddress.pbData, ip, iplen) == 0;
      else if (!iplen && e->dwAltNameChoice == CERT_ALT_NAME_DNS_NAME) {
        any_dns = true;
        match = dns_match(e->pwszDNSName, whost);
      }
    }
    LocalFree(info);
  }
  if (!iplen && !any_dns && !match) {
    WCHAR cn[256];
    if (CertGetNameStringW(c, CERT_NAME_ATTR_TYPE, 0, szOID_COMMON_NAME, cn,
                           256) > 1)
      match = dns_match(cn, whost);
  }
  free(whost);
  return match;
}

/* The verdict on a built chain, in OpenSSL's order: trust, then the name,
 * then validity periods and the rest; 0 when it passes.  The chain's own
 * trust bits are read here, not only through the SSL policy: Wine's
 * policy passes a chain whose issuer was never found. */
static HRESULT chain_verdict(PCCERT_CHAIN_CONTEXT chain, bool ca_ok,
                             PCCERT_CONTEXT leaf, const char *check) {
  DWORD e = chain->TrustStatus.dwErrorStatus;
  if (e & (CERT_TRUST_IS_PARTIAL_CHAIN | CERT_TRUST_IS_CYCLIC))
    return CERT_E_CHAINING;
  if ((e & CERT_TRUST_IS_UNTRUSTED_ROOT) && !ca_ok)
    return CERT_E_UNTRUSTEDROOT;
  if (e & CERT_TRUST_IS_NOT_SIGNATURE_VALID)
    return TRUST_E_CERT_SIGNATURE;
  if (check && *check && !name_matches(leaf, check))
    return CERT_E_CN_NO_MATCH;
  if (e & CERT_TRUST_IS_NOT_TIME_VALID)
    return CERT_E_EXPIRED;
  if (e & CERT_TRUST_IS_REVOKED)
    return CRYPT_E_REVOKED;
  if (e & CERT_TRUST_IS_NOT_VALID_FOR_USAGE)
    return CERT_E_WRONG_USAGE;
  if (e & CERT_TRUST_INVALID_BASIC_CONSTRAINTS)
    return TRUST_E_BASIC_CONSTRAINTS;
  return 0;
}

/* Verifies t->peer for o: TDSC_OK, a TLS_CERT_* code, or a setup error
 * (BAD_OPTION_VALUE for a CAFile= that cannot be loaded). */
static tdsc_errc verify_peer(tls_io *t, const tdsc__tls_opts *o,
                             tdsc_error *err) {
  const char *check = o->cert_host ? o->cert_host : o->host;
  HCERTSTORE castore = NULL, extra = NULL;
  PCCERT_CHAIN_CONTEXT chain = NULL;
  tdsc_errc rc = TDSC_OK;
  if (!t->peer) {
    rc = tdsc__err_set(err, TDSC_E_TLS_CERT_REJECTED, "%s sent no certificate",
                       t->where);
    goto out;
  }
  if (o->cafile && !(castore = load_cafile(o->cafile, err))) {
    rc = err ? err->code : TDSC_E_BAD_OPTION_VALUE;
    goto out;
  }
  /* What the chain may be built from besides the system stores: the
   * intermediates the server sent, and CAFile='s certificates. */
  extra = CertOpenStore(CERT_STORE_PROV_COLLECTION, 0, 0, 0, NULL);
  if (!extra) {
    rc = tdsc__err_oom(err);
    goto out;
  }
  if (t->peer->hCertStore)
    CertAddStoreToCollection(extra, t->peer->hCertStore, 0, 0);
  if (castore)
    CertAddStoreToCollection(extra, castore, 0, 0);
  CERT_CHAIN_PARA cp;
  memset(&cp, 0, sizeof cp);
  cp.cbSize = sizeof cp;
  static LPSTR server_auth[] = {szOID_PKIX_KP_SERVER_AUTH};
  cp.RequestedUsage.dwType = USAGE_MATCH_TYPE_OR;
  cp.RequestedUsage.Usage.cUsageIdentifier = 1;
  cp.RequestedUsage.Usage.rgpszUsageIdentifier = server_auth;
  if (!CertGetCertificateChain(NULL, t->peer, NULL, extra, &cp, 0, NULL,
                               &chain)) {
    DWORD e = GetLastError();
    tdsc__err_set(err, TDSC_E_TLS_CERT_REJECTED,
                  "cannot build the certificate chain of %s (error %lu)",
                  t->where, (unsigned long)e);
    set_provider(err, (long)HRESULT_FROM_WIN32(e), 0);
    rc = TDSC_E_TLS_CERT_REJECTED;
    goto out;
  }
  /* With CAFile= its roots are the only trusted ones (as OpenSSL's
   * CAFile): a chain to one of them is trusted even if the system does
   * not know it, a chain to anything else is not, whatever the system
   * says. */
  bool ca_ok = castore && root_in(chain, castore);
  HRESULT h;
  if (castore && !ca_ok)
    h = chain->TrustStatus.dwErrorStatus & CERT_TRUST_IS_PARTIAL_CHAIN
            ? CERT_E_CHAINING
            : CERT_E_UNTRUSTEDROOT;
  else
    h = chain_verdict(chain, ca_ok, t->peer, check);
  if (h == 0) {
    /* Anything else the SSL policy objects to (weak keys, ...); the name
     * and the trust anchor were judged above. */
    SSL_EXTRA_CERT_CHAIN_POLICY_PARA ssl;
    memset(&ssl, 0, sizeof ssl);
    ssl.cbSize = sizeof ssl;
    ssl.dwAuthType = AUTHTYPE_SERVER;
    ssl.fdwChecks = SECURITY_FLAG_IGNORE_CERT_CN_INVALID |
                    (ca_ok ? SECURITY_FLAG_IGNORE_UNKNOWN_CA : 0);
    CERT_CHAIN_POLICY_PARA pp;
    memset(&pp, 0, sizeof pp);
    pp.cbSize = sizeof pp;
    pp.pvExtraPolicyPara = &ssl;
    CERT_CHAIN_POLICY_STATUS ps;
    memset(&ps, 0, sizeof ps);
    ps.cbSize = sizeof ps;
    if (!CertVerifyCertificateChainPolicy(CERT_CHAIN_POLICY_SSL, chain, &pp,
                                          &ps))
      h = HRESULT_FROM_WIN32(GetLastError());
    else
      h = (HRESULT)ps.dwError;
  }
  if (h != 0) {
    t->verify_status = h;
    rc = cert_error(t, o, h, chain, err);
  }
out:
  if (chain)
    CertFreeCertificateChain(chain);
  if (extra)
    CertCloseStore(extra, 0);
  if (castore)
    CertCloseStore(castore, 0);
  return rc;
}

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

/* Reads 1..IN_CHUNK bytes from below into t->in.  The first bytes of a
 * handshake are checked to be TLS (tls_openssl.c's bio_read_ex). */
static tdsc_errc fill(tls_io *t, int64_t deadline, tdsc_error *err) {
  if (!in_reserve(t, IN_CHUNK))
    return tdsc__err_oom(err);
  size_t got = 0;
  tdsc_errc rc = t->below->ops->read(t->below, t->in + t->inlen, IN_CHUNK, &got,
                                     deadline, err);
  if (rc != TDSC_OK) {
    /* A pre-2022 server reading 0x16 where it expects a TDS packet header
     * hangs up: that is the server not speaking TDS 8.0. */
    if (t->first_read && t->strict &&
        (rc == TDSC_E_CONN_CLOSED || rc == TDSC_E_CONN_RESET))
      return tdsc__err_set(err, TDSC_E_TLS_STRICT_UNSUPPORTED,
                           "%s closed the connection instead of answering "
                           "the TDS 8.0 (Encrypt=strict) TLS handshake",
                           t->where);
    return rc;
  }
  if (t->first_read && got > 0) {
    t->first_read = false;
    uint8_t b0 = t->in[t->inlen];
    /* A TLS record starts with its content type, 20..23. */
    if (b0 < 0x14 || b0 > 0x17) {
      if (t->strict)
        return tdsc__err_set(err, TDSC_E_TLS_STRICT_UNSUPPORTED,
                             "%s answered the TDS 8.0 (Encrypt=strict) TLS "
                             "handshake with a non-TLS message (first byte "
                             "0x%02x%s)",
                             t->where, (unsigned)b0,
                             b0 == 0x04 ? ", a TDS packet" : "");
      return tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                           "%s answered the TLS handshake (in PRELOGIN "
                           "packets) with data that is not TLS (first byte "
                           "0x%02x)",
                           t->where, (unsigned)b0);
    }
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
  set_provider(err, st, 0);
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

/* Best effort: a fatal alert Schannel produced for the server. */
static void send_token(tls_io *t, const SecBuffer *b, int64_t deadline) {
  if (b->cbBuffer > 0 && b->pvBuffer) {
    tdsc_error ignored = {0};
    t->below->ops->write(t->below, b->pvBuffer, b->cbBuffer, deadline,
                         &ignored);
    tdsc__err_clear(&ignored);
  }
}

/* The InitializeSecurityContextW loop until SEC_E_OK.  alpn: the
 * SEC_APPLICATION_PROTOCOLS block for the first call, or NULL. */
static tdsc_errc handshake(tls_io *t, const WCHAR *target, void *alpn,
                           ULONG alpnlen, int64_t deadline, tdsc_error *err) {
  uint8_t *tok = malloc(TOKEN_BUF);
  if (!tok)
    return tdsc__err_oom(err);
  tdsc_errc rc = TDSC_OK;
  bool first = !t->have_ctx;
  for (;;) {
    SecBuffer ib[2], ob[1];
    SecBufferDesc id = {SECBUFFER_VERSION, 2, ib},
                  od = {SECBUFFER_VERSION, 1, ob};
    if (first) {
      ib[0].BufferType = SECBUFFER_APPLICATION_PROTOCOLS;
      ib[0].cbBuffer = alpnlen;
      ib[0].pvBuffer = alpn;
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
    ob[0].pvBuffer = tok;
    ULONG attrs = 0;
    TimeStamp exp;
    SECURITY_STATUS st = InitializeSecurityContextW(
        &t->cred, t->have_ctx ? &t->ctx : NULL, (WCHAR *)target, ISC_FLAGS, 0,
        0, (first && !alpn) ? NULL : &id, 0, &t->ctx, &od, &attrs, &exp);
    if (first &&
        (st == SEC_E_OK || st == SEC_I_CONTINUE_NEEDED ||
         st == SEC_E_INCOMPLETE_MESSAGE || st == SEC_I_INCOMPLETE_CREDENTIALS))
      t->have_ctx = true;
    if (st == SEC_E_INCOMPLETE_MESSAGE && !first) {
      if ((rc = fill(t, deadline, err)))
        break;
      continue;
    }
    if (st == SEC_I_INCOMPLETE_CREDENTIALS) {
      /* The server asks for a client certificate: we have none, and say so
       * by calling again (Schannel then answers without one). */
      first = false;
      continue;
    }
    if (st != SEC_E_OK && st != SEC_I_CONTINUE_NEEDED) {
      if (ob[0].cbBuffer > 0 && ob[0].cbBuffer <= TOKEN_BUF)
        send_token(t, &ob[0], deadline);
      /* The server's alert may have been the answer: a lower error that
       * came first is not it; Schannel's is the verdict. */
      rc = handshake_error(t, st, err);
      break;
    }
    if (ob[0].cbBuffer > 0) {
      if ((rc = t->below->ops->write(t->below, tok, ob[0].cbBuffer, deadline,
                                     err)))
        break;
    }
    if (!first)
      keep_extra(t, ib, 2);
    first = false;
    if (st == SEC_E_OK)
      break;
    if (t->inlen == 0 && (rc = fill(t, deadline, err)))
      break;
  }
  free(tok);
  return rc;
}

/* ---------------------------------------------------------------- filter */

/* SEC_I_RENEGOTIATE: post-handshake messages (a TLS 1.3 NewSessionTicket
 * or KeyUpdate) go back through InitializeSecurityContextW. */
static tdsc_errc renegotiate(tls_io *t, int64_t deadline, tdsc_error *err) {
  tdsc_errc rc = handshake(t, NULL, NULL, 0, deadline, err);
  if (rc)
    tdsc__err_context(err, "TLS post-handshake message from %s", t->where);
  return rc;
}

static tdsc_errc tls_read(tdsc__io *io, void *buf, size_t len, size_t *got,
                          int64_t deadline, tdsc_error *err) {
  tls_io *t = (tls_io *)io;
  *got = 0;
  if (len == 0)
    return TDSC_OK;
  while (t->plainlen == 0) {
    if (t->inlen == 0) {
      tdsc_errc rc = fill(t, deadline, err);
      if (rc)
        return rc; /* CANCELLED included: nothing consumed */
    }
    SecBuffer b[4] = {{(ULONG)t->inlen, SECBUFFER_DATA, t->in},
                      {0, SECBUFFER_EMPTY, NULL},
                      {0, SECBUFFER_EMPTY, NULL},
                      {0, SECBUFFER_EMPTY, NULL}};
    SecBufferDesc d = {SECBUFFER_VERSION, 4, b};
    SECURITY_STATUS st = DecryptMessage(&t->ctx, &d, 0, NULL);
    if (st == SEC_E_INCOMPLETE_MESSAGE) {
      tdsc_errc rc = fill(t, deadline, err);
      if (rc)
        return rc;
      continue;
    }
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
      set_provider(err, st, 0);
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
    if (st == SEC_I_RENEGOTIATE) {
      tdsc_errc rc = renegotiate(t, deadline, err);
      if (rc)
        return rc;
    }
  }
  size_t n = len < t->plainlen ? len : t->plainlen;
  memcpy(buf, t->plain + t->plainoff, n);
  t->plainoff += n;
  t->plainlen -= n;
  *got = n;
  return TDSC_OK;
}

static tdsc_errc tls_write(tdsc__io *io, const void *buf, size_t len,
                           int64_t deadline, tdsc_error *err) {
  tls_io *t = (tls_io *)io;
  const uint8_t *p = buf;
  size_t room = t->sizes.cbMaximumMessage;
  size_t cap = t->sizes.cbHeader + room + t->sizes.cbTrailer;
  uint8_t *rec = malloc(cap);
  if (!rec)
    return tdsc__err_oom(err);
  tdsc_errc rc = TDSC_OK;
  while (len > 0) {
    size_t n = len < room ? len : room;
    memcpy(rec + t->sizes.cbHeader, p, n);
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
      rc = tdsc__err_set(err, TDSC_E_PROTOCOL, "TLS error writing to %s: %s",
                         t->where, text);
      set_provider(err, st, 0);
      break;
    }
    size_t total = (size_t)b[0].cbBuffer + b[1].cbBuffer + b[2].cbBuffer;
    if ((rc =
             t->base.next->ops->write(t->base.next, rec, total, deadline, err)))
      break;
    p += n;
    len -= n;
  }
  SecureZeroMemory(rec, cap);
  free(rec);
  return rc;
}

static void tls_free(tls_io *t) {
  /* no close_notify: callers drop TLS (login-only) or close the transport */
  if (t->have_ctx)
    DeleteSecurityContext(&t->ctx);
  if (t->have_cred)
    FreeCredentialsHandle(&t->cred);
  if (t->peer)
    CertFreeCertificateContext(t->peer);
  if (t->plain)
    SecureZeroMemory(t->plain, t->plaincap);
  free(t->plain);
  free(t->in);
  tdsc__err_clear(&t->verdict);
  free(t);
}

static void tls_destroy(tdsc__io *io) { tls_free((tls_io *)io); }

/* No non-blocking form yet: tdsc__io_read_some tries tls_read once with a
 * deadline already past (a record read in part stays in t->in). */
static const tdsc__io_ops tls_ops = {.name = "tls",
                                     .read = tls_read,
                                     .write = tls_write,
                                     .destroy = tls_destroy};

/* ---------------------------------------------------------------- start */

tdsc_errc tdsc__tls_start(tdsc__io **top, const tdsc__tls_opts *opts,
                          int64_t deadline, tdsc_error *err) {
  tdsc__io *wrap = NULL;
  WCHAR *target = NULL;
  tdsc_errc rc = TDSC_OK;
  tls_io *t = calloc(1, sizeof *t);
  if (!t)
    return tdsc__err_oom(err);
  set_where(t, opts);
  t->base.ops = &tls_ops;
  t->base.next = *top;
  t->strict = opts->strict;
  t->first_read = true;

  const char *check = opts->cert_host ? opts->cert_host : opts->host;
  if (opts->verify && (!check || !*check)) {
    /* a chain check alone would accept any certificate of that CA */
    rc = tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                       "no host name to verify the server's certificate "
                       "against");
    goto fail;
  }
  SECURITY_STATUS st = acquire(t);
  if (st != SEC_E_OK) {
    char text[400];
    tdsc__sec_status_text(st, text, sizeof text);
    rc = tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                       "cannot get Schannel credentials for TLS 1.2 or "
                       "later: %s",
                       text);
    set_provider(err, st, 0);
    goto fail;
  }
  t->have_cred = true;
  /* SNI names a host; RFC 6066 3 forbids IP literals there. */
  if (opts->host && *opts->host && !is_ip_literal(opts->host) &&
      !(target = tdsc__utf8_to_wide(opts->host))) {
    rc = tdsc__err_oom(err);
    goto fail;
  }
  if (opts->strict) {
    t->below = *top;
  } else {
    wrap = tdsc__prelogin_wrap_new(*top);
    if (!wrap) {
      rc = tdsc__err_oom(err);
      goto fail;
    }
    t->below = wrap;
  }
  /* SEC_APPLICATION_PROTOCOLS with one ALPN list: "tds/8.0" */
  struct {
    SEC_APPLICATION_PROTOCOLS hdr;
    unsigned char rest[16];
  } alpn;
  ULONG alpnlen = 0;
  if (opts->strict) {
    static const unsigned char proto[] = "\x07tds/8.0";
    SEC_APPLICATION_PROTOCOL_LIST *l = &alpn.hdr.ProtocolLists[0];
    memset(&alpn, 0, sizeof alpn);
    l->ProtoNegoExt = SecApplicationProtocolNegotiationExt_ALPN;
    l->ProtocolListSize = (unsigned short)(sizeof proto - 1);
    memcpy(l->ProtocolList, proto, sizeof proto - 1);
    alpnlen = (ULONG)(offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists) +
                      offsetof(SEC_APPLICATION_PROTOCOL_LIST, ProtocolList) +
                      sizeof proto - 1);
    alpn.hdr.ProtocolListsSize =
        (unsigned long)(alpnlen -
                        offsetof(SEC_APPLICATION_PROTOCOLS, ProtocolLists));
  }
  if ((rc = handshake(t, target, alpnlen ? &alpn : NULL, alpnlen, deadline,
                      err)))
    goto fail;
  /* After the handshake TLS records go raw over the transport
   * (MS-TDS 3.2.5.2); the wrap filter frees only itself. */
  if (wrap) {
    wrap->ops->destroy(wrap);
    wrap = NULL;
  }
  t->below = *top;
  st = QueryContextAttributesW(&t->ctx, SECPKG_ATTR_STREAM_SIZES, &t->sizes);
  SecPkgContext_ConnectionInfo ci;
  if (st == SEC_E_OK)
    st = QueryContextAttributesW(&t->ctx, SECPKG_ATTR_CONNECTION_INFO, &ci);
  if (st != SEC_E_OK) {
    char text[400];
    tdsc__sec_status_text(st, text, sizeof text);
    rc = tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                       "Schannel does not tell the record sizes of the TLS "
                       "session with %s: %s",
                       t->where, text);
    set_provider(err, st, 0);
    goto fail;
  }
  t->protocol = ci.dwProtocol;
  if (!(ci.dwProtocol & (SP_PROT_TLS1_2_CLIENT | SP_PROT_TLS1_3_CLIENT))) {
    /* only where the credentials could not exclude older versions */
    rc = tdsc__err_set(err, TDSC_E_TLS_PROTOCOL_MISMATCH,
                       "%s negotiated a TLS version older than 1.2 "
                       "(Schannel protocol 0x%lx): this client needs TLS 1.2 "
                       "or later",
                       t->where, (unsigned long)ci.dwProtocol);
    set_provider(err, SEC_E_ALGORITHM_MISMATCH, 0);
    goto fail;
  }
  if (QueryContextAttributesW(&t->ctx, SECPKG_ATTR_REMOTE_CERT_CONTEXT,
                              (void *)&t->peer) != SEC_E_OK)
    t->peer = NULL;
  if (opts->verify) {
    if ((rc = verify_peer(t, opts, err)))
      goto fail;
  } else if (opts->report_only) {
    /* the doctor: the same verdict, kept, never failing the handshake */
    tdsc_errc v = verify_peer(t, opts, &t->verdict);
    if (v == TDSC_E_BAD_OPTION_VALUE) {
      rc = v;
      tdsc__err_move(err, &t->verdict);
      goto fail;
    }
  }
  free(target);
  *top = &t->base;
  return TDSC_OK;

fail:
  if (wrap)
    wrap->ops->destroy(wrap);
  free(target);
  tls_free(t);
  return rc;
}

void tdsc__tls_pop(tdsc__io **top) {
  tdsc__io *io = *top;
  if (!io || io->ops != &tls_ops)
    return;
  *top = io->next;
  io->ops->destroy(io);
}

const char *tdsc__tls_version(const tdsc__io *io) {
  if (!io || io->ops != &tls_ops)
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

static void cert_info(PCCERT_CONTEXT c, tdsc__tls_cert_info *ci) {
  name_text(&c->pCertInfo->Subject, ci->subject, sizeof ci->subject);
  name_text(&c->pCertInfo->Issuer, ci->issuer, sizeof ci->issuer);
  time_text(&c->pCertInfo->NotBefore, ci->not_before, sizeof ci->not_before);
  time_text(&c->pCertInfo->NotAfter, ci->not_after, sizeof ci->not_after);
  san_text(c, ci->sans, sizeof ci->sans);
}

/* As tls_openssl.c's, with Schannel's words: cipher is the suite's name
 * where Windows tells it (SECPKG_ATTR_CIPHER_INFO), else the CALG number;
 * verify_result is the SSL policy's HRESULT (0: passed, or not checked)
 * rather than an X509_V_ERR_* value; certs are the leaf, then the other
 * certificates the server sent, in the order Schannel stores them. */
tdsc_errc tdsc__tls_peer_info(const tdsc__io *io, tdsc__tls_info *out) {
  memset(out, 0, sizeof *out);
  if (!io || io->ops != &tls_ops)
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
    cert_info(t->peer, &out->certs[out->ncerts++]);
    PCCERT_CONTEXT c = NULL;
    while (t->peer->hCertStore && out->ncerts < TDSC__TLS_MAX_CERTS &&
           (c = CertEnumCertificatesInStore(t->peer->hCertStore, c)) != NULL)
      if (!CertCompareCertificate(X509_ASN_ENCODING, c->pCertInfo,
                                  t->peer->pCertInfo))
        cert_info(c, &out->certs[out->ncerts++]);
    if (c)
      CertFreeCertificateContext(c);
  }
  return TDSC_OK;
}

tdsc_errc tdsc__tls_verdict(const tdsc__io *io, const tdsc__tls_opts *opts,
                            tdsc_error *err) {
  (void)opts; /* the verdict was reached at the handshake, with them */
  if (!io || io->ops != &tls_ops)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT, "not a TLS filter");
  const tls_io *t = (const tls_io *)io;
  if (t->verdict.code == TDSC_OK)
    return TDSC_OK;
  if (err && !tdsc__err_copy(err, &t->verdict))
    return tdsc__err_oom(err);
  return t->verdict.code;
}

/* ------------------------------------------------------- resumable */

/* tls.h's resumable shape over the blocking handshake (Schannel has no
 * non-blocking one yet): the whole handshake runs in the first step,
 * bounded by opts->deadline, so the connect state machine drives either
 * backend the same way. */
struct tdsc__tls_hs {
  tdsc__io *top;
  tdsc__tls_opts opts;
};

tdsc_errc tdsc__tls_hs_start(tdsc__io *top, const tdsc__tls_opts *opts,
                             tdsc__tls_hs **out, tdsc_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out)
    return tdsc__err_oom(err);
  (*out)->top = top;
  (*out)->opts = *opts;
  return TDSC_OK;
}

tdsc_errc tdsc__tls_hs_step(tdsc__tls_hs *hs, tdsc__io **top, int *want,
                            tdsc_error *err) {
  tdsc__io *t = hs->top;
  *want = 0;
  tdsc_errc rc = tdsc__tls_start(&t, &hs->opts,
                                 hs->opts.deadline ? hs->opts.deadline
                                                   : TDSC__NO_DEADLINE,
                                 err);
  if (rc == TDSC_OK)
    *top = t;
  return rc;
}

void tdsc__tls_hs_free(tdsc__tls_hs *hs) { free(hs); }
