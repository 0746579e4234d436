#!/bin/sh
# The library (through tdsc) and tdsc-doctor in each broken world the
# integration suite stages (tests/integration/world.sh, and check_kerberos.c,
# check_connect.c, check_policy.c, check_transports.c for the same worlds in
# C): both must name the same code, the expected one, and the doctor's check
# that pinpoints the fault must name it too; no output of either holds a
# secret.  The scenarios are the table below, one line each: a new failure
# cause is added there once, with its staging function if it needs one.
set -u
[ -n "${PYTHON3:-}" ] || { echo "SKIP: PYTHON3 unset"; exit 77; }
src=${TDSC_SRCDIR:-.}
build=${TDSC_BUILDDIR:-.}
doctor="$build/tools/tdsc-doctor"
tdsc="$build/tools/tdsc"
[ -x "$doctor" ] && [ -x "$tdsc" ] || { echo "SKIP: tools not built"; exit 77; }
command -v "${KRB5KDC:-krb5kdc}" >/dev/null 2>&1 || [ -x /usr/sbin/krb5kdc ] ||
	{ echo "SKIP: no krb5kdc"; exit 77; }
# shellcheck source=tests/integration/world.sh
. "$src/tests/integration/world.sh"

fail=0
check() { # description, status (0 = pass)
	if [ "$2" = 0 ]; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}

# ---------------------------------------------------------------- stages
# Each stage starts the server (serve) and breaks one thing; the healthy
# realm is there and base_cs's variables are reset (reset_world).  A stage
# that breaks the realm itself first asks for a new one (new_realm: no
# ticket cached by earlier scenarios), and the next scenario gets a new one
# too.
new_realm() {
	[ $fresh = 1 ] || world
	dirty=1
}
# shellcheck disable=SC2317  # called through the table
healthy() { serve; }
kdc_stopped() { new_realm; serve && realm_py stop "$realm"; }
kdc_silent() { new_realm; LT=2; serve && realm_py silent "$realm"; }
spn_deleted() { new_realm; serve && realm_py delprinc "$realm" "$spn"; }
no_ccache() { serve; KRB5CCNAME=FILE:$tmp/no-such-ccache; export KRB5CCNAME; }
tgt_expired() {
	new_realm
	serve && realm_py kinit "$realm" alice --password alice-pw --lifetime 1 &&
		sleep 2
}
server_clock_ahead() {
	printf '#!/bin/sh\nexec faketime -f +10m %s "$@"\n' "$REAL_PYTHON3" >"$tmp/py-ahead"
	chmod +x "$tmp/py-ahead"
	PYTHON3=$tmp/py-ahead
	serve
	PYTHON3=$REAL_PYTHON3
}
keytab_stale() { new_realm; realm_py cpw "$realm" "$spn" --randkey && serve; }
bob_ticket() { new_realm; serve && realm_py kinit "$realm" bob --password bob-pw; }
no_integrated() { serve --no-integrated; }
krb5_conf_missing() { serve; KRB5_CONFIG=$tmp/no-such-krb5.conf; export KRB5_CONFIG; }
sql_wrong_password() { serve; SQL_PWD=Wrong-Pass-9; }
sql_unknown_login() { serve; SQL_UID=nobody SQL_PWD=Wrong-Pass-9; }
sql_no_uid() { serve; SQL_UID= SQL_PWD=; }
cert_selfsigned() { serve --cert selfsigned; }
cert_expired() { serve --cert expired; }
cert_wrongname() { serve --cert wrongname; }
ca_other() { serve; CA=$certs/otherca.pem; }
no_encryption() { serve --encryption not_sup; }
tds7_only() { serve --tds7-only; }
tls13_server_tls12_client() {
	serve --tls-min 1.3
	printf 'openssl_conf = c\n[c]\nssl_conf = s\n[s]\nsystem_default = d\n[d]\nMaxProtocol = TLSv1.2\n' >"$tmp/openssl-tls12.cnf"
	OPENSSL_CONF=$tmp/openssl-tls12.cnf
	export OPENSSL_CONF
}
nothing_listens() { :; }
browser_silent() { serve; BPORT=$(free_port) LT=2; }
no_local_endpoints() { serve; LDIR=$tmp/empty; mkdir -p "$LDIR"; }
ntlm_wrong_password() { serve; NTLM_PWD=Wrong-Pass-9; }
ntlm_unknown_account() { serve; NTLM_USR='TDSC\nobody' NTLM_PWD=Wrong-Pass-9; }
ntlm_no_account() { serve; NTLM_USR=; }
ntlm_refused() { serve --no-ntlm; }
kdc_stopped_ntlm_wrong() { kdc_stopped && NTLM_PWD=Wrong-Pass-9; }
no_ccache_no_ntlm() { no_ccache; NTLM_USR=; }
hang_after_prelogin() { serve --misbehave hang-after-prelogin; LT=2; }
reset_after_prelogin() { serve --misbehave reset-after-prelogin; }
close_after_prelogin() { serve --misbehave close-after-prelogin; }
garbage_prelogin() { serve --misbehave garbage-prelogin; }
tds73() { serve --misbehave tds73; }
route() { serve --misbehave route; }

