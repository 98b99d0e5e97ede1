/* numpy's RandomState normals (numpy/random/src/legacy and mt19937), in
 * the same order of operations, so the doubles are bit-identical. */
#include "np_random.h"

#include <math.h>

enum { N = 624, M = 397 };

void np_random_seed(np_random *r, uint32_t seed)
{
    for (int i = 0; i < N; ++i) {
        r->mt[i] = seed;
        seed = 1812433253u * (seed ^ (seed >> 30)) + (uint32_t)i + 1u;
    }
    r->pos = N;
    r->has_gauss = 0;
    r->gauss = 0.0;
}

static uint32_t next32(np_random *r)
{
    if (r->pos == N) {      /* regenerate the whole state */
        for (int i = 0; i < N; ++i) {
            const uint32_t y = (r->mt[i] & 0x80000000u) |
                               (r->mt[(i + 1) % N] & 0x7fffffffu);
            r->mt[i] = r->mt[(i + M) % N] ^ (y >> 1) ^ (y & 1u ? 0x9908b0dfu : 0u);
        }
        r->pos = 0;
    }
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* 53 random bits in [0, 1), as numpy's random_double. */
static double next_double(np_random *r)
{
    const uint32_t a = next32(r) >> 5, b = next32(r) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

static double gauss(np_random *r)
{
    if (r->has_gauss) {
        r->has_gauss = 0;
        return r->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * next_double(r) - 1.0;
        x2 = 2.0 * next_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    const double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}

void np_random_randn(np_random *r, float *x, int n)
{
    for (int i = 0; i < n; ++i)
        x[i] = (float)gauss(r);
}
