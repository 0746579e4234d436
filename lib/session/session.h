/* The session layer's shared state: the connection handle and the result
 * cursor, and the functions its files (connect.c, wire.c, exec.c, result.c,
 * conn.c) call on one another.  It drives the layers below (proto, tls,
 * transport) and knows their interfaces only. */
#ifndef TDSC_SESSION_H
#define TDSC_SESSION_H

#include "buf.h"
#include "error.h"
#include "proto/proto.h"
#include "proto/tokens.h"
#include "session/options.h"
#include "transport/io.h"

#include <stdatomic.h>

struct tdsc_conn {
  tdsc_error err;  /* the last failure */
  tdsc_error attempts; /* the last connect's trail (only .trail is used) */
  bool has_err;    /* err describes the last call */
  tdsc__options opts;
  tdsc__io *io;    /* top of the filter stack; NULL when closed */
  char address[700]; /* "host,port" or a socket path, then the address
                        connected to */
  const char *encryption; /* static: "off", "login-only", "tds7", "strict" */
  char tls_version[16];

  /* session facts, from LOGINACK and ENVCHANGE */
  uint32_t packet_size;
  uint32_t tds_version;
  char *database;
  char *language;
  char *server_name;
  char *failover_partner; /* ENVCHANGE 13: the mirroring partner, or NULL */
  char server_version[24];
  uint8_t collation[5];
  uint8_t txn[8];   /* transaction descriptor (ALL_HEADERS) */

  /* outgoing */
  uint8_t packet_id;
  tdsc__buf out;

  /* incoming: wire bytes read ahead (wire.c's input buffer), then the
   * response's payload */
  tdsc__buf rx;     /* packets as read, not taken yet from rx_pos */
  size_t rx_pos;
  tdsc__buf in;     /* payload bytes not parsed yet start at in_pos */
  size_t in_pos;
  bool in_eom;      /* the last packet of the response has been read */
  bool in_response; /* a response is being read */
  bool in_final;    /* its final DONE came (DONE or DONEPROC without
                       DONE_MORE, MS-TDS 2.2.7.6): nothing may follow */
  bool in_partial_ok; /* the message may end without one (an SSPI round
                         of the login, whose caller judges) */
  tdsc__tokp *tokp;
  int64_t deadline; /* of the response being read */

  /* cancel and timeouts (wire.c) */
  tdsc__waker *waker;     /* fired by tdsc_conn_cancel from any thread */
  _Atomic bool cancel;    /* a cancel is pending */
  bool cancellable;       /* the response is a request's: attention applies */
  int64_t query_timeout_ms;  /* QueryTimeout=, tdsc_conn_set_query_timeout */
  int64_t cancel_timeout_ms; /* CancelTimeout=: how long an attention may
                                wait for its acknowledgement */

  /* Entra ID (fedauth.c): the application's token provider, and what the
   * attempt in progress negotiated */
  tdsc_token_fn token_fn;
  void *token_ud;
  struct {
    bool on;        /* the attempt's mechanism is federated */
    bool echo;      /* the server's FEDAUTHREQUIRED was 0x01 */
    bool has_nonce; /* the server's NONCEOPT, echoed in LOGIN7 */
    uint8_t nonce[TDSC__NONCE_LEN];
    bool acked;     /* FEATUREEXTACK carried FEDAUTH */
    bool adal;      /* the ADAL workflow: LOGIN7 without the token */
    bool info;      /* its FEDAUTHINFO came */
    bool sent;      /* its token was sent (packet 0x08) */
  } fedauth;

