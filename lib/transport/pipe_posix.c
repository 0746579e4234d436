/* Named-pipe transport for POSIX (io.h): a named-pipe target is an AF_UNIX
 * stream socket path carrying TDS packets unchanged, the bottom filter of
 * the I/O stack like tcp.c (whose shape and messages this follows).  Also
 * the documented mapping of SQL Server's Windows pipe names to such paths
 * (doc/local-endpoints.md).  pipe_win32.c is the Windows counterpart. */
#include "config.h"

#include "clock.h"
#include "transport/io.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_LOCAL_DIR "/run/tdsclient"
/* How often a busy pipe (full listen queue) is tried again; Windows
 * clients wait in WaitNamedPipe the same way. */
#define BUSY_RETRY_MS 20

typedef struct pipe_io {
  tdsc__io base;
  int fd;
  char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  char desc[sizeof(((struct sockaddr_un *)0)->sun_path) + 16]; /* messages */
} pipe_io;

/* ---------------------------------------------------------------- filter */

static tdsc_errc pipe_read_some(tdsc__io *io, void *buf, size_t len,
                                size_t *got, int *want, tdsc_error *err) {
  pipe_io *t = (pipe_io *)io;
  return tdsc__fd_read_some(t->fd, t->desc, buf, len, got, want, err);
}

static tdsc_errc pipe_write_some(tdsc__io *io, const void *buf, size_t len,
                                 size_t *put, int *want, tdsc_error *err) {
  pipe_io *t = (pipe_io *)io;
  return tdsc__fd_write_some(t->fd, t->desc, buf, len, put, want, err);
}

static void pipe_destroy(tdsc__io *io) {
  pipe_io *t = (pipe_io *)io;
  if (t->fd >= 0)
    close(t->fd);
  free(t);
}

static intptr_t pipe_pollfd(tdsc__io *io) { return ((pipe_io *)io)->fd; }

static const tdsc__io_ops pipe_ops = {.name = "np",
                                      .read = tdsc__io_read,
                                      .write = tdsc__io_write,
                                      .destroy = pipe_destroy,
                                      .pollfd = pipe_pollfd,
                                      .read_some = pipe_read_some,
                                      .write_some = pipe_write_some};

/* ---------------------------------------------------------------- connect */

/* The error for a failed connect().  EACCES is PIPE_NOT_FOUND, not
 * SYSTEM: for this user the pipe cannot be reached, the remedy (the path,
 * the server's socket permissions) is about the endpoint, and the session
 * falls back from a pipe it cannot open to the next transport as from a
 * missing one; the message and the errno say "permission denied". */
