/* stream_bench: one large value down and up through the public API, with
 * the time and the peak memory each way takes (bench/README.md).  Each mode
 * runs in its own forked child, so that one mode's peak RSS does not hide
 * the next one's; bench/stream_bench.sh runs it beside the pytds peer
 * (bench/stream_bench_pytds.py), which prints the same lines. */
#define _DEFAULT_SOURCE
#include <tdsclient.h>

#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PIECE 65536 /* the application's buffer, both ways */
#define HELD_MAX ((unsigned long long)1 << 30) /* tdsc_result_get_bytes cap */

static const char unit[] = "abcdefgh";
static uint8_t pattern[PIECE + 8]; /* unit repeated: bytes off.. are at
                                       pattern + off % 8 */

/* The outcome of one mode, printed as one line (the format the pytds peer
 * prints too; stream_bench.sh reads it):
 *   RESULT client mode bytes seconds growth_kib cpu_seconds status
 * cpu_seconds is this process's user + system time: the wall time is
 * mostly the Python server's, the CPU time is the client's own cost. */
typedef struct {
  unsigned long long bytes;
  double seconds, cpu;
  long growth_kib;
  char status[160];
} outcome;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* The failing call's code and message, as the status column. */
static void failed(outcome *o, tdsc_conn *c, tdsc_errc code, const char *what) {
  const tdsc_error *e = c ? tdsc_conn_error(c) : NULL;
  snprintf(o->status, sizeof o->status, "%s:%s", what, tdsc_errc_name(code));
  fprintf(stderr, "stream_bench: %s: %s: %s\n", what, tdsc_errc_name(code),
          e ? tdsc_error_message(e) : "");
}

/* True if the n bytes at p are the pattern from offset off on. */
static bool is_pattern(const uint8_t *p, size_t n, unsigned long long off) {
  while (n) {
    size_t k = n < PIECE ? n : PIECE;
    if (memcmp(p, pattern + off % 8, k) != 0)
      return false;
    p += k;
    n -= k;
    off += k;
  }
  return true;
}

static char *select_sql(unsigned long long bytes) {
  static char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), "
           "'abcdefgh'), %llu)) AS v",
           bytes / 8);
  return sql;
}

/* Sends sql and steps to its first row. */
static tdsc_errc first_row(tdsc_conn *c, const char *sql, tdsc_result **out) {
  tdsc_errc e = tdsc_conn_execute(c, sql, out);
  if (e != TDSC_OK)
    return e;
  if (tdsc_result_next_set(*out) != TDSC_STEP_RESULT ||
      tdsc_result_next_row(*out) != TDSC_STEP_ROW) {
    e = tdsc_error_code(tdsc_conn_error(c));
    return e != TDSC_OK ? e : TDSC_E_PROTOCOL;
  }
  return TDSC_OK;
}

/* ------------------------------------------------------------------ modes */

/* (a) tdsc_result_read into a 64 KiB buffer, every piece checked. */
static void mode_read(tdsc_conn *c, unsigned long long bytes, outcome *o) {
  static uint8_t buf[PIECE];
  tdsc_result *r = NULL;
  tdsc_errc e = first_row(c, select_sql(bytes), &r);
  if (e != TDSC_OK) {
    failed(o, c, e, "execute");
    goto out;
  }
  size_t got;
  do {
    e = tdsc_result_read(r, 0, buf, sizeof buf, &got);
    if (e != TDSC_OK) {
      failed(o, c, e, "tdsc_result_read");
      goto out;
    }
    if (!is_pattern(buf, got, o->bytes)) {
      snprintf(o->status, sizeof o->status, "wrong-bytes-near-%llu", o->bytes);
      goto out;
    }
    o->bytes += got;
  } while (got);
  if (o->bytes != bytes)
    snprintf(o->status, sizeof o->status, "short:%llu", o->bytes);
out:
  tdsc_result_free(r); /* reads what is left: part of the time */
}

/* (c) the same value held whole by tdsc_result_get_bytes. */
static void mode_get_bytes(tdsc_conn *c, unsigned long long bytes, outcome *o) {
  tdsc_result *r = NULL;
  tdsc_errc e = first_row(c, select_sql(bytes), &r);
  if (e != TDSC_OK) {
    failed(o, c, e, "execute");
    goto out;
  }
  const uint8_t *p;
  size_t n;
  e = tdsc_result_get_bytes(r, 0, &p, &n);
  if (e != TDSC_OK) {
    failed(o, c, e, "tdsc_result_get_bytes");
    goto out;
  }
  o->bytes = n;
  if (n != bytes)
    snprintf(o->status, sizeof o->status, "short:%zu", n);
  else if (!is_pattern(p, n, 0))
    snprintf(o->status, sizeof o->status, "wrong-bytes");
out:
  tdsc_result_free(r);
}

typedef struct {
  unsigned long long left, off;
} source;

/* tdsc_read_fn: the pattern, cut at the total. */
static long long pattern_source(void *ud, void *buf, size_t len) {
  source *s = ud;
  size_t n = len < s->left ? len : (size_t)s->left;
  for (size_t done = 0; done < n;) {
    size_t k = n - done < PIECE ? n - done : PIECE;
    memcpy((uint8_t *)buf + done, pattern + (s->off + done) % 8, k);
    done += k;
  }
  s->off += n;
  s->left -= n;
  return (long long)n;
}

static void sha256_of_pattern(unsigned long long bytes, uint8_t out[32]) {
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  static uint8_t chunk[PIECE];
  source s = {bytes, 0};
  long long k;
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  while ((k = pattern_source(&s, chunk, sizeof chunk)) > 0)
    EVP_DigestUpdate(md, chunk, (size_t)k);
  EVP_DigestFinal_ex(md, out, NULL);
  EVP_MD_CTX_free(md);
}

