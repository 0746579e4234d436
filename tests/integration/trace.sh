#!/bin/sh
# Issue 19: the protocol trace (TDSC_TRACE=, Trace=) and SSLKEYLOGFILE.
# In the healthy world (world.sh), a connect and a query with every
# mechanism the realm offers (SQL login, NTLM through gss-ntlmssp,
# Kerberos) writes a decoded trace: packets with direction and type, the
# PRELOGIN options, the LOGIN7 fields, the tokens (LOGINACK, ENVCHANGE,
# INFO, COLMETADATA, ROW, DONE with its row count).  No trace holds a
# secret: the passwords as text, as UTF-16LE, in LOGIN7's scrambled form
# (raw, hex, base64), nor any SSPI token the server received (the test
# server writes their bytes to TDSSRV_SSPI_DUMP) as hex or base64, nor any
# long hex run at all.  An unwritable trace file fails the connect with
# TDSC_E_TRACE_FILE before any traffic; SSLKEYLOGFILE gets the TLS secrets,
# mode 0600.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
tdsc="$build/tools/tdsc"
[ -x "$tdsc" ] || { echo "SKIP: $tdsc not built"; exit 77; }
command -v "${KRB5KDC:-krb5kdc}" >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ] ||
	{ echo "SKIP: no krb5kdc"; exit 77; }
# shellcheck source=tests/integration/world.sh
. "$src/tests/integration/world.sh"

fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
	return "$2"
}
unset TDSC_TRACE SSLKEYLOGFILE

world
export TDSSRV_SSPI_DUMP="$tmp/sspi.hex"
serve || exit 1

# secrets_absent FILE: none of the world's secrets in any form, nor any
# token the server received, nor a long hex or base64 run
secrets_absent() {
	"$REAL_PYTHON3" - "$1" "$TDSSRV_SSPI_DUMP" <<'PY'
import base64, re, sys
data = open(sys.argv[1], 'rb').read()
bad = []
def scramble(b):
    return bytes((((x << 4) | (x >> 4)) & 0xFF) ^ 0xA5 for x in b)
for pw in ['Secret-123', 'alice-pw', 'alice-nt-pw', 'bob-pw']:
    u16 = pw.encode('utf-16-le')
    forms = {'text': pw.encode(), 'utf-16le': u16,
             'scrambled': scramble(u16)}
    for name, f in list(forms.items()):
        forms[name + ' hex'] = f.hex().encode()
        forms[name + ' HEX'] = f.hex().upper().encode()
        forms[name + ' base64'] = base64.b64encode(f).rstrip(b'=')
    for name, f in forms.items():
        if f in data:
            bad.append('%s as %s' % (pw, name))
try:
    tokens = [bytes.fromhex(l.strip()) for l in open(sys.argv[2]) if l.strip()]
except FileNotFoundError:
    tokens = []
for t in tokens:
    # any 12-byte window of a token, as bytes, hex or base64
    for i in range(0, max(1, len(t) - 12), 6):
        w = t[i:i + 12]
        if len(w) < 12:
            continue
        for f in (w, w.hex().encode(), w.hex().upper().encode()):
            if f in data:
                bad.append('token bytes at %d' % i)
        b64 = base64.b64encode(t)
        if b64[i:i + 16] in data and len(b64[i:i + 16]) == 16:
            bad.append('token base64 at %d' % i)
if re.search(rb'[0-9a-fA-F]{33,}', data):
    bad.append('a hex run longer than 16 bytes')
if bad:
    print('\n'.join(sorted(set(bad))))
    sys.exit(1)
PY
}

cs_for() { # MECH: the world's connection string over TCP
	printf 'Server=tcp:localhost,%s;%s\n' "$kport" "$(base_cs "$1")"
}

