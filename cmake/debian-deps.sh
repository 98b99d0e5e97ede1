#!/usr/bin/env bash
# Installs the Debian packages that libattention builds, tests and
# benchmarks with; does nothing when they are all present.
#   cmake/debian-deps.sh               build, tests, benchmarks
#   cmake/debian-deps.sh --hardening   also clang + libFuzzer + LLVM OpenMP
#                                      (fuzzers, ThreadSanitizer) and valgrind
#   cmake/debian-deps.sh --aarch64     also the aarch64 cross toolchain, the
#                                      arm64 libraries and qemu-user
set -euo pipefail
# cairo + DejaVu draw the benches' and examples' pictures (plot/); libpng
# and libxml2 let test_plot read them back.
packages=(build-essential cmake pkg-config libopenblas-dev libcmocka-dev libpng-dev
          libjansson-dev libopenblas-openmp-dev libcairo2-dev fonts-dejavu-core
          libxml2-dev)
if [ "${1:-}" = "--hardening" ]; then
    packages+=(clang libclang-rt-14-dev libomp-dev valgrind)
elif [ "${1:-}" = "--aarch64" ]; then
    packages+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
               libopenblas-dev:arm64 libcmocka-dev:arm64 libjansson-dev:arm64
               libpng-dev:arm64)
elif [ $# -gt 0 ]; then
    echo "usage: cmake/debian-deps.sh [--hardening | --aarch64]" >&2; exit 2
fi
# Open MPI: libattention_mpi (ring attention, ATTENTION_MPI) and its tests.
packages+=(libopenmpi-dev openmpi-bin)

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
if [ "${1:-}" = "--aarch64" ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    "${as_root[@]}" dpkg --add-architecture arm64
fi
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
