#!/bin/sh
# Builds tdsclient and runs every test: the README's test command, and
# exactly what CI runs (.ci/run).  Steps:
#   1. Debian packages (scripts/deps.sh)
#   2. -Werror build and `make check` (unit, integration, peers, CLI)
#   3. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#   4. the C tests under valgrind (memcheck, leaks)
#   5. `make distcheck` (the tarball builds and passes out of tree)
#   6. the Debian packages, built from the tarball (tests/debian/packages.sh)
#   7. install, and a pkg-config consumer builds and runs against it,
#      linked to the shared library and to the static one
#   8. the Windows build (mingw-w64, -Werror) and its tests under Wine
#      against the Linux test server and realm (tests/windows/run-wine.sh)
# Prints a final "N passed, N failed" line; exits non-zero on any failure.
set -u
# CI gives no stdin; with fd 0 closed, make's jobserver pipe and then
# libtool trip over it.  Nothing here reads standard input.
exec </dev/null
top=$(cd "$(dirname "$0")/.." && pwd)
out=${TDSC_TEST_DIR:-$top/_build}
jobs=$(nproc 2>/dev/null || echo 2)
passed=0
failed=0
failures=

started=$(date +%s)
# The whole run stays within TDSC_TEST_BUDGET seconds (CI allows 90 min):
# each long step gets what is left, so that a hang anywhere still ends
# in the summary below rather than in CI's own timeout.
budget=${TDSC_TEST_BUDGET:-4800}
in_time() { # in_time CMD... : CMD, bounded by what is left of the budget
  l=$(( budget - ($(date +%s) - started) ))
  if [ "$l" -lt 60 ]; then
    echo "=== out of time (TDSC_TEST_BUDGET=$budget s): $1 not run"
    return 124
  fi
  timeout -k 30 "$l" "$@"
}
step() { echo; echo "=== $*"; step_start=$(date +%s); }
result() { # name, status
  t="($(( $(date +%s) - step_start )) s)"
  if [ "$2" = 0 ]; then passed=$((passed + 1)); echo "=== ok: $1 $t"
  else failed=$((failed + 1)); failures="$failures
  - $1"; echo "=== FAILED: $1 $t"; fi
}
# Names the programs a harness log says failed in the summary at the end.
note_failures() { # label, log
  bad=$(sed -n 's/^\(FAIL\|ERROR\): \(.*\)/\2/p' "$2" | sort -u | tr '\n' ' ')
  [ -z "$bad" ] || failures="$failures
  - in $1: $bad"
}
# Adds the automake harness's counts of one build dir to ours.
count_tests() {
  for log in "$1"/test-suite.log; do
    [ -f "$log" ] || continue
    p=$(sed -n 's/^# PASS: *//p' "$log" | head -1)
    f=$(sed -n 's/^# FAIL: *//p' "$log" | head -1)
    e=$(sed -n 's/^# ERROR: *//p' "$log" | head -1)
    echo "    ($1: ${p:-0} test programs passed, ${f:-0} failed, ${e:-0} errors)"
    note_failures "$1" "$log"
  done
}

step "Debian packages"
sh "$top/scripts/deps.sh"; result "packages" $?

step "autoreconf"
(cd "$top" && autoreconf -fi) > "$out.autoreconf.log" 2>&1 || { cat "$out.autoreconf.log"; }
result "autoreconf" $?
mkdir -p "$out"

build() { # dir, configure flags...
  d=$1; shift
  rm -rf "$d" && mkdir -p "$d" &&
    (cd "$d" && "$top/configure" -q --enable-werror "$@" && make -s -j"$jobs")
}

step "build with -Werror"
build "$out/plain"; s=$?; result "build" $s
if [ $s = 0 ]; then
  step "make check"
  (cd "$out/plain" && in_time make -s -j"$jobs" check); s=$?
  [ $s = 0 ] || cat "$out/plain/test-suite.log"
  count_tests "$out/plain"; result "make check" $s
fi

step "AddressSanitizer + UndefinedBehaviorSanitizer"
build "$out/asan" --enable-sanitizers --disable-shared; s=$?; result "sanitizer build" $s
if [ $s = 0 ]; then
  # verify_asan_link_order=0: the clock-skew tests preload libfaketime.
  (cd "$out/asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:verify_asan_link_order=0 \
     LSAN_OPTIONS=suppressions=$top/build-aux/lsan.supp:print_suppressions=0 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 in_time make -s -j"$jobs" check); s=$?
  [ $s = 0 ] || cat "$out/asan/test-suite.log"
  count_tests "$out/asan"; result "make check under ASan/UBSan" $s
fi

# Fuzzing (tests/fuzz/README.md): each libFuzzer target for a short
# bounded time (make fuzz: 25 s each) in a clang build with ASan/UBSan;
# skipped, saying so, where clang has no libFuzzer.
step "fuzzing (libFuzzer + ASan/UBSan, make fuzz)"
if printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n);\nint LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' |
   clang -fsanitize=fuzzer -x c - -o "$out.fuzzprobe" >/dev/null 2>&1; then
  rm -f "$out.fuzzprobe"
  rm -rf "$out/fuzz" && mkdir -p "$out/fuzz" &&
    (cd "$out/fuzz" && CC=clang "$top/configure" -q --enable-werror --enable-fuzzing --disable-shared &&
     in_time make -s -j"$jobs" fuzz); s=$?
  result "make fuzz" $s
