/* Kerberos through MIT GSSAPI: the "kerberos" mechanism of auth.h.
 *
 * Always the krb5 mechanism itself (gss_mech_krb5), never the default
 * mechanism set: with the default set, gss-ntlmssp silently satisfies a
 * credential krb5 cannot find, and through MIT's SPNEGO the minor statuses
 * are remapped.  SPNEGO (RFC 4178) is spnego.c's DER around our own krb5
 * tokens, so every failure carries krb5's own error code, which the table
 * in tdsc__krb_classify turns into a KRB_* code.
 *
 * Deadlines: a silent KDC makes MIT block for ~27 s.  Every call that may
 * talk to a KDC (acquiring credentials, gss_init_sec_context) runs in a
 * worker thread; the caller waits on a condition variable until the login
 * deadline, or (a connect that must not wait: auth.h's PENDING, for the
 * context calls) returns at once and is woken through a waker descriptor
 * (transport/io.h) when the call is done (transport/worker.h).  The GSSAPI
 * objects a call uses (credential, context, target name, MEMORY ccache)
 * are moved into its job, so that a call the caller abandons on timeout
 * releases them itself when the KDC finally answers: nothing the caller
 * owns is touched after it returns, and nothing leaks once the worker
 * ends.  We deliberately do not rewrite krb5.conf with kdc_timeout: the
 * worker bounds every KDC path (TCP connect, UDP retries, DNS) alike.
 *
 * Secrets: the password is copied into the job, wiped after the call and
 * never kept in the state; keytab credentials go to a MEMORY ccache that
 * is destroyed with the state; no token or password reaches a message. */
#include "config.h"

#include "auth/auth.h"
#include "auth/exchange.h"
#include "auth/krb5_diag.h"
#include "auth/krb5_facts.h"
#include "auth/spnego.h"
#include "transport/worker.h"
#include "clock.h"
#include "transport/io.h" /* the waker */

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h> /* error_message */

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KRB_FLAGS                                                              \
  (GSS_C_MUTUAL_FLAG | GSS_C_SEQUENCE_FLAG | GSS_C_REPLAY_FLAG |               \
   GSS_C_INTEG_FLAG | GSS_C_CONF_FLAG)

/* ------------------------------------------------------------ diagnosis */

/* gss_display_status of one code, every message of it (RFC 2744 5.11). */
static void display_status(tdsc__buf *b, OM_uint32 code, int type) {
  OM_uint32 mctx = 0, minor;
  do {
    gss_buffer_desc t = GSS_C_EMPTY_BUFFER;
    OM_uint32 maj = gss_display_status(&minor, code, type,
                                       type == GSS_C_MECH_CODE
                                           ? (gss_OID)gss_mech_krb5
                                           : GSS_C_NO_OID,
                                       &mctx, &t);
    if (GSS_ERROR(maj))
      break;
    if (t.length) {
      if (b->len)
        tdsc__buf_put_str(b, "; ");
      tdsc__buf_put(b, t.value, t.length);
    }
    gss_release_buffer(&minor, &t);
  } while (mctx != 0);
}

/* ---------------------------------------------------------------- jobs */

/* What a GSSAPI call may touch: moved into the job while it runs, and left
 * there (the worker frees it) when the caller gives up. */
typedef struct krb_res {
  gss_cred_id_t cred;
  gss_ctx_id_t ctx;
  gss_name_t target;
  char *memcc; /* MEMORY: ccache of keytab credentials, destroyed last */
} krb_res;

static const krb_res res_none = {GSS_C_NO_CREDENTIAL, GSS_C_NO_CONTEXT,
                                 GSS_C_NO_NAME, NULL};

static void res_release(krb_res *r) {
  OM_uint32 minor;
  if (r->ctx != GSS_C_NO_CONTEXT)
    gss_delete_sec_context(&minor, &r->ctx, GSS_C_NO_BUFFER);
  if (r->cred != GSS_C_NO_CREDENTIAL)
    gss_release_cred(&minor, &r->cred);
  if (r->target != GSS_C_NO_NAME)
    gss_release_name(&minor, &r->target);
  if (r->memcc) {
    tdsc__krb5_destroy_cc(r->memcc);
    free(r->memcc);
  }
  *r = res_none;
}

