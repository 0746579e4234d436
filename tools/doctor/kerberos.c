/* Checks 2-4 and the KDC half of 5, with MIT krb5 directly: the client's
 * credentials (ccache, client keytab or principal and password), the KDCs
 * the configuration names for the realm and whether they answer (a TCP
 * connect to each, then a real AS exchange for a probe principal), a
 * service ticket for each SPN candidate (a TGS exchange from a private
 * MEMORY ccache, so nothing cached answers for the KDC) and the KDC's clock
 * as that fresh ticket's start time shows it.  Only when the connection
 * string's policy lists kerberos.  Every failure's code is the library's
 * classification of the krb5 status (tdsc__krb_classify), a finding
 * without one (no TGT in the cache, an expired TGT) through the status
 * krb5 itself gives for it.  Every exchange with a KDC runs in a child
 * process bounded by the doctor's timeout. */
#include "config.h"

#include "auth/krb5_diag.h"
#include "doctor/doctor.h"

#include <krb5.h>
#include <profile.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define EXPIRING_SOON_S 600 /* a TGT with less left than this: warn */
#define PROBE_NAME "tdsc-doctor-probe"

typedef enum cl_mode { CL_CCACHE, CL_KEYTAB, CL_PASSWORD } cl_mode;

/* The client side, as the credentials check found it. */
typedef struct cl_info {
  cl_mode mode;
  char ccname[512];
  char keytab[512];
  char principal[512]; /* "" when unknown */
  char realm[256];
  bool present; /* a principal to ask tickets for */
} cl_info;

