/* Shared-memory transport (io.h), POSIX/Linux side: two SPSC byte rings in a
 * memfd segment, set up and watched through a rendezvous AF_UNIX socket,
 * with eventfd doorbells.  The protocol is doc/shm-protocol.md (section
 * numbers below refer to it); the test server's side is tdsserver.py --shm.
 * Non-blocking like tcp.c (io.h): a read or write that finds the ring
 * empty or full spins briefly, raises its "I sleep" flag and returns
 * TDSC__AGAIN; the pollfd is an epoll set over our doorbell and the
 * rendezvous socket, so io.c's wait (or the caller's poll) wakes for the
 * server's bell as for its death. */
#include "config.h"

#include "clock.h"
#include "transport/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Section 1 and 2: magic numbers ("TDSH", "TDSS", "TDSG" little-endian). */
#define SHM_HELLO_MAGIC 0x48534454u
#define SHM_ANSWER_MAGIC 0x53534454u
#define SHM_SEGMENT_MAGIC 0x47534454u
#define SHM_VERSION 1u
#define SHM_HELLO_LEN 16
#define SHM_ANSWER_LEN 32
#define SHM_DATA_OFF 4096u
#define SHM_RING_MIN 4096u
#define SHM_RING_MAX (16u << 20)
/* Offsets of the 64-byte control lines (section 2). */
#define SHM_C2S_PROD 128u
#define SHM_C2S_CONS 192u
#define SHM_S2C_PROD 256u
#define SHM_S2C_CONS 320u
/* Checks of the ring before sleeping (section 4): each a load and a
 * `pause`, a few tens of microseconds in all.  Enough to catch an answer
 * from a peer that is busy right now, short enough not to burn a core. */
#define SPIN_CHECKS 1000

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
               "shared-memory counters must be lock-free atomics");

/* A control line: the ring position its owner publishes (tail for the
 * producer, head for the consumer) and its owner's "I sleep" flag. */
typedef struct shm_line {
  _Atomic uint64_t pos;
  _Atomic uint32_t waiting;
} shm_line;

typedef struct shm_ring {
  shm_line *prod; /* tail, writer_waiting */
  shm_line *cons; /* head, reader_waiting */
  uint8_t *data;
  uint64_t size; /* a power of two */
} shm_ring;

typedef struct shm_io {
  tdsc__io base;
  int sock;      /* rendezvous socket: its hang-up is the peer's death */
  int bell_mine; /* eventfd this side sleeps on */
  int bell_peer; /* eventfd the server sleeps on */
  int ep;        /* epoll over bell_mine and sock: the pollfd (io.h) */
  uint8_t *seg;
  size_t seg_len;
  shm_ring tx; /* client -> server: we produce */
  shm_ring rx; /* server -> client: we consume */
  /* Once the peer is seen gone: how reads end after the ring is drained. */
  tdsc_errc gone;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char desc[sizeof(((struct sockaddr_un *)0)->sun_path) + 32]; /* messages */
} shm_io;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

static void ring_bell(int fd) {
  uint64_t one = 1;
  /* EAGAIN would need 2^64-1 unread rings; a closed peer is seen on the
   * socket, not here. */
  ssize_t n = write(fd, &one, sizeof one);
  (void)n;
}

