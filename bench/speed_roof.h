/*
 * The sgemm roof: what cblas_sgemm itself reaches, under the same BLAS and
 * thread settings as the attention measurements, to divide them by.
 */
#ifndef BENCH_SPEED_ROOF_H
#define BENCH_SPEED_ROOF_H

#include "speed_timer.h"

/* One row-major product C (m, n) = A (m, k) * op(B), as the fused kernel
 * issues it: op(B) = B^T for Q K^T (B stored (n, k)), B for P V. */
typedef struct speed_product {
    const char *name;       /* "square", "qk_tile", "pv_tile" */
    int m, n, k;
    int trans_b;
    /* The attention shape it stands for (query rows, keys, head dim);
     * 2048 each for the square. */
    int tq, tk, d;
} speed_product;

/* 2048^3, and the two products of a 128-query, 512-key tile at head
 * dimension d. */
speed_product speed_square(void);
speed_product speed_qk_tile(int d);
speed_product speed_pv_tile(int d);

typedef struct speed_roof {
    double gflops;          /* best repeat */
    speed_timing timing;
    int controlled;         /* 1 if the BLAS thread count was set as asked */
} speed_roof;

/* One product on the BLAS's own threads, which the bench sets to `threads`
 * for the duration (OpenBLAS only). The fair roof for a call using that
 * many threads. 0, or -1 on allocation failure. */
int speed_roof_blas_threads(const speed_product *p, int threads,
                            const speed_budget *b, speed_roof *out);

/* `threads` copies of the product at once, each on its own thread with
 * the BLAS set to one thread: the per-core rate the fused kernel's tiles
 * can reach when all cores work. Reported GFLOP/s is the sum over
 * threads. 0, or -1 on failure. */
int speed_roof_concurrent(const speed_product *p, int threads,
                          const speed_budget *b, speed_roof *out);

#endif /* BENCH_SPEED_ROOF_H */
