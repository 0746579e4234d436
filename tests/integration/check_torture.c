/* Allocation-failure torture against the test server: for N = 1, 2, ...
 * the Nth allocation of a whole session (connect, a query over every
 * column kind read with every getter, a failing statement, close) fails;
 * then the same for an NTLM login bound to its TLS session (Extended
 * Protection required: the channel bindings, NTLMv2's messages and keys,
 * TLS) and a query.
 * Each run must end without a crash or a leak (AddressSanitizer and
 * valgrind see to that), report TDSC_E_NO_MEMORY and no other code (or,
 * for an allocation the library can do without, change nothing the
 * application sees), and leave the handle usable (the rest of the session
 * works) or cleanly broken (not connected).  N stops when a run no longer meets the
 * failure; a stride bounds the time under valgrind. */
#define _DEFAULT_SOURCE
#include "alloc_fail.h"
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static th_server srv, epa_srv;
static char users[600], cafile[600];

typedef struct seen {
  tdsc_errc bad;     /* a code other than NO_MEMORY */
  const char *where;
  char message[300];
  bool no_memory;    /* NO_MEMORY was reported */
  bool in_server_error; /* the failure came while the server's error was
                           recorded: its code stays, its text is lost */
  uint64_t digest;      /* of every outcome and cell the application saw */
} seen;

/* FNV-1a over what the application saw, and a separator. */
static void saw(seen *s, const char *what) {
  for (const unsigned char *p = (const unsigned char *)what; *p; p++)
    s->digest = (s->digest ^ *p) * UINT64_C(0x100000001b3);
  s->digest = (s->digest ^ 0xff) * UINT64_C(0x100000001b3);
}

static void note(seen *s, tdsc_conn *c, tdsc_errc rc, const char *where) {
  saw(s, where);
  saw(s, tdsc_errc_name(rc));
  if (rc == TDSC_OK)
    return;
  if (rc == TDSC_E_NO_MEMORY) {
    s->no_memory = true;
    return;
  }
  /* a statement's own error is the server's, expected */
  if (rc == TDSC_E_SERVER_ERROR && !strcmp(where, "bad statement"))
    return;
  if (s->bad == TDSC_OK) {
    s->bad = rc;
    s->where = where;
    const tdsc_error *e = tdsc_conn_error(c);
    snprintf(s->message, sizeof s->message, "%s",
             e ? tdsc_error_message(e) : "");
  }
}

/* Runs sql, reading every cell with is_null and get_text. */
static void query(seen *s, tdsc_conn *c, const char *sql, const char *what) {
  tdsc_result *r;
  tdsc_errc rc = tdsc_conn_execute(c, sql, &r);
  note(s, c, rc, what);
  if (rc != TDSC_OK)
    return;
  tdsc_step st;
  for (int guard = 0; guard < 100; guard++) {
    st = tdsc_result_next_set(r);
    if (st == TDSC_STEP_END)
      break;
    if (st == TDSC_STEP_ERROR) {
      note(s, c, tdsc_error_code(tdsc_conn_error(c)), what);
      if (!tdsc_conn_is_connected(c))
        break;
      continue;
    }
    size_t nc = tdsc_result_column_count(r);
    while ((st = tdsc_result_next_row(r)) == TDSC_STEP_ROW) {
      for (size_t i = 0; i < nc; i++) {
        bool null;
        const char *t;
        rc = tdsc_result_is_null(r, i, &null);
        if (rc == TDSC_OK && !null)
          rc = tdsc_result_get_text(r, i, &t, NULL);
        note(s, c, rc, what);
        saw(s, rc != TDSC_OK ? "?" : null ? "NULL" : t);
      }
    }
    if (st == TDSC_STEP_ERROR) {
      note(s, c, tdsc_error_code(tdsc_conn_error(c)), what);
      if (!tdsc_conn_is_connected(c))
        break;
    }
  }
  tdsc_result_free(r);
}

/* One session over cs with the Nth allocation failing (with typed, the
 * query over every column kind and the failing statement too); true when
 * it failed. */
static bool session(long n, seen *s, const char *cs, bool typed) {
  memset(s, 0, sizeof *s);
  af_arm(n);
  tdsc_conn *c = tdsc_conn_new();
  if (!c) {
    af_disarm();
    s->no_memory = true; /* the only way it fails */
    return true;
  }
  tdsc_errc rc = tdsc_conn_connect(c, cs);
  note(s, c, rc, "connect");
  if (rc == TDSC_OK && typed) {
    query(s, c, "SELECT * FROM typed ORDER BY id", "typed");
    if (tdsc_conn_is_connected(c)) { /* else cleanly broken */
      bool before = af_fired();
      query(s, c, "SELECT * FROM no_such_table", "bad statement");
      s->in_server_error = !before && af_fired() && !s->no_memory;
    }
  }
  /* usable or cleanly broken: a last query works, or it is refused as
   * not connected */
  if (rc == TDSC_OK && tdsc_conn_is_connected(c))
    query(s, c, "SELECT 1 AS one", "after");
  bool fired = af_fired();
  af_disarm();
  if (fired && tdsc_conn_is_connected(c)) {
    /* the handle is usable: a query without failures goes through */
    seen again = {0};
    query(&again, c, "SELECT name FROM people ORDER BY id", "usable");
    ck_assert_msg(again.bad == TDSC_OK && !again.no_memory,
                  "N=%ld: the handle is not usable afterwards: %s at %s: %s",
                  n, tdsc_errc_name(again.bad), again.where, again.message);
  }
  tdsc_conn_free(c);
  return fired;
}

