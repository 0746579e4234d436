/* Shared memory on Windows (io.h): SQL Server's "shared memory" protocol
 * (lpc:) is the local pipe \\.\pipe\SQLLocal\<INSTANCE>, so this is
 * pipe_win32.c under another name and error code.  shm_posix.c is the
 * POSIX counterpart (real shared memory, doc/shm-protocol.md). */
#include "config.h"

#include "transport/win32.h"

#include <stdio.h>

tdsc_errc tdsc__shm_connect(const char *rendezvous_path, int64_t deadline,
                            tdsc__io **out, tdsc_error *err) {
  return tdsc__pipe_open_win32(rendezvous_path, "shm", deadline, NULL, out,
                               err);
}

tdsc_errc tdsc__shm_open(const char *rendezvous_path, tdsc__opener **out,
                         tdsc_error *err) {
  return tdsc__pipe_opener_win32(rendezvous_path, "shm", out, err);
}

void tdsc__shm_path_for(const char *dir, const char *instance, char *out,
                        size_t outlen) {
  (void)dir; /* LocalDir= is where POSIX keeps its socket files */
  snprintf(out, outlen, "\\\\.\\pipe\\SQLLocal\\%s",
           instance && *instance ? instance : "MSSQLSERVER");
}
