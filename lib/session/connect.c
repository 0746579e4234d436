/* The connect sequence (MS-TDS 3.2.5): for each mechanism of the
 * Authentication= list in order, a connection: transport, PRELOGIN, TLS as
 * the negotiated encryption asks, LOGIN7 (with the mechanism's first token
 * for integrated security, then SSPI tokens both ways) and the login
 * response.  Each attempt becomes a trail entry; the next mechanism is tried
 * only after a failure another mechanism can cure (policy.c, which also
 * holds what each mechanism's row says: nothing here names one). */
#include "config.h"

#include "session/session.h"

#include "auth/auth.h"
#include "clock.h"
#include "sys.h"
#include "tls/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What PRELOGIN negotiated. */
typedef enum { TLS_NONE, TLS_LOGIN_ONLY, TLS_FULL } tls_plan;

/* One attempt: the mechanism, and what the trail says of it. */
typedef struct attempt {
  tdsc__endpoint ep; /* how the server is reached (port resolved) */
  tdsc__mech mech;
  const tdsc__mech_row *row; /* policy.c's */
  const char *server_name;   /* LOGIN7 ServerName: the target as named */
  const tdsc__mech_ops *ops; /* NULL until mech_init found it */
  void *state;
  const char *tls_used;
  char target[1200]; /* user, or "principal for SPN (how it was derived)" */
  char spn[300];
  bool done; /* the mechanism completed (for Kerberos: server proved itself) */
  bool mech_failed; /* the mechanism failed on a server token */
} attempt;

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

/* host: the endpoint's (a pipe's or shared memory's is the local host),
 * which the certificate must name unless HostNameInCertificate= says
 * otherwise. */
static tdsc_errc start_tls(tdsc_conn *c, const char *host, bool strict,
                           int64_t deadline) {
  tdsc__tls_opts o = {
      .host = host,
      .cert_host = tdsc__opt(&c->opts, TDSC__OPT_HOST_IN_CERT),
      .cafile = tdsc__opt(&c->opts, TDSC__OPT_CAFILE),
      .verify = !c->opts.trust_cert,
      .strict = strict,
      .peer = c->address,
  };
  /* perf: bytes read ahead below the new filter would skip it */
  if (tdsc__wire_rx_pending(c))
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server sent %zu bytes before the TLS "
                         "handshake, after its PRELOGIN answer",
                         tdsc__wire_rx_pending(c));
  tdsc_errc rc = tdsc__tls_start(&c->io, &o, deadline, &c->err);
  if (rc != TDSC_OK)
    return rc;
  snprintf(c->tls_version, sizeof c->tls_version, "%s",
           tdsc__tls_version(c->io));
  return TDSC_OK;
}

/* PRELOGIN exchange (2.2.6.5) and the encryption it settles on (the table
 * under ENCRYPTION there).  secret: the login will carry a password. */
