/* async: many connections driven by one thread and poll(2), with the
 * library's non-blocking mode (tdsclient(3), NON-BLOCKING MODE).
 *
 *   tdsc-async [-n CONNECTIONS] [-q QUERIES] [-s SQL] CONNSTR [CONNSTR...]
 *
 * Opens CONNECTIONS connections (default 100), the i-th with the
 * (i mod k)-th of the k connection strings (say one with SQL login over
 * TLS and one with Authentication=kerberos), all at once: each connect is
 * started with tdsc_conn_connect_start and advanced with
 * tdsc_conn_connect_poll (Kerberos' GSSAPI calls run on a worker whose
 * descriptor the loop waits on like a socket).  Then every connection runs QUERIES queries
 * (default 3) one after another, all connections at once, in one thread:
 * each call that would wait returns TDSC_E_WOULD_BLOCK, and the loop
 * waits for every connection's descriptor in one poll(2) before calling
 * it again.  Prints one line per connection (rows, the first
 * row's first column), then the totals; exits 1 on any error.
 * TDSC_PASSWORD, when set, is added to every connection string as PWD. */
#include "../api/example.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct client {
  tdsc_conn *conn;
  tdsc_result *res;
  bool connecting; /* tdsc_conn_connect_poll until TDSC_OK */
  int queries_left;
  bool in_rows;  /* a result with columns is current */
  long rows;
  char first[64]; /* the first row's first column */
  bool done;
} client;

static const char *sql = "SELECT SUSER_NAME() AS who, name FROM people";

/* Advances c until a call would block (returns 0), its queries are done
 * (returns 0, c->done set) or a call fails (returns -1). */
static int advance(client *c) {
  while (c->connecting) {
    tdsc_errc rc = tdsc_conn_connect_poll(c->conn);
    if (rc == TDSC_E_WOULD_BLOCK)
      return 0;
    if (rc != TDSC_OK)
      return -1;
    c->connecting = false;
  }
  for (;;) {
    if (!c->res) {
      if (c->queries_left == 0) {
        c->done = true;
        return 0;
      }
      /* queued: the request goes out with the next calls */
      if (tdsc_conn_execute(c->conn, sql, &c->res) != TDSC_OK)
        return -1;
      c->queries_left--;
      c->in_rows = false;
    }
    tdsc_step s = c->in_rows ? tdsc_result_next_row(c->res)
                             : tdsc_result_next_set(c->res);
    if (s == TDSC_STEP_ERROR)
      return tdsc_error_code(tdsc_conn_error(c->conn)) == TDSC_E_WOULD_BLOCK
                 ? 0
                 : -1;
    if (s == TDSC_STEP_RESULT) {
      c->in_rows = tdsc_result_column_count(c->res) > 0;
    } else if (s == TDSC_STEP_ROW) {
      const char *t;
      if (c->rows++ == 0 &&
          tdsc_result_get_text(c->res, 0, &t, NULL) == TDSC_OK)
        snprintf(c->first, sizeof c->first, "%s", t);
    } else if (c->in_rows) { /* the end of a result's rows */
      c->in_rows = false;
    } else { /* the end of the response */
      tdsc_result_free(c->res);
      c->res = NULL;
    }
  }
}

int main(int argc, char **argv) {
  int n = 100, queries = 3, opt;
  while ((opt = getopt(argc, argv, "n:q:s:")) != -1) {
    if (opt == 'n')
      n = atoi(optarg);
    else if (opt == 'q')
      queries = atoi(optarg);
    else if (opt == 's')
      sql = optarg;
    else
      optind = argc + 1; /* usage */
  }
  if (optind >= argc || n <= 0 || queries < 0) {
    fprintf(stderr, "usage: %s [-n CONNECTIONS] [-q QUERIES] [-s SQL] "
                    "CONNSTR [CONNSTR...]\n",
            argv[0]);
    return 2;
  }
  int nstr = argc - optind;
  client *cl = calloc((size_t)n, sizeof *cl);
  struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
  if (!cl || !pfd)
    return 1;
  int status = 0, left = n;
  for (int i = 0; i < n; i++) {
    char *cs = example_connstr(argv[optind + i % nstr]);
    cl[i].conn = tdsc_conn_new();
    cl[i].queries_left = queries;
    if (!cs || !cl[i].conn)
      return 1;
    tdsc_conn_set_nonblocking(cl[i].conn, true);
    /* the connect goes as far as it can; the loop below finishes it */
    tdsc_errc rc = tdsc_conn_connect_start(cl[i].conn, cs);
    free(cs);
    cl[i].connecting = rc == TDSC_E_WOULD_BLOCK;
    if (rc != TDSC_OK && rc != TDSC_E_WOULD_BLOCK) {
      fprintf(stderr, "connection %d: ", i);
      example_report(cl[i].conn);
      return 1;
    }
  }
  while (left > 0) {
    /* advance whoever can, then wait for the others in one poll */
    int timeout = -1;
    for (int i = 0; i < n; i++) {
      client *c = &cl[i];
      pfd[i].fd = -1;
      if (c->done)
        continue;
      bool ready = pfd[i].revents != 0 || tdsc_conn_timeout_ms(c->conn) == 0;
      if ((ready || (!c->res && !c->connecting)) && advance(c) < 0) {
        fprintf(stderr, "connection %d: ", i);
        example_report(c->conn);
        c->done = true;
        status = 1;
      }
      if (c->done) {
        left--;
        continue;
      }
      int w = tdsc_conn_wants(c->conn), t = tdsc_conn_timeout_ms(c->conn);
      pfd[i].fd = tdsc_conn_socket(c->conn);
      pfd[i].events = (short)((w & TDSC_WANT_READ ? POLLIN : 0) |
                              (w & TDSC_WANT_WRITE ? POLLOUT : 0));
      if (t >= 0 && (timeout < 0 || t < timeout))
        timeout = t;
    }
    for (int i = 0; i < n; i++)
      pfd[i].revents = 0;
    if (left > 0 && poll(pfd, (nfds_t)n, timeout) < 0) {
      perror("poll");
      return 1;
    }
  }
  long total = 0;
  for (int i = 0; i < n; i++) {
    printf("connection %d: %ld rows, first '%s'\n", i, cl[i].rows,
           cl[i].first);
    total += cl[i].rows;
    tdsc_result_free(cl[i].res);
    tdsc_conn_free(cl[i].conn);
  }
  printf("%d connections, %d queries each, %ld rows\n", n, queries, total);
  free(cl);
  free(pfd);
  return status;
}
