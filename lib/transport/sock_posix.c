/* POSIX sockets behind sock.h; sock_win32.c is the Windows counterpart. */
#include "config.h"

#include "transport/sock.h"

#include <stdio.h>
#include <unistd.h>

bool tdsc__sock_again(int e) {
  return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

tdsc_errc tdsc__sock_init(tdsc_error *err) {
  (void)err;
  return TDSC_OK;
}

tdsc__sock tdsc__sock_open(int family, int type, int protocol) {
  return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
}

void tdsc__sock_close(tdsc__sock s) {
  if (s >= 0)
    close(s);
}

int tdsc__sock_errno(void) { return errno; }

int tdsc__sock_poll(struct pollfd *fds, tdsc__nfds n, int ms) {
  return poll(fds, n, ms);
}

int tdsc__sock_pending_error(tdsc__sock s) {
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
    return errno;
  return soerr;
}

const char *tdsc__gai_text(int rc, char *buf, size_t len) {
  snprintf(buf, len, "%s", gai_strerror(rc));
  return buf;
}
