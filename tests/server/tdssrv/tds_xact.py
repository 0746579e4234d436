"""Transactions for tdsserver.py: Transaction Manager requests (packet type
0x0E, MS-TDS 2.2.6.9), BEGIN / COMMIT / ROLLBACK / SAVE TRANSACTION in
batches, the transaction descriptor every request carries in ALL_HEADERS
(2.2.5.3.2), and the ENVCHANGEs that announce a transaction's start and end
(2.2.7.9, types 8, 9, 10).  Each session has its own SQLite connection;
its transaction maps to SQLite's BEGIN / COMMIT / ROLLBACK / SAVEPOINT /
ROLLBACK TO, so data really is rolled back and stays invisible to other
sessions until committed.

Part of the tdssrv package (see __init__.py).  Standard library only."""

import itertools
import re
import struct

from .log import log
from .sqldb import SQLiteError, sqlite_autocommit
from .wire import (DONE_ERROR, DONE_FINAL, TOK_DONE, skip_all_headers,
                   tok_done, tok_envchange)


# Descriptors: distinct, nonzero, and using all 8 bytes, so that a client
# that keeps fewer bytes or echoes a stale one is caught.
_descriptors = itertools.count(0x5444534300000001)   # "TDSC" + n

TM_GET_DTC_ADDRESS, TM_PROPAGATE_XACT = 0, 1
TM_BEGIN_XACT, TM_PROMOTE_XACT = 5, 6
TM_COMMIT_XACT, TM_ROLLBACK_XACT, TM_SAVE_XACT = 7, 8, 9

ENV_BEGIN, ENV_COMMIT, ENV_ROLLBACK = 8, 9, 10

MSG_3902 = ('The COMMIT TRANSACTION request has no corresponding BEGIN '
            'TRANSACTION.')
MSG_3903 = ('The ROLLBACK TRANSACTION request has no corresponding BEGIN '
            'TRANSACTION.')
MSG_3989 = ('New request is not allowed to start because it should come '
            'with valid transaction descriptor.')
MSG_6401 = ('Cannot roll back %s. No transaction or savepoint of that name '
            'was found.')
MSG_628 = 'Cannot issue SAVE TRANSACTION when there is no active transaction.'

_NAME = r'(\[(?:[^\]]|\]\])+\]|[A-Za-z_#@][\w@#$]*)'
_BEGIN_RE = re.compile(r'begin\s+tran(?:saction)?(?:\s+' + _NAME + r')?'
                       r"(?:\s+with\s+mark(?:\s+n?'(?:[^']|'')*')?)?\s*$",
                       re.I | re.S)
_COMMIT_RE = re.compile(r'commit(?:\s+(?:tran(?:saction)?|work)(?:\s+' +
                        _NAME + r')?)?(?:\s+with\s*\(.*\))?\s*$', re.I | re.S)
_ROLLBACK_RE = re.compile(r'rollback(?:\s+(?:tran(?:saction)?|work)(?:\s+' +
                          _NAME + r')?)?\s*$', re.I | re.S)
_SAVE_RE = re.compile(r'save\s+tran(?:saction)?\s+' + _NAME + r'\s*$',
                      re.I | re.S)
# statements SQLite would take as its own transaction control
_GUARD_RE = re.compile(r'(begin|commit|rollback|save|end|savepoint|release)'
                       r'(?![\w@#$])', re.I)


def _name(m):
    n = m.group(1) if m and m.lastindex else None
    if not n:
        return ''
    if n.startswith('['):
        return n[1:-1].replace(']]', ']')
    return n


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


class State:
    """One session's transaction: @@TRANCOUNT, the descriptor, the
    outermost transaction's name and the savepoints (most recent last)."""

    def __init__(self):
        self.trancount = 0
        self.desc = 0
        self.name = ''
        self.savepoints = []
        self.isolation = 0

    @property
    def desc_bytes(self):
        return struct.pack('<Q', self.desc)


def state(sess):
    st = getattr(sess, 'xact', None)
    if st is None:
        st = sess.xact = State()
    return st


# ------------------------------------------------------------ ALL_HEADERS

