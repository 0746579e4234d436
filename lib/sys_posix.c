/* POSIX services (sys.h, clock.h); sys_win32.c is the Windows counterpart. */
#define _GNU_SOURCE /* dladdr, RTLD_NODELETE */
#include "config.h"

#include "clock.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

/* ------------------------------------------------------------- threads */

struct tdsc__monitor {
  pthread_mutex_t mu;
  pthread_cond_t cv; /* on CLOCK_MONOTONIC, tdsc__now_ms's clock */
};

tdsc__monitor *tdsc__monitor_new(void) {
  tdsc__monitor *m = malloc(sizeof *m);
  if (!m)
    return NULL;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_mutex_init(&m->mu, NULL);
  pthread_cond_init(&m->cv, &ca);
  pthread_condattr_destroy(&ca);
  return m;
}

void tdsc__monitor_free(tdsc__monitor *m) {
  if (!m)
    return;
  pthread_mutex_destroy(&m->mu);
  pthread_cond_destroy(&m->cv);
  free(m);
}

void tdsc__monitor_lock(tdsc__monitor *m) { pthread_mutex_lock(&m->mu); }
void tdsc__monitor_unlock(tdsc__monitor *m) { pthread_mutex_unlock(&m->mu); }
void tdsc__monitor_signal(tdsc__monitor *m) { pthread_cond_signal(&m->cv); }

void tdsc__monitor_wait(tdsc__monitor *m, int64_t deadline) {
  if (deadline == TDSC__NO_DEADLINE) {
    pthread_cond_wait(&m->cv, &m->mu);
    return;
  }
  struct timespec ts = {(time_t)(deadline / 1000),
                        (long)(deadline % 1000) * 1000000L};
  (void)pthread_cond_timedwait(&m->cv, &m->mu, &ts);
}

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
void tdsc__global_lock(void) { pthread_mutex_lock(&global_mu); }
void tdsc__global_unlock(void) { pthread_mutex_unlock(&global_mu); }

struct tdsc__thread {
  pthread_t tid;
  void (*fn)(void *arg);
  void *arg;
};

static void *thread_main(void *p) {
  tdsc__thread *t = p;
  t->fn(t->arg);
  return NULL;
}

tdsc__thread *tdsc__thread_start(void (*fn)(void *arg), void *arg) {
  tdsc__thread *t = malloc(sizeof *t);
  if (!t)
    return NULL;
  t->fn = fn;
  t->arg = arg;
  if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
    free(t);
    return NULL;
  }
  return t;
}

void tdsc__thread_join(tdsc__thread *t) {
  pthread_join(t->tid, NULL);
  free(t);
}

/* dlopen of the library's own file with RTLD_NODELETE takes a reference
 * that no dlclose drops (RTLD_NOLOAD: only if it is loaded, which it is). */
void tdsc__pin_library(void) {
  Dl_info info;
  if (dladdr((void *)&tdsc__pin_library, &info) && info.dli_fname)
    (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}
