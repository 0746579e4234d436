/* Microsoft Entra ID access tokens: the "entra" mechanisms of auth.h
 * (Authentication=entra, ODBC's ActiveDirectoryAccessToken; entra-sp,
 * entra-msi and entra-workload, ODBC's ActiveDirectoryServicePrincipal,
 * ActiveDirectoryManagedIdentity, ActiveDirectoryWorkloadIdentity).  The
 * token comes from AccessToken= or the application's provider
 * (tdsc_conn_set_token_provider), or is fetched from an identity provider
 * over HTTP (oauth.c builds the request and reads the answer; it runs on
 * the worker, bounded by the login deadline, so that a connect that may
 * not wait is never blocked by it: the acquire op).  A given token
 * travels in LOGIN7's FEDAUTH feature as a security token (MS-TDS
 * 2.2.6.4; session/fedauth.c puts it there); a fetched one follows the
 * ADAL workflow: LOGIN7 announces the library, the server's FEDAUTHINFO
 * (2.2.7.12) names the resource (its SPN) and the token service (its STS
 * URL, whose tenant is used when EntraTenant= names none), and the token
 * fetched for them goes in a message of its own (2.2.6.3).  The STS URL
 * is the server's word: a secret goes there only when its host is a
 * Microsoft Entra authority or EntraAuthority='s (entra_sts).
 * Before anything is sent the token's claims are read (jwt.c, no
 * signature check: that is the server's) so that an expired token, one
 * not valid yet, one for another resource or no JWT at all is named with
 * its own code.  The token is a bearer secret: kept in one wiped copy,
 * never in a message; claims such as aud, exp, tid, upn and oid may be. */
#include "config.h"

#include "auth/auth.h"
#include "auth/jwt.h"
#include "auth/oauth.h"
#include "auth/token_cache.h"
#include "clock.h"
#include "proto/proto.h"
#include "transport/worker.h"

#include <ctype.h>
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
  /* for the trail (token_facts): where the token came from or was asked
   * for, and its claims once read ("aud=..., exp=... UTC"); no secret */
  char source[900];
  char claims[1800];
  /* a token fetched over HTTP (oauth.h): the request, a tdsc__http
   * payload of the worker, prepared by init and run by acquire */
  tdsc__token_source src;
  tdsc__work *acq;
  bool started;          /* acq runs on the worker, wake fires when done */
  tdsc__waker *wake;     /* NULL: the caller waits (no pending_ok) */
  int64_t deadline;
  char *audience;        /* EntraAudience=, for the claims once fetched */
  char endpoint[300];    /* the token endpoint, for messages */
  char *key;             /* the token's in the process's cache
                            (token_cache.h; holds a secret: wiped) */
  bool cached;           /* the token came from that cache */
  int64_t exp;           /* the token's exp claim, once read */
  /* the attempt's parameters (their strings live as long as the
   * attempt): the request is built once FEDAUTHINFO came (entra_sts) */
  tdsc__auth_params p;
} entra_state;

/* The hosts of Microsoft Entra ID's authorities, to which a secret may go
 * when the server's STS URL names one: the public cloud (and its older
 * name, which Azure SQL's FEDAUTHINFO uses), US Government, China (21Vianet,
 * both names) and Germany, as MSAL's trusted host list and the national
 * clouds' documentation have them. */
static const char *const entra_hosts[] = {
    "login.microsoftonline.com",       "login.windows.net",
    "login.microsoftonline.us",        "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn", "login.microsoftonline.de",
};

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

/* The claims the trail keeps (token_facts): those that say whose token
 * it is, for what and until when; never the signature. */
