/* The non-blocking I/O layer (transport/io.h "Non-blocking use", issue 16)
 * against the test server (tdsserver.py) over TCP, a pipe and shared
 * memory, under TLS: read_some/write_some say TDSC__AGAIN when nothing can
 * move, the descriptor of tdsc__io_pollfd wakes poll(2) when it can, the
 * TLS state survives many AGAIN round trips (a large result read by
 * non-blocking reads only, then another query), the resumable TLS
 * handshake and TCP connect finish by poll(2) alone, and the blocking loop
 * over them still maps timeouts and cancels to their codes. */
#include "config.h"

#include "tds_mini.h"

#include "clock.h"
#include "proto/proto.h"
#include "tls/tls.h"

#include <check.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pid_t g_py = -1;
static int g_port;
static char g_dir[64], g_db[160], g_shm[160], g_pipe[160], g_cafile[256];

/* Starts tdsserver.py with TLS (TDS 7.x and 8.0), on TCP, a pipe and
 * shared memory; false without its environment (make check sets it). */
static bool start_server(void) {
  const char *py = getenv("PYTHON3"), *src = getenv("TDSC_SRCDIR"),
             *certs = getenv("TDSC_TEST_CERTS");
  if (!py || !src || !certs)
    return false;
  snprintf(g_dir, sizeof g_dir, "/tmp/check_nbio.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(g_dir));
  snprintf(g_db, sizeof g_db, "%s/t.sqlite", g_dir);
  snprintf(g_shm, sizeof g_shm, "%s/T.shm", g_dir);
  snprintf(g_pipe, sizeof g_pipe, "%s/query", g_dir);
  snprintf(g_cafile, sizeof g_cafile, "%s/ca.pem", certs);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "exec %s %s/tests/server/tdsserver.py --port 0 --db %s --init "
           "%s/tests/server/sample.sql --user sa:Secret1 --cert "
           "%s/server.pem --key %s/server.key --encryption on --shm %s "
           "--pipe %s",
           py, src, g_db, src, certs, certs, g_shm, g_pipe);
  int p[2];
  ck_assert_int_eq(pipe(p), 0);
  g_py = fork();
  if (g_py == 0) {
    dup2(p[1], 1);
    close(p[0]);
    close(p[1]);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  close(p[1]);
  char ready[64] = {0};
  size_t n = 0;
  while (n < sizeof ready - 1 && read(p[0], ready + n, 1) == 1 &&
         ready[n] != '\n')
    n++;
  close(p[0]);
  ck_assert_msg(sscanf(ready, "READY %d", &g_port) == 1, "server said '%s'",
                ready);
  return true;
}

static void stop_server(void) {
  if (g_py > 0) {
    kill(g_py, SIGTERM);
    waitpid(g_py, NULL, 0);
  }
  g_py = -1;
  unlink(g_db);
  unlink(g_shm);
  unlink(g_pipe);
  rmdir(g_dir);
}

static tdsc_error *err_new(void) {
  tdsc_error *e = calloc(1, sizeof *e);
  ck_assert_ptr_nonnull(e);
  return e;
}

static void err_free(tdsc_error *e) {
  tdsc__err_clear(e);
  free(e);
}

typedef enum { VIA_TCP, VIA_PIPE, VIA_SHM } via;
static const char *const via_name[] = {"tcp", "pipe", "shm"};

static tdsc__io *open_bottom(via v, tdsc_error *err) {
  tdsc__io *io = NULL;
  int64_t dl = tdsc__deadline_in(10000);
  tdsc_errc rc = v == VIA_TCP    ? tdsc__tcp_connect("127.0.0.1",
                                                     (uint16_t)g_port, dl,
                                                     &io, NULL, 0, err)
                 : v == VIA_PIPE ? tdsc__pipe_connect(g_pipe, dl, &io, err)
                                 : tdsc__shm_connect(g_shm, dl, &io, err);
  ck_assert_msg(rc == TDSC_OK, "%s: %s", via_name[v],
                tdsc_error_message(err));
  return io;
}

/* A logged-in stack under TDS 7.x TLS over v. */
static tdsc__io *login(via v, tdsc_error *err) {
  tdsc__io *io = open_bottom(v, err);
  tdsc_errc rc = mini_login(&io, MINI_TLS_TDS7, g_cafile, "sa", "Secret1",
                            tdsc__deadline_in(10000), err);
  ck_assert_msg(rc == TDSC_OK, "%s: %s", via_name[v], tdsc_error_message(err));
  ck_assert_str_eq(io->ops->name, "tls");
  return io;
}

/* poll(2) on the stack's descriptor for want, as an event loop does;
 * shared memory's (an epoll set) only ever shows readable. */
static void wait_fd(tdsc__io *io, int want) {
  intptr_t fd = tdsc__io_pollfd(io);
  ck_assert(fd != TDSC__NO_POLLFD);
  struct pollfd p = {.fd = (int)fd,
                     .events = (short)((want & TDSC__WANT_READ ? POLLIN : 0) |
                                       (want & TDSC__WANT_WRITE ? POLLOUT
                                                                : 0))};
  ck_assert_int_eq(poll(&p, 1, 10000), 1);
}

/* Sends a SQL batch with write_some and poll(2) only; counts AGAINs. */
static void send_nb(tdsc__io *io, const char *sql, int *agains,
                    tdsc_error *err) {
  static const uint8_t no_txn[8] = {0};
  tdsc__buf b;
  tdsc__buf_init(&b);
  ck_assert_int_eq(tdsc__sqlbatch_encode(sql, strlen(sql), no_txn, 1, &b, err),
                   TDSC_OK);
  const uint8_t *p = b.data;
  size_t left = b.len;
  uint8_t id = 1;
  while (left > 0) {
    uint8_t pkt[4096];
    size_t n = left < sizeof pkt - TDSC__PKT_HDR_LEN
                   ? left
                   : sizeof pkt - TDSC__PKT_HDR_LEN;
    tdsc__pkt_hdr h = {.type = TDSC__PKT_SQLBATCH,
                       .status = n == left ? TDSC__PKT_EOM : 0,
                       .length = (uint16_t)(n + TDSC__PKT_HDR_LEN),
                       .packet_id = id++};
    tdsc__pkt_hdr_encode(pkt, &h);
    memcpy(pkt + TDSC__PKT_HDR_LEN, p, n);
    size_t off = 0;
    while (off < n + TDSC__PKT_HDR_LEN) {
      size_t put = 0;
      int want = 0;
      tdsc_errc rc = tdsc__io_write_some(io, pkt + off,
                                         n + TDSC__PKT_HDR_LEN - off, &put,
                                         &want, err);
      if (rc == TDSC__AGAIN) {
        ck_assert(want != 0);
        ck_assert_uint_eq(put, 0);
        (*agains)++;
        wait_fd(io, want);
        continue;
      }
      ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_message(err));
      off += put;
    }
    p += n;
    left -= n;
  }
  tdsc__buf_free(&b);
}