static void time_text(long long t, char *out, size_t cap) {
  time_t tt = (time_t)t;
  struct tm tm;
  if (t <= 0 || !gmtime_r(&tt, &tm)) {
    snprintf(out, cap, "-");
    return;
  }
  strftime(out, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void span_text(long long s, char *out, size_t cap) {
  long long a = s < 0 ? -s : s;
  if (a >= 3600)
    snprintf(out, cap, "%lldh%02lldm", a / 3600, a % 3600 / 60);
  else if (a >= 60)
    snprintf(out, cap, "%lldm%02llds", a / 60, a % 60);
  else
    snprintf(out, cap, "%llds", a);
}

static void krb_text(krb5_context k, krb5_error_code code, char *out,
                     size_t cap) {
  const char *m = krb5_get_error_message(k, code);
  snprintf(out, cap, "%s", m ? m : "unknown krb5 error");
  krb5_free_error_message(k, m);
}

/* Fails c with a krb5 status: msg is the whole message. */
static void set_krb_fail(doc_check *c, doc_status st, tdsc_errc code,
                         long code5, const char *text, const char *msg) {
  doc_set(c, st, code, "%s", msg);
  free(c->provider);
  c->provider = NULL;
  char p[400];
  snprintf(p, sizeof p, "krb5 error %ld: %s", code5, text);
  c->provider = strdup(p);
}

/* ---------------------------------------------------------------- creds */

static void creds_ccache(doc_ctx *d, krb5_context k, cl_info *cl) {
  doc_check *c = &d->checks[DOC_CREDS];
  const char *given = tdsc__opt(&d->opts, TDSC__OPT_KRB_CCACHE);
  cl->mode = CL_CCACHE;
  snprintf(cl->ccname, sizeof cl->ccname, "%s",
           given ? given : krb5_cc_default_name(k));
  doc_fact_add(c, "ccache", "%s (%s)", cl->ccname,
               given               ? "KrbCCache="
               : getenv("KRB5CCNAME") ? "KRB5CCNAME"
                                      : "the default");
  krb5_ccache cc = NULL;
  krb5_principal p = NULL;
  char *pname = NULL;
  char text[300];
  krb5_error_code e = krb5_cc_resolve(k, cl->ccname, &cc);
  if (!e)
    e = krb5_cc_get_principal(k, cc, &p);
  if (e) {
    char msg[1024];
    krb_text(k, e, text, sizeof text);
    snprintf(msg, sizeof msg, "no Kerberos credentials in the cache %s (%s)",
             cl->ccname, text);
    set_krb_fail(c, DOC_FAIL, tdsc__krb_classify(0, e, TDSC__KRB_ACQUIRE), e,
                 text, msg);
    goto done;
  }
  if (krb5_unparse_name(k, p, &pname) == 0) {
    snprintf(cl->principal, sizeof cl->principal, "%s", pname);
    doc_fact_add(c, "principal", "%s", pname);
  }
  snprintf(cl->realm, sizeof cl->realm, "%.*s", (int)p->realm.length,
           p->realm.data);
  cl->present = true;

  /* the TGT of the principal's realm, and how many tickets are cached */
  krb5_cc_cursor cur;
  krb5_creds cr;
  bool tgt = false;
  long long start = 0, end = 0, renew = 0;
  size_t nserv = 0;
  if (krb5_cc_start_seq_get(k, cc, &cur) == 0) {
    while (krb5_cc_next_cred(k, cc, &cur, &cr) == 0) {
      const krb5_data *c0 = cr.server->length > 0 ? &cr.server->data[0] : NULL;
      bool is_tgt = c0 && c0->length == 6 && memcmp(c0->data, "krbtgt", 6) == 0 &&
                    cr.server->length == 2 &&
                    cr.server->data[1].length == p->realm.length &&
                    memcmp(cr.server->data[1].data, p->realm.data,
                           p->realm.length) == 0;
      if (is_tgt && !tgt) {
        tgt = true;
        start = cr.times.starttime ? cr.times.starttime : cr.times.authtime;
        end = cr.times.endtime;
        renew = cr.times.renew_till;
      } else if (!krb5_is_config_principal(k, cr.server)) {
        nserv++;
      }
      krb5_free_cred_contents(k, &cr);
    }
    krb5_cc_end_seq_get(k, cc, &cur);
  }
  doc_fact_add(c, "service tickets cached", "%zu", nserv);
  if (!tgt) { /* what krb5_cc_retrieve_cred says of it */
    doc_set(c, DOC_FAIL,
            tdsc__krb_classify(0, KRB5_CC_NOTFOUND, TDSC__KRB_ACQUIRE),
            "the cache %s holds no ticket-granting ticket (krbtgt/%s@%s) "
            "for %s",
            cl->ccname, cl->realm, cl->realm, cl->principal);
    goto done;
  }
  long long now = time(NULL);
  char ts[64], span[32];
  time_text(start, ts, sizeof ts);
  doc_fact_add(c, "tgt valid from", "%s", ts);
  time_text(end, ts, sizeof ts);
  span_text(end - now, span, sizeof span);
  doc_fact_add(c, "tgt expires", "%s (%s %s)", ts,
               end > now ? "in" : "expired", end > now ? span : "");
  if (renew)
    time_text(renew, ts, sizeof ts), doc_fact_add(c, "renewable until", "%s", ts);
  /* the statuses the KDC gives for such a TGT */
  tdsc_errc expired = tdsc__krb_classify(0, KRB5KRB_AP_ERR_TKT_EXPIRED,
                                         TDSC__KRB_INIT);
  if (now >= end) {
    doc_set(c, DOC_FAIL, expired,
            "the ticket-granting ticket of %s in %s expired at %s, %s ago",
            cl->principal, cl->ccname, ts, span);
  } else if (now < start) {
    char st[64];
    time_text(start, st, sizeof st);
    doc_set(c, DOC_FAIL,
            tdsc__krb_classify(0, KRB5KRB_AP_ERR_TKT_NYV, TDSC__KRB_INIT),
            "the ticket-granting ticket of %s in %s is not valid before %s "
            "(postdated, or this machine's clock is behind)",
            cl->principal, cl->ccname, st);
  } else if (end - now < EXPIRING_SOON_S) {
    doc_set(c, DOC_WARN, expired,
            "the ticket-granting ticket of %s expires in %s (at %s)",
            cl->principal, span, ts);
  } else {
    doc_set(c, DOC_OK, TDSC_OK, NULL);
  }
done:
  krb5_free_unparsed_name(k, pname);
  krb5_free_principal(k, p);
  if (cc)
    krb5_cc_close(k, cc);
}

static void creds_keytab(doc_ctx *d, krb5_context k, cl_info *cl) {
  doc_check *c = &d->checks[DOC_CREDS];
  const char *want = tdsc__opt(&d->opts, TDSC__OPT_KRB_PRINCIPAL);
  cl->mode = CL_KEYTAB;
  snprintf(cl->keytab, sizeof cl->keytab, "%s",
           tdsc__opt(&d->opts, TDSC__OPT_KRB_KEYTAB));
  doc_fact_add(c, "keytab", "%s (KrbKeytab=)", cl->keytab);
  krb5_keytab kt = NULL;
  krb5_kt_cursor cur;
  krb5_keytab_entry ent;
  char text[300], entries[2048] = "";
  size_t n = 0;
  bool has_want = false;
  krb5_error_code e = krb5_kt_resolve(k, cl->keytab, &kt);
  if (!e)
    e = krb5_kt_start_seq_get(k, kt, &cur);
  if (e) {
    char msg[1024];
    krb_text(k, e, text, sizeof text);
    snprintf(msg, sizeof msg, "cannot read the client keytab %s (%s)",
             cl->keytab, text);
    set_krb_fail(c, DOC_FAIL, tdsc__krb_classify(0, e, TDSC__KRB_ACQUIRE), e,
                 text, msg);
    goto done;
  }
  while (krb5_kt_next_entry(k, kt, &ent, &cur) == 0) {
    char *name = NULL, et[64] = "?";
    krb5_enctype_to_name(ent.key.enctype, TRUE, et, sizeof et);
    if (krb5_unparse_name(k, ent.principal, &name) == 0) {
      if (!cl->principal[0] || (want && strcmp(name, want) == 0)) {
        snprintf(cl->principal, sizeof cl->principal, "%s", name);
        snprintf(cl->realm, sizeof cl->realm, "%.*s",
                 (int)ent.principal->realm.length, ent.principal->realm.data);
      }
      has_want = has_want || (want && strcmp(name, want) == 0);
      snprintf(entries + strlen(entries), sizeof entries - strlen(entries),
               "%s%s kvno %u %s", n ? ", " : "", name, (unsigned)ent.vno, et);
      krb5_free_unparsed_name(k, name);
    }
    n++;
    krb5_free_keytab_entry_contents(k, &ent);
  }
  krb5_kt_end_seq_get(k, kt, &cur);
  doc_fact_add(c, "entries", "%s", n ? entries : "(none)");
  /* what krb5_get_init_creds_keytab says of a keytab without the key */
  tdsc_errc nokey = tdsc__krb_classify(0, KRB5_KT_NOTFOUND, TDSC__KRB_ACQUIRE);
  if (n == 0) {
    doc_set(c, DOC_FAIL, nokey,
            "the client keytab %s holds no keys", cl->keytab);
    goto done;
  }
  if (want && !has_want) {
    doc_set(c, DOC_FAIL, nokey,
            "the client keytab %s holds no key for KrbPrincipal=%s",
            cl->keytab, want);
    goto done;
  }
  doc_fact_add(c, "principal", "%s", cl->principal);
  cl->present = true;
  doc_set(c, DOC_OK, TDSC_OK, NULL);
done:
  if (kt)
    krb5_kt_close(k, kt);
}

static void creds_check(doc_ctx *d, krb5_context k, cl_info *cl) {
  doc_check *c = &d->checks[DOC_CREDS];
  const char *princ = tdsc__opt(&d->opts, TDSC__OPT_KRB_PRINCIPAL);
  if (tdsc__opt(&d->opts, TDSC__OPT_KRB_KEYTAB)) {
    creds_keytab(d, k, cl);
  } else if (princ && tdsc__opt(&d->opts, TDSC__OPT_KRB_PASSWORD)) {
    cl->mode = CL_PASSWORD;
    snprintf(cl->principal, sizeof cl->principal, "%s", princ);
    const char *at = strrchr(princ, '@');
    if (at)
      snprintf(cl->realm, sizeof cl->realm, "%s", at + 1);
    cl->present = true;
    doc_fact_add(c, "principal", "%s (KrbPrincipal=)", princ);
    doc_fact_add(c, "password", "given with KrbPassword= (not shown)");
    doc_set(c, DOC_OK, TDSC_OK, NULL);
  } else {
    creds_ccache(d, k, cl);
  }
  if (!cl->realm[0]) {
    char *r = NULL;
    if (krb5_get_default_realm(k, &r) == 0) {
      snprintf(cl->realm, sizeof cl->realm, "%s", r);
      krb5_free_default_realm(k, r);
    }
  }
}

/* ---------------------------------------------------------------- KDC */

/* TCP connect within timeout_ms: 0, or an errno (ETIMEDOUT). */
static int tcp_probe(const char *host, const char *port, int timeout_ms) {
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
    return EHOSTUNREACH;
  int err = ECONNREFUSED;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK, 0);
    if (fd < 0)
      continue;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      err = 0;
    } else if (errno == EINPROGRESS) {
      struct pollfd pf = {.fd = fd, .events = POLLOUT};
      int r = poll(&pf, 1, timeout_ms);
      socklen_t l = sizeof err;
      if (r <= 0)
        err = ETIMEDOUT;
      else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
        err = errno;
    } else {
      err = errno;
    }
    close(fd);
    if (err == 0)
      break;
  }
  freeaddrinfo(res);
  return err;
}

