/* Sockets on POSIX and on Windows (Winsock): the few differences the
 * socket transports (tcp.c, ssrp.c, resolve.c, io.c's loops) meet, behind
 * one set of names.  The headers and error codes differ per platform
 * below; the functions are in sock_posix.c and sock_win32.c.  Error codes
 * are errno values on POSIX and WSAGetLastError values on Windows, kept
 * as they are in TDSC_PROVIDER_ERRNO (sys.h gives their text). */
#ifndef TDSC_SOCK_H
#define TDSC_SOCK_H

#include "error.h"

#ifdef _WIN32

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <winsock2.h>
#include <ws2tcpip.h>

typedef SOCKET tdsc__sock;
#define TDSC__NO_SOCK INVALID_SOCKET
#define TDSC__SOCK_EINTR WSAEINTR
#define TDSC__SOCK_EAGAIN WSAEWOULDBLOCK /* no data / no room, for now */
#define TDSC__SOCK_EWOULDBLOCK WSAEWOULDBLOCK
#define TDSC__SOCK_EINPROGRESS WSAEWOULDBLOCK /* a connect under way */
#define TDSC__SOCK_ECONNREFUSED WSAECONNREFUSED
#define TDSC__SOCK_ECONNRESET WSAECONNRESET
#define TDSC__SOCK_ECONNABORTED WSAECONNABORTED
#define TDSC__SOCK_EPIPE WSAESHUTDOWN
#define TDSC__SOCK_ETIMEDOUT WSAETIMEDOUT
#define TDSC__SOCK_ENETUNREACH WSAENETUNREACH
#define TDSC__SOCK_EHOSTUNREACH WSAEHOSTUNREACH
#define TDSC__SOCK_ENETDOWN WSAENETDOWN
#define TDSC__SOCK_EHOSTDOWN WSAEHOSTDOWN
#define TDSC__SOCK_EPROTO WSAEPROTONOSUPPORT
/* getaddrinfo has no "see errno" code on Windows: one it never returns */
#define TDSC__EAI_SYSTEM (-0x7fff)
/* A connected UDP socket learns of an ICMP port unreachable as a reset on
 * Windows (refused elsewhere, and under Wine). */
#define TDSC__SOCK_UDP_REFUSED(e)                                              \
  ((e) == WSAECONNREFUSED || (e) == WSAECONNRESET)
/* No SIGPIPE on Windows; datagrams larger than the buffer fail there
 * (WSAEMSGSIZE) instead of reporting their size. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif
#ifndef MSG_TRUNC
#define MSG_TRUNC 0
#endif
typedef ULONG tdsc__nfds;

#else /* POSIX */

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

typedef int tdsc__sock;
#define TDSC__NO_SOCK (-1)
#define TDSC__SOCK_EINTR EINTR
#define TDSC__SOCK_EAGAIN EAGAIN
#define TDSC__SOCK_EWOULDBLOCK EWOULDBLOCK
#define TDSC__SOCK_EINPROGRESS EINPROGRESS
#define TDSC__SOCK_ECONNREFUSED ECONNREFUSED
#define TDSC__SOCK_ECONNRESET ECONNRESET
#define TDSC__SOCK_ECONNABORTED ECONNABORTED
#define TDSC__SOCK_EPIPE EPIPE
#define TDSC__SOCK_ETIMEDOUT ETIMEDOUT
#define TDSC__SOCK_ENETUNREACH ENETUNREACH
#define TDSC__SOCK_EHOSTUNREACH EHOSTUNREACH
#define TDSC__SOCK_ENETDOWN ENETDOWN
#define TDSC__SOCK_EHOSTDOWN EHOSTDOWN
#define TDSC__SOCK_EPROTO EPROTO
#define TDSC__EAI_SYSTEM EAI_SYSTEM
#define TDSC__SOCK_UDP_REFUSED(e) ((e) == ECONNREFUSED)
typedef nfds_t tdsc__nfds;

#endif

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
