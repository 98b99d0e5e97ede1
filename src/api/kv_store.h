/*
 * Storing values into a K/V storage type (attention/sdpa.h, kv_dtype):
 * floats with one rounding (half.h), and doubles -- the rotated values of
 * RoPE -- with one rounding too, to nearest even, as if the double were
 * converted straight to the storage type.
 */
#ifndef ATTN_SRC_KV_STORE_H
#define ATTN_SRC_KV_STORE_H

#include <stdint.h>
#include <string.h>

#include <attention/sdpa.h>

#include "kernels/half.h"

/*
 * v rounded to float toward zero, its last bit set when that lost
 * anything ("round to odd"). Rounding that float to a format at least two
 * bits narrower (fp16: 11 bits, bf16: 8, against float's 24, subnormals
 * included) gives exactly the nearest-even rounding of v itself, where
 * (float)v would round twice: a value just above an fp16 tie would land
 * on the tie and then go to even.
 */
static inline float attni_f64_to_f32_odd(double v)
{
    const float f = (float)v;
    if ((double)f == v || v != v) /* exact, or NaN */
        return f;
    uint32_t u = attni_float_bits(f);
    /* Rounded away from zero (Inf included): one step back is the
     * truncation, sign and magnitude being separate bits. */
    if ((double)f > v ? v > 0.0 : v < 0.0)
        u -= 1u;
    return attni_bits_float(u | 1u);
}

/* Element c of a row of `type` values at dst = v, rounded once. */
static inline void attni_store_f64(void *dst, attn_dtype type, int64_t c,
                                   double v)
{
    if (type == ATTN_DTYPE_F32) {
        ((float *)dst)[c] = (float)v;
        return;
    }
    const float odd = attni_f64_to_f32_odd(v);
    ((uint16_t *)dst)[c] = type == ATTN_DTYPE_F16 ? attni_f32_to_f16(odd)
                                                  : attni_f32_to_bf16(odd);
}

/* Elements [c0, c1) of a row of `type` values at dst from x[c0, c1). */
static inline void attni_store_floats(void *dst, attn_dtype type, int64_t c0,
                                      int64_t c1, const float *x)
{
    if (type == ATTN_DTYPE_F32) {
        if (c1 > c0)
            memcpy((float *)dst + c0, x + c0, (size_t)(c1 - c0) * sizeof *x);
        return;
    }
    uint16_t *h = dst;
    if (type == ATTN_DTYPE_F16)
        for (int64_t c = c0; c < c1; ++c)
            h[c] = attni_f32_to_f16(x[c]);
    else
        for (int64_t c = c0; c < c1; ++c)
            h[c] = attni_f32_to_bf16(x[c]);
}

#endif /* ATTN_SRC_KV_STORE_H */
