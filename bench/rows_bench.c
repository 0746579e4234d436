/* Results through tdsclient (public API) and FreeTDS db-lib, side by side,
 * against bench/fastsrv: the same bytes from the same server for both.
 *
 *   rows_bench -p PORT [-n ROWS] [-r ROUNDS] [-s PACKETSIZE] [-b MIB]
 *       runs every workload for both clients interleaved (round after
 *       round, the clients alternating) and prints medians and ratios;
 *   rows_bench -p PORT -c tdsc|dblib|raw -w WORKLOAD [-n ROWS] [-s ...]
 *       runs one workload once (for callgrind: only the measured part is
 *       collected, see bench/bench.sh) and prints "rows N".
 *
 * Workloads: typed (1M mixed rows, every column through the typed
 * getters / dbbind with date cracking), iterate (the same rows, no
 * getters), select1 (SELECT 1 round trips), blob (a varbinary(max) read
 * in 64 KiB pieces; "raw" reads the same response with recv and no
 * decoding).  CPU time is user + system (getrusage): wall time on a shared
 * machine is noise. */
#include "benchkit.h"

#include <tdsclient.h>

#ifdef HAVE_SYBDB_BENCH
#include <sybdb.h>
#endif

#include <valgrind/callgrind.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int port;
static unsigned long rows = 1000000;
static unsigned psize = 4096;
static unsigned long blob_mib = 256;
static unsigned long sink; /* keeps the compiler from dropping reads */

static void die(const char *what) {
  fprintf(stderr, "rows_bench: %s\n", what);
  exit(1);
}

/* ---------------------------------------------------------- tdsclient */

static tdsc_conn *tdsc_open(void) {
  char cs[256];
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1,%d;UID=bench;PWD=bench;Encrypt=off;"
           "PacketSize=%u;Authentication=sql",
           port, psize);
  tdsc_conn *c = tdsc_conn_new();
  if (!c || tdsc_conn_connect(c, cs) != TDSC_OK) {
    fprintf(stderr, "%s\n", c ? tdsc_error_message(tdsc_conn_error(c)) : "");
    die("tdsclient: connect");
  }
  return c;
}

static tdsc_result *tdsc_query(tdsc_conn *c, const char *sql) {
  tdsc_result *r;
  if (tdsc_conn_execute(c, sql, &r) != TDSC_OK ||
      tdsc_result_next_set(r) != TDSC_STEP_RESULT)
    die("tdsclient: execute");
  return r;
}

