/* One connect attempt as a state machine that never waits for the network
 * (attempt.h; MS-TDS 3.2.5): after the opening (attempt_open.c: the
 * mechanism's credentials, SQL Browser, the lookup, the transport),
 * PRELOGIN, TLS as the negotiated encryption asks, LOGIN7 (with the mechanism's first token for integrated
 * security, then SSPI tokens both ways) and the login response.  Each state
 * goes as far as it can and says what it waits for; connect.c walks the
 * attempts and waits (blocking) or hands the wait to the application.
 * Nothing here names a mechanism: policy.c's row says what it needs. */
#include "config.h"

#include "session/attempt.h"

#include "auth/auth.h"
#include "clock.h"
#include "sys.h"
#include "transport/lookup.h"
#include "transport/ssrp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *encrypt_name(tdsc__encrypt e) {
  switch (e) {
  case TDSC__ENC_OFF: return "off";
  case TDSC__ENC_OPTIONAL: return "optional";
  case TDSC__ENC_MANDATORY: return "mandatory";
  case TDSC__ENC_STRICT: return "strict";
  }
  return "?";
}

static const char *server_encrypt_name(uint8_t e) {
  switch (e) {
  case TDSC__ENCRYPT_OFF: return "ENCRYPT_OFF";
  case TDSC__ENCRYPT_ON: return "ENCRYPT_ON";
  case TDSC__ENCRYPT_NOT_SUP: return "ENCRYPT_NOT_SUP";
  case TDSC__ENCRYPT_REQ: return "ENCRYPT_REQ";
  }
  return "an unknown value";
}

void tdsc__attempt_init(tdsc__attempt *a, const tdsc__endpoint *ep,
                        tdsc__mech m, const char *server_name,
                        const char *target_host) {
  memset(a, 0, sizeof *a);
  a->ep = *ep;
  a->mech = m;
  a->row = tdsc__mech_row_of(m);
  a->server_name = server_name;
  /* a pipe's or shared memory's is the local host, which the certificate
   * must name unless HostNameInCertificate= says otherwise */
  a->tls_host = a->ep.host[0] ? a->ep.host : target_host;
  a->st = TDSC__AS_BEGIN;
  a->fd = TDSC__NO_POLLFD;
  a->timer_ms = -1;
  tdsc__buf_init(&a->token);
  tdsc__buf_init(&a->pend_in);
}

void tdsc__attempt_free(tdsc__attempt *a) {
  if (a->ops && a->state)
    a->ops->free_state(a->state);
  a->state = NULL;
  tdsc__lookup_free(a->lk);
  a->lk = NULL;
  tdsc__ssrp_free(a->browser);
  a->browser = NULL;
  tdsc__opener_free(a->open);
  a->open = NULL;
  tdsc__tls_hs_free(a->hs);
  a->hs = NULL;
  tdsc__buf_wipe(&a->token);
  tdsc__buf_free(&a->token);
  tdsc__buf_free(&a->pend_in);
  tdsc__msg_clear(&a->first_error);
}

/* ------------------------------------------------------------- TLS */

static const char *tls_context(const tdsc__attempt *a) {
  return a->st == TDSC__AS_TLS_STRICT ? "TLS handshake (TDS 8.0 strict)"
                                      : "TLS handshake";
}

/* Starts the handshake over c->io: state st (TLS or TLS_STRICT). */
tdsc_errc tdsc__as_tls_enter(tdsc_conn *c, tdsc__attempt *a,
                             tdsc__astate st) {
  a->st = st;
  a->tlso = (tdsc__tls_opts){
      .host = a->tls_host,
      .cert_host = tdsc__opt(&c->opts, TDSC__OPT_HOST_IN_CERT),
      .cafile = tdsc__opt(&c->opts, TDSC__OPT_CAFILE),
      .verify = !c->opts.trust_cert,
      .strict = st == TDSC__AS_TLS_STRICT,
      .peer = c->address,
  };
  tdsc_errc rc;
  /* perf: bytes read ahead below the new filter would skip it */
  if (tdsc__wire_rx_pending(c))
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server sent %zu bytes before the TLS "
                       "handshake, after its PRELOGIN answer",
                       tdsc__wire_rx_pending(c));
  else
    rc = tdsc__tls_hs_start(c->io, &a->tlso, &a->hs, &c->err);
  if (rc != TDSC_OK)
    tdsc__err_context(&c->err, "%s", tls_context(a));
  return rc;
}


