/* The connect sequence (MS-TDS 3.2.5) over the attempts of attempt.c: for
 * each mechanism of the Authentication= list in order, each endpoint while
 * the server cannot be reached.  Each attempt becomes a trail entry; the
 * next mechanism is tried only after a failure another mechanism can cure
 * (policy.c, which also holds what each mechanism's row says: nothing here
 * names one).  The walk is resumable (tdsc__connect_poll never waits): the
 * blocking connect is the same walk with a wait between the steps
 * (tdsc__connect_wait), the non-blocking one hands the wait to the
 * application (tdsc_conn_connect_start, tdsc_conn_connect_poll).  With
 * Failover Partner= (database mirroring) the walk runs once more, at the
 * partner, when the principal's failed in a way the partner may cure. */
#include "config.h"

#include "session/attempt.h"

#include "clock.h"
#include "transport/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tdsc__connecting {
  tdsc__target t;
  tdsc__endpoint eps[TDSC__MAX_ENDPOINTS];
  size_t neps;
  tdsc__policy pol;
  size_t i;    /* the mechanism being tried */
  size_t e;    /* its endpoint */
  size_t from; /* the first endpoint worth trying */
  bool active; /* a runs */
  tdsc__attempt a;
  /* Routing (MS-TDS 2.2.7.9): a login accepted with ENVCHANGE routing
   * sends the mechanism's attempt on to x->route, within the first
   * attempt's deadline; hops counts the routes followed for it, seen
   * holds the servers logged in to on the way (a loop's evidence). */
  int hops;
  tdsc__endpoint route;
  char route_name[300]; /* LOGIN7 ServerName there: "host,port" */
  int64_t route_deadline;
  struct {
    char host[256];
    uint16_t port;
  } seen[TDSC__MAX_HOPS + 1];
  /* Database mirroring (Failover Partner=): the partner, pt, is walked
   * once after the principal's walk failed over (failover_worthy);
   * on_partner while it runs.  With a LoginTimeout the principal gets the
   * first half of it from start, the partner what is left (failover). */
  bool has_partner, on_partner;
  tdsc__target pt;
  int64_t start;
  char primary_cause[700]; /* "CODE: message" of the principal's failure */
};

void tdsc__connect_free(tdsc_conn *c) {
  struct tdsc__connecting *x = c->cx;
  if (!x)
    return;
  if (x->active)
    tdsc__attempt_free(&x->a);
  tdsc__policy_clear(&x->pol);
  free(x);
  c->cx = NULL;
}

tdsc_errc tdsc__connect_start(tdsc_conn *c, const char *connstr) {
  tdsc_errc rc = tdsc__options_parse(&c->opts, connstr, &c->err);
  if (rc != TDSC_OK)
    return rc;
  if ((rc = tdsc__trace_open(c)) != TDSC_OK)
    return rc;
  struct tdsc__connecting *x = calloc(1, sizeof *x);
  if (!x)
    return tdsc__err_oom(&c->err);
  c->cx = x;
  if ((rc = tdsc__target_parse(tdsc__opt(&c->opts, TDSC__OPT_SERVER), &x->t,
                               &c->err)) != TDSC_OK)
    return rc;
  if ((rc = tdsc__endpoints_plan(&c->opts, &x->t, x->eps, &x->neps,
                                 &c->err)) != TDSC_OK)
    return rc;
  const char *fp = tdsc__opt(&c->opts, TDSC__OPT_FAILOVER_PARTNER);
  if (fp) { /* checked by the option parser (tdsc__partner_check) */
    if ((rc = tdsc__target_parse_as(
             tdsc__optdefs[TDSC__OPT_FAILOVER_PARTNER].info.keyword, fp,
             &x->pt, &c->err)) != TDSC_OK)
      return rc;
    x->pt.proto = TDSC__PROTO_TCP; /* never a local pipe or memory */
    x->has_partner = true;
  }
  if (!c->tokp && !(c->tokp = tdsc__tokp_new()))
    return tdsc__err_oom(&c->err);
  tdsc__tokp_set_lazy(c->tokp, true); /* large values stream (stream.c) */
  tdsc__err_clear(&c->attempts);
  return TDSC_OK;
}

/* The attempt a logged in and was routed: the next hop readied in x
 * (TDSC_OK), or TDSC_E_ROUTING_TOO_MANY_HOPS (c->err) for a loop or one
 * hop too many. */
