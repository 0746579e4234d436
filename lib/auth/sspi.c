/* Kerberos and NTLM through SSPI (Windows): the "kerberos" and "ntlm"
 * mechanisms of auth.h.  On Windows this file replaces gssapi.c and ntlm.c
 * (the build picks the files); the session cannot tell them apart: same
 * tokens on the wire, same error codes for the same failures.
 *
 * Packages: "Kerberos" and "NTLM" themselves, never "Negotiate": Negotiate
 * may silently fall back from Kerberos to NTLM (the policy must decide
 * that, visibly), and under Wine it emits raw Kerberos, not SPNEGO.  As in
 * gssapi.c and ntlm.c, SPNEGO (RFC 4178, MS-SPNG) is spnego.c's DER around
 * the package's own tokens, offering that one mechanism; the mechListMIC is
 * the package's MakeSignature / VerifySignature over the mechTypes DER.
 *
 * Credentials: the logged-on user's (AcquireCredentialsHandleW with no
 * authentication data), or explicit ones (KrbPrincipal=/KrbPassword=,
 * NTLMUser=/NTLMPassword=, NTLMCredFile=) in a SEC_WINNT_AUTH_IDENTITY_W,
 * acquired by each mechanism's init in sspi_cred.c.  Kerberos always asks for mutual authentication and fails unless SSPI
 * says it was granted (ISC_RET_MUTUAL_AUTH).
 *
 * Deadlines: AcquireCredentialsHandleW (Wine gets the TGT there) and
 * InitializeSecurityContextW may wait for a KDC.  As in gssapi.c, each such
 * call runs on the worker (transport/worker.h).  The caller waits for an
 * acquisition until the login deadline; a context call does not block a
 * connect that must not wait (auth.h's PENDING): the step returns at once
 * and the worker wakes the connect through a waker (transport/io.h) whose
 * socket the mechanism's pollfd gives.  On timeout, or when the connect is
 * freed during a call, the caller abandons the job, which then owns the
 * handles and buffers it uses and releases them when the call returns.
 *
 * Errors: SECURITY_STATUS -> the codes gssapi.c and ntlm.c give for the
 * same situation (krb5_diag.c's SSPI table, shared with the unit tests and
 * the doctor); the raw status is kept as
 * provider TDSC_PROVIDER_SSPI, [0] = the SECURITY_STATUS (signed, as the
 * SEC_E_* constants are).  Wine's kerberos.dll reports every krb5 failure
 * as SEC_E_INTERNAL_ERROR (and a failed password logon as
 * STATUS_UNSUCCESSFUL): those stay KRB_FAILED, and the message says so.
 *
 * Secrets: the password is copied into the job as UTF-16, wiped as soon as
 * AcquireCredentialsHandleW returns, and never kept in the state; no token
 * or password reaches a message. */
#include "config.h"

#include "auth/sspi.h"
#include "auth/krb5_diag.h"
#include "auth/spnego.h"
#include "clock.h"
#include "sec_win32.h"

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What Kerberos asks for: gssapi.c's KRB_FLAGS. */
#define KRB_REQ                                                                \
  (ISC_REQ_MUTUAL_AUTH | ISC_REQ_SEQUENCE_DETECT | ISC_REQ_REPLAY_DETECT |     \
   ISC_REQ_INTEGRITY | ISC_REQ_CONFIDENTIALITY | ISC_REQ_CONNECTION)
/* NTLM: SIGN and SEAL, as ntlm.c, so the session keys (and so SPNEGO's
 * mechListMIC) exist. */
#define NTLM_REQ                                                               \
  (ISC_REQ_INTEGRITY | ISC_REQ_CONFIDENTIALITY | ISC_REQ_CONNECTION)

#ifndef STATUS_UNSUCCESSFUL
#define STATUS_UNSUCCESSFUL ((SECURITY_STATUS)0xC0000001L)
#endif
#ifndef STATUS_NTLM_BLOCKED
#define STATUS_NTLM_BLOCKED ((SECURITY_STATUS)0xC0000418L)
#endif

