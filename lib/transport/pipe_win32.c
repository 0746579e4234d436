/* Named-pipe transport for Windows (io.h): SQL Server's own transport for
 * np: targets, a Win32 named pipe in message mode carrying TDS packets, the
 * bottom filter of the I/O stack like tcp.c (whose messages this follows).
 * Overlapped I/O kept in flight across calls, so that reads and writes
 * are non-blocking (io.h) with the operations' event as the pollfd; the
 * blocking forms are io.c's loop, which waits on that event and the
 * waker's.  shm_win32.c opens the SQLLocal
 * pipe through it; pipe_posix.c is the POSIX counterpart. */
#include "config.h"

#include "clock.h"
#include "transport/win32.h"
#include "transport/worker.h"

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

void (*tdsc__pipe_wait_pause)(void);

typedef struct pipe_io {
  tdsc__io base;
  HANDLE h;
  /* One manual-reset event for both overlapped operations: the pollfd
   * (io.h), signalled when either completes.  Every call resets it, then
   * collects what completed (harvest), so it stays signalled only for a
   * completion nobody has seen. */
  HANDLE ev;
  char desc[NAME_MAX_LEN + 32]; /* "the pipe \\.\pipe\sql\query" */
  uint8_t *buf; /* READ_BUF bytes; [pos, end) not yet handed up */
  size_t pos, end;
  OVERLAPPED rov; /* the read in flight into buf, while reading */
  bool reading;
  DWORD rerr; /* how the last read ended, when it failed */
  /* The write in flight, from wbuf (a copy: the caller's buffer may move
   * before it completes); wlen bytes, the first of the caller's retry. */
  OVERLAPPED wov;
  bool writing, wdone;
  DWORD werr;
  uint8_t *wbuf;
  size_t wcap, wlen;
} pipe_io;

/* ---------------------------------------------------------------- filter */

static bool closed_error(DWORD e) {
  return e == ERROR_BROKEN_PIPE || e == ERROR_PIPE_NOT_CONNECTED ||
         e == ERROR_NO_DATA || e == ERROR_NETNAME_DELETED;
}

/* A read into buf ended with ok / e and n bytes. */
static void read_ended(pipe_io *t, BOOL ok, DWORD e, DWORD n) {
  t->reading = false;
  /* ERROR_MORE_DATA: the buffer took part of a message; the rest comes
   * with the next read, as a byte stream would give it. */
  if (ok || e == ERROR_MORE_DATA) {
    t->pos = 0;
    t->end = n; /* an empty message: nothing to hand up */
  } else {
    t->rerr = e;
  }
}

/* Collects the overlapped operations that completed (see pipe_io.ev). */
static void harvest(pipe_io *t) {
  ResetEvent(t->ev);
  DWORD n = 0;
  if (t->reading) {
    BOOL ok = GetOverlappedResult(t->h, &t->rov, &n, FALSE);
    DWORD e = ok ? 0 : GetLastError();
    if (ok || e != ERROR_IO_INCOMPLETE)
      read_ended(t, ok, e, n);
  }
  if (t->writing) {
    BOOL ok = GetOverlappedResult(t->h, &t->wov, &n, FALSE);
    DWORD e = ok ? 0 : GetLastError();
    if (ok || e != ERROR_IO_INCOMPLETE) {
      t->writing = false;
      t->wdone = true;
      t->werr = ok ? 0 : e;
    }
  }
}

static tdsc_errc pipe_read_some(tdsc__io *io, void *buf, size_t len,
                                size_t *got, int *want, tdsc_error *err) {
  pipe_io *t = (pipe_io *)io;
  *got = 0;
  harvest(t);
  for (;;) {
    if (t->pos < t->end) {
      size_t n = t->end - t->pos < len ? t->end - t->pos : len;
      memcpy(buf, t->buf + t->pos, n);
      t->pos += n;
      *got = n;
      return TDSC_OK;
    }
    if (t->rerr) {
      DWORD e = t->rerr;
      if (closed_error(e))
        return tdsc__err_set(err, TDSC_E_CONN_CLOSED, "the server closed %s",
                             t->desc);
      return tdsc__err_errno(err, TDSC_E_SOCKET, (int)e,
                             "cannot read from %s", t->desc);
    }
    if (t->reading) {
      *want = TDSC__WANT_READ;
      return TDSC__AGAIN;
    }
    t->rov = (OVERLAPPED){.hEvent = t->ev};
    DWORD n = 0;
    BOOL ok = ReadFile(t->h, t->buf, READ_BUF, &n, &t->rov);
    DWORD e = ok ? 0 : GetLastError();
    if (!ok && e == ERROR_IO_PENDING) {
      t->reading = true;
      continue;
    }
    if (e == ERROR_MORE_DATA)
      (void)GetOverlappedResult(t->h, &t->rov, &n, FALSE);
    read_ended(t, ok, e, n);
  }
}

