/* Named-pipe transport for Windows (io.h): SQL Server's own transport for
 * np: targets, a Win32 named pipe in message mode carrying TDS packets, the
 * bottom filter of the I/O stack like tcp.c (whose messages this follows).
 * Overlapped I/O, so that every read and write is bounded by the caller's
 * deadline and a read by the waker (io.h).  shm_win32.c opens the SQLLocal
 * pipe through it; pipe_posix.c is the POSIX counterpart. */
#include "config.h"

#include "clock.h"
#include "transport/win32.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_LEN 512
/* Reads take whole messages into a buffer this large (a TDS packet is at
 * most 32 KiB): the callers' small reads (a packet header) then never
 * leave part of a message in the pipe, a state (ERROR_MORE_DATA) whose
 * overlapped completion Wine does not always signal. */
#define READ_BUF 65536
/* A pause before trying a busy pipe again when WaitNamedPipe could not
 * wait (as pipe_posix.c retries a full listen queue). */
#define BUSY_RETRY_MS 20

typedef struct pipe_io {
  tdsc__io base;
  HANDLE h;
  HANDLE ev; /* of the overlapped operation in progress */
  char desc[NAME_MAX_LEN + 32]; /* "the pipe \\.\pipe\sql\query" */
  uint8_t *buf; /* READ_BUF bytes; [pos, end) not yet handed up */
  size_t pos, end;
} pipe_io;

/* ---------------------------------------------------------------- waiting */

typedef enum { IO_DONE, IO_TIMEOUT, IO_WOKEN } io_wait;

/* Finishes an overlapped operation that returned ERROR_IO_PENDING: waits
 * for it, the deadline and the waker (may be NULL).  On a timeout or a
 * wake the operation is cancelled; if it completed meanwhile it counts as
 * done, so no data is ever lost.  *ok / *e / *n: its outcome when done. */
static io_wait finish(pipe_io *t, OVERLAPPED *ov, HANDLE wake, int64_t deadline,
                      BOOL *ok, DWORD *e, DWORD *n) {
  HANDLE hs[2] = {t->ev, wake};
  int ms = tdsc__ms_left(deadline);
  DWORD w = WaitForMultipleObjects(wake ? 2 : 1, hs, FALSE,
                                   ms < 0 ? INFINITE : (DWORD)ms);
  io_wait res = IO_DONE;
  if (w != WAIT_OBJECT_0) {
    res = w == WAIT_OBJECT_0 + 1 ? IO_WOKEN : IO_TIMEOUT;
    CancelIoEx(t->h, ov);
  }
  *ok = GetOverlappedResult(t->h, ov, n, TRUE);
  *e = *ok ? 0 : GetLastError();
  if (res != IO_DONE && *e == ERROR_OPERATION_ABORTED)
    return res;
  return IO_DONE; /* completed before the cancel took */
}

/* ---------------------------------------------------------------- filter */

static bool closed_error(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED ||
         e == ERROR_NO_DATA || e == ERROR_NETNAME_DELETED;
}

static tdsc_errc pipe_read(tdsc__io *io, void *buf, size_t len, size_t *got,
                           int64_t deadline, tdsc_error *err) {
  pipe_io *t = (pipe_io *)io;
  *got = 0;
  if (len == 0)
    return TDSC_OK;
  if (t->pos < t->end) {
    size_t n = t->end - t->pos < len ? t->end - t->pos : len;
    memcpy(buf, t->buf + t->pos, n);
    t->pos += n;
    *got = n;
    return TDSC_OK;
  }
  for (;;) {
    OVERLAPPED ov = {.hEvent = t->ev};
    DWORD n = 0;
    BOOL ok = ReadFile(t->h, t->buf, READ_BUF, &n, &ov);
    DWORD e = ok ? 0 : GetLastError();
    if (!ok && e == ERROR_IO_PENDING) {
      switch (finish(t, &ov, tdsc__waker_handle(io->wake), deadline, &ok, &e,
                     &n)) {
      case IO_DONE:
        break;
      case IO_TIMEOUT:
        return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                             "no data from %s before the timeout", t->desc);
      case IO_WOKEN:
        return tdsc__err_set(err, TDSC_E_CANCELLED,
                             "the wait for %s was cancelled", t->desc);
      }
    }
    /* ERROR_MORE_DATA: the buffer took part of a message; the rest comes
     * with the next read, as a byte stream would give it. */
    if (ok || e == ERROR_MORE_DATA) {
      if (n == 0)
        continue; /* an empty message: nothing to hand up */
      t->pos = 0;
      t->end = n;
      return pipe_read(io, buf, len, got, deadline, err);
    }
    if (closed_error(e))
      return tdsc__err_set(err, TDSC_E_CONN_CLOSED, "the server closed %s",
                           t->desc);
    return tdsc__err_errno(err, TDSC_E_SOCKET, (int)e, "cannot read from %s",
                           t->desc);
  }
}

