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

void bench_rng_seed(bench_rng *r, uint64_t seed)
{
    /* splitmix64 never yields four zero words, the one bad xoshiro state. */
    for (int i = 0; i < 4; ++i)
        r->s[i] = splitmix64(&seed);
    r->spare = 0.0;
    r->has_spare = 0;
}

uint64_t bench_rng_next(bench_rng *r)
{
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in (-1, 1) on a grid of 2^-52; exact in double. */
static double uniform_pm1(bench_rng *r)
{
    return (double)(bench_rng_next(r) >> 11) * 0x1p-52 - 1.0;
}

/*
 * ln(x) for x > 0 from basic operations only, so that it does not depend on
 * the libm at hand: x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
 * ln m = 2 atanh(z), z = (m - 1) / (m + 1), |z| < 0.172. Twelve terms of the
 * atanh series leave a relative error below 1e-17.
 */
static double portable_log(double x)
{
    int e;
    double m = frexp(x, &e);        /* exact: m in [1/2, 1) */
    if (m < 0.70710678118654752) {
        m *= 2.0;
        e -= 1;
    }
    const double z = (m - 1.0) / (m + 1.0);
    const double z2 = z * z;
    double sum = 0.0;
    for (int k = 23; k >= 1; k -= 2)
        sum = sum * z2 + 1.0 / k;
    return (double)e * 0.69314718055994531 + 2.0 * z * sum;
}

double bench_rng_normal(bench_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u, v, s;
    do {
        u = uniform_pm1(r);
        v = uniform_pm1(r);
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = sqrt(-2.0 * portable_log(s) / s);
    r->spare = v * f;
    r->has_spare = 1;
    return u * f;
}

void bench_rng_fill_normal(bench_rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)bench_rng_normal(r);
}
