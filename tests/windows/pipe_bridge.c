/* pipe_bridge: a Windows program for tests/windows/run-wine.sh.  Serves
 * the named pipes given on its command line (message mode, as SQL Server
 * creates \\.\pipe\sql\query and \\.\pipe\SQLLocal\<INSTANCE>) and relays
 * every connection to a TCP port on 127.0.0.1 (the Linux test server), so
 * that tdsc.exe gets a real session over a pipe between two Windows
 * processes under Wine.
 *
 *   pipe_bridge PORT [--busy-ms MS] PIPE...
 *
 * --busy-ms: the first pipe starts with its only instance taken by the
 * bridge itself for MS milliseconds (ERROR_PIPE_BUSY for clients, checked
 * before READY) and with a single instance after it: the client must wait
 * (WaitNamedPipe) within its login timeout.  Prints "READY" once every
 * pipe exists; runs until killed (wineserver -k), or for 10 minutes at
 * most. */
#include "config.h"

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF 65536
#define LIFETIME_MS (10 * 60 * 1000)

static unsigned short port;

typedef struct listener {
  wchar_t name[256];
  char text[256];
  DWORD instances;
  HANDLE ready;   /* set when the first instance exists */
  HANDLE initial; /* an instance to listen on first, or NULL */
} listener;

typedef struct session {
  HANDLE pipe;
  SOCKET sock;
  const char *name;
} session;

static void note(const char *fmt, const char *name, unsigned long v) {
  fprintf(stderr, "pipe_bridge: ");
  fprintf(stderr, fmt, name, v);
  fputc('\n', stderr);
  fflush(stderr);
}

/* One overlapped operation on the pipe, waited for. */
static BOOL pipe_io(HANDLE h, bool write, void *buf, DWORD len, DWORD *n) {
  OVERLAPPED ov = {0};
  ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
  BOOL ok = write ? WriteFile(h, buf, len, n, &ov) : ReadFile(h, buf, len, n, &ov);
  if (!ok && GetLastError() == ERROR_IO_PENDING)
    ok = GetOverlappedResult(h, &ov, n, TRUE);
  DWORD e = GetLastError();
  CloseHandle(ov.hEvent);
  if (!ok && !write && e == ERROR_MORE_DATA)
    return TRUE; /* part of a message: the rest comes next */
  SetLastError(e);
  return ok;
}

/* TCP to pipe, until the server closes. */
static DWORD WINAPI to_pipe(LPVOID arg) {
  session *s = arg;
  char *buf = malloc(BUF);
  for (int n; buf && (n = recv(s->sock, buf, BUF, 0)) > 0;) {
    DWORD w;
    if (!pipe_io(s->pipe, true, buf, (DWORD)n, &w))
      break;
  }
  free(buf);
  /* the server is gone: so is the client's session */
  DisconnectNamedPipe(s->pipe);
  return 0;
}

/* Pipe to TCP, until the client closes; then the TCP side too. */
static DWORD WINAPI serve(LPVOID arg) {
  session *s = arg;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
  if (s->sock == INVALID_SOCKET ||
      connect(s->sock, (struct sockaddr *)&a, sizeof a) != 0) {
    note("%s: cannot reach the server (%lu)", s->name,
         (unsigned long)WSAGetLastError());
    goto done;
  }
  HANDLE back = CreateThread(NULL, 0, to_pipe, s, 0, NULL);
  char *buf = malloc(BUF);
  DWORD n;
  while (buf && pipe_io(s->pipe, false, buf, BUF, &n)) {
    for (DWORD off = 0; off < n;) {
      int k = send(s->sock, buf + off, (int)(n - off), 0);
      if (k <= 0)
        goto out;
      off += (DWORD)k;
    }
  }
out:
  free(buf);
  shutdown(s->sock, SD_BOTH);
  if (back) {
    WaitForSingleObject(back, INFINITE);
    CloseHandle(back);
  }
done:
  if (s->sock != INVALID_SOCKET)
    closesocket(s->sock);
  CloseHandle(s->pipe);
  free(s);
  return 0;
}

static HANDLE create(listener *l) {
  return CreateNamedPipeW(l->name, PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED,
                          PIPE_TYPE_MESSAGE | PIPE_READMODE_MESSAGE | PIPE_WAIT,
                          l->instances, BUF, BUF, 0, NULL);
}

