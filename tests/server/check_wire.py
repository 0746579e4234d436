#!/usr/bin/env python3
"""The test server's packets and tokens are SQL Server's where a client or
a dissector depends on them (issue 13), read here by a minimal TDS client
of this file's own over a plain socket (ENCRYPT_NOT_SUP), so that the
bytes themselves are checked:

- PacketID counts each message's packets from 1 (MS-TDS 2.2.3.1.5): the
  PRELOGIN answer, the login answer, a many-packet answer and the one after
  it all start at 1 (Wireshark's reassembly relies on it);
- the PRELOGIN answer's header carries SPID 0, the login answer the SPID;
- an attention while an answer streams: the answer ends as a message of
  its own, then DONE(DONE_ATTN) alone is the next message (tedious waits
  for the first message's end); so too an attention before anything of
  the answer was sent (its message is then one DONE(DONE_ERROR));
- statements inside sp_executesql end with DONEINPROC, the call with
  DONEPROC, as SQL Server (and the captures in the shared vectors) send.

Run by make check as $PYTHON3 tests/server/check_wire.py (env TDSC_SRCDIR).
Exit 0 pass, 1 fail."""

import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get('TDSC_SRCDIR') or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
SERVER = os.path.join(SRCDIR, 'tests', 'server', 'tdsserver.py')
USER, PASSWORD = 'wire', 'Wire-Pa55'

failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