else
  echo "=== skipped: clang with libFuzzer (-fsanitize=fuzzer) not found (Debian: clang)"
fi

# The C test programs run under valgrind, one a line.  check_torture fails
# every fifth allocation there (every one under ASan); check_faults samples
# its offsets (every 61st; every 7th under ASan, every one in make check).
vg_tests="
tests/unit/check_base
tests/unit/check_proto
tests/unit/check_values
tests/unit/check_session
tests/unit/check_net
tests/unit/check_auth
tests/unit/check_entra
tests/integration/check_connect
tests/integration/check_query
tests/integration/check_kerberos
tests/integration/check_policy
tests/integration/check_transports
tests/unit/check_ntlm
tests/unit/check_transport
tests/unit/check_shm
tests/unit/check_nbio
tests/unit/check_rpc
tests/integration/check_rpc
tests/integration/check_txn
tests/integration/check_cancel
tests/integration/check_async
tests/integration/check_async_connect
tests/integration/check_unload
tests/integration/check_stream
tests/unit/check_replay
tests/unit/check_tls_diag
tests/integration/check_tls
tests/integration/check_entra
tests/integration/check_entra_http
tests/integration/check_routing
tests/integration/check_failover
tests/fuzz/fuzz_tokens
tests/fuzz/fuzz_prelogin
tests/fuzz/fuzz_login
tests/fuzz/fuzz_ntlm
tests/fuzz/fuzz_spnego
tests/fuzz/fuzz_ssrp
tests/fuzz/fuzz_connstr
tests/fuzz/fuzz_jwt
tests/fuzz/fuzz_session
tests/integration/check_liars
tests/integration/check_torture
tests/integration/check_faults
"
step "valgrind"
if [ -d "$out/plain" ] && command -v valgrind >/dev/null; then
  vg="valgrind --suppressions=$top/build-aux/valgrind.supp --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-fds=no"
  (cd "$out/plain" && rm -f test-suite.log &&
   # shellcheck disable=SC2086  # the list, one line
   CK_FORK=no in_time make -s check TESTS="$(echo $vg_tests)" \
     LOG_COMPILER="$top/build-aux/bounded 1800 $top/build-aux/vg-run" VALGRIND="$vg" ); s=$?
  [ $s = 0 ] || cat "$out/plain/test-suite.log"
  count_tests "$out/plain"; result "C tests under valgrind" $s
fi

step "make distcheck"
(cd "$out/plain" && in_time make -s distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror >"$out/distcheck.log" 2>&1); s=$?
[ $s = 0 ] || tail -60 "$out/distcheck.log"
note_failures "make distcheck" "$out/distcheck.log"
result "make distcheck" $s

step "Debian packages: build from the tarball and check"
(cd "$out/plain" && rm -f tdsclient-*.tar.gz && make -s dist >/dev/null 2>&1) &&
  in_time sh "$top/tests/debian/packages.sh" "$(ls "$out"/plain/tdsclient-*.tar.gz)" "$out/deb"
result "Debian packages" $?

step "install and build a pkg-config consumer"
inst="$out/inst"
rm -rf "$inst"
(cd "$out/plain" && make -s install prefix="$inst" >/dev/null) &&
  PKG_CONFIG_PATH="$inst/lib/pkgconfig" \
  PKG_CONFIG="pkg-config --define-variable=prefix=$inst" \
    make -s -C "$top/examples/pkgconfig" O="$out/consumer" clean all &&
  LD_LIBRARY_PATH="$inst/lib" "$out/consumer/consumer" &&
  "$out/consumer/consumer-static"
result "pkg-config consumer (shared and static)" $?

step "Windows: mingw-w64 build"
sh "$top/scripts/deps-windows.sh"; s=$?; result "Windows packages" $s
if [ $s = 0 ]; then
  build "$out/win" --host=x86_64-w64-mingw32; s=$?
  result "Windows build" $s
  if [ $s = 0 ] && [ -d "$out/plain" ]; then
    step "Windows: tests under Wine"
    in_time sh "$top/tests/windows/run-wine.sh" "$out/win" "$out/plain"
    result "Windows tests under Wine" $?
  fi
fi

echo
echo "=== summary: $passed steps passed, $failed failed in $(( $(date +%s) - started )) s$failures"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
