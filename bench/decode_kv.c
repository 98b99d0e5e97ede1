/* attention-bench-decode's data: K/V caches in each storage type and
 * layout, filled in parallel from a counter-based generator (so every
 * layout holds the same logical values and the reference can recompute
 * them), the paged layout's block table, and a double-precision reference
 * of a few heads to check the library's answers against. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <attention/sdpa.h>

#include "decode.h"

#include "kernels/half.h" /* the library's roundings, header-only */

/* splitmix64's i-th output of a stream seeded with seed. */
static inline uint64_t mix(uint64_t seed, uint64_t i)
{
    uint64_t z = seed + (i + 1) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A 24-bit signed integer over 2^23: exact in a float. */
static inline float unit(uint64_t bits24)
{
    return (float)((int32_t)bits24 - (1 << 23)) * 0x1p-23f;
}

/* Elements 2m and 2m + 1 come from bits 40..63 and 8..31 of output m. */
static inline float value(uint64_t seed, uint64_t i)
{
    const uint64_t z = mix(seed, i >> 1);
    return unit(i & 1 ? (z >> 8) & 0xffffffu : z >> 40);
}

float dec_value(uint64_t seed, uint64_t i)
{
    return value(seed, i);
}

/* x as stored (fp32, or rounded to 16 bits and widened back). */
static inline float stored(int storage, float x)
{
    return storage == ATTN_DTYPE_F16    ? attni_f16_to_f32(attni_f32_to_f16(x))
           : storage == ATTN_DTYPE_BF16 ? attni_bf16_to_f32(attni_f32_to_bf16(x))
                                        : x;
}

size_t dec_storage_size(int storage)
{
    return storage == ATTN_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

/* Logical row `row` of stream seed (d elements from row * d) into dst at
 * element offset at, in the storage type. */
/* Logical row `row` of stream seed (d elements from row * d, d even) into
 * dst at element offset at, in the storage type. */
static void put_row(void *dst, size_t at, int storage, uint64_t seed,
                    uint64_t row, int64_t d)
{
    const uint64_t m0 = row * (uint64_t)d / 2;
    for (int64_t c = 0; c < d; c += 2) {
        const uint64_t z = mix(seed, m0 + (uint64_t)c / 2);
        const float a = unit(z >> 40), b = unit((z >> 8) & 0xffffffu);
        if (storage == ATTN_DTYPE_F32) {
            ((float *)dst)[at + (size_t)c] = a;
            ((float *)dst)[at + (size_t)c + 1] = b;
        } else if (storage == ATTN_DTYPE_F16) {
            ((uint16_t *)dst)[at + (size_t)c] = attni_f32_to_f16(a);
            ((uint16_t *)dst)[at + (size_t)c + 1] = attni_f32_to_f16(b);
        } else {
            ((uint16_t *)dst)[at + (size_t)c] = attni_f32_to_bf16(a);
            ((uint16_t *)dst)[at + (size_t)c + 1] = attni_f32_to_bf16(b);
        }
    }
}

int dec_token_major = 0;

void dec_fill_kv(const dec_shape *s, int storage, int layout,
                 const int32_t *block_table, void *k, void *v, uint64_t seed_k,
                 uint64_t seed_v, int threads)
{
    const int64_t d = s->d, hkv = s->hkv, tk = s->tk;
    (void)threads;
    if (layout == CONTIG) {
        const int64_t rows = s->b * hkv * tk;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
        for (int64_t r = 0; r < rows; ++r) {
            put_row(k, (size_t)(r * d), storage, seed_k, (uint64_t)r, d);
            put_row(v, (size_t)(r * d), storage, seed_v, (uint64_t)r, d);
        }
        return;
    }
    /* Paged: slot p of the pool holds page blk of batch b where
     * block_table[b * max_pages + blk] = p. */
    const int64_t max_pages = (tk + PAGE - 1) / PAGE;
    const int64_t pages = s->b * max_pages;
    int64_t *owner = malloc((size_t)pages * sizeof *owner);
    if (owner == NULL) {
        fprintf(stderr, DPROG ": out of memory\n");
        exit(1);
    }
    for (int64_t i = 0; i < pages; ++i)
        owner[block_table[i]] = i;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (int64_t p = 0; p < pages; ++p) {
        const int64_t b = owner[p] / max_pages, blk = owner[p] % max_pages;
        for (int64_t r = 0; r < PAGE && blk * PAGE + r < tk; ++r)
            for (int64_t h = 0; h < hkv; ++h) {
                const uint64_t row =
                    (uint64_t)((b * hkv + h) * tk + blk * PAGE + r);
                const size_t at = (size_t)(dec_token_major
                                               ? ((p * PAGE + r) * hkv + h) * d
                                               : ((p * hkv + h) * PAGE + r) * d);
                put_row(k, at, storage, seed_k, row, d);
                put_row(v, at, storage, seed_v, row, d);
            }
    }
    free(owner);
}

void dec_block_table(const dec_shape *s, int32_t *table, uint64_t seed)
{
    const int64_t n = s->b * ((s->tk + PAGE - 1) / PAGE);
    for (int64_t i = 0; i < n; ++i)
        table[i] = (int32_t)i;
    for (int64_t i = n - 1; i > 0; --i) { /* Fisher-Yates */
        const int64_t j = (int64_t)(mix(seed, (uint64_t)i) % (uint64_t)(i + 1));
        const int32_t t = table[i];
        table[i] = table[j];
        table[j] = t;
    }
}

void dec_reference(const dec_shape *s, int storage, float scale, const float *q,
                   int64_t b, int64_t hq, uint64_t seed_k, uint64_t seed_v,
                   double *out, double *mag)
{
    const int64_t d = s->d, tq = s->tq, tk = s->tk;
    const int64_t h = hq / (s->hq / s->hkv);
    const uint64_t row0 = (uint64_t)((b * s->hkv + h) * tk);
    const float *qb = q + (b * s->hq + hq) * tq * d;
    double *sc = malloc((size_t)(tq * tk) * sizeof *sc);
    double *kv = malloc((size_t)d * sizeof *kv);
    double mx[16], sum[16];
    if (sc == NULL || kv == NULL || tq > 16) {
        fprintf(stderr, DPROG ": out of memory\n");
        exit(1);
    }
    /* Query i sees keys j <= i + Tk - Tq (bottom-right causal). */
    for (int64_t i = 0; i < tq; ++i)
        mx[i] = -INFINITY, sum[i] = 0.0;
    for (int64_t j = 0; j < tk; ++j) {
        for (int64_t c = 0; c < d; ++c)
            kv[c] = stored(storage,
                           value(seed_k, (row0 + (uint64_t)j) * (uint64_t)d +
                                             (uint64_t)c));
        for (int64_t i = 0; i < tq; ++i) {
            double dot = 0.0;
            for (int64_t c = 0; c < d; ++c)
                dot += (double)qb[i * d + c] * kv[c];
            sc[i * tk + j] = (double)scale * dot;
            if (j <= i + tk - tq && sc[i * tk + j] > mx[i])
                mx[i] = sc[i * tk + j];
        }
    }
    memset(out, 0, (size_t)(tq * d) * sizeof *out);
    memset(mag, 0, (size_t)(tq * d) * sizeof *mag);
    for (int64_t j = 0; j < tk; ++j) {
        for (int64_t c = 0; c < d; ++c)
            kv[c] = stored(storage,
                           value(seed_v, (row0 + (uint64_t)j) * (uint64_t)d +
                                             (uint64_t)c));
        for (int64_t i = 0; i < tq; ++i) {
            if (j > i + tk - tq)
                continue;
            const double p = exp(sc[i * tk + j] - mx[i]);
            sum[i] += p;
            for (int64_t c = 0; c < d; ++c) {
                out[i * d + c] += p * kv[c];
                mag[i * d + c] += p * fabs(kv[c]);
            }
        }
    }
    for (int64_t i = 0; i < tq; ++i)
        for (int64_t c = 0; c < d; ++c) {
            out[i * d + c] /= sum[i];
            mag[i * d + c] /= sum[i];
        }
    free(sc);
    free(kv);
}
