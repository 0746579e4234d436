/* Helpers over the I/O filter interface (io.h). */
#include "config.h"

#include "transport/io.h"

#include "clock.h"

#include <stdint.h>

tdsc_errc tdsc__io_read_full(tdsc__io *io, void *buf, size_t len,
                             int64_t deadline, tdsc_error *err) {
  uint8_t *p = buf;
  while (len > 0) {
    size_t got = 0;
    tdsc_errc rc = io->ops->read(io, p, len, &got, deadline, err);
    if (rc != TDSC_OK)
      return rc;
    p += got;
    len -= got;
  }
  return TDSC_OK;
}

void tdsc__io_destroy_all(tdsc__io *top) {
  while (top) {
    tdsc__io *next = top->next;
    top->ops->destroy(top);
    top = next;
  }
}

/* The read and write loops of every stream socket (tcp.c, pipe_posix.c):
 * non-blocking calls, poll() until the deadline, errno mapped to the
 * library's codes.  peer names the other end for messages ("the
 * connection to 127.0.0.1:1433", "the pipe /run/tdsclient/..."). */
void tdsc__io_set_wake(tdsc__io *top, const tdsc__waker *w) {
  while (top && top->next)
    top = top->next;
  if (top)
    top->wake = w;
}

tdsc_errc tdsc__fd_read(tdsc__sock fd, int wake_fd, const char *peer,
                        void *buf, size_t len, size_t *got, int64_t deadline,
                        tdsc_error *err) {
  *got = 0;
  if (len == 0)
    return TDSC_OK;
  for (;;) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n > 0) {
      *got = (size_t)n;
      return TDSC_OK;
    }
    if (n == 0)
      return tdsc__err_set(err, TDSC_E_CONN_CLOSED,
                           "the server closed %s", peer);
    int e = tdsc__sock_errno();
    if (e == TDSC__SOCK_EINTR)
      continue;
    if (e == TDSC__SOCK_ECONNRESET || e == TDSC__SOCK_ECONNABORTED)
      /* Linux: the server closed with our data still unread. */
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, e, "%s was reset", peer);
    if (e == TDSC__SOCK_ETIMEDOUT)
      /* keepalive gave up: the peer is gone, not merely slow */
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, e,
                             "%s timed out (keepalive)", peer);
    if (e != TDSC__SOCK_EAGAIN && e != TDSC__SOCK_EWOULDBLOCK)
      return tdsc__err_errno(err, TDSC_E_SOCKET, e, "cannot read from %s",
                             peer);
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                          {.fd = wake_fd, .events = POLLIN}};
    int r = tdsc__sock_poll(p, wake_fd >= 0 ? 2 : 1, tdsc__ms_left(deadline));
    if (r == 0)
      return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                           "no data from %s before the timeout", peer);
    if (r < 0 && (e = tdsc__sock_errno()) != TDSC__SOCK_EINTR)
      return tdsc__err_errno(err, TDSC_E_SOCKET, e,
                             "cannot wait for data from %s", peer);
    if (r > 0 && wake_fd >= 0 && (p[1].revents & POLLIN) &&
        !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
      return tdsc__err_set(err, TDSC_E_CANCELLED,
                           "the wait for %s was cancelled", peer);
    /* readable, or an error/hang-up that the next recv() reports */
  }
}

