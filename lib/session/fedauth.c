/* Federated authentication around a mechanism whose policy row says
 * fedauth (policy.c; today entra.c's access tokens): PRELOGIN's
 * FEDAUTHREQUIRED and NONCEOPT (MS-TDS 2.2.6.5), the FEDAUTH feature of
 * LOGIN7 (2.2.6.4) with bFedAuthLibrary = security token (a token the
 * mechanism had before the login) or ADAL (one it gets once the server's
 * FEDAUTHINFO, 2.2.7.12, said for what and where, then sent in the
 * Federated Authentication Token message, 2.2.6.3) and its FEATUREEXTACK
 * (2.2.7.11).  connect.c calls these hooks at each step of
 * an attempt; they do nothing for other mechanisms.  The codecs are
 * lib/proto's, the token the mechanism's (never copied here). */
#include "config.h"

#include "session/session.h"

#include "auth/auth.h"

#include <string.h>

void tdsc_conn_set_token_provider(tdsc_conn *c, tdsc_token_fn fn,
                                  void *userdata) {
  if (!c)
    return;
  c->token_fn = fn;
  c->token_ud = fn ? userdata : NULL;
}

void tdsc__fedauth_params(tdsc_conn *c, const tdsc__mech_row *row,
                          tdsc__auth_params *p) {
  memset(&c->fedauth, 0, sizeof c->fedauth);
  c->fedauth.on = row->fedauth;
  if (!row->fedauth)
    return;
  p->access_token = tdsc__opt(&c->opts, TDSC__OPT_ACCESS_TOKEN);
  p->token_fn = c->token_fn;
  p->token_ud = c->token_ud;
  p->audience = tdsc__opt(&c->opts, TDSC__OPT_ENTRA_AUDIENCE);
  /* the HTTP sources (oauth.h): ODBC's and SqlClient's keywords, UID= the
   * client id and PWD= the secret */
  p->client_id = tdsc__opt(&c->opts, TDSC__OPT_UID);
  p->client_secret = tdsc__opt(&c->opts, TDSC__OPT_PWD);
  p->client_cert = tdsc__opt(&c->opts, TDSC__OPT_ENTRA_CLIENT_CERT);
  p->tenant = tdsc__opt(&c->opts, TDSC__OPT_ENTRA_TENANT);
  p->authority = tdsc__opt(&c->opts, TDSC__OPT_ENTRA_AUTHORITY);
  p->imds = tdsc__opt(&c->opts, TDSC__OPT_ENTRA_IMDS);
  p->cafile = tdsc__opt(&c->opts, TDSC__OPT_CAFILE);
  p->encrypt_off = c->opts.encrypt == TDSC__ENC_OFF;
}

void tdsc__fedauth_prelogin(tdsc_conn *c, tdsc__prelogin *pl) {
  if (!c->fedauth.on)
    return;
  /* "the client can do federated authentication": the server answers
   * with its own FEDAUTHREQUIRED, which LOGIN7 echoes (2.2.6.5) */
  pl->has_fedauth_required = true;
  pl->fedauth_required = 0x01;
}

tdsc_errc tdsc__fedauth_answer(tdsc_conn *c, const tdsc__prelogin *resp) {
  if (!c->fedauth.on)
    return TDSC_OK;
  if (resp->has_fedauth_required && resp->fedauth_required > 0x01)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s answered FEDAUTHREQUIRED 0x%02x "
                         "in PRELOGIN; MS-TDS defines 0x00 and 0x01",
                         c->address, resp->fedauth_required);
  c->fedauth.echo = resp->has_fedauth_required && resp->fedauth_required;
  c->fedauth.has_nonce = resp->has_nonce;
  if (resp->has_nonce)
    memcpy(c->fedauth.nonce, resp->nonce, TDSC__NONCE_LEN);
  return TDSC_OK;
}

