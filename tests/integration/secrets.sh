#!/bin/sh
# Issue 11: a password holding an unbraced ';' had its tail printed back by
# the connection-string parser ("'ret99' has no '=value'"), through tdsc and
# tdsc-doctor.  For every secret keyword and alias (the option table's
# secret flag; --help marks them "never printed"), and each kind of parse
# error after it, neither tool prints any text that follows the secret; the
# message names the secret keyword and the offset.  No server is needed
# there: the string is rejected before any traffic.  The token sources'
# secrets (below) need the test server's FEDAUTHINFO.
set -u
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
tdsc="$build/tools/tdsc"
doctor="$build/tools/tdsc-doctor"
[ -x "$tdsc" ] && [ -x "$doctor" ] || { echo "SKIP: tools not built"; exit 77; }
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
SRCDIR=$src
SERVER_USER=sa:Secret-123
# shellcheck source=tests/server/server.sh
. "$src/tests/server/server.sh"
fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

# "  PWD   SQL login password (never printed) (also: Password)"
"$tdsc" --help | grep 'never printed' >"$tmp/secret-lines"
keywords=$(sed -e 's/^ *\([^ ]*\) .*/\1/' "$tmp/secret-lines"
	sed -n -e 's/.*(also: \([^)]*\)).*/\1/p' "$tmp/secret-lines" | tr '|' '\n')
n=$(echo "$keywords" | grep -c .)
[ "$n" -ge 4 ]; check "--help marks at least PWD, Password, KrbPassword, NTLMPassword secret ($n)" $?
for k in PWD Password KrbPassword NTLMPassword; do
	echo "$keywords" | grep -qx "$k"; check "$k is a secret keyword" $?
done

for k in $keywords; do
	for tail in 'ret99' 'ret99=1' 'UID=u;UID=ret99' 'App={ret99' \
		'Encrypt=ret99' 'Authentication=ret99'; do
		cs="Server=tcp:127.0.0.1,1;$k=abc;$tail"
		for tool in tdsc doctor; do
			if [ $tool = tdsc ]; then
				timeout -k 5 30 "$tdsc" -c "$cs" -Q 'SELECT 1' >"$tmp/out" 2>&1
			else
				timeout -k 5 30 "$doctor" -t 2 -c "$cs" >"$tmp/out" 2>&1
			fi
			rc=$?
			[ $rc = 64 ] && ! grep -q 'ret99\|abc' "$tmp/out" &&
				grep -q "offset" "$tmp/out" && grep -q "$k=\\|secret" "$tmp/out"
			check "$tool, $k=abc;$tail: exit 64, the tail never printed (rc $rc)" $?
			[ $rc = 64 ] || cat "$tmp/out"
		done
	done
done
# the doctor's JSON report as well
timeout -k 5 30 "$doctor" --json -c "Server=x;PWD=abc;ret99" >"$tmp/out" 2>&1
! grep -q 'ret99\|abc' "$tmp/out"; check "tdsc-doctor --json never prints the tail" $?
# before any secret, the offending text is quoted: it is the best pointer
timeout -k 5 30 "$tdsc" -c "Server=x;ret99" -Q 'SELECT 1' >"$tmp/out" 2>&1
grep -q "'ret99'" "$tmp/out"; check "text before any secret is quoted" $?
# Issue 17: the token sources over HTTP (a client secret, App Service's
# IDENTITY_HEADER, a workload's federated assertion) are never printed by
# either tool nor written to the protocol trace, when the endpoint is out
# of reach, plain http elsewhere than loopback, or the source incomplete.
# The fetch follows the server's FEDAUTHINFO (MS-TDS's ADAL workflow): a
# test server that names Entra's token service, whose trusted host lets
# EntraAuthority= and AZURE_AUTHORITY_HOST be asked (unreachable here).
printf 'eyJret77assert.e30.c2ln\n' >"$tmp/assertion"
entra_case() { # description, connection string (env set by the caller)
	for tool in tdsc doctor; do
		rm -f "$tmp/trace"
		if [ $tool = tdsc ]; then
			TDSC_TRACE="$tmp/trace" timeout -k 5 30 "$tdsc" -c "$2" -Q 'SELECT 1' >"$tmp/out" 2>&1
		else
			TDSC_TRACE="$tmp/trace" timeout -k 5 30 "$doctor" -t 3 -c "$2" >"$tmp/out" 2>&1
		fi
		rc=$?
		[ $rc != 0 ] && grep -q 'ENTRA' "$tmp/out" &&
			! cat "$tmp/out" "$tmp/trace" 2>/dev/null | grep -q 'ret77'
		check "$tool, $1: fails naming the cause, no secret printed or traced (rc $rc)" $?
	done
}
timeout -k 10 60 openssl genpkey -algorithm RSA -out "$tmp/tenant.key" 2>/dev/null &&
	openssl pkey -in "$tmp/tenant.key" -pubout -out "$tmp/tenant.pem" || exit 1
