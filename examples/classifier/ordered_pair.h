/* The synthetic task of the classifier example: does token A come before
 * token B? Every sequence holds exactly one A and one B at random
 * positions, so the bag of tokens is the same for both labels and only
 * their order (often far apart) decides. */
#ifndef EXAMPLES_ORDERED_PAIR_H
#define EXAMPLES_ORDERED_PAIR_H

#include <stdint.h>

#define PAIR_TOKEN_A 0
#define PAIR_TOKEN_B 1

typedef struct pair_rng {
    uint64_t state;
} pair_rng;

uint64_t pair_rng_next(pair_rng *rng);                /* splitmix64 */
float pair_rng_uniform(pair_rng *rng, float bound);   /* [-bound, bound) */
int64_t pair_rng_below(pair_rng *rng, int64_t n);     /* [0, n) */

typedef struct pair_dataset {
    int64_t count, seq_len, vocab;
    int32_t *tokens;    /* (count, seq_len) */
    int32_t *labels;    /* (count): 1 when A comes before B */
} pair_dataset;

/* 0 on success, -1 when out of memory or the shape is impossible. */
int pair_dataset_make(pair_dataset *ds, int64_t count, int64_t seq_len,
                      int64_t vocab, pair_rng *rng);
void pair_dataset_free(pair_dataset *ds);

/* One-hot rows of sequences idx[0 .. n): x (n, seq_len, vocab). */
void pair_dataset_one_hot(const pair_dataset *ds, const int64_t *idx /* (n) */,
                          int64_t n, float *x /* (n, seq_len, vocab) */,
                          int32_t *labels /* (n) */);

#endif
