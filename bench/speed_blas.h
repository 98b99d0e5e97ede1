/*
 * Which BLAS the bench and the library run on, and the bench's control of
 * its thread count. OpenBLAS is recognised through weak references to its
 * extension functions, so any other CBLAS links and runs too (it is then
 * reported as "not OpenBLAS" and its threads are left alone).
 */
#ifndef BENCH_SPEED_BLAS_H
#define BENCH_SPEED_BLAS_H

#include <stdio.h>

typedef struct speed_blas_info {
    int is_openblas;
    const char *config;     /* openblas_get_config(), or NULL */
    const char *corename;   /* openblas_get_corename(), or NULL */
    int parallel;           /* 0 sequential, 1 pthreads, 2 OpenMP; -1 unknown */
    int threads;            /* BLAS threads now; -1 unknown */
} speed_blas_info;

void speed_blas_query(speed_blas_info *info);

/* Nonzero for the OpenBLAS core names whose sgemm kernels use AVX-512. */
int speed_blas_avx512_core(const char *corename);

/* Sets the BLAS's (process-global) thread count to n and returns the count
 * it had, for speed_blas_restore; returns -1 and changes nothing when the
 * BLAS offers no such control. Only the bench does this, around its roof
 * measurements: the library never touches BLAS settings. */
int speed_blas_set_threads(int n);
void speed_blas_restore(int previous);

/* BLAS identity, thread settings, the environment variables that steer
 * them, and the warnings that follow from them (pthread OpenBLAS with
 * several threads; a generic core type on an AVX-512 CPU). */
void speed_blas_report(FILE *f, const speed_blas_info *info, int lib_threads);

#endif /* BENCH_SPEED_BLAS_H */
