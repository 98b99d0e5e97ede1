#!/usr/bin/env bash
# From a fresh Debian machine to a tested libattention in one command:
# installs the build dependencies, builds, and runs every test with ctest.
#   tests/run.sh              optimised build in build/
#   tests/run.sh --sanitize   AddressSanitizer + UBSan build in build-sanitize/
#   tests/run.sh --clang      clang build (LLVM's OpenMP) in build-clang/
# With CI=true in the environment, warnings are errors.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = "--clang" ]; then
    "$root/cmake/debian-deps.sh" --hardening # clang and LLVM's OpenMP
else
    "$root/cmake/debian-deps.sh"
fi

build="$root/build" flags=(-DCMAKE_BUILD_TYPE=Release)
if [ "${1:-}" = "--sanitize" ]; then
    build="$root/build-sanitize" flags=(-DCMAKE_BUILD_TYPE=Debug -DATTENTION_SANITIZE=ON)
elif [ "${1:-}" = "--clang" ]; then
    build="$root/build-clang" flags=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_C_COMPILER=clang)
elif [ $# -gt 0 ]; then
    echo "usage: tests/run.sh [--sanitize | --clang]" >&2; exit 2
fi
[ "${CI:-}" = true ] && flags+=(-DATTENTION_WERROR=ON)
# cairo came with the packages above: pictures on, even in a build
# directory first configured without it.
flags+=(-DATTENTION_PICTURES=ON)

cmake -S "$root" -B "$build" "${flags[@]}"
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
