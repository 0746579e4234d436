/* tdsclient: a C client for SQL Server's wire protocol (TDS 7.4 and 8.0).
 *
 * The only public header.  Every handle is opaque.  Ownership rules, for
 * every function below unless its comment says otherwise:
 *   - what a *_new or *_dup returns, the caller frees with the matching
 *     *_free; every *_free accepts NULL;
 *   - a returned `const char *` or `const tdsc_*` lives as long as the handle
 *     it came from, and (for a connection or result) until the next call that
 *     changes that handle;
 *   - functions that can fail return tdsc_errc (TDSC_OK on success); the
 *     details are a tdsc_error, reached with tdsc_conn_error().
 *
 * Public enums are append-only: values are never renumbered or removed.
 *
 * Threads: a connection and everything that came from it (its results,
 * statements, errors) is used by one thread at a time; different
 * connections may be used from different threads at once.  The one call
 * that may come from another thread (or a signal handler) while a call
 * on the connection runs is tdsc_conn_cancel.  Functions without a handle
 * (tdsc_version, tdsc_errc_*, tdsc_option_at, tdsc_decimal_from_string)
 * may be called from any thread.  A Kerberos call the library made on a
 * worker thread and abandoned (its connect gave up) runs on until it
 * returns; the first such call keeps the library loaded until the
 * process ends (tdsclient(3), THREADS).
 *
 * Blocking and non-blocking: by default a call waits for the network, at
 * most as long as its timeout.  A connection in non-blocking mode
 * (tdsc_conn_set_nonblocking, "Non-blocking mode" below) never waits in a
 * request or its result: such a call returns TDSC_E_WOULD_BLOCK and is
 * called again once the connection's descriptor is ready.  The connect
 * (tdsc_conn_connect) blocks in both modes; tdsc_conn_connect_start and
 * tdsc_conn_connect_poll connect without waiting ("Non-blocking mode").
 */
#ifndef TDSCLIENT_H
#define TDSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tdsclient/errors.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(TDSC_BUILDING_DLL)
#define TDSC_API __declspec(dllexport)
#elif defined(__GNUC__)
#define TDSC_API __attribute__((visibility("default")))
#else
#define TDSC_API
#endif

#define TDSC_VERSION_MAJOR 0
#define TDSC_VERSION_MINOR 1
#define TDSC_VERSION_PATCH 0
#define TDSC_VERSION_STRING "0.1.0"

/* Feature macros: test for features at compile time. */
#define TDSC_HAS_TLS_STRICT 1 /* Encrypt=strict (TDS 8.0) */
#define TDSC_HAS_TRACE 1      /* tdsc_conn_set_trace, Trace=, TDSC_TRACE */
#define TDSC_HAS_NONBLOCKING 1 /* tdsc_conn_set_nonblocking and friends */
#define TDSC_HAS_ENTRA 1 /* Authentication=entra, AccessToken=,
                            tdsc_conn_set_token_provider */
/* tls-unique bindings for Extended Protection, tdsc_attempt_channel_binding */
#define TDSC_HAS_CHANNEL_BINDING 1
/* Failover Partner= (database mirroring), tdsc_conn_failover_partner */
#define TDSC_HAS_FAILOVER_PARTNER 1

/* Returns the library's version string, e.g. "0.1.0". Static storage. */
TDSC_API const char *tdsc_version(void);

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

#define TDSC__ERRC_ENUM(name, num, cat, hint) TDSC_E_##name = num,
typedef enum tdsc_errc { TDSC_ERRC_MAP(TDSC__ERRC_ENUM) } tdsc_errc;
#undef TDSC__ERRC_ENUM
#define TDSC_OK TDSC_E_OK

typedef enum tdsc_category {
  TDSC_CAT_NONE = 0,
  TDSC_CAT_USAGE = 1,
  TDSC_CAT_RESOURCE = 2,
  TDSC_CAT_TRANSPORT = 3,
  TDSC_CAT_TLS = 4,
  TDSC_CAT_KERBEROS = 5,
  TDSC_CAT_NTLM = 6,
  TDSC_CAT_SQL_LOGIN = 7,
  TDSC_CAT_SERVER = 8,
  TDSC_CAT_PROTOCOL = 9,
  TDSC_CAT_ENTRA = 10 /* Microsoft Entra ID access tokens */
} tdsc_category;

/* Where an error's raw status came from. */
typedef enum tdsc_provider {
  TDSC_PROVIDER_NONE = 0,
  TDSC_PROVIDER_ERRNO = 1,       /* [0] errno (or WSA error on Windows) */
  TDSC_PROVIDER_GETADDRINFO = 2, /* [0] EAI_* code */
  TDSC_PROVIDER_OPENSSL = 3,     /* [0] ERR_get_error(), [1] X509 verify result */
  TDSC_PROVIDER_GSSAPI = 4,      /* [0] major, [1] minor, [2] krb5 code */
  TDSC_PROVIDER_SSPI = 5,        /* [0] SECURITY_STATUS */
  TDSC_PROVIDER_SERVER = 6,      /* [0] error number, [1] state, [2] class */
  TDSC_PROVIDER_HTTP = 7         /* a token endpoint: [0] HTTP status, [1]
                                    the first AADSTS code, [2] CURLcode */
} tdsc_provider;

/* Names and hints of codes and categories: static strings; an unknown value
 * gives "UNKNOWN" / "" / TDSC_CAT_NONE. The name is the enum name without
 * its TDSC_E_ prefix, e.g. "CONN_REFUSED". */
