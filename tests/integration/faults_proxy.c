/* The hostile server of check_faults (faults_proxy.h): a recording proxy
 * in front of the test server, and a server replaying what it recorded,
 * broken on purpose.  Packet framing is MS-TDS 2.2.3.1 (8-byte header,
 * big-endian length, status bit 0x01 = end of message). */
#define _DEFAULT_SOURCE
#include "faults_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HDR 8

static int listen_any(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t al = sizeof a;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4) ||
      getsockname(fd, (struct sockaddr *)&a, &al)) {
    close(fd);
    return -1;
  }
  *port = ntohs(a.sin_port);
  return fd;
}

static int connect_local(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
    return fd;
  if (fd >= 0)
    close(fd);
  /* the test server may listen on ::1 only */
  fd = socket(AF_INET6, SOCK_STREAM, 0);
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6,
                            .sin6_port = htons((uint16_t)port),
                            .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  if (fd >= 0 && connect(fd, (struct sockaddr *)&a6, sizeof a6) == 0)
    return fd;
  if (fd >= 0)
    close(fd);
  return -1;
}

static bool write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return false;
    p += k;
    n -= (size_t)k;
  }
  return true;
}

static void append(uint8_t **buf, size_t *len, const uint8_t *p, size_t n) {
  uint8_t *b = realloc(*buf, *len + n + 1);
  if (!b)
    abort(); /* test code */
  memcpy(b + *len, p, n);
  *buf = b;
  *len += n;
}

/* Follows the client's packets byte by byte: true when a byte ends a
 * message (the last byte of a packet with EOM). */
typedef struct pkt_track {
  uint8_t hdr[HDR];
  size_t have;  /* header bytes seen */
  size_t body;  /* body bytes still to come */
} pkt_track;

static size_t track(pkt_track *t, const uint8_t *p, size_t n) {
  size_t ends = 0;
  for (size_t i = 0; i < n; i++) {
    if (t->have < HDR) {
      t->hdr[t->have++] = p[i];
      if (t->have == HDR) {
        size_t len = (size_t)t->hdr[2] << 8 | t->hdr[3];
        t->body = len > HDR ? len - HDR : 0;
      }
    } else {
      t->body--;
    }
    if (t->have == HDR && t->body == 0) {
      if (t->hdr[1] & 0x01)
        ends++;
      t->have = 0;
    }
  }
  return ends;
}

/* --------------------------------------------------------------- record */

struct fp_recorder {
  int lfd, server_port;
  pthread_t thread;
  fp_session s;
};

static void *record_main(void *arg) {
  fp_recorder *r = arg;
  int cfd = accept(r->lfd, NULL, NULL);
  int sfd = cfd >= 0 ? connect_local(r->server_port) : -1;
  pkt_track t = {0};
  size_t done = 0; /* client messages complete */
  while (cfd >= 0 && sfd >= 0) {
    struct pollfd p[2] = {{cfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, 2, 20000) <= 0)
      break;
    uint8_t b[16384];
    if (p[0].revents) {
      ssize_t n = recv(cfd, b, sizeof b, 0);
      if (n <= 0 || !write_all(sfd, b, (size_t)n))
        break;
      done += track(&t, b, (size_t)n);
    }
    if (p[1].revents) {
      ssize_t n = recv(sfd, b, sizeof b, 0);
      if (n <= 0 || !write_all(cfd, b, (size_t)n))
        break;
      size_t m = done ? done - 1 : 0;
      if (m < FP_MAX_MSGS) {
        append(&r->s.reply[m], &r->s.len[m], b, (size_t)n);
        if (m + 1 > r->s.nmsgs)
          r->s.nmsgs = m + 1;
      }
    }
  }
  if (cfd >= 0)
    close(cfd);
  if (sfd >= 0)
    close(sfd);
  return NULL;
}

fp_recorder *fp_record_start(int server_port, int *port) {
  fp_recorder *r = calloc(1, sizeof *r);
  if (!r)
    return NULL;
  r->server_port = server_port;
  r->lfd = listen_any(port);
  if (r->lfd < 0 || pthread_create(&r->thread, NULL, record_main, r)) {
    free(r);
    return NULL;
  }
  return r;
}

void fp_record_end(fp_recorder *r, fp_session *out) {
  pthread_join(r->thread, NULL);
  close(r->lfd);
  *out = r->s;
  free(r);
}

void fp_session_free(fp_session *s) {
  for (size_t i = 0; i < FP_MAX_MSGS; i++)
    free(s->reply[i]);
  memset(s, 0, sizeof *s);
}

/* -------------------------------------------------------------- replay */

/* Reads one client message; false at the end of the connection. */
static bool read_message(int fd) {
  pkt_track t = {0};
  uint8_t b;
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0)
      return false;
    if (recv(fd, &b, 1, 0) != 1)
      return false;
    if (track(&t, &b, 1))
      return true;
  }
}

