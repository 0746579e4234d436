"""TDS on the wire: packet and token constants, the token writers, packet
framing and reading (TDSConn), TLS through memory BIOs, attention
polling, PRELOGIN and ALL_HEADERS."""

import select
import socket
import ssl
import struct


# ------------------------------------------------------------------ constants

PKT_SQLBATCH = 0x01
PKT_RPC = 0x03
PKT_REPLY = 0x04
PKT_ATTENTION = 0x06
PKT_BULK = 0x07
PKT_TM = 0x0E
PKT_LOGIN7 = 0x10
PKT_SSPI = 0x11
PKT_PRELOGIN = 0x12

ST_EOM = 0x01

ENCRYPT_OFF, ENCRYPT_ON, ENCRYPT_NOT_SUP, ENCRYPT_REQ = 0, 1, 2, 3
ENC_NAMES = {'off': ENCRYPT_OFF, 'on': ENCRYPT_ON, 'not_sup': ENCRYPT_NOT_SUP,
             'req': ENCRYPT_REQ}

TOK_COLMETADATA = 0x81
TOK_ERROR = 0xAA
TOK_INFO = 0xAB
TOK_LOGINACK = 0xAD
TOK_FEATUREEXTACK = 0xAE
TOK_ROW = 0xD1
TOK_NBCROW = 0xD2
TOK_ENVCHANGE = 0xE3
TOK_SSPI = 0xED
TOK_DONE = 0xFD

DONE_FINAL = 0x00
DONE_MORE = 0x01
DONE_ERROR = 0x02
DONE_INXACT = 0x04
DONE_COUNT = 0x10
DONE_ATTN = 0x20

# SQL_Latin1_General_CP1_CI_AS
COLLATION = bytes([0x09, 0x04, 0xD0, 0x00, 0x34])

SERVER_VERSION = (16, 0, 1000, 0)
TDS74 = 0x74000004
TDS73B = 0x730B0003
PROG_NAME = 'Microsoft SQL Server'

# ------------------------------------------------------------- token writer

