/* SQL Server Browser client (MC-SQLR, "SSRP"): asks UDP 1434 of a host
 * where an instance listens (TCP port, pipe name).  The request encoder
 * and the reply parser are pure (bytes in, fields out) for unit tests;
 * tdsc__ssrp_resolve does the UDP exchange.  The session (lib/session)
 * turns `host\instance` into a TCP port or a pipe with it. */
#ifndef TDSC_SSRP_H
#define TDSC_SSRP_H

#include "error.h"
#include "transport/io.h"

#define TDSC__SSRP_PORT 1434
/* MC-SQLR 2.2.3: INSTANCENAME is at most 32 bytes, plus 0x04 and a NUL. */
#define TDSC__SSRP_INSTANCE_MAX 32
#define TDSC__SSRP_REQ_MAX (1 + TDSC__SSRP_INSTANCE_MAX + 1)

/* One instance of an SVR_RESP (MC-SQLR 2.2.5).  Strings are NUL-terminated
 * and as the server sent them (MBCS in its code page; ASCII in practice). */
typedef struct tdsc__ssrp_info {
  char server_name[256];   /* SERVERNAME, at most 255 bytes */
  char instance_name[256]; /* INSTANCENAME, at most 255 bytes */
  bool is_clustered;       /* IsClustered;Yes */
  char version[32];        /* VERSION_STRING ("11.0.3000.0"), <= 16 in spec */
  uint16_t tcp_port;       /* TCP_INFO, 0 when the instance has no TCP */
  char pipe[256];          /* NP_INFO ("\\HOST\pipe\sql\query"), "" if none */
  char address[96];        /* resolve only: who answered, "[::1]:1434" */
} tdsc__ssrp_info;

/* Encodes CLNT_UCAST_INST (MC-SQLR 2.2.3): 0x04, the instance name and a
 * terminating NUL, into out (TDSC__SSRP_REQ_MAX bytes); *outlen gets the
 * length.  The NUL is sent because 2.2.3 says the name is null-terminated
 * and Microsoft's own clients send it (mcsqlr_4.2 vector); servers also
 * answer without it (esf vector), which is what we would fall back to if
 * one ever did not.  BAD_OPTION_VALUE for an empty name or one longer
 * than 32 bytes (2.2.3). */
tdsc_errc tdsc__ssrp_request(const char *instance,
                             uint8_t out[TDSC__SSRP_REQ_MAX], size_t *outlen,
                             tdsc_error *err);

/* Parses one SVR_RESP datagram (p, n bytes: 0x05, u16le RESP_SIZE, then
 * RESP_SIZE bytes of `;`-separated text, each instance ending `;;`) and
 * fills out with the instance named want_instance (compared without
 * regard to ASCII case, MC-SQLR 2.2).  The whole reply is checked before
 * anything is picked.  Codes: BROWSER_REPLY_MALFORMED (the message says
 * where and why), INSTANCE_NOT_FOUND (the message lists the instances the
 * reply names).  out->address is left untouched. */
tdsc_errc tdsc__ssrp_parse(const uint8_t *p, size_t n,
                           const char *want_instance, tdsc__ssrp_info *out,
                           tdsc_error *err);

/* Asks the SQL Server Browser of host (browser_port, 0 for 1434) about
 * instance: sends CLNT_UCAST_INST to every address of host (IPv6 and
 * IPv4) at once, from a connected UDP socket each (so only that address's
 * replies are read, and an ICMP "port unreachable" is seen), and resends
 * after 250 ms, 500 ms, 1 s, 1 s... until a reply comes or deadline
 * passes.  A browser does not answer for an instance it lacks (MC-SQLR
 * 3.1.5.2), so each resend adds CLNT_UCAST_EX, whose list of every
 * instance tells a wrong name from a silent browser.  The first
 * well-formed reply decides.  Codes: HOST_NOT_FOUND,
 * BROWSER_UNREACHABLE (no reply in time, or every address refused),
 * INSTANCE_NOT_FOUND, BROWSER_REPLY_MALFORMED, BAD_OPTION_VALUE (instance
 * name), SOCKET. */
tdsc_errc tdsc__ssrp_resolve(const char *host, uint16_t browser_port,
                             const char *instance, int64_t deadline,
                             tdsc__ssrp_info *out, tdsc_error *err);

/* The same exchange, resumable (the connect state machine).  start takes
 * the browser's addresses (addrs, naddr: resolved by the caller for UDP
 * and browser_port, and taken over whatever start returns; NULL: start
 * resolves them, blocking) and opens a socket each; each step sends when
 * a (re)send is due and reads what has come, without waiting: the codes
 * of tdsc__ssrp_resolve with *out, or TDSC__AGAIN: wait until *fd (a
 * socket) is readable or *timer_ms has passed, then step again.  One
 * socket to wait on: while several are live the timer is at most 50 ms,
 * so every answer is seen within that (the blocking form waits on all of
 * them).  tdsc__ssrp_free in every case. */
typedef struct tdsc__ssrp_query tdsc__ssrp_query;
tdsc_errc tdsc__ssrp_start(const char *host, uint16_t browser_port,
                           const char *instance, tdsc__addr *addrs,
                           size_t naddr, tdsc__ssrp_query **out,
                           tdsc_error *err);
tdsc_errc tdsc__ssrp_step(tdsc__ssrp_query *q, int64_t deadline,
                          tdsc__ssrp_info *out, intptr_t *fd, int *timer_ms,
                          tdsc_error *err);
void tdsc__ssrp_free(tdsc__ssrp_query *q);

#endif
