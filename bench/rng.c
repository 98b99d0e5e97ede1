#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* splitmix64 never yields four zero words, the one bad xoshiro state. */
static void seed_state(uint64_t s[4], uint64_t seed)
{
    for (int i = 0; i < 4; ++i)
        s[i] = splitmix64(&seed);
}

static uint64_t next(uint64_t s[4])
{
    const uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* ln(x), x > 0: x = m 2^e with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(z),
 * z = (m - 1) / (m + 1), |z| < 0.172; twelve terms of the series leave a
 * relative error below 1e-17. */
static double portable_log(double x)
{
    int e;
    double m = frexp(x, &e);        /* exact: m in [1/2, 1) */
    if (m < 0.70710678118654752) {
        m *= 2.0;
        e -= 1;
    }
    const double z = (m - 1.0) / (m + 1.0), z2 = z * z;
    double sum = 0.0;
    for (int k = 23; k >= 1; k -= 2)
        sum = sum * z2 + 1.0 / k;
    return (double)e * 0.69314718055994531 + 2.0 * z * sum;
}

void bench_fill_normal(float *x, size_t n, uint64_t seed)
{
    uint64_t s[4];
    seed_state(s, seed);
    for (size_t i = 0; i < n; i += 2) {
        double u, v, r;
        do {    /* uniform in (-1, 1) on a grid of 2^-52, exact in double */
            u = (double)(next(s) >> 11) * 0x1p-52 - 1.0;
            v = (double)(next(s) >> 11) * 0x1p-52 - 1.0;
            r = u * u + v * v;
        } while (r >= 1.0 || r == 0.0);
        const double f = sqrt(-2.0 * portable_log(r) / r);
        x[i] = (float)(u * f);
        if (i + 1 < n)
            x[i + 1] = (float)(v * f);
    }
}

void bench_fill_uniform(float *x, size_t n, uint64_t seed)
{
    uint64_t s[4];
    seed_state(s, seed);
    for (size_t i = 0; i < n; ++i)  /* the top 24 bits: exact in float */
        x[i] = (float)(next(s) >> 40) * 0x1p-23f - 1.0f;
}
