#!/usr/bin/env python3
"""pytds (Debian python3-tds) against the test server where SQL Server's
behaviour is what a client notices (issue 13): the parameter types of
sp_executesql's SELECT @x, LEN() in UTF-16 units, and SQL Server's errors
where SQLite would be lenient (8134, 245, 248, 220, 8115, 2628, 515, 2627,
2601), with their numbers, classes, states and texts, and the failed
statement's effect undone while the batch and the connection go on.

Run by make check as $PYTHON3 tests/peers/pytds_fidelity.py (env
TDSC_SRCDIR, TDSC_TEST_CERTS).  Exit 0 pass, 1 fail, 77 skip."""

import datetime
import decimal
import os
import shutil
import subprocess
import sys
import tempfile
import uuid

try:
    import pytds
    from pytds import tds_base, tds_types
except ImportError:
    print('SKIP: pytds is not installed (python3-tds)')
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytds_typed as T  # noqa: E402  (start_server, check, USER/PASSWORD)

check = T.check


def fails(cur, sql, number, cls, state, text, params=None):
    """sql raises SQL Server's error number (class, state, text)."""
    try:
        cur.execute(sql, params)
        while cur.nextset():
            pass
        check(False, '%s raises %d' % (sql, number))
    except pytds.Error as e:
        got = (getattr(e, 'number', None), getattr(e, 'severity', None),
               getattr(e, 'state', None), str(e).strip())
        check(got == (number, cls, state, text),
              '%s raises %d class %d state %d %r: %r' % (
                  sql, number, cls, state, text, got))


def one(cur, sql, params=None):
    cur.execute(sql, params)
    return cur.fetchall()


def param_types(cur):
    dec = decimal.Decimal('12.345')
    g = uuid.UUID('01234567-89ab-cdef-0123-456789abcdef')
    dto = datetime.datetime(2024, 2, 29, 13, 45, 1, 123456,
                            tzinfo=datetime.timezone(datetime.timedelta(
                                hours=5, minutes=30)))
    for value, code, what in ((dec, tds_base.SYBDECIMAL, 'decimal'),
                              (g, tds_base.SYBUNIQUE, 'uniqueidentifier'),
                              (dto, tds_base.SYBMSDATETIMEOFFSET,
                               'datetimeoffset')):
        rows = one(cur, 'SELECT %s', (value,))
        desc = cur.description[0]
        check(rows == [(value,)] and desc[1] in (code, tds_base.SYBNUMERIC
                                                 if code == tds_base.SYBDECIMAL
                                                 else code),
              'sp_executesql SELECT @P1 returns the %s parameter as %s: '
              '%r %r' % (what, what, rows, desc))
        check(desc[0] == '', 'SELECT @P1 has no column name (as SQL Server):'
              ' %r' % (desc[0],))
    rows = one(cur, 'SELECT %s AS d', (dec,))
    check(rows == [(dec,)] and cur.description[0][0] == 'd',
          'SELECT @P1 AS d keeps its alias and its decimal value: %r %r'
          % (rows, cur.description))
    null = tds_base.Column(type=tds_types.NVarCharType(20), value=None)
    rows = one(cur, 'SELECT %(x)s', {'x': null})
    check(rows == [(None,)] and cur.description[0][1] == tds_base.XSYBNVARCHAR,
          'a NULL nvarchar(20) parameter comes back as nvarchar: %r'
          % (cur.description,))


