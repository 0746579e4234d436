#!/bin/sh
# The Windows build under Wine, against the Linux test server and a
# throwaway Kerberos realm: tools/tdsc.exe over Winsock TCP with SChannel
# TLS, SSPI Kerberos and NTLM, a named pipe and lpc: (the SQLLocal pipe)
# between two Windows processes (tests/windows/pipe_bridge.exe relays them
# to the server's TCP port), the Entra ID token sources over WinHTTP
# against the loopback identity provider (tests/server/authority.py), and,
# for each broken world, the same error code from the Windows tdsc.exe as
# from the Linux tools/tdsc.
#
#   tests/windows/run-wine.sh WIN_BUILDDIR LINUX_BUILDDIR
#
# WIN_BUILDDIR: a build configured with --host=x86_64-w64-mingw32 and made
# (tools/tdsc.exe, the DLL, tests/windows/pipe_bridge.exe); LINUX_BUILDDIR:
# a Linux build (tools/tdsc).  Packages: scripts/deps.sh and
# scripts/deps-windows.sh.  Needs no display and no standard input.
# Prints a line per check and "N passed, N failed"; exits 1 on any
# failure, 77 when Wine or a build is missing.  Every process it starts
# (Wine's, the server, the KDC) is stopped on exit, failure or not.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
win=${1:-${TDSC_WIN_BUILDDIR:-}}
lin=${2:-${TDSC_BUILDDIR:-}}
PYTHON3=${PYTHON3:-/usr/bin/python3}
WINE=${WINE:-wine}
started=$(date +%s)

skip() { echo "SKIP: $*"; exit 77; }
[ -n "$win" ] && [ -n "$lin" ] || skip "usage: $0 WIN_BUILDDIR LINUX_BUILDDIR"
command -v "$WINE" >/dev/null 2>&1 || skip "no $WINE (scripts/deps-windows.sh)"
for f in "$win/tools/.libs/tdsc.exe" "$win/tools/tdsc.exe"; do
	[ -f "$f" ] && { exe=$f; break; }
done
[ -n "${exe:-}" ] || skip "no tdsc.exe in $win/tools"
dll=
for f in "$win"/lib/.libs/libtdsclient-*.dll; do [ -f "$f" ] && dll=$f; done
# libtool keeps the real programs in .libs (beside the DLL they load)
prog() { # NAME: tests/windows/NAME.exe
	if [ -f "$win/tests/windows/.libs/$1.exe" ]; then
		echo "$win/tests/windows/.libs/$1.exe"
	else
		echo "$win/tests/windows/$1.exe"
	fi
}
bridge=$(prog pipe_bridge)
canceller=$(prog cancel)
asyncer=$(prog async)
busier=$(prog pipe_busy)
[ -n "$dll" ] && [ -f "$bridge" ] && [ -f "$canceller" ] && [ -f "$asyncer" ] &&
	[ -f "$busier" ] ||
	skip "no DLL, pipe_bridge.exe, cancel.exe, async.exe or pipe_busy.exe in $win"
ltdsc=$lin/tools/tdsc
[ -x "$ltdsc" ] || skip "no $ltdsc"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tdsc-wine.XXXXXX") || exit 1
realm=$tmp/realm
server_pid=
export WINEPREFIX="$tmp/wine" WINEDEBUG=-all
# no Mono or Gecko installers, no menu entries; no display at all
export WINEDLLOVERRIDES="mscoree,mshtml=;winemenubuilder.exe=d"
unset DISPLAY WAYLAND_DISPLAY

# shellcheck disable=SC2317  # invoked through trap
cleanup() {
	for p in ${auth_pids:-}; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -d "$WINEPREFIX" ] && timeout -k 10 30 wineserver -k >/dev/null 2>&1
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	[ -d "$realm" ] && "$PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM

passed=0
failed=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then
		echo "ok: $1"
		passed=$((passed + 1))
	else
		echo "FAIL: $1"
		failed=$((failed + 1))
	fi
}
die() { echo "FAIL: $*"; failed=$((failed + 1)); echo "$passed passed, $failed failed"; exit 1; }
realm_py() { "$PYTHON3" "$src/tests/realm/realm.py" "$@" >/dev/null; }
# A Windows path for a file here (Wine maps Z: to /).
winpath() { printf 'Z:%s' "$1" | tr / '\\'; }

# ------------------------------------------------------------ the worlds

certs=${TDSC_TEST_CERTS:-}
if [ -z "$certs" ] || [ ! -f "$certs/ca.pem" ]; then
	certs=$tmp/certs
	timeout -k 10 60 "$PYTHON3" "$src/tests/tls/mkcerts.py" "$certs" >/dev/null ||
		die "test certificates (tests/tls/mkcerts.py)"
