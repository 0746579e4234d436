/* Winsock: the headers and WSA error names behind sock.h's (sock_posix.h is
 * the POSIX counterpart).  Included through sock.h only. */
#ifndef TDSC_SOCK_WIN32_H
#define TDSC_SOCK_WIN32_H

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

#endif