static tdsc_errc pipe_write(tdsc__io *io, const void *buf, size_t len,
                            int64_t deadline, tdsc_error *err) {
  pipe_io *t = (pipe_io *)io;
  const uint8_t *p = buf;
  while (len > 0) {
    /* One WriteFile, one message: the caller writes whole TDS packets. */
    DWORD want = len > 0x40000000 ? 0x40000000 : (DWORD)len;
    OVERLAPPED ov = {.hEvent = t->ev};
    DWORD n = 0;
    BOOL ok = WriteFile(t->h, p, want, &n, &ov);
    DWORD e = ok ? 0 : GetLastError();
    if (!ok && e == ERROR_IO_PENDING &&
        finish(t, &ov, NULL, deadline, &ok, &e, &n) != IO_DONE)
      /* The server stopped reading: the same remedy as a silent server. */
      return tdsc__err_set(err, TDSC_E_READ_TIMEOUT,
                           "%s did not accept data before the timeout",
                           t->desc);
    if (!ok) {
      if (closed_error(e))
        return tdsc__err_errno(err, TDSC_E_CONN_RESET, (int)e,
                               "%s was reset while sending", t->desc);
      return tdsc__err_errno(err, TDSC_E_SOCKET, (int)e, "cannot send to %s",
                             t->desc);
    }
    p += n;
    len -= n;
  }
  return TDSC_OK;
}

static void pipe_destroy(tdsc__io *io) {
  pipe_io *t = (pipe_io *)io;
  if (t->h != INVALID_HANDLE_VALUE)
    CloseHandle(t->h);
  if (t->ev)
    CloseHandle(t->ev);
  free(t->buf);
  free(t);
}

/* No non-blocking form yet (read_some NULL): tdsc__io_read_some tries
 * the blocking read once (an overlapped read given no time), and
 * tdsc__io_wait naps, having no descriptor to wait on (io.c). */
static const tdsc__io_ops np_ops = {.name = "np",
                                    .read = pipe_read,
                                    .write = pipe_write,
                                    .destroy = pipe_destroy};
static const tdsc__io_ops shm_ops = {.name = "shm",
                                     .read = pipe_read,
                                     .write = pipe_write,
                                     .destroy = pipe_destroy};

/* ---------------------------------------------------------------- connect */

/* The error for a failed CreateFile on the pipe.  Access denied is
 * PIPE_NOT_FOUND, as EACCES is in pipe_posix.c: for this user the pipe
 * cannot be reached, and the session falls back to the next transport. */
static tdsc_errc open_error(DWORD e, const char *name, bool shm,
                            tdsc_error *err) {
  tdsc_errc missing = shm ? TDSC_E_SHM_NOT_FOUND : TDSC_E_PIPE_NOT_FOUND;
  switch (e) {
  case ERROR_FILE_NOT_FOUND:
  case ERROR_PATH_NOT_FOUND:
    return tdsc__err_errno(
        err, missing, (int)e,
        shm ? "cannot open the shared-memory pipe %s: no such pipe (is the "
              "server running on this machine, with shared memory enabled?)"
            : "cannot open the pipe %s: no such pipe (is the server running, "
              "with named pipes enabled?)",
        name);
  case ERROR_BAD_NETPATH:
  case ERROR_BAD_NET_NAME:
  case ERROR_HOST_UNREACHABLE:
  case ERROR_NETWORK_UNREACHABLE:
    return tdsc__err_errno(err, missing, (int)e,
                           "cannot open the pipe %s: its host cannot be "
                           "reached over SMB (file sharing), or offers no "
                           "pipes",
                           name);
  case ERROR_ACCESS_DENIED:
  case ERROR_LOGON_FAILURE:
  case ERROR_ACCOUNT_RESTRICTION:
    return tdsc__err_errno(err, missing, (int)e,
                           "cannot open the pipe %s: access denied (the "
                           "pipe's permissions, or the SMB log-on to its "
                           "host, refuse this user)",
                           name);
  case ERROR_INVALID_NAME:
  case ERROR_BAD_PATHNAME:
    return tdsc__err_errno(err, TDSC_E_BAD_OPTION_VALUE, (int)e,
                           "\"%s\" is not a valid pipe name", name);
  default:
    return tdsc__err_errno(err, TDSC_E_SOCKET, (int)e,
                           "cannot open the pipe %s", name);
  }
}

