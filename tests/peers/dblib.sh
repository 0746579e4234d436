#!/bin/sh
# FreeTDS db-lib (tests/peers/dblib_typed.c) reads the `typed` table of the
# test server, without and with TLS, and checks every value against
# tests/peers/typed_table.expected.
# Env (exported by make check): PYTHON3, TDSC_SRCDIR, TDSC_BUILDDIR,
# TDSC_TEST_CERTS.  Exit 0 pass, 1 fail, 77 skip (program not built).

PYTHON3=${PYTHON3:-/usr/bin/python3}
SRCDIR=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${TDSC_BUILDDIR:-.}
PROG=$BUILDDIR/tests/peers/dblib_typed

if [ ! -x "$PROG" ]; then
	echo "SKIP: $PROG not built (FreeTDS db-lib missing?)"
	exit 77
fi

SERVER_USER='dbluser:Db!pass1'
# shellcheck source=tests/server/server.sh
. "$SRCDIR/tests/server/server.sh"

# a private freetds.conf: certificate validated against the test CA
printf '[global]\n\ttds version = 7.4\n\tca file = %s\n' "$certs/ca.pem" >"$tmp/freetds.conf"
FREETDSCONF=$tmp/freetds.conf
export FREETDSCONF

fail=0
run() { # run LABEL ENCRYPTION
	if timeout -k 10 60 "$PROG" 127.0.0.1 "$port" dbluser 'Db!pass1' \
		"$SRCDIR/tests/peers/typed_table.expected" "$2"; then
		echo "ok   $1"
	else
		echo "FAIL $1"
		fail=1
	fi
}

start_server --encryption not_sup
run "db-lib, no TLS" off
stop_server

start_server --encryption req
run "db-lib, TLS required" require
if grep -q 'TLS TLSv1.2' "$tmp/server.log"; then
	echo "ok   TLS used"
else
	echo "FAIL TLS used"
	fail=1
fi
stop_server

if [ $fail -ne 0 ]; then
	echo "--- server log"
	tail -n 40 "$tmp/server.log"
	exit 1
fi
exit 0
