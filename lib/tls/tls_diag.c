/* TLS diagnosis (tls_diag.h): the tables from certificate verdicts and TLS
 * alerts to codes, and the judgment of a version or cipher mismatch from
 * what each side offered.  The numbers are the providers' own (OpenSSL's
 * x509_vfy.h, RFC 8446 6.2 and RFC 5246 7.2 for alerts, winerror.h); the
 * unit test checks the OpenSSL ones against its headers, tls_schannel.c
 * the Windows ones against the SDK's, and walks every row. */
#include "config.h"

#include "tls/tls_diag.h"

#include <stdio.h>
#include <string.h>

#define ROWS(t) (sizeof t / sizeof t[0])

/* Every X509_V_ERR_* of OpenSSL 3.0.  A verdict that falls to
 * TLS_CERT_REJECTED is listed with it on purpose: the certificate is
 * malformed or breaks a rule of its CA's, which only the server's
 * administrator can fix, and the message names the rule; verdicts that
 * say nothing of the certificate (UNSPECIFIED, INVALID_CALL,
 * STORE_LOOKUP, APPLICATION_VERIFICATION) are TLS_HANDSHAKE. */
#define V(n, c, w) {n, "X509_V_ERR_" #c, TDSC_E_##w, NULL}
#define VW(n, c, w, what) {n, "X509_V_ERR_" #c, TDSC_E_##w, what}
static const tdsc__tls_diag_row verify_rows[] = {
    {0, "X509_V_OK", TDSC_OK, "passed verification"},
    V(1, UNSPECIFIED, TLS_HANDSHAKE),
    VW(2, UNABLE_TO_GET_ISSUER_CERT, TLS_CERT_UNTRUSTED,
       "is issued by a CA that is not in the trust store"),
    VW(3, UNABLE_TO_GET_CRL, TLS_REVOCATION_UNKNOWN,
       "could not be checked for revocation: no CRL of its issuer"),
    V(4, UNABLE_TO_DECRYPT_CERT_SIGNATURE, TLS_CERT_REJECTED),
    VW(5, UNABLE_TO_DECRYPT_CRL_SIGNATURE, TLS_REVOCATION_UNKNOWN,
       "could not be checked for revocation: its CRL's signature is "
       "unreadable"),
    V(6, UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, TLS_CERT_REJECTED),
    VW(7, CERT_SIGNATURE_FAILURE, TLS_CERT_REJECTED,
       "has a signature that does not verify (altered, or not issued by "
       "the CA it names)"),
    VW(8, CRL_SIGNATURE_FAILURE, TLS_REVOCATION_UNKNOWN,
       "could not be checked for revocation: its CRL's signature does not "
       "verify"),
    VW(9, CERT_NOT_YET_VALID, TLS_CERT_EXPIRED, "is not valid yet"),
    VW(10, CERT_HAS_EXPIRED, TLS_CERT_EXPIRED, "has expired"),
    VW(11, CRL_NOT_YET_VALID, TLS_REVOCATION_UNKNOWN,
       "could not be checked for revocation: its CRL is not valid yet"),
    VW(12, CRL_HAS_EXPIRED, TLS_REVOCATION_UNKNOWN,
       "could not be checked for revocation: its CRL has expired"),
    V(13, ERROR_IN_CERT_NOT_BEFORE_FIELD, TLS_CERT_REJECTED),
    V(14, ERROR_IN_CERT_NOT_AFTER_FIELD, TLS_CERT_REJECTED),
    V(15, ERROR_IN_CRL_LAST_UPDATE_FIELD, TLS_REVOCATION_UNKNOWN),
    V(16, ERROR_IN_CRL_NEXT_UPDATE_FIELD, TLS_REVOCATION_UNKNOWN),
    V(17, OUT_OF_MEM, NO_MEMORY),
    VW(18, DEPTH_ZERO_SELF_SIGNED_CERT, TLS_CERT_UNTRUSTED,
       "is self-signed and not in the trust store"),
    VW(19, SELF_SIGNED_CERT_IN_CHAIN, TLS_CERT_UNTRUSTED,
       "chains to a self-signed root that is not in the trust store"),
    VW(20, UNABLE_TO_GET_ISSUER_CERT_LOCALLY, TLS_CERT_UNTRUSTED,
       "is issued by a CA that is not in the trust store (or the server "
       "did not send the intermediate certificate)"),
    VW(21, UNABLE_TO_VERIFY_LEAF_SIGNATURE, TLS_CERT_UNTRUSTED,
       "is issued by a CA that is not in the trust store"),
    V(22, CERT_CHAIN_TOO_LONG, TLS_CERT_REJECTED),
    VW(23, CERT_REVOKED, TLS_CERT_REVOKED, "was revoked by its CA"),
    V(24, NO_ISSUER_PUBLIC_KEY, TLS_CERT_REJECTED),
    V(25, PATH_LENGTH_EXCEEDED, TLS_CERT_REJECTED),
    VW(26, INVALID_PURPOSE, TLS_CERT_WRONG_PURPOSE,
       "is not for TLS server authentication (extended key usage)"),
    VW(27, CERT_UNTRUSTED, TLS_CERT_UNTRUSTED,
       "chains to a root not trusted for TLS servers"),
    VW(28, CERT_REJECTED, TLS_CERT_REJECTED,
       "chains to a root the trust store marks as rejected"),
    V(29, SUBJECT_ISSUER_MISMATCH, TLS_CERT_UNTRUSTED),
    V(30, AKID_SKID_MISMATCH, TLS_CERT_UNTRUSTED),
    V(31, AKID_ISSUER_SERIAL_MISMATCH, TLS_CERT_UNTRUSTED),
    VW(32, KEYUSAGE_NO_CERTSIGN, TLS_CERT_REJECTED,
       "has an issuer whose key usage does not allow signing certificates"),
    V(33, UNABLE_TO_GET_CRL_ISSUER, TLS_REVOCATION_UNKNOWN),
    V(34, UNHANDLED_CRITICAL_EXTENSION, TLS_CERT_REJECTED),
    V(35, KEYUSAGE_NO_CRL_SIGN, TLS_REVOCATION_UNKNOWN),
    V(36, UNHANDLED_CRITICAL_CRL_EXTENSION, TLS_REVOCATION_UNKNOWN),
    VW(37, INVALID_NON_CA, TLS_CERT_REJECTED,
       "has an issuer that is not a CA"),
    V(38, PROXY_PATH_LENGTH_EXCEEDED, TLS_CERT_REJECTED),
    VW(39, KEYUSAGE_NO_DIGITAL_SIGNATURE, TLS_CERT_WRONG_PURPOSE,
       "has a key usage without digitalSignature"),
    V(40, PROXY_CERTIFICATES_NOT_ALLOWED, TLS_CERT_REJECTED),
    V(41, INVALID_EXTENSION, TLS_CERT_REJECTED),
    V(42, INVALID_POLICY_EXTENSION, TLS_CERT_REJECTED),
    V(43, NO_EXPLICIT_POLICY, TLS_CERT_REJECTED),
    V(44, DIFFERENT_CRL_SCOPE, TLS_REVOCATION_UNKNOWN),
    V(45, UNSUPPORTED_EXTENSION_FEATURE, TLS_CERT_REJECTED),
    V(46, UNNESTED_RESOURCE, TLS_CERT_REJECTED),
    V(47, PERMITTED_VIOLATION, TLS_CERT_REJECTED),
    V(48, EXCLUDED_VIOLATION, TLS_CERT_REJECTED),
    V(49, SUBTREE_MINMAX, TLS_CERT_REJECTED),
    V(50, APPLICATION_VERIFICATION, TLS_HANDSHAKE),
    V(51, UNSUPPORTED_CONSTRAINT_TYPE, TLS_CERT_REJECTED),
    V(52, UNSUPPORTED_CONSTRAINT_SYNTAX, TLS_CERT_REJECTED),
    V(53, UNSUPPORTED_NAME_SYNTAX, TLS_CERT_REJECTED),
    V(54, CRL_PATH_VALIDATION_ERROR, TLS_REVOCATION_UNKNOWN),
    V(55, PATH_LOOP, TLS_CERT_REJECTED),
    V(56, SUITE_B_INVALID_VERSION, TLS_CERT_REJECTED),
    V(57, SUITE_B_INVALID_ALGORITHM, TLS_CERT_REJECTED),
    V(58, SUITE_B_INVALID_CURVE, TLS_CERT_REJECTED),
    V(59, SUITE_B_INVALID_SIGNATURE_ALGORITHM, TLS_CERT_REJECTED),
    V(60, SUITE_B_LOS_NOT_ALLOWED, TLS_CERT_REJECTED),
    V(61, SUITE_B_CANNOT_SIGN_P_384_WITH_P_256, TLS_CERT_REJECTED),
    VW(62, HOSTNAME_MISMATCH, TLS_CERT_NAME_MISMATCH,
       "does not name the host"),
    V(63, EMAIL_MISMATCH, TLS_CERT_NAME_MISMATCH),
    VW(64, IP_ADDRESS_MISMATCH, TLS_CERT_NAME_MISMATCH,
       "does not name the address"),
    V(65, DANE_NO_MATCH, TLS_CERT_REJECTED),
    VW(66, EE_KEY_TOO_SMALL, TLS_CERT_WEAK,
       "has a key shorter than this client's security level allows"),
    VW(67, CA_KEY_TOO_SMALL, TLS_CERT_WEAK,
       "is issued by a CA whose key is shorter than this client's security "
       "level allows"),
    VW(68, CA_MD_TOO_WEAK, TLS_CERT_WEAK,
       "is signed with a digest (such as SHA-1) weaker than this client's "
       "security level allows"),
    V(69, INVALID_CALL, TLS_HANDSHAKE),
    V(70, STORE_LOOKUP, TLS_HANDSHAKE),
    V(71, NO_VALID_SCTS, TLS_CERT_REJECTED),
    V(72, PROXY_SUBJECT_NAME_VIOLATION, TLS_CERT_REJECTED),
    V(73, OCSP_VERIFY_NEEDED, TLS_REVOCATION_UNKNOWN),
    V(74, OCSP_VERIFY_FAILED, TLS_REVOCATION_UNKNOWN),
    V(75, OCSP_CERT_UNKNOWN, TLS_REVOCATION_UNKNOWN),
    V(76, UNSUPPORTED_SIGNATURE_ALGORITHM, TLS_CERT_REJECTED),
    V(77, SIGNATURE_ALGORITHM_MISMATCH, TLS_CERT_REJECTED),
    V(78, SIGNATURE_ALGORITHM_INCONSISTENCY, TLS_CERT_REJECTED),
    VW(79, INVALID_CA, TLS_CERT_REJECTED,
       "has an issuer that is not a valid CA"),
    V(80, PATHLEN_INVALID_FOR_NON_CA, TLS_CERT_REJECTED),
    V(81, PATHLEN_WITHOUT_KU_KEY_CERT_SIGN, TLS_CERT_REJECTED),
    V(82, KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA, TLS_CERT_REJECTED),
    V(83, ISSUER_NAME_EMPTY, TLS_CERT_REJECTED),
    V(84, SUBJECT_NAME_EMPTY, TLS_CERT_REJECTED),
    V(85, MISSING_AUTHORITY_KEY_IDENTIFIER, TLS_CERT_REJECTED),
    V(86, MISSING_SUBJECT_KEY_IDENTIFIER, TLS_CERT_REJECTED),
    V(87, EMPTY_SUBJECT_ALT_NAME, TLS_CERT_REJECTED),
    V(88, EMPTY_SUBJECT_SAN_NOT_CRITICAL, TLS_CERT_REJECTED),
    V(89, CA_BCONS_NOT_CRITICAL, TLS_CERT_REJECTED),
    V(90, AUTHORITY_KEY_IDENTIFIER_CRITICAL, TLS_CERT_REJECTED),
    V(91, SUBJECT_KEY_IDENTIFIER_CRITICAL, TLS_CERT_REJECTED),
    V(92, CA_CERT_MISSING_KEY_USAGE, TLS_CERT_REJECTED),
    V(93, EXTENSIONS_REQUIRE_VERSION_3, TLS_CERT_REJECTED),
    V(94, EC_KEY_EXPLICIT_PARAMS, TLS_CERT_REJECTED),
};
#undef V
#undef VW