/* Reads a whole reply with read_some (chunk bytes at most each) and
 * poll(2) only, payloads into out; counts AGAINs. */
static void recv_nb(tdsc__io *io, size_t chunk, tdsc__buf *out, int *agains,
                    tdsc_error *err) {
  tdsc__buf_reset(out);
  uint8_t hdr[TDSC__PKT_HDR_LEN];
  size_t hdr_have = 0, body_left = 0;
  bool eom = false;
  uint8_t *buf = malloc(chunk);
  ck_assert_ptr_nonnull(buf);
  for (;;) {
    size_t want_n = hdr_have < sizeof hdr ? sizeof hdr - hdr_have : body_left;
    if (want_n > chunk)
      want_n = chunk;
    size_t got = 0;
    int want = 0;
    tdsc_errc rc = tdsc__io_read_some(io, buf, want_n, &got, &want, err);
    if (rc == TDSC__AGAIN) {
      ck_assert_uint_eq(got, 0);
      ck_assert(want != 0);
      (*agains)++;
      wait_fd(io, want);
      continue;
    }
    ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_message(err));
    ck_assert_uint_gt(got, 0);
    ck_assert_uint_le(got, want_n);
    if (hdr_have < sizeof hdr) {
      memcpy(hdr + hdr_have, buf, got);
      hdr_have += got;
      if (hdr_have == sizeof hdr) {
        tdsc__pkt_hdr h;
        ck_assert_int_eq(tdsc__pkt_hdr_decode(hdr, TDSC__PKT_MAX, &h, err),
                         TDSC_OK);
        body_left = h.length - TDSC__PKT_HDR_LEN;
        eom = h.status & TDSC__PKT_EOM;
      }
    } else {
      uint8_t *dst = tdsc__buf_extend(out, got);
      ck_assert_ptr_nonnull(dst);
      memcpy(dst, buf, got);
      body_left -= got;
    }
    if (hdr_have == sizeof hdr && body_left == 0) {
      hdr_have = 0;
      if (eom)
        break;
    }
  }
  free(buf);
}

