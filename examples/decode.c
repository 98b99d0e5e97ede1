/*
 * Decoding against a paged fp16 KV cache, step by step: a grouped-query
 * attention layer (8 query heads sharing 2 kv heads, head size 64)
 * prefills a 48-token prompt, then decodes 64 tokens one at a time. The
 * cache is a pool of 40 pages of 16 positions in IEEE fp16, handed out in
 * a shuffled order as the sequence grows (a block table maps positions to
 * pages). Each step attn_kv_append stores the new token's K and V rows at
 * the cache's length, rotating K and the query with RoPE (GPT-NeoX
 * convention) at that absolute position, and attn_sdpa_forward attends
 * with the one query row through kv_lens and the bottom-right causal mask
 * (the library takes its decoding path: the query heads of a kv head
 * packed, each cache row read once).
 *
 * Every step is checked against recomputing causal attention over all the
 * tokens so far from scratch, with the general path over an fp32 copy of
 * the rounded cache; the program prints the largest difference and the
 * decoding steps' tokens per second (append and attend).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <attention/attention.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { HQ = 8, HKV = 2, D = 64, CAP = 512, PROMPT = 48, STEPS = 64,
       PAGE = 16, POOL = 40, MAX_PAGES = CAP / PAGE };

/* The projections a model would compute, made up: a fixed stream. */
static float next_value(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*state >> 40) / (double)(1u << 24)) * 2.0f - 1.0f;
}

static void fill(uint64_t *state, float *x, int n)
{
    for (int i = 0; i < n; ++i)
        x[i] = next_value(state);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float half_to_float(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const float v = e == 0 ? ldexpf((float)m, -24) : ldexpf((float)(1024 + m), e - 25);
    return h & 0x8000 ? -v : v; /* no Inf or NaN in this cache */
}

/* The paged cache: pools of POOL pages (POOL, HKV, PAGE, D) of fp16, and
 * the block table of the one sequence. */
typedef struct paged_cache {
    uint16_t k[POOL * HKV * PAGE * D], v[POOL * HKV * PAGE * D];
    int32_t table[MAX_PAGES];
    int32_t free_pages[POOL];   /* shuffled; handed out from the front */
    int pages;                  /* table entries in use */
    int64_t len;                /* positions filled */
} paged_cache;

static void cache_init(paged_cache *c, uint64_t *state)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < POOL; ++i)
        c->free_pages[i] = i;
    for (int i = POOL - 1; i > 0; --i) { /* Fisher-Yates */
        *state = *state * 6364136223846793005ull + 1442695040888963407ull;
        const int j = (int)((*state >> 33) % (uint64_t)(i + 1));
        const int32_t t = c->free_pages[i];
        c->free_pages[i] = c->free_pages[j];
        c->free_pages[j] = t;
    }
}

/* Pages for positions up to len + n - 1. */
static void cache_reserve(paged_cache *c, int64_t n)
{
    for (; (int64_t)c->pages * PAGE < c->len + n; ++c->pages)
        c->table[c->pages] = c->free_pages[c->pages];
}

/* The descriptor of attention over the cache for n new query rows. */
static attn_sdpa_desc cache_desc(paged_cache *c, int64_t n, const int64_t *lens)
{
    attn_sdpa_desc d;
    attn_sdpa_desc_init(&d, 1, HQ, HKV, n, CAP, D, D);
    d.kv_dtype = ATTN_DTYPE_F16;
    d.block_table = c->table;
    d.max_pages = MAX_PAGES;
    d.page_size = PAGE;
    d.num_pages = POOL;
    const attn_strides pool = {HKV * PAGE * D, PAGE * D, D};
    d.k_strides = d.v_strides = pool;
    d.kv_lens = lens;
    d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    return d;
}

/* n new tokens: K and V rows appended (K rotated), q (HQ, n, D) rotated in
 * place, then attention of those n rows over the cache into out. */
static attn_status cache_step(paged_cache *c, const attn_rope *rope, int64_t n,
                              const float *k /* (HKV, n, D) */,
                              const float *v /* (HKV, n, D) */,
                              float *q /* (HQ, n, D) */, float *out /* (HQ, n, D) */)
{
    cache_reserve(c, n);
    int64_t lens[1] = {c->len};
    attn_sdpa_desc d = cache_desc(c, n, lens);
    const attn_strides rows = {HKV * n * D, n * D, D};
    attn_status s = attn_kv_append(&d, k, rows, v, rows, rope, q, c->k, c->v);
    if (s != ATTN_OK)
        return s;
    lens[0] += n; /* the forward sees the new rows */
    c->len = lens[0];
    return attn_sdpa_forward(&d, q, c->k, c->v, out, NULL, NULL);
}

