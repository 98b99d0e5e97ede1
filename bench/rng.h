/*
 * The benches' data: xoshiro256** seeded by splitmix64, the same numbers on
 * every run and every IEEE-754 machine. Normals by Marsaglia's polar method
 * with a logarithm of basic operations only (not libm's), provided a*b+c is
 * not contracted into an FMA (bench/CMakeLists.txt: -ffp-contract=off).
 */
#ifndef BENCH_RNG_H
#define BENCH_RNG_H

#include <stddef.h>
#include <stdint.h>

/* x[i] = (float)N(0, 1), in order, from a generator seeded with seed. */
void bench_fill_normal(float *x /* (n) */, size_t n, uint64_t seed);

/* x[i] uniform in [-1, 1) on a grid of 2^-23 (exact floats). */
void bench_fill_uniform(float *x /* (n) */, size_t n, uint64_t seed);

#endif /* BENCH_RNG_H */