fi

# The realm: alice with a TGT, the server's SPN in its keytab; the server:
# SQL login sa, alice by Kerberos and NTLM (TDSC\alice), TLS.
realm_py create "$realm" --max-life 900 || die "Kerberos realm (tests/realm)"
set -a
# shellcheck source=/dev/null
. "$realm/env"
set +a
port=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
spn="MSSQLSvc/localhost:$port"
realm_py addprinc "$realm" alice --password alice-pw &&
	realm_py addprinc "$realm" "$spn" --randkey &&
	realm_py ktadd "$realm" "$realm/server.keytab" "$spn" &&
	realm_py kinit "$realm" alice --password alice-pw ||
	die "realm principals"
printf 'TDSC:alice:alice-nt-pw\n' >"$realm/ntlm.users"

# Entra ID (at the end): the tenant's signing key, whose tokens the server
# takes for three principals; the identity provider is started there.
TENANT=72f988bf-0000-4000-8000-00000000cafe
CLIENT=5e1f0000-0000-4000-8000-0000000000c1
SP_OID=0c0ffee0-0000-4000-8000-0000000000a1
MSI_OID=0c0ffee0-0000-4000-8000-0000000000a2
UAMI_OID=0c0ffee0-0000-4000-8000-0000000000a3
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	-out "$tmp/tenant.key" 2>/dev/null &&
	openssl pkey -in "$tmp/tenant.key" -pubout -out "$tmp/tenant.pem" ||
	die "the tenant's signing key (openssl)"
timeout -k 10 900 "$PYTHON3" "$src/tests/server/tdsserver.py" \
	--host 127.0.0.1 --port "$port" --db "$tmp/test.sqlite" \
	--init "$src/tests/server/sample.sql" --user sa:Secret-123 \
	--cert "$certs/server.pem" --key "$certs/server.key" \
	--keytab "$realm/server.keytab" --ntlm-users "$realm/ntlm.users" \
	--map "alice@$TDSC_REALM=TDSC\\alice" --map 'TDSC\alice=TDSC\alice' \
	--entra-key "$tmp/tenant.pem" --entra-tenant "$TENANT" \
	--entra-user "$SP_OID=sp_entra" --entra-user "$MSI_OID=msi_entra" \
	--entra-user "$UAMI_OID=uami_entra" \
	--log "$tmp/server.log" >"$tmp/ready" 2>"$tmp/server.err" </dev/null &
server_pid=$!
i=0
until grep -q '^READY ' "$tmp/ready" 2>/dev/null; do
	i=$((i + 1))
	{ [ $i -gt 150 ] || ! kill -0 "$server_pid" 2>/dev/null; } &&
		{ cat "$tmp/server.err"; die "test server (tests/server)"; }
	sleep 0.1
done

# Wine: a fresh prefix (its first start is the slow part), one wineserver
# kept for the whole run.
t0=$(date +%s)
timeout -k 10 300 wineboot -i </dev/null >"$tmp/wineboot.log" 2>&1 ||
	{ cat "$tmp/wineboot.log"; die "wineboot -i"; }
timeout -k 10 60 wineserver -p </dev/null >/dev/null 2>&1
check "a Wine prefix, in $(($(date +%s) - t0)) s" 0
bin=$tmp/bin
mkdir -p "$bin" && cp "$exe" "$dll" "$bridge" "$canceller" "$asyncer" "$busier" "$bin/" ||
	die "copy the Windows build"

# ------------------------------------------------------------ helpers

export TDSC_PASSWORD=Secret-123
ca="CAFile=$(winpath "$certs/ca.pem")"
lca="CAFile=$certs/ca.pem"

# wtdsc NAME CS [SQL [FLAG]] / ltdsc NAME CS [SQL [FLAG]]: runs the
# Windows (under Wine) or Linux tdsc; output in $tmp/NAME.{w,l}.{out,err}
# (CR LF made LF), exit status in $wrc / $lrc.
# shellcheck disable=SC2086  # FLAG: none, or one word
wtdsc() {
	timeout -k 10 120 "$WINE" "$bin/tdsc.exe" ${4:-} -c "$2" -Q "${3:-SELECT 1}" \
		</dev/null >"$tmp/$1.w.out" 2>"$tmp/$1.w.err"
	wrc=$?
	sed -i 's/\r$//' "$tmp/$1.w.out" "$tmp/$1.w.err"
}
# shellcheck disable=SC2086
ltdsc() {
	timeout -k 10 120 "$ltdsc" ${4:-} -c "$2" -Q "${3:-SELECT 1}" </dev/null \
		>"$tmp/$1.l.out" 2>"$tmp/$1.l.err"
	lrc=$?
}
code_of() { sed -n 's/^error: \(TDSC_E_[A-Z0-9_]*\).*/\1/p' "$1" | head -1; }
show() { # the Windows error, indented, after a failed check
	sed 's/^/    /' "$tmp/$1.w.err" | head -6
}

