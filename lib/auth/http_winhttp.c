/* The token sources' HTTP (http.h) through WinHTTP, the Windows build's
 * counterpart of http_curl.c, with the same behaviour:
 *
 * - http and https only (WinHttpCrackUrl knows no other scheme), no
 *   redirect followed (WINHTTP_DISABLE_REDIRECTS: a 3xx comes back as the
 *   answer), no cookies, no automatic authentication, agent "tdsclient";
 * - TLS verified by WinHTTP against the system's store (chain, host name,
 *   validity), never disabled.  CAFile= is honoured as libcurl's is, on
 *   top of the system's CAs: with it, WinHTTP is told to let an unknown
 *   root through (SECURITY_FLAG_IGNORE_UNKNOWN_CA only: the name and the
 *   dates stay its own checks), the request's headers go out with its body
 *   held back, and the server's chain is judged here before any secret is
 *   written: trusted by the system or rooted in CAFile=
 *   (tdsc__schannel_verify, the SQL Server's own check).  A request whose
 *   secret is in a header (App Service's X-IDENTITY-HEADER) cannot hold it
 *   back, so for it CAFile= is not applied: the system store alone
 *   decides, and a refusal says so;
 * - the whole request bounded by timeout_ms: before each step (send,
 *   write, receive, each read) WinHTTP's resolve, connect, send and
 *   receive timeouts are set to what is left of it;
 * - the answer at most 1 MiB;
 * - proxy: loopback and the instance metadata address never through one
 *   (WINHTTP_ACCESS_TYPE_NO_PROXY, as http_curl.c's CURLOPT_NOPROXY);
 *   anything else as WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY finds it (Windows
 *   8.1 and later: the system's settings, WPAD), or where the system does
 *   not know it (Windows 7) WINHTTP_ACCESS_TYPE_DEFAULT_PROXY (netsh winhttp
 *   set proxy).
 *
 * The wide copies of the headers are wiped before they are freed; the
 * body is sent from h->body itself. */
#include "config.h"

#include "tls/tls_schannel.h" /* first: winsock2.h before windows.h */

#include "auth/http.h"
#include "error.h"
#include "sec_win32.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <winhttp.h>

#define MAX_BODY (1u << 20) /* a token response is a few KiB */

const bool tdsc__http_built = true;

/* One request's state besides h. */
typedef struct req {
  tdsc__http *h;
  HINTERNET session, connect, request;
  uint64_t deadline; /* GetTickCount64 ms; 0: no timeout */
  bool timed_out;
  DWORD secure_flags; /* WINHTTP_CALLBACK_STATUS_SECURE_FAILURE's */
  bool header_secret; /* https, CAFile= and a secret in a header */
  bool connecting;    /* in WinHttpSendRequest, which connects */
} req;

/* ---------------------------------------------------------- messages */

