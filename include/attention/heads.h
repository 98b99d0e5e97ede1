/* Multi-head split and concat: (B, T, H*dh) <-> (B, H, T, dh). */
#ifndef ATTENTION_HEADS_H
#define ATTENTION_HEADS_H

#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Out of place: y[b, h, t, :] = x[b, t, h*dh : (h+1)*dh] with
 * dh = model_dim / heads. model_dim must be a multiple of heads
 * (else ATTN_ERR_HEAD_MISMATCH); x and y must not overlap.
 * attn_sdpa_desc strides can often read (B, T, H, dh) directly instead.
 */
ATTN_EXPORT attn_status attn_split_heads(
    const float *x,     /* (B, T, E)      E = model_dim */
    float *y,           /* (B, H, T, E/H) */
    int64_t batch, int64_t seq_len, int64_t model_dim, int64_t heads);

/* The inverse of attn_split_heads: x[b, t, h*dh + i] = y[b, h, t, i]. */
ATTN_EXPORT attn_status attn_concat_heads(
    const float *y,     /* (B, H, T, E/H) */
    float *x,           /* (B, T, E)      */
    int64_t batch, int64_t seq_len, int64_t model_dim, int64_t heads);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_HEADS_H */
