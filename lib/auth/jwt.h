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
  bool oom;           /* decoding failed for memory, not for the token */
} tdsc__jwt_claims;

/* Decodes the header and claims of token (NUL-terminated).  Strings longer
 * than their field are cut.  Returns false when the token is not a JWT
 * whose header and claims are JSON objects, or (c->oom) when memory ran
 * out; why (capacity cap) then says what is wrong without quoting any part
 * of the token. */
bool tdsc__jwt_decode(const char *token, tdsc__jwt_claims *c, char *why,
                      size_t cap);

/* An OAuth 2.0 token endpoint's JSON answer (RFC 6749 sections 5.1 and
 * 5.2; Entra ID's error_codes, App Service's and the metadata endpoint's
 * expires_on as a string), read by the same reader as the claims. */
#define TDSC__OAUTH_MAX_CODES 4
typedef struct tdsc__oauth_reply {
  char *access_token;  /* malloc'd (a secret: wipe it), NULL if absent */
  size_t token_len;
  char token_type[32];
  char error[64];              /* "invalid_client", ... ("" if absent) */
  char error_description[512]; /* may quote the client id, never a secret */
  size_t ncodes;               /* Entra ID's error_codes (AADSTS numbers) */
  int64_t codes[TDSC__OAUTH_MAX_CODES];
  char message[256];           /* App Service's and IMDS's "message" */
  bool oom; /* decoding failed for memory, not for the answer */
} tdsc__oauth_reply;

/* Decodes a token response of n bytes.  False (and why, without quoting
 * the body) when it is not a JSON object, or (r->oom) when memory ran
 * out; r is then empty but for oom.  The caller
 * frees with tdsc__oauth_reply_clear in either case. */
bool tdsc__oauth_reply_decode(const uint8_t *body, size_t n,
                              tdsc__oauth_reply *r, char *why, size_t cap);
void tdsc__oauth_reply_clear(tdsc__oauth_reply *r);

#endif
