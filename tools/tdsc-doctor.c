/* tdsc-doctor: walks the path a connect takes for one SQL Server target,
 * with the library's own code for each decision (target, transport order,
 * SPN, option table, policy, classification), checking each step as a
 * support engineer would (the transport, name resolution and SPN, KDC,
 * credentials, service ticket, clocks, TLS offer and certificate, the
 * library's connect, each mechanism of the policy) and prints a report, as
 * text or one JSON document.  This file holds main, the report model's
 * helpers and the two renderers; the checks live in tools/doctor/
 * (doctor.h).  Secrets (PWD=, KrbPassword=, every option the table marks
 * secret) are never printed.  Exit: 0 all ok, 1 the library's connect
 * logs in but some check warns, 2 the connect fails, 64 usage. */
#include "config.h"

#include "clock.h"
#include "doctor/doctor.h"

#include <tdsclient.h>

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_USAGE 64
#define DEFAULT_TIMEOUT_S 5

static const struct {
  const char *id, *title;
} check_names[DOC_NCHECKS] = {
    [DOC_TRANSPORT] = {"transport", "Transport (the library's plan)"},
    [DOC_NAMES] = {"names", "Name resolution and SPN"},
    [DOC_KDC] = {"kdc", "KDC reachability"},
    [DOC_CREDS] = {"credentials", "Client credentials"},
    [DOC_TICKET] = {"service-ticket", "Service ticket"},
    [DOC_CLOCK] = {"clock", "Clock offsets"},
    [DOC_TLS_OFFER] = {"tls-offer", "PRELOGIN encryption offer"},
    [DOC_TLS] = {"tls", "TLS handshake and certificate (TDS 7.x)"},
    [DOC_TLS_STRICT] = {"tls-strict", "TLS handshake (TDS 8.0 strict)"},
    [DOC_CONNECT] = {"connect", "The library's connect (the whole policy)"},
    [DOC_AUTH_KERBEROS] = {"auth-kerberos", "Login with Kerberos"},
    [DOC_AUTH_NTLM] = {"auth-ntlm", "Login with NTLM"},
    [DOC_AUTH_SQL] = {"auth-sql", "Login with SQL authentication"},
    [DOC_AUTH_ENTRA] = {"auth-entra", "Login with a Microsoft Entra ID token"},
    [DOC_AUTH_ENTRA_SP] = {"auth-entra-sp",
                           "Login with a service principal's Entra ID token"},
    [DOC_AUTH_ENTRA_MSI] = {"auth-entra-msi",
                            "Login with a managed identity's Entra ID token"},
    [DOC_AUTH_ENTRA_WORKLOAD] = {"auth-entra-workload",
                                 "Login with a workload identity's Entra ID "
                                 "token"},
};

static const char *status_name(doc_status s) {
  switch (s) {
  case DOC_OK: return "ok";
  case DOC_SKIP: return "skip";
  case DOC_WARN: return "warn";
  case DOC_FAIL: return "fail";
  }
  return "?";
}

long long doc_now_ms(void) { return tdsc__now_ms(); }

bool doc_policy_has(const doc_ctx *d, tdsc__mech m) {
  for (size_t i = 0; i < d->opts.nmechs; i++)
    if (d->opts.mechs[i] == m)
      return true;
  return false;
}

/* "tcp localhost,1433", "shm /run/tdsclient/MSSQLSERVER.shm" */
static void where(const doc_ctx *d, char *buf, size_t cap) {
  if (d->ep.kind == TDSC__EP_TCP)
    snprintf(buf, cap, "tcp %s,%u", d->ep.host, (unsigned)d->ep.port);
  else
    snprintf(buf, cap, "%s %s", tdsc__ep_name(d->ep.kind), d->ep.path);
}

/* ---------------------------------------------------------------- model */

static char *vprintf_dup(const char *fmt, va_list ap) {
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0)
    return NULL;
  return s;
}