# same NAME SQL WCS LCS: both succeed and print the same thing.
same() {
	wtdsc "$1" "$3" "$2"
	ltdsc "$1" "$4" "$2"
	[ $wrc = 0 ] && [ $lrc = 0 ] && cmp -s "$tmp/$1.w.out" "$tmp/$1.l.out"
	r=$?
	check "$1: tdsc.exe prints what tools/tdsc prints" $r
	[ $r = 0 ] || { show "$1"; diff "$tmp/$1.l.out" "$tmp/$1.w.out" | head -5; }
}

# parity NAME CODE WCS LCS [KNOWN]: both fail with CODE.  KNOWN names a
# documented limitation of Wine: then a mismatch is reported (xfail), not
# counted as a failure, and a match is an ordinary pass.
parity() {
	wtdsc "$1" "$3"
	ltdsc "$1" "$4"
	wc=$(code_of "$tmp/$1.w.err")
	lc=$(code_of "$tmp/$1.l.err")
	if [ "$wc" = "TDSC_E_$2" ] && [ "$lc" = "TDSC_E_$2" ] && [ $wrc = $lrc ]; then
		check "$1: Windows and Linux both say $2 (exit $wrc)" 0
	elif [ -n "${5:-}" ] && [ "$lc" = "TDSC_E_$2" ]; then
		echo "xfail: $1: Linux says $2, Windows ${wc:-nothing} ($5)"
	else
		check "$1: Windows and Linux both say $2 (Windows: ${wc:-none}, exit $wrc; Linux: ${lc:-none}, exit $lrc)" 1
		show "$1"
	fi
	! grep -q 'Secret-123\|alice-pw\|alice-nt-pw' "$tmp/$1.w.out" "$tmp/$1.w.err" ||
		check "$1: no secret printed by tdsc.exe" 1
}

# ------------------------------------------------------------ TCP (Winsock)

tcp="Server=tcp:localhost,$port"
same sql-login-tls "SELECT id, name FROM people ORDER BY id" \
	"$tcp;UID=sa;$ca" "$tcp;UID=sa;$lca"
# CSV: the aligned table's widths depend on the C library's locale
# (msvcrt has no UTF-8 one), the values do not.
wtdsc typed "$tcp;UID=sa;$ca" "SELECT * FROM typed ORDER BY id" --csv
ltdsc typed "$tcp;UID=sa;$lca" "SELECT * FROM typed ORDER BY id" --csv
[ $wrc = 0 ] && cmp -s "$tmp/typed.w.out" "$tmp/typed.l.out"
check "typed-table: every type reads the same on Windows (--csv)" $?
same strict-tds8 "SELECT name FROM people WHERE id = 1" \
	"$tcp;UID=sa;$ca;Encrypt=strict" "$tcp;UID=sa;$lca;Encrypt=strict"
same kerberos-sspi "SELECT SUSER_NAME()" \
	"$tcp;$ca;Authentication=kerberos" "$tcp;$lca;Authentication=kerberos"
ntlm='Authentication=ntlm;NTLMUser=TDSC\alice;NTLMPassword=alice-nt-pw'
same ntlm-sspi "SELECT SUSER_NAME()" "$tcp;$ca;$ntlm" "$tcp;$lca;$ntlm"

# cancel.exe: tdsc_conn_cancel from another thread stops WAITFOR (the
# waker's socket in the Winsock wait); over the pipe further down.
cancel() { # NAME CS
	timeout -k 10 60 "$WINE" "$bin/cancel.exe" "$2" </dev/null >"$tmp/$1.out" 2>&1
	r=$?
	check "$1: $(tr -d '\r' <"$tmp/$1.out" | head -1)" $r
}
cancel cancel-tcp "$tcp;UID=sa;PWD=Secret-123;$ca"

