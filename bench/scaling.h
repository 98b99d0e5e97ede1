/* attention-bench-scaling: what its files share. */
#ifndef BENCH_SCALING_H
#define BENCH_SCALING_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* Colour = log10(weight) from HEATMAP_LOG10_MIN (darkest; also 0) to 0. */
#define HEATMAP_LOG10_MIN (-5.0)

/* An RGB PNG: the two (rows, cols) matrices side by side, cell pixels an
 * entry, a colour bar with a tick per decade underneath, title and
 * description as tEXt. NULL, or a static message. */
const char *heatmap_write(const char *path, const float *left,
                          const float *right, size_t rows, size_t cols,
                          size_t cell, const char *title, const char *desc);

#endif /* BENCH_SCALING_H */
