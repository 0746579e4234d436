/* What tls_openssl.c and tls_openssl_ctx.c share (OpenSSL builds only). */
#ifndef TDSC_TLS_OPENSSL_H
#define TDSC_TLS_OPENSSL_H

#include "tls/tls.h"

#include <openssl/ssl.h>

/* The error of a failed OpenSSL set-up call: "<what><arg>: <OpenSSL's
 * reason>" under code, the provider status OpenSSL's error; returns code. */
tdsc_errc tdsc__ossl_setup_error(tdsc_error *err, tdsc_errc code,
                                 const char *what, const char *arg);

/* The connection's certificate check, which records what failed. */
typedef int (*tdsc__ossl_verify_cb)(int preverify_ok, X509_STORE_CTX *x);

/* The context of opts' trust settings, referenced for the caller (who
 * frees it with SSL_CTX_free): one kept for the process when the same
 * settings were seen before, else a new one that is then kept.  Kept
 * per verification, CAFile= (the file as it is on disk: a file changed or
 * replaced gets a new context) and SSLKEYLOGFILE's presence, at most 8,
 * freed at exit or when the library is unloaded; the system store's are
 * not kept.  Codes: BAD_OPTION_VALUE (CAFile= unreadable), TLS_HANDSHAKE
 * (no system store), NO_MEMORY. */
tdsc_errc tdsc__ossl_ctx_get(const tdsc__tls_opts *opts,
                             tdsc__ossl_verify_cb vcb, SSL_CTX **out,
                             tdsc_error *err);

#endif