static tdsc_errc tls_step(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__io *top = NULL;
  int want = 0;
  tdsc_errc rc = tdsc__tls_hs_step(a->hs, &top, &want, &c->err);
  if (rc == TDSC__AGAIN) {
    if (tdsc__ms_left(a->deadline) != 0) {
      a->want = want;
      return TDSC__AGAIN;
    }
    /* the words of the blocking handshake's wait (tdsc__tls_start) */
    rc = tdsc__err_set(&c->err, TDSC_E_READ_TIMEOUT,
                       "no data from the connection to %s before the "
                       "timeout",
                       c->address);
    tdsc__err_context(&c->err, "TLS handshake with %s at %s", a->tls_host,
                      c->address);
  }
  tdsc__tls_hs_free(a->hs);
  a->hs = NULL;
  if (rc != TDSC_OK) {
    tdsc__err_context(&c->err, "%s", tls_context(a));
    return rc;
  }
  c->io = top;
  snprintf(c->tls_version, sizeof c->tls_version, "%s",
           tdsc__tls_version(c->io));
  if (a->st == TDSC__AS_TLS_STRICT)
    return tdsc__as_prelogin_send(c, a);
  a->st = TDSC__AS_LOGIN;
  return TDSC_OK;
}

/* -------------------------------------------------------- PRELOGIN */

/* Queues PRELOGIN (MS-TDS 2.2.6.5); its answer is read in state
 * PRELOGIN. */
tdsc_errc tdsc__as_prelogin_send(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__prelogin pl = {.ver_major = TDSC_VERSION_MAJOR,
                       .ver_minor = TDSC_VERSION_MINOR,
                       .ver_build = TDSC_VERSION_PATCH,
                       .has_encryption = true,
                       .has_instance = true,
                       .has_thread_id = true,
                       .thread_id = (uint32_t)getpid(),
                       .has_mars = true};
  tdsc__encrypt want = c->opts.encrypt;
  pl.encryption = want == TDSC__ENC_MANDATORY || want == TDSC__ENC_STRICT
                      ? TDSC__ENCRYPT_ON
                      : TDSC__ENCRYPT_OFF;
  tdsc__fedauth_prelogin(c, &pl);
  a->st = TDSC__AS_PRELOGIN;
  tdsc__buf_reset(&c->out);
  tdsc__buf_reset(&c->in);
  tdsc_errc rc = tdsc__prelogin_encode(&pl, &c->out, &c->err);
  if (rc == TDSC_OK && c->out.oom)
    rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK)
    rc = tdsc__wire_send(c, TDSC__PKT_PRELOGIN, c->out.data, c->out.len,
                         a->deadline);
  if (rc != TDSC_OK)
    tdsc__err_context(&c->err, "PRELOGIN");
  return rc;
}

/* The PRELOGIN answer and the encryption it settles on (2.2.6.5, the table
 * under ENCRYPTION).  secret: the login will carry a password. */
