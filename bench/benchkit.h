/* What the benchmarks share (bench/README.md): a run in a child of its
 * own, and medians. */
#ifndef TDSC_BENCHKIT_H
#define TDSC_BENCHKIT_H

#include <stddef.h>

/* Runs fn(arg, out) in a forked child, so that the peak RSS it sees is
 * that run's alone, and copies the child's out (outlen bytes) back;
 * exits the benchmark when the child fails. */
void bench_forked(void (*fn)(const void *arg, void *out), const void *arg,
                  void *out, size_t outlen);

/* The median of v[0..n-1] (n > 0); sorts v. */
double bench_median(double *v, int n);

#endif