static tdsc_errc route_plan(tdsc_conn *c, struct tdsc__connecting *x,
                            const tdsc__attempt *a) {
  snprintf(x->seen[x->hops].host, sizeof x->seen[x->hops].host, "%s",
           a->ep.host);
  x->seen[x->hops].port = a->ep.port;
  for (int k = 0; k <= x->hops; k++)
    if (x->seen[k].port == a->route_port &&
        !strcasecmp(x->seen[k].host, a->route_host))
      return tdsc__err_set(&c->err, TDSC_E_ROUTING_TOO_MANY_HOPS,
                           "the server at %s routes the login back to %s,%u, "
                           "which %s (a routing loop)",
                           c->address, a->route_host, a->route_port,
                           k == x->hops ? "is itself"
                           : k == 0     ? "was the server connected to first"
                                        : "routed the login before");
  if (x->hops == TDSC__MAX_HOPS)
    return tdsc__err_set(&c->err, TDSC_E_ROUTING_TOO_MANY_HOPS,
                         "the server at %s routes the login to %s,%u, a "
                         "route more than the %d this client follows",
                         c->address, a->route_host, a->route_port,
                         TDSC__MAX_HOPS);
  x->hops++;
  memset(&x->route, 0, sizeof x->route);
  x->route.kind = TDSC__EP_TCP;
  memcpy(x->route.host, a->route_host, sizeof x->route.host);
  x->route.port = a->route_port;
  x->route.parallel = c->opts.multi_subnet;
  snprintf(x->route_name, sizeof x->route_name, "%s,%u", a->route_host,
           a->route_port);
  x->route_deadline = a->deadline;
  return TDSC_OK;
}

/* What the attempt's mechanism read of its token (auth.h token_facts),
 * into the entry just added to e's trail. */
static bool trail_token(tdsc_error *e, const tdsc__attempt *a) {
  const char *source = "", *claims = "";
  if (a->ops && a->ops->token_facts && a->state)
    a->ops->token_facts(a->state, &source, &claims);
  return tdsc__err_trail_token(e, source, claims);
}

/* The attempt a ended with rc (routed: where the server sent it, or ""):
 * its entry in the connect's trail (c->attempts) and, when it failed or
 * was routed (a later hop may fail), in the failure's (c->err).  false:
 * out of memory. */
static bool trail_record(tdsc_conn *c, const tdsc__attempt *a, tdsc_errc rc,
                         const char *routed) {
  const char *via = tdsc__ep_name(a->ep.kind);
  const char *mech = tdsc__mech_name(a->mech);
  const tdsc_error *outcome = rc == TDSC_OK ? NULL : &c->err;
  bool in_err = rc != TDSC_OK || *routed;
  return tdsc__err_trail_add(&c->attempts, via, c->address, a->tls_used, mech,
                             a->target, outcome) &&
         tdsc__err_trail_routed(&c->attempts, routed) &&
         trail_token(&c->attempts, a) &&
         (!in_err || (tdsc__err_trail_add(&c->err, via, c->address, a->tls_used,
                                          mech, a->target, outcome) &&
                      tdsc__err_trail_routed(&c->err, routed) &&
                      trail_token(&c->err, a))) &&
         tdsc__attempt_binding_record(c, a, in_err);
}

/* The principal's failure (rc, c->err, after the policy's verdict) that
 * the mirroring partner may cure.  A whitelist, so that nothing judged
 * ever fails over: TLS verdicts (the certificate, the name) and the
 * identity's (18456, 18452, the KDC's, the identity provider's: policy.c
 * judged) are absent, as are option and protocol errors.
 *  - The principal cannot be reached or does not answer: every address
 *    refused, unreachable or silent, the name or instance unknown, the
 *    connection dropped before the login was answered.
 *  - It answers that it cannot serve the database.  A mirror refuses a
 *    login to its database (in RESTORING state) with 4060 "Cannot open
 *    database requested by the login", then 18456; the first error is the
 *    one that says why (as SqlClient's SqlException.Number takes the
 *    first, and retries the partner unless it is 18456, 18488 or 1346).
 *    SQL Server's own messages for a database that is not the principal
 *    here (sys.messages): 954 "acting as a mirror database", 955 "enabled
 *    for Database Mirroring, but the database lacks quorum", and, for an
 *    availability group replica that cannot take the login, 976 (not
 *    accessible for queries), 978 (read-intent connections only) and 983
 *    (neither PRIMARY nor SECONDARY role).  The 18456 a client sees
 *    always carries state 1 (the real state is only in the server's log),
 *    so it can never tell "database not available": it never fails
 *    over. */