static tdsc_errc connect_error(int e, const char *path, tdsc_error *err) {
  switch (e) {
  case ENOENT:
  case ENOTDIR:
    return tdsc__err_errno(err, TDSC_E_PIPE_NOT_FOUND, e,
                           "cannot open the pipe %s: no such socket file "
                           "(is the server running, with named pipes "
                           "enabled?)",
                           path);
  case ECONNREFUSED: {
    /* Linux also says ECONNREFUSED for a file that is not a socket. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
      return tdsc__err_errno(err, TDSC_E_PIPE_NOT_FOUND, e,
                             "cannot open the pipe %s: it is not a socket "
                             "file",
                             path);
    return tdsc__err_errno(err, TDSC_E_PIPE_NOT_FOUND, e,
                           "cannot open the pipe %s: nothing listens on it "
                           "(a stale socket file: the server has stopped)",
                           path);
  }
  case ENOTSOCK:
  case EPROTOTYPE:
    return tdsc__err_errno(err, TDSC_E_PIPE_NOT_FOUND, e,
                           "cannot open the pipe %s: it is not a stream "
                           "socket",
                           path);
  case EACCES:
  case EPERM:
    return tdsc__err_errno(err, TDSC_E_PIPE_NOT_FOUND, e,
                           "cannot open the pipe %s: permission denied (the "
                           "socket file needs write permission, and its "
                           "folders search permission, for this user)",
                           path);
  default:
    return tdsc__err_errno(err, TDSC_E_SOCKET, e, "cannot open the pipe %s",
                           path);
  }
}

typedef struct pipe_opener {
  tdsc__opener base;
  int fd;
  bool in_progress; /* tdsc__unix_connect_step's */
  struct sockaddr_un sun;
} pipe_opener;

static void pipe_open_free(tdsc__opener *o) {
  pipe_opener *p = (pipe_opener *)o;
  if (p->fd >= 0)
    close(p->fd);
  free(p);
}

static tdsc_errc pipe_open_step(tdsc__opener *o, int64_t deadline,
                                tdsc__io **out, char *addr, size_t addrlen,
                                tdsc__open_wait *w, tdsc_error *err) {
  pipe_opener *p = (pipe_opener *)o;
  const char *path = p->sun.sun_path;
  *out = NULL;
  *w = (tdsc__open_wait){TDSC__NO_POLLFD, TDSC__WANT_WRITE, -1};
  int e;
  switch (tdsc__unix_connect_step(p->fd, &p->sun, &p->in_progress, &e)) {
  case TDSC__UNIX_CONNECTED:
    break;
  case TDSC__UNIX_FAILED:
    return connect_error(e, path, err);
  case TDSC__UNIX_WAIT:
    if (tdsc__ms_left(deadline) == 0)
      return tdsc__err_errno(err, TDSC_E_PIPE_BUSY, ETIMEDOUT,
                             "cannot open the pipe %s: it stayed busy "
                             "until the timeout",
                             path);
    w->fd = p->fd;
    return TDSC__AGAIN;
  case TDSC__UNIX_BUSY:
    if (tdsc__ms_left(deadline) == 0)
      return tdsc__err_errno(err, TDSC_E_PIPE_BUSY, EAGAIN,
                             "cannot open the pipe %s: the server's queue "
                             "of new connections stayed full until the "
                             "timeout",
                             path);
    w->timer_ms = BUSY_RETRY_MS;
    return TDSC__AGAIN;
  }

  pipe_io *t = calloc(1, sizeof *t);
  if (!t)
    return tdsc__err_oom(err);
  t->base.ops = &pipe_ops;
  t->fd = p->fd;
  p->fd = -1;
  memcpy(t->path, path, sizeof t->path);
  snprintf(t->desc, sizeof t->desc, "the pipe %s", t->path);
  t->base.peer = t->desc;
  if (addr && addrlen)
    snprintf(addr, addrlen, "%s", t->path);
  *out = &t->base;
  return TDSC_OK;
}

static const tdsc__opener_ops pipe_opener_ops = {.step = pipe_open_step,
                                                 .free = pipe_open_free};

tdsc_errc tdsc__pipe_open(const char *path, tdsc__opener **out,
                          tdsc_error *err) {
  *out = NULL;
  size_t n = path ? strlen(path) : 0;
  if (n == 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "no named pipe path to connect to");
  if (n >= sizeof((struct sockaddr_un *)0)->sun_path)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the pipe path %s is %zu bytes long; a POSIX socket "
                         "address holds at most %zu",
                         path, n,
                         sizeof((struct sockaddr_un *)0)->sun_path - 1);
  pipe_opener *p = calloc(1, sizeof *p);
  if (!p)
    return tdsc__err_oom(err);
  p->base.ops = &pipe_opener_ops;
  p->sun.sun_family = AF_UNIX;
  memcpy(p->sun.sun_path, path, n);
  p->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (p->fd < 0) {
    tdsc_errc rc =
        tdsc__err_errno(err, TDSC_E_SOCKET, errno,
                        "cannot create a socket for the pipe %s", path);
    pipe_open_free(&p->base);
    return rc;
  }
  *out = &p->base;
  return TDSC_OK;
}

tdsc_errc tdsc__pipe_connect(const char *path, int64_t deadline, tdsc__io **out,
                             tdsc_error *err) {
  tdsc__opener *o;
  tdsc_errc rc = tdsc__pipe_open(path, &o, err);
  *out = NULL;
  return rc == TDSC_OK ? tdsc__opener_run(o, deadline, out, NULL, 0, err) : rc;
}

/* ---------------------------------------------------------------- mapping */

/* Whether host (n bytes) names this machine: ".", "(local)",
 * "localhost", or gethostname()'s name, whole or (for a name without
 * dots) its first label, in any case: SSRP replies name the host by its
 * NetBIOS name ("\\SERVER04\pipe\sql\query"). */
static bool is_local_host(const char *host, size_t n) {
  static const char *const local[] = {".", "(local)", "localhost"};
  for (size_t i = 0; i < sizeof local / sizeof local[0]; i++)
    if (strlen(local[i]) == n && strncasecmp(host, local[i], n) == 0)
      return true;
  char me[256];
  if (gethostname(me, sizeof me) != 0)
    return false;
  me[sizeof me - 1] = '\0';
  size_t mlen = strlen(me);
  if (mlen == n && strncasecmp(me, host, n) == 0)
    return true;
  /* A short host name matches the first label of ours. */
  return !memchr(host, '.', n) && strcspn(me, ".") == n &&
         strncasecmp(me, host, n) == 0;
}

tdsc_errc tdsc__pipe_path_for(const char *win_pipe, const char *dir, char *out,
                              size_t outlen, tdsc_error *err) {
  if (outlen)
    out[0] = '\0';
  if (!dir || !*dir)
    dir = DEFAULT_LOCAL_DIR;
  const char *s = win_pipe ? win_pipe : "";
  if (strncmp(s, "\\\\", 2) != 0)
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "\"%s\" is not a named pipe name "
                         "(\\\\host\\pipe\\name)",
                         s);
  const char *host = s + 2;
  const char *bs = strchr(host, '\\');
  if (!bs || bs == host || strncasecmp(bs, "\\pipe\\", 6) != 0 || bs[6] == '\0')
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "\"%s\" is not a named pipe name "
                         "(\\\\host\\pipe\\name)",
                         s);
  size_t hostlen = (size_t)(bs - host);
  if (!is_local_host(host, hostlen))
    return tdsc__err_set(err, TDSC_E_PIPE_NOT_FOUND,
                         "the pipe %s is on host %.*s; a POSIX client reaches "
                         "only local pipes (as socket files), so connect to "
                         "that server by TCP",
                         s, (int)hostlen, host);
  const char *name = bs + 6;
  /* Every part between backslashes must be a plain file name: no '/', not
   * empty, not "." or "..", so the path stays inside dir/pipe. */
  for (const char *part = name;;) {
    size_t plen = strcspn(part, "\\");
    if (plen == 0 || memchr(part, '/', plen) || (plen == 1 && part[0] == '.') ||
        (plen == 2 && part[0] == '.' && part[1] == '.'))
      return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                           "the pipe name %s has an empty, \".\", \"..\" or "
                           "'/' part; it cannot map to a socket path",
                           s);
    if (part[plen] == '\0')
      break;
    part += plen + 1;
  }
  int len = snprintf(out, outlen, "%s/pipe/%s", dir, name);
  if (len < 0 || (size_t)len >= outlen ||
      (size_t)len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    if (outlen)
      out[0] = '\0';
    return tdsc__err_set(err, TDSC_E_BAD_OPTION_VALUE,
                         "the socket path for the pipe %s under %s is too "
                         "long (a socket address holds %zu bytes)",
                         s, dir,
                         sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
  }
  for (char *p = out + strlen(dir) + 6; *p; p++)
    if (*p == '\\')
      *p = '/';
  return TDSC_OK;
}
