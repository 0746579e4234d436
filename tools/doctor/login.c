/* The library's own connect and the mechanisms of its policy, through
 * the PUBLIC API: first a connect with the connection string exactly as
 * given (its code is the doctor's verdict, so library and doctor always
 * name the same cause), whose trail says what became of each mechanism the
 * policy lists; a mechanism the chain did not reach because an earlier one
 * logged in is then probed alone (Authentication=<it>, nothing else
 * changed); one it did not reach because the policy stopped the chain is
 * not tried at all.  A mechanism the policy does not list is never tried.
 * Then, on the connection that logged in, SELECT SYSUTCDATETIME() for the
 * server's clock; the clock check combines it with the KDC offset
 * kerberos.c measured. */
#include "config.h"

#include "auth/jwt.h"
#include "doctor/doctor.h"
#include "session/session.h"

#include <tdsclient.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SKEW_WARN_S 120
#define SKEW_FAIL_S 300 /* Kerberos's default clockskew */

static tdsc_conn *open_conn; /* the first that logged in, for the clock */

static const struct {
  tdsc__mech mech;
  int check;
} mech_checks[] = {{TDSC__MECH_KERBEROS, DOC_AUTH_KERBEROS},
                   {TDSC__MECH_NTLM, DOC_AUTH_NTLM},
                   {TDSC__MECH_SQL, DOC_AUTH_SQL},
                   {TDSC__MECH_ENTRA, DOC_AUTH_ENTRA},
                   /* the fetched sources, a row each (ActiveDirectoryDefault
                    * lists the three: the policy's list is expanded) */
                   {TDSC__MECH_ENTRA_SP, DOC_AUTH_ENTRA_SP},
                   {TDSC__MECH_ENTRA_MSI, DOC_AUTH_ENTRA_MSI},
                   {TDSC__MECH_ENTRA_WORKLOAD, DOC_AUTH_ENTRA_WORKLOAD}};

static void utc_fact(doc_check *c, const char *key, long long t,
                     long long now) {
  char when[64] = "?";
  time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm))
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
  doc_fact_add(c, key, "%s (%+lld s from now)", when, t - now);
}

/* The claims of AccessToken= (issue 17: the doctor names them, never the
 * token), read as the entra mechanism reads them (auth/jwt.c). */
static void entra_claims(const doc_ctx *d, doc_check *c) {
  const char *tok = tdsc__opt(&d->opts, TDSC__OPT_ACCESS_TOKEN);
  if (!tok || !*tok) {
    doc_fact_add(c, "token", "%s",
                 d->opts.given[TDSC__OPT_ACCESS_TOKEN]
                     ? "AccessToken= is empty"
                     : "no AccessToken= (a program may set a token "
                       "provider; this tool has none)");
    return;
  }
  tdsc__jwt_claims cl;
  char why[200];
  if (!tdsc__jwt_decode(tok, &cl, why, sizeof why)) {
    doc_fact_add(c, "token", "%zu bytes, %s: %s", strlen(tok),
                 cl.oom ? "not read" : "not a JWT", why);
    return;
  }
  long long now = (long long)time(NULL);
  doc_fact_add(c, "token", "%zu bytes (not shown), alg %s", strlen(tok),
               cl.alg[0] ? cl.alg : "(none)");
  for (size_t i = 0; i < cl.naud; i++)
    doc_fact_add(c, "aud", "%s", cl.aud[i]);
  if (cl.iss[0])
    doc_fact_add(c, "iss", "%s", cl.iss);
  if (cl.tid[0])
    doc_fact_add(c, "tid", "%s", cl.tid);
  if (cl.upn[0])
    doc_fact_add(c, "upn", "%s", cl.upn);
  if (cl.oid[0])
    doc_fact_add(c, "oid", "%s", cl.oid);
  if (cl.appid[0])
    doc_fact_add(c, "appid", "%s", cl.appid);
  if (cl.has_nbf)
    utc_fact(c, "nbf", cl.nbf, now);
  if (cl.has_exp)
    utc_fact(c, "exp", cl.exp, now);
}

/* The fact "<label> <n>" of the n-th attempt, when it has one. */
static void attempt_fact(doc_check *c, const char *label, size_t n,
                         const char *prefix, const char *value) {
  if (!*value)
    return;
  char key[32];
  snprintf(key, sizeof key, "%s %zu", label, n);
  doc_fact_add(c, key, "%s%s", prefix, value);
}

