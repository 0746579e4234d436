# shellcheck shell=sh
# Sourced by doctor.sh and diagnose.sh: the healthy world the doctor and
# tdsc are run in, and the steps that break it.  A throwaway realm
# (tests/realm) where alice holds a TGT and bob exists without a login; the
# server's SPNs MSSQLSvc/localhost:<port> (TCP) and MSSQLSvc/localhost (its
# pipe and shared memory) in its keytab; the test server (tests/server) on
# TCP, a pipe and shared memory in $ldir (LocalDir=), SQL Browser on a UDP
# port; SQL login sa, NTLM account TDSC\alice.  The caller sets PYTHON3 and
# src, then sources this file (which sources server.sh).
SRCDIR=$src
SERVER_USER=sa:Secret-123
REAL_PYTHON3=$PYTHON3
# shellcheck source=tests/server/server.sh
. "$src/tests/server/server.sh"
realm="$tmp/realm"
ldir="$tmp/local"
realm_py() { "$REAL_PYTHON3" "$src/tests/realm/realm.py" "$@" >/dev/null; }
# shellcheck disable=SC2317  # invoked through trap
world_cleanup() {
	stop_server
	[ -d "$realm" ] && "$REAL_PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	rm -rf "$tmp"
}
trap world_cleanup EXIT

free_port() {
	"$REAL_PYTHON3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# world: a new realm, keys and tickets (the server is started by serve).
world() {
	stop_server
	[ -d "$realm" ] && "$REAL_PYTHON3" "$src/tests/realm/realm.py" destroy "$realm" >/dev/null 2>&1
	unset KRB5CCNAME
	realm_py create "$realm" --max-life 900 || exit 1
	set -a; . "$realm/env"; set +a
	kport=$(free_port)
	bport=$(free_port)
	spn="MSSQLSvc/localhost:$kport"
	spn_local="MSSQLSvc/localhost"
	realm_py addprinc "$realm" alice --password alice-pw &&
		realm_py addprinc "$realm" bob --password bob-pw &&
		realm_py addprinc "$realm" "$spn" --randkey &&
		realm_py addprinc "$realm" "$spn_local" --randkey &&
		realm_py ktadd "$realm" "$realm/server.keytab" "$spn" "$spn_local" &&
		realm_py kinit "$realm" alice --password alice-pw || exit 1
	printf 'TDSC:alice:alice-nt-pw\n' >"$realm/ntlm.users"
	rm -rf "$ldir"
	mkdir -p "$ldir/pipe/sql"
	reset_world
}

# reset_world: the server stopped, the environment and base_cs's variables
# as world left them (a broken world changes them), the realm untouched.
reset_world() {
	stop_server
	unset OPENSSL_CONF
	set -a; . "$realm/env"; set +a
	SQL_UID=sa SQL_PWD=Secret-123 NTLM_USR='TDSC\alice' NTLM_PWD=alice-nt-pw
	CA=$certs/ca.pem BPORT=$bport LDIR=$ldir LT=5
}

# serve [--cert NAME] [server args...]: the server on every transport.
serve() {
	cert=server
	if [ "${1:-}" = --cert ]; then cert=$2; shift 2; fi
	start_server --cert "$cert" --port "$kport" --keytab "$realm/server.keytab" \
		--ntlm-users "$realm/ntlm.users" --map "alice@$TDSC_REALM=TDSC\\alice" \
		--map 'TDSC\alice=TDSC\alice' --shm "$ldir/MSSQLSERVER.shm" \
		--pipe "$ldir/pipe/sql/query" --ssrp-port "$bport" "$@"
}

# server_for TRANSPORT: Server= reaching the world's server over tcp, np,
# shm or auto (no prefix, no port: the library's local plan).
server_for() {
	case $1 in
	tcp) echo "tcp:localhost,$kport" ;;
	np) echo "np:$ldir/pipe/sql/query" ;;
	shm) echo "shm:" ;;
	auto) echo "localhost" ;;
	esac
}

# base_cs POLICY: the connection string's common part (where the local
# endpoints are, the CA) with Authentication=POLICY and the credentials of
# the mechanisms it lists: UID/PWD only for sql (a UID also names the
# Kerberos principal), NTLMUser for ntlm, the ccache for kerberos.  Values
# braced: a password may hold ';'.
base_cs() {
	cs="LocalDir={$LDIR};BrowserPort=$BPORT;CAFile={$CA};LoginTimeout=$LT;Authentication=$1"
	case $1 in *sql*)
		[ -n "$SQL_UID" ] && cs="$cs;UID={$SQL_UID}"
		[ -n "$SQL_PWD" ] && cs="$cs;PWD={$SQL_PWD}" ;;
	esac
	case $1 in *ntlm*)
		[ -n "$NTLM_USR" ] && cs="$cs;NTLMUser={$NTLM_USR};NTLMPassword={$NTLM_PWD}" ;;
	esac
	printf '%s\n' "$cs"
}

# The secrets of the world and of the broken worlds: never in any output.
SECRETS='Secret-123\|alice-pw\|alice-nt-pw\|bob-pw\|Wrong-Pass-9'