void doc_fact_add(doc_check *c, const char *key, const char *fmt, ...) {
  doc_fact *f = realloc(c->facts, (c->nfacts + 1) * sizeof *f);
  if (!f)
    return;
  c->facts = f;
  va_list ap;
  va_start(ap, fmt);
  f[c->nfacts].value = vprintf_dup(fmt, ap);
  va_end(ap);
  f[c->nfacts].key = strdup(key);
  if (!f[c->nfacts].key || !f[c->nfacts].value) {
    free(f[c->nfacts].key);
    free(f[c->nfacts].value);
    return;
  }
  c->nfacts++;
}

void doc_set(doc_check *c, doc_status st, tdsc_errc code, const char *fmt,
             ...) {
  c->status = st;
  c->done = true;
  c->code = code;
  free(c->message);
  c->message = NULL;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    c->message = vprintf_dup(fmt, ap);
    va_end(ap);
  }
}

void doc_set_error(doc_check *c, doc_status st, const tdsc_error *e) {
  doc_set(c, st, tdsc_error_code(e), "%s", tdsc_error_message(e));
  free(c->provider);
  c->provider = NULL;
  tdsc_provider p = tdsc_error_provider(e);
  if (p == TDSC_PROVIDER_NONE)
    return;
  static const char *const pname[] = {"",        "errno",  "getaddrinfo",
                                      "OpenSSL", "GSSAPI", "SSPI",
                                      "server"};
  char buf[700];
  snprintf(buf, sizeof buf, "%s [%lld, %lld, %lld] %s",
           (size_t)p < sizeof pname / sizeof *pname ? pname[p] : "?",
           tdsc_error_provider_status(e, 0), tdsc_error_provider_status(e, 1),
           tdsc_error_provider_status(e, 2), tdsc_error_provider_text(e));
  c->provider = strdup(buf);
}

void doc_check_clear(doc_check *c) {
  for (size_t i = 0; i < c->nfacts; i++) {
    free(c->facts[i].key);
    free(c->facts[i].value);
  }
  free(c->facts);
  free(c->message);
  free(c->provider);
  memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- bounded */

bool doc_bounded(void (*fn)(void *arg, void *out), void *arg, void *out,
                 size_t outlen, int timeout_ms) {
  int fds[2];
  if (pipe(fds) != 0)
    return false;
  fflush(NULL); /* the child must not print what the parent buffered */
  pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return false;
  }
  if (pid == 0) {
    close(fds[0]);
    void *buf = calloc(1, outlen);
    if (buf) {
      memcpy(buf, out, outlen);
      fn(arg, buf);
      const char *p = buf;
      size_t left = outlen;
      while (left > 0) {
        ssize_t n = write(fds[1], p, left);
        if (n <= 0 && errno != EINTR)
          break;
        if (n > 0)
          p += n, left -= (size_t)n;
      }
      free(buf);
    }
    _exit(0);
  }
  close(fds[1]);
  char *dst = out;
  size_t got = 0;
  int64_t deadline = tdsc__deadline_in(timeout_ms);
  char *tmp = malloc(outlen);
  bool ok = tmp != NULL;
  while (ok && got < outlen) {
    struct pollfd pf = {.fd = fds[0], .events = POLLIN};
    int r = poll(&pf, 1, tdsc__ms_left(deadline));
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      ok = false;
      break;
    }
    ssize_t n = read(fds[0], tmp + got, outlen - got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    got += (size_t)n;
  }
  if (ok)
    memcpy(dst, tmp, outlen);
  free(tmp);
  close(fds[0]);
  if (!ok)
    kill(pid, SIGKILL);
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
    ;
  return ok;
}

/* ---------------------------------------------------------------- text */