static void claims_fact(entra_state *s, const tdsc__jwt_claims *cl) {
  char t[96];
  size_t cap = sizeof s->claims;
  s->claims[0] = 0;
#define PUT(k, v)                                                              \
  snprintf(s->claims + strlen(s->claims), cap - strlen(s->claims), "%s%s=%s",  \
           s->claims[0] ? ", " : "", k, v)
  for (size_t i = 0; i < cl->naud; i++)
    PUT("aud", cl->aud[i]);
  const char *k[] = {"iss", "tid", "upn", "unique_name", "oid", "appid"};
  const char *v[] = {cl->iss,         cl->tid, cl->upn,
                     cl->unique_name, cl->oid, cl->appid};
  for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
    if (v[i][0])
      PUT(k[i], v[i]);
  if (cl->has_nbf) {
    utc(cl->nbf, t, sizeof t);
    PUT("nbf", t);
  }
  if (cl->has_exp) {
    utc(cl->exp, t, sizeof t);
    PUT("exp", t);
  }
#undef PUT
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
  claims_fact(s, &cl); /* kept for the trail whatever follows */
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
  s->exp = cl.exp;
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

/* Where a fetched token is asked for (token_facts): the endpoint and
 * who asks with what (oauth.c's h->about), never the secret. */
static void source_fact(entra_state *s, const tdsc__http *h) {
  snprintf(s->source, sizeof s->source, "%s %s, %s",
           s->src == TDSC__SRC_MANAGED ? "managed identity endpoint"
                                       : "token endpoint",
           s->endpoint, h->about);
}

/* Prepares the fetch of an HTTP source for what FEDAUTHINFO said: the
 * request built (oauth.c), then run here when the caller waits, else left
 * to entra_acquire. */
static tdsc_errc fetch_init(entra_state *s, const tdsc__auth_params *p,
                            const tdsc__oauth_sts *sts, tdsc_error *err) {
  tdsc__http *h = calloc(1, sizeof *h);
  if (!h)
    return tdsc__err_oom(err);
  tdsc__buf_init(&h->resp);
  tdsc_errc rc = tdsc__oauth_request(s->src, p, sts, h, s->endpoint,
                                     sizeof s->endpoint, &s->key, err);
  if (rc == TDSC_OK)
    source_fact(s, h);
  if (rc == TDSC_OK &&
      tdsc__token_cache_get(s->key, (int64_t)time(NULL), &s->token, &s->len)) {
    /* a server accepted it before: no request (token_cache.h) */
    size_t n = strlen(s->source);
    snprintf(s->source + n, sizeof s->source - n,
             "; kept from an earlier login (no request)");
    fetch_discard(h);
    s->cached = true;
    return diagnose(s, s->audience, err);
  }
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

/* An HTTP source before the login: its request built once with
 * stand-ins for what FEDAUTHINFO will say and dropped, so that a missing
 * credential, an endpoint that is not https or a build without HTTP
 * passes the mechanism over before any traffic. */
static tdsc_errc fetch_check(entra_state *s, const tdsc__auth_params *p,
                             tdsc_error *err) {
  tdsc__oauth_sts stand_in = {.tenant = "organizations"};
  tdsc__http h;
  memset(&h, 0, sizeof h);
  tdsc__buf_init(&h.resp);
  tdsc_errc rc = tdsc__oauth_request(s->src, p, &stand_in, &h, s->endpoint,
                                     sizeof s->endpoint, NULL, err);
  tdsc__http_clear(&h);
  if (rc != TDSC_OK)
    return rc;
  if (p->encrypt_off)
    return tdsc__err_set(err, TDSC_E_ENTRA_TLS_REQUIRED,
                         "Encrypt=off, but an access token is never sent "
                         "without TLS (anyone who reads it may use it until "
                         "it expires): no token was fetched");
  if (p->audience && !(s->audience = tdsc__strdup(p->audience)))
    return tdsc__err_oom(err);
  s->p = *p;
  s->p.workstation = NULL; /* the caller's buffer; not the sources' */
  return TDSC_OK;
}

/* The origin ("scheme://host[:port]", at most cap bytes) and the tenant
 * of an STS URL of the form https://host[:port]/tenant[/]: false for
 * anything else (a query, user:password@, a longer path, odd bytes). */
static bool sts_parse(const char *url, char *origin, size_t ocap,
                      char *tenant, size_t tcap) {
  size_t sl = !strncasecmp(url, "https://", 8)  ? 8
              : !strncasecmp(url, "http://", 7) ? 7
                                                : 0;
  if (!sl)
    return false;
  for (const char *q = url; *q; q++)
    if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f ||
        strchr("?#@\\", *q))
      return false;
  size_t hn = strcspn(url + sl, "/");
  const char *t = url + sl + hn;
  if (!hn || sl + hn >= ocap || *t != '/')
    return false;
  size_t tn = strcspn(t + 1, "/");
  if (!tn || tn >= tcap || (t[1 + tn] && strcmp(t + 1 + tn, "/")))
    return false;
  for (size_t i = 0; i < tn; i++)
    if (!isalnum((unsigned char)t[1 + i]) && !strchr("-._", t[1 + i]))
      return false;
  snprintf(origin, ocap, "%.*s", (int)(sl + hn), url);
  snprintf(tenant, tcap, "%.*s", (int)tn, t + 1);
  return true;
}

/* Whether a secret may go to the STS of origin: a Microsoft Entra
 * authority over https, or the origin of EntraAuthority= (the user's
 * choice, a test's loopback authority). */
static bool sts_trusted(const char *origin, const char *authority) {
  if (authority) {
    const char *a = strstr(authority, "://");
    size_t an = a ? (size_t)(a - authority) + 3 + strcspn(a + 3, "/") : 0;
    if (an && strlen(origin) == an && !strncasecmp(origin, authority, an))
      return true;
  }
  if (strncasecmp(origin, "https://", 8))
    return false;
  const char *host = origin + 8;
  size_t hn = strlen(host);
  if (hn > 4 && !strcmp(host + hn - 4, ":443"))
    hn -= 4;
  for (size_t i = 0; i < sizeof entra_hosts / sizeof entra_hosts[0]; i++)
    if (strlen(entra_hosts[i]) == hn && !strncasecmp(host, entra_hosts[i], hn))
      return true;
  return false;
}

/* The server's FEDAUTHINFO (MS-TDS 2.2.7.12, the ADAL workflow): the
 * token is asked for its SPN, which must be a resource this client sends
 * tokens to (as a given token's audience, diagnose), from the STS URL's
 * tenant when the user named none; a client secret or assertion goes to
 * the STS only if it is trusted (sts_trusted).  Managed identity asks
 * its own endpoint, never the STS.  Readies the fetch entra_acquire
 * runs. */
static tdsc_errc entra_sts(void *state, const char *sts_url, const char *spn,
                           tdsc_error *err) {
  entra_state *s = state;
  char origin[300], tenant[130];
  tdsc__jwt_claims aud = {.naud = 1};
  if (!spn || !*spn)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "FEDAUTHINFO names no SPN (FedAuthInfoID 0x02): "
                         "the resource to ask a token for is unknown");
  snprintf(aud.aud[0], sizeof aud.aud[0], "%s", spn);
  if (strlen(spn) >= sizeof aud.aud[0] || !audience_ok(&aud, s->audience))
    return tdsc__err_set(err, TDSC_E_ENTRA_WRONG_AUDIENCE,
                         "FEDAUTHINFO asks for a token for '%.200s' (its "
                         "SPN), not for %s%s: no token is fetched for "
                         "another resource",
                         spn, s->audience ? s->audience : "Azure SQL (",
                         s->audience ? "" : "https://database.windows.net/)");
  tdsc__oauth_sts sts = {.resource = spn};
  if (s->src != TDSC__SRC_MANAGED) {
    if (!sts_url || !sts_parse(sts_url, origin, sizeof origin, tenant,
                               sizeof tenant))
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "FEDAUTHINFO's STS URL '%.200s' is not of the "
                           "form https://host/tenant",
                           sts_url ? sts_url : "(none)");
    if (!sts_trusted(origin, s->p.authority))
      return tdsc__err_set(err, TDSC_E_ENTRA_STS_UNTRUSTED,
                           "FEDAUTHINFO names the token service %s, whose "
                           "host %s is neither a Microsoft Entra authority "
                           "nor that of EntraAuthority=: no credential was "
                           "sent there",
                           origin, strstr(origin, "://") + 3);
    sts.tenant = tenant;
    sts.authority = origin;
  }
  return fetch_init(s, &s->p, &sts, err);
}