TDSC_API const char *tdsc_errc_name(tdsc_errc code);
TDSC_API const char *tdsc_errc_hint(tdsc_errc code);
TDSC_API tdsc_category tdsc_errc_category(tdsc_errc code);
TDSC_API const char *tdsc_category_name(tdsc_category cat);

typedef struct tdsc_error tdsc_error;
typedef struct tdsc_message tdsc_message;
typedef struct tdsc_attempt tdsc_attempt;

TDSC_API tdsc_errc tdsc_error_code(const tdsc_error *e);
TDSC_API tdsc_category tdsc_error_category(const tdsc_error *e);
/* Human text naming the concrete objects (host, port, certificate subject,
 * server error number...). Never NULL. */
TDSC_API const char *tdsc_error_message(const tdsc_error *e);
/* The remediation hint: this failure's own where its facts decide the
 * remedy (which side of a TLS version mismatch to change; whether a local
 * transport is an option), else the code's (tdsc_errc_hint). Never NULL;
 * lives as long as e. */
TDSC_API const char *tdsc_error_hint(const tdsc_error *e);
TDSC_API tdsc_provider tdsc_error_provider(const tdsc_error *e);
/* Raw provider status number idx (0..2), as documented by tdsc_provider;
 * 0 when absent. */
TDSC_API long long tdsc_error_provider_status(const tdsc_error *e,
                                              unsigned idx);
/* The provider's own text for the status (strerror, OpenSSL's reason...),
 * or "" when none. */
TDSC_API const char *tdsc_error_provider_text(const tdsc_error *e);
/* For TDSC_CAT_SERVER / TDSC_CAT_SQL_LOGIN errors caused by an ERROR token:
 * that server message; otherwise NULL. */
TDSC_API const tdsc_message *tdsc_error_server_message(const tdsc_error *e);
/* A connect's attempts, in order (one per transport / mechanism tried). */
TDSC_API size_t tdsc_error_trail_count(const tdsc_error *e);
TDSC_API const tdsc_attempt *tdsc_error_trail_at(const tdsc_error *e,
                                                 size_t i);
/* A multi-line report: code name, category, message, hint, provider status
 * and the trail. Lives as long as e. */
TDSC_API const char *tdsc_error_report(const tdsc_error *e);
/* Deep copy, to keep an error beyond the next call on its connection. NULL
 * on out-of-memory. */
TDSC_API tdsc_error *tdsc_error_dup(const tdsc_error *e);
TDSC_API void tdsc_error_free(tdsc_error *e);

/* One attempt of a connect: what was tried and how it ended. Strings are
 * "" when not applicable. */
TDSC_API const char *tdsc_attempt_transport(const tdsc_attempt *a); /* "tcp" */
TDSC_API const char *tdsc_attempt_address(const tdsc_attempt *a); /* host:port */
TDSC_API const char *tdsc_attempt_tls(const tdsc_attempt *a); /* "off", "login-only", "tds7", "strict" */
TDSC_API const char *tdsc_attempt_mechanism(const tdsc_attempt *a); /* "sql" */
TDSC_API const char *tdsc_attempt_target(const tdsc_attempt *a); /* user or SPN */
/* The channel binding an integrated login carried (Extended Protection):
 * "tls-unique", or "none: " and why none could be made (e.g. "none: TLS
 * 1.3 has no tls-unique ..."); "" for a login without tokens or an
 * attempt that ended before LOGIN7. */
TDSC_API const char *tdsc_attempt_channel_binding(const tdsc_attempt *a);
/* Where the server sent the login (ENVCHANGE routing, MS-TDS 2.2.7.9: a
 * gateway, an availability group's read-only routing): "host,port", the
 * next attempt's address; "" when the attempt was not routed. A routed
 * attempt logged in (its error is NULL unless following the route was
 * refused, e.g. TDSC_E_ROUTING_TOO_MANY_HOPS). */
TDSC_API const char *tdsc_attempt_routed_to(const tdsc_attempt *a);
/* An Entra ID attempt's access token, never the token itself: where it
 * came from ("AccessToken=", "the application's token provider", or for
 * a fetched one "token endpoint <url>, client id <id>, tenant <t>; " and
 * what the request presented: "a client secret (not shown)", the
 * certificate's subject and thumbprint, the federated token file; for
 * managed identity "managed identity endpoint <url>, client id <id>" or
 * "..., the system-assigned identity"), and its claims as read before it
 * was sent, also when they made the attempt fail ("aud=..., iss=...,
 * tid=..., upn=..., unique_name=..., oid=..., appid=..., nbf=..., exp=...",
 * those present, times as "YYYY-MM-DD HH:MM:SS UTC").  "" for another
 * mechanism, and when there is none (no token had, or no JWT). */
TDSC_API const char *tdsc_attempt_token_source(const tdsc_attempt *a);
TDSC_API const char *tdsc_attempt_token_claims(const tdsc_attempt *a);
/* NULL when the attempt succeeded. */
TDSC_API const tdsc_error *tdsc_attempt_error(const tdsc_attempt *a);

/* A server message: an INFO token (class <= 10) or an ERROR token. */
TDSC_API int32_t tdsc_message_number(const tdsc_message *m);
TDSC_API uint8_t tdsc_message_state(const tdsc_message *m);
TDSC_API uint8_t tdsc_message_class(const tdsc_message *m);
TDSC_API const char *tdsc_message_text(const tdsc_message *m);
TDSC_API const char *tdsc_message_server(const tdsc_message *m);
TDSC_API const char *tdsc_message_procedure(const tdsc_message *m);
TDSC_API int32_t tdsc_message_line(const tdsc_message *m);
TDSC_API bool tdsc_message_is_error(const tdsc_message *m);

