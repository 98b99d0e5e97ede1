#include "ordered_pair.h"

#include <stdlib.h>
#include <string.h>

uint64_t pair_rng_next(pair_rng *rng)
{
    uint64_t z = (rng->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float pair_rng_uniform(pair_rng *rng, float bound)
{
    const float u = (float)(pair_rng_next(rng) >> 40) * 0x1.0p-24f;
    return (2.0f * u - 1.0f) * bound;
}

int64_t pair_rng_below(pair_rng *rng, int64_t n)
{
    return (int64_t)(pair_rng_next(rng) % (uint64_t)n);
}

int pair_dataset_make(pair_dataset *ds, int64_t count, int64_t seq_len,
                      int64_t vocab, pair_rng *rng)
{
    memset(ds, 0, sizeof *ds);
    if (count <= 0 || seq_len < 2 || vocab < 3)
        return -1;
    ds->tokens = malloc((size_t)(count * seq_len) * sizeof *ds->tokens);
    ds->labels = malloc((size_t)count * sizeof *ds->labels);
    if (ds->tokens == NULL || ds->labels == NULL) {
        pair_dataset_free(ds);
        return -1;
    }
    ds->count = count;
    ds->seq_len = seq_len;
    ds->vocab = vocab;
    for (int64_t n = 0; n < count; ++n) {
        int32_t *seq = ds->tokens + n * seq_len;
        for (int64_t t = 0; t < seq_len; ++t)   /* fillers: tokens 2 .. vocab-1 */
            seq[t] = (int32_t)(2 + pair_rng_below(rng, vocab - 2));
        const int64_t a = pair_rng_below(rng, seq_len);
        int64_t b = pair_rng_below(rng, seq_len - 1);
        if (b >= a)
            ++b;
        seq[a] = PAIR_TOKEN_A;
        seq[b] = PAIR_TOKEN_B;
        ds->labels[n] = a < b;
    }
    return 0;
}

void pair_dataset_free(pair_dataset *ds)
{
    free(ds->tokens);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

void pair_dataset_one_hot(const pair_dataset *ds, const int64_t *idx,
                          int64_t n, float *x, int32_t *labels)
{
    const int64_t T = ds->seq_len, V = ds->vocab;
    memset(x, 0, (size_t)(n * T * V) * sizeof *x);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t *seq = ds->tokens + idx[i] * T;
        for (int64_t t = 0; t < T; ++t)
            x[(i * T + t) * V + seq[t]] = 1.0f;
        labels[i] = ds->labels[idx[i]];
    }
}
