/* A host's addresses without blocking the caller (issue 16): getaddrinfo
 * neither honours a deadline nor can be polled, so for a name that needs
 * the name service it runs on the worker (transport/worker.h), which wakes a
 * descriptor when done and is abandoned at the deadline.  Numeric hosts
 * and localhost (resolve.c answers those itself) resolve at once. */
#ifndef TDSC_LOOKUP_H
#define TDSC_LOOKUP_H

#include "transport/io.h"

typedef struct tdsc__lookup tdsc__lookup;

/* Starts resolving host:port for socktype (tdsc__resolve's).  NO_MEMORY,
 * or TDSC_OK. */
tdsc_errc tdsc__lookup_start(const char *host, uint16_t port, int socktype,
                             tdsc__lookup **out, tdsc_error *err);

/* Without waiting: TDSC_OK with *addrs (malloc'ed, the caller's) and *n,
 * tdsc__resolve's failures, TDSC_E_HOST_NOT_FOUND once the deadline has
 * passed with the name service still silent, or TDSC__AGAIN: wait until
 * *fd is readable (TDSC__NO_POLLFD: a short nap), then step again. */
tdsc_errc tdsc__lookup_step(tdsc__lookup *l, int64_t deadline,
                            tdsc__addr **addrs, size_t *n, intptr_t *fd,
                            tdsc_error *err);

/* Frees l; a lookup still running is abandoned (the worker discards its
 * answer). */
void tdsc__lookup_free(tdsc__lookup *l);

#endif