typedef enum job_kind {
  JOB_ACQUIRE_PASSWORD,
  JOB_ACQUIRE_STORE,
  JOB_ACQUIRE_DEFAULT,
  JOB_INIT
} job_kind;

/* A call's payload (worker.h): what one GSSAPI call reads and writes. */
typedef struct krb_job {
  job_kind kind;
  krb_res res;
  /* inputs, owned by the job */
  gss_name_t desired;
  char *password;
  size_t pwlen;
  gss_key_value_element_desc store[2];
  char *store_vals[2];
  OM_uint32 nstore;
  gss_buffer_desc in;
  /* the channel bindings (doc/channel-binding.md), or has_cb false */
  struct gss_channel_bindings_struct cb;
  bool has_cb;
  /* outputs */
  OM_uint32 major, minor, flags;
  bool minor_ours; /* minor is a krb5 code job_call found, not GSSAPI's */
  gss_buffer_desc out;
} krb_job;

/* Frees j with what it holds: its inputs and the outputs nobody took. */
static void job_discard(void *arg) {
  krb_job *j = arg;
  OM_uint32 minor;
  gss_release_buffer(&minor, &j->out);
  res_release(&j->res);
  if (j->desired != GSS_C_NO_NAME)
    gss_release_name(&minor, &j->desired);
  if (j->password) {
    tdsc__wipe(j->password, j->pwlen);
    free(j->password);
  }
  for (size_t i = 0; i < 2; i++)
    free(j->store_vals[i]);
  free(j->in.value);
  free(j->cb.application_data.value);
  free(j);
}

/* The GSSAPI call itself; may block on the KDC for as long as MIT likes. */
static void job_call(void *arg) {
  krb_job *j = arg;
  gss_OID_set_desc krb5_only = {1, (gss_OID)gss_mech_krb5};
  switch (j->kind) {
  case JOB_ACQUIRE_PASSWORD: {
    gss_buffer_desc pw = {j->pwlen, j->password};
    j->major = gss_acquire_cred_with_password(
        &j->minor, j->desired, &pw, GSS_C_INDEFINITE, &krb5_only,
        GSS_C_INITIATE, &j->res.cred, NULL, NULL);
    tdsc__wipe(j->password, j->pwlen);
    break;
  }
  case JOB_ACQUIRE_STORE: {
    gss_key_value_set_desc store = {j->nstore, j->store};
    j->major = gss_acquire_cred_from(&j->minor, j->desired, GSS_C_INDEFINITE,
                                     &krb5_only, GSS_C_INITIATE, &store,
                                     &j->res.cred, NULL, NULL);
    break;
  }
  case JOB_ACQUIRE_DEFAULT:
    /* without a name MIT may crash on an unreadable cache (krb5_facts.h):
     * its error is ours to report, as gss_acquire_cred would */
    if (j->desired == GSS_C_NO_NAME &&
        (j->minor = (OM_uint32)tdsc__krb5_collection_problem()) != 0) {
      j->major = GSS_S_CRED_UNAVAIL;
      j->minor_ours = true;
      break;
    }
    j->major = gss_acquire_cred(&j->minor, j->desired, GSS_C_INDEFINITE,
                                &krb5_only, GSS_C_INITIATE, &j->res.cred,
                                NULL, NULL);
    break;
  case JOB_INIT:
    j->major = gss_init_sec_context(
        &j->minor, j->res.cred, &j->res.ctx, j->res.target,
        (gss_OID)gss_mech_krb5, KRB_FLAGS, GSS_C_INDEFINITE,
        j->has_cb ? &j->cb : GSS_C_NO_CHANNEL_BINDINGS,
        j->in.length ? &j->in : GSS_C_NO_BUFFER,
        NULL, &j->out, &j->flags, NULL);
    break;
  }
}

/* A work for a job of this kind; NULL: no memory. */
static tdsc__work *job_new(job_kind kind) {
  krb_job *j = calloc(1, sizeof *j);
  if (!j)
    return NULL;
  j->kind = kind;
  j->res = res_none;
  j->desired = GSS_C_NO_NAME;
  tdsc__work *w = tdsc__work_new(job_call, job_discard, j);
  if (!w)
    free(j);
  return w;
}