# ---------------------------------------------------------------- table
# name | stage | Server= (tcp, np, shm, auto as server_for, else literal)
#   | Authentication= | more of the connection string | code both must
#   name (OK: both log in; *: any failure, as long as they agree) | doctor
#   checks that must name it too
scenarios() {
	cat <<'EOF'
kdc-stopped|kdc_stopped|tcp|kerberos||KRB_KDC_UNREACHABLE|kdc service-ticket auth-kerberos
kdc-stopped-local|kdc_stopped|auto|kerberos||KRB_KDC_UNREACHABLE|kdc service-ticket auth-kerberos
kdc-silent|kdc_silent|tcp|kerberos||KRB_KDC_UNREACHABLE|kdc auth-kerberos
spn-unknown|spn_deleted|tcp|kerberos||KRB_SPN_UNKNOWN|service-ticket auth-kerberos
spn-from-ip|healthy|tcp:127.0.0.1,$kport|kerberos|SPNHostCanonicalization=none|KRB_SPN_UNKNOWN|names service-ticket
spn-from-ip-forward|healthy|tcp:127.0.0.1,$kport|kerberos||KRB_SPN_UNKNOWN|names service-ticket
spn-given-wrong|healthy|shm|kerberos|ServerSPN=MSSQLSvc/nowhere.example|KRB_SPN_UNKNOWN|service-ticket
no-ticket|no_ccache|tcp|kerberos||KRB_NO_CREDENTIALS|credentials auth-kerberos
no-ticket-np|no_ccache|np|kerberos||KRB_NO_CREDENTIALS|credentials auth-kerberos
ticket-expired|tgt_expired|tcp|kerberos||KRB_TICKET_EXPIRED|credentials auth-kerberos
clock-skew|server_clock_ahead|tcp|kerberos||KRB_CLOCK_SKEW|auth-kerberos
service-key-stale|keytab_stale|tcp|kerberos||KRB_SERVICE_KEY_MISMATCH|auth-kerberos
realm-unknown|healthy|tcp|kerberos|KrbPrincipal=alice@NO.SUCH.REALM;KrbPassword=Wrong-Pass-9|*|auth-kerberos
krb-wrong-password|healthy|tcp|kerberos|KrbPrincipal=alice;KrbPassword=Wrong-Pass-9|*|auth-kerberos
krb-client-unknown|healthy|tcp|kerberos|KrbPrincipal=nobody;KrbPassword=Wrong-Pass-9|*|auth-kerberos
krb5-conf-missing|krb5_conf_missing|tcp|kerberos||*|auth-kerberos
krb-no-login|bob_ticket|tcp|kerberos||INTEGRATED_LOGIN_FAILED|auth-kerberos
untrusted-domain|no_integrated|tcp|kerberos||UNTRUSTED_DOMAIN|auth-kerberos
sql-wrong-password|sql_wrong_password|tcp|sql||LOGIN_FAILED|auth-sql
sql-wrong-password-shm|sql_wrong_password|shm|sql||LOGIN_FAILED|auth-sql
sql-unknown-login|sql_unknown_login|np|sql||LOGIN_FAILED|auth-sql
sql-no-uid|sql_no_uid|tcp|sql||LOGIN_NO_CREDENTIALS|auth-sql
database-unknown|healthy|tcp|sql|Database=no_such_db|LOGIN_NO_DATABASE|auth-sql
cert-self-signed|cert_selfsigned|tcp|sql||TLS_CERT_UNTRUSTED|tls auth-sql
cert-other-ca|ca_other|tcp|sql||TLS_CERT_UNTRUSTED|tls
cert-expired|cert_expired|tcp|kerberos||TLS_CERT_EXPIRED|tls auth-kerberos
cert-expired-pipe|cert_expired|np|sql||TLS_CERT_EXPIRED|tls
cert-name-mismatch|cert_wrongname|tcp|sql||TLS_CERT_NAME_MISMATCH|tls
no-encryption|no_encryption|tcp|sql||TLS_ENCRYPTION_UNAVAILABLE|tls-offer
strict-vs-tds7|tds7_only|tcp|sql|Encrypt=strict|TLS_STRICT_UNSUPPORTED|tls-strict
tls-version-mismatch|tls13_server_tls12_client|tcp|sql||*|tls
refused|nothing_listens|tcp|sql||CONN_REFUSED|transport
unknown-host|healthy|tcp:no-such-host.invalid,1433|sql||HOST_NOT_FOUND|transport names
instance-unknown|healthy|tcp:localhost\NOSUCH|sql||INSTANCE_NOT_FOUND|transport
browser-silent|browser_silent|tcp:localhost\NOSUCH|sql||BROWSER_UNREACHABLE|transport
pipe-missing|healthy|np:$tmp/no-such.sock|sql||PIPE_NOT_FOUND|transport
shm-missing|no_local_endpoints|shm|sql||SHM_NOT_FOUND|transport
ntlm-wrong-password|ntlm_wrong_password|tcp|ntlm||NTLM_LOGON_DENIED|auth-ntlm
ntlm-unknown-account|ntlm_unknown_account|shm|ntlm||NTLM_LOGON_DENIED|auth-ntlm
ntlm-no-account|ntlm_no_account|tcp|ntlm||NTLM_NO_CREDENTIALS|auth-ntlm
ntlm-refused|ntlm_refused|tcp|ntlm||NTLM_REFUSED|auth-ntlm
fallback-kdc-down-to-ntlm|kdc_stopped|tcp|kerberos,ntlm||OK|
chain-kdc-down-ntlm-wrong|kdc_stopped_ntlm_wrong|tcp|kerberos,ntlm||*|
chain-no-ticket-no-ntlm|no_ccache_no_ntlm|tcp|kerberos,ntlm||*|
read-timeout|hang_after_prelogin|tcp|sql||READ_TIMEOUT|
reset|reset_after_prelogin|tcp|sql||CONN_RESET|
closed|close_after_prelogin|tcp|sql||CONN_CLOSED|
garbage-prelogin|garbage_prelogin|tcp|sql||PROTOCOL|
tds73-server|tds73|tcp|sql||PROTOCOL_VERSION|
routing-loop|route|tcp|sql||ROUTING_TOO_MANY_HOPS|
unknown-keyword|healthy|tcp|sql|Colour=blue|UNKNOWN_KEYWORD|
EOF
}

