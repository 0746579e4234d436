/* Fuzz target: a whole session through the public API (include/
 * tdsclient.h) against an in-process server that serves the fuzzer's
 * bytes.  The server is a thread on an AF_UNIX socket (a named pipe on
 * POSIX, Server=np:/path): it answers PRELOGIN with ENCRYPT_NOT_SUP
 * (Encrypt=off, SQL login: no TLS anywhere), the LOGIN7 with a short
 * scripted login reply, the first request with the input; the stage the
 * input replaces can be an earlier one.  The client connects, runs one
 * request and reads every result, row and column the way the flags say.
 *
 * Input: flags, size, then the reply bytes.
 *   flags bits 0-1: which reply is the input: 0 the first request's
 *     (a SQL batch), 1 the login reply, 2 the PRELOGIN reply, 3 the first
 *     request's, the request being an RPC with an output parameter;
 *   bit 2: the bytes are packets as on the wire (headers included);
 *     otherwise the server cuts them into packets of (size + 1) * 16 bytes
 *     of payload (type REPLY, EOM on the last);
 *   bits 3-4: how values are read: 0 every getter, 1 tdsc_result_read in
 *     pieces then every getter, 2 tdsc_result_is_null only, 3 none;
 *   bit 5: tdsc_result_next_set straight after the first row.
 * After its bytes the server half-closes the connection: a reply cut short
 * meets the end of the stream, never a wait. */
#include "config.h"

#include "fuzz.h"
#include "tdsclient.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

enum { ST_QUERY = 0, ST_LOGIN = 1, ST_PRELOGIN = 2, ST_RPC = 3 };

typedef struct {
  uint8_t *data;
  size_t len, cap;
} tdsc__script_t;

static void put(tdsc__script_t *b, const void *p, size_t n) {
  if (b->len + n > b->cap) {
    size_t cap = (b->len + n) * 2;
    uint8_t *d = realloc(b->data, cap);
    FUZZ_CHECK(d);
    b->data = d;
    b->cap = cap;
  }
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
}

/* The server: a thread that accepts one connection at a time and sends
 * it the script prepared for it (every reply at once: the client reads
 * each only after its request, so the whole exchange costs one thread
 * switch, not one per message). */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int lfd;
  char dir[64], path[80];
  tdsc__script_t script; /* the next connection's, taken at accept */
  unsigned accepted, served;
} srv = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, "", "",
         {NULL, 0, 0}, 0, 0};

static bool wait_fd(int fd, short ev) {
  struct pollfd p = {fd, ev, 0};
  return poll(&p, 1, 5000) == 1;
}

static bool send_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    if (!wait_fd(fd, POLLOUT))
      return false;
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return false;
    p += w;
    n -= (size_t)w;
  }
  return true;
}

/* Appends payload as one message of packets with payload_max bytes each
 * (type REPLY, EOM on the last). */
static void frame(tdsc__script_t *b, const uint8_t *p, size_t n,
                  size_t payload_max) {
  uint8_t id = 1;
  do {
    size_t k = n < payload_max ? n : payload_max;
    uint8_t h[8] = {0x04, k == n ? 1 : 0, (uint8_t)((k + 8) >> 8),
                    (uint8_t)(k + 8), 0, 51, id++, 0};
    put(b, h, 8);
    put(b, p, k);
    p += k;
    n -= k;
  } while (n);
}

/* MS-TDS 2.2.6.5: VERSION 16.0.1000, ENCRYPTION NOT_SUP, THREADID 0, MARS
 * off. */
static const uint8_t prelogin_reply[] = {
    0x00, 0x00, 0x15, 0x00, 0x06, 0x01, 0x00, 0x1b, 0x00, 0x01, 0x03,
    0x00, 0x1c, 0x00, 0x04, 0x04, 0x00, 0x20, 0x00, 0x01, 0xff, 0x10,
    0x00, 0x03, 0xe8, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00};

/* ENVCHANGE collation (SQL_Latin1_General_CP1_CI_AS), LOGINACK TDS 7.4
 * "S" 16.0.1000, ENVCHANGE packet size 4096, DONE. */
static const uint8_t login_reply[] = {
    0xe3, 0x08, 0x00, 0x07, 0x05, 0x09, 0x04, 0xd0, 0x00, 0x34, 0x00,
    0xad, 0x0c, 0x00, 0x01, 0x74, 0x00, 0x00, 0x04, 0x01, 'S',  0x00,
    0x10, 0x00, 0x03, 0xe8,
    0xe3, 0x13, 0x00, 0x04, 0x04, '4',  0x00, '0',  0x00, '9',  0x00,
    '6',  0x00, 0x04, '4',  0x00, '0',  0x00, '9',  0x00, '6',  0x00,
    0xfd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00};

