#!/usr/bin/env python3
"""ntlm_client.py -- an NTLM integrated login to a TDS server, with the
NTLMSSP tokens made by Samba's ntlm_auth (package winbind), an
implementation nobody in this project wrote.  Used by tests/peers/ntlm_auth.sh
against tests/server/tdsserver.py --ntlm-users.

  ntlm_client.py --port N --domain D --user U --password P [--spnego]
                 [--host H] [--ntlm-auth PATH] [--query SQL]

The TDS side is minimal and written here: PRELOGIN asking ENCRYPT_NOT_SUP
(the server must run with --encryption not_sup), LOGIN7 with fIntSecurity
and the first token in its SSPI field, then every SSPI token (0xED) the
server sends goes to ntlm_auth and its answer back in a packet of type 0x11.
Raw NTLMSSP uses `--helper-protocol=ntlmssp-client-1`, SPNEGO (--spnego)
`gss-spnego-client`; both speak YR -> YR <b64>, TT <b64> -> KK|AF <b64>
lines (AF without a token: the server's last token was accepted).

Prints one line per event:
  SSPI-IN <n> <kind>     a token from the server (kind NTLMSSP-CHALLENGE,
                         SPNEGO, ...)
  HELPER <reply>         ntlm_auth's verdict on the server's final SPNEGO
                         token (AF ... = accepted)
  ERROR <number> <class> <state> <text>
  LOGINACK
  ROW <value>            first column of each row of --query (after login)
Exit 0 logged in, 1 login refused (ERROR, no LOGINACK), 2 anything else.
"""

import argparse
import base64
import socket
import struct
import subprocess
import sys

PKT_SQLBATCH, PKT_REPLY, PKT_LOGIN7, PKT_SSPI, PKT_PRELOGIN = (
    0x01, 0x04, 0x10, 0x11, 0x12)


class Fail(Exception):
    pass


class Conn:
    def __init__(self, host, port):
        self.s = socket.create_connection((host, port), timeout=30)

    def send(self, typ, data):
        hdr = struct.pack('>BBHHBB', typ, 0x01, 8 + len(data), 0, 1, 0)
        self.s.sendall(hdr + data)

    def read_exact(self, n):
        b = b''
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise EOFError('server closed the connection')
            b += c
        return b

    def read_message(self):
        out = b''
        while True:
            typ, st, ln = struct.unpack('>BBH', self.read_exact(4))
            self.read_exact(4)
            out += self.read_exact(ln - 8)
            if st & 0x01:
                return typ, out


class Helper:
    """ntlm_auth as a coprocess speaking the squid-style line protocol."""

    def __init__(self, path, proto, domain, user, password):
        self.p = subprocess.Popen(
            [path, '--helper-protocol=' + proto, '--domain=' + domain,
             '--username=' + user, '--password=' + password],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, line):
        self.p.stdin.write(line + '\n')
        self.p.stdin.flush()
        ans = self.p.stdout.readline().strip()
        if not ans:
            raise Fail('ntlm_auth said nothing to %r' % line[:2])
        return ans

    def first(self):
        return self.token(self.ask('YR'))

    def step(self, tok):
        return self.ask('TT ' + base64.b64encode(tok).decode())

    @staticmethod
    def token(ans):
        kw, _, b64 = ans.partition(' ')
        # ntlmssp-client-1 hands over the AUTHENTICATE as "AF <b64>"
        if kw not in ('YR', 'KK', 'AF') or not b64:
            raise Fail('ntlm_auth: %s' % ans)
        return base64.b64decode(b64)

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def prelogin():
    opts = [(0, bytes([0x10, 0, 0, 0, 0, 0])),   # VERSION
            (1, b'\x02'),                          # ENCRYPTION: NOT_SUP
            (2, b'\x00'), (3, b'\x00\x00\x00\x00'), (4, b'\x00')]
    base = 5 * len(opts) + 1
    hdr, data = b'', b''
    for t, v in opts:
        hdr += struct.pack('>BHH', t, base + len(data), len(v))
        data += v
    return hdr + b'\xff' + data


def login7(token, database):
    fields = [('host', 'ntlm-client'), ('user', ''), ('password', ''),
              ('app', 'ntlm_client.py'), ('server', 'localhost'),
              ('ext', ''), ('lib', 'ntlm_client'), ('lang', ''),
              ('db', database)]
    fixed = 94
    var = b''
    offs = b''
    for _, v in fields:
        enc = v.encode('utf-16-le')
        offs += struct.pack('<HH', fixed + len(var), len(v))
        var += enc
    offs += b'\x00' * 6                                   # ClientID
    offs += struct.pack('<HH', fixed + len(var), len(token))
    var += token
    offs += struct.pack('<HH', fixed + len(var), 0)       # AtchDBFile
    offs += struct.pack('<HH', fixed + len(var), 0)       # ChangePassword
    offs += struct.pack('<I', 0)                          # cbSSPILong
    head = struct.pack('<IIIIIIBBBBiI', fixed + len(var), 0x74000004, 4096,
                       7, 4242, 0, 0xE0, 0x83, 0, 0, 0, 0x409)
    body = head + offs + var
    assert len(head + offs) == fixed
    return body


