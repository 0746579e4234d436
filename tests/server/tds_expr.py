"""T-SQL expressions tdsserver.py evaluates itself before SQLite sees a
statement: large values written as T-SQL builds them,

    CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), 'abcdefgh'), n))
    REPLICATE(CONVERT(nvarchar(max), N'...'), n)     CAST(x AS type)

(generated on the fly when they are a column of a SELECT, so values beyond
SQLite's 1e9-byte limit, up to 1 GiB and more, work), DATALENGTH() and
HASHBYTES() over them and over RPC parameters (computed here), and
CONVERT(type, expr) in general (as SQLite's CAST).  SQLite functions
datalength(), hashbytes(), replicate() and len() cover columns.

Imported by tdsserver.py, which sets S to itself.  Standard library only."""

import ctypes
import hashlib
import re
import threading

from tds_stream import BigValue

S = None   # the tdsserver module

_TOKEN_RE = re.compile(r"""
   (?P<ws>\s+)
  |(?P<comment>--[^\n]*|/\*.*?\*/)
  |(?P<str>[Nn]?'(?:[^']|'')*')
  |(?P<hex>0[xX][0-9A-Fa-f]*)
  |(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  |(?P<ident>@@?[\w$#@]+|[A-Za-z_#][\w$#@]*)
  |(?P<qident>\[(?:[^\]]|\]\])*\]|"(?:[^"]|"")*")
  |(?P<op>.)
""", re.S | re.X)

HASH_ALGS = {'md2': None, 'md4': 'md4', 'md5': 'md5', 'sha': 'sha1',
             'sha1': 'sha1', 'sha2_256': 'sha256', 'sha2_512': 'sha512'}
CHAR_KINDS = ('char', 'varchar', 'nchar', 'nvarchar')
TYPES = ('varbinary', 'binary', 'varchar', 'char', 'nvarchar', 'nchar')
# words after a select-list item that end it (no alias)
_ITEM_END = {'from', 'union', 'except', 'intersect', 'order', 'where',
             'group', 'having', 'into', 'option', 'for'}
SQLITE_MAX_LENGTH = 1000000000


class Tok:
    __slots__ = ('kind', 'text', 'start', 'end', 'depth')

    def __init__(self, kind, text, start, end):
        self.kind, self.text, self.start, self.end = kind, text, start, end
        self.depth = 0

    @property
    def low(self):
        return self.text.lower()


class ExprError(Exception):
    """A T-SQL error: (number, class, text)."""


def tokenize(sql):
    out = []
    depth = 0
    for m in _TOKEN_RE.finditer(sql):
        kind = m.lastgroup
        if kind in ('ws', 'comment'):
            continue
        t = Tok(kind, m.group(), m.start(), m.end())
        if t.text == ')':
            depth -= 1
        t.depth = depth
        if t.text == '(':
            depth += 1
        out.append(t)
    return out


def _is(toks, i, text):
    return i < len(toks) and toks[i].low == text


# ------------------------------------------------------- parsing big values

def _literal(t):
    """A string or binary literal as a BigValue."""
    if t.kind == 'hex':
        h = t.text[2:]
        if len(h) % 2:
            h = '0' + h
        b = bytes.fromhex(h)
        return BigValue('varbinary', max(1, len(b)), b, len(b))
    text = t.text
    nat = text[0] in 'Nn'
    s = text[2 if nat else 1:-1].replace("''", "'")
    if nat:
        b = s.encode('utf-16-le')
        return BigValue('nvarchar', max(2, len(b)), b, len(b))
    b = s.encode('cp1252', 'replace')
    return BigValue('varchar', max(1, len(b)), b, len(b))


def _parse_type(toks, i):
    """type [ ( max | n ) ] -> ((kind, size or -1 or None), next index)."""
    if i >= len(toks) or toks[i].low not in TYPES:
        return None, i
    kind = toks[i].low
    i += 1
    size = None
    if _is(toks, i, '('):
        if _is(toks, i + 1, 'max') and _is(toks, i + 2, ')'):
            size = -1
        elif (i + 2 < len(toks) and toks[i + 1].kind == 'num'
              and toks[i + 2].text == ')'):
            size = int(toks[i + 1].text)
        else:
            return None, i
        i += 3
    return (kind, size), i


