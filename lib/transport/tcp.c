/* TCP transport (io.h): resolves a host, races its addresses with RFC 8305
 * style staggering, and exposes the winning socket as the bottom filter of
 * the I/O stack.  Every wait is a poll() bounded by the caller's deadline;
 * lib/tls stacks on top.  POSIX sockets and Winsock alike (sock.h). */
#include "config.h"

#include "clock.h"
#include "sys.h"
#include "transport/io.h"
#include "transport/sock.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 8305 5: "Connection Attempt Delay" recommended default. */
#define STAGGER_MS 250

typedef struct tcp_io {
  tdsc__io base;
  tdsc__sock fd;
  char peer[TDSC__ADDR_TEXT_LEN];
  char desc[TDSC__ADDR_TEXT_LEN + 24]; /* "the connection to <peer>", for messages */
} tcp_io;

/* ---------------------------------------------------------------- helpers */


/* Transport error for an errno from connect() or SO_ERROR. */
static tdsc_errc connect_errc(int e) {
  switch (e) {
  case TDSC__SOCK_ECONNREFUSED:
    return TDSC_E_CONN_REFUSED;
  case TDSC__SOCK_ETIMEDOUT:
    return TDSC_E_CONN_TIMEOUT;
  case TDSC__SOCK_ENETUNREACH:
  case TDSC__SOCK_EHOSTUNREACH:
  case TDSC__SOCK_ENETDOWN:
  case TDSC__SOCK_EHOSTDOWN:
    return TDSC_E_NET_UNREACHABLE;
  default:
    return TDSC_E_SOCKET;
  }
}

/* Which failure to report when every address failed: the one that tells
 * the user most about the server ("refused" means the host is there). */
static int errc_rank(tdsc_errc c) {
  switch (c) {
  case TDSC_E_CONN_REFUSED:
    return 4;
  case TDSC_E_CONN_TIMEOUT:
    return 3;
  case TDSC_E_NET_UNREACHABLE:
    return 2;
  default:
    return 1;
  }
}

/* Appends "addr: text" to a bounded list; silently truncates with "...". */
static void list_add(char *list, size_t cap, const char *addr,
                     const char *text) {
  size_t used = strlen(list);
  if (used + 4 >= cap)
    return;
  int n = snprintf(list + used, cap - used, "%s%s: %s", used ? "; " : "", addr,
                   text);
  if (n < 0 || (size_t)n >= cap - used)
    memcpy(list + cap - 4, "...", 4);
}

/* ---------------------------------------------------------------- filter */

static tdsc_errc tcp_read_some(tdsc__io *io, void *buf, size_t len,
                               size_t *got, int *want, tdsc_error *err) {
  tcp_io *t = (tcp_io *)io;
  return tdsc__fd_read_some(t->fd, t->desc, buf, len, got, want, err);
}

static tdsc_errc tcp_write_some(tdsc__io *io, const void *buf, size_t len,
                                size_t *put, int *want, tdsc_error *err) {
  tcp_io *t = (tcp_io *)io;
  return tdsc__fd_write_some(t->fd, t->desc, buf, len, put, want, err);
}

static void tcp_destroy(tdsc__io *io) {
  tcp_io *t = (tcp_io *)io;
  tdsc__sock_close(t->fd);
  free(t);
}

static intptr_t tcp_pollfd(tdsc__io *io) { return (intptr_t)((tcp_io *)io)->fd; }

static const tdsc__io_ops tcp_ops = {.name = "tcp",
                                     .read = tdsc__io_read,
                                     .write = tdsc__io_write,
                                     .destroy = tcp_destroy,
                                     .pollfd = tcp_pollfd,
                                     .read_some = tcp_read_some,
                                     .write_some = tcp_write_some};

/* ---------------------------------------------------------------- resolve */

/* ---------------------------------------------------------------- connect */

typedef struct attempt {
  tdsc__sock fd; /* open while the connect is in flight */
  int errnum;    /* why it failed, 0 if not (yet) */
} attempt;

/* Starts a non-blocking connect; returns 1 connected, 0 in flight, -1
 * failed (a->errnum set). */
static int attempt_start(attempt *a, const tdsc__addr *ad) {
  a->fd = tdsc__sock_open(ad->family, SOCK_STREAM, IPPROTO_TCP);
  if (a->fd == TDSC__NO_SOCK) {
    a->errnum = tdsc__sock_errno();
    return -1;
  }
  if (connect(a->fd, (const struct sockaddr *)&ad->sa, ad->salen) == 0)
    return 1;
  int e = tdsc__sock_errno();
  if (e == TDSC__SOCK_EINPROGRESS || e == TDSC__SOCK_EINTR)
    return 0; /* after EINTR the connect goes on asynchronously */
  a->errnum = e;
  tdsc__sock_close(a->fd);
  a->fd = TDSC__NO_SOCK;
  return -1;
}