static bool under_wine(void) {
  HMODULE nt = GetModuleHandleW(L"ntdll.dll");
  return nt && GetProcAddress(nt, "wine_get_version") != NULL;
}

/* ---------------------------------------------------------------- jobs */

static void res_release(sspi_res *r) {
  if (r->have_ctx)
    DeleteSecurityContext(&r->ctx);
  if (r->have_cred)
    FreeCredentialsHandle(&r->cred);
  memset(r, 0, sizeof *r);
}

/* Frees j with what it holds: its inputs and the outputs nobody took. */
static void job_discard(void *arg) {
  sspi_job *j = arg;
  res_release(&j->res);
  if (j->idbuf) {
    tdsc__sspi_wipe(j->idbuf, j->idbuf_len * sizeof(WCHAR));
    free(j->idbuf);
  }
  free(j->principal);
  free(j->target);
  free(j->in);
  free(j->cb);
  free(j->out);
  free(j);
}

/* The SSPI call itself; may wait on a KDC for as long as SSPI likes. */
static void job_call(void *arg) {
  sspi_job *j = arg;
  TimeStamp expiry;
  if (j->kind == JOB_ACQUIRE) {
    j->status = AcquireCredentialsHandleW(
        j->principal, (WCHAR *)j->package, SECPKG_CRED_OUTBOUND, NULL,
        j->have_id ? &j->id : NULL, NULL, NULL, &j->res.cred, &expiry);
    j->res.have_cred = j->status == SEC_E_OK;
    /* SSPI keeps its own copy: ours goes now, not when the job dies */
    if (j->idbuf)
      tdsc__sspi_wipe(j->idbuf, j->idbuf_len * sizeof(WCHAR));
    return;
  }
  /* the server's token, and the channel bindings on every call (as
   * Windows' own clients give them) */
  SecBuffer ib[2] = {{j->inlen, SECBUFFER_TOKEN, j->in}};
  SecBufferDesc id = {SECBUFFER_VERSION, 0, j->in ? ib : ib + 1};
  if (j->in)
    id.cBuffers++;
  if (j->cb) {
    ib[1] = (SecBuffer){j->cblen, SECBUFFER_CHANNEL_BINDINGS, j->cb};
    id.cBuffers++;
  }
  SecBuffer ob = {j->outcap, SECBUFFER_TOKEN, j->out};
  SecBufferDesc od = {SECBUFFER_VERSION, 1, &ob};
  CtxtHandle nctx;
  memset(&nctx, 0, sizeof nctx);
  /* Our own output buffer: Wine's packages fail ISC_REQ_ALLOCATE_MEMORY. */
  j->status = InitializeSecurityContextW(
      &j->res.cred, j->res.have_ctx ? &j->res.ctx : NULL, j->target, j->req, 0,
      SECURITY_NATIVE_DREP, id.cBuffers ? &id : NULL, 0,
      j->res.have_ctx ? &j->res.ctx : &nctx, &od, &j->attrs, &expiry);
  if (j->status == SEC_E_OK || j->status == SEC_I_CONTINUE_NEEDED ||
      j->status == SEC_I_COMPLETE_NEEDED ||
      j->status == SEC_I_COMPLETE_AND_CONTINUE) {
    if (!j->res.have_ctx) {
      j->res.ctx = nctx;
      j->res.have_ctx = true;
    }
    j->outlen = ob.cbBuffer;
  }
  if (j->status == SEC_I_COMPLETE_NEEDED ||
      j->status == SEC_I_COMPLETE_AND_CONTINUE) {
    SECURITY_STATUS c = CompleteAuthToken(&j->res.ctx, &od);
    if (c != SEC_E_OK)
      j->status = c;
    else
      j->status =
          j->status == SEC_I_COMPLETE_NEEDED ? SEC_E_OK : SEC_I_CONTINUE_NEEDED;
    j->outlen = ob.cbBuffer;
  }
}

