/*
 * ALiBi (Press et al., "Train Short, Test Long", 2022): the standard
 * per-head slopes for attn_sdpa_desc.alibi_slopes.
 */
#ifndef ATTENTION_ALIBI_H
#define ATTENTION_ALIBI_H

#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The slopes of `heads` heads, as in the ALiBi paper and ggml with
 * max_bias 8: with n = 2^floor(log2 heads), m0 = 2^(-8/n) and
 * m1 = 2^(-4/n), head h < n gets m0^(h + 1) and head h >= n gets
 * m1^(2 (h - n) + 1). Computed in double, rounded once.
 * ATTN_ERR_NULL_POINTER, ATTN_ERR_BAD_DIMENSION (heads < 1).
 */
ATTN_EXPORT attn_status attn_alibi_slopes(int64_t heads,
                                          float *slopes /* (heads) */);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_ALIBI_H */