# async.exe (issue 16): the non-blocking API from one thread and one
# WSAPoll: 16 connections at once, SQL login over Schannel TLS and NTLM
# through SSPI in turn, each checking who it is, the rows of people and
# its own number; with them a wrong password and a refused port, which
# must fail with their codes.
asyncs() { # NAME N GOOD-CS... -- BAD-CS CODE...
	name=$1
	shift
	timeout -k 10 150 "$WINE" "$bin/async.exe" "$@" </dev/null \
		>"$tmp/$name.out" 2>&1
	r=$?
	sed -i 's/\r$//' "$tmp/$name.out"
	check "$name: $(tail -1 "$tmp/$name.out")" $r
	[ $r = 0 ] || grep FAIL "$tmp/$name.out" | head -5 | sed 's/^/    /'
	! grep -q 'Secret-123\|alice-nt-pw' "$tmp/$name.out" ||
		check "$name: no secret printed by async.exe" 1
}
asyncs async-tcp 16 "$tcp;UID=sa;PWD=Secret-123;$ca;#WHO=sa" \
	"$tcp;$ca;$ntlm;#WHO=TDSC\\alice" -- \
	"$tcp;UID=sa;PWD=wrong-pw;$ca" LOGIN_FAILED \
	"Server=tcp:127.0.0.1,1;UID=sa;PWD=Secret-123;$ca" CONN_REFUSED \
	"$tcp;$ca;Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=wrong" \
	NTLM_LOGON_DENIED

# ------------------------------------------------------------ broken worlds

parity refused CONN_REFUSED "Server=tcp:127.0.0.1,1;UID=sa;$ca" \
	"Server=tcp:127.0.0.1,1;UID=sa;$lca"
parity host-not-found HOST_NOT_FOUND \
	"Server=tcp:no-such-host.invalid,1433;UID=sa;$ca" \
	"Server=tcp:no-such-host.invalid,1433;UID=sa;$lca"
TDSC_PASSWORD=wrong-pw
parity bad-password LOGIN_FAILED "$tcp;UID=sa;$ca" "$tcp;UID=sa;$lca"
TDSC_PASSWORD=Secret-123
parity unknown-keyword UNKNOWN_KEYWORD "$tcp;Colour=blue" "$tcp;Colour=blue"
parity cert-untrusted TLS_CERT_UNTRUSTED \
	"$tcp;UID=sa;CAFile=$(winpath "$certs/otherca.pem")" \
	"$tcp;UID=sa;CAFile=$certs/otherca.pem"
parity cert-name-mismatch TLS_CERT_NAME_MISMATCH \
	"$tcp;UID=sa;$ca;HostNameInCertificate=wrong.example" \
	"$tcp;UID=sa;$lca;HostNameInCertificate=wrong.example"
parity ntlm-bad-password NTLM_LOGON_DENIED \
	"$tcp;$ca;Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=wrong" \
	"$tcp;$lca;Authentication=ntlm;NTLMUser=TDSC\\alice;NTLMPassword=wrong"
wine_krb="Wine's Kerberos SSP reports krb5's failures as SEC_E_INTERNAL_ERROR"
parity spn-unknown KRB_SPN_UNKNOWN \
	"$tcp;$ca;Authentication=kerberos;ServerSPN=MSSQLSvc/nosuch.localhost:1" \
	"$tcp;$lca;Authentication=kerberos;ServerSPN=MSSQLSvc/nosuch.localhost:1" \
	"$wine_krb"
# Off the domain: a TGT but no KDC to ask for the service ticket.
realm_py kinit "$realm" alice --password alice-pw --ccache "FILE:$realm/tgt-only"
realm_py stop "$realm"
KRB5CCNAME=FILE:$realm/tgt-only
parity kdc-unreachable KRB_KDC_UNREACHABLE "$tcp;$ca;Authentication=kerberos" \
	"$tcp;$lca;Authentication=kerberos" "$wine_krb"
KRB5CCNAME=FILE:$realm/ccache
realm_py start "$realm"

# ------------------------------------------------------------ Extended Protection

# A second server requiring channel bindings (doc/channel-binding.md),
# with the same keytab: SSPI's logins carry SChannel's tls-unique
# (SECPKG_ATTR_UNIQUE_BINDINGS, SECBUFFER_CHANNEL_BINDINGS).  Where Wine
# gives no bindings, or its packages do not put them in the token, the
# refusal is reported (xfail) with what the trail says, not counted.
# Measured (Wine 8, Debian 12): SChannel gives tls-unique, but neither
# its Kerberos package (over MIT) nor its NTLM one (ntlm_auth) puts the
# bindings in the token: the server sees none, and refuses.
eport=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
timeout -k 10 600 "$PYTHON3" "$src/tests/server/tdsserver.py" \
	--host 127.0.0.1 --port "$eport" --db "$tmp/epa.sqlite" \
	--init "$src/tests/server/sample.sql" --user sa:Secret-123 \
	--cert "$certs/server.pem" --key "$certs/server.key" \
	--keytab "$realm/server.keytab" --ntlm-users "$realm/ntlm.users" \
	--map "alice@$TDSC_REALM=TDSC\\alice" --map 'TDSC\alice=TDSC\alice' \
	--extended-protection required \
	--log "$tmp/epa.log" >"$tmp/epa.ready" 2>"$tmp/epa.err" </dev/null &
