/*
 * Deterministic unit-normal numbers for the bench: xoshiro256** seeded by
 * splitmix64, Marsaglia's polar method for the normals. Only IEEE-754 basic
 * operations, sqrt and frexp are used (the logarithm is computed here, not
 * by libm), so a seed gives the same numbers on every run and every
 * IEEE-754 machine, provided the compiler does not contract a*b+c into an
 * FMA (bench/CMakeLists.txt passes -ffp-contract=off).
 */
#ifndef BENCH_RNG_H
#define BENCH_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct bench_rng {
    uint64_t s[4];
    double spare;       /* the polar method makes normals in pairs */
    int has_spare;
} bench_rng;

void bench_rng_seed(bench_rng *r, uint64_t seed);

/* Uniform 64-bit integer. */
uint64_t bench_rng_next(bench_rng *r);

/* One N(0, 1) sample. */
double bench_rng_normal(bench_rng *r);

/* x[i] = (float)N(0, 1), in order. */
void bench_rng_fill_normal(bench_rng *r, float *x /* (n) */, size_t n);

#endif /* BENCH_RNG_H */
