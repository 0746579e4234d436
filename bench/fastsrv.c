/* A fast TDS server for the benchmarks only (never for tests): PRELOGIN
 * answered with ENCRYPT_NOT_SUP, any LOGIN7 accepted, and a few canned
 * responses, encoded once in memory (bench/fastenc.c, not the library's
 * codecs) and cut into packets of the negotiated size, so that the client
 * is what a run measures.  One process per connection (fork).
 *
 *   fastsrv [-p port]      prints "port N" on stdout once listening
 *
 * Batches (SQL text, ASCII, case as written):
 *   SELECT 1               one int
 *   bench mixed N          N rows of the mixed workload (fastenc.h)
 *   bench ints N           N rows of 8 ints
 *   bench blob N           one varbinary(max) of N bytes, in PLP chunks of
 *                          65520 bytes, generated as it is sent
 *   anything else          a DONE with no count
 * An ATTENTION is answered with DONE_ATTN.  MS-TDS 2.2.3 (packets),
 * 2.2.6.5 (PRELOGIN), 2.2.7 (tokens). */
#include "fastenc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLOCK_ROWS 4096

typedef struct out {
  int fd;
  size_t psize; /* negotiated packet size */
  uint8_t id;
  size_t len;   /* bytes in pkt, header included */
  uint8_t pkt[32768];
} out;

static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = write(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      _exit(0); /* the client went away */
    p += k;
    n -= (size_t)k;
  }
}

static void flush(out *o, bool eom) {
  o->pkt[0] = 0x04;
  o->pkt[1] = eom ? 1 : 0;
  o->pkt[2] = (uint8_t)(o->len >> 8);
  o->pkt[3] = (uint8_t)o->len;
  o->pkt[4] = o->pkt[5] = 0;
  o->pkt[6] = ++o->id;
  o->pkt[7] = 0;
  write_all(o->fd, o->pkt, o->len);
  o->len = 8;
}

static void put(out *o, const uint8_t *p, size_t n) {
  while (n) {
    size_t room = o->psize - o->len;
    size_t k = n < room ? n : room;
    memcpy(o->pkt + o->len, p, k);
    o->len += k;
    p += k;
    n -= k;
    if (o->len == o->psize)
      flush(o, false);
  }
}

static void begin(out *o) {
  o->id = 0;
  o->len = 8;
}

/* The last packet: EOM, even when it carries no more bytes. */
static void end(out *o) { flush(o, true); }

static fe_buf mixed_block, ints_block;

static void rows(out *o, const fe_buf *block, unsigned long long n) {
  /* the block holds BLOCK_ROWS ROW tokens of uneven lengths: send whole
   * blocks, then the rows of a partial one re-encoded */
  unsigned long long full = n / BLOCK_ROWS;
  for (unsigned long long k = 0; k < full; k++)
    put(o, block->p, block->len);
  fe_buf rest = {0};
  for (uint32_t i = 0; i < n % BLOCK_ROWS; i++)
    (block == &mixed_block ? fe_mixed_row : fe_ints_row)(&rest, i);
  put(o, rest.p, rest.len);
  free(rest.p);
}

static void blob(out *o, unsigned long long n) {
  static uint8_t chunk[65520];
  for (size_t i = 0; i < sizeof chunk; i++)
    chunk[i] = (uint8_t)("abcdefgh"[i % 8]);
  fe_buf b = {0};
  fe_blob_colmetadata(&b);
  fe_u8(&b, 0xD1);
  fe_u64(&b, n);
  put(o, b.p, b.len);
  while (n) {
    uint32_t k = n < sizeof chunk ? (uint32_t)n : (uint32_t)sizeof chunk;
    uint8_t h[4] = {(uint8_t)k, (uint8_t)(k >> 8), (uint8_t)(k >> 16),
                    (uint8_t)(k >> 24)};
    put(o, h, 4);
    put(o, chunk, k);
    n -= k;
  }
  b.len = 0;
  fe_u32(&b, 0); /* PLP terminator */
  fe_done(&b, 1, 0);
  put(o, b.p, b.len);
  free(b.p);
}

static void batch(out *o, const uint8_t *p, size_t n) {
  char sql[256];
  size_t skip = 0, k = 0;
  if (n >= 4)
    skip = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
           (size_t)p[3] << 24; /* ALL_HEADERS (2.2.5.3) */
  if (skip > n)
    skip = n;
  for (size_t i = skip; i + 1 < n && k + 1 < sizeof sql; i += 2)
    sql[k++] = p[i + 1] ? '?' : (char)p[i];
  sql[k] = 0;
  unsigned long long count = 0;
  fe_buf b = {0};
  begin(o);
  if (!strcmp(sql, "SELECT 1")) {
    fe_one_colmetadata(&b);
    fe_u8(&b, 0xD1), fe_u8(&b, 4), fe_u32(&b, 1);
    fe_done(&b, 1, 0);
    put(o, b.p, b.len);
  } else if (sscanf(sql, "bench mixed %llu", &count) == 1) {
    fe_mixed_colmetadata(&b);
    put(o, b.p, b.len);
    rows(o, &mixed_block, count);
    b.len = 0;
    fe_done(&b, count, 0);
    put(o, b.p, b.len);
  } else if (sscanf(sql, "bench ints %llu", &count) == 1) {
    fe_ints_colmetadata(&b);
    put(o, b.p, b.len);
    rows(o, &ints_block, count);
    b.len = 0;
    fe_done(&b, count, 0);
    put(o, b.p, b.len);
  } else if (sscanf(sql, "bench blob %llu", &count) == 1) {
    blob(o, count);
  } else {
    fe_u8(&b, 0xFD), fe_u16(&b, 0), fe_u16(&b, 0), fe_u64(&b, 0);
    put(o, b.p, b.len);
  }
  end(o);
  free(b.p);
}