/* ------------------------------------------------------------------------ */
/* Connections                                                               */

typedef struct tdsc_conn tdsc_conn;

/* A new, unconnected handle; NULL only when out of memory. */
TDSC_API tdsc_conn *tdsc_conn_new(void);
/* Closes the connection (if open) and frees the handle. */
TDSC_API void tdsc_conn_free(tdsc_conn *c);

/* Connects from an ADO/ODBC-style connection string, e.g.
 *   "Server=tcp:db.example.com,1433;Database=app;UID=u;PWD=p;"
 *   "Encrypt=mandatory;LoginTimeout=15"
 * Keywords are case-insensitive; tdsclient(3) lists them. Unknown keywords
 * and malformed values are rejected (TDSC_E_UNKNOWN_KEYWORD,
 * TDSC_E_BAD_OPTION_VALUE) before any network traffic. Blocks for at most
 * LoginTimeout seconds. On failure the details are in tdsc_conn_error(). */
TDSC_API tdsc_errc tdsc_conn_connect(tdsc_conn *c, const char *connstr);
/* Closes the connection; the handle can connect again. */
TDSC_API void tdsc_conn_close(tdsc_conn *c);
TDSC_API bool tdsc_conn_is_connected(const tdsc_conn *c);

/* The error of the last failed call on c (or on a result of c); NULL when
 * the last call succeeded. Valid until the next call on c or its results. */
TDSC_API const tdsc_error *tdsc_conn_error(const tdsc_conn *c);

/* The attempts of the last connect, successful or not, in order: after a
 * fallback, the failed attempts before the one that logged in (whose
 * tdsc_attempt_error is NULL). Valid until the next connect or close. */
TDSC_API size_t tdsc_conn_attempt_count(const tdsc_conn *c);
TDSC_API const tdsc_attempt *tdsc_conn_attempt_at(const tdsc_conn *c,
                                                  size_t i);

/* Called for every INFO message (PRINT, database changes, ...) and every
 * ERROR token as it arrives. The message lives only during the call. */
typedef void (*tdsc_message_fn)(void *userdata, const tdsc_message *m);
TDSC_API void tdsc_conn_set_message_handler(tdsc_conn *c, tdsc_message_fn fn,
                                            void *userdata);

/* Protocol trace (tdsclient(3), TRACE): fn receives the decoded trace of
 * every packet c sends and receives, after TLS (direction, time, type,
 * PRELOGIN options, LOGIN7 fields, tokens, RPC parameters), one line per
 * call, UTF-8, no trailing newline; the line lives only during the call.
 * Passwords, NTLM and Kerberos/SPNEGO tokens and access tokens are never
 * in it (only their length and kind).  Trace= and TDSC_TRACE write the
 * same lines to a file; both may be on.  fn NULL turns the callback off.
 * Takes effect at once, also on an open connection; the trace never
 * changes what goes on the wire. */
typedef void (*tdsc_trace_fn)(void *userdata, const char *line);
TDSC_API void tdsc_conn_set_trace(tdsc_conn *c, tdsc_trace_fn fn,
                                  void *userdata);

/* Microsoft Entra ID access tokens (tdsclient(3), AUTHENTICATION): asked
 * for a token each time the entra mechanism of Authentication= runs, when
 * the connection string has no AccessToken=.  resource is the audience
 * the token must be for ("https://database.windows.net/", or
 * EntraAudience=).  Write the token (a JWT, UTF-8) with its final NUL into
 * buf (cap bytes) and return its length without the NUL; when it needs
 * more room, return the length it needs (cap or more) and it is asked
 * again once with a buffer that large.  Return -1 when it has no token
 * (the mechanism is skipped, TDSC_E_ENTRA_NO_TOKEN) and any other negative
 * value for a failure (TDSC_E_ENTRA_PROVIDER_FAILED).  The library wipes
 * buf after use; the token is never traced nor put in a message.  Called
 * on the thread that connects; fn NULL removes the provider. */
typedef long (*tdsc_token_fn)(void *userdata, const char *resource, char *buf,
                              size_t cap);
TDSC_API void tdsc_conn_set_token_provider(tdsc_conn *c, tdsc_token_fn fn,
                                           void *userdata);

/* Facts of the open session. Strings are "" when unknown. */
TDSC_API const char *tdsc_conn_database(const tdsc_conn *c);
TDSC_API const char *tdsc_conn_server_name(const tdsc_conn *c); /* LOGINACK program name */
TDSC_API const char *tdsc_conn_server_version(const tdsc_conn *c); /* "16.0.1000" */
/* Database mirroring: the partner the server named at login (ENVCHANGE
 * type 13, MS-TDS 2.2.7.9), "" when it named none.  After a login that
 * failed over, this is the name to give as Failover Partner= next time.
 * Lives as long as the session (until tdsc_conn_close). */
TDSC_API const char *tdsc_conn_failover_partner(const tdsc_conn *c);
TDSC_API uint32_t tdsc_conn_tds_version(const tdsc_conn *c); /* 0x74000004 */
TDSC_API uint32_t tdsc_conn_packet_size(const tdsc_conn *c);
/* "off", "login-only", "tds7" (full TLS after PRELOGIN), "strict" */
TDSC_API const char *tdsc_conn_encryption(const tdsc_conn *c);
TDSC_API const char *tdsc_conn_tls_version(const tdsc_conn *c); /* "TLSv1.3" or "" */

