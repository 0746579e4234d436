#!/bin/sh
# Builds the Debian packages from the release tarball (as a distribution
# would) and checks them: lintian reports no error, each package holds what
# it should and nothing of another's, and the pkg-config consumer
# (examples/pkgconfig) builds and runs against the -dev package's files
# unpacked into a scratch root, linked to the shared library and to the
# static one.
#   tests/debian/packages.sh TARBALL OUTDIR
# Exits 77 (skipped) where dpkg-buildpackage or lintian is missing.
set -u
tarball=$1 out=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
for t in dpkg-buildpackage dh lintian dpkg-deb; do
  command -v "$t" >/dev/null || { echo "SKIP: $t missing (Debian: dpkg-dev debhelper lintian)"; exit 77; }
done
fail=0
check() { # description, command...
  d=$1; shift
  if "$@"; then echo "ok - $d"; else echo "not ok - $d"; fail=1; fi
}

rm -rf "$out" && mkdir -p "$out" || exit 1
tar -xzf "$tarball" -C "$out" || exit 1
tree=$(ls -d "$out"/tdsclient-*/)
# The tarball carries debian/ (EXTRA_DIST); a native package's version is
# the project's own.
(cd "$tree" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -b -us -uc \
   >"$out/build.log" 2>&1) || { tail -40 "$out/build.log"; echo "not ok - dpkg-buildpackage"; exit 1; }
echo "ok - dpkg-buildpackage -b -us -uc"

lib=$(ls "$out"/libtdsclient0_*.deb) dev=$(ls "$out"/libtdsclient-dev_*.deb)
tools=$(ls "$out"/tdsclient-tools_*.deb)
# shellcheck disable=SC2317  # called through check
# (the listing is read whole before grep decides: grep -q closing the pipe
# early would kill dpkg-deb's tar)
contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's,^\./,/,'; }
has() { contents "$1" | grep -E "$2" >/dev/null; }
hasnt() { ! has "$@"; }

check "libtdsclient0 holds the shared library" has "$lib" '^/usr/lib/[^/]+/libtdsclient\.so\.0'
check "libtdsclient0 holds no header, .so link or tool" hasnt "$lib" '\.h$|libtdsclient\.so$|/bin/'
check "libtdsclient-dev holds the header" has "$dev" '^/usr/include/tdsclient\.h$'
check "libtdsclient-dev holds errors.h" has "$dev" '^/usr/include/tdsclient/errors\.h$'
check "libtdsclient-dev holds the .so link" has "$dev" 'libtdsclient\.so$'
check "libtdsclient-dev holds the static library" has "$dev" 'libtdsclient\.a$'
check "libtdsclient-dev holds tdsclient.pc" has "$dev" 'pkgconfig/tdsclient\.pc$'
check "libtdsclient-dev holds tdsclient(3)" has "$dev" 'man3/tdsclient\.3'
check "libtdsclient-dev holds tdsc-errors(7)" has "$dev" 'man7/tdsc-errors\.7'
check "libtdsclient-dev holds no tool" hasnt "$dev" '/bin/'

check "libtdsclient-dev holds no libtool .la" hasnt "$dev" '\.la$'
check "tdsclient-tools holds tdsc" has "$tools" '^/usr/bin/tdsc$'
check "tdsclient-tools holds tdsc-doctor" has "$tools" '^/usr/bin/tdsc-doctor$'
check "tdsclient-tools holds tdsc(1)" has "$tools" 'man1/tdsc\.1'
check "tdsclient-tools holds tdsc-doctor(1)" has "$tools" 'man1/tdsc-doctor\.1'
check "tdsclient-tools holds no library" hasnt "$tools" 'libtdsclient'

check "libtdsclient0's control names its shared-library dependencies" sh -c \
  "dpkg-deb -f '$lib' Depends | grep -q libssl"

# lintian: errors fail; warnings are printed for the reader.
lintian --tag-display-limit 0 "$out"/*.changes >"$out/lintian.log" 2>&1
cat "$out/lintian.log"
check "lintian reports no error" sh -c "! grep -q '^E:' '$out/lintian.log'"

# The consumer, against the -dev and library packages unpacked in a root.
root=$out/root
mkdir -p "$root" && dpkg-deb -x "$lib" "$root" && dpkg-deb -x "$dev" "$root"
pcdir=$(dirname "$(find "$root" -name tdsclient.pc)")
libdir=$(dirname "$pcdir")
check "the consumer builds and runs against the unpacked packages" sh -c "
  PKG_CONFIG_PATH='$pcdir' \
  PKG_CONFIG='pkg-config --define-variable=prefix=$root/usr --define-variable=libdir=$libdir' \
  make -s -C '$src/examples/pkgconfig' O='$out/consumer' clean all &&
  LD_LIBRARY_PATH='$libdir' '$out/consumer/consumer' && '$out/consumer/consumer-static'"
[ $fail = 0 ] && echo "debian packages: all checks passed"
exit $fail
