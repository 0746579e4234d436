/* Host names to socket addresses, shared by the socket transports (tcp.c,
 * ssrp.c): "localhost" answered without a resolver, getaddrinfo's failures
 * as the library's codes, families interleaved (RFC 8305 4), and each
 * address's text for messages and trails. */
#include "config.h"

#include "transport/io.h"
#include "transport/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void tdsc__format_addr(const struct sockaddr *sa, socklen_t salen, char *out,
                        size_t outlen) {
  char host[TDSC__NUMERIC_HOST_LEN], serv[8];
  if (getnameinfo(sa, salen, host, sizeof host, serv, sizeof serv,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    snprintf(out, outlen, "(unprintable address)");
    return;
  }
  if (sa->sa_family == AF_INET6)
    snprintf(out, outlen, "[%s]:%s", host, serv);
  else
    snprintf(out, outlen, "%s:%s", host, serv);
}

/* RFC 6761 6.3: "localhost" is loopback without asking any resolver.  We
 * answer it ourselves with both ::1 and 127.0.0.1, because /etc/hosts
 * often lists only one of them (Debian's may lack ::1), and a server
 * listening on only one family must still be reached (curl does the
 * same). */
bool tdsc__is_localhost(const char *host) {
  size_t n = strlen(host);
  if (n > 0 && host[n - 1] == '.')
    n--; /* "localhost." is the same name */
  if (n == 9)
    return strncasecmp(host, "localhost", 9) == 0;
  return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

void tdsc__resolve_purpose(int socktype, uint16_t port, char *out, size_t cap) {
  if (socktype == SOCK_DGRAM)
    snprintf(out, cap, "to ask its SQL Server Browser");
  else
    snprintf(out, cap, "port %u", (unsigned)port);
}

tdsc_errc tdsc__resolve(const char *host, uint16_t port, int socktype,
                        tdsc__addr **out, size_t *nout, tdsc_error *err) {
  char purpose[32];
  tdsc__resolve_purpose(socktype, port, purpose, sizeof purpose);
  *out = NULL;
  *nout = 0;
  tdsc__addr *list = NULL;
  size_t n = 0;
  tdsc_errc irc = tdsc__sock_init(err);
  if (irc != TDSC_OK)
    return irc;
  if (tdsc__is_localhost(host)) {
    list = calloc(2, sizeof *list);
    if (!list)
      return tdsc__err_oom(err);
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&list[0].sa;
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    s6->sin6_addr = in6addr_loopback;
    list[0].salen = sizeof *s6;
    list[0].family = AF_INET6;
    struct sockaddr_in *s4 = (struct sockaddr_in *)&list[1].sa;
    s4->sin_family = AF_INET;
    s4->sin_port = htons(port);
    s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    list[1].salen = sizeof *s4;
    list[1].family = AF_INET;
    n = 2;
  } else {
    /* No AI_ADDRCONFIG: glibc does not count loopback addresses as
     * "configured", so on a machine with only loopback it would drop
     * every address; an unusable family fails fast at connect() and the
     * next address is tried at once.
     *
     * getaddrinfo blocks and does not honour the deadline.  Accepted
     * here: /etc/hosts and numeric hosts answer at once, and a DNS
     * lookup is bounded by resolv.conf's timeout and attempts (5 s x 2
     * by default).  To bound it by the deadline, run it in a worker
     * thread (or glibc's getaddrinfo_a) and abandon it on timeout. */
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = socktype;
    hints.ai_flags = AI_NUMERICSERV;
    char serv[8];
    snprintf(serv, sizeof serv, "%u", (unsigned)port);
    int rc = getaddrinfo(host, serv, &hints, &res);
    if (rc == EAI_MEMORY)
      return tdsc__err_oom(err);
    if (rc == TDSC__EAI_SYSTEM)
      return tdsc__err_errno(err, TDSC_E_SOCKET, tdsc__sock_errno(),
                             "cannot resolve %s (%s)", host, purpose);
    if (rc != 0) {
      char text[160];
      tdsc__gai_text(rc, text, sizeof text);
      tdsc__err_set(err, TDSC_E_HOST_NOT_FOUND,
                    rc == EAI_AGAIN
                        ? "cannot resolve %s (%s): %s (a temporary failure "
                          "of the name server)"
                        : "cannot resolve %s (%s): %s",
                    host, purpose, text);
      tdsc__err_provider(err, TDSC_PROVIDER_GETADDRINFO, rc, 0, 0, text);
      return TDSC_E_HOST_NOT_FOUND;
    }
    size_t count = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
      count++;
    list = calloc(count ? count : 1, sizeof *list);
    if (!list) {
      freeaddrinfo(res);
      return tdsc__err_oom(err);
    }
    /* Interleave: take the first remaining address of the family that is
     * not the last one taken, else any. */
    bool *used = calloc(count ? count : 1, sizeof *used);
    if (!used) {
      free(list);
      freeaddrinfo(res);
      return tdsc__err_oom(err);
    }
    int last_family = AF_UNSPEC;
    while (n < count) {
      struct addrinfo *pick = NULL, *any = NULL;
      size_t pick_i = 0, any_i = 0, i = 0;
      for (struct addrinfo *ai = res; ai; ai = ai->ai_next, i++) {
        if (used[i] || ai->ai_addrlen > sizeof list[0].sa)
          continue;
        if (!any) {
          any = ai;
          any_i = i;
        }
        if (!pick && ai->ai_family != last_family) {
          pick = ai;
          pick_i = i;
        }
      }
      if (!pick) {
        pick = any;
        pick_i = any_i;
      }
      if (!pick)
        break; /* only oversized addresses left */
      used[pick_i] = true;
      memcpy(&list[n].sa, pick->ai_addr, pick->ai_addrlen);
      list[n].salen = pick->ai_addrlen;
      list[n].family = pick->ai_family;
      last_family = pick->ai_family;
      n++;
    }
    free(used);
    freeaddrinfo(res);
    if (n == 0) {
      free(list);
      return tdsc__err_set(err, TDSC_E_HOST_NOT_FOUND,
                           "%s (%s) has no usable address", host, purpose);
    }
  }
  for (size_t i = 0; i < n; i++)
    tdsc__format_addr((struct sockaddr *)&list[i].sa, list[i].salen, list[i].text,
                sizeof list[i].text);
  *out = list;
  *nout = n;
  return TDSC_OK;
}

bool tdsc__is_ip_literal(const char *host) {
  struct in6_addr a6;
  struct in_addr a4;
  return inet_pton(AF_INET, host, &a4) == 1 ||
         inet_pton(AF_INET6, host, &a6) == 1;
}

int tdsc__dns_canon(const char *host, char *canon, size_t canonlen, char *rev,
                    size_t revlen, char *why, size_t whylen) {
  canon[0] = '\0';
  if (rev && revlen)
    rev[0] = '\0';
  tdsc_error e = {0};
  if (tdsc__sock_init(&e) != TDSC_OK) {
    snprintf(why, whylen, "%s", e.message ? e.message : "no sockets");
    tdsc__err_clear(&e);
    return -1;
  }
  struct addrinfo hints = {.ai_flags = AI_CANONNAME,
                           .ai_socktype = SOCK_STREAM};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) {
    if (rc)
      tdsc__gai_text(rc, why, whylen);
    else
      snprintf(why, whylen, "no address");
    return rc ? rc : -1;
  }
  if (res->ai_canonname && *res->ai_canonname)
    snprintf(canon, canonlen, "%s", res->ai_canonname);
  if (rev && revlen &&
      getnameinfo(res->ai_addr, (socklen_t)res->ai_addrlen, rev,
                  revlen > 1025 ? 1025 : (socklen_t)revlen, NULL, 0,
                  NI_NAMEREQD) != 0)
    rev[0] = '\0';
  freeaddrinfo(res);
  return 0;
}