/* "tcp/[::1]:88" -> host "::1", port "88". */
static void split_kdc(const char *spec, char *host, size_t hcap, char *port,
                      size_t pcap) {
  if (strncmp(spec, "tcp/", 4) == 0 || strncmp(spec, "udp/", 4) == 0)
    spec += 4;
  snprintf(port, pcap, "88");
  if (spec[0] == '[') {
    const char *e = strchr(spec, ']');
    size_t n = e ? (size_t)(e - spec - 1) : strlen(spec + 1);
    snprintf(host, hcap, "%.*s", (int)n, spec + 1);
    if (e && e[1] == ':')
      snprintf(port, pcap, "%s", e + 2);
    return;
  }
  const char *colon = strchr(spec, ':');
  if (colon && !strchr(colon + 1, ':')) {
    snprintf(host, hcap, "%.*s", (int)(colon - spec), spec);
    snprintf(port, pcap, "%s", colon + 1);
  } else {
    snprintf(host, hcap, "%s", spec);
  }
}

typedef struct krb_try {
  int32_t code;
  int ms;
  char text[300];
} krb_try;

typedef struct probe_in {
  const char *realm;
} probe_in;

/* Child: an AS request for a principal that does not exist. A KDC that
 * answers says KDC_ERR_C_PRINCIPAL_UNKNOWN; nothing secret is sent. */
