/* POSIX services (sys.h, clock.h); sys_win32.c is the Windows counterpart. */
#include "config.h"

#include "clock.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t tdsc__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool tdsc__hostname(char *buf, size_t len) {
  if (len == 0 || gethostname(buf, len) != 0) {
    if (len)
      buf[0] = '\0';
    return false;
  }
  buf[len - 1] = '\0'; /* POSIX leaves a truncated name unterminated */
  return true;
}

const char *tdsc__strerror(int code, char *buf, size_t len) {
  snprintf(buf, len, "%s", strerror(code));
  return buf;
}

bool tdsc__file_private(int fd, unsigned *mode) {
  struct stat st;
  if (fstat(fd, &st) != 0) {
    *mode = 0;
    return false;
  }
  *mode = (unsigned)(st.st_mode & 07777);
  return (st.st_mode & 077) == 0;
}

int64_t tdsc__wall_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

FILE *tdsc__fopen_append_private(const char *path) {
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    return NULL;
  FILE *f = fdopen(fd, "a");
  if (!f) {
    int e = errno;
    close(fd);
    errno = e;
  }
  return f;
}