  /* non-blocking use (wire.c; tdsclient.h "Non-blocking mode") */
  bool nonblocking;  /* tdsc_conn_set_nonblocking: calls that would wait
                        return TDSC_E_WOULD_BLOCK (never during a connect) */
  bool wb_pending;   /* the last call returned TDSC_E_WOULD_BLOCK: the
                        call that resumes keeps its deadline */
  int want;          /* TDSC__WANT_* of the last step that had to wait */
  tdsc__buf tx;      /* whole packets queued for sending, sent from tx_pos
                        and kept in place until sent (write_some's rule) */
  size_t tx_pos;
  /* an attention in progress (wire.c), resumable */
  bool attn;          /* sent or queued; its acknowledgement not read yet */
  bool attn_acked;    /* its DONE_ATTN came; the message's end follows */
  bool attn_in_row;   /* it stopped a row half read (for the message) */
  tdsc_errc attn_why; /* TDSC_E_CANCELLED or TDSC_E_QUERY_TIMEOUT */
  int64_t attn_deadline; /* CancelTimeout */
  int64_t attn_waited;   /* the query timeout that ran out, for messages */
  /* a transaction manager request of txn.c waiting in non-blocking mode */
  tdsc_result *tm;
  tdsc_error tm_first;

  tdsc_result *result; /* the open result, if any */
  tdsc_message_fn on_msg;
  void *on_msg_ud;

  /* a connect in progress (connect.c; tdsc_conn_connect_start): until
   * it ends, c->io may hold a half-made stack, never a session */
  struct tdsc__connecting *cx;

  /* protocol trace (trace.c): NULL when off */
  struct tdsc__trace *trace;
  tdsc_trace_fn trace_fn; /* tdsc_conn_set_trace's, kept across connects */
  void *trace_ud;
};

struct tdsc_column {
  const tdsc__colinfo *ci; /* owned by the token parser */
};

/* A column of the current row, for streaming and lazy rows (stream.c). */
typedef enum tdsc__colstate {
  TDSC__COL_PENDING,   /* lazy row: not read from the stream yet */
  TDSC__COL_HELD,      /* the whole value is in memory (r->values[i]) */
  TDSC__COL_STREAMING, /* a large value is being read (tdsc_result_read) */
  TDSC__COL_STREAMED,  /* read to its end by tdsc_result_read */
  TDSC__COL_CONSUMED   /* passed over, or abandoned half read */
} tdsc__colstate;

typedef struct tdsc__rowcol {
  tdsc__colstate state;
  tdsc__buf buf;       /* a lazy row's held value */
  size_t read_off;     /* tdsc_result_read's position in a held value */
  uint64_t delivered;  /* bytes of a streamed value handed out */
  uint64_t total;      /* a large value's announced length, UINT64_MAX
                          when unknown */
} tdsc__rowcol;

typedef enum tdsc__rstate {
  TDSC__R_BEFORE,     /* between results */
  TDSC__R_ROWS,       /* a result with columns is current, rows may follow */
  TDSC__R_AFTER_ROWS, /* the current result's rows are all read */
  TDSC__R_END         /* the response is complete (or the connection lost) */
} tdsc__rstate;

struct tdsc_result {
  tdsc_conn *conn; /* NULL once the connection went away */
  tdsc__rstate state;
  tdsc_errc lost;  /* the connection went away before the response was
                      complete: every later call fails with this code */
  int64_t timeout_ms; /* the longest wait for the server per call, 0 =
                         none (the connection's or the statement's) */
  bool pending_error; /* an ERROR token came for the current statement */
  bool pending_meta;  /* a COLMETADATA ended the rows: next_set returns it */
  size_t ncols;
  struct tdsc_column *cols;
  int64_t rows_affected;
  bool has_row;
  const tdsc__value *values; /* the current row, owned by the parser */
  tdsc__buf *text;           /* per column, text of the current row */
  bool *text_ok;

  /* the current row column by column (stream.c): rows with large values
   * come lazily, so a value is read from the stream only when asked for,
   * whole (getters) or in pieces (tdsc_result_read) */
  tdsc__rowcol *rc;          /* per column */
  tdsc__value *lazy_vals;    /* a lazy row's values (r->values) */
  void *colmem;  /* the block of cols, text, text_ok, rc and lazy_vals */
  size_t colcap; /* (exec.c's set_columns): columns it has room for */
  bool lazy;                 /* the current row is lazy */
  size_t next_col;           /* the next column the stream delivers */
  size_t streaming;          /* the column in TDSC__COL_STREAMING */
  bool keep_too_large;       /* the value being kept whole did not fit */
  bool keep_oom;             /* (a call that would block resumes it) */
  const uint8_t *pend;       /* unread part of the last LARGE_DATA event */
  size_t pend_len;

