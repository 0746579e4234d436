/* Extended Protection (doc/channel-binding.md): the channel bindings of the
 * TLS session a login travels in, handed to the mechanism just before its
 * first token (state LOGIN: TLS is up, LOGIN7 not yet built), and what the
 * trail and a refusal's hint say of them.  The TLS front gives the binding,
 * the mechanism takes the application data: neither knows the other. */
#include "config.h"

#include "session/attempt.h"

#include "auth/auth.h"

#include <stdio.h>
#include <string.h>

/* RFC 5929 section 3 / RFC 5056: the channel binding's prefix. */
#define UNIQUE_PREFIX "tls-unique:"

tdsc_errc tdsc__attempt_bind(tdsc_conn *c, tdsc__attempt *a) {
  a->binding[0] = 0;
  if (!a->ops->step)
    return TDSC_OK; /* no tokens (SQL login, Entra ID): nothing to bind */
  tdsc__tls_binding b;
  tdsc__tls_channel_binding(c->io, &b);
  if (!b.type) {
    snprintf(a->binding, sizeof a->binding, "none: %s", b.why);
    return TDSC_OK;
  }
  if (!a->ops->bind) {
    snprintf(a->binding, sizeof a->binding,
             "none: the %s mechanism takes no channel bindings", a->ops->name);
    return TDSC_OK;
  }
  /* only tls-unique exists (tls.h); its prefix is part of what is hashed */
  uint8_t app[sizeof UNIQUE_PREFIX - 1 + TDSC__TLS_BINDING_MAX];
  size_t plen = sizeof UNIQUE_PREFIX - 1;
  memcpy(app, UNIQUE_PREFIX, plen);
  memcpy(app + plen, b.data, b.len);
  tdsc_errc rc = a->ops->bind(a->state, app, plen + b.len, &c->err);
  if (rc == TDSC_OK)
    snprintf(a->binding, sizeof a->binding, "%s", b.type);
  return rc;
}

/* SQL Server answers a refused binding with 18452, as it answers refused
 * credentials or an untrusted domain (its log alone has the reason: 17806
 * state 46), or through SPNEGO with a reject the mechanism reads as refused
 * credentials; so the code stays the refusal's and the hint says what was
 * bound, which is the part the client knows. */
static bool refused(const tdsc_error *e) {
  const tdsc_message *m = tdsc_error_server_message(e);
  if (m && tdsc_message_number(m) == 18452)
    return true;
  switch (tdsc_error_code(e)) {
  case TDSC_E_NTLM_LOGON_DENIED:
  case TDSC_E_UNTRUSTED_DOMAIN:
  /* MIT's acceptor answers a binding that does not match with a
   * KRB-ERROR of no specific kind (KRB_ERR_GENERIC), which SQL Server's
   * forwarding of acceptor errors brings back */
  case TDSC_E_KRB_FAILED:
    return true;
  default:
    return false;
  }
}

void tdsc__attempt_binding_hint(tdsc_conn *c, const tdsc__attempt *a) {
  if (!a->binding[0] || !refused(&c->err))
    return;
  const char *base = tdsc_error_hint(&c->err);
  if (!strcmp(a->binding, "tls-unique"))
    tdsc__err_hint(&c->err,
                   "%s With Extended Protection on, the server refuses a "
                   "login whose tls-unique channel binding is not its own "
                   "TLS session's the same way: a TLS-intercepting proxy "
                   "between this client and the server makes that so; "
                   "connect to the server directly.",
                   base);
  else
    tdsc__err_hint(&c->err,
                   "%s This login carried no channel binding (%s): a "
                   "server with Extended Protection required refuses it "
                   "the same way.",
                   base, a->binding);
}

bool tdsc__attempt_binding_record(tdsc_conn *c, const tdsc__attempt *a,
                                  bool in_err) {
  return tdsc__err_trail_binding(&c->attempts, a->binding) &&
         (!in_err || tdsc__err_trail_binding(&c->err, a->binding));
}
