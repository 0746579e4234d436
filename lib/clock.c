/* Deadlines (clock.h); the monotonic clock itself, tdsc__now_ms, is the
 * platform's (sys_posix.c, sys_win32.c). */
#include "config.h"

#include "clock.h"

int64_t tdsc__deadline_in(int64_t ms) {
  if (ms <= 0)
    return TDSC__NO_DEADLINE;
  int64_t now = tdsc__now_ms();
  return ms > TDSC__NO_DEADLINE - now ? TDSC__NO_DEADLINE : now + ms;
}

int tdsc__ms_left(int64_t deadline) {
  if (deadline == TDSC__NO_DEADLINE)
    return -1;
  int64_t left = deadline - tdsc__now_ms();
  if (left <= 0)
    return 0;
  return left > INT32_MAX ? INT32_MAX : (int)left;
}