static const struct {
  DWORD code;
  const char *name, *text;
} winhttp_errors[] = {
    {ERROR_WINHTTP_TIMEOUT, "ERROR_WINHTTP_TIMEOUT", "timed out"},
    {ERROR_WINHTTP_NAME_NOT_RESOLVED, "ERROR_WINHTTP_NAME_NOT_RESOLVED",
     "the host name could not be resolved"},
    {ERROR_WINHTTP_CANNOT_CONNECT, "ERROR_WINHTTP_CANNOT_CONNECT",
     "the connection was refused or could not be made"},
    {ERROR_WINHTTP_CONNECTION_ERROR, "ERROR_WINHTTP_CONNECTION_ERROR",
     "the connection was reset"},
    {ERROR_WINHTTP_INVALID_SERVER_RESPONSE,
     "ERROR_WINHTTP_INVALID_SERVER_RESPONSE",
     "the server's answer is not HTTP"},
    {ERROR_WINHTTP_SECURE_FAILURE, "ERROR_WINHTTP_SECURE_FAILURE",
     "the server's TLS certificate failed verification"},
    {ERROR_WINHTTP_SECURE_INVALID_CA, "ERROR_WINHTTP_SECURE_INVALID_CA",
     "the server's TLS certificate is not from a trusted CA"},
    {ERROR_WINHTTP_SECURE_CERT_CN_INVALID,
     "ERROR_WINHTTP_SECURE_CERT_CN_INVALID",
     "the server's TLS certificate does not name the host"},
    {ERROR_WINHTTP_SECURE_CERT_DATE_INVALID,
     "ERROR_WINHTTP_SECURE_CERT_DATE_INVALID",
     "the server's TLS certificate is expired or not yet valid"},
    {ERROR_WINHTTP_SECURE_INVALID_CERT, "ERROR_WINHTTP_SECURE_INVALID_CERT",
     "the server's TLS certificate is invalid"},
    {ERROR_WINHTTP_SECURE_CERT_REVOKED, "ERROR_WINHTTP_SECURE_CERT_REVOKED",
     "the server's TLS certificate is revoked"},
    {ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE,
     "ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE",
     "the server's TLS certificate is not for server authentication"},
    {ERROR_WINHTTP_SECURE_CHANNEL_ERROR, "ERROR_WINHTTP_SECURE_CHANNEL_ERROR",
     /* Wine's WinHTTP says this of an untrusted certificate too */
     "the TLS handshake failed (no common protocol, or a server "
     "certificate WinHTTP refused)"},
    {ERROR_WINHTTP_UNRECOGNIZED_SCHEME, "ERROR_WINHTTP_UNRECOGNIZED_SCHEME",
     "the scheme is neither http nor https"},
    {ERROR_WINHTTP_INVALID_URL, "ERROR_WINHTTP_INVALID_URL",
     "the URL is not valid"},
    {ERROR_WINHTTP_OPERATION_CANCELLED, "ERROR_WINHTTP_OPERATION_CANCELLED",
     "the request was cancelled"},
    {ERROR_NOT_ENOUGH_MEMORY, "ERROR_NOT_ENOUGH_MEMORY", "out of memory"},
    {ERROR_OUTOFMEMORY, "ERROR_OUTOFMEMORY", "out of memory"},
};

/* WINHTTP_CALLBACK_STATUS_FLAG_* of a secure failure, in words. */
static const struct {
  DWORD flag;
  const char *text;
} secure_flags[] = {
    {WINHTTP_CALLBACK_STATUS_FLAG_INVALID_CA, "certificate from an unknown CA"},
    {WINHTTP_CALLBACK_STATUS_FLAG_CERT_CN_INVALID,
     "certificate does not name the host"},
    {WINHTTP_CALLBACK_STATUS_FLAG_CERT_DATE_INVALID,
     "certificate expired or not yet valid"},
    {WINHTTP_CALLBACK_STATUS_FLAG_CERT_REVOKED, "certificate revoked"},
    {WINHTTP_CALLBACK_STATUS_FLAG_CERT_REV_FAILED,
     "certificate revocation unknown"},
    {WINHTTP_CALLBACK_STATUS_FLAG_INVALID_CERT, "certificate invalid"},
    {WINHTTP_CALLBACK_STATUS_FLAG_CERT_WRONG_USAGE,
     "certificate not for server authentication"},
    {WINHTTP_CALLBACK_STATUS_FLAG_SECURITY_CHANNEL_ERROR, "TLS channel error"},
};

/* h->why for the Win32 error e of step: what it means, its name and
 * number, what WinHTTP said of the certificate (the flags), and why
 * CAFile= did not count when that is why. */
