/* async: a Windows program for tests/windows/run-wine.sh (issue 16: the
 * non-blocking API under Winsock).  One thread drives every connection
 * with the public non-blocking calls (tdsc_conn_connect_start / _poll,
 * tdsc_conn_set_nonblocking, tdsc_conn_socket, tdsc_conn_wants,
 * tdsc_conn_timeout_ms) and waits for all of them in one WSAPoll:
 *
 *   async N GOOD-CS... -- BAD-CS CODE [BAD-CS CODE...]
 *
 * N connections with the GOOD-CS strings in turn (say SQL login over
 * Schannel TLS, and NTLM through SSPI), each asking who it is, the rows of
 * people and its own number, and checking every answer; and one
 * connection per BAD-CS (a wrong password, a refused port), all at the
 * same time, each of which must fail with CODE ("LOGIN_FAILED").  A good
 * connection string may end in ";#WHO=name": the login name SUSER_NAME()
 * must give (the part is cut off before connecting).  Prints a line per
 * failure and one summary line; exit 0 when every check held within 90 s.
 * Public API only. */
#include "config.h"

#include <tdsclient.h>

#include <winsock2.h>

#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { Q_WHO, Q_PEOPLE, Q_MINE, Q_COUNT };

typedef struct client {
  tdsc_conn *conn;
  int index;
  const char *who;  /* the expected SUSER_NAME(), or NULL */
  tdsc_errc expect; /* TDSC_OK, or the code a bad one must fail with */
  bool connecting;
  int query; /* Q_*: the next (or current) query */
  tdsc_result *res;
  bool in_rows;
  int rows;              /* of the current query */
  char got[Q_COUNT][96]; /* what each query's rows said, joined by '|' */
  bool done, failed;
  bool ready;     /* its socket showed what it wanted, or a timer */
  tdsc_errc code; /* how it ended */
  char why[300];
} client;

static const char *const queries[Q_COUNT] = {
    "SELECT SUSER_NAME()", "SELECT id, name FROM people ORDER BY id", NULL};

/* The rows of the people table in tests/server/sample.sql. */
static const char people[] = "1:Alice|2:Bob|3:Zo\xc3\xab|4:NULL|";

static void fail(client *c, const char *why) {
  c->done = c->failed = true;
  c->code = tdsc_error_code(tdsc_conn_error(c->conn));
  snprintf(c->why, sizeof c->why, "%s: %s", why,
           tdsc_error_report(tdsc_conn_error(c->conn)));
}

/* Appends the current row to c->got[c->query]: "a:b|". */
static void keep_row(client *c, tdsc_result *r) {
  char *out = c->got[c->query];
  size_t used = strlen(out);
  size_t cols = tdsc_result_column_count(r);
  for (size_t i = 0; i < cols && used + 1 < sizeof c->got[0]; i++) {
    const char *t = NULL;
    if (tdsc_result_get_text(r, i, &t, NULL) != TDSC_OK || !t)
      t = "NULL";
    used += (size_t)snprintf(out + used, sizeof c->got[0] - used, "%s%s",
                             i ? ":" : "", t);
  }
  if (used + 1 < sizeof c->got[0])
    strcat(out, "|");
}

/* Goes as far as c can without waiting. */
static void advance(client *c) {
  while (c->connecting) {
    tdsc_errc rc = tdsc_conn_connect_poll(c->conn);
    if (rc == TDSC_E_WOULD_BLOCK)
      return;
    c->connecting = false;
    if (rc != TDSC_OK) {
      fail(c, "connect");
      return;
    }
  }
  while (!c->done) {
    if (!c->res) {
      if (c->query == Q_COUNT) {
        c->done = true;
        return;
      }
      char mine[64];
      snprintf(mine, sizeof mine, "SELECT %d", c->index);
      const char *sql = c->query == Q_MINE ? mine : queries[c->query];
      if (tdsc_conn_execute(c->conn, sql, &c->res) != TDSC_OK) {
        fail(c, sql);
        return;
      }
      c->in_rows = false;
    }
    tdsc_step s = c->in_rows ? tdsc_result_next_row(c->res)
                             : tdsc_result_next_set(c->res);
    if (s == TDSC_STEP_ERROR) {
      if (tdsc_error_code(tdsc_conn_error(c->conn)) != TDSC_E_WOULD_BLOCK)
        fail(c, "query");
      return;
    }
    if (s == TDSC_STEP_RESULT)
      c->in_rows = tdsc_result_column_count(c->res) > 0;
    else if (s == TDSC_STEP_ROW)
      keep_row(c, c->res);
    else if (c->in_rows)
      c->in_rows = false;
    else {
      tdsc_result_free(c->res);
      c->res = NULL;
      c->query++;
    }
  }
}

/* Whether a finished good connection read what it should have. */
static bool answers_right(client *c) {
  char want[Q_COUNT][96];
  snprintf(want[Q_WHO], sizeof want[0], "%s|", c->who ? c->who : "");
  snprintf(want[Q_PEOPLE], sizeof want[0], "%s", people);
  snprintf(want[Q_MINE], sizeof want[0], "%d|", c->index);
  for (int q = 0; q < Q_COUNT; q++) {
    if (q == Q_WHO && !c->who)
      continue;
    if (strcmp(want[q], c->got[q]) != 0) {
      snprintf(c->why, sizeof c->why, "query %d read \"%s\", not \"%s\"", q,
               c->got[q], want[q]);
      return false;
    }
  }
  return true;
}