/* A work for a job of this kind; NULL: no memory. */
tdsc__work *tdsc__sspi_job_new(job_kind kind) {
  sspi_job *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->kind = kind;
  tdsc__work *w = tdsc__work_new(job_call, job_discard, j);
  if (!w)
    free(j);
  return w;
}

/* --------------------------------------------------------------- state */



static const tdsc__mech_hooks hooks; /* with the steps */

/* ------------------------------------------------------------ statuses */

static const char *who(const sspi_state *s) {
  if (s->x.identity && *s->x.identity)
    return s->x.identity;
  return "the logged-on user";
}

static const char *mech_label(const sspi_state *s) {
  return s->kind == MECH_KRB ? "Kerberos" : "NTLM";
}

static const char *wine_note(SECURITY_STATUS st) {
  if ((st == SEC_E_INTERNAL_ERROR || st == STATUS_UNSUCCESSFUL) && under_wine())
    return " (Wine's SSPI reports every Kerberos failure with this status; "
           "its trace channel +kerberos shows krb5's reason)";
  return "";
}

/* The phase as krb5_message.c's Kerberos words know it. */
static tdsc__krb_phase krb_phase(phase ph) {
  return ph == PH_ACQUIRE ? TDSC__KRB_ACQUIRE
         : ph == PH_INIT  ? TDSC__KRB_INIT
                          : TDSC__KRB_ACCEPT;
}

/* Fills err from a failed SSPI call; returns the tdsclient code. */
static tdsc_errc sspi_fail(sspi_state *s, tdsc_error *err, SECURITY_STATUS st,
                           phase ph) {
  char text[400];
  tdsc__sec_status_text(st, text, sizeof text);
  const char *spn = s->spn ? s->spn : "(no SPN)";
  const char *realm = s->realm ? s->realm : "(the logon domain's realm)";
  tdsc_errc ec;
  if (s->kind == MECH_NTLM) {
    ec = tdsc__sspi_classify((uint32_t)st, true);
    switch (ec) {
    case TDSC_E_NTLM_NO_CREDENTIALS:
      tdsc__err_set(err, ec, "no NTLM credentials for %s in %s: %s", who(s),
                    s->cred_desc, text);
      break;
    case TDSC_E_NTLM_LOGON_DENIED:
      tdsc__err_set(err, ec, "the NTLM logon of %s (%s) was denied: %s", who(s),
                    s->cred_desc, text);
      break;
    case TDSC_E_NTLM_ACCOUNT_RESTRICTED:
      tdsc__err_set(err, ec,
                    "the domain refuses the NTLM account %s (%s): %s", who(s),
                    s->cred_desc, text);
      break;
    case TDSC_E_NTLM_REFUSED:
      tdsc__err_set(err, ec,
                    "this machine's policy does not let %s use NTLM to %s: "
                    "%s",
                    who(s), spn, text);
      break;
    case TDSC_E_NO_MEMORY:
      tdsc__err_set(err, ec, "out of memory in SSPI (NTLM): %s", text);
      break;
    default:
      tdsc__err_set(err, ec, "NTLM (SSPI) for %s to %s failed while %s: %s",
                    who(s), spn,
                    ph == PH_ACQUIRE  ? "acquiring credentials"
                    : ph == PH_ACCEPT ? "answering the server's CHALLENGE"
                                      : "building the NEGOTIATE",
                    text);
      break;
    }
    tdsc__err_provider(err, TDSC_PROVIDER_SSPI, (long long)st, 0, 0, text);
    return ec;
  }
  /* Kerberos: the words are krb5_message.c's, as on MIT (gssapi.c) */
  ec = tdsc__sspi_classify((uint32_t)st, false);
  tdsc__krb_what w = {.phase = krb_phase(ph),
                      .spn = spn,
                      .who = who(s),
                      .cred_desc = s->cred_desc,
                      .realm = realm,
                      .text = text,
                      .provider = "SSPI",
                      .took_ms = -1,
                      .note = wine_note(st)};
  tdsc__krb_message(err, ec, &w);
  tdsc__err_provider(err, TDSC_PROVIDER_SSPI, (long long)st, 0, 0, text);
  return ec;
}

