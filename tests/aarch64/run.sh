#!/usr/bin/env bash
# Cross-builds everything (library, tests, examples, benchmarks) for 64-bit
# ARM with Debian's aarch64 GCC and arm64 packages, warnings as errors, and
# runs a few test programs and the quick-start example under qemu-user, on
# one thread (OpenBLAS's threads hang under qemu-user). There the "generic"
# kernel level is NEON code: GCC lowers the 16-lane vector extensions to
# four 4-lane NEON registers (see README).
#   tests/aarch64/run.sh      installs the cross toolchain (dpkg
#                             --add-architecture arm64), builds in
#                             build-aarch64/ and runs
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build-aarch64"
"$root/cmake/debian-deps.sh" --aarch64

cmake -S "$root" -B "$build" \
    -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
    -DCMAKE_BUILD_TYPE=Release -DATTENTION_WERROR=ON -DATTENTION_INSTALL=OFF \
    -DATTENTION_MPI=OFF \
    -DATTENTION_TEST_TIMEOUT=900
cmake --build "$build" -j"$(nproc)"

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 ATTN_NUM_THREADS=1
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" \
    -R '^test_(sdpa|masks|kernels|heads|softmax|seed|version|linear|variants_pytorch)$'

# The quick start prints the tutorial's numbers on ARM too.
expected="weights 0.2296 0.2749 0.2589 0.2366   context 0.5271 0.4141 0.3070"
got=$(qemu-aarch64 -L /usr/aarch64-linux-gnu "$build/examples/attention-quickstart" | head -n 1)
if [ "$got" != "$expected" ]; then
    echo "tests/aarch64/run.sh: quickstart printed '$got', expected '$expected'" >&2
    exit 1
fi
echo "tests/aarch64/run.sh: quickstart output matches the tutorial"
