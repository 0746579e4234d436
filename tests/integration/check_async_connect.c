/* The connect without waiting (tdsc_conn_connect_start / _poll) against
 * the test server: one thread and poll(2) connect 64 connections at once
 * (TLS with SQL login over TCP and the named pipe, NTLM, Kerberos whose
 * GSSAPI calls run on a worker that wakes the loop), some of which fail on purpose (a wrong SQL or NTLM
 * password, a port nobody listens on, a server that stalls after
 * PRELOGIN), each outcome's code checked; the fallback's trail kept; and
 * for a failure in each state of the attempt, the same code, words and
 * trail as the blocking connect. */
#define _DEFAULT_SOURCE
#include "harness.h"

#include <tdsclient.h>

#include <check.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static th_realm realm;
static th_server srv, stall;
static char users[700], pipepath[700];
static int dead_port;

#define OK(c, call)                                                           \
  do {                                                                        \
    tdsc_errc rc_ = (call);                                                   \
    ck_assert_msg(rc_ == TDSC_OK, "%s: %s", #call, th_report(c));             \
  } while (0)

/* The server with Kerberos (keytab) and NTLM (a users file), as
 * check_async sets it up, and one that stalls after its PRELOGIN answer. */
static void serve(void) {
  char portstr[16], keytab[700], map1[128], spn[128];
  ck_assert(th_realm_create(&realm));
  int port = th_free_port();
  snprintf(portstr, sizeof portstr, "%d", port);
  snprintf(users, sizeof users, "%s/ntlm.users", realm.dir);
  snprintf(keytab, sizeof keytab, "%s/server.keytab", realm.dir);
  snprintf(map1, sizeof map1, "alice@%s=TDSC\\alice", realm.realm);
  snprintf(spn, sizeof spn, "MSSQLSvc/localhost:%d", port);
  char d[700];
  snprintf(d, sizeof d, "%s/pipe", realm.dir);
  mkdir(d, 0700);
  snprintf(d, sizeof d, "%s/pipe/sql", realm.dir);
  mkdir(d, 0700);
  snprintf(pipepath, sizeof pipepath, "%s/pipe/sql/query", realm.dir);
  FILE *f = fopen(users, "w");
  ck_assert_ptr_nonnull(f);
  fputs("TDSC:alice:alice-nt-pw\n", f);
  fclose(f);
  ck_assert(th_realm_cmd(&realm, "addprinc", "alice", "--password",
                         "alice-pw", (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "addprinc", spn, "--randkey",
                         (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "ktadd", keytab, spn, (const char *)NULL));
  ck_assert(th_realm_cmd(&realm, "kinit", "alice", "--password", "alice-pw",
                         (const char *)NULL));
  ck_assert_msg(th_server_start(&srv, "--port", portstr, "--keytab", keytab,
                                "--ntlm-users", users, "--map", map1, "--map",
                                "TDSC\\alice=TDSC\\alice", "--pipe", pipepath,
                                (const char *)NULL),
                "the test server did not start");
  ck_assert_msg(th_server_start(&stall, "--misbehave", "hang-after-prelogin",
                                (const char *)NULL),
                "the stalling test server did not start");
  dead_port = th_free_port(); /* nothing listens there */
}

static void teardown(void) {
  th_server_stop(&srv);
  th_server_stop(&stall);
  th_realm_destroy(&realm);
}

/* ------------------------------------------------------------ the jobs */

typedef enum {
  K_SQL,        /* TLS + SQL login: connects */
  K_NTLM,       /* TLS + NTLM: connects */
  K_SQL_BAD,    /* wrong SQL password: LOGIN_FAILED */
  K_NTLM_BAD,   /* wrong NTLM password: NTLM_LOGON_DENIED */
  K_REFUSED,    /* nobody listens: CONN_REFUSED */
  K_STALL,      /* the server stalls after PRELOGIN: READ_TIMEOUT */
  K_KRB,        /* TLS + Kerberos (the ticket cache): connects */
  K_PIPE,       /* TLS + SQL login over the named pipe: connects */
  NKINDS
} kind;

static const tdsc_errc expected[NKINDS] = {
    TDSC_OK,           TDSC_OK,           TDSC_E_LOGIN_FAILED,
    TDSC_E_NTLM_LOGON_DENIED, TDSC_E_CONN_REFUSED, TDSC_E_READ_TIMEOUT,
    TDSC_OK,           TDSC_OK};

typedef struct job {
  kind k;
  tdsc_conn *c;
  tdsc_errc rc;
  bool done;
  long long took;
  bool waker_seen; /* it waited on a descriptor that is no socket */
} job;

static void job_connstr(kind k, char *out, size_t cap) {
  const char *ca = th_cert("ca.pem");
  switch (k) {
  case K_SQL:
    snprintf(out, cap, "%s", th_connstr(&srv, "Encrypt=mandatory"));
    break;
  case K_NTLM:
  case K_NTLM_BAD:
    snprintf(out, cap,
             "Server=tcp:localhost,%d;CAFile=%s;Authentication=ntlm;"
             "NTLMUser=TDSC\\alice;NTLMPassword=%s",
             srv.port, ca, k == K_NTLM ? "alice-nt-pw" : "not-her-pw");
    break;
  case K_SQL_BAD:
    snprintf(out, cap,
             "Server=tcp:localhost,%d;CAFile=%s;UID=sa;PWD=wrong-123",
             srv.port, ca);
    break;
  case K_REFUSED:
    snprintf(out, cap, "Server=tcp:127.0.0.1,%d;UID=sa;PWD=x;CAFile=%s",
             dead_port, ca);
    break;
  case K_STALL:
    snprintf(out, cap, "%s", th_connstr(&stall, "LoginTimeout=2"));
    break;
  case K_PIPE:
    snprintf(out, cap,
             "Server=np:%s;CAFile=%s;HostNameInCertificate=localhost;UID=sa;"
             "PWD=Secret-123",
             pipepath, ca);
    break;
  case K_KRB:
    snprintf(out, cap,
             "Server=tcp:localhost,%d;CAFile=%s;Authentication=kerberos",
             srv.port, ca);
    break;
  default:
    break;
  }
}

/* The service ticket goes into the cache before the tests, so that their
 * concurrent Kerberos connects only read it.  Valgrind 3.19 does not know
 * that fcntl(F_OFD_SETLKW) may block: a worker waiting for the cache's
 * write lock keeps valgrind's one lock, the worker that holds the cache's
 * lock never runs again, and the test hangs (the library does not). */
static void setup(void) {
  serve();
  char cs[2048];
  job_connstr(K_KRB, cs, sizeof cs);
  tdsc_conn *c = tdsc_conn_new();
  ck_assert_msg(tdsc_conn_connect(c, cs) == TDSC_OK, "%s", th_report(c));
  tdsc_conn_free(c);
}

/* What a pending job waits for, checked: a descriptor and a want, or at
 * least a timer. */
static void wait_spec(job *j, struct pollfd *p, int *timeout) {
  tdsc_socket fd = tdsc_conn_socket(j->c);
  int w = tdsc_conn_wants(j->c);
  int ms = tdsc_conn_timeout_ms(j->c);
  ck_assert_msg((fd != TDSC_INVALID_SOCKET && w) || ms >= 0,
                "a connect waiting for nothing: fd %d wants %d ms %d", fd, w,
                ms);
  ck_assert(!tdsc_conn_is_connected(j->c));
  struct stat st;
  if (fd != TDSC_INVALID_SOCKET && fstat(fd, &st) == 0 && !S_ISSOCK(st.st_mode))
    j->waker_seen = true; /* a mechanism's worker (GSSAPI) wakes it */
  p->fd = fd;
  p->events = (short)((w & TDSC_WANT_READ ? POLLIN : 0) |
                      (w & TDSC_WANT_WRITE ? POLLOUT : 0));
  p->revents = 0;
  if (ms >= 0 && (*timeout < 0 || ms < *timeout))
    *timeout = ms;
}

#define NJOBS 64

START_TEST(many_connects_in_one_thread) {
  /* Under valgrind every call costs fifty times as much: a dozen
   * connects (two of each kind) and a longer bound. */
  const char *pre = getenv("LD_PRELOAD");
  bool vg = pre && strstr(pre, "vgpreload");
  const int njobs = vg ? 2 * NKINDS : NJOBS; /* (multiples of NKINDS) */
  const long long bound_ms = vg ? 400000 : 120000;
  job jobs[NJOBS];
  char cs[2048];
  long long t0 = th_now_ms();
  int pending = 0, most_pending = 0;
  for (int i = 0; i < njobs; i++) {
    job *j = &jobs[i];
    memset(j, 0, sizeof *j);
    j->k = (kind)(i % NKINDS);
    j->c = tdsc_conn_new();
    ck_assert_ptr_nonnull(j->c);
    job_connstr(j->k, cs, sizeof cs);
    j->rc = tdsc_conn_connect_start(j->c, cs);
    if (j->rc == TDSC_E_WOULD_BLOCK)
      pending++;
    else
      j->done = true, j->took = th_now_ms() - t0;
  }
  most_pending = pending;
  while (pending) {
    ck_assert_msg(th_now_ms() - t0 < bound_ms, "%d connects still pending",
                  pending);
    struct pollfd pfd[NJOBS];
    int idx[NJOBS], n = 0, timeout = -1;
    for (int i = 0; i < njobs; i++) {
      if (jobs[i].done)
        continue;
      wait_spec(&jobs[i], &pfd[n], &timeout);
      idx[n++] = i;
    }
    int r = poll(pfd, (nfds_t)n, timeout < 0 ? 1000 : timeout);
    ck_assert_int_ge(r, 0);
    for (int k = 0; k < n; k++) {
      job *j = &jobs[idx[k]];
      /* ready, or its timer or deadline came (the poll then fails it) */
      if (!pfd[k].revents && tdsc_conn_timeout_ms(j->c) != 0)
        continue;
      j->rc = tdsc_conn_connect_poll(j->c);
      if (j->rc != TDSC_E_WOULD_BLOCK) {
        j->done = true;
        j->took = th_now_ms() - t0;
        pending--;
      }
    }
    if (pending > most_pending)
      most_pending = pending;
  }
  /* all were under way at once: none waited for another */
  ck_assert_int_ge(most_pending, njobs / 2);
  int ok = 0, woken = 0;
  for (int i = 0; i < njobs; i++) {
    job *j = &jobs[i];
    ck_assert_msg(j->rc == expected[j->k], "job %d (kind %d): %s", i, j->k,
                  th_report(j->c));
    ck_assert(NJOBS % NKINDS == 0);
    ck_assert_int_eq(tdsc_conn_attempt_count(j->c), 1);
    const tdsc_attempt *a = tdsc_conn_attempt_at(j->c, 0);
    if (j->rc == TDSC_OK) {
      ck_assert_ptr_null(tdsc_attempt_error(a));
      ck_assert(tdsc_conn_is_connected(j->c));
      ck_assert_str_eq(tdsc_conn_encryption(j->c), "tds7");
      ck_assert_int_eq(tdsc_conn_connect_poll(j->c), TDSC_OK);
      /* the session works (blocking, as the connect left the mode) */
      tdsc_result *r;
      char q[64];
      snprintf(q, sizeof q, "SELECT %d AS n", i);
      OK(j->c, tdsc_conn_execute(j->c, q, &r));
      ck_assert_int_eq(tdsc_result_next_set(r), TDSC_STEP_RESULT);
      ck_assert_int_eq(tdsc_result_next_row(r), TDSC_STEP_ROW);
      int64_t v;
      OK(j->c, tdsc_result_get_int64(r, 0, &v));
      ck_assert_int_eq(v, i);
      tdsc_result_free(r);
      ok++;
    } else {
      ck_assert_ptr_nonnull(tdsc_attempt_error(a));
      ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(a)), j->rc);
      ck_assert(!tdsc_conn_is_connected(j->c));
      ck_assert_int_eq(tdsc_conn_socket(j->c), TDSC_INVALID_SOCKET);
      /* the failure was returned once */
      ck_assert_int_eq(tdsc_conn_connect_poll(j->c), TDSC_E_NOT_CONNECTED);
    }
    if (j->k == K_KRB && j->waker_seen)
      woken++;
    ck_assert(j->k == K_KRB || !j->waker_seen);
    if (j->k == K_STALL) /* LoginTimeout=2 passed, and not much more */
      ck_assert_msg(j->took >= 1900, "stalled login failed after %lld ms",
                    j->took);
    tdsc_conn_free(j->c);
  }
  int per_kind = njobs / NKINDS; /* (njobs a multiple of NKINDS) */
  ck_assert_int_eq(ok, 4 * per_kind);
  /* Kerberos' context calls ran on the worker while the loop went on */
  ck_assert_int_ge(woken, 1);
}
END_TEST

/* Runs the connect non-blocking to its end, waiting with poll(2). */
static tdsc_errc connect_nb(tdsc_conn *c, const char *cs) {
  tdsc_errc rc = tdsc_conn_connect_start(c, cs);
  long long t0 = th_now_ms();
  while (rc == TDSC_E_WOULD_BLOCK) {
    ck_assert_int_lt(th_now_ms() - t0, 60000);
    ck_assert_int_eq(tdsc_error_code(tdsc_conn_error(c)), TDSC_E_WOULD_BLOCK);
    struct pollfd p;
    int timeout = -1;
    job j = {.c = c};
    wait_spec(&j, &p, &timeout);
    ck_assert_int_ge(poll(&p, p.fd >= 0 ? 1 : 0, timeout), 0);
    rc = tdsc_conn_connect_poll(c);
  }
  return rc;
}

/* A fallback (NTLM has no credentials, SQL login follows) keeps both
 * attempts in the trail, in order. */
START_TEST(the_fallback_keeps_its_trail) {
  tdsc_conn *c = tdsc_conn_new();
  OK(c, connect_nb(c, th_connstr(&srv, "Authentication=ntlm,sql")));
  ck_assert_int_eq(tdsc_conn_attempt_count(c), 2);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 0)),
                   "ntlm");
  ck_assert_int_eq(
      tdsc_error_code(tdsc_attempt_error(tdsc_conn_attempt_at(c, 0))),
      TDSC_E_NTLM_NO_CREDENTIALS);
  ck_assert_str_eq(tdsc_attempt_mechanism(tdsc_conn_attempt_at(c, 1)), "sql");
  ck_assert_ptr_null(tdsc_attempt_error(tdsc_conn_attempt_at(c, 1)));
  /* and closing in the middle of a connect abandons it cleanly (a server
   * that stalls: a fast one may have answered every read at once) */
  ck_assert_int_eq(tdsc_conn_connect_start(c, th_connstr(&stall, "")),
                   TDSC_E_WOULD_BLOCK);
  tdsc_result *r = NULL;
  ck_assert_int_eq(tdsc_conn_execute(c, "SELECT 1", &r),
                   TDSC_E_NOT_CONNECTED);
  tdsc_conn_close(c);
  ck_assert(!tdsc_conn_is_connected(c));
  ck_assert_int_eq(tdsc_conn_socket(c), TDSC_INVALID_SOCKET);
  tdsc_conn_free(c);
}
END_TEST

