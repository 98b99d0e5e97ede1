/*
 * An independent, naive double-precision reference for the semantics
 * documented in include/attention/sdpa.h and softmax.h: plain loops, double
 * accumulation, no BLAS, no blocking. It reads the descriptor fields the
 * header documents (shapes, strides, scale, causal, kv_lens, keep_mask,
 * bias and the variants) and nothing of the library's implementation.
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
 * under causal, kv_lens, the window and keep_mask (bias is not a
 * visibility mask here; a -INFINITY bias makes the score -INFINITY
 * instead).
 */
int ref_visible(const attn_sdpa_desc *d, int64_t b, int64_t h, int64_t i,
                int64_t j);

/*
 * Attention forward. Every output is optional (NULL) and contiguous:
 *   out      (B, Hq, Tq, dv)  sum_j w_j v_j over the keys with w_j != 0
 *   weights  (B, Hq, Tq, Tk)  softmax of the scores; 0 where masked
 *   lse      (B, Hq, Tq)      log(sum_j exp(score_j)) over visible keys
 *   scores   (B, Hq, Tq, Tk)  capped scale * q.k + bias + ALiBi, -INFINITY
 *                             where masked
 * with the sinks in every row's denominator (and lse).
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

/* The same with a sink logit in the denominator (no weight of its own):
 * all -INFINITY then gives zeros and lse = sink. */
double ref_softmax_row_sink(const double *x, int64_t n, double sink,
                            double *y);

/* The scaled score s = scale q.k of key j for query i of (b, h) through
 * the softcap c tanh(s / c) and ALiBi's -slope |i + L - Tq - j| (as sdpa.h
 * defines them; bias is the caller's). */
double ref_modify_score(const attn_sdpa_desc *d, int64_t b, int64_t h,
                        int64_t i, int64_t j, double s);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_TESTS_REFERENCE_H */
