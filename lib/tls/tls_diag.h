/* TLS diagnosis (tls_diag.c): the one table from every certificate verdict
 * (OpenSSL's X509_V_ERR_*, Schannel's CERT_E_* / SEC_E_* / TRUST_E_* /
 * CRYPT_E_*) and every TLS alert (RFC 8446 6, RFC 5246 7.2) to a tdsclient
 * code; and the reasoning that turns the facts of a version or cipher
 * mismatch into a message and a hint.  No TLS library here: the backends
 * (tls_openssl.c, tls_schannel.c) gather the facts, this file judges them,
 * so both platforms say the same thing of the same cause. */
#ifndef TDSC_TLS_DIAG_H
#define TDSC_TLS_DIAG_H

#include "error.h"

typedef enum tdsc__tls_diag_kind {
  TDSC__TLS_DIAG_VERIFY, /* OpenSSL's X509_V_ERR_* (0 = X509_V_OK) */
  TDSC__TLS_DIAG_ALERT,  /* a TLS alert's description byte */
  TDSC__TLS_DIAG_SSPI    /* a Schannel / CryptoAPI HRESULT */
} tdsc__tls_diag_kind;

typedef struct tdsc__tls_diag_row {
  long value;       /* the provider's number */
  const char *name; /* "X509_V_ERR_CERT_HAS_EXPIRED", "handshake_failure" */
  tdsc_errc code;
  const char *what; /* the cause in words, for messages: "has expired" */
} tdsc__tls_diag_row;

/* Schannel's statuses by name: tls_schannel.c checks each number against
 * the Windows headers at compile time. X(NAME, value, code, what) */
/* clang-format off */
#define TDSC__TLS_SSPI_ROWS(X)                                                \
  X(CERT_E_EXPIRED, 0x800B0101, TLS_CERT_EXPIRED, "has expired or is not yet valid") \
  X(CERT_E_VALIDITYPERIODNESTING, 0x800B0102, TLS_CERT_EXPIRED,               \
    "is valid outside its issuer's validity period")                          \
  X(CERT_E_ROLE, 0x800B0103, TLS_CERT_REJECTED,                               \
    "has an issuer that may not act as a CA")                                 \
  X(CERT_E_PATHLENCONST, 0x800B0104, TLS_CERT_REJECTED,                       \
    "has a chain longer than its CA allows")                                  \
  X(CERT_E_CRITICAL, 0x800B0105, TLS_CERT_REJECTED,                           \
    "has a critical extension the client does not know")                     \
  X(CERT_E_PURPOSE, 0x800B0106, TLS_CERT_WRONG_PURPOSE,                       \
    "is not for TLS server authentication")                                   \
  X(CERT_E_ISSUERCHAINING, 0x800B0107, TLS_CERT_UNTRUSTED,                    \
    "names an issuer that did not issue it")                                  \
  X(CERT_E_MALFORMED, 0x800B0108, TLS_CERT_REJECTED, "is malformed")          \
  X(CERT_E_UNTRUSTEDROOT, 0x800B0109, TLS_CERT_UNTRUSTED,                     \
    "chains to a root that is not trusted")                                   \
  X(CERT_E_CHAINING, 0x800B010A, TLS_CERT_UNTRUSTED,                          \
    "does not chain to a trusted CA (its issuer is unknown)")                 \
  X(TRUST_E_FAIL, 0x800B010B, TLS_CERT_REJECTED, "failed verification")       \
  X(CERT_E_REVOKED, 0x800B010C, TLS_CERT_REVOKED, "was revoked by its CA")    \
  X(CERT_E_UNTRUSTEDTESTROOT, 0x800B010D, TLS_CERT_UNTRUSTED,                 \
    "chains to a test root that is not trusted")                              \
  X(CERT_E_REVOCATION_FAILURE, 0x800B010E, TLS_REVOCATION_UNKNOWN,            \
    "could not be checked for revocation")                                    \
  X(CERT_E_CN_NO_MATCH, 0x800B010F, TLS_CERT_NAME_MISMATCH,                   \
    "does not name the host")                                                 \
  X(CERT_E_WRONG_USAGE, 0x800B0110, TLS_CERT_WRONG_PURPOSE,                   \
    "is not for TLS server authentication")                                   \
  X(TRUST_E_EXPLICIT_DISTRUST, 0x800B0111, TLS_CERT_REJECTED,                 \
    "is explicitly distrusted on this machine")                               \
  X(CERT_E_UNTRUSTEDCA, 0x800B0112, TLS_CERT_UNTRUSTED,                       \
    "is issued by a CA that is not trusted")                                  \
  X(CERT_E_INVALID_POLICY, 0x800B0113, TLS_CERT_REJECTED,                     \
    "breaks a certificate policy")                                            \
  X(CERT_E_INVALID_NAME, 0x800B0114, TLS_CERT_REJECTED,                       \
    "breaks a name constraint of its CA")                                     \
  X(TRUST_E_CERT_SIGNATURE, 0x80096004, TLS_CERT_REJECTED,                    \
    "has a signature that does not verify")                                   \
  X(TRUST_E_BASIC_CONSTRAINTS, 0x80096019, TLS_CERT_REJECTED,                 \
    "has an issuer that may not act as a CA (basic constraints)")             \
  X(CRYPT_E_REVOKED, 0x80092010, TLS_CERT_REVOKED, "was revoked by its CA")   \
  X(CRYPT_E_NO_REVOCATION_CHECK, 0x80092012, TLS_REVOCATION_UNKNOWN,          \
    "could not be checked for revocation")                                    \
  X(CRYPT_E_REVOCATION_OFFLINE, 0x80092013, TLS_REVOCATION_UNKNOWN,           \
    "could not be checked for revocation (the server of its CRL is offline)") \
  X(SEC_E_CERT_EXPIRED, 0x80090328, TLS_CERT_EXPIRED, "has expired")          \
  X(SEC_E_WRONG_PRINCIPAL, 0x80090322, TLS_CERT_NAME_MISMATCH,                \
    "does not name the host")                                                 \
  X(SEC_E_UNTRUSTED_ROOT, 0x80090325, TLS_CERT_UNTRUSTED,                     \
    "chains to a root that is not trusted")                                   \
  X(SEC_E_CERT_UNKNOWN, 0x80090327, TLS_CERT_REJECTED,                        \
    "could not be processed")                                                 \
  X(SEC_E_CERT_WRONG_USAGE, 0x80090349, TLS_CERT_WRONG_PURPOSE,               \
    "is not for TLS server authentication")                                   \
  X(SEC_E_ISSUING_CA_UNTRUSTED, 0x80090352, TLS_CERT_UNTRUSTED,               \
    "is issued by a CA that is not trusted")                                  \
  X(SEC_E_ALGORITHM_MISMATCH, 0x80090331, TLS_CIPHER_MISMATCH,                \
    "no cipher suite in common")                                              \
  X(SEC_E_UNSUPPORTED_FUNCTION, 0x80090302, TLS_PROTOCOL_MISMATCH,            \
    "no TLS version in common")                                               \
  X(SEC_E_NO_CREDENTIALS, 0x8009030E, TLS_CLIENT_CERT_REQUIRED,               \
    "the server asked for a client certificate")                              \
  X(SEC_E_INCOMPLETE_CREDENTIALS, 0x80090320, TLS_CLIENT_CERT_REQUIRED,       \
    "the server asked for a client certificate")                              \
  X(SEC_E_APPLICATION_PROTOCOL_MISMATCH, 0x80090367, TLS_STRICT_UNSUPPORTED,  \
    "the server refused ALPN tds/8.0")                                        \
  X(SEC_E_ILLEGAL_MESSAGE, 0x80090326, TLS_HANDSHAKE,                         \
    "the peer sent a message (or an alert) the handshake does not allow")     \
  X(SEC_E_MESSAGE_ALTERED, 0x8009030F, TLS_HANDSHAKE,                         \
    "a TLS record was altered")                                               \
  X(SEC_E_DECRYPT_FAILURE, 0x80090330, TLS_HANDSHAKE,                         \
    "a TLS record could not be decrypted")                                    \
  X(SEC_E_INTERNAL_ERROR, 0x80090304, TLS_HANDSHAKE,                          \
    "Schannel failed internally")                                             \
  X(SEC_E_INVALID_TOKEN, 0x80090308, TLS_HANDSHAKE,                           \
    "the server's handshake message is malformed")                            \
  X(SEC_E_INSUFFICIENT_MEMORY, 0x80090300, NO_MEMORY, "out of memory")