/* The code named "LOGIN_FAILED" (TDSC_E_LOGIN_FAILED), or TDSC_OK. */
static tdsc_errc code_named(const char *name) {
  for (int e = 1; e < 2000; e++) {
    const char *en = tdsc_errc_name((tdsc_errc)e);
    if (en && strcmp(en, name) == 0)
      return (tdsc_errc)e;
  }
  return TDSC_OK;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 0;
  int sep = 2;
  while (sep < argc && strcmp(argv[sep], "--") != 0)
    sep++;
  int ngood = sep - 2, nbad = (argc - sep - 1) / 2;
  if (n <= 0 || ngood <= 0 || sep == argc || (argc - sep - 1) % 2 != 0) {
    fprintf(stderr, "usage: async N GOOD-CS... -- BAD-CS CODE...\n");
    return 64;
  }
  WSADATA wsa;
  if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0)
    return 1;
  int total = n + nbad;
  client *cl = calloc((size_t)total, sizeof *cl);
  WSAPOLLFD *pfd = calloc((size_t)total, sizeof *pfd);
  int *who = calloc((size_t)total, sizeof *who);
  if (!cl || !pfd || !who)
    return 1;
  int failures = 0;
  for (int i = 0; i < total; i++) {
    client *c = &cl[i];
    char cs[1024];
    c->index = i;
    if (i < n) {
      snprintf(cs, sizeof cs, "%s", argv[2 + i % ngood]);
      char *mark = strstr(cs, ";#WHO=");
      if (mark) {
        c->who = strstr(argv[2 + i % ngood], ";#WHO=") + 6;
        *mark = '\0';
      }
    } else {
      int b = sep + 1 + 2 * (i - n);
      snprintf(cs, sizeof cs, "%s", argv[b]);
      c->expect = code_named(argv[b + 1]);
      if (c->expect == TDSC_OK) {
        fprintf(stderr, "no code %s\n", argv[b + 1]);
        return 64;
      }
    }
    c->conn = tdsc_conn_new();
    if (!c->conn || tdsc_conn_set_nonblocking(c->conn, true) != TDSC_OK)
      return 1;
    tdsc_errc rc = tdsc_conn_connect_start(c->conn, cs);
    c->connecting = rc == TDSC_E_WOULD_BLOCK;
    c->ready = true;
    if (rc != TDSC_OK && rc != TDSC_E_WOULD_BLOCK)
      fail(c, "connect_start");
  }
  ULONGLONG t0 = GetTickCount64(), limit = t0 + 90000;
  int left = total, rounds = 0, waits = 0;
  for (;;) {
    /* advance whoever can, then wait for all the others at once */
    int np = 0, timeout = -1;
    left = 0;
    for (int i = 0; i < total; i++) {
      client *c = &cl[i];
      if (c->done)
        continue;
      /* only what the wait said may move: a wrong want or descriptor
       * then stalls the connection until the limit, and fails */
      if (c->ready || tdsc_conn_timeout_ms(c->conn) == 0)
        advance(c);
      c->ready = false;
      if (c->done)
        continue;
      left++;
      tdsc_socket s = tdsc_conn_socket(c->conn);
      int w = tdsc_conn_wants(c->conn), t = tdsc_conn_timeout_ms(c->conn);
      if (s == TDSC_INVALID_SOCKET || !w)
        c->ready = true; /* a timer or a worker: look again after the wait */
      if (s != TDSC_INVALID_SOCKET && w) {
        pfd[np].fd = (SOCKET)s;
        pfd[np].events = (SHORT)((w & TDSC_WANT_READ ? POLLRDNORM : 0) |
                                 (w & TDSC_WANT_WRITE ? POLLWRNORM : 0));
        pfd[np].revents = 0;
        who[np++] = i;
      } else if (t < 0 || t > 10) {
        t = 10; /* nothing to wait on (a worker's call): look again soon */
      }
      if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    }
    if (left == 0)
      break;
    ULONGLONG now = GetTickCount64();
    if (now >= limit) {
      printf("FAIL: %d connections unfinished after 90 s\n", left);
      failures++;
      break;
    }
    if (timeout < 0 || (ULONGLONG)timeout > limit - now)
      timeout = (int)(limit - now);
    rounds++;
    if (np == 0) {
      Sleep((DWORD)timeout);
      continue;
    }
    waits++;
    if (WSAPoll(pfd, (ULONG)np, timeout) == SOCKET_ERROR) {
      printf("FAIL: WSAPoll: error %d\n", WSAGetLastError());
      failures++;
      break;
    }
    for (int k = 0; k < np; k++)
      if (pfd[k].revents)
        cl[who[k]].ready = true;
  }
  int ok_good = 0, ok_bad = 0;
  for (int i = 0; i < total; i++) {
    client *c = &cl[i];
    if (!c->done) {
      printf("FAIL: connection %d did not finish\n", i);
    } else if (c->expect == TDSC_OK) {
      if (!c->failed && answers_right(c))
        ok_good++;
      else {
        printf("FAIL: connection %d: %s\n", i, c->why);
        failures++;
      }
    } else if (c->failed && c->code == c->expect) {
      ok_bad++;
    } else {
      printf("FAIL: connection %d: %s, not %s: %s\n", i,
             c->failed ? tdsc_errc_name(c->code) : "it succeeded",
             tdsc_errc_name(c->expect), c->why);
      failures++;
    }
    tdsc_result_free(c->res);
    tdsc_conn_free(c->conn);
  }
  printf("%d of %d connections answered right, %d of %d failed as they "
         "should, in %lu ms (%d rounds, %d WSAPoll waits)\n",
         ok_good, n, ok_bad, nbad, (unsigned long)(GetTickCount64() - t0),
         rounds, waits);
  free(cl);
  free(pfd);
  free(who);
  WSACleanup();
  return failures == 0 && ok_good == n && ok_bad == nbad ? 0 : 1;
}
