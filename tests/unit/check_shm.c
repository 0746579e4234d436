/* Unit tests of lib/transport/shm_posix.c: the client against a server side
 * of doc/shm-protocol.md written here in C (a thread, or a forked process
 * for the tests that kill it), and against the Python test server
 * (tdsserver.py --shm) when $PYTHON3 and $TDSC_SRCDIR are set (make check
 * sets them): login and queries over the io layer with tds_mini.c, plain
 * and under TLS, since the session cannot be pointed at shm: yet. */
#include "config.h"

#include "clock.h"
#include "shm_peer.h"
#include "tds_mini.h"
#include "transport/io.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------- the protocol, server */

typedef enum {
  SRV_ECHO,        /* echo until the client goes */
  SRV_SUM,         /* read u64 n, then n bytes slowly; answer their hash */
  SRV_GEN,         /* read u64 n, then write n pattern bytes */
  SRV_STALL,       /* never touch the rings; wait for the client to go */
  SRV_BYE,         /* write "bye" and close */
  SRV_DIE,         /* (forked) set up, then SIGKILL itself after 150 ms */
  SRV_BAD_VERSION, /* answer version 2, no descriptors */
  SRV_UNSEALED     /* hand over a segment without seals */
} srv_mode;

typedef struct srv {
  int ls;
  srv_mode mode;
  uint32_t ring;
  shm_peer p; /* the connection */
} srv;

static size_t srv_read(srv *s, void *buf, size_t len) {
  return shm_peer_read(&s->p, buf, len);
}
static bool srv_write(srv *s, const void *buf, size_t len) {
  return shm_peer_write(&s->p, buf, len);
}

static tdsc_error *err_new(void) { return calloc(1, sizeof(tdsc_error)); }
static void err_free(tdsc_error *e) {
  tdsc__err_clear(e);
  free(e);
}

static char g_dir[64];
static char g_path[100];