static tdsc_errc sspi_timeout(sspi_state *s, tdsc_error *err, int64_t started,
                              phase ph) {
  memset(&s->res, 0, sizeof s->res); /* now the abandoned job's */
  const char *doing =
      ph == PH_ACQUIRE ? "acquiring credentials" : "getting a ticket";
  long long waited = (long long)(tdsc__now_ms() - started);
  if (s->kind == MECH_NTLM)
    return tdsc__err_set(err, TDSC_E_NTLM_FAILED,
                         "NTLM (SSPI) for %s did not finish within the login "
                         "timeout (waited %lld ms) while %s",
                         who(s), waited, doing);
  tdsc__krb_what kw = {.phase = krb_phase(ph),
                       .spn = s->spn ? s->spn : "(no SPN)",
                       .who = who(s),
                       .realm = s->realm ? s->realm
                                         : "(the logon domain's realm)"};
  return tdsc__krb_timeout_message(err, &kw, waited);
}

/* Moves s->res into the job of w (its inputs set, its res empty): the
 * job owns the handles while its call runs. */
static void sspi_hand_over(sspi_state *s, tdsc__work *w) {
  sspi_job *j = tdsc__work_payload(w);
  s->started = tdsc__now_ms();
  j->res = s->res;
  memset(&s->res, 0, sizeof s->res);
}

/* w is done: moves the handles back to s.  On failure err is set and w is
 * gone. */
static tdsc_errc sspi_done(sspi_state *s, tdsc__work *w, phase ph,
                           tdsc_error *err) {
  sspi_job *j = tdsc__work_payload(w);
  s->res = j->res;
  memset(&j->res, 0, sizeof j->res);
  if (j->status != SEC_E_OK && j->status != SEC_I_CONTINUE_NEEDED) {
    tdsc_errc ec = sspi_fail(s, err, j->status, ph);
    tdsc__work_end(w);
    return ec;
  }
  return TDSC_OK;
}

/* Runs w with s's deadline, waiting.  On failure err is set and w is
 * gone. */
tdsc_errc tdsc__sspi_run(sspi_state *s, tdsc__work *w, phase ph,
                          tdsc_error *err) {
  sspi_hand_over(s, w);
  int st = tdsc__work_run(w, s->deadline);
  if (st == 0) {
    tdsc__work_end(w);
    return tdsc__work_no_thread(err, "an SSPI call");
  }
  if (st < 0)
    return sspi_timeout(s, err, s->started, ph);
  return sspi_done(s, w, ph, err);
}

sspi_state *tdsc__sspi_state_new(mech_kind kind, const tdsc__auth_params *p) {
  sspi_state *s = calloc(1, sizeof *s);
  if (!s)
    return NULL;
  s->kind = kind;
  s->package = kind == MECH_KRB ? L"Kerberos" : L"NTLM";
  s->req = kind == MECH_KRB ? KRB_REQ : NTLM_REQ;
  s->deadline = p->deadline;
  /* a caller that does not wait is woken by the worker */
  if (p->pending_ok && !(s->wake = tdsc__waker_new())) {
    free(s);
    return NULL;
  }
  tdsc__exchange_init(
      &s->x, kind == MECH_KRB ? &tdsc__facts_kerberos : &tdsc__facts_ntlm,
      &hooks, s, p->spnego);
  return s;
}

/* ---------------------------------------------------------------- steps */

/* A work for one InitializeSecurityContextW round over in (NULL: the
 * first); NULL: no memory. */
