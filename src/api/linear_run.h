/* The linear layer's computations without their checks, for callers (the
 * attention layer) that check every step before the first write. */
#ifndef ATTN_SRC_LINEAR_RUN_H
#define ATTN_SRC_LINEAR_RUN_H

#include <stdint.h>

/* y = x W^T + b; dimensions positive and within BLAS's int. */
void attni_linear_forward_run(const float *x /* (rows, in) */,
                             const float *w /* (out, in) */,
                             const float *b /* (out) or NULL */,
                             float *y /* (rows, out) */, int64_t rows,
                             int64_t in_features, int64_t out_features);

/* dx += dy W, dw += dy^T x, db += column sums of dy; each may be NULL. */
void attni_linear_backward_run(const float *x /* (rows, in) */,
                              const float *w /* (out, in) */,
                              const float *dy /* (rows, out) */,
                              float *dx /* (rows, in) */,
                              float *dw /* (out, in) */,
                              float *db /* (out) */, int64_t rows,
                              int64_t in_features, int64_t out_features);

#endif /* ATTN_SRC_LINEAR_RUN_H */
