/* Microsoft Entra ID access tokens: the "entra" mechanisms of auth.h
 * (Authentication=entra, ODBC's ActiveDirectoryAccessToken; entra-sp,
 * entra-msi and entra-workload, ODBC's ActiveDirectoryServicePrincipal,
 * ActiveDirectoryManagedIdentity, ActiveDirectoryWorkloadIdentity).  The
 * token comes from AccessToken= or the application's provider
 * (tdsc_conn_set_token_provider), or is fetched from an identity provider
 * over HTTP (oauth.c builds the request and reads the answer; it runs on
 * the worker, bounded by the login deadline, so that a connect that may
 * not wait is never blocked by it: the acquire op), and travels in
 * LOGIN7's FEDAUTH feature
 * as a security token (MS-TDS 2.2.6.4; session/fedauth.c puts it there).
 * Before anything is sent the token's claims are read (jwt.c, no
 * signature check: that is the server's) so that an expired token, one
 * not valid yet, one for another resource or no JWT at all is named with
 * its own code.  The token is a bearer secret: kept in one wiped copy,
 * never in a message; claims such as aud, exp, tid, upn and oid may be. */
#include "config.h"

#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/oauth.h"
#include "clock.h"
#include "transport/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* A token larger than this is refused rather than sent (LOGIN7 is at most
 * 128 KiB, the token doubles in UTF-16). */
#define MAX_TOKEN 60000u
/* nbf may be ahead of this machine's clock by the skew Entra ID itself
 * tolerates (5 minutes); exp is taken as it is: a token that expires now
 * would be refused by the server or expire during the login. */
#define NBF_SKEW 300

/* The audiences Azure SQL accepts: the database resource of each cloud,
 * with or without the final '/', and the resource's application id (v2
 * tokens name it so). */
static const char *const sql_audiences[] = {
    "https://database.windows.net/",
    "https://database.usgovcloudapi.net/",
    "https://database.chinacloudapi.cn/",
    "https://database.cloudapi.de/",
    "022907d3-0f1b-48f7-badc-1ba6abab6d66",
};

typedef struct entra_state {
  char *token; /* NUL-terminated; wiped before it is freed */
  size_t len;
  char who[600]; /* "upn (tenant tid)", for trails and messages */
  /* a token fetched over HTTP (oauth.h): the request, a tdsc__http
   * payload of the worker, prepared by init and run by acquire */
  tdsc__token_source src;
  tdsc__work *acq;
  bool started;          /* acq runs on the worker, wake fires when done */
  tdsc__waker *wake;     /* NULL: the caller waits (no pending_ok) */
  int64_t deadline;
  char *audience;        /* EntraAudience=, for the claims once fetched */
  char endpoint[300];    /* the token endpoint, for messages */
} entra_state;

static bool aud_eq(const char *a, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  if (na && a[na - 1] == '/')
    na--;
  if (nb && b[nb - 1] == '/')
    nb--;
  return na == nb && !strncasecmp(a, b, na);
}

static bool audience_ok(const tdsc__jwt_claims *cl, const char *want) {
  for (size_t i = 0; i < cl->naud; i++) {
    if (want) {
      if (aud_eq(cl->aud[i], want))
        return true;
      continue;
    }
    for (size_t k = 0; k < sizeof sql_audiences / sizeof sql_audiences[0]; k++)
      if (aud_eq(cl->aud[i], sql_audiences[k]))
        return true;
  }
  return false;
}

/* t as "YYYY-MM-DD HH:MM:SS UTC", computed rather than asked of gmtime_r,
 * which not every platform of the library has (the civil-from-days
 * algorithm of the proleptic Gregorian calendar). */
static void utc(int64_t t, char *buf, size_t cap) {
  int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  int64_t secs = t - days * 86400;
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  snprintf(buf, cap, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld UTC",
           (long long)y, (long long)m, (long long)d, (long long)(secs / 3600),
           (long long)(secs / 60 % 60), (long long)(secs % 60));
}

/* Asks the application's provider; a token that does not fit the first
 * buffer is asked for again in one of the size the provider gave. */