start_server --entra-key "$tmp/tenant.pem"
srv="Server=tcp:localhost,$port;CAFile=$certs/ca.pem;LoginTimeout=5"
sp="$srv;Authentication=ActiveDirectoryServicePrincipal;UID=app;PWD=ret77sec;EntraTenant=t"
entra_case "client secret, endpoint refused" "$sp;EntraAuthority=http://127.0.0.1:1"
entra_case "client secret, insecure endpoint" "$sp;EntraAuthority=http://login.example.test"
entra_case "client secret, no client id" "Server=tcp:127.0.0.1,1;Authentication=entra-sp;PWD=ret77sec"
IDENTITY_ENDPOINT=http://127.0.0.1:1/msi IDENTITY_HEADER=ret77hdr \
	entra_case "IDENTITY_HEADER, endpoint refused" "$srv;Authentication=ActiveDirectoryManagedIdentity"
AZURE_FEDERATED_TOKEN_FILE="$tmp/assertion" AZURE_CLIENT_ID=app AZURE_TENANT_ID=t \
	AZURE_AUTHORITY_HOST=http://127.0.0.1:1 \
	entra_case "federated assertion, endpoint refused" "$srv;Authentication=ActiveDirectoryWorkloadIdentity"
# The doctor reports a fetched token's source and claims (issue 17), from
# a loopback identity provider that issues one for the client secret:
# never the secret nor the token (its header's base64url is in every one).
printf 'ret77sec' >"$tmp/client-secret"
timeout -k 10 120 "$PYTHON3" "$src/tests/server/authority.py" \
	--key "$tmp/tenant.key" --tenant t --client-id app \
	--secret-file "$tmp/client-secret" \
	--principal app=0c0ffee0-0000-4000-8000-0000000000b7 \
	>"$tmp/authority.ready" 2>"$tmp/authority.err" &
auth_pid=$!
wait_line "$tmp/authority.ready" '^READY ' "$auth_pid" || { echo "no authority"; exit 1; }
auth="http://127.0.0.1:$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/authority.ready")"
head=$("$PYTHON3" -c 'import base64; print(base64.urlsafe_b64encode(b"{\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": \"test\"}").decode().rstrip("="))')
for fmt in text json; do
	flag=
	[ $fmt = json ] && flag=--json
	TDSC_TRACE="$tmp/trace" timeout -k 5 60 "$doctor" $flag -t 5 \
		-c "$sp;EntraAuthority=$auth" >"$tmp/out" 2>&1
	grep -q "oid=0c0ffee0-0000-4000-8000-0000000000b7, .*exp=20" "$tmp/out" &&
		grep -q "from token endpoint $auth/t/oauth2/v2.0/token, client id app" "$tmp/out" &&
		grep -q "a client secret (not shown)" "$tmp/out" &&
		! cat "$tmp/out" "$tmp/trace" 2>/dev/null | grep -q "ret77\|$head"
	check "doctor ($fmt), a fetched token: its source and claims, no secret nor token" $?
done
kill "$auth_pid"
wait "$auth_pid" 2>/dev/null
exit $fail
