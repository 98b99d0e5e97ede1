#!/usr/bin/env bash
# From a fresh Debian machine to the benchmark tables in one command:
# installs the build dependencies, builds an optimised libattention and runs
# every benchmark (a few minutes). Tables go to the terminal; CSV files and
# the scaling experiment's pictures (PNG and SVG) to build/bench-results/,
# the tour's pictures to build/bench-results/tour/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/cmake/debian-deps.sh"

build="$root/build"
# Pictures on: cairo came with the packages above (ON also turns them back
# on in a build directory first configured without it).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DATTENTION_PICTURES=ON
cmake --build "$build" -j"$(nproc)"

results="$build/bench-results"
mkdir -p "$results"
"$build/bench/attention-bench-scaling" --csv "$results/scaling.csv" --pictures "$results"
echo
# The notebooks' pictures, drawn by the tour next to its numbers.
"$build/examples/attention-tour" --pictures "$results/tour" > "$results/tour.txt"
echo "tour: numbers in $results/tour.txt, pictures in $results/tour/"
echo

# The speed benchmark runs as an application linking the library gets it:
# the library links OpenBLAS's OpenMP build where it is installed
# (cmake/AttentionBlas.cmake; README "Speed, threads and memory").
"$build/bench/attention-bench-speed" --csv "$results/speed.csv"
echo
"$build/bench/attention-bench-decode" --csv "$results/decode.csv"
echo
echo "CSV files and pictures (PNG and SVG) written to $results"