static tdsc_errc from_provider(entra_state *s, const tdsc__auth_params *p,
                               const char *resource, tdsc_error *err) {
  size_t cap = 8192;
  for (int round = 0; round < 2; round++) {
    char *buf = calloc(1, cap);
    if (!buf)
      return tdsc__err_oom(err);
    long n = p->token_fn(p->token_ud, resource, buf, cap);
    if (n >= 0 && (size_t)n < cap && memchr(buf, 0, cap)) {
      s->token = buf;
      s->len = strlen(buf);
      return TDSC_OK;
    }
    tdsc__wipe(buf, cap);
    free(buf);
    if (n == -1)
      return tdsc__err_set(err, TDSC_E_ENTRA_NO_TOKEN,
                           "the application's token provider has no token "
                           "for %s",
                           resource);
    if (n < 0)
      return tdsc__err_set(err, TDSC_E_ENTRA_PROVIDER_FAILED,
                           "the application's token provider failed (it "
                           "returned %ld) when asked for a token for %s",
                           n, resource);
    if ((size_t)n > MAX_TOKEN || round)
      break;
    cap = (size_t)n + 1;
  }
  return tdsc__err_set(err, TDSC_E_ENTRA_PROVIDER_FAILED,
                       "the application's token provider gave a token too "
                       "large or without its final NUL (at most %u bytes)",
                       MAX_TOKEN);
}

/* Names what is wrong with the token, claims only (entra.c's header). */
static tdsc_errc diagnose(entra_state *s, const char *audience,
                          tdsc_error *err) {
  tdsc__jwt_claims cl;
  char why[200], t1[96], t2[96];
  if (s->len > MAX_TOKEN)
    return tdsc__err_set(err, TDSC_E_ENTRA_TOKEN_MALFORMED,
                         "the access token is %zu bytes long, more than an "
                         "access token can be (%u)",
                         s->len, MAX_TOKEN);
  if (!tdsc__jwt_decode(s->token, &cl, why, sizeof why))
    return cl.oom ? tdsc__err_oom(err)
                  : tdsc__err_set(err, TDSC_E_ENTRA_TOKEN_MALFORMED,
                                  "the access token (%zu bytes, not shown) "
                                  "is not a JWT: %s",
                                  s->len, why);
  if (!cl.has_exp)
    return tdsc__err_set(err, TDSC_E_ENTRA_TOKEN_MALFORMED,
                         "the access token (%zu bytes, not shown) has no exp "
                         "claim: an Entra ID access token always has one",
                         s->len);
  const char *name = cl.upn[0]           ? cl.upn
                     : cl.unique_name[0] ? cl.unique_name
                     : cl.oid[0]         ? cl.oid
                                         : cl.appid;
  snprintf(s->who, sizeof s->who, "%s%s%s%s", name[0] ? name : "(no upn/oid)",
           cl.tid[0] ? " (tenant " : "", cl.tid, cl.tid[0] ? ")" : "");
  int64_t now = (int64_t)time(NULL);
  if (cl.exp <= now) {
    utc(cl.exp, t1, sizeof t1);
    utc(now, t2, sizeof t2);
    return tdsc__err_set(err, TDSC_E_ENTRA_TOKEN_EXPIRED,
                         "the access token of %s expired at %s (exp), %lld "
                         "s before now (%s)",
                         s->who, t1, (long long)(now - cl.exp), t2);
  }
  if (cl.has_nbf && cl.nbf > now + NBF_SKEW) {
    utc(cl.nbf, t1, sizeof t1);
    utc(now, t2, sizeof t2);
    return tdsc__err_set(err, TDSC_E_ENTRA_TOKEN_NOT_YET_VALID,
                         "the access token of %s is valid only from %s (nbf), "
                         "%lld s after this machine's clock (%s)",
                         s->who, t1, (long long)(cl.nbf - now), t2);
  }
  if (!audience_ok(&cl, audience)) {
    char got[600] = "";
    for (size_t i = 0; i < cl.naud; i++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s'%s'",
               i ? ", " : "", cl.aud[i]);
    return tdsc__err_set(err, TDSC_E_ENTRA_WRONG_AUDIENCE,
                         "the access token of %s is for %s (aud), not for "
                         "%s%s",
                         s->who, cl.naud ? got : "no audience at all",
                         audience ? audience : "Azure SQL (",
                         audience ? "" : "https://database.windows.net/)");
  }
  return TDSC_OK;
}

/* The work of a fetch (worker.h): a tdsc__http. */
static void fetch_call(void *payload) { tdsc__http_perform(payload); }

