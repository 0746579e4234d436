/* Windows services (sys.h, clock.h); sys_posix.c is the POSIX counterpart.
 * System errors here are Win32 codes (Winsock's WSAE* among them): the
 * transports report GetLastError / WSAGetLastError values, never the C
 * runtime's errno, so TDSC_PROVIDER_ERRNO holds a Win32 code on Windows. */
#include "config.h"

#include "clock.h"
#include "sys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <process.h> /* _beginthreadex */

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

/* ------------------------------------------------------------- threads */

/* A slim reader/writer lock, held exclusively, and a condition variable:
 * neither needs destroying. */
struct tdsc__monitor {
  SRWLOCK mu;
  CONDITION_VARIABLE cv;
};

tdsc__monitor *tdsc__monitor_new(void) {
  tdsc__monitor *m = malloc(sizeof *m);
  if (m) {
    InitializeSRWLock(&m->mu);
    InitializeConditionVariable(&m->cv);
  }
  return m;
}

void tdsc__monitor_free(tdsc__monitor *m) { free(m); }
void tdsc__monitor_lock(tdsc__monitor *m) { AcquireSRWLockExclusive(&m->mu); }
void tdsc__monitor_unlock(tdsc__monitor *m) {
  ReleaseSRWLockExclusive(&m->mu);
}
void tdsc__monitor_signal(tdsc__monitor *m) { WakeConditionVariable(&m->cv); }

void tdsc__monitor_wait(tdsc__monitor *m, int64_t deadline) {
  int ms = tdsc__ms_left(deadline);
  if (ms != 0)
    SleepConditionVariableSRW(&m->cv, &m->mu, ms < 0 ? INFINITE : (DWORD)ms,
                              0);
}

static SRWLOCK global_mu = SRWLOCK_INIT;
void tdsc__global_lock(void) { AcquireSRWLockExclusive(&global_mu); }
void tdsc__global_unlock(void) { ReleaseSRWLockExclusive(&global_mu); }

/* A thread is its HANDLE (tdsc__thread * is only a name for it); what it
 * runs is handed over in a record that the new thread frees. */
typedef struct start_rec {
  void (*fn)(void *arg);
  void *arg;
} start_rec;

static unsigned __stdcall thread_main(void *p) {
  start_rec r = *(start_rec *)p;
  free(p);
  r.fn(r.arg);
  return 0;
}

tdsc__thread *tdsc__thread_start(void (*fn)(void *arg), void *arg) {
  start_rec *r = malloc(sizeof *r);
  if (!r)
    return NULL;
  *r = (start_rec){fn, arg};
  /* _beginthreadex, not CreateThread: the thread uses the C runtime */
  uintptr_t h = _beginthreadex(NULL, 0, thread_main, r, 0, NULL);
  if (!h)
    free(r);
  return (tdsc__thread *)h;
}

void tdsc__thread_join(tdsc__thread *t) {
  WaitForSingleObject((HANDLE)t, INFINITE);
  CloseHandle((HANDLE)t);
}

/* The module holding this code, pinned: FreeLibrary no longer unloads it. */
void tdsc__pin_library(void) {
  HMODULE self;
  (void)GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS |
                               GET_MODULE_HANDLE_EX_FLAG_PIN,
                           (LPCWSTR)(void *)&tdsc__pin_library, &self);
}