static void as_probe(void *arg, void *outp) {
  const probe_in *in = arg;
  krb_try *out = outp;
  krb5_context k;
  if (krb5_init_context(&k) != 0) {
    out->code = -1;
    snprintf(out->text, sizeof out->text, "krb5_init_context failed");
    return;
  }
  krb5_principal p = NULL;
  krb5_creds cr;
  memset(&cr, 0, sizeof cr);
  char name[400];
  snprintf(name, sizeof name, "%s@%s", PROBE_NAME, in->realm);
  long long t0 = doc_now_ms();
  krb5_error_code e = krb5_parse_name(k, name, &p);
  if (!e)
    e = krb5_get_init_creds_password(k, &cr, p, "-", NULL, NULL, 0, NULL,
                                     NULL);
  out->ms = (int)(doc_now_ms() - t0);
  out->code = e;
  krb_text(k, e, out->text, sizeof out->text);
  if (!e)
    krb5_free_cred_contents(k, &cr);
  krb5_free_principal(k, p);
  krb5_free_context(k);
}

static bool kdc_answered(int32_t code) {
  switch ((long)code) {
  case KRB5_KDC_UNREACH:
  case KRB5_REALM_CANT_RESOLVE:
  case KRB5_REALM_UNKNOWN:
  case KRB5_CONFIG_NODEFREALM:
  case -1:
    return false;
  default:
    return true;
  }
}