/* --------------------------------------------------------------- state */

typedef struct krb_state {
  tdsc__exchange x; /* first: the token exchange (exchange.c) steps it */
  krb_res res;
  bool established;
  int64_t deadline;
  OM_uint32 flags;
  char *spn;
  char *cred_desc;  /* "ccache FILE:/tmp/x", for messages */
  char *spn_realm;  /* from "@REALM" in the SPN, or NULL */
  char *asked;      /* the principal asked for (KrbPrincipal=, UID=) */
  char *ccache;     /* the ccache credentials came from, NULL: default */
  char *keytab;     /* KrbKeytab=, or NULL */
  bool with_password; /* KrbPassword= */
  int64_t took_ms;  /* how long the failed call took */
  /* a context call on the worker that the caller does not wait for
   * (auth.h PENDING): woken through wake */
  tdsc__waker *wake; /* NULL: every call waits (the params' pending_ok) */
  tdsc__work *pending;
  int64_t started;
  /* the credentials' acquiring, prepared by krb_init and left to
   * krb_acquire when the caller does not wait (it may ask the KDC) */
  tdsc__work *acq;
} krb_state;
_Static_assert(offsetof(krb_state, x) == 0, "tdsc__exchange_step's state");

static const tdsc__mech_hooks krb_hooks; /* below the steps */

static const char *realm_of(const char *principal) {
  const char *at = principal ? strrchr(principal, '@') : NULL;
  return at && at[1] ? at + 1 : NULL;
}

/* The realm a failure concerns: the client's at AS time, else the SPN's. */
static char *failure_realm(const krb_state *s, tdsc__krb_phase phase) {
  const char *r = phase == TDSC__KRB_ACQUIRE ? NULL : s->spn_realm;
  if (!r)
    r = realm_of(s->x.identity);
  return r ? tdsc__strdup(r) : tdsc__krb5_default_realm();
}

static const char *who(const krb_state *s) {
  return s->x.identity && *s->x.identity ? s->x.identity
                                         : "the default principal";
}

/* Fills err from a failed GSSAPI call; returns the KRB_* code.  With
 * ours, minor is a krb5 code the library found itself (job_call), which
 * GSSAPI never returned: its words are krb5's, not gss_display_status's
 * (which leaks an entry for a code it does not know). */
