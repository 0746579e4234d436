/* A minimal TDS client over any tdsc__io (PRELOGIN, optional TLS, LOGIN7,
 * SQL batches, whole reply messages without token decoding): for testing
 * transports against the test server (check_shm) and for bench/, before
 * the session can be pointed at a transport other than TCP. */
#ifndef TDSC_TDS_MINI_H
#define TDSC_TDS_MINI_H

#include "transport/io.h"

#include "buf.h"

typedef enum {
  MINI_TLS_NONE,  /* PRELOGIN ENCRYPT_NOT_SUP: no TLS at all */
  MINI_TLS_TDS7,  /* ENCRYPT_ON: handshake in PRELOGIN packets, full TLS */
  MINI_TLS_STRICT /* TDS 8.0: TLS first, ALPN tds/8.0 */
} mini_tls;

/* Sends one message of type as packets of at most 4096 bytes. */
tdsc_errc mini_send(tdsc__io *io, uint8_t type, const void *payload, size_t len,
                    int64_t deadline, tdsc_error *err);
/* Reads packets up to the one with EOM; appends payloads to out (reset
 * first); *type is the first packet's type. */
tdsc_errc mini_recv(tdsc__io *io, tdsc__buf *out, uint8_t *type,
                    int64_t deadline, tdsc_error *err);
/* PRELOGIN, TLS as asked (verified against cafile, host "localhost"),
 * LOGIN7 with a SQL login; *io may gain a TLS filter on top.  Fails with
 * LOGIN_FAILED when the reply has no LOGINACK. */
tdsc_errc mini_login(tdsc__io **io, mini_tls tls, const char *cafile,
                     const char *user, const char *password, int64_t deadline,
                     tdsc_error *err);
/* Sends sql as a batch and reads the whole reply into out. */
tdsc_errc mini_query(tdsc__io *io, const char *sql, tdsc__buf *out,
                     int64_t deadline, tdsc_error *err);

#endif