static void say(req *r, const char *step, DWORD e) {
  tdsc__http *h = r->h;
  const char *name = NULL, *text = "failed";
  for (size_t i = 0; i < sizeof winhttp_errors / sizeof winhttp_errors[0]; i++)
    if (winhttp_errors[i].code == e) {
      name = winhttp_errors[i].name;
      text = winhttp_errors[i].text;
    }
  char flags[160] = "";
  size_t n = 0;
  for (size_t i = 0; i < sizeof secure_flags / sizeof secure_flags[0]; i++)
    if ((r->secure_flags & secure_flags[i].flag) && n + 2 < sizeof flags)
      n += (size_t)snprintf(flags + n, sizeof flags - n, "%s%s", n ? ", " : "",
                            secure_flags[i].text);
  bool tls =
      r->secure_flags || (name && !strncmp(name, "ERROR_WINHTTP_SECURE", 20));
  snprintf(h->why, sizeof h->why, "WinHTTP %s: %s (%s%s%lu)%s%s%s", step, text,
           name ? name : "Win32 error", name ? ", " : " ", (unsigned long)e,
           flags[0] ? ": " : "", flags,
           tls && r->header_secret
               ? "; CAFile= is not applied to a request whose secret is in "
                 "a header: the system's CA store decides"
               : "");
}

static tdsc__http_result classify(DWORD e) {
  switch (e) {
  case ERROR_NOT_ENOUGH_MEMORY:
  case ERROR_OUTOFMEMORY:
    return TDSC__HTTP_NO_MEMORY;
  case ERROR_WINHTTP_TIMEOUT:
    return TDSC__HTTP_TIMEOUT;
  case ERROR_WINHTTP_NAME_NOT_RESOLVED:
  case ERROR_WINHTTP_CANNOT_CONNECT:
  case ERROR_WINHTTP_CONNECTION_ERROR:
  case ERROR_WINHTTP_SECURE_FAILURE:
  case ERROR_WINHTTP_SECURE_INVALID_CA:
  case ERROR_WINHTTP_SECURE_CERT_CN_INVALID:
  case ERROR_WINHTTP_SECURE_CERT_DATE_INVALID:
  case ERROR_WINHTTP_SECURE_INVALID_CERT:
  case ERROR_WINHTTP_SECURE_CERT_REVOKED:
  case ERROR_WINHTTP_SECURE_CERT_WRONG_USAGE:
  case ERROR_WINHTTP_SECURE_CHANNEL_ERROR:
    return TDSC__HTTP_UNREACHABLE;
  default:
    return TDSC__HTTP_FAILED;
  }
}

/* The step failed with GetLastError(): h's result and words. */
static void failed(req *r, const char *step) {
  DWORD e = GetLastError();
  r->h->provider = (long)e;
  r->h->res = classify(e);
  /* WinHTTP's timeouts were what was left of timeout_ms: whatever a late
   * step reports (a reset, a short read), the time is what ran out */
  if (r->deadline && GetTickCount64() >= r->deadline &&
      r->h->res != TDSC__HTTP_NO_MEMORY)
    r->h->res = TDSC__HTTP_TIMEOUT;
  say(r, step, e);
  /* before the deadline, only connect_timeout_ms can have run out: the
   * connection was never made (bound) */
  if (r->h->res == TDSC__HTTP_TIMEOUT && e == ERROR_WINHTTP_TIMEOUT &&
      r->connecting && r->h->connect_timeout_ms > 0 &&
      (!r->deadline || GetTickCount64() < r->deadline)) {
    r->h->res = TDSC__HTTP_UNREACHABLE;
    snprintf(r->h->why, sizeof r->h->why, "no connection within %ld ms",
             r->h->connect_timeout_ms);
  }
}

/* ---------------------------------------------------------- the steps */

/* What is left of the deadline on r's request, as WinHTTP's timeouts:
 * false when nothing is (timed_out set) or they cannot be set (why). */
static bool bound(req *r) {
  long cms = r->h->connect_timeout_ms;
  if (!r->deadline) {
    if (cms <= 0 || cms > INT_MAX ||
        WinHttpSetTimeouts(r->request, (int)cms, (int)cms, 0, 0)) /* 0: none */
      return true;
    failed(r, "setting its timeouts");
    return false;
  }
  uint64_t now = GetTickCount64();
  if (now >= r->deadline) {
    r->timed_out = true;
    return false;
  }
  uint64_t left = r->deadline - now;
  int ms = left > INT_MAX ? INT_MAX : (int)left; /* never 0: infinite */
  int connect = cms > 0 && cms < ms ? (int)cms : ms;
  if (WinHttpSetTimeouts(r->request, connect, connect, ms, ms))
    return true;
  failed(r, "setting its timeouts");
  return false;
}

