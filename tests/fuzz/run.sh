#!/usr/bin/env bash
# Builds the libFuzzer harnesses in build-fuzz/ (clang, -DATTENTION_FUZZ=ON)
# and runs each for SECONDS (default 30), two at a time:
#
#   tests/fuzz/run.sh [--merge] [SECONDS] [FUZZER...]
#
# FUZZER: sdpa mha heads safetensors (default: all). Each run starts from
# tests/fuzz/corpus/<what>/ (read only) and writes new inputs to a
# temporary directory, so the tree is not changed; --merge adds the new
# coverage-increasing inputs to tests/fuzz/corpus/<what>/ afterwards.
# A crash is kept as build-fuzz/crashes/<what>-crash-<sha1> (its path is
# printed) and makes the script exit with status 1. The summary is a table:
# per fuzzer, executions, executions per second (libFuzzer's average over
# the run, seed corpus included), coverage (edges), features, corpus size
# and the result; the full logs are in build-fuzz/logs/. Installs nothing:
# needs clang, libFuzzer (Debian: libclang-rt-14-dev) and the library's
# own dependencies.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build="$repo/build-fuzz"
merge=0
seconds=30
fuzzers=()
for arg in "$@"; do
  case "$arg" in
    --merge) merge=1 ;;
    ''|*[!0-9]*) fuzzers+=("$arg") ;;
    *) seconds=$arg ;;
  esac
done
[ ${#fuzzers[@]} -gt 0 ] || fuzzers=(sdpa mha heads safetensors)

start=$(date +%s)
mkdir -p "$build"
CC=${CC:-clang} cmake -S "$repo" -B "$build" -DATTENTION_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DATTENTION_BUILD_TESTS=OFF -DATTENTION_BUILD_BENCH=OFF \
  -DATTENTION_BUILD_EXAMPLES=OFF -DATTENTION_INSTALL=OFF \
  -DATTENTION_MPI=OFF >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j2 >"$build/build.log" 2>&1 ||
  { tail -50 "$build/build.log"; exit 1; }
echo "built in $(( $(date +%s) - start )) s"
[ "$seconds" -gt 0 ] || exit 0

# One BLAS thread (our own threads are set per call by the harnesses);
# stop at the first sanitizer report.
export OPENBLAS_NUM_THREADS=1 ATTN_NUM_THREADS=2
# Idle OpenMP threads sleep instead of spinning: two fuzzers share 2 cores.
export OMP_WAIT_POLICY=passive
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
mkdir -p "$build/crashes" "$build/logs"
work=$(mktemp -d "${TMPDIR:-/tmp}/attn-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Options for one fuzzer. fuzz_sdpa's inputs differ in cost several times
# over (its large cases, its many heads): the entropic schedule scaled by
# execution time mutates the cheap ones more (about 1.5x the executions
# in 30 s, the same coverage).
options_of() {
  case $1 in
    sdpa) echo -entropic_scale_per_exec_time=1 ;;
  esac
}

run_one() {
  local what=$1
  mkdir -p "$work/$what"
  # shellcheck disable=SC2046 # options_of gives whole words
  "$build/tests/fuzz/fuzz_$what" "$work/$what" "$here/corpus/$what" \
    -max_total_time="$seconds" -print_final_stats=1 -rss_limit_mb=2048 \
    -timeout=30 -artifact_prefix="$build/crashes/$what-" $(options_of "$what") \
    >"$build/logs/$what.log" 2>&1
}

pids=()
for what in "${fuzzers[@]}"; do
  [ -x "$build/tests/fuzz/fuzz_$what" ] || { echo "no fuzzer $what" >&2; exit 2; }
  run_one "$what" & pids+=($!)
  # Two at a time on two cores.
  if [ ${#pids[@]} -ge 2 ]; then
    wait "${pids[0]}" || true
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || true; done

# The last value of FIELD ("cov", "ft", "corp", "exec/s") in libFuzzer's
# status lines ("#N  NEW  cov: 751 ft: 2833 corp: 390/10340b ...").
last_field() {
  local v
  v=$(grep -E '^#[0-9]+' "$2" | sed -n "s|.* $1: \([0-9]*\).*|\1|p" | tail -1)
  echo "${v:--}"
}

# One line per fuzzer: executions, executions per second (libFuzzer's
# average over the whole run), coverage (edges), features, corpus size.
status=0
printf '%-18s %9s %7s %6s %7s %7s  %s\n' fuzzer execs exec/s cov ft corpus result
details=()
for what in "${fuzzers[@]}"; do
  log="$build/logs/$what.log"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  [ -n "$rate" ] || rate=$(last_field exec/s "$log")
  if grep -qE '^#[0-9]+[[:space:]]+DONE' "$log"; then
    result=ok
  else
    status=1
    result="FAILED (log: $log)"
    details+=("fuzz_$what:")
    while IFS= read -r line; do details+=("  $line"); done < <(
      grep -E 'ERROR|SUMMARY|violated|runtime error' "$log" | head -5
      grep -o "Test unit written to .*" "$log" | sed 's/^Test unit written to /crash: /')
  fi
  printf '%-18s %9s %7s %6s %7s %7s  %s\n' "fuzz_$what" "${execs:-?}" \
    "${rate:-?}" "$(last_field cov "$log")" "$(last_field ft "$log")" \
    "$(last_field corp "$log")" "$result"
  if [ "$merge" = 1 ]; then
    "$build/tests/fuzz/fuzz_$what" -merge=1 "$here/corpus/$what" "$work/$what" \
      >>"$log" 2>&1 && details+=("fuzz_$what: merged into tests/fuzz/corpus/$what/")
  fi
done
for line in "${details[@]}"; do echo "$line"; done
echo "total $(( $(date +%s) - start )) s (logs: $build/logs/)"
exit $status
