/* POSIX sockets: the headers and errno names behind sock.h's (sock_win32.h is
 * the Windows counterpart).  Included through sock.h only. */
#ifndef TDSC_SOCK_POSIX_H
#define TDSC_SOCK_POSIX_H

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
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

/* One step of a non-blocking AF_UNIX stream connect of fd to sa
 * (pipe_posix.c, and shm_posix.c's rendezvous), *in_progress false at
 * first: CONNECTED; WAIT: in progress, fd shows writable when it is over
 * (*in_progress is then true: the next step looks at the outcome); BUSY:
 * the listener's queue is full, try again later; FAILED: *e says why. */
struct sockaddr_un;
typedef enum {
  TDSC__UNIX_CONNECTED,
  TDSC__UNIX_WAIT,
  TDSC__UNIX_BUSY,
  TDSC__UNIX_FAILED
} tdsc__unix_step;
tdsc__unix_step tdsc__unix_connect_step(int fd, const struct sockaddr_un *sa,
                                        bool *in_progress, int *e);

#endif