static tdsc_errc prelogin(tdsc_conn *c, bool secret, tls_plan *plan,
                          int64_t deadline) {
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
  tdsc__buf_reset(&c->out);
  tdsc_errc rc = tdsc__prelogin_encode(&pl, &c->out, &c->err);
  if (rc == TDSC_OK && c->out.oom)
    rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK)
    rc = tdsc__wire_send(c, TDSC__PKT_PRELOGIN, c->out.data, c->out.len,
                         deadline);
  if (rc == TDSC_OK)
    rc = tdsc__wire_recv_message(c, &c->in, deadline);
  if (rc != TDSC_OK)
    return rc;
  tdsc__prelogin resp;
  rc = tdsc__prelogin_decode(c->in.data, c->in.len, &resp, &c->err);
  if (rc == TDSC_OK)
    rc = tdsc__fedauth_answer(c, &resp);
  if (rc != TDSC_OK)
    return rc;
  snprintf(c->server_version, sizeof c->server_version, "%u.%u.%u",
           resp.ver_major, resp.ver_minor, resp.ver_build);
  if (want == TDSC__ENC_STRICT) {
    *plan = TLS_FULL; /* already under TLS; the answer's value is moot */
    return TDSC_OK;
  }
  uint8_t srv = resp.has_encryption ? resp.encryption : TDSC__ENCRYPT_NOT_SUP;
  switch (srv & 0x0F) {
  case TDSC__ENCRYPT_NOT_SUP:
    *plan = TLS_NONE;
    break;
  case TDSC__ENCRYPT_OFF:
    *plan = want == TDSC__ENC_MANDATORY ? TLS_FULL : TLS_LOGIN_ONLY;
    break;
  case TDSC__ENCRYPT_ON:
  case TDSC__ENCRYPT_REQ:
    *plan = TLS_FULL;
    break;
  default:
    return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server's PRELOGIN answer has encryption value "
                         "0x%02x, which MS-TDS does not define",
                         srv);
  }
  /* A password never travels outside TLS unless Encrypt=off; nor does any
   * session whose Encrypt= asks for TLS. */
  if (*plan == TLS_NONE && want != TDSC__ENC_OFF &&
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

static tdsc_errc send_login(tdsc_conn *c, const attempt *a,
                            const tdsc__buf *token, int64_t deadline) {
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
      .client_lcid = 0x0409,
      .hostname = wsid,
      .username = user,
      .password = password,
      .appname = tdsc__opt(&c->opts, TDSC__OPT_APP),
      .servername = a->server_name,
      .library = "tdsclient",
      .language = tdsc__opt(&c->opts, TDSC__OPT_LANGUAGE),
      .database = tdsc__opt(&c->opts, TDSC__OPT_DATABASE),
      .sspi = sql ? NULL : token->data,
      .sspi_len = sql ? 0 : token->len,
      .feature_utf8 = true,
  };
  tdsc__fedauth_login7(c, a->ops, a->state, &l);
  tdsc__buf_reset(&c->out);
  tdsc_errc rc = tdsc__login7_encode(&l, &c->out, &c->err);
  if (rc == TDSC_OK && c->out.oom)
    rc = tdsc__err_oom(&c->err);
  if (rc == TDSC_OK)
    rc = tdsc__wire_send(c, TDSC__PKT_LOGIN7, c->out.data, c->out.len,
                         deadline);
  tdsc__buf_wipe(&c->out); /* it held the (scrambled) password */
  return rc;
}

/* Maps the server's refusal of a login to our code. */
static tdsc_errc login_refused(tdsc_conn *c, const attempt *a,
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

/* One round of the login response: LOGINACK, ENVCHANGEs, INFO/ERROR, SSPI
 * tokens (stepped through the mechanism, whose answer lands in *reply),
 * DONE.  *ack tells whether the login completed. */
static tdsc_errc read_login_round(tdsc_conn *c, attempt *a, tdsc__buf *reply,
                                  tdsc_message *first_error, bool *have_error,
                                  bool *ack, int64_t deadline) {
  tdsc_errc rc;
  bool sspi = false;
  tdsc__wire_begin_response(c, deadline);
  /* an SSPI round's reply holds only the SSPI token, no DONE */
  c->in_partial_ok = true;
  for (;;) {
    tdsc__event ev;
    bool end;
    if ((rc = tdsc__wire_next_event(c, &ev, &end)) != TDSC_OK)
      return rc;
    if (end && !c->in_final && (!sspi || *ack || *have_error))
      return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                           "the server at %s ended its login response "
                           "without the final DONE token",
                           c->address);
    if (end)
      return TDSC_OK;
    switch (ev.kind) {
    case TDSC__EV_LOGINACK:
      *ack = true;
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
        const tdsc__routing *r = &ev.u.envchange.routing;
        return tdsc__err_set(&c->err, TDSC_E_ROUTING_UNSUPPORTED,
                             "the server at %s routes this login to %s,%u "
                             "(ENVCHANGE routing), which this version does "
                             "not follow",
                             c->address, r->server ? r->server : "?",
                             r->port);
      }
      if ((rc = tdsc__conn_envchange(c, &ev)) != TDSC_OK)
        return rc;
      break;
    case TDSC__EV_INFO:
      tdsc__conn_message(c, &ev.u.msg);
      if (ev.u.msg.is_error && !*have_error) {
        if (!tdsc__msg_copy(first_error, &ev.u.msg))
          return tdsc__err_oom(&c->err);
        *have_error = true;
      }
      break;
    case TDSC__EV_FEATUREEXTACK:
      if ((rc = tdsc__fedauth_ack(c, &ev)) != TDSC_OK)
        return rc;
      break;
    case TDSC__EV_SSPI: {
      sspi = true;
      /* A token after the mechanism is done (SPNEGO's accept-completed,
       * with a mechListMIC) is the mechanism's to judge. */
      if (!a->ops->step)
        return tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                             "the server at %s sent an SSPI token to a SQL "
                             "login",
                             c->address);
      tdsc__auth_status st = a->ops->step(a->state, ev.u.sspi.data,
                                          ev.u.sspi.len, reply, &c->err);
      if (st == TDSC__AUTH_FAILED) {
        /* The mechanism knows better than the 18452 that may follow: keep
         * its error, and read the rest only to leave the stream in order. */
        a->mech_failed = true;
        return c->err.code;
      }
      a->done = st == TDSC__AUTH_DONE;
      break;
    }
    default:
      break;
    }
  }
}