static void render_text(const doc_ctx *d, const char *server, FILE *f) {
  char w[700];
  where(d, w, sizeof w);
  fprintf(f, "tdsc-doctor %s: %s (%s)\n\n", tdsc_version(), server, w);
  for (int i = 0; i < DOC_NCHECKS; i++) {
    const doc_check *c = &d->checks[i];
    static const char *const tag[] = {"[ ok ]", "[skip]", "[WARN]", "[FAIL]"};
    fprintf(f, "%s %s", tag[c->status], c->title);
    if (c->status == DOC_WARN || c->status == DOC_FAIL)
      fprintf(f, ": %s", tdsc_errc_name(c->code));
    fputc('\n', f);
    for (size_t j = 0; j < c->nfacts; j++)
      fprintf(f, "       %-24s %s\n", c->facts[j].key, c->facts[j].value);
    if (c->message)
      fprintf(f, "       %-24s %s\n",
              c->status == DOC_SKIP ? "skipped" : "problem", c->message);
    if (c->provider)
      fprintf(f, "       %-24s %s\n", "provider", c->provider);
    if (c->status == DOC_WARN || c->status == DOC_FAIL)
      fprintf(f, "       %-24s %s\n", "hint", tdsc_errc_hint(c->code));
    fputc('\n', f);
  }
}

/* ---------------------------------------------------------------- JSON */

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    switch (*p) {
    case '"': fputs("\\\"", f); break;
    case '\\': fputs("\\\\", f); break;
    case '\n': fputs("\\n", f); break;
    case '\r': fputs("\\r", f); break;
    case '\t': fputs("\\t", f); break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf(f, "\\u%04x", *p);
      else
        fputc(*p, f);
    }
  }
  fputc('"', f);
}

static void render_json(const doc_ctx *d, const char *server, int exit_code,
                        FILE *f) {
  fputs("{\n  \"tool\": \"tdsc-doctor\",\n  \"version\": ", f);
  json_str(f, tdsc_version());
  fputs(",\n  \"target\": {\"server\": ", f);
  json_str(f, server);
  fputs(", \"host\": ", f);
  json_str(f, d->ep.host);
  fputs(", \"transport\": ", f);
  json_str(f, tdsc__ep_name(d->ep.kind));
  fputs(", \"path\": ", f);
  json_str(f, d->ep.path);
  fprintf(f, ", \"port\": %u},\n  \"checks\": [\n", (unsigned)d->ep.port);
  for (int i = 0; i < DOC_NCHECKS; i++) {
    const doc_check *c = &d->checks[i];
    bool bad = c->status == DOC_WARN || c->status == DOC_FAIL;
    fputs("    {\"id\": ", f);
    json_str(f, c->id);
    fputs(", \"title\": ", f);
    json_str(f, c->title);
    fputs(", \"status\": ", f);
    json_str(f, status_name(c->status));
    fputs(",\n     \"code\": ", f);
    if (bad) {
      json_str(f, tdsc_errc_name(c->code));
      fputs(", \"category\": ", f);
      json_str(f, tdsc_category_name(tdsc_errc_category(c->code)));
      fputs(", \"hint\": ", f);
      json_str(f, tdsc_errc_hint(c->code));
    } else {
      fputs("null, \"category\": null, \"hint\": null", f);
    }
    fputs(",\n     \"message\": ", f);
    if (c->message)
      json_str(f, c->message);
    else
      fputs("null", f);
    fputs(", \"provider\": ", f);
    if (c->provider)
      json_str(f, c->provider);
    else
      fputs("null", f);
    fputs(",\n     \"facts\": {", f);
    for (size_t j = 0; j < c->nfacts; j++) {
      fputs(j ? ", " : "", f);
      json_str(f, c->facts[j].key);
      fputs(": ", f);
      json_str(f, c->facts[j].value);
    }
    fprintf(f, "}}%s\n", i + 1 < DOC_NCHECKS ? "," : "");
  }
  fputs("  ],\n  \"verdict\": {\"status\": ", f);
  json_str(f, exit_code == 0 ? "ok" : exit_code == 1 ? "warn" : "fail");
  /* the code the library's connect gives: the same as a program's */
  fputs(", \"code\": ", f);
  if (d->verdict != TDSC_OK)
    json_str(f, tdsc_errc_name(d->verdict));
  else
    fputs("null", f);
  fputs(", \"working_mechanisms\": [", f);
  const char *p = d->working;
  bool first = true;
  while (*p) {
    size_t n = strcspn(p, ",");
    char m[32];
    snprintf(m, sizeof m, "%.*s", (int)n, p);
    fputs(first ? "" : ", ", f);
    json_str(f, m);
    first = false;
    p += n;
    while (*p == ',' || *p == ' ')
      p++;
  }
  fprintf(f, "]},\n  \"exit\": %d\n}\n", exit_code);
}

