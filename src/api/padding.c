/* Key padding masks as lengths. */
#include <attention/sdpa.h>

#include "plan/layout.h"

/* The length of a row that is keys then padding, or -1. */
static int64_t row_length(const uint8_t *row, int64_t n)
{
    int64_t len = 0;
    while (len < n && row[len] == 0)
        ++len;
    for (int64_t j = len; j < n; ++j)
        if (row[j] == 0)
            return -1;
    return len;
}

attn_status attn_key_padding_lengths(const uint8_t *padding, int64_t batch,
                                     int64_t kv_len, int64_t ld, int64_t *lens)
{
    if (padding == NULL || lens == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (batch <= 0 || kv_len <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    if (ld < kv_len)
        return ATTN_ERR_BAD_STRIDE;
    const attn_strides s = {ld, 0, 0};
    size_t pad_bytes, lens_bytes;
    if (attni_span_bytes(batch, 1, 1, kv_len, s, 1, &pad_bytes) ||
        !attni_mul_size((size_t)batch, sizeof *lens, &lens_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (attni_ranges_overlap(attni_range_of(lens, lens_bytes),
                            attni_range_of(padding, pad_bytes)))
        return ATTN_ERR_ALIASING;
    for (int64_t b = 0; b < batch; ++b)
        if (row_length(padding + b * ld, kv_len) < 0)
            return ATTN_ERR_BAD_ARGUMENT;
    for (int64_t b = 0; b < batch; ++b)
        lens[b] = row_length(padding + b * ld, kv_len);
    return ATTN_OK;
}
