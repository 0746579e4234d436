#!/bin/sh
# Runs the results benchmarks (bench/README.md) from the build folder:
# starts bench/fastsrv, runs bench/decode_bench and bench/rows_bench
# (tdsclient and db-lib interleaved), then, when valgrind is installed,
# counts instructions per row with callgrind (the client only: the server
# is another process, never traced), and stops the server; then runs
# bench/connect_bench.sh (TLS + SQL login connects and SELECT 1 over TLS
# against tests/server/tdsserver.py; BENCH_CONNECTS, BENCH_TRIPS,
# BENCH_CG_CONNECTS there).
#
#   BENCH_ROWS (1000000)  rows of the timed runs
#   BENCH_ROUNDS (5)      interleaved rounds (medians)
#   BENCH_PKT (4096)      packet size both clients ask for
#   BENCH_MIB (256)       the varbinary(max) value, MiB
#   BENCH_CG_ROWS (100000) rows of the callgrind runs (0: skip them)
set -eu
rows=${BENCH_ROWS:-1000000}
rounds=${BENCH_ROUNDS:-5}
pkt=${BENCH_PKT:-4096}
mib=${BENCH_MIB:-256}
cgrows=${BENCH_CG_ROWS:-100000}
B=bench
# rows_bench is a libtool wrapper (shared libtdsclient): valgrind must run
# the program itself
LT="./libtool --mode=execute"
[ -x ./libtool ] || LT=
out=$(mktemp -d)
trap 'kill $srv 2>/dev/null || true; rm -rf "$out"' EXIT INT TERM
$B/fastsrv > "$out/port" &
srv=$!
for i in 1 2 3 4 5 6 7 8 9 10; do
  [ -s "$out/port" ] && break
  sleep 0.1
done
port=$(sed -n 's/^port //p' "$out/port")
[ -n "$port" ] || { echo "bench.sh: fastsrv did not start" >&2; exit 1; }
echo "== machine: $(uname -m), $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
echo "== decode only (in memory) vs memcpy"
nice $B/decode_bench -n "$rows" -r "$rounds" > "$out/decode"
cat "$out/decode"
echo "== results through the network (fastsrv)"
nice $B/rows_bench -p "$port" -n "$rows" -r "$rounds" -s "$pkt" -b "$mib" \
  > "$out/rows"
cat "$out/rows"
if [ "$cgrows" -gt 0 ] && command -v valgrind >/dev/null 2>&1; then
  echo "== callgrind: instructions (Ir) per row, client only, $cgrows rows"
  cg() { # cg LABEL PROGRAM ARGS...: prints Ir / rows of the collected part
    label=$1
    shift
    $LT valgrind --tool=callgrind --collect-atstart=no \
      --callgrind-out-file="$out/cg.out" "$@" > "$out/cg.txt" 2>/dev/null
    n=$(sed -n 's/^rows \([0-9]*\).*/\1/p' "$out/cg.txt")
    ir=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out/cg.out")
    [ -n "$ir" ] || ir=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$out/cg.out")
    awk -v l="$label" -v ir="$ir" -v n="$n" \
      'BEGIN { printf "  %-28s %12.0f Ir  %10.1f Ir/row\n", l, ir, ir / n }'
    echo "$ir $n" > "$out/$label"
  }
  ratio() { # ratio A B: A's Ir per row over B's
    awk -v a="$(cat "$out/$1")" -v b="$(cat "$out/$2")" -v l="$1/$2" \
      'BEGIN { split(a, x, " "); split(b, y, " ");
               printf "  %-28s %.3f\n", l, (x[1] / x[2]) / (y[1] / y[2]) }'
  }
  cg tdsc-typed $B/rows_bench -p "$port" -n "$cgrows" -s "$pkt" -c tdsc -w typed
  cg dblib-typed $B/rows_bench -p "$port" -n "$cgrows" -s "$pkt" -c dblib -w typed
  cg tdsc-iterate $B/rows_bench -p "$port" -n "$cgrows" -s "$pkt" -c tdsc -w iterate
  cg dblib-iterate $B/rows_bench -p "$port" -n "$cgrows" -s "$pkt" -c dblib -w iterate
  cg decode-ints $B/decode_bench -n "$cgrows" -c decode
  cg memcpy-ints $B/decode_bench -n "$cgrows" -c memcpy
  ratio tdsc-typed dblib-typed
  ratio tdsc-iterate dblib-iterate