/* ---------------------------------------------------------------- main */

static void usage(FILE *f) {
  fputs("usage: tdsc-doctor [-c CONNSTR | -S TARGET] [options]\n"
        "Diagnoses a connection to one SQL Server along the path the library "
        "takes:\nthe transport its plan reaches, name resolution and the SPN "
        "it asks for, KDC,\ncredentials, service ticket, clocks, TLS offer "
        "and certificate, the library's\nown connect, and each mechanism of "
        "the Authentication= policy.\n\n"
        "  -c, --connect STRING   connection string (tdsclient(3))\n"
        "  -S, --server TARGET    Server=, e.g. tcp:db.example.com,1433\n"
        "  -U, --user NAME        UID= (SQL login, also tried)\n"
        "  -P, --password PWD     PWD= (better: TDSC_PASSWORD in the "
        "environment)\n"
        "  -t, --timeout SEC      bound of each network step (default 5)\n"
        "      --json             one JSON document instead of text\n"
        "  -h, --help             this help\n\n"
        "Exit status: 0 all ok, 1 the library's connect logs in but some check "
        "warns,\n2 the connect fails, 64 usage.\n",
        f);
}

static void add_kv(char **cs, const char *k, const char *v) {
  char *n = NULL;
  if (asprintf(&n, "%s%s={%s};", *cs ? *cs : "", k, v) < 0)
    return;
  free(*cs);
  *cs = n;
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"connect", required_argument, NULL, 'c'},
      {"server", required_argument, NULL, 'S'},
      {"user", required_argument, NULL, 'U'},
      {"password", required_argument, NULL, 'P'},
      {"timeout", required_argument, NULL, 't'},
      {"json", no_argument, NULL, 'J'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0}};
  char *cs = NULL, *flags = NULL;
  const char *password = NULL;
  bool json = false;
  long timeout_s = DEFAULT_TIMEOUT_S;
  int opt;
  while ((opt = getopt_long(argc, argv, "c:S:U:P:t:h", longopts, NULL)) != -1) {
    switch (opt) {
    case 'c': {
      char *n = NULL;
      size_t l = strlen(optarg);
      if (asprintf(&n, "%s%s%s", cs ? cs : "", optarg,
                   l && optarg[l - 1] != ';' ? ";" : "") >= 0) {
        free(cs);
        cs = n;
      }
      break;
    }
    case 'S': add_kv(&flags, "Server", optarg); break;
    case 'U': add_kv(&flags, "UID", optarg); break;
    case 'P': password = optarg; break;
    case 't': {
      char *end;
      timeout_s = strtol(optarg, &end, 10);
      if (*end || timeout_s < 1 || timeout_s > 600) {
        fprintf(stderr, "tdsc-doctor: -t wants seconds, 1..600\n");
        free(cs);
        free(flags);
        return EXIT_USAGE;
      }
      break;
    }
    case 'J': json = true; break;
    case 'h':
    default:
      usage(opt == 'h' ? stdout : stderr);
      free(cs);
      free(flags);
      return opt == 'h' ? 0 : EXIT_USAGE;
    }
  }
  if (optind < argc) {
    usage(stderr);
    free(cs);
    free(flags);
    return EXIT_USAGE;
  }
  /* TDSC_PASSWORD: the library reads it itself, as every TDSC_ variable */
  if (password)
    add_kv(&flags, "PWD", password);
  char *all = NULL;
  if (asprintf(&all, "%s%s", cs ? cs : "", flags ? flags : "") < 0)
    all = NULL;
  free(cs);
  free(flags);

  doc_ctx *d = calloc(1, sizeof *d);
  tdsc_error err = {0};
  int rc = EXIT_USAGE;
  if (!d || !all) {
    fprintf(stderr, "tdsc-doctor: out of memory\n");
    goto out;
  }
  if (tdsc__options_parse(&d->opts, all, &err) != TDSC_OK) {
    fprintf(stderr, "tdsc-doctor: %s: %s\n", tdsc_errc_name(err.code),
            err.message ? err.message : "");
    goto out;
  }
  const char *server = tdsc__opt(&d->opts, TDSC__OPT_SERVER);
  if (!server) {
    fprintf(stderr, "tdsc-doctor: no target: give -S TARGET or Server= in "
                    "-c (or TDSC_SERVER)\n");
    usage(stderr);
    goto out;
  }
  if (tdsc__target_parse(server, &d->target, &err) != TDSC_OK) {
    fprintf(stderr, "tdsc-doctor: %s: %s\n", tdsc_errc_name(err.code),
            err.message ? err.message : "");
    goto out;
  }
  if (tdsc__endpoints_plan(&d->opts, &d->target, d->plan, &d->nplan, &err) !=
      TDSC_OK) {
    fprintf(stderr, "tdsc-doctor: %s: %s\n", tdsc_errc_name(err.code),
            err.message ? err.message : "");
    goto out;
  }
  d->ep = d->plan[0];
  d->connstr = all;
  d->timeout_ms = (int)timeout_s * 1000;
  for (int i = 0; i < DOC_NCHECKS; i++) {
    d->checks[i].id = check_names[i].id;
    d->checks[i].title = check_names[i].title;
    d->checks[i].status = DOC_SKIP;
  }

  /* Order of work, not of the report: the SPN needs the endpoint, the
   * server's clock a login. */
  doc_transport(d);
  doc_names(d);
  doc_kerberos(d);
  doc_tls(d);
  doc_logins(d);
  doc_clock(d);
  doc_logins_end(d);

  /* The library's connect is the verdict: while it logs in, a check that
   * failed (the KDC away with a service ticket still cached, Kerberos
   * broken and NTLM next in the list) is a warning, never a failure. */
  if (d->verdict == TDSC_OK)
    for (int i = 0; i < DOC_NCHECKS; i++)
      if (d->checks[i].status == DOC_FAIL) {
        d->checks[i].status = DOC_WARN;
        doc_fact_add(&d->checks[i], "note",
                     "the library's connect logs in all the same: a warning");
      }

  rc = 0;
  for (int i = 0; i < DOC_NCHECKS; i++) {
    if (d->checks[i].status == DOC_FAIL)
      rc = 2;
    else if (d->checks[i].status == DOC_WARN && rc < 1)
      rc = 1;
  }
  if (json) {
    render_json(d, server, rc, stdout);
  } else {
    render_text(d, server, stdout);
    printf("verdict: %s; mechanisms that work: %s\n",
           rc == 0 ? "all checks passed" : rc == 1 ? "warnings" : "failures",
           d->working[0] ? d->working : "none");
    if (d->verdict != TDSC_OK)
      printf("the library's connect fails with: %s\n",
             tdsc_errc_name(d->verdict));
  }

out:
  if (d) {
    for (int i = 0; i < DOC_NCHECKS; i++)
      doc_check_clear(&d->checks[i]);
    tdsc__options_clear(&d->opts);
  }
  free(d);
  tdsc__err_clear(&err);
  if (all) { /* it may hold PWD= */
    memset(all, 0, strlen(all));
    free(all);
  }
  return rc;
}
