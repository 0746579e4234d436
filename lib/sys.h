/* Small services of the operating system that the portable code needs,
 * one file per platform: sys_posix.c and sys_win32.c (which also hold
 * clock.h's tdsc__now_ms).  Nothing here knows TDS.  The thread
 * primitives at the end are what auth/worker.c needs, no more. */
#ifndef TDSC_SYS_H
#define TDSC_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* This machine's host name as the system gives it (gethostname on POSIX,
 * the DNS host name on Windows), into buf; false when it is unknown. */
bool tdsc__hostname(char *buf, size_t len);

/* The text of a system error code, in buf (returned): an errno value on
 * POSIX; on Windows a Win32 or Winsock error (GetLastError,
 * WSAGetLastError), which is what TDSC_PROVIDER_ERRNO carries there. */
const char *tdsc__strerror(int code, char *buf, size_t len);

/* Whether the open file fd is private to its owner (no access for group
 * or others), *mode its permission bits, for a file holding passwords.
 * Windows: true (its ACLs, not mode bits, decide; the user's profile is
 * private by default). */
bool tdsc__file_private(int fd, unsigned *mode);

/* Microseconds since 1970-01-01 UTC (the wall clock, for trace lines). */
int64_t tdsc__wall_us(void);

/* Opens path for appending, creating it private to its owner (0600 on
 * POSIX: a protocol trace or a TLS key log is sensitive); NULL with errno
 * set on failure.  The file is not inherited by child processes. */
FILE *tdsc__fopen_append_private(const char *path);

/* ------------------------------------------------------------- threads */

/* A mutex with one condition variable (pthreads; a critical section and
 * a CONDITION_VARIABLE on Windows).  NULL: no memory. */
typedef struct tdsc__monitor tdsc__monitor;
tdsc__monitor *tdsc__monitor_new(void);
void tdsc__monitor_free(tdsc__monitor *m);
void tdsc__monitor_lock(tdsc__monitor *m);
void tdsc__monitor_unlock(tdsc__monitor *m);
/* With m locked: releases it and sleeps until signalled, or at most until
 * deadline (clock.h's scale; TDSC__NO_DEADLINE: none), then locks it
 * again.  May return early (spuriously): the caller checks its condition
 * and the time. */
void tdsc__monitor_wait(tdsc__monitor *m, int64_t deadline);
/* Wakes a thread waiting on m (m locked by the caller). */
void tdsc__monitor_signal(tdsc__monitor *m);

/* One process-wide lock, usable before anything is initialised, for
 * short critical sections over global lists. */
void tdsc__global_lock(void);
void tdsc__global_unlock(void);

/* A thread running fn(arg); NULL when none could be made.  Every thread
 * is joined: tdsc__thread_join waits for fn to return and frees t. */
typedef struct tdsc__thread tdsc__thread;
tdsc__thread *tdsc__thread_start(void (*fn)(void *arg), void *arg);
void tdsc__thread_join(tdsc__thread *t);

/* Keeps the library loaded until the process ends, whatever dlclose or
 * FreeLibrary the program calls later: for a thread that outlives the
 * connection that made it (RTLD_NODELETE; GET_MODULE_HANDLE_EX_FLAG_PIN).
 * Each call pins again: call it once. */
void tdsc__pin_library(void);

#endif
