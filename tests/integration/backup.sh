#!/bin/sh
# The backup agent (examples/backup) against the test server and a
# throwaway realm: a backup whose .zip restores to the server's rows; the
# agent mode serving two clients in a row; Kerberos with the agent's own
# keytab, and with the KDC stopped the fallback to NTLM with its trail;
# each step's failure with its step's exit status and message, and the
# work folder left empty every time.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
agent="$build/examples/backup/tdsc-backup-agent"
fetch="$build/examples/backup/tdsc-backup-fetch"
[ -x "$agent" ] || { echo "SKIP: $agent not built"; exit 77; }
command -v "${KRB5KDC:-krb5kdc}" >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ] ||
	{ echo "SKIP: no krb5kdc"; exit 77; }
SRCDIR=$src
SERVER_USER=sa:Secret-123
# shellcheck source=tests/server/server.sh
. "$src/tests/server/server.sh"
realm="$tmp/realm"
agent_pid=
realm_py() { "$PYTHON3" "$src/tests/realm/realm.py" "$@" >/dev/null; }
# shellcheck disable=SC2317  # invoked through trap
backup_cleanup() {
	[ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
	stop_server
	[ -d "$realm" ] && "$PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap backup_cleanup EXIT

fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
has() { grep -qF -- "$2" "$1"; }
work="$tmp/work"
mkdir -p "$work"
work_empty() { [ -z "$(ls -A "$work")" ]; }

# start_agent ARGS... : the agent in serve mode; sets agent_pid and aport
# (empty if it did not come to listen).  serve.out is removed first: the
# shell truncates it only in the child, and a grep of the previous agent's
# line would race ahead.
start_agent() {
	rm -f "$tmp/serve.out"
	"$agent" serve "$@" >"$tmp/serve.out" 2>"$tmp/serve.err" &
	agent_pid=$!
	wait_line "$tmp/serve.out" '^listening on ' "$agent_pid"
	aport=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$tmp/serve.out" 2>/dev/null)
	[ -n "$aport" ] || { echo "the agent did not come to listen:"; cat "$tmp/serve.err"; }
}
# wait_agent : returns the agent's exit status; one still running 60 s on
# (its client never came) is killed and 124 returned.
wait_agent() {
	i=0
	while kill -0 "$agent_pid" 2>/dev/null && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$agent_pid" 2>/dev/null; then
		echo "the agent still runs 60 s after its clients: killed"
		kill "$agent_pid"
		wait "$agent_pid"
		st=124
	else
		wait "$agent_pid"
		st=$?
	fi
	agent_pid=
	return $st
}

# The world: the service account "backup" has a keytab of its own
# (Kerberos) and an NTLM password in a credential file; both map to the
# login TDSC\backup.  No ticket cache: the agent runs unattended.
realm_py create "$realm" || exit 1
set -a
# shellcheck source=/dev/null  # written by realm.py create
. "$realm/env"
set +a
KRB5CCNAME="FILE:$tmp/no-such-ccache"
kport=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
spn="MSSQLSvc/localhost:$kport"
realm_py addprinc "$realm" backup --randkey &&
	realm_py addprinc "$realm" "$spn" --randkey &&
	realm_py ktadd "$realm" "$realm/server.keytab" "$spn" &&
	realm_py ktadd "$realm" "$tmp/agent.keytab" backup || exit 1
printf 'TDSC:backup:backup-nt-pw\n' >"$tmp/ntlm.users"
printf '# the backup agent'"'"'s account\nTDSC\\backup:backup-nt-pw\n' >"$tmp/agent.cred"
start_server --port "$kport" --keytab "$realm/server.keytab" \
	--ntlm-users "$tmp/ntlm.users" --map "backup@$TDSC_REALM=TDSC\\backup" \
	--map 'TDSC\backup=TDSC\backup'
db="$tmp/test.sqlite"
cs="Server=tcp:localhost,$kport;CAFile=$certs/ca.pem;KrbKeytab=$tmp/agent.keytab;KrbPrincipal=backup@$TDSC_REALM;NTLMCredFile=$tmp/agent.cred"

# zip_matches ZIP: the archive holds one .bak, a sound SQLite database
# with the same rows as the server's database in every sample table
zip_matches() {
	"$PYTHON3" - "$1" "$db" "$tmp/restored.sqlite" <<'EOF'
import sqlite3, sys, zipfile
zpath, live, restored = sys.argv[1:]
with zipfile.ZipFile(zpath) as z:
    names = z.namelist()
    assert len(names) == 1 and names[0].endswith('.bak'), names
    assert z.testzip() is None
    with open(restored, 'wb') as f:
        f.write(z.read(names[0]))
a, b = sqlite3.connect(live), sqlite3.connect(restored)
assert b.execute('PRAGMA integrity_check').fetchone()[0] == 'ok'
for t in ('people', 'typed'):
    ra = a.execute('SELECT * FROM %s ORDER BY 1' % t).fetchall()
    rb = b.execute('SELECT * FROM %s ORDER BY 1' % t).fetchall()
    assert ra == rb and ra, t
EOF
}

# ---------------------------------------------------------------- stories

"$agent" once -c "$cs" -d tdsc_test -o "$tmp/out.zip" --workdir "$work" \
	>"$tmp/once.out" 2>"$tmp/once.err"
rc=$?
check "kerberos_keytab_backup_succeeds (exit $rc)" "$rc"
grep -q "attempt 1: .*kerberos as backup@$TDSC_REALM for $spn .*: ok" "$tmp/once.out"
check "the trail shows the Kerberos login" $?
has "$tmp/once.out" "CHECKDB found 0 allocation errors and 0 consistency errors" &&
	has "$tmp/once.out" "FileId=2" &&
	has "$tmp/once.out" "BACKUP DATABASE successfully processed" &&
	has "$tmp/once.out" "The backup set on file 1 is valid."
check "the server's DBCC and BACKUP messages are shown" $?
has "$tmp/once.err" "100%"
check "BACKUP's percent messages drawn as a progress bar" $?
zip_matches "$tmp/out.zip"
check "the .zip's backup restores to the server's rows" $?
work_empty
check "nothing left in the work folder after a backup" $?

# off the domain: the KDC stops; Kerberos fails, NTLM logs in, the trail says so
realm_py stop "$realm"
"$agent" once -c "$cs" -d tdsc_test -o "$tmp/ntlm.zip" --workdir "$work" \
	>"$tmp/ntlm.out" 2>"$tmp/ntlm.err"
rc=$?
check "kdc_down_falls_back_to_ntlm (exit $rc)" "$rc"
grep -q "attempt 1: .*kerberos .*KRB_KDC_UNREACHABLE" "$tmp/ntlm.out" &&
	grep -q 'attempt 2: .*ntlm as TDSC\\backup: ok' "$tmp/ntlm.out"
check "the trail shows Kerberos unreachable, then NTLM" $?
zip_matches "$tmp/ntlm.zip" && work_empty
check "the NTLM backup restores too, nothing left" $?
! grep -q "backup-nt-pw" "$tmp/ntlm.out" "$tmp/ntlm.err"
check "no secret printed" $?

# Kerberos alone with no KDC: step 0, the structured error and its trail
"$agent" once -c "$cs;Authentication=kerberos" -d tdsc_test -o "$tmp/x.zip" \
	--workdir "$work" >"$tmp/krb.out" 2>"$tmp/krb.err"
rc=$?
[ "$rc" = 10 ] && has "$tmp/krb.err" "step 0 (connect) failed:" &&
	has "$tmp/krb.err" "KRB_KDC_UNREACHABLE" && has "$tmp/krb.err" "hint:" &&
	has "$tmp/krb.err" "attempt 1:" && [ ! -e "$tmp/x.zip" ] && work_empty
check "kerberos_only_off_the_domain_is_a_connect_failure (exit $rc)" $?

# agent mode: two clients in a row, then the agent exits
start_agent -c "$cs" -d tdsc_test --listen 127.0.0.1:0 --count 2 --workdir "$work"
"$fetch" "127.0.0.1:$aport" "$tmp/c1.zip" >/dev/null && work_empty &&
	"$fetch" "127.0.0.1:$aport" "$tmp/c2.zip" >/dev/null && work_empty
check "serve_answers_two_clients_in_a_row" $?
zip_matches "$tmp/c1.zip" && zip_matches "$tmp/c2.zip"
check "both clients' archives restore to the server's rows" $?
wait_agent
rc=$?
check "the agent exits 0 after --count 2 (exit $rc)" "$rc"

# ------------------------------------------------ each step's failure
# (SQL login from here on: the failures are the server's, not the login's)
stop_server
scs="Server=tcp:localhost,$kport;CAFile=$certs/ca.pem;UID=sa;PWD=Secret-123"

step_fails() { # name, expected exit, expected message, agent args...
	name=$1 want=$2 msg=$3
	shift 3
	rm -f "$tmp/f.zip"
	"$agent" once -c "$scs" -d tdsc_test --workdir "$work" "$@" \
		>"$tmp/f.out" 2>"$tmp/f.err"
	rc=$?
	[ "$rc" = "$want" ] && has "$tmp/f.err" "$msg" && work_empty &&
		[ ! -e "$tmp/f.zip" ]
	check "$name (exit $rc, want $want)" $?
	[ "$rc" = "$want" ] || cat "$tmp/f.out" "$tmp/f.err"
}

start_server --port "$kport" --misbehave checkdb-fails
step_fails checkdb_failure_is_step_1 11 "step 1 (checkdb) failed:" -o "$tmp/f.zip"
has "$tmp/f.err" "server error 8939" && has "$tmp/f.out" "1 consistency errors"
check "the CHECKDB failure names the server's error 8939" $?
# agent mode: the client hears the step in the ERR line
start_agent -c "$scs" -d tdsc_test --listen 127.0.0.1:0 --count 1 --workdir "$work"
"$fetch" "127.0.0.1:$aport" "$tmp/f.zip" 2>"$tmp/fetch.err"
rc=$?
wait_agent
[ "$rc" = 11 ] && has "$tmp/fetch.err" "1 checkdb SERVER_ERROR" &&
	[ ! -e "$tmp/f.zip" ] && work_empty
check "a client of a failing agent gets the step in the ERR line (exit $rc)" $?
stop_server

start_server --port "$kport" --misbehave shrink-fails
step_fails shrink_failure_is_step_2 12 "step 2 (shrink) failed:" -o "$tmp/f.zip"
has "$tmp/f.err" "server error 3023"
check "the SHRINKFILE failure names the server's error 3023" $?
stop_server

start_server --port "$kport" --misbehave backup-fails
step_fails backup_failure_midway_is_step_3 13 "step 3 (backup) failed:" -o "$tmp/f.zip"
has "$tmp/f.err" "server error 3203" && has "$tmp/f.out" "BACKUP DATABASE is terminating abnormally."
check "the BACKUP failure names 3203 and 3013" $?
stop_server

start_server --port "$kport"
# a file-size limit (a full disk) fails the compression; SIGXFSZ ignored
# so that the write returns EFBIG
(trap '' XFSZ; ulimit -f 8; step_fails zip_failure_is_step_4 14 "step 4 (compress) failed:" -o "$tmp/f.zip"; exit $fail) || fail=1
has "$tmp/f.err" "ZIP_ER_WRITE"
check "the compression failure names libzip's error" $?
step_fails handover_failure_is_step_5 15 "step 5 (handover) failed:" -o "$tmp/no/such/dir/f.zip"
has "$tmp/f.err" "No such file or directory"
check "the handover failure names the system's error" $?
stop_server
step_fails connect_failure_is_step_0 10 "step 0 (connect) failed:" -o "$tmp/f.zip"
has "$tmp/f.err" "CONN_REFUSED" && has "$tmp/f.err" "attempt 1:"
check "a connect failure prints the structured error and the trail" $?

exit $fail