/* Closing while a Kerberos call runs on its worker abandons the call:
 * the worker frees what it holds when the call returns (ASan and valgrind
 * watch), and the next connect is not disturbed. */
START_TEST(closing_during_a_kerberos_call_abandons_it) {
  char cs[2048];
  job_connstr(K_KRB, cs, sizeof cs);
  bool seen = false;
  for (int tries = 0; tries < 20 && !seen; tries++) {
    tdsc_conn *c = tdsc_conn_new();
    tdsc_errc rc = tdsc_conn_connect_start(c, cs);
    while (rc == TDSC_E_WOULD_BLOCK) {
      job j = {.c = c};
      struct pollfd p;
      int timeout = -1;
      wait_spec(&j, &p, &timeout);
      if ((seen = j.waker_seen))
        break; /* the call runs on the worker now */
      ck_assert_int_ge(poll(&p, p.fd >= 0 ? 1 : 0, timeout), 0);
      rc = tdsc_conn_connect_poll(c);
    }
    ck_assert(seen || rc == TDSC_OK);
    tdsc_conn_free(c);
  }
  ck_assert(seen);
  tdsc_conn *c = tdsc_conn_new();
  OK(c, connect_nb(c, cs));
  tdsc_conn_free(c);
}
END_TEST

/* The connect's deadline is not the first request's: a request made
 * after LoginTimeout has passed has its own query timeout, in
 * non-blocking mode too. */
