/* Large values in pieces against the test server: varbinary(max) and
 * nvarchar(max) of tens of MiB read with tdsc_result_read while the
 * process's peak memory stays put, with a known and an unknown PLP length;
 * rows mixing large and small columns read in any order by the getters,
 * and the rules of streaming (a value read in pieces is gone for the
 * getters, a row left half read is skipped); and the way up, a parameter
 * streamed from a callback and checked by the server's SHA-256. */
#define _DEFAULT_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* tdsc_result_is_null, which must succeed here. */
static bool is_null(tdsc_result *r, size_t col) {
  bool null = false;
  tdsc_errc rc = tdsc_result_is_null(r, col, &null);
  ck_assert_msg(rc == TDSC_OK, "tdsc_result_is_null(%zu): %s", col,
                tdsc_errc_name(rc));
  return null;
}

static th_server srv;
static tdsc_conn *conn;

static const char *report(void) { return th_report(conn); }

#define OK(call) ck_assert_msg((call) == TDSC_OK, "%s: %s", #call, report())

static void up_with(const char *opt) {
  ck_assert_msg(th_server_start(&srv, opt, (const char *)NULL),
                "the test server did not start");
  conn = tdsc_conn_new();
  OK(tdsc_conn_connect(conn, th_connstr(&srv, "")));
}

static void down(void) {
  tdsc_conn_free(conn);
  conn = NULL;
  th_server_stop(&srv);
}

static long peak_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Under valgrind or AddressSanitizer the tool's own memory moves the
 * peak; the memory checks are for the plain build (and bench/). */
static bool rss_meaningful(void) {
#if defined(__SANITIZE_ADDRESS__)
  return false;
#else
  const char *pre = getenv("LD_PRELOAD");
  return !(pre && strstr(pre, "vgpreload"));
#endif
}

#define ASSERT_GREW_LESS(before, kib, what)                                   \
  do {                                                                        \
    long grew_ = peak_rss_kib() - (before);                                   \
    if (rss_meaningful())                                                     \
      ck_assert_msg(grew_ < (kib), "the peak grew by %ld KiB for %s", grew_,  \
                    (what));                                                  \
  } while (0)

static tdsc_result *query(const char *sql) {
  tdsc_result *r;
  OK(tdsc_conn_execute(conn, sql, &r));
  ck_assert_msg(tdsc_result_next_set(r) == TDSC_STEP_RESULT, "%s", report());
  ck_assert_msg(tdsc_result_next_row(r) == TDSC_STEP_ROW, "%s", report());
  return r;
}

static void end_of(tdsc_result *r) {
  ck_assert_msg(tdsc_result_next_row(r) == TDSC_STEP_END, "%s", report());
  ck_assert_msg(tdsc_result_next_set(r) == TDSC_STEP_END, "%s", report());
  tdsc_result_free(r);
}

/* Streams column col into a running check against "abcdefgh" repeated;
 * returns the byte count. */
static size_t stream_pattern(tdsc_result *r, size_t col, size_t bufsize) {
  static const char pat[] = "abcdefgh";
  uint8_t *buf = malloc(bufsize);
  size_t total = 0, got;
  ck_assert_ptr_nonnull(buf);
  do {
    OK(tdsc_result_read(r, col, buf, bufsize, &got));
    for (size_t i = 0; i < got; i++)
      if (buf[i] != (uint8_t)pat[(total + i) % 8])
        ck_abort_msg("byte %zu is 0x%02x", total + i, buf[i]);
    total += got;
  } while (got);
  free(buf);
  return total;
}

#define BIG_MIB 48
#define BIG_SQL(n)                                                            \
  "SELECT CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), "           \
  "'abcdefgh'), " #n ")) AS v"

static void stream_big_with_constant_memory(void) {
  /* warm up: the first query's allocations are not the value's */
  tdsc_result *r = query("SELECT 1");
  tdsc_result_free(r);
  long before = peak_rss_kib();
  r = query(BIG_SQL(6291456)); /* 48 MiB */
  ck_assert_int_eq(tdsc_column_max_size(tdsc_result_column(r, 0)), -1);
  ck_assert(!is_null(r, 0));
  ck_assert_uint_eq(stream_pattern(r, 0, 65536), (size_t)BIG_MIB << 20);
  end_of(r);
  ASSERT_GREW_LESS(before, 4096, "a 48 MiB value");
}

START_TEST(a_large_value_streams_in_constant_memory) {
  up_with(NULL);
  stream_big_with_constant_memory();
  down();
}
END_TEST

