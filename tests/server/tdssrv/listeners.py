"""Listeners besides TCP: shared memory, the named pipe (AF_UNIX), the
SQL Server Browser (SSRP)."""

import itertools
import os
import socket
import struct
import threading

from .log import log
from .session import Session
from .shm import (SHM_ANSWER_MAGIC, SHM_HELLO_MAGIC, SHM_RING_DEFAULT,
                  SHM_RING_MAX, SHM_RING_MIN, SHM_VERSION, ShmSock, _shm_spids)
from .wire import Closed, SERVER_VERSION


def shm_hello(cfg, conn, path):
    """Answers one client's hello and serves its session (own thread)."""
    spid = next(_shm_spids)
    try:
        conn.settimeout(5)
        hello = b''
        while len(hello) < 16:
            chunk = conn.recv(16 - len(hello))
            if not chunk:
                raise Closed('closed before the shared-memory hello')
            hello += chunk
        conn.settimeout(None)
        magic, version, _, want, _ = struct.unpack('<IHHII', hello)
        if magic != SHM_HELLO_MAGIC:
            raise Closed('not a shared-memory hello (magic 0x%08x)' % magic)
        if version != SHM_VERSION:
            conn.sendall(struct.pack('<IHHIIQQ', SHM_ANSWER_MAGIC, SHM_VERSION,
                                     1, 0, 0, 0, 0))
            raise Closed('shared-memory client version %d' % version)
        size = want if (SHM_RING_MIN <= want <= SHM_RING_MAX and
                        want & (want - 1) == 0) else SHM_RING_DEFAULT
        s = ShmSock(conn, size, size)
    except (Closed, OSError) as e:
        log('shared memory %s: %s' % (path, e))
        conn.close()
        return
    try:
        s.hand_over(struct.pack('<IHHIIQQ', SHM_ANSWER_MAGIC, SHM_VERSION, 0,
                                size, size, s.seg_len, 0))
    except OSError as e:
        log('shared memory %s: %s' % (path, e))
        s.close()
        return
    log('connection %d over shared memory %s (rings %d bytes)' % (
        spid, path, size))
    Session(cfg, s, ('shm', path), spid).run()


class ShmListener:
    """The rendezvous socket at path, accepting in its own thread."""

    def __init__(self, cfg, path, stop):
        self.path = path
        try:
            os.unlink(path)                  # a stale file of a dead server
        except FileNotFoundError:
            pass
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(64)
        self.ls.settimeout(0.2)
        threading.Thread(target=self.loop, args=(cfg, stop), name='shm',
                         daemon=True).start()

    def loop(self, cfg, stop):
        while not stop.is_set():
            try:
                conn, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=shm_hello, args=(cfg, conn, self.path),
                             daemon=True).start()

    def close(self):
        self.ls.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


# ------------------------------------------------------ named pipe, SSRP
# Named pipes on POSIX (doc/local-endpoints.md; the client is
# lib/transport/pipe_posix.c): an AF_UNIX stream socket carrying the same
# TDS sessions as TCP (TLS, logins, misbehaviour).  The SQL Server Browser
# (MC-SQLR; client lib/transport/ssrp.c) answers on UDP for this server's
# instance.

_pipe_spids = itertools.count(1000)


class PipeListener:
    """--pipe PATH: accepts TDS sessions on an AF_UNIX socket."""

    def __init__(self, cfg, path, stop):
        self.path = path
        try:
            os.unlink(path)                  # a stale file of a dead server
        except FileNotFoundError:
            pass
        self.ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.ls.bind(path)
        self.ls.listen(64)
        self.ls.settimeout(0.2)
        log('named pipe on %s' % path)
        threading.Thread(target=self.loop, args=(cfg, stop), name='pipe',
                         daemon=True).start()

    def loop(self, cfg, stop):
        while not stop.is_set():
            try:
                sock, _ = self.ls.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            sock.settimeout(None)
            spid = next(_pipe_spids)
            log('connection %d on pipe %s' % (spid, self.path))
            s = Session(cfg, sock, ('np', self.path), spid)
            threading.Thread(target=s.run, name='spid%d' % spid,
                             daemon=True).start()

    def close(self):
        self.ls.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


def ssrp_record(instance, tcp_port, pipe):
    """One CLNT_UCAST_INST_RESPONSE (MC-SQLR 2.2.5), ending ';;'."""
    host = socket.gethostname().split('.')[0].upper()
    rec = 'ServerName;%s;InstanceName;%s;IsClustered;No;Version;%s;' % (
        host, instance, '.'.join(str(x) for x in SERVER_VERSION))
    rec += 'tcp;%d;' % tcp_port
    if pipe:
        rec += 'np;%s;' % pipe
    return (rec + ';').encode('ascii', 'replace')


def ssrp_answer(req, instance, record):
    """SVR_RESP for a request, or None where SQL Server Browser stays
    silent: an instance it does not have, a request it does not know
    (MC-SQLR 3.1.5.2)."""
    if req[:1] in (b'\x02', b'\x03'):        # CLNT_BCAST_EX, CLNT_UCAST_EX
        data = record
    elif req[:1] == b'\x04':                 # CLNT_UCAST_INST, NUL or not
        name = req[1:].split(b'\x00')[0].decode('ascii', 'replace')
        if name.lower() != instance.lower():
            return None
        data = record
    else:
        return None                          # CLNT_UCAST_DAC: no DAC here
    return struct.pack('<BH', 0x05, len(data)) + data


class SSRPResponder:
    """--ssrp-port PORT: a SQL Server Browser on UDP at the --host address."""

    def __init__(self, host, port, instance, tcp_port, pipe, stop):
        self.instance = instance
        self.record = ssrp_record(instance, tcp_port, pipe)
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        self.s = socket.socket(family, socket.SOCK_DGRAM)
        self.s.bind((host, port))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        log('SQL Server Browser on %s UDP %d for instance %s' % (
            host, self.port, instance))
        threading.Thread(target=self.loop, args=(stop,), name='ssrp',
                         daemon=True).start()

    def loop(self, stop):
        while not stop.is_set():
            try:
                req, addr = self.s.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                break
            resp = ssrp_answer(req, self.instance, self.record)
            log('SSRP request %s from %s: %s' % (
                req[:40].hex(), addr[:2], 'answered' if resp else 'ignored'))
            if resp:
                try:
                    self.s.sendto(resp, addr)
                except OSError as e:
                    log('SSRP reply to %s failed: %s' % (addr[:2], e))

    def close(self):
        self.s.close()