static int listen_at(const char *path) {
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t len = strlen(path);
  ck_assert_uint_lt(len, sizeof sa.sun_path);
  memcpy(sa.sun_path, path, len + 1);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ck_assert_int_eq(listen(fd, 16), 0);
  return fd;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static uint8_t pattern(uint64_t i) { return (uint8_t)(i * 7 + 3); }

static void srv_serve(srv *s) {
  uint8_t buf[65536];
  if (!shm_peer_accept(&s->p, s->ls, s->ring,
                       s->mode == SRV_BAD_VERSION ? 2 : 1,
                       s->mode != SRV_UNSEALED)) {
    shm_peer_close(&s->p);
    return;
  }
  uint64_t n = 0;
  switch (s->mode) {
  case SRV_ECHO:
    for (size_t k; (k = srv_read(s, buf, sizeof buf)) > 0;)
      if (!srv_write(s, buf, k))
        break;
    break;
  case SRV_SUM: {
    size_t got = 0;
    while (got < 8) {
      size_t k = srv_read(s, (uint8_t *)&n + got, 8 - got);
      if (!k)
        goto out;
      got += k;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    while (n) {
      usleep(100); /* slower than the client: it meets a full ring */
      size_t k = srv_read(s, buf, n < 1024 ? n : 1024);
      if (!k)
        goto out;
      h = fnv(h, buf, k);
      n -= k;
    }
    srv_write(s, &h, sizeof h);
    srv_read(s, buf, 1); /* until the client goes */
    break;
  }
  case SRV_GEN: {
    size_t got = 0;
    while (got < 8) {
      size_t k = srv_read(s, (uint8_t *)&n + got, 8 - got);
      if (!k)
        goto out;
      got += k;
    }
    for (uint64_t i = 0; i < n;) {
      size_t k = n - i < 1000 ? (size_t)(n - i) : 1000;
      for (size_t j = 0; j < k; j++)
        buf[j] = pattern(i + j);
      if (!srv_write(s, buf, k))
        goto out;
      i += k;
    }
    srv_read(s, buf, 1);
    break;
  }
  case SRV_STALL: {
    struct pollfd p = {s->p.sock, POLLIN, 0};
    poll(&p, 1, 10000);
    break;
  }
  case SRV_BYE:
    srv_write(s, "bye", 3);
    break;
  case SRV_DIE:
    usleep(150 * 1000);
    raise(SIGKILL);
    break;
  default:
    break;
  }
out:
  shm_peer_close(&s->p);
}

static void *srv_thread(void *arg) {
  srv_serve(arg);
  return NULL;
}

/* A server thread for one connection at g_path. */
static pthread_t start_srv(srv *s, srv_mode mode, uint32_t ring_size) {
  s->ls = listen_at(g_path);
  s->mode = mode;
  s->ring = ring_size;
  pthread_t t;
  ck_assert_int_eq(pthread_create(&t, NULL, srv_thread, s), 0);
  return t;
}

static void stop_srv(srv *s, pthread_t t) {
  pthread_join(t, NULL);
  close(s->ls);
  unlink(g_path);
}

/* A server process that kills itself (SIGKILL) 150 ms after the hello. */
static pid_t start_dying_srv(uint32_t ring_size) {
  int ls = listen_at(g_path);
  pid_t pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    srv s = {.ls = ls, .mode = SRV_DIE, .ring = ring_size};
    srv_serve(&s);
    _exit(0);
  }
  close(ls);
  return pid;
}

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  for (struct dirent *e; (e = readdir(d));)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void setup(void) {
  snprintf(g_dir, sizeof g_dir, "/tmp/check_shm.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(g_dir));
  snprintf(g_path, sizeof g_path, "%s/TEST.shm", g_dir);
}

static void teardown(void) {
  unlink(g_path);
  rmdir(g_dir);
}

static tdsc__io *connect_ok(void) {
  tdsc__io *io = NULL;
  tdsc_error *err = err_new();
  tdsc_errc rc = tdsc__shm_connect(g_path, tdsc__deadline_in(5000), &io, err);
  ck_assert_msg(rc == TDSC_OK, "connect: %s", tdsc_error_message(err));
  err_free(err);
  return io;
}

/* ---------------------------------------------------------------- tests */

START_TEST(shm_echo_small_both_ways) {
  srv s;
  pthread_t t = start_srv(&s, SRV_ECHO, 256 * 1024);
  tdsc__io *io = connect_ok();
  ck_assert_str_eq(io->ops->name, "shm");
  char back[32] = {0};
  ck_assert_int_eq(
      io->ops->write(io, "SELECT 1", 8, tdsc__deadline_in(2000), NULL),
      TDSC_OK);
  ck_assert_int_eq(
      tdsc__io_read_full(io, back, 8, tdsc__deadline_in(2000), NULL), TDSC_OK);
  ck_assert_str_eq(back, "SELECT 1");
  tdsc__io_destroy_all(io);
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_echo_wraps_the_ring_many_times) {
  srv s;
  pthread_t t = start_srv(&s, SRV_ECHO, 4096);
  tdsc__io *io = connect_ok();
  uint8_t out[3001], in[3001];
  for (int round = 0; round < 500; round++) { /* ~1.5 MB through 4 KiB */
    for (size_t i = 0; i < sizeof out; i++)
      out[i] = (uint8_t)(round + i);
    ck_assert_int_eq(
        io->ops->write(io, out, sizeof out, tdsc__deadline_in(2000), NULL),
        TDSC_OK);
    ck_assert_int_eq(
        tdsc__io_read_full(io, in, sizeof in, tdsc__deadline_in(2000), NULL),
        TDSC_OK);
    ck_assert(memcmp(in, out, sizeof in) == 0);
  }
  tdsc__io_destroy_all(io);
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_full_ring_blocks_the_writer_until_the_reader_frees_space) {
  srv s;
  pthread_t t = start_srv(&s, SRV_SUM, 4096);
  tdsc__io *io = connect_ok();
  size_t n = 1 << 20;
  uint8_t *big = malloc(8 + n);
  uint64_t n64 = n;
  memcpy(big, &n64, 8);
  for (size_t i = 0; i < n; i++)
    big[8 + i] = (uint8_t)(i * 31 + 7);
  /* One write of 1 MiB through a 4 KiB ring the server drains slowly. */
  ck_assert_int_eq(
      io->ops->write(io, big, 8 + n, tdsc__deadline_in(20000), NULL), TDSC_OK);
  uint64_t h = 0;
  ck_assert_int_eq(tdsc__io_read_full(io, &h, 8, tdsc__deadline_in(5000), NULL),
                   TDSC_OK);
  ck_assert(h == fnv(0xcbf29ce484222325ull, big + 8, n));
  free(big);
  tdsc__io_destroy_all(io);
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_reader_wakes_a_writer_blocked_on_a_full_ring) {
  srv s;
  pthread_t t = start_srv(&s, SRV_GEN, 4096);
  tdsc__io *io = connect_ok();
  uint64_t n = 3u << 20;
  ck_assert_int_eq(io->ops->write(io, &n, 8, tdsc__deadline_in(2000), NULL),
                   TDSC_OK);
  uint8_t buf[777];
  for (uint64_t i = 0; i < n;) {
    size_t got = 0;
    size_t want = n - i < sizeof buf ? (size_t)(n - i) : sizeof buf;
    ck_assert_int_eq(
        io->ops->read(io, buf, want, &got, tdsc__deadline_in(5000), NULL),
        TDSC_OK);
    for (size_t j = 0; j < got; j++)
      ck_assert_uint_eq(buf[j], pattern(i + j));
    i += got;
  }
  tdsc__io_destroy_all(io);
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_silent_server_is_a_read_timeout) {
  srv s;
  pthread_t t = start_srv(&s, SRV_STALL, 4096);
  tdsc__io *io = connect_ok();
  tdsc_error *err = err_new();
  char b;
  size_t got;
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(io->ops->read(io, &b, 1, &got, tdsc__deadline_in(200), err),
                   TDSC_E_READ_TIMEOUT);
  int64_t ms = tdsc__now_ms() - t0;
  ck_assert_msg(ms >= 150 && ms < 1500, "took %lld ms", (long long)ms);
  err_free(err);
  tdsc__io_destroy_all(io);
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_full_ring_nobody_reads_is_a_timeout_not_a_hang) {
  srv s;
  pthread_t t = start_srv(&s, SRV_STALL, 4096);
  tdsc__io *io = connect_ok();
  tdsc_error *err = err_new();
  static uint8_t big[65536];
  int64_t t0 = tdsc__now_ms();
  ck_assert_int_eq(
      io->ops->write(io, big, sizeof big, tdsc__deadline_in(200), err),
      TDSC_E_READ_TIMEOUT);
  int64_t ms = tdsc__now_ms() - t0;
  ck_assert_msg(ms >= 150 && ms < 1500, "took %lld ms", (long long)ms);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(err), "did not accept data"));
  err_free(err);
  tdsc__io_destroy_all(io);
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_server_killed_mid_read_is_seen_at_once) {
  pid_t pid = start_dying_srv(4096);
  tdsc__io *io = connect_ok();
  tdsc_error *err = err_new();
  char b;
  size_t got;
  int64_t t0 = tdsc__now_ms();
  tdsc_errc rc = io->ops->read(io, &b, 1, &got, tdsc__deadline_in(10000), err);
  int64_t ms = tdsc__now_ms() - t0;
  ck_assert_msg(rc == TDSC_E_CONN_CLOSED || rc == TDSC_E_CONN_RESET,
                "rc %d: %s", (int)rc, tdsc_error_message(err));
  ck_assert_msg(ms < 2000, "took %lld ms (the deadline was 10 s)",
                (long long)ms);
  int st;
  waitpid(pid, &st, 0);
  ck_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  err_free(err);
  tdsc__io_destroy_all(io);
}
END_TEST