static tdsc_errc krb_fail(krb_state *s, tdsc_error *err, OM_uint32 major,
                          OM_uint32 minor, bool ours, tdsc__krb_phase phase) {
  int32_t code = (int32_t)minor;
  tdsc_errc ec = tdsc__krb_classify(major, code, phase);
  /* The provider text keeps both codes' words; the message keeps the
   * mechanism's (krb5 says what happened), GSS's generic words ("Unspecified
   * GSS failure. Minor code may provide more information") only when krb5
   * has none. */
  tdsc__buf text, mech;
  tdsc__buf_init(&text);
  tdsc__buf_init(&mech);
  if (major)
    display_status(&text, major, GSS_C_GSS_CODE);
  if (minor && ours) {
    tdsc__buf_put_str(&text, text.len ? "; " : "");
    tdsc__buf_put_str(&text, error_message((krb5_error_code)minor));
    tdsc__buf_put_str(&mech, error_message((krb5_error_code)minor));
  } else if (minor) {
    display_status(&text, minor, GSS_C_MECH_CODE);
    display_status(&mech, minor, GSS_C_MECH_CODE);
  }
  const char *full = tdsc__buf_cstr(&text);
  const char *t = mech.len ? tdsc__buf_cstr(&mech) : full;
  if (!full)
    full = "";
  if (!t)
    t = "";
  char *realm = failure_realm(s, phase);
  char *kdcs = NULL, *probe = NULL, *held = NULL, *svc_realm = NULL;
  char *cfg = NULL, *why = NULL, *enctypes = NULL;
  int trust = -1; /* a cross-realm TGT to the service's realm: 1 held */
  tdsc__krb_what w = {.phase = phase,
                      .spn = s->spn,
                      .who = who(s),
                      .cred_desc = s->cred_desc,
                      .realm = realm ? realm : "(no default realm)",
                      .text = t,
                      .provider = "GSSAPI",
                      .asked = s->asked,
                      .keytab = s->keytab,
                      .took_ms = -1};
  /* Facts the krb5 code alone does not tell. */
  if (phase == TDSC__KRB_ACQUIRE && s->keytab &&
      (ec == TDSC_E_KRB_NO_CREDENTIALS || ec == TDSC_E_KRB_KEYTAB_UNUSABLE ||
       ec == TDSC_E_KRB_WRONG_PRINCIPAL))
    ec = TDSC_E_KRB_KEYTAB_UNUSABLE; /* MIT says "no ccache found" */
  else if (phase == TDSC__KRB_ACQUIRE && s->asked &&
           ec == TDSC_E_KRB_NO_CREDENTIALS) {
    held = tdsc__krb5_ccache_principal(s->ccache);
    if (held && strcmp(held, s->asked) != 0)
      ec = TDSC_E_KRB_WRONG_PRINCIPAL;
  }
  if (phase == TDSC__KRB_ACQUIRE && !s->keytab &&
      (ec == TDSC_E_KRB_NO_CREDENTIALS || ec == TDSC_E_KRB_CCACHE_UNUSABLE) &&
      !s->with_password) {
    /* MIT passes over a cache it cannot read as if it were absent */
    if ((why = tdsc__krb5_ccache_problem(s->ccache)))
      ec = TDSC_E_KRB_CCACHE_UNUSABLE;
  }
  if (ec == TDSC_E_KRB_WRONG_PRINCIPAL && !held)
    held = tdsc__krb5_ccache_principal(s->ccache);
  if (!why && (ec == TDSC_E_KRB_REALM_UNKNOWN ||
               ec == TDSC_E_KRB_CONFIG_INVALID ||
               ec == TDSC_E_KRB_KDC_UNREACHABLE)) {
    /* Without a readable krb5.conf MIT runs on built-in defaults and fails
     * later, for want of a realm or a KDC: the file is the cause. */
    if ((why = tdsc__krb5_config_problem()))
      ec = TDSC_E_KRB_CONFIG_INVALID;
  }
  if (ec == TDSC_E_KRB_SPN_UNKNOWN && phase != TDSC__KRB_ACQUIRE &&
      realm_of(s->x.identity)) {
    /* The client's KDC answers "unknown" for the cross-realm krbtgt that
     * would lead to the service's realm, as for an unknown SPN. */
    svc_realm = tdsc__krb5_service_realm(s->spn);
    if (svc_realm && strcmp(svc_realm, realm_of(s->x.identity)) != 0)
      trust = tdsc__krb5_has_cross_tgt(s->res.cred, realm_of(s->x.identity),
                                       svc_realm);
    if (trust == 0)
      ec = TDSC_E_KRB_NO_TRUST_PATH;
    else if (trust == 1)
      w.realm = svc_realm; /* the client's KDC referred us there */
  }
  if (ec == TDSC_E_KRB_NO_TRUST_PATH && svc_realm) {
    w.client_realm = realm_of(s->x.identity);
    w.svc_realm = svc_realm;
  }
  if (ec == TDSC_E_KRB_KDC_UNREACHABLE) {
    /* krb5 says the same for a stopped KDC and a silent one: a probe of
     * the KDCs tells which (a stopped one refuses at once). */
    kdcs = tdsc__krb5_kdc_list(realm);
    probe = kdcs ? tdsc__krb5_kdc_probe(kdcs, 300) : NULL;
    w.kdcs = probe ? probe : kdcs;
    w.took_ms = s->took_ms;
  }
  if (ec == TDSC_E_KRB_KEYTAB_UNUSABLE && !why)
    why = tdsc__krb5_keytab_problem(s->keytab ? s->keytab : "", s->asked);
  if (ec == TDSC_E_KRB_ENCTYPE_UNSUPPORTED)
    w.enctypes = enctypes = tdsc__krb5_enctypes();
  if (ec == TDSC_E_KRB_CONFIG_INVALID || ec == TDSC_E_KRB_REALM_UNKNOWN)
    w.config = cfg = tdsc__krb5_config_desc();
  w.held = held;
  w.problem = why;
  tdsc__krb_message(err, ec, &w);
  tdsc__err_provider(err, TDSC_PROVIDER_GSSAPI, major, minor, code, full);
  free(kdcs);
  free(probe);
  free(held);
  free(svc_realm);
  free(cfg);
  free(why);
  free(enctypes);
  free(realm);
  tdsc__buf_free(&text);
  tdsc__buf_free(&mech);
  return ec;
}