/* The connection-string keywords, as the parser knows them (for help
 * screens and diagnosis tools). Static storage; NULL past the end. */
typedef struct tdsc_option_info {
  const char *keyword;       /* canonical spelling, e.g. "Server" */
  const char *aliases;       /* '|'-separated, or NULL */
  const char *default_value; /* or NULL */
  const char *env;           /* environment variable read when absent, or NULL */
  const char *doc;           /* one line */
  bool secret;               /* never printed */
} tdsc_option_info;
TDSC_API const tdsc_option_info *tdsc_option_at(size_t i);

/* ------------------------------------------------------------------------ */
/* Cancel and timeouts                                                       */

/* Cancels the request in progress on c: safe to call from any thread (and
 * from a signal handler) while another thread waits in a call on c or its
 * result.  That call sends an attention, drops what the server still sends
 * until the server acknowledges, and fails with TDSC_E_CANCELLED; the
 * connection stays open.  When no call is waiting, the next call on the
 * open result does this (or tdsc_result_free, which then need not read the
 * rest of a large result).  A cancel while no request runs is forgotten
 * when the next request starts; connects are not cancelled (LoginTimeout
 * bounds them).  c must stay valid during the call. */
TDSC_API void tdsc_conn_cancel(tdsc_conn *c);
/* The query timeout of c's later requests, in milliseconds (0: none),
 * replacing QueryTimeout= until the next connect: the longest a call waits
 * for the server.  When it passes, the request is cancelled as by
 * tdsc_conn_cancel and the call fails with TDSC_E_QUERY_TIMEOUT, the
 * connection still open. If the server does not acknowledge within
 * CancelTimeout= (seconds, default 10), the connection is closed
 * (TDSC_E_READ_TIMEOUT). */
TDSC_API void tdsc_conn_set_query_timeout(tdsc_conn *c, uint32_t ms);

/* ------------------------------------------------------------------------ */
/* Non-blocking mode (for poll, epoll, kqueue, libuv... loops)               */

/* Turns non-blocking mode on or off for c's requests (it may be set
 * before or after the connect, and stays across connects;
 * tdsc_conn_connect blocks in either mode, tdsc_conn_connect_start never
 * waits in either).  In that mode:
 *   - tdsc_conn_execute, tdsc_stmt_execute queue the request, send what
 *     goes at once, and return the result; the rest is sent by
 *     tdsc_conn_flush or by the next call on the result (each flushes
 *     first);
 *   - every call that would wait for the network (next_set, next_row, a
 *     getter or tdsc_result_read reaching into a row with large values,
 *     tdsc_conn_flush, the transaction calls, tdsc_stmt_prepare) returns
 *     TDSC_E_WOULD_BLOCK instead (the steps: TDSC_STEP_ERROR with that
 *     code), having kept its progress: wait until tdsc_conn_socket is
 *     ready for tdsc_conn_wants, at most tdsc_conn_timeout_ms, then call
 *     the SAME function again with the same arguments; it goes on where
 *     it stopped (messages already handed to the handler are not handed
 *     again).  tdsc_result_read returns the bytes it has (TDSC_OK) and
 *     would block only with none;
 *   - timeouts are deadlines: when tdsc_conn_timeout_ms reaches 0, the
 *     call made then sends the attention itself (queued) and goes on as in
 *     blocking mode, ending with TDSC_E_QUERY_TIMEOUT (or
 *     TDSC_E_READ_TIMEOUT when CancelTimeout passes too);
 *   - tdsc_conn_cancel marks the request cancelled; the next call on the
 *     result sends the attention and, once the server acknowledged (maybe
 *     after more TDSC_E_WOULD_BLOCK), fails with TDSC_E_CANCELLED.  It
 *     does not wake the application's own poll: call again yourself;
 *   - tdsc_result_free never waits: what is left of the response is read
 *     (and dropped) by the next request's call, which may return
 *     TDSC_E_WOULD_BLOCK for it; tdsc_stmt_free's unprepare is queued the
 *     same way;
 *   - a streamed parameter (tdsc_stmt_bind_stream) is sent as it is read
 *     and its packets wait for the network even in this mode (so that
 *     memory stays constant).
 * TDSC_E_INVALID_ARGUMENT for NULL. */
TDSC_API tdsc_errc tdsc_conn_set_nonblocking(tdsc_conn *c, bool on);
TDSC_API bool tdsc_conn_is_nonblocking(const tdsc_conn *c);

/* The descriptor to wait on: a socket (POSIX: an int for poll(2); Windows:
 * a SOCKET, or an event HANDLE for the pipe and shared-memory transports),
 * or TDSC_INVALID_SOCKET when c is not connected.  It changes only with a
 * connect or close (during tdsc_conn_connect_poll's connect, from one
 * call to the next); never read or write it yourself. */
#ifdef _WIN32
typedef intptr_t tdsc_socket;
#else
typedef int tdsc_socket;
#endif
#define TDSC_INVALID_SOCKET ((tdsc_socket)-1)
TDSC_API tdsc_socket tdsc_conn_socket(const tdsc_conn *c);

/* What the call that returned TDSC_E_WOULD_BLOCK waits for: a mask of
 * TDSC_WANT_READ and TDSC_WANT_WRITE (TLS may need to write to read).
 * Without such a call: WRITE while a request is queued, READ while a
 * response is awaited; 0 when idle or not connected. */
#define TDSC_WANT_READ 1
#define TDSC_WANT_WRITE 2
TDSC_API int tdsc_conn_wants(const tdsc_conn *c);

