#!/bin/sh
# tedious (npm, pinned by tests/peers/package-lock.json) against the test
# server: plain, TLS, strict TDS 8.0 and an untrusted certificate
# (tests/peers/tedious.js does the checks).  tedious is installed with
# `npm ci` into the build tree (TDSC_BUILDDIR), never into the sources.
# Env (exported by make check): PYTHON3, TDSC_SRCDIR, TDSC_BUILDDIR,
# TDSC_TEST_CERTS.  Exit 0 pass, 1 fail, 77 skip (no node or npm).

PYTHON3=${PYTHON3:-/usr/bin/python3}
SRCDIR=${TDSC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

for tool in node npm; do
	if ! command -v $tool >/dev/null 2>&1; then
		echo "SKIP: $tool not found (Debian: nodejs, npm; scripts/deps.sh)"
		exit 77
	fi
done

SERVER_USER='tedioususer:T3dious!pw'
# shellcheck source=tests/server/server.sh
. "$SRCDIR/tests/server/server.sh"

# npm ci into the build tree, again only when the lock file changed.
mods=${TDSC_BUILDDIR:-$tmp}/tests/peers/node
mkdir -p "$mods" || exit 1
if ! cmp -s "$SRCDIR/tests/peers/package-lock.json" "$mods/package-lock.json" ||
	[ ! -d "$mods/node_modules/tedious" ]; then
	rm -rf "$mods/node_modules" "$mods/package-lock.json"
	cp "$SRCDIR/tests/peers/package.json" "$mods/package.json" &&
		cp "$SRCDIR/tests/peers/package-lock.json" "$mods/package-lock.json.new" &&
		mv "$mods/package-lock.json.new" "$mods/package-lock.json" || exit 1
	if ! (cd "$mods" && timeout -k 10 300 npm ci --no-audit --no-fund \
		--ignore-scripts --loglevel=error >"$tmp/npm.log" 2>&1); then
		echo "FAIL: npm ci of tedious (tests/peers/package-lock.json):"
		sed 's/^/    /' "$tmp/npm.log"
		rm -f "$mods/package-lock.json"
		exit 1
	fi
fi
echo "tedious $(sed -n 's/^ *"version": "\(.*\)",$/\1/p' \
	"$mods/node_modules/tedious/package.json") on node $(node --version)"

fail=0
run() { # run MODE : the checks of tedious.js against the server on $port
	NODE_PATH=$mods/node_modules timeout -k 10 150 \
		node "$SRCDIR/tests/peers/tedious.js" "$1" "$port" "$certs/ca.pem" ||
		fail=1
}

start_server --encryption not_sup
run plain
stop_server
start_server --encryption req
run tls
if grep -q 'TLS TLSv' "$tmp/server.log"; then
	echo "ok   tls: the server logged a TLS session"
else
	echo "FAIL tls: the server logged no TLS session"
	fail=1
fi
stop_server
start_server --strict
run strict
stop_server
start_server --cert selfsigned --encryption req
run untrusted
stop_server

if [ $fail -ne 0 ]; then
	echo "--- server log (last lines)"
	tail -n 40 "$tmp/server.log"
	exit 1
fi
echo "all tedious checks passed"
exit 0