static tdsc_errc krb_timeout(krb_state *s, tdsc_error *err, int64_t started,
                             tdsc__krb_phase phase) {
  char *realm = failure_realm(s, phase);
  char *kdcs = tdsc__krb5_kdc_list(realm);
  s->res = res_none; /* now the abandoned job's */
  tdsc__krb_what w = {.phase = phase,
                      .spn = s->spn,
                      .who = who(s),
                      .realm = realm ? realm : "(no default realm)",
                      .kdcs = kdcs ? kdcs : "no kdc in krb5.conf; DNS"};
  tdsc__krb_timeout_message(err, &w, (long long)(tdsc__now_ms() - started));
  free(kdcs);
  free(realm);
  return TDSC_E_KRB_KDC_UNREACHABLE;
}

/* Moves s->res into job j (inputs set, res empty). */
static void krb_hand_over(krb_state *s, krb_job *j) {
  s->started = tdsc__now_ms();
  j->res = s->res;
  s->res = res_none;
}

/* w is done: moves its res back to s.  On failure err is set and w is
 * gone. */
static tdsc_errc krb_done(krb_state *s, tdsc__work *w, tdsc__krb_phase phase,
                          tdsc_error *err) {
  krb_job *j = tdsc__work_payload(w);
  int64_t started = s->started;
  s->res = j->res;
  j->res = res_none;
  if (GSS_ERROR(j->major)) {
    s->took_ms = tdsc__now_ms() - started;
    tdsc_errc ec = krb_fail(s, err, j->major, j->minor, j->minor_ours, phase);
    tdsc__work_end(w);
    return ec;
  }
  return TDSC_OK;
}

/* Runs w (inputs set, res empty) with s's deadline, waiting: moves s->res
 * in and back.  On failure err is set and w is gone. */
static tdsc_errc krb_run(krb_state *s, tdsc__work *w, tdsc__krb_phase phase,
                         tdsc_error *err) {
  krb_hand_over(s, tdsc__work_payload(w));
  int st = tdsc__work_run(w, s->deadline);
  if (st == 0) {
    tdsc__work_end(w);
    return tdsc__work_no_thread(err, "a Kerberos call");
  }
  if (st < 0)
    return krb_timeout(s, err, s->started, phase);
  return krb_done(s, w, phase, err);
}

/* Runs w (inputs set) as the caller allows: waiting, without a waker;
 * else started on the worker and polled, TDSC__AGAIN (s->pending is w)
 * until it is done.  TDSC_OK: w is done, its outputs in its payload (the
 * caller ends it); on failure err is set and w is gone. */
static tdsc_errc krb_call(krb_state *s, tdsc__work *w, tdsc__krb_phase phase,
                          tdsc_error *err) {
  if (s->pending != w) {
    if (!s->wake)
      return krb_run(s, w, phase, err);
    /* the caller does not wait: the worker fires s->wake when done */
    krb_hand_over(s, tdsc__work_payload(w));
    tdsc__waker_clear(s->wake);
    if (!tdsc__work_start(w, s->wake)) {
      tdsc__work_end(w);
      return tdsc__work_no_thread(err, "a Kerberos call");
    }
    s->pending = w;
  }
  int st = tdsc__work_poll(w, s->deadline);
  if (st == 0)
    return TDSC__AGAIN;
  s->pending = NULL;
  if (st < 0)
    return krb_timeout(s, err, s->started, phase);
  return krb_done(s, w, phase, err);
}

