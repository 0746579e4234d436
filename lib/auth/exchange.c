/* The token exchange of a context mechanism (exchange.h): raw tokens, or
 * SPNEGO (RFC 4178; MS-SPNG for Windows' acceptors) offering exactly one
 * mechanism with its first token optimistically, so that every failure
 * keeps the mechanism's own code and no mechanism is silently substituted.
 * The mechanism files (gssapi.c, ntlm.c, sspi.c) give the hooks; nothing
 * here knows Kerberos from NTLM but by the hooks' flags. */
#include "config.h"

#include "auth/exchange.h"

#include <stdio.h>
#include <stdlib.h>

const tdsc__mech_facts tdsc__facts_kerberos = {
    .label = "Kerberos",
    .first_reply = "AP-REP",
    .oid = &tdsc__oid_krb5,
    .alias = &tdsc__oid_ms_krb5, /* Windows answers with its own OID */
    .broken_code = TDSC_E_KRB_FAILED,
    .no_token_code = TDSC_E_PROTOCOL,
    .reject_code = {TDSC_E_KRB_FAILED, TDSC_E_KRB_FAILED},
    .mic_code = TDSC_E_KRB_MUTUAL_AUTH_FAILED, /* the server is not who */
    .reject_decodes = true,
};

/* MS-NLMP 3.1.5: NEGOTIATE, CHALLENGE, AUTHENTICATE: one server token. */
const tdsc__mech_facts tdsc__facts_ntlm = {
    .label = "NTLM",
    .first_reply = "CHALLENGE",
    .oid = &tdsc__oid_ntlmssp,
    .broken_code = TDSC_E_NTLM_FAILED,
    .no_token_code = TDSC_E_NTLM_REFUSED,
    .reject_code = {TDSC_E_NTLM_REFUSED, TDSC_E_NTLM_LOGON_DENIED},
    .mic_code = TDSC_E_NTLM_FAILED,
    .one_round = true,
};

void tdsc__exchange_init(tdsc__exchange *x, const tdsc__mech_facts *f,
                         const tdsc__mech_hooks *h, void *m, bool spnego) {
  x->f = f;
  x->h = h;
  x->m = m;
  x->spnego = spnego;
  x->ph = TDSC__XC_START;
  x->mic_sent = false;
  x->identity = NULL;
  tdsc__buf_init(&x->mech_list);
  tdsc__buf_init(&x->bindings);
}

void tdsc__exchange_free(tdsc__exchange *x) {
  free(x->identity);
  x->identity = NULL;
  tdsc__buf_free(&x->mech_list);
  tdsc__buf_free(&x->bindings);
}

tdsc_errc tdsc__exchange_bind(void *state, const uint8_t *app, size_t len,
                              tdsc_error *err) {
  tdsc__exchange *x = state;
  tdsc__buf_reset(&x->bindings);
  tdsc__buf_put(&x->bindings, app, len);
  return x->bindings.oom ? tdsc__err_oom(err) : TDSC_OK;
}

/* RFC 2744 section 3.11: each address as its type and length (u32, here
 * little-endian as MIT krb5 and MS-NLMP hash it) and its bytes, then the
 * application data's length and bytes.  Addresses are empty for TLS
 * bindings (RFC 5929 section 3). */
void tdsc__chan_bindings_serialise(const uint8_t *app, size_t len,
                                   tdsc__buf *out) {
  for (int i = 0; i < 4; i++)
    tdsc__buf_put_u32le(out, 0); /* initiator, acceptor: type 0, length 0 */
  tdsc__buf_put_u32le(out, (uint32_t)len);
  tdsc__buf_put(out, app, len);
}

const char *tdsc__exchange_identity(void *state) {
  const tdsc__exchange *x = state;
  return x && x->identity ? x->identity : "";
}

static tdsc__auth_status broken(tdsc__exchange *x) {
  x->ph = TDSC__XC_BROKEN;
  return TDSC__AUTH_FAILED;
}

/* One context call; PENDING leaves x as it was (the same input comes
 * again), FAILED breaks it. */
static tdsc__auth_status call(tdsc__exchange *x, const uint8_t *in,
                              size_t inlen, tdsc__buf *tok, bool *complete,
                              tdsc_error *err) {
  *complete = false;
  tdsc_errc rc = x->h->ctx(x->m, in, inlen, tok, complete, err);
  if (rc == TDSC__AGAIN)
    return TDSC__AUTH_PENDING;
  return rc == TDSC_OK ? TDSC__AUTH_CONTINUE : broken(x);
}

/* Raw mechanism tokens: Kerberos AP-REQ out, AP-REP (or KRB-ERROR) in
 * (RFC 4121 4.1); NTLM NEGOTIATE out, CHALLENGE in, AUTHENTICATE out
 * (MS-NLMP 3.1.1). */