static unsigned long tdsc_rows(tdsc_conn *c, const char *sql, bool typed) {
  tdsc_result *r = tdsc_query(c, sql);
  unsigned long n = 0;
  tdsc_step s;
  while ((s = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
    n++;
    if (!typed)
      continue;
    bool null;
    int64_t i64;
    double d;
    const char *t;
    size_t len;
    tdsc_decimal dec;
    tdsc_datetime dt;
    uint8_t g[16];
    const uint8_t *b;
    for (size_t col = 0; col < 9; col++) {
      if (tdsc_result_is_null(r, col, &null) != TDSC_OK)
        die("tdsclient: is_null");
      if (null)
        continue;
      tdsc_errc rc;
      switch (col) {
      case 0: case 1: case 6:
        rc = tdsc_result_get_int64(r, col, &i64), sink += (unsigned long)i64;
        break;
      case 2:
        rc = tdsc_result_get_text(r, col, &t, &len), sink += len;
        break;
      case 3:
        rc = tdsc_result_get_decimal(r, col, &dec), sink += dec.magnitude[0];
        break;
      case 4:
        rc = tdsc_result_get_datetime(r, col, &dt), sink += dt.day;
        break;
      case 5:
        rc = tdsc_result_get_double(r, col, &d), sink += (unsigned long)d;
        break;
      case 7:
        rc = tdsc_result_get_guid(r, col, g), sink += g[0];
        break;
      default:
        rc = tdsc_result_get_bytes(r, col, &b, &len), sink += len;
      }
      if (rc != TDSC_OK) {
        fprintf(stderr, "column %zu: %s\n", col,
                tdsc_error_message(tdsc_conn_error(c)));
        die("tdsclient: getter");
      }
    }
  }
  if (s != TDSC_STEP_END)
    die("tdsclient: next_row");
  tdsc_result_free(r);
  return n;
}

static unsigned long tdsc_blob(tdsc_conn *c, const char *sql) {
  static uint8_t buf[65536];
  tdsc_result *r = tdsc_query(c, sql);
  unsigned long total = 0;
  if (tdsc_result_next_row(r) != TDSC_STEP_ROW)
    die("tdsclient: blob row");
  for (;;) {
    size_t got;
    if (tdsc_result_read(r, 0, buf, sizeof buf, &got) != TDSC_OK)
      die("tdsclient: read");
    if (!got)
      break;
    total += got;
    sink += buf[got - 1];
  }
  tdsc_result_free(r);
  return total;
}

/* ---------------------------------------------------------- db-lib */

#ifdef HAVE_SYBDB_BENCH
static DBPROCESS *dblib_open(void) {
  bench_dblib_init();
  LOGINREC *l = dblogin();
  DBSETLUSER(l, "bench");
  DBSETLPWD(l, "bench");
  DBSETLPACKET(l, (int)psize);
  dbsetlversion(l, DBVERSION_74);
  char srv[64];
  snprintf(srv, sizeof srv, "127.0.0.1:%d", port);
  DBPROCESS *d = dbopen(l, srv);
  dbloginfree(l);
  if (!d)
    die("db-lib: dbopen");
  return d;
}

static unsigned long dblib_rows(DBPROCESS *d, const char *sql, bool typed) {
  if (dbcmd(d, sql) == FAIL || dbsqlexec(d) == FAIL ||
      dbresults(d) != SUCCEED)
    die("db-lib: execute");
  DBINT i, ind[9];
  DBBIGINT big;
  char name[256];
  DBDECIMAL dec;
  DBDATETIMEALL dt;
  DBFLT8 f;
  DBBIT bit;
  BYTE guid[16];
  DBVARYBIN vb;
  if (typed) {
    int ok = dbbind(d, 1, INTBIND, 0, (BYTE *)&i) &&
             dbbind(d, 2, BIGINTBIND, 0, (BYTE *)&big) &&
             dbbind(d, 3, NTBSTRINGBIND, sizeof name, (BYTE *)name) &&
             dbbind(d, 4, DECIMALBIND, 0, (BYTE *)&dec) &&
             dbbind(d, 5, DATETIME2BIND, 0, (BYTE *)&dt) &&
             dbbind(d, 6, FLT8BIND, 0, (BYTE *)&f) &&
             dbbind(d, 7, BITBIND, 0, (BYTE *)&bit) &&
             dbbind(d, 8, BINARYBIND, sizeof guid, guid) &&
             dbbind(d, 9, VARYBINBIND, sizeof vb, (BYTE *)&vb);
    for (int k = 0; ok && k < 9; k++)
      ok = dbnullbind(d, k + 1, &ind[k]) == SUCCEED;
    if (!ok)
      die("db-lib: dbbind");
  }
  unsigned long n = 0;
  RETCODE rc;
  while ((rc = dbnextrow(d)) == REG_ROW) {
    n++;
    if (!typed)
      continue;
    if (ind[4] != -1) {
      DBDATEREC2 rec;
      if (dbanydatecrack(d, &rec, SYBMSDATETIME2, &dt) != SUCCEED)
        die("db-lib: dbanydatecrack");
      sink += (unsigned long)rec.datedmonth;
    }
    sink += (unsigned long)i + (unsigned long)big + strlen(name) + dec.array[1] +
            (unsigned long)f + bit + guid[0] + vb.len;
  }
  if (rc != NO_MORE_ROWS)
    die("db-lib: dbnextrow");
  while (dbresults(d) == SUCCEED)
    ;
  return n;
}
#endif

/* ---------------------------------------------------------- raw */

/* The same response as tdsc_blob, read with recv into a 64 KiB buffer,
 * only the packet headers looked at (to find the end): what a client that
 * did no work at all would cost. */
static int raw_open(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET,
                          .sin_port = htons((uint16_t)port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(s, (struct sockaddr *)&a, sizeof a))
    die("raw: connect");
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return s;
}

static void raw_send(int s, uint8_t type, const uint8_t *p, size_t n) {
  uint8_t pkt[4096];
  pkt[0] = type, pkt[1] = 1, pkt[2] = (uint8_t)((n + 8) >> 8);
  pkt[3] = (uint8_t)(n + 8), pkt[4] = pkt[5] = 0, pkt[6] = 1, pkt[7] = 0;
  memcpy(pkt + 8, p, n);
  if (write(s, pkt, n + 8) != (ssize_t)(n + 8))
    die("raw: write");
}

/* Reads one response to its EOM packet; returns its payload bytes. */
static unsigned long raw_response(int s) {
  static uint8_t buf[65536];
  unsigned long payload = 0;
  size_t hdr_at = 0; /* offset of the next header in the stream */
  size_t seen = 0;   /* stream bytes read */
  uint8_t h[8];
  size_t hn = 0;
  bool eom = false;
  for (;;) {
    ssize_t k = read(s, buf, sizeof buf);
    if (k <= 0)
      die("raw: read");
    for (size_t i = 0; i < (size_t)k; i++) {
      if (seen + i >= hdr_at && hn < 8) {
        h[hn++] = buf[i];
        if (hn == 8) {
          size_t len = (size_t)h[2] << 8 | h[3];
          hdr_at = seen + i + 1 + (len - 8);
          payload += len - 8;
          eom = h[1] & 1;
          hn = 0;
          /* skip to the next header */
          if (hdr_at > seen + (size_t)k)
            break;
          i = hdr_at - seen - 1;
        }
      }
    }
    seen += (size_t)k;
    sink += buf[k - 1];
    if (eom && seen >= hdr_at)
      return payload;
  }
}

static void raw_query(int s, const char *sql) {
  uint8_t p[1024];
  size_t n = 0;
  static const uint8_t hdrs[22] = {22, 0, 0, 0, 18, 0, 0, 0, 2, 0, 0,
                                   0,  0, 0, 0, 0,  0, 0, 1, 0, 0, 0};
  memcpy(p, hdrs, sizeof hdrs);
  n = sizeof hdrs;
  for (; *sql; sql++)
    p[n++] = (uint8_t)*sql, p[n++] = 0;
  raw_send(s, 0x01, p, n);
}

static int raw_open_login(void) {
  int s = raw_open();
  uint8_t pre[6] = {0xFF};
  raw_send(s, 0x12, pre, 1);
  raw_response(s);
  uint8_t login[94] = {94};
  login[8] = (uint8_t)psize, login[9] = (uint8_t)(psize >> 8);
  raw_send(s, 0x10, login, sizeof login);
  raw_response(s);
  return s;
}

/* ---------------------------------------------------------- measuring */

typedef struct sample {
  double cpu, wall;
  unsigned long n;   /* rows, round trips or bytes */
  long rss_kib;      /* peak RSS growth during the run */
  long peak_kib;     /* peak RSS of the process */
} sample;

/* Runs one workload once.  The connect is outside the measured part. */
static sample run_one(const char *client, const char *w) {
  char sql[64];
  sample s = {0};
  bool typed = !strcmp(w, "typed");
  unsigned long iters = rows / 100 ? rows / 100 : 1;
  if (!strcmp(w, "blob"))
    snprintf(sql, sizeof sql, "bench blob %lu", blob_mib << 20);
  else
    snprintf(sql, sizeof sql, "bench mixed %lu", rows);
  struct rusage u0, u1;
  double c0, w0;
  if (!strcmp(client, "tdsc")) {
    tdsc_conn *c = tdsc_open();
    getrusage(RUSAGE_SELF, &u0);
    c0 = bench_cpu_now(), w0 = bench_wall_now();
    CALLGRIND_TOGGLE_COLLECT;
    if (!strcmp(w, "select1"))
      for (unsigned long k = 0; k < iters; k++)
        s.n += tdsc_rows(c, "SELECT 1", false);
    else if (!strcmp(w, "blob"))
      s.n = tdsc_blob(c, sql);
    else
      s.n = tdsc_rows(c, sql, typed);
    CALLGRIND_TOGGLE_COLLECT;
    tdsc_conn_free(c);
#ifdef HAVE_SYBDB_BENCH
  } else if (!strcmp(client, "dblib")) {
    DBPROCESS *d = dblib_open();
    getrusage(RUSAGE_SELF, &u0);
    c0 = bench_cpu_now(), w0 = bench_wall_now();
    CALLGRIND_TOGGLE_COLLECT;
    if (!strcmp(w, "select1"))
      for (unsigned long k = 0; k < iters; k++)
        s.n += dblib_rows(d, "SELECT 1", false);
    else if (!strcmp(w, "blob"))
      die("db-lib: no blob workload (it holds the value)");
    else
      s.n = dblib_rows(d, sql, typed);
    CALLGRIND_TOGGLE_COLLECT;
    dbclose(d);
#endif
  } else if (!strcmp(client, "raw")) {
    int fd = raw_open_login();
    getrusage(RUSAGE_SELF, &u0);
    c0 = bench_cpu_now(), w0 = bench_wall_now();
    CALLGRIND_TOGGLE_COLLECT;
    raw_query(fd, sql);
    s.n = raw_response(fd);
    CALLGRIND_TOGGLE_COLLECT;
    close(fd);
  } else {
    die("unknown client");
  }
  s.cpu = bench_cpu_now() - c0;
  s.wall = bench_wall_now() - w0;
  getrusage(RUSAGE_SELF, &u1);
  s.rss_kib = u1.ru_maxrss - u0.ru_maxrss;
  s.peak_kib = u1.ru_maxrss;
  return s;
}

/* run_one for bench_forked: each run in a child of its own, so that its
 * peak RSS is its own. */
static void run_into(const char *client, const char *w, void *out) {
  *(sample *)out = run_one(client, w);
}

#define MAXR 15

typedef struct pair {
  const char *w, *a, *b, *unit;
  double cpu[2][MAXR], wall[2][MAXR];
  long rss[2], peak[2];
  unsigned long n;
} pair;

static void compare(int rounds) {
  pair pairs[] = {
      {.w = "typed", .a = "tdsc", .b = "dblib", .unit = "rows"},
      {.w = "iterate", .a = "tdsc", .b = "dblib", .unit = "rows"},
      {.w = "select1", .a = "tdsc", .b = "dblib", .unit = "trips"},
      {.w = "blob", .a = "tdsc", .b = "raw", .unit = "MB"},
  };
  size_t np = sizeof pairs / sizeof *pairs;
  for (int r = 0; r < rounds; r++)
    for (size_t k = 0; k < np; k++)
      for (int side = 0; side < 2; side++) {
        /* alternate which client goes first from round to round */
        int who = (r & 1) ? 1 - side : side;
        pair *p = &pairs[k];
        sample s;
        bench_forked(run_into, who ? p->b : p->a, p->w, &s, sizeof s);
        p->cpu[who][r] = s.cpu;
        p->wall[who][r] = s.wall;
        if (s.rss_kib > p->rss[who])
          p->rss[who] = s.rss_kib;
        if (s.peak_kib > p->peak[who])
          p->peak[who] = s.peak_kib;
        p->n = s.n;
      }
  printf("fastsrv on 127.0.0.1, %u-byte packets, %d rounds interleaved, "
         "medians\n",
         psize, rounds);
  printf("%-8s %-6s %-6s %9s %9s %10s %10s %7s %7s %9s %9s\n", "workload",
         "a", "b", "a cpu s", "b cpu s", "a/s", "b/s", "cpu a/b",
         "rate a/b", "a peakKiB", "b peakKiB");
  for (size_t k = 0; k < np; k++) {
    pair *p = &pairs[k];
    double ca = bench_median(p->cpu[0], rounds),
           cb = bench_median(p->cpu[1], rounds);
    double wa = bench_median(p->wall[0], rounds),
           wb = bench_median(p->wall[1], rounds);
    double n = !strcmp(p->unit, "MB") ? p->n / 1e6 : (double)p->n;
    /* rates from wall time: what a user waits for; CPU ratio beside it */
    printf("%-8s %-6s %-6s %9.3f %9.3f %10.0f %10.0f %7.2f %7.2f %9ld "
           "%9ld  %s/s (wall); growth %ld/%ld KiB\n",
           p->w, p->a, p->b, ca, cb, n / wa, n / wb, ca / cb, wb / wa,
           p->peak[0], p->peak[1], p->unit, p->rss[0], p->rss[1]);
  }
}

int main(int argc, char **argv) {
  const char *client = NULL, *w = "typed";
  int rounds = 5, opt;
  while ((opt = getopt(argc, argv, "p:n:r:s:b:c:w:")) != -1) {
    switch (opt) {
    case 'p': port = atoi(optarg); break;
    case 'n': rows = strtoul(optarg, NULL, 10); break;
    case 'r': rounds = atoi(optarg); break;
    case 's': psize = (unsigned)atoi(optarg); break;
    case 'b': blob_mib = strtoul(optarg, NULL, 10); break;
    case 'c': client = optarg; break;
    case 'w': w = optarg; break;
    default:
      fprintf(stderr, "usage: see bench/README.md\n");
      return 2;
    }
  }
  if (!port)
    die("-p PORT (of bench/fastsrv) is required");
  if (rounds < 1 || rounds > MAXR)
    die("-r: 1 to 15 rounds");
  if (client) {
    sample s = run_one(client, w);
    printf("rows %lu cpu %.3f wall %.3f rss+KiB %ld peakKiB %ld\n", s.n,
           s.cpu, s.wall, s.rss_kib, s.peak_kib);
    return 0;
  }
  compare(rounds);
  return 0;
}
