/* Sockets on POSIX and on Windows (Winsock): the few differences the
 * socket transports (tcp.c, ssrp.c, resolve.c, io.c's loops) meet, behind
 * one set of names.  The headers and error codes differ per platform
 * (sock_posix.h, sock_win32.h); the functions are in sock_posix.c and
 * sock_win32.c.  Error codes are errno values on POSIX and WSAGetLastError
 * values on Windows, kept as they are in TDSC_PROVIDER_ERRNO (sys.h gives
 * their text). */
#ifndef TDSC_SOCK_H
#define TDSC_SOCK_H

#include "error.h"

/* The platform half: sock_posix.h or sock_win32.h, as configure chose
 * (config.h), like the .c files the build picks. */
#include TDSC_SOCK_PLATFORM_H

/* Whether e means "try again later" (EAGAIN, EWOULDBLOCK, EINTR). */
bool tdsc__sock_again(int e);

/* Makes the socket API usable (WSAStartup, once per process, on Windows;
 * nothing on POSIX).  Every function that opens or resolves calls it.
 * Codes: SOCKET. */
tdsc_errc tdsc__sock_init(tdsc_error *err);

/* A non-blocking socket that child processes do not inherit, or
 * TDSC__NO_SOCK with the reason in tdsc__sock_errno(). */
tdsc__sock tdsc__sock_open(int family, int type, int protocol);
void tdsc__sock_close(tdsc__sock s);

/* The error of the last failed socket call on this thread. */
int tdsc__sock_errno(void);

/* poll() over sockets: the events POLLIN and POLLOUT, revents as poll's
 * (POLLERR for a failed connect).  ms < 0 waits without limit.  -1 with
 * tdsc__sock_errno() on failure. */
int tdsc__sock_poll(struct pollfd *fds, tdsc__nfds n, int ms);

/* The pending error of s (SO_ERROR: how a non-blocking connect ended), 0
 * for none. */
int tdsc__sock_pending_error(tdsc__sock s);

/* The text of a getaddrinfo error code, in buf (returned). */
const char *tdsc__gai_text(int rc, char *buf, size_t len);

#endif