/* Every alert of RFC 8446 6.2 and RFC 5246 7.2, as the server sends it to
 * this client.  Alerts about a certificate (42-46, 48, 116) can only be
 * about the client's, which tdsclient never sends: the server demands
 * one.  handshake_failure and protocol_version are judged again with the
 * facts by tdsc__tls_diag_mismatch. */
#define A(n, name, c, what) {n, #name, TDSC_E_##c, what}
static const tdsc__tls_diag_row alert_rows[] = {
    A(0, close_notify, TLS_HANDSHAKE, "closed TLS during the handshake"),
    A(10, unexpected_message, TLS_HANDSHAKE,
      "received a handshake message out of order"),
    A(20, bad_record_mac, TLS_HANDSHAKE, "could not authenticate a record"),
    A(21, decryption_failed, TLS_HANDSHAKE, "could not decrypt a record"),
    A(22, record_overflow, TLS_HANDSHAKE, "received an oversized record"),
    A(30, decompression_failure, TLS_HANDSHAKE,
      "could not decompress a record"),
    A(40, handshake_failure, TLS_CIPHER_MISMATCH,
      "found no acceptable set of parameters (cipher suite, key exchange "
      "group or signature algorithm)"),
    A(41, no_certificate, TLS_CLIENT_CERT_REQUIRED,
      "wants a client certificate"),
    A(42, bad_certificate, TLS_CLIENT_CERT_REQUIRED,
      "refused the client's certificate"),
    A(43, unsupported_certificate, TLS_CLIENT_CERT_REQUIRED,
      "refused the client's certificate"),
    A(44, certificate_revoked, TLS_CLIENT_CERT_REQUIRED,
      "refused the client's certificate (revoked)"),
    A(45, certificate_expired, TLS_CLIENT_CERT_REQUIRED,
      "refused the client's certificate (expired)"),
    A(46, certificate_unknown, TLS_CLIENT_CERT_REQUIRED,
      "refused the client's certificate"),
    A(47, illegal_parameter, TLS_HANDSHAKE,
      "received a handshake field out of range"),
    A(48, unknown_ca, TLS_CLIENT_CERT_REQUIRED,
      "does not trust the client's certificate"),
    A(49, access_denied, TLS_HANDSHAKE,
      "denied access by its own policy"),
    A(50, decode_error, TLS_HANDSHAKE, "could not decode a message"),
    A(51, decrypt_error, TLS_HANDSHAKE,
      "could not verify a signature or the Finished message"),
    A(60, export_restriction, TLS_HANDSHAKE, "refused an export cipher"),
    A(70, protocol_version, TLS_PROTOCOL_MISMATCH,
      "supports none of the TLS versions offered"),
    A(71, insufficient_security, TLS_CIPHER_MISMATCH,
      "requires stronger cipher suites than those offered"),
    A(80, internal_error, TLS_HANDSHAKE, "failed internally"),
    A(86, inappropriate_fallback, TLS_HANDSHAKE,
      "detected a version downgrade"),
    A(90, user_canceled, TLS_HANDSHAKE, "cancelled the handshake"),
    A(100, no_renegotiation, TLS_HANDSHAKE, "refused to renegotiate"),
    A(109, missing_extension, TLS_HANDSHAKE,
      "missed a required extension"),
    A(110, unsupported_extension, TLS_HANDSHAKE,
      "received an extension it did not offer"),
    A(111, certificate_unobtainable, TLS_HANDSHAKE,
      "could not obtain a certificate"),
    A(112, unrecognized_name, TLS_CERT_NAME_MISMATCH,
      "serves no host by the name sent in SNI"),
    A(113, bad_certificate_status_response, TLS_HANDSHAKE,
      "received a bad certificate status response"),
    A(114, bad_certificate_hash_value, TLS_HANDSHAKE,
      "received a bad certificate hash"),
    A(115, unknown_psk_identity, TLS_HANDSHAKE,
      "does not know the pre-shared key"),
    A(116, certificate_required, TLS_CLIENT_CERT_REQUIRED,
      "requires a client certificate"),
    A(120, no_application_protocol, TLS_STRICT_UNSUPPORTED,
      "supports no offered application protocol (ALPN tds/8.0)"),
};
#undef A