/* Every N from 1 until a session needs fewer allocations.  A failure
 * reports NO_MEMORY, or nothing changes for the application: one that only
 * costs a kept TLS context (tls_openssl_ctx.c) is absorbed, and what the
 * session saw is then exactly what it sees without failures. */
static void torture(const char *cs, bool typed, long min_runs,
                    void (*before)(long n)) {
  const char *pre = getenv("LD_PRELOAD");
  /* under valgrind every session costs seconds: every fifth N (a
   * session needs a few hundred allocations) */
  long stride = pre && strstr(pre, "vgpreload") ? 5 : 1;
  long runs = 0, absorbed = 0;
  seen ref;
  if (before)
    before(0);
  session(0, &ref, cs, typed); /* armed with 0: no failure */
  ck_assert_msg(ref.bad == TDSC_OK && !ref.no_memory,
                "without failures: %s at %s (%s)", tdsc_errc_name(ref.bad),
                ref.where, ref.message);
  for (long n = 1; n < 20000; n += stride) {
    seen s;
    if (before)
      before(n);
    bool fired = session(n, &s, cs, typed);
    ck_assert_msg(s.bad == TDSC_OK,
                  "allocation %ld failed: %s at %s (%s), want NO_MEMORY", n,
                  tdsc_errc_name(s.bad), s.where, s.message);
    if (!fired)
      break; /* the whole session needs fewer allocations */
    runs++;
    if (s.no_memory || s.in_server_error)
      continue;
    absorbed++;
    ck_assert_msg(s.digest == ref.digest,
                  "allocation %ld failed, nothing reported NO_MEMORY, and "
                  "what the application saw changed",
                  n);
  }
  fprintf(stderr, "torture: %ld runs (%ld absorbed), stride %ld\n", runs,
          absorbed, stride);
  ck_assert_int_gt(runs * stride, min_runs);
}

START_TEST(every_allocation_failure_reports_no_memory) {
  char cs[512];
  snprintf(cs, sizeof cs,
           "Server=tcp:127.0.0.1,%d;UID=sa;PWD=Secret-123;Encrypt=off;"
           "LoginTimeout=5",
           srv.port);
  torture(cs, true, 50, NULL);
}
END_TEST

/* A CAFile changed since the last session: its TLS context is built and
 * kept anew (tls_openssl_ctx.c), not taken from the last session. */
static void cafile_changed(long n) {
  struct timespec t[2] = {{.tv_sec = 1000000000 + n},
                          {.tv_sec = 1000000000 + n}};
  ck_assert_int_eq(utimensat(AT_FDCWD, cafile, t, 0), 0);
}

/* NTLM raw and in SPNEGO, bound to TLS 1.2's tls-unique: the server
 * refuses a login whose binding is missing or wrong, so a failure that
 * lost the binding on the way could not log in. */
START_TEST(every_allocation_failure_in_a_bound_ntlm_login) {
  static const char *const spnego[] = {"no", "yes"};
  char cs[1024];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;CAFile=%s;LoginTimeout=5;"
           "Authentication=ntlm;NTLMUser=TDSC\\alice;"
           "NTLMPassword=alice-nt-pw;SPNEGO=%s",
           epa_srv.port, cafile, spnego[_i]);
  torture(cs, false, 50, cafile_changed);
}
END_TEST

static bool copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
  char buf[4096];
  size_t n;
  bool ok = in && out;
  while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
    ok = fwrite(buf, 1, n, out) == n;
  ok = ok && !ferror(in);
  if (in)
    fclose(in);
  if (out && fclose(out) != 0)
    ok = false;
  return ok;
}

static void stop_here(long n) {
  if (getenv("AF_STOP") && atol(getenv("AF_STOP")) == n)
    abort(); /* to see where (gdb) */
}

int main(void) {
  th_require_server();
  af_trace = stop_here;
  if (!th_server_start(&srv, "--encryption", "not_sup", (const char *)NULL))
    return EXIT_FAILURE;
  /* gss-ntlmssp's accounts file for the server's NTLM acceptor */
  snprintf(users, sizeof users, "%s/ntlm.users", srv.dir);
  snprintf(cafile, sizeof cafile, "%s/ca.pem", srv.dir);
  FILE *f = fopen(users, "w");
  if (!f || fputs("TDSC:alice:alice-nt-pw\n", f) < 0 || fclose(f) != 0 ||
      !copy_file(th_cert("ca.pem"), cafile)) {
    th_server_stop(&srv);
    return EXIT_FAILURE;
  }
  if (!th_server_start(&epa_srv, "--ntlm-users", users, "--map",
                       "TDSC\\alice=TDSC\\alice", "--extended-protection",
                       "required", (const char *)NULL)) {
    th_server_stop(&srv);
    return EXIT_FAILURE;
  }
  Suite *s = suite_create("torture");
  TCase *tc = tcase_create("alloc");
  tcase_set_timeout(tc, 900);
  tcase_add_test(tc, every_allocation_failure_reports_no_memory);
  tcase_add_loop_test(tc, every_allocation_failure_in_a_bound_ntlm_login, 0, 2);
  suite_add_tcase(s, tc);
  int rc = th_run_suite(s);
  th_server_stop(&epa_srv);
  th_server_stop(&srv);
  return rc;
}