def errors(cur):
    fails(cur, 'SELECT 1/0', 8134, 16, 1, 'Divide by zero error encountered.')
    fails(cur, 'SELECT 5 % (2 - 2)', 8134, 16, 1,
          'Divide by zero error encountered.')
    check(one(cur, 'SELECT 7/2, 7 % 3, 1.0/4') == [(3, 1, 0.25)],
          'division that is no division by zero still works')
    fails(cur, "SELECT CAST('abc' AS int)", 245, 16, 1,
          "Conversion failed when converting the varchar value 'abc' to "
          "data type int.")
    fails(cur, "SELECT CONVERT(int, N'1.5')", 245, 16, 1,
          "Conversion failed when converting the nvarchar value '1.5' to "
          "data type int.")
    fails(cur, "SELECT CAST('3000000000' AS int)", 248, 16, 1,
          "The conversion of the varchar value '3000000000' overflowed an "
          "int column.")
    fails(cur, 'SELECT CAST(3000000000 AS int)', 8115, 16, 2,
          'Arithmetic overflow error converting expression to data type '
          'int.')
    fails(cur, 'SELECT CAST(300 AS tinyint)', 220, 16, 2,
          'Arithmetic overflow error for data type tinyint, value = 300.')
    check(one(cur, "SELECT CAST(' 42 ' AS int), CAST(2.9 AS int)") ==
          [(42, 2)], 'CAST to int of good values still works')

    cur.execute('CREATE TABLE fid_t (id int PRIMARY KEY, name varchar(5) '
                'NOT NULL, n tinyint, code nvarchar(3), u int UNIQUE)')
    cur.execute("INSERT INTO fid_t VALUES (1, 'abc', 1, N'x', 10)")
    fails(cur, "INSERT INTO fid_t VALUES (2, 'abcdefgh', 1, NULL, NULL)",
          2628, 16, 1, "String or binary data would be truncated in table "
          "'tdsc_test.dbo.fid_t', column 'name'. Truncated value: 'abcde'.")
    fails(cur, "UPDATE fid_t SET code = N'wxyz' WHERE id = 1", 2628, 16, 1,
          "String or binary data would be truncated in table "
          "'tdsc_test.dbo.fid_t', column 'code'. Truncated value: 'wxy'.")
    check(one(cur, "SELECT code FROM fid_t") == [('x',)],
          'the failed UPDATE changed nothing')
    fails(cur, "INSERT INTO fid_t VALUES (2, 'ab', 256, NULL, NULL)",
          220, 16, 2,
          'Arithmetic overflow error for data type tinyint, value = 256.')
    fails(cur, "INSERT INTO fid_t VALUES ('two', 'ab', 1, NULL, NULL)",
          245, 16, 1, "Conversion failed when converting the varchar value "
          "'two' to data type int.")
    fails(cur, "INSERT INTO fid_t VALUES (2, NULL, 1, NULL, NULL)",
          515, 16, 2, "Cannot insert the value NULL into column 'name', "
          "table 'tdsc_test.dbo.fid_t'; column does not allow nulls. "
          "INSERT fails.")
    # several rows, one duplicate: the statement is undone as a whole
    try:
        cur.execute("INSERT INTO fid_t VALUES (2, 'b', 1, NULL, NULL), "
                    "(1, 'c', 1, NULL, NULL)")
        check(False, 'duplicate primary key raises 2627')
    except pytds.Error as e:
        check((e.number, e.severity, e.state) == (2627, 14, 1) and
              str(e).startswith("Violation of PRIMARY KEY constraint '") and
              "Cannot insert duplicate key in object 'dbo.fid_t'." in str(e),
              'duplicate primary key raises 2627 class 14: %r' % (e,))
    fails(cur, "INSERT INTO fid_t VALUES (3, 'd', 1, NULL, 10)", 2627, 14, 1,
          "Violation of UNIQUE KEY constraint 'UQ__fid_t__u'. Cannot insert "
          "duplicate key in object 'dbo.fid_t'.")
    cur.execute('CREATE UNIQUE INDEX fid_ix ON fid_t (n, code)')
    cur.execute("INSERT INTO fid_t VALUES (4, 'e', 7, N'q', NULL)")
    fails(cur, "INSERT INTO fid_t VALUES (5, 'f', 7, N'q', NULL)", 2601, 14,
          1, "Cannot insert duplicate key row in object 'dbo.fid_t' with "
          "unique index 'fid_ix'.")
    check(one(cur, 'SELECT id FROM fid_t ORDER BY id') == [(1,), (4,)],
          'every failed statement was undone, nothing else: %r'
          % (one(cur, 'SELECT id FROM fid_t ORDER BY id'),))
    # statement-level: in a transaction the failed statement goes, the
    # transaction and the statements before it stay
    cur.execute('BEGIN TRANSACTION')
    cur.execute("INSERT INTO fid_t VALUES (6, 'g', 1, NULL, NULL)")
    fails(cur, 'INSERT INTO fid_t SELECT id + 100, name, n / (n - 1), '
          'NULL, NULL FROM fid_t', 8134, 16, 1,
          'Divide by zero error encountered.')
    check(one(cur, 'SELECT @@TRANCOUNT') == [(1,)],
          'the transaction is still open after the error')
    cur.execute('COMMIT')
    check(one(cur, 'SELECT id FROM fid_t ORDER BY id') == [(1,), (4,), (6,)],
          'the INSERT before the error was kept, the failed one undone')
    cur.execute('DROP TABLE fid_t')


def main():
    certs = os.environ.get('TDSC_TEST_CERTS')
    tmp = tempfile.mkdtemp(prefix='tdsc-pytds-fid-')
    server = None
    try:
        if not certs or not os.path.exists(os.path.join(certs, 'server.pem')):
            certs = os.path.join(tmp, 'certs')
            subprocess.run([sys.executable, os.path.join(
                T.SRCDIR, 'tests', 'tls', 'mkcerts.py'), certs], check=True,
                timeout=60)
        server, port = T.start_server(tmp, certs, '--encryption', 'off')
        conn = pytds.connect('localhost', port=port, user=T.USER,
                             password=T.PASSWORD, database='tdsc_test',
                             autocommit=True, login_timeout=10, timeout=30)
        cur = conn.cursor()
        param_types(cur)
        check(one(cur, "SELECT LEN(N'a\U0001F600b  ')") == [(4,)],
              'LEN counts UTF-16 units (a supplementary character is 2) '
              'and drops trailing blanks')
        errors(cur)
        check(one(cur, 'SELECT 1') == [(1,)], 'the connection still works')
        conn.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(10)
        if T.failures:
            log = os.path.join(tmp, 'server.log')
            if os.path.exists(log):
                sys.stdout.write(open(log).read()[-4000:])
        shutil.rmtree(tmp, ignore_errors=True)
    print('%d failure(s)' % len(T.failures))
    return 1 if T.failures else 0


if __name__ == '__main__':
    sys.exit(main())
