/* The I/O filter interface: a stack of byte streams, each knowing only the
 * one below (curl's connection filters).  Transports (tcp.c, pipe_*.c,
 * shm_*.c) sit at the bottom; TLS and the PRELOGIN wrapping of the TLS
 * handshake stack on top (lib/tls).  Nothing here knows TDS messages. */
#ifndef TDSC_IO_H
#define TDSC_IO_H

#include "error.h"
#include "transport/sock.h" /* sockaddr_storage, socklen_t, tdsc__sock */

typedef struct tdsc__io tdsc__io;

/* Every filter is non-blocking underneath (issue 16): read_some and
 * write_some move what can move now, or return TDSC__AGAIN with *want
 * (TDSC__WANT_READ/WRITE: what the BOTTOM's descriptor must show before a
 * retry can progress; a filter passes up the want of the layer below,
 * TLS may want to write in order to read) having consumed and produced
 * nothing the caller must redo.  The blocking read and write are ONE loop
 * in io.c (tdsc__io_read, tdsc__io_write) over those plus the wait of
 * tdsc__io_wait: every ops table points read/write at them, so callers
 * keep calling io->ops->read/write with a deadline.  A transport that has
 * no non-blocking form (read_some NULL: the Windows pipes, Schannel) keeps
 * its own blocking read/write, and tdsc__io_read_some tries those with a
 * deadline already past. */
typedef struct tdsc__io_ops {
  const char *name; /* "tcp", "tls", "prelogin-wrap" */
  /* Reads between 1 and len bytes into buf, waiting at most until deadline
   * (clock.h). An orderly close by the peer is TDSC_E_CONN_CLOSED; a
   * timeout TDSC_E_READ_TIMEOUT; a fired waker TDSC_E_CANCELLED. */
  tdsc_errc (*read)(tdsc__io *io, void *buf, size_t len, size_t *got,
                    int64_t deadline, tdsc_error *err);
  /* Writes all len bytes, or fails (READ_TIMEOUT when the peer stopped
   * reading until the deadline; never interrupted by the waker). */
  tdsc_errc (*write)(tdsc__io *io, const void *buf, size_t len,
                     int64_t deadline, tdsc_error *err);
  /* Frees this filter only (not `next`), closing what it owns. */
  void (*destroy)(tdsc__io *io);
  /* Bottom transports: the descriptor a non-blocking caller waits on
   * (tdsc__io_pollfd); NULL in filters. */
  intptr_t (*pollfd)(tdsc__io *io);
  /* Non-blocking forms (see above); len > 0.  write_some: TDSC_OK means
   * the *put bytes went down to the bottom's descriptor (no filter keeps
   * accepted output, so a blocking write that returned is sent); after
   * TDSC__AGAIN the caller retries with the same bytes (OpenSSL's rule),
   * and a filter that sent part of what it made of them (a TLS record, a
   * PRELOGIN packet) finishes that first.  read_some: a filter may keep
   * bytes it read from below (a packet header in part) until it can hand
   * up whole units. */
  tdsc_errc (*read_some)(tdsc__io *io, void *buf, size_t len, size_t *got,
                         int *want, tdsc_error *err);
  tdsc_errc (*write_some)(tdsc__io *io, const void *buf, size_t len,
                          size_t *put, int *want, tdsc_error *err);
  /* Bottoms whose pollfd poll() cannot wait on (a Windows event HANDLE,
   * signalled when an overlapped operation completed, whatever the want): the
   * wait of tdsc__io_wait, until deadline, or the waker unless sending
   * (a blocking write); NULL: poll() on the pollfd.  Platform files only
   * (pipe_win32.c), so that io.c knows no platform. */
  tdsc_errc (*wait)(const tdsc__io *io, int64_t deadline, bool sending,
                    tdsc_error *err);
} tdsc__io_ops;

/* A waker lets another thread interrupt a blocked read (tdsc_conn_cancel):
 * while the bottom transport holds one (tdsc__io_set_wake), a read that has
 * to wait for data also waits for the waker, and once it is fired returns
 * TDSC_E_CANCELLED having consumed nothing (filters above pass that on and
 * stay resumable).  Writes are never interrupted.  wake_posix.c,
 * wake_win32.c. */
typedef struct tdsc__waker tdsc__waker;

struct tdsc__io {
  const tdsc__io_ops *ops;
  tdsc__io *next; /* the filter below, or NULL at the bottom */
  const tdsc__waker *wake; /* bottom transport only; NULL: reads only wait
                              for data and the deadline */
  const char *peer; /* bottom transport only: the other end for the wait's
                       messages, "the connection to 127.0.0.1:1433" */
};