static void trail_facts(doc_check *c, const tdsc_conn *conn,
                        const char *only) {
  for (size_t i = 0, n = 0; i < tdsc_conn_attempt_count(conn); i++) {
    const tdsc_attempt *a = tdsc_conn_attempt_at(conn, i);
    const tdsc_error *ae = tdsc_attempt_error(a);
    if (only && strcmp(tdsc_attempt_mechanism(a), only) != 0)
      continue;
    char key[32];
    snprintf(key, sizeof key, "attempt %zu", ++n);
    doc_fact_add(c, key, "%s %s tls=%s %s %s: %s",
                 tdsc_attempt_transport(a), tdsc_attempt_address(a),
                 tdsc_attempt_tls(a), tdsc_attempt_mechanism(a),
                 tdsc_attempt_target(a),
                 ae ? tdsc_errc_name(tdsc_error_code(ae)) : "ok");
    /* Extended Protection: what the login carried (tls-unique, or none
     * and why), for integrated logins that got as far as LOGIN7 */
    attempt_fact(c, "channel binding", n, "", tdsc_attempt_channel_binding(a));
    /* a gateway or read-only routing sent the login on: the next
     * attempt is the hop (ENVCHANGE routing) */
    attempt_fact(c, "routed", n, "to ", tdsc_attempt_routed_to(a));
    /* Entra ID: where the token came from and what it claims, as the
     * library read them (never the token), also when they failed it */
    attempt_fact(c, "token", n, "from ", tdsc_attempt_token_source(a));
    attempt_fact(c, "claims", n, "", tdsc_attempt_token_claims(a));
  }
}

static void add_working(doc_ctx *d, const char *mech) {
  size_t n = strlen(d->working);
  snprintf(d->working + n, sizeof d->working - n, "%s%s", n ? ", " : "",
           mech);
}

static void logged_in_facts(doc_check *c, tdsc_conn *conn, long long took) {
  doc_fact_add(c, "result", "logged in (%lld ms)", took);
  doc_fact_add(c, "server", "%s %s", tdsc_conn_server_name(conn),
               tdsc_conn_server_version(conn));
  doc_fact_add(c, "encryption", "%s%s%s", tdsc_conn_encryption(conn),
               *tdsc_conn_tls_version(conn) ? ", " : "",
               tdsc_conn_tls_version(conn));
  /* Extended Protection: what the login that succeeded was bound to */
  size_t n = tdsc_conn_attempt_count(conn);
  const char *cb =
      n ? tdsc_attempt_channel_binding(tdsc_conn_attempt_at(conn, n - 1)) : "";
  if (*cb)
    doc_fact_add(c, "channel binding", "%s", cb);
  /* database mirroring: the partner to give as Failover Partner= */
  if (*tdsc_conn_failover_partner(conn))
    doc_fact_add(c, "failover partner", "%s (named by the server)",
                 tdsc_conn_failover_partner(conn));
}

static void keep_or_free(tdsc_conn *conn) {
  if (!open_conn)
    open_conn = conn;
  else
    tdsc_conn_free(conn);
}

/* The connect a program would make: the string as given. */
static tdsc_conn *connect_check(doc_ctx *d) {
  doc_check *c = &d->checks[DOC_CONNECT];
  char policy[64] = "";
  for (size_t i = 0; i < d->opts.nmechs; i++)
    snprintf(policy + strlen(policy), sizeof policy - strlen(policy), "%s%s",
             i ? "," : "", tdsc__mech_name(d->opts.mechs[i]));
  doc_fact_add(c, "Authentication", "%s%s", policy,
               d->opts.given[TDSC__OPT_AUTHENTICATION] ? ""
                                                       : " (the default)");
  tdsc_conn *conn = tdsc_conn_new();
  if (!conn) {
    d->verdict = TDSC_E_NO_MEMORY;
    doc_set(c, DOC_FAIL, TDSC_E_NO_MEMORY, "out of memory");
    return NULL;
  }
  long long t0 = doc_now_ms();
  d->verdict = tdsc_conn_connect(conn, d->connstr);
  long long took = doc_now_ms() - t0;
  if (d->verdict == TDSC_OK) {
    logged_in_facts(c, conn, took);
    trail_facts(c, conn, NULL);
    doc_set(c, DOC_OK, TDSC_OK, NULL);
    return conn;
  }
  const tdsc_error *e = tdsc_conn_error(conn);
  doc_fact_add(c, "result", "%s after %lld ms", tdsc_errc_name(d->verdict),
               took);
  doc_fact_add(c, "category", "%s",
               tdsc_category_name(tdsc_error_category(e)));
  trail_facts(c, conn, NULL);
  doc_set_error(c, DOC_FAIL, e);
  return conn;
}

