#!/bin/sh
# TLS + SQL login connects and SELECT 1 round trips over TLS, tdsclient
# against FreeTDS db-lib (bench/connect_bench.c), against the same
# tests/server/tdsserver.py started here with --encryption req, then
# (valgrind installed) instructions per connect and per round trip with
# callgrind, the client only (bench/README.md).
#
#   BENCH_CONNECTS (100)   connects a run      BENCH_TRIPS (1000) round trips
#   BENCH_ROUNDS (5)       interleaved rounds  BENCH_CG_CONNECTS (20): 0
#                                              skips callgrind
# Run from the build folder (bench.sh does); TDSC_SRCDIR, PYTHON3 and
# TDSC_TEST_CERTS as for stream_bench.sh.
set -eu
src=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
py=${PYTHON3:-/usr/bin/python3}
n=${BENCH_CONNECTS:-100}
trips=${BENCH_TRIPS:-1000}
rounds=${BENCH_ROUNDS:-5}
cgn=${BENCH_CG_CONNECTS:-20}
B=bench/connect_bench
LT="./libtool --mode=execute"
[ -x ./libtool ] || LT=
[ -x "$B" ] || { echo "$0: no $B (make bench)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tdsc-connect-bench.XXXXXX")
server_pid=
cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

certs=${TDSC_TEST_CERTS:-}
if [ -z "$certs" ] || [ ! -f "$certs/ca.pem" ]; then
	certs=$tmp/certs
	timeout 60 "$py" "$src/tests/tls/mkcerts.py" "$certs" >/dev/null
fi
# db-lib: TLS required and the certificate checked against the test CA
# (FreeTDS 1.3 checks the name too: the certificate names 127.0.0.1)
printf '[global]\n\ttds version = 7.4\n\tencryption = require\n\tca file = %s\n' \
	"$certs/ca.pem" >"$tmp/freetds.conf"
FREETDSCONF=$tmp/freetds.conf
export FREETDSCONF

# The timeout is only a backstop against a server outliving the script.
timeout 3600 "$py" "$src/tests/server/tdsserver.py" --host 127.0.0.1 \
	--port 0 --db "$tmp/db.sqlite" --user 'bench:Bench-123' \
	--encryption req --cert "$certs/server.pem" --key "$certs/server.key" \
	--log "$tmp/server.log" >"$tmp/ready" 2>"$tmp/server.err" &
server_pid=$!
i=0
until port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/ready" 2>/dev/null) && [ -n "$port" ]; do
	{ kill -0 "$server_pid" 2>/dev/null && [ $i -lt 150 ]; } ||
		{ echo "$0: the server did not start:" >&2; cat "$tmp/server.err" >&2; exit 1; }
	sleep 0.1
	i=$((i + 1))
done
set -- -h 127.0.0.1 -p "$port" -u bench -P Bench-123 -A "$certs/ca.pem"

# Both clients really use TLS: each connect must add one "TLS" line to the
# server's log (the server requires it; a login without it is refused).
for c in tdsc dblib; do
	before=$(grep -c ' TLS TLSv' "$tmp/server.log" || true)
	"$B" "$@" -c "$c" -w connect -n 3 >/dev/null
	after=$(grep -c ' TLS TLSv' "$tmp/server.log" || true)
	how=$(grep ' TLS TLSv' "$tmp/server.log" | tail -n 1 | sed 's/.* TLS //')
	echo "== $c: 4 connects, $((after - before)) TLS sessions ($how)"
	[ $((after - before)) -eq 4 ] || { echo "$0: $c did not use TLS" >&2; exit 1; }
done

echo "== TLS + SQL login connects; SELECT 1 over TLS (tdsserver.py is Python: read CPU)"
nice "$B" "$@" -n "$n" -t "$trips" -r "$rounds"

if [ "$cgn" -gt 0 ] && command -v valgrind >/dev/null 2>&1; then
	echo "== callgrind: instructions (Ir) per connect / round trip, client only"
	for w in connect select1; do
		for c in tdsc dblib; do
			$LT valgrind --tool=callgrind --collect-atstart=no \
				--callgrind-out-file="$tmp/cg.$c.$w" \
				"$B" "$@" -n "$cgn" -t "$trips" -c "$c" -w "$w" \
				>"$tmp/cg.txt" 2>/dev/null
			k=$(sed -n 's/^rows \([0-9]*\).*/\1/p' "$tmp/cg.txt")
			ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$tmp/cg.$c.$w")
			echo "$ir $k" >"$tmp/ir.$c.$w"
			# where they go: the instructions of each shared object
			objs=$(callgrind_annotate --threshold=100 "$tmp/cg.$c.$w" 2>/dev/null |
				sed -n 's/^ *\([0-9,]*\) ([^)]*) *[^[]*\[\(.*\)\]$/\1 \2/p' |
				awk -v k="$k" '{ gsub(",", "", $1); o = $2; sub(".*/", "", o)
					sub("\\.so.*", "", o); t[o] += $1 }
				END { for (o in t) if (t[o] / k >= 1000)
					printf "%s %.0f\n", o, t[o] / k }' |
				sort -k2 -n -r | head -n 6 | awk '{ printf "%s%s %s", s, $1, $2; s = ", " }')
			awk -v l="$c $w" -v ir="$ir" -v k="$k" -v o="$objs" \
				'BEGIN { printf "  %-14s %10.0f Ir each  (%s)\n", l, ir / k, o }'
		done
		awk -v a="$(cat "$tmp/ir.tdsc.$w")" -v b="$(cat "$tmp/ir.dblib.$w")" -v w="$w" \
			'BEGIN { split(a, x, " "); split(b, y, " ");
				printf "  %-14s %10.3f\n", "tdsc/dblib " w, (x[1] / x[2]) / (y[1] / y[2]) }'
	done
fi
