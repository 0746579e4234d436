"""SQLite C API constants and the T-SQL functions the server adds to
each SQLite connection (DATALENGTH, HASHBYTES, REPLICATE, LEN, and
the ones that raise SQL Server's runtime errors)."""

import ctypes
import re
import threading
import hashlib


# SQLite C API constants
SQLITE_OK = 0
SQLITE_INTERRUPT = 9
SQLITE_ROW = 100
SQLITE_DONE = 101
SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL = 1, 2, 3, 4, 5
SQLITE_OPEN_READWRITE = 0x02
SQLITE_OPEN_CREATE = 0x04
SQLITE_OPEN_FULLMUTEX = 0x10000

HASH_ALGS = {'md2': None, 'md4': 'md4', 'md5': 'md5', 'sha': 'sha1',
             'sha1': 'sha1', 'sha2_256': 'sha256', 'sha2_512': 'sha512'}


# ---------------------------------------------------- SQLite functions

SQLITE_UTF8 = 1
SQLITE_DETERMINISTIC = 0x800
SQLITE_TRANSIENT = ctypes.c_void_p(-1)

_lib = None
_FUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int,
                         ctypes.POINTER(ctypes.c_void_p))
_callbacks = []
_callbacks_lock = threading.Lock()


def _setup(raw):
    global _lib
    if _lib is not None:
        return _lib
    vp, ip = ctypes.c_void_p, ctypes.c_int

    def f(name, res, *args):
        fn = getattr(raw, name)
        fn.restype = res
        fn.argtypes = list(args)
        return fn
    _lib = {
        'create': f('sqlite3_create_function_v2', ip, vp, ctypes.c_char_p,
                    ip, ip, vp, _FUNC, vp, vp, vp),
        'vtype': f('sqlite3_value_type', ip, vp),
        'vblob': f('sqlite3_value_blob', vp, vp),
        'vtext': f('sqlite3_value_text', vp, vp),
        'vbytes': f('sqlite3_value_bytes', ip, vp),
        'vint': f('sqlite3_value_int64', ctypes.c_int64, vp),
        'vdouble': f('sqlite3_value_double', ctypes.c_double, vp),
        'rint': f('sqlite3_result_int64', None, vp, ctypes.c_int64),
        'rdouble': f('sqlite3_result_double', None, vp, ctypes.c_double),
        'rnull': f('sqlite3_result_null', None, vp),
        'rblob': f('sqlite3_result_blob64', None, vp, ctypes.c_char_p,
                   ctypes.c_uint64, vp),
        'rtext': f('sqlite3_result_text', None, vp, ctypes.c_char_p, ip, vp),
        'rerror': f('sqlite3_result_error', None, vp, ctypes.c_char_p, ip),
    }
    return _lib


def _arg(lib, argv, i):
    v = argv[i]
    t = lib['vtype'](v)
    if t == SQLITE_NULL:
        return None
    if t == SQLITE_INTEGER:
        return lib['vint'](v)
    if t == SQLITE_FLOAT:
        return lib['vdouble'](v)
    if t == SQLITE_BLOB:
        n = lib['vbytes'](v)
        p = lib['vblob'](v)
        return ctypes.string_at(p, n) if n else b''
    p = lib['vtext'](v)
    n = lib['vbytes'](v)
    return ctypes.string_at(p, n).decode('utf-8', 'replace')


def _tsql_bytes(v, kind=None):
    """A SQLite value's bytes as SQL Server would hold it: text as UTF-16LE
    (nvarchar) unless the column is declared (var)char/text."""
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        if kind in ('varchar', 'char', 'text'):
            return v.encode('cp1252', 'replace')
        return v.encode('utf-16-le')
    return None


def _fn_datalength(lib, ctx, args):
    v = args[0]
    kind = args[1] if len(args) > 1 else None
    if v is None:
        lib['rnull'](ctx)
    elif isinstance(v, (bytes, str)):
        lib['rint'](ctx, len(_tsql_bytes(v, kind)))
    else:
        lib['rint'](ctx, 8)


def _fn_hashbytes(lib, ctx, args):
    alg = HASH_ALGS.get(str(args[0]).lower())
    v = args[1]
    kind = args[2] if len(args) > 2 else None
    if alg is None:
        lib['rerror'](ctx, b'hashbytes: unknown algorithm', -1)
        return
    if v is None:
        lib['rnull'](ctx)
        return
    if not isinstance(v, (bytes, str)):
        v = str(v)
    d = hashlib.new(alg, _tsql_bytes(v, kind)).digest()
    lib['rblob'](ctx, d, len(d), SQLITE_TRANSIENT)


def _fn_replicate(lib, ctx, args):
    v, n = args
    if v is None or n is None or int(n) < 0:
        lib['rnull'](ctx)
        return
    r = v * int(n)
    if isinstance(r, bytes):
        lib['rblob'](ctx, r, len(r), SQLITE_TRANSIENT)
    else:
        b = str(r).encode('utf-8')
        lib['rtext'](ctx, b, len(b), SQLITE_TRANSIENT)


