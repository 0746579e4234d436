#!/bin/sh
# Installs the Debian packages that building and testing tdsclient need.
# Run as root (the README's commands call it); does nothing when all are
# already there, so it costs no network time on a prepared machine.
set -eu
pkgs="autoconf automake libtool pkg-config make gcc libc6-dev libssl-dev
check openssl python3 python3-tds python3-cryptography python3-openssl
freetds-bin freetds-dev valgrind shellcheck libkrb5-dev krb5-kdc
krb5-admin-server krb5-user python3-gssapi faketime
gss-ntlmssp winbind python3-ntlm-auth libzip-dev
libcurl4-openssl-dev
dpkg-dev debhelper lintian"
# libcurl's own static dependencies (pkg-config --static --libs libcurl),
# for the static pkg-config consumer, which links libtdsclient.a
pkgs="$pkgs libnghttp2-dev librtmp-dev libssh2-1-dev libpsl-dev libldap-dev
libzstd-dev libbrotli-dev libidn2-dev"
# tshark reads captures of the test sessions; tedious runs on Node and
# installs with npm.  A machine may bring its own Node (with npm), which
# Debian's packages would conflict with: those only where none is.
pkgs="$pkgs tshark"
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
# clang: libFuzzer for tests/fuzz (make fuzz)
pkgs="$pkgs clang"
# libedit: line editing in tdsc's interactive prompt (optional; BSD licence)
pkgs="$pkgs libedit-dev"
# Other lists (scripts/deps-windows.sh) come as arguments.
[ $# -gt 0 ] && pkgs=$*
missing=
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing Debian packages:$missing" >&2
  echo "deps: run this as root (or: sudo apt-get install$missing)" >&2
  exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
