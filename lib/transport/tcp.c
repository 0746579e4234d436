/* TCP transport (io.h): resolves a host, races its addresses with RFC 8305
 * style staggering, and exposes the winning socket as the bottom filter of
 * the I/O stack: non-blocking reads and writes (io.h), the connect both
 * resumable (start/step) and blocking (a loop over the steps, every wait
 * a poll() bounded by the caller's deadline); lib/tls stacks on top.
 * POSIX sockets and Winsock alike (sock.h). */
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

/* ---------------------------------------------------------------- connect */

typedef struct attempt {
  tdsc__sock fd; /* open while the connect is in flight */
  int errnum;    /* why it failed, 0 if not (yet) */
} attempt;

/* A non-blocking caller waits on one socket (the newest attempt); older
 * attempts still in flight are looked at again after this long. */
#define RECHECK_MS 50

typedef struct tcp_opener {
  tdsc__opener base;
  char *host;
  uint16_t port;
  tdsc__addr *addrs;
  size_t naddr;
  attempt *att;
  struct pollfd *pfds;
  size_t *pidx;
  size_t next;        /* next address to start */
  size_t inflight;    /* attempts with an open fd */
  int64_t next_start; /* when the next address may start */
  bool parallel;      /* every address at once (no RFC 8305 delay) */
} tcp_opener;

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

static void tcp_open_free(tdsc__opener *o) {
  tcp_opener *c = (tcp_opener *)o;
  if (!c)
    return;
  if (c->att)
    for (size_t i = 0; i < c->naddr; i++)
      tdsc__sock_close(c->att[i].fd);
  free(c->att);
  free(c->pfds);
  free(c->pidx);
  free(c->addrs);
  free(c->host);
  free(c);
}

static tdsc_errc tcp_open_step(tdsc__opener *o, int64_t deadline,
                               tdsc__io **out, char *addrbuf, size_t addrlen,
                               tdsc__open_wait *w, tdsc_error *err);
static const tdsc__opener_ops tcp_opener_ops = {.step = tcp_open_step,
                                                .free = tcp_open_free};

tdsc_errc tdsc__tcp_open(const char *host, uint16_t port, tdsc__addr *addrs,
                         size_t naddr, bool parallel, tdsc__opener **out,
                         tdsc_error *err) {
  *out = NULL;
  tcp_opener *c = NULL;
  tdsc_errc rc;
  if (!host || !*host) {
    rc = tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                       "no host name to connect to");
    goto fail;
  }
  if (!(c = calloc(1, sizeof *c)) || !(c->host = strdup(host))) {
    rc = tdsc__err_oom(err);
    goto fail;
  }
  c->base.ops = &tcp_opener_ops;
  c->port = port;
  c->parallel = parallel;
  if (!addrs) {
    if ((rc = tdsc__resolve(host, port, SOCK_STREAM, &addrs, &naddr, err)) !=
        TDSC_OK)
      goto fail;
  }
  c->addrs = addrs;
  c->naddr = naddr;
  addrs = NULL;
  /* no socket yet in any attempt before anything can fail: calloc's 0 is
   * a descriptor, which tcp_open_free would close */
  if ((c->att = calloc(c->naddr, sizeof *c->att)))
    for (size_t i = 0; i < c->naddr; i++)
      c->att[i].fd = TDSC__NO_SOCK;
  c->pfds = calloc(c->naddr, sizeof *c->pfds);
  c->pidx = calloc(c->naddr, sizeof *c->pidx);
  if (!c->att || !c->pfds || !c->pidx) {
    rc = tdsc__err_oom(err);
    goto fail;
  }
  *out = &c->base;
  return TDSC_OK;

fail:
  free(addrs);
  if (c)
    tcp_open_free(&c->base);
  return rc;
}

/* The attempts in flight, in c->pfds (POLLOUT) and c->pidx; their count. */
static size_t inflight_pollfds(tcp_opener *c) {
  size_t np = 0;
  for (size_t i = 0; i < c->next; i++) {
    if (c->att[i].fd == TDSC__NO_SOCK)
      continue;
    c->pfds[np].fd = c->att[i].fd;
    c->pfds[np].events = POLLOUT;
    c->pfds[np].revents = 0;
    c->pidx[np++] = i;
  }
  return np;
}

/* The connected socket of attempt i as the bottom of a stack. */
static tdsc_errc adopt(tcp_opener *c, size_t i, tdsc__io **out, char *addrbuf,
                       size_t addrlen, tdsc_error *err) {
  tcp_io *t = calloc(1, sizeof *t);
  if (!t)
    return tdsc__err_oom(err);
  t->base.ops = &tcp_ops;
  t->fd = c->att[i].fd;
  c->att[i].fd = TDSC__NO_SOCK;
  c->inflight--;
  snprintf(t->peer, sizeof t->peer, "%s", c->addrs[i].text);
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
  return TDSC_OK;
}

/* Every address failed, or the deadline passed: name every address and
 * what happened to it. */
