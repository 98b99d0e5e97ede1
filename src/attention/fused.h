/* The fused (tiled online-softmax) forward and backward. */
#ifndef ATTN_SRC_FUSED_H
#define ATTN_SRC_FUSED_H

#include <stddef.h>

#include "plan/desc.h"
#include "plan/layout.h"
#include "plan/workspace.h"

/* Workspace of attni_fused_forward with the tiles blas_threads gives. */
attn_status attni_fused_forward_shape(const sdpa_plan *p, int blas_threads,
                                     attn_ws_shape *shape);

/* Forward on checked arguments, with the tiles of p->blas_threads, on
 * `threads` threads that the workspace has room for; weights and lse may
 * be NULL. */
void attni_fused_forward(const sdpa_plan *p, int threads, const float *q,
                        const void *k, const void *v, float *out,
                        float *weights, float *lse, void *workspace);

/* Workspace of attni_fused_backward with the tiles blas_threads gives. */
attn_status attni_fused_backward_shape(const sdpa_plan *p, int blas_threads,
                                      attn_ws_shape *shape);

/* Backward on checked arguments, as the forward; each of dq, dk, dv, dbias
 * may be NULL. */
void attni_fused_backward(const sdpa_plan *p, int threads, const float *q,
                         const float *k, const float *v, const float *out,
                         const float *lse, const float *dout, float *dq,
                         float *dk, float *dv, float *dbias, void *workspace);

#endif /* ATTN_SRC_FUSED_H */