static tdsc_errc pipe_write_some(tdsc__io *io, const void *buf, size_t len,
                                 size_t *put, int *want, tdsc_error *err) {
  pipe_io *t = (pipe_io *)io;
  *put = 0;
  harvest(t);
  if (!t->writing && !t->wdone) {
    /* One WriteFile, one message: the caller writes whole TDS packets. */
    size_t n = len > 0x40000000 ? 0x40000000 : len;
    if (n > t->wcap) {
      uint8_t *nb = realloc(t->wbuf, n);
      if (!nb)
        return tdsc__err_oom(err);
      t->wbuf = nb;
      t->wcap = n;
    }
    memcpy(t->wbuf, buf, n);
    t->wlen = n;
    t->wov = (OVERLAPPED){.hEvent = t->ev};
    DWORD w = 0;
    BOOL ok = WriteFile(t->h, t->wbuf, (DWORD)n, &w, &t->wov);
    DWORD e = ok ? 0 : GetLastError();
    if (!ok && e == ERROR_IO_PENDING)
      t->writing = true;
    else {
      t->wdone = true;
      t->werr = e;
    }
  }
  /* Otherwise a retry: the write in flight carries these same bytes. */
  if (t->writing) {
    *want = TDSC__WANT_WRITE;
    return TDSC__AGAIN;
  }
  t->wdone = false;
  DWORD e = t->werr;
  t->werr = 0;
  if (e == 0) {
    *put = t->wlen;
    return TDSC_OK;
  }
  if (closed_error(e))
    return tdsc__err_errno(err, TDSC_E_CONN_RESET, (int)e,
                           "%s was reset while sending", t->desc);
  return tdsc__err_errno(err, TDSC_E_SOCKET, (int)e, "cannot send to %s",
                         t->desc);
}

static void pipe_destroy(tdsc__io *io) {
  pipe_io *t = (pipe_io *)io;
  /* The buffers may not go while the system still writes into them. */
  DWORD n;
  if (t->reading && CancelIoEx(t->h, &t->rov))
    (void)GetOverlappedResult(t->h, &t->rov, &n, TRUE);
  if (t->writing && CancelIoEx(t->h, &t->wov))
    (void)GetOverlappedResult(t->h, &t->wov, &n, TRUE);
  if (t->h != INVALID_HANDLE_VALUE)
    CloseHandle(t->h);
  if (t->ev)
    CloseHandle(t->ev);
  free(t->buf);
  free(t->wbuf);
  free(t);
}

static intptr_t pipe_pollfd(tdsc__io *io) {
  return (intptr_t)((pipe_io *)io)->ev;
}

/* The wait of io.h's ops: for the operations' event and the waker's. */
static tdsc_errc pipe_wait(const tdsc__io *b, int64_t deadline, bool sending,
                           tdsc_error *err) {
  const char *peer = b->peer ? b->peer : "the server";
  HANDLE ev = ((const pipe_io *)b)->ev;
  HANDLE wake = sending ? NULL : tdsc__waker_handle(b->wake);
  HANDLE hs[2] = {ev, wake};
  int ms = tdsc__ms_left(deadline);
  DWORD w = WaitForMultipleObjects(wake ? 2 : 1, hs, FALSE,
                                   ms < 0 ? INFINITE : (DWORD)ms);
  if (w == WAIT_OBJECT_0)
    return TDSC_OK;
  if (w == WAIT_OBJECT_0 + 1)
    return tdsc__err_set(err, TDSC_E_CANCELLED,
                         "the wait for %s was cancelled", peer);
  if (w == WAIT_TIMEOUT)
    return tdsc__io_wait_timeout(peer, sending, err);
  return tdsc__err_errno(err, TDSC_E_SYSTEM, (int)GetLastError(),
                         "cannot wait for %s", peer);
}