def _parse_count(toks, i):
    """An integer: n or n * m * ... (so 128*1024*1024 can be written)."""
    if i >= len(toks) or toks[i].kind != 'num' or not toks[i].text.isdigit():
        return None, i
    n = int(toks[i].text)
    i += 1
    while (_is(toks, i, '*') and i + 1 < len(toks) and
           toks[i + 1].kind == 'num' and toks[i + 1].text.isdigit()):
        n *= int(toks[i + 1].text)
        i += 2
    return n, i


def parse_big(toks, i):
    """A constant character/binary expression at toks[i]: (BigValue, next
    index) or (None, i)."""
    if i >= len(toks):
        return None, i
    t = toks[i]
    if t.kind in ('str', 'hex'):
        return _literal(t), i + 1
    if t.kind != 'ident' or not _is(toks, i + 1, '('):
        return None, i
    name = t.low
    if name == 'replicate':
        v, j = parse_big(toks, i + 2)
        if v is None or not _is(toks, j, ','):
            return None, i
        n, j = _parse_count(toks, j + 1)
        if n is None or not _is(toks, j, ')'):
            return None, i
        return replicate(v, n), j + 1
    if name == 'convert':
        typ, j = _parse_type(toks, i + 2)
        if typ is None or not _is(toks, j, ','):
            return None, i
        v, j = parse_big(toks, j + 1)
        if v is None:
            return None, i
        if _is(toks, j, ',') and j + 1 < len(toks) and toks[j + 1].kind == 'num':
            j += 2                                  # style
        if not _is(toks, j, ')'):
            return None, i
        return convert(v, typ), j + 1
    if name == 'cast':
        v, j = parse_big(toks, i + 2)
        if v is None or not _is(toks, j, 'as'):
            return None, i
        typ, j = _parse_type(toks, j + 1)
        if typ is None or not _is(toks, j, ')'):
            return None, i
        return convert(v, typ), j + 1
    return None, i


def replicate(v, n):
    """REPLICATE: a value that is not (max) is cut at 8000 bytes, as SQL
    Server does (which is why T-SQL converts to varchar(max) first)."""
    if n <= 0:
        return BigValue(v.kind, v.size if v.is_max else 8000, b'', 0)
    unit = v.unit if v.periodic() else v.materialize()
    total = v.total * n
    if v.is_max:
        return BigValue(v.kind, -1, unit, total)
    total = min(total, 8000)
    if v.kind in ('nchar', 'nvarchar'):
        total -= total % 2
    kind = {'char': 'varchar', 'nchar': 'nvarchar',
            'binary': 'varbinary'}.get(v.kind, v.kind)
    return _cut(BigValue(kind, 8000, unit, total))


def _cut(v):
    """Keeps a value whose length is not whole units small and exact."""
    if v.periodic():
        return v
    b = v.materialize()
    return BigValue(v.kind, v.size, b, len(b))


