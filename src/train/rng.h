/* A seeded uniform generator that gives the same numbers on every machine. */
#ifndef ATTN_SRC_RNG_H
#define ATTN_SRC_RNG_H

#include <stdint.h>

typedef struct attn_rng {
    uint64_t state;
} attn_rng;

/* splitmix64: one 64-bit word per call. */
uint64_t attni_rng_next(attn_rng *rng);

/* Uniform in [-bound, bound): the top 24 bits give an exact float step. */
float attni_rng_uniform(attn_rng *rng, float bound);

#endif /* ATTN_SRC_RNG_H */
