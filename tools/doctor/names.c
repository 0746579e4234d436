/* Name resolution and SPN: forward DNS of the endpoint's host (every
 * address, the canonical name), reverse DNS of each address, and the SPN
 * a connect through that endpoint asks for (tdsc__endpoint_spn: the TCP
 * port, or none over pipes and shared memory; ServerSPN=;
 * SPNHostCanonicalization=).  The candidates the Kerberos checks also try
 * are the library's own derivation under each canonicalisation, so an SPN
 * registered under another form of the name is found and named. */
#include "config.h"

#include "doctor/doctor.h"
#include "session/session.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void add_cand(doc_ctx *d, const char *spn) {
  for (size_t i = 0; i < d->ncands; i++)
    if (strcmp(d->cands[i], spn) == 0)
      return;
  if (d->ncands < DOC_MAX_CANDS)
    snprintf(d->cands[d->ncands++], DOC_SPN_LEN, "%s", spn);
}

/* Appends the parts to buf (NUL-terminated, capacity cap), truncating. */
static void append(char *buf, size_t cap, const char *a, const char *b,
                   const char *c) {
  const char *parts[] = {a, b, c};
  size_t len = strlen(buf);
  for (size_t i = 0; i < 3 && parts[i]; i++) {
    size_t n = strlen(parts[i]);
    if (n > cap - 1 - len)
      n = cap - 1 - len;
    memcpy(buf + len, parts[i], n);
    len += n;
  }
  buf[len] = '\0';
}

/* The forward and reverse DNS facts; false when the host does not resolve
 * (gai_strerror's text in why). */
static bool dns_facts(doc_check *c, const char *host, char *why,
                      size_t whylen) {
  struct addrinfo hints = {.ai_flags = AI_CANONNAME,
                           .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) {
    snprintf(why, whylen, "%s", gai_strerror(rc));
    return false;
  }
  char addrs[1024] = "", revs[2048] = "";
  size_t n = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    char a[NI_MAXHOST], r[NI_MAXHOST];
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, a, sizeof a, NULL, 0,
                    NI_NUMERICHOST) != 0)
      continue;
    if (strstr(addrs, a)) /* one line per address, not per family */
      continue;
    append(addrs, sizeof addrs, n ? ", " : "", a, NULL);
    if (getnameinfo(ai->ai_addr, ai->ai_addrlen, r, sizeof r, NULL, 0,
                    NI_NAMEREQD) != 0)
      snprintf(r, sizeof r, "(no name)");
    append(revs, sizeof revs, n ? ", " : "", a, " -> ");
    append(revs, sizeof revs, r, NULL, NULL);
    n++;
  }
  doc_fact_add(c, "addresses", "%s", addrs);
  doc_fact_add(c, "canonical name", "%s",
               res->ai_canonname && *res->ai_canonname ? res->ai_canonname
                                                       : host);
  doc_fact_add(c, "reverse", "%s", revs);
  freeaddrinfo(res);
  return true;
}

void doc_names(doc_ctx *d) {
  doc_check *c = &d->checks[DOC_NAMES];
  const tdsc__endpoint *ep = &d->ep;
  bool integrated = doc_policy_has(d, TDSC__MECH_KERBEROS) ||
                    doc_policy_has(d, TDSC__MECH_NTLM);
  char why[256] = "";
  doc_fact_add(c, "host", "%s (%s endpoint)", ep->host,
               tdsc__ep_name(ep->kind));
  bool resolved = dns_facts(c, ep->host, why, sizeof why);

  /* The library's SPN, then the same derivation under the other
   * canonicalisations: the names an administrator may have registered. */
  tdsc__endpoint_spn(&d->opts, ep, d->spn, sizeof d->spn, d->spn_how,
                     sizeof d->spn_how);
  add_cand(d, d->spn);
  tdsc__options alt = d->opts; /* shallow: only read, never cleared */
  alt.value[TDSC__OPT_SERVER_SPN] = NULL;
  static const tdsc__canon canons[] = {TDSC__CANON_NONE, TDSC__CANON_FORWARD,
                                       TDSC__CANON_REVERSE};
  for (size_t i = 0; i < sizeof canons / sizeof canons[0]; i++) {
    char spn[DOC_SPN_LEN], how[1024];
    alt.canon = canons[i];
    tdsc__endpoint_spn(&alt, ep, spn, sizeof spn, how, sizeof how);
    add_cand(d, spn);
  }
  if (integrated) {
    char all[DOC_MAX_CANDS * (DOC_SPN_LEN + 2)] = "";
    for (size_t i = 0; i < d->ncands; i++)
      append(all, sizeof all, i ? ", " : "", d->cands[i], NULL);
    doc_fact_add(c, "SPNHostCanonicalization", "%s",
                 tdsc__opt(&d->opts, TDSC__OPT_SPN_CANON));
    doc_fact_add(c, "spn used", "%s (%s)", d->spn, d->spn_how);
    doc_fact_add(c, "spn candidates", "%s", all);
  }

  if (!resolved && ep->kind == TDSC__EP_TCP) {
    doc_set(c, DOC_FAIL, TDSC_E_HOST_NOT_FOUND, "'%s' does not resolve: %s",
            ep->host, why);
    return;
  }
  if (!resolved)
    doc_fact_add(c, "note", "'%s' does not resolve (%s); the %s endpoint "
                 "needs no DNS", ep->host, why, tdsc__ep_name(ep->kind));
  /* the host part of MSSQLSvc/host[:port] */
  const char *slash = strchr(d->spn, '/');
  char h[NI_MAXHOST];
  snprintf(h, sizeof h, "%s", slash ? slash + 1 : d->spn);
  char *colon = h[0] == '[' ? NULL : strrchr(h, ':');
  if (colon)
    *colon = '\0';
  if (doc_policy_has(d, TDSC__MECH_KERBEROS) && tdsc__is_ip_literal(h)) {
    doc_set(c, DOC_WARN, TDSC_E_KRB_SPN_UNKNOWN,
            "the SPN the library will use, %s, is built from an IP address, "
            "for which no SPN is normally registered: connect by host name "
            "or set ServerSPN=",
            d->spn);
    return;
  }
  doc_set(c, DOC_OK, TDSC_OK, NULL);
}
