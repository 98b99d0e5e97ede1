#include "speed_data.h"

#include "rng.h"

void speed_fill_uniform(float *x, size_t n, uint64_t seed)
{
    bench_rng r;
    bench_rng_seed(&r, seed);
    for (size_t i = 0; i < n; ++i) {
        /* The top 24 bits: an integer below 2^24, exact in float. */
        const float u = (float)(bench_rng_next(&r) >> 40);
        x[i] = u * 0x1p-23f - 1.0f;
    }
}