static tdsc__work *ctx_job(sspi_state *s, const uint8_t *in, size_t inlen) {
  tdsc__work *w = tdsc__sspi_job_new(JOB_INIT);
  if (!w)
    return NULL;
  sspi_job *j = tdsc__work_payload(w);
  j->req = s->req;
  j->outcap = s->max_token;
  j->out = malloc(j->outcap);
  if (s->target && !(j->target = _wcsdup(s->target))) {
    tdsc__work_end(w);
    return NULL;
  }
  if (j->out && in && inlen) {
    j->in = malloc(inlen);
    if (j->in) {
      memcpy(j->in, in, inlen);
      j->inlen = (ULONG)inlen;
    }
  }
  /* Kerberos binds its AP-REQ, made by the first call (no token in);
   * NTLM its AUTHENTICATE, made with the CHALLENGE in: Wine's NTLM
   * package refuses a first call given the bindings alone
   * (SEC_E_INVALID_TOKEN), so NTLM gets them with a token only */
  const tdsc__buf *cb = &s->x.bindings;
  bool bind = s->kind == MECH_KRB || (in && inlen);
  if (bind && j->out && cb->len &&
      cb->len <= ULONG_MAX - sizeof(SEC_CHANNEL_BINDINGS)) {
    /* SEC_CHANNEL_BINDINGS: addresses empty, the application data right
     * after the structure */
    j->cblen = (ULONG)(sizeof(SEC_CHANNEL_BINDINGS) + cb->len);
    j->cb = calloc(1, j->cblen);
    if (j->cb) {
      SEC_CHANNEL_BINDINGS *h = (SEC_CHANNEL_BINDINGS *)j->cb;
      h->cbApplicationDataLength = (ULONG)cb->len;
      h->dwApplicationDataOffset = sizeof *h;
      memcpy(j->cb + sizeof *h, cb->data, cb->len);
    }
  }
  if (!j->out || (in && inlen && !j->in) || (bind && cb->len && !j->cb)) {
    tdsc__work_end(w);
    return NULL;
  }
  return w;
}

/* The exchange's context call (exchange.h): one InitializeSecurityContextW
 * round on the worker, in NULL the first time.  With a waker the call is
 * started and TDSC__AGAIN returned while it runs (the exchange calls again
 * with the same input); without one the caller waits for it. */
static tdsc_errc sspi_ctx(void *m, const uint8_t *in, size_t inlen,
                          tdsc__buf *tok, bool *complete, tdsc_error *err) {
  sspi_state *s = m;
  phase ph = in ? PH_ACCEPT : PH_INIT;
  if (inlen > ULONG_MAX)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server's %s token is too long (%zu bytes)",
                         mech_label(s), inlen);
  tdsc__work *w = s->pending; /* called again with the same input */
  if (!w) {
    if (!(w = ctx_job(s, in, inlen)))
      return tdsc__err_oom(err);
    sspi_hand_over(s, w);
    int st = 1;
    if (s->wake) {
      tdsc__waker_clear(s->wake);
      st = tdsc__work_start(w, s->wake) ? 1 : 0;
    } else {
      st = tdsc__work_run(w, s->deadline);
    }
    if (st == 0) {
      tdsc__work_end(w);
      return tdsc__work_no_thread(err, "an SSPI call");
    }
    if (st < 0)
      return sspi_timeout(s, err, s->started, ph);
  }
  int done = s->wake ? tdsc__work_poll(w, s->deadline) : 1;
  s->pending = done == 0 ? w : NULL;
  if (done == 0)
    return TDSC__AGAIN;
  if (done < 0) /* abandoned: the job releases the handles */
    return sspi_timeout(s, err, s->started, ph);
  tdsc_errc ec = sspi_done(s, w, ph, err);
  if (ec)
    return ec;
  sspi_job *j = tdsc__work_payload(w);
  tdsc__buf_put(tok, j->out, j->outlen);
  s->attrs = j->attrs;
  *complete = j->status == SEC_E_OK;
  tdsc__work_end(w);
  if (tok->oom)
    return tdsc__err_oom(err);
  if (*complete && s->kind == MECH_KRB && !(s->attrs & ISC_RET_MUTUAL_AUTH))
    return tdsc__krb_not_mutual(err, s->spn);
  return TDSC_OK;
}