/* The pollfd is an event HANDLE (io.h), for WaitForMultipleObjects. */
static const tdsc__io_ops np_ops = {.name = "np",
                                    .read = tdsc__io_read,
                                    .write = tdsc__io_write,
                                    .destroy = pipe_destroy,
                                    .pollfd = pipe_pollfd,
                                    .read_some = pipe_read_some,
                                    .write_some = pipe_write_some,
                                    .wait = pipe_wait};
static const tdsc__io_ops shm_ops = {.name = "shm",
                                     .read = tdsc__io_read,
                                     .write = tdsc__io_write,
                                     .destroy = pipe_destroy,
                                     .pollfd = pipe_pollfd,
                                     .read_some = pipe_read_some,
                                     .write_some = pipe_write_some,
                                     .wait = pipe_wait};

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

/* A name the open can take: not empty, and short enough. */
static tdsc_errc check_name(const char *name, size_t len, tdsc_error *err) {
  if (len == 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "no named pipe to connect to");
  if (len >= NAME_MAX_LEN)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the pipe name %.40s... is %zu bytes long; at most "
                         "%d",
                         name, len, NAME_MAX_LEN - 1);
  return TDSC_OK;
}

/* Every instance of the pipe stayed taken until the deadline. */
static tdsc_errc busy_error(const char *name, tdsc_error *err) {
  return tdsc__err_errno(err, TDSC_E_PIPE_BUSY, ERROR_PIPE_BUSY,
                         "cannot open the pipe %s: every instance of it "
                         "stayed busy until the timeout",
                         name);
}

tdsc_errc tdsc__pipe_open_win32(const char *name, const char *kind,
                                int64_t deadline, volatile LONG *busy,
                                tdsc__io **out, tdsc_error *err) {
  *out = NULL;
  bool shm = strcmp(kind, "shm") == 0;
  size_t len = name ? strlen(name) : 0;
  tdsc_errc nrc = check_name(name, len, err);
  if (nrc != TDSC_OK)
    return nrc;
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
    /* Every instance is taken: the host has answered, and from here on a
     * deadline is PIPE_BUSY, whatever this loop does when it passes.  So
     * busy is never cleared: cleared after each wait, it let the opener,
     * whose deadline falls when this wait's does, see it pass between the
     * wait's end and this open's, and say CONN_TIMEOUT ("its host does
     * not answer"), about one connect in 30 under Wine. */
    if (busy)
      InterlockedExchange(busy, 1);
    /* Wait for a free instance (0 would mean the pipe's default timeout,
     * so an expired deadline stops here). */
    int left = tdsc__ms_left(deadline);
    bool waited = left != 0 &&
                  WaitNamedPipeW(wname, left < 0 ? NMPWAIT_WAIT_FOREVER
                                                 : (DWORD)left);
    DWORD we = waited ? 0 : GetLastError();
    if (tdsc__pipe_wait_pause)
      tdsc__pipe_wait_pause();
    if (left == 0 || we == ERROR_SEM_TIMEOUT)
      return busy_error(name, err);
    /* Free now, or gone (CreateFile says which); another client may take
     * the free instance first: then wait again.  A wait that failed at
     * once must not make this loop spin, nor its pause pass the
     * deadline. */
    if (!waited) {
      left = tdsc__ms_left(deadline);
      Sleep(left < 0 || left > BUSY_RETRY_MS ? BUSY_RETRY_MS : (DWORD)left);
    }
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
  return tdsc__pipe_open_win32(path, "np", deadline, NULL, out, err);
}

/* ---------------------------------------------------------------- opener */

/* The open on the worker (worker.h): CreateFile waits on SMB for a remote
 * host, and WaitNamedPipe for a free instance; neither can be polled.
 * busy is the one field read while the call runs (atomically, before the
 * poll that may abandon the work): whether the pipe has said that every
 * instance is taken, so that a deadline reached after that is PIPE_BUSY,
 * as in the blocking form, and only one reached in the first CreateFile
 * (a host that does not answer) is CONN_TIMEOUT. */
typedef struct open_job {
  char *name;
  const char *kind;
  int64_t deadline;
  volatile LONG busy;
  tdsc_errc rc;
  tdsc__io *io;
  tdsc_error err;
} open_job;

