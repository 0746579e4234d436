/* TLS + SQL login connects, and SELECT 1 round trips over TLS, through
 * tdsclient (public API) and FreeTDS db-lib, side by side against the
 * same tests/server/tdsserver.py (started with --encryption req by
 * bench/connect_bench.sh, which also gives db-lib its freetds.conf).
 *
 *   connect_bench -h HOST -p PORT -u USER -P PASSWORD -A CAFILE
 *                 [-n CONNECTS] [-t TRIPS] [-r ROUNDS]
 *       both workloads for both clients interleaved (round after round,
 *       the clients alternating, each run in a forked child), medians and
 *       ratios;
 *   connect_bench ... -c tdsc|dblib -w connect|select1
 *       one run (for callgrind: only the measured part is collected) and
 *       "rows N" (connects or round trips).
 *
 * A connect is the whole cycle: PRELOGIN, the TLS handshake (the
 * certificate checked against CAFILE by both clients), LOGIN7 with a SQL
 * login, the login response, then close (tdsc_conn_new .. tdsc_conn_free;
 * dblogin .. dbopen .. dbclose).  One connect before the measured part
 * pays each library's one-time set-up.  The server is Python and its time
 * dominates the wall clock: the client's CPU time (getrusage, user +
 * system) and its instructions (callgrind) are the figures to read. */
#include "benchkit.h"

#include <tdsclient.h>

#ifdef HAVE_SYBDB_BENCH
#include <sybdb.h>
#endif

#include <valgrind/callgrind.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1", *user, *pwd, *cafile;
static int port;
static unsigned long connects = 100, trips = 1000;
static unsigned long sink;

static void die(const char *what) {
  fprintf(stderr, "connect_bench: %s\n", what);
  exit(1);
}

/* ---------------------------------------------------------- tdsclient */

static tdsc_conn *tdsc_open(void) {
  char cs[1024];
  /* Encrypt=mandatory: TLS negotiated in PRELOGIN (TDS 7.4), as db-lib's
   * encryption = require; the certificate checked against CAFile */
  snprintf(cs, sizeof cs,
           "Server=tcp:%s,%d;UID=%s;PWD=%s;Encrypt=mandatory;CAFile=%s;"
           "Authentication=sql",
           host, port, user, pwd, cafile);
  tdsc_conn *c = tdsc_conn_new();
  if (!c || tdsc_conn_connect(c, cs) != TDSC_OK) {
    fprintf(stderr, "%s\n", c ? tdsc_error_message(tdsc_conn_error(c)) : "");
    die("tdsclient: connect");
  }
  return c;
}

static void tdsc_select1(tdsc_conn *c) {
  tdsc_result *r;
  int64_t v;
  if (tdsc_conn_execute(c, "SELECT 1", &r) != TDSC_OK ||
      tdsc_result_next_set(r) != TDSC_STEP_RESULT ||
      tdsc_result_next_row(r) != TDSC_STEP_ROW ||
      tdsc_result_get_int64(r, 0, &v) != TDSC_OK ||
      tdsc_result_next_row(r) != TDSC_STEP_END)
    die("tdsclient: SELECT 1");
  sink += (unsigned long)v;
  tdsc_result_free(r);
}

/* ---------------------------------------------------------- db-lib */

#ifdef HAVE_SYBDB_BENCH
static DBPROCESS *dblib_open(void) {
  bench_dblib_init();
  LOGINREC *l = dblogin();
  DBSETLUSER(l, user);
  DBSETLPWD(l, pwd);
  dbsetlversion(l, DBVERSION_74);
  /* encryption = require; the CA file comes from FREETDSCONF (set by
   * connect_bench.sh), which also says encryption = require */
  DBSETLENCRYPT(l, TRUE);
  char srv[300];
  snprintf(srv, sizeof srv, "%s:%d", host, port);
  DBPROCESS *d = dbopen(l, srv);
  dbloginfree(l);
  if (!d)
    die("db-lib: dbopen");
  return d;
}

static void dblib_select1(DBPROCESS *d) {
  DBINT v = 0;
  if (dbcmd(d, "SELECT 1") == FAIL || dbsqlexec(d) == FAIL ||
      dbresults(d) != SUCCEED || dbbind(d, 1, INTBIND, 0, (BYTE *)&v) == FAIL ||
      dbnextrow(d) != REG_ROW || dbnextrow(d) != NO_MORE_ROWS)
    die("db-lib: SELECT 1");
  while (dbresults(d) == SUCCEED)
    ;
  sink += (unsigned long)v;
}
#endif

/* ---------------------------------------------------------- measuring */

typedef struct sample {
  double cpu, wall;
  unsigned long n; /* connects or round trips */
} sample;