static void drain_bell(int fd) {
  uint64_t v;
  ssize_t n = read(fd, &v, sizeof v); /* non-blocking: EAGAIN if silent */
  (void)n;
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* ---------------------------------------------------------------- waiting */

/* Section 4 before a non-blocking call gives up: a bounded spin on *watch
 * (a peer busy right now answers within it), then our "I sleep" flag,
 * a drain of our doorbell and a re-check, so that the doorbell (in the
 * epoll set, the pollfd) rings for any later move.  Returns true when the
 * peer moved *watch away from seen (try again now).  The drain may have
 * eaten a ring meant for the other direction (one doorbell serves both):
 * if that direction is ready, the bell is rung again for it. */
static bool arm(shm_io *s, _Atomic uint32_t *flag, _Atomic uint64_t *watch,
                uint64_t seen) {
  for (int i = 0; i < SPIN_CHECKS; i++) {
    if (atomic_load_explicit(watch, memory_order_acquire) != seen)
      return true;
    cpu_relax();
  }
  atomic_store_explicit(flag, 1, memory_order_seq_cst);
  drain_bell(s->bell_mine);
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load_explicit(watch, memory_order_seq_cst) != seen) {
    atomic_store_explicit(flag, 0, memory_order_relaxed);
    return true;
  }
  bool rx_ready =
      atomic_load_explicit(&s->rx.cons->waiting, memory_order_relaxed) &&
      atomic_load_explicit(&s->rx.prod->pos, memory_order_acquire) !=
          atomic_load_explicit(&s->rx.cons->pos, memory_order_relaxed);
  bool tx_ready =
      atomic_load_explicit(&s->tx.prod->waiting, memory_order_relaxed) &&
      atomic_load_explicit(&s->tx.prod->pos, memory_order_relaxed) -
              atomic_load_explicit(&s->tx.cons->pos, memory_order_acquire) <
          s->tx.size;
  if (rx_ready || tx_ready)
    ring_bell(s->bell_mine);
  return false;
}

/* The peer's socket became readable or hung up: why (section 5).  Returns
 * TDSC_OK if it was nothing after all. */
static tdsc_errc peer_state(shm_io *s) {
  char b;
  ssize_t n = recv(s->sock, &b, 1, MSG_DONTWAIT);
  if (n == 0)
    return TDSC_E_CONN_CLOSED;
  if (n > 0)
    return TDSC_E_PROTOCOL;
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
    return TDSC_OK;
  return TDSC_E_CONN_RESET;
}

static tdsc_errc gone_error(shm_io *s, tdsc_error *err) {
  switch (s->gone) {
  case TDSC_E_CONN_CLOSED:
    return tdsc__err_set(err, TDSC_E_CONN_CLOSED,
                         "the server closed the shared-memory connection (%s)",
                         s->path);
  case TDSC_E_PROTOCOL:
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server sent data on the shared-memory rendezvous "
                         "socket %s, which carries none after the hello",
                         s->path);
  default:
    return tdsc__err_set(err, TDSC_E_CONN_RESET,
                         "the shared-memory connection to %s was reset",
                         s->path);
  }
}

/* ---------------------------------------------------------------- filter */

/* TDSC__AGAIN always wants READ: the pollfd is an epoll descriptor, which
 * only ever shows readable (our doorbell rang, or the socket hung up),
 * for room in the ring as for data. */
static tdsc_errc shm_read_some(tdsc__io *io, void *buf, size_t len,
                               size_t *got, int *want, tdsc_error *err) {
  shm_io *s = (shm_io *)io;
  shm_ring *r = &s->rx;
  *got = 0;
  for (;;) {
    uint64_t head = atomic_load_explicit(&r->cons->pos, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&r->prod->pos, memory_order_acquire);
    uint64_t used = tail - head;
    if (used > r->size)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "the server's shared-memory ring is corrupt (%llu "
                           "bytes in a ring of %llu)",
                           (unsigned long long)used,
                           (unsigned long long)r->size);
    if (used > 0) {
      size_t n = used < len ? (size_t)used : len;
      size_t at = (size_t)(head & (r->size - 1));
      size_t first = n < r->size - at ? n : (size_t)(r->size - at);
      memcpy(buf, r->data + at, first);
      memcpy((uint8_t *)buf + first, r->data, n - first);
      atomic_store_explicit(&r->cons->waiting, 0, memory_order_relaxed);
      atomic_store_explicit(&r->cons->pos, head + n, memory_order_release);
      atomic_thread_fence(memory_order_seq_cst);
      if (atomic_load_explicit(&r->prod->waiting, memory_order_relaxed))
        ring_bell(s->bell_peer);
      *got = n;
      return TDSC_OK;
    }
    if (s->gone != TDSC_OK)
      return gone_error(s, err);
    if (arm(s, &r->cons->waiting, &r->prod->pos, tail))
      continue;
    tdsc_errc g = peer_state(s);
    if (g != TDSC_OK) {
      s->gone = g; /* the loop drains the ring first */
      continue;
    }
    *want = TDSC__WANT_READ;
    return TDSC__AGAIN;
  }
}