static bool failover_worthy(const tdsc_conn *c, tdsc_errc rc) {
  switch (rc) {
  case TDSC_E_HOST_NOT_FOUND:
  case TDSC_E_CONN_REFUSED:
  case TDSC_E_CONN_TIMEOUT:
  case TDSC_E_READ_TIMEOUT:
  case TDSC_E_CONN_RESET:
  case TDSC_E_CONN_CLOSED:
  case TDSC_E_BROWSER_UNREACHABLE:
  case TDSC_E_INSTANCE_NOT_FOUND:
  case TDSC_E_SHM_NOT_FOUND:
  case TDSC_E_PIPE_NOT_FOUND:
  case TDSC_E_PIPE_BUSY:
    return true;
  case TDSC_E_LOGIN_NO_DATABASE:
  case TDSC_E_SERVER_ERROR:
    break;
  default:
    return false;
  }
  if (!c->err.server_msg)
    return false;
  switch (c->err.server_msg->number) {
  case 4060:
  case 954:
  case 955:
  case 976:
  case 978:
  case 983:
    return true;
  default:
    return false;
  }
}

/* The principal failed with rc (failover_worthy): the walk starts again
 * at the partner, every mechanism of Authentication= in order, TLS
 * verified for the partner's host (unless HostNameInCertificate= names
 * one), LOGIN7's ServerName the partner as named.  The trail goes on. */
static tdsc_errc failover(tdsc_conn *c, struct tdsc__connecting *x,
                          tdsc_errc rc) {
  snprintf(x->primary_cause, sizeof x->primary_cause, "%s: %s",
           tdsc_errc_name(rc), tdsc_error_message(&c->err));
  x->t = x->pt;
  tdsc_errc prc = tdsc__endpoints_plan(&c->opts, &x->t, x->eps, &x->neps,
                                       &c->err);
  if (prc != TDSC_OK)
    return prc;
  x->on_partner = true;
  /* the verdict freed the policy's errors; its flags start anew too (a
   * principal out of reach "stopped" its chain, the partner's has not) */
  tdsc__policy_clear(&x->pol);
  memset(&x->pol, 0, sizeof x->pol);
  x->i = x->e = x->from = 0;
  x->hops = 0;
  return TDSC__AGAIN;
}

/* The attempt x->a ended with rc: its trail entry, then the next attempt
 * (TDSC__AGAIN: go on) or the connect's outcome. */
static tdsc_errc attempt_ended(tdsc_conn *c, struct tdsc__connecting *x,
                               tdsc_errc rc) {
  tdsc__attempt *a = &x->a;
  x->active = false;
  char routed[300] = "";
  /* a routed login is followed; its hop stays in the failure's trail
   * too, should a later hop fail */
  bool follow = false;
  if (rc == TDSC_OK && a->routed) {
    snprintf(routed, sizeof routed, "%s,%u", a->route_host, a->route_port);
    rc = route_plan(c, x, a);
    follow = rc == TDSC_OK;
  }
  if (rc != TDSC_OK) {
    tdsc__policy_fit_hint(c, a->ep.kind != TDSC__EP_TCP, x->t.host);
    tdsc__attempt_binding_hint(c, a);
  }
  bool oom = !trail_record(c, a, rc, routed);
  /* a routed attempt's endpoint is not one of the plan's: its failure
   * does not move the plan on, and the gateway did reach the server */
  bool unreachable = !x->hops && tdsc__endpoint_unreachable(rc);
  tdsc__attempt_free(a);
  if (oom)
    return tdsc__err_oom(&c->err);
  if (rc == TDSC_OK && !follow)
    return TDSC_OK;
  /* the session the server routed is closed; the next hop connects
   * anew (PRELOGIN, TLS verified for the routed host, login) */
  tdsc__conn_drop(c);
  if (follow)
    return TDSC__AGAIN;
  x->hops = 0;
  /* Each transport in turn, while the server cannot be reached; once one
   * reaches it, the next mechanisms start there. */
  if (unreachable && x->e + 1 < x->neps) {
    x->e++;
    return TDSC__AGAIN;
  }
  if (!unreachable)
    x->from = x->e;
  if (tdsc__policy_failed(&x->pol, c, x->i, rc) &&
      x->i + 1 < c->opts.nmechs) {
    x->i++;
    x->e = x->from;
    return TDSC__AGAIN;
  }
  rc = tdsc__policy_verdict(&x->pol, c, x->i, rc);
  if (x->has_partner && !x->on_partner && failover_worthy(c, rc))
    return failover(c, x, rc);
  if (x->on_partner) /* both failed: each one's cause in the message */
    tdsc__err_context(&c->err,
                      "the principal %s failed (%s), then the failover "
                      "partner %s",
                      tdsc__opt(&c->opts, TDSC__OPT_SERVER), x->primary_cause,
                      tdsc__opt(&c->opts, TDSC__OPT_FAILOVER_PARTNER));
  else if (x->has_partner)
    tdsc__err_context(&c->err,
                      "not trying the failover partner %s after this "
                      "failure (only a principal out of reach, or one that "
                      "cannot serve the database, is failed over)",
                      tdsc__opt(&c->opts, TDSC__OPT_FAILOVER_PARTNER));
  if (c->opts.note[0]) /* e.g. a password file ignored: maybe the cause */
    tdsc__err_context(&c->err, "%s", c->opts.note);
  return rc;
}

