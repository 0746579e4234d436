"""T-SQL expressions tdsserver.py evaluates itself before SQLite sees a
statement: large values written as T-SQL builds them,

    CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), 'abcdefgh'), n))
    REPLICATE(CONVERT(nvarchar(max), N'...'), n)     CAST(x AS type)

(generated on the fly when they are a column of a SELECT, so values beyond
SQLite's 1e9-byte limit, up to 1 GiB and more, work), DATALENGTH() and
HASHBYTES() over them and over RPC parameters (computed here), and
CONVERT(type, expr) in general (as SQLite's CAST); the SQLite functions
that cover columns are in sqlfuncs.py.

Part of the tdssrv package (see __init__.py).  Standard library only."""

import hashlib
import re

from .coltypes import Column
from .sqlfuncs import HASH_ALGS
from .tds_stream import BigValue


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
            item_override(i, i + 1, Column('', pc.kind, True, pc.size,
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
                    col = Column('', 'int', True, 8 if big else 4)
                else:
                    if v is not None:
                        val = v.digest(alg)
                    else:
                        b = param_bytes(arg)
                        val = None if b is None else \
                            hashlib.new(alg, b).digest()
                    col = Column('', 'varbinary', True, 8000)
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
                    item_override(i, j + 2, Column('', 'varbinary', True,
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