static tdsc_errc prelogin_answer(tdsc_conn *c, bool secret,
                                 tdsc__tls_plan *plan) {
  tdsc__prelogin resp;
  tdsc_errc rc = tdsc__prelogin_decode(c->in.data, c->in.len, &resp, &c->err);
  if (rc == TDSC_OK)
    rc = tdsc__fedauth_answer(c, &resp);
  if (rc != TDSC_OK)
    return rc;
  snprintf(c->server_version, sizeof c->server_version, "%u.%u.%u",
           resp.ver_major, resp.ver_minor, resp.ver_build);
  tdsc__encrypt want = c->opts.encrypt;
  if (want == TDSC__ENC_STRICT) {
    *plan = TDSC__TLS_FULL; /* already under TLS; the answer's value is moot */
    return TDSC_OK;
  }
  uint8_t srv = resp.has_encryption ? resp.encryption : TDSC__ENCRYPT_NOT_SUP;
  switch (srv & 0x0F) {
  case TDSC__ENCRYPT_NOT_SUP:
    *plan = TDSC__TLS_NONE;
    break;
  case TDSC__ENCRYPT_OFF:
    *plan = want == TDSC__ENC_MANDATORY ? TDSC__TLS_FULL
                                        : TDSC__TLS_LOGIN_ONLY;
    break;
  case TDSC__ENCRYPT_ON:
  case TDSC__ENCRYPT_REQ:
    *plan = TDSC__TLS_FULL;
    break;
  default:
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server's PRELOGIN answer has encryption value "
                         "0x%02x, which MS-TDS does not define",
                         srv);
  }
  /* A password never travels outside TLS unless Encrypt=off; nor does any
   * session whose Encrypt= asks for TLS. */
  if (*plan == TDSC__TLS_NONE && want != TDSC__ENC_OFF &&
      (secret || want == TDSC__ENC_MANDATORY))
    return tdsc__err_set(&c->err, TDSC_E_TLS_ENCRYPTION_UNAVAILABLE,
                         "the server at %s does not support encryption (its "
                         "PRELOGIN answered %s), but Encrypt=%s does not "
                         "allow %s",
                         c->address, server_encrypt_name(srv),
                         encrypt_name(want),
                         secret ? "the login to go in clear"
                                : "a session without TLS");
  return TDSC_OK;
}

static tdsc_errc prelogin_step(tdsc_conn *c, tdsc__attempt *a) {
  tdsc_errc rc = tdsc__wire_recv_message(c, &c->in, a->deadline);
  if (rc == TDSC__AGAIN)
    return rc;
  /* SQL login sends a password, NTLM a password's response: both only
   * under TLS unless Encrypt=off. */
  if (rc == TDSC_OK)
    rc = prelogin_answer(c, a->row->secret, &a->plan);
  if (rc != TDSC_OK) {
    tdsc__err_context(&c->err, "PRELOGIN");
    return rc;
  }
  if (c->opts.encrypt == TDSC__ENC_STRICT) {
    a->st = TDSC__AS_LOGIN;
    return TDSC_OK;
  }
  a->tls_used = a->plan == TDSC__TLS_FULL         ? "tds7"
                : a->plan == TDSC__TLS_LOGIN_ONLY ? "login-only"
                                                  : "off";
  if (a->plan != TDSC__TLS_NONE)
    return tdsc__as_tls_enter(c, a, TDSC__AS_TLS);
  a->st = TDSC__AS_LOGIN;
  return TDSC_OK;
}

/* ----------------------------------------------------------- LOGIN7 */

static tdsc_errc send_login(tdsc_conn *c, const tdsc__attempt *a) {
  char host[256] = "";
  const char *wsid = tdsc__opt(&c->opts, TDSC__OPT_WSID);
  if (!wsid) {
    if (!tdsc__hostname(host, sizeof host))
      host[0] = 0;
    wsid = host;
  }
  /* integrated security (tokens) or a user name and password */
  bool sql = !a->ops->step;
  const char *user = NULL, *password = NULL;
  if (sql)
    a->ops->basic(a->state, &user, &password);
  tdsc__login7 l = {
      .tds_version = TDSC__TDS74,
      .packet_size = (uint32_t)c->opts.packet_size,
      .client_prog_ver =
          (TDSC_VERSION_MAJOR << 24) | (TDSC_VERSION_MINOR << 16),
      .client_pid = (uint32_t)getpid(),
      .option_flags1 =
          TDSC__OF1_USE_DB_ON | TDSC__OF1_INIT_DB_FATAL | TDSC__OF1_SET_LANG_ON,
      .option_flags2 = TDSC__OF2_INIT_LANG_FATAL | TDSC__OF2_ODBC |
                       (sql ? 0 : TDSC__OF2_INTEGRATED),
      .type_flags = c->opts.read_only ? TDSC__TF_READ_ONLY_INTENT : 0,
      .client_lcid = 0x0409,
      .hostname = wsid,
      .username = user,
      .password = password,
      .appname = tdsc__opt(&c->opts, TDSC__OPT_APP),
      .servername = a->server_name,
      .library = "tdsclient",
      .language = tdsc__opt(&c->opts, TDSC__OPT_LANGUAGE),
      .database = tdsc__opt(&c->opts, TDSC__OPT_DATABASE),
      .sspi = sql ? NULL : a->token.data,
      .sspi_len = sql ? 0 : a->token.len,
      .feature_utf8 = true,
  };
  tdsc__fedauth_login7(c, a->ops, a->state, &l);
  tdsc__buf_reset(&c->out);
  tdsc_errc rc = tdsc__login7_encode(&l, &c->out, &c->err);
  if (rc == TDSC_OK && c->out.oom)
    rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK)
    rc = tdsc__wire_send(c, TDSC__PKT_LOGIN7, c->out.data, c->out.len,
                         a->deadline);
  tdsc__buf_wipe(&c->out); /* it held the (scrambled) password */
  return rc;
}

