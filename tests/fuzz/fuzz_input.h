/*
 * Decoding fuzz bytes: a cursor that hands out small integers and flags
 * and never fails (past the end it yields zeros, so every input, even the
 * empty one, decodes to some case), and a splitmix64 stream for the bulk
 * data, so that a few input bytes select a whole tensor.
 */
#ifndef ATTN_FUZZ_INPUT_H
#define ATTN_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fuzz_input {
    const uint8_t *data;    /* (size) */
    size_t size;
    size_t pos;
} fuzz_input;

void fi_init(fuzz_input *in, const uint8_t *data, size_t size);

/* The next byte, or 0 once the input is used up. */
uint8_t fi_u8(fuzz_input *in);
uint16_t fi_u16(fuzz_input *in);    /* little-endian */
uint64_t fi_u64(fuzz_input *in);    /* little-endian */

/* lo + (next byte, or next 16 bits when hi - lo > 255) mod (hi - lo + 1). */
int64_t fi_range(fuzz_input *in, int64_t lo, int64_t hi);

/* Bytes not read yet. */
size_t fi_left(const fuzz_input *in);

/* splitmix64: deterministic data from a seed taken from the input. */
typedef struct fuzz_rng {
    uint64_t state;
} fuzz_rng;

uint64_t fr_next(fuzz_rng *r);

/* A multiple of 1/64 in [-bound, bound] (bound a multiple of 1/64 too):
 * exact in float, so fused, materialised and reference paths start from
 * identical values and differ only by their own rounding. */
float fr_value(fuzz_rng *r, float bound);

/* 1 with probability p256 / 256 (p256 >= 256: always). */
int fr_chance(fuzz_rng *r, unsigned p256);

#endif /* ATTN_FUZZ_INPUT_H */