/* Milliseconds until the deadline the connection runs under now (the
 * query timeout of the call that would block, or CancelTimeout while an
 * attention awaits its acknowledgement), 0 when it has passed (call
 * again: the call then times out), -1 when none: the timeout to give
 * poll(2). */
TDSC_API int tdsc_conn_timeout_ms(const tdsc_conn *c);

/* Sends what is queued: TDSC_OK once all went, TDSC_E_WOULD_BLOCK while
 * some remains (non-blocking mode).  Blocking mode: waits, within the
 * query timeout.  A failure closes the connection (TDSC_E_CONN_RESET,
 * TDSC_E_READ_TIMEOUT when the server accepted nothing in time, ...);
 * TDSC_E_NOT_CONNECTED. */
TDSC_API tdsc_errc tdsc_conn_flush(tdsc_conn *c);

/* Reads what the descriptor has now into c's input buffer (64 KiB), until
 * the transport would block or the buffer is full, without decoding it
 * and without waiting, in either mode; queued output is sent first.  For
 * edge-triggered loops, which must drain the descriptor at each event
 * (the other calls read only as much as they need; a call returns
 * TDSC_E_WOULD_BLOCK only after the transport said it has nothing more,
 * so waiting then is always right).  A transport failure closes the
 * connection and is returned (the open result fails with it). */
TDSC_API tdsc_errc tdsc_conn_consume(tdsc_conn *c);

/* The connect without waiting (libpq's PQconnectStart / PQconnectPoll),
 * in either mode.  tdsc_conn_connect_start closes c, parses connstr (its
 * errors before any traffic, as tdsc_conn_connect's) and goes as far as
 * it can; tdsc_conn_connect_poll goes on from there.  Each returns:
 *   TDSC_OK             connected (a poll after that returns TDSC_OK too);
 *   TDSC_E_WOULD_BLOCK  wait until tdsc_conn_socket is ready for
 *                       tdsc_conn_wants, at most tdsc_conn_timeout_ms
 *                       (a timer: wants may be 0, then only wait), then
 *                       call tdsc_conn_connect_poll.  Read all three again
 *                       after every call: each attempt (a fallback to the
 *                       next mechanism or transport, a TCP connect racing
 *                       addresses) has its own socket;
 *   any other code      the connect failed, with the error and trail of
 *                       attempts tdsc_conn_connect gives (returned once;
 *                       a later poll says TDSC_E_NOT_CONNECTED).
 * Timeouts are deadlines: LoginTimeout= per attempt, from its start; a
 * poll at tdsc_conn_timeout_ms 0 fails the attempt with the code the
 * blocking connect gives (the fallback may then go on).  The steps are the
 * blocking connect's, in the same order with the same policy (this is the
 * one code path): SQL Browser (an instance name without a port), TCP
 * (addresses raced as RFC 8305 says), PRELOGIN, TLS (OpenSSL and
 * Schannel), LOGIN7, SQL login and NTLM exchanges never wait; host name
 * resolution (getaddrinfo), acquiring Kerberos credentials from a
 * password or a keytab, and the Kerberos and NTLM token calls of GSSAPI
 * and SSPI run on a worker thread and the connect waits on a descriptor
 * the worker signals (tdsc_conn_socket is then no socket: wait for it to
 * be readable); so does the open of a Windows named pipe (and of the
 * SQLLocal pipe of shared memory).  A POSIX pipe whose listener's queue is
 * full is tried again on a timer; shared memory waits for the server's
 * answer on its rendezvous socket.  Until the connect ends, use c only
 * with these calls,
 * tdsc_conn_socket, tdsc_conn_wants, tdsc_conn_timeout_ms,
 * tdsc_conn_error, tdsc_conn_close and tdsc_conn_free (tdsc_conn_close
 * abandons the connect); requests fail with TDSC_E_NOT_CONNECTED.
 * TDSC_E_INVALID_ARGUMENT for NULL. */
TDSC_API tdsc_errc tdsc_conn_connect_start(tdsc_conn *c, const char *connstr);
TDSC_API tdsc_errc tdsc_conn_connect_poll(tdsc_conn *c);

/* ------------------------------------------------------------------------ */
/* Transactions                                                              */

typedef enum tdsc_isolation {
  TDSC_ISOLATION_UNCHANGED = 0, /* the session's current level */
  TDSC_ISOLATION_READ_UNCOMMITTED = 1,
  TDSC_ISOLATION_READ_COMMITTED = 2,
  TDSC_ISOLATION_REPEATABLE_READ = 3,
  TDSC_ISOLATION_SERIALIZABLE = 4,
  TDSC_ISOLATION_SNAPSHOT = 5
} tdsc_isolation;

/* Transaction manager requests (no SQL text). Each needs an open
 * connection with no open result (TDSC_E_BUSY) and reads the server's
 * answer to its end; the server's refusal is TDSC_E_SERVER_ERROR (e.g.
 * 3902 for a commit with no transaction). A level other than UNCHANGED
 * stays the session's level after the transaction, as SET TRANSACTION
 * ISOLATION LEVEL does. name: NULL or "" for none; at most 127 UTF-16
 * units. Transactions begun or ended in SQL are tracked alike. */
TDSC_API tdsc_errc tdsc_conn_begin(tdsc_conn *c, tdsc_isolation isolation,
                                   const char *name);
TDSC_API tdsc_errc tdsc_conn_commit(tdsc_conn *c);
/* Rolls back the whole transaction. */
TDSC_API tdsc_errc tdsc_conn_rollback(tdsc_conn *c);
/* A savepoint in the open transaction, and a rollback to it (the
 * transaction stays open). */
