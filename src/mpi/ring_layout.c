/* Which global rows a rank holds: the contiguous and zigzag layouts, the
 * rows' positions, and the local shard/unshard copies. */
#include "ring_internal.h"

#include <string.h>

int attni_ring_subchunks(attn_ring_layout layout)
{
    return layout == ATTN_RING_ZIGZAG ? 2 : 1;
}

int64_t attni_ring_chunk(attn_ring_layout layout, int world, int rank, int sub)
{
    if (layout == ATTN_RING_ZIGZAG)
        return sub == 0 ? rank : 2 * (int64_t)world - 1 - rank;
    return rank;
}

attn_status attni_ring_check_layout(attn_ring_layout layout, int world,
                                    int rank, int64_t local_len)
{
    if (layout != ATTN_RING_CONTIGUOUS && layout != ATTN_RING_ZIGZAG)
        return ATTN_ERR_BAD_ARGUMENT;
    if (world < 1 || local_len < 1)
        return ATTN_ERR_BAD_DIMENSION;
    if (rank < 0 || rank >= world)
        return ATTN_ERR_BAD_ARGUMENT;
    if (layout == ATTN_RING_ZIGZAG && local_len % 2 != 0)
        return ATTN_ERR_BAD_DIMENSION;
    int64_t total;
    if (attni_ring_mul(world, local_len, &total))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

attn_status attn_ring_positions(attn_ring_layout layout, int world, int rank,
                                int64_t local_len, int64_t *positions)
{
    if (positions == NULL)
        return ATTN_ERR_NULL_POINTER;
    attn_status s = attni_ring_check_layout(layout, world, rank, local_len);
    if (s != ATTN_OK)
        return s;
    const int nsub = attni_ring_subchunks(layout);
    const int64_t c = local_len / nsub;
    for (int a = 0; a < nsub; ++a) {
        const int64_t start = attni_ring_chunk(layout, world, rank, a) * c;
        for (int64_t i = 0; i < c; ++i)
            positions[a * c + i] = start + i;
    }
    return ATTN_OK;
}

void attni_ring_copy_rows(attn_ring_layout layout, int world, int rank,
                          int64_t n0, int64_t n1, int64_t local_len,
                          int64_t last, const float *src, attn_strides ss,
                          float *dst, attn_strides ds, int to_global)
{
    const int nsub = attni_ring_subchunks(layout);
    const int64_t c = local_len / nsub;
    for (int a = 0; a < nsub; ++a) {
        const int64_t g0 = attni_ring_chunk(layout, world, rank, a) * c;
        for (int64_t i = 0; i < n0; ++i)
            for (int64_t h = 0; h < n1; ++h)
                for (int64_t t = 0; t < c; ++t) {
                    const int64_t lrow = a * c + t, grow = g0 + t;
                    const int64_t srow = to_global ? lrow : grow;
                    const int64_t drow = to_global ? grow : lrow;
                    memcpy(dst + i * ds.batch + h * ds.head + drow * ds.row,
                           src + i * ss.batch + h * ss.head + srow * ss.row,
                           (size_t)last * sizeof(float));
                }
    }
}

/* The shared checks of shard and unshard. */
static attn_status check_copy(attn_ring_layout layout, int world, int rank,
                              int64_t n0, int64_t n1, int64_t local_len,
                              int64_t last, const float *src,
                              attn_strides src_s, const float *dst,
                              attn_strides dst_s, int to_global)
{
    if (src == NULL || dst == NULL)
        return ATTN_ERR_NULL_POINTER;
    attn_status s = attni_ring_check_layout(layout, world, rank, local_len);
    if (s != ATTN_OK)
        return s;
    const int64_t global_rows = (int64_t)world * local_len; /* checked above */
    const int64_t src_rows = to_global ? local_len : global_rows;
    const int64_t dst_rows = to_global ? global_rows : local_len;
    if (n0 < 1 || n1 < 1 || last < 1)
        return ATTN_ERR_BAD_DIMENSION;
    if (src_s.row < last || dst_s.row < last)
        return ATTN_ERR_BAD_STRIDE;
    size_t sb, db;
    if ((s = attni_ring_span(n0, n1, src_rows, last, src_s, &sb)) != ATTN_OK ||
        (s = attni_ring_span(n0, n1, dst_rows, last, dst_s, &db)) != ATTN_OK)
        return s;
    if (attni_ring_self_overlap(n0, n1, dst_rows, last, dst_s))
        return ATTN_ERR_BAD_STRIDE;
    const attni_ring_range out = {dst, db}, in = {src, sb};
    if (attni_ring_overlap(&out, 1, &in, 1))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

attn_status attn_ring_shard_rows(attn_ring_layout layout, int world, int rank,
                                 int64_t n0, int64_t n1, int64_t local_len,
                                 int64_t last, const float *global,
                                 attn_strides global_strides, float *local,
                                 attn_strides local_strides)
{
    attn_status s = check_copy(layout, world, rank, n0, n1, local_len, last,
                               global, global_strides, local,
                               local_strides, 0);
    if (s == ATTN_OK)
        attni_ring_copy_rows(layout, world, rank, n0, n1, local_len, last,
                             global, global_strides, local, local_strides, 0);
    return s;
}

attn_status attn_ring_unshard_rows(attn_ring_layout layout, int world,
                                   int rank, int64_t n0, int64_t n1,
                                   int64_t local_len, int64_t last,
                                   const float *local,
                                   attn_strides local_strides, float *global,
                                   attn_strides global_strides)
{
    attn_status s = check_copy(layout, world, rank, n0, n1, local_len, last,
                               local, local_strides, global,
                               global_strides, 1);
    if (s == ATTN_OK)
        attni_ring_copy_rows(layout, world, rank, n0, n1, local_len, last,
                             local, local_strides, global, global_strides, 1);
    return s;
}
