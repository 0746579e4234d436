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

timeout -k 10 60 "$tdsc" -c "$cs" --csv --quiet -Q "SELECT * FROM typed ORDER BY id" > "$tmp/typed.csv" 2> "$tmp/err"
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
grep -qx '(4 rows affected)' "$tmp/err" ; check "the row count goes to stderr, as sqlcmd words it" $?

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

# ------------------------------------------------ table mode in bounded memory
# Widths come from the first 100 rows (i: 3 wide); later rows stream, a
# wider value overflowing.  Peak RSS for
# 200000 rows stays within 4 MB of that for 2000 (holding every row took
# 18 MB more here).
big() { echo "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) SELECT i, 'row number ' || i || ' of the result' AS t FROM n"; }
"$PYTHON3" - "$tdsc" "$cs" "$(big 2000)" "$(big 200000)" "$tmp" <<'PY'
import resource, subprocess, sys
tdsc, cs, small, large, tmp = sys.argv[1:]
def run(q, out):
    with open(out, "wb") as f:
        p = subprocess.run([tdsc, "-c", cs, "-Q", q], stdout=f,
                           stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stderr.decode(), \
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
rc1, err1, peak_small = run(small, tmp + "/small.out")
rc2, err2, peak_all = run(large, tmp + "/large.out")  # max over both runs
lines = open(tmp + "/large.out", encoding="utf-8").read().splitlines()
print("peak RSS: 2000 rows %d KB, 200000 rows %d KB" % (peak_small, peak_all))
ok = (rc1 == 0 and rc2 == 0 and peak_all - peak_small < 4096
      and len(lines) == 200002 and "(200000 rows affected)" in err2
      and lines[-1] == "200000 | row number 200000 of the result"
      and lines[2] == "1   | row number 1 of the result")
sys.exit(0 if ok else 1)
PY
check "table mode streams 200000 rows in bounded memory" $?
timeout -k 10 60 "$tdsc" -c "$cs" -Q "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150) SELECT i, CASE WHEN i = 150 THEN 'wider than the window saw' ELSE 'x' END AS v FROM n" >"$tmp/win" 2>"$tmp/err"
sed -n 2p "$tmp/win" | grep -qx -- '----+--' && grep -qx '150 | wider than the window saw' "$tmp/win"
check "a value wider than the first 100 rows overflows its column, never cut" $?

# ------------------------------------------------ a folder of sqlcmd scripts
sq=$src/tests/integration/sqlcmd
timeout -k 10 60 "$tdsc" -c "$cs" -v Table=things ScriptDir="$sq" -i "$sq/setup.sql" -i "$sq/report.sql" >"$tmp/out" 2>"$tmp/err"
rc=$?
cat >"$tmp/want" <<'WANT'
id | label
---+------------------
1  | one
2  | two
3  | hello from sqlcmd
4  | again
5  | again
6  | again

n
-
3
WANT
[ $rc = 0 ] && cmp -s "$tmp/want" "$tmp/out"
check "sqlcmd scripts: GO, GO 3, -v, :setvar, \$(var), :r, several -i" $?
[ $rc = 0 ] || { cat "$tmp/err"; diff "$tmp/want" "$tmp/out"; }
grep -qx 'hello from sqlcmd' "$tmp/err" && [ "$(grep -c '^(1 row affected)$' "$tmp/err")" = 5 ] && grep -qx '(6 rows affected)' "$tmp/err"
check "PRINT and sqlcmd's row-count lines arrive on stderr" $?

timeout -k 10 60 "$tdsc" -c "$cs" -b -i "$sq/failing.sql" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q before_error "$tmp/out" && ! grep -q after_error "$tmp/out" && grep -q "Invalid object name 'no_such_table'" "$tmp/err"
check "-b: the first failed batch ends the script, exit 1" $?
timeout -k 10 60 "$tdsc" -c "$cs" -i "$sq/failing.sql" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q after_error "$tmp/out"
check "without -b the batches after an error still run, exit 1" $?
timeout -k 10 60 "$tdsc" -c "$cs" -b -V 17 -i "$sq/failing.sql" >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && grep -q after_error "$tmp/out" && grep -q 'TDSC_E_SERVER_ERROR' "$tmp/err"
check "-V 17: a severity-16 error is printed but does not fail (exit 0)" $?
timeout -k 10 60 "$tdsc" -c "$cs" -Q ":on error exit
RAISERROR('stop here', 16, 1)
GO
SELECT 'not reached' AS x" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && ! grep -q 'not reached' "$tmp/out" && grep -q 'stop here' "$tmp/err"
check ":on error exit ends the script at a failed batch" $?
timeout -k 10 60 "$tdsc" -c "$cs" -b -i "$sq/quit.sql" >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && grep -q first "$tmp/out" && ! grep -q never "$tmp/out"
check ":exit ends the script without sending the open batch" $?
printf "SELECT 1 AS a;\n:exit(SELECT (40 + 2) AS code)\nSELECT 'never' AS n\n" | timeout -k 10 60 "$tdsc" -c "$cs" >"$tmp/out" 2>"$tmp/err"
[ $? = 42 ] && grep -qx 42 "$tmp/out" && grep -qx 1 "$tmp/out" && ! grep -q never "$tmp/out"
check ":exit(query) sends the batch with the query; its value is the exit status" $?
timeout -k 10 60 "$tdsc" -c "$cs" -i "$sq/undefined.sql" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "'NoSuchVariable' scripting variable not defined" "$tmp/err" && grep -q undefined.sql:1 "$tmp/err" && grep -q 'next batch' "$tmp/out"
check "an undefined \$(variable) fails its batch (not sent), the next runs" $?
printf 'SELECT 1 AS a\ngo\nSELECT 2 AS b\n  Go  \nSELECT 3 AS gone\n' | timeout -k 10 60 "$tdsc" -c "$cs" >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && [ "$(grep -c '^-$' "$tmp/out")" = 2 ] && grep -q gone "$tmp/out"
check "standard input is a script: go / Go on their own line, the last batch at the end" $?
printf '!! rm -f nothing\n:connect elsewhere\nSELECT 1 AS a\nGO\n' | timeout -k 10 60 "$tdsc" -c "$cs" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q "(stdin):1: unknown command '!! rm" "$tmp/err" && grep -q "(stdin):2: unknown command ':connect" "$tmp/err" && grep -qx 1 "$tmp/out"
check "!! and :connect are refused, naming the line, never sent as SQL" $?
printf ':setvar Colour "dark blue"\n:listvar\nSELECT broken\n:reset\nSELECT N'"'"'$(Colour)'"'"' AS colour\nGO\n' | timeout -k 10 60 "$tdsc" -c "$cs" -e >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && grep -qx 'Colour = "dark blue"' "$tmp/out" && grep -qx 'dark blue' "$tmp/out" && grep -qx 'SELECT broken' "$tmp/out"
check ":setvar with a quoted value, :listvar, :reset drops the batch, -e echoes" $?
echo "SELECT 'from stdin' AS src" | timeout -k 10 60 "$tdsc" -c "$cs" -q "SELECT 'from -q' AS src" >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && [ "$(grep -n 'from' "$tmp/out" | tr '\n' ' ')" = "3:from -q 7:from stdin " ]
check "-q runs its SQL, then reads standard input" $?

# ------------------------------------------------ sqlcmd's and tsql's flags
timeout -k 10 60 "$tdsc" -S "tcp:localhost,$port" -U sa -C -d master -l 10 -N m -Q "SELECT 7 AS seven" >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && grep -qx 7 "$tmp/out"
check "-S tcp:host,port -U -C -d -l -N m connect (password from TDSC_PASSWORD)" $?
timeout -k 10 60 "$tdsc" -S "tcp:localhost,$port" -U sa -Q "SELECT 1" >"$tmp/out" 2>"$tmp/err"
[ $? = 2 ] && grep -q TDSC_E_TLS_CERT_UNTRUSTED "$tmp/err"
check "without -C (and no CAFile) the certificate is verified" $?
timeout -k 10 60 "$tdsc" -H localhost -p "$port" -U sa -C -Q "SELECT 8 AS eight" >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && grep -qx 8 "$tmp/out"
check "tsql's -H HOST -p PORT" $?
env -u TDSC_PASSWORD SQLCMDPASSWORD=Secret-123 timeout -k 10 60 "$tdsc" -S "tcp:localhost,$port" -U sa -C -Q "SELECT 9 AS nine" </dev/null >"$tmp/out" 2>"$tmp/err"
[ $? = 0 ] && grep -qx 9 "$tmp/out"
check "sqlcmd's SQLCMDPASSWORD is the password when TDSC_PASSWORD is unset" $?
timeout -k 10 60 "$tdsc" -c "$cs" -t 1 -Q "WAITFOR DELAY '00:00:05'" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] && grep -q TDSC_E_QUERY_TIMEOUT "$tmp/err" && ! grep -q waiting "$tmp/err"
check "-t 1: the query timeout (and no elapsed-time indicator off a terminal)" $?
timeout -k 10 60 "$tdsc" -c "$cs" -h -1 -W -s , -Q "SELECT id, name FROM people ORDER BY id" >"$tmp/out" 2>"$tmp/err"
printf '1,Alice\n2,Bob\n3,Zoë\n4,NULL\n' | cmp -s - "$tmp/out"
check "-h -1 (no header), -W (no padding), -s ," $?
timeout -k 10 60 "$tdsc" -c "$cs" -h 2 -Q "SELECT id FROM people ORDER BY id" >"$tmp/out" 2>"$tmp/err"
[ "$(grep -c '^id$' "$tmp/out")" = 2 ]
check "-h 2: the header every 2 rows" $?
timeout -k 10 60 "$tdsc" -c "$cs" -w 10 -Q "SELECT 'abcdefghijklmnop' AS x" >"$tmp/out" 2>"$tmp/err"
grep -qx 'abcdefghij' "$tmp/out" && grep -qx 'klmnop' "$tmp/out"
check "-w 10 breaks lines after 10 columns" $?
timeout -k 10 60 "$tdsc" -c "$cs" -o "$tmp/o.txt" -Q "PRINT 'note'; SELECT 1 AS one" >"$tmp/out" 2>"$tmp/err"
[ ! -s "$tmp/out" ] && grep -qx note "$tmp/o.txt" && grep -qx '(1 row affected)' "$tmp/o.txt" && grep -qx 1 "$tmp/o.txt"
check "-o FILE takes results, messages and row counts, as in sqlcmd" $?
timeout -k 10 60 "$tdsc" -c "$cs" -r1 -o "$tmp/o.txt" -Q "PRINT 'note'; SELECT 1 AS one" >"$tmp/out" 2>"$tmp/err"
! grep -q note "$tmp/o.txt" && grep -qx note "$tmp/err"
check "-r1 sends the messages to stderr" $?
"$tdsc" --version | grep -q '^tdsc (tdsclient) [0-9]'
check "--version" $?
usage_ok=0
for bad in "-Z" "-h" "-N x" "-V 99" "-E -U sa" "-p 1433" "-v novalue"; do
	# shellcheck disable=SC2086
	"$tdsc" $bad -Q "SELECT 1" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc != 64 ] || [ "$(wc -l <"$tmp/err")" != 1 ] || [ -s "$tmp/out" ]; then
		echo "usage error '$bad': exit $rc:"; cat "$tmp/err"; usage_ok=1
	fi
