/*
 * fuzz_sdpa, the element loops of decoding (sdpa_case.h): data, masks,
 * copies, layout marks and masked rows. Built without coverage, like the
 * checks: the decisions are in sdpa_case.c, these loops only fill.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "half_ref.h"
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

static hr_format format_of(attn_dtype t)
{
    return t == ATTN_DTYPE_F16 ? HR_F16 : HR_BF16;
}

/* Every float of the span (gaps too: NaN stays NaN) rounded to the
 * storage type. */
static void round_span(float *x, size_t n, attn_dtype t)
{
    if (t == ATTN_DTYPE_F32)
        return;
    const hr_format f = format_of(t);
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)hr_decode(f, hr_encode(f, x[i]));
}

/* *x becomes a dense (n0, n1, n2, last) copy of itself. */
static void densify(float **x, fz_shape *sh, int guard)
{
    const fz_shape dense = fz_dense(sh->n0, sh->n1, sh->n2, sh->last);
    float *y = fz_alloc(fz_span(dense) * sizeof *y, guard);
    for (int64_t a = 0; a < sh->n0; ++a)
        for (int64_t b = 0; b < sh->n1; ++b)
            for (int64_t t = 0; t < sh->n2; ++t)
                memcpy(y + fz_at(dense, a, b, t, 0), *x + fz_at(*sh, a, b, t, 0),
                       (size_t)sh->last * sizeof *y);
    fz_free(*x);
    *x = y;
    *sh = dense;
}

/* The pool (shape ps) of the dense tensor x along the table: the first
 * used key to land on a pool element writes it, a later one takes its
 * value (x then still holds what the pages hold); the rest stays NaN. */
static float *pool_of(const sdpa_case *c, float *x, fz_shape xs, fz_shape ps,
                      int guard)
{
    const attn_sdpa_desc *l = &c->lib;
    const size_t n = fz_span(ps);
    float *pool = fz_alloc(n * sizeof *pool, guard);
    uint8_t *written = calloc(n, 1);
    FUZZ_REQUIRE(written != NULL);
    for (size_t i = 0; i < n; ++i)
        pool[i] = NAN;
    for (int64_t b = 0; b < xs.n0; ++b)
        for (int64_t j = 0; j < sdpa_used_keys(c, b); ++j) {
            const int64_t page = l->block_table[b * l->max_pages + j / l->page_size];
            for (int64_t h = 0; h < xs.n1; ++h)
                for (int64_t e = 0; e < xs.last; ++e) {
                    const int64_t at = fz_at(ps, page, h, j % l->page_size, e);
                    float *src = x + fz_at(xs, b, h, j, e);
                    if (written[at])
                        *src = pool[at];
                    else
                        pool[at] = *src;
                    written[at] = 1;
                }
        }
    free(written);
    return pool;
}

/* The stored form of n floats: themselves (fp32: the buffer is kept) or
 * their 16-bit patterns. */
static void *stored(float *x, size_t n, attn_dtype t, int guard, size_t *bytes)
{
    if (t == ATTN_DTYPE_F32) {
        *bytes = n * sizeof *x;
        return x;
    }
    const hr_format f = format_of(t);
    uint16_t *y = fz_alloc(n * sizeof *y, guard);
    for (size_t i = 0; i < n; ++i)
        y[i] = hr_encode(f, x[i]);
    *bytes = n * sizeof *y;
    return y;
}

static void *copy_bytes(const void *x, size_t n)
{
    if (x == NULL)
        return NULL;
    void *y = malloc(n);
    FUZZ_REQUIRE(y != NULL);
    memcpy(y, x, n);
    return y;
}

/* The pools of a paged case (NULL otherwise), after rounding K and V to
 * the storage type. Made before the NaN past kv_lens: they hold the used
 * rows only. */
typedef struct kv_pools {
    float *k, *v;
} kv_pools;

static kv_pools round_and_page(sdpa_case *c)
{
    const int guard = (c->flags & FLAG_GUARD) != 0;
    kv_pools p = {NULL, NULL};
    round_span(c->k, fz_span(c->ks), c->lib.kv_dtype);
    round_span(c->v, fz_span(c->vs), c->lib.kv_dtype);
    if (c->lib.block_table == NULL)
        return p;
    densify(&c->k, &c->ks, guard);
    densify(&c->v, &c->vs, guard);
    c->d.k_strides = c->ks.s;
    c->d.v_strides = c->vs.s;
    p.k = pool_of(c, c->k, c->ks, c->kp, guard);
    p.v = pool_of(c, c->v, c->vs, c->vp, guard);
    return p;
}

/* What the forward reads: the pools, or 16-bit copies of K and V made
 * after the NaN past kv_lens (they carry it), or K and V themselves. */
static void store_cache(sdpa_case *c, kv_pools p)
{
    const int guard = (c->flags & FLAG_GUARD) != 0;
    const attn_dtype t = c->lib.kv_dtype;
    if (p.k) {
        c->kx = stored(p.k, fz_span(c->kp), t, guard, &c->kx_bytes);
        c->vx = stored(p.v, fz_span(c->vp), t, guard, &c->vx_bytes);
        if (c->kx != p.k)
            fz_free(p.k);
        if (c->vx != p.v)
            fz_free(p.v);
    } else if (t != ATTN_DTYPE_F32) {
        c->kx = stored(c->k, fz_span(c->ks), t, guard, &c->kx_bytes);
        c->vx = stored(c->v, fz_span(c->vs), t, guard, &c->vx_bytes);
    }
    c->lib_k = c->kx ? c->kx : c->k;
    c->lib_v = c->vx ? c->vx : c->v;
    c->kx0 = copy_bytes(c->kx, c->kx_bytes);
    c->vx0 = copy_bytes(c->vx, c->vx_bytes);
    c->table0 = copy_bytes(c->table, c->table_n * sizeof *c->table);
}

void sdpa_case_finish(sdpa_case *c)
{
    const attn_sdpa_desc *d = &c->d;
    const kv_pools pools = round_and_page(c);
    c->finite = tame(c->q, c->qs, 0) && tame(c->k, c->ks, 0) &&
                tame(c->v, c->vs, 0) &&
                (c->bias == NULL || tame(c->bias, c->bias_sh, 1));
    c->dout_finite = tame(c->dout, c->os, 0);
    poison_past_kv_lens(c, c->k, c->ks);
    poison_past_kv_lens(c, c->v, c->vs);
    store_cache(c, pools);

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
