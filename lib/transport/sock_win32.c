/* Winsock behind sock.h; sock_posix.c is the POSIX counterpart.  poll()
 * is select() here: WSAPoll never reports a failed connect on Windows
 * before 10 2004, while select() reports it in the exception set; the
 * library never waits on more than a few sockets at once. */
#include "config.h"

#include "transport/sock.h"

#include "sys.h"

bool tdsc__sock_again(int e) {
  return e == WSAEWOULDBLOCK || e == WSAEINTR || e == WSAEINPROGRESS;
}

static INIT_ONCE started = INIT_ONCE_STATIC_INIT;
static int start_error;

static BOOL CALLBACK start(PINIT_ONCE once, PVOID param, PVOID *ctx) {
  (void)once, (void)param, (void)ctx;
  WSADATA wsa;
  /* Never paired with WSACleanup: the process may use sockets as long as
   * it lives, and Windows releases Winsock at exit. */
  start_error = WSAStartup(MAKEWORD(2, 2), &wsa);
  return TRUE;
}

tdsc_errc tdsc__sock_init(tdsc_error *err) {
  InitOnceExecuteOnce(&started, start, NULL, NULL);
  if (start_error != 0)
    return tdsc__err_errno(err, TDSC_E_SOCKET, start_error,
                           "cannot start Winsock 2.2 (WSAStartup)");
  return TDSC_OK;
}

tdsc__sock tdsc__sock_open(int family, int type, int protocol) {
  SOCKET s = WSASocketW(family, type, protocol, NULL, 0,
                        WSA_FLAG_OVERLAPPED | WSA_FLAG_NO_HANDLE_INHERIT);
  if (s == INVALID_SOCKET)
    return s;
  u_long on = 1;
  if (ioctlsocket(s, FIONBIO, &on) != 0) {
    int e = WSAGetLastError();
    closesocket(s);
    WSASetLastError(e);
    return INVALID_SOCKET;
  }
  return s;
}

void tdsc__sock_close(tdsc__sock s) {
  if (s != INVALID_SOCKET)
    closesocket(s);
}

int tdsc__sock_errno(void) { return WSAGetLastError(); }

int tdsc__sock_poll(struct pollfd *fds, tdsc__nfds n, int ms) {
  fd_set rd, wr, ex;
  FD_ZERO(&rd);
  FD_ZERO(&wr);
  FD_ZERO(&ex);
  size_t watched = 0;
  for (tdsc__nfds i = 0; i < n; i++) {
    fds[i].revents = 0;
    if (fds[i].fd == INVALID_SOCKET)
      continue; /* poll() ignores negative descriptors */
    if (watched == FD_SETSIZE) {
      WSASetLastError(WSAEINVAL);
      return -1;
    }
    watched++;
    if (fds[i].events & POLLIN)
      FD_SET(fds[i].fd, &rd);
    if (fds[i].events & POLLOUT)
      FD_SET(fds[i].fd, &wr);
    FD_SET(fds[i].fd, &ex);
  }
  if (watched == 0) { /* select() refuses empty sets: only wait */
    Sleep(ms < 0 ? INFINITE : (DWORD)ms);
    return 0;
  }
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  int r = select(0, &rd, &wr, &ex, ms < 0 ? NULL : &tv);
  if (r == SOCKET_ERROR)
    return -1;
  int ready = 0;
  for (tdsc__nfds i = 0; i < n; i++) {
    if (fds[i].fd == INVALID_SOCKET)
      continue;
    if (FD_ISSET(fds[i].fd, &rd))
      fds[i].revents |= POLLIN;
    if (FD_ISSET(fds[i].fd, &wr))
      fds[i].revents |= POLLOUT;
    if (FD_ISSET(fds[i].fd, &ex))
      fds[i].revents |= POLLERR;
    ready += fds[i].revents != 0;
  }
  return ready;
}

int tdsc__sock_pending_error(tdsc__sock s) {
  int soerr = 0;
  int sl = sizeof soerr;
  if (getsockopt(s, SOL_SOCKET, SO_ERROR, (char *)&soerr, &sl) != 0)
    return WSAGetLastError();
  return soerr;
}

/* getaddrinfo's codes are Winsock errors (EAI_NONAME is WSAHOST_NOT_FOUND):
 * the system's text for them, without gai_strerror's static buffer. */
const char *tdsc__gai_text(int rc, char *buf, size_t len) {
  return tdsc__strerror(rc, buf, len);
}
