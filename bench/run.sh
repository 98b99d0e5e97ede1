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

# The speed benchmark runs as an application linking the library gets it:
# the library links OpenBLAS's OpenMP build where it is installed
# (cmake/AttentionBlas.cmake; README "Speed, threads and memory").
"$build/bench/attention-bench-speed" --csv "$results/speed.csv"
echo
"$build/bench/attention-bench-decode" --csv "$results/decode.csv"
echo
echo "CSV files and heat maps written to $results"