typedef struct pipe_opener {
  tdsc__opener base;
  open_job *job; /* until the work has it */
  tdsc__work *w;
  tdsc__waker *wake;
  bool started; /* on the worker (else done on this thread) */
  int64_t start;
  char name[NAME_MAX_LEN];
} pipe_opener;

static void job_run(void *p) {
  open_job *j = p;
  j->rc = tdsc__pipe_open_win32(j->name, j->kind, j->deadline, &j->busy, &j->io,
                                &j->err);
}

static void job_discard(void *p) {
  open_job *j = p;
  if (j->io)
    tdsc__io_destroy_all(j->io);
  tdsc__err_clear(&j->err);
  free(j->name);
  free(j);
}

static void pipe_open_free(tdsc__opener *o) {
  pipe_opener *p = (pipe_opener *)o;
  if (p->w && p->started)
    tdsc__work_abandon(p->w); /* ends it at once if it is done */
  else if (p->w)
    tdsc__work_end(p->w);
  if (p->job)
    job_discard(p->job);
  tdsc__waker_free(p->wake);
  free(p);
}

static tdsc_errc pipe_open_step(tdsc__opener *o, int64_t deadline,
                                tdsc__io **out, char *addr, size_t addrlen,
                                tdsc__open_wait *w, tdsc_error *err) {
  pipe_opener *p = (pipe_opener *)o;
  *out = NULL;
  *w = (tdsc__open_wait){TDSC__NO_POLLFD, TDSC__WANT_READ, -1};
  if (!p->w) { /* the first step: the deadline is known now */
    p->job->deadline = deadline;
    if (!(p->w = tdsc__work_new(job_run, job_discard, p->job)))
      return tdsc__err_oom(err);
    p->job = NULL; /* the work's now */
    p->start = tdsc__now_ms();
    if (!(p->wake = tdsc__waker_new()))
      return tdsc__err_oom(err);
    if (!(p->started = tdsc__work_start(p->w, p->wake)))
      return tdsc__work_no_thread(err, "opening a named pipe");
  }
  if (p->started) {
    open_job *j = tdsc__work_payload(p->w);
    bool busy = InterlockedCompareExchange(&j->busy, 0, 0) != 0;
    int st = tdsc__work_poll(p->w, deadline);
    if (st == 0) {
      w->fd = tdsc__waker_fd(p->wake);
      return TDSC__AGAIN;
    }
    p->started = false;
    if (st < 0 && busy) { /* abandoned, and gone */
      p->w = NULL;
      return busy_error(p->name, err);
    }
    if (st < 0) {
      p->w = NULL;
      return tdsc__err_errno(err, TDSC_E_CONN_TIMEOUT, ERROR_SEM_TIMEOUT,
                             "cannot open the pipe %s: it did not open "
                             "within %lld ms (its host does not answer)",
                             p->name, (long long)(tdsc__now_ms() - p->start));
    }
  }
  open_job *j = tdsc__work_payload(p->w);
  tdsc_errc rc = j->rc;
  if (rc == TDSC_OK) {
    *out = j->io;
    j->io = NULL;
    if (addr && addrlen)
      snprintf(addr, addrlen, "%s", p->name);
  } else {
    tdsc__err_move(err, &j->err);
  }
  tdsc__work_end(p->w);
  p->w = NULL;
  return rc;
}

static const tdsc__opener_ops pipe_opener_ops = {.step = pipe_open_step,
                                                 .free = pipe_open_free};

tdsc_errc tdsc__pipe_opener_win32(const char *name, const char *kind,
                                  tdsc__opener **out, tdsc_error *err) {
  *out = NULL;
  size_t len = name ? strlen(name) : 0;
  tdsc_errc nrc = check_name(name, len, err);
  if (nrc != TDSC_OK)
    return nrc;
  pipe_opener *p = calloc(1, sizeof *p);
  open_job *j = calloc(1, sizeof *j);
  if (!p || !j || !(j->name = tdsc__strdup(name))) {
    free(p);
    free(j);
    return tdsc__err_oom(err);
  }
  j->kind = kind;
  p->base.ops = &pipe_opener_ops;
  p->job = j;
  memcpy(p->name, name, len + 1);
  *out = &p->base;
  return TDSC_OK;
}

tdsc_errc tdsc__pipe_open(const char *path, tdsc__opener **out,
                          tdsc_error *err) {
  return tdsc__pipe_opener_win32(path, "np", out, err);
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