  /* RPC responses (stmt.c): return status and output parameters */
  bool rpc;            /* a DONEPROC's count repeats its last statement's */
  bool has_status;
  int32_t return_status;
  bool is_output;      /* the current result is the output parameters */
  bool out_ready;      /* they are complete: next_set presents them */
  bool out_row_read;
  size_t nout;
  tdsc__colinfo *out_cols; /* names and values malloc'd */
  tdsc__value *out_vals;
};

/* ---- conn.c */
/* Clears the connection's error at the start of a call (inline: every
 * getter starts with it; the clear itself only when something was set). */
static inline void tdsc__conn_begin(tdsc_conn *c) {
  if (!tdsc__err_is_clear(&c->err))
    tdsc__err_clear(&c->err);
  c->has_err = false;
}
/* Marks err (already filled) as the call's error and returns its code. */
tdsc_errc tdsc__conn_fail(tdsc_conn *c);
/* Drops the transport (after a fatal error) and frees response state. */
void tdsc__conn_drop(tdsc_conn *c);
/* Applies an ENVCHANGE to the session facts; fails only on oom. */
tdsc_errc tdsc__conn_envchange(tdsc_conn *c, const tdsc__event *ev);
/* Hands a server message to the application's handler. */
void tdsc__conn_message(tdsc_conn *c, const tdsc_message *m);

/* ---- wire.c: TDS messages over the filter stack */
/* Sends payload as a message of the given packet type, split into packets
 * of the negotiated size: queued, then sent before deadline in blocking
 * mode; in non-blocking mode what cannot go at once stays queued (sent by
 * tdsc__wire_flush and before every read). */
tdsc_errc tdsc__wire_send(tdsc_conn *c, uint8_t type, const uint8_t *payload,
                          size_t len, int64_t deadline);
/* Bytes read ahead from the transport and not taken yet: none may be
 * there when the filter stack changes (TLS starts or is popped). */
size_t tdsc__wire_rx_pending(const tdsc_conn *c);
/* Forgets the input buffer (the transport is gone). */
void tdsc__wire_rx_free(tdsc_conn *c);
/* Reads a whole message (PRELOGIN response), appending it to out (empty
 * at the start): resumable, whole packets are appended as they come, and
 * in non-blocking mode TDSC__AGAIN (c->want) says to call again. */
tdsc_errc tdsc__wire_recv_message(tdsc_conn *c, tdsc__buf *out,
                                  int64_t deadline);
/* Starts reading a token-stream response. */
void tdsc__wire_begin_response(tdsc_conn *c, int64_t deadline);
/* A response is complete only with its final DONE at the end of the
 * message, and nothing after it; a DONE acknowledging an attention
 * (DONE_ATTN) belongs to the attention alone: tdsc__wire_next_event fails with
 * TDSC_E_PROTOCOL otherwise, unless c->in_partial_ok (then the caller
 * reads c->in_final). */
/* Next token event of the response: TDSC_OK with *ev, or TDSC_OK with
 * *end = true when the response is complete.  In non-blocking mode,
 * TDSC_E_WOULD_BLOCK (set on c->err) when it has to wait: nothing was
 * consumed that a call again will not continue from, and the response
 * and connection stay as they were.  TDSC_E_CANCELLED and
 * TDSC_E_QUERY_TIMEOUT (a cancellable response only) mean the request was
 * stopped with an attention the server acknowledged: the response is over
 * and the connection usable (tdsc__wire_aborted).  Other errors are fatal
 * to the connection (protocol, transport). */
tdsc_errc tdsc__wire_next_event(tdsc_conn *c, tdsc__event *ev, bool *end);
/* True when rc from tdsc__wire_next_event ended the request but not the
 * connection. */
bool tdsc__wire_aborted(const tdsc_conn *c, tdsc_errc rc);
/* Sends what is queued (tdsc_conn_flush): TDSC_OK once all of it went,
 * TDSC__AGAIN in non-blocking mode while some remains (c->want says for
 * what), or a fatal error; waits until deadline in blocking mode. */