START_TEST(a_request_after_the_connect_has_its_own_deadline) {
  tdsc_conn *c = tdsc_conn_new();
  OK(c, tdsc_conn_set_nonblocking(c, true));
  OK(c, connect_nb(c, th_connstr(&srv, "LoginTimeout=1")));
  usleep(1200 * 1000);
  tdsc_result *r;
  OK(c, tdsc_conn_execute(c, "WAITFOR DELAY '00:00:00.300'; SELECT 7 AS n",
                          &r));
  tdsc_step st;
  long long t0 = th_now_ms();
  while ((st = tdsc_result_next_set(r)) == TDSC_STEP_ERROR &&
         tdsc_error_code(tdsc_conn_error(c)) == TDSC_E_WOULD_BLOCK) {
    ck_assert_int_lt(th_now_ms() - t0, 30000);
    struct pollfd p = {.fd = tdsc_conn_socket(c), .events = POLLIN};
    ck_assert_int_ge(poll(&p, 1, tdsc_conn_timeout_ms(c)), 0);
  }
  ck_assert_msg(st == TDSC_STEP_RESULT, "%s", th_report(c));
  tdsc_result_free(r);
  tdsc_conn_free(c);
}
END_TEST

/* A failure in each state of the attempt: the non-blocking connect ends
 * with the blocking one's code, words and trail. */
