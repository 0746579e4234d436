#!/bin/sh
# tdsc-doctor against a throwaway realm (tests/realm) and the test server
# (tests/server): in the healthy world every check is ok; in each broken
# world the check that pinpoints the fault fails (or warns) with the code
# the library gives, and the JSON document stays valid.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
doctor="$build/tools/tdsc-doctor"
[ -x "$doctor" ] || { echo "SKIP: $doctor not built"; exit 77; }
command -v "${KRB5KDC:-krb5kdc}" >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ] ||
	{ echo "SKIP: no krb5kdc"; exit 77; }
SRCDIR=$src
SERVER_USER=sa:Secret-123
REAL_PYTHON3=$PYTHON3
# shellcheck source=tests/server/server.sh
. "$src/tests/server/server.sh"
realm="$tmp/realm"
realm_py() { "$REAL_PYTHON3" "$src/tests/realm/realm.py" "$@" >/dev/null; }
# shellcheck disable=SC2317  # invoked through trap
doctor_cleanup() {
	stop_server
	[ -d "$realm" ] && "$REAL_PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap doctor_cleanup EXIT

fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

# The healthy world: alice holds a TGT; MSSQLSvc/localhost:<port> is
# registered, its keys in the server's keytab; alice maps to a login.
world() {
	stop_server
	[ -d "$realm" ] && "$REAL_PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	realm_py create "$realm" --max-life 600 || exit 1
	set -a; . "$realm/env"; set +a
	kport=$("$REAL_PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	spn="MSSQLSvc/localhost:$kport"
	realm_py addprinc "$realm" alice --password alice-pw &&
		realm_py addprinc "$realm" "$spn" --randkey &&
		realm_py ktadd "$realm" "$realm/server.keytab" "$spn" &&
		realm_py kinit "$realm" alice --password alice-pw || exit 1
	printf 'TDSC:alice:alice-nt-pw\n' >"$realm/ntlm.users"
}

serve() { # [--cert NAME] [server args...]
	cert=server
	if [ "${1:-}" = --cert ]; then cert=$2; shift 2; fi
	start_server --cert "$cert" --port "$kport" --keytab "$realm/server.keytab" \
		--ntlm-users "$realm/ntlm.users" --map "alice@$TDSC_REALM=TDSC\\alice" \
		--map 'TDSC\alice=TDSC\alice' "$@"
}

# doctor NAME [extra connection string]: runs the doctor (JSON and text)
doctor() {
	name=$1
	cs="Server=tcp:${host:-localhost},$kport;CAFile=$certs/ca.pem;UID=sa;PWD=Secret-123;NTLMUser=TDSC\\alice;NTLMPassword=alice-nt-pw;${2:-}"
	timeout -k 10 120 "$doctor" --json -t 5 -c "$cs" >"$tmp/out.json" 2>"$tmp/err"
	rc=$?
	timeout -k 10 120 "$doctor" -t 5 -c "$cs" >"$tmp/out.txt" 2>>"$tmp/err"
	"$REAL_PYTHON3" -m json.tool "$tmp/out.json" >/dev/null 2>&1
	check "$name: --json is valid JSON" $?
	! grep -q 'Secret-123\|alice-pw\|alice-nt-pw' "$tmp/out.json" "$tmp/out.txt"
	check "$name: no secret printed" $?
}

# expect CHECK STATUS[|STATUS] [CODE] [FACT-SUBSTRING]
expect() {
	"$REAL_PYTHON3" - "$tmp/out.json" "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
cid, want = sys.argv[2], sys.argv[3].split("|")
code = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
fact = sys.argv[5] if len(sys.argv) > 5 else None
c = [c for c in doc["checks"] if c["id"] == cid][0]
ok = c["status"] in want and (code is None or c["code"] == code)
if fact is not None:
    ok = ok and any(fact in v for v in c["facts"].values())
if c["status"] in ("warn", "fail"):
    ok = ok and bool(c["hint"]) and bool(c["message"])
if not ok:
    print("   %s: %s %s: %s\n   facts: %s" % (cid, c["status"], c["code"],
          c["message"], c["facts"]))
sys.exit(0 if ok else 1)
PY
	check "$name: $1 is $2${3:+ $3}${4:+ (names $4)}" $?
}

exit_is() {
	[ "$rc" = "$1" ]
	check "$name: exit status $1 (got $rc)" $?
}

# ---------------------------------------------------------------- usage
name=usage
"$doctor" --no-such-flag >/dev/null 2>&1
rc=$?
exit_is 64
env -u TDSC_SERVER "$doctor" -c "Database=x" >/dev/null 2>&1
rc=$?
exit_is 64

# ---------------------------------------------------------------- healthy
world
serve
doctor healthy
"$REAL_PYTHON3" - "$tmp/out.json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
bad = [(c["id"], c["status"], c["message"]) for c in doc["checks"] if c["status"] != "ok"]
for b in bad:
    print("   %s: %s %s" % b)
sys.exit(1 if bad or doc["verdict"]["working_mechanisms"] != ["kerberos", "ntlm", "sql"] else 0)
PY
check "healthy: every check is ok, all three mechanisms work" $?
exit_is 0
expect names ok "" "$spn"
expect tls-offer ok "" ENCRYPT_ON
expect tls ok "" "CN=localhost"
grep -q '^verdict: all checks passed; mechanisms that work: kerberos, ntlm, sql' "$tmp/out.txt"
check "healthy: the text report ends with the verdict" $?

# ---------------------------------------------------------------- Kerberos
world
serve
realm_py stop "$realm"
doctor kdc-stopped
expect kdc fail KRB_KDC_UNREACHABLE
expect service-ticket fail KRB_KDC_UNREACHABLE
expect auth-kerberos fail KRB_KDC_UNREACHABLE
expect auth-sql ok
exit_is 2
grep -q '^\[FAIL\] KDC reachability: KRB_KDC_UNREACHABLE' "$tmp/out.txt"
check "kdc-stopped: the text report names the code" $?

world
serve
realm_py delprinc "$realm" "$spn"
doctor spn-missing
expect service-ticket fail KRB_SPN_UNKNOWN "$spn"
expect auth-kerberos fail KRB_SPN_UNKNOWN

world
serve
host=127.0.0.1 doctor by-ip-address "SPNHostCanonicalization=none"
expect names warn KRB_SPN_UNKNOWN "MSSQLSvc/127.0.0.1:$kport"
expect service-ticket fail KRB_SPN_UNKNOWN "a ticket exists for $spn"

world
serve
KRB5CCNAME=FILE:$tmp/no-such-ccache
export KRB5CCNAME
doctor no-ccache
expect credentials fail KRB_NO_CREDENTIALS "no-such-ccache"
expect auth-kerberos fail KRB_NO_CREDENTIALS

world
serve
realm_py kinit "$realm" alice --password alice-pw --lifetime 1
sleep 2
doctor expired-tgt
expect credentials "warn|fail" KRB_TICKET_EXPIRED
expect auth-kerberos fail KRB_TICKET_EXPIRED

world
if command -v faketime >/dev/null 2>&1; then
	printf '#!/bin/sh\nexec faketime -f +10m %s "$@"\n' "$REAL_PYTHON3" >"$tmp/py-ahead"
	chmod +x "$tmp/py-ahead"
	PYTHON3=$tmp/py-ahead
	serve
	PYTHON3=$REAL_PYTHON3
	doctor server-clock-ahead
	expect clock "warn|fail" KRB_CLOCK_SKEW "SELECT SYSUTCDATETIME()"
	expect auth-kerberos fail KRB_CLOCK_SKEW
	expect auth-sql ok
else
	echo "SKIP: server-clock-ahead (no faketime)"
fi

world
realm_py cpw "$realm" "$spn" --randkey
serve
doctor stale-keytab
expect service-ticket ok
expect auth-kerberos fail KRB_SERVICE_KEY_MISMATCH

# ---------------------------------------------------------------- TLS, TCP
world
serve --cert expired
doctor expired-cert
expect tls fail TLS_CERT_EXPIRED "2021-01-01"
expect tls-strict fail TLS_CERT_EXPIRED
expect auth-kerberos fail TLS_CERT_EXPIRED

world
serve --cert wrongname
doctor wrong-name-cert
expect tls fail TLS_CERT_NAME_MISMATCH "DNS:wrong.example"

world
serve --cert selfsigned
doctor self-signed-cert
expect tls fail TLS_CERT_UNTRUSTED
doctor self-signed-cert-trusted "TrustServerCertificate=yes"
expect tls warn TLS_CERT_UNTRUSTED
expect auth-kerberos ok
exit_is 1

world
serve --encryption not_sup
doctor no-encryption
expect tls-offer fail TLS_ENCRYPTION_UNAVAILABLE ENCRYPT_NOT_SUP
expect tls skip

stop_server
doctor not-listening
expect tcp fail CONN_REFUSED
expect tls-offer skip
expect auth-kerberos fail CONN_REFUSED
exit_is 2

exit $fail
