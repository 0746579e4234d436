/* What the benchmarks share (bench/README.md): a run in a child of its
 * own, and medians. */
#ifndef TDSC_BENCHKIT_H
#define TDSC_BENCHKIT_H

#include <stddef.h>

/* Runs fn(client, workload, out) in a forked child, so that the peak RSS
 * it sees is that run's alone, and copies the child's out (outlen bytes)
 * back; exits the benchmark when the child fails. */
void bench_forked(void (*fn)(const char *client, const char *workload,
                             void *out),
                  const char *client, const char *workload, void *out,
                  size_t outlen);

/* This process's CPU time (user + system, getrusage) and the monotonic
 * clock, in seconds. */
double bench_cpu_now(void);
double bench_wall_now(void);

/* The median of v[0..n-1] (n > 0); sorts v. */
double bench_median(double *v, int n);

#ifdef HAVE_SYBDB_BENCH
/* FreeTDS db-lib set up once (dbinit), its errors printed. */
void bench_dblib_init(void);
#endif

#endif
