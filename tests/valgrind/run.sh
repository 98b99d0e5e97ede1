#!/usr/bin/env bash
# The test suite under valgrind memcheck: every cmocka program once (the
# default path, plus the materialised-path runs of the attention suites),
# each under `valgrind --error-exitcode`, definite leaks counted as errors.
# Left out: the thread-count and pthread-BLAS variants, test_threads,
# test_concurrency and test_blas_toggle (threads are ThreadSanitizer's job,
# tests/tsan), test_decode (its 100k-key references; test_sdpa's small-Tq
# problems run the decoding path), the training run and the
# consumer-package test; they repeat code the others cover and would take
# most of the time (valgrind is ~30-50x slower and runs threads one at a
# time). The MPI tests (mpi_*, libattention_mpi) are left out too: ctest
# runs mpiexec, not the test program, so the valgrind emulator would not
# wrap them, and Open MPI's shared-memory transport and PMIx are a known
# source of memcheck reports of their own; they run natively and under
# ASan (tests/run.sh --sanitize). Checked by hand (mpirun -np 2 valgrind
# test_ring, test_ring_errors): the only reports were Open MPI's (blocks
# lost from MPI_Init/MPI_Finalize, PMIx's writev of uninitialised bytes). Installs nothing itself (valgrind
# is in cmake/debian-deps.sh).
#   tests/valgrind/run.sh     build in build-valgrind/ and run
set -euo pipefail
skip='_threads[0-9]|_pthread_blas$|^test_threads$|^test_concurrency$|^test_blas_toggle|^test_decode$|^test_train$|^consumer_package$|^mpi_'
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build="$root/build-valgrind"
vg="valgrind;--error-exitcode=99;--leak-check=full;--show-leak-kinds=definite"
vg+=";--errors-for-leak-kinds=definite;--track-origins=yes"
vg+=";--suppressions=$root/tests/valgrind/suppressions.txt"

flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DATTENTION_BUILD_BENCH=OFF
       -DATTENTION_TEST_TIMEOUT=1200 "-DCMAKE_CROSSCOMPILING_EMULATOR=$vg")
[ "${CI:-}" = true ] && flags+=(-DATTENTION_WERROR=ON)
cmake -S "$root" -B "$build" "${flags[@]}"
cmake --build "$build" -j"$(nproc)"
# OpenBLAS's own thread pool only adds noise under valgrind; the library's
# OpenMP threads (2) stay on.
# ATTN_TEST_LIGHT: test_safetensors skips its two tests of tens of MiB
# of JSON (minutes under valgrind, nothing new about memory).
OPENBLAS_NUM_THREADS=1 ATTN_NUM_THREADS=2 ATTN_TEST_LIGHT=1 \
    ctest --test-dir "$build" --output-on-failure -j"$(nproc)" \
    -E "$skip"
