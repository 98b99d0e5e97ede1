/*
 * fuzz_sdpa, the element loops of decoding (sdpa_case.h): data, masks,
 * copies, layout marks and masked rows. Built without coverage, like the
 * checks: the decisions are in sdpa_case.c, these loops only fill.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "sdpa_case.h"

float *sdpa_make_tensor(fz_shape sh, fuzz_rng *r, float bound, int guard)
{
    const size_t n = fz_span(sh);
    float *x = fz_alloc(n * sizeof *x, guard);
    /* Gaps NaN first, then the elements in the order of the layout walk
     * (the same values whatever the strides). */
    for (size_t i = 0; i < n; ++i)
        x[i] = NAN;
    for (int64_t a = 0; a < sh.n0; ++a)
        for (int64_t b = 0; b < sh.n1; ++b)
            for (int64_t t = 0; t < sh.n2; ++t) {
                float *row = x + fz_at(sh, a, b, t, 0);
                for (int64_t i = 0; i < sh.last; ++i)
                    row[i] = fr_value(r, bound);
            }
    return x;
}

uint8_t *sdpa_make_keep(size_t n, fuzz_rng *r, unsigned density, int guard)
{
    uint8_t *keep = fz_alloc(n, guard);
    for (size_t i = 0; i < n; ++i)
        keep[i] = (uint8_t)(fr_chance(r, density) ? 1 + fr_next(r) % 255 : 0);
    return keep;
}

void sdpa_bias_neginf(float *bias, size_t n, fuzz_rng *r, unsigned p256)
{
    if (p256 == 0)
        return;
    for (size_t i = 0; i < n; ++i)
        if (!isnan(bias[i]) && fr_chance(r, p256))
            bias[i] = -INFINITY;
}

/* Modest and finite (bias may also be -INFINITY, a documented mask). */
static int tame(const float *x, fz_shape sh, int allow_neg_inf)
{
    for (int64_t a = 0; a < sh.n0; ++a)
        for (int64_t b = 0; b < sh.n1; ++b)
            for (int64_t t = 0; t < sh.n2; ++t) {
                const float *row = x + fz_at(sh, a, b, t, 0);
                for (int64_t i = 0; i < sh.last; ++i)
                    if (!(fabsf(row[i]) <= 1e6f) &&
                        !(allow_neg_inf && row[i] == -INFINITY))
                        return 0;
            }
    return 1;
}

/* Keys and values past kv_lens[b] are documented as never read: make
 * them NaN, unless the batches share their rows (batch stride 0). */
static void poison_past_kv_lens(const sdpa_case *c, float *x, fz_shape sh)
{
    if (c->d.kv_lens == NULL || (sh.s.batch == 0 && sh.n0 > 1))
        return;
    for (int64_t b = 0; b < sh.n0; ++b)
        for (int64_t h = 0; h < sh.n1; ++h)
            for (int64_t j = c->kv_lens[b]; j < sh.n2; ++j)
                for (int64_t i = 0; i < sh.last; ++i)
                    x[fz_at(sh, b, h, j, i)] = NAN;
}

static float *copy_of(const float *x, size_t n)
{
    if (x == NULL)
        return NULL;
    float *y = malloc(n * sizeof *y);
    FUZZ_REQUIRE(y != NULL);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* Row (b, h, i) sees no key: every key is hidden by causal, kv_lens or
 * keep_mask, or has a -INFINITY bias. */
static int row_masked(const sdpa_case *c, int64_t b, int64_t h, int64_t i)
{
    const attn_sdpa_desc *d = &c->d;
    for (int64_t j = 0; j < d->kv_len; ++j) {
        if (!ref_visible(d, b, h, i, j))
            continue;
        if (c->bias && c->bias[fz_at(c->bias_sh, b, h, i, j)] == -INFINITY)
            continue;
        return 0;
    }
    return 1;
}

void sdpa_case_finish(sdpa_case *c)
{
    const attn_sdpa_desc *d = &c->d;
    c->finite = tame(c->q, c->qs, 0) && tame(c->k, c->ks, 0) &&
                tame(c->v, c->vs, 0) &&
                (c->bias == NULL || tame(c->bias, c->bias_sh, 1));
    c->dout_finite = tame(c->dout, c->os, 0);
    poison_past_kv_lens(c, c->k, c->ks);
    poison_past_kv_lens(c, c->v, c->vs);

    c->q0 = copy_of(c->q, fz_span(c->qs));
    c->k0 = copy_of(c->k, fz_span(c->ks));
    c->v0 = copy_of(c->v, fz_span(c->vs));
    c->bias0 = copy_of(c->bias, fz_span(c->bias_sh));

    c->q_mark = fz_mark_new(c->qs);
    c->k_mark = fz_mark_new(c->ks);
    c->v_mark = fz_mark_new(c->vs);
    c->o_mark = fz_mark_new(c->os);
    c->bias_mark = fz_mark_new(c->bias_sh);

    const size_t rows = (size_t)(d->batch * d->q_heads * d->q_len);
    c->masked = malloc(rows);
    FUZZ_REQUIRE(c->masked != NULL);
    size_t n = 0;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h)
            for (int64_t i = 0; i < d->q_len; ++i)
                c->masked[n++] = (uint8_t)row_masked(c, b, h, i);
}