/* clang-format on */

/* The row for value; a value the table does not hold gets the kind's
 * fallback row (code TLS_CERT_REJECTED for verdicts, TLS_HANDSHAKE for
 * alerts and Schannel statuses; name "unknown"). Never NULL. */
const tdsc__tls_diag_row *tdsc__tls_diag_find(tdsc__tls_diag_kind kind,
                                              long value);
/* The whole table of a kind, for the unit test that walks it. */
const tdsc__tls_diag_row *tdsc__tls_diag_table(tdsc__tls_diag_kind kind,
                                               size_t *n);

/* "TLS 1.2" for a wire version (0x0303); "TLS (0x....)" otherwise. */
const char *tdsc__tls_version_name(int version, char *buf, size_t cap);

/* What each side offered or required when a handshake failed before a
 * cipher was agreed. Versions are wire numbers (0x0301 TLS 1.0 ..
 * 0x0304 TLS 1.3); 0 = unknown. */
typedef struct tdsc__tls_facts {
  int client_min, client_max; /* the range this client offered */
  int highest;                /* the newest version this client's library
                                 knows (its ceiling when max is 0) */
  char ciphers[320];          /* the client's cipher policy, in words */
  char conf[300];             /* the configuration that set them, in words:
                                 "OPENSSL_CONF=/x/client.cnf" */
  int alert_received;         /* the server's alert, -1 none */
  int server_version;         /* the server's choice (ServerHello), 0 none */
  char server_cipher[64];     /* the server's cipher choice, "" none */
  bool client_empty;          /* the client had no version or cipher to
                                 offer (OpenSSL: no protocols / ciphers
                                 available): nothing reached the server */
  const char *detail;         /* the provider's reason text, or NULL */
} tdsc__tls_facts;

/* Judges a version or cipher mismatch from the facts: sets err's code
 * (TLS_CLIENT_CONFIG, TLS_PROTOCOL_MISMATCH, TLS_CLIENT_VERSION_TOO_LOW or
 * TLS_CIPHER_MISMATCH), a message stating each side's part, and a hint
 * that follows from them. where: "localhost at 127.0.0.1:1433".
 * Returns TDSC_OK (err untouched) when the facts show no mismatch. */
tdsc_errc tdsc__tls_diag_mismatch(const tdsc__tls_facts *f, const char *where,
                                  tdsc_error *err);

#endif