/* Waits (bounded) until the client closes its side. */
static void drain(int fd) {
  uint8_t b[4096];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 30000) <= 0 || recv(fd, b, sizeof b, 0) <= 0)
      return;
  }
}

static void serve_one(int fd, const fp_plan *pl) {
  for (size_t i = 0; i < pl->s->nmsgs; i++) {
    if (!read_message(fd))
      return;
    const uint8_t *rep = pl->s->reply[i];
    size_t len = pl->s->len[i];
    if (i == pl->msg && pl->replace) {
      rep = pl->replace;
      len = pl->replace_len;
    }
    uint8_t *own = NULL;
    if (pl->one_byte) {
      own = fp_repacketise(rep, len, 1, &len);
      rep = own;
    }
    bool last = i == pl->msg && pl->cut < len;
    bool ok = write_all(fd, rep, last ? pl->cut : len);
    if (ok && last && pl->pause_ms)
      poll(NULL, 0, (int)pl->pause_ms);
    if (ok && last && pl->action == FP_RESUME) {
      ok = write_all(fd, rep + pl->cut, len - pl->cut);
      last = false;
    }
    free(own);
    if (!ok)
      return;
    if (!last)
      continue;
    switch (pl->action) {
    case FP_FIN:
      shutdown(fd, SHUT_WR);
      drain(fd);
      return;
    case FP_RST: {
      struct linger lg = {1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
      return; /* the caller's close sends the RST */
    }
    case FP_STALL:
    case FP_RESUME: /* (not reached: sent whole above) */
      drain(fd);
      return;
    }
  }
  drain(fd);
}

static void *serve_main(void *arg) {
  fp_server *s = arg;
  int fd = accept(s->lfd, NULL, NULL);
  if (fd < 0)
    return NULL;
  int one = 1; /* no Nagle: a cut reply goes out at once */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  serve_one(fd, &s->plan);
  close(fd);
  return NULL;
}

bool fp_server_open(fp_server *s) {
  memset(s, 0, sizeof *s);
  s->lfd = listen_any(&s->port);
  return s->lfd >= 0;
}

void fp_server_close(fp_server *s) {
  fp_serve_wait(s);
  close(s->lfd);
}

void fp_serve(fp_server *s, const fp_plan *plan) {
  fp_serve_wait(s);
  s->plan = *plan;
  if (pthread_create(&s->thread, NULL, serve_main, s) == 0)
    s->running = true;
}

void fp_serve_wait(fp_server *s) {
  if (s->running)
    pthread_join(s->thread, NULL);
  s->running = false;
}

/* ------------------------------------------------------------- framing */

/* Both below size their output once.  Growing it by realloc packet by
 * packet is quadratic, and under AddressSanitizer (whose realloc always
 * moves the block) re-framing row 3's 50 KB in one-byte packets (456 KB,
 * 101,472 appends) took the replaying thread 232 s on a loaded machine,
 * between reading the request and sending the reply's first byte: more
 * than the client's QueryTimeout (120 s there), so the client timed out,
 * rightly, and its attention went unanswered. */
uint8_t *fp_payload(const uint8_t *reply, size_t len, size_t *out_len) {
  uint8_t *out = malloc(len + 1); /* the payload is never longer */
  if (!out)
    abort(); /* test code */
  size_t n = 0;
  for (size_t off = 0; off + HDR <= len;) {
    size_t plen = (size_t)reply[off + 2] << 8 | reply[off + 3];
    if (plen < HDR || off + plen > len)
      break;
    memcpy(out + n, reply + off + HDR, plen - HDR);
    n += plen - HDR;
    off += plen;
  }
  *out_len = n;
  return out;
}

static uint8_t *frame(const uint8_t *p, size_t len, size_t per,
                      size_t *out_len) {
  size_t npkts = len ? (len + per - 1) / per : 1; /* an empty one: 1 */
  uint8_t *out = malloc(len + npkts * HDR + 1);
  if (!out)
    abort(); /* test code */
  size_t n = 0;
  uint8_t id = 0;
  size_t off = 0;
  do {
    size_t k = len - off < per ? len - off : per;
    uint8_t h[HDR] = {0x04, off + k == len ? 0x01 : 0x00,
                      (uint8_t)((k + HDR) >> 8), (uint8_t)(k + HDR),
                      0, 0x34, ++id, 0};
    memcpy(out + n, h, HDR);
    if (k)
      memcpy(out + n + HDR, p + off, k);
    n += HDR + k;
    off += k;
  } while (off < len);
  *out_len = n;
  return out;
}

uint8_t *fp_repacketise(const uint8_t *reply, size_t len, size_t per,
                        size_t *out_len) {
  size_t plen;
  uint8_t *p = fp_payload(reply, len, &plen);
  uint8_t *out = frame(p, plen, per, out_len);
  free(p);
  return out;
}

uint8_t *fp_frame(const uint8_t *payload, size_t len, size_t *out_len) {
  return frame(payload, len, 4096 - HDR, out_len);
}