static sample run_one(const char *client, const char *w) {
  sample s = {0};
  bool conn = !strcmp(w, "connect");
  if (!conn && strcmp(w, "select1"))
    die("-w connect|select1");
  double c0 = 0, w0 = 0;
  if (!strcmp(client, "tdsc")) {
    tdsc_conn *c = tdsc_open(); /* warm-up, or the SELECT 1 connection */
    if (conn)
      tdsc_conn_free(c);
    c0 = bench_cpu_now(), w0 = bench_wall_now();
    CALLGRIND_TOGGLE_COLLECT;
    if (conn)
      for (; s.n < connects; s.n++)
        tdsc_conn_free(tdsc_open());
    else
      for (; s.n < trips; s.n++)
        tdsc_select1(c);
    CALLGRIND_TOGGLE_COLLECT;
    if (!conn)
      tdsc_conn_free(c);
#ifdef HAVE_SYBDB_BENCH
  } else if (!strcmp(client, "dblib")) {
    DBPROCESS *d = dblib_open();
    if (conn)
      dbclose(d);
    c0 = bench_cpu_now(), w0 = bench_wall_now();
    CALLGRIND_TOGGLE_COLLECT;
    if (conn)
      for (; s.n < connects; s.n++)
        dbclose(dblib_open());
    else
      for (; s.n < trips; s.n++)
        dblib_select1(d);
    CALLGRIND_TOGGLE_COLLECT;
    if (!conn)
      dbclose(d);
#endif
  } else {
    die("-c tdsc|dblib (dblib: built without FreeTDS db-lib?)");
  }
  s.cpu = bench_cpu_now() - c0;
  s.wall = bench_wall_now() - w0;
  return s;
}

/* run_one for bench_forked: each run in a child of its own, so that its
 * peak RSS is its own. */
static void run_into(const char *client, const char *w, void *out) {
  *(sample *)out = run_one(client, w);
}

#define MAXR 15

static void compare(int rounds) {
  static const char *const ws[] = {"connect", "select1"};
  static const char *const cs[] = {"tdsc", "dblib"};
  double cpu[2][2][MAXR], wall[2][2][MAXR];
  unsigned long n[2] = {0, 0};
  for (int r = 0; r < rounds; r++)
    for (int k = 0; k < 2; k++)
      for (int side = 0; side < 2; side++) {
        int who = (r & 1) ? 1 - side : side; /* alternate who goes first */
        sample s;
        bench_forked(run_into, cs[who], ws[k], &s, sizeof s);
        cpu[k][who][r] = s.cpu / (double)s.n;
        wall[k][who][r] = s.wall / (double)s.n;
        n[k] = s.n;
      }
  printf("tdsserver.py (TLS required) on %s, %d rounds interleaved, medians "
         "per connect / round trip\n",
         host, rounds);
  printf("%-8s %7s %11s %11s %7s %11s %11s %7s\n", "workload", "n",
         "tdsc cpu us", "dblib cpu", "cpu t/d", "tdsc wall us", "dblib wall",
         "wall t/d");
  for (int k = 0; k < 2; k++) {
    double ct = bench_median(cpu[k][0], rounds),
           cd = bench_median(cpu[k][1], rounds);
    double wt = bench_median(wall[k][0], rounds),
           wd = bench_median(wall[k][1], rounds);
    printf("%-8s %7lu %11.1f %11.1f %7.2f %11.1f %11.1f %7.2f\n", ws[k], n[k],
           ct * 1e6, cd * 1e6, ct / cd, wt * 1e6, wd * 1e6, wt / wd);
  }
}

int main(int argc, char **argv) {
  const char *client = NULL, *w = "connect";
  int rounds = 5, opt;
  while ((opt = getopt(argc, argv, "h:p:u:P:A:n:t:r:c:w:")) != -1) {
    switch (opt) {
    case 'h': host = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 'u': user = optarg; break;
    case 'P': pwd = optarg; break;
    case 'A': cafile = optarg; break;
    case 'n': connects = strtoul(optarg, NULL, 10); break;
    case 't': trips = strtoul(optarg, NULL, 10); break;
    case 'r': rounds = atoi(optarg); break;
    case 'c': client = optarg; break;
    case 'w': w = optarg; break;
    default:
      fprintf(stderr, "usage: see bench/README.md\n");
      return 2;
    }
  }
  if (!port || !user || !pwd || !cafile)
    die("-p PORT -u USER -P PASSWORD -A CAFILE are required");
  if (rounds < 1 || rounds > MAXR)
    die("-r: 1 to 15 rounds");
  if (!connects || !trips)
    die("-n and -t: at least 1");
  if (client) {
    sample s = run_one(client, w);
    printf("rows %lu cpu %.3f wall %.3f\n", s.n, s.cpu, s.wall);
    return 0;
  }
  compare(rounds);
  return 0;
}