tdsc_errc tdsc__wire_flush(tdsc_conn *c, int64_t deadline);
/* Bytes queued and not sent yet. */
size_t tdsc__wire_tx_pending(const tdsc_conn *c);
/* Reads what the transport has now into the input buffer, until it
 * would block or the buffer is full (tdsc_conn_consume); never waits. */
tdsc_errc tdsc__wire_consume(tdsc_conn *c);
/* The deadline the connection waits for now (an attention's, or the
 * response's), TDSC__NO_DEADLINE for none. */
int64_t tdsc__wire_deadline(const tdsc_conn *c);
/* Forgets the output queue and an attention in progress (the transport
 * is gone). */
void tdsc__wire_tx_free(tdsc_conn *c);
/* Streaming send (PLP parameters): sends the whole packets buffered in b
 * and keeps the rest there; first = true starts a message; last = true
 * sends everything, the final packet with EOM | last_status (e.g.
 * TDSC__PKT_IGNORE to abandon the message). */
tdsc_errc tdsc__wire_send_part(tdsc_conn *c, uint8_t type, tdsc__buf *b,
                               bool first, bool last, uint8_t last_status,
                               int64_t deadline);

/* ---- trace.c: the protocol trace (Trace=, TDSC_TRACE, tdsc_conn_set_trace) */
typedef struct tdsc__trace tdsc__trace;
enum { TDSC__TRACE_SEND, TDSC__TRACE_RECV };
/* The one hook for every whole packet sent or received, in plaintext
 * (wire.c): its 8-byte header and its payload of n bytes (contiguous or
 * not).  Call only when c->trace is set: `if (c->trace) ...`.  Never
 * fails and never touches the session's state. */
void tdsc__trace_packet(tdsc_conn *c, int dir, const uint8_t *hdr,
                        const uint8_t *payload, size_t n);
/* A "# ..." line in the trace (c->trace set): what is not a packet. */
void tdsc__trace_note(tdsc_conn *c, const char *fmt, ...)
    TDSC__PRINTF(2, 3);
/* At connect, after the options: opens Trace= (TDSC_TRACE) for appending;
 * TDSC_E_TRACE_FILE (errno kept) when it cannot be opened. */
tdsc_errc tdsc__trace_open(tdsc_conn *c);
/* At close: closes the file, keeps the callback. */
void tdsc__trace_close(tdsc_conn *c);
void tdsc__trace_free(tdsc_conn *c);

/* ---- spn.c */
/* The SPN for host (ServerSPN= wins), and how it was derived: port is
 * the TCP port, 0 over pipes and shared memory (then the instance, if
 * any, names it). */
void tdsc__spn_for(const tdsc__options *o, const char *host, uint16_t port,
                   const char *instance, char *spn, size_t spnlen, char *how,
                   size_t howlen);
/* The SPN a connect through ep asks for (tdsc__spn_for with the TCP port,
 * or none over pipes and shared memory): connect.c's and tdsc-doctor's. */
void tdsc__endpoint_spn(const tdsc__options *o, const tdsc__endpoint *ep,
                        char *spn, size_t spnlen, char *how, size_t howlen);

/* ---- connect.c: the connect as resumable attempts (attempt.c) */
/* Parses connstr and plans the attempts (c->cx); nothing is sent yet.  A
 * failure is the connect's (c->err); tdsc__connect_free in every case. */
tdsc_errc tdsc__connect_start(tdsc_conn *c, const char *connstr);
/* Advances the connect without waiting: TDSC_OK (logged in), TDSC__AGAIN
 * (tdsc__connect_waits says for what), or the connect's failure with its
 * headline error and trail (policy.c's verdict). */
tdsc_errc tdsc__connect_poll(tdsc_conn *c);
/* What the connect waits for: a descriptor (TDSC__NO_POLLFD: none), its
 * TDSC__WANT_* and the milliseconds until the timer or the deadline (-1:
 * none).  False when no connect waits. */
