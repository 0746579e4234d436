#!/usr/bin/env python3
"""tdsserver.py -- a small TDS 7.4 / 8.0 server backed by SQLite.

Test server for tdsclient (see tests/server/README.md).  Standard library
only; SQLite is driven through ctypes (libsqlite3.so.0) so that the declared
types of result columns are visible.

Usage (see README.md for every option):
  tdsserver.py --host 127.0.0.1 --port 0 --db FILE.sqlite \
      --init tests/server/sample.sql --user sa:secret --cert server.pem \
      --key server.key
Prints "READY <port>" on stdout once listening.

Integrated (Kerberos/SPNEGO, NTLM) logins need python3-gssapi, imported only
when --keytab or --ntlm-users is given; NTLM also needs gss-ntlmssp.

Its modules, same folder: tds_stream.py (answers streamed packet by packet,
attention, PLP chunks, WAITFOR), tds_expr.py (large values, DATALENGTH,
HASHBYTES, CONVERT, SQLite functions), tds_xact.py (transactions, TM
requests, the descriptor check), tds_rpc.py (RPC requests).
"""

import argparse
import array
import ctypes
import datetime
import decimal
import faulthandler
import fcntl
import itertools
import mmap
import os
import platform
import re
import select
import signal
import socket
import sqlite3
import ssl
import struct
import sys
import threading
import time
import uuid

# the server's own modules (same folder): streaming answers and attention,
# T-SQL expressions, transactions; each gets S = this module in main()
import tds_expr
import tds_stream
import tds_xact
import tds_liar  # HOOK(tds_liar): --lie MODE, the lying server

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

# SQLite C API constants
SQLITE_OK = 0
SQLITE_INTERRUPT = 9
SQLITE_ROW = 100
SQLITE_DONE = 101
SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL = 1, 2, 3, 4, 5
SQLITE_OPEN_READWRITE = 0x02
SQLITE_OPEN_CREATE = 0x04
SQLITE_OPEN_FULLMUTEX = 0x10000

MISBEHAVE_MODES = ('close-after-prelogin', 'reset-after-prelogin',
                   'hang-after-prelogin', 'stall-after-login',
                   'ignore-attention',
                   'garbage-prelogin', 'bad-token', 'tds73', 'truncated-row',
                   'bad-encryption', 'wrong-packet-type', 'route',
                   'no-loginack', 'bad-packet-size',
                   'checkdb-fails', 'shrink-fails', 'backup-fails')

TICKS_PER_SEC = 10 ** 7
TICKS_PER_DAY = 86400 * TICKS_PER_SEC

# ------------------------------------------------------------------- logging

_log_lock = threading.Lock()
_log_file = None


def log(msg):
    if _log_file is None:
        return
    with _log_lock:
        _log_file.write('%s [%s] %s\n' % (
            time.strftime('%H:%M:%S'), threading.current_thread().name, msg))
        _log_file.flush()


# ------------------------------------------------------------------ sqlite

class SQLiteLib:
    """The few libsqlite3 entry points we need, typed for ctypes."""

    def __init__(self):
        lib = ctypes.CDLL('libsqlite3.so.0')
        vp, ip, cp = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p

        def f(name, res, *args):
            fn = getattr(lib, name)
            fn.restype = res
            fn.argtypes = list(args)
            setattr(self, name[len('sqlite3_'):], fn)
        f('sqlite3_open_v2', ip, cp, ctypes.POINTER(vp), ip, cp)
        f('sqlite3_close_v2', ip, vp)
        f('sqlite3_busy_timeout', ip, vp, ip)
        f('sqlite3_prepare_v2', ip, vp, vp, ip, ctypes.POINTER(vp),
          ctypes.POINTER(vp))
        f('sqlite3_step', ip, vp)
        f('sqlite3_finalize', ip, vp)
        f('sqlite3_column_count', ip, vp)
        f('sqlite3_column_type', ip, vp, ip)
        f('sqlite3_column_int64', ctypes.c_int64, vp, ip)
        f('sqlite3_column_double', ctypes.c_double, vp, ip)
        f('sqlite3_column_text', vp, vp, ip)
        f('sqlite3_column_blob', vp, vp, ip)
        f('sqlite3_column_bytes', ip, vp, ip)
        f('sqlite3_column_decltype', cp, vp, ip)
        f('sqlite3_column_name', cp, vp, ip)
        f('sqlite3_changes', ip, vp)
        f('sqlite3_errmsg', cp, vp)
        f('sqlite3_stmt_readonly', ip, vp)
        f('sqlite3_get_autocommit', ip, vp)
        f('sqlite3_progress_handler', None, vp, ip, PROGRESS_FUNC, vp)
        self.raw = lib
        # parameters of RPC requests (tds_rpc.py)
        f('sqlite3_bind_parameter_index', ip, vp, cp)
        f('sqlite3_bind_int64', ip, vp, ip, ctypes.c_int64)
        f('sqlite3_bind_double', ip, vp, ip, ctypes.c_double)
        f('sqlite3_bind_text', ip, vp, ip, cp, ip, vp)
        f('sqlite3_bind_blob', ip, vp, ip, cp, ip, vp)
        try:
            f('sqlite3_column_table_name', cp, vp, ip)
            f('sqlite3_column_origin_name', cp, vp, ip)
            f('sqlite3_column_database_name', cp, vp, ip)
            f('sqlite3_table_column_metadata', ip, vp, cp, cp, cp,
              ctypes.POINTER(cp), ctypes.POINTER(cp), ctypes.POINTER(ip),
              ctypes.POINTER(ip), ctypes.POINTER(ip))
            self.has_metadata = True
        except AttributeError:
            self.has_metadata = False


_sqlite = None
PROGRESS_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
# SQLite VM instructions between two checks for an attention while a
# statement runs (about a millisecond)
PROGRESS_STEPS = 50000


def sqlite_autocommit(db):
    """True when SQLite has no transaction open on this connection."""
    return bool(db.lib.get_autocommit(db.db))


class SQLiteError(Exception):
    pass


class SQLiteDB:
    def __init__(self, path):
        self.lib = _sqlite
        self.db = ctypes.c_void_p()
        rc = self.lib.open_v2(path.encode(), ctypes.byref(self.db),
                              SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                              SQLITE_OPEN_FULLMUTEX, None)
        if rc != SQLITE_OK:
            raise SQLiteError('cannot open %s' % path)
        self.lib.busy_timeout(self.db, 5000)
        tds_expr.register_functions(self.lib.raw, self.db)
        # watch() -> True stops the running statement (an attention came);
        # set by the session.  An exception it raises is kept and raised
        # again after SQLite has stopped (nothing may cross the C frames).
        self.watch = None
        self.stop_exc = None
        self._progress = PROGRESS_FUNC(self._on_progress)
        self.lib.progress_handler(self.db, PROGRESS_STEPS, self._progress,
                                  None)

    def _on_progress(self, _arg):
        if self.watch is None:
            return 0
        try:
            return 1 if self.watch() else 0
        except BaseException as e:      # noqa: BLE001 -- raised later
            self.stop_exc = e
            return 1

    def _stopped(self, rc):
        """After SQLITE_INTERRUPT: what made the progress handler stop."""
        if rc == SQLITE_INTERRUPT:
            e, self.stop_exc = self.stop_exc, None
            raise e if e is not None else tds_stream.Attention()

    def close(self):
        if self.db:
            self.lib.close_v2(self.db)
            self.db = None

    def errmsg(self):
        return (self.lib.errmsg(self.db) or b'').decode('utf-8', 'replace')

    def bind(self, stmt, params):
        """Binds {'@name': value} to the statement's @name parameters
        (SQLite's own syntax); names the statement lacks are ignored."""
        lib = self.lib
        transient = ctypes.c_void_p(-1)   # SQLITE_TRANSIENT: SQLite copies
        for name, v in params.items():
            i = lib.bind_parameter_index(stmt, name.encode())
            if not i:
                continue
            if v is None:
                continue                  # unbound parameters are NULL
            if isinstance(v, bool) or isinstance(v, int):
                rc = lib.bind_int64(stmt, i, int(v))
            elif isinstance(v, float):
                rc = lib.bind_double(stmt, i, v)
            elif isinstance(v, (bytes, bytearray)):
                rc = lib.bind_blob(stmt, i, bytes(v), len(v), transient)
            else:
                b = str(v).encode('utf-8')
                rc = lib.bind_text(stmt, i, b, len(b), transient)
            if rc != SQLITE_OK:
                # SQLITE_TOOBIG (18) beyond SQLite's 1e9 bytes
                raise SQLiteError('cannot bind %s: SQLite error %d' % (
                    name, rc))

    def execute(self, sql, params=None):
        """Run one statement.  Returns (columns, rows, changes, is_query)
        where columns = [(name, decltype, notnull)] and rows are lists of
        Python values (int, float, str, bytes, None)."""
        lib = self.lib
        data = sql.encode('utf-8')
        buf = ctypes.create_string_buffer(data)
        stmt = ctypes.c_void_p()
        tail = ctypes.c_void_p()
        rc = lib.prepare_v2(self.db, ctypes.cast(buf, ctypes.c_void_p),
                            len(data) + 1, ctypes.byref(stmt),
                            ctypes.byref(tail))
        if rc != SQLITE_OK:
            self._stopped(rc)
            raise SQLiteError(self.errmsg())
        if not stmt:
            return [], [], 0, False
        try:
            if params:
                self.bind(stmt, params)
            ncol = lib.column_count(stmt)
            cols = []
            for i in range(ncol):
                name = (lib.column_name(stmt, i) or b'').decode('utf-8', 'replace')
                decl = lib.column_decltype(stmt, i)
                decl = decl.decode() if decl else None
                notnull = False
                if lib.has_metadata and decl:
                    tbl = lib.column_table_name(stmt, i)
                    org = lib.column_origin_name(stmt, i)
                    dbn = lib.column_database_name(stmt, i)
                    if tbl and org:
                        nn = ctypes.c_int(0)
                        pk = ctypes.c_int(0)
                        ai = ctypes.c_int(0)
                        if lib.table_column_metadata(
                                self.db, dbn, tbl, org, None, None,
                                ctypes.byref(nn), ctypes.byref(pk),
                                ctypes.byref(ai)) == SQLITE_OK:
                            notnull = bool(nn.value)
                cols.append((name, decl, notnull))
            rows = []
            while True:
                rc = lib.step(stmt)
                if rc == SQLITE_DONE:
                    break
                if rc != SQLITE_ROW:
                    self._stopped(rc)
                    raise SQLiteError(self.errmsg())
                row = []
                for i in range(ncol):
                    t = lib.column_type(stmt, i)
                    if t == SQLITE_INTEGER:
                        row.append(lib.column_int64(stmt, i))
                    elif t == SQLITE_FLOAT:
                        row.append(lib.column_double(stmt, i))
                    elif t == SQLITE_TEXT:
                        p = lib.column_text(stmt, i)
                        n = lib.column_bytes(stmt, i)
                        row.append(ctypes.string_at(p, n).decode('utf-8', 'replace'))
                    elif t == SQLITE_BLOB:
                        p = lib.column_blob(stmt, i)
                        n = lib.column_bytes(stmt, i)
                        row.append(ctypes.string_at(p, n) if n else b'')
                    else:
                        row.append(None)
                rows.append(row)
            changes = lib.changes(self.db)
            readonly = bool(lib.stmt_readonly(stmt))
            return cols, rows, (0 if readonly else changes), ncol > 0
        finally:
            lib.finalize(stmt)


