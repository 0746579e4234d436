/* The front of TLS (tls.h): what both backends (tls_openssl.c,
 * tls_schannel.c) do alike, written once so that they say the same thing
 * of the same cause: the blocking handshake as a loop over the resumable
 * one, the peer's name in messages, the options checked before a
 * handshake, and the verdict on the server's first answer (TDS 8.0 strict,
 * MS-TDS 2.2.6.5 and 3.2.5.2 for the PRELOGIN-wrapped 7.x handshake). */
#include "config.h"

#include "tls/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tdsc__tls_where(const tdsc__tls_opts *o, char *out, size_t cap) {
  const char *host = o->host && *o->host ? o->host : NULL;
  const char *peer = o->peer && *o->peer ? o->peer : NULL;
  /* "localhost at 127.0.0.1:1433", but "127.0.0.1:1433" for 127.0.0.1 */
  if (host && peer && strncmp(peer, host, strlen(host)) != 0 &&
      !(peer[0] == '[' && strncmp(peer + 1, host, strlen(host)) == 0))
    snprintf(out, cap, "%s at %s", host, peer);
  else
    snprintf(out, cap, "%s", peer ? peer : host ? host : "the server");
}

tdsc_errc tdsc__tls_check_opts(const tdsc__tls_opts *o, tdsc_error *err) {
  const char *check = o->cert_host ? o->cert_host : o->host;
  if (o->verify && (!check || !*check))
    /* a chain check alone would accept any certificate of that CA */
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "no host name to verify the server's certificate "
                         "against");
  return TDSC_OK;
}

void tdsc__tls_ip_text(const void *ip, size_t len, char *out, size_t cap) {
  char text[INET6_ADDRSTRLEN] = "?";
  if (len == 4)
    inet_ntop(AF_INET, ip, text, sizeof text);
  else if (len == 16)
    inet_ntop(AF_INET6, ip, text, sizeof text);
  snprintf(out, cap, "IP:%s", text);
}

bool tdsc__tls_list_add(char *out, size_t cap, size_t *used, const char *item) {
  if (*used + 1 >= cap)
    return false;
  int n = snprintf(out + *used, cap - *used, "%s%s", *used ? ", " : "", item);
  if (n < 0 || (size_t)n >= cap - *used) {
    out[*used] = '\0';
    return false;
  }
  *used += (size_t)n;
  return true;
}

void tdsc__tls_cert_text(char *cert, size_t cap, const char *where,
                         const char *subject, const char *issuer) {
  snprintf(cert, cap, "the certificate of %s (subject %s, issuer %s)", where,
           subject, issuer);
}

tdsc_errc tdsc__tls_cert_time_error(tdsc_error *err, tdsc_errc code,
                                    const char *cert, const char *issuer,
                                    bool early, const char *when) {
  const char *what = early ? "is not valid before" : "expired on";
  if (issuer)
    return tdsc__err_set(err, code, "%s: the issuing certificate %s %s %s",
                         cert, issuer, what, when);
  return tdsc__err_set(err, code, "%s %s %s", cert, what, when);
}

tdsc_errc tdsc__tls_cert_name_error(tdsc_error *err, tdsc_errc code,
                                    const char *cert, const tdsc__tls_opts *o,
                                    const char *names) {
  const char *checked = o->cert_host ? o->cert_host : o->host;
  return tdsc__err_set(err, code,
                       "%s does not match the name checked, %s%s (it names "
                       "%s)",
                       cert, checked ? checked : "?",
                       o->cert_host ? " (HostNameInCertificate)" : "", names);
}

/* A TLS record starts with its content type: change_cipher_spec (20),
 * alert (21), handshake (22) or application data (23). */
static bool is_tls_record_type(uint8_t b) { return b >= 0x14 && b <= 0x17; }

tdsc_errc tdsc__tls_first_read(const char *where, bool strict, tdsc_errc rc,
                               const uint8_t *data, size_t got,
                               tdsc_error *err) {
  if (rc != TDSC_OK) {
    /* A pre-2022 server reading 0x16 where it expects a TDS packet
     * header hangs up: that is the server not speaking TDS 8.0. */
    if (strict && (rc == TDSC_E_CONN_CLOSED || rc == TDSC_E_CONN_RESET))
      return tdsc__err_set(err, TDSC_E_TLS_STRICT_UNSUPPORTED,
                           "%s closed the connection instead of answering "
                           "the TDS 8.0 (Encrypt=strict) TLS handshake",
                           where);
    return rc;
  }
  /* Name a non-TLS answer ourselves: OpenSSL would call it a "wrong
   * version number", which reads like a TLS version mismatch. */
  if (got == 0 || is_tls_record_type(data[0]))
    return TDSC_OK;
  if (strict)
    return tdsc__err_set(err, TDSC_E_TLS_STRICT_UNSUPPORTED,
                         "%s answered the TDS 8.0 (Encrypt=strict) TLS "
                         "handshake with a non-TLS message (first byte "
                         "0x%02x%s)",
                         where, (unsigned)data[0],
                         data[0] == 0x04 ? ", a TDS packet" : "");
  return tdsc__err_set(err, TDSC_E_TLS_HANDSHAKE,
                       "%s answered the TLS handshake (in PRELOGIN "
                       "packets) with data that is not TLS (first byte "
                       "0x%02x)",
                       where, (unsigned)data[0]);
}