TDSC_API tdsc_errc tdsc_conn_savepoint(tdsc_conn *c, const char *name);
TDSC_API tdsc_errc tdsc_conn_rollback_to(tdsc_conn *c, const char *name);
/* Whether the server said a transaction is open (its descriptor is sent
 * with every request). */
TDSC_API bool tdsc_conn_in_transaction(const tdsc_conn *c);

/* ------------------------------------------------------------------------ */
/* Batches and results                                                       */

typedef struct tdsc_result tdsc_result;
typedef struct tdsc_column tdsc_column;

/* Step outcomes of tdsc_result_next_set / tdsc_result_next_row. */
typedef enum tdsc_step {
  TDSC_STEP_ERROR = -1, /* see tdsc_conn_error() */
  TDSC_STEP_END = 0,    /* no more rows / no more results */
  TDSC_STEP_ROW = 1,    /* a row is current */
  TDSC_STEP_RESULT = 2  /* a result is current */
} tdsc_step;

/* Sends a SQL batch (one or more statements) and returns a cursor over its
 * results, positioned before the first. The connection accepts no other
 * request until the result is freed (TDSC_E_BUSY). A server error in one
 * statement does not end the batch: it is reported by the step that meets
 * it. */
TDSC_API tdsc_errc tdsc_conn_execute(tdsc_conn *c, const char *sql,
                                     tdsc_result **out);
/* Discards what remains of the response and frees the cursor. */
TDSC_API void tdsc_result_free(tdsc_result *r);

/* Advances to the next result: a statement's rows (with columns) or a
 * statement's row count (no columns). TDSC_STEP_RESULT, TDSC_STEP_END when
 * the batch is done, or TDSC_STEP_ERROR when a statement failed (the
 * following statements stay reachable by calling again). Unread rows of the
 * current result are skipped. */
TDSC_API tdsc_step tdsc_result_next_set(tdsc_result *r);
/* Advances to the next row of the current result: TDSC_STEP_ROW,
 * TDSC_STEP_END, or TDSC_STEP_ERROR. */
TDSC_API tdsc_step tdsc_result_next_row(tdsc_result *r);

/* Rows affected by the current result's statement, or -1 when the server
 * gave no count (known once its rows are read). */
TDSC_API int64_t tdsc_result_rows_affected(const tdsc_result *r);

TDSC_API size_t tdsc_result_column_count(const tdsc_result *r);
/* NULL when i is out of range. */
TDSC_API const tdsc_column *tdsc_result_column(const tdsc_result *r, size_t i);

/* SQL types, as the server declared the column. */
typedef enum tdsc_type {
  TDSC_TYPE_UNKNOWN = 0,
  TDSC_TYPE_BIT = 1,
  TDSC_TYPE_TINYINT = 2,
  TDSC_TYPE_SMALLINT = 3,
  TDSC_TYPE_INT = 4,
  TDSC_TYPE_BIGINT = 5,
  TDSC_TYPE_REAL = 6,
  TDSC_TYPE_FLOAT = 7,
  TDSC_TYPE_DECIMAL = 8,
  TDSC_TYPE_NUMERIC = 9,
  TDSC_TYPE_SMALLMONEY = 10,
  TDSC_TYPE_MONEY = 11,
  TDSC_TYPE_CHAR = 12,
  TDSC_TYPE_VARCHAR = 13,
  TDSC_TYPE_TEXT = 14,
  TDSC_TYPE_NCHAR = 15,
  TDSC_TYPE_NVARCHAR = 16,
  TDSC_TYPE_NTEXT = 17,
  TDSC_TYPE_BINARY = 18,
  TDSC_TYPE_VARBINARY = 19,
  TDSC_TYPE_IMAGE = 20,
  TDSC_TYPE_UNIQUEIDENTIFIER = 21,
  TDSC_TYPE_DATE = 22,
  TDSC_TYPE_TIME = 23,
  TDSC_TYPE_SMALLDATETIME = 24,
  TDSC_TYPE_DATETIME = 25,
  TDSC_TYPE_DATETIME2 = 26,
  TDSC_TYPE_DATETIMEOFFSET = 27,
  TDSC_TYPE_XML = 28,
  TDSC_TYPE_SQL_VARIANT = 29,
  TDSC_TYPE_UDT = 30
} tdsc_type;

/* "int", "nvarchar", ... (static), "unknown" for an unknown value. */
TDSC_API const char *tdsc_type_name(tdsc_type t);

TDSC_API const char *tdsc_column_name(const tdsc_column *col); /* UTF-8, may be "" */
TDSC_API tdsc_type tdsc_column_type(const tdsc_column *col);
/* Declared maximum size in bytes for character and binary types (for nchar,
 * nvarchar: bytes, i.e. twice the characters); -1 for MAX, text, ntext,
 * image, xml; the storage size otherwise. */
TDSC_API int32_t tdsc_column_max_size(const tdsc_column *col);
/* Precision and scale: decimal/numeric as declared; time, datetime2 and
 * datetimeoffset have scale = fractional-second digits; 0 otherwise. */
TDSC_API uint8_t tdsc_column_precision(const tdsc_column *col);
TDSC_API uint8_t tdsc_column_scale(const tdsc_column *col);
TDSC_API bool tdsc_column_nullable(const tdsc_column *col);