static DWORD WINAPI listen_pipe(LPVOID arg) {
  listener *l = arg;
  for (;;) {
    HANDLE h = l->initial ? l->initial : create(l);
    l->initial = NULL;
    if (h == INVALID_HANDLE_VALUE) {
      /* all instances in use (the single-instance pipe): wait a little */
      if (GetLastError() == ERROR_PIPE_BUSY) {
        SetEvent(l->ready);
        Sleep(20);
        continue;
      }
      note("%s: CreateNamedPipe failed (%lu)", l->text, GetLastError());
      SetEvent(l->ready);
      return 1;
    }
    SetEvent(l->ready);
    OVERLAPPED ov = {0};
    ov.hEvent = CreateEventW(NULL, TRUE, FALSE, NULL);
    BOOL ok = ConnectNamedPipe(h, &ov);
    DWORD e = ok ? 0 : GetLastError(), n;
    if (!ok && e == ERROR_IO_PENDING)
      ok = GetOverlappedResult(h, &ov, &n, TRUE);
    else if (!ok && e == ERROR_PIPE_CONNECTED)
      ok = TRUE;
    CloseHandle(ov.hEvent);
    if (!ok) {
      CloseHandle(h);
      continue;
    }
    session *s = calloc(1, sizeof *s);
    if (!s) {
      CloseHandle(h);
      continue;
    }
    s->pipe = h;
    s->sock = INVALID_SOCKET;
    s->name = l->text;
    HANDLE t = CreateThread(NULL, 0, serve, s, 0, NULL);
    if (t)
      CloseHandle(t);
  }
}

int main(int argc, char **argv) {
  WSADATA wsa;
  int busy_ms = 0, first = 2;
  if (argc < 3 || WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
    fprintf(stderr, "usage: pipe_bridge PORT [--busy-ms MS] PIPE...\n");
    return 64;
  }
  port = (unsigned short)atoi(argv[1]);
  if (strcmp(argv[2], "--busy-ms") == 0 && argc > 4) {
    busy_ms = atoi(argv[3]);
    first = 4;
  }
  int n = argc - first;
  listener *ls = calloc((size_t)n, sizeof *ls);
  HANDLE holder = INVALID_HANDLE_VALUE, taken = INVALID_HANDLE_VALUE;
  for (int i = 0; ls && i < n; i++) {
    listener *l = &ls[i];
    snprintf(l->text, sizeof l->text, "%s", argv[first + i]);
    MultiByteToWideChar(CP_UTF8, 0, l->text, -1, l->name, 256);
    l->instances = busy_ms && i == 0 ? 1 : PIPE_UNLIMITED_INSTANCES;
    l->ready = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (busy_ms && i == 0) {
      /* take the only instance ourselves: clients see ERROR_PIPE_BUSY */
      holder = create(l);
      taken = CreateFileW(l->name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                          OPEN_EXISTING, 0, NULL);
      if (holder == INVALID_HANDLE_VALUE || taken == INVALID_HANDLE_VALUE) {
        note("%s: cannot take the pipe (%lu)", l->text, GetLastError());
        return 1;
      }
      /* Busy for every client from READY on, none can race for it: a
       * second open must say so. */
      HANDLE other = CreateFileW(l->name, GENERIC_READ | GENERIC_WRITE, 0,
                                 NULL, OPEN_EXISTING, 0, NULL);
      DWORD e = GetLastError();
      if (other != INVALID_HANDLE_VALUE || e != ERROR_PIPE_BUSY) {
        note("%s: not busy once taken (%lu)", l->text,
             other != INVALID_HANDLE_VALUE ? 0 : e);
        return 1;
      }
      continue;
    }
    HANDLE t = CreateThread(NULL, 0, listen_pipe, l, 0, NULL);
    if (!t)
      return 1;
    CloseHandle(t);
    WaitForSingleObject(l->ready, 5000);
  }
  printf("READY\n");
  fflush(stdout);
  if (holder != INVALID_HANDLE_VALUE) {
    Sleep((DWORD)busy_ms);
    /* The instance never ceases to exist (a waiting client would see no
     * pipe at all): disconnected, it is busy until it listens again. */
    CloseHandle(taken);
    DisconnectNamedPipe(holder);
    ls[0].initial = holder;
    note("%s: released after %lu ms", ls[0].text, (unsigned long)busy_ms);
    HANDLE t = CreateThread(NULL, 0, listen_pipe, &ls[0], 0, NULL);
    if (t)
      CloseHandle(t);
  }
  Sleep(LIFETIME_MS);
  return 0;
}
