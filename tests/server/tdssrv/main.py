"""The command line, TLS contexts, the TCP listener and the way out."""

import argparse
import faulthandler
import os
import signal
import socket
import sqlite3
import ssl
import sys
import threading

from . import epa, fedauth, liar, mirroring, routing, tds_stream
from .acceptors import parse_map, setup_ntlm
from .listeners import PipeListener, SSRPResponder, ShmListener
from .log import log, set_log_file
from .session import Config, Session
from .sqldb import load_sqlite
from .translate import split_statements, translate
from .wire import ENC_NAMES


MISBEHAVE_MODES = ('close-after-prelogin', 'reset-after-prelogin',
                   'hang-after-prelogin', 'stall-after-login',
                   'ignore-attention',
                   'garbage-prelogin', 'bad-token', 'tds73', 'truncated-row',
                   'bad-encryption', 'wrong-packet-type', 'route',
                   'no-loginack', 'bad-packet-size',
                   'checkdb-fails', 'shrink-fails', 'backup-fails')

# --------------------------------------------------------------------- main

TLS_VERSIONS = {'1.0': ssl.TLSVersion.TLSv1, '1.1': ssl.TLSVersion.TLSv1_1,
                '1.2': ssl.TLSVersion.TLSv1_2, '1.3': ssl.TLSVersion.TLSv1_3}