/* One step of the mechanism with the server's token in (NULL first):
 * TDSC__AGAIN while its provider call runs on the worker (a->pending;
 * the wait is on the mechanism's descriptor), a failure (the mechanism's
 * error, a->mech_failed for a server token), else TDSC_OK. */
static tdsc_errc mech_step(tdsc_conn *c, tdsc__attempt *a, bool server,
                           const uint8_t *in, size_t inlen) {
  tdsc__auth_status st = a->ops->step(a->state, in, inlen, &a->token, &c->err);
  if (tdsc__as_mech_pending(a, st))
    return TDSC__AGAIN;
  if (st == TDSC__AUTH_FAILED) {
    /* After a server token the mechanism knows better than the 18452
     * that may follow: its error is kept. */
    a->mech_failed = server;
    return c->err.code;
  }
  a->done = st == TDSC__AUTH_DONE;
  return TDSC_OK;
}

/* The mechanism's first token, then LOGIN7 queued (state LOGIN_FLUSH
 * sends it). */
static tdsc_errc login_start(tdsc_conn *c, tdsc__attempt *a) {
  c->encryption = a->tls_used;
  tdsc_errc rc;
  if (a->ops->step && !a->pending && (rc = tdsc__attempt_bind(c, a)))
    return rc;
  if (a->ops->step && (rc = mech_step(c, a, false, NULL, 0)) != TDSC_OK)
    return rc;
  a->st = TDSC__AS_LOGIN_FLUSH;
  rc = send_login(c, a);
  if (rc != TDSC_OK)
    tdsc__err_context(&c->err, "LOGIN7");
  return rc;
}

static void round_begin(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__buf_reset(&a->token);
  a->sspi = false;
  a->fedinfo = false;
  a->st = TDSC__AS_ROUND;
  tdsc__wire_begin_response(c, a->deadline);
  /* an SSPI round's reply holds only the SSPI token, no DONE */
  c->in_partial_ok = true;
}

/* LOGIN7 goes out whole before login-only TLS ends (MS-TDS 2.2.6.5:
 * after the login packet the session is in clear). */
static tdsc_errc login_flush(tdsc_conn *c, tdsc__attempt *a) {
  tdsc_errc rc = tdsc__wire_flush(c, a->deadline);
  if (rc == TDSC__AGAIN)
    return rc;
  if (rc != TDSC_OK) {
    tdsc__err_context(&c->err, "LOGIN7");
    return rc;
  }
  if (a->plan == TDSC__TLS_LOGIN_ONLY)
    tdsc__tls_pop(&c->io);
  round_begin(c, a);
  return TDSC_OK;
}

/* ---------------------------------------------------- login response */

/* Maps the server's refusal of a login to our code. */
static tdsc_errc login_refused(tdsc_conn *c, const tdsc__attempt *a,
                               const tdsc_message *m) {
  const char *who = a->ops->identity(a->state);
  tdsc_errc code;
  switch (m->number) {
  case 18456:
    code = a->row->on_18456;
    break;
  case 18452:
    code = a->row->on_18452[a->done];
    break;
  case 4060:
    code = TDSC_E_LOGIN_NO_DATABASE;
    break;
  default:
    code = TDSC_E_SERVER_ERROR;
  }
  tdsc__err_set(&c->err, code,
                "the server at %s refused the %s login of '%s' (error %d, "
                "state %u, class %u): %s",
                c->address, tdsc__mech_name(a->mech), who ? who : "",
                (int)m->number, m->state, m->cls, m->text ? m->text : "");
  if (!tdsc__err_server_msg(&c->err, m))
    return tdsc__err_oom(&c->err);
  return code;
}

