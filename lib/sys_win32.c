/* Windows services (sys.h, clock.h); sys_posix.c is the POSIX counterpart.
 * System errors here are Win32 codes (Winsock's WSAE* among them): the
 * transports report GetLastError / WSAGetLastError values, never the C
 * runtime's errno, so TDSC_PROVIDER_ERRNO holds a Win32 code on Windows. */
#include "config.h"

#include "clock.h"
#include "sys.h"

#include <stdio.h>
#include <string.h>

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

int64_t tdsc__now_ms(void) {
  /* Monotonic, not adjusted by the wall clock; millisecond resolution
   * at 10-16 ms granularity, which is plenty for login and read
   * deadlines. */
  return (int64_t)GetTickCount64();
}

bool tdsc__hostname(char *buf, size_t len) {
  DWORD n = len > 0xFFFF ? 0xFFFF : (DWORD)len;
  if (len == 0 || !GetComputerNameExA(ComputerNameDnsHostname, buf, &n)) {
    if (len)
      buf[0] = '\0';
    return false;
  }
  return true;
}

const char *tdsc__strerror(int code, char *buf, size_t len) {
  if (len == 0)
    return buf;
  DWORD n = FormatMessageA(
      FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
      (DWORD)code, MAKELANGID(LANG_ENGLISH, SUBLANG_ENGLISH_US), buf,
      len > 0xFFFF ? 0xFFFF : (DWORD)len, NULL);
  if (n == 0)
    n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM |
                           FORMAT_MESSAGE_IGNORE_INSERTS,
                       NULL, (DWORD)code, 0, buf,
                       len > 0xFFFF ? 0xFFFF : (DWORD)len, NULL);
  if (n == 0) {
    snprintf(buf, len, "Windows error %d", code);
    return buf;
  }
  /* "No connection could be made ... refused it.\r\n" -> no CR LF, no
   * final period: the text is quoted inside our own sentences. */
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                   buf[n - 1] == ' ' || buf[n - 1] == '.'))
    buf[--n] = '\0';
  return buf;
}

bool tdsc__file_private(int fd, unsigned *mode) {
  (void)fd;
  *mode = 0600;
  return true;
}

int64_t tdsc__wall_us(void) {
  FILETIME ft;
  GetSystemTimeAsFileTime(&ft);
  uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
  /* 100 ns units since 1601-01-01 */
  return (int64_t)(t / 10) - INT64_C(11644473600000000);
}

FILE *tdsc__fopen_append_private(const char *path) {
  /* the user's profile is private by default: ACLs decide (file_private) */
  return fopen(path, "a");
}
