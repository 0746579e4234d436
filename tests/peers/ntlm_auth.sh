#!/bin/sh
# NTLM integrated logins against the test server's gss-ntlmssp acceptor
# (--ntlm-users), with NTLMSSP tokens from Samba's ntlm_auth (package
# winbind) driven by tests/peers/ntlm_client.py: raw NTLMSSP and SPNEGO,
# right and wrong password, unknown user, unmapped user, NTLM refused by
# policy; and pytds' NtlmAuth (NTLMv1), which the server must refuse.
# Env (exported by make check): PYTHON3, TDSC_SRCDIR, TDSC_TEST_CERTS.
# Exit 0 pass, 1 fail, 77 skip (no ntlm_auth, python3-gssapi, gss-ntlmssp).

PYTHON3=${PYTHON3:-/usr/bin/python3}
SRCDIR=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
NTLM_AUTH=${NTLM_AUTH:-ntlm_auth}

if ! command -v "$NTLM_AUTH" >/dev/null 2>&1; then
	echo "SKIP: ntlm_auth not found (Debian package winbind)"
	exit 77
fi
if ! "$PYTHON3" -c 'import gssapi.raw as g; assert "1.3.6.1.4.1.311.2.2.10" in {m.dotted_form for m in g.indicate_mechs()}' 2>/dev/null; then
	echo "SKIP: python3-gssapi or gss-ntlmssp missing"
	exit 77
fi

SERVER_USER='sqluser:S3cret!x'
# shellcheck source=tests/server/server.sh
. "$SRCDIR/tests/server/server.sh"

fail=0
ok() { echo "ok   $1"; }
bad() {
	echo "FAIL $1"
	fail=1
}

printf 'TDSC:alice:Al1ce!pw\nTDSC:bob:B0b!pw\n' >"$tmp/ntlm.users"

# client USER PASSWORD [--spnego] : output in $tmp/out, status in $rc
client() {
	u=$1
	pw=$2
	shift 2
	timeout -k 10 60 "$PYTHON3" "$SRCDIR/tests/peers/ntlm_client.py" \
		--port "$port" --domain TDSC --user "$u" --password "$pw" \
		--ntlm-auth "$NTLM_AUTH" --query 'SELECT SUSER_NAME()' "$@" \
		>"$tmp/out" 2>&1
	rc=$?
}
expect() { # expect WHAT PATTERN
	if grep -q -- "$2" "$tmp/out"; then
		ok "$1"
	else
		bad "$1 (no '$2' in output)"
		sed 's/^/    /' "$tmp/out"
	fi
}
expect_not() { # expect_not WHAT PATTERN
	if grep -q -- "$2" "$tmp/out"; then
		bad "$1 ('$2' in output)"
		sed 's/^/    /' "$tmp/out"
	else
		ok "$1"
	fi
}
expect_log() { # expect_log WHAT PATTERN
	if grep -q -- "$2" "$tmp/server.log"; then
		ok "$1"
	else
		bad "$1 (no '$2' in the server log)"
	fi
}
expect_rc() { # expect_rc WHAT N
	if [ "$rc" = "$2" ]; then ok "$1"; else bad "$1 (exit $rc, not $2)"; fi
}

start_server --encryption not_sup --ntlm-users "$tmp/ntlm.users" \
	--map 'TDSC\alice=TDSC\alice'

for mode in raw spnego; do
	opt=
	[ $mode = spnego ] && opt=--spnego
	# shellcheck disable=SC2086
	client alice 'Al1ce!pw' $opt
	expect_rc "$mode alice: logs in" 0
	expect "$mode alice: LOGINACK" '^LOGINACK$'
	expect "$mode alice: SUSER_NAME() is the mapped login" '^ROW TDSC\\alice$'
	if [ $mode = raw ]; then
		expect "raw: a CHALLENGE came back" '^SSPI-IN [0-9]* NTLMSSP-CHALLENGE$'
	else
		expect "spnego: ntlm_auth accepts the server's last token" '^HELPER AF'
	fi
	# shellcheck disable=SC2086
	client alice 'wrong' $opt
	expect_rc "$mode wrong password: refused" 1
	expect "$mode wrong password: 18452" '^ERROR 18452 14 1 Login failed. The login is from an untrusted domain'
	expect_not "$mode wrong password: no LOGINACK" '^LOGINACK'
	# shellcheck disable=SC2086
	client carol 'x' $opt
	expect_rc "$mode unknown user: refused" 1
	expect "$mode unknown user: 18452" '^ERROR 18452 14 1 '
	# shellcheck disable=SC2086
	client bob 'B0b!pw' $opt
	expect_rc "$mode bob (unmapped): refused" 1
	expect "$mode bob (unmapped): 18456" "^ERROR 18456 14 1 Login failed for user 'TDSC\\\\bob'.$"
done
expect_log "log: alice authenticated through NTLMSSP" \
	'authenticated TDSC\\alice (mech ntlmssp, 2 round(s))'
expect_log "log: wrong password named (EINVAL)" 'minor 22 (NTLM: EINVAL'
expect_log "log: unknown user named (EACCES)" 'minor 13 (NTLM: EACCES'

# pytds' NtlmAuth sends NTLMv1 (24-byte responses): gss-ntlmssp 1.2.0 would
# take it with any password, so the server refuses it even when right.
if "$PYTHON3" -c 'import pytds.login, ntlm_auth' 2>/dev/null; then
	timeout -k 10 60 "$PYTHON3" - "$port" >"$tmp/out" 2>&1 <<'EOF'
import sys, pytds
from pytds.login import NtlmAuth
try:
    pytds.connect(server='127.0.0.1', port=int(sys.argv[1]),
                  database='tdsc_test', login_timeout=20,
                  auth=NtlmAuth('TDSC\\alice', 'Al1ce!pw')).close()
    print('LOGGED IN')
except pytds.OperationalError as e:
    print('ERROR %s' % e.number)
except ValueError as e:      # no MD4 in this Python's hashlib
    print('SKIP %s' % e)
EOF
	if grep -q '^SKIP' "$tmp/out"; then
		echo "skip pytds NTLMv1: $(cat "$tmp/out")"
	else
		expect "pytds NTLMv1: refused with 18452" '^ERROR 18452$'
		expect_log "pytds NTLMv1: log says why" 'NTLMv1 response refused'
	fi
else
	echo "skip pytds NTLMv1: python3-tds or python3-ntlm-auth missing"
fi

# NTLM refused by policy: the NEGOTIATE gets 18452 at once, no CHALLENGE
stop_server
start_server --encryption not_sup --ntlm-users "$tmp/ntlm.users" \
	--map '*=*' --no-ntlm
for opt in '' --spnego; do
	# shellcheck disable=SC2086
	client alice 'Al1ce!pw' $opt
	expect_rc "--no-ntlm ${opt:-raw}: refused" 1
	expect "--no-ntlm ${opt:-raw}: 18452" '^ERROR 18452 14 1 '
	expect_not "--no-ntlm ${opt:-raw}: no CHALLENGE" '^SSPI-IN'
done
expect_log "--no-ntlm: log says NTLM not enabled" 'refused (NTLM not enabled)'

if [ $fail -ne 0 ]; then
	echo "--- server log"
	tail -n 40 "$tmp/server.log"
	exit 1
fi
echo "all ntlm_auth checks passed"
exit 0