# code_of_tdsc FILE: the code tdsc printed ("error: TDSC_E_X (n, cat)"),
# OK when it printed none
code_of_tdsc() {
	c=$(sed -n 's/^error: TDSC_E_\([A-Z0-9_]*\) .*/\1/p' "$1" | head -1)
	echo "${c:-OK}"
}

# doctor_says JSON STDERR CHECKS...: the verdict's code (OK for none), or
# for a usage error the code it printed ("tdsc-doctor: CODE: ..."); with
# CHECKS, also "<check>=<status>:<code>" for each
doctor_says() {
	"$REAL_PYTHON3" - "$@" <<'PY'
import json, re, sys
try:
    doc = json.load(open(sys.argv[1]))
except ValueError:
    m = re.search(r"^tdsc-doctor: ([A-Z0-9_]+): ", open(sys.argv[2]).read(),
                  re.M)
    print(m.group(1) if m else "NONE")
    sys.exit(0)
del sys.argv[2]
out = [doc["verdict"]["code"] or "OK"]
checks = {c["id"]: c for c in doc["checks"]}
for cid in sys.argv[2:]:
    c = checks.get(cid)
    out.append("%s=%s:%s" % (cid, c["status"] if c else "missing",
                             (c or {}).get("code")))
print(" ".join(out))
PY
}

