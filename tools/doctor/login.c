/* Check 8 and the server half of 5, through the PUBLIC API only: a connect
 * per mechanism (Authentication=kerberos, then sql when UID and PWD are
 * given) reporting the structured result (code, message, hint, provider
 * status, trail); then, on the first connection that logged in, SELECT
 * SYSUTCDATETIME() for the server's clock.  The clock check combines that
 * with the KDC offset kerberos.c measured. */
#include "config.h"

#include "doctor/doctor.h"

#include <tdsclient.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKEW_WARN_S 120
#define SKEW_FAIL_S 300 /* Kerberos's default clockskew */

static tdsc_conn *open_conn; /* the first that logged in, for the clock */

typedef struct sbuf {
  char *s;
  size_t len, cap;
  bool oom;
} sbuf;

static void sb_add(sbuf *b, const char *p, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = (b->cap ? b->cap * 2 : 256) + n;
    char *s = realloc(b->s, cap);
    if (!s) {
      b->oom = true;
      return;
    }
    b->s = s;
    b->cap = cap;
  }
  memcpy(b->s + b->len, p, n);
  b->len += n;
  b->s[b->len] = '\0';
}

/* Key={value}; with '}' doubled, the connection string's quoting. */
static void sb_kv(sbuf *b, const char *key, const char *value) {
  sb_add(b, key, strlen(key));
  sb_add(b, "={", 2);
  for (const char *p = value; *p; p++) {
    sb_add(b, p, 1);
    if (*p == '}')
      sb_add(b, "}", 1);
  }
  sb_add(b, "};", 2);
}

/* A UID of the form DOMAIN\user is NTLM's account, not a SQL login
 * (the library's convention, after FreeTDS). */
static bool uid_is_windows(const doc_ctx *d) {
  const char *uid = tdsc__opt(&d->opts, TDSC__OPT_UID);
  return uid && strchr(uid, '\\');
}

/* The user's options (those given, not defaulted) with the mechanism
 * list replaced; UID/PWD go only to the mechanism they belong to. */