START_TEST(shm_server_killed_mid_write_is_a_reset_not_a_hang) {
  pid_t pid = start_dying_srv(4096);
  tdsc__io *io = connect_ok();
  tdsc_error *err = err_new();
  static uint8_t big[1 << 20];
  int64_t t0 = tdsc__now_ms();
  tdsc_errc rc =
      io->ops->write(io, big, sizeof big, tdsc__deadline_in(10000), err);
  int64_t ms = tdsc__now_ms() - t0;
  ck_assert_msg(rc == TDSC_E_CONN_RESET, "rc %d: %s", (int)rc,
                tdsc_error_message(err));
  ck_assert_msg(ms < 2000, "took %lld ms (the deadline was 10 s)",
                (long long)ms);
  int st;
  waitpid(pid, &st, 0);
  err_free(err);
  tdsc__io_destroy_all(io);
}
END_TEST

START_TEST(shm_data_sent_before_close_is_delivered_then_closed) {
  srv s;
  pthread_t t = start_srv(&s, SRV_BYE, 4096);
  tdsc__io *io = connect_ok();
  pthread_join(t, NULL); /* the server has written and closed everything */
  char b[8] = {0};
  tdsc_error *err = err_new();
  ck_assert_int_eq(tdsc__io_read_full(io, b, 3, tdsc__deadline_in(2000), err),
                   TDSC_OK);
  ck_assert_str_eq(b, "bye");
  size_t got;
  ck_assert_int_eq(io->ops->read(io, b, 1, &got, tdsc__deadline_in(2000), err),
                   TDSC_E_CONN_CLOSED);
  err_free(err);
  tdsc__io_destroy_all(io);
  close(s.ls);
  unlink(g_path);
}
END_TEST

