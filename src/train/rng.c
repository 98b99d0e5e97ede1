#include "train/rng.h"

uint64_t attni_rng_next(attn_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float attni_rng_uniform(attn_rng *rng, float bound)
{
    /* u in [0, 1) with 24 random bits: exactly representable, so the
     * result does not depend on the machine's rounding mode or FMA. */
    const float u = (float)(attni_rng_next(rng) >> 40) * 0x1.0p-24f;
    return (2.0f * u - 1.0f) * bound;
}
