/* The certificate's client assertion (assertion.h) in a build without
 * OpenSSL's signing: the Windows build (which fetches tokens over WinHTTP,
 * http_winhttp.c) and configure --without-libcurl (where oauth.c refuses
 * first with TDSC_E_ENTRA_NO_HTTP).  Nothing is signed: the certificate is
 * refused with the same code, so that the next mechanism still runs. */
#include "config.h"

#include "auth/assertion.h"

#include <string.h>

tdsc_errc tdsc__client_assertion(const char *pem, const char *from,
                                 const char *passphrase, const char *client_id,
                                 const char *aud, char **out,
                                 tdsc__cert_facts *facts, tdsc_error *err) {
  (void)passphrase;
  (void)client_id;
  (void)aud;
  *out = NULL;
  memset(facts, 0, sizeof *facts);
  return tdsc__err_set(err, TDSC_E_ENTRA_NO_HTTP,
                       "this build of tdsclient cannot sign a certificate's "
                       "client assertion (it has no OpenSSL: the Windows "
                       "build), so the certificate of %s%s cannot be used: "
                       "give the service principal's client secret (PWD=) "
                       "instead",
                       from ? from : "", pem ? pem : "");
}