epa_pid=$!
i=0
until grep -q '^READY ' "$tmp/epa.ready" 2>/dev/null; do
	i=$((i + 1))
	{ [ $i -gt 150 ] || ! kill -0 "$epa_pid" 2>/dev/null; } &&
		{ cat "$tmp/epa.err"; die "test server with Extended Protection"; }
	sleep 0.1
done
etcp="Server=tcp:localhost,$eport;ServerSPN=$spn"
for m in kerberos ntlm; do
	case $m in
	kerberos) auth="Authentication=kerberos" ;;
	ntlm) auth=$ntlm ;;
	esac
	ltdsc "epa-$m" "$etcp;$lca;$auth" "SELECT SUSER_NAME()"
	check "epa-$m: tools/tdsc logs in against Extended Protection required" $lrc
	[ $lrc = 0 ] || sed 's/^/    /' "$tmp/epa-$m.l.err" | head -8
	n0=$(grep -c 17806 "$tmp/epa.log")
	wtdsc "epa-$m" "$etcp;$ca;$auth" "SELECT SUSER_NAME()"
	if [ $wrc = 0 ]; then
		check "epa-$m: tdsc.exe (SSPI) logs in against Extended Protection required" 0
	else
		# what the server saw (epa.py's 17806 line), and what the trail says
		why=$(grep 17806 "$tmp/epa.log" | tail -n +$((n0 + 1)) | sed -n 's/.*TLS channel: \(.*\); Extended.*/\1/p' | head -1)
		cb=$(sed -n 's/^ *attempt [0-9]*:.*, channel binding \([^:]*\).*/\1/p' "$tmp/epa-$m.w.err" | head -1)
		echo "xfail: epa-$m: Wine's SSPI login refused ($(code_of "$tmp/epa-$m.w.err"); the client sent: ${cb:-?}; the server: ${why:-no 17806 line})"
	fi
done
kill "$epa_pid" 2>/dev/null
wait "$epa_pid" 2>/dev/null

# ------------------------------------------------------------ pipes

# The bridge serves SQL Server's default pipe and the SQLLocal pipe
# (lpc:), a second one a pipe busy for 3 s, a third one busy for ever.
"$WINE" "$bin/pipe_bridge.exe" "$port" '\\.\pipe\sql\query' \
	'\\.\pipe\SQLLocal\MSSQLSERVER' </dev/null >"$tmp/bridge.out" 2>"$tmp/bridge.err" &
"$WINE" "$bin/pipe_bridge.exe" "$port" --busy-ms 600000 '\\.\pipe\stuck\query' \
	</dev/null >"$tmp/stuck.out" 2>>"$tmp/bridge.err" &
i=0
until grep -q READY "$tmp/bridge.out" && grep -q READY "$tmp/stuck.out"; do
	i=$((i + 1))
	[ $i -gt 300 ] && { cat "$tmp/bridge.err"; die "pipe_bridge.exe did not start"; }
	sleep 0.1
done
# The server's certificate names localhost; a pipe target has no host name
# to check it against.
pca="$ca;HostNameInCertificate=localhost"
same np-sql-query "SELECT id, name FROM people ORDER BY id" \
	"Server=np:\\\\.\\pipe\\sql\\query;UID=sa;$pca" "$tcp;UID=sa;$lca"
same lpc "SELECT id, name FROM people ORDER BY id" "Server=lpc:;UID=sa;$pca" \
	"$tcp;UID=sa;$lca"
# Ten sessions in a row: a read that leaves part of a message in the pipe
# once stalled one session in three under Wine (pipe_win32.c, READ_BUF).
n=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	wtdsc lpc-$i "Server=lpc:;UID=sa;$pca;LoginTimeout=5" "SELECT $i"
	[ $wrc = 0 ] && n=$((n + 1))
	[ $wrc = 0 ] || [ -n "${lpc_failed:-}" ] || lpc_failed=lpc-$i
