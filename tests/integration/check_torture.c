/* Allocation-failure torture against the test server: for N = 1, 2, ...
 * the Nth allocation of a whole session (connect, a query over every
 * column kind read with every getter, a failing statement, close) fails;
 * then the same for NTLM and Kerberos logins bound to their TLS session
 * (Extended Protection required: the channel bindings, NTLMv2's messages
 * and keys, GSSAPI's calls on the worker, TLS) and a query; and a login
 * that a gateway routes to a replica (ENVCHANGE routing: the connect
 * again, TLS verified for the routed host, the hops' trail); a service
 * principal's login, its token fetched over HTTP on the worker from a
 * loopback identity provider; the last three also through the
 * non-blocking connect.
 * Each run must end without a crash or a leak (AddressSanitizer and
 * valgrind see to that), report TDSC_E_NO_MEMORY and no other code (or,
 * for an allocation the library can do without, change nothing the
 * application sees), and leave the handle usable (the rest of the session
 * works) or cleanly broken (not connected).  N stops when a run no longer meets
 * the failure; a stride bounds the time under valgrind. */
#define _DEFAULT_SOURCE
#include "alloc_fail.h"
#include "auth/token_cache.h"
#include "authority.h"
#include "expect.h"
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static th_server srv, epa_srv, gateway, replica, entra_srv, instance, local;
static int browser;
static char local_dir[600], pipe_path[800];
static th_realm realm;
static char users[600], cafile[600], keytab[600], krbmap[200];
static int epa_port;

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

/* The process's descriptors (the first 256): a failure path that closes
 * one it does not own (calloc's 0 taken for a socket) or leaves one open
 * shows as a change after the session. */
#define NFD 256
typedef struct fds {
  bool open[NFD];
  dev_t dev[NFD];
  ino_t ino[NFD];
} fds;

static void fds_take(fds *f) {
  for (int i = 0; i < NFD; i++) {
    struct stat st;
    f->open[i] = fstat(i, &st) == 0;
    f->dev[i] = f->open[i] ? st.st_dev : 0;
    f->ino[i] = f->open[i] ? st.st_ino : 0;
  }
}

static void fds_same(const fds *before, long n) {
  fds now;
  fds_take(&now);
  for (int i = 0; i < NFD; i++) {
    ck_assert_msg(now.open[i] == before->open[i],
                  "N=%ld: descriptor %d was %s before the session and is %s "
                  "after it",
                  n, i, before->open[i] ? "open" : "closed",
                  now.open[i] ? "open" : "closed");
    ck_assert_msg(!now.open[i] || (now.dev[i] == before->dev[i] &&
                                   now.ino[i] == before->ino[i]),
                  "N=%ld: descriptor %d is another file after the session", n,
                  i);
  }
}

/* Connects through the non-blocking API (tdsc_conn_connect_start and
 * _poll): the waker of each call on the worker, the pending states. */
static bool nonblocking;

static tdsc_errc connect_nb(tdsc_conn *c, const char *cs) {
  return th_connect_wait(c, tdsc_conn_connect_start(c, cs), NULL);
}

/* One session over cs with the Nth allocation failing (with typed, the
 * query over every column kind and the failing statement too); true when
 * it failed. */
static bool session(long n, seen *s, const char *cs, bool typed) {
  memset(s, 0, sizeof *s);
  fds open_before;
  fds_take(&open_before);
  af_arm(n);
  tdsc_conn *c = tdsc_conn_new();
  if (!c) {
    af_disarm();
    s->no_memory = true; /* the only way it fails */
    return true;
  }
  tdsc_errc rc = nonblocking ? connect_nb(c, cs) : tdsc_conn_connect(c, cs);
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
  fds_same(&open_before, n);
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

/* A CAFile changed since the last session: its TLS context is built and
 * kept anew (tls_openssl_ctx.c), not taken from the last session. */
static void cafile_changed(long n) {
  struct timespec t[2] = {{.tv_sec = 1000000000 + n},
                          {.tv_sec = 1000000000 + n}};
  ck_assert_int_eq(utimensat(AT_FDCWD, cafile, t, 0), 0);
}

/* NTLM and Kerberos, raw and in SPNEGO, bound to TLS 1.2's tls-unique:
 * the server refuses a login whose binding is missing or wrong, so a
 * failure that lost the binding on the way could not log in. */
START_TEST(every_allocation_failure_in_a_bound_login) {
  static const char *const mech[] = {
      "Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw;"
      "SPNEGO=no",
      "Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw;"
      "SPNEGO=yes",
      "Authentication=kerberos;SPNEGO=no",
      "Authentication=kerberos;SPNEGO=yes"};
  char cs[1024];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;CAFile=%s;LoginTimeout=5;"
           "ServerSPN=MSSQLSvc/localhost:%d;%s",
           epa_port, cafile, epa_port, mech[_i]);
  torture(cs, false, 50, cafile_changed);
}
END_TEST

/* A gateway routes the login to the replica (check_routing's world): two
 * TLS sessions verified, two logins, the trail's hops. */
