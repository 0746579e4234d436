/* TLS over any I/O stack, with OpenSSL (tls_openssl.c) or Schannel
 * (tls_schannel.c), behind one front (tls.c).  TDS 7.x wraps the
 * handshake in PRELOGIN packets (prelogin_wrap.c, a filter under TLS that is
 * removed once the handshake is done); TDS 8.0 (strict) runs TLS directly on
 * the transport with ALPN "tds/8.0".  Certificate and host-name verification
 * are on unless the caller turns them off. */
#ifndef TDSC_TLS_H
#define TDSC_TLS_H

#include "transport/io.h"

typedef struct tdsc__tls_opts {
  const char *host;      /* for SNI and, unless cert_host, verification */
  const char *cert_host; /* HostNameInCertificate=, or NULL */
  const char *cafile;    /* CAFile=, or NULL for the system store */
  bool verify;           /* false only for TrustServerCertificate=yes */
  bool strict;           /* TDS 8.0: ALPN tds/8.0, no PRELOGIN wrap */
  const char *peer;      /* for messages only: the address connected to,
                            "127.0.0.1:1433" (tdsc__tcp_connect's addr),
                            or NULL */
  bool report_only;      /* with verify false (tdsc-doctor): verify all
                            the same, never fail on it, and keep the
                            verdict for tdsc__tls_verdict */
} tdsc__tls_opts;

/* Runs the handshake over *top and pushes the TLS filter: on success *top is
 * the TLS filter (its next the old *top). Codes: TLS_CERT_UNTRUSTED,
 * TLS_CERT_EXPIRED, TLS_CERT_NAME_MISMATCH, TLS_CERT_REJECTED,
 * TLS_PROTOCOL_MISMATCH, TLS_STRICT_UNSUPPORTED (strict, and the server's
 * first answer is not TLS), TLS_HANDSHAKE, and the transport's own codes;
 * messages name the certificate subject and the host checked. On failure
 * *top is unchanged (and still usable only for closing). */
tdsc_errc tdsc__tls_start(tdsc__io **top, const tdsc__tls_opts *opts,
                          int64_t deadline, tdsc_error *err);
/* The same handshake, resumable (issue 16: the connect state machine):
 * start sets it up over top (nothing sent yet); each step goes as far as
 * it can without waiting: TDSC__AGAIN with *want (io.h: wait on
 * tdsc__io_pollfd(top), tdsc__io_wait), TDSC_OK with *top the TLS filter
 * over the old top, or the codes of tdsc__tls_start.  opts (and its
 * strings) must outlive the handshake.  tdsc__tls_hs_free after the last
 * step whatever it returned (after success it frees only the handle);
 * tdsc__tls_start (tls.c) is this loop with tdsc__io_wait until the
 * deadline.  Both backends' records are non-blocking too (io.h). */
typedef struct tdsc__tls_hs tdsc__tls_hs;
tdsc_errc tdsc__tls_hs_start(tdsc__io *top, const tdsc__tls_opts *opts,
                             tdsc__tls_hs **out, tdsc_error *err);
tdsc_errc tdsc__tls_hs_step(tdsc__tls_hs *hs, tdsc__io **top, int *want,
                            tdsc_error *err);
void tdsc__tls_hs_free(tdsc__tls_hs *hs);
/* Removes the TLS filter from the top of the stack without a close_notify
 * (TDS "login-only" encryption ends TLS after LOGIN7). */
void tdsc__tls_pop(tdsc__io **top);
/* "TLSv1.3" etc. for a TLS filter; "" otherwise. */
const char *tdsc__tls_version(const tdsc__io *io);

/* Facts of a handshake, for tdsc-doctor's report. */
#define TDSC__TLS_MAX_CERTS 4
typedef struct tdsc__tls_cert_info {
  char subject[256]; /* RFC 2253: "CN=localhost,O=..." */
  char issuer[256];
  char not_before[32]; /* "2024-01-01 00:00:00 UTC" */
  char not_after[32];
  char sans[512]; /* "DNS:localhost, IP:127.0.0.1" */
} tdsc__tls_cert_info;

typedef struct tdsc__tls_info {
  char version[16];   /* "TLSv1.2" */
  char cipher[64];    /* OpenSSL's name, "ECDHE-RSA-AES256-GCM-SHA384" */
  char alpn[32];      /* negotiated ALPN protocol, "" when none */
  long verify_result; /* X509_V_OK or OpenSSL's verify error */
  char verify_text[128];
  size_t ncerts; /* of the chain the server sent, leaf first */
  tdsc__tls_cert_info certs[TDSC__TLS_MAX_CERTS];
} tdsc__tls_info;

/* Fills out for a TLS filter (after tdsc__tls_start succeeded);
 * TDSC_E_INVALID_ARGUMENT when io is not one. */
tdsc_errc tdsc__tls_peer_info(const tdsc__io *io, tdsc__tls_info *out);
/* For a handshake started with report_only: the error certificate
 * verification would have failed it with (the same code and message
 * tdsc__tls_start gives with verify on), or TDSC_OK when the certificate
 * passed. opts: those given to tdsc__tls_start. */
tdsc_errc tdsc__tls_verdict(const tdsc__io *io, const tdsc__tls_opts *opts,
                            tdsc_error *err);