void tdsc__tls_hs_free(tdsc__tls_hs *hs) {
  if (!hs)
    return;
  if (hs->wrap)
    hs->wrap->ops->destroy(hs->wrap);
  if (!hs->done && hs->filter)
    hs->filter->ops->destroy(hs->filter);
  tdsc__tls_be_free(hs);
  free(hs);
}

tdsc_errc tdsc__tls_hs_start(tdsc__io *top, const tdsc__tls_opts *opts,
                             tdsc__tls_hs **out, tdsc_error *err) {
  *out = NULL;
  tdsc_errc rc = tdsc__tls_check_opts(opts, err);
  if (rc != TDSC_OK)
    return rc;
  tdsc__tls_hs *hs = calloc(1, sizeof *hs);
  if (!hs)
    return tdsc__err_oom(err);
  hs->top = top;
  hs->opts = *opts;
  rc = tdsc__tls_be_new(hs, err);
  /* TDS 7.x: the handshake travels in PRELOGIN packets (MS-TDS 2.2.6.5) */
  if (rc == TDSC_OK && !opts->strict &&
      !(hs->wrap = tdsc__prelogin_wrap_new(top)))
    rc = tdsc__err_oom(err);
  if (rc != TDSC_OK) {
    tdsc__tls_hs_free(hs);
    return rc;
  }
  tdsc__tls_be_below(hs->filter, hs->wrap ? hs->wrap : top);
  *out = hs;
  return TDSC_OK;
}

tdsc_errc tdsc__tls_hs_step(tdsc__tls_hs *hs, tdsc__io **top, int *want,
                            tdsc_error *err) {
  *want = 0;
  if (!hs->done) {
    tdsc_errc rc = tdsc__tls_be_handshake(hs, want, err);
    if (rc != TDSC_OK)
      return rc;
    /* After the handshake TLS records go raw over the transport
     * (MS-TDS 3.2.5.2); the wrap filter frees only itself. */
    if (hs->wrap)
      hs->wrap->ops->destroy(hs->wrap);
    hs->wrap = NULL;
    tdsc__tls_be_below(hs->filter, hs->top);
    if ((rc = tdsc__tls_be_done(hs, err)) != TDSC_OK)
      return rc;
    hs->done = true;
  }
  *top = hs->filter;
  return TDSC_OK;
}

tdsc_errc tdsc__tls_start(tdsc__io **top, const tdsc__tls_opts *opts,
                          int64_t deadline, tdsc_error *err) {
  tdsc__tls_hs *hs = NULL;
  tdsc_errc rc = tdsc__tls_hs_start(*top, opts, &hs, err);
  while (rc == TDSC_OK) {
    int want = 0;
    tdsc__io *done = NULL;
    rc = tdsc__tls_hs_step(hs, &done, &want, err);
    if (rc == TDSC_OK) {
      *top = done;
      break;
    }
    if (rc != TDSC__AGAIN)
      break;
    rc = tdsc__io_wait(*top, want, deadline, err);
    if (rc != TDSC_OK) {
      /* The transport's own error (timeout, cancel), in the handshake. */
      char where[TDSC__TLS_WHERE_LEN];
      tdsc__tls_where(opts, where, sizeof where);
      tdsc__err_context(err, "TLS handshake with %s", where);
    }
  }
  tdsc__tls_hs_free(hs);
  return rc;
}

void tdsc__tls_pop(tdsc__io **top) {
  tdsc__io *io = *top;
  if (!tdsc__tls_is_filter(io))
    return;
  *top = io->next;
  io->ops->destroy(io);
}

/* ------------------------------------------------------ channel binding */

void tdsc__tls_channel_binding(const tdsc__io *io, tdsc__tls_binding *out) {
  memset(out, 0, sizeof *out);
  if (!tdsc__tls_is_filter(io)) {
    out->why = "no TLS";
    return;
  }
  tdsc__tls_be_binding(io, out);
  if (!out->type && !out->why)
    out->why = "the TLS backend gave none";
}