START_TEST(each_state_fails_as_in_blocking_mode) {
  char cs[9][2048];
  const tdsc_errc want[] = {
      TDSC_E_BAD_OPTION_VALUE,      /* before any attempt */
      TDSC_E_NTLM_NO_CREDENTIALS,   /* the mechanism's credentials */
      TDSC_E_CONN_REFUSED,          /* the transport */
      TDSC_E_TLS_CERT_NAME_MISMATCH, /* TLS */
      TDSC_E_LOGIN_FAILED,          /* the login response */
      TDSC_E_NTLM_LOGON_DENIED,     /* an SSPI round */
      TDSC_E_READ_TIMEOUT,          /* a stall after PRELOGIN */
      TDSC_E_LOGIN_NO_DATABASE,     /* the server's refusal */
      TDSC_E_TLS_CERT_NAME_MISMATCH, /* TDS 8.0's TLS, before PRELOGIN */
  };
  snprintf(cs[0], sizeof cs[0], "%s", th_connstr(&srv, "Encrypt=maybe"));
  snprintf(cs[1], sizeof cs[1], "%s", th_connstr(&srv, "Authentication=ntlm"));
  job_connstr(K_REFUSED, cs[2], sizeof cs[2]);
  snprintf(cs[3], sizeof cs[3], "%s",
           th_connstr(&srv, "HostNameInCertificate=db.example.org"));
  job_connstr(K_SQL_BAD, cs[4], sizeof cs[4]);
  job_connstr(K_NTLM_BAD, cs[5], sizeof cs[5]);
  snprintf(cs[6], sizeof cs[6], "%s", th_connstr(&stall, "LoginTimeout=1"));
  snprintf(cs[7], sizeof cs[7], "%s", th_connstr(&srv, "Database=nosuchdb"));
  snprintf(cs[8], sizeof cs[8], "%s",
           th_connstr(&srv, "Encrypt=strict;HostNameInCertificate=db.example.org"));
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    tdsc_conn *b = tdsc_conn_new(), *n = tdsc_conn_new();
    tdsc_errc rb = tdsc_conn_connect(b, cs[i]);
    tdsc_errc rn = connect_nb(n, cs[i]);
    ck_assert_msg(rb == want[i], "case %zu blocking: %s", i, th_report(b));
    ck_assert_msg(rn == rb, "case %zu non-blocking: %s", i, th_report(n));
    const tdsc_error *eb = tdsc_conn_error(b), *en = tdsc_conn_error(n);
    ck_assert_str_eq(tdsc_error_message(en), tdsc_error_message(eb));
    ck_assert_int_eq(tdsc_error_trail_count(en), tdsc_error_trail_count(eb));
    ck_assert_int_eq(tdsc_conn_attempt_count(n), tdsc_conn_attempt_count(b));
    for (size_t k = 0; k < tdsc_conn_attempt_count(b); k++) {
      const tdsc_attempt *ab = tdsc_conn_attempt_at(b, k),
                         *an = tdsc_conn_attempt_at(n, k);
      ck_assert_str_eq(tdsc_attempt_transport(an), tdsc_attempt_transport(ab));
      ck_assert_str_eq(tdsc_attempt_mechanism(an), tdsc_attempt_mechanism(ab));
      ck_assert_str_eq(tdsc_attempt_tls(an), tdsc_attempt_tls(ab));
      ck_assert_str_eq(tdsc_attempt_target(an), tdsc_attempt_target(ab));
      ck_assert_int_eq(tdsc_error_code(tdsc_attempt_error(an)),
                       tdsc_error_code(tdsc_attempt_error(ab)));
    }
    tdsc_conn_free(b);
    tdsc_conn_free(n);
  }
}
END_TEST