done
[ $n = 10 ]
check "lpc-ten: ten sessions in a row over the SQLLocal pipe ($n of 10)" $?
[ -z "${lpc_failed:-}" ] || show "$lpc_failed"
cancel cancel-lpc "Server=lpc:;UID=sa;PWD=Secret-123;$pca"
wtdsc local-auto "Server=.;UID=sa;$pca" "SELECT 1"
[ $wrc = 0 ]
check "local-auto: Server=. connects (shared memory first)" $?
ms() { echo $(($(date +%s%N) / 1000000)); }
"$WINE" "$bin/pipe_bridge.exe" "$port" --busy-ms 3000 '\\.\pipe\busy\query' \
	</dev/null >"$tmp/busy.out" 2>>"$tmp/bridge.err" &
i=0
until grep -q READY "$tmp/busy.out"; do
	i=$((i + 1))
	[ $i -gt 300 ] && die "pipe_bridge.exe --busy-ms did not start"
	sleep 0.05
done
# The times include Wine's start of tdsc.exe (about a second), so the
# busy pipe is freed 3 s after READY, when tdsc.exe waits for it (most
# likely: nothing outside tdsc.exe can see that it waits; pipe_busy.exe
# below has the case without that race).  It cannot connect before.
t0=$(ms)
wtdsc pipe-busy-then-free "Server=np:\\\\.\\pipe\\busy\\query;UID=sa;$pca;LoginTimeout=20"
t=$(($(ms) - t0))
wc=$(code_of "$tmp/pipe-busy-then-free.w.err")
[ $wrc = 0 ] && [ $t -ge 2500 ]
check "pipe-busy-then-free: waits for the busy pipe, then connects (got ${wc:-no error}, exit $wrc, after $t ms)" $?
[ $wrc = 0 ] || show pipe-busy-then-free
# The stuck pipe's only instance is the bridge's from READY on (it checks):
# the connect waits (WaitNamedPipe) until LoginTimeout is over.
t0=$(ms)
wtdsc pipe-busy "Server=np:\\\\.\\pipe\\stuck\\query;UID=sa;$pca;LoginTimeout=2"
t=$(($(ms) - t0))
wc=$(code_of "$tmp/pipe-busy.w.err")
[ "$wc" = TDSC_E_PIPE_BUSY ] && [ $t -ge 1900 ] && [ $t -le 10000 ]
r=$?
check "pipe-busy: PIPE_BUSY once LoginTimeout=2 is over (got ${wc:-no code}, exit $wrc, after $t ms)" $r
[ $r = 0 ] || show pipe-busy
# The same deadline inside the library, where the race between the wait's
# end and the deadline can be forced (pipe_win32.c's test hook).
timeout -k 10 60 "$WINE" "$bin/pipe_busy.exe" </dev/null >"$tmp/pipe_busy.out" 2>&1
r=$?
sed -i 's/\r$//' "$tmp/pipe_busy.out"
check "pipe-busy-deadline: $(tail -1 "$tmp/pipe_busy.out") (pipe_busy.exe)" $r
[ $r = 0 ] || grep -v '^ok' "$tmp/pipe_busy.out" | head -8 | sed 's/^/    /'
parity pipe-not-found PIPE_NOT_FOUND "Server=np:\\\\.\\pipe\\nosuch;UID=sa;$pca" \
	"Server=np:$tmp/nosuch.sock;UID=sa;$lca"
mkdir -p "$tmp/empty"
parity shm-not-found SHM_NOT_FOUND "Server=lpc:.\\NOSUCH;UID=sa;$pca" \
	"Server=lpc:.\\NOSUCH;UID=sa;$lca;LocalDir=$tmp/empty"

# ------------------------------------------------------------ Entra ID

