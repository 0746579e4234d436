/* A program that loads the library with dlopen and unloads it with
 * dlclose.  A Kerberos call abandoned when its connection was freed (the
 * KDC is silent) still runs on its worker; when it returns, the worker
 * goes on in the library's code, so that code must still be there: the
 * library keeps itself loaded once a call was abandoned (worker.h).  And
 * when nothing was abandoned, dlclose does unload it, which shows that
 * the first test unloads for real.
 *
 * This program does not link the library: it loads a copy of the built
 * one (a file of its own, so that the loader maps it anew each time). */
#define _GNU_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <dlfcn.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static th_realm realm;
static th_server srv;

/* The library's entry points this test calls, from the loaded copy. */
static struct {
  void *h;
  char path[800];
  tdsc_conn *(*conn_new)(void);
  void (*conn_free)(tdsc_conn *);
  tdsc_errc (*connect)(tdsc_conn *, const char *);
  tdsc_errc (*connect_start)(tdsc_conn *, const char *);
  tdsc_errc (*connect_poll)(tdsc_conn *);
  tdsc_socket (*socket)(const tdsc_conn *);
  int (*wants)(const tdsc_conn *);
  int (*timeout_ms)(const tdsc_conn *);
  const tdsc_error *(*conn_error)(const tdsc_conn *);
  const char *(*error_report)(const tdsc_error *);
} lib;

/* harness.c's th_report calls these two. */
const tdsc_error *tdsc_conn_error(const tdsc_conn *c) {
  return lib.conn_error(c);
}
const char *tdsc_error_report(const tdsc_error *e) {
  return lib.error_report(e);
}

static void *sym(const char *name) {
  void *p = dlsym(lib.h, name);
  ck_assert_msg(p != NULL, "%s: %s", name, dlerror());
  return p;
}

/* Copies the built library to a file named after tag and loads it. */
static void load(const char *tag) {
  const char *b = getenv("TDSC_BUILDDIR");
  ck_assert_msg(b != NULL, "TDSC_BUILDDIR is not set");
  char src[700], cmd[1800];
  snprintf(src, sizeof src, "%s/lib/.libs/libtdsclient.so", b);
  snprintf(lib.path, sizeof lib.path, "%s/libtdsc-%s.so", realm.dir, tag);
  snprintf(cmd, sizeof cmd, "cp -L '%s' '%s'", src, lib.path);
  ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
  lib.h = dlopen(lib.path, RTLD_NOW | RTLD_LOCAL);
  ck_assert_msg(lib.h != NULL, "dlopen: %s", dlerror());
  *(void **)&lib.conn_new = sym("tdsc_conn_new");
  *(void **)&lib.conn_free = sym("tdsc_conn_free");
  *(void **)&lib.connect = sym("tdsc_conn_connect");
  *(void **)&lib.connect_start = sym("tdsc_conn_connect_start");
  *(void **)&lib.connect_poll = sym("tdsc_conn_connect_poll");
  *(void **)&lib.socket = sym("tdsc_conn_socket");
  *(void **)&lib.wants = sym("tdsc_conn_wants");
  *(void **)&lib.timeout_ms = sym("tdsc_conn_timeout_ms");
  *(void **)&lib.conn_error = sym("tdsc_conn_error");
  *(void **)&lib.error_report = sym("tdsc_error_report");
}

/* Whether lib.path is mapped into this process. */
static bool mapped(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  ck_assert_ptr_nonnull(f);
  char line[2048];
  bool seen = false;
  while (!seen && fgets(line, sizeof line, f))
    seen = strstr(line, lib.path) != NULL;
  fclose(f);
  return seen;
}

static void serve(void) {
  char portstr[16], keytab[700], spn[128], map[128];
  ck_assert(th_realm_create(&realm));
  int port = th_free_port();
  snprintf(portstr, sizeof portstr, "%d", port);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(spn, sizeof spn, "MSSQLSvc/localhost:%d", port);
  snprintf(map, sizeof map, "alice@%s=TDSC\\alice", realm.realm);
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password",
                         "alice-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn, (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--keytab", keytab,
                                "--map", map,
                                (const char *)NULL),
                "the test server did not start");
}