def tokens(data):
    """Yield (token byte, body) for the tokens a login or a small query
    answer holds."""
    i = 0
    cols = 0
    while i < len(data):
        t = data[i]
        i += 1
        if t in (0xED, 0xAA, 0xAB, 0xAD, 0xE3, 0xA9):
            n = struct.unpack_from('<H', data, i)[0]
            yield t, data[i + 2:i + 2 + n]
            i += 2 + n
        elif t in (0xFD, 0xFE, 0xFF):
            yield t, data[i:i + 12]
            i += 12
        elif t == 0xAE:                       # FEATUREEXTACK
            while data[i] != 0xFF:
                i += 5 + struct.unpack_from('<I', data, i + 1)[0]
            i += 1
        elif t == 0x81:                       # COLMETADATA, nvarchar only
            cols = struct.unpack_from('<H', data, i)[0]
            i += 2
            for _ in range(cols):
                typ = data[i + 6]
                if typ != 0xE7:
                    raise Fail('column type 0x%02x not handled' % typ)
                i += 7 + 2 + 5
                i += 1 + 2 * data[i]
        elif t == 0xD1:                       # ROW of nvarchar values
            vals = []
            for _ in range(cols):
                n = struct.unpack_from('<H', data, i)[0]
                i += 2
                if n == 0xFFFF:
                    vals.append(None)
                else:
                    vals.append(data[i:i + n].decode('utf-16-le'))
                    i += n
            yield t, vals
        else:
            raise Fail('token 0x%02x not handled' % t)


def kind(tok):
    if tok.startswith(b'NTLMSSP\x00'):
        return {1: 'NTLMSSP-NEGOTIATE', 2: 'NTLMSSP-CHALLENGE',
                3: 'NTLMSSP-AUTHENTICATE'}.get(tok[8], 'NTLMSSP')
    if tok[:1] in (b'\x60', b'\xa1'):
        return 'SPNEGO'
    return 'unknown'


def run(a):
    helper = Helper(a.ntlm_auth,
                    'gss-spnego-client' if a.spnego else 'ntlmssp-client-1',
                    a.domain, a.user, a.password)
    try:
        c = Conn(a.host, a.port)
        c.send(PKT_PRELOGIN, prelogin())
        typ, _ = c.read_message()
        if typ != PKT_REPLY:
            raise Fail('PRELOGIN answer of type 0x%02x' % typ)
        c.send(PKT_LOGIN7, login7(helper.first(), a.database))
        while True:
            _, data = c.read_message()
            sspi = None
            acked = False
            errors = 0
            for t, body in tokens(data):
                if t == 0xED:
                    sspi = body
                    print('SSPI-IN %d %s' % (len(body), kind(body)))
                elif t == 0xAA:
                    num, state, cls, n = struct.unpack_from('<IBBH', body, 0)
                    text = body[8:8 + 2 * n].decode('utf-16-le')
                    print('ERROR %d %d %d %s' % (num, cls, state, text))
                    errors += 1
                elif t == 0xAD:
                    acked = True
            if acked:
                if sspi is not None:
                    # SPNEGO accept-completed (with mechListMIC): the
                    # helper must accept it
                    print('HELPER %s' % helper.step(sspi))
                print('LOGINACK')
                break
            if errors:
                return 1
            if sspi is None:
                raise Fail('neither SSPI token, LOGINACK nor ERROR')
            c.send(PKT_SSPI, helper.token(helper.step(sspi)))
        if a.query:
            c.send(PKT_SQLBATCH, struct.pack('<IIHQI', 22, 18, 2, 0, 1)
                   + a.query.encode('utf-16-le'))
            _, data = c.read_message()
            for t, body in tokens(data):
                if t == 0xD1:
                    print('ROW %s' % body[0])
                elif t == 0xAA:
                    print('ERROR %d' % struct.unpack_from('<I', body)[0])
        return 0
    finally:
        helper.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--domain', required=True)
    ap.add_argument('--user', required=True)
    ap.add_argument('--password', required=True)
    ap.add_argument('--database', default='tdsc_test')
    ap.add_argument('--spnego', action='store_true')
    ap.add_argument('--ntlm-auth', default='ntlm_auth')
    ap.add_argument('--query')
    a = ap.parse_args()
    try:
        rc = run(a)
    except (Fail, EOFError, OSError, ValueError, struct.error) as e:
        print('FAIL %s' % e)
        return 2
    sys.stdout.flush()
    return rc


if __name__ == '__main__':
    sys.exit(main())
