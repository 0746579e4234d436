#!/usr/bin/env python3
"""pytds (Debian python3-tds) against the test server: proves the server with
an independent client, and proves tests/peers/typed_table.expected.

Run by make check as $PYTHON3 tests/peers/pytds_typed.py (env TDSC_SRCDIR,
TDSC_TEST_CERTS).  Exit 0 pass, 1 fail, 77 skip (pytds missing).
"""

import datetime
import decimal
import hashlib
import os
import select
import shutil
import subprocess
import sys
import tempfile
import uuid

try:
    import pytds
except ImportError:
    print('SKIP: pytds is not installed (python3-tds)')
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SRCDIR = os.environ.get('TDSC_SRCDIR') or os.path.dirname(os.path.dirname(HERE))
SERVER = os.path.join(SRCDIR, 'tests', 'server', 'tdsserver.py')
SAMPLE = os.path.join(SRCDIR, 'tests', 'server', 'sample.sql')
EXPECTED = os.path.join(SRCDIR, 'tests', 'peers', 'typed_table.expected')
USER, PASSWORD = 'tdsuser', 'Pa55w0rd!'

failures = []


def check(cond, what):
    if cond:
        print('ok   ' + what)
    else:
        print('FAIL ' + what)
        failures.append(what)


def start_server(tmp, certs, *extra):
    log = os.path.join(tmp, 'server.log')
    cmd = [sys.executable, SERVER, '--host', '127.0.0.1', '--port', '0',
           '--db', os.path.join(tmp, 'test.sqlite'), '--init', SAMPLE,
           '--user', '%s:%s' % (USER, PASSWORD),
           '--cert', os.path.join(certs, 'server.pem'),
           '--key', os.path.join(certs, 'server.key'), '--log', log] + list(extra)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    r, _, _ = select.select([p.stdout], [], [], 30)
    line = p.stdout.readline() if r else ''
    if not line.startswith('READY '):
        p.kill()
        raise SystemExit('server did not start: %r' % line)
    return p, int(line.split()[1])


# ------------------------------------------------------------ expectations

def utc_off(minutes):
    return datetime.timezone(datetime.timedelta(minutes=minutes))


D = decimal.Decimal
NVMAX = ''.join('%05d日' % i for i in range(1700))
VBMAX = ''.join('%05d' % i for i in range(4000)).encode()
EXPECTED_ROWS = [
    [1, True, 42, -1234, 123456789, -1234567890123, 3.141590118408203,
     2.718281828459045, D('-12345.6789'), D('1234567890.0123456789'),
     D('12345.6789'), D('-12.3456'), 'café      ', 'café', 'café au lait',
     'café text', 'Grüße, 日本 ', 'Grüße, 日本', 'Grüße, 日本 (max)',
     'Grüße, 日本 (ntext)', b'\xde\xad\xbe\xef', b'\x01\x02\x03\x04\x05',
     b'\x00\xff', b'\x89PNG\r\n\x1a\n',
     uuid.UUID('6F9619FF-8B86-D011-B42D-00C04FC964FF'),
     datetime.date(2024, 2, 29), datetime.time(13, 45, 1, 123456),
     datetime.datetime(2024, 2, 29, 13, 45),
     datetime.datetime(2024, 2, 29, 13, 45, 1, 997000),
     datetime.datetime(2024, 2, 29, 13, 45, 1, 123456),
     datetime.datetime(2024, 2, 29, 13, 45, 1, 123456, utc_off(330))],
    [2] + [None] * 30,
    [3, False, 255, -32768, -2147483648, 9223372036854775807,
     3.4028234663852886e+38, -1.7976931348623157e+308,
     D('-99999999999999.9999'), D('9999999999999999999999999999.9999999999'),
     D('-922337203685477.5808'), D('214748.3647'), 'ABCDEFGHIJ', '',
     'é-' * 4500, 'x', 'ÿ         ', '', NVMAX, '',
     b'\x01\x02\x00\x00', b'', VBMAX, b'\x00',
     uuid.UUID('01234567-89AB-CDEF-0123-456789ABCDEF'),
     datetime.date(1, 1, 1), datetime.time(23, 59, 59, 999999),
     datetime.datetime(2079, 6, 6, 23, 59),
     datetime.datetime(9999, 12, 31, 23, 59, 59, 997000),
     datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
     datetime.datetime(9999, 12, 31, 9, 59, 59, 999999, utc_off(-14 * 60))],
]
COLUMNS = ['id', 'c_bit', 'c_tinyint', 'c_smallint', 'c_int', 'c_bigint',
           'c_real', 'c_float', 'c_decimal', 'c_numeric', 'c_money',
           'c_smallmoney', 'c_char', 'c_varchar', 'c_varcharmax', 'c_text',
           'c_nchar', 'c_nvarchar', 'c_nvarcharmax', 'c_ntext', 'c_binary',
           'c_varbinary', 'c_varbinarymax', 'c_image', 'c_guid', 'c_date',
           'c_time', 'c_smalldatetime', 'c_datetime', 'c_datetime2', 'c_dto']