def convert(v, typ):
    """CONVERT / CAST between character and binary types."""
    kind, size = typ
    src_char = v.kind in CHAR_KINDS
    src_n = v.kind in ('nchar', 'nvarchar')
    dst_n = kind in ('nchar', 'nvarchar')
    unit, total = v.unit, v.total
    if kind in CHAR_KINDS and src_char and src_n != dst_n:
        u = max(1, len(unit))
        if dst_n:     # varchar -> nvarchar: each cp1252 byte becomes 2
            unit = unit.decode('cp1252', 'replace').encode('utf-16-le')
            total *= 2
        else:         # nvarchar -> varchar ('?' for what cp1252 lacks)
            unit = unit.decode('utf-16-le', 'replace').encode('cp1252',
                                                              'replace')
            total = total * len(unit) // u
    elif dst_n and not src_char:    # binary -> nvarchar: UTF-16 code units
        if len(unit) % 2:
            unit += unit
        total -= total % 2
    if size is None:
        size = 30                   # CONVERT(varchar, x): 30 characters
    nbytes = -1 if size < 0 else (2 * size if dst_n else size)
    if nbytes >= 0:
        total = min(total, nbytes)
    res = _cut(BigValue(kind, nbytes, unit, total))
    if kind in ('char', 'nchar', 'binary') and nbytes > res.total:
        pad = b'\x00' if kind == 'binary' else ' '.encode(
            'utf-16-le' if kind == 'nchar' else 'cp1252')
        b = res.materialize()
        b += pad * ((nbytes - len(b)) // len(pad))
        res = BigValue(kind, nbytes, b, len(b))
    return res


# ------------------------------------------------------ parameter functions

def param_bytes(p):
    """An RPC parameter's bytes as T-SQL sees them (raw as received for
    character types)."""
    raw = getattr(p, 'raw', None)
    if raw is not None:
        return raw
    v = p.value
    if v is None or isinstance(v, (bytes, bytearray)):
        return v
    k = p.col.kind
    if k in ('varchar', 'char'):
        return str(v).encode('cp1252', 'replace')
    return str(v).encode('utf-16-le')


def _fixed_len(kind, size):
    return {'bit': 1, 'guid': 16, 'date': 3}.get(kind, size)


def param_datalength(p):
    if p.value is None:
        return None
    if p.col.kind in CHAR_KINDS + ('binary', 'varbinary'):
        return len(param_bytes(p))
    return _fixed_len(p.col.kind, p.col.size) or len(str(p.value))


# --------------------------------------------------------------- rewriting

class Rewritten:
    def __init__(self, sql):
        self.sql = sql
        self.binds = {}         # '@__tdsc_N' -> value
        self.markers = {}       # marker text -> BigValue (select-list item)
        self.overrides = {}     # column index -> Column (its type)


def _select_item(toks, i, j):
    """(index, alias or None) if toks[i:j] is a whole item of a select
    list at depth 0 of a SELECT statement, else None."""
    if not toks or toks[0].low != 'select' or toks[i].depth != 0:
        return None
    prev = toks[i - 1].low if i else ''
    if prev not in ('select', ',', 'distinct', 'all'):
        return None
    alias = None
    k = j
    if _is(toks, k, 'as') and k + 1 < len(toks):
        alias, k = toks[k + 1], k + 2
    elif (k < len(toks) and toks[k].kind in ('ident', 'qident') and
          toks[k].low not in _ITEM_END):
        alias, k = toks[k], k + 1
    if k < len(toks) and toks[k].text not in (',', ';') and \
            toks[k].low not in _ITEM_END:
        return None
    # which item: commas at depth 0 since the last SELECT before it
    start = max(n for n in range(i) if toks[n].low == 'select'
                and toks[n].depth == 0)
    if any(toks[n].low in ('from', 'union', 'except', 'intersect')
           and toks[n].depth == 0 for n in range(start, i)):
        return None
    index = sum(1 for n in range(start, i)
                if toks[n].text == ',' and toks[n].depth == 0)
    first = start == 0           # the first SELECT names and types columns
    name = None
    if alias is not None:
        a = alias.text
        name = a[1:-1].replace(']]', ']').replace('""', '"') \
            if alias.kind == 'qident' else a
    return index if first else None, name, alias is not None


def rewrite(sql, params=None, table_decl=None):
    """Rewrites one statement.  params: {'@name': Param} of an RPC request;
    table_decl(table, column) -> declared type or None.  Returns a
    Rewritten, or raises ExprError."""
    low = sql.lower()
    if not any(w in low for w in ('replicate', 'convert', 'cast',
                                  'datalength', 'hashbytes', '/', '%')) \
            and not (params and '@' in low):
        return Rewritten(sql)
    toks = tokenize(sql)
    ddl = bool(toks) and toks[0].low in ('create', 'alter')
    res = Rewritten(sql)
    edits = []                  # (start, end, replacement text)
    counter = [0]

    def bind(value):
        counter[0] += 1
        name = '@__tdsc_%d' % counter[0]
        res.binds[name] = value
        return name

    from_table = None
    for n, t in enumerate(toks):
        if t.low == 'from' and t.depth == 0 and n + 1 < len(toks) and \
                toks[n + 1].kind in ('ident', 'qident'):
            from_table = toks[n + 1].text.strip('[]"')
            break

    def item_override(i, j, col):
        sel = _select_item(toks, i, j)
        if sel is None:
            return
        index, _name, has_alias = sel
        if index is not None:
            res.overrides[index] = col
        if not has_alias:
            edits.append((toks[j - 1].end, toks[j - 1].end, ' AS ""'))

    def src_kind(a, b):
        """The type of toks[a:b] when it is one literal or parameter."""
        if b - a == 1:
            if toks[a].kind == 'str' and toks[a].text[0] in 'Nn':
                return 'nvarchar'
            p = (params or {}).get(toks[a].low)
            if p is not None and p.col.kind in CHAR_KINDS:
                return p.col.kind
        return 'varchar'

    i = 0
    while i < len(toks):
        t = toks[i]
        if t.text in ('/', '%') and t.kind == 'op' and not ddl:
            # x / y -> x / tdsc_nz(y): SQL Server's 8134 instead of NULL
            end = _operand_end(toks, i + 1)
            if end is not None:
                edits.append((toks[i + 1].start, toks[i + 1].start,
                              'tdsc_nz('))
                edits.append((toks[end].end, toks[end].end, ')'))
            i += 1
            continue
        if (t.kind == 'ident' and t.text.startswith('@') and
                not t.text.startswith('@@') and params and
                t.low in params and
                not getattr(params[t.low].col, 'variant', False)):
            # SELECT @p: the parameter's declared type, no column name
            pc = params[t.low].col
            item_override(i, i + 1, S.Column('', pc.kind, True, pc.size,
                                             pc.prec, pc.scale))
            i += 1
            continue
        if t.kind != 'ident' or not _is(toks, i + 1, '('):
            i += 1
            continue
        name = t.low
        # DATALENGTH(big | @param) and HASHBYTES('alg', big | @param)
        if name in ('datalength', 'hashbytes'):
            j = i + 2
            alg = None
            if name == 'hashbytes':
                if j >= len(toks) or toks[j].kind != 'str' or \
                        not _is(toks, j + 1, ','):
                    i += 1
                    continue
                alg_name = toks[j].text.strip("Nn'").lower()
                alg = HASH_ALGS.get(alg_name)
                if alg is None:
                    raise ExprError(4199, 16, "Argument data type %s is "
                                    "invalid for argument 1 of hashbytes "
                                    "function." % toks[j].text)
                j += 2
            v, k = parse_big(toks, j)
            arg = None
            if v is None and j < len(toks) and toks[j].text.startswith('@') \
                    and params is not None and _is(toks, j + 1, ')'):
                p = params.get(toks[j].low)
                if p is not None:
                    arg, k = p, j + 1
            if (v is not None or arg is not None) and _is(toks, k, ')'):
                if name == 'datalength':
                    if v is not None:
                        val, big = v.total, v.is_max
                    else:
                        val, big = param_datalength(arg), arg.col.size < 0
                    col = S.Column('', 'int', True, 8 if big else 4)
                else:
                    if v is not None:
                        val = v.digest(alg)
                    else:
                        b = param_bytes(arg)
                        val = None if b is None else \
                            hashlib.new(alg, b).digest()
                    col = S.Column('', 'varbinary', True, 8000)
                edits.append((t.start, toks[k].end, bind(val)))
                item_override(i, k + 1, col)
                i = k + 1
                continue
            # a column of the FROM table: tell the function its type
            if (j < len(toks) and toks[j].kind in ('ident', 'qident') and
                    _is(toks, j + 1, ')') and from_table and table_decl):
                decl = table_decl(from_table, toks[j].text.strip('[]"'))
                if decl:
                    kind = decl.lower().split('(')[0].strip()
                    edits.append((toks[j].end, toks[j].end,
                                  ", '%s'" % kind.replace("'", "")))
                if name == 'hashbytes':
                    item_override(i, j + 2, S.Column('', 'varbinary', True,
                                                     8000))
            i += 1
            continue
        if name in ('replicate', 'convert', 'cast'):
            v, j = parse_big(toks, i)
            if v is not None:
                sel = _select_item(toks, i, j)
                if sel is not None:
                    # a whole column: generated while it is sent
                    marker = '\x01tdsc-big-%d' % (len(res.markers) + 1)
                    res.markers[marker] = v
                    edits.append((t.start, toks[j - 1].end, bind(marker)))
                    item_override(i, j, v.column(''))
                elif v.total > SQLITE_MAX_LENGTH:
                    raise ExprError(1101, 16, 'String or binary data of %d '
                                    'bytes is beyond what this server can '
                                    'store (SQLite: 1000000000 bytes).'
                                    % v.total)
                else:
                    edits.append((t.start, toks[j - 1].end,
                                  bind(v.python_value())))
                i = j
                continue
            if name == 'convert':
                # CONVERT(type, expr [, style]) -> CAST(expr AS type)
                typ, j = _parse_general_type(toks, i + 2)
                if typ is not None and _is(toks, j, ','):
                    end = _matching(toks, i + 1)
                    if end is not None:
                        k = end
                        # a style argument: the last comma at depth+1
                        for n in range(j + 1, end):
                            if toks[n].text == ',' and \
                                    toks[n].depth == toks[i + 1].depth + 1:
                                k = n
                        if typ == 'INTEGER':
                            # SQL Server's 245 / 8115 instead of 0
                            edits.append((t.start, toks[j].end, 'tdsc_int('))
                            edits.append((toks[k].start, toks[end].end,
                                          ", '%s', '%s')" % (
                                              toks[i + 2].low,
                                              src_kind(j + 1, k))))
                        else:
                            edits.append((t.start, toks[j].end, 'CAST('))
                            edits.append((toks[k].start, toks[end].end,
                                          ' AS %s)' % typ))
                i += 1
                continue
            if name == 'cast':
                # CAST(x AS varbinary(n)): SQLite's affinity for that name
                # would be NUMERIC; binary types become BLOB
                end = _matching(toks, i + 1)
                for n in range(end - 1 if end else i, i, -1):
                    if toks[n].low == 'as' and \
                            toks[n].depth == toks[i + 1].depth + 1:
                        typ, k = _parse_general_type(toks, n + 1)
                        if typ == 'INTEGER' and k == end:
                            edits.append((t.start, toks[i + 1].end,
                                          'tdsc_int('))
                            edits.append((toks[n].start, toks[end].end,
                                          ", '%s', '%s')" % (
                                              toks[n + 1].low,
                                              src_kind(i + 2, n))))
                        elif typ == 'BLOB' and k == end:
                            edits.append((toks[n + 1].start,
                                          toks[end - 1].end, typ))
                        break
        i += 1
    if not edits:
        return res
    out = []
    pos = 0
    for s, e, text in sorted(edits, key=lambda x: (x[0], x[1])):
        if s < pos:
            continue
        out.append(sql[pos:s])
        out.append(text)
        pos = e
    out.append(sql[pos:])
    res.sql = ''.join(out)
    return res


def _operand_end(toks, i):
    """Index of the last token of the operand that starts at toks[i] (an
    optional sign, then a literal, a name, a.b, f(...) or (...))."""
    if i < len(toks) and toks[i].text in ('+', '-', '~'):
        i += 1
    if i >= len(toks):
        return None
    t = toks[i]
    if t.text == '(':
        return _matching(toks, i)
    if t.kind in ('ident', 'qident'):
        while _is(toks, i + 1, '.') and i + 2 < len(toks) and \
                toks[i + 2].kind in ('ident', 'qident'):
            i += 2
        if _is(toks, i + 1, '('):
            return _matching(toks, i + 1)
        return i
    if t.kind in ('num', 'str', 'hex'):
        return i
    return None


def _matching(toks, i):
    """Index of the ')' that closes the '(' at toks[i]."""
    d = toks[i].depth
    for n in range(i + 1, len(toks)):
        if toks[n].text == ')' and toks[n].depth == d:
            return n
    return None


def _parse_general_type(toks, i):
    """A type name for CAST: SQLite's affinity for it."""
    if i >= len(toks) or toks[i].kind != 'ident':
        return None, i
    base = toks[i].low
    j = i + 1
    if _is(toks, j, '('):
        end = _matching(toks, j)
        if end is None:
            return None, i
        j = end + 1
    if base in ('varbinary', 'binary', 'image', 'rowversion', 'timestamp'):
        return 'BLOB', j
    if base in ('varchar', 'char', 'nvarchar', 'nchar', 'text', 'ntext',
                'sysname', 'uniqueidentifier', 'xml'):
        return 'TEXT', j
    if base in ('int', 'bigint', 'smallint', 'tinyint', 'bit'):
        return 'INTEGER', j
    if base in ('float', 'real'):
        return 'REAL', j
    return None, i


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
    if t == S.SQLITE_NULL:
        return None
    if t == S.SQLITE_INTEGER:
        return lib['vint'](v)
    if t == S.SQLITE_FLOAT:
        return lib['vdouble'](v)
    if t == S.SQLITE_BLOB:
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
