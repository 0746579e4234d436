/* POSIX sockets behind sock.h; sock_win32.c is the Windows counterpart. */
#include "config.h"

#include "transport/sock.h"

#include <stdio.h>
#include <sys/un.h>
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

tdsc__unix_step tdsc__unix_connect_step(int fd, const struct sockaddr_un *sa,
                                        bool *in_progress, int *e) {
  *e = 0;
  if (*in_progress) {
    /* Not what Linux does for AF_UNIX, but POSIX allows it. */
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, 0);
    if (r == 0 || (r < 0 && errno == EINTR))
      return TDSC__UNIX_WAIT;
    *in_progress = false;
    *e = r < 0 ? errno : tdsc__sock_pending_error(fd);
    return *e ? TDSC__UNIX_FAILED : TDSC__UNIX_CONNECTED;
  }
  for (;;) {
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0)
      return TDSC__UNIX_CONNECTED;
    *e = errno;
    if (*e == EINTR)
      continue;
    if (*e == EINPROGRESS) {
      *in_progress = true;
      return TDSC__UNIX_WAIT;
    }
    /* Linux: the listener's queue is full (ERROR_PIPE_BUSY on Windows). */
    return *e == EAGAIN ? TDSC__UNIX_BUSY : TDSC__UNIX_FAILED;
  }
}
