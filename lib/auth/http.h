/* One HTTP request of a token source (oauth.c): through libcurl
 * (http_curl.c), WinHTTP in the Windows build (http_winhttp.c), or
 * refused in a POSIX build without libcurl (http_none.c).  The
 * call blocks: entra.c runs it on the worker (transport/worker.h) so that
 * a connect never waits on it, and bounds it by the login deadline.  The
 * request may carry secrets (a client secret in the body, IDENTITY_HEADER
 * in a header): they are wiped with it and never put in why. */
#ifndef TDSC_AUTH_HTTP_H
#define TDSC_AUTH_HTTP_H

#include "buf.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum tdsc__http_result {
  TDSC__HTTP_OK,          /* an answer came: status and body */
  TDSC__HTTP_UNREACHABLE, /* refused, no such host, TLS failed, reset */
  TDSC__HTTP_TIMEOUT,     /* timeout_ms passed */
  TDSC__HTTP_FAILED,      /* anything else (why says it) */
  TDSC__HTTP_ABSENT,      /* this build has no HTTP */
  TDSC__HTTP_NO_MEMORY    /* an allocation failed, ours or the library's */
} tdsc__http_result;

typedef struct tdsc__http {
  /* inputs, owned (tdsc__http_clear wipes and frees them) */
  char *url;        /* never holds a secret (it is named in messages) */
  char *headers[2]; /* "Name: value", or NULL */
  char *body;       /* application/x-www-form-urlencoded; NULL: a GET */
  char *cafile;     /* CAFile=, NULL: the system's trust store */
  char *secret;     /* the request's secret as given (client secret,
                       assertion, IDENTITY_HEADER): not sent from here,
                       kept so that no message quotes it back */
  long timeout_ms;  /* 0: none */
  long connect_timeout_ms; /* 0: timeout_ms alone; else a connection not
                              made within this (and sooner than timeout_ms)
                              is TDSC__HTTP_UNREACHABLE: the metadata
                              address, which nothing answers off Azure */
  char about[560];         /* who asks and with what, for messages and the trail
                              (never a secret): the client id and tenant, a
                              certificate's subject and thumbprint */
  /* outputs */
  tdsc__http_result res;
  long status;      /* the HTTP status */
  long provider;    /* the library's own code (CURLcode; WinHTTP's Win32
                       error, or a certificate check's HRESULT) */
  tdsc__buf resp;   /* the body (at most 1 MiB; may hold a token) */
  char why[256];    /* the library's words on a failure */
} tdsc__http;

/* Whether this build can fetch tokens over HTTP. */
extern const bool tdsc__http_built;

/* Runs the request, blocking up to timeout_ms; fills the outputs. */
void tdsc__http_perform(tdsc__http *h);

/* Wipes and frees inputs and outputs (h itself is the caller's). */
void tdsc__http_clear(tdsc__http *h);

#endif
