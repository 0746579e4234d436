#!/bin/sh
# The README's demo command: installs what it needs, builds tdsclient,
# starts a throwaway Kerberos realm and the bundled test server (SQLite
# behind TDS, TLS with a throwaway CA) with its sample database, and runs
# the backup agent (examples/backup) as a service on the database host
# would: with its own keytab (Kerberos), then -- the KDC stopped, the
# machine "off its domain" -- again, falling back to NTLM and showing the
# trail of attempts.  Leaves a verified .zip (its backup restores and holds
# the sample rows) and stops everything it started.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${TDSC_DEMO_DIR:-$top/_build/demo}
start=$(date +%s)
sh "$top/scripts/deps.sh"
(cd "$top" && autoreconf -fi >/dev/null 2>&1)
mkdir -p "$out"
(cd "$out" && "$top/configure" -q && make -s -j"$(nproc)" && make -s tests/tls/certs/stamp)
py=$(sed -n 's/^PYTHON3 = //p' "$out/Makefile")
certs="$out/tests/tls/certs"
agent="$out/examples/backup/tdsc-backup-agent"
tmp=$(mktemp -d)
realm="$tmp/realm"
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  wait 2>/dev/null || true
  [ -d "$realm" ] && "$py" "$top/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

echo "== a throwaway Kerberos realm (tests/realm) and the test server"
"$py" "$top/tests/realm/realm.py" create "$realm" >/dev/null
set -a
# shellcheck source=/dev/null  # written by realm.py create
. "$realm/env"
set +a
KRB5CCNAME="FILE:$tmp/no-ccache" # unattended: no ticket cache, a keytab
port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
spn="MSSQLSvc/localhost:$port"
# SQL Server's SPNs: by port for TCP, by host for the local transports
for p in backup "$spn" MSSQLSvc/localhost; do
  "$py" "$top/tests/realm/realm.py" addprinc "$realm" "$p" --randkey
done
"$py" "$top/tests/realm/realm.py" ktadd "$realm" "$tmp/server.keytab" "$spn" MSSQLSvc/localhost
localdir="$tmp/local"
mkdir -p "$localdir"
"$py" "$top/tests/realm/realm.py" ktadd "$realm" "$tmp/agent.keytab" backup
printf 'TDSC:backup:backup-nt-pw\n' >"$tmp/ntlm.users"
printf 'TDSC\\backup:backup-nt-pw\n' >"$tmp/agent.cred"
chmod 600 "$tmp/agent.cred" "$tmp/agent.keytab"
"$py" "$top/tests/server/tdsserver.py" --port "$port" --db "$tmp/demo.sqlite" \
  --init "$top/tests/server/sample.sql" --user sa:Secret-123 \
  --cert "$certs/server.pem" --key "$certs/server.key" \
  --keytab "$tmp/server.keytab" --ntlm-users "$tmp/ntlm.users" \
  --map "backup@$TDSC_REALM=TDSC\\backup" --map 'TDSC\backup=TDSC\backup' \
  --shm "$localdir/MSSQLSERVER.shm" --log "$tmp/server.log" >"$tmp/ready" &
pid=$!
i=0
while ! grep -q READY "$tmp/ready" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "the test server did not start:" >&2
    tail -n 20 "$tmp/server.log" >&2 2>/dev/null
    exit 1
  fi
  sleep 0.1
done
echo "realm $TDSC_REALM (KDC on port $TDSC_KDC_PORT); server localhost,$port, SPN $spn"
printf '%s\n' "the agent's account: backup@$TDSC_REALM (keytab), TDSC\\backup (NTLM credential file)"

# The agent's default Server=(local): shared memory, then a named pipe,
# then TCP; LocalDir= says where this server's local endpoints are.
cs="Server=(local);LocalDir=$localdir;CAFile=$certs/ca.pem"
cs="$cs;KrbKeytab=$tmp/agent.keytab;KrbPrincipal=backup@$TDSC_REALM"
cs="$cs;NTLMCredFile=$tmp/agent.cred"
mkdir -p "$out/backups"
zip1="$out/backups/backup-kerberos.zip"
zip2="$out/backups/backup-ntlm.zip"
rm -f "$zip1" "$zip2"

echo
echo "\$ tdsc-backup-agent once -c 'Server=(local);KrbKeytab=...;NTLMCredFile=...' -d tdsc_test -o $zip1"
"$agent" once -c "$cs" -d tdsc_test -o "$zip1"

echo
echo "== off the domain: the KDC stops answering; the agent falls back to NTLM"
"$py" "$top/tests/realm/realm.py" stop "$realm"
echo "\$ tdsc-backup-agent once ... -o $zip2"
"$agent" once -c "$cs" -d tdsc_test -o "$zip2"

echo
echo "== the same with Authentication=kerberos only: the structured error and its trail"
echo "\$ tdsc-backup-agent once -c '...;Authentication=kerberos' ..."
"$agent" once -c "$cs;Authentication=kerberos" -d tdsc_test -o "$tmp/never.zip" ||
  echo "(exit status $?: 10 = the connect failed)"

echo
echo "== verifying $zip2"
"$py" - "$zip2" "$tmp/demo.sqlite" "$tmp/restored.bak" <<'EOF'
import sqlite3, sys, zipfile
zpath, live, restored = sys.argv[1:]
with zipfile.ZipFile(zpath) as z:
    (name,) = z.namelist()
    assert z.testzip() is None
    with open(restored, 'wb') as f:
        f.write(z.read(name))
a, b = sqlite3.connect(live), sqlite3.connect(restored)
print('%s holds %s; integrity_check: %s' % (
    zpath.rsplit('/', 1)[-1], name, b.execute('PRAGMA integrity_check').fetchone()[0]))
for t in ('people', 'typed'):
    ra = a.execute('SELECT * FROM %s ORDER BY 1' % t).fetchall()
    rb = b.execute('SELECT * FROM %s ORDER BY 1' % t).fetchall()
    assert ra == rb, t
    print('  %s: %d rows, the same as the server\'s' % (t, len(rb)))
print('  people:', ', '.join(r[0] or 'NULL' for r in b.execute('SELECT name FROM people ORDER BY id')))
EOF
echo "\$ tdsc -Q \"RESTORE VERIFYONLY FROM DISK = N'$tmp/restored.bak'\""
TDSC_PASSWORD=Secret-123 "$out/tools/tdsc" -c "Server=tcp:localhost,$port;UID=sa;CAFile=$certs/ca.pem" \
  -Q "RESTORE VERIFYONLY FROM DISK = N'$tmp/restored.bak'"
echo
echo "== done in $(($(date +%s) - start)) s: the verified backup is $zip2;"
echo "   the server and the KDC are stopped, their files removed"