/* An idle connection: AGAIN, and its descriptor shows nothing. */
static void assert_idle(tdsc__io *io, tdsc_error *err) {
  uint8_t b[16];
  size_t got = 99;
  int want = 0;
  ck_assert_int_eq(tdsc__io_read_some(io, b, sizeof b, &got, &want, err),
                   TDSC__AGAIN);
  ck_assert_uint_eq(got, 0);
  ck_assert_int_eq(want, TDSC__WANT_READ);
  struct pollfd p = {.fd = (int)tdsc__io_pollfd(io), .events = POLLIN};
  ck_assert_int_eq(poll(&p, 1, 50), 0);
}

static const uint8_t row42[] = {0xD1, 4, 42, 0, 0, 0}; /* INTN(4) 42 */

static void assert_small_query_works(tdsc__io *io, tdsc_error *err) {
  tdsc__buf out;
  tdsc__buf_init(&out);
  ck_assert_msg(mini_query(io, "SELECT 41 + 1", &out,
                           tdsc__deadline_in(10000), err) == TDSC_OK,
                "%s", tdsc_error_message(err));
  ck_assert_msg(memmem(out.data, out.len, row42, sizeof row42),
                "no row with 42 in %zu bytes", out.len);
  tdsc__buf_free(&out);
}

#define BIG_QUERY                                                              \
  "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "  \
  "20000) SELECT i, 'row number ' || i FROM n"

START_TEST(nonblocking_reads_and_writes_under_tls) {
  via v = (via)_i;
  tdsc_error *err = err_new();
  tdsc__io *io = login(v, err);
  assert_idle(io, err);

  /* a small query, then a large result (more than the rings, many TLS
   * records) read in small pieces by non-blocking reads only */
  int agains = 0;
  tdsc__buf out;
  tdsc__buf_init(&out);
  send_nb(io, "SELECT 41 + 1", &agains, err);
  recv_nb(io, 4096, &out, &agains, err);
  ck_assert_msg(memmem(out.data, out.len, row42, sizeof row42), "no 42");
  int before = agains;
  send_nb(io, BIG_QUERY, &agains, err);
  recv_nb(io, 1000, &out, &agains, err);
  ck_assert_uint_gt(out.len, 300000);
  ck_assert_msg(memmem(out.data, out.len, "r\0o\0w\0 \0n\0u\0m\0b\0e\0r\0 \0"
                                          "2\0"
                                          "0\0"
                                          "0\0"
                                          "0\0"
                                          "0\0",
                       32),
                "the last row is missing");

  /* the server cannot produce 20000 rows faster than they are read */
  ck_assert_msg(agains > before, "%s: no AGAIN during a large result",
                via_name[v]);
  /* the TLS state went through it all intact, and is idle again */
  assert_idle(io, err);
  assert_small_query_works(io, err);
  tdsc__buf_free(&out);
  tdsc__io_destroy_all(io);
  err_free(err);
}
END_TEST