tdsc_errc tdsc__tcp_connect(const char *host, uint16_t port, int64_t deadline,
                            tdsc__io **out, char *addrbuf, size_t addrlen,
                            tdsc_error *err) {
  *out = NULL;
  if (!host || !*host)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "no host name to connect to");
  tdsc__addr *addrs = NULL;
  size_t naddr = 0;
  char purpose[16];
  snprintf(purpose, sizeof purpose, "port %u", (unsigned)port);
  tdsc_errc rc = tdsc__resolve(host, port, SOCK_STREAM, purpose, &addrs,
                               &naddr, err);
  if (rc != TDSC_OK)
    return rc;

  attempt *att = calloc(naddr, sizeof *att);
  struct pollfd *pfds = calloc(naddr, sizeof *pfds);
  size_t *pidx = calloc(naddr, sizeof *pidx);
  if (!att || !pfds || !pidx) {
    rc = tdsc__err_oom(err);
    goto done;
  }
  for (size_t i = 0; i < naddr; i++)
    att[i].fd = TDSC__NO_SOCK;

  size_t next = 0;        /* next address to start */
  size_t inflight = 0;    /* attempts with an open fd */
  int64_t next_start = 0; /* when the next address may start */
  int winner = -1;

  while (winner < 0) {
    /* Start the next address when its turn has come, or at once when
     * nothing is in flight (the previous one failed). */
    if (next < naddr && (inflight == 0 || tdsc__now_ms() >= next_start)) {
      size_t i = next++;
      int r = attempt_start(&att[i], &addrs[i]);
      if (r == 1) {
        winner = (int)i;
        break;
      }
      /* RFC 8305 5: the next address starts after the delay, or at once
       * when this one has already failed. */
      next_start = r == 0 ? tdsc__now_ms() + STAGGER_MS : 0;
      if (r == 0)
        inflight++;
      continue;
    }
    if (inflight == 0)
      break; /* all failed */
    int wait = tdsc__ms_left(deadline);
    if (wait == 0)
      break; /* deadline passed */
    if (next < naddr) {
      int64_t until = next_start - tdsc__now_ms();
      if (until < 0)
        until = 0;
      if (wait < 0 || until < wait)
        wait = (int)until;
    }
    size_t np = 0;
    for (size_t i = 0; i < next; i++) {
      if (att[i].fd == TDSC__NO_SOCK)
        continue;
      pfds[np].fd = att[i].fd;
      pfds[np].events = POLLOUT;
      pfds[np].revents = 0;
      pidx[np++] = i;
    }
    int pr = tdsc__sock_poll(pfds, (tdsc__nfds)np, wait);
    if (pr < 0) {
      int e = tdsc__sock_errno();
      if (e == TDSC__SOCK_EINTR)
        continue;
      rc = tdsc__err_errno(err, TDSC_E_SOCKET, e,
                           "cannot connect to %s port %u: poll failed", host,
                           (unsigned)port);
      goto done;
    }
    for (size_t k = 0; k < np && winner < 0; k++) {
      if (!pfds[k].revents)
        continue;
      attempt *a = &att[pidx[k]];
      int soerr = tdsc__sock_pending_error(a->fd);
      if (soerr == 0) {
        winner = (int)pidx[k];
        break;
      }
      a->errnum = soerr;
      tdsc__sock_close(a->fd);
      a->fd = TDSC__NO_SOCK;
      inflight--;
      next_start = 0; /* a failure hands over to the next address now */
    }
  }

  if (winner >= 0) {
    tcp_io *t = calloc(1, sizeof *t);
    if (!t) {
      rc = tdsc__err_oom(err);
      goto done;
    }
    t->base.ops = &tcp_ops;
    t->fd = att[winner].fd;
    att[winner].fd = TDSC__NO_SOCK;
    snprintf(t->peer, sizeof t->peer, "%s", addrs[winner].text);
    snprintf(t->desc, sizeof t->desc, "the connection to %s", t->peer);
    t->base.peer = t->desc;
    int one = 1;
    /* TDS is request/response in small packets: Nagle only adds delay.
     * Keepalive lets a long-idle connection notice a vanished server.
     * (Winsock takes the value as char *: hence the void *.) */
    (void)setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, (const void *)&one,
                     sizeof one);
    (void)setsockopt(t->fd, SOL_SOCKET, SO_KEEPALIVE, (const void *)&one,
                     sizeof one);
    if (addrbuf && addrlen)
      snprintf(addrbuf, addrlen, "%s", t->peer);
    *out = &t->base;
    rc = TDSC_OK;
    goto done;
  }

  /* Failure: name every address and what happened to it. */
  {
    char tried[1024] = "";
    tdsc_errc best = TDSC_E_SOCKET;
    int best_errno = 0;
    bool timed_out = inflight > 0 || next < naddr;
    for (size_t i = 0; i < naddr; i++) {
      if (i >= next) {
        list_add(tried, sizeof tried, addrs[i].text, "not tried");
      } else if (att[i].fd != TDSC__NO_SOCK) {
        list_add(tried, sizeof tried, addrs[i].text, "no answer");
      } else {
        tdsc_errc c = connect_errc(att[i].errnum);
        if (best_errno == 0 || errc_rank(c) > errc_rank(best)) {
          best = c;
          best_errno = att[i].errnum;
        }
        char text[160];
        list_add(tried, sizeof tried, addrs[i].text,
                 tdsc__strerror(att[i].errnum, text, sizeof text));
      }
    }
    if (timed_out) {
      rc = tdsc__err_errno(err, TDSC_E_CONN_TIMEOUT, TDSC__SOCK_ETIMEDOUT,
                           "cannot connect to %s port %u: no answer before "
                           "the timeout (%s)",
                           host, (unsigned)port, tried);
    } else {
      const char *what = best == TDSC_E_CONN_REFUSED ? "connection refused"
                         : best == TDSC_E_NET_UNREACHABLE
                             ? "network unreachable"
                         : best == TDSC_E_CONN_TIMEOUT ? "timed out"
                                                       : "socket error";
      rc = tdsc__err_errno(err, best, best_errno,
                           "cannot connect to %s port %u: %s (%s)", host,
                           (unsigned)port, what, tried);
    }
  }

done:
  if (att)
    for (size_t i = 0; i < naddr; i++)
      tdsc__sock_close(att[i].fd);
  free(att);
  free(pfds);
  free(pidx);
  free(addrs);
  return rc;
}
