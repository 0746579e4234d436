/* A service principal's certificate credential: the client assertion of
 * RFC 7523 section 2.2 (a JWT signed with the certificate's private key)
 * that oauth.c sends instead of a client secret, in the form Microsoft
 * Entra ID's "certificate credentials" require.  Reads a PEM file
 * (certificate and private key, the key possibly encrypted); OpenSSL 3's
 * EVP signs.  The key, its passphrase and the assertion never reach a
 * message. */
#ifndef TDSC_AUTH_ASSERTION_H
#define TDSC_AUTH_ASSERTION_H

#include "error.h"

#include <stddef.h>

/* What a message may say of the certificate (none of it secret). */
typedef struct tdsc__cert_facts {
  char sha1[41];     /* thumbprint as Entra ID shows it: hex, upper case */
  char subject[160]; /* one line, RFC 2253 */
} tdsc__cert_facts;

/* The signed assertion for client_id at the token endpoint aud: *out
 * (malloc'd, NUL-terminated, a secret: the caller wipes it).  pem: the
 * file's path, from: where it was named ("EntraClientCertificate=", for
 * messages); passphrase: NULL or its key's.  facts is filled as soon as
 * the certificate is read.  Errors: TDSC_E_ENTRA_CLIENT_CERT_UNREADABLE,
 * _NO_KEY, _KEY_MISMATCH, _PASSPHRASE, _EXPIRED, oom. */
tdsc_errc tdsc__client_assertion(const char *pem, const char *from,
                                 const char *passphrase,
                                 const char *client_id, const char *aud,
                                 char **out, tdsc__cert_facts *facts,
                                 tdsc_error *err);

#endif