static void expect_connect_fails(tdsc_errc want, const char *fact) {
  tdsc__io *io = (tdsc__io *)1;
  tdsc_error *err = err_new();
  ck_assert_int_eq(tdsc__shm_connect(g_path, tdsc__deadline_in(2000), &io, err),
                   want);
  ck_assert_ptr_null(io);
  ck_assert_msg(strstr(tdsc_error_message(err), fact), "message: %s",
                tdsc_error_message(err));
  err_free(err);
}

START_TEST(shm_other_protocol_version_is_a_clean_protocol_error) {
  srv s;
  pthread_t t = start_srv(&s, SRV_BAD_VERSION, 4096);
  expect_connect_fails(TDSC_E_PROTOCOL, "version 2");
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_unsealed_segment_is_refused) {
  srv s;
  pthread_t t = start_srv(&s, SRV_UNSEALED, 4096);
  expect_connect_fails(TDSC_E_PROTOCOL, "sealed");
  stop_srv(&s, t);
}
END_TEST

START_TEST(shm_missing_path_is_shm_not_found) {
  expect_connect_fails(TDSC_E_SHM_NOT_FOUND, "no such file");
}
END_TEST

START_TEST(shm_stale_socket_file_is_shm_not_found) {
  int ls = listen_at(g_path);
  close(ls); /* the file stays, nobody listens: a dead server's leftover */
  expect_connect_fails(TDSC_E_SHM_NOT_FOUND, "stale");
  unlink(g_path);
}
END_TEST

/* The opener never waits: a server that takes the connection but does
 * not answer the hello leaves the step waiting for the rendezvous socket
 * to be readable; past the deadline the step fails with READ_TIMEOUT.
 * (tdsc__shm_connect used to wait for the answer inside the connect.) */
