"""Streaming answers for tdsserver.py: the response writer that sends a
request's answer packet by packet while it is produced and stops it when
the client sends an attention (MS-TDS 2.2.1.7, 3.3.5.9), PLP values sent in
chunks (2.2.5.2.3), large values of a given size generated on the fly, and
WAITFOR DELAY.

Part of the tdssrv package (see __init__.py).  Standard library only."""

import collections
import hashlib
import struct
import time

from . import coltypes
from .log import log
from .wire import (DONE_ATTN, DONE_ERROR, PKT_REPLY, TOK_NBCROW, TOK_ROW,
                   tok_done)


PLP_NULL = 0xFFFFFFFFFFFFFFFF
PLP_UNKNOWN = 0xFFFFFFFFFFFFFFFE

# PLP chunk sizes, in turn: 8000 as SQL Server sends, and odd sizes, so that
# a client meets chunk boundaries anywhere relative to packet boundaries.
# UTF-16 values (nvarchar(max)) get even sizes (each odd size one more):
# FreeTDS converts chunk by chunk and fails on a code unit cut in two.
PLP_CHUNKS = (8000, 8000, 1, 4093, 8000, 12289, 3, 8000, 65521, 777)

# Set by --plp-unknown-length: every PLP value is sent with
# PLP_UNKNOWN_LEN instead of its total length.
plp_unknown_length = False


class Attention(Exception):
    """The client sent an attention: the request stops here."""


def plp_chunk_sizes(total, even=False):
    """Sizes of the chunks a value of total bytes is sent in; even: whole
    UTF-16 code units."""
    off, i = 0, 0
    while off < total:
        n = PLP_CHUNKS[i % len(PLP_CHUNKS)]
        n = min(n + (n & 1 if even else 0), total - off)
        yield n
        off += n
        i += 1


def plp_bytes(b, even=False):
    """A whole PLP value (length, chunks, terminator) for a small value
    held in memory (RETURNVALUE, rows that are not streamed); even: for
    UTF-16 values."""
    mv = memoryview(b)
    out = [struct.pack('<Q', PLP_UNKNOWN if plp_unknown_length else len(mv))]
    off = 0
    for n in plp_chunk_sizes(len(mv), even):
        out.append(struct.pack('<I', n))
        out.append(mv[off:off + n])
        off += n
    out.append(b'\x00\x00\x00\x00')
    return b''.join(out)


# ---------------------------------------------------------------- big values

class BigValue:
    """A character or binary value of any size (up to and beyond SQLite's
    1e9-byte limit) with deterministic content: `unit` repeated, cut at
    `total` bytes.  Never materialised when sent as a column: chunks are
    slices of a 64 KiB block of repetitions.

    kind: 'varbinary', 'varchar' (cp1252) or 'nvarchar' (UTF-16LE), also
    'binary', 'char', 'nchar'; size: -1 for (max), else the declared
    length in bytes (the column's TYPE_INFO)."""

    def __init__(self, kind, size, unit, total):
        self.kind, self.size = kind, size
        self.unit = bytes(unit)
        self.total = total if self.unit else 0
        self._block = None

    @property
    def is_max(self):
        return self.size < 0

    def block(self):
        if self._block is None:
            reps = (65536 + 2 * len(self.unit)) // max(1, len(self.unit)) + 1
            self._block = self.unit * reps
        return self._block

    def chunk(self, off, n):
        """Bytes off..off+n of the value (n <= 65536)."""
        L = len(self.unit)
        start = off % L
        return self.block()[start:start + n]

    def periodic(self):
        """True if the content is whole repetitions of unit."""
        return not self.unit or self.total % len(self.unit) == 0

    def materialize(self):
        """The bytes (only for values small enough to hold)."""
        if not self.unit:
            return b''
        q, r = divmod(self.total, len(self.unit))
        return self.unit * q + self.unit[:r]

    def chunks(self, size=65536):
        off = 0
        while off < self.total:
            n = min(size, self.total - off)
            yield self.chunk(off, n)
            off += n

    def digest(self, alg):
        h = hashlib.new(alg)
        for c in self.chunks():
            h.update(c)
        return h.digest()

    def python_value(self):
        """The value as SQLite binds it: bytes, or text for character
        kinds."""
        b = self.materialize()
        if self.kind in ('varchar', 'char'):
            return b.decode('cp1252', 'replace')
        if self.kind in ('nvarchar', 'nchar'):
            return b.decode('utf-16-le', 'replace')
        return b

    def column(self, name):
        if self.size < 0:
            return coltypes.Column(name, self.kind if self.kind in (
                'varbinary', 'varchar', 'nvarchar') else
                {'binary': 'varbinary', 'char': 'varchar',
                 'nchar': 'nvarchar'}[self.kind], True, -1)
        return coltypes.Column(name, self.kind, True, max(1, self.size))