/* The blocking read and write of every non-blocking filter (its ops' read
 * and write): read_some/write_some, then tdsc__io_wait on the bottom until
 * the deadline (the waker only interrupts reads), again. */
tdsc_errc tdsc__io_read(tdsc__io *io, void *buf, size_t len, size_t *got,
                        int64_t deadline, tdsc_error *err);
tdsc_errc tdsc__io_write(tdsc__io *io, const void *buf, size_t len,
                         int64_t deadline, tdsc_error *err);

/* NULL when out of memory or file descriptors. */
tdsc__waker *tdsc__waker_new(void);
void tdsc__waker_free(tdsc__waker *w);
/* From any thread (and from a signal handler): interrupts the read in
 * progress, or the next one that would wait, until cleared. */
void tdsc__waker_fire(tdsc__waker *w);
void tdsc__waker_clear(tdsc__waker *w);
/* What a POSIX transport polls besides its own descriptor (readable while
 * fired); -1 for NULL. */
int tdsc__waker_fd(const tdsc__waker *w);
/* Gives the bottom of the stack under top the waker w (or NULL). */
void tdsc__io_set_wake(tdsc__io *top, const tdsc__waker *w);

/* ---- Non-blocking use (issue 16; doc/design.md "Non-blocking").
 * A call that would have to wait returns TDSC__AGAIN (error.h) having
 * consumed and produced nothing, and says in *want what it waits for
 * (TLS may need to write in order to read).  Wait only after TDSC__AGAIN:
 * a filter may hold bytes the descriptor no longer shows. */
enum { TDSC__WANT_READ = 1, TDSC__WANT_WRITE = 2 };
#define TDSC__NO_POLLFD ((intptr_t)-1)
/* Reads 1..len bytes if any can be had now. */
tdsc_errc tdsc__io_read_some(tdsc__io *top, void *buf, size_t len,
                             size_t *got, int *want, tdsc_error *err);
/* Writes 1..len bytes if any can go now (*put says how many). */
tdsc_errc tdsc__io_write_some(tdsc__io *top, const void *buf, size_t len,
                              size_t *put, int *want, tdsc_error *err);
/* What to wait on: the bottom transport's socket (for shared memory on
 * Linux an epoll descriptor over its doorbell eventfd and rendezvous
 * socket, readable when the server rang or went away: level-triggered,
 * poll it for POLLIN whatever the want); on Windows a SOCKET, or for the
 * pipes an event HANDLE (signalled when an overlapped operation
 * completed, whatever the want; the bottom's wait op waits on it with
 * WaitForMultipleObjects); TDSC__NO_POLLFD for none (a wait is then a
 * short sleep, see io.c). */
intptr_t tdsc__io_pollfd(tdsc__io *top);
/* Waits until the stack may progress on want (TDSC__WANT_*), until the
 * deadline (TDSC_E_READ_TIMEOUT) or until the bottom's waker fires
 * (TDSC_E_CANCELLED). */
tdsc_errc tdsc__io_wait(tdsc__io *top, int want, int64_t deadline,
                        tdsc_error *err);
/* The error of a wait for peer that reached its deadline: READ_TIMEOUT,
 * worded for a read, or (sending) for a peer that stopped reading. */
tdsc_errc tdsc__io_wait_timeout(const char *peer, bool sending,
                                tdsc_error *err);

/* Reads exactly len bytes. */
tdsc_errc tdsc__io_read_full(tdsc__io *io, void *buf, size_t len,
                             int64_t deadline, tdsc_error *err);
/* A resolved address (resolve.c). */
#define TDSC__NUMERIC_HOST_LEN 80 /* "ffff:...:ffff%interface" and more */
#define TDSC__ADDR_TEXT_LEN (TDSC__NUMERIC_HOST_LEN + 12) /* [host]:port */
typedef struct tdsc__addr {
  struct sockaddr_storage sa;
  socklen_t salen;
  int family;
  char text[TDSC__ADDR_TEXT_LEN]; /* "127.0.0.1:1433", "[::1]:1433" */
} tdsc__addr;

/* Resolves host:port for socktype (SOCK_STREAM, SOCK_DGRAM) into a
 * malloc'ed array, families interleaved (RFC 8305 4); "localhost" is ::1
 * and 127.0.0.1 without a resolver (RFC 6761 6.3).  The messages say what
 * for (tdsc__resolve_purpose).  Codes: HOST_NOT_FOUND (provider
 * GETADDRINFO), SOCKET, NO_MEMORY.  getaddrinfo is not bounded by a
 * deadline (see the comment in resolve.c). */