START_TEST(a_large_value_of_unknown_length_streams_too) {
  up_with("--plp-unknown-length");
  stream_big_with_constant_memory();
  down();
}
END_TEST

START_TEST(nvarchar_max_streams_as_utf16) {
  up_with(NULL);
  /* U+00E9 U+20AC: e9 00 ac 20 in UTF-16LE, 100000 times */
  tdsc_result *r = query("SELECT REPLICATE(CONVERT(nvarchar(max), N'é€'), "
                         "100000) AS t");
  ck_assert_int_eq(tdsc_column_type(tdsc_result_column(r, 0)),
                   TDSC_TYPE_NVARCHAR);
  static const uint8_t unit[4] = {0xe9, 0x00, 0xac, 0x20};
  uint8_t buf[999]; /* odd, so pieces split the characters */
  size_t total = 0, got;
  do {
    OK(tdsc_result_read(r, 0, buf, sizeof buf, &got));
    for (size_t i = 0; i < got; i++)
      ck_assert_uint_eq(buf[i], unit[(total + i) % 4]);
    total += got;
  } while (got);
  ck_assert_uint_eq(total, 400000);
  end_of(r);
  down();
}
END_TEST

#define MIXED_SQL                                                             \
  "SELECT 1 AS a, CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), "   \
  "'abcdefgh'), 4096)) AS big, N'after' AS c "                                \
  "UNION ALL SELECT 2, CONVERT(varbinary(max), REPLICATE(CONVERT("            \
  "varchar(max), 'abcdefgh'), 8192)), N'second'"

START_TEST(a_streamed_column_is_gone_and_its_neighbours_are_not) {
  up_with(NULL);
  tdsc_result *r = query(MIXED_SQL);
  int64_t a;
  const char *t;
  const uint8_t *p;
  size_t n;
  OK(tdsc_result_get_int64(r, 0, &a));
  ck_assert_int_eq(a, 1);
  ck_assert_uint_eq(stream_pattern(r, 1, 1000), 32768);
  OK(tdsc_result_get_text(r, 2, &t, NULL));
  ck_assert_str_eq(t, "after");
  ck_assert_int_eq(tdsc_result_get_bytes(r, 1, &p, &n),
                   TDSC_E_VALUE_CONSUMED);
  ck_assert_ptr_nonnull(
      strstr(tdsc_error_message(tdsc_conn_error(conn)), "'big'"));
  OK(tdsc_result_get_int64(r, 0, &a)); /* earlier columns stay */
  /* second row: read half of big, then jump to c: big is gone */
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  uint8_t buf[100];
  OK(tdsc_result_read(r, 1, buf, sizeof buf, &n));
  ck_assert_uint_eq(n, sizeof buf);
  OK(tdsc_result_get_text(r, 2, &t, NULL));
  ck_assert_str_eq(t, "second");
  ck_assert_int_eq(tdsc_result_read(r, 1, buf, sizeof buf, &n),
                   TDSC_E_VALUE_CONSUMED);
  end_of(r);
  down();
}
END_TEST

/* Getters in any order on a lazy row: a large column passed over before
 * anyone touched it is kept; tdsc_result_read also reads held values. */
START_TEST(getters_read_lazy_rows_in_any_order) {
  up_with(NULL);
  tdsc_result *r = query(MIXED_SQL);
  const char *t;
  const uint8_t *p;
  size_t n;
  int64_t a;
  OK(tdsc_result_get_text(r, 2, &t, NULL)); /* past big */
  ck_assert_str_eq(t, "after");
  OK(tdsc_result_get_bytes(r, 1, &p, &n));
  ck_assert_uint_eq(n, 32768);
  ck_assert_int_eq(memcmp(p, "abcdefghabcdefgh", 16), 0);
  OK(tdsc_result_get_int64(r, 0, &a));
  ck_assert_int_eq(a, 1);
  ck_assert_uint_eq(stream_pattern(r, 1, 777), 32768); /* from memory */
  uint8_t two[2];
  OK(tdsc_result_read(r, 2, two, 2, &n)); /* a small one, in pieces */
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(memcmp(two, "a\0", 2), 0);
  /* leave the second row unread: next_set skips it */
  ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_END);
  tdsc_result_free(r);
  /* the connection is in step */
  r = query("SELECT CONVERT(varbinary(max), NULL) AS n, 5 AS five");
  ck_assert(is_null(r, 0));
  ck_assert_int_eq(tdsc_result_read(r, 0, two, 2, &n), TDSC_E_NULL_VALUE);
  OK(tdsc_result_get_int64(r, 1, &a));
  ck_assert_int_eq(a, 5);
  end_of(r);
  down();
}
END_TEST

