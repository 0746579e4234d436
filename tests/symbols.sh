#!/bin/sh
# The library exports tdsc_ names only, exports every function the public
# header declares, and never calls exit() or abort() (a library must not
# end its host process).
set -u
lib=${TDSC_BUILDDIR:-.}/lib/.libs
so=$lib/libtdsclient.so
a=$lib/libtdsclient.a
hdr=${TDSC_SRCDIR:-.}/include/tdsclient.h
fail=0
[ -f "$so" ] || { echo "SKIP: no shared library at $so"; exit 77; }

bad=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^tdsc_[a-z0-9]')
if [ -n "$bad" ]; then
  echo "FAIL: the shared library exports names outside tdsc_:"; echo "$bad"; fail=1
fi
if [ -f "$a" ]; then
  bad=$(nm --defined-only "$a" 2>/dev/null | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | grep -v '^tdsc_')
  if [ -n "$bad" ]; then
    echo "FAIL: the static library defines global names outside tdsc_:"; echo "$bad"; fail=1
  fi
fi
internal=$(nm -D --defined-only "$so" | awk '{print $3}' | grep '^tdsc__')
if [ -n "$internal" ]; then
  echo "FAIL: internal tdsc__ names are exported:"; echo "$internal"; fail=1
fi
for f in $(grep -o '^TDSC_API [^(]*(' "$hdr" | sed 's/($//; s/.*[ *]//'); do
  if ! nm -D --defined-only "$so" | awk '{print $3}' | grep -qx "$f"; then
    echo "FAIL: $f is declared in tdsclient.h but not exported"; fail=1
  fi
done
calls=$(nm -D --undefined-only "$so" | awk '{print $2}' | sed 's/@.*//' | grep -E '^(exit|_exit|_Exit|abort)$')
if [ -n "$calls" ]; then
  echo "FAIL: the library calls $calls"; fail=1
fi
n=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -c '^tdsc_')
if [ "$fail" = 0 ]; then
  echo "ok: $n exported functions, all tdsc_, none calling exit/abort"
fi
exit $fail