static void envchange_text(fe_buf *b, uint8_t type, const char *nv,
                           const char *ov) {
  fe_buf body = {0};
  fe_u8(&body, type);
  fe_bvarchar(&body, nv);
  fe_bvarchar(&body, ov);
  fe_u8(b, 0xE3);
  fe_u16(b, (uint16_t)body.len);
  fe_bytes(b, body.p, body.len);
  free(body.p);
}

static void login(out *o, const uint8_t *p, size_t n) {
  uint32_t want = 4096;
  if (n >= 12)
    want = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 |
           (uint32_t)p[11] << 24;
  if (want < 512)
    want = 4096;
  if (want > 32767)
    want = 32767;
  char ps[16], old[16];
  snprintf(ps, sizeof ps, "%u", want);
  snprintf(old, sizeof old, "%u", 4096u);
  fe_buf b = {0};
  envchange_text(&b, 1, "bench", "master");
  {
    static const uint8_t coll[5] = {0x09, 0x04, 0xD0, 0x00, 0x34};
    fe_u8(&b, 0xE3), fe_u16(&b, 1 + 1 + 5 + 1), fe_u8(&b, 7);
    fe_u8(&b, 5), fe_bytes(&b, coll, 5), fe_u8(&b, 0);
  }
  envchange_text(&b, 4, ps, old);
  {
    fe_buf la = {0};
    static const uint8_t ver[4] = {0x74, 0x00, 0x00, 0x04};
    static const uint8_t pv[4] = {16, 0, 0x10, 0x00};
    fe_u8(&la, 1);
    fe_bytes(&la, ver, 4);
    fe_bvarchar(&la, "fastsrv");
    fe_bytes(&la, pv, 4);
    fe_u8(&b, 0xAD), fe_u16(&b, (uint16_t)la.len);
    fe_bytes(&b, la.p, la.len);
    free(la.p);
  }
  fe_u8(&b, 0xFD), fe_u16(&b, 0), fe_u16(&b, 0), fe_u64(&b, 0);
  begin(o); /* the reply still goes at 4096 (2.2.6.4: the new size applies
               after it) */
  put(o, b.p, b.len);
  end(o);
  o->psize = want;
  free(b.p);
}

static void prelogin(out *o) {
  /* VERSION, ENCRYPTION = NOT_SUP, INSTOPT, THREADID, MARS, terminator */
  static const uint8_t r[] = {
      0x00, 0x00, 0x1A, 0x00, 0x06, 0x01, 0x00, 0x20, 0x00, 0x01,
      0x02, 0x00, 0x21, 0x00, 0x01, 0x03, 0x00, 0x22, 0x00, 0x04,
      0x04, 0x00, 0x26, 0x00, 0x01, 0xFF, 0x10, 0x00, 0x10, 0x00,
      0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  begin(o);
  put(o, r, sizeof r);
  end(o);
}

static bool read_all(int fd, uint8_t *p, size_t n) {
  while (n) {
    ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return false;
    p += k;
    n -= (size_t)k;
  }
  return true;
}

static void serve(int fd) {
  static out o;
  o.fd = fd;
  o.psize = 4096;
  fe_buf msg = {0};
  for (;;) {
    uint8_t h[8];
    uint8_t type = 0;
    msg.len = 0;
    for (bool eom = false; !eom;) {
      if (!read_all(fd, h, 8))
        return;
      size_t len = (size_t)h[2] << 8 | h[3];
      if (len < 8)
        return;
      type = h[0];
      eom = h[1] & 1;
      fe_reserve(&msg, len - 8);
      if (!read_all(fd, msg.p + msg.len, len - 8))
        return;
      msg.len += len - 8;
    }
    switch (type) {
    case 0x12:
      prelogin(&o);
      break;
    case 0x10:
      login(&o, msg.p, msg.len);
      break;
    case 0x01:
      batch(&o, msg.p, msg.len);
      break;
    case 0x06: {
      fe_buf b = {0};
      fe_u8(&b, 0xFD), fe_u16(&b, 0x20), fe_u16(&b, 0), fe_u64(&b, 0);
      begin(&o);
      put(&o, b.p, b.len);
      end(&o);
      free(b.p);
      break;
    }
    default: {
      fe_buf b = {0};
      fe_done(&b, 0, 0);
      begin(&o);
      put(&o, b.p, b.len);
      end(&o);
      free(b.p);
    }
    }
  }
}

int main(int argc, char **argv) {
  int port = 0, opt;
  while ((opt = getopt(argc, argv, "p:")) != -1) {
    if (opt == 'p')
      port = atoi(optarg);
    else {
      fprintf(stderr, "usage: fastsrv [-p port]\n");
      return 2;
    }
  }
  for (uint32_t i = 0; i < BLOCK_ROWS; i++) {
    fe_mixed_row(&mixed_block, i);
    fe_ints_row(&ints_block, i);
  }
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) {
    perror("fastsrv: bind");
    return 1;
  }
  socklen_t al = sizeof a;
  getsockname(s, (struct sockaddr *)&a, &al);
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) {
      if (errno == EINTR)
        continue;
      perror("fastsrv: accept");
      return 1;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(s);
      setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      serve(c);
      _exit(0);
    }
    close(c);
  }
}
