#!/usr/bin/env python3
"""realm.py - a throwaway MIT Kerberos realm for the tests (stdlib only).

Everything lives in one folder DIR: krb5.conf, kdc.conf, the KDC database
and stash, the KDC's log and pid file, the default credential cache and the
replay cache.  Nothing global is touched (no /etc/krb5.conf edit): clients
and acceptors find the realm through the variables written to DIR/env.

Usage (exit 0 on success; a message on stderr and non-zero otherwise):

  realm.py create DIR [--realm TDSC.TEST] [--kdc-port N] [--max-life S]
      Write DIR/krb5.conf and DIR/kdc.conf, create the database (random
      master password, stash file), start krb5kdc on 127.0.0.1:N (a free
      port when N is not given; TCP, and UDP on the same port), wait until
      it accepts TCP (max 5 s), write DIR/env and print the same lines:
        KRB5_CONFIG=DIR/krb5.conf     KRB5_KDC_PROFILE=DIR/kdc.conf
        KRB5CCNAME=FILE:DIR/ccache    KRB5RCACHEDIR=DIR
        TDSC_REALM=TDSC.TEST          TDSC_KDC_PORT=N
      Shell: `set -a; . DIR/env; set +a`.  The KDC (and the `silent`
      listener) is killed after --max-life seconds (default 3600) even if
      nobody calls destroy, so a crashed test cannot leave it behind.
      The KDC is ready when it has logged "commencing operation" and the
      port accepts TCP; a port taken meanwhile by someone else is retried
      with another free port (not with --kdc-port).  On failure nothing is
      left running and a DIR that create made is removed.
  realm.py env DIR                        print DIR/env
  realm.py addprinc DIR NAME (--password PW | --randkey) [--enctypes E]
      --enctypes limits its keys, e.g. aes256-cts:normal (kadmin's -e).
  realm.py cpw DIR NAME (--password PW | --randkey)   new keys, kvno + 1
  realm.py delprinc DIR NAME
  realm.py modprinc DIR NAME OPTION...
      kadmin's modprinc, e.g. `-expire yesterday` (account expired),
      `-pwexpire yesterday` (password expired), `-allow_tix` (disabled),
      `+requires_preauth`; options go to kadmin as given (no quoting).
  realm.py ktadd DIR KEYTAB NAME... [--norandkey] [--enctypes E]
      Export keys to KEYTAB.  Without --norandkey, kadmin gives the
      principals new random keys first (kvno + 1; a password principal's
      password stops working); --norandkey exports the current keys.
  realm.py kinit DIR NAME --password PW [--ccache CCNAME]
                 [--lifetime SECONDS] [--start-in SECONDS]
      Get a TGT (the password goes to kinit on stdin).  Default ccache:
      FILE:DIR/ccache.  The KDC grants lifetimes down to 1 s, so
      `--lifetime 1` then `sleep 2` gives an expired ticket; --start-in
      asks for a postdated ticket (not yet valid until then).
  realm.py stop DIR       stop the KDC (or silent listener); wait until the
                          port refuses connections
  realm.py start DIR      start the KDC again (same port)
  realm.py silent DIR     stop the KDC and put a listener on its port that
                          accepts TCP (and swallows UDP) but never answers
  realm.py destroy DIR    stop everything, remove DIR
  realm.py addrealm DIR OTHERDIR
      Make DIR's krb5.conf know the realm of OTHERDIR (its KDC), without
      any trust between the two (no cross-realm krbtgt).

Principal names without '@' are in the realm.  The tools are taken from
PATH, then /usr/sbin and /usr/bin ($KRB5KDC overrides krb5kdc).
"""

import argparse
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

DEFAULT_REALM = 'TDSC.TEST'
ENCTYPES = 'aes256-cts:normal aes128-cts:normal'


class RealmError(Exception):
    pass


class PortBusy(RealmError):
    pass


def tool(name, env_var=None):
    """Full path of an MIT tool: $env_var, PATH, then the sbin folders."""
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    found = shutil.which(name)
    if found:
        return found
    for d in ('/usr/sbin', '/usr/bin', '/sbin', '/usr/local/sbin'):
        p = os.path.join(d, name)
        if os.access(p, os.X_OK):
            return p
    raise RealmError(f'{name} not found (install krb5-kdc, krb5-admin-server, krb5-user)')


