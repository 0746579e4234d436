/* Schannel's side of TLS that is not Schannel itself (tls_schannel.c):
 * the server's certificate judged with CryptoAPI, and its text for
 * messages and tdsc-doctor (schannel_cert.c). */
#ifndef TDSC_TLS_SCHANNEL_H
#define TDSC_TLS_SCHANNEL_H

#include "tls/tls.h" /* first: winsock2.h before windows.h */

/* Order matters: windows.h, then UNICODE_STRING, then what uses it. */
#define SECURITY_WIN32
#define SCHANNEL_USE_BLACKLISTS /* SCH_CREDENTIALS, TLS_PARAMETERS */
#include <windows.h>

#include <subauth.h> /* UNICODE_STRING, which SCH_CREDENTIALS uses */

#include <schannel.h>
#include <security.h>
#include <wincrypt.h>

#ifndef SP_PROT_TLS1_3_CLIENT
#define SP_PROT_TLS1_3_CLIENT 0x00002000
#endif

/* The provider status of a TLS error (TDSC_PROVIDER_SSPI): st, and the
 * chain's CERT_TRUST_* error bits (0 when none was built). */
void tdsc__schannel_provider(tdsc_error *err, long st, long long trust);
/* Verifies peer (NULL: none was sent) for o: TDSC_OK, a TLS_CERT_* code,
 * or a setup error (BAD_OPTION_VALUE for a CAFile= that cannot be
 * loaded); *status is the verdict's HRESULT (0 when it passed).  where
 * names the server in messages (tls.c). */
tdsc_errc tdsc__schannel_verify(PCCERT_CONTEXT peer, const char *where,
                                const tdsc__tls_opts *o, HRESULT *status,
                                tdsc_error *err);
/* Fills ci with c's names, validity period and subjectAltName. */
void tdsc__schannel_cert_info(PCCERT_CONTEXT c, tdsc__tls_cert_info *ci);

#endif
