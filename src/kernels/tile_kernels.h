/*
 * The vectorised passes over score tiles, compiled once per CPU level
 * (cpu.h) from one body (tile_kernels_body.h). A call takes the table of
 * the level its plan selected and uses it throughout.
 */
#ifndef ATTN_SRC_TILE_KERNELS_H
#define ATTN_SRC_TILE_KERNELS_H

#include <stdint.h>

#include "kernels/cpu.h"

#define ATTN_KV_DTYPES 3 /* attn_dtype values */

typedef struct attn_tile_kernels {
    const char *level;  /* the level's name, as ATTN_CPU_LEVEL spells it */

    /*
     * One step of the online softmax for the m rows of a tile whose scores
     * (natural units: scale * q.k + bias) are S[r, 0 .. n) (row stride ld).
     * M = row_max[r] is the row's reference (its running maximum, or up to
     * LAG octaves below it) and L = row_sum[r] the sum of e^(s - M) over the
     * keys seen so far. The tile's scores become the unnormalised weights
     * P = e^(S - M') and L' = L * alpha[r] + sum_j P, alpha[r] = e^(M - M').
     * e^x is computed as 2^(x log2 e) after the subtraction, so scores up to
     * FLT_MAX never overflow.
     *
     * A row's first visible tile takes M' = its maximum (two passes). Later
     * tiles make one pass with the old reference and keep it (alpha = 1) while
     * the tile's maximum exceeds it by at most LAG = 8 octaves, so P stays
     * below 2^8; a larger rise moves the reference up to the tile's maximum
     * and rescales P. A rise of more than 64 octaves cannot be rescaled (P
     * may have overflowed): the row is left as it was, its state untouched,
     * and redo[r] is set; the caller recomputes its scores and calls again
     * with exact = 1, which always takes two passes.
     *
     * A row that has seen only -INFINITY keeps M = -INFINITY, L = 0, alpha 1
     * and gets P = 0. A NaN score sets has_nan[r] there, and elsewhere
     * propagates through L (the row's result is NaN).
     *
     * 2^x is a degree-7 polynomial on the fraction, exact powers of two for
     * the integer part: at most 0.87 ulp (with FMA; 1.15 without) from the
     * correctly rounded 2^x over 4e7 points of [-126, 0] (bound: 2 ulp);
     * results below 2^-126.5 are flushed to zero (< 1e-38 of the row's largest
     * weight). The product (s - M) log2 e adds one rounding of x.
     */
    void (*softmax)(float *S /* (m, ld) */, int64_t m, int64_t n, int64_t ld,
                    int exact, float *row_max /* (m) */,
                    double *row_sum /* (m) */, float *alpha /* (m) */,
                    unsigned char *has_nan /* (m) */,
                    unsigned char *redo /* (m) */);

    /* S[r, j] <- e^(S[r, j] - shift[r]) for the m x n tile: the final weights
     * from scores and each row's log-sum-exp. */
    void (*exp_shift)(float *S /* (m, ld) */, int64_t m, int64_t n, int64_t ld,
                      const float *shift /* (m) */);

    /* The backward's pass over one tile: P = e^(S - lse[r]) in place of the
     * scores (0 in rows with lse = -INFINITY), then dS = P * (dP - D[r]) in
     * place of dP = dout V^T, exactly 0 wherever P is 0. */
    void (*softmax_grad)(float *P /* (m, ld) */, float *dS /* (m, ld) */,
                         int64_t m, int64_t n, int64_t ld,
                         const float *lse /* (m) */, const float *D /* (m) */);

    /* The score modifiers of one row's n visible keys, in place: the
     * softcap x <- cap tanh(x / cap) when cap > 0 (dcap, when not NULL,
     * receives 1 - tanh^2 for the backward), then ALiBi's
     * x <- x - slope |dist0 - j| (dist0: the distance i + off - j of the
     * first key). tanh to about 1e-7 absolute (tile_kernels_body.h). */
    void (*modify_scores)(float *row /* (n) */, int64_t n, float cap,
                          float slope, float dist0, float *dcap /* (n) */);

    /* The decoding path's products, each K or V row read once, and the
     * general paths' widening of K and V tiles; one per storage type
     * (attn_dtype order). Rows come as arrays of n row pointers:
     * S[r, j] = scale * Q[r] . K[j] (Q (m, d) contiguous),
     * O[r] += sum_j P[r, j] V[j] (O (m, dv) contiguous),
     * dst[i, 0 .. cols) = rows[i] as floats (row stride ld).
     * ahead, when not NULL, holds n rows the caller reads later: ahead[j]
     * is fetched into the caches while row j is computed. */
    void (*dot_rows[ATTN_KV_DTYPES])(const float *Q, int64_t m, int64_t d,
                                     const void *const *K /* (n) */, int64_t n,
                                     float scale, float *S /* (m, lds) */,
                                     int64_t lds,
                                     const void *const *ahead /* (n) */);
    void (*axpy_rows[ATTN_KV_DTYPES])(const float *P /* (m, lds) */, int64_t lds,
                                      int64_t m, int64_t n,
                                      const void *const *V /* (n) */, int64_t dv,
                                      float *O /* (m, dv) */,
                                      const void *const *ahead /* (n) */);
    void (*widen_rows[ATTN_KV_DTYPES])(const void *const *rows /* (n) */,
                                       int64_t n, int64_t cols,
                                       float *dst /* (n, ld) */, int64_t ld);

    /* x[j] <- 2^x[j], the exponential the passes use, for its tests. */
    void (*exp2)(float *x /* (n) */, int64_t n);
} attn_tile_kernels;

/* The table of a level this build has and this CPU runs. */
const attn_tile_kernels *attni_tile_kernels_for(attn_cpu_level level);

#endif /* ATTN_SRC_TILE_KERNELS_H */