class Client:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=20)
        self.buf = b''

    def send(self, typ, payload, size=4096):
        room = size - 8
        n = max(1, (len(payload) + room - 1) // room)
        for i in range(n):
            ch = payload[i * room:(i + 1) * room]
            self.s.sendall(struct.pack('>BBHHBB', typ, 1 if i == n - 1 else 0,
                                       len(ch) + 8, 0, i + 1, 0) + ch)

    def _read(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError('server closed')
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def packet(self):
        """(type, status, spid, packet id, payload)"""
        typ, st, ln, spid, pid, _ = struct.unpack('>BBHHBB', self._read(8))
        return typ, st, spid, pid, self._read(ln - 8)

    def message(self):
        """(headers [(status, spid, id)], payload)"""
        heads, data = [], b''
        while True:
            typ, st, spid, pid, p = self.packet()
            heads.append((st, spid, pid))
            data += p
            if st & 1:
                return heads, data


def prelogin():
    opts = [(0, struct.pack('>IH', 0x10000000, 0)), (1, b'\x02')]
    off = 5 * len(opts) + 1
    head, body = b'', b''
    for t, v in opts:
        head += struct.pack('>BHH', t, off + len(body), len(v))
        body += v
    return head + b'\xff' + body


def login7(user, password, database):
    def scramble(s):
        return bytes((((b << 4) & 0xF0) | (b >> 4)) ^ 0xA5
                     for b in s.encode('utf-16-le'))
    fields = ['wirehost', user, password, 'check_wire', 'localhost', '',
              'check_wire', '', database]
    data, offs, pos = b'', [], 94
    for i, f in enumerate(fields):
        b = scramble(f) if i == 2 else f.encode('utf-16-le')
        offs.append(struct.pack('<HH', pos + len(data), len(b) // 2))
        data += b
    fixed = struct.pack('<IIIIIIBBBBiI', 94 + len(data), 0x74000004, 4096,
                        7, 1234, 0, 0xE0, 0x03, 0, 0, 0, 0x409)
    fixed += b''.join(offs) + b'\x00' * 6 + struct.pack('<HH', 94 + len(data),
                                                        0)
    fixed += struct.pack('<HHHHI', 94 + len(data), 0, 94 + len(data), 0, 0)
    assert len(fixed) == 94, len(fixed)
    return fixed + data


ALL_HEADERS = struct.pack('<IIHQI', 22, 18, 2, 0, 1)


def batch(text):
    return ALL_HEADERS + text.encode('utf-16-le')


def tokens(data):
    """Token ids of a stream of the token kinds this test meets."""
    out, i = [], 0
    while i < len(data):
        t = data[i]
        out.append(t)
        if t in (0xFD, 0xFE, 0xFF):
            i += 13
        elif t == 0x79:
            i += 5
        elif t in (0xAA, 0xAB, 0xE3, 0xAD):
            i += 3 + struct.unpack_from('<H', data, i + 1)[0]
        else:
            return out + ['?']       # rows: not needed here
    return out


def done_status(data):
    return data[-13], struct.unpack_from('<H', data, len(data) - 12)[0]


def start(tmp):
    cmd = [sys.executable, SERVER, '--host', '127.0.0.1', '--port', '0',
           '--db', os.path.join(tmp, 'w.sqlite'), '--user',
           '%s:%s' % (USER, PASSWORD), '--encryption', 'not_sup',
           '--log', os.path.join(tmp, 'server.log')]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    r, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline() if r else ''
    if not line.startswith('READY '):
        p.kill()
        raise SystemExit('server did not start: %r' % line)
    return p, int(line.split()[1])


def connect(port):
    c = Client(port)
    c.send(0x12, prelogin())
    heads, _ = c.message()
    check([h[1:] for h in heads] == [(0, 1)],
          'PRELOGIN answer: SPID 0, PacketID 1 (as SQL Server): %r' % heads)
    c.send(0x10, login7(USER, PASSWORD, 'tdsc_test'))
    heads, data = c.message()
    check(len(heads) == 1 and heads[0][1] >= 51 and heads[0][2] == 1 and
          0xAD in tokens(data), 'login answer: the SPID, PacketID 1, '
          'LOGINACK: %r' % heads)
    return c, heads[0][1]


def main():
    tmp = tempfile.mkdtemp(prefix='tdsc-wire-')
    server = None
    try:
        server, port = start(tmp)
        c, spid = connect(port)

        # a many-packet answer, then a one-packet one: both from 1
        big = "SELECT REPLICATE(CAST('x' AS varchar(max)), 20000)"
        c.send(0x01, batch(big))
        heads, data = c.message()
        ids = [h[2] for h in heads]
        check(len(ids) > 3 and ids == list(range(1, len(ids) + 1)) and
              all(h[1] == spid for h in heads),
              'a %d-packet answer numbers its packets 1..%d' % (
                  len(ids), len(ids)))
        c.send(0x01, batch('SELECT 1'))
        heads, _ = c.message()
        check([h[2] for h in heads] == [1],
              'the next answer starts again at PacketID 1: %r' % heads)

        # sp_executesql: DONEINPROC per statement, then RETURNSTATUS and
        # DONEPROC (ProcID 10 = sp_executesql, MS-TDS 2.2.6.6)
        stmt = 'SET NOCOUNT ON; PRINT 1; PRINT 2'.encode('utf-16-le')
        rpc = (ALL_HEADERS + struct.pack('<HHH', 0xFFFF, 10, 0) +
               b'\x00\x00' + bytes([0xE7]) + struct.pack('<H', 8000) +
               bytes([0x09, 0x04, 0xD0, 0x00, 0x34]) +
               struct.pack('<H', len(stmt)) + stmt)
        c.send(0x03, rpc)
        _, data = c.message()
        toks = tokens(data)
        check(toks == [0xFF, 0xAB, 0xFF, 0xAB, 0xFF, 0x79, 0xFE],
              'sp_executesql: each statement ends with DONEINPROC (0xFF), '
              'the call with RETURNSTATUS and DONEPROC: %s' % (
                  ' '.join('%02x' % t if t != '?' else t for t in toks)))
        c.send(0x01, batch('SELECT 1 AS a'))
        _, data = c.message()
        check(done_status(data) == (0xFD, 0x10),
              'SET NOCOUNT ON inside sp_executesql ended with it: %r'
              % (done_status(data),))

        # sp_prepexec (ProcID 13), as ODBC sends it (the shared vectors'
        # RPC capture): the rows, DONEINPROC, RETURNSTATUS, the handle as
        # an unnamed RETURNVALUE, DONEPROC; then sp_execute (12) with it
        def nvar(name, text):
            b, n = text.encode('utf-16-le'), name.encode('utf-16-le')
            return (bytes([len(name)]) + n + b'\x00' + bytes([0xE7]) +
                    struct.pack('<H', 8000) +
                    bytes([0x09, 0x04, 0xD0, 0x00, 0x34]) +
                    struct.pack('<H', len(b)) + b)

        def intn(name, v, out=False):
            n = name.encode('utf-16-le')
            return (bytes([len(name)]) + n + (b'\x01' if out else b'\x00') +
                    b'\x26\x04' + (b'\x00' if v is None else
                                   b'\x04' + struct.pack('<i', v)))
        c.send(0x03, ALL_HEADERS + struct.pack('<HHH', 0xFFFF, 13, 0) +
               intn('', None, True) + nvar('', '@a int') +
               nvar('', 'SELECT @a + 1 AS r') + intn('@a', 41))
        _, data = c.message()
        k = data.find(bytes([0xAC]))
        check(data[:1] == b'\x81' and data[-13:-12] == b'\xfe' and k > 0 and
              b'\xd1\x04' + struct.pack('<i', 42) in data and
              data[k - 18] == 0xFF and data[k - 5] == 0x79 and
              data[k + 3] == 0 and data[-17:-13] == struct.pack('<i', 1),
              'sp_prepexec: rows, DONEINPROC, RETURNSTATUS, handle 1 as '
              'RETURNVALUE, DONEPROC: %s' % data.hex())
        c.send(0x03, ALL_HEADERS + struct.pack('<HHH', 0xFFFF, 12, 0) +
               intn('', 1) + intn('@a', 1))
        _, data = c.message()
        check(data[:1] == b'\x81' and
              b'\xd1\x04' + struct.pack('<i', 2) in data and
              data[-13:-12] == b'\xfe',
              'sp_execute of the handle: its row (2): %s' % data.hex())

        # the same statements in a batch end with DONE
        c.send(0x01, batch('SET NOCOUNT ON; PRINT 1'))
        _, data = c.message()
        check(tokens(data) == [0xFD, 0xAB, 0xFD],
              'in a batch the statements end with DONE: %r' % tokens(data))

        # SET NOCOUNT ON: DONE tokens without DONE_COUNT (no row counts),
        # for the session, until SET NOCOUNT OFF
        c.send(0x01, batch('SET NOCOUNT OFF; SELECT 1 AS a'))
        _, data = c.message()
        check(done_status(data) == (0xFD, 0x10),
              'NOCOUNT OFF: the SELECT ends with DONE_COUNT: %r'
              % (done_status(data),))
        c.send(0x01, batch('SET NOCOUNT ON; SELECT 1 AS a'))
        _, data = c.message()
        check(done_status(data) == (0xFD, 0x00),
              'NOCOUNT ON: DONE without DONE_COUNT: %r' % (done_status(data),))
        c.send(0x01, batch('SELECT 2 AS b'))
        _, data = c.message()
        check(done_status(data) == (0xFD, 0x00),
              'NOCOUNT stays on for the session: %r' % (done_status(data),))
        c.send(0x01, batch('SET NOCOUNT OFF'))
        c.message()

        # attention while a large answer streams
        c.send(0x01, batch("WITH n(i) AS (SELECT 1 UNION ALL SELECT i + 1 "
                           "FROM n WHERE i < 100000) SELECT i, REPLICATE("
                           "'y', 200) FROM n OPTION (MAXRECURSION 0)"))
        first = c.packet()
        check(first[0] == 0x04 and not first[1] & 1,
              'a large answer is under way (its first packet, no EOM)')
        c.send(0x06, b'')
        heads, data = c.message()
        cut = data
        st_tok, st = done_status(data)
        check(st_tok in (0xFD, 0xFE, 0xFF) and not st & 0x20 and
              heads[0][2] == 2,
              'after the attention the answer ends as its own message '
              '(PacketIDs go on from 2; last token DONE without DONE_ATTN, '
              'status 0x%04x)' % st)
        heads, data = c.message()
        check(data == struct.pack('<BHHQ', 0xFD, 0x20, 0, 0) and
              [h[2] for h in heads] == [1],
              'then DONE(DONE_ATTN) alone, a message of its own, PacketID 1:'
              ' %s' % data.hex())
        check(len(first[4]) + len(cut) < 10 * 1024 * 1024,
              'the answer stopped short of its 20 MB: %d bytes' % (
                  len(first[4]) + len(cut)))

        # attention before anything of the answer was sent: the answer
        # still ends as a message of its own (tedious reads it before it
        # looks for the acknowledgement), then the acknowledgement
        c.send(0x01, batch("WAITFOR DELAY '00:00:05'"))
        time.sleep(0.3)
        c.send(0x06, b'')
        heads, data = c.message()
        check(data == struct.pack('<BHHQ', 0xFD, 0x02, 0, 0),
              'an attention during WAITFOR: the answer ends, '
              'DONE(DONE_ERROR): %s' % data.hex())
        heads, data = c.message()
        check(data == struct.pack('<BHHQ', 0xFD, 0x20, 0, 0),
              'then DONE(DONE_ATTN) as the next message: %s' % data.hex())
        c.send(0x01, batch('SELECT 1'))
        heads, data = c.message()
        check(done_status(data) == (0xFD, 0x10),
              'the connection answers the next request')
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if failures:
            log = os.path.join(tmp, 'server.log')
            if os.path.exists(log):
                sys.stdout.write(open(log).read()[-3000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d failure(s)' % len(failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
