#!/bin/sh
# Records the fuzz corpora in tests/fuzz/corpus/ from sessions against the
# test server (tests/server), in plain text (Encrypt=off, a server without
# TLS), through record.py's recording proxy; then picks a handful of
# messages per target and writes them in each target's input format
# (README.md).  A developer's tool, not a test:
#   sh tests/fuzz/record.sh BUILDDIR      (BUILDDIR has tools/tdsc)
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
py=${PYTHON3:-/usr/bin/python3}
tdsc=$build/tools/tdsc
tmp=$(mktemp -d)
pids=
# shellcheck disable=SC2154  # p is the trap's own loop variable
trap 'for p in $pids; do kill "$p" 2>/dev/null || :; done; rm -rf "$tmp"' EXIT

wait_ready() { # file pid: the port of the READY line
	i=0
	until grep -q '^READY ' "$1" 2>/dev/null; do
		if ! kill -0 "$2" || [ $i -ge 300 ]; then
			echo "no READY in $1" >&2
			exit 1
		fi
		sleep 0.1; i=$((i + 1))
	done
	sed -n 's/^READY \([0-9]*\)$/\1/p' "$1"
}
server() { # name args...: starts a server and its proxy; sets $port
	n=$1; shift
	"$py" "$top/tests/server/tdsserver.py" --host 127.0.0.1 --port 0 \
		--db "$tmp/$n.sqlite" --init "$top/tests/server/sample.sql" \
		--user sa:Secret1 --encryption not_sup "$@" >"$tmp/$n.ready" 2>"$tmp/$n.err" &
	pids="$pids $!"
	sport=$(wait_ready "$tmp/$n.ready" $!)
	"$py" "$top/tests/fuzz/record.py" proxy "$sport" "$tmp/$n" >"$tmp/$n.pready" &
	pids="$pids $!"
	port=$(wait_ready "$tmp/$n.pready" $!)
}
q() { # name sql [extra connection string]
	"$tdsc" --quiet -c "Server=tcp:127.0.0.1,$port;Encrypt=off;${3:-UID=sa;PWD=Secret1}" \
		-Q "$2" >/dev/null 2>&1 || :
}

echo 'TDSC:alice:Alice1' >"$tmp/ntlm.users"
ssrp=$("$py" -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
server a --ntlm-users "$tmp/ntlm.users" --map 'TDSC\alice=TDSC\alice' \
	--ssrp-port "$ssrp" --instance FUZZ
# c1: every column kind (values, NULLs); c2: several statements, an error, a count, large
# values; c3, c4: NTLM raw and in SPNEGO (login replies with SSPI tokens)
q a 'SELECT * FROM typed WHERE id IN (1, 2)'
q a "SELECT 1 AS one, N'x' AS two, NULL AS n; SELECT * FROM no_such_table; UPDATE typed SET c_int = c_int WHERE id = 1; SELECT c_varcharmax, c_nvarcharmax, c_varbinarymax, c_text, c_ntext, c_image FROM typed WHERE id = 1"
q a 'SELECT 1' 'Authentication=ntlm;UID=TDSC\alice;PWD=Alice1;SPNEGO=no'
q a 'SELECT 1' 'Authentication=ntlm;UID=TDSC\alice;PWD=Alice1;SPNEGO=yes'
server b --plp-unknown-length
# c1: large values in chunks of unknown total length, in 512-byte packets
q b 'SELECT id, c_varcharmax, c_nvarcharmax, c_varbinarymax, c_ntext FROM typed WHERE id = 1' 'UID=sa;PWD=Secret1;PacketSize=512'
# the SQL Browser of server a
"$py" "$top/tests/fuzz/record.py" ssrp "$ssrp" FUZZ "$tmp/ssrp"
"$py" "$top/tests/fuzz/record.py" corpus "$tmp" "$top/tests/fuzz/corpus"