def us_varchar(s):
    b = s.encode('utf-16-le')
    return struct.pack('<H', len(b) // 2) + b


def b_varchar(s):
    b = s.encode('utf-16-le')
    return struct.pack('<B', len(b) // 2) + b


def tok_envchange(typ, new, old):
    if isinstance(new, str):
        body = bytes([typ]) + b_varchar(new) + b_varchar(old)
    else:
        body = bytes([typ, len(new)]) + new + bytes([len(old)]) + old
    return struct.pack('<BH', TOK_ENVCHANGE, len(body)) + body


def tok_msg(tok, number, state, cls, text, server, proc='', line=1):
    body = (struct.pack('<iBB', number, state, cls) + us_varchar(text) +
            b_varchar(server) + b_varchar(proc) + struct.pack('<i', line))
    return struct.pack('<BH', tok, len(body)) + body


def tok_done(status, curcmd=0, count=0, tok=TOK_DONE):
    return struct.pack('<BHHQ', tok, status, curcmd, count)


def tok_sspi(token):
    """SSPI token (MS-TDS 2.2.7.22): 0xED, USHORT length, the GSS token."""
    return struct.pack('<BH', TOK_SSPI, len(token)) + token


def tok_loginack(tds_version):
    v = SERVER_VERSION
    body = (bytes([1]) + struct.pack('>I', tds_version) + b_varchar(PROG_NAME)
            + bytes([v[0], v[1], v[2] >> 8, v[2] & 0xFF]))
    return struct.pack('<BH', TOK_LOGINACK, len(body)) + body


# ---------------------------------------------------------------- transport

class Closed(Exception):
    pass


def recv_nowait(tr, n):
    """Whatever the transport tr has for us right now, without blocking:
    bytes, b'' at end of stream, None when nothing is waiting.  Used to
    notice an attention packet (MS-TDS 2.2.1.7) while a request runs.

    - plain sockets (TCP, the AF_UNIX named pipe): recv with MSG_DONTWAIT;
    - ssl.SSLSocket (TDS 8.0 over TCP or the pipe): decrypted bytes OpenSSL
      already holds (pending()), else, if select says the socket is
      readable, a non-blocking read: a partial TLS record raises
      SSLWantReadError and counts as nothing yet;
    - BioTLS / ShmTLS / ShmSock: their own recv_nowait."""
    own = getattr(tr, 'recv_nowait', None)
    if own is not None:
        return own(n)
    if isinstance(tr, ssl.SSLSocket):
        if not tr.pending():
            r, _, _ = select.select([tr], [], [], 0)
            if not r:
                return None
        tr.setblocking(False)
        try:
            return tr.recv(n)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                BlockingIOError):
            return None
        except ssl.SSLZeroReturnError:
            return b''
        finally:
            tr.setblocking(True)
    try:
        return tr.recv(n, socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None


class BioTLS:
    """TLS over a socket through memory BIOs (TDS 7.x after the handshake)."""

    def __init__(self, sock, sslobj, inc, out):
        self.sock, self.sslobj, self.inc, self.out = sock, sslobj, inc, out

    def recv(self, n):
        while True:
            try:
                return self.sslobj.read(n)
            except ssl.SSLWantReadError:
                data = self.sock.recv(65536)
                if not data:
                    return b''
                self.inc.write(data)
            except ssl.SSLZeroReturnError:
                return b''

    def recv_nowait(self, n):
        """recv without blocking (see recv_nowait()): decrypts what the
        incoming BIO holds, feeding it what the raw transport has now."""
        while True:
            try:
                return self.sslobj.read(n)
            except ssl.SSLWantReadError:
                data = recv_nowait(self.sock, 65536)
                if not data:
                    return data          # None (nothing yet) or b'' (EOF)
                self.inc.write(data)
            except ssl.SSLZeroReturnError:
                return b''

    def sendall(self, data):
        self.sslobj.write(data)
        self.flush()

    def flush(self):
        pending = self.out.read()
        if pending:
            self.sock.sendall(pending)


class TDSConn:
    """Packet-level I/O on one client connection."""

    def __init__(self, sock, spid):
        self.sock = sock
        self.tr = sock
        # bytes received and not yet consumed: buf[rpos:] (a bytearray and
        # an offset, so that a 1 GiB upload is not copied per packet)
        self.buf = bytearray()
        self.rpos = 0
        # SPID in the packet headers: 0 until the login (SQL Server's
        # PRELOGIN answer and TLS handshake packets carry 0), then spid
        self.spid = 0
        self.packet_size = 4096
        self.pkt_id = 1

    def buffered(self):
        return len(self.buf) - self.rpos

    def take_buffered(self):
        """Everything received and not consumed (raw TLS records that came
        with the handshake)."""
        data = bytes(self.buf[self.rpos:])
        self.buf, self.rpos = bytearray(), 0
        return data

    def _fill(self, n):
        """Until at least n bytes are buffered."""
        while len(self.buf) - self.rpos < n:
            if self.rpos and self.rpos == len(self.buf):
                self.buf, self.rpos = bytearray(), 0
            elif self.rpos >= 1 << 20:
                del self.buf[:self.rpos]
                self.rpos = 0
            data = self.tr.recv(max(262144, n - (len(self.buf) - self.rpos)))
            if not data:
                raise Closed('client closed the connection')
            self.buf += data

    def _take_into(self, out, n):
        """Appends the next n buffered bytes to out (one copy)."""
        with memoryview(self.buf) as mv:
            out += mv[self.rpos:self.rpos + n]
        self.rpos += n

    def read_exact(self, n):
        self._fill(n)
        res = bytearray()
        self._take_into(res, n)
        return bytes(res)

    def read_packet(self):
        hdr = self.read_exact(8)
        typ, status, length = struct.unpack('>BBH', hdr[:4])
        if length < 8:
            raise Closed('bad packet length %d' % length)
        return typ, status, self.read_exact(length - 8)

    def read_message(self):
        """A whole message: its packets' payloads appended to one
        bytearray as they arrive (a 1 GiB upload is copied once, not per
        packet nor joined at the end)."""
        msg = bytearray()
        typ = None
        while True:
            self._fill(8)
            t, status, length = struct.unpack_from('>BBH', self.buf, self.rpos)
            if length < 8:
                raise Closed('bad packet length %d' % length)
            if typ is None:
                typ = t
            elif t == PKT_ATTENTION:
                self.read_exact(max(length, 8))
                return PKT_ATTENTION, b''
            self._fill(length)
            self.rpos += 8
            self._take_into(msg, length - 8)
            if status & ST_EOM:
                break
        if status & 0x02:   # ignore bit: the client abandoned the message
            return None, b''
        return typ, msg

    def poll_input(self):
        """Appends to buf whatever the client has sent that is waiting now,
        without blocking.  Raises Closed at end of stream."""
        while True:
            data = recv_nowait(self.tr, 65536)
            if data is None:
                return
            if not data:
                raise Closed('client closed the connection')
            self.buf += data

    def attention_pending(self):
        """True (and the packet consumed) when the next thing the client
        sent is an attention packet (type 0x06, MS-TDS 2.2.1.7).  Checked
        while a request runs, between chunks of its answer; never blocks."""
        self.poll_input()
        avail = len(self.buf) - self.rpos
        if avail < 8 or self.buf[self.rpos] != PKT_ATTENTION:
            return False
        length = struct.unpack_from('>H', self.buf, self.rpos + 2)[0]
        if avail < max(length, 8):
            return False
        self.read_exact(max(length, 8))
        return True

    def packets(self, typ, data, eom):
        """data cut into packets of the negotiated size; EOM on the last if
        eom."""
        room = self.packet_size - 8
        mv = memoryview(data)
        n = len(mv)
        out = []
        for i in range(0, n, room) if n else [0]:
            ch = mv[i:i + room]
            last = eom and i + room >= n
            out.append(struct.pack('>BBHHBB', typ, ST_EOM if last else 0,
                                   len(ch) + 8, self.spid, self.pkt_id, 0))
            out.append(ch)
            # PacketID counts the packets of one message, from 1, as SQL
            # Server does (MS-TDS 2.2.3.1.5): the next message starts again
            self.pkt_id = 1 if last else (self.pkt_id + 1) & 0xFF
        return b''.join(out)

    def send_message(self, typ, data, size=None):
        if size:
            saved, self.packet_size = self.packet_size, size
            try:
                self.tr.sendall(self.packets(typ, data, True))
            finally:
                self.packet_size = saved
            return
        self.tr.sendall(self.packets(typ, data, True))


def skip_all_headers(p):
    if len(p) >= 4:
        total = struct.unpack_from('<I', p, 0)[0]
        # ALL_HEADERS is present for TDS 7.2+; its total length is >= 4 and
        # small.  Text that happens to start with 4 bytes is unlikely to look
        # like a sane length.
        if 4 <= total <= len(p) and total < 1024:
            return total
    return 0


def parse_prelogin(p):
    opts = {}
    i = 0
    while i < len(p) and p[i] != 0xFF:
        if i + 5 > len(p):
            break
        tok, off, ln = struct.unpack_from('>BHH', p, i)
        opts[tok] = p[off:off + ln]
        i += 5
    return opts


def build_prelogin_response(enc, fedauth_asked, fedauth=0, nonce=None):
    v = SERVER_VERSION
    items = [(0, bytes([v[0], v[1]]) + struct.pack('>HH', v[2], v[3])),
             (1, bytes([enc])),
             (2, b'\x00'),
             (3, b''),
             (4, b'\x00')]
    if fedauth_asked:  # entra (fedauth.py): 0x01 when tokens are accepted
        items.append((6, bytes([fedauth])))
    if nonce is not None:  # NONCEOPT (0x07, 2.2.6.5)
        items.append((7, nonce))
    hdr_len = 5 * len(items) + 1
    hdr, data = b'', b''
    for tok, val in items:
        hdr += struct.pack('>BHH', tok, hdr_len + len(data), len(val))
        data += val
    return hdr + b'\xff' + data


def negotiate(server, client, have_cert):
    """(answer, mode): mode is 'full', 'login', 'none' or 'refuse'."""
    if server == 'not_sup' or (not have_cert and server == 'off'):
        return ENCRYPT_NOT_SUP, 'none'
    if server == 'off':
        if client == ENCRYPT_NOT_SUP:
            return ENCRYPT_NOT_SUP, 'none'
        if client == ENCRYPT_OFF:
            return ENCRYPT_OFF, 'login'
        # a client asking for encryption gets ENCRYPT_ON, as from SQL Server
        # (pytds rejects ENCRYPT_OFF as the answer to ENCRYPT_ON)
        return ENCRYPT_ON, 'full'
    ans = ENCRYPT_ON if server == 'on' else ENCRYPT_REQ
    if client == ENCRYPT_NOT_SUP:
        return ans, 'refuse'
    return ans, 'full'