START_TEST(every_allocation_failure_in_a_routed_login) {
  char cs[1024];
  snprintf(cs, sizeof cs,
           "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;CAFile=%s;"
           "LoginTimeout=5",
           gateway.port, cafile);
  torture(cs, false, 50, NULL);
}
END_TEST

/* The service principal's login: the token request built, sent and read
 * (oauth.c, http_curl.c) on the worker, its claims read (jwt.c), the token
 * in LOGIN7's FEDAUTH (fedauth.c). */
#define TENANT "72f988bf-0000-4000-8000-00000000cafe"
#define CLIENT "5e1f0000-0000-4000-8000-0000000000c1"
#define SP_OID "0c0ffee0-0000-4000-8000-0000000000a1"
static char entra_dir[64] = "", entra_cs[1024];
static pid_t authority_pid = -1;

static void entra_cs_make(int port) {
  snprintf(entra_cs, sizeof entra_cs,
           "Server=tcp:localhost,%d;CAFile=%s;LoginTimeout=10;"
           "Authentication=ActiveDirectoryServicePrincipal;UID=" CLIENT
           ";PWD=sp-secret;EntraTenant=" TENANT
           ";EntraAuthority=http://127.0.0.1:%d",
           entra_srv.port, cafile, port);
}

/* Each session fetches: the token the last one's login kept is
 * forgotten (token_cache.h). */
static void no_kept_token(long n) {
  (void)n;
  tdsc__token_cache_clear();
}

START_TEST(every_allocation_failure_in_a_token_fetch) {
  torture(entra_cs, false, 50, no_kept_token);
}
END_TEST

/* The token a login kept (the session without failures keeps it; a
 * failure that keeps none costs a fetch, invisible to the application):
 * taken from the cache, its claims read again. */
START_TEST(every_allocation_failure_with_a_kept_token) {
  tdsc__token_cache_clear();
  torture(entra_cs, false, 50, NULL);
  tdsc__token_cache_clear();
}
END_TEST

/* The other transports and the instance lookup: a named instance through
 * SQL Browser (ssrp.c), shared memory and a named pipe (LocalDir=), each
 * under TLS. */
START_TEST(every_allocation_failure_over_each_transport) {
  char cs[3000], server[900];
  if (_i == 0)
    snprintf(server, sizeof server, "tcp:localhost\\TDSCINST");
  else if (_i == 1)
    snprintf(server, sizeof server, "shm:");
  else
    snprintf(server, sizeof server, "np:%s", pipe_path);
  snprintf(cs, sizeof cs,
           "Server=%s;LocalDir=%s;BrowserPort=%d;CAFile=%s;"
           "HostNameInCertificate=localhost;LoginTimeout=5;UID=sa;"
           "PWD=Secret-123",
           server, local_dir, browser, cafile);
  torture(cs, false, 50, NULL);
}
END_TEST

/* A named instance behind SQL Browser; the default instance's shared
 * memory and pipe in local_dir, as LocalDir= expects them. */
static bool transports_world(void) {
  char bport[16], shm[700], sub[700];
  snprintf(local_dir, sizeof local_dir, "%s/local", realm.dir);
  snprintf(sub, sizeof sub, "%s/pipe", local_dir);
  snprintf(pipe_path, sizeof pipe_path, "%s/sql/query", sub);
  snprintf(shm, sizeof shm, "%s/MSSQLSERVER.shm", local_dir);
  if (mkdir(local_dir, 0700) != 0 || mkdir(sub, 0700) != 0)
    return false;
  snprintf(sub, sizeof sub, "%s/pipe/sql", local_dir);
  if (mkdir(sub, 0700) != 0)
    return false;
  browser = th_free_port();
  snprintf(bport, sizeof bport, "%d", browser);
  return th_server_start(&instance, "--ssrp-port", bport, "--instance",
                         "TDSCINST", (const char *)NULL) &&
         th_server_start(&local, "--shm", shm, "--pipe", pipe_path,
                         (const char *)NULL);
}

/* The routed login, the bound Kerberos one and the service principal's
 * through the non-blocking API: GSSAPI's calls and the token's fetch on
 * the worker, each with its waker. */
START_TEST(every_allocation_failure_in_a_non_blocking_login) {
  char cs[1024];
  if (_i == 0)
    snprintf(cs, sizeof cs,
             "Server=tcp:localhost,%d;UID=sa;PWD=Secret-123;CAFile=%s;"
             "LoginTimeout=5",
             gateway.port, cafile);
  else if (_i == 1)
    snprintf(cs, sizeof cs,
             "Server=tcp:localhost,%d;CAFile=%s;LoginTimeout=5;"
             "ServerSPN=MSSQLSvc/localhost:%d;Authentication=kerberos;"
             "SPNEGO=yes",
             epa_port, cafile, epa_port);
  else
    snprintf(cs, sizeof cs, "%s", entra_cs);
  nonblocking = true;
  torture(cs, false, 50, no_kept_token);
  nonblocking = false;
}
END_TEST

/* A tenant's key, the identity provider that signs with it, and a server
 * that validates its tokens and maps the service principal to a login. */
