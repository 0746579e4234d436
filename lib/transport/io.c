/* The I/O filter interface (io.h): the blocking read and write as one loop
 * over the non-blocking ops and the wait, the non-blocking entry points,
 * and the non-blocking socket calls the stream transports share. */
#include "config.h"

#include "transport/io.h"

#include "clock.h"

#include <stdint.h>

static const tdsc__io *io_bottom(const tdsc__io *top) {
  while (top && top->next)
    top = top->next;
  return top;
}

static const char *peer_of(const tdsc__io *io) {
  const tdsc__io *b = io_bottom(io);
  return b && b->peer ? b->peer : "the server";
}

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

void tdsc__io_set_wake(tdsc__io *top, const tdsc__waker *w) {
  while (top && top->next)
    top = top->next;
  if (top)
    top->wake = w;
}

/* ---------------------------------------------------------------- waiting */

/* Without a descriptor (a transport with no non-blocking form), a wait
 * is a short sleep, so that a loop over
 * tdsc__io_read_some, whose fallback tries the blocking read once, does
 * not spin. */
#define NO_POLLFD_NAP_MS 2

/* The wait of io.h's tdsc__io_wait.  sending: for a blocking write, which
 * the waker never interrupts and whose timeout means the server stopped
 * reading (what it waits for may be a read: TLS, or shared memory, whose
 * descriptor only shows readable). */
/* The timeout of a wait, as a read's or a write's (io.h). */
tdsc_errc tdsc__io_wait_timeout(const char *peer, bool sending,
                                tdsc_error *err) {
  if (!sending)
    return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                         "no data from %s before the timeout", peer);
  /* The server stopped reading: the same remedy as a silent server. */
  return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                       "%s did not accept data before the timeout", peer);
}

static tdsc_errc io_wait(tdsc__io *top, int want, int64_t deadline,
                         bool sending, tdsc_error *err) {
  bool cancellable = !sending;
  const tdsc__io *b = io_bottom(top);
  const char *peer = peer_of(top);
  if (b && b->ops->wait) /* a pollfd that is no socket */
    return b->ops->wait(b, deadline, sending, err);
  intptr_t fd = tdsc__io_pollfd(top);
  int wake_fd = cancellable && b ? tdsc__waker_fd(b->wake) : -1;
  struct pollfd p[2] = {
      {.fd = (tdsc__sock)fd,
       .events = (short)((want & TDSC__WANT_READ ? POLLIN : 0) |
                         (want & TDSC__WANT_WRITE ? POLLOUT : 0))},
      {.fd = (tdsc__sock)wake_fd, .events = POLLIN}};
  for (;;) {
    int ms = tdsc__ms_left(deadline);
    if (fd == TDSC__NO_POLLFD) {
      p[0].fd = TDSC__NO_SOCK; /* ignored, as poll() ignores -1 */
      if (ms < 0 || ms > NO_POLLFD_NAP_MS)
        ms = NO_POLLFD_NAP_MS;
    }
    int r = tdsc__sock_poll(p, wake_fd >= 0 ? 2 : 1, ms);
    if (r < 0) {
      int e = tdsc__sock_errno();
      if (e == TDSC__SOCK_EINTR)
        continue;
      return tdsc__err_errno(err, TDSC_E_SOCKET, e,
                             sending ? "cannot wait to send to %s"
                                     : "cannot wait for data from %s",
                             peer);
    }
    if (wake_fd >= 0 && (p[1].revents & POLLIN) && !p[0].revents)
      return tdsc__err_set(err, TDSC_E_CANCELLED,
                           "the wait for %s was cancelled", peer);
    if (r == 0 && tdsc__ms_left(deadline) == 0)
      return tdsc__io_wait_timeout(peer, sending, err);
    /* ready, or an error/hang-up the next call reports, or a nap over */
    return TDSC_OK;
  }
}

tdsc_errc tdsc__io_wait(tdsc__io *top, int want, int64_t deadline,
                        tdsc_error *err) {
  return io_wait(top, want, deadline, false, err);
}

intptr_t tdsc__io_pollfd(tdsc__io *top) {
  const tdsc__io *b = io_bottom(top);
  return b && b->ops->pollfd ? b->ops->pollfd((tdsc__io *)b) : TDSC__NO_POLLFD;
}

/* ---------------------------------------------------------------- blocking */

tdsc_errc tdsc__io_read(tdsc__io *io, void *buf, size_t len, size_t *got,
                        int64_t deadline, tdsc_error *err) {
  *got = 0;
  if (len == 0)
    return TDSC_OK;
  for (;;) {
    int want = 0;
    tdsc_errc rc = io->ops->read_some(io, buf, len, got, &want, err);
    if (rc != TDSC__AGAIN)
      return rc;
    if ((rc = io_wait(io, want, deadline, false, err)) != TDSC_OK)
      return rc;
  }
}

tdsc_errc tdsc__io_write(tdsc__io *io, const void *buf, size_t len,
                         int64_t deadline, tdsc_error *err) {
  const uint8_t *p = buf;
  while (len > 0) {
    size_t put = 0;
    int want = 0;
    tdsc_errc rc = io->ops->write_some(io, p, len, &put, &want, err);
    if (rc == TDSC_OK) {
      p += put;
      len -= put;
      continue;
    }
    if (rc != TDSC__AGAIN)
      return rc;
    if ((rc = io_wait(io, want, deadline, true, err)) != TDSC_OK)
      return rc;
  }
  return TDSC_OK;
}