/* TDS 8.0: the handshake by tdsc__tls_hs_step and poll(2) alone. */
START_TEST(resumable_tls_handshake_by_poll_alone) {
  via v = (via)_i;
  tdsc_error *err = err_new();
  tdsc__io *io = open_bottom(v, err);
  tdsc__tls_opts o = {.host = "localhost",
                      .cafile = g_cafile,
                      .verify = true,
                      .strict = true};
  tdsc__tls_hs *hs = NULL;
  ck_assert_int_eq(tdsc__tls_hs_start(io, &o, &hs, err), TDSC_OK);
  int agains = 0;
  tdsc_errc rc;
  for (;;) {
    int want = 0;
    rc = tdsc__tls_hs_step(hs, &io, &want, err);
    if (rc != TDSC__AGAIN)
      break;
    ck_assert(want != 0);
    agains++;
    wait_fd(io, want);
  }
  tdsc__tls_hs_free(hs);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_message(err));
  /* How many steps waited depends on timing (a fast server's answer may
   * be there at the first read); the large-result test below is the one
   * that counts AGAINs. */
  (void)agains;
  ck_assert_str_eq(io->ops->name, "tls");
  ck_assert_str_eq(tdsc__tls_version(io), "TLSv1.3");
  /* PRELOGIN and LOGIN7 inside it (mini_login's strict sequence) */
  ck_assert_msg(mini_login(&io, MINI_TLS_NONE, g_cafile, "sa", "Secret1",
                           tdsc__deadline_in(10000), err) == TDSC_OK,
                "%s", tdsc_error_message(err));
  assert_small_query_works(io, err);
  tdsc__io_destroy_all(io);
  err_free(err);
}
END_TEST

/* The blocking read over the non-blocking ops: a timeout and a cancel are
 * their codes, name the peer, and leave the TLS state usable. */
START_TEST(blocking_read_maps_timeout_and_cancel) {
  via v = (via)_i;
  tdsc_error *err = err_new();
  tdsc__io *io = login(v, err);
  uint8_t b[64];
  size_t got = 99;
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(
      io->ops->read(io, b, sizeof b, &got, tdsc__deadline_in(150), err),
      TDSC_E_READ_TIMEOUT);
  ck_assert_int_ge(tdsc__now_ms() - t0, 140);
  ck_assert_uint_eq(got, 0);
  const char *peer = v == VIA_TCP    ? "no data from the connection to 127.0.0.1:"
                     : v == VIA_PIPE ? "no data from the pipe "
                                     : "no data from the server (shared memory ";
  ck_assert_msg(strstr(tdsc_error_message(err), peer), "%s",
                tdsc_error_message(err));
  tdsc__err_clear(err);
  /* a deadline already past: one try, then the timeout */
  ck_assert_int_eq(io->ops->read(io, b, sizeof b, &got, tdsc__now_ms(), err),
                   TDSC_E_READ_TIMEOUT);
  tdsc__err_clear(err);

  tdsc__waker *w = tdsc__waker_new();
  ck_assert_ptr_nonnull(w);
  tdsc__io_set_wake(io, w);
  tdsc__waker_fire(w);
  t0 = tdsc__now_ms();
  ck_assert_int_eq(
      io->ops->read(io, b, sizeof b, &got, tdsc__deadline_in(5000), err),
      TDSC_E_CANCELLED);
  ck_assert_int_lt(tdsc__now_ms() - t0, 2000);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(err), "was cancelled"));
  tdsc__err_clear(err);
  /* tdsc__io_wait too; a write is never interrupted */
  ck_assert_int_eq(tdsc__io_wait(io, TDSC__WANT_READ, tdsc__deadline_in(5000),
                                 err),
                   TDSC_E_CANCELLED);
  tdsc__err_clear(err);
  /* writes go on while it is fired */
  int want = 0;
  static const uint8_t no_txn[8] = {0};
  tdsc__buf q;
  tdsc__buf_init(&q);
  ck_assert_int_eq(tdsc__sqlbatch_encode("SELECT 41 + 1", 13, no_txn, 1, &q,
                                         err),
                   TDSC_OK);
  ck_assert_int_eq(mini_send(io, TDSC__PKT_SQLBATCH, q.data, q.len,
                             tdsc__deadline_in(5000), err),
                   TDSC_OK);
  tdsc__buf_free(&q);
  tdsc__waker_clear(w);
  tdsc__buf reply;
  tdsc__buf_init(&reply);
  uint8_t type;
  ck_assert_int_eq(mini_recv(io, &reply, &type, tdsc__deadline_in(5000), err),
                   TDSC_OK);
  ck_assert_ptr_nonnull(memmem(reply.data, reply.len, row42, sizeof row42));
  tdsc__buf_free(&reply);
  /* wait only after AGAIN (shared memory's doorbell may have rung) */
  ck_assert_int_eq(tdsc__io_read_some(io, b, sizeof b, &got, &want, err),
                   TDSC__AGAIN);
  ck_assert_int_eq(tdsc__io_wait(io, want, tdsc__deadline_in(100), err),
                   TDSC_E_READ_TIMEOUT);
  tdsc__err_clear(err);
  tdsc__io_set_wake(io, NULL);
  tdsc__waker_free(w);
  assert_small_query_works(io, err);
  tdsc__io_destroy_all(io);
  err_free(err);
}
END_TEST