static void teardown(void) {
  th_server_stop(&srv);
  th_realm_destroy(&realm);
}

START_TEST(the_library_unloads_when_nothing_runs) {
  serve();
  load("idle");
  tdsc_conn *c = lib.conn_new();
  ck_assert_int_eq(lib.connect(c, th_connstr(&srv, "Encrypt=mandatory")),
                   TDSC_OK);
  lib.conn_free(c);
  /* a Kerberos login that ends normally leaves no worker behind */
  char cs[2048];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;CAFile=%s;Authentication=kerberos",
           srv.port, th_cert("ca.pem"));
  c = lib.conn_new();
  ck_assert_msg(lib.connect(c, cs) == TDSC_OK, "%s", th_report(c));
  lib.conn_free(c);
  ck_assert(mapped());
  ck_assert_int_eq(dlclose(lib.h), 0);
  ck_assert_msg(!mapped(), "dlclose left %s mapped", lib.path);
  teardown();
}
END_TEST

START_TEST(an_abandoned_kerberos_call_outlives_dlclose) {
  serve();
  load("abandoned");
  ck_assert(th_realm_cmd(&realm, "silent", (const char *)NULL));
  char cs[2048];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;CAFile=%s;Authentication=kerberos;"
           "LoginTimeout=60",
           srv.port, th_cert("ca.pem"));
  tdsc_conn *c = lib.conn_new();
  tdsc_errc rc = lib.connect_start(c, cs);
  /* on until a GSSAPI call has waited on its worker for a second: the
   * ticket request to the silent KDC */
  long long waiting_since = -1;
  while (rc == TDSC_E_WOULD_BLOCK) {
    tdsc_socket fd = lib.socket(c);
    struct stat st;
    bool worker = fd != TDSC_INVALID_SOCKET && fstat(fd, &st) == 0 &&
                  !S_ISSOCK(st.st_mode);
    if (!worker)
      waiting_since = -1;
    else if (waiting_since < 0)
      waiting_since = th_now_ms();
    else if (th_now_ms() - waiting_since > 1000)
      break;
    int w = lib.wants(c);
    struct pollfd p = {fd, (short)((w & TDSC_WANT_READ ? POLLIN : 0) |
                                   (w & TDSC_WANT_WRITE ? POLLOUT : 0)),
                       0};
    ck_assert_int_ge(poll(&p, 1, 200), 0);
    rc = lib.connect_poll(c);
  }
  ck_assert_msg(rc == TDSC_E_WOULD_BLOCK, "the connect ended: %s",
                th_report(c));
  lib.conn_free(c); /* abandons the call */
  dlclose(lib.h);
  /* The KDC goes away: the call returns, and its worker frees what the
   * call held, in the library's code (a SIGSEGV here without the pin). */
  ck_assert(th_realm_cmd(&realm, "stop", (const char *)NULL));
  usleep(3000 * 1000);
  ck_assert_msg(mapped(), "%s was unmapped under its worker", lib.path);
  teardown();
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("unload");
  TCase *tc = tcase_create("unload");
  tcase_set_timeout(tc, 300);
  tcase_add_test(tc, the_library_unloads_when_nothing_runs);
  tcase_add_test(tc, an_abandoned_kerberos_call_outlives_dlclose);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_realm();
  char so[700];
  const char *b = getenv("TDSC_BUILDDIR");
  snprintf(so, sizeof so, "%s/lib/.libs/libtdsclient.so", b ? b : ".");
  if (access(so, R_OK) != 0) {
    printf("skipped: no shared library at %s (built --disable-shared?)\n",
           so);
    return 77;
  }
  return th_run_suite(suite());
}