static void set_identity(krb_state *s) {
  OM_uint32 minor;
  gss_name_t name = GSS_C_NO_NAME;
  gss_buffer_desc t = GSS_C_EMPTY_BUFFER;
  OM_uint32 major = gss_inquire_cred_by_mech(
      &minor, s->res.cred, (gss_OID)gss_mech_krb5, &name, NULL, NULL, NULL);
  if (name == GSS_C_NO_NAME)
    return;
  if (!GSS_ERROR(major) &&
      !GSS_ERROR(gss_display_name(&minor, name, &t, NULL))) {
    char *id = malloc(t.length + 1);
    if (id) {
      memcpy(id, t.value, t.length);
      id[t.length] = '\0';
      free(s->x.identity);
      s->x.identity = id;
    }
    gss_release_buffer(&minor, &t);
  }
  gss_release_name(&minor, &name);
}

static bool store_add(krb_job *j, const char *key, const char *val) {
  char *v = tdsc__strdup(val);
  if (!v)
    return false;
  j->store[j->nstore].key = key;
  j->store[j->nstore].value = v;
  j->store_vals[j->nstore++] = v;
  return true;
}

static tdsc_errc import_name(krb_state *s, const char *text,
                             gss_name_t *name, tdsc_error *err) {
  OM_uint32 major, minor;
  gss_buffer_desc b = {strlen(text), (void *)text};
  major = gss_import_name(&minor, &b, (gss_OID)GSS_KRB5_NT_PRINCIPAL_NAME,
                          name);
  if (GSS_ERROR(major)) {
    tdsc_errc ec = krb_fail(s, err, major, minor, false, TDSC__KRB_INIT);
    tdsc__err_context(err, "cannot use \"%s\" as a Kerberos principal", text);
    return ec;
  }
  return TDSC_OK;
}

/* The acquiring w is done: ends it, and names who was acquired.  A
 * ccache's principal was read in krb_init; asking GSSAPI about an expired
 * ccache credential leaks in MIT 1.20's mechglue (valgrind). */
static void krb_acquired(krb_state *s, tdsc__work *w) {
  tdsc__work_end(w);
  if (s->with_password || s->keytab)
    set_identity(s);
}

static tdsc__auth_status krb_acquire(void *state, tdsc_error *err);

