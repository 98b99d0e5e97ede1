#!/usr/bin/env bash
# Consumer test of libattention_mpi: installs the built tree, then builds
# against the installed package: the core alone with MPI unfindable (the
# package must not look for it), the ring example through
# find_package(attention CONFIG COMPONENTS mpi) shared and static, and
# through pkg-config attention-mpi; each ring build runs on 2 ranks and
# must match one process.
# Usage: consumer.sh BUILD_DIR SOURCE_DIR WORK_DIR C_COMPILER PKG_CONFIG MPIEXEC
set -euo pipefail
build=$1 src=$2 work=$3 cc=$4 pkgconfig=$5 mpiexec=$6
project="$src/tests/mpi/consumer"
ring="$src/examples/ring/ring.c"
rm -rf "$work"
mkdir -p "$work"
prefix="$work/prefix"
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > "$work/install.log"
[ -f "$prefix/include/attention/ring.h" ] || fail "ring.h not installed"

configure_build() {
    local name=$1; shift
    cmake -S "$project" -B "$work/$name" -DCMAKE_C_COMPILER="$cc" \
        -DCMAKE_PREFIX_PATH="$prefix" "$@" > "$work/$name.log" 2>&1 ||
        { cat "$work/$name.log"; fail "$name: configure"; }
    cmake --build "$work/$name" >> "$work/$name.log" 2>&1 ||
        { cat "$work/$name.log"; fail "$name: build"; }
}
run_ring() {
    local name=$1; shift
    ATTN_NUM_THREADS=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        "$mpiexec" -n 2 "$@" 256 > "$work/$name.out" 2>&1 ||
        { cat "$work/$name.out"; fail "$name: run"; }
    grep -q "matches one process" "$work/$name.out" || fail "$name: no match"
    echo "ok: $name"
}

configure_build core-only -DCORE_ONLY=ON -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON \
    -DEXAMPLE_SOURCE="$src/examples/quickstart.c"
"$work/core-only/consumer" > /dev/null || fail "core-only: run"
echo "ok: core-only (no MPI looked for)"

configure_build mpi-shared -DEXAMPLE_SOURCE="$ring"
deps=$(ldd "$work/mpi-shared/consumer")
[[ $deps == *libattention_mpi.so* ]] || fail "mpi-shared does not load libattention_mpi.so"
run_ring mpi-shared "$work/mpi-shared/consumer"

configure_build mpi-static -DEXAMPLE_SOURCE="$ring" -DATTENTION_USE_STATIC_LIBS=ON
deps=$(ldd "$work/mpi-static/consumer")
[[ $deps != *libattention* ]] || fail "mpi-static loads a shared libattention"
run_ring mpi-static "$work/mpi-static/consumer"

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
libdir=$("$pkgconfig" --variable=libdir attention-mpi)
# shellcheck disable=SC2046
"$cc" -Wall -Wextra -Werror "$ring" -o "$work/pc-ring" \
    $("$pkgconfig" --cflags --libs attention-mpi) -lm
LD_LIBRARY_PATH="$libdir" run_ring pkg-config "$work/pc-ring"
echo "all libattention_mpi consumer builds passed"