# ---------------------------------------------------------------- response

class Response:
    """One request's answer, sent while it is produced.

    Callers write whole tokens with token() (one or more complete tokens:
    a "unit"), or one token in pieces with begin() and piece() (a row with
    a large value).  Full packets leave as soon as about 64 KiB are waiting;
    after each send the connection is checked, without blocking, for an
    attention packet.  When one has come, the next token() or begin()
    raises Attention: the request stops at a token boundary, and cancel()
    ends the message.

    What reaches the client stays a valid token stream (clients such as
    FreeTDS and pytds read tokens until the acknowledgement): cancel() sends
    the rest of the unit that is partly sent, drops the units not begun,
    and ends the cancelled answer as a message of its own (a final
    DONE(DONE_ERROR) where the answer stopped short); the acknowledgement,
    DONE(DONE_ATTN), follows as a second message (MS-TDS 2.2.7.6; the
    client discards everything before it, 3.2.5.7).  SQL Server does so,
    and tedious waits for the end of the answer's message before it reads
    the acknowledgement, also when nothing of the answer was sent (its
    message is then DONE(DONE_ERROR) alone).  The last 13 bytes (the final DONE
    of a complete answer) are held back until finish(), so that an answer
    seen complete when the attention comes is sent whole, then the
    acknowledgement."""

    HOLD = 13            # a DONE token
    BATCH = 65536        # bytes gathered before packets are sent

    def __init__(self, sess):
        self.sess = sess
        self.c = sess.c
        self.buf = bytearray()
        self.sent = 0                       # stream bytes already sent
        self.total = 0                      # stream bytes written
        self.marks = collections.deque()    # unit starts at or after sent
        self.sticky = []                    # (offset, tokens) never dropped
        self.attn = False
        self.done = False
        self.silent = sess.cfg.misbehave == 'ignore-attention'

    # -- attention
    def poll(self):
        """True once the client has sent an attention (checked now,
        without blocking, if not seen yet)."""
        if not self.attn and not self.done and self.c.attention_pending():
            self.attn = True
            log('connection %d: attention received' % self.sess.spid)
        return self.attn

    def check(self):
        if self.attn:
            raise Attention()

    # -- writing
    def token(self, data, sticky=False):
        """Complete tokens.  sticky: they reach the client even if the
        request is cancelled before they are sent (transaction ENVCHANGEs:
        the transaction did change)."""
        self.check()
        if not data:
            return
        self.marks.append(self.total)
        if sticky:
            self.sticky.append((self.total, bytes(data)))
        self._put(data)

    def add_sticky(self, data):
        """Tokens for cancel() only (the request is already stopping)."""
        self.sticky.append((self.total, bytes(data)))

    def begin(self):
        """Start of a token written in pieces."""
        self.check()
        self.marks.append(self.total)

    def piece(self, data):
        self._put(data)

    def _put(self, data):
        self.buf += data
        self.total += len(data)
        if len(self.buf) >= self.BATCH + self.HOLD:
            self._flush(self.HOLD)

    def _flush(self, hold):
        room = self.c.packet_size - 8
        n = (len(self.buf) - hold) // room * room
        if n <= 0:
            return
        self._send(n, False)
        self.poll()

    def _send(self, n, eom):
        self.c.tr.sendall(self.c.packets(PKT_REPLY, memoryview(self.buf)[:n],
                                         eom))
        del self.buf[:n]
        self.sent += n
        while self.marks and self.marks[0] < self.sent:
            self.marks.popleft()
        self.sticky = [(o, t) for o, t in self.sticky if o >= self.sent]

    def flush_all(self):
        """Sends everything written so far (packets without EOM): progress
        messages the client sees while the statement goes on."""
        if self.buf:
            self._send(len(self.buf), False)
        self.poll()

    def finish(self):
        """End of the request: the rest, the last packet with EOM; or the
        attention acknowledgement if the client asked to stop."""
        if self.done:
            return
        if self.poll():
            self.cancel(complete=True)
            return
        self._send(len(self.buf), True)
        self.done = True

    def cancel(self, complete=False):
        """Ends the message after an attention (see the class comment).
        complete: the answer was produced in full (its final DONE is the
        last 13 bytes of buf)."""
        if self.done:
            return
        self.done = True
        if self.silent:
            # --misbehave ignore-attention: the request stops and nothing
            # more is sent, not even the end of the message
            log('connection %d: attention ignored (misbehave)' %
                  self.sess.spid)
            self.buf.clear()
            return
        keep = (self.marks[0] if self.marks else self.total) - self.sent
        kept_end = self.sent + keep
        whole = complete and keep == self.total - self.sent
        del self.buf[keep:]
        for off, toks in self.sticky:
            if off >= kept_end:
                self.buf += toks
        # The answer's message ends first, at a token boundary, even when
        # nothing of it was sent yet (a WAITFOR): SQL Server always ends the
        # cancelled response as a message of its own, and clients (tedious)
        # read that message before they look for the acknowledgement.
        if not whole:
            self.buf += tok_done(DONE_ERROR)
        self._send(len(self.buf), True)
        self.buf += tok_done(DONE_ATTN)
        log('connection %d: attention acknowledged (%d bytes of the '
              'answer sent)' % (self.sess.spid, kept_end))
        self._send(len(self.buf), True)