#define S(name, v, c, what) {(long)(v##UL), #name, TDSC_E_##c, what},
static const tdsc__tls_diag_row sspi_rows[] = {TDSC__TLS_SSPI_ROWS(S)};
#undef S

static const tdsc__tls_diag_row fallback[] = {
    {-1, "unknown", TDSC_E_TLS_CERT_REJECTED, NULL},
    {-1, "unknown", TDSC_E_TLS_HANDSHAKE, NULL},
};

const tdsc__tls_diag_row *tdsc__tls_diag_table(tdsc__tls_diag_kind kind,
                                               size_t *n) {
  switch (kind) {
  case TDSC__TLS_DIAG_VERIFY:
    *n = ROWS(verify_rows);
    return verify_rows;
  case TDSC__TLS_DIAG_ALERT:
    *n = ROWS(alert_rows);
    return alert_rows;
  case TDSC__TLS_DIAG_SSPI:
    break;
  }
  *n = ROWS(sspi_rows);
  return sspi_rows;
}

const tdsc__tls_diag_row *tdsc__tls_diag_find(tdsc__tls_diag_kind kind,
                                              long value) {
  size_t n;
  const tdsc__tls_diag_row *t = tdsc__tls_diag_table(kind, &n);
  for (size_t i = 0; i < n; i++)
    if (t[i].value == value)
      return &t[i];
  return kind == TDSC__TLS_DIAG_VERIFY ? &fallback[0] : &fallback[1];
}

