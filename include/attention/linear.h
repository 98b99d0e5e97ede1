/* A fully connected layer, y = x W^T + b, as torch.nn.Linear, over sgemm. */
#ifndef ATTENTION_LINEAR_H
#define ATTENTION_LINEAR_H

#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * y = x W^T + b for `rows` rows. b may be NULL (no bias). y must not
 * overlap x, w or b.
 */
ATTN_EXPORT attn_status attn_linear_forward(
    const float *x,       /* (rows, in_features) */
    const float *w,       /* (out_features, in_features) */
    const float *b,       /* (out_features) or NULL */
    float *y,             /* (rows, out_features) */
    int64_t rows, int64_t in_features, int64_t out_features);

/*
 * Gradients of attn_linear_forward, added (+=) into the outputs, each of
 * which may be NULL to skip it:
 *     dx += dy W,   dw += dy^T x,   db += sum over rows of dy.
 * The outputs must not overlap each other or the inputs.
 */
ATTN_EXPORT attn_status attn_linear_backward(
    const float *x,       /* (rows, in_features) */
    const float *w,       /* (out_features, in_features) */
    const float *dy,      /* (rows, out_features) */
    float *dx,            /* (rows, in_features) += ; or NULL */
    float *dw,            /* (out_features, in_features) += ; or NULL */
    float *db,            /* (out_features) += ; or NULL */
    int64_t rows, int64_t in_features, int64_t out_features);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_LINEAR_H */