tdsc_errc tdsc__resolve(const char *host, uint16_t port, int socktype,
                        tdsc__addr **out, size_t *n, tdsc_error *err);
/* What a lookup is for, in its messages: "port 1433" for a stream, "to
 * ask its SQL Server Browser" for a datagram (SQL Browser is the only
 * datagram peer). */
void tdsc__resolve_purpose(int socktype, uint16_t port, char *out, size_t cap);
bool tdsc__is_localhost(const char *host);
/* Whether host is an IPv4 or IPv6 address literal. */
bool tdsc__is_ip_literal(const char *host);
/* The names DNS gives host, for its SPN (session/spn.c): in canon the
 * canonical name of forward DNS (AI_CANONNAME; "" when DNS has none), and
 * when rev is not NULL, in rev the reverse DNS name of its first address
 * ("" when it has none).  Returns 0, or non-zero when forward DNS failed,
 * with getaddrinfo's reason in why. */
int tdsc__dns_canon(const char *host, char *canon, size_t canonlen, char *rev,
                    size_t revlen, char *why, size_t whylen);
void tdsc__format_addr(const struct sockaddr *sa, socklen_t salen, char *out,
                       size_t outlen);

/* One non-blocking recv/send on a stream socket (tcp.c, pipe_posix.c),
 * errors mapped to the library's codes: CONN_CLOSED, CONN_RESET, SOCKET;
 * TDSC__AGAIN with *want when the socket has nothing / no room.  peer
 * names the other end in messages. */
tdsc_errc tdsc__fd_read_some(tdsc__sock fd, const char *peer, void *buf,
                             size_t len, size_t *got, int *want,
                             tdsc_error *err);
tdsc_errc tdsc__fd_write_some(tdsc__sock fd, const char *peer,
                              const void *buf, size_t len, size_t *put,
                              int *want, tdsc_error *err);
/* Destroys the whole stack from top down. */
void tdsc__io_destroy_all(tdsc__io *top);

/* ---- Opening a transport without blocking (the connect state machine).
 * An opener (tcp.c, pipe_*.c, shm_*.c) is started, then stepped: each step
 * goes as far as it can without waiting and returns TDSC_OK with *out (and
 * in addr, if not NULL, what it connected to), a failure, or TDSC__AGAIN
 * with what to wait for in *w before the next step.  The deadline is the
 * step's: past it a step fails with the transport's timeout code.
 * tdsc__opener_free in every case (NULL is fine). */
typedef struct tdsc__open_wait {
  intptr_t fd;  /* a socket to poll (on w->want), or TDSC__NO_POLLFD */
  int want;     /* TDSC__WANT_READ or TDSC__WANT_WRITE */
  int timer_ms; /* step again after this long at the latest; -1: no timer */
} tdsc__open_wait;
typedef struct tdsc__opener tdsc__opener;
typedef struct tdsc__opener_ops {
  tdsc_errc (*step)(tdsc__opener *o, int64_t deadline, tdsc__io **out,
                    char *addr, size_t addrlen, tdsc__open_wait *w,
                    tdsc_error *err);
  void (*free)(tdsc__opener *o);
} tdsc__opener_ops;
struct tdsc__opener {
  const tdsc__opener_ops *ops;
};
tdsc_errc tdsc__opener_step(tdsc__opener *o, int64_t deadline, tdsc__io **out,
                            char *addr, size_t addrlen, tdsc__open_wait *w,
                            tdsc_error *err);
void tdsc__opener_free(tdsc__opener *o);
/* The blocking form: steps o, waiting in between, until it opens or
 * fails; frees o. */
tdsc_errc tdsc__opener_run(tdsc__opener *o, int64_t deadline, tdsc__io **out,
                           char *addr, size_t addrlen, tdsc_error *err);

/* TCP (tcp.c): resolves host, connects to its addresses (IPv6 and IPv4,
 * staggered in parallel as in RFC 8305) until one answers or the deadline
 * passes. Codes: HOST_NOT_FOUND, CONN_REFUSED, CONN_TIMEOUT,
 * NET_UNREACHABLE, SOCKET; messages name host and port. On success, addr
 * (if not NULL, size addrlen) receives the address connected to, as
 * "127.0.0.1:1433" or "[::1]:1433". */
tdsc_errc tdsc__tcp_connect(const char *host, uint16_t port, int64_t deadline,
                            tdsc__io **out, char *addr, size_t addrlen,
                            tdsc_error *err);