static void kdc_check(doc_ctx *d, krb5_context k, const cl_info *cl) {
  doc_check *c = &d->checks[DOC_KDC];
  if (!cl->realm[0]) {
    doc_set(c, DOC_FAIL,
            tdsc__krb_classify(0, KRB5_CONFIG_NODEFREALM, TDSC__KRB_ACQUIRE),
            "no realm: the Kerberos configuration (%s) names no "
            "default_realm and no principal gives one",
            getenv("KRB5_CONFIG") ? getenv("KRB5_CONFIG") : "/etc/krb5.conf");
    return;
  }
  doc_fact_add(c, "realm", "%s", cl->realm);
  doc_fact_add(c, "config", "%s",
               getenv("KRB5_CONFIG") ? getenv("KRB5_CONFIG") : "/etc/krb5.conf");
  profile_t prof = NULL;
  char **kdcs = NULL;
  const char *names[] = {"realms", cl->realm, "kdc", NULL};
  size_t nlisted = 0, nanswer = 0;
  char refused[600] = "";
  if (krb5_get_profile(k, &prof) == 0 &&
      profile_get_values(prof, names, &kdcs) == 0) {
    for (size_t i = 0; kdcs[i]; i++) {
      char host[256], port[32], key[32];
      split_kdc(kdcs[i], host, sizeof host, port, sizeof port);
      long long t0 = doc_now_ms();
      int err = tcp_probe(host, port, d->timeout_ms < 3000 ? d->timeout_ms : 3000);
      snprintf(key, sizeof key, "kdc %zu", i + 1);
      if (err == 0) {
        doc_fact_add(c, key, "%s: accepts TCP on port %s (%lld ms)", kdcs[i],
                     port, doc_now_ms() - t0);
        nanswer++;
      } else {
        doc_fact_add(c, key, "%s: TCP port %s: %s", kdcs[i], port,
                     strerror(err));
        snprintf(refused + strlen(refused), sizeof refused - strlen(refused),
                 "%s%s (%s)", *refused ? ", " : "", kdcs[i], strerror(err));
      }
      nlisted++;
    }
    profile_free_list(kdcs);
  }
  if (prof)
    profile_release(prof);
  if (nlisted == 0)
    doc_fact_add(c, "kdcs", "none listed in [realms] %s; krb5 looks for DNS "
                 "SRV records (_kerberos._tcp.%s)", cl->realm, cl->realm);

  probe_in in = {cl->realm};
  krb_try out = {.code = -1};
  if (!doc_bounded(as_probe, &in, &out, sizeof out, d->timeout_ms)) {
    doc_fact_add(c, "as exchange", "no answer within %d ms", d->timeout_ms);
    /* what krb5 says when it gives up on a silent KDC */
    doc_set(c, DOC_FAIL,
            tdsc__krb_classify(0, KRB5_KDC_UNREACH, TDSC__KRB_ACQUIRE),
            "no KDC of %s answered an AS request within %d ms%s", cl->realm,
            d->timeout_ms, nanswer ? " (a KDC accepts TCP connections but "
                                     "does not answer)" : "");
    return;
  }
  doc_fact_add(c, "as exchange", "%s (%d ms; %s is a probe principal)",
               out.text, out.ms, PROBE_NAME);
  if (!kdc_answered(out.code)) {
    tdsc_errc code = tdsc__krb_classify(0, out.code, TDSC__KRB_ACQUIRE);
    char msg[1400];
    snprintf(msg, sizeof msg, "no KDC of %s answered an AS request (%s)%s%s",
             cl->realm, out.text, *refused ? "; KDCs tried: " : "", refused);
    set_krb_fail(c, DOC_FAIL, code, out.code, out.text, msg);
    return;
  }
  d->kdc_answers = true;
  if (nlisted && nanswer < nlisted)
    doc_set(c, DOC_WARN,
            tdsc__krb_classify(0, KRB5_KDC_UNREACH, TDSC__KRB_ACQUIRE),
            "the realm %s answers, but not every KDC it lists: %s", cl->realm,
            refused);
  else
    doc_set(c, DOC_OK, TDSC_OK, NULL);
}

/* ---------------------------------------------------------------- ticket */

typedef struct ticket_in {
  const cl_info *cl;
  const char *password;
  const char (*cands)[DOC_SPN_LEN];
  size_t ncands;
} ticket_in;

typedef struct ticket_out {
  bool acquired;
  krb_try acquire;
  krb_try spn[DOC_MAX_CANDS];
  long long start[DOC_MAX_CANDS], end[DOC_MAX_CANDS], local[DOC_MAX_CANDS];
  char enctype[DOC_MAX_CANDS][48];
} ticket_out;

/* Child: the client's TGT into a private MEMORY cache (from the ccache,
 * the keytab or the password), then a fresh TGS exchange per SPN. */
