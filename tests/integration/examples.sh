#!/bin/sh
# The API examples (examples/api) against the test server and a throwaway
# Kerberos realm: each prints what its header comment promises, and fails
# the way it says.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
ex="$build/examples/api"
for p in query params errors integrated; do
	[ -x "$ex/$p" ] || { echo "SKIP: $ex/$p not built (make examples)"; exit 77; }
done
SRCDIR=$src
SERVER_USER=sa:Secret-123
REAL_PYTHON3=$PYTHON3
# shellcheck source=tests/server/server.sh
. "$src/tests/server/server.sh"
realm="$tmp/realm"
# shellcheck disable=SC2317  # invoked through trap
examples_cleanup() {
	stop_server
	[ -d "$realm" ] && "$REAL_PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap examples_cleanup EXIT

fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
run() { # program args... : output in $tmp/out, status in $rc
	prog=$1
	shift
	timeout -k 10 60 "$ex/$prog" "$@" >"$tmp/out" 2>&1
	rc=$?
}
has() { grep -q -- "$1" "$tmp/out" || { sed 's/^/    /' "$tmp/out"; return 1; }; }

start_server
cs="Server=tcp:localhost,$port;UID=sa;CAFile=$certs/ca.pem"
export TDSC_PASSWORD=Secret-123

# query: rows, NULL, row count
run query "$cs" "SELECT id, name FROM people ORDER BY id"
check "query: exits 0" $rc
has "^id	name$"; check "query: the column names" $?
has "^3	Zoë$"; check "query: a row, UTF-8 text" $?
has "^4	NULL$"; check "query: NULL printed as NULL" $?
has "^(4 rows)$"; check "query: the row count" $?
run query "$cs" "SELECT * FROM no_such_table"
[ $rc = 1 ]; check "query: a server error exits 1" $?
has "SERVER_ERROR"; check "query: the error's code is printed" $?

# async (examples/async): 100 non-blocking connections in one poll loop
if [ -x "$build/examples/async/tdsc-async" ]; then
	timeout -k 10 120 "$build/examples/async/tdsc-async" -n 100 -q 3 "$cs" >"$tmp/out" 2>&1
	check "async: exits 0" $?
	has "^100 connections, 3 queries each, 1200 rows$"; check "async: every row of every query" $?
	has "^connection 99: 12 rows, first 'sa'$"; check "async: the last connection's rows" $?
fi

# params: commit, rollback on request, rollback after an error
run query "$cs" "CREATE TABLE notes (id int PRIMARY KEY, name nvarchar(100))"
check "params: the table is created" $rc
run params "$cs" 7 "Ann; DROP TABLE notes --"
check "params: exits 0" $rc
has "^row 7 Ann; DROP TABLE notes --$"; check "params: the text is a value, not SQL" $?
has "^committed 1$"; check "params: committed and visible after" $?
run params "$cs" 8 Ben rollback
check "params rollback: exits 0" $rc
has "^rolled back 0$"; check "params rollback: nothing left after" $?
run params "$cs" 7 Again
[ $rc = 1 ]; check "params: a duplicate key exits 1" $?
has "^rolled back 1$"; check "params: the failed transaction rolled back, the first row stays" $?

# errors: the structured error, field by field
TDSC_PASSWORD=wrong-password run errors "$cs"
[ $rc = 1 ]; check "errors: a failed login exits 1" $?
has "^code: LOGIN_FAILED (700), category sql-login$"; check "errors: code, number and category" $?
has "^server: Msg 18456, "; check "errors: the server's message number" $?
has "^hint: ."; check "errors: a hint" $?
has "^attempt 1: tcp "; check "errors: the trail" $?
! grep -q wrong-password "$tmp/out"; check "errors: the password is not printed" $?
dead=$("$REAL_PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
run errors "Server=tcp:127.0.0.1,$dead;UID=sa;CAFile=$certs/ca.pem"
has "^code: CONN_REFUSED (301), category transport$"; check "errors: a refused port" $?
has "^provider status: 111 "; check "errors: the raw errno" $?
run errors "$cs"
check "errors: connects where it can" $rc
has "^connected: "; check "errors: says so" $?

# integrated: Kerberos with a ticket, the mechanism in the attempts
if command -v "${KRB5KDC:-krb5kdc}" >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ]; then
	stop_server
	"$REAL_PYTHON3" "$src/tests/realm/realm.py" create "$realm" --max-life 600 >/dev/null || exit 1
	set -a; . "$realm/env"; set +a
	kport=$dead
	spn="MSSQLSvc/localhost:$kport"
	rp() { "$REAL_PYTHON3" "$src/tests/realm/realm.py" "$@" >/dev/null || exit 1; }
	rp addprinc "$realm" alice --password alice-pw
	rp addprinc "$realm" "$spn" --randkey
	rp ktadd "$realm" "$realm/server.keytab" "$spn"
	rp kinit "$realm" alice --password alice-pw
	start_server --port "$kport" --keytab "$realm/server.keytab" \
		--map "alice@$TDSC_REALM=TDSC\\alice"
	unset TDSC_PASSWORD
	run integrated "Server=tcp:localhost,$kport;CAFile=$certs/ca.pem;Authentication=kerberos,ntlm"
	check "integrated: exits 0" $rc
	has "^attempt 1: kerberos for alice@$TDSC_REALM for $spn .*: logged in$"; check "integrated: Kerberos logged in, for the SPN" $?
	has '^logged in as TDSC\\alice$'; check "integrated: the mapped login" $?
	if [ -x "$build/examples/async/tdsc-async" ]; then
		TDSC_PASSWORD=Secret-123 timeout -k 10 120 "$build/examples/async/tdsc-async" -n 100 \
			"Server=tcp:localhost,$kport;CAFile=$certs/ca.pem;UID=sa" \
			"Server=tcp:localhost,$kport;CAFile=$certs/ca.pem;Authentication=kerberos" >"$tmp/out" 2>&1
		check "async: TLS with SQL login and Kerberos, exits 0" $?
		has "^connection 98: 12 rows, first 'sa'$"; check "async: SQL login's rows" $?
		has "^connection 99: 12 rows, first 'TDSC.alice'$"; check "async: Kerberos's rows" $?
	fi
	kdestroy >/dev/null 2>&1
	run integrated "Server=tcp:localhost,$kport;CAFile=$certs/ca.pem;Authentication=kerberos"
	[ $rc = 1 ]; check "integrated: without a ticket exits 1" $?
	has "KRB_NO_CREDENTIALS"; check "integrated: no ticket is named as such" $?
else
	echo "skip: integrated (no krb5kdc)"
fi
exit $fail
