"""The shared-memory transport, server side (doc/shm-protocol.md)."""

import array
import fcntl
import itertools
import mmap
import os
import platform
import select
import socket
import ssl
import struct
import threading

from .wire import BioTLS, Closed


# ------------------------------------------------------------ shared memory
# The shared-memory transport, server side (doc/shm-protocol.md; the client
# is lib/transport/shm_posix.c).  A ShmSock looks like the socket a Session
# reads and writes (recv with MSG_PEEK, sendall, shutdown, close), so TDS,
# TLS (BioTLS, ShmTLS) and every misbehaviour run over it unchanged.
#
# Python has no C11 atomics.  head/tail/flags are read and written through a
# memoryview cast to 'Q' (one aligned 8-byte memcpy in CPython: a single mov
# on x86-64, so never torn); x86's TSO makes each store a release and each
# load an acquire; shm_fence() (a Lock round trip, a lock-prefixed
# instruction) is the full fence the wake-up protocol needs between a store
# and a load (section 4).  On other machines the server does not trust the
# flags: it rings on every publish and re-checks every 10 ms.

SHM_HELLO_MAGIC = 0x48534454     # "TDSH"
SHM_ANSWER_MAGIC = 0x53534454    # "TDSS"
SHM_SEGMENT_MAGIC = 0x47534454   # "TDSG"
SHM_VERSION = 1
SHM_DATA_OFF = 4096
SHM_RING_DEFAULT = 256 * 1024
SHM_RING_MIN, SHM_RING_MAX = 4096, 16 << 20
SHM_TSO = platform.machine() in ('x86_64', 'AMD64', 'i386', 'i686')
SHM_SPIN = 200                   # ring checks before sleeping (~20 us)
_shm_fence_lock = threading.Lock()
_shm_spids = itertools.count(500)


def shm_fence():
    with _shm_fence_lock:
        pass


class ShmRing:
    """One ring's indexes (in 8-byte words) and data window."""

    def __init__(self, prod_off, cons_off, data_off, size):
        self.tail, self.wwait = prod_off // 8, prod_off // 8 + 1
        self.head, self.rwait = cons_off // 8, cons_off // 8 + 1
        self.data, self.size = data_off, size


