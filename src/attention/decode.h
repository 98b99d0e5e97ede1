/* The decoding path: few query rows, the query heads of a kv head packed,
 * each K and V row read once (attention/decode.c). Forward only. */
#ifndef ATTN_SRC_DECODE_H
#define ATTN_SRC_DECODE_H

#include "plan/desc.h"

/* Nonzero when the plan's forward may take the decoding path: the
 * library's choice (ATTN_ALGO_AUTO), Tq and the packed rows within the
 * tile policy's bounds. A call asking for the weights takes the fused
 * path instead. */
int attni_decode_applies(const sdpa_plan *p);

/* Its workspace: the chunks' partials shared, one scratch per thread. */
attn_status attni_decode_shape(const sdpa_plan *p, attn_ws_shape *shape);

/* Forward on checked arguments on `threads` threads; lse may be NULL. */
void attni_decode_forward(const sdpa_plan *p, int threads, const float *q,
                          const void *k, const void *v, float *out,
                          float *lse, void *workspace);

#endif /* ATTN_SRC_DECODE_H */