/* Sends LOGIN7 and runs the login to its end: SSPI rounds (packet 0x11 out,
 * token 0xED in) until LOGINACK or a refusal. */
static tdsc_errc login(tdsc_conn *c, attempt *a, tdsc__buf *token,
                       tls_plan plan, int64_t deadline) {
  tdsc_message first_error = {0};
  bool have_error = false, ack = false;
  tdsc_errc rc = send_login(c, a, token, deadline);
  if (rc != TDSC_OK) {
    tdsc__err_context(&c->err, "LOGIN7");
    return rc;
  }
  if (plan == TLS_LOGIN_ONLY)
    tdsc__tls_pop(&c->io);
  for (int round = 0;; round++) {
    tdsc__buf_reset(token);
    rc = read_login_round(c, a, token, &first_error, &have_error, &ack,
                          deadline);
    if (rc != TDSC_OK)
      goto out;
    if (ack || have_error || !token->len)
      break;
    if (round > 16) {
      rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                         "the server at %s did not finish the SSPI exchange "
                         "after %d rounds",
                         c->address, round);
      goto out;
    }
    rc = tdsc__wire_send(c, TDSC__PKT_SSPI, token->data, token->len, deadline);
    if (rc != TDSC_OK)
      goto out;
  }
  if (have_error) {
    rc = login_refused(c, a, &first_error);
  } else if (!ack) {
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server at %s ended its login response without a "
                       "LOGINACK token",
                       c->address);
  } else if ((rc = tdsc__fedauth_done(c)) != TDSC_OK) {
    /* acknowledged without FEDAUTH (fedauth.c) */
  } else if (a->ops->step && token->len) {
    /* LOGINACK came with a token that asks for an answer (NTLM's
     * CHALLENGE, SPNEGO's request-mic): the exchange was not over, and
     * the answer is never sent. */
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server at %s sent LOGINACK before the %s "
                       "exchange was over (our next token, %zu bytes, was "
                       "never sent)",
                       c->address, tdsc__mech_name(a->mech), token->len);
  } else if (a->ops->step && !a->done) {
    const char *mech = a->row->label;
    rc = a->row->unproven
             ? tdsc__err_set(&c->err, a->row->unproven,
                             "the server at %s accepted the login without "
                             "proving its identity as %s (no final %s "
                             "token)",
                             c->address, a->spn, mech)
             : tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                             "the server at %s accepted the %s login of %s "
                             "before the %s exchange was over",
                             c->address, mech, a->target, mech);
  } else if (c->tds_version < TDSC__TDS74 && c->tds_version != TDSC__TDS80) {
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL_VERSION,
                       "the server at %s speaks TDS 0x%08x, older than 7.4 "
                       "(SQL Server 2012)",
                       c->address, (unsigned)c->tds_version);
  } else if (c->tds_version != TDSC__TDS74 && c->tds_version != TDSC__TDS80) {
    /* a server answers with the version the client offered or an older
     * one (MS-TDS 2.2.7.14): anything newer was never negotiated */
    rc = tdsc__err_set(&c->err, TDSC_E_PROTOCOL,
                       "the server at %s acknowledged the login with TDS "
                       "version 0x%08x, which this client did not offer "
                       "(7.4 or 8.0)",
                       c->address, (unsigned)c->tds_version);
  }