done
"$tdsc" -Z 2>&1 | grep -q '^tdsc: unknown option -Z' || usage_ok=1
check "usage errors print one line naming the flag, exit 64" $usage_ok

# ------------------------------------------------ CSV and JSON
timeout -k 10 60 "$tdsc" -c "$cs" --csv -Q "SELECT NULL AS a, '' AS b, 'x,y' AS c, 'say \"hi\"' AS d; SELECT 2 AS e" >"$tmp/out" 2>"$tmp/err"
printf 'a,b,c,d\n,"","x,y","say ""hi"""\n\ne\n2\n' | cmp -s - "$tmp/out"
check "CSV: NULL empty, '' as \"\", quoting, an empty line between result sets" $?
timeout -k 10 60 "$tdsc" -c "$cs" --csv --null NULL -Q "SELECT NULL AS a" >"$tmp/out" 2>"$tmp/err"
printf 'a\nNULL\n' | cmp -s - "$tmp/out"
check "CSV: --null TEXT" $?
timeout -k 10 60 "$tdsc" -c "$cs" --json -Q "SELECT * FROM typed ORDER BY id; PRINT 'between'; SELECT * FROM no_such_table; UPDATE people SET name = name WHERE id < 3; SELECT id, name FROM people WHERE id = 4" >"$tmp/out.json" 2>"$tmp/err"
rc=$?
"$PYTHON3" - "$tmp/out.json" $rc <<'PY'
import decimal, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"), parse_float=decimal.Decimal)
kinds = [o["type"] for o in doc]
want = ["resultset", "message", "error", "count", "resultset"]
assert kinds == want, kinds
typed, msg, err, count, people = doc
cols = {c["name"]: c["type"] for c in typed["columns"]}
assert cols["c_int"] == "int" and cols["c_nvarchar"] == "nvarchar", cols
row = dict(zip([c["name"] for c in typed["columns"]], typed["rows"][0]))
assert row["c_bit"] is True, row["c_bit"]
assert row["c_int"] == 123456789 and type(row["c_int"]) is int
assert row["c_bigint"] == -1234567890123
assert row["c_decimal"] == decimal.Decimal("-12345.6789"), row["c_decimal"]
assert row["c_numeric"] == decimal.Decimal("1234567890.0123456789")
assert row["c_money"] == decimal.Decimal("12345.6789")
assert abs(float(row["c_float"]) - 2.718281828459045) < 1e-15
assert row["c_nvarchar"] == "Grüße, 日本" and row["c_binary"] == "0xDEADBEEF"
assert row["c_date"] == "2024-02-29" and row["c_guid"].count("-") == 4
nulls = [r for r in typed["rows"] if r[1] is None]
assert nulls and all(v is None for v in nulls[0][1:]), "a NULL row is all null"
assert typed["complete"] is True and typed["rows_count"] == len(typed["rows"])
assert msg["text"] == "between" and msg["number"] == 0
assert err["code"] == "TDSC_E_SERVER_ERROR" and err["number"] == 208 and err["class"] == 16
assert count["rows_affected"] == 2
assert people["rows"] == [[4, None]]
assert sys.argv[2] == "1"
PY
check "--json parses; every type keeps its JSON type; messages, errors, counts are objects" $?
timeout -k 10 60 "$tdsc" -c "$cs" --jsonl -Q "$(big 5000)" >"$tmp/out.jsonl" 2>"$tmp/err"
"$PYTHON3" - "$tmp/out.jsonl" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert lines[0]["type"] == "columns" and lines[0]["columns"][0]["name"] == "i"
rows = [l for l in lines if l["type"] == "row"]
assert len(rows) == 5000 and rows[-1]["values"][0] == 5000
assert lines[-1] == {"type": "done", "set": 0, "rows": 5000, "rows_affected": 5000, "complete": True}, lines[-1]
PY
check "--jsonl: one object per line, a row per line, the set's end" $?

# ------------------------------------------------ on a terminal (a pty)
timeout -k 10 120 "$PYTHON3" "$src/tests/integration/cli_pty.py" "$tdsc" "$port" "$certs/ca.pem"
check "interactive mode, line editing, indicator, password prompt (cli_pty.py)" $?

exit $fail
