#!/usr/bin/env python3
"""The test server leaves promptly on SIGTERM, even when a second SIGTERM
interrupts its signal handler.

timeout(1) sends SIGTERM to its child and then to its own process group,
so the server gets it twice.  Its handler used to call threading.Event.set,
which takes a lock; the second signal ran the handler again inside the
first, the inner call waited for the lock the outer one held, and the
server never left: tests/peers/tsql.sh then waited in stop_server until
CI gave up (stop 9).  That race needs a signal to land within a few
microseconds of another, so this test makes it certain: it runs the server
with threading.Event.set wrapped to send the process a SIGTERM while it
holds the Event's lock, and checks that the server still stops, logs
'stopped' and exits 0, both for one SIGTERM and for the double one that
timeout(1) sends.

Run by make check as $PYTHON3 tests/server/check_stop.py (env TDSC_SRCDIR,
TDSC_TEST_CERTS).  Exit 0 pass, 1 fail."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRCDIR = os.environ.get('TDSC_SRCDIR') or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
SERVER = os.path.join(SRCDIR, 'tests', 'server', 'tdsserver.py')

# Runs the server with Event.set signalling the process while it holds the
# Event's lock: any handler that calls Event.set deadlocks on it.
WRAPPER = r'''
import os, runpy, signal, sys, threading
def set_and_signal(self, _set=threading.Event.set):
    with self._cond:
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(1000):     # bytecode boundaries: the handler runs
            pass
        self._flag = True
        self._cond.notify_all()
threading.Event.set = set_and_signal
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(sys.argv[0]))
runpy.run_path(sys.argv[0], run_name='__main__')
'''

failed = False


def check(ok, what):
    global failed
    print('%s: %s' % ('ok' if ok else 'FAIL', what))
    failed = failed or not ok


def certs_dir(tmp):
    certs = os.environ.get('TDSC_TEST_CERTS')
    if certs and os.path.exists(os.path.join(certs, 'server.pem')):
        return certs
    certs = os.path.join(tmp, 'certs')
    subprocess.run([sys.executable, os.path.join(SRCDIR, 'tests', 'tls',
                                                 'mkcerts.py'), certs],
                   check=True, timeout=60)
    return certs


def run(tmp, certs, label, signals):
    d = os.path.join(tmp, label)
    os.mkdir(d)
    log = os.path.join(d, 'server.log')
    err = open(os.path.join(d, 'server.err'), 'w')
    p = subprocess.Popen(
        [sys.executable, '-c', WRAPPER, SERVER, '--host', '127.0.0.1',
         '--port', '0', '--db', os.path.join(d, 'test.sqlite'),
         '--user', 'u:p', '--cert', os.path.join(certs, 'server.pem'),
         '--key', os.path.join(certs, 'server.key'), '--log', log],
        stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        line = p.stdout.readline()
        check(line.startswith('READY '), '%s: the server starts (%r)'
              % (label, line.strip()))
        t0 = time.monotonic()
        for _ in range(signals):
            os.kill(p.pid, signal.SIGTERM)
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t0
        check(rc == 0, '%s: it exits 0 within 15 s (%s after %.1f s)'
              % (label, 'still running' if rc is None else 'exit %d' % rc,
                 took))
        with open(log, encoding='utf-8', errors='replace') as f:
            tail = f.read().splitlines()[-1:]
        check(tail and tail[0].endswith('stopped'),
              "%s: its log ends with 'stopped' (%r)" % (label, tail))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        err.close()


def main():
    tmp = tempfile.mkdtemp(prefix='tdsc-check-stop-')
    try:
        certs = certs_dir(tmp)
        run(tmp, certs, 'one SIGTERM', 1)
        run(tmp, certs, 'two SIGTERMs as timeout(1) sends them', 2)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