static void tgs_try(void *arg, void *outp) {
  const ticket_in *in = arg;
  ticket_out *out = outp;
  krb5_context k;
  if (krb5_init_context(&k) != 0) {
    out->acquire.code = -1;
    snprintf(out->acquire.text, sizeof out->acquire.text,
             "krb5_init_context failed");
    return;
  }
  krb5_principal client = NULL, tgs = NULL;
  krb5_ccache mem = NULL, src = NULL;
  krb5_keytab kt = NULL;
  krb5_creds cr, got;
  memset(&cr, 0, sizeof cr);
  memset(&got, 0, sizeof got);
  long long t0 = doc_now_ms();
  krb5_error_code e = krb5_cc_new_unique(k, "MEMORY", NULL, &mem);
  if (e)
    goto acquired;
  if (in->cl->mode == CL_CCACHE) {
    e = krb5_cc_resolve(k, in->cl->ccname, &src);
    if (!e)
      e = krb5_cc_get_principal(k, src, &client);
    if (!e)
      e = krb5_build_principal(k, &tgs, (unsigned)client->realm.length,
                               client->realm.data, "krbtgt",
                               in->cl->realm, NULL);
    if (!e) {
      krb5_creds m;
      memset(&m, 0, sizeof m);
      m.client = client;
      m.server = tgs;
      e = krb5_cc_retrieve_cred(k, src, 0, &m, &cr);
    }
  } else {
    e = krb5_parse_name(k, in->cl->principal, &client);
    if (!e && in->cl->mode == CL_KEYTAB) {
      e = krb5_kt_resolve(k, in->cl->keytab, &kt);
      if (!e)
        e = krb5_get_init_creds_keytab(k, &cr, client, kt, 0, NULL, NULL);
    } else if (!e) {
      e = krb5_get_init_creds_password(k, &cr, client, in->password, NULL,
                                       NULL, 0, NULL, NULL);
    }
  }
  if (!e)
    e = krb5_cc_initialize(k, mem, client);
  if (!e)
    e = krb5_cc_store_cred(k, mem, &cr);
acquired:
  out->acquire.ms = (int)(doc_now_ms() - t0);
  out->acquire.code = e;
  krb_text(k, e, out->acquire.text, sizeof out->acquire.text);
  out->acquired = e == 0;
  for (size_t i = 0; out->acquired && i < in->ncands; i++) {
    krb5_principal sp = NULL;
    krb5_creds m, *res = NULL;
    memset(&m, 0, sizeof m);
    t0 = doc_now_ms();
    e = krb5_parse_name(k, in->cands[i], &sp);
    if (!e) {
      m.client = client;
      m.server = sp;
      e = krb5_get_credentials(k, 0, mem, &m, &res);
    }
    out->local[i] = time(NULL);
    out->spn[i].ms = (int)(doc_now_ms() - t0);
    out->spn[i].code = e;
    krb_text(k, e, out->spn[i].text, sizeof out->spn[i].text);
    if (!e && res) {
      out->start[i] = res->times.starttime ? res->times.starttime
                                           : res->times.authtime;
      out->end[i] = res->times.endtime;
      krb5_enctype_to_name(res->keyblock.enctype, TRUE, out->enctype[i],
                           sizeof out->enctype[i]);
    }
    krb5_free_creds(k, res);
    krb5_free_principal(k, sp);
  }
  krb5_free_cred_contents(k, &cr);
  krb5_free_principal(k, client);
  krb5_free_principal(k, tgs);
  if (kt)
    krb5_kt_close(k, kt);
  if (src)
    krb5_cc_close(k, src);
  if (mem)
    krb5_cc_destroy(k, mem);
  krb5_free_context(k);
}

