# shellcheck shell=sh
# Sourced by the shell tests: a scratch folder ($tmp, removed on exit), the
# test certificates ($certs), and start_server / stop_server around
# tests/server/tdsserver.py.  The caller sets PYTHON3 and SRCDIR first, and
# SERVER_USER (NAME:PASSWORD).

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tdsc-test.XXXXXX") || exit 1
server_pid=
export port=

# shellcheck disable=SC2317  # invoked through trap
stop_server() {
	if [ -n "$server_pid" ]; then
		# bounded: the server leaves within 5 s of SIGTERM or prints its
		# threads' stacks and exits; timeout -k kills it 10 s after.
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
		server_pid=
		if grep -q '^Timeout (' "$tmp/server.err" 2>/dev/null; then
			echo "warning: the test server stalled on its way out:"
			sed 's/^/    /' "$tmp/server.err"
		fi
	fi
}
# shellcheck disable=SC2317  # invoked through trap
cleanup() {
	stop_server
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

certs=${TDSC_TEST_CERTS:-}
if [ -z "$certs" ] || [ ! -f "$certs/ca.pem" ]; then
	certs=$tmp/certs
	timeout -k 10 60 "$PYTHON3" "$SRCDIR/tests/tls/mkcerts.py" "$certs" || exit 1
fi

# start_server [--cert NAME] SERVER-ARGS... : starts the server with the
# sample database and the certificate NAME.pem (default: server); sets $port.
start_server() {
	cert=server
	if [ "${1:-}" = --cert ]; then
		cert=$2
		shift 2
	fi
	rm -f "$tmp/ready" "$tmp/test.sqlite"
	timeout -k 10 300 "$PYTHON3" "$SRCDIR/tests/server/tdsserver.py" \
		--host 127.0.0.1 --port 0 --db "$tmp/test.sqlite" \
		--init "$SRCDIR/tests/server/sample.sql" --user "$SERVER_USER" \
		--cert "$certs/$cert.pem" --key "$certs/$cert.key" \
		--log "$tmp/server.log" "$@" >"$tmp/ready" 2>>"$tmp/server.err" &
	server_pid=$!
	i=0
	while [ $i -lt 150 ]; do
		if grep -q '^READY ' "$tmp/ready" 2>/dev/null; then
			port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/ready")
			return 0
		fi
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
		i=$((i + 1))
	done
	echo "server did not start:"
	cat "$tmp/server.err"
	exit 1
}