query="SELECT 1 AS one, 'x' AS two UNION ALL SELECT 2, 'y'"
for mech in sql ntlm kerberos; do
	: >"$TDSSRV_SSPI_DUMP"
	out="$tmp/trace.$mech"
	TDSC_TRACE=$out timeout -k 10 60 "$tdsc" -c "$(cs_for $mech)" -Q "$query" \
		>"$tmp/out" 2>&1
	rc=$?
	check "$mech: tdsc ran with TDSC_TRACE (rc $rc)" $rc
	[ $rc = 0 ] || cat "$tmp/out"
	[ -s "$out" ]; check "$mech: the trace file was written" $?
	grep -q '^# tdsclient .* protocol trace' "$out"
	check "$mech: the trace starts with its banner" $?
	grep -Eq '^[0-9:.]{15} > PRELOGIN \(0x12\) packet 1, [0-9]+ bytes, status 0x01 EOM' "$out"
	check "$mech: the PRELOGIN packet, sent, with time, type and status" $?
	grep -q '^  PRELOGIN ENCRYPTION 0x01 ENCRYPT_ON' "$out" &&
		grep -q '^  PRELOGIN answer ENCRYPTION' "$out" &&
		grep -q '^  PRELOGIN answer VERSION' "$out"
	check "$mech: PRELOGIN options decoded both ways" $?
	grep -q '> LOGIN7 (0x10)' "$out" &&
		grep -q '^  LOGIN7 .*TDSVersion=0x74000004 PacketSize=4096' "$out" &&
		grep -q '^  LOGIN7 AppName="tdsclient"' "$out" &&
		grep -q '^  LOGIN7 Password=<' "$out"
	check "$mech: LOGIN7 fields decoded" $?
	grep -q '^  LOGINACK interface=1 TDSVersion=0x74000004' "$out" &&
		grep -q '^  ENVCHANGE DATABASE (1) "tdsc_test" (was "master")' "$out" &&
		grep -q '^  ENVCHANGE PACKETSIZE (4)' "$out" &&
		grep -q "^  INFO 5701 state 2 class 0: \"Changed database context" "$out"
	check "$mech: the login response's tokens decoded" $?
	grep -q "^  SQLBATCH \"SELECT 1 AS one, 'x' AS two" "$out" &&
		grep -q '^  COLMETADATA 2 columns' "$out" &&
		grep -q '^    \[0\] "one"' "$out" &&
		grep -q '^  ROW \[0\]="1" \[1\]="x"' "$out" &&
		grep -q '^  ROW \[0\]="2" \[1\]="y"' "$out" &&
		grep -q '^  DONE status=0x0010 (COUNT) curcmd=[0-9]* rowcount=2' "$out"
	check "$mech: the query, its columns, rows and DONE with the row count" $?
	msg=$(secrets_absent "$out")
	check "$mech: no secret in the trace $msg" $?
	case $mech in
	sql)
		grep -q '^  LOGIN7 UserName="sa"' "$out" &&
			grep -q '^  LOGIN7 Password=<redacted>' "$out" &&
			grep -q '^  LOGIN7 SSPI=<none>' "$out"
		check "sql: user name shown, password redacted" $? ;;
	ntlm)
		grep -q '^  LOGIN7 SSPI=<[0-9]* bytes, SPNEGO NegTokenInit carrying NTLMSSP NEGOTIATE, redacted>' "$out" &&
			grep -q '^  SSPI <[0-9]* bytes, SPNEGO NegTokenResp carrying NTLMSSP CHALLENGE, redacted>' "$out" &&
			grep -q '^  SSPI token <[0-9]* bytes, SPNEGO NegTokenResp carrying NTLMSSP AUTHENTICATE, redacted>' "$out"
		check "ntlm: the three NTLM messages named, their bytes redacted" $?
		[ -s "$TDSSRV_SSPI_DUMP" ]; check "ntlm: the server dumped the tokens it received" $? ;;
	kerberos)
		grep -q '^  LOGIN7 SSPI=<[0-9]* bytes, SPNEGO NegTokenInit (Kerberos.*), redacted>' "$out"
		check "kerberos: the SPNEGO token's mechanism and length only" $?
		[ -s "$TDSSRV_SSPI_DUMP" ]; check "kerberos: the server dumped the token it received" $? ;;
	esac
done
[ $fail = 0 ] || { echo "--- a trace:"; cat "$tmp/trace.ntlm"; }

# Trace= in the connection string, appended to (two connects, one file)
out="$tmp/trace.cs"
for i in 1 2; do
	timeout -k 10 60 "$tdsc" -c "$(cs_for sql);Trace={$out}" -Q 'SELECT 1' >/dev/null 2>&1
done
[ "$(grep -c '^# tdsclient .* protocol trace (Trace=)' "$out")" = 2 ]
check "Trace= writes the file, appending (two banners)" $?
perm=$(stat -c %a "$out")
[ "$perm" = 600 ]; check "the trace file is created mode 0600 ($perm)" $?

# unwritable: the connect fails before any traffic, with the code
timeout -k 10 60 "$tdsc" -c "$(cs_for sql);Trace=$tmp/no-such-dir/t" -Q 'SELECT 1' >"$tmp/out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q 'TDSC_E_TRACE_FILE' "$tmp/out" &&
	grep -q "no-such-dir/t" "$tmp/out" && grep -q 'No such file or directory' "$tmp/out"
check "an unwritable trace file fails the connect with TDSC_E_TRACE_FILE, naming it (rc $rc)" $? ||
	cat "$tmp/out"

TDSC_TRACE=$tmp/no-such-dir/t timeout -k 10 60 "$tdsc" -c "$(cs_for sql)" -Q 'SELECT 1' >"$tmp/out" 2>&1
rc=$?
[ $rc != 0 ] && grep -q 'TDSC_E_TRACE_FILE' "$tmp/out" && grep -q "(TDSC_TRACE)" "$tmp/out"
check "so does TDSC_TRACE, and the message says where the name came from (rc $rc)" $? ||
	cat "$tmp/out"

# SSLKEYLOGFILE: the TLS secrets Wireshark needs, in a private file
keylog="$tmp/keys.log"
SSLKEYLOGFILE=$keylog timeout -k 10 60 "$tdsc" -c "$(cs_for sql)" -Q 'SELECT 1' >/dev/null 2>&1
check "tdsc ran with SSLKEYLOGFILE" $?
grep -Eq '^(CLIENT_RANDOM|CLIENT_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0) [0-9a-f]{64} [0-9a-f]+$' "$keylog"
check "SSLKEYLOGFILE holds NSS key log lines" $?
perm=$(stat -c %a "$keylog" 2>/dev/null)
[ "$perm" = 600 ]; check "the key log is mode 0600 ($perm)" $?
n1=$(wc -l <"$keylog")
SSLKEYLOGFILE=$keylog timeout -k 10 60 "$tdsc" -c "$(cs_for sql);Encrypt=strict" -Q 'SELECT 1' >/dev/null 2>&1
n2=$(wc -l <"$keylog")
[ "$n2" -gt "$n1" ]; check "a second connect (TDS 8.0) appends to the key log ($n1 -> $n2 lines)" $?
exit $fail