static void ticket_check(doc_ctx *d, const cl_info *cl) {
  doc_check *c = &d->checks[DOC_TICKET];
  doc_fact_add(c, "spn", "%s", d->spn);
  if (!cl->present) {
    doc_set(c, DOC_SKIP, TDSC_OK,
            "no client credentials to ask for a ticket with (see the "
            "credentials check)");
    return;
  }
  ticket_in in = {cl, tdsc__opt(&d->opts, TDSC__OPT_KRB_PASSWORD),
                  (const char (*)[DOC_SPN_LEN])d->cands, d->ncands};
  ticket_out *out = calloc(1, sizeof *out);
  if (!out) {
    doc_set(c, DOC_FAIL, TDSC_E_NO_MEMORY, "out of memory");
    return;
  }
  size_t chosen = 0;
  for (size_t i = 0; i < d->ncands; i++)
    if (strcmp(d->cands[i], d->spn) == 0)
      chosen = i;
  if (!doc_bounded(tgs_try, &in, out, sizeof *out, d->timeout_ms)) {
    doc_set(c, DOC_FAIL,
            tdsc__krb_classify(0, KRB5_KDC_UNREACH, TDSC__KRB_INIT),
            "no KDC of %s answered within %d ms: no ticket for %s",
            cl->realm, d->timeout_ms, d->spn);
    free(out);
    return;
  }
  if (!out->acquired) {
    tdsc_errc code =
        tdsc__krb_classify(0, out->acquire.code, TDSC__KRB_ACQUIRE);
    doc_fact_add(c, "client credentials", "%s", out->acquire.text);
    char msg[2000];
    snprintf(msg, sizeof msg, "cannot get the credentials of %s to ask for "
             "%s with: %s", cl->principal, d->spn, out->acquire.text);
    set_krb_fail(c, DOC_FAIL, code, out->acquire.code, out->acquire.text,
                 msg);
    free(out);
    return;
  }
  char ok_other[DOC_SPN_LEN] = "";
  for (size_t i = 0; i < d->ncands; i++) {
    char key[48], ts[64];
    snprintf(key, sizeof key, "ticket %zu", i + 1);
    if (out->spn[i].code == 0) {
      time_text(out->end[i], ts, sizeof ts);
      doc_fact_add(c, key, "%s: issued (%s, valid until %s, %d ms)%s",
                   d->cands[i], out->enctype[i], ts, out->spn[i].ms,
                   i == chosen ? " [used]" : "");
      if (i != chosen && !ok_other[0])
        snprintf(ok_other, sizeof ok_other, "%s", d->cands[i]);
    } else {
      doc_fact_add(c, key, "%s: %s%s", d->cands[i], out->spn[i].text,
                   i == chosen ? " [used]" : "");
    }
  }
  const krb_try *t = &out->spn[chosen];
  if (t->code == 0) {
    d->have_kdc_offset = true;
    d->kdc_offset_s = out->start[chosen] - out->local[chosen];
    doc_set(c, DOC_OK, TDSC_OK, NULL);
  } else {
    tdsc_errc code = tdsc__krb_classify(0, t->code, TDSC__KRB_INIT);
    char msg[2000];
    snprintf(msg, sizeof msg, "no service ticket for %s (asked as %s): %s",
             d->spn, cl->principal, t->text);
    set_krb_fail(c, DOC_FAIL, code, t->code, t->text, msg);
    if (ok_other[0])
      doc_fact_add(c, "alternative",
                   "a ticket exists for %s: connect by that name or set "
                   "ServerSPN=%s",
                   ok_other, ok_other);
  }
  free(out);
}

void doc_kerberos(doc_ctx *d) {
  if (!doc_policy_has(d, TDSC__MECH_KERBEROS)) {
    for (int i = DOC_KDC; i <= DOC_TICKET; i++)
      doc_set(&d->checks[i], DOC_SKIP, TDSC_OK,
              "the policy (Authentication=) does not list kerberos");
    return;
  }
  krb5_context k;
  krb5_error_code e = krb5_init_context(&k);
  if (e) {
    const char *cfg = getenv("KRB5_CONFIG");
    for (int i = DOC_KDC; i <= DOC_TICKET; i++)
      doc_set(&d->checks[i], DOC_FAIL,
              tdsc__krb_classify(0, e, TDSC__KRB_ACQUIRE),
              "cannot read the Kerberos configuration %s%s (krb5 error %ld)",
              cfg ? cfg : "/etc/krb5.conf",
              cfg ? " (KRB5_CONFIG)" : " (the default)", (long)e);
    return;
  }
  cl_info cl;
  memset(&cl, 0, sizeof cl);
  creds_check(d, k, &cl);
  kdc_check(d, k, &cl);
  ticket_check(d, &cl);
  krb5_free_context(k);
}
