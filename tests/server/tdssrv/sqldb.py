"""SQLite through ctypes (declared column types visible), with the
progress handler that lets an attention stop a statement."""

import ctypes

from . import tds_stream
from .sqlfuncs import (SQLITE_BLOB, SQLITE_DONE, SQLITE_FLOAT, SQLITE_INTEGER,
                       SQLITE_INTERRUPT, SQLITE_OK, SQLITE_OPEN_CREATE,
                       SQLITE_OPEN_FULLMUTEX, SQLITE_OPEN_READWRITE,
                       SQLITE_ROW, SQLITE_TEXT, register_functions)


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
        f('sqlite3_bind_parameter_count', ip, vp)
        f('sqlite3_bind_parameter_name', cp, vp, ip)
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


def load_sqlite():
    """Loads libsqlite3 (once, at start-up)."""
    global _sqlite
    _sqlite = SQLiteLib()

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
        register_functions(self.lib.raw, self.db)
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
        # T-SQL names are case-insensitive (@P1 in the text, @p1 bound);
        # SQLite's are not: match them by lower-case name
        lower = {k.lower(): v for k, v in params.items()}
        for i in range(1, lib.bind_parameter_count(stmt) + 1):
            pn = lib.bind_parameter_name(stmt, i)
            if pn is None:
                continue
            name = pn.decode('utf-8', 'replace')
            if name.lower() not in lower:
                continue
            v = lower[name.lower()]
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
