/* The bench's printed tables and its CSV file. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stats.h"

/* What every run shares: the shape apart from d_k, and the data seed. */
typedef struct bench_setup {
    int64_t batch, heads, q_len, kv_len;
    uint64_t seed;
} bench_setup;

/* One (d_k, scaling) measurement. */
typedef struct scaling_run {
    int64_t d_k;
    int scaled;             /* 1: scale 1/sqrt(d_k); 0: scale 1 */
    double scale;           /* the float passed to the library, widened */
    score_stats scores;     /* over all B*H*Tq*Tk scores */
    weight_stats weights;   /* over all B*H*Tq softmax rows */
} scaling_run;

/* Shape, seed and data source, above the tables. */
void report_setup(FILE *f, const bench_setup *s, int64_t d_k);

/* The detailed scaled-against-unscaled table at one d_k, with footnotes. */
void report_comparison(FILE *f, const bench_setup *s,
                       const scaling_run *scaled, const scaling_run *unscaled);

/* One line per d_k and a conclusion computed from the numbers;
 * runs[2 i] is scaled, runs[2 i + 1] unscaled. */
void report_sweep(FILE *f, const bench_setup *s,
                  const scaling_run *runs /* (n, 2) */, size_t n);

/* Header and one row per run; returns 0, or -1 if a write failed. */
int report_csv(FILE *f, const bench_setup *s, const scaling_run *runs /* (m) */,
               size_t m);

#endif /* BENCH_REPORT_H */
