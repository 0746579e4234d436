/* The claims of a JSON Web Token (RFC 7519) in compact JWS form (RFC 7515:
 * three base64url parts split by '.'), read without checking the
 * signature: entra.c names a token's problems (expiry, audience) before
 * sending it; the server is the one that verifies it.  No I/O, no secrets
 * in the reasons it gives. */
#ifndef TDSC_JWT_H
#define TDSC_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDSC__JWT_MAX_AUD 4

typedef struct tdsc__jwt_claims {
  char alg[16];       /* the header's "alg" ("" if absent) */
  bool has_exp, has_nbf, has_iat;
  int64_t exp, nbf, iat; /* seconds since 1970 (NumericDate) */
  size_t naud;        /* "aud": a string or an array of strings */
  char aud[TDSC__JWT_MAX_AUD][256];
  char iss[256];
  char tid[64];       /* Entra ID: tenant */
  char oid[64];       /* Entra ID: object id of the principal */
  char upn[256];      /* Entra ID: user principal name (users only) */
  char unique_name[256];
  char appid[64];     /* the client application (v1 tokens; azp in v2) */
} tdsc__jwt_claims;

/* Decodes the header and claims of token (NUL-terminated).  Strings longer
 * than their field are cut.  Returns false when the token is not a JWT
 * whose header and claims are JSON objects; why (capacity cap) then says
 * what is wrong without quoting any part of the token. */
bool tdsc__jwt_decode(const char *token, tdsc__jwt_claims *c, char *why,
                      size_t cap);

#endif
