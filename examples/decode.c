/*
 * Decoding against a KV cache, step by step: a grouped-query attention
 * (8 query heads sharing 2 kv heads, head size 64) prefills a 48-token
 * prompt into a cache of 512 positions, then decodes 64 tokens one at a
 * time: each step writes the new token's K and V rows at the cache's
 * length and attends with one query row (the library takes its decoding
 * path: the query heads of a kv head packed, each cache row read once).
 * Every step is checked against recomputing causal attention over all the
 * tokens so far with the general path; the program prints the largest
 * difference and the decoding steps' tokens per second.
 *
 * Contiguous fp32 cache; the paged and half-precision caches of the
 * decoding work are not in the library yet.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <attention/attention.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HQ = 8, HKV = 2, D = 64, CAP = 512, PROMPT = 48, STEPS = 64 };

/* The projections a model would compute, made up: a fixed stream. */
static float next_value(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*state >> 40) / (double)(1u << 24)) * 2.0f - 1.0f;
}

static void token_rows(uint64_t *state, float *q /* (HQ, D) */,
                       float *k /* (HKV, D) */, float *v /* (HKV, D) */)
{
    for (int i = 0; i < HQ * D; ++i)
        q[i] = next_value(state);
    for (int i = 0; i < HKV * D; ++i) {
        k[i] = next_value(state);
        v[i] = next_value(state);
    }
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Attention of rows [first, first + rows) of the queries in q_all against
 * the cache's first `len` positions, bottom-right causal. */
static attn_status attend(const float *q_all /* (HQ, CAP, D) */, int64_t first,
                          int64_t rows, const float *k_cache /* (HKV, CAP, D) */,
                          const float *v_cache, int64_t len, attn_algo algo,
                          float *out /* (HQ, rows, D) */)
{
    attn_sdpa_desc d;
    attn_sdpa_desc_init(&d, 1, HQ, HKV, rows, CAP, D, D);
    const int64_t kv_lens[1] = {len};
    d.kv_lens = kv_lens; /* positions past len are never read */
    d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    d.algo = algo;
    const attn_strides cache = {HKV * CAP * D, CAP * D, D};
    const attn_strides queries = {HQ * CAP * D, CAP * D, D};
    d.k_strides = d.v_strides = cache;
    d.q_strides = queries;
    return attn_sdpa_forward(&d, q_all + first * D, k_cache, v_cache, out,
                             NULL, NULL);
}

int main(void)
{
    float *q_all = calloc((size_t)HQ * CAP * D, sizeof(float));
    float *k_cache = calloc((size_t)HKV * CAP * D, sizeof(float));
    float *v_cache = calloc((size_t)HKV * CAP * D, sizeof(float));
    float *out = malloc((size_t)HQ * CAP * D * sizeof(float));
    float *full = malloc((size_t)HQ * CAP * D * sizeof(float));
    if (!q_all || !k_cache || !v_cache || !out || !full)
        return 1;
    uint64_t state = 2024;
    float q[HQ * D], k[HKV * D], v[HKV * D];

    /* Writes token t's rows into the query history and the cache. */
#define APPEND(t)                                                           \
    do {                                                                    \
        token_rows(&state, q, k, v);                                        \
        for (int h = 0; h < HQ; ++h)                                        \
            memcpy(q_all + ((int64_t)h * CAP + (t)) * D, q + h * D, D * sizeof(float)); \
        for (int h = 0; h < HKV; ++h) {                                     \
            memcpy(k_cache + ((int64_t)h * CAP + (t)) * D, k + h * D, D * sizeof(float)); \
            memcpy(v_cache + ((int64_t)h * CAP + (t)) * D, v + h * D, D * sizeof(float)); \
        }                                                                   \
    } while (0)

    for (int t = 0; t < PROMPT; ++t)
        APPEND(t);
    attn_status s = attend(q_all, 0, PROMPT, k_cache, v_cache, PROMPT,
                           ATTN_ALGO_AUTO, out);
    if (s != ATTN_OK) {
        fprintf(stderr, "prefill: %s\n", attn_strerror(s));
        return 1;
    }

    double worst = 0.0, decode_seconds = 0.0;
    for (int step = 0; step < STEPS; ++step) {
        const int64_t t = PROMPT + step; /* the new token's position */
        APPEND(t);
        const double t0 = now();
        s = attend(q_all, t, 1, k_cache, v_cache, t + 1, ATTN_ALGO_AUTO, out);
        decode_seconds += now() - t0;
        /* The same row from scratch: every token so far, general path. */
        if (s == ATTN_OK)
            s = attend(q_all, 0, t + 1, k_cache, v_cache, t + 1,
                       ATTN_ALGO_FUSED, full);
        if (s != ATTN_OK) {
            fprintf(stderr, "step %d: %s\n", step, attn_strerror(s));
            return 1;
        }
        for (int h = 0; h < HQ; ++h)
            for (int c = 0; c < D; ++c) {
                const double diff = fabs((double)out[h * D + c] -
                                         (double)full[((int64_t)h * (t + 1) + t) * D + c]);
                worst = diff > worst ? diff : worst;
            }
    }
    printf("prefilled %d tokens, decoded %d (cache of %d positions, %d query heads on %d kv heads, d %d)\n",
           PROMPT, STEPS, CAP, HQ, HKV, D);
    printf("largest difference from recomputing every step: %.2e\n", worst);
    printf("decoding: %.0f tokens/s\n", STEPS / decode_seconds);
    free(q_all);
    free(k_cache);
    free(v_cache);
    free(out);
    free(full);
    return worst < 1e-5 ? 0 : 1;
}