/* A mechanism alone, for one the chain did not need: the user's options
 * with Authentication= replaced (tdsc__options_connstr). */
static void probe_alone(doc_ctx *d, doc_check *c, tdsc__mech m) {
  char *cs = tdsc__options_connstr(&d->opts, TDSC__OPT_AUTHENTICATION,
                                   tdsc__mech_name(m));
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
  memset(cs, 0, strlen(cs)); /* PWD=, KrbPassword=: gone before printing */
  free(cs);
  doc_fact_add(c, "probe", "alone (Authentication=%s): the library logged "
               "in with an earlier mechanism of the list", tdsc__mech_name(m));
  if (rc == TDSC_OK) {
    logged_in_facts(c, conn, took);
    trail_facts(c, conn, NULL); /* an Entra ID token's source and claims */
    add_working(d, tdsc__mech_name(m));
    doc_set(c, DOC_OK, TDSC_OK, NULL);
    keep_or_free(conn);
    return;
  }
  const tdsc_error *e = tdsc_conn_error(conn);
  doc_fact_add(c, "result", "%s after %lld ms", tdsc_errc_name(rc), took);
  trail_facts(c, conn, NULL);
  /* the connection works all the same: a warning, or a skip for a
   * mechanism with nothing to try with */
  doc_set_error(c, tdsc__mech_passed_over(rc) ? DOC_SKIP : DOC_WARN, e);
  tdsc_conn_free(conn);
}

/* What the connect's trail says of mechanism m (its last attempt). */
static void from_trail(doc_ctx *d, doc_check *c, const tdsc_conn *conn,
                       const tdsc_attempt *last, tdsc__mech m) {
  trail_facts(c, conn, tdsc__mech_name(m));
  const tdsc_error *e = tdsc_attempt_error(last);
  if (!e) {
    add_working(d, tdsc__mech_name(m));
    doc_set(c, DOC_OK, TDSC_OK, NULL);
    return;
  }
  tdsc_errc rc = tdsc_error_code(e);
  doc_status st = d->verdict == TDSC_OK ? DOC_WARN : DOC_FAIL;
  if (tdsc__mech_passed_over(rc) && rc != d->verdict)
    st = DOC_SKIP; /* passed over, and not the cause the library names */
  doc_set_error(c, st, e);
}

void doc_logins(doc_ctx *d) {
  tdsc_conn *conn = connect_check(d);
  if (d->verdict == TDSC_OK)
    open_conn = conn; /* the clock check's; freed by doc_logins_end */
  for (size_t k = 0; k < sizeof mech_checks / sizeof mech_checks[0]; k++) {
    tdsc__mech m = mech_checks[k].mech;
    doc_check *c = &d->checks[mech_checks[k].check];
    if (m == TDSC__MECH_ENTRA)
      entra_claims(d, c);
    if (!doc_policy_has(d, m)) {
      doc_set(c, DOC_SKIP, TDSC_OK,
              "the policy (Authentication=) does not list %s: the library "
              "never tries it",
              tdsc__mech_name(m));
      continue;
    }
    if (!conn)
      continue;
    const tdsc_attempt *last = NULL;
    for (size_t i = 0; i < tdsc_conn_attempt_count(conn); i++) {
      const tdsc_attempt *a = tdsc_conn_attempt_at(conn, i);
      if (strcmp(tdsc_attempt_mechanism(a), tdsc__mech_name(m)) == 0)
        last = a;
    }
    if (last)
      from_trail(d, c, conn, last, m);
    else if (d->verdict == TDSC_OK)
      probe_alone(d, c, m);
    else
      doc_set(c, DOC_SKIP, TDSC_OK,
              "not tried: the library's chain stopped at %s before it, and "
              "the doctor keeps to the policy",
              tdsc_errc_name(d->verdict));
  }
  if (d->verdict != TDSC_OK)
    tdsc_conn_free(conn);
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
