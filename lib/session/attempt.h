/* One connect attempt (one mechanism over one endpoint) as a state machine
 * that never waits (issue 16): attempt.c runs its states, connect.c walks
 * the attempts with the fallback policy (policy.c), the blocking connect
 * and the non-blocking one (tdsc_conn_connect_start / _poll) alike.  The
 * states are internal and may change. */
#ifndef TDSC_ATTEMPT_H
#define TDSC_ATTEMPT_H

#include "auth/auth.h"
#include "session/session.h"

#include "tls/tls.h"

/* In order: the states up to TRANSPORT set their own wait (a worker's
 * waker, a UDP or connecting socket); those after it wait on the stack's
 * descriptor (tdsc__attempt_step relies on the order). */
typedef enum tdsc__astate {
  TDSC__AS_BEGIN,       /* the mechanism readied (once the port is
                           known), or SQL Browser's lookup started */
  TDSC__AS_CREDENTIALS, /* the mechanism's credentials acquired on its
                           worker (auth.h acquire), then a pipe or shared
                           memory opened or the host's lookup started */
  TDSC__AS_LOOKUP,      /* the host's addresses being resolved (lookup.h),
                           for SQL Browser while the port is unknown,
                           else for TCP */
  TDSC__AS_BROWSER,     /* SQL Browser asked for the instance's port */
  TDSC__AS_TRANSPORT,   /* TCP connect in flight (RFC 8305 attempts) */
  TDSC__AS_TLS_STRICT,  /* TDS 8.0: the TLS handshake before anything */
  TDSC__AS_PRELOGIN,    /* PRELOGIN queued, its answer being read */
  TDSC__AS_TLS,         /* TDS 7.x: the handshake in PRELOGIN packets */
  TDSC__AS_LOGIN,       /* the mechanism's first token and LOGIN7 */
  TDSC__AS_LOGIN_FLUSH, /* LOGIN7 being sent (then login-only TLS ends) */
  TDSC__AS_ROUND,       /* a round of the login response being read */
  TDSC__AS_FEDAUTH,     /* after FEDAUTHINFO: the mechanism's token got
                           on its worker, then sent (packet 0x08) */
  TDSC__AS_DONE         /* logged in */
} tdsc__astate;

/* The routes (ENVCHANGE routing) a connect follows for one mechanism;
 * one more is TDSC_E_ROUTING_TOO_MANY_HOPS. */
#define TDSC__MAX_HOPS 5

/* What PRELOGIN negotiated. */
typedef enum { TDSC__TLS_NONE, TDSC__TLS_LOGIN_ONLY, TDSC__TLS_FULL } tdsc__tls_plan;

typedef struct tdsc__attempt {
  /* what the attempt is, and what the trail says of it */
  tdsc__endpoint ep; /* how the server is reached (port resolved) */
  tdsc__mech mech;
  const tdsc__mech_row *row;  /* policy.c's */
  const char *server_name;    /* LOGIN7 ServerName: the target as named */
  const char *tls_host;       /* the host the certificate must name */
  const struct tdsc__mech_ops *ops; /* NULL until the mechanism is found */
  void *state;
  const char *tls_used;
  char target[1200]; /* user, or "principal for SPN (how it was derived)" */
  char spn[300];
  char spn_how[600]; /* how the SPN was derived, for the trail */
  char binding[200]; /* the channel binding given to the mechanism, for
                        the trail (chanbind.c): "tls-unique", "none: why",
                        "" before LOGIN or without tokens */
  bool done;        /* the mechanism completed (Kerberos: server proved) */
  bool mech_failed; /* the mechanism failed on a server token */

  /* the machine */
  tdsc__astate st;
  int64_t deadline; /* LoginTimeout, from the attempt's start (0 until
                       then; a routed attempt's is set before) */
  tdsc__tls_plan plan;
  struct tdsc__lookup *lk;    /* the host's lookup in flight */
  struct tdsc__ssrp_query *browser; /* SQL Browser asked */
  struct tdsc__opener *open;        /* the transport's open in flight */
  tdsc__tls_hs *hs;           /* TLS handshake in progress */
  tdsc__tls_opts tlso;        /* its options (outlive the handshake) */
  tdsc__buf token;            /* the mechanism's next token */
  /* the mechanism's step runs on its worker (auth.h PENDING): the step
   * is made again with the same input, kept here (the server's token) */
  bool pending;
  tdsc__buf pend_in;
  /* the login response */
  tdsc_message first_error;
  bool have_error, ack, sspi;
  bool fedinfo; /* the round was FEDAUTHINFO (its message has no DONE) */
  int round;
  /* ENVCHANGE routing (MS-TDS 2.2.7.9) in the login response: the server
   * accepted the login and sends the client to route_host,route_port
   * (checked: TCP, a name, a port); connect.c follows it */
  bool routed;
  char route_host[256];
  uint16_t route_port;

  /* what the last step waits for (TDSC__AGAIN): a descriptor and
   * TDSC__WANT_*, or TDSC__NO_POLLFD; a timer in ms (-1: none) besides
   * the deadline */
  intptr_t fd;
  int want;
  int timer_ms;
} tdsc__attempt;

