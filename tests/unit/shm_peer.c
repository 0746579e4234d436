/* The server side of the shared-memory protocol for tests: shm_peer.h. */
#include "config.h"

#include "shm_peer.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static void put32(uint8_t *p, uint32_t v) {
  memcpy(p, &v, 4); /* little-endian machines only, as the protocol */
}
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

bool shm_peer_accept(shm_peer *s, int ls, uint32_t ring_size, uint16_t version,
                     bool sealed) {
  s->sock = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
  s->bell_client = s->bell_server = -1;
  s->seg = NULL;
  if (s->sock < 0)
    return false;
  uint8_t hello[16];
  size_t got = 0;
  while (got < sizeof hello) {
    ssize_t n = recv(s->sock, hello + got, sizeof hello - got, 0);
    if (n <= 0)
      return false;
    got += (size_t)n;
  }
  uint8_t ans[32] = {0};
  put32(ans, 0x53534454u);
  if (version != 1) {
    ans[4] = (uint8_t)version;
    ssize_t r = send(s->sock, ans, sizeof ans, MSG_NOSIGNAL);
    (void)r;
    return false; /* and close */
  }
  uint32_t n = ring_size;
  s->seg_len = 4096 + 2 * (size_t)n;
  int memfd = memfd_create("check-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (memfd < 0 || ftruncate(memfd, (off_t)s->seg_len) != 0)
    return false;
  if (sealed)
    fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  s->seg = mmap(NULL, s->seg_len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  if (s->seg == MAP_FAILED) {
    s->seg = NULL;
    close(memfd);
    return false;
  }
  put32(s->seg, 0x47534454u);
  put32(s->seg + 4, 1);
  put32(s->seg + 8, n);
  put32(s->seg + 12, n);
  put64(s->seg + 16, 4096);
  put64(s->seg + 24, 4096 + (uint64_t)n);
  s->rx = (shm_peer_ring){(shm_peer_line *)(s->seg + 128),
                          (shm_peer_line *)(s->seg + 192), s->seg + 4096, n};
  s->tx =
      (shm_peer_ring){(shm_peer_line *)(s->seg + 256),
                      (shm_peer_line *)(s->seg + 320), s->seg + 4096 + n, n};
  s->bell_client = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  s->bell_server = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ans[4] = 1;
  put32(ans + 8, n);
  put32(ans + 12, n);
  put64(ans + 16, s->seg_len);
  int fds[3] = {memfd, s->bell_client, s->bell_server};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof fds)];
  } ctl = {0};
  struct iovec iov = {.iov_base = ans, .iov_len = sizeof ans};
  struct msghdr m = {.msg_iov = &iov,
                     .msg_iovlen = 1,
                     .msg_control = ctl.buf,
                     .msg_controllen = sizeof ctl.buf};
  struct cmsghdr *c = CMSG_FIRSTHDR(&m);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  memcpy(CMSG_DATA(c), fds, sizeof fds);
  bool ok = sendmsg(s->sock, &m, MSG_NOSIGNAL) == sizeof ans;
  close(memfd);
  return ok;
}

void shm_peer_close(shm_peer *s) {
  if (s->seg)
    munmap(s->seg, s->seg_len);
  if (s->bell_client >= 0)
    close(s->bell_client);
  if (s->bell_server >= 0)
    close(s->bell_server);
  if (s->sock >= 0)
    close(s->sock);
  s->seg = NULL;
  s->sock = s->bell_client = s->bell_server = -1;
}

/* Section 4 from the server's side; false when the client went away (or
 * 10 s passed, so that a broken client cannot hang the suite). */
static bool peer_wait(shm_peer *s, _Atomic uint32_t *flag,
                      _Atomic uint64_t *watch, uint64_t seen) {
  for (;;) {
    atomic_store(flag, 1);
    uint64_t v;
    ssize_t r = read(s->bell_server, &v, sizeof v);
    (void)r;
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(watch) != seen) {
      atomic_store(flag, 0);
      return true;
    }
    struct pollfd p[2] = {{s->bell_server, POLLIN, 0}, {s->sock, POLLIN, 0}};
    int n = poll(p, 2, 10000);
    atomic_store(flag, 0);
    if (atomic_load(watch) != seen)
      return true;
    if (n <= 0 || p[1].revents)
      return false;
  }
}

static void ring(int fd) {
  uint64_t one = 1;
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}

/* Up to len bytes; 0 when the client is gone and the ring empty. */
size_t shm_peer_read(shm_peer *s, void *buf, size_t len) {
  shm_peer_ring *e = &s->rx;
  for (;;) {
    uint64_t head = atomic_load(&e->cons->pos),
             tail = atomic_load(&e->prod->pos);
    uint64_t used = tail - head;
    if (used) {
      size_t n = used < len ? used : len;
      size_t at = (size_t)(head & (e->size - 1));
      size_t first = n < e->size - at ? n : (size_t)(e->size - at);
      memcpy(buf, e->data + at, first);
      memcpy((uint8_t *)buf + first, e->data, n - first);
      atomic_store(&e->cons->pos, head + n);
      if (atomic_load(&e->prod->waiting))
        ring(s->bell_client);
      return n;
    }
    if (!peer_wait(s, &e->cons->waiting, &e->prod->pos, tail))
      return 0;
  }
}

bool shm_peer_write(shm_peer *s, const void *buf, size_t len) {
  shm_peer_ring *e = &s->tx;
  const uint8_t *p = buf;
  while (len) {
    uint64_t tail = atomic_load(&e->prod->pos),
             head = atomic_load(&e->cons->pos);
    uint64_t room = e->size - (tail - head);
    if (room) {
      size_t n = room < len ? room : len;
      size_t at = (size_t)(tail & (e->size - 1));
      size_t first = n < e->size - at ? n : (size_t)(e->size - at);
      memcpy(e->data + at, p, first);
      memcpy(e->data, p + first, n - first);
      atomic_store(&e->prod->pos, tail + n);
      if (atomic_load(&e->cons->waiting))
        ring(s->bell_client);
      p += n;
      len -= n;
      continue;
    }
    if (!peer_wait(s, &e->prod->waiting, &e->cons->pos, head))
      return false;
  }
  return true;
}