bool tdsc__connect_waits(const tdsc_conn *c, intptr_t *fd, int *want,
                         int *ms);
/* The blocking connect's wait between two polls. */
void tdsc__connect_wait(tdsc_conn *c);
/* Ends a connect in progress (its attempt's resources), not c->io. */
void tdsc__connect_free(tdsc_conn *c);

/* ---- policy.c: the mechanisms' table and the fallback of Authentication= */
typedef struct tdsc__mech_ops tdsc__mech_ops;
typedef struct tdsc__mech_row {
  tdsc__mech mech;
  const char *name;                 /* in Authentication= and the trail */
  const char *alias;                /* another name it takes, or NULL */
  const char *label;                /* "Kerberos": for messages */
  const tdsc__mech_ops *const *ops; /* *ops NULL: not in this build */
  tdsc_errc absent_code;            /* ... and then this error */
  const char *absent;
  bool spn;           /* asks for a service principal name (spn.c) */
  bool owns_uid;      /* UID= is its user (else Kerberos may take UID= as the
                         principal) */
  bool trail_spn;     /* the trail names "identity for SPN (how)" */
  bool secret;        /* sends a secret or what cracks one: TLS unless
                         Encrypt=off (prelogin) */
  tdsc_errc unproven; /* the server must complete the exchange, proving
                         itself, before LOGINACK (Kerberos' mutual
                         authentication): this code when it did not */
  tdsc_errc no_credentials; /* init's "nothing to try with" */
  tdsc_errc on_18456;       /* the server's "login failed" */
  tdsc_errc on_18452[2];    /* its "untrusted domain", before / after our
                               exchange completed */
  bool fedauth;       /* federated authentication (fedauth.c): PRELOGIN's
                         FEDAUTHREQUIRED, the token in LOGIN7's FEDAUTH */
} tdsc__mech_row;
const tdsc__mech_row *tdsc__mech_row_of(tdsc__mech m);

/* The fallback over Authentication=, one mechanism after another. */
typedef struct tdsc__policy {
  tdsc_error first, first_skip;   /* the first real / skipped failure */
  size_t first_at, first_skip_at; /* their mechanisms' indexes */
  bool stopped;                   /* a failure no other mechanism can cure */
  bool oom;
} tdsc__policy;
/* Mechanism i failed with rc (c->err): true when the next may be tried. */
bool tdsc__policy_failed(tdsc__policy *p, tdsc_conn *c, size_t i, tdsc_errc rc);
/* After the last failure (mechanism i): moves the headline failure into
 * c->err with the whole trail, says why the rest was not tried; returns
 * the connect's code.  Clears p. */
tdsc_errc tdsc__policy_verdict(tdsc__policy *p, tdsc_conn *c, size_t i,
                               tdsc_errc rc);
void tdsc__policy_clear(tdsc__policy *p);
/* A code's one-line hint may offer a remedy that the facts of this attempt
 * rule out: KRB_KDC_UNREACHABLE's offers a local transport, which is no
 * remedy when the attempt was already local, nor for a remote server
 * (issue 11: every fact a message states is true). */
void tdsc__policy_fit_hint(tdsc_conn *c, bool local_attempt, const char *host);
/* True when the policy passes over a mechanism that failed with rc as one
 * without credentials (the next is tried, the cause is reported from
 * another attempt). */
bool tdsc__mech_passed_over(tdsc_errc rc);

/* ---- fedauth.c: federated authentication around a mechanism whose row
 * says fedauth (MS-TDS 2.2.6.4, 2.2.6.5, 2.2.7.11) */
typedef struct tdsc__auth_params tdsc__auth_params;
/* Before the mechanism's init: what it needs beyond the common parameters
 * (the token's sources, Encrypt=off); readies c->fedauth for the attempt. */
void tdsc__fedauth_params(tdsc_conn *c, const tdsc__mech_row *row,
                          tdsc__auth_params *p);
/* The PRELOGIN request: FEDAUTHREQUIRED when the attempt is federated. */
void tdsc__fedauth_prelogin(tdsc_conn *c, tdsc__prelogin *pl);
/* The server's PRELOGIN answer: keeps its FEDAUTHREQUIRED and nonce.
 * Errors: TDSC_E_PROTOCOL for a value MS-TDS does not define. */
