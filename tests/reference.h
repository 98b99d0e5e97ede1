/*
 * An independent, naive double-precision reference for the semantics
 * documented in include/attention/sdpa.h and softmax.h: plain loops, double
 * accumulation, no BLAS, no blocking. It reads the descriptor fields the
 * header documents (shapes, strides, scale, causal, kv_lens, keep_mask,
 * bias) and nothing of the library's implementation.
 */
#ifndef ATTN_TESTS_REFERENCE_H
#define ATTN_TESTS_REFERENCE_H

#include <stdint.h>

#include <attention/sdpa.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Nonzero when key j is visible to query i of (batch b, query head h)
 * under causal, kv_lens and keep_mask (bias is not a visibility mask here;
 * a -INFINITY bias makes the score -INFINITY instead).
 */
int ref_visible(const attn_sdpa_desc *d, int64_t b, int64_t h, int64_t i,
                int64_t j);

/*
 * Attention forward. Every output is optional (NULL) and contiguous:
 *   out      (B, Hq, Tq, dv)  sum_j w_j v_j over the keys with w_j != 0
 *   weights  (B, Hq, Tq, Tk)  softmax of the scores; 0 where masked
 *   lse      (B, Hq, Tq)      log(sum_j exp(score_j)) over visible keys
 *   scores   (B, Hq, Tq, Tk)  scale * q.k + bias, -INFINITY where masked
 * Rows without a visible key (or whose visible scores are all -INFINITY)
 * give zeros, zero weights and lse = -INFINITY. A NaN among the scores of
 * a row, or a +INFINITY score, makes the row's weights, output and lse NaN.
 * q, k are read through d's strides, v only when out is not NULL.
 */
void ref_sdpa(const attn_sdpa_desc *d, const float *q, const float *k,
              const float *v, double *out, double *weights, double *lse,
              double *scores);

/*
 * Softmax of one row x[0, n) into y[0, n) (may be NULL); returns the
 * log-sum-exp. All -INFINITY: zeros and -INFINITY. Any NaN: NaN row, NaN.
 */
double ref_softmax_row(const double *x, int64_t n, double *y);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_TESTS_REFERENCE_H */