START_TEST(shm_open_waits_for_the_answer_between_steps) {
  int ls = listen_at(g_path); /* listens, never accepts nor answers */
  tdsc_error *err = err_new();
  tdsc__opener *o = NULL;
  ck_assert_int_eq(tdsc__shm_open(g_path, &o, err), TDSC_OK);
  tdsc__io *io = NULL;
  tdsc__open_wait w;
  /* a deadline far off: a step that waited for the answer would not
   * come back before it, and then with READ_TIMEOUT */
  ck_assert_int_eq(
      tdsc__opener_step(o, tdsc__deadline_in(60000), &io, NULL, 0, &w, err),
      TDSC__AGAIN);
  ck_assert_ptr_null(io);
  ck_assert_int_eq(w.want, TDSC__WANT_READ);
  ck_assert(w.fd != TDSC__NO_POLLFD);
  int domain = 0;
  socklen_t dl = sizeof domain;
  ck_assert_int_eq(getsockopt((int)w.fd, SOL_SOCKET, SO_DOMAIN, &domain, &dl),
                   0);
  ck_assert_int_eq(domain, AF_UNIX);
  struct pollfd p = {.fd = (int)w.fd, .events = POLLIN};
  ck_assert_int_eq(poll(&p, 1, 0), 0); /* nothing to read: truly waiting */
  ck_assert_int_eq(
      tdsc__opener_step(o, tdsc__now_ms() - 1, &io, NULL, 0, &w, err),
      TDSC_E_READ_TIMEOUT);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(err),
                               "did not answer the shared-memory hello"));
  tdsc__opener_free(o);
  err_free(err);
  close(ls);
  unlink(g_path);
}
END_TEST

START_TEST(shm_connect_close_cycles_leak_no_descriptors) {
  int before = count_fds();
  for (int i = 0; i < 200; i++) {
    srv s;
    pthread_t t = start_srv(&s, SRV_ECHO, 4096);
    tdsc__io *io = connect_ok();
    char b[4];
    ck_assert_int_eq(
        io->ops->write(io, "ping", 4, tdsc__deadline_in(2000), NULL), TDSC_OK);
    ck_assert_int_eq(
        tdsc__io_read_full(io, b, 4, tdsc__deadline_in(2000), NULL), TDSC_OK);
    tdsc__io_destroy_all(io);
    stop_srv(&s, t);
  }
  for (int i = 0; i < 50; i++) { /* and the failure paths */
    srv s;
    pthread_t t = start_srv(&s, i % 2 ? SRV_BAD_VERSION : SRV_UNSEALED, 4096);
    expect_connect_fails(TDSC_E_PROTOCOL, "");
    stop_srv(&s, t);
    expect_connect_fails(TDSC_E_SHM_NOT_FOUND, "");
  }
  ck_assert_int_eq(count_fds(), before);
}
END_TEST

/* ------------------------------------------- against the Python server */

static pid_t g_py = -1;
static char g_db[160], g_pypath[160], g_cafile[256];

/* Starts tdsserver.py --shm; false (test skipped) without its environment. */
static bool start_python(const char *extra) {
  const char *py = getenv("PYTHON3"), *src = getenv("TDSC_SRCDIR"),
             *certs = getenv("TDSC_TEST_CERTS");
  if (!py || !src || !certs)
    return false;
  snprintf(g_db, sizeof g_db, "%s/t.sqlite", g_dir);
  snprintf(g_pypath, sizeof g_pypath, "%s/PY.shm", g_dir);
  snprintf(g_cafile, sizeof g_cafile, "%s/ca.pem", certs);
  char cmd[2048];
  snprintf(cmd, sizeof cmd,
           "exec %s %s/tests/server/tdsserver.py --port 0 --db %s --init "
           "%s/tests/server/sample.sql --user sa:Secret1 --cert "
           "%s/server.pem --key %s/server.key --shm %s %s",
           py, src, g_db, src, certs, certs, g_pypath, extra);
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
  ck_assert_msg(strncmp(ready, "READY", 5) == 0, "server said '%s'", ready);
  return true;
}

static void stop_python(void) {
  if (g_py > 0) {
    kill(g_py, SIGTERM);
    waitpid(g_py, NULL, 0);
  }
  g_py = -1;
  unlink(g_db);
}

