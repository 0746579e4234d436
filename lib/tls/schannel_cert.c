/* The server's certificate under Schannel (tls_schannel.h).
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
 * Precedence as OpenSSL reports: trust, then the name, then validity. */
#include "config.h"

#include "tls/tls_diag.h"
#include "tls/tls_schannel.h" /* first: winsock2.h before windows.h */

#include "buf.h"
#include "sec_win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* SSL_EXTRA_CERT_CHAIN_POLICY_PARA's fdwChecks take wininet's flags. */
#ifndef SECURITY_FLAG_IGNORE_UNKNOWN_CA
#define SECURITY_FLAG_IGNORE_UNKNOWN_CA 0x00000100
#endif
#ifndef SECURITY_FLAG_IGNORE_CERT_CN_INVALID
#define SECURITY_FLAG_IGNORE_CERT_CN_INVALID 0x00001000
#endif

void tdsc__schannel_provider(tdsc_error *err, long st, long long trust) {
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
  for (DWORD i = 0; i < info->cAltEntry; i++) {
    const CERT_ALT_NAME_ENTRY *e = &info->rgAltEntry[i];
    char item[INET6_ADDRSTRLEN + 80];
    if (e->dwAltNameChoice == CERT_ALT_NAME_DNS_NAME)
      snprintf(item, sizeof item, "DNS:%.64ls", e->pwszDNSName);
    else if (e->dwAltNameChoice == CERT_ALT_NAME_IP_ADDRESS)
      tdsc__tls_ip_text(e->IPAddress.pbData, e->IPAddress.cbData, item,
                        sizeof item);
    else
      continue;
    if (!tdsc__tls_list_add(out, cap, &used, item))
      break;
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
static tdsc_errc cert_error(PCCERT_CONTEXT leaf, const char *where,
                            const tdsc__tls_opts *o, HRESULT h,
                            PCCERT_CHAIN_CONTEXT chain, tdsc_error *err) {
  tdsc_errc code = policy_errc(h);
  char subj[256] = "?", iss[256] = "?", cert[600], text[400];
  if (leaf) {
    name_text(&leaf->pCertInfo->Subject, subj, sizeof subj);
    name_text(&leaf->pCertInfo->Issuer, iss, sizeof iss);
  }
  tdsc__tls_cert_text(cert, sizeof cert, where, subj, iss);
  tdsc__sec_status_text(h, text, sizeof text);
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
    bool issuer = bad && leaf &&
                  !CertCompareCertificate(X509_ASN_ENCODING, bad->pCertInfo,
                                          leaf->pCertInfo);
    if (issuer)
      name_text(&bad->pCertInfo->Subject, bsubj, sizeof bsubj);
    tdsc__tls_cert_time_error(err, code, cert, issuer ? bsubj : NULL, early,
                              when);
    break;
  }
  case TDSC_E_TLS_CERT_NAME_MISMATCH: {
    char names[512] = "?";
    if (leaf)
      san_text(leaf, names, sizeof names);
    tdsc__tls_cert_name_error(err, code, cert, o, names);
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
  tdsc__schannel_provider(
      err, h, chain ? (long long)chain->TrustStatus.dwErrorStatus : 0);
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

/* Verifies peer for o: TDSC_OK, a TLS_CERT_* code, or a setup error
 * (BAD_OPTION_VALUE for a CAFile= that cannot be loaded). */
tdsc_errc tdsc__schannel_verify(PCCERT_CONTEXT peer, const char *where,
                                const tdsc__tls_opts *o, HRESULT *status,
                                tdsc_error *err) {
  const char *check = o->cert_host ? o->cert_host : o->host;
  HCERTSTORE castore = NULL, extra = NULL;
  *status = 0;
  PCCERT_CHAIN_CONTEXT chain = NULL;
  tdsc_errc rc = TDSC_OK;
  if (!peer) {
    rc = tdsc__err_set(err, TDSC_E_TLS_CERT_REJECTED, "%s sent no certificate",
                       where);
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
  if (peer->hCertStore)
    CertAddStoreToCollection(extra, peer->hCertStore, 0, 0);
  if (castore)
    CertAddStoreToCollection(extra, castore, 0, 0);
  CERT_CHAIN_PARA cp;
  memset(&cp, 0, sizeof cp);
  cp.cbSize = sizeof cp;
  static LPSTR server_auth[] = {szOID_PKIX_KP_SERVER_AUTH};
  cp.RequestedUsage.dwType = USAGE_MATCH_TYPE_OR;
  cp.RequestedUsage.Usage.cUsageIdentifier = 1;
  cp.RequestedUsage.Usage.rgpszUsageIdentifier = server_auth;
  if (!CertGetCertificateChain(NULL, peer, NULL, extra, &cp, 0, NULL, &chain)) {
    DWORD e = GetLastError();
    tdsc__err_set(err, TDSC_E_TLS_CERT_REJECTED,
                  "cannot build the certificate chain of %s (error %lu)", where,
                  (unsigned long)e);
    tdsc__schannel_provider(err, (long)HRESULT_FROM_WIN32(e), 0);
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
    h = chain_verdict(chain, ca_ok, peer, check);
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
  *status = h;
  if (h != 0) {
    rc = cert_error(peer, where, o, h, chain, err);
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

void tdsc__schannel_cert_info(PCCERT_CONTEXT c, tdsc__tls_cert_info *ci) {
  name_text(&c->pCertInfo->Subject, ci->subject, sizeof ci->subject);
  name_text(&c->pCertInfo->Issuer, ci->issuer, sizeof ci->issuer);
  time_text(&c->pCertInfo->NotBefore, ci->not_before, sizeof ci->not_before);
  time_text(&c->pCertInfo->NotAfter, ci->not_after, sizeof ci->not_after);
  san_text(c, ci->sans, sizeof ci->sans);
}