/* ---------------------------------------------------------------- non-blocking */

tdsc_errc tdsc__io_read_some(tdsc__io *top, void *buf, size_t len,
                             size_t *got, int *want, tdsc_error *err) {
  *want = 0;
  *got = 0;
  if (len == 0)
    return TDSC_OK;
  if (top->ops->read_some)
    return top->ops->read_some(top, buf, len, got, want, err);
  /* No non-blocking form: the blocking read with a deadline already past
   * tries once; its READ_TIMEOUT then means "nothing yet". */
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
  if (len == 0)
    return TDSC_OK;
  if (top->ops->write_some)
    return top->ops->write_some(top, buf, len, put, want, err);
  /* No non-blocking form: a message-mode pipe takes a whole write. */
  tdsc_errc rc = top->ops->write(top, buf, len, TDSC__NO_DEADLINE, err);
  if (rc == TDSC_OK)
    *put = len;
  return rc;
}

/* ---------------------------------------------------------------- sockets */

tdsc_errc tdsc__fd_read_some(tdsc__sock fd, const char *peer, void *buf,
                             size_t len, size_t *got, int *want,
                             tdsc_error *err) {
  *got = 0;
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
    if (e == TDSC__SOCK_EAGAIN || e == TDSC__SOCK_EWOULDBLOCK) {
      *want = TDSC__WANT_READ;
      return TDSC__AGAIN;
    }
    if (e == TDSC__SOCK_ECONNRESET || e == TDSC__SOCK_ECONNABORTED)
      /* Linux: the server closed with our data still unread. */
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, e, "%s was reset", peer);
    if (e == TDSC__SOCK_ETIMEDOUT)
      /* keepalive gave up: the peer is gone, not merely slow */
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, e,
                             "%s timed out (keepalive)", peer);
    return tdsc__err_errno(err, TDSC_E_SOCKET, e, "cannot read from %s",
                           peer);
  }
}

tdsc_errc tdsc__fd_write_some(tdsc__sock fd, const char *peer,
                              const void *buf, size_t len, size_t *put,
                              int *want, tdsc_error *err) {
  *put = 0;
  for (;;) {
    /* MSG_NOSIGNAL: a closed peer is EPIPE here, never a SIGPIPE that
     * kills the application.  (Winsock takes at most INT_MAX.) */
    size_t chunk = len > 0x40000000 ? 0x40000000 : len;
    ssize_t n = send(fd, (const void *)buf, chunk, MSG_NOSIGNAL);
    if (n > 0) {
      *put = (size_t)n;
      return TDSC_OK;
    }
    int e = n < 0 ? tdsc__sock_errno() : TDSC__SOCK_EAGAIN;
    if (e == TDSC__SOCK_EINTR)
      continue;
    if (e == TDSC__SOCK_EAGAIN || e == TDSC__SOCK_EWOULDBLOCK) {
      *want = TDSC__WANT_WRITE;
      return TDSC__AGAIN;
    }
    if (e == TDSC__SOCK_EPIPE || e == TDSC__SOCK_ECONNRESET ||
        e == TDSC__SOCK_ECONNABORTED)
      return tdsc__err_errno(err, TDSC_E_CONN_RESET, e,
                             "%s was reset while sending", peer);
    return tdsc__err_errno(err, TDSC_E_SOCKET, e, "cannot send to %s", peer);
  }
}

/* ---------------------------------------------------------------- openers */

tdsc_errc tdsc__opener_step(tdsc__opener *o, int64_t deadline, tdsc__io **out,
                            char *addr, size_t addrlen, tdsc__open_wait *w,
                            tdsc_error *err) {
  return o->ops->step(o, deadline, out, addr, addrlen, w, err);
}

void tdsc__opener_free(tdsc__opener *o) {
  if (o)
    o->ops->free(o);
}

tdsc_errc tdsc__opener_run(tdsc__opener *o, int64_t deadline, tdsc__io **out,
                           char *addr, size_t addrlen, tdsc_error *err) {
  *out = NULL;
  tdsc_errc rc;
  for (;;) {
    tdsc__open_wait w;
    rc = tdsc__opener_step(o, deadline, out, addr, addrlen, &w, err);
    if (rc != TDSC__AGAIN)
      break;
    /* Until the socket shows what the step waits for, its timer, or the
     * deadline: the next step says which (a past deadline fails it). */
    int ms = tdsc__ms_left(deadline);
    if (w.timer_ms >= 0 && (ms < 0 || w.timer_ms < ms))
      ms = w.timer_ms;
    if (w.fd == TDSC__NO_POLLFD && (ms < 0 || ms > NO_POLLFD_NAP_MS * 25))
      ms = NO_POLLFD_NAP_MS * 25; /* nothing to wait on: look again */
    struct pollfd p = {.fd = w.fd == TDSC__NO_POLLFD ? TDSC__NO_SOCK
                                                     : (tdsc__sock)w.fd,
                       .events = w.want == TDSC__WANT_WRITE ? POLLOUT : POLLIN};
    if (tdsc__sock_poll(&p, 1, ms) < 0 &&
        tdsc__sock_errno() != TDSC__SOCK_EINTR) {
      rc = tdsc__err_errno(err, TDSC_E_SOCKET, tdsc__sock_errno(),
                           "cannot wait for the connection to open");
      break;
    }
  }
  tdsc__opener_free(o);
  return rc;
}