# columns whose canonical text carries 7 fractional digits; pytds keeps 6
FRAC7 = {'c_time', 'c_datetime2', 'c_dto'}


def canonical(col, v):
    """The typed_table.expected text form of a pytds value."""
    if v is None:
        return 'NULL'
    if isinstance(v, bool):
        return '1' if v else '0'
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        if len(v) > 1000:
            return 'len=%d sha256=%s' % (len(v), hashlib.sha256(v).hexdigest())
        return '0x' + v.hex().upper()
    if isinstance(v, str):
        b = v.encode('utf-8')
        if len(v) > 1000:
            return 'len=%d sha256=%s' % (len(b), hashlib.sha256(b).hexdigest())
        return v
    if isinstance(v, uuid.UUID):
        return str(v).upper()
    if isinstance(v, datetime.datetime):
        s = v.strftime('%Y-%m-%d %H:%M:%S')
        s = '%04d%s' % (v.year, s[s.index('-'):])
        if col == 'c_smalldatetime':
            return s
        if col == 'c_datetime':
            return s + '.%03d' % (v.microsecond // 1000)
        s += '.%06d' % v.microsecond
        if v.tzinfo is not None:
            off = v.utcoffset()
            mins = int(off.total_seconds()) // 60
            sign = '+' if mins >= 0 else '-'
            s += ' %s%02d:%02d' % (sign, abs(mins) // 60, abs(mins) % 60)
        return s
    if isinstance(v, datetime.date):
        return '%04d-%02d-%02d' % (v.year, v.month, v.day)
    if isinstance(v, datetime.time):
        return v.strftime('%H:%M:%S') + '.%06d' % v.microsecond
    return repr(v)


def trim7(col, text):
    """Drop the 7th fractional digit of an expected value (pytds has 6)."""
    if col not in FRAC7 or text == 'NULL':
        return text
    i = text.index('.')
    return text[:i + 7] + text[i + 8:]


def check_typed(conn, label):
    cur = conn.cursor()
    cur.execute('SELECT * FROM typed ORDER BY id')
    names = [d[0] for d in cur.description]
    check(names == COLUMNS, '%s: column names' % label)
    rows = cur.fetchall()
    check(len(rows) == 3, '%s: 3 rows' % label)
    with open(EXPECTED, encoding='utf-8') as f:
        expected_text = [line.rstrip('\n').split('\t') for line in f]
    check(len(expected_text) == 3 and all(len(r) == 31 for r in expected_text),
          '%s: typed_table.expected has 3 rows of 31 columns' % label)
    bad = 0
    for r, (row, exp, etext) in enumerate(zip(rows, EXPECTED_ROWS, expected_text)):
        for c, (got, want, wtext) in enumerate(zip(row, exp, etext)):
            col = COLUMNS[c]
            same = got == want and type(got) is type(want)
            if isinstance(want, datetime.datetime) and want.tzinfo is not None:
                same = (got is not None and got.tzinfo is not None and
                        got == want and got.utcoffset() == want.utcoffset())
            if not same:
                bad += 1
                print('  row %d %s: got %r, want %r' % (r + 1, col,
                                                        short(got), short(want)))
            gtext = canonical(col, got)
            if gtext != trim7(col, wtext):
                bad += 1
                print('  row %d %s: text %r, expected file says %r' % (
                    r + 1, col, gtext, wtext))
    check(bad == 0, '%s: every value of typed (objects and expected file)' % label)


def short(v):
    r = repr(v)
    return r if len(r) < 80 else r[:77] + '...'


def check_batch(conn, label):
    cur = conn.cursor()
    cur.execute("SELECT 1 AS a; SELECT N'x' AS b, 2.5 AS c; "
                "INSERT INTO people VALUES (10, N'Tmp'), (11, N'Tmp2'); "
                "SELECT name FROM people WHERE id >= 10 ORDER BY id")
    sets = []
    while True:
        if cur.description is not None:
            sets.append(cur.fetchall())
        if not cur.nextset():
            break
    # pytds keeps the previous description for the INSERT's DONE: use the
    # first two and the last result sets
    r1, r2, r3 = (sets + [None, None])[:2] + sets[-1:]
    check(r1 == [(1,)] and r2 == [('x', 2.5)] and r3 == [('Tmp',), ('Tmp2',)],
          '%s: multi-statement batch (%r %r %r)' % (label, r1, r2, r3))
    cur.execute('DELETE FROM people WHERE id >= 10')
    check(cur.rowcount == 2, '%s: DELETE rowcount 2 (got %r)' % (label, cur.rowcount))
    try:
        cur.execute('SELECT * FROM no_such_table')
        cur.fetchall()
        check(False, '%s: error 208 raised' % label)
    except pytds.Error as e:
        check(getattr(e, 'number', None) == 208 and
              "Invalid object name 'no_such_table'" in str(e),
              '%s: error 208 raised (%s %r)' % (label, getattr(e, 'number', None), str(e)))
    try:
        cur.execute('SELEC 1')
        check(False, '%s: syntax error 102 raised' % label)
    except pytds.Error as e:
        check(getattr(e, 'number', None) == 102, '%s: syntax error 102 raised' % label)
    # the connection is still usable after errors
    cur.execute('SELECT COUNT(*) FROM people')
    check(cur.fetchall() == [(4,)], '%s: usable after errors' % label)
    cur.execute("PRINT N'hello from PRINT'")
    msgs = [str(m[1]) for m in cur.messages]
    check(any('hello from PRINT' in m for m in msgs),
          '%s: PRINT message received (%r)' % (label, msgs))
    cur.execute('SELECT @@VERSION')
    v = cur.fetchall()[0][0]
    check(v.startswith('Microsoft SQL Server 2022 (tdsclient test server)'),
          '%s: @@VERSION' % label)
    cur.execute("USE master")
    cur.execute("SELECT COUNT(*) FROM typed")
    check(cur.fetchall() == [(3,)], '%s: USE master' % label)
    try:
        cur.execute('USE nosuchdb')
        check(False, '%s: USE unknown db raises 911' % label)
    except pytds.Error as e:
        check(getattr(e, 'number', None) == 911, '%s: USE unknown db raises 911' % label)


def main():
    certs = os.environ.get('TDSC_TEST_CERTS')
    tmp = tempfile.mkdtemp(prefix='tdsc-pytds-')
    server = None
    try:
        if not certs or not os.path.exists(os.path.join(certs, 'ca.pem')):
            certs = os.path.join(tmp, 'certs')
            subprocess.run([sys.executable, os.path.join(SRCDIR, 'tests', 'tls',
                                                         'mkcerts.py'), certs],
                           check=True, timeout=60)
        ca = os.path.join(certs, 'ca.pem')
        server, port = start_server(tmp, certs, '--encryption', 'off')
        common = dict(port=port, user=USER, password=PASSWORD,
                      database='tdsc_test', autocommit=True, login_timeout=10,
                      timeout=30)
        modes = [('plain', dict()),
                 ('tls', dict(cafile=ca)),
                 ('tls-login-only', dict(cafile=ca, enc_login_only=True))]
        for label, kw in modes:
            conn = pytds.connect('localhost', **dict(common, **kw))
            check_typed(conn, label)
            check_batch(conn, label)
            conn.close()
        try:
            pytds.connect('localhost', **dict(common, password='wrong',
                                              disable_connect_retry=True))
            check(False, 'wrong password fails with 18456')
        except pytds.Error as e:
            check(getattr(e, 'number', None) == 18456 and
                  "Login failed for user '%s'." % USER in str(e),
                  'wrong password fails with 18456')
        try:
            pytds.connect('localhost', **dict(common, database='nodb',
                                              disable_connect_retry=True))
            check(False, 'unknown database fails with 4060')
        except pytds.Error as e:
            check(getattr(e, 'number', None) in (4060, 18456),
                  'unknown database fails with 4060 (%s)' % getattr(e, 'number', None))
        server.terminate()
        server.wait(10)
        # encryption required by the server, TLS validated against ca.pem
        server, port = start_server(tmp, certs, '--encryption', 'req')
        conn = pytds.connect('localhost', **dict(common, port=port, cafile=ca))
        cur = conn.cursor()
        cur.execute('SELECT name FROM people ORDER BY id')
        check(cur.fetchall() == [('Alice',), ('Bob',), ('Zoë',), (None,)],
              'req server: people over TLS')
        conn.close()
        try:
            pytds.connect('localhost', **dict(common, port=port,
                                              disable_connect_retry=True))
            check(False, 'req server refuses a client without TLS')
        except (pytds.Error, OSError) as e:
            check(True, 'req server refuses a client without TLS (%s)' % type(e).__name__)
    finally:
        if server is not None and server.poll() is None:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
        if failures:
            log = os.path.join(tmp, 'server.log')
            if os.path.exists(log):
                with open(log, encoding='utf-8', errors='replace') as f:
                    sys.stdout.write('--- server log (tail)\n' + ''.join(f.readlines()[-40:]))
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print('%d check(s) failed' % len(failures))
        return 1
    print('all pytds checks passed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
