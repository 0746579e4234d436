"""One client connection: the session (requests, batches, statements,
errors); login in login.py, maintenance statements in
maintenance.py."""

import re
import sqlite3
import ssl

from . import tds_checks
from . import tds_expr
from . import tds_rpc
from . import tds_stream
from . import tds_xact
from .coltypes import (Column, ConvError, as_str, colmetadata,
                       column_from_decl, column_from_values, encode_row)
from .log import log
from .login import LoginMixin
from .maintenance import MaintenanceMixin
from .sqldb import SQLiteError
from .sqlfuncs import parse_error
from .translate import (parse_delay, split_statements, strip_comments,
                        translate, unquote_sql)
from .wire import (Closed, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_FINAL,
                   DONE_MORE, PKT_ATTENTION, PKT_REPLY, PKT_RPC, PKT_SQLBATCH,
                   PKT_TM, TDSConn, TOK_DONE, TOK_ERROR, TOK_INFO, TOK_ROW,
                   tok_done, tok_envchange, tok_msg)


# ------------------------------------------------------------------- server

class Config:
    pass


class Session(LoginMixin, MaintenanceMixin):
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
        # the token that ends a statement: DONE in a batch, DONEINPROC in a
        # procedure or sp_executesql (set by tds_rpc while it runs them)
        self.done_tok = TOK_DONE
        self.verb = 'insert'    # first word of the running statement
        self.nocount = False    # SET NOCOUNT ON: no DONE_COUNT

    # -------------------------------------------------------------- helpers
    def err(self, number, cls, text, state=1, line=1):
        return tok_msg(TOK_ERROR, number, state, cls, text, self.cfg.server_name,
                       '', line)

    def info(self, number, text, state=1, cls=0, line=1):
        return tok_msg(TOK_INFO, number, state, cls, text, self.cfg.server_name,
                       '', line)

    def done(self, status, curcmd=0, count=0):
        """The DONE (or DONEINPROC, see done_tok) ending a statement;
        under SET NOCOUNT ON without DONE_COUNT, as SQL Server sends it."""
        if self.nocount:
            status &= ~DONE_COUNT
        return tok_done(status, curcmd, count, self.done_tok)

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
                        self.done(DONE_ERROR | more))
            old, self.database = self.database, name
            return (tok_envchange(1, name, old) +
                    self.info(5701, "Changed database context to '%s'." % name,
                              1, line=line) + self.done(more))
        if re.match(r'set\s', low):
            m = re.match(r'set\s+nocount\s+(on|off)\s*$', low)
            if m:
                self.nocount = m.group(1) == 'on'
            return self.done(more)
        m = re.match(r"waitfor\s+delay\s+n?'([^']*)'\s*$", body, re.I)
        if m:
            secs = parse_delay(m.group(1))
            if secs is None:
                return (self.err(148, 15, "Incorrect time syntax in time "
                                 "string '%s' used with WAITFOR." %
                                 m.group(1), line=line) +
                        self.done(DONE_ERROR | more))
            log('connection %d WAITFOR DELAY %.3f s' % (self.spid, secs))
            tds_stream.waitfor(self.w, secs)
            return self.done(more)
        m = re.match(r'if\s+@@trancount\s*(>=|<=|<>|!=|=|>|<)\s*(\d+)\s+(.+)$',
                     body, re.I | re.S)
        if m:
            n, k = tds_xact.state(self).trancount, int(m.group(2))
            op = m.group(1)
            true = {'>=': n >= k, '<=': n <= k, '<>': n != k, '!=': n != k,
                    '=': n == k, '>': n > k, '<': n < k}[op]
            if not true:
                return self.done(more)
            return self._statement(m.group(3), line, more, params, ptypes,
                                   rpc_params)
        res = tds_xact.statement(self, body, line, more)
        if res is not None:
            return res
        m = re.match(r"print\s+n?'((?:[^']|'')*)'\s*$", body, re.I | re.S)
        if m:
            return (self.info(0, unquote_sql(m.group(1)), 1, 0, line) +
                    self.done(more))
        m = re.match(r'raiserror\s*\(\s*n?\'((?:[^\']|\'\')*)\'\s*,\s*(-?\d+)'
                     r'\s*,\s*(\d+)\s*\)', body, re.I | re.S)
        if m:
            sev, state = int(m.group(2)), int(m.group(3))
            msg = unquote_sql(m.group(1))
            if sev > 10:
                return (self.err(50000, sev, msg, state, line) +
                        self.done(DONE_ERROR | more))
            return self.info(50000, msg, state, sev, line) + self.done(more)
        if re.match(r'(dbcc|backup|restore)\s', low):
            return self.maintenance(body, line, more)
        if re.match(r'select\s+@@version\s*$', low):
            col = Column('', 'nvarchar', True, 8000)
            return (colmetadata([col]) + encode_row([col], [self.version()]) +
                    self.done(DONE_COUNT | more, 0xC1, 1))
        if re.match(r'select\s+@@spid\s*$', low):
            col = Column('', 'int', True, 2)
            return (colmetadata([col]) + encode_row([col], [self.spid]) +
                    self.done(DONE_COUNT | more, 0xC1, 1))
        if re.match(r'select\s+@@trancount\s*$', low):
            col = Column('', 'int', True, 4)
            return (colmetadata([col]) +
                    encode_row([col], [tds_xact.state(self).trancount]) +
                    self.done(DONE_COUNT | more, 0xC1, 1))
        m = re.match(r'print\s+(.*)$', body, re.I | re.S)
        if m:
            try:
                cols, rows, _, _ = self.db.execute('SELECT ' + translate(m.group(1), self.consts()))
                val = rows[0][0] if rows else None
            except SQLiteError as e:
                return self.sql_error(str(e), line, more)
            return (self.info(0, '' if val is None else as_str(val), 1, 0, line)
                    + self.done(more))
        try:
            rw = tds_expr.rewrite(body, rpc_params, self.table_decl)
        except tds_expr.ExprError as e:
            num, cls, text = e.args
            return (self.err(num, cls, text, line=line) +
                    self.done(DONE_ERROR | more))
        binds = dict(params or {})
        binds.update(rw.binds)
        self.verb = low.split(None, 1)[0] if low else ''
        tds_checks.ensure(self, rw.sql)
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
                        self.done(DONE_ERROR | more))
            return self.done(DONE_COUNT | more, 0xC1, len(rows))
        if first in ('insert', 'update', 'delete', 'replace', 'merge'):
            cmd = {'insert': 0xC3, 'delete': 0xC4, 'update': 0xC5}.get(first, 0xC3)
            return self.done(DONE_COUNT | more, cmd, changes)
        return self.done(more)

    def sql_error(self, msg, line, more):
        cls, state = 16, 1
        known = parse_error(msg)
        if known:
            num, cls, state, text = known
            return self.err(num, cls, text, state, line) + \
                self.done(DONE_ERROR | more)
        c = re.match(r'(NOT NULL|UNIQUE) constraint failed: (.*)$', msg,
                     re.S)
        m = re.match(r'near "(.*)": syntax error', msg, re.S)
        if c and c.group(1) == 'NOT NULL':
            # SQL Server's 515 (class 16, state 2)
            tbl, _, col = c.group(2).partition('.')
            num, state = 515, 2
            text = ("Cannot insert the value NULL into column '%s', table "
                    "'%s.dbo.%s'; column does not allow nulls. %s fails."
                    % (col, self.database, tbl, self.verb.upper()))
        elif c:
            num, cls, text = self.unique_violation(c.group(2))
        elif m:
            num, text = 102, "Incorrect syntax near '%s'." % m.group(1)
        elif msg.startswith('incomplete input'):
            num, text = 102, 'Incorrect syntax near the end of the batch.'
        elif msg.startswith('no such table: '):
            num, text = 208, "Invalid object name '%s'." % msg[len('no such table: '):]
        elif msg.startswith('no such column: '):
            num, text = 207, "Invalid column name '%s'." % msg[len('no such column: '):]
        else:
            num, text = 50000, msg
        return self.err(num, cls, text, state, line) + \
            self.done(DONE_ERROR | more)

    def unique_violation(self, what):
        """SQL Server's error for SQLite's 'UNIQUE constraint failed: t.a,
        t.b': 2627 (class 14) for a PRIMARY KEY or UNIQUE constraint, 2601
        for a unique index.  The duplicate value is not named (SQLite does
        not say which it was; SQL Server 2014 and later append it)."""
        cols = [c.strip().partition('.') for c in what.split(',')]
        tbl = cols[0][0]
        names = [c[2] for c in cols]
        kind, index = 'u', None
        try:
            _, idx, _, _ = self.db.execute('PRAGMA index_list("%s")'
                                           % tbl.replace('"', '""'))
            for r in idx:         # seq, name, unique, origin, partial
                if not r[2]:
                    continue
                _, ic, _, _ = self.db.execute('PRAGMA index_info("%s")'
                                              % r[1].replace('"', '""'))
                if [c[2] for c in ic] == names:
                    kind, index = r[3], r[1]
                    break
            if index is None:     # INTEGER PRIMARY KEY: no index
                kind = 'pk'
        except SQLiteError:
            pass
        if kind == 'c':
            return 2601, 14, ("Cannot insert duplicate key row in object "
                              "'dbo.%s' with unique index '%s'." % (tbl, index))
        label = 'PRIMARY KEY' if kind == 'pk' else 'UNIQUE KEY'
        name = '%s__%s__%s' % ('PK' if kind == 'pk' else 'UQ', tbl[:8],
                               '_'.join(names)[:16])
        return 2627, 14, ("Violation of %s constraint '%s'. Cannot insert "
                          "duplicate key in object 'dbo.%s'." %
                          (label, name, tbl))

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