static tdsc_errc shm_write_some(tdsc__io *io, const void *buf, size_t len,
                                size_t *put, int *want, tdsc_error *err) {
  shm_io *s = (shm_io *)io;
  shm_ring *r = &s->tx;
  *put = 0;
  for (;;) {
    uint64_t tail = atomic_load_explicit(&r->prod->pos, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->cons->pos, memory_order_acquire);
    uint64_t used = tail - head;
    if (used > r->size)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "the server's shared-memory ring is corrupt (its "
                           "read position is %llu bytes off)",
                           (unsigned long long)used);
    uint64_t room = r->size - used;
    if (room > 0) {
      size_t n = room < len ? (size_t)room : len;
      size_t at = (size_t)(tail & (r->size - 1));
      size_t first = n < r->size - at ? n : (size_t)(r->size - at);
      memcpy(r->data + at, buf, first);
      memcpy(r->data, (const uint8_t *)buf + first, n - first);
      atomic_store_explicit(&r->prod->waiting, 0, memory_order_relaxed);
      atomic_store_explicit(&r->prod->pos, tail + n, memory_order_release);
      atomic_thread_fence(memory_order_seq_cst);
      if (atomic_load_explicit(&r->cons->waiting, memory_order_relaxed))
        ring_bell(s->bell_peer);
      *put = n;
      return TDSC_OK;
    }
    if (s->gone != TDSC_OK)
      return tdsc__err_set(err, TDSC_E_CONN_RESET,
                           "the server went away while sending (shared "
                           "memory %s)",
                           s->path);
    if (arm(s, &r->prod->waiting, &r->cons->pos, head))
      continue;
    tdsc_errc g = peer_state(s);
    if (g != TDSC_OK) {
      s->gone = g == TDSC_E_PROTOCOL ? g : TDSC_E_CONN_RESET;
      continue;
    }
    *want = TDSC__WANT_READ;
    return TDSC__AGAIN;
  }
}

static void shm_destroy(tdsc__io *io) {
  shm_io *s = (shm_io *)io;
  if (s->seg)
    munmap(s->seg, s->seg_len);
  close_fd(&s->ep);
  close_fd(&s->bell_mine);
  close_fd(&s->bell_peer);
  close_fd(&s->sock);
  free(s);
}

static intptr_t shm_pollfd(tdsc__io *io) { return ((shm_io *)io)->ep; }

static const tdsc__io_ops shm_ops = {.name = "shm",
                                     .read = tdsc__io_read,
                                     .write = tdsc__io_write,
                                     .destroy = shm_destroy,
                                     .pollfd = shm_pollfd,
                                     .read_some = shm_read_some,
                                     .write_some = shm_write_some};

/* ---------------------------------------------------------------- hello */