static void python_query(mini_tls tls) {
  if (!start_python("--encryption off")) {
    fprintf(stderr, "check_shm: PYTHON3/TDSC_SRCDIR/TDSC_TEST_CERTS unset, "
                    "Python server test skipped\n");
    return;
  }
  int before = count_fds();
  tdsc_error *err = err_new();
  int64_t dl = tdsc__deadline_in(10000);
  tdsc__io *io = NULL;
  tdsc_errc rc = tdsc__shm_connect(g_pypath, dl, &io, err);
  if (rc == TDSC_OK)
    rc = mini_login(&io, tls, g_cafile, "sa", "Secret1", dl, err);
  tdsc__buf out;
  tdsc__buf_init(&out);
  if (rc == TDSC_OK)
    rc = mini_query(io, "SELECT 41 + 1 AS answer", &out, dl, err);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_message(err));
  /* COLMETADATA, one INT4 row holding 42, DONE */
  ck_assert_uint_eq(out.data[0], 0x81);
  static const uint8_t row[] = {0xD1, 4, 42, 0, 0, 0}; /* INTN(4) 42 */
  ck_assert_msg(memmem(out.data, out.len, row, sizeof row),
                "no row with 42 in %zu bytes", out.len);
  /* and a large result: more than the 256 KiB ring */
  rc =
      mini_query(io,
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM "
                 "n WHERE i < 20000) SELECT i, 'row number ' || i FROM n",
                 &out, dl, err);
  ck_assert_msg(rc == TDSC_OK, "%s", tdsc_error_message(err));
  ck_assert_uint_gt(out.len, 300000);
  tdsc__buf_free(&out);
  tdsc__io_destroy_all(io);
  err_free(err);
  ck_assert_int_eq(count_fds(), before);
  stop_python();
}

START_TEST(shm_python_server_login_and_query_in_clear) {
  python_query(MINI_TLS_NONE);
}
END_TEST

START_TEST(shm_python_server_login_and_query_under_tds7_tls) {
  python_query(MINI_TLS_TDS7);
}
END_TEST

START_TEST(shm_python_server_login_and_query_under_strict_tls) {
  python_query(MINI_TLS_STRICT);
}
END_TEST

static Suite *shm_suite(void) {
  Suite *s = suite_create("shm");
  TCase *tc = tcase_create("protocol");
  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, shm_echo_small_both_ways);
  tcase_add_test(tc, shm_echo_wraps_the_ring_many_times);
  tcase_add_test(tc,
                 shm_full_ring_blocks_the_writer_until_the_reader_frees_space);
  tcase_add_test(tc, shm_reader_wakes_a_writer_blocked_on_a_full_ring);
  tcase_add_test(tc, shm_silent_server_is_a_read_timeout);
  tcase_add_test(tc, shm_full_ring_nobody_reads_is_a_timeout_not_a_hang);
  tcase_add_test(tc, shm_server_killed_mid_read_is_seen_at_once);
  tcase_add_test(tc, shm_server_killed_mid_write_is_a_reset_not_a_hang);
  tcase_add_test(tc, shm_data_sent_before_close_is_delivered_then_closed);
  tcase_add_test(tc, shm_other_protocol_version_is_a_clean_protocol_error);
  tcase_add_test(tc, shm_unsealed_segment_is_refused);
  tcase_add_test(tc, shm_missing_path_is_shm_not_found);
  tcase_add_test(tc, shm_stale_socket_file_is_shm_not_found);
  tcase_add_test(tc, shm_connect_close_cycles_leak_no_descriptors);
  tcase_add_test(tc, shm_open_waits_for_the_answer_between_steps);
  suite_add_tcase(s, tc);
  TCase *py = tcase_create("python-server");
  tcase_add_checked_fixture(py, setup, teardown);
  tcase_set_timeout(py, 60);
  tcase_add_test(py, shm_python_server_login_and_query_in_clear);
  tcase_add_test(py, shm_python_server_login_and_query_under_tds7_tls);
  tcase_add_test(py, shm_python_server_login_and_query_under_strict_tls);
  suite_add_tcase(s, py);
  return s;
}

int main(void) {
  SRunner *sr = srunner_create(shm_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
