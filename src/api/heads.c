#include <attention/heads.h>

#include <string.h>

#include "plan/layout.h"

/* Shared checks; *dh receives the per-head width. */
static attn_status check_heads(const float *src, const float *dst,
                               int64_t batch, int64_t seq_len,
                               int64_t model_dim, int64_t heads, int64_t *dh)
{
    if (src == NULL || dst == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (batch <= 0 || seq_len <= 0 || model_dim <= 0 || heads <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    if (model_dim % heads != 0)
        return ATTN_ERR_HEAD_MISMATCH;
    size_t n, bytes;
    if (!attni_mul_size((size_t)batch, (size_t)seq_len, &n) ||
        !attni_mul_size(n, (size_t)model_dim, &n) ||
        !attni_mul_size(n, sizeof(float), &bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (attni_ranges_overlap(attni_range_of(src, bytes), attni_range_of(dst, bytes)))
        return ATTN_ERR_ALIASING;
    *dh = model_dim / heads;
    return ATTN_OK;
}

/* Copies each (t, h) slice of width dh between the two layouts. */
static void permute(const float *src, float *dst, int64_t batch,
                    int64_t seq_len, int64_t heads, int64_t dh, int split)
{
    const size_t row = (size_t)dh * sizeof(float);
    for (int64_t b = 0; b < batch; ++b)
        for (int64_t h = 0; h < heads; ++h)
            for (int64_t t = 0; t < seq_len; ++t) {
                const int64_t bth = ((b * seq_len + t) * heads + h) * dh;
                const int64_t bht = ((b * heads + h) * seq_len + t) * dh;
                if (split)
                    memcpy(dst + bht, src + bth, row);
                else
                    memcpy(dst + bth, src + bht, row);
            }
}

attn_status attn_split_heads(const float *x, float *y, int64_t batch,
                             int64_t seq_len, int64_t model_dim, int64_t heads)
{
    int64_t dh;
    attn_status s = check_heads(x, y, batch, seq_len, model_dim, heads, &dh);
    if (s == ATTN_OK)
        permute(x, y, batch, seq_len, heads, dh, 1);
    return s;
}

attn_status attn_concat_heads(const float *y, float *x, int64_t batch,
                              int64_t seq_len, int64_t model_dim, int64_t heads)
{
    int64_t dh;
    attn_status s = check_heads(y, x, batch, seq_len, model_dim, heads, &dh);
    if (s == ATTN_OK)
        permute(y, x, batch, seq_len, heads, dh, 0);
    return s;
}