class ShmSock:
    """The server's end of one shared-memory connection."""

    def __init__(self, conn, c2s, s2c):
        self.conn = conn                      # rendezvous socket
        self.seg_len = SHM_DATA_OFF + c2s + s2c
        self.memfd = os.memfd_create('tdsc-shm', os.MFD_CLOEXEC |
                                     os.MFD_ALLOW_SEALING)
        self.bell_client = self.bell_server = -1
        self.mm = self.q = None
        try:
            os.ftruncate(self.memfd, self.seg_len)
            fcntl.fcntl(self.memfd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK |
                        fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
            self.mm = mmap.mmap(self.memfd, self.seg_len)
            struct.pack_into('<IIIIQQ', self.mm, 0, SHM_SEGMENT_MAGIC,
                             SHM_VERSION, c2s, s2c, SHM_DATA_OFF,
                             SHM_DATA_OFF + c2s)
            self.q = memoryview(self.mm).cast('Q')
            self.bell_client = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self.bell_server = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        except BaseException:
            self.close()
            raise
        self.rx = ShmRing(128, 192, SHM_DATA_OFF, c2s)
        self.tx = ShmRing(256, 320, SHM_DATA_OFF + c2s, s2c)
        self.pending = b''
        self.gone = False
        self.poller = select.poll()
        self.poller.register(self.bell_server, select.POLLIN)
        self.poller.register(self.conn.fileno(), select.POLLIN)

    def hand_over(self, answer):
        fds = array.array('i', [self.memfd, self.bell_client, self.bell_server])
        self.conn.sendmsg([answer], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                      fds)])
        os.close(self.memfd)                  # the mapping keeps the memory
        self.memfd = -1

    def _wait(self, flag, watch, seen):
        """Until the client moves q[watch] from seen, or hangs up."""
        q = self.q
        for _ in range(SHM_SPIN):
            if q[watch] != seen:
                return
        while True:
            q[flag] = 1
            try:
                os.eventfd_read(self.bell_server)     # drain
            except BlockingIOError:
                pass
            shm_fence()
            if q[watch] != seen:
                q[flag] = 0
                return
            events = self.poller.poll(None if SHM_TSO else 10)
            q[flag] = 0
            if q[watch] != seen:
                return
            for fd, _ in events:
                if fd == self.conn.fileno():
                    self._peer_check()
                    if self.gone:
                        return

    def _peer_check(self):
        try:
            self.conn.recv(1, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            return                              # spurious
        except OSError:
            pass
        self.gone = True    # EOF, reset, or a byte (none may follow the hello)

    def _ring(self):
        os.eventfd_write(self.bell_client, 1)

    def _read_ring(self):
        q, r = self.q, self.rx
        while True:
            head, tail = q[r.head], q[r.tail]
            used = tail - head
            if used > r.size:
                raise Closed('shared memory: corrupt client ring')
            if used:
                at = head & (r.size - 1)
                first = min(used, r.size - at)
                data = self.mm[r.data + at:r.data + at + first]
                if used > first:
                    data += self.mm[r.data:r.data + used - first]
                q[r.head] = head + used
                shm_fence()
                if q[r.wwait] or not SHM_TSO:
                    self._ring()
                return data
            if self.gone:
                return b''
            self._wait(r.rwait, r.tail, tail)

    def recv(self, n, flags=0):
        if not self.pending:
            if self.q is None:
                return b''
            self.pending = self._read_ring()
        data = self.pending[:n]
        if not flags & socket.MSG_PEEK:
            self.pending = self.pending[n:]
        return data

    def recv_nowait(self, n):
        """recv without blocking (see recv_nowait()): bytes already taken
        from the ring, else the ring's contents if the client has published
        any (its tail moved), b'' once the client hung up, else None."""
        if not self.pending:
            if self.q is None:
                return b''
            q, r = self.q, self.rx
            if q[r.tail] != q[r.head]:
                self.pending = self._read_ring()
            else:
                if not self.gone:
                    rd, _, _ = select.select([self.conn], [], [], 0)
                    if rd:
                        self._peer_check()
                return b'' if self.gone else None
        data = self.pending[:n]
        self.pending = self.pending[n:]
        return data

    def sendall(self, data):
        q, r = self.q, self.tx
        if q is None:
            raise BrokenPipeError('shared memory: closed')
        mv = memoryview(data).cast('B')
        off = 0
        while off < len(mv):
            tail, head = q[r.tail], q[r.head]
            room = r.size - (tail - head)
            if room < 0:
                raise Closed('shared memory: corrupt client ring')
            if room:
                n = min(room, len(mv) - off)
                at = tail & (r.size - 1)
                first = min(n, r.size - at)
                self.mm[r.data + at:r.data + at + first] = mv[off:off + first]
                if n > first:
                    self.mm[r.data:r.data + n - first] = mv[off + first:off + n]
                q[r.tail] = tail + n
                shm_fence()
                if q[r.rwait] or not SHM_TSO:
                    self._ring()
                off += n
                continue
            if self.gone:
                raise BrokenPipeError('shared memory: the client went away')
            self._wait(r.wwait, r.head, head)

    def shutdown(self, how=socket.SHUT_RDWR):
        try:
            self.conn.shutdown(how)
        except OSError:
            pass

    def setsockopt(self, *args):
        pass                # SO_LINGER (reset-after-prelogin): a plain close

    def wrap_tls(self, ctx):
        return ShmTLS(self, ctx)

    def close(self):
        if self.q is not None:
            self.q.release()
            self.q = None
        if self.mm is not None:
            self.mm.close()
            self.mm = None
        for name in ('memfd', 'bell_client', 'bell_server'):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)
        try:
            self.conn.close()
        except OSError:
            pass


class ShmTLS(BioTLS):
    """TDS 8.0 (strict) TLS over shared memory: what wrap_socket does for a
    real socket, through memory BIOs."""

    def __init__(self, raw, ctx):
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        super().__init__(raw, ctx.wrap_bio(inc, out, server_side=True), inc,
                         out)
        while True:
            try:
                self.sslobj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                data = raw.recv(65536)
                if not data:
                    raise Closed('client closed during TLS handshake')
                inc.write(data)
            except ssl.SSLError:
                self.flush()
                raise
        self.flush()

    def version(self):
        return self.sslobj.version()

    def selected_alpn_protocol(self):
        return self.sslobj.selected_alpn_protocol()

    def shutdown(self, how=socket.SHUT_RDWR):
        self.sock.shutdown(how)

    def setsockopt(self, *args):
        pass

    def close(self):
        self.sock.close()