static void CALLBACK on_status(HINTERNET hi, DWORD_PTR ctx, DWORD status,
                               LPVOID info, DWORD len) {
  (void)hi;
  if (status == WINHTTP_CALLBACK_STATUS_SECURE_FAILURE && ctx && info &&
      len >= sizeof(DWORD))
    ((req *)ctx)->secure_flags |= *(DWORD *)info;
}

/* Whether host is loopback or the instance metadata address (never
 * through a proxy). */
static bool direct(const WCHAR *host, size_t len) {
  static const WCHAR *const hosts[] = {L"localhost", L"127.0.0.1", L"[::1]",
                                       L"::1", L"169.254.169.254"};
  for (size_t i = 0; i < sizeof hosts / sizeof hosts[0]; i++)
    if (wcslen(hosts[i]) == len && !_wcsnicmp(hosts[i], host, len))
      return true;
  return false;
}

/* The headers as one wide block ("A: b\r\nC: d"), a Content-Type with a
 * body; NULL (no memory) or the block, wiped by the caller. */
static WCHAR *header_block(const tdsc__http *h, size_t *wlen) {
  tdsc__buf b;
  tdsc__buf_init(&b);
  for (size_t i = 0; i < sizeof h->headers / sizeof h->headers[0]; i++)
    if (h->headers[i]) {
      tdsc__buf_put(&b, h->headers[i], strlen(h->headers[i]));
      tdsc__buf_put(&b, "\r\n", 2);
    }
  if (h->body) {
    static const char ct[] =
        "Content-Type: application/x-www-form-urlencoded\r\n";
    tdsc__buf_put(&b, ct, sizeof ct - 1);
  }
  char *text = tdsc__buf_cstr(&b);
  WCHAR *w = text ? tdsc__utf8_to_wide(text) : NULL;
  if (text)
    tdsc__wipe(text, strlen(text));
  tdsc__buf_wipe(&b);
  tdsc__buf_free(&b);
  *wlen = w ? wcslen(w) : 0;
  return w;
}

/* Whether a header carries the request's secret (App Service's). */
static bool secret_in_header(const tdsc__http *h) {
  if (!h->secret || !h->secret[0])
    return false;
  for (size_t i = 0; i < sizeof h->headers / sizeof h->headers[0]; i++)
    if (h->headers[i] && strstr(h->headers[i], h->secret))
      return true;
  return false;
}

/* The server's chain, WinHTTP having let an unknown root through: trusted
 * by the system's store or rooted in CAFile= (http_curl.c's CAFile= is
 * added to the system's CAs).  false with why set when it is neither. */
static bool chain_ok(req *r, const char *host, INTERNET_PORT port) {
  tdsc__http *h = r->h;
  PCCERT_CONTEXT peer = NULL;
  DWORD size = sizeof peer;
  if (!WinHttpQueryOption(r->request, WINHTTP_OPTION_SERVER_CERT_CONTEXT, &peer,
                          &size))
    peer = NULL;
  char where[300];
  snprintf(where, sizeof where, "the identity provider %s:%u", host,
           (unsigned)port);
  tdsc__tls_opts o;
  memset(&o, 0, sizeof o);
  o.host = host;
  o.verify = true;
  tdsc_error e;
  memset(&e, 0, sizeof e);
  HRESULT st = 0;
  tdsc_errc rc = tdsc__schannel_verify(peer, where, &o, &st, &e);
  if (rc != TDSC_OK && rc != TDSC_E_NO_MEMORY) {
    tdsc__err_clear(&e);
    o.cafile = h->cafile;
    rc = tdsc__schannel_verify(peer, where, &o, &st, &e);
  }
  if (peer)
    CertFreeCertificateContext(peer);
  if (rc != TDSC_OK) {
    h->res =
        rc == TDSC_E_NO_MEMORY ? TDSC__HTTP_NO_MEMORY : TDSC__HTTP_UNREACHABLE;
    h->provider = (long)st;
    snprintf(h->why, sizeof h->why, "%s",
             e.message ? e.message : "no memory for the certificate check");
  }
  tdsc__err_clear(&e);
  return rc == TDSC_OK;
}

