/* The token sources of the entra mechanisms that ask an identity provider
 * over HTTP (OAuth 2.0, RFC 6749): a service principal with a client
 * secret or a certificate (client credentials, section 4.4; the
 * certificate's assertion is assertion.c's), managed identity (App
 * Service's IDENTITY_ENDPOINT, else the instance metadata endpoint) and
 * workload identity (client credentials with a federated assertion, RFC
 * 7523).  oauth.c builds the request and reads the answer; entra.c runs
 * the request (http.h) on the worker and checks the token's claims. */
#ifndef TDSC_AUTH_OAUTH_H
#define TDSC_AUTH_OAUTH_H

#include "auth/auth.h"
#include "auth/http.h"

typedef enum tdsc__token_source {
  TDSC__SRC_GIVEN,     /* AccessToken= or the application's provider */
  TDSC__SRC_SECRET,    /* service principal: client secret or, with
                          EntraClientCertificate=, certificate */
  TDSC__SRC_MANAGED,   /* managed identity */
  TDSC__SRC_WORKLOAD   /* workload identity (federated token file) */
} tdsc__token_source;

/* What the server's FEDAUTHINFO decided (MS-TDS 2.2.7.12, checked by
 * entra.c): the resource the token is for (its SPN), and the tenant and
 * authority of its STS URL, used where the user named none. */
typedef struct tdsc__oauth_sts {
  const char *resource;
  const char *tenant;
  const char *authority; /* "https://host[:port]" */
} tdsc__oauth_sts;

/* Fills h's inputs (url, headers, body, cafile) for src from p and sts
 * (NULL: p alone), endpoint (cap bytes) with the address to name in
 * messages (no query, never a secret) and, unless key is NULL, *key with
 * the token's key in the process's cache (token_cache.h: malloc'd; it
 * holds the credential, the caller wipes it).  Errors:
 * TDSC_E_ENTRA_NO_CLIENT_CREDENTIALS (what is missing),
 * TDSC_E_ENTRA_ENDPOINT_INSECURE, TDSC_E_ENTRA_NO_HTTP, oom. */
tdsc_errc tdsc__oauth_request(tdsc__token_source src,
                              const tdsc__auth_params *p,
                              const tdsc__oauth_sts *sts, tdsc__http *h,
                              char *endpoint, size_t cap, char **key,
                              tdsc_error *err);

/* Reads h's outcome: *token (malloc'd, NUL-terminated, the caller wipes
 * it) or err set with the endpoint's and identity provider's codes. */
tdsc_errc tdsc__oauth_read(tdsc__token_source src, const tdsc__http *h,
                            const char *endpoint, char **token, size_t *len,
                            tdsc_error *err);

#endif
