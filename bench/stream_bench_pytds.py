#!/usr/bin/python3
"""The pytds peer of stream_bench.c (bench/README.md): the same value down
and up through pytds (Debian's python3-tds), each mode in its own forked
child, printing the same RESULT lines:

    RESULT pytds MODE BYTES SECONDS GROWTH_KIB CPU_SECONDS STATUS

Modes: fetch (cursor.fetchone: the value materialised, as pytds returns it
by default), set_stream (cursor.set_stream: pytds writes the value's chunks
to a file-like object, here one that checks them and keeps nothing), and
upload (the value as a bytes parameter; pytds has no streamed parameters,
so the value is built in memory first and that is counted in the growth).

Run with /usr/bin/python3:
    stream_bench_pytds.py [-m MODE|all] [--cafile CA] HOST PORT USER PASSWORD [MIB]
"""

import argparse
import hashlib
import os
import resource
import sys
import time

import pytds

UNIT = b'abcdefgh'
BLOCK = UNIT * (((1 << 20) + 8) // 8 + 1)   # 1 MiB and a unit
SQL_SELECT = ("SELECT CONVERT(varbinary(max), REPLICATE(CONVERT(varchar(max), "
              "'abcdefgh'), %d)) AS v")
SQL_UPLOAD = "SELECT DATALENGTH(%(p)s) AS n, HASHBYTES('SHA2_256', %(p)s) AS h"


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cpu_s():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def is_pattern(b, off):
    """True if b (bytes-like) is the pattern from offset off on."""
    mv = memoryview(b)
    pos = 0
    while pos < len(mv):
        k = min(len(mv) - pos, 1 << 20)
        s = (off + pos) % 8
        if mv[pos:pos + k] != BLOCK[s:s + k]:
            return False
        pos += k
    return True


class Checker:
    """A file-like sink for cursor.set_stream: checks each chunk against
    the pattern and keeps only the count."""

    def __init__(self):
        self.n = 0
        self.bad = False

    def write(self, b):
        if not self.bad and not is_pattern(b, self.n):
            self.bad = True
        self.n += len(b)
        return len(b)


def mode_fetch(conn, nbytes, state):
    cur = conn.cursor()
    cur.execute(SQL_SELECT % (nbytes // 8))
    v = cur.fetchone()[0]
    state['bytes'] = len(v)
    if len(v) != nbytes:
        return 'short:%d' % len(v)
    if not is_pattern(v, 0):
        return 'wrong-bytes'
    del v
    cur.close()
    return 'ok'


def mode_set_stream(conn, nbytes, state):
    cur = conn.cursor()
    cur.execute(SQL_SELECT % (nbytes // 8))
    sink = Checker()
    cur.set_stream(0, sink)
    row = cur.fetchone()
    cur.close()
    state['bytes'] = sink.n
    if row is None or row[0] is not sink:
        return 'no-row'
    if sink.n != nbytes:
        return 'short:%d' % sink.n
    return 'wrong-bytes' if sink.bad else 'ok'


def mode_upload(conn, nbytes, state):
    want = state['want']
    param = state.pop('param')
    cur = conn.cursor()
    cur.execute(SQL_UPLOAD, {'p': param})
    n, h = cur.fetchone()
    cur.close()
    state['bytes'] = len(param.value)
    del param
    if n != nbytes:
        return 'datalength:%s' % n
    return 'ok' if bytes(h) == want else 'sha256-differs'


def prepare_upload(nbytes, state):
    """pytds sends bytes it holds whole: the value is built first (counted
    in the growth, not in the time).  Typed explicitly: by default pytds
    sends bytes as nvarchar(max) (bytes_to_unicode), and as varchar(max)
    without that."""
    state['param'] = pytds.Column(type=pytds.tds_types.VarBinaryMaxType(),
                                  value=UNIT * (nbytes // 8))


MODES = {'fetch': mode_fetch, 'set_stream': mode_set_stream,
         'upload': mode_upload}


def run_mode(name, args, nbytes, state):
    """One mode in this (child) process: connect, warm up, then the timed
    part with the peak RSS before and after."""
    state['bytes'] = 0
    secs, growth, cpu = 0.0, 0, 0.0
    try:
        kw = dict(port=args.port, user=args.user, password=args.password,
                  database='tdsc_test', autocommit=True, login_timeout=30,
                  timeout=600, disable_connect_retry=True)
        if args.cafile:
            kw['cafile'] = args.cafile
        conn = pytds.connect(args.host, **kw)
        cur = conn.cursor()
        cur.execute('SELECT 1')
        cur.fetchall()
        cur.close()
        before = peak_rss_kib()
        if name == 'upload':
            prepare_upload(nbytes, state)
        c0, t0 = cpu_s(), time.monotonic()
        status = MODES[name](conn, nbytes, state)
        secs = time.monotonic() - t0
        cpu = cpu_s() - c0
        growth = peak_rss_kib() - before
        conn.close()
    except Exception as e:                      # reported, not raised
        print('stream_bench_pytds: %s: %s: %s' % (name, type(e).__name__, e),
              file=sys.stderr)
        status = 'error:%s' % type(e).__name__
    print('RESULT pytds %s %d %.3f %d %.3f %s' % (
        name, state['bytes'], secs, growth, cpu, status), flush=True)
    return 0 if status == 'ok' else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('-m', default='all', choices=['all'] + sorted(MODES))
    ap.add_argument('--cafile', help='TLS (full encryption) with this CA')
    ap.add_argument('host')
    ap.add_argument('port', type=int)
    ap.add_argument('user')
    ap.add_argument('password')
    ap.add_argument('mib', type=int, nargs='?', default=1024)
    args = ap.parse_args()
    nbytes = args.mib << 20
    status = 0
    for name in ('set_stream', 'upload', 'fetch'):
        if args.m not in ('all', name):
            continue
        state = {}
        if name == 'upload':                    # untimed, before the fork
            h = hashlib.sha256()
            for off in range(0, nbytes, 1 << 20):
                h.update(BLOCK[:min(1 << 20, nbytes - off)])
            state['want'] = h.digest()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = run_mode(name, args, nbytes, state)
            finally:
                os._exit(code)
        _, ws = os.waitpid(pid, 0)
        if not os.WIFEXITED(ws):
            print('RESULT pytds %s 0 0 0 0 crashed' % name, flush=True)
            status = 1
        elif os.WEXITSTATUS(ws):
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main())