# ------------------------------------------------------------ T-SQL helpers

def split_statements(text):
    """Split a batch on ';' outside quotes, brackets and comments.
    Returns [(statement_text, line_number)]."""
    out = []
    i, n = 0, len(text)
    start = 0
    while i < n:
        c = text[i]
        if c in '\'"':
            j = i + 1
            while j < n:
                if text[j] == c:
                    if j + 1 < n and text[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            i = j + 1
        elif c == '[':
            j = text.find(']', i + 1)
            i = n if j < 0 else j + 1
        elif text.startswith('--', i):
            j = text.find('\n', i)
            i = n if j < 0 else j + 1
        elif text.startswith('/*', i):
            j = text.find('*/', i + 2)
            i = n if j < 0 else j + 2
        elif c == ';':
            out.append((start, i))
            i += 1
            start = i
        else:
            i += 1
    out.append((start, n))
    res = []
    for s, e in out:
        stmt = text[s:e]
        body = strip_comments(stmt).strip()
        if not body:
            continue
        # line of the first non-blank, non-comment character
        k = s
        while k < e and text[k].isspace():
            k += 1
        res.append((stmt.strip(), text.count('\n', 0, k) + 1))
    return res


def strip_comments(s):
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c in '\'"':
            j = i + 1
            while j < n:
                if s[j] == c:
                    if j + 1 < n and s[j + 1] == c:
                        j += 2
                        continue
                    break
                j += 1
            out.append(s[i:j + 1])
            i = j + 1
        elif s.startswith('--', i):
            j = s.find('\n', i)
            i = n if j < 0 else j
        elif s.startswith('/*', i):
            j = s.find('*/', i + 2)
            i = n if j < 0 else j + 2
            out.append(' ')
        else:
            out.append(c)
            i += 1
    return ''.join(out)


_IDENT = re.compile(r'[A-Za-z0-9_@#$]')
_LOGIN_FN_RE = re.compile(r'(?:(?:suser_s?name|original_login)\s*\(\s*\)'
                          r'|system_user(?![\w@#$]))', re.I)
_NOW_RE = re.compile(r'sysutcdatetime\s*\(\s*\)', re.I)
_EXACT_RE = re.compile(r'(decimal|numeric|dec|money|smallmoney)\b(?!_)', re.I)


def translate(sql, consts=None):
    """Light T-SQL -> SQLite translation: N'..' -> '..', 0xABCD -> X'ABCD',
    (max) -> (2147483647), @@NAME -> its value from consts (e.g. @@VERSION
    inside any expression).  Quoted strings and brackets are left alone."""
    out = []
    i, n = 0, len(sql)
    ddl = bool(re.match(r'\s*(create|alter)\s', strip_comments(sql), re.I))
    while i < n:
        c = sql[i]
        prev = sql[i - 1] if i else ' '
        if c == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'":
                    if j + 1 < n and sql[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
            out.append(sql[i:j + 1])
            i = j + 1
        elif c == '[':
            j = sql.find(']', i + 1)
            j = n - 1 if j < 0 else j
            out.append(sql[i:j + 1])
            i = j + 1
        elif c in 'Nn' and i + 1 < n and sql[i + 1] == "'" and not _IDENT.match(prev):
            i += 1
        elif (c == '0' and i + 1 < n and sql[i + 1] in 'xX'
              and not _IDENT.match(prev)):
            m = re.match(r'0[xX]([0-9A-Fa-f]*)', sql[i:])
            h = m.group(1)
            if len(h) % 2:
                h = '0' + h
            out.append("X'%s'" % h)
            i += m.end()
        elif (ddl and not _IDENT.match(prev) and _EXACT_RE.match(sql, i)
              and re.search(r'[\w\]"`]\s+$', sql[max(0, i - 200):i])):
            # exact numeric column types get TEXT affinity in SQLite
            # ("decimal_text(18,4)"), so stored values stay exact
            m = _EXACT_RE.match(sql, i)
            out.append(m.group(1) + '_text')
            i = m.end()
        elif c == '@' and consts and sql.startswith('@@', i):
            m = re.match(r'@@(\w+)', sql[i:])
            val = consts.get(m.group(1).upper()) if m else None
            if val is None:
                out.append(c)
                i += 1
                continue
            out.append(str(val) if isinstance(val, int)
                       else "'" + str(val).replace("'", "''") + "'")
            i += m.end()
        elif (consts and 'LOGIN' in consts and not _IDENT.match(prev)
              and _LOGIN_FN_RE.match(sql, i)):
            # SUSER_NAME(), SUSER_SNAME(), ORIGINAL_LOGIN(), SYSTEM_USER
            m = _LOGIN_FN_RE.match(sql, i)
            out.append("'" + str(consts['LOGIN']).replace("'", "''") + "'")
            i = m.end()
        elif not _IDENT.match(prev) and _NOW_RE.match(sql, i):
            # SYSUTCDATETIME(): the server's clock as text (tdsc-doctor's
            # clock check; faketime moves it)
            out.append(datetime.datetime.now(datetime.timezone.utc)
                       .strftime("'%Y-%m-%d %H:%M:%S.%f'"))
            i = _NOW_RE.match(sql, i).end()
        elif c == '(' and re.match(r'\(\s*max\s*\)', sql[i:], re.I):
            m = re.match(r'\(\s*max\s*\)', sql[i:], re.I)
            out.append('(2147483647)')
            i += m.end()
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def unquote_sql(s):
    return s.replace("''", "'")


# ------------------------------------------------------------ date parsing

_DT_RE = re.compile(
    r'^\s*(?:(\d{1,4})-(\d{1,2})-(\d{1,2}))?'
    r'(?:[ T]?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{0,9}))?)?)?'
    r'\s*(Z|[+-]\d{1,2}:?\d{2})?\s*$')


def first_group(m, lo, hi):
    """The first group in lo..hi that matched, unquoted ('' when none)."""
    for i in range(lo, hi + 1):
        if m.group(i) is not None:
            return unquote_sql(m.group(i))
    return ''


def parse_datetime(s):
    """Returns (days since 0001-01-01 or None, ticks of 100ns or None,
    offset minutes or None)."""
    m = _DT_RE.match(s)
    if not m or (m.group(1) is None and m.group(4) is None):
        raise ValueError('cannot parse date/time %r' % s)
    days = ticks = off = None
    if m.group(1) is not None:
        d = datetime.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        days = d.toordinal() - 1
    if m.group(4) is not None:
        hh, mm = int(m.group(4)), int(m.group(5))
        ss = int(m.group(6) or 0)
        frac = (m.group(7) or '')[:7].ljust(7, '0')
        if hh > 23 or mm > 59 or ss > 59:
            raise ValueError('bad time %r' % s)
        ticks = ((hh * 60 + mm) * 60 + ss) * TICKS_PER_SEC + int(frac)
    if m.group(8):
        z = m.group(8)
        if z == 'Z':
            off = 0
        else:
            sign = -1 if z[0] == '-' else 1
            digits = z[1:].replace(':', '')
            off = sign * (int(digits[:-2]) * 60 + int(digits[-2:]))
    return days, ticks, off


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


# --------------------------------------------------------------- type system

class ConvError(Exception):
    pass


def time_len(scale):
    return 3 if scale <= 2 else 4 if scale <= 4 else 5


def dec_len(prec):
    return 5 if prec <= 9 else 9 if prec <= 19 else 13 if prec <= 28 else 17


class Column:
    """One result column: how to describe it and how to encode values."""

    def __init__(self, name, kind, nullable=True, size=0, prec=0, scale=0):
        self.name = name
        self.kind = kind          # see encode()
        self.nullable = nullable
        self.size = size          # bytes for fixed/var types; -1 = max (PLP)
        self.prec = prec
        self.scale = scale

    # -- metadata
    def typeinfo(self):
        k = self.kind
        if k == 'bit':
            return bytes([0x68, 1])
        if k == 'int':
            return bytes([0x26, self.size])
        if k == 'float':
            return bytes([0x6D, self.size])
        if k == 'money':
            return bytes([0x6E, self.size])
        if k in ('decimal', 'numeric'):
            return bytes([0x6A if k == 'decimal' else 0x6C,
                          dec_len(self.prec), self.prec, self.scale])
        if k in ('char', 'varchar'):
            t = 0xAF if k == 'char' else 0xA7
            return struct.pack('<BH', t, 0xFFFF if self.size < 0 else self.size) + COLLATION
        if k in ('nchar', 'nvarchar'):
            t = 0xEF if k == 'nchar' else 0xE7
            return struct.pack('<BH', t, 0xFFFF if self.size < 0 else self.size) + COLLATION
        if k in ('binary', 'varbinary'):
            t = 0xAD if k == 'binary' else 0xA5
            return struct.pack('<BH', t, 0xFFFF if self.size < 0 else self.size)
        if k in ('text', 'ntext'):
            t = 0x23 if k == 'text' else 0x63
            return struct.pack('<BI', t, 0x7FFFFFFF) + COLLATION + b'\x00'
        if k == 'image':
            return struct.pack('<BI', 0x22, 0x7FFFFFFF) + b'\x00'
        if k == 'guid':
            return bytes([0x24, 16])
        if k == 'date':
            return bytes([0x28])
        if k == 'time':
            return bytes([0x29, self.scale])
        if k == 'datetime2':
            return bytes([0x2A, self.scale])
        if k == 'datetimeoffset':
            return bytes([0x2B, self.scale])
        if k == 'datetime':
            return bytes([0x6F, self.size])
        raise AssertionError(k)

    def metadata(self):
        flags = 0x0008 | (0x0001 if self.nullable else 0)
        return (struct.pack('<IH', 0, flags) + self.typeinfo() +
                b_varchar(self.name))

    # -- values
    def null(self):
        k = self.kind
        if self.size < 0 and k in ('varchar', 'nvarchar', 'varbinary'):
            return b'\xff' * 8
        if k in ('char', 'varchar', 'nchar', 'nvarchar', 'binary', 'varbinary'):
            return b'\xff\xff'
        return b'\x00'   # 1-byte length 0 (also textptr length 0)

    def encode(self, v):
        if v is None:
            return self.null()
        k = self.kind
        try:
            if k == 'bit':
                return bytes([1, 1 if as_int(v) else 0])
            if k == 'int':
                iv = as_int(v)
                if self.size == 1:
                    return bytes([1]) + struct.pack('<B', iv)
                fmt = {2: '<h', 4: '<i', 8: '<q'}[self.size]
                return bytes([self.size]) + struct.pack(fmt, iv)
            if k == 'float':
                fv = float(v)
                return bytes([self.size]) + struct.pack(
                    '<f' if self.size == 4 else '<d', fv)
            if k == 'money':
                d = as_decimal(v).quantize(decimal.Decimal('0.0001'),
                                           rounding=decimal.ROUND_HALF_EVEN)
                iv = int(d.scaleb(4))
                if self.size == 4:
                    return bytes([4]) + struct.pack('<i', iv)
                return bytes([8]) + struct.pack('<iI', iv >> 32, iv & 0xFFFFFFFF)
            if k in ('decimal', 'numeric'):
                d = as_decimal(v)
                q = decimal.Decimal(1).scaleb(-self.scale)
                with decimal.localcontext() as ctx:
                    ctx.prec = 80
                    d = d.quantize(q, rounding=decimal.ROUND_HALF_UP)
                    iv = int(d.scaleb(self.scale))
                if abs(iv) >= 10 ** self.prec:
                    raise ConvError('Arithmetic overflow error converting to %s'
                                    % k)
                ln = dec_len(self.prec)
                return (bytes([ln, 0 if iv < 0 else 1]) +
                        abs(iv).to_bytes(ln - 1, 'little'))
            if k in ('char', 'varchar', 'text'):
                b = as_str(v).encode('cp1252', 'replace') if not isinstance(v, bytes) else v
                if k == 'char' and len(b) < self.size:
                    b = b + b' ' * (self.size - len(b))
                return self.var(b)
            if k in ('nchar', 'nvarchar', 'ntext'):
                b = (as_str(v) if not isinstance(v, bytes) else v.decode('utf-8', 'replace')).encode('utf-16-le')
                if k == 'nchar' and len(b) < self.size:
                    b = b + ' '.encode('utf-16-le') * ((self.size - len(b)) // 2)
                return self.var(b)
            if k in ('binary', 'varbinary', 'image'):
                b = v if isinstance(v, bytes) else as_str(v).encode('utf-8')
                if k == 'binary' and len(b) < self.size:
                    b = b + b'\x00' * (self.size - len(b))
                return self.var(b)
            if k == 'guid':
                if isinstance(v, bytes) and len(v) == 16:
                    u = uuid.UUID(bytes=v)
                else:
                    u = uuid.UUID(as_str(v).strip('{}'))
                return bytes([16]) + u.bytes_le
            if k in ('date', 'time', 'datetime2', 'datetimeoffset', 'datetime'):
                days, ticks, off = parse_datetime(as_str(v))
                return self.enc_dt(days, ticks, off)
        except (ValueError, TypeError, decimal.InvalidOperation, struct.error,
                OverflowError) as e:
            raise ConvError('Conversion failed when converting the value %r '
                            'to data type %s (%s).' % (short(v), k, e))
        raise AssertionError(k)

    def var(self, b):
        k = self.kind
        if k in ('text', 'ntext', 'image'):
            return (bytes([16]) + b'\x11' * 16 + b'\x00' * 8 +
                    struct.pack('<I', len(b)) + b)
        if self.size < 0:
            return tds_stream.plp_bytes(b, k in ('nvarchar', 'nchar', 'ntext'))
        if len(b) > self.size:
            raise ValueError('String or binary data would be truncated')
        return struct.pack('<H', len(b)) + b

    def enc_dt(self, days, ticks, off):
        k = self.kind
        sc = self.scale
        if k == 'date':
            if days is None:
                raise ValueError('no date')
            return bytes([3]) + days.to_bytes(3, 'little')
        if ticks is None:
            ticks = 0
        if days is None:
            days = 0 if k != 'datetime' else 693595   # 1900-01-01
        if k == 'datetime':
            base = datetime.date(1900, 1, 1).toordinal() - 1
            d = days - base
            if self.size == 4:
                minutes = (ticks + 30 * TICKS_PER_SEC) // (60 * TICKS_PER_SEC)
                if minutes >= 1440:
                    d, minutes = d + 1, minutes - 1440
                return bytes([4]) + struct.pack('<HH', d, minutes)
            t300 = (ticks * 300 + TICKS_PER_SEC // 2) // TICKS_PER_SEC
            if t300 >= 300 * 86400:
                d, t300 = d + 1, t300 - 300 * 86400
            return bytes([8]) + struct.pack('<iI', d, t300)
        if k == 'datetimeoffset':
            if off is None:
                off = 0
            total = days * TICKS_PER_DAY + ticks - off * 60 * TICKS_PER_SEC
            days, ticks = divmod(total, TICKS_PER_DAY)
        div = 10 ** (7 - sc)
        units = (ticks + div // 2) // div
        if units >= 86400 * 10 ** sc:      # rounding to the next day
            units -= 86400 * 10 ** sc
            days += 1
        tl = time_len(sc)
        tb = units.to_bytes(tl, 'little')
        if k == 'time':
            return bytes([tl]) + tb
        db = days.to_bytes(3, 'little')
        if k == 'datetime2':
            return bytes([tl + 3]) + tb + db
        return bytes([tl + 5]) + tb + db + struct.pack('<h', off)


def short(v):
    s = repr(v)
    return s if len(s) < 60 else s[:57] + '...'


def as_int(v):
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        if v != int(v):
            raise ValueError('not an integer')
        return int(v)
    if isinstance(v, str):
        return int(v.strip())
    raise TypeError('not an integer')


def as_decimal(v):
    if isinstance(v, bytes):
        raise TypeError('binary')
    if isinstance(v, float):
        return decimal.Decimal(repr(v))
    return decimal.Decimal(str(v).strip())


def as_str(v):
    if isinstance(v, float):
        return repr(v)
    return str(v)


_DECL_RE = re.compile(r'^\s*([a-z_][a-z0-9_ ]*?)\s*(?:\(\s*([^)]*?)\s*\))?\s*$')


def column_from_decl(name, decl, notnull):
    """Column for a declared type, or None if the type is unknown."""
    m = _DECL_RE.match(decl.lower())
    if not m:
        return None
    base = m.group(1)
    if base.endswith('_text'):
        base = base[:-5]
    args = [a.strip() for a in (m.group(2) or '').split(',') if a.strip()]
    try:
        nums = [int(a) if a != 'max' else 2147483647 for a in args]
    except ValueError:
        return None
    nul = not notnull

    def n_or(d):
        return nums[0] if nums else d
    if base == 'bit':
        return Column(name, 'bit', nul, 1)
    ints = {'tinyint': 1, 'smallint': 2, 'int': 4, 'integer': 4, 'bigint': 8}
    if base in ints:
        return Column(name, 'int', nul, ints[base])
    if base == 'real':
        return Column(name, 'float', nul, 4)
    if base in ('float', 'double', 'double precision'):
        size = 4 if nums and nums[0] <= 24 else 8
        return Column(name, 'float', nul, size)
    if base in ('decimal', 'numeric', 'dec'):
        p = nums[0] if nums else 18
        s = nums[1] if len(nums) > 1 else 0
        if not 1 <= p <= 38 or not 0 <= s <= p:
            return None
        return Column(name, 'numeric' if base == 'numeric' else 'decimal',
                      nul, dec_len(p), p, s)
    if base == 'money':
        return Column(name, 'money', nul, 8)
    if base == 'smallmoney':
        return Column(name, 'money', nul, 4)
    if base in ('char', 'character', 'varchar', 'character varying'):
        n = n_or(1)
        kind = 'char' if base in ('char', 'character') else 'varchar'
        if n > 8000:
            return Column(name, 'varchar', nul, -1)
        return Column(name, kind, nul, n)
    if base == 'text':
        return Column(name, 'text', nul, 0x7FFFFFFF)
    if base in ('nchar', 'nvarchar', 'national char', 'national character'):
        n = n_or(1)
        kind = 'nchar' if base != 'nvarchar' else 'nvarchar'
        if n > 4000:
            return Column(name, 'nvarchar', nul, -1)
        return Column(name, kind, nul, 2 * n)
    if base == 'ntext':
        return Column(name, 'ntext', nul, 0x7FFFFFFF)
    if base in ('binary', 'varbinary'):
        n = n_or(1)
        if n > 8000:
            return Column(name, 'varbinary', nul, -1)
        return Column(name, base, nul, n)
    if base == 'image':
        return Column(name, 'image', nul, 0x7FFFFFFF)
    if base == 'uniqueidentifier':
        return Column(name, 'guid', nul, 16)
    if base == 'date':
        return Column(name, 'date', nul, 3)
    if base in ('time', 'datetime2', 'datetimeoffset'):
        sc = nums[0] if nums else 7
        if not 0 <= sc <= 7:
            return None
        return Column(name, base, nul, 0, 0, sc)
    if base == 'smalldatetime':
        return Column(name, 'datetime', nul, 4)
    if base == 'datetime':
        return Column(name, 'datetime', nul, 8)
    return None


def column_from_values(name, values):
    kinds = set(type(v) for v in values if v is not None)
    if not kinds:
        return Column(name, 'int', True, 4)
    if kinds <= {int}:
        big = any(not -2 ** 31 <= v < 2 ** 31 for v in values if v is not None)
        return Column(name, 'int', True, 8 if big else 4)
    if kinds <= {int, float}:
        return Column(name, 'float', True, 8)
    if kinds == {bytes}:
        mx = max(len(v) for v in values if v is not None)
        return Column(name, 'varbinary', True, 8000 if mx <= 8000 else -1)
    mx = max(len(as_str(v) if not isinstance(v, bytes) else v.decode('utf-8', 'replace'))
             for v in values if v is not None)
    return Column(name, 'nvarchar', True, 8000 if mx <= 4000 else -1)


def encode_row(cols, row):
    parts = [c.encode(v) for c, v in zip(cols, row)]
    plain = bytes([TOK_ROW]) + b''.join(parts)
    if any(v is None for v in row):
        bitmap = bytearray((len(cols) + 7) // 8)
        for i, v in enumerate(row):
            if v is None:
                bitmap[i // 8] |= 1 << (i % 8)
        nbc = (bytes([TOK_NBCROW]) + bytes(bitmap) +
               b''.join(p for p, v in zip(parts, row) if v is not None))
        if len(nbc) <= len(plain):
            return nbc
    return plain


def colmetadata(cols):
    return (bytes([TOK_COLMETADATA]) + struct.pack('<H', len(cols)) +
            b''.join(c.metadata() for c in cols))


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
        self.spid = spid
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
            self.pkt_id = (self.pkt_id + 1) & 0xFF
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


# ------------------------------------------------------------------- server

class Config:
    pass


class Session:
    def __init__(self, cfg, sock, addr, spid):
        self.cfg = cfg
        self.sock = sock
        self.addr = addr
        self.spid = spid
        self.c = TDSConn(sock, spid)
        self.db = None
        self.database = cfg.database
        self.user = None
        self.w = None           # the running request's tds_stream.Response

    # -------------------------------------------------------------- helpers
    def err(self, number, cls, text, state=1, line=1):
        return tok_msg(TOK_ERROR, number, state, cls, text, self.cfg.server_name,
                       '', line)

    def info(self, number, text, state=1, cls=0, line=1):
        return tok_msg(TOK_INFO, number, state, cls, text, self.cfg.server_name,
                       '', line)

    def reply(self, data):
        self.c.send_message(PKT_REPLY, data)

    def known_db(self, name):
        for d in (self.cfg.database, 'master'):
            if name.lower() == d.lower():
                return d
        return None

    # ------------------------------------------------------------- main flow
    def run(self):
        try:
            self.serve()
        except (Closed, ConnectionError, BrokenPipeError) as e:
            log('connection %d closed: %s' % (self.spid, e))
        except ssl.SSLError as e:
            log('connection %d TLS error: %s' % (self.spid, e))
        except OSError as e:
            log('connection %d OS error: %s' % (self.spid, e))
        except Exception as e:      # noqa: BLE001 -- keep serving others
            import traceback
            log('connection %d internal error: %s\n%s' % (
                self.spid, e, traceback.format_exc()))
        finally:
            if self.db:
                tds_xact.close(self)
                self.db.close()
            try:
                self.sock.close()
            except OSError:
                pass

    def serve(self):
        cfg = self.cfg
        if cfg.lie:  # HOOK(tds_liar): a lying server serves instead
            return tds_liar.serve(self)
        mis = cfg.misbehave
        first = self.sock.recv(1, socket.MSG_PEEK)
        if not first:
            raise Closed('closed before PRELOGIN')
        strict = False
        if first[0] == 0x16 and cfg.tds7_only:
            # A server older than SQL Server 2022 reads a ClientHello as a
            # TDS packet of unknown type 0x16 and drops the connection.
            raise Closed('pre-TDS 8.0 server: packet type 0x16 is unknown')
        if first[0] == 0x16:
            if cfg.ctx_strict is None:
                raise Closed('TLS-first (TDS 8.0) connection but no certificate')
            tls = (self.sock.wrap_tls(cfg.ctx_strict)
                   if isinstance(self.sock, ShmSock) else
                   cfg.ctx_strict.wrap_socket(self.sock, server_side=True))
            self.c.tr = tls
            self.sock = tls
            strict = True
            log('connection %d: TDS 8.0 strict TLS %s alpn=%s' % (
                self.spid, tls.version(), tls.selected_alpn_protocol()))
        elif cfg.strict:
            raise Closed('strict server: first byte 0x%02x is not a TLS handshake'
                         % first[0])

        typ, payload = self.c.read_message()
        if typ != PKT_PRELOGIN:
            raise Closed('expected PRELOGIN, got packet type 0x%02x' % typ)
        opts = parse_prelogin(payload)
        log('connection %d PRELOGIN options %s' % (
            self.spid, {k: v.hex() for k, v in opts.items()}))

        if mis == 'close-after-prelogin':
            self.sock.shutdown(socket.SHUT_RDWR)
            return
        if mis == 'reset-after-prelogin':
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                 struct.pack('ii', 1, 0))
            return
        if mis == 'hang-after-prelogin':
            while self.sock.recv(4096):
                pass
            return
        if mis == 'garbage-prelogin':
            self.sock.sendall(struct.pack('>BBHHBB', PKT_REPLY, ST_EOM, 4,
                                          self.spid, 1, 0))
            time.sleep(0.5)
            return

        client_enc = opts.get(1, b'\x02')[0] & 0x0F if 1 in opts else ENCRYPT_NOT_SUP
        if strict:
            answer, mode = ENCRYPT_NOT_SUP, 'none'
        else:
            answer, mode = negotiate(cfg.encryption, client_enc,
                                     cfg.ctx7 is not None)
        if mis == 'bad-encryption':
            answer = 0x07  # no such ENCRYPTION value in MS-TDS 2.2.6.5
        resp = build_prelogin_response(answer, 6 in opts and opts[6][:1] == b'\x01')
        self.c.send_message(PKT_SQLBATCH if mis == 'wrong-packet-type'
                            else PKT_REPLY, resp)
        log('connection %d encryption client=%d answer=%d mode=%s' % (
            self.spid, client_enc, answer, mode))
        if mode == 'refuse':
            time.sleep(0.2)
            return

        typ, status, payload = self.c.read_packet()
        if typ == PKT_PRELOGIN and mode in ('full', 'login') and cfg.ctx7:
            self.tls7_handshake(payload)
            typ, status, payload = self.c.read_packet()
        elif mode in ('full',):
            raise Closed('client did not start the TLS handshake (type 0x%02x)'
                         % typ)
        elif mode == 'login':
            # client said OFF but sends LOGIN7 in clear: SQL Server would
            # refuse; we do too
            raise Closed('LOGIN7 without the required TLS (login-only mode)')
        parts = [payload]
        while not status & ST_EOM:
            typ2, status, payload = self.c.read_packet()
            parts.append(payload)
        if typ != PKT_LOGIN7:
            raise Closed('expected LOGIN7, got packet type 0x%02x' % typ)
        login = b''.join(parts)
        if mode == 'login':
            self.c.tr = self.sock      # back to plain text after LOGIN7
        if not self.do_login(login):
            time.sleep(0.1)
            return
        self.loop()

    def tls7_handshake(self, first_payload):
        cfg = self.cfg
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = cfg.ctx7.wrap_bio(inc, out, server_side=True)
        inc.write(first_payload)
        while True:
            done = False
            try:
                sslobj.do_handshake()
                done = True
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLError:
                data = out.read()
                if data:
                    self.c.send_message(PKT_PRELOGIN, data)
                raise
            data = out.read()
            if data:
                self.c.send_message(PKT_PRELOGIN, data)
            if done:
                break
            # next handshake bytes: a PRELOGIN packet, or (TLS 1.3 clients
            # that finish early) a raw TLS record
            peek = (bytes(self.c.buf[self.c.rpos:self.c.rpos + 1]) or
                    self.sock.recv(1, socket.MSG_PEEK))
            if not peek:
                raise Closed('client closed during TLS handshake')
            if peek[0] == PKT_PRELOGIN:
                _, _, payload = self.c.read_packet()
                inc.write(payload)
            else:
                hdr = self.c.read_exact(5)
                ln = struct.unpack('>H', hdr[3:5])[0]
                inc.write(hdr + self.c.read_exact(ln))
        log('connection %d TLS %s %s' % (self.spid, sslobj.version(),
                                         sslobj.cipher()[0]))
        tr = BioTLS(self.sock, sslobj, inc, out)
        if self.c.buffered():         # raw records already read
            inc.write(self.c.take_buffered())
        self.c.tr = tr

    # -------------------------------------------------------------- LOGIN7
    def do_login(self, p):
        cfg = self.cfg
        if len(p) < 94:
            raise Closed('LOGIN7 too short')
        (length, tdsver, pktsize, progver, pid, connid, of1, of2, tf, of3,
         tz, lcid) = struct.unpack_from('<IIIIIIBBBBiI', p, 0)

        def field(off, raw=False):
            o, n = struct.unpack_from('<HH', p, off)
            if raw:
                return p[o:o + n]
            return p[o:o + 2 * n]
        host = field(36).decode('utf-16-le', 'replace')
        user = field(40).decode('utf-16-le', 'replace')
        pw_raw = field(44)
        app = field(48).decode('utf-16-le', 'replace')
        database = field(68).decode('utf-16-le', 'replace')
        sspi = field(78, raw=True)
        if struct.unpack_from('<H', p, 80)[0] == 0xFFFF and len(p) >= 94:
            # cbSSPILong (2.2.6.4): the real length when cbSSPI is 0xFFFF
            o = struct.unpack_from('<H', p, 78)[0]
            sspi = p[o:o + struct.unpack_from('<I', p, 90)[0]]
        password = bytes(
            (((b ^ 0xA5) << 4) & 0xF0) | (((b ^ 0xA5) >> 4) & 0x0F)
            for b in pw_raw).decode('utf-16-le', 'replace')
        features = {}
        fext = bool(of3 & 0x10)
        if fext:
            o, n = struct.unpack_from('<HH', p, 56)
            if n >= 4 and o + 4 <= len(p):
                fo = struct.unpack_from('<I', p, o)[0]
                while fo < len(p) and p[fo] != 0xFF:
                    fid = p[fo]
                    fl = struct.unpack_from('<I', p, fo + 1)[0]
                    features[fid] = p[fo + 5:fo + 5 + fl]
                    fo += 5 + fl
        log('connection %d LOGIN7 tds=0x%08x packet=%d user=%r host=%r app=%r '
            'db=%r integrated=%s sspi=%d features=%s' % (
                self.spid, tdsver, pktsize, user, host, app, database,
                bool(of2 & 0x80), len(sspi), sorted(features)))

        sspi_out = b''
        if of2 & 0x80:
            ntlm = ntlm_offer(sspi)
            if not cfg.integrated or (ntlm and not cfg.ntlm):
                # Integrated logins refused, or NTLM refused by policy: the
                # SSPI handshake fails at once, no CHALLENGE (a client can
                # tell this from credentials refused after AUTHENTICATE).
                log('connection %d integrated login refused (%s): 18452' % (
                    self.spid, 'NTLM not enabled' if ntlm
                    else 'integrated logins not enabled'))
                self.reply(self.err(18452, 14, MSG_18452) + tok_done(DONE_ERROR))
                return False
            res = self.gss_login(sspi)
            if res is None:
                return False
            user, sspi_out = res
        elif cfg.users.get(user) != password:
            log('connection %d login failed for %r' % (self.spid, user))
            self.reply(self.err(18456, 14, "Login failed for user '%s'." % user)
                       + tok_done(DONE_ERROR))
            return False
        db = cfg.database
        if database:
            db = self.known_db(database)
            if db is None:
                self.reply(self.err(4060, 11, 'Cannot open database "%s" '
                                    'requested by the login. The login failed.'
                                    % database) +
                           self.err(18456, 14, "Login failed for user '%s'." % user)
                           + tok_done(DONE_ERROR))
                return False
        self.user = user
        self.database = db
        self.db = SQLiteDB(cfg.db)
        self.db.watch = self.attention_seen
        size = pktsize or 4096
        size = max(512, min(32767, size))
        out = [tok_sspi(sspi_out)] if sspi_out else []
        out += [tok_envchange(1, db, 'master'),
               self.info(5701, "Changed database context to '%s'." % db, 2),
               tok_envchange(7, COLLATION, b''),
               tok_envchange(2, 'us_english', ''),
               self.info(5703, 'Changed language setting to us_english.'),
               tok_loginack(TDS73B if cfg.misbehave == 'tds73' else TDS74),
               tok_envchange(4, str(size), '4096')]
        if cfg.misbehave == 'no-loginack':
            out = [o for o in out if o[0] != TOK_LOGINACK]
        elif cfg.misbehave == 'bad-packet-size':
            out[-1] = tok_envchange(4, '12', '4096')
        elif cfg.misbehave == 'route':
            # ENVCHANGE routing (2.2.7.9): type 20, RoutingDataValueLength,
            # protocol 0 (TCP), port, server name (US_VARCHAR); old value 0
            name = 'replica.example'.encode('utf-16-le')
            val = (bytes([0]) + struct.pack('<HH', 21433, len(name) // 2)
                   + name)
            body = bytes([20]) + struct.pack('<H', len(val)) + val + b'\x00\x00'
            out.append(struct.pack('<BH', TOK_ENVCHANGE, len(body)) + body)
        if fext:
            ack = b''
            if 0x0A in features:
                ack += bytes([0x0A]) + struct.pack('<I', 1) + b'\x01'
            out.append(bytes([TOK_FEATUREEXTACK]) + ack + b'\xff')
        out.append(tok_done(DONE_FINAL))
        self.reply(b''.join(out))
        self.c.packet_size = size
        log('connection %d logged in as %r db=%r packet size %d' % (
            self.spid, user, db, size))
        return True

    def gss_login(self, token):
        """Integrated login: accept the GSSAPI exchange that starts with
        LOGIN7's SSPI field.  Returns (login name, final output token or b'')
        or None after answering the failure (then the caller closes)."""
        from gssapi.raw import accept_sec_context, display_name
        from gssapi.exceptions import GSSError
        cfg = self.cfg
        ctx = None
        try:
            # Acquired for every login, so a keytab replaced between two
            # connections (the stale-kvno scenario) is read again.
            creds = gss_acceptor_creds(cfg, token)
            rounds = 0
            while True:
                rounds += 1
                v1 = ntlm_v1_response(token)
                if v1:
                    log('connection %d integrated login failed: %s refused '
                        '(NTLMv2 only: gss-ntlmssp 1.2.0 accepts an '
                        'NTLMv1 response whatever the password)'
                        % (self.spid, v1))
                    self.reply(self.err(18452, 14, MSG_18452)
                               + tok_done(DONE_ERROR))
                    return None
                res = accept_sec_context(token, creds, ctx)
                ctx = res.context
                log('connection %d SSPI round %d: in %d bytes%s, out %d bytes, '
                    'mech %s, %s' % (self.spid, rounds, len(token),
                                     gss_token_kind(token),
                                     len(res.token or b''), mech_name(res.mech),
                                     'continue' if res.more_steps else 'complete'))
                if not res.more_steps:
                    break
                # Another round: a REPLY holding only the SSPI token; the
                # client answers with packet type 0x11, the raw token.
                self.reply(tok_sspi(res.token or b''))
                typ, token = self.c.read_message()
                if typ == PKT_LOGIN7:
                    # pytds and tiberius send it in a LOGIN7-type packet;
                    # SQL Server accepts either type
                    log('connection %d SSPI token in a packet of type 0x10 '
                        '(LOGIN7), accepted as SQL Server does' % self.spid)
                elif typ != PKT_SSPI:
                    raise Closed('expected an SSPI packet (0x11), got 0x%02x'
                                 % typ)
        except GSSError as e:
            etok = getattr(e, 'token', None) or b''
            log('connection %d integrated login failed: GSS major 0x%08x '
                'minor %d%s [%s]; error token %d bytes%s' % (
                    self.spid, e.maj_code, e.min_code,
                    krb5_error_name(e.min_code) or
                    (ntlm_error_name(str(e)) if b'NTLMSSP\x00' in token else ''),
                    ' '.join(str(e).split()), len(etok), gss_token_kind(etok)))
            # SQL Server forwards the acceptor's error token (a KRB-ERROR,
            # or SPNEGO's reject wrapping it) before the login error.
            self.reply((tok_sspi(etok) if etok else b'') +
                       self.err(18452, 14, MSG_18452) + tok_done(DONE_ERROR))
            return None
        # gss-ntlmssp's initiator name is 'DOMAIN\\user' with a trailing NUL
        principal = display_name(res.initiator_name, name_type=False).name \
            .decode('utf-8', 'replace').rstrip('\x00')
        login = map_principal(cfg.maps, principal)
        log('connection %d authenticated %s (mech %s, %d round(s)) -> login %r'
            % (self.spid, principal, mech_name(res.mech), rounds, login))
        if login is None:
            # SQL Server names the Windows account (TDSC\bob); the Kerberos
            # principal is what the client can recognise here.
            self.reply(self.err(18456, 14, "Login failed for user '%s'."
                                % principal) + tok_done(DONE_ERROR))
            return None
        return login, res.token or b''

    # ----------------------------------------------------------- requests
    def loop(self):
        mis = self.cfg.misbehave
        while True:
            typ, payload = self.c.read_message()
            if typ == PKT_ATTENTION:
                # An attention that arrives after the answer was complete
                # (or while the request was still being sent) gets an
                # acknowledgement of its own: DONE(DONE_ATTN) alone
                # (MS-TDS 3.3.5.9)
                if mis == 'ignore-attention':
                    log('connection %d: attention ignored (misbehave)'
                        % self.spid)
                    continue
                self.reply(tok_done(DONE_ATTN))
                continue
            if mis == 'stall-after-login':
                continue
            if mis == 'bad-token':
                self.reply(b'\x01' + b'\xde\xad\xbe\xef' * 4)
                continue
            if mis == 'truncated-row':
                col = Column('x', 'int', True, 4)
                self.reply(colmetadata([col]) + bytes([TOK_ROW, 4, 1, 0]))
                continue
            if typ in (PKT_SQLBATCH, PKT_TM, PKT_RPC):
                self.request(typ, payload)
            elif typ is None:
                log('connection %d: message abandoned (ignore bit)' % self.spid)
            else:
                log('connection %d: unexpected packet type 0x%02x' % (
                    self.spid, typ))
                return

    def request(self, typ, payload):
        """One SQLBatch, RPC or TM request, answered through a
        tds_stream.Response: sent while produced, stopped by an attention.
        First the transaction descriptor check (tds_xact)."""
        self.w = w = tds_stream.Response(self)
        try:
            off, err = tds_xact.check_descriptor(self, payload)
            if err:
                w.token(err)
            elif typ == PKT_SQLBATCH:
                self.batch(payload, off)
            elif typ == PKT_TM:
                tds_xact.tm_request(self, payload, off)
            else:
                import tds_rpc
                tds_rpc.S = sys.modules[__name__]
                w.token(tds_rpc.handle(self, payload))
            w.finish()
        except tds_stream.Attention:
            # SQLite rolls back a whole explicit transaction when a DML
            # statement in it is interrupted: the client must hear of it
            env = tds_xact.after_statement(self)
            if env:
                w.add_sticky(env)
            w.cancel()
        finally:
            self.w = None

    def attention_seen(self):
        """SQLite's progress handler: stop the statement if the client sent
        an attention."""
        w = self.w
        return w is not None and not w.done and w.poll()

    def batch(self, payload, off):
        text = payload[off:].decode('utf-16-le', 'replace')
        stmts = split_statements(text)
        log('connection %d batch: %d statement(s): %r' % (
            self.spid, len(stmts), text[:200]))
        if not stmts:
            self.w.token(tok_done(DONE_FINAL))
        for idx, (stmt, line) in enumerate(stmts):
            more = DONE_MORE if idx < len(stmts) - 1 else 0
            self.w.token(self.statement(stmt, line, more))

    def statement(self, stmt, line, more, params=None, ptypes=None,
                  rpc_params=None):
        """One statement: returns its last tokens (DONE, or an error and
        DONE); rows and transaction ENVCHANGEs go to self.w directly, so the
        caller writes the result to self.w at once.

        params: RPC parameter values to bind; ptypes: their types, for
        result columns that are a bare parameter (SELECT @x); rpc_params:
        {'@name': tds_rpc.Param} for DATALENGTH / HASHBYTES of them."""
        res = self._statement(stmt, line, more, params, ptypes, rpc_params)
        env = tds_xact.after_statement(self)
        if env:
            self.w.token(env, sticky=True)
        return res

    def _statement(self, stmt, line, more, params=None, ptypes=None,
                   rpc_params=None):
        body = strip_comments(stmt).strip()
        # T-SQL's query hint for recursive CTEs; SQLite has no limit
        body = re.sub(r'\s+option\s*\(\s*maxrecursion\s+\d+\s*\)\s*$', '',
                      body, flags=re.I)
        low = body.lower()
        m = re.match(r'use\s+\[?([^\]\s;]+)\]?\s*$', body, re.I)
        if m:
            name = self.known_db(m.group(1))
            if name is None:
                return (self.err(911, 16, "Database '%s' does not exist. Make "
                                 "sure that the name is entered correctly."
                                 % m.group(1), line=line) +
                        tok_done(DONE_ERROR | more))
            old, self.database = self.database, name
            return (tok_envchange(1, name, old) +
                    self.info(5701, "Changed database context to '%s'." % name,
                              1, line=line) + tok_done(more))
        if re.match(r'set\s', low):
            return tok_done(more)
        m = re.match(r"waitfor\s+delay\s+n?'([^']*)'\s*$", body, re.I)
        if m:
            secs = parse_delay(m.group(1))
            if secs is None:
                return (self.err(148, 15, "Incorrect time syntax in time "
                                 "string '%s' used with WAITFOR." %
                                 m.group(1), line=line) +
                        tok_done(DONE_ERROR | more))
            log('connection %d WAITFOR DELAY %.3f s' % (self.spid, secs))
            tds_stream.waitfor(self.w, secs)
            return tok_done(more)
        m = re.match(r'if\s+@@trancount\s*(>=|<=|<>|!=|=|>|<)\s*(\d+)\s+(.+)$',
                     body, re.I | re.S)
        if m:
            n, k = tds_xact.state(self).trancount, int(m.group(2))
            op = m.group(1)
            true = {'>=': n >= k, '<=': n <= k, '<>': n != k, '!=': n != k,
                    '=': n == k, '>': n > k, '<': n < k}[op]
            if not true:
                return tok_done(more)
            return self._statement(m.group(3), line, more, params, ptypes,
                                   rpc_params)
        res = tds_xact.statement(self, body, line, more)
        if res is not None:
            return res
        m = re.match(r"print\s+n?'((?:[^']|'')*)'\s*$", body, re.I | re.S)
        if m:
            return (self.info(0, unquote_sql(m.group(1)), 1, 0, line) +
                    tok_done(more))
        m = re.match(r'raiserror\s*\(\s*n?\'((?:[^\']|\'\')*)\'\s*,\s*(-?\d+)'
                     r'\s*,\s*(\d+)\s*\)', body, re.I | re.S)
        if m:
            sev, state = int(m.group(2)), int(m.group(3))
            msg = unquote_sql(m.group(1))
            if sev > 10:
                return (self.err(50000, sev, msg, state, line) +
                        tok_done(DONE_ERROR | more))
            return self.info(50000, msg, state, sev, line) + tok_done(more)
        if re.match(r'(dbcc|backup|restore)\s', low):
            return self.maintenance(body, line, more)
        if re.match(r'select\s+@@version\s*$', low):
            col = Column('', 'nvarchar', True, 8000)
            return (colmetadata([col]) + encode_row([col], [self.version()]) +
                    tok_done(DONE_COUNT | more, 0xC1, 1))
        if re.match(r'select\s+@@spid\s*$', low):
            col = Column('', 'int', True, 2)
            return (colmetadata([col]) + encode_row([col], [self.spid]) +
                    tok_done(DONE_COUNT | more, 0xC1, 1))
        if re.match(r'select\s+@@trancount\s*$', low):
            col = Column('', 'int', True, 4)
            return (colmetadata([col]) +
                    encode_row([col], [tds_xact.state(self).trancount]) +
                    tok_done(DONE_COUNT | more, 0xC1, 1))
        m = re.match(r'print\s+(.*)$', body, re.I | re.S)
        if m:
            try:
                cols, rows, _, _ = self.db.execute('SELECT ' + translate(m.group(1), self.consts()))
                val = rows[0][0] if rows else None
            except SQLiteError as e:
                return self.sql_error(str(e), line, more)
            return (self.info(0, '' if val is None else as_str(val), 1, 0, line)
                    + tok_done(more))
        try:
            rw = tds_expr.rewrite(body, rpc_params, self.table_decl)
        except tds_expr.ExprError as e:
            num, cls, text = e.args
            return (self.err(num, cls, text, line=line) +
                    tok_done(DONE_ERROR | more))
        binds = dict(params or {})
        binds.update(rw.binds)
        try:
            cols, rows, changes, is_query = self.db.execute(
                translate(rw.sql, self.consts()), binds)
        except SQLiteError as e:
            return self.sql_error(str(e), line, more)
        first = low.split(None, 1)[0] if low else ''
        if is_query:
            if rw.markers:
                # the large values SQLite passed through as markers
                for r in rows:
                    for i, v in enumerate(r):
                        if type(v) is str and v in rw.markers:
                            r[i] = rw.markers[v]
            try:
                tcols = []
                for i, (name, decl, notnull) in enumerate(cols):
                    col = column_from_decl(name, decl, notnull) if decl else None
                    pt = (ptypes or {}).get(name.lower())
                    if pt is not None and not getattr(pt, 'variant', False):
                        col = Column(name, pt.kind, True, pt.size, pt.prec,
                                     pt.scale)
                    ov = rw.overrides.get(i)
                    if ov is not None:
                        col = Column(name, ov.kind, True, ov.size, ov.prec,
                                     ov.scale)
                    big = next((r[i] for r in rows
                                if isinstance(r[i], tds_stream.BigValue)), None)
                    if big is not None and (col is None or ov is None):
                        col = big.column(name)
                    if col is None:
                        col = column_from_values(name, [r[i] for r in rows])
                    tcols.append(col)
                tds_stream.write_rows(self.w, tcols, rows)
            except ConvError as e:
                return (self.err(245, 16, str(e), line=line) +
                        tok_done(DONE_ERROR | more))
            return tok_done(DONE_COUNT | more, 0xC1, len(rows))
        if first in ('insert', 'update', 'delete', 'replace', 'merge'):
            cmd = {'insert': 0xC3, 'delete': 0xC4, 'update': 0xC5}.get(first, 0xC3)
            return tok_done(DONE_COUNT | more, cmd, changes)
        return tok_done(more)

    def sql_error(self, msg, line, more):
        m = re.match(r'near "(.*)": syntax error', msg, re.S)
        if m:
            num, text = 102, "Incorrect syntax near '%s'." % m.group(1)
        elif msg.startswith('incomplete input'):
            num, text = 102, 'Incorrect syntax near the end of the batch.'
        elif msg.startswith('no such table: '):
            num, text = 208, "Invalid object name '%s'." % msg[len('no such table: '):]
        elif msg.startswith('no such column: '):
            num, text = 207, "Invalid column name '%s'." % msg[len('no such column: '):]
        else:
            num, text = 50000, msg
        return self.err(num, 16, text, 1, line) + tok_done(DONE_ERROR | more)

    def table_decl(self, table, column):
        """A table column's declared type (for DATALENGTH / HASHBYTES of
        text columns: varchar or nvarchar bytes), or None."""
        try:
            _, rows, _, _ = self.db.execute('PRAGMA table_info("%s")' %
                                            table.replace('"', '""'))
        except SQLiteError:
            return None
        for r in rows:
            if str(r[1]).lower() == column.lower():
                return r[2] or None
        return None

    def consts(self):
        return {'VERSION': self.version(), 'SPID': self.spid,
                'TRANCOUNT': tds_xact.state(self).trancount,
                'LOGIN': self.user,
                'SERVERNAME': self.cfg.server_name}

    def version(self):
        return ('Microsoft SQL Server 2022 (tdsclient test server) - 16.0.1000.0 '
                '(X64)\n\tSQLite %s backend\n' % sqlite3.sqlite_version)

    # ------------------------------------------------ maintenance statements
    # DBCC CHECKDB, DBCC SHRINKFILE, BACKUP DATABASE ... TO DISK and RESTORE
    # VERIFYONLY, over SQLite's own tools (integrity_check, VACUUM /
    # wal_checkpoint, the online backup API), answered with SQL Server's
    # message numbers and texts.  Informational messages are INFO class 0.

    def stream(self, data):
        """Sends what the answer has so far plus data ahead of the
        request's end (progress messages while a statement runs)."""
        self.w.token(data)
        self.w.flush_all()

    def maintenance(self, body, line, more):
        name = r"(?:\[([^\]]+)\]|n?'((?:[^']|'')*)'|([\w$#@]+))"
        m = re.match(r'dbcc\s+checkdb\s*(?:\(\s*' + name + r'[^)]*\))?'
                     r'\s*(?:with\s+.*)?$', body, re.I | re.S)
        if m:
            return self.dbcc_checkdb(first_group(m, 1, 3), line, more)
        m = re.match(r'dbcc\s+shrinkfile\s*\(\s*' + name +
                     r'\s*(?:,\s*(\d+|emptyfile|notruncate|truncateonly)\s*)?'
                     r'\)\s*(?:with\s+.*)?$', body, re.I | re.S)
        if m:
            return self.dbcc_shrinkfile(first_group(m, 1, 3), line, more)
        m = re.match(r'backup\s+database\s+' + name + r'\s+to\s+disk\s*=\s*'
                     r"n?'((?:[^']|'')*)'\s*(?:with\s+(.*))?$",
                     body, re.I | re.S)
        if m:
            return self.backup(first_group(m, 1, 3), unquote_sql(m.group(4)),
                               m.group(5) or '', line, more)
        m = re.match(r"restore\s+verifyonly\s+from\s+disk\s*=\s*"
                     r"n?'((?:[^']|'')*)'\s*(?:with\s+.*)?$", body, re.I | re.S)
        if m:
            return self.restore_verifyonly(unquote_sql(m.group(1)), line, more)
        return (self.err(102, 15, "Incorrect syntax near '%s'." %
                         body.split(None, 2)[:2][-1], line=line) +
                tok_done(DONE_ERROR | more))

    def maint_db(self, arg):
        """The database a DBCC / BACKUP names ('' and 0: the current one)."""
        if arg in ('', '0', None):
            return self.database
        return self.known_db(arg)

    def no_db(self, arg, line, more, what=None):
        out = self.err(911, 16, "Database '%s' does not exist. Make sure that "
                       "the name is entered correctly." % arg, line=line)
        if what:
            out += self.err(3013, 16, '%s is terminating abnormally.' % what,
                            line=line)
        return out + tok_done(DONE_ERROR | more)

    def dbcc_checkdb(self, arg, line, more):
        db = self.maint_db(arg)
        if db is None:
            return (self.err(2520, 16, "Could not find database '%s'. The "
                             "database either does not exist, or was dropped "
                             "before a statement tried to use it. Verify if "
                             "the database exists by querying the "
                             "sys.databases catalog view." % arg, line=line) +
                    tok_done(DONE_ERROR | more))
        out = [self.info(2536, "DBCC results for '%s'." % db, line=line)]
        try:
            _, rows, _, _ = self.db.execute('PRAGMA integrity_check')
            problems = [r[0] for r in rows if r[0] != 'ok']
            _, tables, _, _ = self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                "name NOT LIKE 'sqlite%' ORDER BY name")
            for (t,) in tables:
                _, n, _, _ = self.db.execute('SELECT count(*) FROM "%s"'
                                             % t.replace('"', '""'))
                try:
                    _, p, _, _ = self.db.execute(
                        "SELECT count(*) FROM dbstat WHERE name = '%s'"
                        % t.replace("'", "''"))
                    pages = p[0][0]
                except SQLiteError:     # SQLite built without dbstat
                    pages = 1
                out.append(self.info(2593, 'There are %d rows in %d pages for '
                                     'object "dbo.%s".' % (n[0][0], pages, t),
                                     line=line))
        except SQLiteError as e:
            problems = [str(e)]
        if self.cfg.misbehave == 'checkdb-fails':
            problems.append('Object ID 901578250, index ID 1, partition ID '
                            '72057594038779904, alloc unit ID '
                            '72057594043301888 (type In-row data), page '
                            '(1:153). Test (IS_OFF (BUF_IOERR, pBUF->bstat)) '
                            'failed. Values are 133129 and -4')
        for p in problems:
            out.append(self.err(8939, 16, 'Table error: %s.' % p.rstrip('.'),
                                line=line))
        out.append(self.info(8989, "CHECKDB found 0 allocation errors and %d "
                             "consistency errors in database '%s'."
                             % (len(problems), db), line=line))
        if problems:
            out.append(self.info(8958, 'repair_allow_data_loss is the minimum '
                                 'repair level for the errors found by DBCC '
                                 'CHECKDB (%s).' % db, line=line))
        out.append(self.info(2528, 'DBCC execution completed. If DBCC printed '
                             'error messages, contact your system '
                             'administrator.', line=line))
        log('connection %d DBCC CHECKDB(%s): %d problem(s)' % (
            self.spid, db, len(problems)))
        out.append(tok_done((DONE_ERROR if problems else 0) | more))
        return b''.join(out)

    def dbcc_shrinkfile(self, arg, line, more):
        # File 1 is the data file (logical name: the database's), file 2 the
        # log (<database>_log), as SQL Server names them by default.
        db = self.database
        files = {'1': 1, db.lower(): 1, '2': 2, db.lower() + '_log': 2}
        fid = files.get(arg.lower())
        if fid is None:
            return (self.err(8985, 16, "Could not locate file '%s' for "
                             "database '%s' in sys.database_files. The file "
                             "either does not exist, or was dropped." %
                             (arg, db), line=line) +
                    tok_done(DONE_ERROR | more))
        if self.cfg.misbehave == 'shrink-fails':
            return (self.err(3023, 16, 'Backup, file manipulation operations '
                             '(such as ALTER DATABASE ADD FILE) and encryption '
                             'changes on a database must be serialized. '
                             'Reissue the statement after the current backup '
                             'or file manipulation operation is completed.',
                             line=line) + tok_done(DONE_ERROR | more))
        try:
            if fid == 1:
                self.db.execute('VACUUM')
            else:
                self.db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
            _, r, _, _ = self.db.execute('PRAGMA page_size')
            psize = r[0][0]
            _, r, _, _ = self.db.execute('PRAGMA page_count')
            count = r[0][0]
            _, r, _, _ = self.db.execute('PRAGMA freelist_count')
            free = r[0][0]
        except SQLiteError as e:
            return self.sql_error(str(e), line, more)
        if fid == 1:   # in SQL Server's 8-KB pages
            cur = max(1, (count * psize + 8191) // 8192)
            used = max(1, ((count - free) * psize + 8191) // 8192)
        else:
            wal = self.cfg.db + '-wal'
            cur = (os.path.getsize(wal) + 8191) // 8192 if os.path.exists(wal) else 0
            cur, used = max(cur, 1), 0
        cols = [Column(n, 'int', False, 4) for n in (
            'DbId', 'FileId', 'CurrentSize', 'MinimumSize', 'UsedPages',
            'EstimatedPages')]
        log('connection %d DBCC SHRINKFILE(%s): file %d, %d pages' % (
            self.spid, arg, fid, cur))
        return (colmetadata(cols) +
                encode_row(cols, [5, fid, cur, 1 if fid == 1 else cur, used,
                                  used]) +
                tok_done(DONE_COUNT | DONE_MORE, 0xC1, 1) +
                self.info(2528, 'DBCC execution completed. If DBCC printed '
                          'error messages, contact your system administrator.',
                          line=line) +
                tok_done(more, 0xC1))

    def device_error(self, path, errno_, what, line, more):
        reason = {2: 'The system cannot find the file specified.',
                  3: 'The system cannot find the path specified.',
                  5: 'Access is denied.'}.get(errno_, os.strerror(errno_))
        return (self.err(3201, 16, "Cannot open backup device '%s'. Operating "
                         "system error %d(%s)." % (path, errno_, reason),
                         line=line) +
                self.err(3013, 16, '%s is terminating abnormally.' % what,
                         line=line) + tok_done(DONE_ERROR | more))

    def backup(self, arg, path, options, line, more):
        db = self.maint_db(arg)
        if db is None:
            return self.no_db(arg, line, more, 'BACKUP DATABASE')
        m = re.search(r'\bstats(?:\s*=\s*(\d+))?', options, re.I)
        stats = (int(m.group(1) or 10) or 10) if m else 0
        # The target is opened first, as SQL Server does; a missing folder
        # is Windows' error 3 (path not found), as SQL Server reports it.
        try:
            open(path, 'wb').close()
        except OSError as e:
            log('connection %d BACKUP to %s: %s' % (self.spid, path, e))
            code = 3 if e.errno == 2 and not os.path.isdir(
                os.path.dirname(path) or '.') else e.errno
            return self.device_error(path, code, 'BACKUP DATABASE', line, more)
        start = time.monotonic()
        mine = []
        state = {'next': stats, 'done': 0, 'total': 0}

        def progress(status, remaining, total):
            done = total - remaining
            state['done'], state['total'] = done, total
            pct = done * 100 // total if total else 100
            if stats and pct >= state['next'] and pct < 100:
                mine.append(self.info(3211, '%d percent processed.' % pct,
                                      line=line))
                self.stream(b''.join(mine))
                mine.clear()
                state['next'] = (pct // stats + 1) * stats
            if (self.cfg.misbehave == 'backup-fails' and
                    done * 2 >= total and remaining):
                raise OSError(23, 'Data error (cyclic redundancy check).')

        src = dst = None
        try:
            src = sqlite3.connect(self.cfg.db)
            dst = sqlite3.connect(path)
            pages = src.execute('PRAGMA page_count').fetchone()[0]
            src.backup(dst, pages=max(1, pages // 100), progress=progress)
        except (sqlite3.Error, OSError) as e:
            log('connection %d BACKUP to %s failed: %s' % (self.spid, path, e))
            text = (e.strerror if isinstance(e, OSError) and e.strerror
                    else str(e))
            num = e.errno if isinstance(e, OSError) and e.errno else 1117
            return b''.join(mine) + (
                self.err(3203, 16, 'Read on "%s" failed: %d(%s)' % (
                    self.cfg.db, num, text), line=line) +
                self.err(3013, 16, 'BACKUP DATABASE is terminating abnormally.',
                         line=line) + tok_done(DONE_ERROR | more))
        finally:
            for c in (dst, src):
                if c is not None:
                    c.close()
        secs = max(time.monotonic() - start, 0.001)
        psize = os.path.getsize(path)
        n = (psize + 8191) // 8192   # SQL Server's 8-KB pages
        if stats:
            mine.append(self.info(3211, '100 percent processed.', line=line))
        mine.append(self.info(4035, "Processed %d pages for database '%s', "
                              "file '%s' on file 1." % (n, db, db), line=line))
        mine.append(self.info(4035, "Processed 0 pages for database '%s', "
                              "file '%s_log' on file 1." % (db, db), line=line))
        mine.append(self.info(3014, 'BACKUP DATABASE successfully processed %d '
                              'pages in %.3f seconds (%.3f MB/sec).' % (
                                  n, secs, psize / secs / 1048576), line=line))
        log('connection %d BACKUP DATABASE %s to %s: %d bytes' % (
            self.spid, db, path, psize))
        return b''.join(mine) + tok_done(more)

    def restore_verifyonly(self, path, line, more):
        what = 'VERIFY DATABASE'
        if not os.path.isfile(path):
            code = 2 if os.path.isdir(os.path.dirname(path) or '.') else 3
            return self.device_error(path, code, what, line, more)
        try:
            con = sqlite3.connect('file:%s?mode=ro' % path, uri=True)
            try:
                res = [r[0] for r in con.execute('PRAGMA integrity_check')]
            finally:
                con.close()
        except sqlite3.Error as e:
            log('connection %d RESTORE VERIFYONLY %s: %s' % (self.spid, path, e))
            return (self.err(3241, 16, "The media family on device '%s' is "
                             "incorrectly formed. SQL Server cannot process "
                             "this media family." % path, line=line) +
                    self.err(3013, 16, '%s is terminating abnormally.' % what,
                             line=line) + tok_done(DONE_ERROR | more))
        if res != ['ok']:
            return (self.err(3189, 16, 'Damage to the backup set was detected.',
                             line=line) +
                    self.err(3013, 16, '%s is terminating abnormally.' % what,
                             line=line) + tok_done(DONE_ERROR | more))
        return (self.info(3262, 'The backup set on file 1 is valid.',
                          line=line) + tok_done(more))


MSG_18452 = ('Login failed. The login is from an untrusted domain and cannot '
             'be used with Integrated authentication.')


MECH_KRB5 = '1.2.840.113554.1.2.2'
MECH_SPNEGO = '1.3.6.1.5.5.2'
MECH_NTLMSSP = '1.3.6.1.4.1.311.2.2.10'


def gss_acceptor_creds(cfg, token):
    """Acceptor credentials for the first token of an integrated login.
    Kerberos only (no --ntlm-users): every principal of the keytab and the
    default mechanisms (raw krb5 as FreeTDS sends it, and SPNEGO), as ever.
    With NTLM: raw NTLMSSP gets gss-ntlmssp alone; anything else gets
    krb5 (if --keytab), NTLMSSP and SPNEGO over them.  gss-ntlmssp is never
    given a credential store (gss_acquire_cred_from with a keytab store and
    the NTLMSSP mechanism corrupts memory in gss-ntlmssp 1.2.0): the keytab
    reaches krb5 through KRB5_KTNAME, read again at every accept."""
    from gssapi.raw import acquire_cred, acquire_cred_from, OID
    if not cfg.ntlm:
        return acquire_cred_from({b'keytab': cfg.keytab.encode()},
                                 usage='accept').creds
    if token.startswith(b'NTLMSSP\x00'):
        mechs = [MECH_NTLMSSP]
    else:
        mechs = ([MECH_KRB5] if cfg.keytab else []) + [MECH_NTLMSSP, MECH_SPNEGO]
    return acquire_cred(None, mechs=[OID.from_int_seq(m) for m in mechs],
                        usage='accept').creds


# DER OIDs as they appear in a SPNEGO NegTokenInit's mechTypes
DER_NTLMSSP = bytes.fromhex('060a2b0601040182370202' '0a')
DER_KRB5S = (bytes.fromhex('06092a864886f712010202'),
             bytes.fromhex('06092a864882f712010202'))   # MS's misencoded krb5


def ntlm_offer(tok):
    """True when the first SSPI token asks for NTLM only: a raw NTLMSSP
    NEGOTIATE, or a SPNEGO NegTokenInit listing NTLMSSP and no Kerberos."""
    if tok.startswith(b'NTLMSSP\x00'):
        return True
    if tok[:1] == b'\x60' and OID_SPNEGO in tok[:16]:
        return DER_NTLMSSP in tok and not any(k in tok for k in DER_KRB5S)
    return False


def ntlm_v1_response(tok):
    """'NTLMv1 response' / 'anonymous NTLM' when tok holds (raw or inside
    SPNEGO) an NTLMSSP AUTHENTICATE whose NtChallengeResponse is not NTLMv2
    (24 bytes: NTLMv1 or NTLMv1 with extended session security; 0 bytes:
    anonymous), else ''.  Measured: gss-ntlmssp 1.2.0's acceptor takes a
    24-byte response with any password for a user it knows (pytds'
    NtlmAuth), even with LM_COMPAT_LEVEL=5; the test server refuses it."""
    i = tok.find(b'NTLMSSP\x00\x03\x00\x00\x00')
    if i < 0 or len(tok) < i + 28:
        return ''
    nt_len = struct.unpack_from('<H', tok, i + 20)[0]
    if nt_len == 24:
        return 'NTLMv1 response'
    if nt_len == 0:
        return 'anonymous NTLM'
    return ''


def ntlm_error_name(text):
    """What gss-ntlmssp 1.2.0's acceptor means by its minor code, an errno
    (raw NTLMSSP: the errno itself; through SPNEGO the minor is remapped,
    e.g. 100005, and only the message text tells): measured, see README."""
    if 'Invalid argument' in text:
        return ' (NTLM: EINVAL, the response does not verify: wrong password)'
    if 'Permission denied' in text:
        return ' (NTLM: EACCES, user not in the NTLM user file)'
    return ' (NTLM)'


def mech_name(oid):
    dotted = getattr(oid, 'dotted_form', str(oid))
    return {'1.2.840.113554.1.2.2': 'krb5', '1.3.6.1.5.5.2': 'spnego',
            '1.3.6.1.4.1.311.2.2.10': 'ntlmssp'}.get(dotted, dotted)


# The krb5 error table (krb5/krb5_err.et) starts at this minor code; only the
# codes an acceptor meets in the tests are named.
KRB5_ERR_BASE = 0x96C73A00
KRB5_ERR_NAMES = {
    31: 'KRB5KRB_AP_ERR_BAD_INTEGRITY', 32: 'KRB5KRB_AP_ERR_TKT_EXPIRED',
    33: 'KRB5KRB_AP_ERR_TKT_NYV', 34: 'KRB5KRB_AP_ERR_REPEAT',
    35: 'KRB5KRB_AP_ERR_NOT_US', 36: 'KRB5KRB_AP_ERR_BADMATCH',
    37: 'KRB5KRB_AP_ERR_SKEW', 41: 'KRB5KRB_AP_ERR_MODIFIED',
    44: 'KRB5KRB_AP_ERR_BADKEYVER', 45: 'KRB5KRB_AP_ERR_NOKEY',
    46: 'KRB5KRB_AP_ERR_MUT_FAIL', 50: 'KRB5KRB_AP_ERR_INAPP_CKSUM',
}


def krb5_error_name(minor):
    """' KRB5KRB_AP_ERR_...' for a krb5 minor code.  Through SPNEGO the
    minor is remapped (e.g. 100005): the message text still tells."""
    name = KRB5_ERR_NAMES.get(minor - KRB5_ERR_BASE)
    if name:
        return ' ' + name
    if 0 <= minor - KRB5_ERR_BASE < 256:
        return ' krb5 error %d' % (minor - KRB5_ERR_BASE)
    return ''


OID_KRB5 = bytes.fromhex('06092a864886f712010202')
OID_SPNEGO = bytes.fromhex('06062b0601050502')


def gss_token_kind(tok):
    """A short description of a GSS token for the log (never its content)."""
    if not tok:
        return ''
    if tok[:1] == b'\xa1':
        return ' (SPNEGO NegTokenResp)'
    if tok[:1] == b'\x60':
        # RFC 2743 framing: 0x60, DER length, mech OID, mech token (krb5:
        # 2-byte token id first)
        n = tok[1] & 0x7F if len(tok) > 1 and tok[1] & 0x80 else 0
        body = tok[2 + n:]
        if body.startswith(OID_SPNEGO):
            return ' (SPNEGO NegTokenInit)'
        if body.startswith(OID_KRB5):
            tid = body[len(OID_KRB5):len(OID_KRB5) + 2]
            return {b'\x03\x00': ' (krb5 KRB-ERROR)', b'\x02\x00': ' (krb5 AP-REP)',
                    b'\x01\x00': ' (krb5 AP-REQ)'}.get(tid, ' (krb5)')
        return ' (GSS framed, other mechanism)'
    if tok.startswith(b'NTLMSSP\x00'):
        return ' (NTLMSSP)'
    return ' (unknown)'


def parse_map(spec):
    """--map PRINCIPAL=LOGIN -> (regex, login template)."""
    pat, sep, login = spec.rpartition('=')
    if not sep or not pat or not login:
        raise ValueError(spec)
    rx = re.compile('^' + re.escape(pat).replace(r'\*', '(.*)') + '$')
    return rx, login


def map_principal(maps, principal):
    """The login an authenticated principal maps to, or None.  The first
    matching rule wins.  LOGIN '*' alone is the principal itself; otherwise
    a '*' in LOGIN is what the '*' of PRINCIPAL matched."""
    for rx, login in maps:
        m = rx.match(principal)
        if not m:
            continue
        if login == '*':
            return principal
        if '*' in login and m.groups():
            return login.replace('*', m.group(1))
        return login
    return None


def parse_delay(text):
    """WAITFOR DELAY 'hh:mm[:ss[.mmm]]' -> seconds, or None."""
    m = re.match(r'^\s*(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,3}))?)?\s*$',
                 text)
    if not m:
        return None
    h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if h > 24 or mi > 59 or sec > 59:
        return None
    ms = int((m.group(4) or '0').ljust(3, '0'))
    return h * 3600 + mi * 60 + sec + ms / 1000.0


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


def build_prelogin_response(enc, fedauth_asked):
    v = SERVER_VERSION
    items = [(0, bytes([v[0], v[1]]) + struct.pack('>HH', v[2], v[3])),
             (1, bytes([enc])),
             (2, b'\x00'),
             (3, b''),
             (4, b'\x00')]
    if fedauth_asked:
        items.append((6, b'\x00'))
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


# --------------------------------------------------------------------- main

def setup_ntlm(ap, cfg):
    """gss-ntlmssp's acceptor reads its users from NTLM_USER_FILE and puts
    its NetBIOS computer and domain names into the CHALLENGE's target info
    (which NTLMv2 needs): NETBIOS_COMPUTER_NAME is the --server-name,
    NETBIOS_DOMAIN_NAME the domain of the file's first user (both unless
    already set in the environment)."""
    domain = None
    try:
        with open(cfg.ntlm_users, encoding='utf-8') as f:
            for line in f:
                parts = line.strip().split(':')
                if len(parts) >= 3 and not line.startswith('#'):
                    domain = parts[0]
                    break
    except OSError as e:
        ap.error('--ntlm-users: %s' % e)
    if domain is None:
        ap.error('--ntlm-users %s: no DOMAIN:user:password line'
                 % cfg.ntlm_users)
    from gssapi.raw import indicate_mechs
    if MECH_NTLMSSP not in {m.dotted_form for m in indicate_mechs()}:
        ap.error('--ntlm-users needs gss-ntlmssp (the NTLMSSP mechanism is '
                 'not registered with GSSAPI)')
    os.environ['NTLM_USER_FILE'] = cfg.ntlm_users
    os.environ.setdefault('NETBIOS_COMPUTER_NAME', cfg.server_name.upper())
    os.environ.setdefault('NETBIOS_DOMAIN_NAME', domain.upper() or 'WORKGROUP')
    log('NTLM enabled: users %s, computer %s, domain %s' % (
        cfg.ntlm_users, os.environ['NETBIOS_COMPUTER_NAME'],
        os.environ['NETBIOS_DOMAIN_NAME']))


TLS_VERSIONS = {'1.0': ssl.TLSVersion.TLSv1, '1.1': ssl.TLSVersion.TLSv1_1,
                '1.2': ssl.TLSVersion.TLSv1_2, '1.3': ssl.TLSVersion.TLSv1_3}


def make_ctx(cfg, alpn):
    """TLS context.  TDS 7.x (alpn False) defaults to at most TLS 1.2, as SQL
    Server does (TLS 1.3 only with TDS 8.0); --tls-max 1.3 lifts that."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg.cert, cfg.key)
    if cfg.tls_min:
        if TLS_VERSIONS[cfg.tls_min] < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
        ctx.minimum_version = TLS_VERSIONS[cfg.tls_min]
    if cfg.tls_max:
        ctx.maximum_version = TLS_VERSIONS[cfg.tls_max]
    elif not alpn and cfg.tls_min != '1.3':
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.num_tickets = 0
    except (AttributeError, ValueError):
        pass
    if alpn:
        ctx.set_alpn_protocols(['tds/8.0'])
    return ctx


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


def main(argv=None):
    ap = argparse.ArgumentParser(description='TDS 7.4/8.0 test server on SQLite')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--shm', metavar='PATH',
                    help='also serve shared memory (doc/shm-protocol.md) '
                         'through the rendezvous socket PATH')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--db', required=True, help='SQLite database file')
    ap.add_argument('--init', help='SQL script run at start-up')
    ap.add_argument('--user', action='append', default=[],
                    help='NAME:PASSWORD (repeatable)')
    ap.add_argument('--database', default='tdsc_test')
    ap.add_argument('--encryption', default='on', choices=sorted(ENC_NAMES))
    ap.add_argument('--cert')
    ap.add_argument('--key')
    ap.add_argument('--strict', action='store_true',
                    help='TDS 8.0: TLS first on every connection')
    ap.add_argument('--tds7-only', action='store_true',
                    help='behave as a server older than SQL Server 2022: '
                         'no TLS-first (TDS 8.0) connections')
    ap.add_argument('--tls-min', choices=sorted(TLS_VERSIONS))
    ap.add_argument('--tls-max', choices=sorted(TLS_VERSIONS))
    ap.add_argument('--server-name', default='TDSCTEST')
    ap.add_argument('--misbehave', choices=MISBEHAVE_MODES)
    ap.add_argument('--plp-unknown-length', action='store_true',
                    help='send every PLP value (max types) with '
                         'PLP_UNKNOWN_LEN instead of its length')
    ap.add_argument('--log')
    ap.add_argument('--keytab', help='service keytab: accept integrated '
                    '(Kerberos / SPNEGO) logins; needs python3-gssapi')
    ap.add_argument('--map', action='append', default=[],
                    metavar='PRINCIPAL=LOGIN',
                    help="authenticated principal -> login (repeatable; "
                         "'*@REALM=*' maps a realm's principals to themselves)")
    ap.add_argument('--no-integrated', action='store_true',
                    help='refuse integrated logins with 18452 (SQL logins only)')
    ap.add_argument('--ntlm-users', metavar='FILE',
                    help='accept NTLM integrated logins (raw NTLMSSP and '
                         'SPNEGO) checked by gss-ntlmssp against FILE, '
                         'lines DOMAIN:user:password (NTLM_USER_FILE)')
    ap.add_argument('--no-ntlm', action='store_true',
                    help='refuse NTLM (an NTLM NEGOTIATE gets 18452, no '
                         'CHALLENGE) even with --ntlm-users')
    ap.add_argument('--pipe', metavar='PATH',
                    help='also accept sessions on the AF_UNIX socket PATH '
                         '(a named pipe on POSIX, doc/local-endpoints.md)')
    ap.add_argument('--ssrp-port', type=int, metavar='PORT',
                    help='answer SQL Server Browser (MC-SQLR) requests on '
                         'UDP PORT at --host, for --instance')
    ap.add_argument('--instance', default='MSSQLSERVER',
                    help='instance name the SQL Server Browser answers for')
    tds_liar.add_arguments(ap)  # HOOK(tds_liar)
    args = ap.parse_args(argv)

    global _log_file, _sqlite
    for mod in (tds_expr, tds_stream, tds_xact):
        mod.S = sys.modules[__name__]
    tds_stream.plp_unknown_length = args.plp_unknown_length
    if args.log:
        _log_file = open(args.log, 'a', encoding='utf-8')
    _sqlite = SQLiteLib()

    cfg = Config()
    cfg.db = args.db
    cfg.database = args.database
    cfg.encryption = args.encryption
    cfg.strict = args.strict
    cfg.tds7_only = args.tds7_only
    cfg.server_name = args.server_name
    cfg.misbehave = args.misbehave
    tds_liar.configure(cfg, args, sys.modules[__name__])  # HOOK(tds_liar)
    cfg.cert, cfg.key = args.cert, args.key or args.cert
    cfg.tls_min, cfg.tls_max = args.tls_min, args.tls_max
    cfg.users = {}
    cfg.keytab = os.path.abspath(args.keytab) if args.keytab else None
    cfg.ntlm_users = os.path.abspath(args.ntlm_users) if args.ntlm_users else None
    cfg.ntlm = bool(cfg.ntlm_users) and not args.no_ntlm
    cfg.integrated = bool(cfg.keytab or cfg.ntlm) and not args.no_integrated
    cfg.maps = []
    for spec in args.map:
        try:
            cfg.maps.append(parse_map(spec))
        except ValueError:
            ap.error('--map wants PRINCIPAL=LOGIN, got %r' % spec)
    if cfg.integrated:
        if cfg.keytab and not os.path.isfile(cfg.keytab):
            ap.error('--keytab %s: no such file' % cfg.keytab)
        try:
            # fail at start-up rather than at the first integrated login
            __import__('gssapi.raw')
        except ImportError:
            ap.error('--keytab / --ntlm-users need python3-gssapi')
        # Also for anything that reads the default keytab (with NTLM, the
        # krb5 acceptor finds it only this way).
        if cfg.keytab:
            os.environ['KRB5_KTNAME'] = 'FILE:' + cfg.keytab
    if cfg.ntlm:
        setup_ntlm(ap, cfg)
    for u in args.user:
        name, sep, pw = u.partition(':')
        if not sep:
            ap.error('--user wants NAME:PASSWORD')
        cfg.users[name] = pw
    if cfg.cert:
        cfg.ctx7 = make_ctx(cfg, False)
        cfg.ctx_strict = make_ctx(cfg, True)
    else:
        cfg.ctx7 = cfg.ctx_strict = None
        if args.strict or args.encryption in ('on', 'req'):
            ap.error('--encryption %s / --strict need --cert and --key'
                     % args.encryption)

    if args.init:
        with open(args.init, encoding='utf-8') as f:
            script = ';\n'.join(translate(st) for st, _ in
                                 split_statements(f.read())) + ';\n'
        con = sqlite3.connect(args.db)
        con.executescript(script)
        con.commit()
        con.close()
    else:
        sqlite3.connect(args.db).close()

    family = socket.AF_INET6 if ':' in args.host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.host, args.port))
    lsock.listen(64)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    log('listening on %s port %d encryption=%s strict=%s misbehave=%s' % (
        args.host, port, args.encryption, args.strict, args.misbehave))

    stop = threading.Event()
    signalled = []

    def on_signal(signum, frame):
        # Nothing here may take a lock: a second signal can run this
        # handler again inside the first (timeout(1) sends SIGTERM to its
        # child and then to its group), and Event.set() takes a lock that
        # the interrupted call holds -- the server then waits for itself
        # for ever.  The main loop below sets `stop` for the threads.
        signalled.append(signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    shm = ShmListener(cfg, args.shm, stop) if args.shm else None
    pipe = PipeListener(cfg, args.pipe, stop) if args.pipe else None
    ssrp = (SSRPResponder(args.host, args.ssrp_port, args.instance, port,
                          args.pipe, stop)
            if args.ssrp_port is not None else None)

    sys.stdout.write('READY %d\n' % port)
    sys.stdout.flush()

    n = 0
    while not signalled:
        try:
            sock, addr = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            if signalled:
                break
            raise
        sock.settimeout(None)
        spid = 51 + n
        n += 1
        log('connection %d from %s' % (spid, addr[:2]))
        s = Session(cfg, sock, addr, spid)
        threading.Thread(target=s.run, name='spid%d' % spid, daemon=True).start()
    # Whoever stopped us waits for us: should the way out stall (a session
    # thread holding a lock the interpreter's exit needs), print every
    # thread's stack to the error log and leave anyway.
    faulthandler.dump_traceback_later(5, exit=True, file=sys.stderr)
    stop.set()
    lsock.close()
    if shm:
        shm.close()
    if pipe:
        pipe.close()
    if ssrp:
        ssrp.close()
    log('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
