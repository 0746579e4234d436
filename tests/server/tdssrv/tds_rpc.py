"""RPC requests for tdsserver.py (MS-TDS 2.2.6.6): decoding parameters
(TYPE_INFO and values of every type tdsclient sends), sp_executesql,
sp_prepare / sp_execute / sp_unprepare, and a few built-in test
procedures; answers with RETURNSTATUS, RETURNVALUE and DONEPROC.

Part of the tdssrv package; `handle(session, payload)` is the entry
point.  Standard library only."""

import datetime
import decimal
import re
import struct
import uuid

from . import tds_expr
from .coltypes import (Column, ConvError, TICKS_PER_DAY, TICKS_PER_SEC,
                       colmetadata, dec_len, encode_row, time_len)
from .log import log
from .sqldb import SQLiteError
from .translate import split_statements, strip_comments, translate
from .wire import (DONE_COUNT, DONE_ERROR, DONE_MORE, TOK_DONE, TOK_ERROR,
                   b_varchar, skip_all_headers, tok_done)


TOK_RETURNSTATUS = 0x79
TOK_RETURNVALUE = 0xAC
TOK_DONEPROC = 0xFE
TOK_DONEINPROC = 0xFF

PROC_IDS = {10: 'sp_executesql', 11: 'sp_prepare', 12: 'sp_execute',
            13: 'sp_prepexec', 15: 'sp_unprepare'}

EPOCH = datetime.date(1, 1, 1)
EPOCH_1900 = datetime.date(1900, 1, 1)


class BadRequest(Exception):
    pass


class Param:
    def __init__(self, name, status, col, value):
        self.name = name          # '@x' or '' (positional)
        self.status = status      # 0x01 = by reference (OUTPUT)
        self.col = col            # tdsserver Column describing the type
        self.value = value        # Python value (None = NULL)
        self.ti = b''             # TYPE_INFO bytes as received
        self.raw = None           # character types: the bytes received

    @property
    def output(self):
        return bool(self.status & 1)


class Reader:
    def __init__(self, data, off=0):
        self.d = data
        self.mv = memoryview(data)
        self.o = off

    def take(self, n):
        if self.o + n > len(self.d):
            raise BadRequest('RPC request truncated')
        b = bytes(self.mv[self.o:self.o + n])
        self.o += n
        return b

    def view(self, n):
        """Like take, without a copy (PLP chunks of large values)."""
        if self.o + n > len(self.d):
            raise BadRequest('RPC request truncated')
        b = self.mv[self.o:self.o + n]
        self.o += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack('<H', self.take(2))[0]

    def u32(self):
        return struct.unpack('<I', self.take(4))[0]

    def u64(self):
        return struct.unpack('<Q', self.take(8))[0]

    def left(self):
        return len(self.d) - self.o


def fmt_time(ticks, scale=7):
    h, rem = divmod(ticks, 3600 * TICKS_PER_SEC)
    m, rem = divmod(rem, 60 * TICKS_PER_SEC)
    s, frac = divmod(rem, TICKS_PER_SEC)
    t = '%02d:%02d:%02d' % (h, m, s)
    if scale:
        t += '.' + ('%07d' % frac)[:scale]
    return t


def read_typeinfo(r):
    """TYPE_INFO -> (Column, decoder kind)."""
    start = r.o
    t = r.u8()
    C = Column
    if t == 0x68:
        r.u8()
        col = C('', 'bit', True, 1)
    elif t == 0x26:
        col = C('', 'int', True, r.u8())
    elif t == 0x6D:
        col = C('', 'float', True, r.u8())
    elif t == 0x6E:
        col = C('', 'money', True, r.u8())
    elif t in (0x6A, 0x6C):
        r.u8()
        p, s = r.u8(), r.u8()
        col = C('', 'decimal' if t == 0x6A else 'numeric', True,
                dec_len(p), p, s)
    elif t in (0xA7, 0xAF, 0xE7, 0xEF):
        n = r.u16()
        r.take(5)
        kind = {0xA7: 'varchar', 0xAF: 'char', 0xE7: 'nvarchar',
                0xEF: 'nchar'}[t]
        col = C('', kind, True, -1 if n == 0xFFFF else n)
    elif t in (0xA5, 0xAD):
        n = r.u16()
        col = C('', 'varbinary' if t == 0xA5 else 'binary', True,
                -1 if n == 0xFFFF else n)
    elif t == 0x24:
        r.u8()
        col = C('', 'guid', True, 16)
    elif t == 0x28:
        col = C('', 'date', True, 3)
    elif t in (0x29, 0x2A, 0x2B):
        kind = {0x29: 'time', 0x2A: 'datetime2', 0x2B: 'datetimeoffset'}[t]
        col = C('', kind, True, 0, 0, r.u8())
    elif t == 0x6F:
        col = C('', 'datetime', True, r.u8())
    elif t == 0xF1:
        if r.u8():
            raise BadRequest('XML schema collections are not supported')
        col = C('', 'nvarchar', True, -1)
        col.xml = True
    elif t == 0x62:
        r.u32()
        col = C('', 'nvarchar', True, 8000)
        col.variant = True
    else:
        raise BadRequest('parameter type 0x%02X is not supported' % t)
    return col, r.d[start:r.o]


