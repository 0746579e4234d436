/* The waker of io.h on Windows: a loopback UDP socket connected to itself,
 * readable while fired (for the socket transports' poll, sock_win32.c),
 * and a manual-reset event signalled while fired (for the pipe
 * transports' WaitForMultipleObjects).  Firing is thread-safe and may run
 * in a console control handler's thread. */
#include "config.h"

#include "transport/sock.h"
#include "transport/win32.h"

#include <stdlib.h>

struct tdsc__waker {
  SOCKET s;
  HANDLE ev;
};

tdsc__waker *tdsc__waker_new(void) {
  if (tdsc__sock_init(NULL) != TDSC_OK)
    return NULL;
  tdsc__waker *w = calloc(1, sizeof *w);
  if (!w)
    return NULL;
  w->s = tdsc__sock_open(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  w->ev = CreateEventW(NULL, TRUE, FALSE, NULL);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int alen = sizeof a;
  if (w->s == INVALID_SOCKET || !w->ev ||
      bind(w->s, (struct sockaddr *)&a, sizeof a) != 0 ||
      getsockname(w->s, (struct sockaddr *)&a, &alen) != 0 ||
      connect(w->s, (struct sockaddr *)&a, alen) != 0) {
    tdsc__waker_free(w);
    return NULL;
  }
  return w;
}

void tdsc__waker_free(tdsc__waker *w) {
  if (!w)
    return;
  tdsc__sock_close(w->s);
  if (w->ev)
    CloseHandle(w->ev);
  free(w);
}

void tdsc__waker_fire(tdsc__waker *w) {
  SetEvent(w->ev);
  /* A full buffer is already fired: failure is as good as success. */
  (void)send(w->s, "!", 1, 0);
}

void tdsc__waker_clear(tdsc__waker *w) {
  ResetEvent(w->ev);
  char buf[64];
  while (recv(w->s, buf, sizeof buf, 0) > 0)
    ;
}

/* Handles are 32-bit significant on 64-bit Windows (so that 32- and
 * 64-bit processes can share them), sockets included: an int holds one. */
int tdsc__waker_fd(const tdsc__waker *w) { return w ? (int)w->s : -1; }

HANDLE tdsc__waker_handle(const tdsc__waker *w) { return w ? w->ev : NULL; }
