#!/bin/sh
# tdsc, the query CLI, against the test server: it prints the typed table
# with the values the independent clients read (tests/peers), and fails
# with the structured error and the documented exit codes.
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
check() { # name, condition result
  if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
start_server
cs="Server=tcp:localhost,$port;UID=sa;CAFile=$certs/ca.pem"
export TDSC_PASSWORD=Secret-123

timeout -k 10 60 "$tdsc" -c "$cs" --csv -q -Q "SELECT * FROM typed ORDER BY id" > "$tmp/typed.csv" 2> "$tmp/err"
check "tdsc --csv exits 0 on the typed table" $?
"$PYTHON3" - "$tmp/typed.csv" "$src/tests/peers/typed_table.expected" <<'PY'
import csv, hashlib, struct, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8", newline="")))
head, rows = rows[0], rows[1:]
want = [l.rstrip("\r\n").split("\t") for l in open(sys.argv[2], encoding="utf-8")
        if l.strip() and not l.startswith("#")]
bad = 0
if len(rows) != len(want):
    print("row count", len(rows), "want", len(want)); sys.exit(1)
for r, w in zip(rows, want):
    for name, got, exp in zip(head, r, w):
        if exp == "NULL":
            ok = got == ""   # CSV writes NULL as an empty field
        elif exp.startswith("len="):
            if got.startswith("0x"):
                data = bytes.fromhex(got[2:])
            else:
                data = got.encode("utf-8")
            ok = exp.lower() == "len=%d sha256=%s" % (len(data), hashlib.sha256(data).hexdigest())
        elif name == "c_real":
            ok = struct.unpack("f", struct.pack("f", float(got)))[0] == float(exp)
        else:
            ok = got == exp
        if not ok:
            bad += 1
            print("row %s %s: got %r want %r" % (r[0], name, got[:80], exp[:80]))
sys.exit(1 if bad else 0)
PY
check "tdsc prints every typed value as FreeTDS and pytds read it" $?

timeout -k 10 60 "$tdsc" -c "$cs" -Q "SELECT id, name FROM people ORDER BY id" > "$tmp/table" 2>"$tmp/err"
check "tdsc prints an aligned table" $?
head -2 "$tmp/table" | grep -q '^id | name' ; check "the header names the columns" $?
sed -n 2p "$tmp/table" | grep -q '^---*-+-' ; check "a rule separates the header" $?
grep -q '(.* rows*)' "$tmp/err" ; check "the row count goes to stderr" $?

timeout -k 10 60 "$tdsc" -c "$cs" -Q "SELECT * FROM no_such_table" > /dev/null 2>"$tmp/err"
[ $? = 1 ]; check "a server error exits 1" $?
grep -q 'TDSC_E_SERVER_ERROR' "$tmp/err" && grep -q '208' "$tmp/err" && grep -q '^hint: ' "$tmp/err"
check "a server error prints code, number and hint" $?

timeout -k 10 60 "$tdsc" -c "Server=tcp:127.0.0.1,1;UID=sa" -Q "SELECT 1" > /dev/null 2>"$tmp/err"
[ $? = 2 ]; check "a failed connect exits 2" $?
grep -q 'TDSC_E_CONN_REFUSED' "$tmp/err" && grep -q '^attempt 1: tcp' "$tmp/err"
check "a failed connect prints the code and the trail" $?

TDSC_PASSWORD=wrong timeout -k 10 60 "$tdsc" -c "$cs" -Q "SELECT 1" > /dev/null 2>"$tmp/err"
grep -q 'TDSC_E_LOGIN_FAILED' "$tmp/err" && ! grep -q 'wrong' "$tmp/err"
check "a refused login is named, and the password is never printed" $?

timeout -k 10 60 "$tdsc" -c "Server=x;Colour=blue" -Q "SELECT 1" > /dev/null 2>"$tmp/err"
[ $? = 64 ] && grep -q "UNKNOWN_KEYWORD" "$tmp/err" && grep -q "Colour" "$tmp/err"
check "an unknown keyword is a usage error naming it (exit 64)" $?

"$tdsc" --help | grep -q 'HostNameInCertificate'
check "--help lists the keywords of the option table" $?

# Ctrl-C cancels the query with an attention: exit 130, the code printed,
# in far less than the 30 s the query would take.
started=$(date +%s)
"$tdsc" -c "$cs" -Q "WAITFOR DELAY '00:00:30'" > /dev/null 2>"$tmp/err" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"; rc=$?
took=$(( $(date +%s) - started ))
[ $rc = 130 ] && grep -q 'TDSC_E_CANCELLED' "$tmp/err" && [ "$took" -lt 15 ]
check "Ctrl-C cancels the query (exit 130, TDSC_E_CANCELLED, ${took}s)" $?

exit $fail