have_faketime=0
command -v faketime >/dev/null 2>&1 && have_faketime=1
only=${DIAGNOSE_ONLY:-}
n=0
dirty=1
while IFS='|' read -r sname stage target policy extra want checks <&3; do
	case $sname in '' | '#'*) continue ;; esac
	[ -n "$only" ] && [ "$only" != "$sname" ] && continue
	if [ "$stage" = server_clock_ahead ] && [ $have_faketime = 0 ]; then
		echo "SKIP: $sname (no faketime)"
		continue
	fi
	n=$((n + 1))
	t0=$(date +%s)
	fresh=$dirty
	if [ $dirty = 1 ]; then world; else reset_world; fi
	dirty=0
	$stage </dev/null
	case $target in
	tcp | np | shm | auto) server=$(server_for "$target") ;;
	*) eval "server=\"$target\"" ;;
	esac
	cs="Server=$server;$(base_cs "$policy")${extra:+;$extra}"
	timeout -k 10 120 "$tdsc" --quiet -c "$cs" -Q "SELECT 1" </dev/null \
		>"$tmp/tdsc.out" 2>"$tmp/tdsc.err"
	lib=$(code_of_tdsc "$tmp/tdsc.err")
	timeout -k 10 120 "$doctor" --json -t 2 -c "$cs" </dev/null \
		>"$tmp/doc.json" 2>"$tmp/doc.err"
	timeout -k 10 120 "$doctor" -t 2 -c "$cs" </dev/null \
		>"$tmp/doc.txt" 2>>"$tmp/doc.err"
	# shellcheck disable=SC2086  # the checks are words
	says=$(doctor_says "$tmp/doc.json" "$tmp/doc.err" $checks)
	doc=${says%% *}
	[ "$lib" = "$doc" ]
	check "$sname: tdsc and tdsc-doctor name the same code ($lib, $doc)" $?
	if [ "$want" = '*' ]; then
		[ "$lib" != OK ]
		check "$sname: the connect fails ($lib)" $?
	else
		[ "$lib" = "$want" ]
		check "$sname: the code is $want" $?
	fi
	for w in $says; do
		case $w in *=*) ;; *) continue ;; esac
		case $w in
		*=fail:"$lib" | *=warn:"$lib") r=0 ;;
		*) r=1 ;;
		esac
		check "$sname: the doctor's ${w%%=*} check names it ($w)" $r
	done
	! grep -q "$SECRETS" "$tmp/tdsc.out" "$tmp/tdsc.err" "$tmp/doc.json" \
		"$tmp/doc.txt" "$tmp/doc.err"
	check "$sname: no secret in any output" $?
	echo "# $sname: $(($(date +%s) - t0)) s"
	if [ $fail = 1 ] && [ -n "${DIAGNOSE_VERBOSE:-}" ]; then
		cat "$tmp/tdsc.err" "$tmp/doc.txt"
	fi
done 3<<EOF
$(scenarios)
EOF
[ -n "$only" ] || [ $n -ge 40 ]
check "at least 40 scenarios ran ($n)" $?
exit $fail
