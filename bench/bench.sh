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
nice $B/decode_bench -n "$rows" -r "$rounds"
echo "== results through the network (fastsrv)"
nice $B/rows_bench -p "$port" -n "$rows" -r "$rounds" -s "$pkt" -b "$mib"
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
sh "$(dirname "$0")/connect_bench.sh"