static uint32_t get_u32le(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint16_t get_u16le(const uint8_t *p) {
  return (uint16_t)(p[0] | p[1] << 8);
}
static uint64_t get_u64le(const uint8_t *p) {
  return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}
static void put_u32le(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

static bool ring_size_ok(uint64_t n) {
  return n >= SHM_RING_MIN && n <= SHM_RING_MAX && (n & (n - 1)) == 0;
}

/* Waits for fd to be ready for events; 1 ready, 0 timeout, -1 error. */
/* The rendezvous in progress (tdsc__shm_open): connect, hello, answer. */
typedef struct shm_opener {
  tdsc__opener base;
  shm_io *s;
  struct sockaddr_un sun;
  bool in_progress; /* tdsc__unix_connect_step's */
  bool hello_sent;
  uint8_t ans[SHM_ANSWER_LEN];
  size_t have; /* of ans */
  int fds[3];
  int nfds; /* every descriptor received (extras closed) */
} shm_opener;

/* Receives what has come of the 32-byte answer and its descriptors (up
 * to 3 kept in fds, every one counted in nfds, extras closed), without
 * waiting: TDSC__AGAIN until all of it is there. */
static tdsc_errc recv_answer(shm_opener *o, tdsc_error *err) {
  shm_io *s = o->s;
  while (o->have < SHM_ANSWER_LEN) {
    union {
      struct cmsghdr h;
      char buf[CMSG_SPACE(4 * sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = o->ans + o->have,
                        .iov_len = SHM_ANSWER_LEN - o->have};
    struct msghdr m = {.msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    ssize_t n = recvmsg(s->sock, &m, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
      return TDSC__AGAIN;
    if (n < 0)
      return tdsc__err_errno(
          err, errno == ECONNRESET ? TDSC_E_CONN_RESET : TDSC_E_SOCKET, errno,
          "cannot read the answer of %s", s->path);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        continue;
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < k; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (o->nfds < 3)
          o->fds[o->nfds] = fd;
        else
          close(fd);
        o->nfds++;
      }
    }
    if (m.msg_flags & MSG_CTRUNC)
      o->nfds++; /* more than we take: counted as a protocol error */
    if (n == 0)
      return tdsc__err_set(err, TDSC_E_PROTOCOL,
                           "the server at %s closed the rendezvous socket "
                           "instead of answering the shared-memory hello "
                           "(not this protocol, or it refused the client)",
                           s->path);
    o->have += (size_t)n;
  }
  return TDSC_OK;
}

/* Checks the answer, the segment and its header, and maps it (sections 1,
 * 2).  Takes the descriptors into s on success. */
static tdsc_errc adopt_segment(shm_io *s, const uint8_t *ans, int fds[3],
                               int nfds, tdsc_error *err) {
  uint32_t magic = get_u32le(ans);
  uint16_t version = get_u16le(ans + 4), status = get_u16le(ans + 6);
  uint64_t c2s = get_u32le(ans + 8), s2c = get_u32le(ans + 12);
  uint64_t seg_len = get_u64le(ans + 16);
  if (magic != SHM_ANSWER_MAGIC)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "%s does not speak the tdsclient shared-memory "
                         "protocol (answer magic 0x%08x)",
                         s->path, (unsigned)magic);
  if (version != SHM_VERSION)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server at %s speaks shared-memory protocol "
                         "version %u, this client version %u",
                         s->path, (unsigned)version, SHM_VERSION);
  if (status != 0)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server at %s refused the shared-memory hello "
                         "(status %u)",
                         s->path, (unsigned)status);
  if (nfds != 3)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server at %s passed %d descriptors with its "
                         "answer, not 3",
                         s->path, nfds);
  if (!ring_size_ok(c2s) || !ring_size_ok(s2c) ||
      seg_len != SHM_DATA_OFF + c2s + s2c)
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the server at %s announced impossible ring sizes "
                         "(%llu, %llu; segment %llu bytes)",
                         s->path, (unsigned long long)c2s,
                         (unsigned long long)s2c, (unsigned long long)seg_len);
  struct stat st;
  if (fstat(fds[0], &st) != 0)
    return tdsc__err_errno(err, TDSC_E_SYSTEM, errno,
                           "cannot inspect the segment of %s", s->path);
  int seals = fcntl(fds[0], F_GET_SEALS);
  if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size < seg_len || seals < 0 ||
      (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the shared-memory segment from %s is not a sealed "
                         "memfd of %llu bytes",
                         s->path, (unsigned long long)seg_len);
  void *seg = mmap(NULL, (size_t)seg_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                   fds[0], 0);
  if (seg == MAP_FAILED)
    return tdsc__err_errno(err, TDSC_E_SYSTEM, errno,
                           "cannot map the shared-memory segment of %s",
                           s->path);
  const uint8_t *h = seg;
  if (get_u32le(h) != SHM_SEGMENT_MAGIC || get_u32le(h + 4) != SHM_VERSION ||
      get_u32le(h + 8) != c2s || get_u32le(h + 12) != s2c ||
      get_u64le(h + 16) != SHM_DATA_OFF ||
      get_u64le(h + 24) != SHM_DATA_OFF + c2s) {
    munmap(seg, (size_t)seg_len);
    return tdsc__err_set(err, TDSC_E_PROTOCOL,
                         "the shared-memory segment from %s has a header that "
                         "does not match its hello (magic 0x%08x, version %u)",
                         s->path, (unsigned)get_u32le(h),
                         (unsigned)get_u32le(h + 4));
  }
  s->seg = seg;
  s->seg_len = (size_t)seg_len;
  s->tx = (shm_ring){(shm_line *)(s->seg + SHM_C2S_PROD),
                     (shm_line *)(s->seg + SHM_C2S_CONS), s->seg + SHM_DATA_OFF,
                     c2s};
  s->rx = (shm_ring){(shm_line *)(s->seg + SHM_S2C_PROD),
                     (shm_line *)(s->seg + SHM_S2C_CONS),
                     s->seg + SHM_DATA_OFF + c2s, s2c};
  close(fds[0]); /* the mapping keeps the memory */
  s->bell_mine = fds[1];
  s->bell_peer = fds[2];
  fds[0] = fds[1] = fds[2] = -1;
  return TDSC_OK;
}