/* The script for one input: the scripted replies before the stage the
 * input replaces, then the input (framed unless it has its headers). */
static void build_script(tdsc__script_t *b, const uint8_t *data,
                         size_t size) {
  int stage = data[0] & 3;
  if (stage != ST_PRELOGIN)
    frame(b, prelogin_reply, sizeof prelogin_reply, 4096);
  if (stage == ST_QUERY || stage == ST_RPC)
    frame(b, login_reply, sizeof login_reply, 4096);
  if (data[0] & 4)
    put(b, data + 2, size - 2);
  else
    frame(b, data + 2, size - 2, ((size_t)data[1] + 1) * 16);
}

static void *server_main(void *arg) {
  (void)arg;
  for (;;) {
    int fd = accept(srv.lfd, NULL, NULL);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      perror("fuzz_session: accept");
      abort();
    }
    pthread_mutex_lock(&srv.mu);
    srv.accepted++;
    tdsc__script_t sc = srv.script;
    srv.script.data = NULL;
    pthread_mutex_unlock(&srv.mu);
    if (sc.data)
      send_all(fd, sc.data, sc.len);
    free(sc.data);
    /* The end of the stream after the replies; then wait for the client to
     * let go (its requests and any ATTENTION are read and dropped). */
    shutdown(fd, SHUT_WR);
    uint8_t sink[4096];
    while (wait_fd(fd, POLLIN) && recv(fd, sink, sizeof sink, 0) > 0)
      ;
    close(fd);
    pthread_mutex_lock(&srv.mu);
    srv.served++;
    pthread_cond_broadcast(&srv.cv);
    pthread_mutex_unlock(&srv.mu);
  }
  return NULL;
}

static void cleanup(void) {
  if (srv.path[0])
    unlink(srv.path);
  if (srv.dir[0])
    rmdir(srv.dir);
}

static void start_server(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(srv.dir, sizeof srv.dir, "%s/tdsc-fuzz-XXXXXX",
           tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
  if (!mkdtemp(srv.dir)) {
    perror("fuzz_session: mkdtemp");
    abort();
  }
  snprintf(srv.path, sizeof srv.path, "%s/s", srv.dir);
  atexit(cleanup);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  snprintf(a.sun_path, sizeof a.sun_path, "%s", srv.path);
  srv.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&a, sizeof a) ||
      listen(srv.lfd, 4)) {
    perror("fuzz_session: listen");
    abort();
  }
  pthread_t t;
  if (pthread_create(&t, NULL, server_main, NULL)) {
    fputs("fuzz_session: pthread_create failed\n", stderr);
    abort();
  }
  pthread_detach(t);
}

/* ------------------------------------------------------------ the client */

static void check_error(tdsc_conn *c) {
  const tdsc_error *e = tdsc_conn_error(c);
  FUZZ_CHECK(e && tdsc_error_code(e) != TDSC_OK);
  const char *m = tdsc_error_message(e);
  FUZZ_CHECK(m && *m);
  if (getenv("FUZZ_VERBOSE")) /* what an input meets, for its author */
    fprintf(stderr, "fuzz_session: %s: %s\n",
            tdsc_errc_name(tdsc_error_code(e)), m);
  fuzz_touch(m, strlen(m));
  const char *rep = tdsc_error_report(e);
  if (rep)
    fuzz_touch(rep, strlen(rep));
}

static void read_values(tdsc_result *r, int mode) {
  size_t n = tdsc_result_column_count(r);
  for (size_t i = 0; i < n; i++) {
    bool null;
    if (mode == 2) {
      (void)tdsc_result_is_null(r, i, &null);
      continue;
    }
    if (mode == 1) {
      uint8_t piece[7];
      size_t got, total = 0;
      while (tdsc_result_read(r, i, piece, sizeof piece, &got) == TDSC_OK &&
             got && total < (64u << 20))
        total += got;
    }
    int64_t i64;
    double d;
    const char *text;
    size_t len;
    const uint8_t *bytes;
    tdsc_decimal dec;
    tdsc_datetime dt;
    uint8_t guid[16];
    (void)tdsc_result_is_null(r, i, &null);
    (void)tdsc_result_get_int64(r, i, &i64);
    (void)tdsc_result_get_double(r, i, &d);
    if (tdsc_result_get_text(r, i, &text, &len) == TDSC_OK) {
      FUZZ_CHECK(text[len] == 0);
      fuzz_touch(text, len);
    }
    if (tdsc_result_get_bytes(r, i, &bytes, &len) == TDSC_OK && len)
      fuzz_touch(bytes, len);
    (void)tdsc_result_get_decimal(r, i, &dec);
    (void)tdsc_result_get_datetime(r, i, &dt);
    (void)tdsc_result_get_guid(r, i, guid);
  }
}