/* An ENVCHANGE routing (MS-TDS 2.2.7.9): checked and kept for connect.c,
 * which follows it once the login response is over.  The token's codec
 * checked its lengths; what it carries is judged here. */
static tdsc_errc routing_take(tdsc_conn *c, tdsc__attempt *a,
                              const tdsc__routing *r) {
  const char *srv = r->server ? r->server : "";
  if (a->routed)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s routes the login twice (a second "
                         "ENVCHANGE routing, to %s,%u)",
                         c->address, srv, r->port);
  if (r->protocol != 0)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s routes the login to %s,%u over "
                         "protocol %u (ENVCHANGE routing), but MS-TDS defines "
                         "only 0, TCP",
                         c->address, srv, r->port, r->protocol);
  if (!*srv)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s routes the login to an empty "
                         "server name (ENVCHANGE routing, port %u)",
                         c->address, r->port);
  if (!r->port)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s routes the login to %s at port 0 "
                         "(ENVCHANGE routing)",
                         c->address, srv);
  if (strlen(srv) >= sizeof a->route_host)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s routes the login to a server name "
                         "of %zu bytes (ENVCHANGE routing), longer than a "
                         "host name can be",
                         c->address, strlen(srv));
  a->routed = true;
  a->route_port = r->port;
  memcpy(a->route_host, srv, strlen(srv) + 1);
  return TDSC_OK;
}

/* One round of the login response: LOGINACK, ENVCHANGEs, INFO/ERROR, SSPI
 * tokens (stepped through the mechanism, whose answer lands in a->token),
 * DONE.  TDSC__AGAIN when the rest has not arrived: the next call goes on
 * where this one stopped (wire.c keeps the response's place). */
static tdsc_errc read_round(tdsc_conn *c, tdsc__attempt *a) {
  tdsc_errc rc;
  /* a token whose step waited for the mechanism's worker: again */
  if (a->pending &&
      (rc = mech_step(c, a, true, a->pend_in.data, a->pend_in.len)) != TDSC_OK)
    return rc;
  for (;;) {
    tdsc__event ev;
    bool end;
    rc = tdsc__wire_next_event(c, &ev, &end);
    if (rc == TDSC_E_WOULD_BLOCK)
      return TDSC__AGAIN;
    if (rc != TDSC_OK)
      return rc;
    if (end && !c->in_final &&
        ((!a->sspi && !a->fedinfo) || a->ack || a->have_error))
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server at %s ended its login response "
                           "without the final DONE token",
                           c->address);
    if (end)
      return TDSC_OK;
    switch (ev.kind) {
    case TDSC__EV_LOGINACK:
      a->ack = true;
      c->tds_version = ev.u.loginack.tds_version;
      free(c->server_name);
      c->server_name = tdsc__strdup(
          ev.u.loginack.prog_name ? ev.u.loginack.prog_name : "");
      if (!c->server_name)
        return tdsc__err_oom(&c->err);
      snprintf(c->server_version, sizeof c->server_version, "%u.%u.%u",
               ev.u.loginack.ver[0], ev.u.loginack.ver[1],
               (unsigned)(ev.u.loginack.ver[2] << 8 | ev.u.loginack.ver[3]));
      break;
    case TDSC__EV_ENVCHANGE:
      if (ev.u.envchange.type == TDSC__ENV_ROUTING) {
        if ((rc = routing_take(c, a, &ev.u.envchange.routing)) != TDSC_OK)
          return rc;
        break;
      }
      if ((rc = tdsc__conn_envchange(c, &ev)) != TDSC_OK)
        return rc;
      break;
    case TDSC__EV_INFO:
      tdsc__conn_message(c, &ev.u.msg);
      if (ev.u.msg.is_error && !a->have_error) {
        if (!tdsc__msg_copy(&a->first_error, &ev.u.msg))
          return tdsc__err_oom(&c->err);
        a->have_error = true;
      }
      break;
    case TDSC__EV_FEATUREEXTACK:
      if ((rc = tdsc__fedauth_ack(c, &ev)) != TDSC_OK)
        return rc;
      break;
    case TDSC__EV_FEDAUTHINFO: /* the ADAL workflow: fetched next */
      if ((rc = tdsc__fedauth_info(c, a->ops, a->state, &ev)) != TDSC_OK)
        return rc;
      a->fedinfo = true;
      break;
    case TDSC__EV_SSPI: {
      a->sspi = true;
      /* A token after the mechanism is done (SPNEGO's accept-completed,
       * with a mechListMIC) is the mechanism's to judge. */
      if (!a->ops->step)
        return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                             "the server at %s sent an SSPI token to a SQL "
                             "login",
                             c->address);
      rc = mech_step(c, a, true, ev.u.sspi.data, ev.u.sspi.len);
      if (rc == TDSC__AGAIN) {
        /* the token lives in the parser's buffer only until the next
         * event: kept for the step again */
        tdsc__buf_reset(&a->pend_in);
        tdsc__buf_put(&a->pend_in, ev.u.sspi.data, ev.u.sspi.len);
        if (a->pend_in.oom)
          return tdsc__err_oom(&c->err);
      }
      if (rc != TDSC_OK)
        return rc;
      break;
    }
    default:
      break;
    }
  }
}

