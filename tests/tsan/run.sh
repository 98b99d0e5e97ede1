#!/usr/bin/env bash
# ThreadSanitizer run of the concurrency tests: test_concurrency (several
# application threads calling the library at once, each call on 2 OpenMP
# threads), test_threads (bit-identity across thread counts) and
# test_blas_toggle (an application thread changing OpenBLAS's thread count
# while the library runs; there OpenBLAS gets 2 threads of its own).
#
#   tests/tsan/run.sh            configure + build build-tsan/, run both
#   BUILD_DIR=... tests/tsan/run.sh   another build directory
#
# Needs (installs nothing): clang (clang-14), LLVM's OpenMP runtime and its
# Archer tool (Debian: clang-14, libomp-14-dev), cmocka, jansson, OpenBLAS.
#
# Why this toolchain: GCC's libgomp is not TSan-aware, so every OpenMP
# barrier would look like a missing synchronisation. clang links LLVM's
# libomp, and the Archer OMPT tool (libarcher.so, loaded through
# OMP_TOOL_LIBRARIES) tells TSan about OpenMP's barriers, tasks and
# reductions. OpenBLAS is not instrumented either: OPENBLAS_NUM_THREADS=1
# keeps it from starting threads of its own (the library's threading is
# what is under test). tests/tsan/suppressions.txt may list OpenBLAS
# frames only, never libattention's.
#
# Exits non-zero on any TSan report (halt_on_error=1, exitcode 66) or test
# failure.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${BUILD_DIR:-$root/build-tsan}
jobs=${JOBS:-2}

cc=${CC:-}
if [ -z "$cc" ]; then
    for c in clang-14 clang; do
        if command -v "$c" >/dev/null 2>&1; then cc=$c; break; fi
    done
fi
if [ -z "$cc" ] || ! "$cc" --version 2>/dev/null | grep -qi clang; then
    echo "tests/tsan/run.sh: needs clang (Debian: apt-get install clang-14 libomp-14-dev)" >&2
    exit 2
fi

# The Archer tool of the LLVM that cc belongs to.
llvm_lib=$("$cc" -print-resource-dir 2>/dev/null | sed 's|/lib/clang/.*$|/lib|')
archer=""
for a in "$llvm_lib/libarcher.so" /usr/lib/llvm-14/lib/libarcher.so; do
    if [ -f "$a" ]; then archer=$a; break; fi
done
if [ -z "$archer" ]; then
    echo "tests/tsan/run.sh: libarcher.so not found (Debian: apt-get install libomp-14-dev)" >&2
    exit 2
fi

start=$(date +%s)
cmake -S "$root" -B "$build" \
    -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=Debug \
    -DATTENTION_TSAN=ON \
    -DATTENTION_BUILD_TESTS=ON \
    -DATTENTION_BUILD_BENCH=OFF \
    -DATTENTION_BUILD_EXAMPLES=OFF \
    -DATTENTION_INSTALL=OFF >/dev/null
# The OpenMP runtime must be LLVM's: libgomp would give false reports.
if ! grep -q "libomp" "$build/CMakeCache.txt"; then
    echo "tests/tsan/run.sh: CMake did not find LLVM's libomp for $cc" >&2
    exit 2
fi
cmake --build "$build" -j"$jobs" --target test_concurrency test_threads test_blas_toggle
built=$(date +%s)

export OMP_TOOL_LIBRARIES="$archer"
export OPENBLAS_NUM_THREADS=1
# ignore_noninstrumented_modules=1 is what Archer asks for: libomp's own
# (uninstrumented) memset/memcpy on its internal structures would
# otherwise be reported. Accesses from instrumented code, i.e. all of
# libattention and the tests, are still checked.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 exitcode=66 ignore_noninstrumented_modules=1 suppressions=$root/tests/tsan/suppressions.txt ${TSAN_OPTIONS:-}"
# Archer reports nothing itself; it only annotates. verbose=1 prints that it
# is active, checked below so that a silent fallback cannot pass.
export ARCHER_OPTIONS="verbose=1 ${ARCHER_OPTIONS:-}"

status=0
for t in test_concurrency test_threads test_blas_toggle; do
    echo "=== $t under ThreadSanitizer"
    log="$build/tsan-$t.log"
    blas_threads=1
    [ "$t" = test_blas_toggle ] && blas_threads=2
    if OPENBLAS_NUM_THREADS=$blas_threads "$build/tests/$t" >"$log" 2>&1; then rc=0; else rc=$?; fi
    cat "$log"
    if ! grep -q "Archer detected OpenMP application with TSan" "$log"; then
        echo "tests/tsan/run.sh: $t: Archer was not active (OMP_TOOL_LIBRARIES=$archer)" >&2
        status=1
    fi
    if grep -q "WARNING: ThreadSanitizer" "$log"; then
        echo "tests/tsan/run.sh: $t: ThreadSanitizer report(s), see above" >&2
        status=1
    fi
    if [ "$rc" -ne 0 ]; then
        echo "tests/tsan/run.sh: $t exited with $rc" >&2
        status=1
    fi
done
end=$(date +%s)
echo "tests/tsan/run.sh: build $((built - start)) s, tests $((end - built)) s, status $status"
exit $status