/* Values of the current row. Columns are numbered from 0. Each getter fails
 * with TDSC_E_NO_ROW (no current row), TDSC_E_COLUMN_RANGE,
 * TDSC_E_NULL_VALUE, or TDSC_E_CONVERSION when the column's type does not
 * fit the getter; the error is also set on the connection. In a row with
 * large values (see tdsc_result_read) a getter may read from the network
 * up to its column, and fail as the next_row call would (a lost
 * connection, TDSC_E_QUERY_TIMEOUT, TDSC_E_CANCELLED); so may
 * tdsc_result_is_null.  Once the connection is lost, every call on the
 * result fails (the steps with TDSC_STEP_ERROR), never as if the result
 * had ended. */
/* Sets *null to whether column col of the current row is NULL.  Returns
 * TDSC_OK, or an error as the getters do (TDSC_E_NO_ROW,
 * TDSC_E_COLUMN_RANGE, a lost connection, TDSC_E_NO_MEMORY, ...), *null
 * being false then.  (In 0.1.0 it returned a bool and could not report
 * an error.) */
TDSC_API tdsc_errc tdsc_result_is_null(tdsc_result *r, size_t col,
                                       bool *null);

/* bit, tinyint, smallint, int, bigint; decimal/numeric with scale 0 that
 * fits in 64 bits. */
TDSC_API tdsc_errc tdsc_result_get_int64(tdsc_result *r, size_t col,
                                         int64_t *out);
/* real, float, the integer types, decimal/numeric, money, smallmoney. */
TDSC_API tdsc_errc tdsc_result_get_double(tdsc_result *r, size_t col,
                                          double *out);
/* Every type, rendered as UTF-8 text: character types converted from their
 * collation's code page; numbers in C locale; decimal/money exact; dates and
 * times ISO 8601; GUIDs 8-4-4-4-12 upper case; binary as hex ("0x...").
 * *out is NUL-terminated, valid until the next row; *len (optional) excludes
 * the NUL. */
TDSC_API tdsc_errc tdsc_result_get_text(tdsc_result *r, size_t col,
                                        const char **out, size_t *len);
/* binary, varbinary, image (and their MAX forms); valid until the next
 * row. */
TDSC_API tdsc_errc tdsc_result_get_bytes(tdsc_result *r, size_t col,
                                         const uint8_t **out, size_t *len);

/* An exact decimal: value = (-1 if negative) * magnitude / 10^scale, with
 * magnitude an unsigned 128-bit little-endian integer. */
typedef struct tdsc_decimal {
  uint8_t precision;
  uint8_t scale;
  bool negative;
  uint8_t magnitude[16];
} tdsc_decimal;
/* Parses "[-+]digits[.digits]" (at least one digit, at most 38
 * significant ones; no blanks, no exponent) into *out: precision = the
 * digits (at least the scale, at least 1), scale = the digits after the
 * point, exactly as written ("1.50" has scale 2).  TDSC_E_CONVERSION for
 * anything else, TDSC_E_INVALID_ARGUMENT for NULL. */
TDSC_API tdsc_errc tdsc_decimal_from_string(const char *s, tdsc_decimal *out);
/* decimal, numeric, money, smallmoney, and the integer types. */
TDSC_API tdsc_errc tdsc_result_get_decimal(tdsc_result *r, size_t col,
                                           tdsc_decimal *out);

/* Date and time parts. Fields a type lacks are 0 (and has_* false). */
typedef struct tdsc_datetime {
  int32_t year;
  uint8_t month, day;
  uint8_t hour, minute, second;
  uint32_t nanosecond;
  int16_t offset_minutes; /* datetimeoffset: local time = UTC + offset */
  bool has_date, has_time, has_offset;
} tdsc_datetime;
/* date, time, smalldatetime, datetime, datetime2, datetimeoffset. For
 * datetimeoffset the parts are local time (as SQL Server displays it). */
TDSC_API tdsc_errc tdsc_result_get_datetime(tdsc_result *r, size_t col,
                                            tdsc_datetime *out);
/* uniqueidentifier, in RFC 4122 byte order (as its text form reads). */
TDSC_API tdsc_errc tdsc_result_get_guid(tdsc_result *r, size_t col,
                                        uint8_t out[16]);

/* Reads the value of column col of the current row in pieces: copies up
 * to len bytes into buf and sets *got (0 at the end of the value).  For
 * varbinary(max), varchar(max), nvarchar(max), xml, text, ntext and image
 * the bytes come from the network as they arrive, so a value of any size
 * (1 GiB and more) is read with constant memory; other columns (and values
 * already read) are read from memory.  The bytes are the value as sent:
 * binary as is, varchar in its collation's code page, nvarchar, ntext and
 * xml as UTF-16LE.  Read a row's columns in order: a column passed over
 * while another was read in pieces, and a value read in pieces, give
 * TDSC_E_VALUE_CONSUMED to the getters afterwards (a large value nobody
 * touched is kept for them, up to 1 GiB: TDSC_E_VALUE_TOO_LARGE beyond).
 * NULL: TDSC_E_NULL_VALUE. */
TDSC_API tdsc_errc tdsc_result_read(tdsc_result *r, size_t col, void *buf,
                                    size_t len, size_t *got);

/* What the current result is (after tdsc_result_next_set returned
 * TDSC_STEP_RESULT). */
typedef enum tdsc_result_kind {
  TDSC_RESULT_ROWS = 0,   /* a statement's rows (columns > 0) */
  TDSC_RESULT_COUNT = 1,  /* a statement's row count, no columns */
  TDSC_RESULT_OUTPUT = 2  /* a procedure's output parameters: one row whose
                             columns are the parameters (named "@x"), read
                             with the usual getters */
} tdsc_result_kind;
TDSC_API tdsc_result_kind tdsc_result_kind_of(const tdsc_result *r);
/* A procedure's return status, once its RETURNSTATUS has been read (at the
 * latest when tdsc_result_next_set returned TDSC_STEP_END); false before,
 * or when there is none. */
