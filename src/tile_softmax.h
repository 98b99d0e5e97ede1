/* The online-softmax pass over one score tile, vectorised. */
#ifndef ATTN_SRC_TILE_SOFTMAX_H
#define ATTN_SRC_TILE_SOFTMAX_H

#include <stdint.h>

/*
 * One step of the online softmax in base 2, for the m rows of a tile whose
 * scores, already multiplied by log2(e), are S[r, 0 .. n) (row stride ld).
 * With M = row_max[r] and L = row_sum[r] for the keys seen so far:
 *     M' = max(M, max_j S[r, j])
 *     S[r, j] <- 2^(S[r, j] - M')          (the unnormalised weights P)
 *     alpha[r] = 2^(M - M'),  L' = L * alpha[r] + sum_j S[r, j]
 * A row that has seen only -INFINITY keeps M = -INFINITY, L = 0, alpha 1
 * and gets P = 0. A NaN score sets has_nan[r] (the row's result is NaN).
 *
 * 2^x is a degree-7 polynomial on the fraction, exact powers of two for
 * the integer part: at most 0.87 ulp (with FMA; 1.15 without) from the
 * correctly rounded 2^x over 4e7 points of [-126, 0] (bound: 2 ulp);
 * results below 2^-126.5 are flushed to zero (< 1e-38 of the row's largest
 * weight, which is 1).
 */
void attn_tile_softmax(float *S /* (m, ld) */, int64_t m, int64_t n,
                       int64_t ld, float *row_max /* (m) */,
                       double *row_sum /* (m) */, float *alpha /* (m) */,
                       unsigned char *has_nan /* (m) */);

/* S[r, j] <- 2^(S[r, j] - shift[r]) for the m x n tile: the final weights
 * from scores (times log2(e)) and each row's log2-sum-exp2. */
void attn_tile_exp2_shift(float *S /* (m, ld) */, int64_t m, int64_t n,
                          int64_t ld, const float *shift /* (m) */);

#endif /* ATTN_SRC_TILE_SOFTMAX_H */