static void fetch_discard(void *payload) {
  tdsc__http_clear(payload);
  free(payload);
}

/* The fetch w is done: its answer read, the token's claims checked. */
static tdsc_errc fetched(entra_state *s, tdsc__work *w, tdsc_error *err) {
  tdsc_errc rc = tdsc__oauth_read(s->src, tdsc__work_payload(w), s->endpoint,
                                   &s->token, &s->len, err);
  tdsc__work_end(w);
  return rc ? rc : diagnose(s, s->audience, err);
}

static tdsc_errc fetch_timeout(entra_state *s, tdsc_error *err) {
  return tdsc__err_set(err, TDSC_E_ENTRA_ENDPOINT_TIMEOUT,
                       "the token endpoint %s did not answer within the "
                       "login timeout",
                       s->endpoint);
}

/* Prepares the fetch of an HTTP source: the request built (oauth.c),
 * then run here when the caller waits, else left to entra_acquire. */
static tdsc_errc fetch_init(entra_state *s, const tdsc__auth_params *p,
                            tdsc_error *err) {
  tdsc__http *h = calloc(1, sizeof *h);
  if (!h)
    return tdsc__err_oom(err);
  tdsc__buf_init(&h->resp);
  tdsc_errc rc = tdsc__oauth_request(s->src, p, h, s->endpoint,
                                     sizeof s->endpoint, err);
  if (rc == TDSC_OK && p->encrypt_off)
    rc = tdsc__err_set(err, TDSC_E_ENTRA_TLS_REQUIRED,
                       "Encrypt=off, but an access token is never sent "
                       "without TLS (anyone who reads it may use it until "
                       "it expires): no token was fetched");
  if (rc == TDSC_OK && p->audience && !(s->audience = tdsc__strdup(p->audience)))
    rc = tdsc__err_oom(err);
  if (rc == TDSC_OK && !(s->acq = tdsc__work_new(fetch_call, fetch_discard, h)))
    rc = tdsc__err_oom(err);
  if (rc != TDSC_OK) {
    fetch_discard(h);
    return rc;
  }
  s->deadline = p->deadline;
  if (p->deadline != TDSC__NO_DEADLINE) {
    int64_t left = p->deadline - tdsc__now_ms();
    h->timeout_ms = left > 0 ? (long)left : 1;
  }
  if (p->pending_ok) { /* entra_acquire, on the worker */
    if (!(s->wake = tdsc__waker_new()))
      return tdsc__err_oom(err); /* entra_free ends s->acq */
    return TDSC_OK;
  }
  tdsc__work *w = s->acq;
  s->acq = NULL;
  int st = tdsc__work_run(w, s->deadline);
  if (st == 0) {
    tdsc__work_end(w);
    return tdsc__work_no_thread(err, "fetching an Entra ID token");
  }
  if (st < 0)
    return fetch_timeout(s, err); /* w is abandoned */
  return fetched(s, w, err);
}

static tdsc_errc entra_init_from(void **state, const tdsc__auth_params *p,
                                 tdsc__token_source src, tdsc_error *err) {
  entra_state *s = calloc(1, sizeof *s);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  s->src = src;
  if (src != TDSC__SRC_GIVEN)
    return fetch_init(s, p, err);
  const char *resource = p->audience ? p->audience
                                     : "https://database.windows.net/";
  /* No source: skipped (a trail entry), whatever Encrypt= says. */
  if (!(p->access_token && *p->access_token) && !p->token_fn)
    return tdsc__err_set(err, TDSC_E_ENTRA_NO_TOKEN,
                         "Entra ID authentication needs an access token: "
                         "neither AccessToken= nor a token provider was "
                         "given");
  if (p->encrypt_off)
    return tdsc__err_set(err, TDSC_E_ENTRA_TLS_REQUIRED,
                         "Encrypt=off, but an access token is never sent "
                         "without TLS (anyone who reads it may use it until "
                         "it expires)");
  tdsc_errc rc;
  if (p->access_token && *p->access_token) {
    s->len = strlen(p->access_token);
    if (!(s->token = tdsc__strdup(p->access_token)))
      return tdsc__err_oom(err);
  } else if ((rc = from_provider(s, p, resource, err)) != TDSC_OK) {
    return rc;
  }
  return diagnose(s, p->audience, err);
}