/* The one descriptor a caller waits on (io.h): readable when our
 * doorbell rings or the rendezvous socket shows the server's end. */
static tdsc_errc make_pollfd(shm_io *s, tdsc_error *err) {
  s->ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event bell = {.events = EPOLLIN, .data.fd = s->bell_mine};
  struct epoll_event sock = {.events = EPOLLIN | EPOLLRDHUP,
                             .data.fd = s->sock};
  if (s->ep < 0 ||
      epoll_ctl(s->ep, EPOLL_CTL_ADD, s->bell_mine, &bell) != 0 ||
      epoll_ctl(s->ep, EPOLL_CTL_ADD, s->sock, &sock) != 0)
    return tdsc__err_errno(err, TDSC_E_SYSTEM, errno,
                           "cannot set up the wait for %s (epoll)", s->path);
  return TDSC_OK;
}

/* ---------------------------------------------------------------- connect */

static void shm_open_free(tdsc__opener *op) {
  shm_opener *o = (shm_opener *)op;
  for (int i = 0; i < 3 && i < o->nfds; i++)
    close_fd(&o->fds[i]);
  if (o->s)
    shm_destroy(&o->s->base);
  free(o);
}

/* The connect's failure (no server: SHM_NOT_FOUND, so that the session
 * tries its next transport). */
static tdsc_errc connect_error(int e, const char *path, tdsc_error *err) {
  if (e == ENOENT || e == ENOTDIR)
    return tdsc__err_errno(err, TDSC_E_SHM_NOT_FOUND, e,
                           "no shared-memory endpoint at %s (no such file): "
                           "the server is not running or does not offer "
                           "shared memory",
                           path);
  if (e == ECONNREFUSED)
    return tdsc__err_errno(err, TDSC_E_SHM_NOT_FOUND, e,
                           "nothing listens at %s: a stale socket file left "
                           "by a server that stopped, or not a socket",
                           path);
  return tdsc__err_errno(err, TDSC_E_SOCKET, e, "cannot connect to %s", path);
}

/* Connects (a full listen queue is tried again), sends the hello, then
 * waits for the answer; adopts the segment. */