static tdsc__auth_status raw_step(tdsc__exchange *x, const uint8_t *in,
                                  size_t inlen, tdsc__buf *out, tdsc_error *err,
                                  const char *who) {
  const tdsc__mech_facts *h = x->f;
  if (x->ph == TDSC__XC_COMPLETE) {
    tdsc__err_set(err, TDSC_E_PROTOCOL,
                  "the server sent a %s token after the %s exchange of %s "
                  "was complete (it has no further round)",
                  h->label, h->label, who);
    return broken(x);
  }
  if (x->ph == TDSC__XC_RUNNING && (!in || !inlen)) {
    tdsc__err_set(err, h->no_token_code,
                  "the server sent an empty %s token (%s)", h->label, who);
    return broken(x);
  }
  bool complete;
  tdsc__auth_status st =
      call(x, x->ph == TDSC__XC_START ? NULL : in,
           x->ph == TDSC__XC_START ? 0 : inlen, out, &complete, err);
  if (st != TDSC__AUTH_CONTINUE)
    return st;
  if (x->ph == TDSC__XC_RUNNING && h->one_round && !complete) {
    tdsc__err_set(err, h->broken_code,
                  "%s wants another round after the server's first token "
                  "(%s)",
                  h->label, who);
    return broken(x);
  }
  x->ph = complete ? TDSC__XC_COMPLETE : TDSC__XC_RUNNING;
  return complete ? TDSC__AUTH_DONE : TDSC__AUTH_CONTINUE;
}

/* NegTokenResp carrying our token (may be empty) and our mechListMIC. */
static tdsc__auth_status send_mic(tdsc__exchange *x, const tdsc__buf *tok,
                                  tdsc__buf *out, tdsc_error *err) {
  tdsc__buf mic;
  tdsc__buf_init(&mic);
  tdsc_errc rc = x->h->get_mic(x->m, &x->mech_list, &mic, err);
  if (!rc && !tdsc__spnego_resp_token(TDSC__NEG_ABSENT, NULL,
                                      tok->len ? tok->data : NULL, tok->len,
                                      mic.data, mic.len, out))
    rc = tdsc__err_oom(err);
  tdsc__buf_free(&mic);
  if (rc)
    return broken(x);
  x->mic_sent = true;
  return TDSC__AUTH_CONTINUE;
}

/* The server's mechListMIC over the mechTypes we sent (RFC 4178 5): when
 * it does not verify, the list was altered or the server is not the one
 * whose key the context holds. */
static bool mic_verifies(tdsc__exchange *x, const tdsc__spnego_resp *r,
                         const char *who, tdsc_error *err) {
  tdsc_error prov = {0};
  if (x->h->verify_mic(x->m, &x->mech_list, r->mic, r->miclen, &prov))
    return true;
  tdsc__err_set(err, x->f->mic_code,
                "the server's SPNEGO mechListMIC does not verify (%zu bytes, "
                "with the %s context of %s): the mechanism list we sent was "
                "altered, or the server is not the one we named",
                r->miclen, x->f->label, who);
  if (prov.provider)
    tdsc__err_provider(err, prov.provider, prov.status[0], prov.status[1],
                       prov.status[2], prov.provider_text);
  tdsc__err_clear(&prov);
  return false;
}

/* SPNEGO (RFC 4178 5): our mechanism alone, its first token optimistic.
 * The server's mechListMIC is verified whenever it sends one.  Ours goes
 * with the mechanism's last token when that token is ours (NTLM's
 * AUTHENTICATE: MS-SPNG 3.1.5.1, and MIT's acceptor requires it once the
 * NTLM MIC is present), and then DONE is returned at once (the server may
 * send no final token; when it does, that is one more step); otherwise
 * (Kerberos, completed by the server's AP-REP) only when the server asks
 * for it (request-mic) or keeps the negotiation open (accept-incomplete). */