static tdsc_errc entra_init_from(void **state, const tdsc__auth_params *p,
                                 tdsc__token_source src, tdsc_error *err) {
  entra_state *s = calloc(1, sizeof *s);
  *state = s;
  if (!s)
    return tdsc__err_oom(err);
  s->src = src;
  if (src != TDSC__SRC_GIVEN)
    return fetch_check(s, p, err);
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
  snprintf(s->source, sizeof s->source, "%s",
           p->access_token && *p->access_token
               ? "AccessToken="
               : "the application's token provider");
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

static void entra_token_facts(void *state, const char **source,
                              const char **claims) {
  entra_state *s = state;
  *source = s ? s->source : "";
  *claims = s ? s->claims : "";
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

/* The server's verdict on the login with a fetched token: one it
 * accepted is kept for the logins to come, one it refused is forgotten
 * (token_cache.h). */
static void entra_judged(void *state, bool accepted) {
  entra_state *s = state;
  if (!s || !s->key || !s->token)
    return;
  if (accepted && !s->cached)
    tdsc__token_cache_put(s->key, s->token, s->len, s->exp);
  else if (!accepted && s->cached)
    tdsc__token_cache_drop(s->key, s->token, s->len);
}

static void entra_free(void *state) {
  entra_state *s = state;
  if (!s)
    return;
  if (s->key) {
    tdsc__wipe(s->key, strlen(s->key));
    free(s->key);
  }
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
    .token_facts = entra_token_facts,
};

/* The sources over HTTP: the same mechanism, its token fetched once the
 * server's FEDAUTHINFO came (the ADAL workflow, with its Workflow byte). */
#define FETCHING_OPS(var, nm, initf, workflow)                                 \
  static const tdsc__mech_ops var = {                                          \
      .name = nm,                                                              \
      .init = initf,                                                           \
      .acquire = entra_acquire,                                                \
      .fedauth_info = entra_sts,                                               \
      .fedauth_workflow = workflow,                                            \
      .identity = entra_identity,                                              \
      .free_state = entra_free,                                                \
      .basic = entra_basic,                                                    \
      .pollfd = entra_pollfd,                                                  \
      .bearer = entra_bearer,                                                  \
      .judged = entra_judged,                                                  \
      .token_facts = entra_token_facts,                                        \
  }
FETCHING_OPS(secret_ops, "entra-sp", secret_init,
             TDSC__FEDAUTH_WORKFLOW_PASSWORD);
FETCHING_OPS(managed_ops, "entra-msi", managed_init,
             TDSC__FEDAUTH_WORKFLOW_MSI);
FETCHING_OPS(workload_ops, "entra-workload", workload_init,
             TDSC__FEDAUTH_WORKFLOW_PASSWORD);

const tdsc__mech_ops *const tdsc__mech_entra = &entra_ops;
const tdsc__mech_ops *const tdsc__mech_entra_sp = &secret_ops;
const tdsc__mech_ops *const tdsc__mech_entra_msi = &managed_ops;
const tdsc__mech_ops *const tdsc__mech_entra_workload = &workload_ops;
