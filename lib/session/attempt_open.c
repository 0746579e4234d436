/* The opening of a connect attempt (attempt.h): the mechanism readied and
 * its credentials acquired, SQL Browser asked for an instance's port, the
 * host's lookup and the transport, up to the TLS handshake or PRELOGIN,
 * which attempt.c takes on from there.  Nothing here waits: the lookup,
 * the credentials and SQL Browser say what they wait for, as the TCP
 * connect does. */
#include "config.h"

#include "session/attempt.h"

#include "auth/auth.h"
#include "clock.h"
#include "sys.h"
#include "transport/lookup.h"
#include "transport/sock.h"
#include "transport/ssrp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------- credentials */

/* Readies the mechanism: credentials, before any traffic (a mechanism with
 * none is skipped without touching the server). */
/* The trail's target once the mechanism knows who it is: the identity,
 * and the SPN where the row says so. */
void tdsc__as_target(tdsc__attempt *a) {
  const char *id = a->ops->identity(a->state);
  if (id && *id && !a->row->trail_spn)
    snprintf(a->target, sizeof a->target, "%s", id);
  else if (id && *id)
    snprintf(a->target, sizeof a->target, "%s for %s (%s)", id, a->spn,
             a->spn_how);
}

static tdsc_errc mech_init(tdsc_conn *c, tdsc__attempt *a) {
  char host[256] = "";
  if (a->row->spn) {
    tdsc__endpoint_spn(&c->opts, &a->ep, a->spn, sizeof a->spn, a->spn_how,
                       sizeof a->spn_how);
    snprintf(a->target, sizeof a->target, "%s (%s)", a->spn, a->spn_how);
  }
  a->ops = *a->row->ops;
  if (!a->ops)
    return tdsc__err_set(&c->err, a->row->absent_code, "%s", a->row->absent);
  /* NTLM's account: NTLMUser/NTLMPassword, else a UID of the form
   * DOMAIN\user with PWD (FreeTDS's convention). */
  const char *nuser = tdsc__opt(&c->opts, TDSC__OPT_NTLM_USER);
  const char *npass = tdsc__opt(&c->opts, TDSC__OPT_NTLM_PASSWORD);
  const char *uid = tdsc__opt(&c->opts, TDSC__OPT_UID);
  if (!nuser && uid && strchr(uid, '\\')) {
    nuser = uid;
    npass = tdsc__opt(&c->opts, TDSC__OPT_PWD);
  }
  /* Kerberos's principal: KrbPrincipal=, else UID= unless UID= names the
   * login of a listed mechanism (sql) or an NTLM account (DOMAIN\user).  The
   * principal asked for is the one used, or the attempt fails with its own
   * code (gssapi.c): never silently whoever the ticket cache holds. */
  const char *principal = tdsc__opt(&c->opts, TDSC__OPT_KRB_PRINCIPAL);
  bool uid_owned = false;
  for (size_t k = 0; k < c->opts.nmechs; k++)
    uid_owned = uid_owned || tdsc__mech_row_of(c->opts.mechs[k])->owns_uid;
  if (!principal && uid && *uid && !strchr(uid, '\\') && !uid_owned)
    principal = uid;
  const char *wsid = tdsc__opt(&c->opts, TDSC__OPT_WSID);
  if (!wsid && tdsc__hostname(host, sizeof host))
    wsid = host;
  tdsc__auth_params p = {
      .sql_user = uid,
      .sql_password = tdsc__opt(&c->opts, TDSC__OPT_PWD),
      .spn = a->row->spn ? a->spn : NULL,
      .ccache = tdsc__opt(&c->opts, TDSC__OPT_KRB_CCACHE),
      .keytab = tdsc__opt(&c->opts, TDSC__OPT_KRB_KEYTAB),
      .principal = principal,
      .password = tdsc__opt(&c->opts, TDSC__OPT_KRB_PASSWORD),
      .ntlm_user = nuser,
      .ntlm_password = npass,
      .ntlm_credfile = tdsc__opt(&c->opts, TDSC__OPT_NTLM_CREDFILE),
      .workstation = wsid,
      .spnego = c->opts.spnego,
      .deadline = a->deadline,
      .pending_ok = true, /* tdsc__attempt_step waits for the worker */
  };
  tdsc__fedauth_params(c, a->row, &p);
  tdsc_errc rc = a->ops->init(&a->state, &p, &c->err);
  if (rc == TDSC_OK)
    tdsc__as_target(a);
  return rc;
}

/* --------------------------------------------------------- transport */

/* Starts the lookup of the host: of its SQL Browser while the instance's
 * port is unknown, else of its TCP port. */
static tdsc_errc lookup_enter(tdsc_conn *c, tdsc__attempt *a) {
  bool browser = !a->ep.port;
  uint16_t port = !browser               ? a->ep.port
                  : c->opts.browser_port ? (uint16_t)c->opts.browser_port
                                         : TDSC__SSRP_PORT;
  a->st = TDSC__AS_LOOKUP;
  return tdsc__lookup_start(
      a->ep.host, port, browser ? SOCK_DGRAM : SOCK_STREAM, &a->lk, &c->err);
}

/* Opens the transport: a pipe or shared memory at once; for TCP the
 * host's lookup comes first. */
