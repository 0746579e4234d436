#!/usr/bin/env python3
"""Records plaintext TDS sessions for the fuzz corpora (record.sh drives it).

    record.py proxy UPSTREAM_PORT OUT_DIR
        listens on 127.0.0.1 (prints "READY <port>"), forwards each
        connection to UPSTREAM_PORT and writes what the server sent, one
        message per file (packets up to EOM, headers included):
        OUT_DIR/c<connection>_<n>.s, and the client's as .c files.
        Exits on SIGTERM.  Only for Encrypt=off sessions (no TLS): the
        bytes are the ones the fuzz targets parse.
    record.py ssrp PORT INSTANCE OUT_DIR
        asks the SQL Browser at 127.0.0.1:PORT (CLNT_UCAST_INST, then
        CLNT_UCAST_EX) and writes each reply.
    record.py corpus RECORD_DIR CORPUS_DIR
        picks messages of what record.sh recorded and writes them to
        CORPUS_DIR/<target>/ in each target's input format (README.md).
"""
import os
import signal
import socket
import sys
import threading


def split_messages(data):
    """Whole messages (up to a packet with EOM) in data; the rest."""
    msgs, off, start = [], 0, 0
    while off + 8 <= len(data):
        n = int.from_bytes(data[off + 2:off + 4], 'big')
        if n < 8 or off + n > len(data):
            break
        off += n
        if data[off - n + 1] & 1:
            msgs.append(data[start:off])
            start = off
    return msgs, data[start:]


def pump(src, dst, out, conn, suffix, counter):
    buf = b''
    while True:
        try:
            chunk = src.recv(65536)
        except OSError:
            chunk = b''
        if not chunk:
            break
        buf += chunk
        msgs, buf = split_messages(buf)
        for m in msgs:
            with counter[1]:
                counter[0] += 1
                n = counter[0]
            with open(os.path.join(out, 'c%d_%02d.%s' % (conn, n, suffix)),
                      'wb') as f:
                f.write(m)
        try:
            dst.sendall(chunk)
        except OSError:
            break
    for s in (dst, src):
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def proxy(upstream, out):
    os.makedirs(out, exist_ok=True)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(('127.0.0.1', 0))
    ls.listen(8)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    print('READY %d' % ls.getsockname()[1], flush=True)
    conn = 0
    while True:
        c, _ = ls.accept()
        conn += 1
        u = socket.create_connection(('127.0.0.1', upstream))
        counter = [0, threading.Lock()]
        for a, b, sfx in ((c, u, 'c'), (u, c, 's')):
            threading.Thread(target=pump, args=(a, b, out, conn, sfx, counter),
                             daemon=True).start()


def ssrp(port, instance, out):
    os.makedirs(out, exist_ok=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    reqs = (('inst', b'\x04' + instance.encode() + b'\x00'), ('ex', b'\x03'))
    for name, req in reqs:
        s.sendto(req, ('127.0.0.1', port))
        data, _ = s.recvfrom(65535)
        with open(os.path.join(out, 'ssrp_%s' % name), 'wb') as f:
            f.write(data)


def payload(msg):
    out, off = b'', 0
    while off + 8 <= len(msg):
        n = int.from_bytes(msg[off + 2:off + 4], 'big')
        out += msg[off + 8:off + n]
        off += n
    return out


def sspi_token(msg):
    """The data of the SSPI token (0xED) a reply starts with."""
    p = payload(msg)
    assert p[0] == 0xED, 'no SSPI token first'
    n = int.from_bytes(p[1:3], 'little')
    return p[3:3 + n]


def login7_sspi(msg):
    """The SSPI field of a LOGIN7 (MS-TDS 2.2.6.4: ibSSPI, cbSSPI)."""
    p = payload(msg)
    ib = int.from_bytes(p[78:80], 'little')
    cb = int.from_bytes(p[80:82], 'little')
    return p[ib:ib + cb]


def corpus(rec, out):
    def msgs(server, conn, side='s'):
        d = os.path.join(rec, server)
        names = sorted(f for f in os.listdir(d)
                       if f.startswith('c%d_' % conn) and f.endswith(side))
        result = []
        for f in names:
            with open(os.path.join(d, f), 'rb') as fh:
                result.append(fh.read())
        return result

    files = {}

    def put(target, name, data):
        files[(target, name)] = data

    a1, a2, a3, a4 = (msgs('a', i) for i in (1, 2, 3, 4))
    b1 = msgs('b', 1)
    # a1: PRELOGIN reply, login reply, query reply (every column kind)
    put('prelogin', 'sql_prelogin_reply', a1[0])
    put('login', 'sql_login_reply', a1[1])
    put('login', 'ntlm_challenge_round', a3[1])
    put('login', 'spnego_final_round', a4[2])
    for name, m, flags in (('typed', a1[2], (0x00, 0x01)),
                           ('batch', a2[2], (0x00, 0x1f)),
                           ('plp_unknown', b1[2], (0x01, 0x02 | 0x80 | 15 << 2))):
        for f in flags:
            put('tokens', '%s.%02x' % (name, f), bytes([f]) + payload(m))
    put('session', 'typed.getters', b'\x04\x00' + a1[2])
    put('session', 'batch.read', b'\x0c\x00' + a2[2])
    put('session', 'batch.is_null_first_row', b'\x34\x00' + a2[2])
    put('session', 'batch.small_packets', b'\x00\x00' + payload(a2[2]))
    put('session', 'plp_unknown.read', b'\x0c\x00' + b1[2])
    put('session', 'login_reply', b'\x05\x00' + a1[1])
    put('session', 'prelogin_reply', b'\x06\x00' + a1[0])
    challenge = sspi_token(a3[1])
    put('ntlm', 'raw_challenge', b'\x00' + challenge)
    resp1, resp2 = sspi_token(a4[1]), sspi_token(a4[2])
    put('ntlm', 'spnego_challenge_and_final',
        b'\x01' + len(resp1).to_bytes(2, 'big') + resp1 + resp2)
    put('spnego', 'negtokenresp_challenge', resp1)
    put('spnego', 'negtokenresp_final', resp2)
    put('spnego', 'negtokeninit_client', login7_sspi(msgs('a', 4, 'c')[1]))
    ssrp_dir = os.path.join(rec, 'ssrp')
    for f in sorted(os.listdir(ssrp_dir)):
        with open(os.path.join(ssrp_dir, f), 'rb') as fh:
            put('ssrp', f, fh.read())
    for (target, name), data in sorted(files.items()):
        os.makedirs(os.path.join(out, target), exist_ok=True)
        with open(os.path.join(out, target, name), 'wb') as fh:
            fh.write(data)
    print('record.py: %d corpus files written to %s' % (len(files), out))


if __name__ == '__main__':
    if sys.argv[1] == 'proxy':
        proxy(int(sys.argv[2]), sys.argv[3])
    elif sys.argv[1] == 'corpus':
        corpus(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == 'ssrp':
        ssrp(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
