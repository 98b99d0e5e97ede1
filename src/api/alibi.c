#include <attention/alibi.h>

#include <math.h>
#include <stddef.h>

attn_status attn_alibi_slopes(int64_t heads, float *slopes)
{
    if (slopes == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (heads < 1)
        return ATTN_ERR_BAD_DIMENSION;
    int64_t n = 1;
    while (n * 2 <= heads)
        n *= 2;
    const double m0 = exp2(-8.0 / (double)n), m1 = exp2(-4.0 / (double)n);
    for (int64_t h = 0; h < heads; ++h)
        slopes[h] = (float)(h < n ? pow(m0, (double)(h + 1))
                                  : pow(m1, (double)(2 * (h - n) + 1)));
    return ATTN_OK;
}