static tdsc_errc krb_init(void **state, const tdsc__auth_params *p,
                          tdsc_error *err) {
  krb_state *s = calloc(1, sizeof *s);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  s->res = res_none;
  tdsc__exchange_init(&s->x, &tdsc__facts_kerberos, &krb_hooks, s, p->spnego);
  s->deadline = p->deadline;
  /* a caller that does not wait is woken by the worker */
  if (p->pending_ok && !(s->wake = tdsc__waker_new()))
    return tdsc__err_oom(err);
  tdsc_errc ec = tdsc__krb_check_params(p->spn, p->principal, p->password,
                                        err);
  if (ec)
    return ec;
  s->spn = tdsc__strdup(p->spn);
  s->ccache = tdsc__strdup(p->ccache);
  s->keytab = tdsc__strdup(p->keytab);
  s->with_password = p->password != NULL;
  if (p->keytab && !s->keytab)
    return tdsc__err_oom(err);
  if (p->principal && !realm_of(p->principal)) {
    /* as krb5_parse_name will read it: in the default realm */
    char *r = tdsc__krb5_default_realm();
    s->x.identity = r ? tdsc__strdup_printf("%s@%s", p->principal, r)
                      : tdsc__strdup(p->principal);
    free(r);
  } else if (p->principal) {
    s->x.identity = tdsc__strdup(p->principal);
  } else if (!p->keytab && !p->password) {
    s->x.identity = tdsc__krb5_ccache_principal(p->ccache);
    if (!s->x.identity)
      s->x.identity = tdsc__strdup("");
  } else {
    s->x.identity = tdsc__strdup("");
  }
  if (realm_of(p->spn))
    s->spn_realm = tdsc__strdup(realm_of(p->spn));
  if (p->password)
    s->cred_desc = tdsc__strdup("a password (in memory)");
  else if (p->keytab)
    s->cred_desc = tdsc__strdup_printf("client keytab %s", p->keytab);
  else if (p->ccache)
    s->cred_desc = tdsc__strdup_printf("ccache %s", p->ccache);
  else {
    const char *env = getenv("KRB5CCNAME");
    s->cred_desc = tdsc__strdup_printf("the default ccache%s%s",
                                       env ? " " : "", env ? env : "");
  }
  s->asked = p->principal ? tdsc__strdup(s->x.identity) : NULL;
  if (!s->spn || !s->x.identity || !s->cred_desc ||
      (p->principal && !s->asked) || (p->ccache && !s->ccache) ||
      (realm_of(p->spn) && !s->spn_realm))
    return tdsc__err_oom(err);

  ec = import_name(s, p->spn, &s->res.target, err);
  if (ec)
    return ec;

  job_kind kind = p->password ? JOB_ACQUIRE_PASSWORD
                  : p->keytab || p->ccache ? JOB_ACQUIRE_STORE
                                           : JOB_ACQUIRE_DEFAULT;
  tdsc__work *w = job_new(kind);
  if (!w)
    return tdsc__err_oom(err);
  krb_job *j = tdsc__work_payload(w);
  if (p->principal && (ec = import_name(s, p->principal, &j->desired, err))) {
    tdsc__work_end(w);
    return ec;
  }
  bool ok = true;
  if (p->password) {
    j->pwlen = strlen(p->password);
    j->password = malloc(j->pwlen + 1);
    ok = j->password != NULL;
    if (ok)
      memcpy(j->password, p->password, j->pwlen + 1);
  } else if (p->keytab) {
    /* The TGT from the keytab goes to a private MEMORY ccache: nothing on
     * disk, nothing shared with other logins; destroyed with the state. */
    s->res.memcc = tdsc__krb5_new_memcc();
    ok = s->res.memcc && store_add(j, "client_keytab", p->keytab) &&
         store_add(j, "ccache", s->res.memcc);
  } else if (p->ccache) {
    ok = store_add(j, "ccache", p->ccache);
  }
  if (!ok) {
    tdsc__work_end(w);
    return tdsc__err_oom(err);
  }
  /* A password or a keytab asks the KDC: a caller that may not wait has
   * it done by krb_acquire, on the worker (a ccache is only read) */
  if (s->wake && (p->password || p->keytab)) {
    s->acq = w;
    return TDSC_OK;
  }
  if ((ec = krb_run(s, w, TDSC__KRB_ACQUIRE, err)))
    return ec;
  krb_acquired(s, w);
  return TDSC_OK;
}

static tdsc__auth_status krb_acquire(void *state, tdsc_error *err) {
  krb_state *s = state;
  tdsc__work *w = s->acq;
  if (!w)
    return TDSC__AUTH_DONE;
  tdsc_errc ec = krb_call(s, w, TDSC__KRB_ACQUIRE, err);
  if (ec == TDSC__AGAIN)
    return TDSC__AUTH_PENDING;
  s->acq = NULL;
  if (ec)
    return TDSC__AUTH_FAILED; /* w is gone */
  krb_acquired(s, w);
  return TDSC__AUTH_DONE;
}

/* One gss_init_sec_context round: in may be NULL.  Appends the mechanism's
 * output token to tok. */
/* The exchange's context call (exchange.h): gss_init_sec_context on the
 * worker, in NULL the first time. */
