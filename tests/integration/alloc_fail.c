/* The allocation-failure injector of check_torture (curl's torture mode):
 * the test is linked with -Wl,--wrap for malloc, calloc, realloc and
 * strdup, so every allocation of the library (linked in statically from
 * its convenience libraries) comes here, and the Nth one after
 * af_arm(N) fails.  Allocations inside other shared libraries (libc's own,
 * OpenSSL, GSSAPI) are not counted. */
#include "alloc_fail.h"

#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);

static long left;    /* allocations until the failure; 0: disarmed */
static bool fired;
static long counted;
void (*af_trace)(long) = NULL;
#define trace af_trace

void af_arm(long n) {
  left = n;
  fired = false;
  counted = 0;
}

void af_disarm(void) { left = 0; }
bool af_fired(void) { return fired; }
long af_count(void) { return counted; }

static bool fail_now(void) {
  if (left <= 0)
    return false;
  counted++;
  if (--left == 0) {
    fired = true;
    if (trace)
      trace(counted);
    return true;
  }
  return false;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }

void *__wrap_calloc(size_t n, size_t m) {
  return fail_now() ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n) {
  return fail_now() ? NULL : __real_realloc(p, n);
}

char *__wrap_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = __wrap_malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}
