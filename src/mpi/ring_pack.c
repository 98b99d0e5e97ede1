/* Packing between the caller's strided shards and the sub-chunk-major
 * contiguous blocks that travel round the ring and feed the core calls:
 * one sub-chunk is then one contiguous (n0, n1, c, last) tensor. */
#include "ring_internal.h"

#include <string.h>

attn_strides attni_ring_contig(int64_t n1, int64_t n2, int64_t last)
{
    const attn_strides s = {n1 * n2 * last, n2 * last, last};
    return s;
}

/* Offsets of row (i, h, a * c + t) in the strided tensor and in the
 * packed one. */
static int64_t strided_row(attn_strides s, int64_t i, int64_t h, int64_t row)
{
    return i * s.batch + h * s.head + row * s.row;
}

static int64_t packed_row(int64_t n0, int64_t n1, int64_t c, int64_t last,
                          int a, int64_t i, int64_t h, int64_t t)
{
    return (((a * n0 + i) * n1 + h) * c + t) * last;
}

void attni_ring_pack(int64_t n0, int64_t n1, int nsub, int64_t c,
                     int64_t last, const float *src, attn_strides s,
                     float *dst)
{
    for (int a = 0; a < nsub; ++a)
        for (int64_t i = 0; i < n0; ++i)
            for (int64_t h = 0; h < n1; ++h)
                for (int64_t t = 0; t < c; ++t)
                    memcpy(dst + packed_row(n0, n1, c, last, a, i, h, t),
                           src + strided_row(s, i, h, a * c + t),
                           (size_t)last * sizeof(float));
}

void attni_ring_unpack(int64_t n0, int64_t n1, int nsub, int64_t c,
                       int64_t last, const float *src, float *dst,
                       attn_strides s)
{
    for (int a = 0; a < nsub; ++a)
        for (int64_t i = 0; i < n0; ++i)
            for (int64_t h = 0; h < n1; ++h)
                for (int64_t t = 0; t < c; ++t)
                    memcpy(dst + strided_row(s, i, h, a * c + t),
                           src + packed_row(n0, n1, c, last, a, i, h, t),
                           (size_t)last * sizeof(float));
}

void attni_ring_unpack_add(int64_t n0, int64_t n1, int nsub, int64_t c,
                           int64_t last, const float *src, float *dst,
                           attn_strides s)
{
    for (int a = 0; a < nsub; ++a)
        for (int64_t i = 0; i < n0; ++i)
            for (int64_t h = 0; h < n1; ++h)
                for (int64_t t = 0; t < c; ++t) {
                    float *d = dst + strided_row(s, i, h, a * c + t);
                    const float *x = src + packed_row(n0, n1, c, last, a, i, h, t);
                    for (int64_t e = 0; e < last; ++e)
                        d[e] += x[e];
                }
}