static void read_result(tdsc_conn *c, tdsc_result *r, uint8_t flags) {
  int mode = flags >> 3 & 3;
  unsigned errors = 0;
  for (unsigned sets = 0; sets < 100000; sets++) {
    tdsc_step st = tdsc_result_next_set(r);
    if (st == TDSC_STEP_END)
      return;
    if (st == TDSC_STEP_ERROR) {
      check_error(c);
      if (++errors > 64 || !tdsc_conn_is_connected(c))
        return;
      continue;
    }
    FUZZ_CHECK(st == TDSC_STEP_RESULT);
    size_t n = tdsc_result_column_count(r);
    (void)tdsc_result_kind_of(r);
    for (size_t i = 0; i < n; i++) {
      const tdsc_column *col = tdsc_result_column(r, i);
      FUZZ_CHECK(col);
      const char *name = tdsc_column_name(col);
      fuzz_touch(name, strlen(name));
      (void)tdsc_type_name(tdsc_column_type(col));
      (void)tdsc_column_max_size(col);
      (void)tdsc_column_precision(col);
      (void)tdsc_column_scale(col);
      (void)tdsc_column_nullable(col);
    }
    FUZZ_CHECK(!tdsc_result_column(r, n));
    for (unsigned rows = 0;; rows++) {
      st = tdsc_result_next_row(r);
      if (st == TDSC_STEP_ERROR)
        check_error(c);
      if (st != TDSC_STEP_ROW)
        break;
      if (mode != 3)
        read_values(r, mode);
      if (flags & 0x20)
        break;
    }
    (void)tdsc_result_rows_affected(r);
    int32_t status;
    (void)tdsc_result_return_status(r, &status);
  }
}

static void message_handler(void *ud, const tdsc_message *m) {
  (void)ud;
  const char *t = tdsc_message_text(m);
  if (t)
    fuzz_touch(t, strlen(t));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2)
    return 0;
  tdsc__script_t sc = {NULL, 0, 0};
  build_script(&sc, data, size);
  pthread_mutex_lock(&srv.mu);
  if (srv.lfd < 0)
    start_server();
  srv.script = sc;
  unsigned before = srv.accepted;
  pthread_mutex_unlock(&srv.mu);

  char connstr[256];
  snprintf(connstr, sizeof connstr,
           "Server=np:%s;UID=sa;PWD=Secret1;Encrypt=off;"
           "Authentication=sql;LoginTimeout=10;TrustServerCertificate=yes",
           srv.path);
  tdsc_conn *c = tdsc_conn_new();
  FUZZ_CHECK(c);
  tdsc_conn_set_message_handler(c, message_handler, NULL);
  if (tdsc_conn_connect(c, connstr) != TDSC_OK) {
    check_error(c);
    /* the scripted replies log in */
    FUZZ_CHECK((data[0] & 3) == ST_LOGIN || (data[0] & 3) == ST_PRELOGIN);
    goto done;
  }
  /* after a login reply that succeeds (ST_LOGIN), the request meets the
   * end of the stream */
  tdsc_result *r = NULL;
  tdsc_stmt *s = NULL;
  tdsc_errc rc;
  if ((data[0] & 3) == ST_RPC) {
    s = tdsc_stmt_new_proc(c, "p");
    FUZZ_CHECK(s);
    FUZZ_CHECK(tdsc_stmt_bind_int64(s, "@a", TDSC_TYPE_INT, 1) == TDSC_OK);
    FUZZ_CHECK(tdsc_stmt_bind_text(s, "@b", TDSC_TYPE_NVARCHAR, "x", 1) ==
               TDSC_OK);
    FUZZ_CHECK(tdsc_stmt_set_output(s, "@b") == TDSC_OK);
    rc = tdsc_stmt_execute(s, &r);
  } else {
    rc = tdsc_conn_execute(c, "SELECT 1", &r);
  }
  if (rc != TDSC_OK)
    check_error(c);
  else
    read_result(c, r, data[0]);
  tdsc_result_free(r);
  tdsc_stmt_free(s);
done:
  tdsc_conn_free(c);
  /* The server is done with this connection before the next input. */
  pthread_mutex_lock(&srv.mu);
  while (srv.served != srv.accepted || srv.accepted == before)
    pthread_cond_wait(&srv.cv, &srv.mu);
  pthread_mutex_unlock(&srv.mu);
  return 0;
}
