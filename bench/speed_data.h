/* Input data of attention-bench-speed: fixed-seed uniform numbers. */
#ifndef BENCH_SPEED_DATA_H
#define BENCH_SPEED_DATA_H

#include <stddef.h>
#include <stdint.h>

/* x[i] uniform in [-1, 1) on a grid of 2^-23 (exact floats), from
 * bench_rng (xoshiro256**) seeded with `seed`: the same data every run. */
void speed_fill_uniform(float *x /* (n) */, size_t n, uint64_t seed);

#endif /* BENCH_SPEED_DATA_H */
