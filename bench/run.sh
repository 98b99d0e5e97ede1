#!/usr/bin/env bash
# From a fresh Debian machine to the benchmark tables in one command:
# installs the build dependencies, builds an optimised libattention and runs
# every benchmark. Tables go to the terminal; CSV files and heat maps to
# build/bench-results/.
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
echo "CSV and heat maps written to $results"
