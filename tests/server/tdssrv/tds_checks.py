"""SQL Server's checks on stored values, which SQLite does not make: a
value longer than its varchar(n) / nvarchar(n) / varbinary(n) column (2628),
text that is no number in an integer column (245), a number beyond the
column's integer type (220 for tinyint and smallint, 8115 for int).

Each session's SQLite connection gets TEMP triggers (its own, never written
to the database file, so other SQLite users of the file are not affected)
on a table before its first INSERT or UPDATE, made again when the schema
changed.  They call tdsc_raise() (sqlfuncs), which aborts the statement
with SQL Server's message; SQLite then undoes the statement's changes, as
SQL Server does.  Standard library only."""

import re

_TARGET_RE = re.compile(
    r'\s*(?:insert\s+(?:into\s+)?|update\s+)'
    r'(?:(?:\[?dbo\]?|"dbo")\s*\.\s*)?'
    r'(\[[^\]]+\]|"[^"]+"|[A-Za-z_#][\w$#@]*)', re.I)
_DECL_RE = re.compile(r'\s*([a-z_]+)\s*(?:\(\s*(\d+)\s*\))?', re.I)

# the longest bounded column SQL Server has (varchar(8000), varbinary(8000));
# (max) columns, declared (2147483647) by the translation, are not checked
MAX_BOUNDED = 8000
INT_RANGES = {'tinyint': (0, 255), 'smallint': (-32768, 32767),
              'int': (-2 ** 31, 2 ** 31 - 1)}
CHAR_KINDS = ('char', 'varchar', 'nchar', 'nvarchar')
BIN_KINDS = ('binary', 'varbinary')


def _q(name):
    return '"%s"' % name.replace('"', '""')


def _lit(text):
    return "'%s'" % text.replace("'", "''")


def _raise(number, cls, state, text_sql):
    return 'tdsc_raise(%d, %d, %d, %s)' % (number, cls, state, text_sql)


def _checks(database, table, cols):
    """(condition, raise expression) per rule for the columns
    [(name, declared type)] of table."""
    out = []
    for name, decl in cols:
        m = _DECL_RE.match(decl or '')
        if not m:
            continue
        kind, size = m.group(1).lower(), m.group(2)
        v = 'NEW.' + _q(name)
        if kind in CHAR_KINDS + BIN_KINDS and size and \
                int(size) <= MAX_BOUNDED:
            n = int(size)
            if kind in CHAR_KINDS:
                # trailing blanks beyond the length are dropped silently
                # (ANSI_PADDING); nvarchar counts code points here
                cond = 'length(rtrim(%s, \' \')) > %d' % (v, n)
                shown = 'substr(%s, 1, %d)' % (v, n)
            else:
                cond = 'length(%s) > %d' % (v, n)
                shown = "'0x' || hex(substr(%s, 1, %d))" % (v, n)
            text = ("%s || %s || '''.'" % (_lit(
                "String or binary data would be truncated in table "
                "'%s.dbo.%s', column '%s'. Truncated value: '" % (
                    database, table, name)), shown))
            out.append(('%s IS NOT NULL AND %s' % (v, cond),
                        _raise(2628, 16, 1, text)))
        elif kind in INT_RANGES:
            lo, hi = INT_RANGES[kind]
            text = ("%s || %s || %s" % (_lit(
                "Conversion failed when converting the varchar value '"),
                v, _lit("' to data type %s." % kind)))
            out.append(("typeof(%s) = 'text'" % v, _raise(245, 16, 1, text)))
            if kind == 'int':
                text = _lit('Arithmetic overflow error converting expression '
                            'to data type int.')
                state = 2
                num = 8115
            else:
                text = "%s || %s || '.'" % (_lit(
                    'Arithmetic overflow error for data type %s, value = '
                    % kind), v)
                num, state = 220, 2
            out.append(("typeof(%s) IN ('integer', 'real') AND "
                        "(%s < %d OR %s > %d)" % (v, v, lo, v, hi),
                        _raise(num, 16, state, text)))
    return out


def ensure(sess, sql):
    """Before an INSERT or UPDATE statement (sql, SQLite's text): the
    table's triggers on this connection, made once per schema version.
    Failures here leave the statement unchecked (SQLite reports a missing
    table itself)."""
    m = _TARGET_RE.match(sql)
    if not m:
        return
    table = m.group(1)
    if table[0] in '["':
        table = table[1:-1]
    db = sess.db
    made = db.__dict__.setdefault('tdsc_checks', {})
    try:
        _, r, _, _ = db.execute('PRAGMA schema_version')
        version = r[0][0]
        if made.get(table.lower()) == version:
            return
        _, info, _, _ = db.execute('PRAGMA main.table_info(%s)' % _q(table))
        rules = _checks(sess.database, table, [(c[1], c[2]) for c in info])
        for when in ('INSERT', 'UPDATE'):
            trig = _q('tdsc_check_%s_%s' % (table, when.lower()))
            db.execute('DROP TRIGGER IF EXISTS temp.%s' % trig)
            if not rules:
                continue
            body = ''.join('SELECT %s WHERE %s; ' % (r, c) for c, r in rules)
            db.execute('CREATE TEMP TRIGGER %s BEFORE %s ON main.%s BEGIN '
                       '%sEND' % (trig, when, _q(table), body))
        made[table.lower()] = version
    except Exception:       # noqa: BLE001 -- see the docstring
        return