/* The package's signature over msg, the mechTypes we sent (RFC 4178 5). */
static tdsc_errc sspi_get_mic(void *m, const tdsc__buf *msg, tdsc__buf *mic,
                              tdsc_error *err) {
  sspi_state *s = m;
  SecPkgContext_Sizes sz;
  SECURITY_STATUS st =
      QueryContextAttributesW(&s->res.ctx, SECPKG_ATTR_SIZES, &sz);
  if (st != SEC_E_OK)
    return sspi_fail(s, err, st, PH_ACCEPT);
  uint8_t *sig = tdsc__buf_extend(mic, sz.cbMaxSignature);
  uint8_t *data = malloc(msg->len);
  if (!sig || !data) {
    free(data);
    return tdsc__err_oom(err);
  }
  memcpy(data, msg->data, msg->len);
  SecBuffer b[2] = {{(ULONG)msg->len, SECBUFFER_DATA, data},
                    {sz.cbMaxSignature, SECBUFFER_TOKEN, sig}};
  SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
  st = MakeSignature(&s->res.ctx, 0, &d, 0);
  free(data);
  if (st != SEC_E_OK)
    return sspi_fail(s, err, st, PH_ACCEPT);
  mic->len -= sz.cbMaxSignature - b[1].cbBuffer;
  return TDSC_OK;
}

/* Verifies the server's mechListMIC with VerifySignature. */
static bool sspi_verify_mic(void *m, const tdsc__buf *msg, const uint8_t *mic,
                            size_t miclen, tdsc_error *prov) {
  sspi_state *s = m;
  uint8_t *data = malloc(msg->len + miclen);
  if (!data)
    return false;
  memcpy(data, msg->data, msg->len);
  memcpy(data + msg->len, mic, miclen);
  SecBuffer b[2] = {{(ULONG)msg->len, SECBUFFER_DATA, data},
                    {(ULONG)miclen, SECBUFFER_TOKEN, data + msg->len}};
  SecBufferDesc d = {SECBUFFER_VERSION, 2, b};
  ULONG qop = 0;
  SECURITY_STATUS vs = VerifySignature(&s->res.ctx, &d, 0, &qop);
  free(data);
  if (vs == SEC_E_OK)
    return true;
  char text[400];
  tdsc__sec_status_text(vs, text, sizeof text);
  tdsc__err_provider(prov, TDSC_PROVIDER_SSPI, (long long)vs, 0, 0, text);
  return false;
}

static void sspi_subject(void *m, char *buf, size_t n) {
  sspi_state *s = m;
  snprintf(buf, n, "%s%s%s", who(s), s->spn ? " for " : "",
           s->spn ? s->spn : "");
}

static const tdsc__mech_hooks hooks = {sspi_ctx, sspi_get_mic, sspi_verify_mic,
                                       sspi_subject};

static void sspi_free(void *state) {
  sspi_state *s = state;
  if (!s)
    return;
  if (s->pending) /* the connect was abandoned during a call */
    tdsc__work_abandon(s->pending);
  tdsc__waker_free(s->wake);
  res_release(&s->res);
  tdsc__exchange_free(&s->x);
  free(s->spn);
  free(s->target);
  free(s->cred_desc);
  free(s->realm);
  free(s);
}

/* While a step returns PENDING: readable once the worker is done. */
static intptr_t sspi_pollfd(void *state) {
  sspi_state *s = state;
  return s && s->pending ? (intptr_t)tdsc__waker_fd(s->wake) : -1;
}

static const tdsc__mech_ops kerberos_ops = {
    .name = "kerberos",
    .init = tdsc__sspi_krb_init,
    .step = tdsc__exchange_step,
    .identity = tdsc__exchange_identity,
    .free_state = sspi_free,
    .pollfd = sspi_pollfd,
    .bind = tdsc__exchange_bind,
};
static const tdsc__mech_ops ntlm_ops = {
    .name = "ntlm",
    .init = tdsc__sspi_ntlm_init,
    .step = tdsc__exchange_step,
    .identity = tdsc__exchange_identity,
    .free_state = sspi_free,
    .pollfd = sspi_pollfd,
    .bind = tdsc__exchange_bind,
};

const tdsc__mech_ops *const tdsc__mech_kerberos = &kerberos_ops;
const tdsc__mech_ops *const tdsc__mech_ntlm = &ntlm_ops;
