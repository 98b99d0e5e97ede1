/*
 * Scalar conversions between float and the 16-bit K/V storage types,
 * portable C on the bits (the vectorised loads use the CPU's conversion
 * instructions where the level has them; tile_kernels_body.h). Widening is
 * exact; narrowing rounds to nearest, ties to even, as F16C and
 * AVX512-BF16 do.
 */
#ifndef ATTN_SRC_HALF_H
#define ATTN_SRC_HALF_H

#include <stdint.h>
#include <string.h>

static inline float attni_bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t attni_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float attni_bf16_to_f32(uint16_t h)
{
    return attni_bits_float((uint32_t)h << 16);
}

static inline float attni_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;
    if (em >= 0x7c00u) /* Inf, NaN (payload kept, quiet bit as stored) */
        return attni_bits_float(sign | 0x7f800000u | (em & 0x3ffu) << 13);
    /* Shifted into a float's place the bits read 2^-112 times the value,
     * subnormals included (they become normal floats). */
    return attni_bits_float(sign | attni_float_bits(
                                       attni_bits_float(em << 13) * 0x1p112f));
}

static inline uint16_t attni_f32_to_bf16(float f)
{
    const uint32_t u = attni_float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: keep it one, quietly */
        return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

static inline uint16_t attni_f32_to_f16(float f)
{
    const uint32_t u = attni_float_bits(f);
    const uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) /* NaN */
        return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
    if (a >= 0x477ff000u) /* rounds to 65536 or more: Inf */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) { /* below 2^-14: subnormal or zero */
        /* Adding 0.5 (2^-1) puts the value's subnormal steps (2^-24) at a
         * float's last place, so the FPU rounds to nearest even. */
        const float r = attni_bits_float(a) + 0.5f;
        return (uint16_t)(sign | (attni_float_bits(r) - 0x3f000000u));
    }
    /* Normal: rebias the exponent, round off 13 bits to nearest even. */
    const uint32_t m = a + ((uint32_t)(15 - 127) << 23) + 0xfffu + ((a >> 13) & 1u);
    return (uint16_t)(sign | (m >> 13));
}

#endif /* ATTN_SRC_HALF_H */