/* The login's outcome once a round ended with LOGINACK or a refusal. */
static tdsc_errc login_verdict(tdsc_conn *c, tdsc__attempt *a) {
  if (a->have_error)
    return login_refused(c, a, &a->first_error);
  if (!a->ack && tdsc__fedauth_done(c, false) != TDSC_OK)
    return c->err.code; /* no FEDAUTHINFO where one was waited for */
  if (!a->ack)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s ended its login response without "
                         "a LOGINACK token",
                         c->address);
  /* the ADAL workflow's order; acknowledged without FEDAUTH */
  tdsc_errc rc = tdsc__fedauth_done(c, true);
  if (rc != TDSC_OK)
    return rc;
  if (a->ops->step && a->token.len)
    /* LOGINACK came with a token that asks for an answer (NTLM's
     * CHALLENGE, SPNEGO's request-mic): the exchange was not over, and
     * the answer is never sent. */
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s sent LOGINACK before the %s "
                         "exchange was over (our next token, %zu bytes, was "
                         "never sent)",
                         c->address, tdsc__mech_name(a->mech), a->token.len);
  if (a->ops->step && !a->done) {
    const char *mech = a->row->label;
    return a->row->unproven
               ? tdsc__err_set(&c->err, a->row->unproven,
                               "the server at %s accepted the login without "
                               "proving its identity as %s (no final %s "
                               "token)",
                               c->address, a->spn, mech)
               : tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                               "the server at %s accepted the %s login of %s "
                               "before the %s exchange was over",
                               c->address, mech, a->target, mech);
  }
  if (c->tds_version < TDSC__TDS74 && c->tds_version != TDSC__TDS80)
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL_VERSION,
                         "the server at %s speaks TDS 0x%08x, older than 7.4 "
                         "(SQL Server 2012)",
                         c->address, (unsigned)c->tds_version);
  if (c->tds_version != TDSC__TDS74 && c->tds_version != TDSC__TDS80)
    /* a server answers with the version the client offered or an older
     * one (MS-TDS 2.2.7.14): anything newer was never negotiated */
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s acknowledged the login with TDS "
                         "version 0x%08x, which this client did not offer "
                         "(7.4 or 8.0)",
                         c->address, (unsigned)c->tds_version);
  return TDSC_OK;
}

/* A round of the login response, then the next SSPI round (packet 0x11
 * out, token 0xED in) or the verdict. */