static char *connstr_for(const doc_ctx *d, const char *mech) {
  sbuf b = {0};
  bool uid_for_mech = strcmp(mech, "kerberos") != 0 &&
                      (strcmp(mech, "ntlm") == 0) == uid_is_windows(d);
  for (size_t i = 0; i < TDSC__OPT_COUNT; i++) {
    if (!d->opts.given[i] || i == TDSC__OPT_AUTHENTICATION)
      continue;
    if (!uid_for_mech && (i == TDSC__OPT_UID || i == TDSC__OPT_PWD))
      continue;
    sb_kv(&b, tdsc__optdefs[i].info.keyword, d->opts.value[i]);
  }
  sb_kv(&b, "Authentication", mech);
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

static void trail_facts(doc_check *c, const tdsc_error *e) {
  for (size_t i = 0; i < tdsc_error_trail_count(e); i++) {
    const tdsc_attempt *a = tdsc_error_trail_at(e, i);
    const tdsc_error *ae = tdsc_attempt_error(a);
    char key[32];
    snprintf(key, sizeof key, "attempt %zu", i + 1);
    doc_fact_add(c, key, "%s %s tls=%s %s %s: %s",
                 tdsc_attempt_transport(a), tdsc_attempt_address(a),
                 tdsc_attempt_tls(a), tdsc_attempt_mechanism(a),
                 tdsc_attempt_target(a),
                 ae ? tdsc_errc_name(tdsc_error_code(ae)) : "ok");
  }
}

static void add_working(doc_ctx *d, const char *mech) {
  size_t n = strlen(d->working);
  snprintf(d->working + n, sizeof d->working - n, "%s%s", n ? ", " : "",
           mech);
}

static void try_mech(doc_ctx *d, doc_check *c, const char *mech) {
  char *cs = connstr_for(d, mech);
  tdsc_conn *conn = tdsc_conn_new();
  if (!cs || !conn) {
    doc_set(c, DOC_FAIL, TDSC_E_NO_MEMORY, "out of memory");
    free(cs);
    tdsc_conn_free(conn);
    return;
  }
  long long t0 = doc_now_ms();
  tdsc_errc rc = tdsc_conn_connect(conn, cs);
  long long took = doc_now_ms() - t0;
  free(cs); /* may hold PWD= / KrbPassword=: gone before anything prints */
  if (rc != TDSC_OK) {
    const tdsc_error *e = tdsc_conn_error(conn);
    doc_fact_add(c, "result", "%s after %lld ms", tdsc_errc_name(rc), took);
    doc_fact_add(c, "category", "%s",
                 tdsc_category_name(tdsc_error_category(e)));
    trail_facts(c, e);
    doc_set_error(c, DOC_FAIL, e);
    tdsc_conn_free(conn);
    return;
  }
  doc_fact_add(c, "result", "logged in (%lld ms)", took);
  doc_fact_add(c, "server", "%s %s", tdsc_conn_server_name(conn),
               tdsc_conn_server_version(conn));
  doc_fact_add(c, "encryption", "%s%s%s", tdsc_conn_encryption(conn),
               *tdsc_conn_tls_version(conn) ? ", " : "",
               tdsc_conn_tls_version(conn));
  add_working(d, mech);
  doc_set(c, DOC_OK, TDSC_OK, NULL);
  if (!open_conn)
    open_conn = conn;
  else
    tdsc_conn_free(conn);
}

void doc_logins(doc_ctx *d) {
  doc_check *k = &d->checks[DOC_AUTH_KERBEROS], *s = &d->checks[DOC_AUTH_SQL];
#ifdef TDSC_HAVE_GSSAPI
  try_mech(d, k, "kerberos");
#else
  doc_set(k, DOC_SKIP, TDSC_OK,
          "tdsclient was built without GSSAPI: no Kerberos");
#endif
  doc_check *n = &d->checks[DOC_AUTH_NTLM];
  if (tdsc__opt(&d->opts, TDSC__OPT_NTLM_USER) ||
      tdsc__opt(&d->opts, TDSC__OPT_NTLM_CREDFILE) || uid_is_windows(d))
    try_mech(d, n, "ntlm");
  else
    doc_set(n, DOC_SKIP, TDSC_OK,
            "no NTLM account given (NTLMUser=, NTLMCredFile=, or "
            "UID=DOMAIN\\user)");
  if (tdsc__opt(&d->opts, TDSC__OPT_UID) &&
      tdsc__opt(&d->opts, TDSC__OPT_PWD) && !uid_is_windows(d))
    try_mech(d, s, "sql");
  else
    doc_set(s, DOC_SKIP, TDSC_OK, "no SQL login given (UID= and PWD=)");
}

/* The server's UTC clock minus ours, in seconds, through the open
 * connection; false (with a fact saying why) when it cannot be had. */
static bool server_offset(doc_check *c, long long *off) {
  tdsc_result *r = NULL;
  const char *t = NULL;
  long long t0 = doc_now_ms();
  if (tdsc_conn_execute(open_conn, "SELECT SYSUTCDATETIME()", &r) != TDSC_OK ||
      tdsc_result_next_set(r) != TDSC_STEP_RESULT ||
      tdsc_result_next_row(r) != TDSC_STEP_ROW ||
      tdsc_result_get_text(r, 0, &t, NULL) != TDSC_OK) {
    const tdsc_error *e = tdsc_conn_error(open_conn);
    doc_fact_add(c, "server clock", "SELECT SYSUTCDATETIME() failed: %s",
                 e ? tdsc_error_message(e) : "no row");
    tdsc_result_free(r);
    return false;
  }
  long long local_ms = (t0 + doc_now_ms()) / 2;
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  /* the local wall clock at the middle of the request */
  long long wall_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000 -
                      (doc_now_ms() - local_ms);
  struct tm tm = {0};
  int y, mo, da, h, mi;
  double sec;
  bool ok = sscanf(t, "%d-%d-%d%*[ T]%d:%d:%lf", &y, &mo, &da, &h, &mi,
                   &sec) == 6;
  if (ok) {
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = da;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = (int)sec;
    long long srv_ms =
        (long long)timegm(&tm) * 1000 + (long long)((sec - (int)sec) * 1000);
    *off = (srv_ms - wall_ms) / 1000;
    doc_fact_add(c, "server clock", "%s UTC", t);
  } else {
    doc_fact_add(c, "server clock", "unreadable answer '%s'", t);
  }
  tdsc_result_free(r);
  return ok;
}

void doc_clock(doc_ctx *d) {
  doc_check *c = &d->checks[DOC_CLOCK];
  if (open_conn)
    d->have_server_offset = server_offset(c, &d->server_offset_s);
  else
    doc_fact_add(c, "server clock", "unknown: no mechanism logged in");
  long long worst = 0;
  const char *who = NULL;
  if (d->have_kdc_offset) {
    doc_fact_add(c, "kdc offset", "%+lld s (from a fresh service ticket's "
                 "start time)", d->kdc_offset_s);
    worst = llabs(d->kdc_offset_s);
    who = "the KDC";
  } else {
    doc_fact_add(c, "kdc offset", "unknown: no fresh service ticket");
  }
  if (d->have_server_offset) {
    doc_fact_add(c, "server offset", "%+lld s (SELECT SYSUTCDATETIME())",
                 d->server_offset_s);
    if (llabs(d->server_offset_s) >= worst) {
      worst = llabs(d->server_offset_s);
      who = "the SQL server";
    }
  }
  if (!who) {
    doc_set(c, DOC_SKIP, TDSC_OK,
            "neither the KDC's nor the server's clock could be read");
    return;
  }
  if (worst > SKEW_WARN_S)
    doc_set(c, worst > SKEW_FAIL_S ? DOC_FAIL : DOC_WARN,
            TDSC_E_KRB_CLOCK_SKEW,
            "the clock of %s is %lld s %s this machine's (Kerberos allows "
            "%d s)",
            who, worst,
            (who[4] == 'K' ? d->kdc_offset_s : d->server_offset_s) > 0
                ? "ahead of"
                : "behind",
            SKEW_FAIL_S);
  else
    doc_set(c, DOC_OK, TDSC_OK, NULL);
}

void doc_logins_end(doc_ctx *d) {
  (void)d;
  tdsc_conn_free(open_conn);
  open_conn = NULL;
}