const char *tdsc__tls_version_name(int v, char *buf, size_t cap) {
  if (v >= 0x0301 && v <= 0x0304)
    snprintf(buf, cap, "TLS 1.%d", v - 0x0301);
  else if (v == 0x0300)
    snprintf(buf, cap, "SSL 3.0");
  else
    snprintf(buf, cap, "TLS (0x%04x)", (unsigned)v);
  return buf;
}

/* ------------------------------------------------------------- mismatch */

#define TLS12 0x0303

tdsc_errc tdsc__tls_diag_mismatch(const tdsc__tls_facts *f, const char *where,
                                  tdsc_error *err) {
  char lo[24], hi[24], srv[24], offer[160];
  int max = f->client_max ? f->client_max : f->highest;
  tdsc__tls_version_name(f->client_min, lo, sizeof lo);
  tdsc__tls_version_name(max, hi, sizeof hi);
  if (f->client_min == max)
    snprintf(offer, sizeof offer, "%s only", lo);
  else
    snprintf(offer, sizeof offer, "%s to %s", lo, hi);
  const char *conf = f->conf[0] ? f->conf : "the built-in defaults";
  const char *detail = f->detail ? f->detail : "no detail";

  if (f->client_empty) {
    /* Nothing left the client: its own settings are the fault. */
    tdsc__err_set(err, TDSC_E_TLS_CLIENT_CONFIG,
                  "this client has nothing to offer %s: it allows %s (it "
                  "needs TLS 1.2 or later) with %s, as set by %s (%s)",
                  where, f->client_min > max ? "no TLS version" : offer,
                  f->ciphers, conf, detail);
    if (f->client_min > max)
      tdsc__err_hint(err,
                     "This client's maximum TLS version (%s) is below its "
                     "minimum (%s; tdsclient needs TLS 1.2 or later): raise "
                     "MaxProtocol in %s.",
                     hi, lo, conf);
    else
      tdsc__err_hint(err,
                     "No cipher suite of this client's is usable with %s: "
                     "correct CipherString/Ciphersuites in %s.",
                     offer, conf);
    return TDSC_E_TLS_CLIENT_CONFIG;
  }
  if (f->server_version &&
      (f->server_version < f->client_min || f->server_version > max)) {
    /* The server chose a version outside the range offered. */
    tdsc__tls_version_name(f->server_version, srv, sizeof srv);
    bool older = f->server_version < f->client_min;
    tdsc__err_set(err, TDSC_E_TLS_PROTOCOL_MISMATCH,
                  "%s chose %s, and this client allows %s (set by %s): %s",
                  where, srv, offer, conf, detail);
    tdsc__err_hint(err,
                   older ? "Enable TLS 1.2 or later on the server (or "
                           "update it): it chose %s, and this client never "
                           "goes below TLS 1.2."
                         : "The server chose %s, outside this client's "
                           "range: align the versions of both sides.",
                   srv);
    return TDSC_E_TLS_PROTOCOL_MISMATCH;
  }
  if (f->alert_received == 70) { /* protocol_version */
    if (max < f->highest) {
      /* The client held back a version its library has: the server most
       * likely wants it. */
      char next[24];
      tdsc__tls_version_name(max + 1, next, sizeof next);
      tdsc__err_set(err, TDSC_E_TLS_CLIENT_VERSION_TOO_LOW,
                    "%s refused every TLS version this client offered (%s, "
                    "capped by %s) with alert protocol_version: it requires "
                    "a newer one",
                    where, offer, conf);
      tdsc__err_hint(err,
                     "Allow %s on this client (raise MaxProtocol in %s), or "
                     "enable %s on the server.",
                     next, conf, hi);
      return TDSC_E_TLS_CLIENT_VERSION_TOO_LOW;
    }
    tdsc__err_set(err, TDSC_E_TLS_PROTOCOL_MISMATCH,
                  "%s refused every TLS version this client offered (%s, "
                  "the newest this client knows) with alert "
                  "protocol_version: it speaks only older ones",
                  where, offer);
    tdsc__err_hint(err, "Enable %s or later on the server (or update it): "
                        "this client never goes below %s.",
                   lo, f->client_min >= TLS12 ? lo : "TLS 1.2");
    return TDSC_E_TLS_PROTOCOL_MISMATCH;
  }
  if (f->alert_received == 40 || f->alert_received == 71) {
    const char *alert = f->alert_received == 40 ? "handshake_failure"
                                                : "insufficient_security";
    tdsc__err_set(err, TDSC_E_TLS_CIPHER_MISMATCH,
                  "%s refused the handshake with alert %s: it accepts none "
                  "of the cipher suites this client offered with %s (%s; "
                  "set by %s)",
                  where, alert, offer, f->ciphers, conf);
    tdsc__err_hint(err,
                   "Enable on the server a cipher suite this client offers "
                   "(%s), or widen the client's CipherString/Ciphersuites "
                   "in %s.",
                   f->ciphers, conf);
    return TDSC_E_TLS_CIPHER_MISMATCH;
  }
  return TDSC_OK;
}