void tdsc__fedauth_login7(tdsc_conn *c, const tdsc__mech_ops *ops,
                          void *state, tdsc__login7 *l) {
  if (!c->fedauth.on || !ops->bearer)
    return;
  /* fIntSecurity stays clear and there is no user name: the token is the
   * identity (2.2.6.4) */
  l->option_flags2 &= (uint8_t)~TDSC__OF2_INTEGRATED;
  l->sspi = NULL;
  l->sspi_len = 0;
  l->fedauth_echo = c->fedauth.echo;
  if (ops->fedauth_info) { /* ADAL: the nonce goes with the token */
    c->fedauth.adal = true;
    l->fedauth_workflow = ops->fedauth_workflow;
    return;
  }
  l->fedauth_token = ops->bearer(state);
  l->fedauth_nonce = c->fedauth.has_nonce ? c->fedauth.nonce : NULL;
}

tdsc_errc tdsc__fedauth_info(tdsc_conn *c, const tdsc__mech_ops *ops,
                             void *state, const tdsc__event *ev) {
  if (!c->fedauth.adal)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s sent FEDAUTHINFO, but this login "
                         "%s",
                         c->address,
                         c->fedauth.on ? "sent its token in LOGIN7 (security "
                                         "token): there is nothing to fetch"
                                       : "is not federated");
  if (c->fedauth.info)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s sent FEDAUTHINFO twice",
                         c->address);
  c->fedauth.info = true;
  tdsc_errc rc = ops->fedauth_info(state, ev->u.fedauthinfo.sts_url,
                                   ev->u.fedauthinfo.spn, &c->err);
  if (rc != TDSC_OK)
    tdsc__err_context(&c->err, "FEDAUTHINFO from the server at %s",
                      c->address);
  return rc;
}

tdsc_errc tdsc__fedauth_send(tdsc_conn *c, const tdsc__mech_ops *ops,
                             void *state, int64_t deadline) {
  tdsc__buf msg;
  tdsc__buf_init(&msg);
  tdsc_errc rc = tdsc__fedauth_token_encode(
      ops->bearer(state), c->fedauth.has_nonce ? c->fedauth.nonce : NULL,
      &msg, &c->err);
  if (rc == TDSC_OK)
    rc = tdsc__wire_send(c, TDSC__PKT_FEDAUTH, msg.data, msg.len, deadline);
  tdsc__buf_wipe(&msg); /* it held the token */
  tdsc__buf_free(&msg);
  c->fedauth.sent = rc == TDSC_OK;
  return rc;
}

tdsc_errc tdsc__fedauth_ack(tdsc_conn *c, const tdsc__event *ev) {
  for (size_t i = 0; i < ev->u.featureextack.n; i++) {
    if (ev->u.featureextack.ids[i] != TDSC__FEAT_FEDAUTH)
      continue;
    uint32_t len = ev->u.featureextack.lens[i];
    const uint8_t *d = ev->u.featureextack.data[i];
    if (!c->fedauth.on)
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server at %s acknowledged FEDAUTH, which "
                           "this login did not ask for",
                           c->address);
    /* Security token: the nonce only if the client's PRELOGIN sent one
     * (2.2.7.11), which this client never does; a server that echoes its
     * own nonce is let be, anything else is not the protocol. */
    if (len != 0 && !(len == TDSC__NONCE_LEN && c->fedauth.has_nonce &&
                      !memcmp(d, c->fedauth.nonce, TDSC__NONCE_LEN)))
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server at %s acknowledged FEDAUTH with %u "
                           "bytes of data; for a security token MS-TDS "
                           "2.2.7.11 allows none",
                           c->address, (unsigned)len);
    c->fedauth.acked = true;
  }
  return TDSC_OK;
}

tdsc_errc tdsc__fedauth_done(tdsc_conn *c, bool ack) {
  if (c->fedauth.adal && !c->fedauth.info)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s answered LOGIN7 without "
                         "FEDAUTHINFO, which the ADAL workflow of federated "
                         "authentication waits for (MS-TDS 2.2.7.12)",
                         c->address);
  if (ack && c->fedauth.adal && !c->fedauth.sent)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s accepted the login before it was "
                         "sent the token its FEDAUTHINFO asked for",
                         c->address);
  if (!ack || !c->fedauth.on || c->fedauth.acked)
    return TDSC_OK;
  return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server at %s accepted the login without "
                       "acknowledging FEDAUTH (no FEATUREEXTACK entry for "
                       "it): it may not have read the token at all",
                       c->address);
}
