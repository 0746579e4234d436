#!/usr/bin/env python3
"""pytds (Debian python3-tds) against the test server's RPC support: the
same procedure and parameterised queries as tests/integration/check_rpc.c,
from an independent client, so the server's RPC decoding and its
RETURNSTATUS / RETURNVALUE / DONEPROC answers are not only checked by the
client that shares their author.

Run by make check as $PYTHON3 tests/peers/pytds_rpc.py (env TDSC_SRCDIR,
TDSC_TEST_CERTS).  Exit 0 pass, 1 fail, 77 skip (pytds missing)."""

import datetime
import decimal
import hashlib
import os
import shutil
import sys
import tempfile
import uuid

try:
    import pytds
except ImportError:
    print('SKIP: pytds is not installed (python3-tds)')
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytds_typed as T  # noqa: E402  (start_server, check, USER/PASSWORD)


def main():
    certs = os.environ.get('TDSC_TEST_CERTS')
    tmp = tempfile.mkdtemp(prefix='tdsc-pytds-rpc-')
    server = None
    try:
        if not certs or not os.path.exists(os.path.join(certs, 'server.pem')):
            import subprocess
            certs = os.path.join(tmp, 'certs')
            subprocess.run([sys.executable, os.path.join(
                T.SRCDIR, 'tests', 'tls', 'mkcerts.py'), certs], check=True,
                timeout=60)
        server, port = T.start_server(tmp, certs, '--encryption', 'off')
        conn = pytds.connect('localhost', port=port, user=T.USER,
                             password=T.PASSWORD, database='tdsc_test',
                             autocommit=True, login_timeout=10, timeout=30)
        cur = conn.cursor()
        check = T.check

        # the procedure: rows, then the output parameter, then the status
        cur.callproc('tdsc_add', (2, 40, pytds.output(value=None,
                                                             param_type='int')))
        rows = cur.fetchall()
        check([tuple(r) for r in rows] == [(2, 40)],
              'tdsc_add returns its row (2, 40): %r' % (rows,))
        # pytds reads the outputs after the rows; its get_proc_outputs()
        # indexes a list by output count, not by ordinal, so read the map
        cur._session.complete_rpc()
        outs = {k: v.value for k, v in cur._session.output_params.items()}
        check(outs == {2: 42}, 'tdsc_add @sum OUTPUT (ordinal 2) = 42: %r'
              % (outs,))
        check(cur.get_proc_return_status() == 0, 'tdsc_add returns status 0')

        cur.callproc('tdsc_status', (-17,))
        check(cur.get_proc_return_status() == -17, 'tdsc_status returns -17')

        try:
            cur.callproc('no_such_proc', ())
            check(False, 'unknown procedure fails with 2812')
        except pytds.Error as e:
            check(getattr(e, 'number', None) == 2812 and
                  'no_such_proc' in str(e), 'unknown procedure fails with 2812')
        try:
            cur.callproc('tdsc_fail', ())
            cur.fetchall()
            check(False, 'tdsc_fail raises 50000')
        except pytds.Error as e:
            check('tdsc_fail was called' in str(e), 'tdsc_fail raises its error')

        # parameterised queries (pytds sends sp_executesql)
        g = uuid.UUID('01234567-89ab-cdef-0123-456789abcdef')
        dt = datetime.datetime(2024, 2, 29, 13, 45, 1, 123456)
        params = {'a': 41, 's': 'caf\u00e9 \u20ac \u4e2d', 'b': pytds.Binary(b'\xde\xad'),
                  'd': decimal.Decimal('-1234.5678'), 'f': -2.25, 'g': g,
                  'dt': dt, 'n': None}
        cur.execute('SELECT %(a)s + 1 AS n, %(s)s AS s, %(b)s AS b, '
                    '%(d)s AS d, %(f)s AS f, %(g)s AS g, %(dt)s AS dt, '
                    '%(n)s AS nul', params)
        row = cur.fetchone()
        check(row[0] == 42, 'sp_executesql int: %r' % (row[0],))
        check(row[1] == params['s'], 'sp_executesql nvarchar: %r' % (row[1],))
        check(row[2] == b'\xde\xad', 'sp_executesql varbinary: %r' % (row[2],))
        check(decimal.Decimal(str(row[3])) == params['d'],
              'sp_executesql decimal: %r' % (row[3],))
        check(row[4] == -2.25, 'sp_executesql float: %r' % (row[4],))
        check(str(row[5]).upper() == str(g).upper(),
              'sp_executesql uniqueidentifier: %r' % (row[5],))
        check(str(row[6]).startswith('2024-02-29 13:45:01.123456'),
              'sp_executesql datetime2: %r' % (row[6],))
        check(row[7] is None, 'sp_executesql NULL: %r' % (row[7],))

        big = bytes(range(256)) * 4096   # 1 MiB varbinary(max)
        cur.execute("SELECT DATALENGTH(%(b)s), HASHBYTES('SHA2_256', %(b)s)",
                    {'b': pytds.Binary(big)})
        n, h = cur.fetchone()
        check(n == len(big) and bytes(h) == hashlib.sha256(big).digest(),
              'varbinary(max) parameter arrives whole (length and SHA-256)')
        conn.close()
    finally:
        if server:
            server.terminate()
            server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    if T.failures:
        print('%d failure(s)' % len(T.failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
