/* Checked sizes, byte spans and overlap tests of strided tensors: the
 * ring calls check their own outputs, since the core only sees the
 * internal buffers. */
#include <stdlib.h>

#include "ring_internal.h"

#include <stdint.h>

int attni_ring_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || (a != 0 && b > INT64_MAX / a))
        return 1;
    *out = a * b;
    return 0;
}

attn_status attni_ring_span(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                            attn_strides s, size_t *bytes)
{
    if (s.batch < 0 || s.head < 0 || s.row < 0)
        return ATTN_ERR_BAD_STRIDE;
    int64_t a, b, c, e;
    if (attni_ring_mul(n0 - 1, s.batch, &a) || attni_ring_mul(n1 - 1, s.head, &b) ||
        attni_ring_mul(n2 - 1, s.row, &c))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (a > INT64_MAX - b || a + b > INT64_MAX - c || a + b + c > INT64_MAX - last)
        return ATTN_ERR_SIZE_OVERFLOW;
    e = a + b + c + last;
    if ((uint64_t)e > SIZE_MAX / sizeof(float) ||
        (uint64_t)e > (uint64_t)PTRDIFF_MAX / sizeof(float))
        return ATTN_ERR_SIZE_OVERFLOW;
    *bytes = (size_t)e * sizeof(float);
    return ATTN_OK;
}

static int ranges_meet(attni_ring_range x, attni_ring_range y)
{
    if (x.p == NULL || y.p == NULL || x.n == 0 || y.n == 0)
        return 0;
    const uintptr_t a = (uintptr_t)x.p, b = (uintptr_t)y.p;
    return a < b + y.n && b < a + x.n;
}

int attni_ring_overlap(const attni_ring_range *outs, int n_outs,
                       const attni_ring_range *ins, int n_ins)
{
    for (int i = 0; i < n_outs; ++i) {
        for (int j = i + 1; j < n_outs; ++j)
            if (ranges_meet(outs[i], outs[j]))
                return 1;
        for (int j = 0; j < n_ins; ++j)
            if (ranges_meet(outs[i], ins[j]))
                return 1;
    }
    return 0;
}

int attni_ring_self_overlap(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                            attn_strides s)
{
    /* Sort the dimensions that have more than one index by stride; each
     * stride must reach past the extent of the smaller ones. */
    int64_t n[3] = {n0, n1, n2}, st[3] = {s.batch, s.head, s.row};
    for (int i = 0; i < 3; ++i)
        for (int j = i + 1; j < 3; ++j)
            if (st[j] < st[i]) {
                int64_t t = st[i]; st[i] = st[j]; st[j] = t;
                t = n[i]; n[i] = n[j]; n[j] = t;
            }
    int64_t extent = last; /* elements covered by the dimensions so far */
    for (int i = 0; i < 3; ++i) {
        if (n[i] <= 1)
            continue;
        if (st[i] < extent)
            return 1;
        extent = st[i] * (n[i] - 1) + extent;
    }
    return 0;
}

void *attni_ring_alloc(int64_t n, size_t size)
{
    return malloc(n > 0 ? (size_t)n * size : 1);
}