tdsc_errc tdsc__pipe_open_win32(const char *name, const char *kind,
                                int64_t deadline, tdsc__io **out,
                                tdsc_error *err) {
  *out = NULL;
  bool shm = strcmp(kind, "shm") == 0;
  size_t len = name ? strlen(name) : 0;
  if (len == 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "no named pipe to connect to");
  if (len >= NAME_MAX_LEN)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the pipe name %.40s... is %zu bytes long; at most "
                         "%d",
                         name, len, NAME_MAX_LEN - 1);
  wchar_t wname[NAME_MAX_LEN];
  if (MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, name, -1, wname,
                          NAME_MAX_LEN) == 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the pipe name %s is not valid UTF-8", name);

  HANDLE h;
  for (;;) {
    /* SECURITY_IDENTIFICATION: the server may learn who we are, never act
     * as us. */
    h = CreateFileW(wname, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                    OPEN_EXISTING,
                    FILE_FLAG_OVERLAPPED | SECURITY_SQOS_PRESENT |
                        SECURITY_IDENTIFICATION,
                    NULL);
    if (h != INVALID_HANDLE_VALUE)
      break;
    DWORD e = GetLastError();
    if (e != ERROR_PIPE_BUSY)
      return open_error(e, name, shm, err);
    /* Every instance is taken: wait for one to be free (0 would mean the
     * pipe's default timeout, so an expired deadline stops here). */
    int left = tdsc__ms_left(deadline);
    bool waited = left != 0 &&
                  WaitNamedPipeW(wname, left < 0 ? NMPWAIT_WAIT_FOREVER
                                                 : (DWORD)left);
    if (left == 0 || (!waited && GetLastError() == ERROR_SEM_TIMEOUT))
      return tdsc__err_errno(err, TDSC_E_PIPE_BUSY, ERROR_PIPE_BUSY,
                             "cannot open the pipe %s: every instance of it "
                             "stayed busy until the timeout",
                             name);
    /* Free now, or gone (CreateFile says which); another client may take
     * the free instance first: then wait again.  A wait that failed at
     * once must not make this loop spin. */
    if (!waited)
      Sleep(BUSY_RETRY_MS);
  }
  /* SQL Server's pipes are message pipes; a byte pipe refuses message
   * reads and carries the same bytes as a stream, so that is no error. */
  DWORD mode = PIPE_READMODE_MESSAGE;
  (void)SetNamedPipeHandleState(h, &mode, NULL, NULL);

  pipe_io *t = calloc(1, sizeof *t);
  uint8_t *rbuf = malloc(READ_BUF);
  HANDLE ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  if (!t || !rbuf || !ev) {
    DWORD e = GetLastError();
    CloseHandle(h);
    if (ev)
      CloseHandle(ev);
    free(rbuf);
    bool oom = !t || !rbuf;
    free(t);
    return oom ? tdsc__err_oom(err)
               : tdsc__err_errno(err, TDSC_E_SYSTEM, (int)e,
                                 "cannot create an event for the pipe %s",
                                 name);
  }
  t->buf = rbuf;
  t->base.ops = shm ? &shm_ops : &np_ops;
  t->h = h;
  t->ev = ev;
  snprintf(t->desc, sizeof t->desc, "the %spipe %s",
           shm ? "shared-memory " : "", name);
  t->base.peer = t->desc;
  *out = &t->base;
  return TDSC_OK;
}

tdsc_errc tdsc__pipe_connect(const char *path, int64_t deadline, tdsc__io **out,
                             tdsc_error *err) {
  return tdsc__pipe_open_win32(path, "np", deadline, out, err);
}

/* ---------------------------------------------------------------- names */

tdsc_errc tdsc__pipe_path_for(const char *win_pipe, const char *dir, char *out,
                              size_t outlen, tdsc_error *err) {
  (void)dir; /* LocalDir= is where POSIX keeps its socket files */
  if (outlen)
    out[0] = '\0';
  const char *s = win_pipe ? win_pipe : "";
  const char *host = s + 2;
  const char *bs = strncmp(s, "\\\\", 2) == 0 ? strchr(host, '\\') : NULL;
  if (!bs || bs == host || strncasecmp(bs, "\\pipe\\", 6) != 0 || bs[6] == '\0')
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "\"%s\" is not a named pipe name "
                         "(\\\\host\\pipe\\name)",
                         s);
  int n = snprintf(out, outlen, "%s", s);
  if (n < 0 || (size_t)n >= outlen || (size_t)n >= NAME_MAX_LEN) {
    if (outlen)
      out[0] = '\0';
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the pipe name %.40s... is too long", s);
  }
  return TDSC_OK;
}