static bool entra_world(void) {
  char path[600], key[600], secret[600], principal[100];
  snprintf(entra_dir, sizeof entra_dir, "/tmp/tdsc-torture-XXXXXX");
  if (!mkdtemp(entra_dir) || !th_entra_keys(entra_dir))
    return false;
  snprintf(secret, sizeof secret, "%s/secret", entra_dir);
  FILE *f = fopen(secret, "w");
  if (!f || fputs("sp-secret\n", f) < 0 || fclose(f) != 0)
    return false;
  snprintf(key, sizeof key, "%s/tenant.key", entra_dir);
  snprintf(principal, sizeof principal, "%s=%s", CLIENT, SP_OID);
  const char *args[] = {
      "--key",         key,    "--tenant",    TENANT,    "--client-id", CLIENT,
      "--secret-file", secret, "--principal", principal, NULL};
  int port = th_authority_start(args, &authority_pid);
  snprintf(path, sizeof path, "%s/tenant.pem", entra_dir);
  if (port < 0 || !th_server_start(&entra_srv, "--entra-key", path,
                                   "--entra-tenant", TENANT, "--entra-user",
                                   SP_OID "=sp_entra", (const char *)NULL))
    return false;
  entra_cs_make(port);
  return true;
}

static void entra_world_end(void) {
  th_server_stop(&entra_srv);
  if (authority_pid > 0) {
    kill(authority_pid, SIGTERM);
    waitpid(authority_pid, NULL, 0);
  }
  const char *files[] = {"tenant.pem", "tenant.key", "secret"};
  char path[600];
  for (size_t i = 0; entra_dir[0] && i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", entra_dir, files[i]);
    unlink(path);
  }
  if (entra_dir[0])
    rmdir(entra_dir);
}

static bool routing_world(void) {
  if (!th_server_start(&replica, "--server-name", "REPLICA",
                       (const char *)NULL))
    return false;
  char to[64];
  snprintf(to, sizeof to, "localhost,%d", replica.port);
  return th_server_start(&gateway, "--server-name", "GATEWAY", "--route-to", to,
                         (const char *)NULL);
}

/* alice: a Kerberos principal with a TGT and an NTLM account, both mapped
 * to the login TDSC\alice, on a server with Extended Protection required
 * (as check_epa's). */
static bool epa_world(void) {
  char spn[128], portstr[16];
  if (!th_realm_create(&realm))
    return false;
  epa_port = th_free_port();
  snprintf(portstr, sizeof portstr, "%d", epa_port);
  snprintf(spn, sizeof spn, "MSSQLSvc/localhost:%d", epa_port);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(users, sizeof users, "%s/ntlm.users", realm.dir);
  snprintf(cafile, sizeof cafile, "%s/ca.pem", realm.dir);
  snprintf(krbmap, sizeof krbmap, "alice@%s=TDSC\\alice", realm.realm);
  FILE *f = fopen(users, "w");
  if (!f || fputs("TDSC:alice:alice-nt-pw\n", f) < 0 || fclose(f) != 0)
    return false;
  return copy_file(th_cert("ca.pem"), cafile) &&
         th_realm_cmd(&realm, "addprinc", "alice", "--password", "alice-pw",
                      (const char *)NULL) &&
         th_realm_cmd(&realm, "addprinc", spn, "--randkey",
                      (const char *)NULL) &&
         th_realm_cmd(&realm, "ktadd", keytab, spn, (const char *)NULL) &&
         th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                      (const char *)NULL) &&
         th_server_start(&epa_srv, "--port", portstr, "--keytab", keytab,
                         "--ntlm-users", users, "--map", krbmap, "--map",
                         "TDSC\\alice=TDSC\\alice", "--extended-protection",
                         "required", (const char *)NULL);
}

static void stop_here(long n) {
  if (getenv("AF_STOP") && atol(getenv("AF_STOP")) == n)
    abort(); /* to see where (gdb) */
}

int main(void) {
  th_require_realm();
  af_trace = stop_here;
  int rc = EXIT_FAILURE;
  if (th_server_start(&srv, "--encryption", "not_sup", (const char *)NULL) &&
      epa_world() && routing_world() && entra_world() && transports_world()) {
    Suite *s = suite_create("torture");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, every_allocation_failure_reports_no_memory);
    tcase_add_loop_test(tc, every_allocation_failure_in_a_bound_login, 0, 4);
    tcase_add_test(tc, every_allocation_failure_in_a_routed_login);
    tcase_add_test(tc, every_allocation_failure_in_a_token_fetch);
    tcase_add_test(tc, every_allocation_failure_with_a_kept_token);
    tcase_add_loop_test(tc, every_allocation_failure_over_each_transport, 0, 3);
    tcase_add_loop_test(tc, every_allocation_failure_in_a_non_blocking_login, 0,
                        3);
    suite_add_tcase(s, tc);
    rc = th_run_suite(s);
  }
  entra_world_end();
  th_server_stop(&local);
  th_server_stop(&instance);
  th_server_stop(&gateway);
  th_server_stop(&replica);
  th_server_stop(&epa_srv);
  th_realm_destroy(&realm);
  th_server_stop(&srv);
  return rc;
}
