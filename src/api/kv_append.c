/*
 * Appending rows to a K/V cache (attention/kv_cache.h): every check first,
 * then the new K and V rows stored (rotated when asked) and q rotated.
 */
#include <attention/kv_cache.h>

#include <string.h>

#include "api/kv_store.h"
#include "api/rope_row.h"
#include "plan/desc.h"
#include "plan/kv_source.h"
#include "plan/layout.h"

/* One call's arguments, its validated descriptor and its spans. */
typedef struct append_call {
    sdpa_plan p;
    int64_t tn;                 /* rows appended per sequence: q_len */
    const float *k_new, *v_new;
    attn_strides ks, vs;
    const attn_rope *rope;      /* or NULL */
    float *q;                   /* NULL unless rotated */
    void *k_cache, *v_cache;
    size_t k_new_bytes, v_new_bytes, table_bytes;
} append_call;

/* Inputs of the aliasing checks: k_new, v_new, kv_lens, the block table,
 * cos, sin; then q, an output the cache rows may not overlap either. */
#define APPEND_INPUTS 6

/* Before the descriptor's checks: without kv_lens they would check the
 * block table for full-length sequences. */
static attn_status check_pointers(const append_call *c,
                                  const attn_sdpa_desc *desc)
{
    return desc == NULL || desc->kv_lens == NULL || c->k_new == NULL ||
                   c->v_new == NULL || c->k_cache == NULL || c->v_cache == NULL
               ? ATTN_ERR_NULL_POINTER
               : ATTN_OK;
}

/* Room for the new rows: kv_lens[b] + Tn <= kv_len (kv_lens[b] <= kv_len
 * already holds, so the subtraction cannot overflow). */
static attn_status check_lengths(const append_call *c)
{
    const attn_sdpa_desc *d = &c->p.d;
    for (int64_t b = 0; b < d->batch; ++b)
        if (d->kv_lens[b] > d->kv_len - c->tn)
            return ATTN_ERR_BAD_KV_LEN;
    return ATTN_OK;
}

/* Block table entries [*first, *last] hold sequence b's new rows. */
static void new_pages(const append_call *c, int64_t b, int64_t *first,
                      int64_t *last)
{
    const int64_t len = c->p.d.kv_lens[b], ps = c->p.d.page_size;
    *first = len / ps;
    *last = (len + c->tn - 1) / ps;
}

/* The pages the new rows land on are in the table and in the pools. */
static attn_status check_new_pages(const append_call *c)
{
    const attn_sdpa_desc *d = &c->p.d;
    if (d->block_table == NULL)
        return ATTN_OK;
    int64_t first, last;
    for (int64_t b = 0; b < d->batch; ++b) {
        new_pages(c, b, &first, &last);
        if (last >= d->max_pages)
            return ATTN_ERR_BLOCK_TABLE_SHORT;
    }
    for (int64_t b = 0; b < d->batch; ++b) {
        new_pages(c, b, &first, &last);
        for (int64_t i = first; i <= last; ++i) {
            const int32_t page = d->block_table[b * d->max_pages + i];
            if (page < 0 || page >= d->num_pages)
                return ATTN_ERR_BAD_PAGE;
        }
    }
    return ATTN_OK;
}

/* The rope's fields, and every position it turns by: kv_lens[b] + t. */
static attn_status check_rope(const append_call *c)
{
    if (c->rope == NULL)
        return ATTN_OK;
    const attn_sdpa_desc *d = &c->p.d;
    const attn_status s = attni_rope_check(c->rope, d->head_dim);
    if (s)
        return s;
    for (int64_t b = 0; b < d->batch; ++b)
        if (!attni_rope_position_ok(c->rope, d->kv_lens[b] + c->tn - 1))
            return ATTN_ERR_BAD_ARGUMENT;
    return ATTN_OK;
}

