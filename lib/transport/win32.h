/* What the Windows transports (pipe_win32.c, shm_win32.c, wake_win32.c)
 * share and io.h does not say: they wait on handles, not only sockets.
 * Windows builds only. */
#ifndef TDSC_TRANSPORT_WIN32_H
#define TDSC_TRANSPORT_WIN32_H

#include "transport/io.h" /* includes winsock2.h before windows.h */

#include <windows.h>

/* The waker's event (a manual-reset event, signalled while fired), for
 * transports that wait with WaitForMultipleObjects; NULL for NULL. */
HANDLE tdsc__waker_handle(const tdsc__waker *w);

/* Opens the named pipe name (UTF-8, \\host\pipe\...) in message read mode
 * for overlapped I/O, waiting for a free instance until the deadline.
 * kind: "np", or "shm" for the SQLLocal pipe, whose absence is then
 * SHM_NOT_FOUND rather than PIPE_NOT_FOUND.  busy (NULL: none) is set to
 * 1 once the pipe said that every instance is taken, and stays 1. */
tdsc_errc tdsc__pipe_open_win32(const char *name, const char *kind,
                                int64_t deadline, volatile LONG *busy,
                                tdsc__io **out, tdsc_error *err);
/* The same as an opener (io.h): the open runs on the worker, the step
 * waits on its waker. */
tdsc_errc tdsc__pipe_opener_win32(const char *name, const char *kind,
                                  tdsc__opener **out, tdsc_error *err);

/* Tests only: a hook the open calls each time a wait for a free instance
 * has ended, before it looks at the outcome, to widen the window in which
 * that wait has ended and the open has not. */
extern void (*tdsc__pipe_wait_pause)(void);

#endif