tdsc_errc tdsc__fedauth_answer(tdsc_conn *c, const tdsc__prelogin *resp);
/* LOGIN7: the mechanism's token in the FEDAUTH feature (security token),
 * with the echo and the nonce; or, for a mechanism that gets its token
 * once the server said where (auth.h fedauth_info), the ADAL library and
 * its workflow, no token. */
void tdsc__fedauth_login7(tdsc_conn *c, const tdsc__mech_ops *ops,
                          void *state, tdsc__login7 *l);
/* A FEATUREEXTACK of the login response: checks its FEDAUTH entry. */
tdsc_errc tdsc__fedauth_ack(tdsc_conn *c, const tdsc__event *ev);
/* FEDAUTHINFO in the login response (2.2.7.12): given to the mechanism,
 * which readies its token's fetch.  Errors: TDSC_E_PROTOCOL when this
 * login did not ask for one (a security token, no federated
 * authentication) or got it twice; the mechanism's. */
tdsc_errc tdsc__fedauth_info(tdsc_conn *c, const tdsc__mech_ops *ops,
                             void *state, const tdsc__event *ev);
/* The Federated Authentication Token message (2.2.6.3): the mechanism's
 * token (and the server's nonce) queued as packet 0x08. */
tdsc_errc tdsc__fedauth_send(tdsc_conn *c, const tdsc__mech_ops *ops,
                             void *state, int64_t deadline);
/* At the end of the login response (ack: it held LOGINACK):
 * TDSC_E_PROTOCOL when the ADAL workflow saw no FEDAUTHINFO, or a login
 * acknowledged before its token was sent or without its FEDAUTH
 * FEATUREEXTACK (2.2.7.11: it MUST be there). */
tdsc_errc tdsc__fedauth_done(tdsc_conn *c, bool ack);

/* ---- stream.c: the current row column by column */
/* Frees the columns' held values (the arrays are exec.c's block). */
void tdsc__row_free(tdsc_result *r);
/* A new current row: lazy when the parser delivers it by columns. */
void tdsc__row_start(tdsc_result *r, bool lazy);
/* The value of column col of the current row, read from the stream if
 * need be (errors on the connection: VALUE_CONSUMED, VALUE_TOO_LARGE, the
 * stream's own). col is in range and a row is current. */
tdsc_errc tdsc__row_value(tdsc_result *r, size_t col, const tdsc__value **v);
/* Whether the value is NULL, reading no more than the column's start. */
tdsc_errc tdsc__row_is_null(tdsc_result *r, size_t col, bool *null);

/* ---- result.c */
/* The connection went away (why: the code that took it, e.g.
 * TDSC_E_CONN_CLOSED); a response not read to its end is lost. */
void tdsc__result_detach(tdsc_result *r, tdsc_errc why);
/* The code a call on r fails with once r is detached (conn NULL). */
tdsc_errc tdsc__result_gone(const tdsc_result *r);

/* ---- exec.c: requests (tdsc_conn_execute, stmt.c) */
/* Checks that c can take a request (open, no result open: TDSC_E_BUSY)
 * and allocates its result; errors are set on c (call tdsc__conn_fail). */
tdsc_errc tdsc__result_new(tdsc_conn *c, tdsc_result **out);
/* The next event of r's response, inside a row (stream.c): an error
 * drops the connection or, for a cancel or timeout, ends the response;
 * either way r has no current row afterwards. */
tdsc_errc tdsc__result_pull(tdsc_result *r, tdsc__event *ev);
/* At the start of a call on r that reads: the server has r's timeout
 * from now, unless the call resumes one that would block (non-blocking
 * mode), which keeps its deadline. */
void tdsc__result_arm(tdsc_result *r);
/* After the request is sent: r reads its response, waiting at most
 * timeout_ms (0: no limit) for the server at each call. */
void tdsc__result_start(tdsc_conn *c, tdsc_result *r, int64_t timeout_ms);

#endif