out:
  tdsc__msg_clear(&first_error);
  if (rc != TDSC_OK && !a->mech_failed &&
      tdsc_errc_category(rc) != TDSC_CAT_SQL_LOGIN &&
      tdsc_errc_category(rc) != TDSC_CAT_SERVER)
    tdsc__err_context(&c->err, "login response");
  return rc;
}

/* Readies the mechanism: credentials, before any traffic (a mechanism with
 * none is skipped without touching the server). */
static tdsc_errc mech_init(tdsc_conn *c, attempt *a, int64_t deadline) {
  char how[600] = "", host[256] = "";
  if (a->row->spn) {
    tdsc__endpoint_spn(&c->opts, &a->ep, a->spn, sizeof a->spn, how,
                       sizeof how);
    snprintf(a->target, sizeof a->target, "%s (%s)", a->spn, how);
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
      .deadline = deadline,
  };
  tdsc__fedauth_params(c, a->row, &p);
  tdsc_errc rc = a->ops->init(&a->state, &p, &c->err);
  if (rc == TDSC_OK) {
    const char *id = a->ops->identity(a->state);
    if (id && *id && !a->row->trail_spn)
      snprintf(a->target, sizeof a->target, "%s", id);
    else if (id && *id)
      snprintf(a->target, sizeof a->target, "%s for %s (%s)", id, a->spn,
               how);
  }
  return rc;
}

/* One attempt: one mechanism over one endpoint. */
static tdsc_errc attempt_one(tdsc_conn *c, const tdsc__target *t, attempt *a) {
  int64_t deadline = tdsc__deadline_in(c->opts.login_timeout * 1000);
  const char *tls_host = a->ep.host[0] ? a->ep.host : t->host;
  tls_plan plan = TLS_NONE;
  tdsc__buf token;
  tdsc_errc rc;

  tdsc__buf_init(&token);
  if (a->ep.kind == TDSC__EP_TCP)
    snprintf(c->address, sizeof c->address, "%s,%u", a->ep.host, a->ep.port);
  else
    snprintf(c->address, sizeof c->address, "%s", a->ep.path);
  a->tls_used = c->opts.encrypt == TDSC__ENC_STRICT ? "strict" : "-";
  if ((rc = tdsc__endpoint_resolve(&c->opts, &a->ep, deadline, c->address,
                                   sizeof c->address, &c->err)) != TDSC_OK)
    goto out;
  if ((rc = mech_init(c, a, deadline)) != TDSC_OK)
    goto out;
  if ((rc = tdsc__endpoint_open(&a->ep, deadline, &c->io, c->address,
                                sizeof c->address, &c->err)) != TDSC_OK)
    goto out;
  if (c->opts.encrypt == TDSC__ENC_STRICT &&
      (rc = start_tls(c, tls_host, true, deadline)) != TDSC_OK) {
    tdsc__err_context(&c->err, "TLS handshake (TDS 8.0 strict)");
    goto out;
  }
  /* SQL login sends a password, NTLM a password's response: both only
   * under TLS unless Encrypt=off. */
  if ((rc = prelogin(c, a->row->secret, &plan, deadline)) != TDSC_OK) {
    tdsc__err_context(&c->err, "PRELOGIN");
    goto out;
  }
  if (c->opts.encrypt != TDSC__ENC_STRICT) {
    a->tls_used = plan == TLS_FULL         ? "tds7"
                  : plan == TLS_LOGIN_ONLY ? "login-only"
                                           : "off";
    if (plan != TLS_NONE &&
        (rc = start_tls(c, tls_host, false, deadline)) != TDSC_OK) {
      tdsc__err_context(&c->err, "TLS handshake");
      goto out;
    }
  }
  c->encryption = a->tls_used;
  if (a->ops->step) {
    tdsc__auth_status st = a->ops->step(a->state, NULL, 0, &token, &c->err);
    if (st == TDSC__AUTH_FAILED) {
      rc = c->err.code;
      goto out;
    }
    a->done = st == TDSC__AUTH_DONE;
  }
  rc = login(c, a, &token, plan, deadline);
out:
  tdsc__buf_wipe(&token);
  tdsc__buf_free(&token);
  return rc;
}

