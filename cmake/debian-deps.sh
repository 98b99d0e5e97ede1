#!/usr/bin/env bash
# Installs the Debian packages that libattention builds, tests and
# benchmarks with; does nothing when they are all present.
#   cmake/debian-deps.sh               build, tests, benchmarks
#   cmake/debian-deps.sh --hardening   also clang + libFuzzer + LLVM OpenMP
#                                      (fuzzers, ThreadSanitizer) and valgrind
set -euo pipefail
packages=(build-essential cmake pkg-config libopenblas-dev libcmocka-dev libpng-dev
          libjansson-dev libopenblas-openmp-dev)
if [ "${1:-}" = "--hardening" ]; then
    packages+=(clang libclang-rt-14-dev libomp-dev valgrind)
elif [ $# -gt 0 ]; then
    echo "usage: cmake/debian-deps.sh [--hardening]" >&2; exit 2
fi

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == *"install ok installed"* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
