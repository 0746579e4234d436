/* What the benchmarks share (benchkit.h). */
#include "benchkit.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYBDB_BENCH
#include <sybdb.h>
#endif

void bench_forked(void (*fn)(const char *client, const char *workload,
                             void *out),
                  const char *client, const char *workload, void *out,
                  size_t outlen) {
  int p[2];
  if (pipe(p)) {
    perror("pipe");
    exit(1);
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    fn(client, workload, out);
    _exit(write(p[1], out, outlen) == (ssize_t)outlen ? 0 : 1);
  }
  close(p[1]);
  ssize_t got = pid < 0 ? -1 : read(p[0], out, outlen);
  close(p[0]);
  if (pid > 0)
    waitpid(pid, NULL, 0);
  if (got != (ssize_t)outlen) {
    fprintf(stderr, "bench: the measured run failed\n");
    exit(1);
  }
}

double bench_cpu_now(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 +
         (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

double bench_wall_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmpd);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#ifdef HAVE_SYBDB_BENCH
static int dberr(DBPROCESS *d, int sev, int no, int oserr, char *msg,
                 char *osmsg) {
  (void)d, (void)sev, (void)oserr, (void)osmsg;
  fprintf(stderr, "db-lib %d: %s\n", no, msg);
  return INT_CANCEL;
}

void bench_dblib_init(void) {
  static bool init;
  if (init)
    return;
  if (dbinit() == FAIL) {
    fprintf(stderr, "bench: dbinit failed\n");
    exit(1);
  }
  dberrhandle(dberr);
  init = true;
}
#endif
