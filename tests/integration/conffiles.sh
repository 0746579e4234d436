#!/bin/sh
# Configuration files through tdsc against the test server: a freetds.conf
# section resolves Server=<name>, a service section completes the string,
# the password file gives the password when private and is ignored (and
# named in the error) when others may read it.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
tdsc="$build/tools/tdsc"
SRCDIR=$src
SERVER_USER=sa:Secret-123
# shellcheck source=tests/server/server.sh
. "$src/tests/server/server.sh"
fail=0
check() { if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
run() { # connection string: output in $tmp/out, status in $rc
	timeout -k 10 60 "$tdsc" -c "$1" -Q "SELECT SUSER_NAME() AS who" >"$tmp/out" 2>&1
	rc=$?
	[ "${VERBOSE:-}" ] && cat "$tmp/out"
}
has() { grep -q -- "$1" "$tmp/out" || { sed 's/^/    /' "$tmp/out"; return 1; }; }

start_server
unset TDSC_PASSWORD TDSC_SERVICE
export HOME="$tmp/home" # none of the user's own files
mkdir -p "$HOME"
printf '[orders]\n\thost = localhost\n\tport = %s\n\tencryption = require\n' "$port" >"$tmp/freetds.conf"
printf '[test]\nServer = tcp:localhost,%s\nUID = sa\nCAFile = %s\n' "$port" "$certs/ca.pem" >"$tmp/svc.conf"
printf 'localhost:%s:*:sa:Secret-123\n' "$port" >"$HOME/.tdscpass"
chmod 600 "$HOME/.tdscpass"

FREETDSCONF=$tmp/freetds.conf run "Server=orders;UID=sa;PWD=Secret-123;CAFile=$certs/ca.pem"
check "freetds.conf: Server=orders logs in" $rc
has "^sa *$"; check "freetds.conf: the query ran as sa" $?

TDSC_SERVICEFILE=$tmp/svc.conf run "Service=test"
check "service file + password file: Service=test logs in" $rc
has "^sa *$"; check "service file: the query ran as sa" $?

chmod 644 "$HOME/.tdscpass"
TDSC_SERVICEFILE=$tmp/svc.conf run "Service=test"
[ $rc != 0 ]; check "a password file others may read is not used" $?
has "password file $HOME/.tdscpass was ignored"; check "the error names the ignored file" $?
! grep -q Secret-123 "$tmp/out"; check "no password printed" $?

run "Server=localhost:$port;UID=sa;PWD=x"
[ $rc != 0 ]; check "Server=host:port is refused" $?
has "write Server=localhost,$port"; check "with the spelling to use" $?
exit $fail