# The token sources over HTTP through WinHTTP (lib/auth/http_winhttp.c),
# against the loopback identity provider (tests/server/authority.py):
# plain http to 127.0.0.1 (oauth.c's loopback rule), and https with the
# test CA's certificate for localhost.  Each login and each failure is the
# same from tdsc.exe as from tools/tdsc (libcurl); no secret is printed.
SECRET=Q~sp-secret-value-Zq7
HEADER=idh-5ecret-4f1c
printf '%s\n' "$SECRET" >"$tmp/secret"
# authority NAME [ARGS]: starts authority.py, its port in $aport
authority() {
	"$PYTHON3" "$src/tests/server/authority.py" --key "$tmp/tenant.key" \
		--tenant "$TENANT" --client-id "$CLIENT" --secret-file "$tmp/secret" \
		--identity-header "$HEADER" --principal "$CLIENT=$SP_OID" \
		--principal "system=$MSI_OID" --principal "uami-0000-client=$UAMI_OID" \
		--slow 6 "$@" >"$tmp/auth.ready" 2>>"$tmp/auth.err" </dev/null &
	auth_pids="${auth_pids:-} $!"
	i=0
	until grep -q '^READY ' "$tmp/auth.ready" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 150 ] && { cat "$tmp/auth.err"; die "the identity provider (authority.py)"; }
		sleep 0.1
	done
	aport=$(sed -n 's/^READY //p' "$tmp/auth.ready")
}
authority
ahttp=http://127.0.0.1:$aport
authority --tls-cert "$certs/server.pem" --tls-key "$certs/server.key"
ahttps=https://localhost:$aport
unset AZURE_TENANT_ID AZURE_AUTHORITY_HOST IDENTITY_ENDPOINT IDENTITY_HEADER
# no secret (client secret, IDENTITY_HEADER, a token's head) in NAME's output
token_head=eyJhbGciOiAiUlMyNTYi
nosecret() {
	! cat "$tmp/$1".[wl].out "$tmp/$1".[wl].err 2>/dev/null |
		grep -q -e "$SECRET" -e "$HEADER" -e "$token_head"
	check "$1: no secret printed" $?
}
sp="Authentication=ActiveDirectoryServicePrincipal;UID=$CLIENT;EntraTenant=$TENANT"
same entra-sp "SELECT SUSER_NAME()" "$tcp;$ca;$sp;PWD=$SECRET;EntraAuthority=$ahttp" \
	"$tcp;$lca;$sp;PWD=$SECRET;EntraAuthority=$ahttp"
grep -qx ' *sp_entra *' "$tmp/entra-sp.w.out"
check "entra-sp: tdsc.exe logged in as sp_entra (a token from WinHTTP)" $?
nosecret entra-sp
# a certificate's assertion is signed with OpenSSL, which this build has not
wtdsc entra-sp-cert "$tcp;$ca;Authentication=entra-sp;UID=$CLIENT;EntraTenant=$TENANT;EntraAuthority=$ahttp;EntraClientCertificate=$(winpath "$certs/server.pem")"
[ "$(code_of "$tmp/entra-sp-cert.w.err")" = TDSC_E_ENTRA_NO_HTTP ] &&
	grep -q 'cannot sign' "$tmp/entra-sp-cert.w.err"
check "entra-sp-cert: EntraClientCertificate= says ENTRA_NO_HTTP (no OpenSSL to sign with)" $?
same entra-msi-imds "SELECT SUSER_NAME()" \
	"$tcp;$ca;Authentication=ActiveDirectoryManagedIdentity;EntraIMDS=$ahttp" \
	"$tcp;$lca;Authentication=ActiveDirectoryManagedIdentity;EntraIMDS=$ahttp"
grep -qx ' *msi_entra *' "$tmp/entra-msi-imds.w.out"
check "entra-msi-imds: tdsc.exe logged in as msi_entra (Metadata: true)" $?
same entra-msi-uami "SELECT SUSER_NAME()" \
	"$tcp;$ca;Authentication=entra-msi;UID=uami-0000-client;EntraIMDS=$ahttp" \
	"$tcp;$lca;Authentication=entra-msi;UID=uami-0000-client;EntraIMDS=$ahttp"
export IDENTITY_ENDPOINT="$ahttp/msi/token" IDENTITY_HEADER="$HEADER"
same entra-msi-appservice "SELECT SUSER_NAME()" \
	"$tcp;$ca;Authentication=entra-msi" "$tcp;$lca;Authentication=entra-msi"
grep -qx ' *msi_entra *' "$tmp/entra-msi-appservice.w.out"
check "entra-msi-appservice: IDENTITY_ENDPOINT and IDENTITY_HEADER (a header secret)" $?
nosecret entra-msi-appservice
export IDENTITY_HEADER=wrong-header
parity entra-msi-appservice-refused ENTRA_IDENTITY_REFUSED \
	"$tcp;$ca;Authentication=entra-msi" "$tcp;$lca;Authentication=entra-msi"
unset IDENTITY_ENDPOINT IDENTITY_HEADER

# https: WinHTTP verifies the chain; CAFile= (the test CA) is honoured by
# checking the chain here before the body, which holds the secret, goes.
same entra-sp-https "SELECT SUSER_NAME()" \
	"$tcp;$ca;$sp;PWD=$SECRET;EntraAuthority=$ahttps" \
	"$tcp;$lca;$sp;PWD=$SECRET;EntraAuthority=$ahttps"
trust="$tcp;TrustServerCertificate=yes;$sp;PWD=$SECRET;EntraAuthority=$ahttps"
parity entra-https-untrusted ENTRA_ENDPOINT_UNREACHABLE "$trust" "$trust"
grep -q certificate "$tmp/entra-https-untrusted.w.err"
check "entra-https-untrusted: no CAFile=, the system store does not know the test CA (certificate named)" $?
parity entra-https-otherca ENTRA_ENDPOINT_UNREACHABLE \
	"$trust;CAFile=$(winpath "$certs/otherca.pem")" "$trust;CAFile=$certs/otherca.pem"
