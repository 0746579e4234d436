/* The token sources' HTTP (http.h) through libcurl: TLS verified as
 * libcurl does by default (peer and host name), CAFile= trusted besides
 * the system's CAs (the identity provider's certificate is a public CA's
 * even where the SQL Server's is a private one), http and https only, no
 * redirects followed (a token request that is redirected goes nowhere else), no
 * signals (it runs on a worker thread).  libcurl initialises itself on first
 * use (thread-safe since 7.84, the CURL_VERSION_THREADSAFE feature). */
#include "config.h"

#include "auth/http.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (1u << 20) /* a token response is a few KiB */

const bool tdsc__http_built = true;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  tdsc__http *h = ud;
  size_t k = size * n;
  if (h->resp.len + k > MAX_BODY)
    return 0; /* CURLE_WRITE_ERROR: named below */
  tdsc__buf_put(&h->resp, p, k);
  return h->resp.oom ? 0 : k;
}

/* libcurl's OpenSSL context, its default CAs loaded: CAFile= added. */
static CURLcode add_cafile(CURL *e, void *ssl_ctx, void *cafile) {
  (void)e;
  return SSL_CTX_load_verify_locations(ssl_ctx, cafile, NULL) == 1
             ? CURLE_OK
             : CURLE_SSL_CACERT_BADFILE;
}

static tdsc__http_result classify(CURLcode rc) {
  switch (rc) {
  case CURLE_OUT_OF_MEMORY:
    return TDSC__HTTP_NO_MEMORY;
  case CURLE_OPERATION_TIMEDOUT:
    return TDSC__HTTP_TIMEOUT;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
  case CURLE_COULDNT_CONNECT:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
  case CURLE_GOT_NOTHING:
    return TDSC__HTTP_UNREACHABLE;
  default:
    return TDSC__HTTP_FAILED;
  }
}

void tdsc__http_perform(tdsc__http *h) {
  struct curl_slist *hdrs = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  CURL *e = curl_easy_init();
  /* curl_easy_init and curl_slist_append fail only for memory */
  h->res = TDSC__HTTP_NO_MEMORY;
  snprintf(h->why, sizeof h->why, "no memory for the HTTP request");
  if (!e)
    return;
  for (size_t i = 0; i < sizeof h->headers / sizeof h->headers[0]; i++) {
    if (!h->headers[i])
      continue;
    struct curl_slist *n = curl_slist_append(hdrs, h->headers[i]);
    if (!n)
      goto done;
    hdrs = n;
  }
  h->why[0] = 0;
  curl_easy_setopt(e, CURLOPT_URL, h->url);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(e, CURLOPT_USERAGENT, "tdsclient");
  /* the instance metadata endpoint and loopback never through a proxy */
  curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1,169.254.169.254");
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
  if (h->timeout_ms > 0)
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
  bool connect_first =
      h->connect_timeout_ms > 0 &&
      (h->timeout_ms <= 0 || h->connect_timeout_ms < h->timeout_ms);
  if (connect_first)
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
  /* CURLOPT_CAINFO would replace the system's CAs: added instead, where
   * libcurl's TLS is OpenSSL (Debian's libcurl4-openssl-dev) */
  if (h->cafile &&
      (curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, add_cafile) != CURLE_OK ||
       curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, (void *)h->cafile) !=
           CURLE_OK))
    curl_easy_setopt(e, CURLOPT_CAINFO, h->cafile);
  if (hdrs)
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
  if (h->body)
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, h->body);
  CURLcode rc = curl_easy_perform(e);
  h->provider = (long)rc;
  if (rc == CURLE_OK) {
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &h->status);
    h->res = TDSC__HTTP_OK;
  } else {
    h->res = classify(rc);
    curl_off_t connected = 0;
    if (rc == CURLE_OPERATION_TIMEDOUT && connect_first &&
        curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connected) == CURLE_OK &&
        connected == 0) {
      h->res = TDSC__HTTP_UNREACHABLE;
      snprintf(h->why, sizeof h->why, "no connection within %ld ms",
               h->connect_timeout_ms);
    } else if (rc == CURLE_WRITE_ERROR && h->resp.oom) {
      h->res = TDSC__HTTP_NO_MEMORY;
      snprintf(h->why, sizeof h->why, "no memory for the answer");
    } else if (rc == CURLE_WRITE_ERROR)
      snprintf(h->why, sizeof h->why, "the answer is larger than %u bytes",
               MAX_BODY);
    else
      snprintf(h->why, sizeof h->why, "%s",
               errbuf[0] ? errbuf : curl_easy_strerror(rc));
  }
done:
  curl_slist_free_all(hdrs); /* the header's secret: libcurl's copy */
  curl_easy_cleanup(e);
}
