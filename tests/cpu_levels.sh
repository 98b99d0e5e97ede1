#!/usr/bin/env bash
# The correctness suite once per CPU level below the best one this machine
# runs (the best is what tests/run.sh already ran): ATTN_CPU_LEVEL forces
# the vectorised kernels of that level (src/cpu.h), so the AVX2 and generic
# kernels are tested on an AVX-512 machine too. Uses the build tests/run.sh
# made.
#   tests/cpu_levels.sh [BUILD_DIR]      default: build/
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
[ -d "$build/tests" ] || { echo "tests/cpu_levels.sh: no build in $build (run tests/run.sh)" >&2; exit 2; }

has() { grep -qw "$1" /proc/cpuinfo 2>/dev/null; }
levels=(generic)
if [ "$(uname -m)" = x86_64 ] && has avx2 && has fma; then
    levels+=(avx2)
    if has avx512f && has avx512bw && has avx512cd && has avx512dq && has avx512vl; then
        levels+=(avx512)
    fi
fi
echo "CPU levels here: ${levels[*]}"
# Everything that runs the kernels: attention forward and backward on both
# paths and thread counts, the layer, the kernels' own test, decoding and
# K/V caches.
suites='^test_(sdpa|masks|nonfinite|extremes|backward|mha|threads|kernels|state_change|decode|kv_cache|kv_append|variants|packed)'
for level in "${levels[@]:0:${#levels[@]}-1}"; do
    echo "=== ATTN_CPU_LEVEL=$level"
    ATTN_CPU_LEVEL=$level ctest --test-dir "$build" --output-on-failure \
        -j"$(nproc)" -R "$suites"
done