TDSC_API bool tdsc_result_return_status(const tdsc_result *r, int32_t *out);

/* ------------------------------------------------------------------------ */
/* Statements: parameterised SQL (sp_executesql) and procedures (RPC)        */

typedef struct tdsc_stmt tdsc_stmt;

/* A parameterised batch: sql names its parameters @name; they are sent
 * typed, never spliced into the text (sp_executesql, MS-TDS 2.2.6.6). */
TDSC_API tdsc_stmt *tdsc_stmt_new_sql(tdsc_conn *c, const char *sql);
/* A stored procedure called by name, parameters by name or position. */
TDSC_API tdsc_stmt *tdsc_stmt_new_proc(tdsc_conn *c, const char *procedure);
/* Frees the statement (unpreparing it on the server when prepared and the
 * connection is idle). */
TDSC_API void tdsc_stmt_free(tdsc_stmt *s);

/* Binding. name is "@x" (or "x"); NULL binds the next position (procedures
 * only). Rebinding a name replaces its value. type is the SQL type sent:
 * the bind function must fit it (TDSC_E_CONVERSION otherwise, naming the
 * parameter). varchar, nvarchar and varbinary are declared 8000 bytes
 * (nvarchar(4000)) when the value fits, MAX beyond; char, nchar and binary
 * the value's own length; text, ntext and image are sent as the MAX types.
 * varchar text is converted to the connection collation's code page (a
 * character it lacks is TDSC_E_CONVERSION: bind nvarchar). Values are
 * copied at bind time. */
/* tdsc_stmt_bind_text also takes decimal, numeric, money, smallmoney
 * ("-1234.5678"; money at most 4 decimals), date ("2024-02-29"), time
 * ("13:45:01.1234567"), datetime2, datetime (3 fractional digits at most),
 * smalldatetime (none), datetimeoffset ("2024-02-29 13:45:01 +05:30")
 * and uniqueidentifier ("01234567-89ab-cdef-0123-456789abcdef"): the
 * forms tdsc_result_get_text writes; a text that does not parse or would
 * lose digits is TDSC_E_CONVERSION naming the form.  tdsc_stmt_bind_double
 * also takes decimal, numeric (the double's shortest exact text: 0.1 is
 * 0.1) and money, smallmoney (then rounded half away from zero to 4
 * decimals). */
TDSC_API tdsc_errc tdsc_stmt_bind_null(tdsc_stmt *s, const char *name,
                                       tdsc_type type);
TDSC_API tdsc_errc tdsc_stmt_bind_int64(tdsc_stmt *s, const char *name,
                                        tdsc_type type, int64_t v);
TDSC_API tdsc_errc tdsc_stmt_bind_double(tdsc_stmt *s, const char *name,
                                         tdsc_type type, double v);
TDSC_API tdsc_errc tdsc_stmt_bind_decimal(tdsc_stmt *s, const char *name,
                                          tdsc_type type,
                                          const tdsc_decimal *v);
TDSC_API tdsc_errc tdsc_stmt_bind_text(tdsc_stmt *s, const char *name,
                                       tdsc_type type, const char *utf8,
                                       size_t len);
TDSC_API tdsc_errc tdsc_stmt_bind_bytes(tdsc_stmt *s, const char *name,
                                        tdsc_type type, const void *p,
                                        size_t len);
TDSC_API tdsc_errc tdsc_stmt_bind_datetime(tdsc_stmt *s, const char *name,
                                           tdsc_type type,
                                           const tdsc_datetime *v);
TDSC_API tdsc_errc tdsc_stmt_bind_guid(tdsc_stmt *s, const char *name,
                                       const uint8_t v[16]);
/* A large value sent in chunks as it is read (PLP), with constant memory:
 * read fills buf with up to len bytes and returns how many, 0 at the end,
 * or -1 to abort the request. total is the length when known, -1
 * otherwise. type: varbinary, varchar or nvarchar (as MAX); for nvarchar
 * the stream is UTF-16LE. */
typedef long long (*tdsc_read_fn)(void *userdata, void *buf, size_t len);
TDSC_API tdsc_errc tdsc_stmt_bind_stream(tdsc_stmt *s, const char *name,
                                         tdsc_type type, tdsc_read_fn read,
                                         void *userdata, long long total);
/* Marks the parameter bound under name as OUTPUT: its final value comes
 * back as a TDSC_RESULT_OUTPUT result. */
TDSC_API tdsc_errc tdsc_stmt_set_output(tdsc_stmt *s, const char *name);

/* The statement's own query timeout in milliseconds (0: none), instead
 * of the connection's (tdsc_conn_set_query_timeout). */
TDSC_API void tdsc_stmt_set_query_timeout(tdsc_stmt *s, uint32_t ms);

/* Prepares the statement once on the server (sp_prepare) with the types
 * bound so far (bind first; later binds must keep those types); later
 * executes run it by handle (sp_execute). Optional. */
TDSC_API tdsc_errc tdsc_stmt_prepare(tdsc_stmt *s);
/* Sends the request with the bound values and returns a cursor over its
 * results, as tdsc_conn_execute does. */
TDSC_API tdsc_errc tdsc_stmt_execute(tdsc_stmt *s, tdsc_result **out);

#ifdef __cplusplus
}
#endif
#endif
