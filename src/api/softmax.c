#include <attention/softmax.h>

#include <math.h>
#include <string.h>

#include "plan/layout.h"
#include "api/softmax_row.h"

float attni_softmax_row(float *x, int64_t n)
{
    float m = -INFINITY;
    for (int64_t j = 0; j < n; ++j)
        if (x[j] > m) /* false for NaN: NaN is caught below or in the sum */
            m = x[j];
    if (m == -INFINITY) {
        for (int64_t j = 0; j < n; ++j)
            if (isnan(x[j])) {
                for (int64_t i = 0; i < n; ++i)
                    x[i] = NAN;
                return NAN;
            }
        memset(x, 0, (size_t)n * sizeof *x);
        return -INFINITY;
    }
    /* Double accumulation keeps the sum exact to float rounding for any n. */
    double sum = 0.0;
    for (int64_t j = 0; j < n; ++j) {
        x[j] = expf(x[j] - m);
        sum += x[j];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t j = 0; j < n; ++j)
        x[j] *= inv;
    return m + (float)log(sum);
}

attn_status attn_softmax_rows(float *x, int64_t rows, int64_t cols,
                              int64_t ld, float *lse)
{
    if (x == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (rows <= 0 || cols <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    if (ld < cols && rows > 1)
        return ATTN_ERR_BAD_STRIDE;
    /* The span (rows - 1) * ld + cols must be addressable. */
    const uint64_t max_elems = SIZE_MAX / sizeof(float);
    if ((uint64_t)cols > max_elems ||
        (uint64_t)(rows - 1) > (max_elems - (uint64_t)cols) /
                                   (uint64_t)(ld > 0 ? ld : 1))
        return ATTN_ERR_SIZE_OVERFLOW;
    size_t x_bytes = ((size_t)(rows - 1) * (size_t)ld + (size_t)cols) *
                     sizeof(float);
    if (attni_ranges_overlap(attni_range_of(x, x_bytes),
                            attni_range_of(lse, (size_t)rows * sizeof(float))))
        return ATTN_ERR_ALIASING;
    for (int64_t r = 0; r < rows; ++r) {
        float l = attni_softmax_row(x + r * ld, cols);
        if (lse != NULL)
            lse[r] = l;
    }
    return ATTN_OK;
}
