/* The materialised (reference) paths, on checked arguments. */
#ifndef ATTN_SRC_MATERIALIZED_H
#define ATTN_SRC_MATERIALIZED_H

#include "plan/desc.h"

/* Forward on `threads` threads with one (ATTN_MATERIALIZED_ROWS, Tk) tile
 * each in the workspace; weights and lse may be NULL. */
void attni_materialized_forward(const sdpa_plan *p, int threads,
                                const float *q, const void *k, const void *v,
                                float *out, float *weights, float *lse,
                                void *workspace);

/* Backward on one thread with two tiles (P, dS) in the workspace; each of
 * dq, dk, dv, dbias may be NULL. */
void attni_materialized_backward(const sdpa_plan *p, const float *q,
                                 const float *k, const float *v,
                                 const float *out, const float *lse,
                                 const float *dout, float *dq, float *dk,
                                 float *dv, float *dbias, void *workspace);

#endif /* ATTN_SRC_MATERIALIZED_H */
