#!/bin/sh
# tshark's TDS dissector (Debian's, 4.0) as a second reader of the bytes on
# the wire: a full session of the library (tshark_session: batches, RPCs,
# prepared statements, transactions, an attention) against the test server
# without TLS is captured on loopback with dumpcap, and the dissector must
# find every request kind and reply, and no malformed packet beyond its own
# known limits (it misreads LOGIN7 feature extensions: frames of LOGIN7
# only are let pass).
# Env (exported by make check): PYTHON3, TDSC_SRCDIR, TDSC_BUILDDIR,
# TDSC_TEST_CERTS.  Exit 0 pass, 1 fail, 77 skip (no tshark, or no right
# to capture here).

PYTHON3=${PYTHON3:-/usr/bin/python3}
SRCDIR=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${TDSC_BUILDDIR:-.}
session=$BUILDDIR/tests/integration/tshark_session

for tool in tshark dumpcap; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not found (Debian: tshark; scripts/deps.sh)"
		exit 77
	fi
done
if [ ! -x "$session" ]; then
	echo "FAIL: $session not built"
	exit 1
fi

SERVER_USER='capuser:Capture-123'
# shellcheck source=tests/server/server.sh
. "$SRCDIR/tests/server/server.sh"

fail=0
ok() { echo "ok   $1"; }
bad() {
	echo "FAIL $1"
	fail=1
}

start_server --encryption not_sup
cap=$tmp/session.pcapng
timeout -k 5 120 dumpcap -q -i lo -f "tcp port $port" -w "$cap" \
	>"$tmp/dumpcap.out" 2>&1 &
dumpcap_pid=$!
# dumpcap says "Capturing on" once the filter is in place (or gives up).
i=0
until grep -q 'Capturing on' "$tmp/dumpcap.out" 2>/dev/null; do
	if ! kill -0 $dumpcap_pid 2>/dev/null || [ $i -ge 100 ]; then
		echo "SKIP: dumpcap cannot capture on loopback here" \
			"(it needs root or the wireshark group):"
		sed 's/^/    /' "$tmp/dumpcap.out"
		kill $dumpcap_pid 2>/dev/null
		exit 77
	fi
	sleep 0.1
	i=$((i + 1))
done

# Encrypt=off: the server offers no TLS, so the dissector sees everything
# (and the password goes in clear: a throwaway one, on loopback).
if timeout -k 5 60 "$session" "Server=tcp:127.0.0.1,$port;UID=capuser;PWD=Capture-123;Encrypt=off;Database=tdsc_test" \
	>"$tmp/session.out" 2>&1; then
	ok "the session ran"
else
	bad "the session ran"
	sed 's/^/    /' "$tmp/session.out"
fi
sleep 0.5 # the last segments reach the capture
kill -INT $dumpcap_pid
wait $dumpcap_pid
stop_server

tds() { # tds FILTER FIELDS... : one line per matching frame
	filter=$1
	shift
	for f in "$@"; do set -- "$@" -e "$f"; shift; done
	tshark -n -r "$cap" -o 'tds.protocol_type:TDS 7.4' \
		-o tds.tcp_ports:"$port" -d "tcp.port==$port,tds" \
		-Y "$filter" -T fields "$@" 2>>"$tmp/tshark.err"
}

# Every kind of message the session sends, as the dissector names them
# (MS-TDS 2.2.3.1.1: 0x12 PRELOGIN, 0x10 LOGIN7, 0x01 SQL batch, 0x03 RPC,
# 0x0e transaction manager, 0x06 attention, 0x04 replies).
tds tds.type tds.type >"$tmp/types"
for t in 18 16 1 3 14 6 4; do
	if grep -qx "$t" "$tmp/types"; then ok "packet type $t dissected"; else bad "packet type $t dissected"; fi
done
# the RPCs by id: sp_executesql (10), sp_prepare (11), sp_execute (12),
# sp_unprepare (15); tdsc_add by name
tds tds.rpc.proc_id tds.rpc.proc_id | tr ',' '\n' | sort -u >"$tmp/procs"
for p in 10 11 12 15; do
	if grep -qx "$p" "$tmp/procs"; then ok "RPC proc id $p"; else bad "RPC proc id $p"; fi
done
if tds 'tds.rpc.name' tds.rpc.name | grep -q tdsc_add; then ok "RPC tdsc_add by name"; else bad "RPC tdsc_add by name"; fi

# The typed SELECT's reply spans many packets: the dissector reassembles
# a message only when its packets are numbered from 1 (MS-TDS 2.2.3.1.5,
# as SQL Server does), and only then reads its tokens.
if tds 'tds.reassembled.length > 0' tds.reassembled.length | grep -q .; then
	ok "the multi-packet reply is reassembled"
else
	ids=$(tds 'tds.type == 4' tds.packet_number | tr '\n' ' ' | cut -c1-60)
	bad "the multi-packet reply is reassembled (reply packet ids: $ids)"
fi
if tds 'tds.colmetadata.colname == "c_dto"' frame.number | grep -q .; then
	ok "the typed SELECT's COLMETADATA is read (c_dto)"
else
	bad "the typed SELECT's COLMETADATA is read (c_dto)"
fi

# No malformed frame, and no expert error, outside LOGIN7.
tds '(_ws.malformed || _ws.expert.severity >= "Error") && !(tds.type == 16)' \
	frame.number tds.type _ws.expert.message >"$tmp/malformed"
n=$(wc -l <"$tmp/malformed")
total=$(tds tds frame.number | wc -l)
echo "     $total TDS frames, $(tds tds.type==16 frame.number | wc -l) of LOGIN7"
if [ "$n" -eq 0 ] && [ "$total" -gt 20 ]; then
	ok "no malformed TDS frame beyond the dissector's limits"
else
	bad "no malformed TDS frame beyond the dissector's limits ($n of $total):"
	sed 's/^/    /' "$tmp/malformed" | head -20
	tshark -n -r "$cap" -o 'tds.protocol_type:TDS 7.4' -d "tcp.port==$port,tds" \
		-Y '_ws.malformed' -V 2>/dev/null | grep -B2 -A2 -i 'malformed' | head -40
fi
if [ -s "$tmp/tshark.err" ]; then
	sed 's/^/    tshark: /' "$tmp/tshark.err" | grep -v 'Running as user "root"' | head
fi

if [ $fail -ne 0 ]; then
	echo "--- server log (last lines)"
	tail -n 20 "$tmp/server.log"
	exit 1
fi
echo "all tshark checks passed"
exit 0