/* A value larger than a getter may hold: refused from its announced
 * length, without holding it, and the rest of the row is still there. */
START_TEST(a_value_too_large_to_hold_is_refused_without_holding_it) {
  up_with(NULL);
  tdsc_result *r = query("SELECT 1 AS a");
  tdsc_result_free(r);
  long before = peak_rss_kib();
  r = query("SELECT CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), "
            "'abcdefgh'), 134217729)) AS v, 7 AS after"); /* 1 GiB + 8 */
  const uint8_t *p;
  size_t n;
  ck_assert_int_eq(tdsc_result_get_bytes(r, 0, &p, &n),
                   TDSC_E_VALUE_TOO_LARGE);
  ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(conn)),
                               "tdsc_result_read"));
  int64_t a;
  OK(tdsc_result_get_int64(r, 1, &a));
  ck_assert_int_eq(a, 7);
  ck_assert_int_eq(tdsc_result_get_bytes(r, 0, &p, &n),
                   TDSC_E_VALUE_CONSUMED);
  end_of(r);
  ASSERT_GREW_LESS(before, 4096, "refusing 1 GiB + 8");
  down();
}
END_TEST

/* --------------------------------------------------------- the way up */

typedef struct {
  size_t left, off;
} source;

static long long pattern_source(void *ud, void *buf, size_t len) {
  source *s = ud;
  size_t n = len < s->left ? len : s->left;
  for (size_t i = 0; i < n; i++)
    ((uint8_t *)buf)[i] = (uint8_t)"abcdefgh"[(s->off + i) % 8];
  s->off += n;
  s->left -= n;
  return (long long)n;
}

START_TEST(a_large_parameter_streams_up_in_constant_memory) {
  up_with(NULL);
  const size_t size = (size_t)BIG_MIB << 20;
  /* the expected digest, computed the same way */
  uint8_t want[32], chunk[65536];
  EVP_MD_CTX *md = EVP_MD_CTX_new();
  EVP_DigestInit_ex(md, EVP_sha256(), NULL);
  source s = {size, 0};
  long long k;
  while ((k = pattern_source(&s, chunk, sizeof chunk)) > 0)
    EVP_DigestUpdate(md, chunk, (size_t)k);
  EVP_DigestFinal_ex(md, want, NULL);
  EVP_MD_CTX_free(md);

  tdsc_result *r = query("SELECT 1");
  tdsc_result_free(r);
  long before = peak_rss_kib();
  tdsc_stmt *st = tdsc_stmt_new_sql(
      conn, "SELECT DATALENGTH(@p) AS n, HASHBYTES('SHA2_256', @p) AS h");
  s = (source){size, 0};
  OK(tdsc_stmt_bind_stream(st, "@p", TDSC_TYPE_VARBINARY, pattern_source, &s,
                           (long long)size));
  OK(tdsc_stmt_execute(st, &r));
  ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
  ck_assert_msg(tdsc_result_next_row(r) == TDSC_STEP_ROW, "%s", report());
  int64_t n;
  const uint8_t *h;
  size_t hlen;
  OK(tdsc_result_get_int64(r, 0, &n));
  ck_assert_int_eq(n, (int64_t)size);
  OK(tdsc_result_get_bytes(r, 1, &h, &hlen));
  ck_assert_uint_eq(hlen, 32);
  ck_assert_int_eq(memcmp(h, want, 32), 0);
  end_of(r);
  tdsc_stmt_free(st);
  ASSERT_GREW_LESS(before, 4096, "a 48 MiB upload");
  down();
}
END_TEST

static Suite *stream_suite(void) {
  Suite *s = suite_create("stream");
  TCase *tc = tcase_create("stream");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, a_large_value_streams_in_constant_memory);
  tcase_add_test(tc, a_large_value_of_unknown_length_streams_too);
  tcase_add_test(tc, nvarchar_max_streams_as_utf16);
  tcase_add_test(tc, a_streamed_column_is_gone_and_its_neighbours_are_not);
  tcase_add_test(tc, getters_read_lazy_rows_in_any_order);
  tcase_add_test(tc, a_value_too_large_to_hold_is_refused_without_holding_it);
  tcase_add_test(tc, a_large_parameter_streams_up_in_constant_memory);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_server();
  return th_run_suite(stream_suite());
}
