/* One blocking call (getaddrinfo, a GSSAPI or SSPI call, which may wait
 * on a name server or a KDC for as long as it likes) run on a thread of
 * its own, so that the caller keeps its deadline: it waits for the call,
 * or polls it and is woken through a waker (transport/io.h), or leaves
 * it.
 *
 * The payload belongs to the work.  While the call runs only the worker
 * touches it; once the work is done the caller reads its outputs (and may
 * move them out) and ends the work.  A caller that leaves a running call
 * abandons it: when the call returns, the worker discards the payload
 * itself, so nothing leaks and nothing the caller owns is touched.
 *
 * Threads: every worker is joined, by tdsc__work_end or, for an abandoned
 * one, by the next tdsc__work_start once its call has returned.  An
 * abandoned call outlives the connection that made it; so that a program
 * which then unloads the library does not pull the code from under it,
 * the first abandonment keeps the library loaded until the process ends
 * (documented in tdsclient(3)). */
#ifndef TDSC_TRANSPORT_WORKER_H
#define TDSC_TRANSPORT_WORKER_H

#include "transport/io.h" /* the waker */

#include <stdbool.h>
#include <stdint.h>

typedef struct tdsc__work tdsc__work;
typedef void (*tdsc__work_fn)(void *payload);

/* A work that will run call(payload); discard(payload) frees the payload
 * and whatever the call left in it.  NULL: no memory (payload untouched,
 * still the caller's). */
tdsc__work *tdsc__work_new(tdsc__work_fn call, tdsc__work_fn discard,
                           void *payload);

/* Starts the call on a worker thread; wake (NULL: none) is fired when it
 * is done, unless the caller abandoned it.  false: no thread could be
 * made (no memory, or the system's limit on threads) and nothing ran:
 * the caller reports tdsc__work_no_thread and ends w.  The call never
 * runs on the caller's thread instead: that would hold the caller past
 * its deadline, and a non-blocking one in its poll. */
bool tdsc__work_start(tdsc__work *w, tdsc__waker *wake);

/* TDSC_E_NO_MEMORY: no thread could be made for what. */
tdsc_errc tdsc__work_no_thread(tdsc_error *err, const char *what);

/* Whether the started w is done, without waiting: 1 done (the payload's
 * outputs are valid), 0 still running, -1 the deadline (tdsc__now_ms
 * scale; TDSC__NO_DEADLINE: none) passed: w is abandoned and gone. */
int tdsc__work_poll(tdsc__work *w, int64_t deadline);

/* Starts w and waits until it is done: 1; -1 the deadline passed (w is
 * abandoned and gone); 0 no thread could be made (as tdsc__work_start:
 * nothing ran, the caller ends w). */
int tdsc__work_run(tdsc__work *w, int64_t deadline);

/* The payload of w, for its outputs once it is done. */
void *tdsc__work_payload(tdsc__work *w);

/* Ends w, done or never started: joins its thread, discards the payload,
 * frees w. */
void tdsc__work_end(tdsc__work *w);

/* The caller leaves w, done or not: as tdsc__work_end if it is done;
 * otherwise the worker discards the payload when the call returns. */
void tdsc__work_abandon(tdsc__work *w);

/* Tests only: the calls (and abandoned payloads' discards) still running;
 * and a hook each worker calls after it woke its caller, to widen the
 * window in which it still runs. */
unsigned tdsc__work_active(void);
extern void (*tdsc__work_pause)(void);

#endif
