/*
 * Statistics of attention scores and softmax weights, all accumulated in
 * double whatever the float data.
 */
#ifndef BENCH_STATS_H
#define BENCH_STATS_H

#include <stddef.h>

/* A row counts as saturated when its largest weight exceeds this. */
#define BENCH_SATURATED 0.99

typedef struct score_stats {
    double min, max, mean;
    double std;             /* population standard deviation */
} score_stats;

typedef struct weight_stats {
    double mean_max;        /* mean over rows of the largest weight */
    double mean_entropy;    /* mean over rows of -sum p ln p, in nats */
    double entropy_ratio;   /* mean_entropy / ln(cols) */
    double saturated_share; /* share of rows with max > BENCH_SATURATED */
    double jacobian_norm;   /* mean over rows of ||diag(p) - p p^T||_F */
    double jacobian_p10;    /* its 10th percentile over rows */
    double jacobian_p50;    /* its median over rows */
} weight_stats;

/* Over all n values; n > 0. */
score_stats score_stats_of(const float *x /* (n) */, size_t n);

/* Each row is one softmax distribution; rows > 0, cols > 1. norms is
 * scratch for the per-row Jacobian norms (the percentiles sort them). */
weight_stats weight_stats_of(const float *w /* (rows, cols) */, size_t rows,
                             size_t cols, double *norms /* (rows) */);

/*
 * Frobenius norm of the softmax Jacobian J = diag(p) - p p^T, from
 * ||J||_F^2 = sum p_i^2 - 2 sum p_i^3 + (sum p_i^2)^2, O(n) instead of the
 * O(n^2) matrix.
 */
double softmax_jacobian_norm(const float *p /* (n) */, size_t n);

/* The same norm for the uniform distribution over n: sqrt(n - 1) / n. */
double uniform_jacobian_norm(size_t n);

#endif /* BENCH_STATS_H */
