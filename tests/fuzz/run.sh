#!/bin/sh
# Runs libFuzzer targets for a bounded time each (make fuzz, make fuzz-long).
#   run.sh SECONDS DEFAULT_SECONDS TARGET...
# SECONDS (empty: DEFAULT_SECONDS) per target.  Each target starts from its
# corpus in the source tree (tests/fuzz/corpus/<name>, read only), the
# inputs it found before (tests/fuzz/work/<name> in the build tree, where
# new ones go) and the public vectors turned into its input format by
# seeds.py (FUZZ_VECTORS, default ../shared/vectors beside the source tree;
# skipped with a message when absent).  A crash, leak, sanitizer report or
# timeout leaves its input in tests/fuzz/artifacts/ and fails the run.
# Prints one line per target: executions, time, outcome.  Every target
# runs niced.  FUZZ_JOBS=N runs N targets at once (default 1).
set -u
secs=${1:-}
[ -n "$secs" ] || secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
vectors=${FUZZ_VECTORS:-$here/../../../shared/vectors}
jobs=${FUZZ_JOBS:-1}
mkdir -p tests/fuzz/work tests/fuzz/artifacts tests/fuzz/logs
if [ -d "$vectors" ]; then
  rm -rf tests/fuzz/vectors
  python3 "$here/seeds.py" "$vectors" tests/fuzz/vectors ||
    { echo "fuzz: seeds.py failed on $vectors"; exit 1; }
else
  echo "fuzz: no public vectors at $vectors (set FUZZ_VECTORS): seeding from the repository's corpora only"
fi

run_one() { # target path
  t=$1
  name=${t##*/fuzz_}
  work=tests/fuzz/work/$name
  log=tests/fuzz/logs/$name.log
  mkdir -p "$work"
  # (paths without blanks: the build tree's and the source tree's)
  dirs="$work $here/corpus/$name"
  [ -d "tests/fuzz/vectors/$name" ] && dirs="$dirs tests/fuzz/vectors/$name"
  # -timeout: one input may take at most 20 s (a hang is a finding);
  # detect_leaks: a leak is a finding too.
  # shellcheck disable=SC2086
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    nice -n 10 "$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="tests/fuzz/artifacts/$name-" $dirs >"$log" 2>&1
  s=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  took=$(sed -n 's/.*DONE.* in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ "$s" = 0 ]; then
    echo "fuzz: $name: ${execs:-?} executions in ${took:-$secs} s, ${cov:-cov: ?}: ok"
  else
    echo "fuzz: $name: FAILED (exit $s) after ${execs:-?} executions; log $log:"
    # the finding, and the stack frames in our code
    grep -E '^==.*ERROR|^SUMMARY|invariant broken|Test unit written|^ *#[0-9]+ 0x.* in .*/(lib|tests|include)/' "$log" |
      grep -v 'libFuzzer: deadly signal' | head -25
  fi
  return "$s"
}

failed=0
if [ "$jobs" -le 1 ]; then
  for t in "$@"; do run_one "$t" || failed=$((failed + 1)); done
else
  # N at a time: each in the background, waiting for a batch to end.
  set -- "$@"
  while [ $# -gt 0 ]; do
    pids=
    i=0
    while [ $# -gt 0 ] && [ $i -lt "$jobs" ]; do
      run_one "$1" & pids="$pids $!"
      shift; i=$((i + 1))
    done
    for p in $pids; do wait "$p" || failed=$((failed + 1)); done
  done
fi
[ "$failed" = 0 ] || { echo "fuzz: $failed target(s) failed"; exit 1; }
echo "fuzz: every target ran ${secs} s without a finding"