def make_ctx(cfg, alpn):
    """TLS context.  TDS 7.x (alpn False) defaults to at most TLS 1.2, as SQL
    Server does (TLS 1.3 only with TDS 8.0); --tls-max 1.3 lifts that."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg.cert, cfg.key)
    if cfg.tls_min:
        if TLS_VERSIONS[cfg.tls_min] < ssl.TLSVersion.TLSv1_2:
            ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
        ctx.minimum_version = TLS_VERSIONS[cfg.tls_min]
    if cfg.tls_max:
        ctx.maximum_version = TLS_VERSIONS[cfg.tls_max]
    elif not alpn and cfg.tls_min != '1.3':
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.num_tickets = 0
    except (AttributeError, ValueError):
        pass
    if alpn:
        ctx.set_alpn_protocols(['tds/8.0'])
    return ctx


def main(argv=None):
    ap = argparse.ArgumentParser(description='TDS 7.4/8.0 test server on SQLite')
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--shm', metavar='PATH',
                    help='also serve shared memory (doc/shm-protocol.md) '
                         'through the rendezvous socket PATH')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--db', required=True, help='SQLite database file')
    ap.add_argument('--init', help='SQL script run at start-up')
    ap.add_argument('--user', action='append', default=[],
                    help='NAME:PASSWORD (repeatable)')
    ap.add_argument('--database', default='tdsc_test')
    ap.add_argument('--encryption', default='on', choices=sorted(ENC_NAMES))
    ap.add_argument('--cert')
    ap.add_argument('--key')
    ap.add_argument('--strict', action='store_true',
                    help='TDS 8.0: TLS first on every connection')
    ap.add_argument('--tds7-only', action='store_true',
                    help='behave as a server older than SQL Server 2022: '
                         'no TLS-first (TDS 8.0) connections')
    ap.add_argument('--tls-min', choices=sorted(TLS_VERSIONS))
    ap.add_argument('--tls-max', choices=sorted(TLS_VERSIONS))
    ap.add_argument('--server-name', default='TDSCTEST')
    ap.add_argument('--misbehave', choices=MISBEHAVE_MODES)
    ap.add_argument('--plp-unknown-length', action='store_true',
                    help='send every PLP value (max types) with '
                         'PLP_UNKNOWN_LEN instead of its length')
    ap.add_argument('--log')
    ap.add_argument('--keytab', help='service keytab: accept integrated '
                    '(Kerberos / SPNEGO) logins; needs python3-gssapi')
    ap.add_argument('--map', action='append', default=[],
                    metavar='PRINCIPAL=LOGIN',
                    help="authenticated principal -> login (repeatable; "
                         "'*@REALM=*' maps a realm's principals to themselves)")
    ap.add_argument('--no-integrated', action='store_true',
                    help='refuse integrated logins with 18452 (SQL logins only)')
    ap.add_argument('--ntlm-users', metavar='FILE',
                    help='accept NTLM integrated logins (raw NTLMSSP and '
                         'SPNEGO) checked by gss-ntlmssp against FILE, '
                         'lines DOMAIN:user:password (NTLM_USER_FILE)')
    ap.add_argument('--no-ntlm', action='store_true',
                    help='refuse NTLM (an NTLM NEGOTIATE gets 18452, no '
                         'CHALLENGE) even with --ntlm-users')
    ap.add_argument('--pipe', metavar='PATH',
                    help='also accept sessions on the AF_UNIX socket PATH '
                         '(a named pipe on POSIX, doc/local-endpoints.md)')
    ap.add_argument('--ssrp-port', type=int, metavar='PORT',
                    help='answer SQL Server Browser (MC-SQLR) requests on '
                         'UDP PORT at --host, for --instance')
    ap.add_argument('--instance', default='MSSQLSERVER',
                    help='instance name the SQL Server Browser answers for')
    liar.add_arguments(ap)
    fedauth.add_arguments(ap)  # entra
    epa.add_arguments(ap)
    routing.add_arguments(ap)
    mirroring.add_arguments(ap)
    args = ap.parse_args(argv)

    tds_stream.plp_unknown_length = args.plp_unknown_length
    if args.log:
        set_log_file(open(args.log, 'a', encoding='utf-8'))
    load_sqlite()

    cfg = Config()
    cfg.db = args.db
    cfg.database = args.database
    cfg.encryption = args.encryption
    cfg.strict = args.strict
    cfg.tds7_only = args.tds7_only
    cfg.server_name = args.server_name
    cfg.misbehave = args.misbehave
    liar.configure(cfg, args)  # after misbehave: tds-downgrade sets it
    fedauth.configure(cfg, args)  # entra
    epa.configure(cfg, args)
    routing.configure(cfg, args)
    mirroring.configure(cfg, args)
    cfg.cert, cfg.key = args.cert, args.key or args.cert
    cfg.tls_min, cfg.tls_max = args.tls_min, args.tls_max
    cfg.users = {}
    cfg.keytab = os.path.abspath(args.keytab) if args.keytab else None
    cfg.ntlm_users = os.path.abspath(args.ntlm_users) if args.ntlm_users else None
    cfg.ntlm = bool(cfg.ntlm_users) and not args.no_ntlm
    cfg.integrated = bool(cfg.keytab or cfg.ntlm) and not args.no_integrated
    cfg.maps = []
    for spec in args.map:
        try:
            cfg.maps.append(parse_map(spec))
        except ValueError:
            ap.error('--map wants PRINCIPAL=LOGIN, got %r' % spec)
    if cfg.integrated:
        if cfg.keytab and not os.path.isfile(cfg.keytab):
            ap.error('--keytab %s: no such file' % cfg.keytab)
        try:
            # fail at start-up rather than at the first integrated login
            __import__('gssapi.raw')
        except ImportError:
            ap.error('--keytab / --ntlm-users need python3-gssapi')
        # Also for anything that reads the default keytab (with NTLM, the
        # krb5 acceptor finds it only this way).
        if cfg.keytab:
            os.environ['KRB5_KTNAME'] = 'FILE:' + cfg.keytab
    if cfg.ntlm:
        setup_ntlm(ap, cfg)
    for u in args.user:
        name, sep, pw = u.partition(':')
        if not sep:
            ap.error('--user wants NAME:PASSWORD')
        cfg.users[name] = pw
    if cfg.cert:
        cfg.ctx7 = make_ctx(cfg, False)
        cfg.ctx_strict = make_ctx(cfg, True)
    else:
        cfg.ctx7 = cfg.ctx_strict = None
        if args.strict or args.encryption in ('on', 'req'):
            ap.error('--encryption %s / --strict need --cert and --key'
                     % args.encryption)

    if args.init:
        with open(args.init, encoding='utf-8') as f:
            script = ';\n'.join(translate(st) for st, _ in
                                 split_statements(f.read())) + ';\n'
        con = sqlite3.connect(args.db)
        con.executescript(script)
        con.commit()
        con.close()
    else:
        sqlite3.connect(args.db).close()

    family = socket.AF_INET6 if ':' in args.host else socket.AF_INET
    lsock = socket.socket(family, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((args.host, args.port))
    lsock.listen(64)
    lsock.settimeout(0.2)
    port = lsock.getsockname()[1]
    cfg.host, cfg.port = args.host, port  # --misbehave route: to itself
    log('listening on %s port %d encryption=%s strict=%s misbehave=%s' % (
        args.host, port, args.encryption, args.strict, args.misbehave))

    stop = threading.Event()
    signalled = []

    def on_signal(signum, frame):
        # Nothing here may take a lock: a second signal can run this
        # handler again inside the first (timeout(1) sends SIGTERM to its
        # child and then to its group), and Event.set() takes a lock that
        # the interrupted call holds -- the server then waits for itself
        # for ever.  The main loop below sets `stop` for the threads.
        signalled.append(signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    shm = ShmListener(cfg, args.shm, stop) if args.shm else None
    pipe = PipeListener(cfg, args.pipe, stop) if args.pipe else None
    ssrp = (SSRPResponder(args.host, args.ssrp_port, args.instance, port,
                          args.pipe, stop)
            if args.ssrp_port is not None else None)

    sys.stdout.write('READY %d\n' % port)
    sys.stdout.flush()

    n = 0
    while not signalled:
        try:
            sock, addr = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            if signalled:
                break
            raise
        sock.settimeout(None)
        spid = 51 + n
        n += 1
        log('connection %d from %s' % (spid, addr[:2]))
        s = Session(cfg, sock, addr, spid)
        threading.Thread(target=s.run, name='spid%d' % spid, daemon=True).start()
    # Whoever stopped us waits for us: should the way out stall (a session
    # thread holding a lock the interpreter's exit needs), print every
    # thread's stack to the error log and leave anyway.
    faulthandler.dump_traceback_later(5, exit=True, file=sys.stderr)
    stop.set()
    lsock.close()
    if shm:
        shm.close()
    if pipe:
        pipe.close()
    if ssrp:
        ssrp.close()
    log('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