/* Input strides, then the layouts written: each element at most once. */
static attn_status check_strides(const append_call *c)
{
    const attn_sdpa_desc *d = &c->p.d;
    attn_status s;
    if ((s = attni_check_strides(c->ks, c->tn, d->head_dim)) ||
        (s = attni_check_strides(c->vs, c->tn, d->v_head_dim)))
        return s;
    const int64_t tensors = attni_kv_tensors(d), rows = attni_kv_tensor_rows(d);
    if (!attni_layout_is_injective(tensors, d->kv_heads, rows, d->head_dim,
                                   d->k_strides) ||
        !attni_layout_is_injective(tensors, d->kv_heads, rows, d->v_head_dim,
                                   d->v_strides) ||
        (c->q && !attni_layout_is_injective(d->batch, d->q_heads, c->tn,
                                            d->head_dim, d->q_strides)))
        return ATTN_ERR_BAD_STRIDE;
    return ATTN_OK;
}

static attn_status compute_spans(append_call *c)
{
    const attn_sdpa_desc *d = &c->p.d;
    attn_status s;
    if ((s = attni_span_bytes(d->batch, d->kv_heads, c->tn, d->head_dim, c->ks,
                              sizeof(float), &c->k_new_bytes)) ||
        (s = attni_span_bytes(d->batch, d->kv_heads, c->tn, d->v_head_dim,
                              c->vs, sizeof(float), &c->v_new_bytes)))
        return s;
    if (c->rope && !attni_rope_table_bytes(c->rope, &c->table_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

/* Slots [lo, hi) of block table entry i that sequence b's new rows fill. */
static void new_slots(const append_call *c, int64_t b, int64_t i, int64_t *lo,
                      int64_t *hi)
{
    const int64_t ps = c->p.d.page_size, start = i * ps;
    const int64_t len = c->p.d.kv_lens[b], end = len + c->tn;
    *lo = (len > start ? len : start) - start;
    *hi = (end < start + ps ? end : start + ps) - start;
}

/* Nonzero when entry i1 of sequence b1 and i2 of b2 name one page and
 * their new slots meet. */
static int slots_meet(const append_call *c, int64_t b1, int64_t i1, int64_t b2,
                      int64_t i2)
{
    const attn_sdpa_desc *d = &c->p.d;
    if (d->block_table[b1 * d->max_pages + i1] !=
        d->block_table[b2 * d->max_pages + i2])
        return 0;
    int64_t lo1, hi1, lo2, hi2;
    new_slots(c, b1, i1, &lo1, &hi1);
    new_slots(c, b2, i2, &lo2, &hi2);
    return lo1 < hi2 && lo2 < hi1;
}

/* Nonzero when two new rows land on one page slot: every pair of the
 * (sequence, entry) pairs written, each compared once. */
static int pages_collide(const append_call *c)
{
    const int64_t B = c->p.d.batch;
    int64_t f1, l1, f2, l2;
    for (int64_t b1 = 0; b1 < B; ++b1) {
        new_pages(c, b1, &f1, &l1);
        for (int64_t i1 = f1; i1 <= l1; ++i1)
            for (int64_t b2 = b1; b2 < B; ++b2) {
                new_pages(c, b2, &f2, &l2);
                for (int64_t i2 = b2 == b1 ? i1 + 1 : f2; i2 <= l2; ++i2)
                    if (slots_meet(c, b1, i1, b2, i2))
                        return 1;
            }
    }
    return 0;
}

/* Nonzero when a new row of one cache (width values) overlaps one of the
 * m ranges; the rows' bounding range into *bound. */
static int rows_overlap(const append_call *c, const void *cache,
                        attn_strides s, int64_t width, const attn_range *ranges,
                        size_t m, attn_range *bound)
{
    const attn_sdpa_desc *d = &c->p.d;
    const size_t bytes = (size_t)width * attni_dtype_size(d->kv_dtype);
    bound->begin = UINTPTR_MAX;
    bound->end = 0;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->kv_heads; ++h) {
            const kv_source src = attni_kv_source(d, cache, s, b, h);
            for (int64_t t = 0; t < c->tn; ++t) {
                const void *row;
                attni_kv_rows(&src, d->kv_lens[b] + t, 1, &row);
                const attn_range r = attni_range_of(row, bytes);
                if (attni_outputs_alias(&r, 1, ranges, m))
                    return 1;
                bound->begin = r.begin < bound->begin ? r.begin : bound->begin;
                bound->end = r.end > bound->end ? r.end : bound->end;
            }
        }
    return 0;
}

/* Nonzero when the K rows written and the V rows written share no byte
 * (kv_cache.h, "Aliasing"): apart as wholes, or V in the gaps of a layout
 * K and V share. */
static int kv_apart(const append_call *c, attn_range k_rows, attn_range v_rows)
{
    if (!attni_ranges_overlap(k_rows, v_rows))
        return 1;
    const attn_sdpa_desc *d = &c->p.d;
    const attn_strides ks = d->k_strides, vs = d->v_strides;
    if (ks.batch != vs.batch || ks.head != vs.head || ks.row != vs.row)
        return 0;
    const uintptr_t k = (uintptr_t)c->k_cache, v = (uintptr_t)c->v_cache;
    /* Both aligned to the element (checked before): whole elements apart. */
    const uintptr_t apart = (k > v ? k - v : v - k) / attni_dtype_size(d->kv_dtype);
    const int64_t n[4] = {attni_kv_tensors(d), d->kv_heads,
                          attni_kv_tensor_rows(d), 2};
    const int64_t st[4] = {ks.batch, ks.head, ks.row, (int64_t)apart};
    const int64_t last = d->head_dim > d->v_head_dim ? d->head_dim : d->v_head_dim;
    return attni_layout_is_injective_n(4, n, st, last);
}

static attn_status check_aliasing(const append_call *c)
{
    const attn_sdpa_desc *d = &c->p.d;
    const attn_rope *r = c->rope;
    attn_range ranges[APPEND_INPUTS + 1] = {
        attni_range_of(c->k_new, c->k_new_bytes),
        attni_range_of(c->v_new, c->v_new_bytes),
        attni_range_of(d->kv_lens, c->p.kv_lens_bytes),
        attni_range_of(d->block_table, c->p.block_table_bytes),
        attni_range_of(r ? r->cos : NULL, c->table_bytes),
        attni_range_of(r ? r->sin : NULL, c->table_bytes),
        attni_range_of(c->q, c->q ? c->p.q_bytes : 0),
    };
    attn_range k_rows, v_rows;
    if (attni_outputs_alias(&ranges[APPEND_INPUTS], 1, ranges, APPEND_INPUTS) ||
        (d->block_table && pages_collide(c)) ||
        rows_overlap(c, c->k_cache, d->k_strides, d->head_dim, ranges,
                     APPEND_INPUTS + 1, &k_rows) ||
        rows_overlap(c, c->v_cache, d->v_strides, d->v_head_dim, ranges,
                     APPEND_INPUTS + 1, &v_rows) ||
        !kv_apart(c, k_rows, v_rows))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

/* Every check of kv_cache.h, in its order. */
static attn_status check(append_call *c, const attn_sdpa_desc *desc)
{
    attn_status s;
    if ((s = check_pointers(c, desc)) || (s = attni_sdpa_plan_make(desc, &c->p)))
        return s;
    c->tn = c->p.d.q_len;
    if ((s = check_lengths(c)) ||
        (s = check_new_pages(c)) ||
        (s = attni_sdpa_kv_aligned(&c->p, c->k_cache, c->v_cache)) ||
        (s = check_rope(c)) || (s = check_strides(c)) ||
        (s = compute_spans(c)) || (s = check_aliasing(c)))
        return s;
    return ATTN_OK;
}

/* The address of row j of (b, h) in a cache with strides s. */
static void *cache_row(const append_call *c, void *cache, attn_strides s,
                       int64_t b, int64_t h, int64_t j)
{
    const kv_source rows = attni_kv_source(&c->p.d, cache, s, b, h);
    const void *row;
    attni_kv_rows(&rows, j, 1, &row);
    return (void *)(uintptr_t)row; /* the caller's output; kv_source reads */
}

/* Values [c0, width) of the new rows of one cache from src
 * (B, Hkv, Tn, width), converted. */
static void store_rows(const append_call *c, const float *src, attn_strides ss,
                       int64_t c0, int64_t width, void *cache, attn_strides cs)
{
    const attn_sdpa_desc *d = &c->p.d;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->kv_heads; ++h)
            for (int64_t t = 0; t < c->tn; ++t)
                attni_store_floats(
                    cache_row(c, cache, cs, b, h, d->kv_lens[b] + t),
                    d->kv_dtype, c0, width,
                    src + b * ss.batch + h * ss.head + t * ss.row);
}

/* The first R values of the new keys of sequence b's row t into the K
 * cache, and of its queries in place, turned at kv_lens[b] + t: each chunk
 * of angles serves every head. */
static void rotate_position(const append_call *c, int64_t b, int64_t t)
{
    const attn_sdpa_desc *d = &c->p.d;
    const attn_rope *r = c->rope;
    const int64_t pos = d->kv_lens[b] + t, half = r->rotary_dim / 2;
    double cs[ATTNI_ROPE_CHUNK], sn[ATTNI_ROPE_CHUNK];
    for (int64_t i0 = 0; i0 < half; i0 += ATTNI_ROPE_CHUNK) {
        const int64_t n = half - i0 < ATTNI_ROPE_CHUNK ? half - i0 : ATTNI_ROPE_CHUNK;
        attni_rope_angles(r, pos, 1.0, i0, n, cs, sn);
        for (int64_t h = 0; h < d->kv_heads; ++h)
            attni_rope_pairs(r, c->k_new + b * c->ks.batch + h * c->ks.head +
                                    t * c->ks.row,
                             i0, n, cs, sn,
                             cache_row(c, c->k_cache, d->k_strides, b, h, pos),
                             d->kv_dtype);
        for (int64_t h = 0; c->q && h < d->q_heads; ++h) {
            const attn_strides qs = d->q_strides;
            float *row = c->q + b * qs.batch + h * qs.head + t * qs.row;
            attni_rope_pairs(r, row, i0, n, cs, sn, row, ATTN_DTYPE_F32);
        }
    }
}

/* Everything checked: the writes. */
static void append(const append_call *c)
{
    const attn_sdpa_desc *d = &c->p.d;
    if (c->rope)
        for (int64_t b = 0; b < d->batch; ++b)
            for (int64_t t = 0; t < c->tn; ++t)
                rotate_position(c, b, t);
    store_rows(c, c->k_new, c->ks, c->rope ? c->rope->rotary_dim : 0,
               d->head_dim, c->k_cache, d->k_strides);
    store_rows(c, c->v_new, c->vs, 0, d->v_head_dim, c->v_cache, d->v_strides);
}

attn_status attn_kv_append(const attn_sdpa_desc *desc, const float *k_new,
                           attn_strides k_new_strides, const float *v_new,
                           attn_strides v_new_strides, const attn_rope *rope,
                           float *q, void *k_cache, void *v_cache)
{
    append_call c;
    memset(&c, 0, sizeof c);
    c.k_new = k_new;
    c.v_new = v_new;
    c.ks = k_new_strides;
    c.vs = v_new_strides;
    c.rope = rope;
    c.q = rope ? q : NULL; /* nothing to turn q by without a rope */
    c.k_cache = k_cache;
    c.v_cache = v_cache;
    const attn_status s = check(&c, desc);
    if (s)
        return s;
    append(&c);
    return ATTN_OK;
}