/* A loopback port nothing listens on (free a moment ago). */
static int free_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  return ntohs(a.sin_port);
}

/* The TCP connect by steps and poll(2) on the socket and timer given. */
START_TEST(resumable_tcp_connect_by_poll_alone) {
  tdsc_error *err = err_new();
  tdsc__opener *o = NULL;
  /* localhost: ::1 first, where nothing listens, then 127.0.0.1 */
  ck_assert_int_eq(tdsc__tcp_open("localhost", (uint16_t)g_port, NULL, 0, false,
                                  &o, err),
                   TDSC_OK);
  tdsc__io *io = NULL;
  char addr[TDSC__ADDR_TEXT_LEN];
  tdsc_errc rc;
  int64_t dl = tdsc__deadline_in(10000);
  tdsc__open_wait w;
  for (;;) {
    rc = tdsc__opener_step(o, dl, &io, addr, sizeof addr, &w, err);
    if (rc != TDSC__AGAIN)
      break;
    ck_assert(w.fd != TDSC__NO_POLLFD);
    ck_assert_int_eq(w.want, TDSC__WANT_WRITE);
    struct pollfd p = {.fd = (int)w.fd, .events = POLLOUT};
    ck_assert_int_ge(poll(&p, 1, w.timer_ms), 0);
  }
  tdsc__opener_free(o);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_message(err));
  ck_assert_ptr_nonnull(strstr(addr, "127.0.0.1:"));
  ck_assert(tdsc__io_pollfd(io) != TDSC__NO_POLLFD);
  tdsc_errc lrc = mini_login(&io, MINI_TLS_TDS7, g_cafile, "sa", "Secret1",
                             tdsc__deadline_in(10000), err);
  ck_assert_msg(lrc == TDSC_OK, "%s", tdsc_error_message(err));
  tdsc__io_destroy_all(io);

  /* nothing listening: the step ends with the connect's own failure */
  int port = free_port();
  ck_assert_int_eq(tdsc__tcp_open("127.0.0.1", (uint16_t)port, NULL, 0, false,
                                  &o, err),
                   TDSC_OK);
  for (;;) {
    rc = tdsc__opener_step(o, tdsc__deadline_in(5000), &io, NULL, 0, &w, err);
    if (rc != TDSC__AGAIN)
      break;
    struct pollfd p = {.fd = (int)w.fd, .events = POLLOUT};
    ck_assert_int_ge(poll(&p, 1, w.timer_ms), 0);
  }
  tdsc__opener_free(o);
  ck_assert_msg(rc == TDSC_E_CONN_REFUSED, "%d: %s", (int)rc,
                tdsc_error_message(err));
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(err), "refused"));
  err_free(err);
}
END_TEST

static void setup(void) {
  if (!start_server()) {
    fprintf(stderr, "check_nbio: PYTHON3/TDSC_SRCDIR/TDSC_TEST_CERTS unset\n");
    exit(77);
  }
}

static void teardown(void) { stop_server(); }

int main(void) {
  if (!getenv("PYTHON3") || !getenv("TDSC_SRCDIR") ||
      !getenv("TDSC_TEST_CERTS"))
    return 77;
  signal(SIGPIPE, SIG_IGN);
  Suite *s = suite_create("nbio");
  TCase *tc = tcase_create("server");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 120);
  tcase_add_loop_test(tc, nonblocking_reads_and_writes_under_tls, VIA_TCP,
                      VIA_SHM + 1);
  tcase_add_loop_test(tc, resumable_tls_handshake_by_poll_alone, VIA_TCP,
                      VIA_SHM + 1);
  tcase_add_loop_test(tc, blocking_read_maps_timeout_and_cancel, VIA_TCP,
                      VIA_SHM + 1);
  tcase_add_test(tc, resumable_tcp_connect_by_poll_alone);
  suite_add_tcase(s, tc);
  SRunner *r = srunner_create(s);
  srunner_run_all(r, CK_NORMAL);
  int failed = srunner_ntests_failed(r);
  srunner_free(r);
  return failed ? 1 : 0;
}
