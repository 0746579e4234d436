/* What the benchmarks share (benchkit.h). */
#include "benchkit.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

void bench_forked(void (*fn)(const void *arg, void *out), const void *arg,
                  void *out, size_t outlen) {
  int p[2];
  if (pipe(p)) {
    perror("pipe");
    exit(1);
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    fn(arg, out);
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

static int cmpd(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmpd);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