/* With a partner and a LoginTimeout, the deadline of an attempt (0: the
 * attempt's own, LoginTimeout from its start).  SqlClient and ODBC
 * alternate the two partners in rounds of growing slices (8% of the login
 * period, then 16%, ...) until it runs out; this client tries each once,
 * so it splits the period in two: the principal's attempts end at half of
 * it (a silent principal still leaves the partner time), the partner's
 * at its end, which is more than half when the principal failed
 * quickly (refused). */
static int64_t partner_deadline(const tdsc_conn *c,
                                struct tdsc__connecting *x) {
  int64_t ms = (int64_t)c->opts.login_timeout * 1000;
  if (!x->has_partner || ms <= 0)
    return 0;
  if (!x->start)
    x->start = tdsc__now_ms();
  return x->start + (x->on_partner ? ms : ms / 2);
}

tdsc_errc tdsc__connect_poll(tdsc_conn *c) {
  struct tdsc__connecting *x = c->cx;
  /* the steps never wait, whatever the application's mode */
  bool nb = c->nonblocking;
  c->nonblocking = true;
  tdsc_errc rc;
  for (;;) {
    if (!x->active) {
      if (x->hops) {
        tdsc__attempt_init(&x->a, &x->route, c->opts.mechs[x->i],
                           x->route_name, x->route.host);
        x->a.deadline = x->route_deadline;
      } else {
        tdsc__attempt_init(&x->a, &x->eps[x->e], c->opts.mechs[x->i],
                           x->t.name, x->t.host);
        x->a.deadline = partner_deadline(c, x);
      }
      c->packet_size = TDSC__PKT_DEFAULT;
      /* a partner named in a login that then failed is not this one's */
      free(c->failover_partner);
      c->failover_partner = NULL;
      x->active = true;
    }
    rc = tdsc__attempt_step(c, &x->a);
    if (rc == TDSC__AGAIN)
      break;
    if ((rc = attempt_ended(c, x, rc)) != TDSC__AGAIN)
      break;
  }
  c->nonblocking = nb;
  return rc;
}

bool tdsc__connect_waits(const tdsc_conn *c, intptr_t *fd, int *want,
                         int *ms) {
  const struct tdsc__connecting *x = c->cx;
  if (!x || !x->active)
    return false;
  const tdsc__attempt *a = &x->a;
  *fd = a->fd;
  *want = a->want;
  int left = tdsc__ms_left(a->deadline);
  *ms = a->timer_ms >= 0 && (left < 0 || a->timer_ms < left) ? a->timer_ms
                                                              : left;
  return true;
}

void tdsc__connect_wait(tdsc_conn *c) {
  intptr_t fd;
  int want, ms;
  if (!tdsc__connect_waits(c, &fd, &want, &ms) || ms == 0)
    return; /* (a deadline that passed: the step times out) */
  if (c->io && fd != TDSC__NO_POLLFD && fd == tdsc__io_pollfd(c->io)) {
    /* the stack's own wait (an event HANDLE on Windows, shared memory's
     * doorbell); its timeout or error is met again by the step, with the
     * words the step gives it */
    tdsc_error scratch = {0};
    (void)tdsc__io_wait(c->io, want,
                        ms < 0 ? TDSC__NO_DEADLINE : tdsc__now_ms() + ms,
                        &scratch);
    tdsc__err_clear(&scratch);
    return;
  }
  /* a TCP connect in flight: its newest socket, or only a timer */
  struct pollfd p = {.fd = (tdsc__sock)fd,
                     .events = (short)((want & TDSC__WANT_READ ? POLLIN : 0) |
                                       (want & TDSC__WANT_WRITE ? POLLOUT
                                                                : 0))};
  if (fd == TDSC__NO_POLLFD && (ms < 0 || ms > 2))
    ms = 2; /* nothing to wait on: a short nap, as io.c's */
  (void)tdsc__sock_poll(&p, fd == TDSC__NO_POLLFD ? 0 : 1, ms);
}
