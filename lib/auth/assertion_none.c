/* The certificate's client assertion (assertion.h) in a build without
 * libcurl (the Windows build, or configure --without-libcurl): no token
 * source over HTTP runs there (oauth.c refuses first with
 * TDSC_E_ENTRA_NO_HTTP), so nothing is signed either. */
#include "config.h"

#include "auth/assertion.h"

#include <string.h>

tdsc_errc tdsc__client_assertion(const char *pem, const char *from,
                                 const char *passphrase,
                                 const char *client_id, const char *aud,
                                 char **out, tdsc__cert_facts *facts,
                                 tdsc_error *err) {
  (void)pem;
  (void)from;
  (void)passphrase;
  (void)client_id;
  (void)aud;
  *out = NULL;
  memset(facts, 0, sizeof *facts);
  return tdsc__err_set(err, TDSC_E_ENTRA_NO_HTTP,
                       "this build of tdsclient has no HTTP token sources "
                       "(built without libcurl), so a certificate's "
                       "assertion is not signed");
}
