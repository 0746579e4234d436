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

# wait_line FILE PATTERN PID : waits, up to 30 s and while PID lives, for a
# line of FILE that matches the grep PATTERN; 1 when it does not come.
wait_line() {
	i=0
	until grep -q "$2" "$1" 2>/dev/null; do
		{ kill -0 "$3" 2>/dev/null && [ $i -lt 300 ]; } || return 1
		sleep 0.1
		i=$((i + 1))
	done
}

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
	if wait_line "$tmp/ready" '^READY ' "$server_pid"; then
		port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$tmp/ready")
		return 0
	fi
	echo "server did not start:"
	cat "$tmp/server.err"
	exit 1
}
