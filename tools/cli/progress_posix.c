/* tdsc's elapsed-time indicator: while a request has returned nothing for
 * a second, a thread rewrites "[waiting N s, Ctrl-C cancels]" on standard
 * error each second, and erases it when something arrives.  Only when
 * standard error is a terminal (main.c decides). */
#include "config.h"

#include "tdsc.h"

#include <pthread.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool enabled, active, shown, quit;
static struct timespec since;

static void *loop(void *arg) {
  (void)arg;
  pthread_mutex_lock(&mu);
  while (!quit) {
    if (!active) {
      pthread_cond_wait(&cv, &mu);
      continue;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&cv, &mu, &until);
    if (!active || quit)
      continue;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long secs = (long)(now.tv_sec - since.tv_sec);
    if (secs >= 1) {
      fprintf(stderr, "\r[waiting %ld s, Ctrl-C cancels]", secs);
      fflush(stderr);
      shown = true;
    }
  }
  pthread_mutex_unlock(&mu);
  return NULL;
}

void progress_init(bool on) {
  enabled = on && pthread_create(&thread, NULL, loop, NULL) == 0;
}

void progress_start(void) {
  if (!enabled)
    return;
  pthread_mutex_lock(&mu);
  if (!active) {
    active = true;
    clock_gettime(CLOCK_MONOTONIC, &since);
    pthread_cond_signal(&cv);
  }
  pthread_mutex_unlock(&mu);
}

void progress_stop(void) {
  if (!enabled)
    return;
  pthread_mutex_lock(&mu);
  if (shown)
    fputs("\r\033[K", stderr); /* erase the indicator's line */
  active = shown = false;
  pthread_mutex_unlock(&mu);
}

void progress_shutdown(void) {
  if (!enabled)
    return;
  progress_stop();
  pthread_mutex_lock(&mu);
  quit = true;
  pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(thread, NULL);
  enabled = false;
}
