#!/usr/bin/env python3
"""tls_relay.py -- a TLS-intercepting relay for TDS 7.x, the machine in the
middle that Extended Protection exists to stop (doc/channel-binding.md).

It accepts one client at a time on loopback, passes PRELOGIN through to the
server, then runs two TLS handshakes inside PRELOGIN packets: one with the
client, as a server, with a certificate the client trusts (a proxy whose
CA the client was made to trust), and one with the server, as a client.
Everything after is decrypted from one side and encrypted to the other, so
the login reaches the server intact, but inside another TLS session than
the client's.  Channel bindings (tls-unique) therefore differ.

Usage: tls_relay.py UPSTREAM_PORT CERT KEY
Prints "READY <port>" once listening.  Standard library only.
"""

import select
import socket
import ssl
import struct
import sys
import threading

PKT_PRELOGIN = 0x12
EOM = 0x01


def read_exact(sock, n):
    buf = b''
    while len(buf) < n:
        d = sock.recv(n - len(buf))
        if not d:
            raise EOFError('peer closed')
        buf += d
    return buf


def read_packet(sock):
    hdr = read_exact(sock, 8)
    typ, status, length = struct.unpack('>BBH', hdr[:4])
    return typ, status, hdr + read_exact(sock, length - 8)


def read_message(sock):
    """A whole TDS message, as the packets that carried it."""
    raw = b''
    while True:
        typ, status, pkt = read_packet(sock)
        raw += pkt
        if status & EOM:
            return typ, raw


def send_prelogin(sock, data):
    for i in range(0, len(data), 4088):
        chunk = data[i:i + 4088]
        last = i + 4088 >= len(data)
        sock.sendall(struct.pack('>BBHHBB', PKT_PRELOGIN, EOM if last else 0,
                                 len(chunk) + 8, 0, 1, 0) + chunk)


def handshake(sock, obj, inc, out, client_side):
    """TLS inside PRELOGIN packets (MS-TDS 2.2.6.5), either side; raw TLS
    records are accepted too (a TLS 1.3 client finishing early)."""
    while True:
        try:
            obj.do_handshake()
            done = True
        except ssl.SSLWantReadError:
            done = False
        data = out.read()
        if data:
            send_prelogin(sock, data)
        if done:
            return
        first = sock.recv(1, socket.MSG_PEEK)
        if not first:
            raise EOFError('closed during the handshake')
        if first[0] == PKT_PRELOGIN:
            _, _, pkt = read_packet(sock)
            inc.write(pkt[8:])
        else:
            hdr = read_exact(sock, 5)
            inc.write(hdr + read_exact(sock, struct.unpack('>H', hdr[3:])[0]))


def pump(a, b):
    """Plaintext both ways between two TLS sessions over memory BIOs:
    a, b = (sock, sslobj, inc, out)."""
    socks = {a[0]: (a, b), b[0]: (b, a)}
    while True:
        r, _, _ = select.select(list(socks), [], [], 30)
        if not r:
            return
        for s in r:
            src, dst = socks[s]
            data = s.recv(65536)
            if not data:
                return
            src[2].write(data)
            while True:
                try:
                    plain = src[1].read(65536)
                except ssl.SSLWantReadError:
                    break
                except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                    return
                if not plain:
                    return
                dst[1].write(plain)
            out = dst[3].read()
            if out:
                dst[0].sendall(out)


def serve(client, upstream, sctx, cctx):
    server = socket.create_connection(('127.0.0.1', upstream))
    try:
        # PRELOGIN both ways, in clear and untouched
        _, msg = read_message(client)
        server.sendall(msg)
        _, msg = read_message(server)
        client.sendall(msg)
        ci, co = ssl.MemoryBIO(), ssl.MemoryBIO()
        cobj = sctx.wrap_bio(ci, co, server_side=True)
        si, so = ssl.MemoryBIO(), ssl.MemoryBIO()
        sobj = cctx.wrap_bio(si, so, server_side=False)
        handshake(client, cobj, ci, co, False)
        handshake(server, sobj, si, so, True)
        pump((client, cobj, ci, co), (server, sobj, si, so))
    except (EOFError, OSError, ssl.SSLError) as e:
        sys.stderr.write('relay: %s\n' % e)
    finally:
        server.close()
        client.close()


def main():
    upstream, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert, key)
    sctx.maximum_version = ssl.TLSVersion.TLSv1_2  # tls-unique exists
    cctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cctx.check_hostname = False
    cctx.verify_mode = ssl.CERT_NONE
    cctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(8)
    sys.stdout.write('READY %d\n' % ls.getsockname()[1])
    sys.stdout.flush()
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, upstream, sctx, cctx),
                         daemon=True).start()


if __name__ == '__main__':
    main()
