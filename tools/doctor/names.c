/* Check 1, name resolution: forward DNS (every address, the canonical
 * name), reverse DNS of each address, the SPN candidates these names imply
 * and the one the library will use (lib/session/spn.c, tdsc__spn_for, under
 * SPNHostCanonicalization=).  The Kerberos checks try the candidates. */
#include "config.h"

#include "doctor/doctor.h"
#include "session/session.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static void add_cand(doc_ctx *d, const char *host) {
  char spn[DOC_SPN_LEN];
  snprintf(spn, sizeof spn, "MSSQLSvc/%s:%u", host, (unsigned)d->port);
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

static bool is_ip(const char *h) {
  unsigned char b[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

void doc_names(doc_ctx *d) {
  doc_check *c = &d->checks[DOC_NAMES];
  const char *host = d->target.host;
  doc_fact_add(c, "host", "%s", host);
  doc_fact_add(c, "port", "%u", (unsigned)d->port);
  add_cand(d, host);

  struct addrinfo hints = {.ai_flags = AI_CANONNAME,
                           .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  bool resolved = rc == 0 && res;
  char first_rev[NI_MAXHOST] = "";
  if (resolved) {
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
      else if (!first_rev[0])
        snprintf(first_rev, sizeof first_rev, "%s", r);
      append(revs, sizeof revs, n ? ", " : "", a, " -> ");
      append(revs, sizeof revs, r, NULL, NULL);
      n++;
    }
    doc_fact_add(c, "addresses", "%s", addrs);
    const char *canon = res->ai_canonname && *res->ai_canonname
                            ? res->ai_canonname
                            : host;
    doc_fact_add(c, "canonical name", "%s", canon);
    doc_fact_add(c, "reverse", "%s", revs);
    if (!is_ip(canon))
      add_cand(d, canon);
    if (first_rev[0])
      add_cand(d, first_rev);
    freeaddrinfo(res);
  }

  tdsc__spn_for(&d->opts, host, d->port, "", d->spn, sizeof d->spn, d->spn_how,
                sizeof d->spn_how);
  /* the library's choice is a candidate too (ServerSPN=, or reverse DNS) */
  bool listed = false;
  for (size_t i = 0; i < d->ncands; i++)
    listed = listed || strcmp(d->cands[i], d->spn) == 0;
  if (!listed && d->ncands < DOC_MAX_CANDS)
    snprintf(d->cands[d->ncands++], DOC_SPN_LEN, "%s", d->spn);
  char all[DOC_MAX_CANDS * (DOC_SPN_LEN + 2)] = "";
  for (size_t i = 0; i < d->ncands; i++)
    append(all, sizeof all, i ? ", " : "", d->cands[i], NULL);
  doc_fact_add(c, "spn candidates", "%s", all);
  const char *canon_opt = tdsc__opt(&d->opts, TDSC__OPT_SPN_CANON);
  doc_fact_add(c, "SPNHostCanonicalization", "%s",
               canon_opt ? canon_opt : "forward");
  doc_fact_add(c, "spn used", "%s (%s)", d->spn, d->spn_how);

  if (!resolved) {
    doc_set(c, DOC_FAIL, TDSC_E_HOST_NOT_FOUND,
            "'%s' does not resolve: %s", host, gai_strerror(rc));
    return;
  }
  const char *name = strchr(d->spn, '/');
  char h[NI_MAXHOST];
  snprintf(h, sizeof h, "%s", name ? name + 1 : d->spn);
  char *colon = strrchr(h, ':');
  if (colon)
    *colon = '\0';
  if (is_ip(h)) {
    doc_set(c, DOC_WARN, TDSC_E_KRB_SPN_UNKNOWN,
            "the SPN the library will use, %s, is built from an IP address, "
            "for which no SPN is normally registered: connect by host name "
            "or set ServerSPN=",
            d->spn);
    return;
  }
  doc_set(c, DOC_OK, TDSC_OK, NULL);
}