static tdsc_errc entra_init(void **state, const tdsc__auth_params *p,
                            tdsc_error *err) {
  return entra_init_from(state, p, TDSC__SRC_GIVEN, err);
}

static tdsc_errc secret_init(void **state, const tdsc__auth_params *p,
                             tdsc_error *err) {
  return entra_init_from(state, p, TDSC__SRC_SECRET, err);
}

static tdsc_errc managed_init(void **state, const tdsc__auth_params *p,
                              tdsc_error *err) {
  return entra_init_from(state, p, TDSC__SRC_MANAGED, err);
}

static tdsc_errc workload_init(void **state, const tdsc__auth_params *p,
                               tdsc_error *err) {
  return entra_init_from(state, p, TDSC__SRC_WORKLOAD, err);
}

/* The fetch init prepared, on the worker: PENDING until it is done (the
 * waker fires), FAILED with the endpoint's codes or the claims'. */
static tdsc__auth_status entra_acquire(void *state, tdsc_error *err) {
  entra_state *s = state;
  if (!s->acq)
    return TDSC__AUTH_DONE;
  if (!s->started) {
    tdsc__waker_clear(s->wake);
    s->started = tdsc__work_start(s->acq, s->wake);
    if (!s->started) {
      tdsc__work_end(s->acq);
      s->acq = NULL;
      tdsc__work_no_thread(err, "fetching an Entra ID token");
      return TDSC__AUTH_FAILED;
    }
  }
  int st = tdsc__work_poll(s->acq, s->deadline);
  if (st == 0)
    return TDSC__AUTH_PENDING;
  tdsc__work *w = s->acq;
  s->acq = NULL;
  if (st < 0)
    return fetch_timeout(s, err), TDSC__AUTH_FAILED; /* w abandoned */
  return fetched(s, w, err) ? TDSC__AUTH_FAILED : TDSC__AUTH_DONE;
}

static intptr_t entra_pollfd(void *state) {
  entra_state *s = state;
  return s && s->acq && s->started ? tdsc__waker_fd(s->wake) : -1;
}

static const char *entra_bearer(void *state) {
  entra_state *s = state;
  return s ? s->token : NULL;
}

static const char *entra_identity(void *state) {
  entra_state *s = state;
  return s ? s->who : "";
}

static void entra_basic(void *state, const char **user,
                        const char **password) {
  (void)state;
  *user = NULL; /* the token names the principal (MS-TDS 2.2.6.4) */
  *password = NULL;
}

static void entra_free(void *state) {
  entra_state *s = state;
  if (!s)
    return;
  if (s->token) {
    tdsc__wipe(s->token, s->len);
    free(s->token);
  }
  if (s->acq && s->started)
    tdsc__work_abandon(s->acq); /* the worker discards the request */
  else if (s->acq)
    tdsc__work_end(s->acq);
  tdsc__waker_free(s->wake);
  free(s->audience);
  free(s);
}

static const tdsc__mech_ops entra_ops = {
    .name = "entra",
    .init = entra_init,
    .step = NULL, /* no SSPI tokens: the token rides in LOGIN7's FEDAUTH */
    .identity = entra_identity,
    .free_state = entra_free,
    .basic = entra_basic,
    .bearer = entra_bearer,
};

/* The sources over HTTP: the same mechanism, its token fetched first. */
#define FETCHING_OPS(var, nm, initf)                                          \
  static const tdsc__mech_ops var = {                                         \
      .name = nm,                                                             \
      .init = initf,                                                          \
      .acquire = entra_acquire,                                               \
      .identity = entra_identity,                                             \
      .free_state = entra_free,                                               \
      .basic = entra_basic,                                                   \
      .pollfd = entra_pollfd,                                                 \
      .bearer = entra_bearer,                                                 \
  }
FETCHING_OPS(secret_ops, "entra-sp", secret_init);
FETCHING_OPS(managed_ops, "entra-msi", managed_init);
FETCHING_OPS(workload_ops, "entra-workload", workload_init);

const tdsc__mech_ops *const tdsc__mech_entra = &entra_ops;
const tdsc__mech_ops *const tdsc__mech_entra_sp = &secret_ops;
const tdsc__mech_ops *const tdsc__mech_entra_msi = &managed_ops;
const tdsc__mech_ops *const tdsc__mech_entra_workload = &workload_ops;