static tdsc_errc round_step(tdsc_conn *c, tdsc__attempt *a) {
  tdsc_errc rc = read_round(c, a);
  if (rc == TDSC__AGAIN)
    return rc;
  if (rc == TDSC_OK && a->fedinfo && !a->ack && !a->have_error) {
    a->st = TDSC__AS_FEDAUTH; /* the token for what FEDAUTHINFO said */
    return TDSC_OK;
  }
  if (rc == TDSC_OK && (a->ack || a->have_error || !a->token.len)) {
    rc = login_verdict(c, a);
    if (a->ops->judged && (a->ack || a->have_error))
      a->ops->judged(a->state, rc == TDSC_OK);
    if (rc == TDSC_OK)
      a->st = TDSC__AS_DONE;
  } else if (rc == TDSC_OK && a->round > 16) {
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server at %s did not finish the SSPI exchange "
                       "after %d rounds",
                       c->address, a->round);
  } else if (rc == TDSC_OK) {
    /* queued: the next round's first read sends it */
    rc = tdsc__wire_send(c, TDSC__PKT_SSPI, a->token.data, a->token.len,
                         a->deadline);
    if (rc == TDSC_OK) {
      a->round++;
      round_begin(c, a);
    }
  }
  if (rc != TDSC_OK && !a->mech_failed &&
      tdsc_errc_category(rc) != TDSC_CAT_SQL_LOGIN &&
      tdsc_errc_category(rc) != TDSC_CAT_SERVER)
    tdsc__err_context(&c->err, "login response");
  return rc;
}

/* The ADAL workflow's token (MS-TDS 2.2.6.3), once FEDAUTHINFO readied
 * its fetch: got on the mechanism's worker (TDSC__AGAIN meanwhile, the
 * wait on its descriptor, the attempt's deadline bounding it), then
 * queued as packet 0x08 and the login response read as another round. */
static tdsc_errc fedauth_step(tdsc_conn *c, tdsc__attempt *a) {
  tdsc__auth_status st = a->ops->acquire(a->state, &c->err);
  if (tdsc__as_mech_pending(a, st))
    return TDSC__AGAIN;
  if (st == TDSC__AUTH_FAILED)
    return c->err.code;
  tdsc__as_target(a); /* who the token names */
  tdsc_errc rc = tdsc__fedauth_send(c, a->ops, a->state, a->deadline);
  if (rc != TDSC_OK) {
    tdsc__err_context(&c->err, "federated authentication token");
    return rc;
  }
  a->round++;
  round_begin(c, a);
  return TDSC_OK;
}

/* ------------------------------------------------------------ driver */

tdsc_errc tdsc__attempt_step(tdsc_conn *c, tdsc__attempt *a) {
  a->fd = TDSC__NO_POLLFD;
  a->want = 0;
  a->timer_ms = -1;
  for (;;) {
    tdsc_errc rc;
    switch (a->st) {
    case TDSC__AS_BEGIN:
      rc = tdsc__as_begin(c, a);
      break;
    case TDSC__AS_CREDENTIALS:
      rc = tdsc__as_creds(c, a);
      break;
    case TDSC__AS_LOOKUP:
      rc = tdsc__as_lookup(c, a);
      break;
    case TDSC__AS_BROWSER:
      rc = tdsc__as_browser(c, a);
      break;
    case TDSC__AS_TRANSPORT:
      rc = tdsc__as_transport(c, a);
      break;
    case TDSC__AS_TLS_STRICT:
    case TDSC__AS_TLS:
      rc = tls_step(c, a);
      break;
    case TDSC__AS_PRELOGIN:
      rc = prelogin_step(c, a);
      break;
    case TDSC__AS_LOGIN:
      rc = login_start(c, a);
      break;
    case TDSC__AS_LOGIN_FLUSH:
      rc = login_flush(c, a);
      break;
    case TDSC__AS_ROUND:
      rc = round_step(c, a);
      break;
    case TDSC__AS_FEDAUTH:
      rc = fedauth_step(c, a);
      break;
    case TDSC__AS_DONE:
    default:
      return TDSC_OK;
    }
    if (rc == TDSC__AGAIN) {
      /* the wire's and TLS's waits are on the stack's descriptor; the
       * states up to TRANSPORT (attempt.h) and a mechanism's worker set
       * their own */
      if (a->st > TDSC__AS_TRANSPORT && !a->pending) {
        if (!a->want)
          a->want = c->want ? c->want : TDSC__WANT_READ;
        a->fd = c->io ? tdsc__io_pollfd(c->io) : TDSC__NO_POLLFD;
      }
      return rc;
    }
    if (rc != TDSC_OK)
      return rc;
  }
}