static tdsc__auth_status spnego_step(tdsc__exchange *x, const uint8_t *in,
                                     size_t inlen, tdsc__buf *out,
                                     tdsc_error *err, const char *who) {
  const tdsc__mech_facts *h = x->f;
  tdsc__buf tok;
  tdsc__buf_init(&tok);
  tdsc__auth_status st = TDSC__AUTH_FAILED;
  bool complete;
  if (x->ph == TDSC__XC_START) {
    if ((st = call(x, NULL, 0, &tok, &complete, err)) != TDSC__AUTH_CONTINUE)
      goto out;
    tdsc__buf_reset(&x->mech_list);
    tdsc__spnego_mech_list(h->oid, 1, &x->mech_list);
    if (x->mech_list.oom ||
        !tdsc__spnego_init_token(h->oid, 1, tok.data, tok.len, out)) {
      tdsc__err_oom(err);
      st = broken(x);
      goto out;
    }
    x->ph = complete ? TDSC__XC_COMPLETE : TDSC__XC_RUNNING;
    goto out;
  }
  if (x->ph == TDSC__XC_FINISHED) {
    tdsc__err_set(err, TDSC_E_PROTOCOL,
                  "the server sent a SPNEGO token after accepting the %s "
                  "authentication of %s",
                  h->label, who);
    goto fail;
  }
  if (!in || !inlen) {
    tdsc__err_set(
        err, x->ph == TDSC__XC_RUNNING ? h->no_token_code : TDSC_E_PROTOCOL,
        "the server sent no SPNEGO token (%s, %s)", h->label, who);
    goto fail;
  }
  tdsc__spnego_resp r;
  if (tdsc__spnego_parse_resp(in, inlen, &r, err)) {
    tdsc__err_context(err, "the server's SPNEGO reply (%s, %s)", h->label, who);
    goto fail;
  }
  if (r.mech && !tdsc__oid_eq(h->oid, r.mech, r.mechlen) &&
      !(h->alias && tdsc__oid_eq(h->alias, r.mech, r.mechlen))) {
    tdsc__err_set(err, TDSC_E_PROTOCOL,
                  "the server chose a SPNEGO mechanism we did not offer "
                  "(only %s was offered for %s)",
                  h->label, who);
    goto fail;
  }
  complete = x->ph == TDSC__XC_COMPLETE;
  if (r.state == TDSC__NEG_REJECT) {
    /* MIT's and Windows' Kerberos acceptors put the KRB-ERROR in
     * responseToken: the mechanism decodes it into the precise code. */
    if (h->reject_decodes && r.token && r.toklen && !complete &&
        (st = call(x, r.token, r.toklen, &tok, &complete, err)) !=
            TDSC__AUTH_CONTINUE)
      goto out;
    tdsc__err_set(err, h->reject_code[complete],
                  "the server rejected the %s authentication of %s (SPNEGO "
                  "negState reject %s%s)",
                  h->label, who,
                  !complete     ? "before any "
                  : x->mic_sent ? "after our mechListMIC"
                                : "after the context completed",
                  !complete ? h->first_reply : "");
    goto fail;
  }
  if (r.token && r.toklen) {
    if (complete) {
      tdsc__err_set(err, TDSC_E_PROTOCOL,
                    "the server sent a %s token after the %s exchange of %s "
                    "was complete (it has no further round)",
                    h->label, h->label, who);
      goto fail;
    }
    if ((st = call(x, r.token, r.toklen, &tok, &complete, err)) !=
        TDSC__AUTH_CONTINUE)
      goto out;
    st = TDSC__AUTH_FAILED;
    if (h->one_round && !complete) {
      tdsc__err_set(err, h->broken_code,
                    "%s wants another round after the server's first token "
                    "(%s)",
                    h->label, who);
      goto fail;
    }
  }
  if (!complete) {
    if (!tok.len) {
      tdsc__err_set(err, h->no_token_code,
                    "the server's SPNEGO reply (negState %s) carries no %s "
                    "token while the %s context of %s is not complete",
                    tdsc__spnego_state_name(r.state), h->label, h->label, who);
      goto fail;
    }
    if (!tdsc__spnego_resp_token(TDSC__NEG_ABSENT, NULL, tok.data, tok.len,
                                 NULL, 0, out)) {
      tdsc__err_oom(err);
      goto fail;
    }
    st = TDSC__AUTH_CONTINUE;
    goto out;
  }
  x->ph = TDSC__XC_COMPLETE;
  if (tok.len) {
    /* the mechanism's last token is ours: it goes with our MIC */
    st = send_mic(x, &tok, out, err);
    if (st == TDSC__AUTH_CONTINUE)
      st = TDSC__AUTH_DONE;
    goto out;
  }
  if (r.mic && !mic_verifies(x, &r, who, err))
    goto fail;
  if (r.state == TDSC__NEG_ACCEPT_COMPLETED || r.state == TDSC__NEG_ABSENT) {
    /* RFC 4178 4.2.2: an absent negState follows the mechanism, which is
     * complete. */
    x->ph = TDSC__XC_FINISHED;
    st = TDSC__AUTH_DONE;
    goto out;
  }
  /* accept-incomplete or request-mic with our context complete: the
   * server waits for our mechListMIC (RFC 4178 5), once. */
  if (x->mic_sent) {
    tdsc__err_set(err, TDSC_E_PROTOCOL,
                  "the server keeps SPNEGO open after our mechListMIC "
                  "(negState %s; %s, %s)",
                  tdsc__spnego_state_name(r.state), h->label, who);
    goto fail;
  }
  st = send_mic(x, &tok, out, err);
  goto out;
fail:
  st = broken(x);
out:
  tdsc__buf_wipe(&tok); /* NTLM's AUTHENTICATE holds a password's proof */
  tdsc__buf_free(&tok);
  return st;
}

tdsc__auth_status tdsc__exchange_step(void *state, const uint8_t *in,
                                      size_t inlen, tdsc__buf *out,
                                      tdsc_error *err) {
  tdsc__exchange *x = state;
  if (!x) {
    tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                  "no authentication exchange to step");
    return TDSC__AUTH_FAILED;
  }
  if (x->ph == TDSC__XC_BROKEN) {
    tdsc__err_set(err, x->f->broken_code,
                  "the %s exchange is unusable after an earlier failure",
                  x->f->label);
    return TDSC__AUTH_FAILED;
  }
  char who[600];
  x->h->subject(x->m, who, sizeof who);
  return x->spnego ? spnego_step(x, in, inlen, out, err, who)
                   : raw_step(x, in, inlen, out, err, who);
}