# ------------------------------------------------------------------ rows

class LazyPLP:
    """A PLP value sent in chunks straight from its source (bytes held once
    by SQLite's copy, or a BigValue generated on the fly)."""

    def __init__(self, src, even=False):
        self.src = src       # BigValue or bytes-like
        self.even = even     # UTF-16: chunks of whole code units

    def write(self, w):
        src = self.src
        if isinstance(src, BigValue):
            total = src.total
            get = src.chunk
        else:
            mv = memoryview(src)
            total = len(mv)

            def get(off, n):
                return mv[off:off + n]
        unknown = plp_unknown_length
        w.piece(struct.pack('<Q', PLP_UNKNOWN if unknown else total))
        off = 0
        for n in plp_chunk_sizes(total, self.even):
            if unknown and w.attn:
                break        # with an unknown length the value may end here
            w.piece(struct.pack('<I', n))
            w.piece(get(off, n))
            off += n
        w.piece(b'\x00\x00\x00\x00')


def _part(col, v):
    """A value's bytes in a row, or a LazyPLP for large PLP values."""
    if isinstance(v, BigValue):
        if col.size < 0:
            return LazyPLP(v, col.kind in ('nvarchar', 'nchar'))
        v = v.python_value() if col.kind not in ('binary', 'varbinary') \
            else v.materialize()
    if (col.size < 0 and col.kind == 'varbinary' and isinstance(v, bytes)
            and len(v) > 65536):
        return LazyPLP(v)
    return col.encode(v)


def write_rows(w, cols, rows):
    """COLMETADATA and ROW/NBCROW tokens.  Every row is encoded before the
    first is sent, so that a conversion error (ConvError) leaves nothing
    sent; large PLP values are not encoded but streamed by LazyPLP."""
    encoded = []
    for row in rows:
        parts = [_part(c, v) for c, v in zip(cols, row)]
        nulls = [v is None for v in row]
        tok = bytes([TOK_ROW])
        if any(nulls):
            bitmap = bytearray((len(cols) + 7) // 8)
            for i, isnull in enumerate(nulls):
                if isnull:
                    bitmap[i // 8] |= 1 << (i % 8)
            # NBCROW when not longer than ROW (as encode_row decides)
            if len(bitmap) <= sum(len(p) for p, n in zip(parts, nulls) if n):
                tok = bytes([TOK_NBCROW]) + bytes(bitmap)
                parts = [p for p, n in zip(parts, nulls) if not n]
        encoded.append((tok, parts))
    w.token(coltypes.colmetadata(cols))
    for tok, parts in encoded:
        if all(isinstance(p, (bytes, bytearray)) for p in parts):
            w.token(tok + b''.join(parts))
            continue
        w.begin()
        w.piece(tok)
        for p in parts:
            if isinstance(p, LazyPLP):
                p.write(w)
            else:
                w.piece(p)


# ------------------------------------------------------------------ WAITFOR

def waitfor(w, seconds):
    """Sleeps, noticing an attention within 10 ms (the transports differ;
    polling through Response.poll works for all of them)."""
    end = time.monotonic() + seconds
    while True:
        if w.poll():
            raise Attention()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.01))
