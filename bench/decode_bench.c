/* Decode only: the token parser (lib/proto/tok*.c) over a token stream
 * already in memory, against memcpy of the same bytes: what decoding costs
 * beside the cheapest thing a client could do with them.  No I/O.
 *
 *   decode_bench [-n ROWS] [-r ROUNDS] [-w ints|mixed]
 *   decode_bench -c decode|memcpy [-n ROWS] [-w ...]   one pass, for
 *       callgrind (only the pass is collected)
 *
 * The stream is bench/fastenc.c's (8 ints a row by default), the same
 * bytes bench/fastsrv sends. */
#include "config.h"

#include "benchkit.h"

#include "fastenc.h"

#include "error.h"
#include "proto/tokens.h"

#include <valgrind/callgrind.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static unsigned long sink;

static void die(const char *what) {
  fprintf(stderr, "decode_bench: %s\n", what);
  exit(1);
}

/* One pass of the parser over the whole stream; returns rows seen. */
static unsigned long decode(tdsc__tokp *p, const fe_buf *s) {
  tdsc__tokp_reset(p);
  size_t off = 0;
  unsigned long rows = 0;
  tdsc_error err;
  memset(&err, 0, sizeof err);
  while (off < s->len) {
    size_t used, need;
    tdsc__event ev;
    if (tdsc__tokp_next(p, s->p + off, s->len - off, &used, &need, &ev,
                        &err) != TDSC__TOK_EVENT)
      die("the stream does not parse");
    if (ev.kind == TDSC__EV_ROW) {
      rows++;
      sink += ev.u.row.values[0].len;
    }
    off += used;
  }
  return rows;
}

int main(int argc, char **argv) {
  unsigned long rows = 1000000;
  int rounds = 5, opt;
  const char *one = NULL, *w = "ints";
  while ((opt = getopt(argc, argv, "n:r:c:w:")) != -1) {
    switch (opt) {
    case 'n': rows = strtoul(optarg, NULL, 10); break;
    case 'r': rounds = atoi(optarg); break;
    case 'c': one = optarg; break;
    case 'w': w = optarg; break;
    default: return 2;
    }
  }
  if (rounds < 1 || rounds > 31)
    die("-r: 1 to 31");
  bool mixed = !strcmp(w, "mixed");
  fe_buf s = {0};
  (mixed ? fe_mixed_colmetadata : fe_ints_colmetadata)(&s);
  for (uint32_t i = 0; i < rows; i++)
    (mixed ? fe_mixed_row : fe_ints_row)(&s, i);
  fe_done(&s, rows, 0);
  uint8_t *dst = malloc(s.len);
  tdsc__tokp *p = tdsc__tokp_new();
  if (!dst || !p)
    die("out of memory");
  memset(dst, 0, s.len);
  if (one) {
    bool dec = !strcmp(one, "decode");
    CALLGRIND_TOGGLE_COLLECT;
    unsigned long n = rows;
    if (dec)
      n = decode(p, &s);
    else
      memcpy(dst, s.p, s.len);
    CALLGRIND_TOGGLE_COLLECT;
    sink += dst[s.len - 1];
    printf("rows %lu bytes %zu\n", n, s.len);
    return 0;
  }
  double td[31], tm[31];
  for (int r = 0; r < rounds; r++) {
    double t0 = bench_cpu_now();
    if (decode(p, &s) != rows)
      die("row count");
    double t1 = bench_cpu_now();
    /* memcpy is far faster: repeat it to get a measurable time */
    for (int k = 0; k < 10; k++) {
      memcpy(dst, s.p, s.len);
      sink += dst[k];
      s.p[0] ^= 0; /* nothing to fold */
    }
    double t2 = bench_cpu_now();
    td[r] = t1 - t0;
    tm[r] = (t2 - t1) / 10;
  }
  double d = bench_median(td, rounds), m = bench_median(tm, rounds);
  printf("decode only, %s rows (%lu rows, %.1f MB in memory), %d rounds, "
         "CPU medians\n",
         w, rows, s.len / 1e6, rounds);
  printf("  decode %8.4f s  %9.1f MB/s  %11.0f rows/s\n", d, s.len / 1e6 / d,
         rows / d);
  printf("  memcpy %8.4f s  %9.1f MB/s\n", m, s.len / 1e6 / m);
  printf("  decode / memcpy throughput: %.4f\n", m / d);
  tdsc__tokp_free(p);
  free(dst);
  free(s.p);
  return (int)(sink & 0);
}
