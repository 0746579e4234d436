/* Fails the Nth allocation (see alloc_fail.c). */
#ifndef TDSC_TEST_ALLOC_FAIL_H
#define TDSC_TEST_ALLOC_FAIL_H

#include <stdbool.h>
#include <stddef.h>

/* The nth allocation from now fails (then the rest succeed). */
void af_arm(long n);
void af_disarm(void);
/* Whether the armed failure happened; how many allocations were counted. */
bool af_fired(void);
long af_count(void);
/* Called (when set) as the failure happens: a debugger's breakpoint. */
extern void (*af_trace)(long);

#endif
