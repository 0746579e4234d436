#!/bin/sh
# A large value down and up, tdsclient (bench/stream_bench.c) beside pytds
# (bench/stream_bench_pytds.py) in the same run, against
# tests/server/tdsserver.py over TCP loopback: one table of times, MB/s,
# peak RSS growth and tdsclient/pytds ratios (bench/README.md).
#
#   stream_bench.sh [-t none|tls|both] [MIB]      (default: both, 1024)
#
# Run from the build folder (make bench-stream does); TDSC_SRCDIR and
# TDSC_BUILDDIR override the guesses, PYTHON3 the interpreter (Debian's
# /usr/bin/python3, for python3-tds), TDSC_TEST_CERTS the certificates
# (made in a scratch folder otherwise).
set -u
src=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
build=${TDSC_BUILDDIR:-.}
py=${PYTHON3:-/usr/bin/python3}
bench="$build/bench/stream_bench"
tls=both
while getopts t: opt; do
	case $opt in
	t) tls=$OPTARG ;;
	*) echo "usage: $0 [-t none|tls|both] [MIB]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
mib=${1:-1024}
case $tls in none) configs=none ;; tls) configs=tls ;; both) configs="none tls" ;;
*) echo "$0: -t none|tls|both" >&2; exit 2 ;; esac
[ -x "$bench" ] || { echo "$0: no $bench (make bench)" >&2; exit 2; }
"$py" -c 'import pytds' 2>/dev/null ||
	{ echo "$0: $py has no pytds (Debian: python3-tds)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tdsc-stream-bench.XXXXXX") || exit 1
server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
	fi
}
# shellcheck disable=SC2317  # invoked through trap
cleanup() {
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

certs=${TDSC_TEST_CERTS:-}
case $configs in *tls*)
	if [ -z "$certs" ] || [ ! -f "$certs/ca.pem" ]; then
		certs=$tmp/certs
		timeout 60 "$py" "$src/tests/tls/mkcerts.py" "$certs" >/dev/null || exit 1
	fi ;;
esac

# start_server ARGS...: tdsserver.py on 127.0.0.1, a free port ($port).
# The timeout is only a backstop against a server outliving the script.
start_server() {
	rm -f "$tmp/ready" "$tmp/db.sqlite"
	timeout 3600 "$py" "$src/tests/server/tdsserver.py" --host 127.0.0.1 \
		--port 0 --db "$tmp/db.sqlite" --user sa:Secret-123 "$@" \
		>"$tmp/ready" 2>>"$tmp/server.err" &
	server_pid=$!
	i=0
	while [ $i -lt 150 ]; do
		port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/ready" 2>/dev/null)
		[ -n "$port" ] && return 0
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "$0: the server did not start:" >&2
	cat "$tmp/server.err" >&2
	exit 1
}

: >"$tmp/results"
status=0
for cfg in $configs; do
	if [ "$cfg" = tls ]; then
		start_server --encryption req --cert "$certs/server.pem" \
			--key "$certs/server.key"
		cs="Server=tcp:localhost,$port;UID=sa;PWD=Secret-123;Encrypt=mandatory;CAFile=$certs/ca.pem"
		set -- --cafile "$certs/ca.pem" localhost
	else
		start_server --encryption not_sup
		cs="Server=tcp:127.0.0.1,$port;UID=sa;PWD=Secret-123;Encrypt=off"
		set -- 127.0.0.1
	fi
	echo "$cfg: tdsclient..." >&2
	"$bench" "$cs" "$mib" >"$tmp/out" || status=1
	echo "$cfg: pytds..." >&2
	"$py" "$src/bench/stream_bench_pytds.py" "$@" "$port" sa Secret-123 \
		"$mib" >>"$tmp/out" || status=1
	sed -n "s/^RESULT /$cfg /p" "$tmp/out" >>"$tmp/results"
	stop_server
done

# One row per comparison: a tdsclient mode against a pytds mode.  Lines:
# config client mode bytes seconds growth_kib cpu_seconds status
awk -v mib="$mib" '
function mbs(b, s) { return s > 0 ? sprintf("%.0f", b / s / 1e6) : "-" }
function mem(k) { return sprintf("%.1f", k / 1024) }
# a ratio; "-" when the peer figure is too small to divide by (memory:
# under 1 MiB, both sides are then flat)
function ratio(a, b, floor) {
	if (b <= floor) return "-"
	return a / b >= 0.01 || a == 0 ? sprintf("%.2f", a / b) : sprintf("%.0e", a / b)
}
{ k = $1 SUBSEP $2 SUBSEP $3; seen[$1] = 1
  bytes[k] = $4; secs[k] = $5; kib[k] = $6; cpu[k] = $7; st[k] = $8
  if ($8 != "ok") bad = bad sprintf("  %s %s %s: %s\n", $1, $2, $3, $8) }
function row(cfg, label, tm, pm,    t, p) {
	t = cfg SUBSEP "tdsclient" SUBSEP tm; p = cfg SUBSEP "pytds" SUBSEP pm
	if (!(t in st) || !(p in st) || st[t] != "ok" || st[p] != "ok") return
	printf "%-4s %-20s %6.2f %6.2f %5s %5s %6.2f %6.2f %7s %7s %5s %5s %6s\n",
	    cfg, label, secs[t], secs[p], mbs(bytes[t], secs[t]),
	    mbs(bytes[p], secs[p]), cpu[t], cpu[p], mem(kib[t]), mem(kib[p]),
	    ratio(secs[t], secs[p], 0), ratio(cpu[t], cpu[p], 0),
	    ratio(kib[t], kib[p], 1024)
}
END {
	printf "%d MiB value, tests/server/tdsserver.py over TCP loopback\n", mib
	printf "%-25s %13s %11s %13s %15s %18s\n", "", "wall s",
	    "MB/s", "client CPU s", "peak RSS +MiB", "tdsclient/pytds"
	printf "%-4s %-20s %6s %6s %5s %5s %6s %6s %7s %7s %5s %5s %6s\n",
	    "TLS", "tdsclient / pytds", "tdsc", "pytds", "tdsc", "pytds",
	    "tdsc", "pytds", "tdsc", "pytds", "wall", "CPU", "memory"
	n = split("none tls", cfgs, " ")
	for (i = 1; i <= n; i++) {
		if (!(cfgs[i] in seen)) continue
		row(cfgs[i], "read / set_stream", "read", "set_stream")
		row(cfgs[i], "read / fetchone", "read", "fetch")
		row(cfgs[i], "get_bytes / fetchone", "get_bytes", "fetch")
		row(cfgs[i], "bind_stream / bytes", "upload", "upload")
	}
	if (bad != "") printf "not ok:\n%s", bad
}' "$tmp/results"
echo
echo "raw:"
sed 's/^/  /' "$tmp/results"
exit $status