def read_plp(r):
    """A PLP value (2.2.5.2.3): known total or PLP_UNKNOWN_LEN, chunks of
    any size (the message was joined from its packets first, so chunks
    that cross packet boundaries are whole here).  The chunks are views of
    the message and joined once: linear in the value's size."""
    total = r.u64()
    if total == 0xFFFFFFFFFFFFFFFF:
        return None
    parts = []
    while True:
        n = r.u32()
        if n == 0:
            break
        parts.append(r.view(n))
    data = b''.join(parts)
    del parts
    if total != 0xFFFFFFFFFFFFFFFE and total != len(data):
        raise BadRequest('PLP value of %d bytes announced as %d'
                         % (len(data), total))
    return data


def read_value(r, col, p=None):
    """A parameter's value; p (the Param) gets the raw bytes of
    character values, for DATALENGTH and HASHBYTES."""
    k = col.kind
    if getattr(col, 'variant', False):
        n = r.u32()
        if n:
            raise BadRequest('non-NULL sql_variant parameters are not '
                             'supported')
        return None
    if k in ('char', 'varchar', 'nchar', 'nvarchar', 'binary', 'varbinary'):
        if col.size < 0:
            b = read_plp(r)
        else:
            n = r.u16()
            b = None if n == 0xFFFF else r.take(n)
        if b is None:
            return None
        if p is not None and k in ('char', 'varchar', 'nchar', 'nvarchar'):
            p.raw = b
        if k in ('char', 'varchar'):
            return b.decode('cp1252', 'replace')
        if k in ('nchar', 'nvarchar'):
            return b.decode('utf-16-le', 'replace')
        return b
    n = r.u8()
    if n == 0:
        return None
    b = r.take(n)
    if k == 'bit':
        return b[0]
    if k == 'int':
        return int.from_bytes(b, 'little', signed=True if n > 1 else False)
    if k == 'float':
        return struct.unpack('<f' if n == 4 else '<d', b)[0]
    if k == 'money':
        if n == 4:
            v = struct.unpack('<i', b)[0]
        else:
            hi, lo = struct.unpack('<iI', b)
            v = (hi << 32) | lo
        return decimal.Decimal(v).scaleb(-4)
    if k in ('decimal', 'numeric'):
        v = int.from_bytes(b[1:], 'little')
        return decimal.Decimal(v if b[0] else -v).scaleb(-col.scale)
    if k == 'guid':
        return str(uuid.UUID(bytes_le=b)).upper()
    if k == 'date':
        return (EPOCH + datetime.timedelta(days=int.from_bytes(b, 'little'))
                ).isoformat()
    if k in ('time', 'datetime2', 'datetimeoffset'):
        tl = time_len(col.scale)
        ticks = int.from_bytes(b[:tl], 'little') * 10 ** (7 - col.scale)
        if k == 'time':
            return fmt_time(ticks, col.scale)
        days = int.from_bytes(b[tl:tl + 3], 'little')
        if k == 'datetimeoffset':
            off = struct.unpack('<h', b[tl + 3:tl + 5])[0]
            total = days * TICKS_PER_DAY + ticks + off * 60 * TICKS_PER_SEC
            days, ticks = divmod(total, TICKS_PER_DAY)
        d = (EPOCH + datetime.timedelta(days=days)).isoformat()
        s = d + ' ' + fmt_time(ticks, col.scale)
        if k == 'datetimeoffset':
            s += ' %s%02d:%02d' % ('-' if off < 0 else '+',
                                   abs(off) // 60, abs(off) % 60)
        return s
    if k == 'datetime':
        if n == 4:
            days, mins = struct.unpack('<HH', b)
            d = EPOCH_1900 + datetime.timedelta(days=days)
            return '%s %02d:%02d:00' % (d.isoformat(), mins // 60, mins % 60)
        days, t300 = struct.unpack('<iI', b)
        d = EPOCH_1900 + datetime.timedelta(days=days)
        ms = (t300 * 10 + 1) // 3   # 1/300 s to ms, as SQL Server shows it
        s, ms = divmod(ms, 1000)
        return '%s %02d:%02d:%02d.%03d' % (d.isoformat(), s // 3600,
                                           s // 60 % 60, s % 60, ms)
    raise BadRequest('cannot decode %s' % k)


def parse_request(payload):
    """Returns (procedure name, [Param]); raises BadRequest."""
    r = Reader(payload, skip_all_headers(payload))
    n = r.u16()
    if n == 0xFFFF:
        pid = r.u16()
        proc = PROC_IDS.get(pid, 'procid %d' % pid)
    else:
        proc = r.take(2 * n).decode('utf-16-le')
    r.u16()   # option flags
    params = []
    while r.left() > 0:
        if r.d[r.o] in (0x80, 0xFF):     # batch separators: one RPC only
            break
        name = r.take(2 * r.u8()).decode('utf-16-le')
        status = r.u8()
        col, ti = read_typeinfo(r)
        p = Param(name, status, col, None)
        p.value = read_value(r, col, p)
        p.ti = ti
        params.append(p)
    return proc, params


def retval(ordinal, p, value):
    """RETURNVALUE (2.2.7.19): the parameter with its TYPE_INFO as sent."""
    if getattr(p.col, 'variant', False):
        data = b'\x00\x00\x00\x00'     # NULL variant
    else:
        data = p.col.encode(value)
    return (bytes([TOK_RETURNVALUE]) + struct.pack('<H', ordinal) +
            b_varchar(p.name) + b'\x01' + struct.pack('<IH', 0, 0x0009) +
            p.ti + data)


def tail(status, params, values, error=False):
    """RETURNSTATUS, the OUTPUT parameters, DONEPROC."""
    out = [bytes([TOK_RETURNSTATUS]) + struct.pack('<i', status)]
    for i, p in enumerate(params):
        if p.output:
            out.append(retval(i, p, values.get(p.name.lower(), p.value)))
    out.append(tok_done(DONE_ERROR if error else 0, 0, 0, TOK_DONEPROC))
    return b''.join(out)


def sql_value(v):
    """A parameter's value as SQLite binds it."""
    if isinstance(v, decimal.Decimal):
        return str(v)
    return v


_SET_RE = re.compile(r'set\s+(@\w+)\s*=\s*(.*)$', re.I | re.S)


def run_sql(sess, text, params):
    """sp_executesql / sp_execute: the statements with the parameters
    bound (SQLite understands @name itself); SET @x = expr assigns;
    DATALENGTH(@p) and HASHBYTES('alg', @p) are computed from the bytes
    received (tds_expr).  The statements' answers go to sess.w as they come
    (rows are streamed); returns (b'', values, error)."""
    named = [p for p in params if p.name]
    values = {p.name.lower(): p.value for p in named}
    types = {p.name.lower(): p.col for p in named}
    pobjs = {p.name.lower(): p for p in named}
    error = False
    stmts = split_statements(text)
    # SET NOCOUNT inside lasts until the procedure returns, as in SQL Server
    saved_nocount = sess.nocount
    try:
        error = _run_statements(sess, stmts, values, types, pobjs)
    finally:
        sess.nocount = saved_nocount
    return b'', values, error


def _run_statements(sess, stmts, values, types, pobjs):
    error = False
    for stmt, line in stmts:
        body = strip_comments(stmt).strip()
        bind = dict((k, sql_value(v)) for k, v in values.items())
        m = _SET_RE.match(body)
        if m:
            try:
                rw = tds_expr.rewrite(m.group(2), pobjs)
                bind.update(rw.binds)
                _, rows, _, _ = sess.db.execute(
                    'SELECT ' + translate(rw.sql, sess.consts()), bind)
            except tds_expr.ExprError as e:
                sess.w.token(sess.err(*e.args, line=line) + tok_done(
                    DONE_ERROR | DONE_MORE, 0, 0, TOK_DONEINPROC))
                error = True
                continue
            except SQLiteError as e:
                sess.done_tok = TOK_DONEINPROC
                try:
                    sess.w.token(sess.sql_error(str(e), line, DONE_MORE))
                finally:
                    sess.done_tok = TOK_DONE
                error = True
                continue
            name = m.group(1).lower()
            values[name] = rows[0][0] if rows else None
            if name in pobjs:
                pobjs[name].value, pobjs[name].raw = values[name], None
            sess.w.token(tok_done(DONE_MORE, 0, 0, TOK_DONEINPROC))
            continue
        sess.done_tok = TOK_DONEINPROC
        try:
            res = sess.statement(body, line, DONE_MORE, params=bind,
                                 ptypes=types, rpc_params=pobjs)
        finally:
            sess.done_tok = TOK_DONE
        error = error or bool(res and DONE_ERROR_IN(res))
        sess.w.token(res)
    return error


def DONE_ERROR_IN(tokens):
    return tokens[:1] == bytes([TOK_ERROR])


# Built-in procedures: name -> (parameter names, function(sess, args))
# returning (tokens, return status, {output name: value}).

def proc_add(sess, a):
    x, y = a.get('@a'), a.get('@b')
    cols = [Column('a', 'int', True, 4), Column('b', 'int', True, 4)]
    rows = colmetadata(cols) + encode_row(cols, [x, y])
    s = None if x is None or y is None else x + y
    return (rows + tok_done(DONE_COUNT | DONE_MORE, 0xC1, 1,
                              TOK_DONEINPROC), 0, {'@sum': s})


def proc_status(sess, a):
    return b'', a.get('@code') or 0, {}


def proc_fail(sess, a):
    return (sess.err(50000, 16, 'tdsc_fail was called') +
            tok_done(DONE_ERROR | DONE_MORE, 0, 0, TOK_DONEINPROC),
            -6, {})


PROCS = {
    'tdsc_add': (['@a', '@b', '@sum'], proc_add),
    'tdsc_status': (['@code'], proc_status),
    'tdsc_fail': ([], proc_fail),
}


def proc_echo(sess, params):
    """tdsc_echo: one row of every parameter, typed as sent; each OUTPUT
    parameter comes back unchanged."""
    cols = []
    for i, p in enumerate(params):
        c = Column(p.name[1:] if p.name else 'p%d' % (i + 1), p.col.kind,
                     True, p.col.size, p.col.prec, p.col.scale)
        cols.append(c)
    if not cols:
        return b''
    return (colmetadata(cols) + encode_row(cols, [p.value for p in params])
            + tok_done(DONE_COUNT | DONE_MORE, 0xC1, 1, TOK_DONEINPROC))


def handle(sess, payload):
    try:
        proc, params = parse_request(payload)
    except BadRequest as e:
        return (sess.err(8009, 16, 'The incoming RPC request is incorrect: %s'
                         % e) + tok_done(DONE_ERROR, 0, 0, TOK_DONEPROC))
    log('connection %d rpc %s with %d parameter(s)' % (
        sess.spid, proc, len(params)))
    low = proc.lower().split('.')[-1].strip('[]')
    if not hasattr(sess, 'prepared'):
        sess.prepared = {}
        sess.next_handle = 1
    try:
        if low == 'sp_executesql':
            if not params:
                raise BadRequest('sp_executesql needs @stmt')
            body, values, err = run_sql(sess, params[0].value or '',
                                        params[2:])
            return body + tail(0, params, values, err)
        if low == 'sp_prepare':
            h = sess.next_handle
            sess.next_handle += 1
            sess.prepared[h] = (params[2].value, params[1].value)
            return tail(0, params, {params[0].name.lower(): h})
        if low == 'sp_prepexec':
            # sp_prepare and sp_execute in one (ODBC and JDBC send it):
            # @handle OUTPUT, @params, @stmt, then the values
            h = sess.next_handle
            sess.next_handle += 1
            sess.prepared[h] = (params[2].value, params[1].value)
            body, values, err = run_sql(sess, params[2].value or '',
                                        params[3:])
            values[params[0].name.lower()] = h
            return body + tail(0, params, values, err)
        if low == 'sp_execute':
            h = params[0].value if params else None
            if h not in sess.prepared:
                return (sess.err(8179, 16, 'Could not find prepared statement '
                                 'with handle %s.' % h) +
                        tok_done(DONE_ERROR, 0, 0, TOK_DONEPROC))
            body, values, err = run_sql(sess, sess.prepared[h][0], params[1:])
            return body + tail(0, params, values, err)
        if low == 'sp_unprepare':
            sess.prepared.pop(params[0].value if params else None, None)
            return tail(0, [], {})
        if low == 'tdsc_echo':
            return proc_echo(sess, params) + tail(0, params, {})
        if low in PROCS:
            names, fn = PROCS[low]
            args = {}
            for i, p in enumerate(params):
                if not p.name and i < len(names):
                    p.name = names[i]
                args[p.name.lower()] = p.value
            body, status, outs = fn(sess, args)
            return body + tail(status, params, outs,
                               DONE_ERROR_IN(body))
    except (IndexError, BadRequest, ConvError) as e:
        import traceback
        log('rpc %s failed: %s' % (proc, traceback.format_exc()))
        return (sess.err(8144, 16, 'Procedure or function %s: %s' % (proc, e))
                + tok_done(DONE_ERROR, 0, 0, TOK_DONEPROC))
    return (sess.err(2812, 16, "Could not find stored procedure '%s'." % proc)
            + tok_done(DONE_ERROR, 0, 0, TOK_DONEPROC))
