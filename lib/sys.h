/* Small services of the operating system that the portable code needs,
 * one file per platform: sys_posix.c and sys_win32.c (which also hold
 * clock.h's tdsc__now_ms).  Nothing here knows TDS. */
#ifndef TDSC_SYS_H
#define TDSC_SYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* This machine's host name as the system gives it (gethostname on POSIX,
 * the DNS host name on Windows), into buf; false when it is unknown. */
bool tdsc__hostname(char *buf, size_t len);

/* The text of a system error code, in buf (returned): an errno value on
 * POSIX; on Windows a Win32 or Winsock error (GetLastError,
 * WSAGetLastError), which is what TDSC_PROVIDER_ERRNO carries there. */
const char *tdsc__strerror(int code, char *buf, size_t len);

/* Whether the open file fd is private to its owner (no access for group
 * or others), *mode its permission bits, for a file holding passwords.
 * Windows: true (its ACLs, not mode bits, decide; the user's profile is
 * private by default). */
bool tdsc__file_private(int fd, unsigned *mode);

/* Microseconds since 1970-01-01 UTC (the wall clock, for trace lines). */
int64_t tdsc__wall_us(void);

/* Opens path for appending, creating it private to its owner (0600 on
 * POSIX: a protocol trace or a TLS key log is sensitive); NULL with errno
 * set on failure.  The file is not inherited by child processes. */
FILE *tdsc__fopen_append_private(const char *path);

#endif
