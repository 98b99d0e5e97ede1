/*
 * Every measurement of a run, kept until the end: the roof is measured
 * again last, and each ratio divides by the best roof of the whole run.
 */
#ifndef BENCH_SPEED_ROWS_H
#define BENCH_SPEED_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "speed_case.h"

typedef enum speed_kind {
    SPEED_ROOF = 0,         /* cblas_sgemm alone */
    SPEED_FUSED = 1,        /* ATTN_ALGO_FUSED */
    SPEED_REFERENCE = 2     /* ATTN_ALGO_MATERIALIZED */
} speed_kind;

typedef struct speed_row {
    speed_kind kind;
    const char *product;    /* roof: "square", "qk_tile", "pv_tile";
                               else "attention" */
    const char *phase;      /* roof: "start" or "end"; else "main" for the
                               table, "long" for the long-sequence shape */
    speed_pass pass;        /* SPEED_FWD for roof rows */
    /* Attention: the shape. Roof: B = H = 1 and the attention shape the
     * product stands for: a 256-query, 512-key tile at head dim d (QK^T
     * is 256 x 512 x d, P.V 256 x d x 512), or 2048 each for the square. */
    int64_t b, h, tq, tk, d;
    int causal;
    int threads;            /* library threads; roof: concurrent threads
                               (tiles) or BLAS threads (square) */
    double seconds;         /* best repeat */
    int reps;               /* timed repeats after the warm-up */
    double gflops;
    size_t extra_bytes;     /* workspace asked for; 0 for the roof */
    double others;          /* cores other processes kept busy meanwhile
                               (average, warm-up included); -1 unknown */
    int attempts;           /* measurements made; the best one is kept */
} speed_row;

typedef struct speed_rows {
    speed_row *v;           /* (n) */
    size_t n, cap;
} speed_rows;

/* Appends a copy; exits if out of memory. */
void speed_rows_add(speed_rows *r, const speed_row *row);
void speed_rows_free(speed_rows *r);

/* The roof a measurement at `threads` threads is divided by: the best
 * square-product rate at that thread count, start or end; 0 if none. */
double speed_rows_roof(const speed_rows *r, int threads);

/* roof_ratio of a row (its gflops over the roof at its thread count);
 * 0 without a roof. */
double speed_rows_ratio(const speed_rows *r, const speed_row *row);

/* The attention row for (kind, phase, shape, causal, pass, threads), or
 * NULL if it was not measured. */
const speed_row *speed_rows_find(const speed_rows *r, speed_kind kind,
                                 const char *phase, speed_shape s, int causal,
                                 speed_pass pass, int threads);

/* The roof row for (product, d, phase, threads), or NULL. */
const speed_row *speed_rows_find_roof(const speed_rows *r, const char *product,
                                      int64_t d, const char *phase,
                                      int threads);

#endif /* BENCH_SPEED_ROWS_H */