fi
kill $srv 2>/dev/null || true
BENCH_ROUNDS=$rounds
export BENCH_ROUNDS
if [ "$cgrows" -eq 0 ]; then
  BENCH_CG_CONNECTS=0
  export BENCH_CG_CONNECTS
fi
sh "$(dirname "$0")/connect_bench.sh" > "$out/connect"
cat "$out/connect"

# Issue 15's targets against this run's figures (bench/README.md, last
# section).  Rows per CPU second are judged, not per wall second: the
# machine may be shared.
echo "== issue 15 targets"
irr() { # irr A B: A's Ir per row over B's, or - without callgrind
  if [ -s "$out/$1" ] && [ -s "$out/$2" ]; then
    awk -v a="$(cat "$out/$1")" -v b="$(cat "$out/$2")" \
      'BEGIN { split(a, x, " "); split(b, y, " ");
               printf "%.3f", (x[1] / x[2]) / (y[1] / y[2]) }'
  else
    echo -
  fi
}
{
  echo "typed_ir $(irr tdsc-typed dblib-typed)"
  echo "iterate_ir $(irr tdsc-iterate dblib-iterate)"
  sed -n 's/.*throughput: /decode /p' "$out/decode"
  awk '$1 == "typed" { print "typed_cpu", $8 }
       $1 == "select1" { print "select1_cpu", $8 }
       $1 == "blob" { print "blob_rate", $9; print "blob_peak", $10 / 1024 }' \
    "$out/rows"
  awk '$1 == "connect" && $2 ~ /^[0-9]+$/ { print "connect_cpu", $5 }
       $1 == "select1" && $2 ~ /^[0-9]+$/ { print "tls_select1_cpu", $5 }
       $1 == "tdsc/dblib" { print "tls_" $2 "_ir", $3 }' "$out/connect"
} | awk -v mib="$mib" '
function judge(label, v, op, t) {
  if (v == "-" || v == "") { printf "  %-44s %8s  %-7s %s\n", label, "-", op " " t, "not measured"; return }
  ok = (op == "<=") ? v <= t : (op == ">=") ? v >= t : v < t
  printf "  %-44s %8.3f  %-7s %s\n", label, v, op " " t, ok ? "met" : "NOT met"
}
{ f[$1] = $2 }
END {
  judge("typed rows, Ir per row vs db-lib", f["typed_ir"], "<=", 0.5)
  judge("typed rows, rows per CPU second vs db-lib", f["typed_cpu"] > 0 ? 1 / f["typed_cpu"] : "-", ">=", 1.5)
  judge("rows without getters, Ir per row vs db-lib", f["iterate_ir"], "<=", 0.35)
  judge("decode only, throughput vs memcpy", f["decode"], ">=", 0.25)
  judge(mib " MiB varbinary(max), rate vs raw read", f["blob_rate"], ">=", 0.8)
  judge(mib " MiB varbinary(max), peak RSS MiB", f["blob_peak"], "<", 8)
  judge("SELECT 1 (fastsrv), CPU vs db-lib", f["select1_cpu"], "<=", 1.0)
  judge("TLS + SQL login connect, CPU vs db-lib", f["connect_cpu"], "<=", 1.0)
  judge("TLS + SQL login connect, Ir vs db-lib", ("tls_connect_ir" in f) ? f["tls_connect_ir"] : "-", "<=", 1.0)
  judge("SELECT 1 over TLS, CPU vs db-lib", f["tls_select1_cpu"], "<=", 1.0)
  judge("SELECT 1 over TLS, Ir vs db-lib", ("tls_select1_ir" in f) ? f["tls_select1_ir"] : "-", "<=", 1.0)
}'