def parse_all_headers(p):
    """ALL_HEADERS (2.2.5.3): (offset of what follows, transaction
    descriptor or None if the request has no descriptor header)."""
    off = skip_all_headers(p)
    if not off:
        return 0, None
    desc = None
    pos = 4
    while pos + 6 <= off:
        hlen, htype = struct.unpack_from('<IH', p, pos)
        if hlen < 6 or pos + hlen > off:
            break
        if htype == 0x0002 and hlen >= 6 + 8:
            desc = struct.unpack_from('<Q', p, pos + 6)[0]
        pos += hlen
    return off, desc


def check_descriptor(sess, payload, done_tok=None):
    """The descriptor check SQL Server makes on every SQLBatch, RPC and TM
    request: while a transaction is open the request must carry its
    descriptor, otherwise 0.  Returns (offset after ALL_HEADERS, None) or
    (offset, the error answer)."""
    off, desc = parse_all_headers(payload)
    expected = state(sess).desc
    if (desc or 0) == expected:
        return off, None
    log('connection %d: request descriptor %s, expected 0x%016x: 3989' % (
        sess.spid, 'none' if desc is None else '0x%016x' % desc, expected))
    return off, (sess.err(3989, 16, MSG_3989) +
                 tok_done(DONE_ERROR, 0, 0, done_tok or TOK_DONE))


# ------------------------------------------------------------ operations
# Each returns (tokens that must reach the client even on cancel: the
# ENVCHANGEs, error tokens or None); SQLite failures raise SQLiteError.

def begin(sess, name='', isolation=0):
    st = state(sess)
    if st.trancount == 0:
        sess.db.execute('BEGIN')
        st.trancount = 1
        st.desc = next(_descriptors)
        st.name = name
        st.savepoints = []
        st.isolation = isolation
        log('connection %d: BEGIN TRANSACTION %r descriptor 0x%016x' % (
            sess.spid, name, st.desc))
        return tok_envchange(ENV_BEGIN, st.desc_bytes, b''), None
    st.trancount += 1            # nested: only @@TRANCOUNT changes
    return b'', None


def _end(sess, sql, env):
    """COMMIT or ROLLBACK of the whole transaction.  If SQLite fails, the
    state stays (after_statement() notices if SQLite ended it anyway)."""
    st = state(sess)
    old = st.desc_bytes
    sess.db.execute(sql)
    st.__init__()
    log('connection %d: %s' % (sess.spid, sql))
    return tok_envchange(env, b'', old)


def commit(sess, whole=False):
    st = state(sess)
    if st.trancount == 0:
        return b'', sess.err(3902, 16, MSG_3902)
    if st.trancount > 1 and not whole:
        st.trancount -= 1
        return b'', None
    return _end(sess, 'COMMIT', ENV_COMMIT), None


def rollback(sess, name=''):
    st = state(sess)
    if st.trancount == 0:
        return b'', sess.err(3903, 16, MSG_3903)
    if name and name != st.name:
        # T-SQL names are case sensitive; the most recent savepoint wins
        if name in st.savepoints:
            i = len(st.savepoints) - 1 - st.savepoints[::-1].index(name)
            sess.db.execute('ROLLBACK TO ' + _quote(name))
            del st.savepoints[i + 1:]
            log('connection %d: ROLLBACK TO %r' % (sess.spid, name))
            return b'', None
        return b'', sess.err(6401, 16, MSG_6401 % name)
    return _end(sess, 'ROLLBACK', ENV_ROLLBACK), None


def save(sess, name):
    st = state(sess)
    if st.trancount == 0:
        return b'', sess.err(628, 16, MSG_628)
    sess.db.execute('SAVEPOINT ' + _quote(name))
    st.savepoints.append(name)
    return b'', None


def after_statement(sess):
    """SQLite ends a transaction itself after some errors (SQLITE_FULL,
    IOERR, BUSY during COMMIT...): tell the client, as SQL Server does when
    it rolls a transaction back."""
    st = state(sess)
    if st.trancount and sqlite_autocommit(sess.db):
        old = st.desc_bytes
        st.__init__()
        log('connection %d: SQLite ended the transaction' % sess.spid)
        return tok_envchange(ENV_ROLLBACK, b'', old)
    return b''


