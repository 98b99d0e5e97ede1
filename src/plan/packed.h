/* Packed variable-length batches (cu_seqlens): where sequence b's rows
 * start, and how many tensors the layout checks see. */
#ifndef ATTN_SRC_PACKED_H
#define ATTN_SRC_PACKED_H

#include <stdint.h>

#include <attention/sdpa.h>

static inline int attni_packed(const attn_sdpa_desc *d)
{
    return d->cu_seqlens_q != NULL;
}

/* Entry b of a cu_seqlens array of d's index type. */
static inline int64_t attni_seq_offset(const attn_sdpa_desc *d,
                                       const void *cu /* (B + 1) */, int64_t b)
{
    return d->seqlens_type == ATTN_INDEX_INT64 ? ((const int64_t *)cu)[b]
                                               : ((const int32_t *)cu)[b];
}

/* The leading dimension of Q, K, V and out as laid out in memory: one
 * (total, H, last) tensor when packed, else B. */
static inline int64_t attni_tensor_batch(const attn_sdpa_desc *d)
{
    return attni_packed(d) ? 1 : d->batch;
}

#endif /* ATTN_SRC_PACKED_H */