def read_settings(d):
    """The realm name and port, from DIR/env (written by create)."""
    s = {}
    try:
        with open(os.path.join(d, 'env'), encoding='utf-8') as f:
            for line in f:
                k, _, v = line.strip().partition('=')
                if k:
                    s[k] = shlex.split(v)[0] if v else ''
    except FileNotFoundError:
        raise RealmError(f'{d}: no realm here (no env file; run create first)') from None
    return s


def realm_env(d):
    """os.environ plus the realm's variables, for the MIT tools we run."""
    env = dict(os.environ)
    env.update({k: v for k, v in read_settings(d).items()})
    env.pop('KRB5_TRACE', None)
    return env


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1 (the KDC uses both)."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(('127.0.0.1', 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(('127.0.0.1', port))
        except OSError:
            continue
        finally:
            u.close()
            t.close()
        return port
    raise RealmError('no free port found')


def port_open(port):
    try:
        with socket.create_connection(('127.0.0.1', port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_port(port, want_open, limit=5.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if port_open(port) == want_open:
            return True
        time.sleep(0.01)
    return False


def run(argv, env, stdin=None, what=None):
    """Run a tool; raise RealmError with its output when it fails."""
    p = subprocess.run(argv, env=env, input=stdin, capture_output=True,
                       text=True, timeout=30, check=False)
    err = p.stderr.strip()
    # kadmin.local -q exits 0 even when the query fails (1.20): anything on
    # stderr but the "no policy" notice is a failure.
    if argv[0].endswith('kadmin.local'):
        err = '\n'.join(line for line in err.splitlines()
                        if not line.startswith('No policy specified for'))
    if p.returncode != 0 or (argv[0].endswith('kadmin.local') and err):
        raise RealmError(f'{what or os.path.basename(argv[0])} failed '
                         f'(status {p.returncode}): {err or p.stdout.strip()}')
    return p.stdout


def principal(d, name):
    return name if '@' in name else f"{name}@{read_settings(d)['TDSC_REALM']}"


def kadmin(d, query):
    s = read_settings(d)
    run([tool('kadmin.local'), '-r', s['TDSC_REALM'], '-q', query],
        realm_env(d), what=f'kadmin.local "{query.split()[0]}"')


def kq(arg):
    """Quote one argument for kadmin's own command-line parser."""
    if any(c in arg for c in ' \t"\'\\'):
        if '"' in arg or '\\' in arg:
            raise RealmError('kadmin arguments cannot contain " or \\')
        return f'"{arg}"'
    return arg


# ------------------------------------------------------------- processes

def pidfile(d, which):
    return os.path.join(d, f'{which}.pgid')


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state first,
    pgrp third, start time 20th), or None when the process is gone."""
    try:
        with open(f'/proc/{pid}/stat', encoding='ascii', errors='replace') as f:
            return f.read().rpartition(')')[2].split()
    except OSError:
        return None


def group_alive(pgid):
    """Whether a live (not zombie) process is in group pgid.  killpg(pgid, 0)
    is not enough: our children are reparented to init, and a container's
    init may leave them as zombies for a long while."""
    for entry in os.listdir('/proc'):
        fields = proc_stat(entry) if entry.isdigit() else None
        if fields and int(fields[2]) == pgid and fields[0] not in 'ZX':
            return True
    return False


def start_time(pid):
    """The start time of process pid (ticks since boot), None if gone."""
    fields = proc_stat(pid)
    return int(fields[19]) if fields else None


def kill_group(d, which):
    """Kill the process group recorded in DIR/WHICH.pgid; wait for it.
    Returns whether there was one.  The file holds the group's id and its
    leader's start time: a leader that died long ago may have left its id
    to an unrelated process (pids recycle), whose group is not ours."""
    path = pidfile(d, which)
    try:
        with open(path, encoding='ascii') as f:
            fields = f.read().split()
        pgid, started = int(fields[0]), int(fields[1])
    except (FileNotFoundError, ValueError, IndexError):
        return False
    now = start_time(pgid)
    if now is not None and started and now != started:
        os.unlink(path)  # the id is someone else's now
        return True
    try:
        os.killpg(pgid, signal.SIGTERM)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            if not group_alive(pgid):
                break
            time.sleep(0.01)
        else:
            os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    except PermissionError:
        pass  # a recycled id that is not ours: nothing to do
    os.unlink(path)
    return True


def spawn(d, which, argv, env):
    """Start argv in its own session (so killpg reaches all of it), bounded
    by `timeout MAX_LIFE` so that it dies even if destroy is never called."""
    max_life = read_settings(d).get('TDSC_REALM_MAX_LIFE', '3600')
    log = open(os.path.join(d, f'{which}.log'), 'ab')
    p = subprocess.Popen(['timeout', '-s', 'KILL', max_life] + argv, env=env,
                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                         start_new_session=True, close_fds=True)
    log.close()
    with open(pidfile(d, which), 'w', encoding='ascii') as f:
        f.write(f'{p.pid} {start_time(p.pid) or 0}\n')
    return p


def start_kdc(d):
    s = read_settings(d)
    port = int(s['TDSC_KDC_PORT'])
    stop_all(d)
    if port_open(port):
        raise PortBusy(f'port {port} is already in use by another program')
    logpath = os.path.join(d, 'kdc.log')
    try:
        start_at = os.path.getsize(logpath)
    except OSError:
        start_at = 0
    p = spawn(d, 'kdc', [tool('krb5kdc', 'KRB5KDC'), '-n', '-r', s['TDSC_REALM'],
                         '-P', os.path.join(d, 'kdc.pid')], realm_env(d))

    def log_since():
        try:
            with open(logpath, 'rb') as f:
                f.seek(start_at)
                return f.read().decode('utf-8', 'replace')
        except OSError:
            return ''
    # Ready when our KDC has logged that it set up its sockets (so the port
    # is not merely held by someone else) and the port accepts connections.
    end = time.monotonic() + 5
    while time.monotonic() < end:
        if 'commencing operation' in log_since() and port_open(port):
            return
        if p.poll() is not None:
            break
        time.sleep(0.005)
    kill_group(d, 'kdc')
    text = log_since()
    tail = ''.join(text.splitlines(True)[-5:])
    if 'Address already in use' in text:
        raise PortBusy(f'port {port} is already in use:\n{tail}')
    raise RealmError(f'krb5kdc did not accept connections on port {port}:\n{tail}')


def stop_all(d):
    killed = kill_group(d, 'kdc')
    killed = kill_group(d, 'silent') or killed
    port = int(read_settings(d)['TDSC_KDC_PORT'])
    if killed and not wait_port(port, False, 5):
        raise RealmError(f'port {port} still accepts connections')


def silent_listener(port):
    """The body of `silent`: accept TCP, swallow UDP, never answer."""
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(('127.0.0.1', port))
    t.listen(64)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(('127.0.0.1', port))
    held = []  # keep accepted sockets open: the client waits for ever
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(t, selectors.EVENT_READ)
    sel.register(u, selectors.EVENT_READ)
    while True:
        for key, _ in sel.select():
            if key.fileobj is t:
                held.append(t.accept()[0])
            else:
                u.recvfrom(65536)


# --------------------------------------------------------------- commands

def write_config(d, realm, port, max_life):
    """krb5.conf, kdc.conf, kadm5.acl and env for this port; returns env."""
    with open(os.path.join(d, 'krb5.conf'), 'w', encoding='utf-8') as f:
        f.write(f"""[libdefaults]
	default_realm = {realm}
	dns_lookup_kdc = false
	dns_lookup_realm = false
	rdns = false
	dns_canonicalize_hostname = false
	udp_preference_limit = 1
	ticket_lifetime = 1h
	renew_lifetime = 1d
	forwardable = true
	permitted_enctypes = aes256-cts aes128-cts
	default_tkt_enctypes = aes256-cts aes128-cts
	default_tgs_enctypes = aes256-cts aes128-cts

[realms]
	{realm} = {{
		kdc = 127.0.0.1:{port}
		admin_server = 127.0.0.1:{port + 1 if port < 65535 else port}
	}}

[domain_realm]
	localhost = {realm}
	.localhost = {realm}
""")
    with open(os.path.join(d, 'kdc.conf'), 'w', encoding='utf-8') as f:
        f.write(f"""[kdcdefaults]
	kdc_ports = {port}
	kdc_tcp_ports = {port}

[realms]
	{realm} = {{
		database_name = {d}/principal
		key_stash_file = {d}/stash
		acl_file = {d}/kadm5.acl
		kdc_ports = {port}
		kdc_tcp_ports = {port}
		supported_enctypes = {ENCTYPES}
		master_key_type = aes256-cts
		max_life = 10h
		max_renewable_life = 7d
	}}

[logging]
	kdc = FILE:{d}/kdc.log
	admin_server = FILE:{d}/kadmin.log
	default = FILE:{d}/krb5lib.log
""")
    with open(os.path.join(d, 'kadm5.acl'), 'w', encoding='utf-8') as f:
        f.write(f'*/admin@{realm} *\n')
    env_lines = [
        ('KRB5_CONFIG', f'{d}/krb5.conf'),
        ('KRB5_KDC_PROFILE', f'{d}/kdc.conf'),
        ('KRB5CCNAME', f'FILE:{d}/ccache'),
        # The acceptor's replay cache, which is otherwise in /var/tmp.
        ('KRB5RCACHEDIR', d),
        ('TDSC_REALM', realm),
        ('TDSC_KDC_PORT', str(port)),
        ('TDSC_REALM_MAX_LIFE', str(max_life)),
    ]
    text = ''.join(f'{k}={shlex.quote(v)}\n' for k, v in env_lines)
    with open(os.path.join(d, 'env'), 'w', encoding='utf-8') as f:
        f.write(text)
    return text


def cmd_create(a):
    d = os.path.abspath(a.dir)
    if os.path.exists(os.path.join(d, 'env')):
        raise RealmError(f'{d}: a realm already exists there')
    made = not os.path.exists(d)
    os.makedirs(d, exist_ok=True)
    realm = a.realm
    try:
        text = write_config(d, realm, a.kdc_port or free_port(), a.max_life)
        run([tool('kdb5_util'), '-r', realm, 'create', '-s', '-W',
             '-P', secrets.token_hex(16)], realm_env(d), what='kdb5_util create')
        # A port found free may be taken before krb5kdc binds it (tests run
        # in parallel): with a port of our choosing, try another one.
        for attempt in range(5):
            try:
                start_kdc(d)
                break
            except PortBusy:
                if a.kdc_port or attempt == 4:
                    raise
                text = write_config(d, realm, free_port(), a.max_life)
    except BaseException:
        kill_group(d, 'kdc')
        kill_group(d, 'silent')
        if made:
            shutil.rmtree(d, ignore_errors=True)
        else:
            try:
                os.unlink(os.path.join(d, 'env'))
            except OSError:
                pass
        raise
    sys.stdout.write(text)


def cmd_env(a):
    with open(os.path.join(a.dir, 'env'), encoding='utf-8') as f:
        sys.stdout.write(f.read())


def key_option(a):
    e = f' -e {kq(a.enctypes)}' if getattr(a, 'enctypes', None) else ''
    return ('-randkey' if a.randkey else f'-pw {kq(a.password)}') + e


def cmd_addprinc(a):
    kadmin(a.dir, f'addprinc {key_option(a)} {kq(principal(a.dir, a.name))}')


def cmd_cpw(a):
    kadmin(a.dir, f'cpw {key_option(a)} {kq(principal(a.dir, a.name))}')


def cmd_delprinc(a):
    kadmin(a.dir, f'delprinc -force {kq(principal(a.dir, a.name))}')


def cmd_modprinc(a):
    opts = ' '.join(kq(o) for o in a.options)
    kadmin(a.dir, f'modprinc {opts} {kq(principal(a.dir, a.name))}')


def cmd_ktadd(a):
    names = ' '.join(kq(principal(a.dir, n)) for n in a.names)
    opt = ' -norandkey' if a.norandkey else ''
    if a.enctypes:
        opt += f' -e {kq(a.enctypes)}'
    kadmin(a.dir, f'ktadd -k {kq(os.path.abspath(a.keytab))}{opt} {names}')


def cmd_kinit(a):
    d = os.path.abspath(a.dir)
    argv = [tool('kinit'), '-c', a.ccache or f'FILE:{d}/ccache']
    if a.lifetime is not None:
        argv += ['-l', f'{a.lifetime}s']
    if a.start_in is not None:
        argv += ['-s', f'{a.start_in}s']
    argv.append(principal(d, a.name))
    # MIT kinit reads the password from stdin when it is not a terminal.
    run(argv, realm_env(d), stdin=a.password + '\n', what='kinit')


def cmd_addrealm(a):
    d, o = os.path.abspath(a.dir), os.path.abspath(a.other)
    other = read_settings(o)
    path = os.path.join(d, 'krb5.conf')
    with open(path, encoding='utf-8') as f:
        text = f.read()
    block = (f"\t{other['TDSC_REALM']} = {{\n"
             f"\t\tkdc = 127.0.0.1:{other['TDSC_KDC_PORT']}\n\t}}\n")
    text = text.replace('[realms]\n', '[realms]\n' + block, 1)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def cmd_stop(a):
    stop_all(os.path.abspath(a.dir))


def cmd_start(a):
    start_kdc(os.path.abspath(a.dir))


def cmd_silent(a):
    d = os.path.abspath(a.dir)
    stop_all(d)
    port = int(read_settings(d)['TDSC_KDC_PORT'])
    spawn(d, 'silent', [sys.executable, os.path.abspath(__file__),
                        '_silent', str(port)], dict(os.environ))
    if not wait_port(port, True, 5):
        kill_group(d, 'silent')
        raise RealmError(f'silent listener did not start on port {port}')


def cmd_destroy(a):
    d = os.path.abspath(a.dir)
    if not os.path.isdir(d):
        return
    if os.path.exists(os.path.join(d, 'env')):
        stop_all(d)
    else:  # a half-created realm: kill whatever pid files there are
        kill_group(d, 'kdc')
        kill_group(d, 'silent')
    shutil.rmtree(d)


def main():
    ap = argparse.ArgumentParser(prog='realm.py', description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)

    p = sub.add_parser('create')
    p.add_argument('dir')
    p.add_argument('--realm', default=DEFAULT_REALM)
    p.add_argument('--kdc-port', type=int, default=0)
    p.add_argument('--max-life', type=int, default=3600)
    p.set_defaults(fn=cmd_create)

    p = sub.add_parser('env')
    p.add_argument('dir')
    p.set_defaults(fn=cmd_env)

    for name, fn in (('addprinc', cmd_addprinc), ('cpw', cmd_cpw)):
        p = sub.add_parser(name)
        p.add_argument('dir')
        p.add_argument('name')
        g = p.add_mutually_exclusive_group(required=True)
        g.add_argument('--password')
        g.add_argument('--randkey', action='store_true')
        p.add_argument('--enctypes')
        p.set_defaults(fn=fn)

    p = sub.add_parser('delprinc')
    p.add_argument('dir')
    p.add_argument('name')
    p.set_defaults(fn=cmd_delprinc)

    p = sub.add_parser('modprinc')
    p.add_argument('dir')
    p.add_argument('name')
    p.add_argument('options', nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_modprinc)

    p = sub.add_parser('ktadd')
    p.add_argument('dir')
    p.add_argument('keytab')
    p.add_argument('names', nargs='+')
    p.add_argument('--norandkey', action='store_true')
    p.add_argument('--enctypes')
    p.set_defaults(fn=cmd_ktadd)

    p = sub.add_parser('addrealm')
    p.add_argument('dir')
    p.add_argument('other')
    p.set_defaults(fn=cmd_addrealm)

    p = sub.add_parser('kinit')
    p.add_argument('dir')
    p.add_argument('name')
    p.add_argument('--password', required=True)
    p.add_argument('--ccache')
    p.add_argument('--lifetime', type=int)
    p.add_argument('--start-in', type=int)
    p.set_defaults(fn=cmd_kinit)

    for name, fn in (('stop', cmd_stop), ('start', cmd_start),
                     ('silent', cmd_silent), ('destroy', cmd_destroy)):
        p = sub.add_parser(name)
        p.add_argument('dir')
        p.set_defaults(fn=fn)

    if len(sys.argv) == 3 and sys.argv[1] == '_silent':
        silent_listener(int(sys.argv[2]))
        return 0

    a = ap.parse_args()
    try:
        a.fn(a)
    except RealmError as e:
        print(f'realm.py {a.cmd}: {e}', file=sys.stderr)
        return 1
    except (OSError, subprocess.SubprocessError) as e:
        print(f'realm.py {a.cmd}: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