static tdsc_errc krb_ctx(void *m, const uint8_t *in, size_t inlen,
                         tdsc__buf *tok, bool *complete, tdsc_error *err) {
  krb_state *s = m;
  tdsc__krb_phase phase = in ? TDSC__KRB_ACCEPT : TDSC__KRB_INIT;
  tdsc_errc ec;
  tdsc__work *w = s->pending; /* called again with the same input */
  if (!w) {
    if (!(w = job_new(JOB_INIT)))
      return tdsc__err_oom(err);
    krb_job *j = tdsc__work_payload(w);
    if (in && inlen) {
      j->in.value = malloc(inlen);
      if (!j->in.value) {
        tdsc__work_end(w);
        return tdsc__err_oom(err);
      }
      memcpy(j->in.value, in, inlen);
      j->in.length = inlen;
    }
    /* RFC 4121 4.1.1.2: the authenticator's Bnd is the MD5 of the
     * bindings (MIT computes it); addresses GSS_C_AF_UNSPEC and empty */
    const tdsc__buf *cb = &s->x.bindings;
    if (cb->len) {
      j->cb.application_data.value = malloc(cb->len);
      if (!j->cb.application_data.value) {
        tdsc__work_end(w);
        return tdsc__err_oom(err);
      }
      memcpy(j->cb.application_data.value, cb->data, cb->len);
      j->cb.application_data.length = cb->len;
      j->has_cb = true;
    }
  }
  if ((ec = krb_call(s, w, phase, err)))
    return ec;
  krb_job *j = tdsc__work_payload(w);
  tdsc__buf_put(tok, j->out.value, j->out.length);
  s->flags = j->flags;
  s->established = j->major == GSS_S_COMPLETE;
  tdsc__work_end(w);
  if (tok->oom)
    return tdsc__err_oom(err);
  if (s->established && !(s->flags & GSS_C_MUTUAL_FLAG))
    return tdsc__krb_not_mutual(err, s->spn);
  *complete = s->established;
  return TDSC_OK;
}

static tdsc_errc krb_get_mic(void *m, const tdsc__buf *msg, tdsc__buf *out,
                             tdsc_error *err) {
  krb_state *s = m;
  OM_uint32 minor;
  gss_buffer_desc in = {msg->len, msg->data};
  gss_buffer_desc mic = GSS_C_EMPTY_BUFFER;
  OM_uint32 major =
      gss_get_mic(&minor, s->res.ctx, GSS_C_QOP_DEFAULT, &in, &mic);
  if (GSS_ERROR(major))
    return krb_fail(s, err, major, minor, false, TDSC__KRB_ACCEPT);
  tdsc__buf_put(out, mic.value, mic.length);
  gss_release_buffer(&minor, &mic);
  return out->oom ? tdsc__err_oom(err) : TDSC_OK;
}

static bool krb_verify_mic(void *m, const tdsc__buf *msg, const uint8_t *micp,
                           size_t miclen, tdsc_error *prov) {
  krb_state *s = m;
  OM_uint32 minor;
  gss_buffer_desc in = {msg->len, msg->data};
  gss_buffer_desc mic = {miclen, (void *)micp};
  OM_uint32 major = gss_verify_mic(&minor, s->res.ctx, &in, &mic, NULL);
  if (GSS_ERROR(major)) {
    krb_fail(s, prov, major, minor, false, TDSC__KRB_ACCEPT);
    return false;
  }
  return true;
}

static void krb_subject(void *m, char *buf, size_t n) {
  krb_state *s = m;
  snprintf(buf, n, "%s for %s", who(s), s->spn);
}

static const tdsc__mech_hooks krb_hooks = {krb_ctx, krb_get_mic, krb_verify_mic,
                                           krb_subject};

static void krb_free(void *state) {
  krb_state *s = state;
  if (!s)
    return;
  if (s->pending) /* the connect was abandoned during a call */
    tdsc__work_abandon(s->pending);
  if (s->acq && s->acq != s->pending) /* never started */
    tdsc__work_end(s->acq);
  tdsc__waker_free(s->wake);
  res_release(&s->res);
  tdsc__exchange_free(&s->x);
  free(s->spn);
  free(s->cred_desc);
  free(s->spn_realm);
  free(s->asked);
  free(s->ccache);
  free(s->keytab);
  free(s);
}

/* While a step returns PENDING: readable once the worker is done. */
static intptr_t krb_pollfd(void *state) {
  krb_state *s = state;
  return s && s->pending ? tdsc__waker_fd(s->wake) : -1;
}

static const tdsc__mech_ops kerberos_ops = {
    .name = "kerberos",
    .init = krb_init,
    .acquire = krb_acquire,
    .step = tdsc__exchange_step,
    .identity = tdsc__exchange_identity,
    .free_state = krb_free,
    .pollfd = krb_pollfd,
    .bind = tdsc__exchange_bind,
};

const tdsc__mech_ops *const tdsc__mech_kerberos = &kerberos_ops;
