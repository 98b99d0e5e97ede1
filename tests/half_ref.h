/*
 * The test suite's own IEEE binary16 and bfloat16 conversions, written from
 * the formats' definitions and independent of the library's (src/kernels/
 * half.h is internal): decoding builds the value with ldexp, encoding
 * rounds a double to the nearest representable value, ties to even, with
 * rint in double (the default rounding mode). Used to make stored K/V data
 * and the float values the double reference sees (test_kv_cache,
 * fuzz_sdpa).
 *
 * A format here: p significand bits (the implicit one included), the
 * least normal exponent emin, the exponent field's width. binary16:
 * p = 11, emin = -14, 5 bits; bfloat16: p = 8, emin = -126, 8 bits.
 */
#ifndef ATTN_TESTS_HALF_REF_H
#define ATTN_TESTS_HALF_REF_H

#include <math.h>
#include <stdint.h>

typedef struct hr_format {
    int p;          /* significand bits, implicit bit included */
    int emin;       /* least normal exponent */
    int exp_bits;   /* width of the exponent field */
} hr_format;

#define HR_F16 ((hr_format){11, -14, 5})
#define HR_BF16 ((hr_format){8, -126, 8})

/* The value of a 16-bit pattern: ±Inf, NaN (sign kept), or exactly
 * m 2^e with the format's m and e. */
static inline double hr_decode(hr_format f, uint16_t h)
{
    const int m_bits = f.p - 1;
    const unsigned exp_max = (1u << f.exp_bits) - 1;
    const unsigned e = (h >> m_bits) & exp_max;
    const unsigned m = h & ((1u << m_bits) - 1);
    const double sign = (h & 0x8000u) ? -1.0 : 1.0;
    if (e == exp_max)
        return m == 0 ? sign * INFINITY : copysign(NAN, sign);
    if (e == 0) /* zero or subnormal: m 2^(emin - (p - 1)) */
        return sign * ldexp((double)m, f.emin - m_bits);
    return sign * ldexp((double)((1u << m_bits) | m),
                        (int)e - (int)(exp_max >> 1) - m_bits);
}

/* The pattern of the representable value nearest to x (ties to even);
 * beyond the largest finite value by half an ulp or more: ±Inf. NaN gives
 * the quiet NaN with x's sign. */
static inline uint16_t hr_encode(hr_format f, double x)
{
    const int m_bits = f.p - 1;
    const unsigned exp_max = (1u << f.exp_bits) - 1;
    const uint16_t sign = signbit(x) ? 0x8000u : 0;
    const uint16_t inf = (uint16_t)(exp_max << m_bits);
    if (isnan(x))
        return (uint16_t)(sign | inf | (1u << (m_bits - 1)));
    const double a = fabs(x);
    if (a == 0.0)
        return sign;
    if (isinf(a))
        return (uint16_t)(sign | inf);
    int e;
    frexp(a, &e);               /* a = f 2^e, f in [0.5, 1) */
    int q = e - 1;              /* floor(log2 a) */
    if (q < f.emin)
        q = f.emin;             /* subnormals share emin's quantum */
    /* a / quantum is exact (a power of two apart); rint rounds it to
     * nearest, ties to even, and may carry into the next binade. */
    const double n = rint(ldexp(a, m_bits - q));
    const double r = ldexp(n, q - m_bits);
    if (r == 0.0)
        return sign;
    frexp(r, &e);
    const int er = e - 1;
    if (er > (int)(exp_max >> 1))
        return (uint16_t)(sign | inf);
    if (er < f.emin) /* subnormal (or rounded to zero) */
        return (uint16_t)(sign | (uint16_t)ldexp(r, m_bits - f.emin));
    const unsigned field = (unsigned)(er + (int)(exp_max >> 1));
    const unsigned m = (unsigned)ldexp(r, m_bits - er) - (1u << m_bits);
    return (uint16_t)(sign | field << m_bits | m);
}

#endif /* ATTN_TESTS_HALF_REF_H */
