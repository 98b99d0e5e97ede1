#include "plan/layout.h"

#include <limits.h>

int attni_mul_size(size_t a, size_t b, size_t *r)
{
    if (b != 0 && a > SIZE_MAX / b)
        return 0;
    *r = a * b;
    return 1;
}

int attni_add_size(size_t a, size_t b, size_t *r)
{
    if (a > SIZE_MAX - b)
        return 0;
    *r = a + b;
    return 1;
}

/* Adds (n - 1) * stride to *acc. */
static int add_extent(size_t *acc, int64_t n, int64_t stride)
{
    size_t t;
    return attni_mul_size((size_t)(n - 1), (size_t)stride, &t) &&
           attni_add_size(*acc, t, acc);
}

attn_status attni_span_bytes(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                            attn_strides s, size_t elem_size, size_t *bytes)
{
    size_t e = (size_t)last;
    /* Pointer arithmetic over the span must stay within ptrdiff_t. */
    if ((uint64_t)last > SIZE_MAX || !add_extent(&e, n0, s.batch) ||
        !add_extent(&e, n1, s.head) || !add_extent(&e, n2, s.row) ||
        !attni_mul_size(e, elem_size, bytes) || *bytes > PTRDIFF_MAX)
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

attn_status attni_check_strides(attn_strides s, int64_t rows, int64_t last)
{
    if (s.batch < 0 || s.head < 0 || s.row < 0)
        return ATTN_ERR_BAD_STRIDE;
    if (rows > 1 && s.row < last)
        return ATTN_ERR_BAD_STRIDE;
    return ATTN_OK;
}

int attni_layout_is_injective_n(int dims, const int64_t *n_in,
                                const int64_t *st_in, int64_t last)
{
    int64_t n[ATTN_LAYOUT_MAX_DIMS], st[ATTN_LAYOUT_MAX_DIMS];
    for (int i = 0; i < dims; ++i) {
        n[i] = n_in[i];
        st[i] = st_in[i];
    }
    /* Sort the outer dimensions by stride; each must step past everything
     * spanned by the smaller ones (a sufficient condition). */
    for (int i = 1; i < dims; ++i)
        for (int j = i; j > 0 && st[j] < st[j - 1]; --j) {
            int64_t t = st[j]; st[j] = st[j - 1]; st[j - 1] = t;
            t = n[j]; n[j] = n[j - 1]; n[j - 1] = t;
        }
    int64_t span = last; /* elements covered so far */
    for (int i = 0; i < dims; ++i) {
        if (n[i] == 1)
            continue;
        if (st[i] < span)
            return 0;
        /* Saturating: past INT64_MAX no further stride could step over. */
        span = st[i] != 0 && n[i] - 1 > (INT64_MAX - span) / st[i]
                   ? INT64_MAX
                   : st[i] * (n[i] - 1) + span;
    }
    return 1;
}

int attni_layout_is_injective(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                             attn_strides s)
{
    const int64_t n[3] = {n0, n1, n2};
    const int64_t st[3] = {s.batch, s.head, s.row};
    return attni_layout_is_injective_n(3, n, st, last);
}

attn_range attni_range_of(const void *p, size_t bytes)
{
    attn_range r = {0, 0};
    if (p != NULL) {
        r.begin = (uintptr_t)p;
        r.end = r.begin + bytes;
    }
    return r;
}

int attni_ranges_overlap(attn_range a, attn_range b)
{
    if (a.begin == a.end || b.begin == b.end)
        return 0;
    return a.begin < b.end && b.begin < a.end;
}

int attni_outputs_alias(const attn_range *outputs, size_t n,
                       const attn_range *inputs, size_t m)
{
    for (size_t i = 0; i < n; ++i) {
        for (size_t j = i + 1; j < n; ++j)
            if (attni_ranges_overlap(outputs[i], outputs[j]))
                return 1;
        for (size_t j = 0; j < m; ++j)
            if (attni_ranges_overlap(outputs[i], inputs[j]))
                return 1;
    }
    return 0;
}

/* a * b for positive operands, saturating at INT64_MAX so that absurd
 * shapes fail the later span check instead of overflowing here. */
static int64_t mul_saturating(int64_t a, int64_t b)
{
    if (a <= 0 || b <= 0)
        return 0;
    return a > INT64_MAX / b ? INT64_MAX : a * b;
}

attn_strides attni_contiguous_strides(int64_t n1, int64_t n2, int64_t last)
{
    attn_strides s;
    s.row = last;
    s.head = mul_saturating(n2, last);
    s.batch = mul_saturating(n1, s.head);
    return s;
}
