#!/usr/bin/env bash
# From a fresh Debian machine to the benchmark tables in one command:
# installs the build dependencies, builds an optimised libattention and runs
# every benchmark (a few minutes). Tables go to the terminal; CSV files and
# heat maps to build/bench-results/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/cmake/debian-deps.sh"

build="$root/build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j"$(nproc)"

results="$build/bench-results"
mkdir -p "$results"
"$build/bench/attention-bench-scaling" --csv "$results/scaling.csv" --png "$results"
echo

# The speed benchmark runs on Debian's OpenMP build of OpenBLAS, chosen for
# this process only (the system's BLAS choice is left alone): inside the
# library's threads its sgemm runs single-threaded, outside (the roof) on
# every core, so the roof and the library use the same cores the same way.
# README "Speed, threads and memory" explains the other builds.
openmp_blas=/usr/lib/x86_64-linux-gnu/openblas-openmp
if [ -e "$openmp_blas/libopenblas.so.0" ]; then
    LD_LIBRARY_PATH="$openmp_blas${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
        "$build/bench/attention-bench-speed" --csv "$results/speed.csv"
else
    "$build/bench/attention-bench-speed" --csv "$results/speed.csv"
fi
echo
echo "CSV files and heat maps written to $results"
