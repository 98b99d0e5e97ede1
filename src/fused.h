/* The fused (tiled online-softmax) forward and backward. */
#ifndef ATTN_SRC_FUSED_H
#define ATTN_SRC_FUSED_H

#include <stddef.h>

#include "blocks.h"
#include "desc.h"
#include "layout.h"

/* Largest query tile attn_fused_blocks picks: sizes per-row stack arrays. */
#define ATTN_FUSED_MAX_BQ 512

/* Workspace of attn_fused_forward on `threads` threads. */
attn_status attn_fused_forward_workspace(const sdpa_plan *p, int threads,
                                         size_t *bytes);

/* Forward on checked arguments; weights and lse may be NULL. */
void attn_fused_forward(const sdpa_plan *p, int threads, const float *q,
                        const float *k, const float *v, float *out,
                        float *weights, float *lse, void *workspace);

/* Workspace of attn_fused_backward on `threads` threads. */
attn_status attn_fused_backward_workspace(const sdpa_plan *p, int threads,
                                          size_t *bytes);

/* Backward on checked arguments; each of dq, dk, dv, dbias may be NULL. */
void attn_fused_backward(const sdpa_plan *p, int threads, const float *q,
                         const float *k, const float *v, const float *out,
                         const float *lse, const float *dout, float *dq,
                         float *dk, float *dv, float *dbias, void *workspace);

#endif /* ATTN_SRC_FUSED_H */
