#!/bin/sh
# FreeTDS tsql against the test server (tests/server/tdsserver.py), without
# and with TLS: an independent client proving the server.
# Env (exported by make check): PYTHON3, TSQL, TDSC_SRCDIR, TDSC_TEST_CERTS.
# Exit 0 pass, 1 fail, 77 skip (no tsql).

TSQL=${TSQL:-tsql}
PYTHON3=${PYTHON3:-/usr/bin/python3}
SRCDIR=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

if ! command -v "$TSQL" >/dev/null 2>&1; then
	echo "SKIP: tsql not found"
	exit 77
fi

SERVER_USER='tsqluser:S3cret!x'
# shellcheck source=tests/server/server.sh
. "$SRCDIR/tests/server/server.sh"

fail=0
ok() { echo "ok   $1"; }
bad() {
	echo "FAIL $1"
	fail=1
}

# write_conf ENCRYPTION : FreeTDS configuration for server "t"
write_conf() {
	cat >"$tmp/freetds.conf" <<EOF
[global]
	tds version = 7.4
	client charset = UTF-8
[t]
	host = 127.0.0.1
	port = $port
	encryption = $1
	ca file = $certs/ca.pem
	check certificate hostname = yes
EOF
}

# run_tsql PASSWORD : runs the script on stdin, output in $tmp/out
run_tsql() {
	FREETDSCONF=$tmp/freetds.conf LC_ALL=C.UTF-8 timeout -k 10 60 \
		"$TSQL" -S t -U tsqluser -P "$1" -D tdsc_test >"$tmp/out" 2>&1
}

queries() {
	cat <<'EOF'
SELECT @@VERSION
go
SELECT id, name FROM people ORDER BY id
go
PRINT N'hällo from PRINT'
go
SELECT * FROM no_such_table
go
SELECT id, c_decimal, c_nvarchar, c_varbinary FROM typed WHERE id = 1
go
exit
EOF
}

expect() { # expect WHAT PATTERN
	if grep -q -- "$2" "$tmp/out"; then
		ok "$1"
	else
		bad "$1 (no '$2' in output)"
		sed 's/^/    /' "$tmp/out"
	fi
}

session() { # session LABEL ENCRYPTION
	write_conf "$2"
	queries | run_tsql 'S3cret!x'
	expect "$1: @@VERSION" 'Microsoft SQL Server 2022 (tdsclient test server)'
	expect "$1: people rows" '^3	Zoë$'
	expect "$1: people NULL" '^4	NULL$'
	expect "$1: row count" '(4 rows affected)'
	expect "$1: PRINT" 'hällo from PRINT'
	expect "$1: error 208" 'Msg 208 (severity 16, state 1)'
	expect "$1: error text" "Invalid object name 'no_such_table'"
	expect "$1: typed row" '^1	-12345.6789	Grüße, 日本	0102030405$'
}

# 1. no TLS at all (FreeTDS "off" sends ENCRYPT_NOT_SUP)
start_server --cert server --encryption off
session plain off
grep -q 'TLS TLSv' "$tmp/server.log" && bad "plain: no TLS expected"

# 2. full TLS, server requires it; certificate checked against ca.pem
: >"$tmp/server.log"
stop_server
start_server --cert server --encryption req
session tls require
if grep -q 'TLS TLSv1.2' "$tmp/server.log"; then ok "tls: TLS 1.2 used"; else bad "tls: TLS 1.2 used"; fi

# 3. wrong password
echo exit | run_tsql 'wrong'
expect "wrong password: 18456" "Login failed for user 'tsqluser'"

# 4. a certificate from another CA must be refused by tsql
stop_server
start_server --cert selfsigned --encryption req
write_conf require
printf 'SELECT 1\ngo\nexit\n' | run_tsql 'S3cret!x'
if grep -q 'Adaptive Server connection failed\|There was a problem connecting' "$tmp/out"; then
	ok "untrusted certificate refused"
else
	bad "untrusted certificate refused"
	sed 's/^/    /' "$tmp/out"
fi

if [ $fail -ne 0 ]; then
	echo "--- server log"
	tail -n 40 "$tmp/server.log"
	exit 1
fi
echo "all tsql checks passed"
exit 0