def _fn_len(lib, ctx, args):
    v = args[0]
    if v is None:
        lib['rnull'](ctx)
        return
    if isinstance(v, bytes):
        lib['rint'](ctx, len(v))
        return
    # UTF-16 code units, as SQL Server counts in a collation without
    # supplementary-character support (a character beyond U+FFFF is 2)
    lib['rint'](ctx, len(str(v).rstrip(' ').encode('utf-16-le')) // 2)


# ------------------------------------------- SQL Server's runtime errors
# SQLite is lenient where SQL Server raises an error a client must handle
# (1/0 is NULL, CAST('abc' AS int) is 0, a varchar(3) column takes 'abcd').
# These functions, put in by rewrite() and by the session's temporary
# triggers (tds_checks.py), raise SQL Server's error instead; the message
# travels through SQLite as 'tdsc-error:NUMBER:CLASS:STATE:text' and the
# session turns it into an ERROR token (Session.sql_error).  SQLite aborts
# the statement and undoes its changes, as SQL Server does for these
# statement-level errors.

ERR_PREFIX = 'tdsc-error:'


class TsqlError(Exception):
    def __init__(self, number, cls, state, text):
        super().__init__('%s%d:%d:%d:%s' % (ERR_PREFIX, number, cls, state,
                                            text))


def parse_error(msg):
    """(number, class, state, text) from a tdsc-error message, else None."""
    if not msg.startswith(ERR_PREFIX):
        return None
    num, cls, state, text = msg[len(ERR_PREFIX):].split(':', 3)
    return int(num), int(cls), int(state), text


INT_RANGES = {'tinyint': (0, 255), 'smallint': (-32768, 32767),
              'int': (-2 ** 31, 2 ** 31 - 1), 'bigint': (-2 ** 63, 2 ** 63 - 1),
              'bit': (None, None)}
_INT_TEXT = re.compile(r'^\s*[+-]?\d+\s*$')


def _value_text(v):
    return v if isinstance(v, str) else repr(v)


def to_int(v, typ, src='varchar'):
    """CAST / CONVERT of v to an integer type, or SQL Server's error."""
    if v is None:
        return None
    lo, hi = INT_RANGES[typ]
    if isinstance(v, bytes):
        v = int.from_bytes(v[-8:], 'big', signed=len(v) >= 8)
    elif isinstance(v, str):
        if not _INT_TEXT.match(v):
            raise TsqlError(245, 16, 1, "Conversion failed when converting "
                            "the %s value '%s' to data type %s."
                            % (src, v, typ))
        n = int(v)
        if typ == 'bit':
            return 1 if n else 0
        if not lo <= n <= hi:
            raise TsqlError(248, 16, 1, "The conversion of the %s value "
                            "'%s' overflowed %s %s column."
                            % (src, v.strip(), 'an' if typ == 'int' else 'a',
                               typ))
        return n
    if typ == 'bit':
        return 1 if v else 0
    n = int(v)                  # float: toward zero, as SQL Server
    if not lo <= n <= hi:
        if isinstance(v, float):
            raise TsqlError(8115, 16, 2, 'Arithmetic overflow error '
                            'converting float to data type %s.' % typ)
        if typ in ('tinyint', 'smallint'):
            raise TsqlError(220, 16, 2, 'Arithmetic overflow error for data '
                            'type %s, value = %d.' % (typ, n))
        raise TsqlError(8115, 16, 2, 'Arithmetic overflow error converting '
                        'expression to data type %s.' % typ)
    return n


def _fn_int(lib, ctx, args):
    v = to_int(args[0], str(args[1]), *(args[2:] or ['varchar']))
    if v is None:
        lib['rnull'](ctx)
    else:
        lib['rint'](ctx, v)


def _fn_nz(lib, ctx, args):
    """The divisor of / and %: SQL Server raises 8134 for zero."""
    v = args[0]
    if v is not None and not isinstance(v, (str, bytes)) and v == 0:
        raise TsqlError(8134, 16, 1, 'Divide by zero error encountered.')
    _result(lib, ctx, v)


def _fn_raise(lib, ctx, args):
    """tdsc_raise(number, class, state, text): for the triggers."""
    raise TsqlError(int(args[0]), int(args[1]), int(args[2]), str(args[3]))


def _result(lib, ctx, v):
    if v is None:
        lib['rnull'](ctx)
    elif isinstance(v, int):
        lib['rint'](ctx, v)
    elif isinstance(v, float):
        lib['rdouble'](ctx, v)
    elif isinstance(v, bytes):
        lib['rblob'](ctx, v, len(v), SQLITE_TRANSIENT)
    else:
        b = str(v).encode('utf-8')
        lib['rtext'](ctx, b, len(b), SQLITE_TRANSIENT)


_FUNCS = (('tdsc_int', 2, _fn_int), ('tdsc_int', 3, _fn_int),
          ('tdsc_nz', 1, _fn_nz), ('tdsc_raise', 4, _fn_raise),
          ('datalength', 1, _fn_datalength), ('datalength', 2, _fn_datalength),
          ('hashbytes', 2, _fn_hashbytes), ('hashbytes', 3, _fn_hashbytes),
          ('replicate', 2, _fn_replicate), ('len', 1, _fn_len))


def _make_callbacks(lib):
    cbs = []
    for name, nargs, fn in _FUNCS:
        def call(ctx, argc, argv, fn=fn):
            try:
                fn(lib, ctx, [_arg(lib, argv, i) for i in range(argc)])
            except Exception as e:          # noqa: BLE001 -- to SQLite
                msg = str(e).encode('utf-8', 'replace')
                lib['rerror'](ctx, msg, len(msg))
        cbs.append((name, nargs, _FUNC(call)))
    return cbs


def register_functions(raw_lib, db):
    """Adds the T-SQL functions to one SQLite connection (db handle)."""
    lib = _setup(raw_lib)
    with _callbacks_lock:
        if not _callbacks:              # once: ctypes callbacks stay alive
            _callbacks.extend(_make_callbacks(lib))
    for name, nargs, cb in _callbacks:
        lib['create'](db, name.encode(), nargs,
                      SQLITE_UTF8 | SQLITE_DETERMINISTIC, None, cb, None,
                      None, None)