/* Acquiring a ticket with a password asks the KDC: on the worker, while
 * the loop goes on (a silent KDC held the start for LoginTimeout before);
 * the deadline fails it with the blocking connect's code.  Last: the
 * realm's KDC stays silent. */
START_TEST(acquiring_a_ticket_does_not_block_the_loop) {
  ck_assert(th_realm_cmd(&realm, "silent", (const char *)NULL));
  char cs[2048];
  snprintf(cs, sizeof cs, "%s",
           th_connstr(&srv, "Authentication=kerberos;KrbPrincipal=alice;"
                            "KrbPassword=alice-pw;LoginTimeout=3"));
  tdsc_conn *c = tdsc_conn_new();
  tdsc_errc rc = tdsc_conn_connect_start(c, cs);
  ck_assert_msg(rc == TDSC_E_WOULD_BLOCK, "%s", th_report(c));
  /* waiting on the worker's waker, not on a socket: no traffic yet */
  struct stat st;
  ck_assert_int_eq(fstat(tdsc_conn_socket(c), &st), 0);
  ck_assert(!S_ISSOCK(st.st_mode));
  ck_assert_int_eq(tdsc_conn_wants(c), TDSC_WANT_READ);
  tdsc_conn_free(c); /* abandons the call */
  c = tdsc_conn_new();
  tdsc_conn *b = tdsc_conn_new();
  rc = connect_nb(c, cs);
  ck_assert_msg(rc == TDSC_E_KRB_KDC_UNREACHABLE, "%s", th_report(c));
  ck_assert_int_eq(tdsc_conn_connect(b, cs), rc);
  /* the same words (but for the milliseconds waited) */
  static const char *const words[] = {
      "did not answer within the login timeout",
      "while getting initial credentials for MSSQLSvc/localhost:",
      "as alice@"};
  for (size_t i = 0; i < 3; i++) {
    ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(c)),
                                 words[i]));
    ck_assert_ptr_nonnull(strstr(tdsc_error_message(tdsc_conn_error(b)),
                                 words[i]));
  }
  tdsc_conn_free(b);
  tdsc_conn_free(c);
}
END_TEST

static Suite *suite(void) {
  Suite *s = suite_create("async_connect");
  TCase *tc = tcase_create("async_connect");
  tcase_set_timeout(tc, 450);
  tcase_add_unchecked_fixture(tc, setup, teardown);
  tcase_add_test(tc, many_connects_in_one_thread);
  tcase_add_test(tc, the_fallback_keeps_its_trail);
  tcase_add_test(tc, closing_during_a_kerberos_call_abandons_it);
  tcase_add_test(tc, a_request_after_the_connect_has_its_own_deadline);
  tcase_add_test(tc, each_state_fails_as_in_blocking_mode);
  tcase_add_test(tc, acquiring_a_ticket_does_not_block_the_loop);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  th_require_realm();
  return th_run_suite(suite());
}