/* The cache's first len positions widened into (HKV, CAP, D) floats. */
static void cache_widen(const paged_cache *c, float *k, float *v)
{
    for (int h = 0; h < HKV; ++h)
        for (int64_t j = 0; j < c->len; ++j) {
            const int64_t at = ((int64_t)c->table[j / PAGE] * HKV + h) * PAGE * D +
                               j % PAGE * D;
            for (int e = 0; e < D; ++e) {
                k[((int64_t)h * CAP + j) * D + e] = half_to_float(c->k[at + e]);
                v[((int64_t)h * CAP + j) * D + e] = half_to_float(c->v[at + e]);
            }
        }
}

/* Causal attention of every token so far from scratch, the general path
 * over contiguous fp32 K and V: out (HQ, len, D). */
static attn_status recompute(const float *q_all /* (HQ, CAP, D) */,
                             const float *k, const float *v, int64_t len,
                             float *out)
{
    attn_sdpa_desc d;
    attn_sdpa_desc_init(&d, 1, HQ, HKV, len, CAP, D, D);
    const int64_t lens[1] = {len};
    d.kv_lens = lens;
    d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    d.algo = ATTN_ALGO_FUSED;
    const attn_strides all = {HQ * CAP * D, CAP * D, D};
    d.q_strides = all;
    return attn_sdpa_forward(&d, q_all, k, v, out, NULL, NULL);
}

/* Largest |a - b| over rows [first, first + n) of out_new (HQ, n, D)
 * against those rows of full (HQ, len, D). */
static double largest_diff(const float *out_new, const float *full, int64_t first,
                           int64_t n, int64_t len)
{
    double worst = 0.0;
    for (int h = 0; h < HQ; ++h)
        for (int64_t i = 0; i < n; ++i)
            for (int e = 0; e < D; ++e) {
                const double diff = fabs((double)out_new[(h * n + i) * D + e] -
                                         (double)full[(h * len + first + i) * D + e]);
                worst = diff > worst ? diff : worst;
            }
    return worst;
}

int main(void)
{
    paged_cache *c = malloc(sizeof *c);
    float *q_all = calloc((size_t)HQ * CAP * D, sizeof(float));
    float *k32 = calloc((size_t)HKV * CAP * D, sizeof(float));
    float *v32 = calloc((size_t)HKV * CAP * D, sizeof(float));
    float *full = malloc((size_t)HQ * CAP * D * sizeof(float));
    float *q = malloc((size_t)HQ * PROMPT * D * sizeof(float));
    float *k = malloc((size_t)HKV * PROMPT * D * sizeof(float));
    float *v = malloc((size_t)HKV * PROMPT * D * sizeof(float));
    float *out = malloc((size_t)HQ * PROMPT * D * sizeof(float));
    if (!c || !q_all || !k32 || !v32 || !full || !q || !k || !v || !out)
        return 1;
    uint64_t state = 2024;
    cache_init(c, &state);
    const attn_rope rope = {ATTN_ROPE_NEOX, D, 10000.0, NULL, NULL, 0};

    double worst = 0.0, decode_seconds = 0.0;
    for (int step = -1; step < STEPS; ++step) {
        /* Step -1 is the prompt; then one token at a time. */
        const int64_t first = c->len, n = step < 0 ? PROMPT : 1;
        fill(&state, q, (int)(HQ * n * D));
        fill(&state, k, (int)(HKV * n * D));
        fill(&state, v, (int)(HKV * n * D));
        const double t0 = now();
        attn_status s = cache_step(c, &rope, n, k, v, q, out);
        if (step >= 0)
            decode_seconds += now() - t0;
        /* The rotated queries join the history; all of it from scratch. */
        for (int h = 0; h < HQ; ++h)
            memcpy(q_all + ((int64_t)h * CAP + first) * D, q + h * n * D,
                   (size_t)(n * D) * sizeof(float));
        cache_widen(c, k32, v32);
        if (s == ATTN_OK)
            s = recompute(q_all, k32, v32, c->len, full);
        if (s != ATTN_OK) {
            fprintf(stderr, "step %d: %s\n", step, attn_strerror(s));
            return 1;
        }
        const double diff = largest_diff(out, full, first, n, c->len);
        worst = diff > worst ? diff : worst;
    }
    printf("prefilled %d tokens, decoded %d into a paged fp16 cache (%d of %d pages "
           "of %d positions, shuffled; %d query heads on %d kv heads, d %d, RoPE NeoX)\n",
           PROMPT, STEPS, c->pages, POOL, PAGE, HQ, HKV, D);
    printf("largest difference from recomputing every step: %.2e\n", worst);
    printf("decoding (append + attend): %.0f tokens/s\n", STEPS / decode_seconds);
    free(c);
    free(q_all);
    free(k32);
    free(v32);
    free(full);
    free(q);
    free(k);
    free(v);
    free(out);
    return worst < 1e-5 ? 0 : 1;
}