static uint8_t upload_want[32]; /* computed before the children fork */

/* (b) tdsc_stmt_bind_stream from the callback; the server's DATALENGTH and
 * SHA-256 checked against the local ones. */
static void mode_upload(tdsc_conn *c, unsigned long long bytes, outcome *o) {
  tdsc_result *r = NULL;
  tdsc_stmt *st = tdsc_stmt_new_sql(
      c, "SELECT DATALENGTH(@p) AS n, HASHBYTES('SHA2_256', @p) AS h");
  source s = {bytes, 0};
  tdsc_errc e = st ? tdsc_stmt_bind_stream(st, "@p", TDSC_TYPE_VARBINARY,
                                           pattern_source, &s, (long long)bytes)
                   : TDSC_E_NO_MEMORY;
  if (e != TDSC_OK) {
    failed(o, c, e, "tdsc_stmt_bind_stream");
    goto out;
  }
  e = tdsc_stmt_execute(st, &r);
  if (e == TDSC_OK && (tdsc_result_next_set(r) != TDSC_STEP_RESULT ||
                       tdsc_result_next_row(r) != TDSC_STEP_ROW))
    e = tdsc_error_code(tdsc_conn_error(c));
  if (e != TDSC_OK) {
    failed(o, c, e, "tdsc_stmt_execute");
    goto out;
  }
  o->bytes = s.off;
  int64_t n;
  const uint8_t *h;
  size_t hlen;
  if ((e = tdsc_result_get_int64(r, 0, &n)) != TDSC_OK ||
      (e = tdsc_result_get_bytes(r, 1, &h, &hlen)) != TDSC_OK) {
    failed(o, c, e, "getter");
    goto out;
  }
  if ((unsigned long long)n != bytes)
    snprintf(o->status, sizeof o->status, "datalength:%lld", (long long)n);
  else if (hlen != 32 || memcmp(h, upload_want, 32) != 0)
    snprintf(o->status, sizeof o->status, "sha256-differs");
out:
  tdsc_result_free(r);
  tdsc_stmt_free(st);
}

/* ------------------------------------------------------------------ main */

typedef void (*mode_fn)(tdsc_conn *, unsigned long long, outcome *);

/* One mode in this process: connect, warm up, then the timed part with
 * the peak RSS before and after. */
static int run_mode(const char *name, mode_fn fn, const char *connstr,
                    unsigned long long bytes) {
  outcome o = {0, 0, 0, 0, "ok"};
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc e = c ? tdsc_conn_connect(c, connstr) : TDSC_E_NO_MEMORY;
  if (e != TDSC_OK) {
    failed(&o, c, e, "connect");
  } else {
    /* warm up: the first query's allocations are not the value's */
    tdsc_result *r = NULL;
    e = first_row(c, "SELECT 1", &r);
    tdsc_result_free(r);
    if (e != TDSC_OK)
      failed(&o, c, e, "warm-up");
  }
  if (e == TDSC_OK) {
    long before = peak_rss_kib();
    double c0 = cpu_s(), t0 = now_s();
    fn(c, bytes, &o);
    o.seconds = now_s() - t0;
    o.cpu = cpu_s() - c0;
    o.growth_kib = peak_rss_kib() - before;
  }
  tdsc_conn_free(c);
  printf("RESULT tdsclient %s %llu %.3f %ld %.3f %s\n", name, o.bytes,
         o.seconds, o.growth_kib, o.cpu, o.status);
  fflush(stdout);
  return strcmp(o.status, "ok") == 0 ? 0 : 1;
}

static void usage(void) {
  fprintf(stderr,
          "usage: stream_bench [-m read|upload|get_bytes|all] CONNSTR "
          "[MIB]\n"
          "  MIB: the value's size (default 1024); get_bytes is skipped "
          "above 1 GiB\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *only = "all";
  int opt;
  while ((opt = getopt(argc, argv, "m:")) != -1) {
    if (opt == 'm')
      only = optarg;
    else
      usage();
  }
  if (argc - optind < 1 || argc - optind > 2)
    usage();
  const char *connstr = argv[optind];
  unsigned long long mib =
      argc - optind == 2 ? strtoull(argv[optind + 1], NULL, 10) : 1024;
  if (mib == 0)
    usage();
  unsigned long long bytes = mib << 20;
  for (size_t i = 0; i < sizeof pattern; i++)
    pattern[i] = (uint8_t)unit[i % 8];

  static const struct {
    const char *name;
    mode_fn fn;
  } modes[] = {{"read", mode_read},
               {"upload", mode_upload},
               {"get_bytes", mode_get_bytes}};
  bool any = false;
  int status = 0;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(only, "all") != 0 && strcmp(only, modes[i].name) != 0)
      continue;
    any = true;
    if (modes[i].fn == mode_get_bytes && bytes > HELD_MAX) {
      printf("RESULT tdsclient get_bytes 0 0 0 0 skipped:above-1GiB-cap\n");
      continue;
    }
    if (modes[i].fn == mode_upload)
      sha256_of_pattern(bytes, upload_want); /* untimed, before the fork */
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
      perror("stream_bench: fork");
      return 1;
    }
    if (pid == 0)
      _exit(run_mode(modes[i].name, modes[i].fn, connstr, bytes));
    int ws;
    if (waitpid(pid, &ws, 0) < 0 || !WIFEXITED(ws)) {
      printf("RESULT tdsclient %s 0 0 0 0 crashed\n", modes[i].name);
      status = 1;
    } else if (WEXITSTATUS(ws) != 0) {
      status = 1;
    }
  }
  if (!any)
    usage();
  return status;
}
