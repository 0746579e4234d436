#!/bin/sh
# tdsc-doctor in the healthy world (tests/integration/world.sh): over every
# transport (tcp, np, shm, and the library's own local plan) and every
# mechanism its verdict is clean and it exits 0; it checks the endpoint and
# the SPN a connect uses, and only the mechanisms the policy lists.  The
# broken worlds, where doctor and library must name the same cause, are
# diagnose.sh's.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
doctor="$build/tools/tdsc-doctor"
[ -x "$doctor" ] || { echo "SKIP: $doctor not built"; exit 77; }
command -v "${KRB5KDC:-krb5kdc}" >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ] ||
	{ echo "SKIP: no krb5kdc"; exit 77; }
# shellcheck source=tests/integration/world.sh
. "$src/tests/integration/world.sh"

fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

# doctor NAME CONNSTR: runs the doctor (JSON and text); rc its exit status
doctor() {
	name=$1
	timeout -k 10 120 "$doctor" --json -t 5 -c "$2" >"$tmp/out.json" 2>"$tmp/err"
	rc=$?
	timeout -k 10 120 "$doctor" -t 5 -c "$2" >"$tmp/out.txt" 2>>"$tmp/err"
	"$REAL_PYTHON3" -m json.tool "$tmp/out.json" >/dev/null 2>&1
	check "$name: --json is valid JSON" $?
	! grep -q "$SECRETS" "$tmp/out.json" "$tmp/out.txt" "$tmp/err"
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

# no_fact CHECK SUBSTRING: no fact of CHECK holds SUBSTRING
no_fact() {
	"$REAL_PYTHON3" - "$tmp/out.json" "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
c = [c for c in doc["checks"] if c["id"] == sys.argv[2]][0]
bad = [v for v in c["facts"].values() if sys.argv[3] in v]
for b in bad:
    print("   " + b)
sys.exit(1 if bad else 0)
PY
	check "$name: $1 never mentions $2" $?
}

# clean MECHANISMS: every check ok or skip, verdict ok with no code, and
# exactly these mechanisms work
clean() {
	"$REAL_PYTHON3" - "$tmp/out.json" "$@" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
bad = [(c["id"], c["status"], c["code"], c["message"]) for c in doc["checks"]
       if c["status"] not in ("ok", "skip")]
for b in bad:
    print("   %s: %s %s: %s" % b)
v = doc["verdict"]
ok = not bad and v["status"] == "ok" and v["code"] is None and \
    v["working_mechanisms"] == sys.argv[2].split(",") and doc["exit"] == 0
if not ok:
    print("   verdict:", v)
sys.exit(0 if ok else 1)
PY
	check "$name: clean verdict, $1 works" $?
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
"$doctor" -c "Server=localhost;Transport=carrier-pigeon" >/dev/null 2>"$tmp/err"
rc=$?
exit_is 64
grep -q 'carrier-pigeon' "$tmp/err"
check "usage: a bad Transport= is named as the library names it" $?

# ---------------------------------------------------------------- healthy
world
serve

# Every transport, every mechanism: clean, and the endpoint and SPN are
# the ones a connect through that transport uses.
for t in tcp np shm auto; do
	for m in kerberos ntlm sql; do
		doctor "healthy $t $m" "Server=$(server_for "$t");$(base_cs $m)"
		exit_is 0
		clean $m
		used=$t
		[ "$t" = auto ] && used=shm
		expect transport ok "" "$used"
		expect "auth-$m" ok
		expect connect ok "" "$used "
		if [ $m = kerberos ]; then
			want=$spn_local
			[ "$t" = tcp ] && want=$spn
			expect names ok "" "$want ("
			expect service-ticket ok "" "$want: issued"
		fi
	done
done
grep -q '^verdict: all checks passed; mechanisms that work: sql$' "$tmp/out.txt"
check "healthy: the text report ends with the verdict" $?

# A gateway that routes every login to the world's server (ENVCHANGE
# routing): the doctor's connect follows it, and its report names the hop.
rm -f "$tmp/gw.ready"
timeout -k 10 120 "$PYTHON3" "$src/tests/server/tdsserver.py" \
	--host 127.0.0.1 --port 0 --db "$tmp/gw.sqlite" --user "$SERVER_USER" \
	--cert "$certs/server.pem" --key "$certs/server.key" \
	--route-to "localhost,$kport" >"$tmp/gw.ready" 2>>"$tmp/server.err" &
gw_pid=$!
wait_line "$tmp/gw.ready" '^READY ' "$gw_pid" || { echo "no gateway"; exit 1; }
gw_port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/gw.ready")
doctor "routed" "Server=tcp:localhost,$gw_port;$(base_cs sql)"
exit_is 0
expect connect ok "" "to localhost,$kport"
grep -q "routed 1  *to localhost,$kport" "$tmp/out.txt"
check "routed: the text report names the hop" $?
kill "$gw_pid"
wait "$gw_pid" 2>/dev/null

# A mirrored database's principal names its partner after login (ENVCHANGE
# 13): the doctor's connect shows it, the name to give as Failover Partner=.
rm -f "$tmp/gw.ready"
timeout -k 10 120 "$PYTHON3" "$src/tests/server/tdsserver.py" \
	--host 127.0.0.1 --port 0 --db "$tmp/gw.sqlite" --user "$SERVER_USER" \
	--cert "$certs/server.pem" --key "$certs/server.key" \
	--mirror-partner "mirror.example" >"$tmp/gw.ready" 2>>"$tmp/server.err" &
gw_pid=$!
wait_line "$tmp/gw.ready" '^READY ' "$gw_pid" || { echo "no principal"; exit 1; }
gw_port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/gw.ready")
doctor "mirrored" "Server=tcp:localhost,$gw_port;$(base_cs sql)"
exit_is 0
expect connect ok "" "mirror.example (named by the server)"
grep -q "failover partner  *mirror.example" "$tmp/out.txt"
check "mirrored: the text report names the partner" $?
kill "$gw_pid"
wait "$gw_pid" 2>/dev/null

# The local server with Kerberos, as a user meets it: no port, shared
# memory first; never the TCP SPN nor port 1433 it does not use.
doctor "healthy local kerberos" "Server=(local);$(base_cs kerberos)"
exit_is 0
expect names ok "" "$spn_local (from 'localhost'"
no_fact names ":1433"
no_fact service-ticket ":1433"
expect transport ok "" "shm"

# The whole default-like chain: Kerberos logs in, NTLM is probed alone.
doctor "healthy chain" "Server=localhost;$(base_cs kerberos,ntlm)"
exit_is 0
clean kerberos,ntlm
expect auth-ntlm ok "" "alone (Authentication=ntlm)"
# Extended Protection: each integrated login says what it was bound to
expect auth-kerberos ok "" "tls-unique"
expect auth-ntlm ok "" "tls-unique"

# Transport= reorders the plan, as it does the library's.
doctor "transport np first" "Server=localhost;Transport=np,tcp;$(base_cs kerberos)"
exit_is 0
expect transport ok "" "np"
expect names ok "" "$spn_local ("

# ---------------------------------------------------------------- secrets
# Every secret option at once (PWD, NTLMPassword, KrbPassword; -P and
# TDSC_PASSWORD are PWD): the doctor logs in with each and prints none.
doctor "every secret given" "Server=shm:;$(base_cs kerberos,ntlm,sql);KrbPrincipal=alice;KrbPassword={alice-pw}"
exit_is 0
clean kerberos,ntlm,sql
name="password by -P"
timeout -k 10 120 "$doctor" -t 5 -S "tcp:localhost,$kport" -U sa -P Secret-123 \
	-c "$(base_cs sql | sed 's/;UID=.*//')" >"$tmp/out.txt" 2>&1
rc=$?
exit_is 0
! grep -q "$SECRETS" "$tmp/out.txt"
check "$name: no secret printed" $?
name="password in TDSC_PASSWORD"
TDSC_PASSWORD=Secret-123 timeout -k 10 120 "$doctor" --json -t 5 -U sa \
	-c "Server=np:$ldir/pipe/sql/query;$(base_cs sql | sed 's/;UID=.*//')" \
	>"$tmp/out.json" 2>&1
rc=$?
exit_is 0
! grep -q "$SECRETS" "$tmp/out.json"
check "$name: no secret printed" $?
# wrong ones, which the failure messages are about
doctor "every secret wrong" "Server=tcp:localhost,$kport;LocalDir=$ldir;CAFile=$certs/ca.pem;Authentication=kerberos,ntlm,sql;UID=sa;PWD={Wrong-Pass-9};NTLMUser=TDSC\\alice;NTLMPassword={Wrong-Pass-9};KrbPrincipal=alice;KrbPassword={Wrong-Pass-9}"
exit_is 2
expect connect fail

# ---------------------------------------------------------------- policy
# Authentication=sql: Kerberos is not the policy's, so not the doctor's,
# whatever state Kerberos is in (KDC stopped, no configuration at all).
realm_py stop "$realm"
doctor "sql only, KDC stopped" "Server=tcp:localhost,$kport;$(base_cs sql)"
exit_is 0
clean sql
for c in kdc credentials service-ticket auth-kerberos auth-ntlm; do
	expect $c skip
done
KRB5_CONFIG=$tmp/no-such-krb5.conf doctor "sql only, no krb5.conf" \
	"Server=tcp:localhost,$kport;$(base_cs sql)"
exit_is 0
clean sql

# The service ticket the last runs cached still logs in with the KDC
# stopped: the KDC check warns (the ticket will expire), nothing fails.
doctor "cached ticket, KDC stopped" "Server=tcp:localhost,$kport;$(base_cs kerberos)"
exit_is 1
expect connect ok
expect auth-kerberos ok
expect kdc warn KRB_KDC_UNREACHABLE

# Kerberos fails (a TGT only, the KDC stopped), NTLM (next in the list)
# logs in: the connection works, the doctor warns about Kerberos with the
# library's code, and exits 1.
world
serve
realm_py stop "$realm"
doctor "fallback to ntlm" "Server=tcp:localhost,$kport;$(base_cs kerberos,ntlm)"
exit_is 1
expect connect ok "" "KRB_KDC_UNREACHABLE"
expect auth-kerberos warn KRB_KDC_UNREACHABLE
expect auth-ntlm ok
expect kdc warn KRB_KDC_UNREACHABLE
expect service-ticket warn KRB_KDC_UNREACHABLE

exit $fail
