/* Readable decodings of TDS messages for the protocol trace
 * (lib/session/trace.c holds the sink and the token stream): the client's
 * messages (PRELOGIN, LOGIN7, SQLBatch, RPC, SSPI, transaction manager)
 * and the server's PRELOGIN answer, one line at a time through a callback.
 * Lenient and bounds-checked: a malformed or truncated message decodes as
 * far as it goes, never fails.  Every secret is redacted here: LOGIN7
 * passwords, SSPI tokens (only their length and mechanism), FEDAUTH data. */
#ifndef TDSC_PROTO_TRACE_H
#define TDSC_PROTO_TRACE_H

#include "proto/proto.h"

#include <stdarg.h>

typedef struct tdsc__tout {
  void (*emit)(void *ud, const char *line); /* one line, no newline */
  void *ud;
} tdsc__tout;

/* Formats one line (cut at about 2 KiB) and emits it. */
void tdsc__tout_line(const tdsc__tout *o, const char *fmt, ...)
    TDSC__PRINTF(2, 3);

/* Appends s[0..n) (UTF-8) to out as a double-quoted string, control
 * characters escaped, cut after max bytes with "..." */
void tdsc__trace_quote(tdsc__buf *out, const uint8_t *s, size_t n, size_t max);

/* The packet type's name ("LOGIN7"), "?" when unknown. */
const char *tdsc__trace_pkt_name(uint8_t type);

/* Decodes a whole message of packet type `type` from the client (payload
 * without packet headers; truncated: the trace kept only its start). */
void tdsc__trace_client_msg(const tdsc__tout *o, uint8_t type, const uint8_t *p,
                            size_t n, bool truncated);
/* The server's PRELOGIN answer. */
void tdsc__trace_prelogin(const tdsc__tout *o, const char *who,
                          const uint8_t *p, size_t n);
/* What an SSPI token is, never its bytes: "412 bytes, SPNEGO
 * NegTokenInit (Kerberos, NTLM)", into buf. */
const char *tdsc__trace_sspi_kind(const uint8_t *p, size_t n, char *buf,
                                  size_t len);

#endif