def close(sess):
    """The connection is closing: an open transaction is rolled back."""
    st = getattr(sess, 'xact', None)
    if st is not None and st.trancount and sess.db:
        log('connection %d: closing with @@TRANCOUNT %d: rolled back' % (
            sess.spid, st.trancount))
        try:
            sess.db.execute('ROLLBACK')
        except SQLiteError:
            pass
        st.__init__()


# ------------------------------------------------------------ T-SQL

def statement(sess, body, line, more):
    """BEGIN TRAN[SACTION] [name], COMMIT [TRAN[SACTION] [name]],
    ROLLBACK [TRAN[SACTION] [name]], SAVE TRAN[SACTION] name.  Writes the
    ENVCHANGE (sticky) to the session's response and returns the rest (an
    error and DONE), or None if body is no transaction statement."""
    if not _GUARD_RE.match(body):
        return None
    try:
        m = _BEGIN_RE.match(body)
        if m:
            env, err = begin(sess, _name(m))
        else:
            m = _COMMIT_RE.match(body)
            if m:
                env, err = commit(sess)
            else:
                m = _ROLLBACK_RE.match(body)
                if m:
                    env, err = rollback(sess, _name(m))
                else:
                    m = _SAVE_RE.match(body)
                    if not m:
                        word = body.split(None, 1)[0]
                        return (sess.err(102, 15, "Incorrect syntax near "
                                         "'%s'." % word, line=line) +
                                sess.done(DONE_ERROR | more))
                    env, err = save(sess, _name(m))
    except SQLiteError as e:
        return sess.sql_error(str(e), line, more)
    if env:
        sess.w.token(env, sticky=True)
    if err:
        return _at_line(err, line) + sess.done(DONE_ERROR | more)
    return sess.done(more)


def _at_line(err, line):
    """An error token built with line 1, moved to the statement's line."""
    if line == 1:
        return err
    return err[:-4] + struct.pack('<i', line)


# ------------------------------------------------------------ TM requests

class _Reader:
    def __init__(self, p, off):
        self.p, self.o = p, off

    def u8(self):
        if self.o >= len(self.p):
            return 0
        self.o += 1
        return self.p[self.o - 1]

    def u16(self):
        if self.o + 2 > len(self.p):
            return None
        self.o += 2
        return struct.unpack_from('<H', self.p, self.o - 2)[0]

    def name(self):
        """A transaction or savepoint name: B_VARBYTE holding UTF-16LE, so
        the length is a count of bytes, not characters (2.2.6.9 spells
        the names B_VARBYTE; Microsoft's mssql-tds writes len * 2)."""
        n = self.u8()
        s = bytes(self.p[self.o:self.o + n]).decode('utf-16-le', 'replace')
        self.o += n
        return s


def tm_request(sess, payload, off):
    """A Transaction Manager request (2.2.6.9) after its ALL_HEADERS:
    writes the answer (ENVCHANGEs, errors, DONE) to sess.w."""
    r = _Reader(payload, off)
    req = r.u16()
    env = b''
    errs = []
    try:
        if req == TM_BEGIN_XACT:
            iso = r.u8()
            e, err = begin(sess, r.name(), iso)
            env += e
            errs.append(err)
        elif req in (TM_COMMIT_XACT, TM_ROLLBACK_XACT):
            name = r.name()
            flags = r.u8()
            if req == TM_COMMIT_XACT:
                # the API's transaction: all of it, whatever the nesting
                e, err = commit(sess, whole=True)
            else:
                e, err = rollback(sess, name)
            env += e
            errs.append(err)
            if flags & 0x01 and err is None and e:
                # fBeginXact: a new transaction at once
                iso = r.u8()
                e, err = begin(sess, r.name(), iso)
                env += e
                errs.append(err)
        elif req == TM_SAVE_XACT:
            e, err = save(sess, r.name())
            errs.append(err)
        else:
            errs.append(sess.err(50000, 16, 'Transaction manager request '
                                 'type %s is not supported by this server.'
                                 % req))
    except SQLiteError as e:
        sess.w.token(env, sticky=True)
        sess.w.token(sess.sql_error(str(e), 1, 0))
        return
    log('connection %d TM request %s: trancount %d' % (
        sess.spid, req, state(sess).trancount))
    sess.w.token(env, sticky=True)
    errs = [e for e in errs if e]
    sess.w.token(b''.join(errs) +
                 tok_done(DONE_ERROR if errs else DONE_FINAL))