/* The channel binding of an established TLS session (RFC 5056, RFC 5929),
 * for Extended Protection (doc/channel-binding.md): type "tls-unique" and
 * its bytes (the first Finished message's verify_data), or type NULL and
 * why there is none ("TLS 1.3 has no tls-unique ..."). */
#define TDSC__TLS_BINDING_MAX 64
typedef struct tdsc__tls_binding {
  const char *type; /* "tls-unique", or NULL: none */
  const char *why;  /* type NULL: why none, for the trail (static) */
  uint8_t data[TDSC__TLS_BINDING_MAX];
  size_t len;
} tdsc__tls_binding;
/* Fills out for io, the TLS filter at the top of the stack; io not a TLS
 * filter: none ("no TLS").  Never fails: no binding is an answer. */
void tdsc__tls_channel_binding(const tdsc__io *io, tdsc__tls_binding *out);
/* The backend's part, for its own filter: as above. */
void tdsc__tls_be_binding(const tdsc__io *filter, tdsc__tls_binding *out);

/* ---- For the backends: what they share (tls.c). */
#define TDSC__TLS_WHERE_LEN 320
/* The peer in messages: "localhost at 127.0.0.1:1433", or the address
 * alone when it is the host name, or "the server". */
void tdsc__tls_where(const tdsc__tls_opts *o, char *out, size_t cap);
/* INVALID_ARGUMENT when verification has no name to check against. */
tdsc_errc tdsc__tls_check_opts(const tdsc__tls_opts *o, tdsc_error *err);
/* The verdict on the first read of a handshake from below: rc and got
 * bytes of data as the read returned them.  TLS_STRICT_UNSUPPORTED for a
 * strict handshake the server hung up on or answered with no TLS record,
 * TLS_HANDSHAKE for a 7.x one answered with no TLS record, rc otherwise
 * (err set only for the first two). */
tdsc_errc tdsc__tls_first_read(const char *where, bool strict, tdsc_errc rc,
                               const uint8_t *data, size_t got,
                               tdsc_error *err);
/* A certificate's names for messages: "IP:127.0.0.1" from the len (4 or
 * 16) bytes of an iPAddress entry, "IP:?" for any other length. */
void tdsc__tls_ip_text(const void *ip, size_t len, char *out, size_t cap);
/* Appends item to the list out ("DNS:a, IP:b"), *used long; false (out
 * unchanged past *used) once it does not fit. */
bool tdsc__tls_list_add(char *out, size_t cap, size_t *used, const char *item);
/* The words of a certificate verdict, alike from both backends.  cert:
 * "the certificate of WHERE (subject S, issuer I)"; validity: issuer is
 * the subject of the issuing certificate out of its period, NULL when
 * it is the server's own; name mismatch: names, what it holds (san). */
void tdsc__tls_cert_text(char *cert, size_t cap, const char *where,
                         const char *subject, const char *issuer);
tdsc_errc tdsc__tls_cert_time_error(tdsc_error *err, tdsc_errc code,
                                    const char *cert, const char *issuer,
                                    bool early, const char *when);
tdsc_errc tdsc__tls_cert_name_error(tdsc_error *err, tdsc_errc code,
                                    const char *cert, const tdsc__tls_opts *o,
                                    const char *names);
/* Whether io is the backend's TLS filter. */
bool tdsc__tls_is_filter(const tdsc__io *io);

/* A handshake in progress: tls.c keeps the frame (the PRELOGIN wrap, the
 * stack the filter goes on), the backend its filter and state. */
struct tdsc__tls_hs {
  tdsc__io *filter; /* the backend's TLS filter over top, off the stack
                       until the handshake is done */
  tdsc__io *wrap;   /* the PRELOGIN wrap under it (TDS 7.x), or NULL */
  tdsc__io *top;    /* the stack the filter goes on */
  tdsc__tls_opts opts;
  void *extra; /* the backend's own (OpenSSL: the SSL_CTX) */
  bool done;
};
/* The backend's part of the handshake (tls_openssl.c, tls_schannel.c).
 * be_new sets hs->filter up for hs->opts (nothing sent); be_below makes
 * the filter talk through below (the wrap, then the transport);
 * be_handshake goes as far as it can without waiting (TDSC__AGAIN with
 * *want; TDSC_OK when done; tdsc__tls_start's codes); be_done runs once
 * the wrap is gone, before any data (the certificate's verdict, record
 * sizes); be_free frees hs->extra (tls.c destroys the filter). */
tdsc_errc tdsc__tls_be_new(tdsc__tls_hs *hs, tdsc_error *err);
void tdsc__tls_be_below(tdsc__io *filter, tdsc__io *below);
tdsc_errc tdsc__tls_be_handshake(tdsc__tls_hs *hs, int *want, tdsc_error *err);
tdsc_errc tdsc__tls_be_done(tdsc__tls_hs *hs, tdsc_error *err);
void tdsc__tls_be_free(tdsc__tls_hs *hs);

/* The PRELOGIN wrap filter (prelogin_wrap.c): writes are sent as PRELOGIN
 * packets (one per write, split at 4096 bytes), reads return the payloads
 * of the packets received. */
tdsc__io *tdsc__prelogin_wrap_new(tdsc__io *next);

#endif
