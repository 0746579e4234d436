/* Name resolution off the caller's thread (lookup.h): tdsc__resolve run
 * on the worker, the way a threaded resolver does it. */
#include "config.h"

#include "transport/lookup.h"

#include "transport/worker.h"
#include "clock.h"
#include "transport/sock.h"

#include <stdio.h>
#include <stdlib.h>

/* The worker's payload: what to resolve, and the answer. */
typedef struct job {
  char *host;
  uint16_t port;
  int socktype;
  tdsc_errc rc;
  tdsc__addr *addrs;
  size_t n;
  tdsc_error err;
} job;

struct tdsc__lookup {
  tdsc__work *w;      /* NULL once the answer is taken */
  tdsc__waker *wake;  /* fired by the worker when it is done */
  bool started;       /* on the worker (else already done) */
  int64_t start;
  char what[300];     /* "db.example.com (port 1433)", for the timeout */
};

static void job_run(void *p) {
  job *j = p;
  j->rc =
      tdsc__resolve(j->host, j->port, j->socktype, &j->addrs, &j->n, &j->err);
}

static void job_discard(void *p) {
  job *j = p;
  free(j->host);
  free(j->addrs);
  tdsc__err_clear(&j->err);
  free(j);
}

void tdsc__lookup_free(tdsc__lookup *l) {
  if (!l)
    return;
  if (l->w && l->started)
    tdsc__work_abandon(l->w); /* ends it at once if it is done */
  else if (l->w)
    tdsc__work_end(l->w);
  tdsc__waker_free(l->wake);
  free(l);
}

tdsc_errc tdsc__lookup_start(const char *host, uint16_t port, int socktype,
                             tdsc__lookup **out, tdsc_error *err) {
  *out = NULL;
  tdsc__lookup *l = calloc(1, sizeof *l);
  job *j = calloc(1, sizeof *j);
  if (!l || !j)
    goto oom;
  j->host = tdsc__strdup(host ? host : "");
  j->port = port;
  j->socktype = socktype;
  if (!j->host || !(l->w = tdsc__work_new(job_run, job_discard, j)))
    goto oom;
  j = NULL; /* the work's now */
  l->start = tdsc__now_ms();
  char purpose[32];
  tdsc__resolve_purpose(socktype, port, purpose, sizeof purpose);
  snprintf(l->what, sizeof l->what, "%s (%s)", host ? host : "", purpose);
  /* resolve.c answers these without a resolver */
  bool at_once = !host || !*host || tdsc__is_localhost(host) ||
                 tdsc__is_ip_literal(host);
  if (at_once) {
    job_run(tdsc__work_payload(l->w));
  } else if (!(l->wake = tdsc__waker_new())) {
    goto oom;
  } else if (!(l->started = tdsc__work_start(l->w, l->wake))) {
    tdsc__lookup_free(l);
    return tdsc__work_no_thread(err, "a name lookup");
  }
  *out = l;
  return TDSC_OK;

oom:
  if (j)
    job_discard(j);
  tdsc__lookup_free(l);
  return tdsc__err_oom(err);
}

tdsc_errc tdsc__lookup_step(tdsc__lookup *l, int64_t deadline,
                            tdsc__addr **addrs, size_t *n, intptr_t *fd,
                            tdsc_error *err) {
  *addrs = NULL;
  *n = 0;
  *fd = TDSC__NO_POLLFD;
  if (l->started) {
    int st = tdsc__work_poll(l->w, deadline);
    if (st == 0) {
      *fd = tdsc__waker_fd(l->wake);
      return TDSC__AGAIN;
    }
    l->started = false;
    if (st < 0) { /* abandoned, and gone */
      l->w = NULL;
      return tdsc__err_errno(err, TDSC_E_HOST_NOT_FOUND, TDSC__SOCK_ETIMEDOUT,
                             "cannot resolve %s: the name service did not "
                             "answer within %lld ms",
                             l->what, (long long)(tdsc__now_ms() - l->start));
    }
  }
  job *j = tdsc__work_payload(l->w);
  tdsc_errc rc = j->rc;
  if (rc == TDSC_OK) {
    *addrs = j->addrs;
    *n = j->n;
    j->addrs = NULL;
  } else {
    tdsc__err_move(err, &j->err);
  }
  tdsc__work_end(l->w);
  l->w = NULL;
  return rc;
}
