/* attention-bench-scaling: what its files share. */
#ifndef BENCH_SCALING_H
#define BENCH_SCALING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "plot.h"

/* What every run shares: the shape apart from d_k, and the data seed. */
typedef struct scaling_setup {
    int64_t batch, heads, q_len, kv_len;
    uint64_t seed;
} scaling_setup;

/* The statistics of one run, in the order of the table and the CSV file:
 * scores over all B*H*Tq*Tk of them (population std), then per softmax row
 * averaged over all B*H*Tq rows: largest weight, entropy -sum p ln p in
 * nats, it over ln(Tk), the share of rows whose largest weight exceeds
 * SATURATED, and the Frobenius norm of the softmax Jacobian
 * J = diag(p) - p p^T (mean, median, 10th percentile). */
enum { S_MIN, S_MAX, S_MEAN, S_STD, W_MAX, W_ENTROPY, W_RATIO, W_SATURATED,
       J_MEAN, J_P50, J_P10, N_STATS };
#define SATURATED 0.99

/* One (d_k, scaling) measurement. */
typedef struct scaling_run {
    int64_t d_k;
    int scaled;             /* 1: scale 1/sqrt(d_k); 0: scale 1 */
    double scale;           /* the float passed to the library, widened */
    double v[N_STATS];
} scaling_run;

/* Fills v; rows > 0, cols > 1; norms is scratch (rows). */
void scaling_stats(const float *scores /* (n) */, size_t n,
                   const float *w /* (rows, cols) */, size_t rows, size_t cols,
                   double *norms, double v[N_STATS]);

/* The setup, the table at runs[2 headline] (scaled) and runs[2 headline
 * + 1] (unscaled), and the sweep over the n d_k with its conclusion. */
void scaling_report(FILE *f, const scaling_setup *s,
                    const scaling_run *runs /* (2 n) */, size_t n,
                    size_t headline);

/* Header and one row per run; 0, or -1 if a write failed. */
int scaling_csv(FILE *f, const scaling_setup *s, const scaling_run *runs,
                size_t m);

/* The pictures (scaling_pictures.c), each DIR/<name>.png and .svg. */

/* weights_dk<d_k>: head 0's weights (w[0] scaled, w[1] unscaled, each
 * (Tq, Tk)) as two heat maps, colour on a log scale. */
plot_status scaling_picture_weights(const char *dir, const scaling_setup *s,
                                    int64_t d_k, const float *const w[2]);

/* scores_dk<d_k>: the n scores of runs[0] (scaled) and runs[1] (unscaled)
 * as two overlaid histograms. */
plot_status scaling_picture_scores(const char *dir, const scaling_setup *s,
                                   const scaling_run runs[2],
                                   const float *const scores[2], size_t n);

/* sweep: score std, saturated rows, normalised entropy and Jacobian norm
 * against d_k (runs as in scaling_report), scaled and unscaled. */
plot_status scaling_picture_sweep(const char *dir, const scaling_setup *s,
                                  const scaling_run *runs, size_t n);

#endif /* BENCH_SCALING_H */