/* The same connect as an opener.  It takes host's addresses (addrs, naddr:
 * from tdsc__resolve for SOCK_STREAM and port, taken over whatever it
 * returns; NULL: it resolves them, blocking: getaddrinfo is not bounded,
 * resolve.c).  Each step looks, without waiting, at the attempts in flight
 * and starts the next address when its turn has come (RFC 8305 5); its
 * codes are tdsc__tcp_connect's (CONN_TIMEOUT once the deadline passed).
 * It waits for one socket to be writable: the newest attempt; while older
 * ones are still in flight the timer is at most 50 ms, so the one that
 * answers first is found within that (tdsc__tcp_connect waits on all of
 * them at once).  Freeing it closes the attempts that did not win.
 * parallel: every address starts at once instead of one after another
 * (MultiSubnetFailover=: a listener with an address in each subnet, of
 * which only the active one answers). */
tdsc_errc tdsc__tcp_open(const char *host, uint16_t port, tdsc__addr *addrs,
                         size_t naddr, bool parallel, tdsc__opener **out,
                         tdsc_error *err);

/* Named pipe, POSIX (pipe_posix.c): on POSIX a named-pipe target is an
 * AF_UNIX stream socket carrying TDS packets as they are (DESIGN,
 * "Transports and targets"; doc/local-endpoints.md).  Connects to path
 * before the deadline.  Codes: PIPE_NOT_FOUND (no such file, nothing
 * listening on it, not a socket, or not permitted: the message says
 * which), PIPE_BUSY (the server's listen queue stayed full until the
 * deadline), BAD_OPTION_VALUE (empty path, or longer than a socket address
 * holds), SOCKET.  Reads and writes fail as tcp.c's: READ_TIMEOUT,
 * CONN_CLOSED, CONN_RESET. */
tdsc_errc tdsc__pipe_connect(const char *path, int64_t deadline,
                             tdsc__io **out, tdsc_error *err);
/* The same as an opener: a connect to a full queue is tried again every
 * few milliseconds (a timer); on Windows, where a busy or remote pipe's
 * open blocks, the open runs on the worker (worker.h). */
tdsc_errc tdsc__pipe_open(const char *path, tdsc__opener **out,
                          tdsc_error *err);

/* Maps a SQL Server pipe name of the local host to its POSIX socket path:
 * `\\.\pipe\MSSQL$INST\sql\query` -> `<dir>/pipe/MSSQL$INST/sql/query`
 * (dir NULL: "/run/tdsclient").  The host part must be ".", "(local)",
 * "localhost" or this machine's name (short or full, any case).  Codes:
 * PIPE_NOT_FOUND for another host's pipe (not reachable over AF_UNIX),
 * BAD_OPTION_VALUE for a name that is not `\\host\pipe\name`, that has
 * empty, "." or ".." parts or a '/', or whose path does not fit outlen or
 * a socket address. */
tdsc_errc tdsc__pipe_path_for(const char *win_pipe, const char *dir,
                              char *out, size_t outlen, tdsc_error *err);

/* Shared memory (shm_posix.c, protocol in doc/shm-protocol.md): connects to
 * the rendezvous socket at path and maps the rings the server hands over.
 * Codes: SHM_NOT_FOUND (no such path, or nobody listens), PROTOCOL (not
 * this protocol or version), READ_TIMEOUT, SOCKET, SYSTEM. */
tdsc_errc tdsc__shm_connect(const char *rendezvous_path, int64_t deadline,
                            tdsc__io **out, tdsc_error *err);
/* The same as an opener, which waits for the server's answer on the
 * rendezvous socket (readable) between steps. */
tdsc_errc tdsc__shm_open(const char *rendezvous_path, tdsc__opener **out,
                         tdsc_error *err);

/* Windows (pipe_win32.c, shm_win32.c): a pipe target is the Win32 named
 * pipe itself, in message mode, any host; tdsc__pipe_path_for checks the
 * name's form and returns it unchanged (dir unused).  Shared memory is
 * the pipe \\.\pipe\SQLLocal\<INSTANCE>, as SQL Server offers it, opened
 * by tdsc__shm_connect with that name.  Codes as above, PIPE_BUSY after
 * waiting (WaitNamedPipe) for a free instance of the pipe until the
 * deadline. */

/* The local server's shared-memory endpoint for instance ("" or NULL: the
 * default, MSSQLSERVER), for tdsc__shm_connect: the rendezvous socket
 * <dir>/<INSTANCE>.shm on POSIX (dir NULL: "/run/tdsclient";
 * doc/local-endpoints.md), \\.\pipe\SQLLocal\<INSTANCE> on Windows. */
void tdsc__shm_path_for(const char *dir, const char *instance, char *out,
                        size_t outlen);

#endif
