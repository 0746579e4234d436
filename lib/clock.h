/* Monotonic time and deadlines.  A deadline is an absolute monotonic time in
 * milliseconds; TDSC__NO_DEADLINE means wait forever (only for callers that
 * asked for no timeout). */
#ifndef TDSC_CLOCK_H
#define TDSC_CLOCK_H

#include <stdint.h>

#define TDSC__NO_DEADLINE INT64_MAX

/* Monotonic milliseconds (sys_posix.c, sys_win32.c). */
int64_t tdsc__now_ms(void);
/* now + ms, or TDSC__NO_DEADLINE when ms <= 0. */
int64_t tdsc__deadline_in(int64_t ms);
/* Milliseconds left before deadline, clamped to [0, INT32_MAX] (-1 for no
 * deadline): the value poll() takes. */
int tdsc__ms_left(int64_t deadline);

#endif
