/* The waker of io.h on POSIX: a non-blocking pipe that is readable while
 * fired, so a transport's poll() wakes up for it.  Writing a byte is
 * async-signal-safe and thread-safe; clearing drains the pipe. */
#include "config.h"

#include "transport/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

struct tdsc__waker {
  int fd[2]; /* read end, write end */
};

static bool nonblocking_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 &&
         fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

tdsc__waker *tdsc__waker_new(void) {
  tdsc__waker *w = malloc(sizeof *w);
  if (!w)
    return NULL;
  if (pipe(w->fd) != 0) {
    free(w);
    return NULL;
  }
  if (!nonblocking_cloexec(w->fd[0]) || !nonblocking_cloexec(w->fd[1])) {
    tdsc__waker_free(w);
    return NULL;
  }
  return w;
}

void tdsc__waker_free(tdsc__waker *w) {
  if (!w)
    return;
  close(w->fd[0]);
  close(w->fd[1]);
  free(w);
}

void tdsc__waker_fire(tdsc__waker *w) {
  /* A full pipe is already fired: EAGAIN is as good as success.  errno is
   * kept: a signal handler may have interrupted code about to read it. */
  int saved = errno;
  ssize_t n;
  do
    n = write(w->fd[1], "!", 1);
  while (n < 0 && errno == EINTR);
  errno = saved;
}

void tdsc__waker_clear(tdsc__waker *w) {
  char buf[64];
  ssize_t n;
  do
    n = read(w->fd[0], buf, sizeof buf);
  while (n > 0 || (n < 0 && errno == EINTR));
}

int tdsc__waker_fd(const tdsc__waker *w) { return w ? w->fd[0] : -1; }