tdsc_errc tdsc__connect(tdsc_conn *c, const char *connstr) {
  tdsc__target t;
  tdsc_errc rc = tdsc__options_parse(&c->opts, connstr, &c->err);
  if (rc != TDSC_OK)
    return rc;
  if ((rc = tdsc__trace_open(c)) != TDSC_OK)
    return rc;
  if ((rc = tdsc__target_parse(tdsc__opt(&c->opts, TDSC__OPT_SERVER), &t,
                               &c->err)) != TDSC_OK)
    return rc;
  tdsc__endpoint eps[TDSC__MAX_ENDPOINTS];
  size_t neps;
  if ((rc = tdsc__endpoints_plan(&c->opts, &t, eps, &neps, &c->err)) !=
      TDSC_OK)
    return rc;
  if (!c->tokp && !(c->tokp = tdsc__tokp_new()))
    return tdsc__err_oom(&c->err);
  tdsc__tokp_set_lazy(c->tokp, true); /* large values stream (stream.c) */

  tdsc__err_clear(&c->attempts);
  tdsc__policy pol = {0};
  size_t i, from = 0; /* the first endpoint worth trying */
  for (i = 0; i < c->opts.nmechs; i++) {
    /* Each transport in turn, while the server cannot be reached; once one
     * reaches it, the next mechanisms start there. */
    for (size_t e = from; e < neps; e++) {
      attempt a = {.ep = eps[e],
                   .mech = c->opts.mechs[i],
                   .row = tdsc__mech_row_of(c->opts.mechs[i]),
                   .server_name = t.name};
      c->packet_size = TDSC__PKT_DEFAULT;
      rc = attempt_one(c, &t, &a);
      if (rc != TDSC_OK)
        tdsc__policy_fit_hint(c, a.ep.kind != TDSC__EP_TCP, t.host);
      if (a.ops && a.state)
        a.ops->free_state(a.state);
      const char *via = tdsc__ep_name(a.ep.kind);
      if (!tdsc__err_trail_add(&c->attempts, via, c->address, a.tls_used,
                               tdsc__mech_name(a.mech), a.target,
                               rc == TDSC_OK ? NULL : &c->err) ||
          (rc != TDSC_OK &&
           !tdsc__err_trail_add(&c->err, via, c->address, a.tls_used,
                                tdsc__mech_name(a.mech), a.target, &c->err))) {
        tdsc__policy_clear(&pol);
        return tdsc__err_oom(&c->err);
      }
      if (rc == TDSC_OK) {
        tdsc__policy_clear(&pol);
        return TDSC_OK;
      }
      tdsc__conn_drop(c);
      if (!tdsc__endpoint_unreachable(rc) || e + 1 == neps) {
        from = tdsc__endpoint_unreachable(rc) ? from : e;
        break;
      }
    }
    if (!tdsc__policy_failed(&pol, c, i, rc) || i + 1 == c->opts.nmechs)
      break;
  }
  rc = tdsc__policy_verdict(&pol, c, i, rc);
  if (c->opts.note[0]) /* e.g. a password file ignored: maybe the cause */
    tdsc__err_context(&c->err, "%s", c->opts.note);
  return rc;
}