/* Reads the answer into h->resp (at most MAX_BODY bytes). */
static bool read_body(req *r) {
  tdsc__http *h = r->h;
  char chunk[8192];
  for (;;) {
    DWORD got = 0;
    if (!bound(r))
      return false;
    if (!WinHttpReadData(r->request, chunk, sizeof chunk, &got)) {
      failed(r, "reading the answer");
      return false;
    }
    if (got == 0)
      return true;
    if (h->resp.len + got > MAX_BODY) {
      h->res = TDSC__HTTP_FAILED;
      snprintf(h->why, sizeof h->why, "the answer is larger than %u bytes",
               MAX_BODY);
      tdsc__wipe(chunk, sizeof chunk);
      return false;
    }
    tdsc__buf_put(&h->resp, chunk, got);
    if (h->resp.oom) {
      h->res = TDSC__HTTP_NO_MEMORY;
      snprintf(h->why, sizeof h->why, "no memory for the answer");
      tdsc__wipe(chunk, sizeof chunk);
      return false;
    }
  }
}

void tdsc__http_perform(tdsc__http *h) {
  req r;
  memset(&r, 0, sizeof r);
  r.h = h;
  if (h->timeout_ms > 0)
    r.deadline = GetTickCount64() + (uint64_t)h->timeout_ms;
  WCHAR *url = tdsc__utf8_to_wide(h->url), *hdrs = NULL, *host = NULL,
        *path = NULL;
  char *host8 = NULL;
  size_t hlen = 0;
  h->res = TDSC__HTTP_NO_MEMORY;
  snprintf(h->why, sizeof h->why, "no memory for the HTTP request");
  if (!url)
    goto done;
  URL_COMPONENTS uc;
  memset(&uc, 0, sizeof uc);
  uc.dwStructSize = sizeof uc;
  uc.dwHostNameLength = (DWORD)-1;
  uc.dwUrlPathLength = (DWORD)-1;
  uc.dwExtraInfoLength = (DWORD)-1;
  if (!WinHttpCrackUrl(url, 0, 0, &uc) || !uc.dwHostNameLength) {
    failed(&r, "reading the URL");
    if (h->res != TDSC__HTTP_NO_MEMORY)
      h->res = TDSC__HTTP_FAILED;
    goto done;
  }
  bool https = uc.nScheme == INTERNET_SCHEME_HTTPS;
  host = calloc(uc.dwHostNameLength + 1, sizeof *host);
  /* the path and the query are contiguous in the URL */
  size_t plen = uc.dwUrlPathLength + uc.dwExtraInfoLength;
  path = calloc(plen + 2, sizeof *path);
  if (!host || !path)
    goto done;
  memcpy(host, uc.lpszHostName, uc.dwHostNameLength * sizeof *host);
  if (plen)
    memcpy(path, uc.lpszUrlPath ? uc.lpszUrlPath : uc.lpszExtraInfo,
           plen * sizeof *path);
  else
    path[0] = L'/';
  if (!(host8 = tdsc__wide_to_utf8(host)) || !(hdrs = header_block(h, &hlen)))
    goto done;

  DWORD access = direct(host, uc.dwHostNameLength)
                     ? WINHTTP_ACCESS_TYPE_NO_PROXY
                     : WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY;
  r.session = WinHttpOpen(L"tdsclient", access, WINHTTP_NO_PROXY_NAME,
                          WINHTTP_NO_PROXY_BYPASS, 0);
  if (!r.session && access == WINHTTP_ACCESS_TYPE_AUTOMATIC_PROXY)
    r.session = WinHttpOpen(L"tdsclient", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
                            WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
  if (!r.session) {
    failed(&r, "opening a session");
    goto done;
  }
  r.connect = WinHttpConnect(r.session, host, uc.nPort, 0);
  if (!r.connect) {
    failed(&r, "connecting");
    goto done;
  }
  r.request = WinHttpOpenRequest(
      r.connect, h->body ? L"POST" : L"GET", path, NULL, WINHTTP_NO_REFERER,
      WINHTTP_DEFAULT_ACCEPT_TYPES, https ? WINHTTP_FLAG_SECURE : 0);
  if (!r.request) {
    failed(&r, "opening the request");
    goto done;
  }
  DWORD off = WINHTTP_DISABLE_REDIRECTS | WINHTTP_DISABLE_COOKIES |
              WINHTTP_DISABLE_AUTHENTICATION;
  WinHttpSetOption(r.request, WINHTTP_OPTION_DISABLE_FEATURE, &off, sizeof off);
  WinHttpSetStatusCallback(r.request, on_status,
                           WINHTTP_CALLBACK_FLAG_SECURE_FAILURE, 0);
  /* CAFile=: the chain judged here, before the body (the secret) is
   * written; not where a header holds the secret (see above) */
  r.header_secret = https && h->cafile && secret_in_header(h);
  bool own_check = https && h->cafile && !r.header_secret;
  if (own_check) {
    DWORD flags = SECURITY_FLAG_IGNORE_UNKNOWN_CA;
    if (!WinHttpSetOption(r.request, WINHTTP_OPTION_SECURITY_FLAGS, &flags,
                          sizeof flags)) {
      failed(&r, "asking for its own certificate check");
      goto done;
    }
  }
  DWORD blen = h->body ? (DWORD)strlen(h->body) : 0;
  h->why[0] = 0;
  if (!bound(&r))
    goto done;
  r.connecting = true;
  if (!WinHttpSendRequest(r.request,
                          hlen ? hdrs : WINHTTP_NO_ADDITIONAL_HEADERS,
                          hlen ? (DWORD)hlen : 0, WINHTTP_NO_REQUEST_DATA, 0,
                          blen, (DWORD_PTR)&r)) {
    failed(&r, "sending the request");
    goto done;
  }
  r.connecting = false;
  if (own_check && !chain_ok(&r, host8, uc.nPort))
    goto done;
  for (DWORD sent = 0; sent < blen;) {
    DWORD n = 0;
    if (!bound(&r))
      goto done;
    if (!WinHttpWriteData(r.request, h->body + sent, blen - sent, &n)) {
      failed(&r, "sending the body");
      goto done;
    }
    sent += n;
  }
  if (!bound(&r))
    goto done;
  if (!WinHttpReceiveResponse(r.request, NULL)) {
    failed(&r, "receiving the answer");
    goto done;
  }
  DWORD status = 0, ssize = sizeof status;
  if (!WinHttpQueryHeaders(
          r.request, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
          WINHTTP_HEADER_NAME_BY_INDEX, &status, &ssize,
          WINHTTP_NO_HEADER_INDEX)) {
    failed(&r, "reading the status");
    goto done;
  }
  if (!read_body(&r))
    goto done;
  h->status = (long)status;
  h->res = TDSC__HTTP_OK;
  h->provider = 0;
done:
  if (r.timed_out) {
    h->res = TDSC__HTTP_TIMEOUT;
    snprintf(h->why, sizeof h->why, "%ld ms passed", h->timeout_ms);
  }
  if (r.request) {
    WinHttpSetStatusCallback(r.request, NULL, 0, 0);
    WinHttpCloseHandle(r.request);
  }
  if (r.connect)
    WinHttpCloseHandle(r.connect);
  if (r.session)
    WinHttpCloseHandle(r.session);
  if (hdrs) {
    tdsc__wipe(hdrs, hlen * sizeof *hdrs);
    free(hdrs);
  }
  if (url) {
    tdsc__wipe(url, wcslen(url) * sizeof *url);
    free(url);
  }
  free(host);
  free(path);
  free(host8);
}