tdsc_errc tdsc__fd_write(tdsc__sock fd, const char *peer, const void *buf,
                         size_t len, int64_t deadline, tdsc_error *err) {
  const uint8_t *p = buf;
  while (len > 0) {
    /* MSG_NOSIGNAL: a closed peer is EPIPE here, never a SIGPIPE that
     * kills the application. */
    ssize_t n = send(fd, (const void *)p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    int e = n < 0 ? tdsc__sock_errno() : TDSC__SOCK_EAGAIN;
    if (e == TDSC__SOCK_EINTR)
      continue;
    if (e == TDSC__SOCK_EPIPE || e == TDSC__SOCK_ECONNRESET ||
        e == TDSC__SOCK_ECONNABORTED)
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, e,
                             "%s was reset while sending", peer);
    if (e != TDSC__SOCK_EAGAIN && e != TDSC__SOCK_EWOULDBLOCK)
      return tdsc__err_errno(err, TDSC_E_SOCKET, e, "cannot send to %s",
                             peer);
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int r = tdsc__sock_poll(&pf, 1, tdsc__ms_left(deadline));
    if (r == 0)
      /* The server stopped reading: the same remedy as a silent server. */
      return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                           "%s did not accept data before the timeout", peer);
    if (r < 0 && (e = tdsc__sock_errno()) != TDSC__SOCK_EINTR)
      return tdsc__err_errno(err, TDSC_E_SOCKET, e,
                             "cannot wait to send to %s", peer);
  }
  return TDSC_OK;
}

/* ---- Non-blocking use.  PLACEHOLDER (issue 16, lead): built over the
 * blocking ops with a deadline that has already passed, which the read
 * loops treat as "poll once"; READ_TIMEOUT then means "nothing yet".  The
 * transport/TLS work replaces these with non-blocking ops; the signatures
 * stay. */
static const tdsc__io *io_bottom(const tdsc__io *top) {
  while (top && top->next)
    top = top->next;
  return top;
}

tdsc_errc tdsc__io_read_some(tdsc__io *top, void *buf, size_t len,
                             size_t *got, int *want, tdsc_error *err) {
  *want = 0;
  tdsc_errc rc = top->ops->read(top, buf, len, got, tdsc__now_ms(), err);
  if (rc == TDSC_E_READ_TIMEOUT) {
    tdsc__err_clear(err);
    *want = TDSC__WANT_READ;
    *got = 0;
    return TDSC__AGAIN;
  }
  return rc;
}

tdsc_errc tdsc__io_write_some(tdsc__io *top, const void *buf, size_t len,
                              size_t *put, int *want, tdsc_error *err) {
  *want = 0;
  *put = 0;
  tdsc_errc rc = top->ops->write(top, buf, len, TDSC__NO_DEADLINE, err);
  if (rc == TDSC_OK)
    *put = len;
  return rc;
}

intptr_t tdsc__io_pollfd(tdsc__io *top) {
  const tdsc__io *b = io_bottom(top);
  return b && b->ops->pollfd ? b->ops->pollfd((tdsc__io *)b) : TDSC__NO_POLLFD;
}

tdsc_errc tdsc__io_wait(tdsc__io *top, int want, int64_t deadline,
                        tdsc_error *err) {
  const tdsc__io *b = io_bottom(top);
  intptr_t fd = tdsc__io_pollfd(top);
  if (fd == TDSC__NO_POLLFD)
    return TDSC_OK;
  int wake_fd = b ? tdsc__waker_fd(b->wake) : -1;
  struct pollfd p[2] = {
      {.fd = (tdsc__sock)fd,
       .events = (short)((want & TDSC__WANT_READ ? POLLIN : 0) |
                         (want & TDSC__WANT_WRITE ? POLLOUT : 0))},
      {.fd = wake_fd, .events = POLLIN}};
  for (;;) {
    int r = tdsc__sock_poll(p, wake_fd >= 0 ? 2 : 1, tdsc__ms_left(deadline));
    if (r == 0)
      return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                           "no data from the server before the timeout");
    if (r < 0) {
      int e = tdsc__sock_errno();
      if (e == TDSC__SOCK_EINTR)
        continue;
      return tdsc__err_errno(err, TDSC_E_SOCKET, e,
                             "cannot wait for the server");
    }
    if (wake_fd >= 0 && (p[1].revents & POLLIN) && !p[0].revents)
      return tdsc__err_set(err, TDSC_E_CANCELLED, "the wait was cancelled");
    return TDSC_OK;
  }
}