static tdsc_errc shm_open_step(tdsc__opener *op, int64_t deadline,
                               tdsc__io **out, char *addr, size_t addrlen,
                               tdsc__open_wait *w, tdsc_error *err) {
  shm_opener *o = (shm_opener *)op;
  shm_io *s = o->s;
  *out = NULL;
  *w = (tdsc__open_wait){TDSC__NO_POLLFD, TDSC__WANT_WRITE, -1};
  bool late = tdsc__ms_left(deadline) == 0;
  if (!o->hello_sent) {
    int e;
    switch (tdsc__unix_connect_step(s->sock, &o->sun, &o->in_progress, &e)) {
    case TDSC__UNIX_CONNECTED:
      break;
    case TDSC__UNIX_FAILED:
      return connect_error(e, s->path, err);
    case TDSC__UNIX_WAIT:
    case TDSC__UNIX_BUSY:
      if (late)
        return tdsc__err_set(err, TDSC_E_CONN_TIMEOUT,
                             "the server at %s accepted no connection "
                             "before the timeout (its queue is full)",
                             s->path);
      if (o->in_progress)
        w->fd = s->sock;
      else
        w->timer_ms = 2;
      return TDSC__AGAIN;
    }
    uint8_t hello[SHM_HELLO_LEN] = {0};
    put_u32le(hello, SHM_HELLO_MAGIC);
    hello[4] = SHM_VERSION;  /* u16 version, then reserved u16 */
    put_u32le(hello + 8, 0); /* the server's default ring size */
    /* A fresh socket's buffer takes 16 bytes at once. */
    ssize_t n = send(s->sock, hello, sizeof hello, MSG_NOSIGNAL);
    if (n != (ssize_t)sizeof hello)
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, n < 0 ? errno : EAGAIN,
                             "cannot send the shared-memory hello to %s",
                             s->path);
    o->hello_sent = true;
  }
  tdsc_errc rc = recv_answer(o, err);
  if (rc == TDSC__AGAIN) {
    if (late)
      return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                           "the server at %s did not answer the "
                           "shared-memory hello before the timeout",
                           s->path);
    w->fd = s->sock;
    w->want = TDSC__WANT_READ;
    return rc;
  }
  if (rc == TDSC_OK)
    rc = adopt_segment(s, o->ans, o->fds, o->nfds, err);
  if (rc == TDSC_OK)
    rc = make_pollfd(s, err);
  if (rc != TDSC_OK)
    return rc;
  if (addr && addrlen)
    snprintf(addr, addrlen, "%s", s->path);
  *out = &s->base;
  o->s = NULL;
  return TDSC_OK;
}

static const tdsc__opener_ops shm_opener_ops = {.step = shm_open_step,
                                                .free = shm_open_free};

tdsc_errc tdsc__shm_open(const char *rendezvous_path, tdsc__opener **out,
                         tdsc_error *err) {
  *out = NULL;
  if (!rendezvous_path || !*rendezvous_path)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "no shared-memory rendezvous path to connect to");
  size_t plen = strlen(rendezvous_path);
  if (plen >= sizeof((struct sockaddr_un *)0)->sun_path)
    return tdsc__err_set(err, TDSC_E_INVALID_ARGUMENT,
                         "the shared-memory path %s is longer than a socket "
                         "path may be (%zu bytes)",
                         rendezvous_path,
                         sizeof((struct sockaddr_un *)0)->sun_path - 1);
  shm_opener *o = calloc(1, sizeof *o);
  shm_io *s = calloc(1, sizeof *s);
  if (!o || !s) {
    free(o);
    free(s);
    return tdsc__err_oom(err);
  }
  o->base.ops = &shm_opener_ops;
  o->s = s;
  o->fds[0] = o->fds[1] = o->fds[2] = -1;
  o->sun.sun_family = AF_UNIX;
  memcpy(o->sun.sun_path, rendezvous_path, plen + 1);
  s->base.ops = &shm_ops;
  s->sock = s->bell_mine = s->bell_peer = s->ep = -1;
  memcpy(s->path, rendezvous_path, plen + 1);
  snprintf(s->desc, sizeof s->desc, "the server (shared memory %s)", s->path);
  s->base.peer = s->desc;
  s->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->sock < 0) {
    tdsc_errc rc = tdsc__err_errno(err, TDSC_E_SOCKET, errno,
                                   "cannot create a socket for %s", s->path);
    shm_open_free(&o->base);
    return rc;
  }
  *out = &o->base;
  return TDSC_OK;
}

tdsc_errc tdsc__shm_connect(const char *rendezvous_path, int64_t deadline,
                            tdsc__io **out, tdsc_error *err) {
  tdsc__opener *o;
  tdsc_errc rc = tdsc__shm_open(rendezvous_path, &o, err);
  *out = NULL;
  return rc == TDSC_OK ? tdsc__opener_run(o, deadline, out, NULL, 0, err) : rc;
}

void tdsc__shm_path_for(const char *dir, const char *instance, char *out,
                        size_t outlen) {
  snprintf(out, outlen, "%s/%s.shm", dir && *dir ? dir : "/run/tdsclient",
           instance && *instance ? instance : "MSSQLSERVER");
}