/* Sets a up for mechanism m over ep; nothing is done yet. */
void tdsc__attempt_init(tdsc__attempt *a, const tdsc__endpoint *ep,
                        tdsc__mech m, const char *server_name,
                        const char *target_host);
/* Goes as far as it can without waiting for the network: TDSC_OK once
 * logged in (c->io is the session's stack), TDSC__AGAIN with a->fd,
 * a->want and a->timer_ms (call again when one is ready, or at
 * a->deadline: the step then fails with the timeout), or the attempt's
 * failure (c->err, the same code and words as ever).  Some steps may
 * still block inside (tdsclient(3), NON-BLOCKING MODE): the pipe and
 * shared-memory connects. */
tdsc_errc tdsc__attempt_step(tdsc_conn *c, tdsc__attempt *a);
/* Frees what a holds (the mechanism's state too), not c->io. */
void tdsc__attempt_free(tdsc__attempt *a);

/* The states' steps, shared by attempt.c (the driver, TLS, PRELOGIN,
 * LOGIN7, the login response) and attempt_open.c (up to the transport):
 * each as tdsc__attempt_step says, st set to where it goes on. */
tdsc_errc tdsc__as_begin(tdsc_conn *c, tdsc__attempt *a);
tdsc_errc tdsc__as_creds(tdsc_conn *c, tdsc__attempt *a);
tdsc_errc tdsc__as_lookup(tdsc_conn *c, tdsc__attempt *a);
tdsc_errc tdsc__as_browser(tdsc_conn *c, tdsc__attempt *a);
tdsc_errc tdsc__as_transport(tdsc_conn *c, tdsc__attempt *a);
/* The TLS handshake started (st TLS or TLS_STRICT); PRELOGIN queued. */
tdsc_errc tdsc__as_tls_enter(tdsc_conn *c, tdsc__attempt *a,
                             tdsc__astate st);
tdsc_errc tdsc__as_prelogin_send(tdsc_conn *c, tdsc__attempt *a);
/* The trail's target once the mechanism knows who it is (attempt_open.c). */
void tdsc__as_target(tdsc__attempt *a);
/* Whether the mechanism's call that returned st still runs on its worker
 * (a->pending): the attempt then waits on the mechanism's descriptor, or
 * looks again shortly when it has none. */
bool tdsc__as_mech_pending(tdsc__attempt *a, tdsc__auth_status st);

/* Extended Protection (chanbind.c, doc/channel-binding.md): the channel
 * bindings of c->io's TLS given to the mechanism before its first token,
 * a->binding set for the trail; fails only with the mechanism's bind. */
tdsc_errc tdsc__attempt_bind(tdsc_conn *c, tdsc__attempt *a);
/* A refusal (18452) of the attempt's login: the hint says what was bound
 * (the server's answer does not tell a refused binding from refused
 * credentials). */
void tdsc__attempt_binding_hint(tdsc_conn *c, const tdsc__attempt *a);
/* Once the attempt ended: its channel binding into the trail entries just
 * added (c->attempts, and c->err when in_err: it failed, or was routed).
 * false: out of memory. */
bool tdsc__attempt_binding_record(tdsc_conn *c, const tdsc__attempt *a,
                                  bool in_err);

#endif