static tdsc_errc transport_enter(tdsc_conn *c, tdsc__attempt *a) {
  if (a->ep.kind == TDSC__EP_TCP)
    return lookup_enter(c, a);
  a->st = TDSC__AS_TRANSPORT;
  return tdsc__endpoint_opener(&a->ep, NULL, 0, &a->open, &c->err);
}

/* The credentials the mechanism's init left to acquire (a password or a
 * keytab asks the KDC), on its worker, before any traffic; then the
 * transport. */
bool tdsc__as_mech_pending(tdsc__attempt *a, tdsc__auth_status st) {
  a->pending = st == TDSC__AUTH_PENDING;
  if (!a->pending)
    return false;
  a->fd = a->ops->pollfd ? a->ops->pollfd(a->state) : TDSC__NO_POLLFD;
  a->want = TDSC__WANT_READ;
  if (a->fd == TDSC__NO_POLLFD)
    a->timer_ms = 2; /* nothing to wait on: look again shortly */
  return true;
}

tdsc_errc tdsc__as_creds(tdsc_conn *c, tdsc__attempt *a) {
  if (a->ops->acquire) {
    tdsc__auth_status st = a->ops->acquire(a->state, &c->err);
    if (tdsc__as_mech_pending(a, st))
      return TDSC__AGAIN;
    if (st == TDSC__AUTH_FAILED)
      return c->err.code;
    tdsc__as_target(a); /* who was acquired */
  }
  return transport_enter(c, a);
}

/* The mechanism readied (init), then its credentials (creds_step). */
static tdsc_errc mech_enter(tdsc_conn *c, tdsc__attempt *a) {
  tdsc_errc rc = mech_init(c, a);
  if (rc != TDSC_OK)
    return rc;
  a->st = TDSC__AS_CREDENTIALS;
  return tdsc__as_creds(c, a);
}

/* Readies the mechanism, then opens the transport; for an instance SQL
 * Browser is asked first (the mechanism waits for the port, which its SPN
 * may name). */
tdsc_errc tdsc__as_begin(tdsc_conn *c, tdsc__attempt *a) {
  /* a routed attempt keeps the deadline of the one routed (connect.c):
   * LoginTimeout bounds the whole way to the server */
  if (!a->deadline)
    a->deadline = tdsc__deadline_in(c->opts.login_timeout * 1000);
  if (a->ep.kind == TDSC__EP_TCP && !a->ep.port)
    snprintf(c->address, sizeof c->address, "%s\\%s (SQL Browser)",
             a->ep.host, a->ep.instance);
  else if (a->ep.kind == TDSC__EP_TCP)
    snprintf(c->address, sizeof c->address, "%s,%u", a->ep.host, a->ep.port);
  else
    snprintf(c->address, sizeof c->address, "%s", a->ep.path);
  a->tls_used = c->opts.encrypt == TDSC__ENC_STRICT ? "strict" : "-";
  if (a->ep.kind == TDSC__EP_TCP && !a->ep.port)
    return lookup_enter(c, a);
  return mech_enter(c, a);
}

tdsc_errc tdsc__as_lookup(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__addr *addrs;
  size_t n;
  tdsc_errc rc = tdsc__lookup_step(a->lk, a->deadline, &addrs, &n, &a->fd,
                                   &c->err);
  if (rc == TDSC__AGAIN) {
    a->want = TDSC__WANT_READ;
    if (a->fd == TDSC__NO_POLLFD)
      a->timer_ms = 2; /* nothing to wait on: look again shortly */
    return rc;
  }
  tdsc__lookup_free(a->lk);
  a->lk = NULL;
  if (rc != TDSC_OK)
    return rc;
  if (!a->ep.port) {
    a->st = TDSC__AS_BROWSER;
    return tdsc__ssrp_start(a->ep.host, (uint16_t)c->opts.browser_port,
                            a->ep.instance, addrs, n, &a->browser, &c->err);
  }
  a->st = TDSC__AS_TRANSPORT;
  return tdsc__endpoint_opener(&a->ep, addrs, n, &a->open, &c->err);
}

/* SQL Browser's answer gives the port; then the mechanism, and the TCP
 * port's lookup. */
tdsc_errc tdsc__as_browser(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__ssrp_info info;
  tdsc_errc rc = tdsc__ssrp_step(a->browser, a->deadline, &info, &a->fd,
                                 &a->timer_ms, &c->err);
  if (rc == TDSC__AGAIN) {
    a->want = TDSC__WANT_READ;
    return rc;
  }
  tdsc__ssrp_free(a->browser);
  a->browser = NULL;
  if (rc == TDSC_OK)
    rc = tdsc__endpoint_browsed(&a->ep, &info, &c->err);
  if (rc == TDSC_OK)
    rc = mech_enter(c, a);
  return rc;
}

tdsc_errc tdsc__as_transport(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__io *io = NULL;
  tdsc__open_wait w;
  tdsc_errc rc = tdsc__opener_step(a->open, a->deadline, &io, c->address,
                                   sizeof c->address, &w, &c->err);
  if (rc == TDSC__AGAIN) {
    a->fd = w.fd;
    a->want = w.want;
    a->timer_ms = w.timer_ms;
    return rc;
  }
  tdsc__opener_free(a->open);
  a->open = NULL;
  if (rc != TDSC_OK)
    return rc;
  c->io = io;
  if (c->opts.encrypt == TDSC__ENC_STRICT)
    return tdsc__as_tls_enter(c, a, TDSC__AS_TLS_STRICT);
  return tdsc__as_prelogin_send(c, a);
}