grep -q 'not trusted\|certificate' "$tmp/entra-https-otherca.w.err"
check "entra-https-otherca: CAFile= of another CA, the chain refused before the secret" $?
nosecret entra-https-otherca
# a header secret is not held back: CAFile= is not applied, and says so
export IDENTITY_ENDPOINT="$ahttps/msi/token" IDENTITY_HEADER="$HEADER"
wtdsc entra-https-header "$tcp;$ca;Authentication=entra-msi"
[ "$(code_of "$tmp/entra-https-header.w.err")" = TDSC_E_ENTRA_ENDPOINT_UNREACHABLE ] &&
	grep -q 'CAFile= is not applied' "$tmp/entra-https-header.w.err"
r=$?
check "entra-https-header: IDENTITY_HEADER over https, CAFile= not applied (named in the error)" $r
[ $r = 0 ] || show entra-https-header
nosecret entra-https-header
unset IDENTITY_ENDPOINT IDENTITY_HEADER

# The endpoint's and the identity provider's failures, each with its code.
dead=$("$PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
parity entra-unreachable ENTRA_ENDPOINT_UNREACHABLE \
	"$tcp;$ca;$sp;PWD=$SECRET;EntraAuthority=http://127.0.0.1:$dead" \
	"$tcp;$lca;$sp;PWD=$SECRET;EntraAuthority=http://127.0.0.1:$dead"
grep -q "127.0.0.1:$dead" "$tmp/entra-unreachable.w.err"
check "entra-unreachable: the closed port is named" $?
wtdsc entra-msi-next "$tcp;$ca;Authentication=entra-msi,sql;UID=sa;EntraIMDS=http://127.0.0.1:$dead"
[ $wrc = 0 ]
check "entra-msi-next: no metadata endpoint, sql logs in after entra-msi" $?
for t in wrong:CLIENT_SECRET_INVALID nosuch-tenant:TENANT_NOT_FOUND \
	expired-secret:CLIENT_SECRET_EXPIRED echo-secret:CLIENT_SECRET_INVALID \
	garbage:ENDPOINT_BAD_RESPONSE http500:ENDPOINT_HTTP_ERROR \
	no-token:ENDPOINT_BAD_RESPONSE huge:ENDPOINT_UNREACHABLE \
	redirect:ENDPOINT_HTTP_ERROR \
	expired-token:TOKEN_EXPIRED unmapped:TOKEN_REJECTED; do
	tenant=${t%%:*}
	pwd=$SECRET
	[ "$tenant" = wrong ] && { tenant=$TENANT; pwd=wrong-secret; }
	a="Authentication=entra-sp;UID=$CLIENT;PWD=$pwd;EntraTenant=$tenant;EntraAuthority=$ahttp"
	parity "entra-$tenant-${t#*:}" "ENTRA_${t#*:}" "$tcp;$ca;$a" "$tcp;$lca;$a"
	nosecret "entra-$tenant-${t#*:}"
done
grep -q 'AADSTS7000215' "$tmp/entra-$TENANT-CLIENT_SECRET_INVALID.w.err" &&
	grep -q 'larger than' "$tmp/entra-huge-ENDPOINT_UNREACHABLE.w.err" &&
	grep -q 'HTTP 307' "$tmp/entra-redirect-ENDPOINT_HTTP_ERROR.w.err"
check "entra-refusals: tdsc.exe names the AADSTS code, the 1 MiB cap, the 307 it did not follow" $?
t0=$(ms)
parity entra-slow ENTRA_ENDPOINT_TIMEOUT \
	"$tcp;$ca;Authentication=entra-sp;UID=$CLIENT;PWD=$SECRET;EntraTenant=slow;EntraAuthority=$ahttp;LoginTimeout=2" \
	"$tcp;$lca;Authentication=entra-sp;UID=$CLIENT;PWD=$SECRET;EntraTenant=slow;EntraAuthority=$ahttp;LoginTimeout=2"
t=$(($(ms) - t0))
# both runs: each about LoginTimeout=2 s, well under the endpoint's 6 s
[ $t -ge 3000 ] && [ $t -le 11000 ]
check "entra-slow: both stop at LoginTimeout=2, not the endpoint's 6 s ($t ms for the two)" $?

echo "wine run: $(($(date +%s) - started)) s"
echo "$passed passed, $failed failed"
[ $failed = 0 ]