static tdsc_errc connect_failure(tcp_opener *c, tdsc_error *err) {
  char tried[1024] = "";
  tdsc_errc best = TDSC_E_SOCKET;
  int best_errno = 0;
  bool timed_out = c->inflight > 0 || c->next < c->naddr;
  for (size_t i = 0; i < c->naddr; i++) {
    if (i >= c->next) {
      list_add(tried, sizeof tried, c->addrs[i].text, "not tried");
    } else if (c->att[i].fd != TDSC__NO_SOCK) {
      list_add(tried, sizeof tried, c->addrs[i].text, "no answer");
    } else {
      tdsc_errc code = connect_errc(c->att[i].errnum);
      if (best_errno == 0 || errc_rank(code) > errc_rank(best)) {
        best = code;
        best_errno = c->att[i].errnum;
      }
      char text[160];
      list_add(tried, sizeof tried, c->addrs[i].text,
               tdsc__strerror(c->att[i].errnum, text, sizeof text));
    }
  }
  if (timed_out)
    return tdsc__err_errno(err, TDSC_E_CONN_TIMEOUT, TDSC__SOCK_ETIMEDOUT,
                           "cannot connect to %s port %u: no answer before "
                           "the timeout (%s)",
                           c->host, (unsigned)c->port, tried);
  const char *what = best == TDSC_E_CONN_REFUSED     ? "connection refused"
                     : best == TDSC_E_NET_UNREACHABLE ? "network unreachable"
                     : best == TDSC_E_CONN_TIMEOUT    ? "timed out"
                                                      : "socket error";
  return tdsc__err_errno(err, best, best_errno,
                         "cannot connect to %s port %u: %s (%s)", c->host,
                         (unsigned)c->port, what, tried);
}

/* Until the deadline or the next address is due (-1: no limit). */
static int next_timer(const tcp_opener *c, int64_t deadline) {
  int wait = tdsc__ms_left(deadline);
  if (c->next < c->naddr) {
    int64_t until = c->next_start - tdsc__now_ms();
    if (until < 0)
      until = 0;
    if (wait < 0 || until < wait)
      wait = (int)until;
  }
  return wait;
}

static tdsc_errc tcp_open_step(tdsc__opener *o, int64_t deadline,
                               tdsc__io **out, char *addrbuf, size_t addrlen,
                               tdsc__open_wait *w, tdsc_error *err) {
  tcp_opener *c = (tcp_opener *)o;
  *out = NULL;
  w->fd = TDSC__NO_POLLFD;
  w->want = TDSC__WANT_WRITE; /* a connect completes writable */
  w->timer_ms = -1;
  for (;;) {
    /* The attempts in flight that ended, without waiting. */
    size_t np = inflight_pollfds(c);
    if (np > 0) {
      int pr = tdsc__sock_poll(c->pfds, (tdsc__nfds)np, 0);
      if (pr < 0 && tdsc__sock_errno() != TDSC__SOCK_EINTR)
        return tdsc__err_errno(err, TDSC_E_SOCKET, tdsc__sock_errno(),
                               "cannot connect to %s port %u: poll failed",
                               c->host, (unsigned)c->port);
      for (size_t k = 0; pr > 0 && k < np; k++) {
        if (!c->pfds[k].revents)
          continue;
        attempt *a = &c->att[c->pidx[k]];
        int soerr = tdsc__sock_pending_error(a->fd);
        if (soerr == 0)
          return adopt(c, c->pidx[k], out, addrbuf, addrlen, err);
        a->errnum = soerr;
        tdsc__sock_close(a->fd);
        a->fd = TDSC__NO_SOCK;
        c->inflight--;
        c->next_start = 0; /* a failure hands over to the next address now */
      }
    }
    /* Start the next address when its turn has come, or at once when
     * nothing is in flight (the previous one failed). */
    if (c->next < c->naddr &&
        (c->inflight == 0 || tdsc__now_ms() >= c->next_start)) {
      size_t i = c->next++;
      int r = attempt_start(&c->att[i], &c->addrs[i]);
      if (r >= 0)
        c->inflight++;
      if (r == 1)
        return adopt(c, i, out, addrbuf, addrlen, err);
      /* RFC 8305 5: the next address starts after the delay, or at once
       * when this one has already failed, or when all start in parallel. */
      c->next_start = r == 0 && !c->parallel ? tdsc__now_ms() + STAGGER_MS : 0;
      continue;
    }
    if (c->inflight == 0 || tdsc__ms_left(deadline) == 0)
      return connect_failure(c, err);
    break;
  }
  /* Wait: for the newest attempt, until the next one is due, the older
   * ones are looked at again, or the deadline. */
  for (size_t i = c->next; i-- > 0;)
    if (c->att[i].fd != TDSC__NO_SOCK) {
      w->fd = (intptr_t)c->att[i].fd;
      break;
    }
  int wait = next_timer(c, deadline);
  if (c->inflight > 1 && (wait < 0 || wait > RECHECK_MS))
    wait = RECHECK_MS;
  w->timer_ms = wait;
  return TDSC__AGAIN;
}

tdsc_errc tdsc__tcp_connect(const char *host, uint16_t port, int64_t deadline,
                            tdsc__io **out, char *addrbuf, size_t addrlen,
                            tdsc_error *err) {
  *out = NULL;
  tdsc__opener *o = NULL;
  tdsc_errc rc = tdsc__tcp_open(host, port, NULL, 0, false, &o, err);
  while (rc == TDSC_OK) {
    tdsc__open_wait w;
    rc = tcp_open_step(o, deadline, out, addrbuf, addrlen, &w, err);
    if (rc != TDSC__AGAIN)
      break;
    /* Blocking, every attempt in flight is waited on at once (RFC 8305
     * races them); the step looks at which ended. */
    tcp_opener *c = (tcp_opener *)o;
    size_t np = inflight_pollfds(c);
    int pr = tdsc__sock_poll(c->pfds, (tdsc__nfds)np, next_timer(c, deadline));
    if (pr < 0 && tdsc__sock_errno() != TDSC__SOCK_EINTR) {
      rc = tdsc__err_errno(err, TDSC_E_SOCKET, tdsc__sock_errno(),
                           "cannot connect to %s port %u: poll failed", host,
                           (unsigned)port);
      break;
    }
    rc = TDSC_OK;
  }
  tcp_open_free(o);
  return rc;
}
