#include "sdpa_case.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


/*
 * Strides of a (n0, n1, n2, last) input or output tensor:
 *   0 contiguous (n0, n1, n2, last)
 *   1 (n0, n2, n1, last), e.g. (B, T, H, d) straight from a projection
 *   2 contiguous plus padding after each row, head and batch
 *   3 inputs: batch stride 0 (one tensor shared by every batch);
 *     outputs: head-major (n1, n0, n2, last)
 */
static attn_strides layout_of(int mode, int is_output, int64_t n0, int64_t n1,
                              int64_t n2, int64_t last, unsigned pad)
{
    attn_strides s;
    const int64_t pr = pad & 3, ph = (pad >> 2) & 3;
    (void)n0;
    switch (mode) {
    case 1:
        s.head = last;
        s.row = n1 * last;
        s.batch = n2 * n1 * last;
        break;
    case 2:
        s.row = last + pr;
        s.head = n2 * s.row + ph;
        s.batch = n1 * s.head + pr + ph;
        break;
    case 3:
        s.row = last;
        if (is_output) {
            s.batch = n2 * last;
            s.head = n0 * n2 * last;
        } else {
            s.head = n2 * last;
            s.batch = 0;
        }
        break;
    default:
        s.row = last;
        s.head = n2 * last;
        s.batch = n1 * n2 * last;
        break;
    }
    return s;
}

/*
 * Strides of keep_mask or bias over (B, Hq, Tq, Tk):
 *   0 one (Tq, Tk) matrix (the descriptor default)   1 full
 *   2 per batch, broadcast over heads                3 per head, over batch
 *   4 one row of Tk for every query (key padding)    5 full, padded rows
 */
static attn_strides mask_strides(int mode, int64_t H, int64_t Tq, int64_t Tk)
{
    attn_strides s = {0, 0, Tk};
    switch (mode) {
    case 1: s.head = Tq * Tk; s.batch = H * s.head; break;
    case 2: s.batch = Tq * Tk; break;
    case 3: s.head = Tq * Tk; break;
    case 4: s.row = 0; break;
    case 5: s.row = Tk + 3; s.head = Tq * s.row; s.batch = H * s.head; break;
    default: break;
    }
    return s;
}

/* The special values an input may receive (flag FLAG_SPECIAL). */
static float special_value(unsigned code)
{
    switch (code % 8) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 1e30f;
    case 4: return -1e30f;
    case 5: return 0.0f;
    case 6: return 1e-40f;    /* subnormal */
    default: return -0.0f;
    }
}

static void inject_specials(sdpa_case *c, fuzz_input *in)
{
    const unsigned count = fi_u8(in) % 8;
    for (unsigned n = 0; n < count; ++n) {
        const unsigned which = fi_u8(in) % 5;
        const unsigned index = fi_u16(in);
        const float value = special_value(fi_u8(in));
        float *x[5] = {c->q, c->k, c->v, c->bias, c->dout};
        const fz_shape sh[5] = {c->qs, c->ks, c->vs, c->bias_sh, c->os};
        if ((c->flags & FLAG_SPECIAL) && x[which] != NULL)
            x[which][index % fz_span(sh[which])] = value;
    }
}

/* A table entry no batch uses: a bad page if it were read (how 3: any
 * value, maybe a valid page). */
static int32_t unused_entry(unsigned byte, int64_t num_pages, unsigned how)
{
    switch (how & 3) {
    case 0: return -1 - (int32_t)byte;
    case 1: return (int32_t)(num_pages + byte);
    case 2: return INT32_MIN + (int32_t)byte;
    default: return (int32_t)byte;
    }
}

/* The forward's K/V storage and pages (byte layout in sdpa_case.h). */
static void decode_cache(sdpa_case *c, fuzz_input *in, unsigned pad)
{
    static const attn_dtype types[4] = {ATTN_DTYPE_F32, ATTN_DTYPE_F16,
                                        ATTN_DTYPE_BF16, ATTN_DTYPE_F16};
    const attn_sdpa_desc *d = &c->d;
    attn_sdpa_desc *l = &c->lib;
    const unsigned code = fi_u8(in);
    *l = *d;
    l->kv_dtype = types[code & 3];
    c->cache = l->kv_dtype != ATTN_DTYPE_F32 || (code & 4);
    c->kp = c->ks;
    c->vp = c->vs;
    if (!(code & 4))
        return;
    const int64_t ps = 1 + fi_u8(in) % 24;
    int64_t total = 0, most = 0;
    for (int64_t b = 0; b < d->batch; ++b) {
        const int64_t n = (sdpa_used_keys(c, b) + ps - 1) / ps;
        total += n;
        most = n > most ? n : most;
    }
    const int64_t num_pages = 1 + fi_u8(in) % (total + 3);
    const int64_t max_pages = (most > 0 ? most : 1) + fi_u8(in) % 3;
    c->table_n = (size_t)(d->batch * max_pages);
    c->table = malloc(c->table_n * sizeof *c->table);
    FUZZ_REQUIRE(c->table != NULL && c->table_n <= SDPA_MAX_TABLE);
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t i = 0; i < max_pages; ++i) {
            const unsigned byte = fi_u8(in);
            c->table[b * max_pages + i] =
                i * ps < sdpa_used_keys(c, b)
                    ? (int32_t)(byte % num_pages)
                    : unused_entry(byte, num_pages, code >> 5);
        }
    l->block_table = c->table;
    l->max_pages = max_pages;
    l->page_size = ps;
    l->num_pages = num_pages;
    const int mode = (int)(code >> 3 & 3);
    l->k_strides = layout_of(mode, 0, num_pages, d->kv_heads, ps, d->head_dim, pad);
    l->v_strides = layout_of(mode, 0, num_pages, d->kv_heads, ps, d->v_head_dim, pad);
    c->kp = fz_shape_of(num_pages, d->kv_heads, ps, d->head_dim, l->k_strides);
    c->vp = fz_shape_of(num_pages, d->kv_heads, ps, d->v_head_dim, l->v_strides);
}

/* The variants (byte layout in sdpa_case.h), on both descriptors. */
static void decode_variants(sdpa_case *c, fuzz_input *in)
{
    attn_sdpa_desc *d = &c->d;
    const unsigned code = fi_u8(in);
    const unsigned wl = fi_u8(in), wr = fi_u8(in), cap = fi_u8(in);
    if (code & 1) {
        d->window_left = (int64_t)(wl % (unsigned)(d->kv_len + 2)) - 1;
        d->window_right = (int64_t)(wr % (unsigned)(d->kv_len + 2)) - 1;
    }
    for (int64_t e = 0; e < SDPA_MAX_B * SDPA_MAX_H; ++e)
        c->slopes[e] = (float)fi_u8(in) / 64.0f;
    for (int64_t h = 0; h < SDPA_MAX_H; ++h) {
        const unsigned s = fi_u8(in);
        c->sinks[h] = s == 255 ? -INFINITY : ((float)s - 128.0f) / 16.0f;
    }
    if (code & 2) {
        d->alibi_slopes = c->slopes;
        d->alibi_batch_stride = code & 4 ? d->q_heads : 0;
    }
    if (code & 8)
        d->softcap = 0.125f * (float)(1 + cap % 64);
    if (code & 16)
        d->sinks = c->sinks;
    d->position_shift = (int64_t)(((code >> 5) + 4) % 8) - 4;
    c->lib.window_left = d->window_left;
    c->lib.window_right = d->window_right;
    c->lib.alibi_slopes = d->alibi_slopes;
    c->lib.alibi_batch_stride = d->alibi_batch_stride;
    c->lib.softcap = d->softcap;
    c->lib.sinks = d->sinks;
    c->lib.position_shift = d->position_shift;
}

void sdpa_case_decode(sdpa_case *c, const uint8_t *data, size_t size)
{
    fuzz_input in;
    fi_init(&in, data, size);
    memset(c, 0, sizeof *c);

    int64_t B = fi_range(&in, 1, SDPA_MAX_B);
    const int64_t Hq = fi_range(&in, 1, SDPA_MAX_H);
    int64_t divisors[SDPA_MAX_H], nd = 0;
    for (int64_t h = 1; h <= Hq; ++h)
        if (Hq % h == 0)
            divisors[nd++] = h;
    const int64_t Hkv = divisors[fi_u8(&in) % nd];
    /* The sizes come before the byte that says whether they are large. */
    const unsigned tq = fi_u8(&in), tk = fi_u8(&in);
    const unsigned dq = fi_u8(&in), dv = fi_u8(&in);
    const unsigned scale_code = fi_u8(&in);
    const unsigned causal_code = fi_u8(&in);
    c->large = causal_code >= SDPA_LARGE_CODE;
    const unsigned T = c->large ? SDPA_MAX_T : SDPA_SMALL_T;
    const unsigned D = c->large ? SDPA_MAX_D : SDPA_SMALL_D;
    /* Every (batch, head) pair is a task with a large fixed cost in the
     * library's kernels (and in the fuzz build's instrumentation of them):
     * small cases have at most SDPA_SMALL_PAIRS. */
    if (!c->large && B * Hq > SDPA_SMALL_PAIRS)
        B = 1;
    int64_t Tq = 1 + tq % T, Tk = 1 + tk % T;
    const int64_t Dq = 1 + dq % D, Dv = 1 + dv % D;
    /* A bound on the score elements, so that the corpus cannot drift to
     * the largest cases (longer loops give libFuzzer new hit-count
     * features): the longer of keys and queries halved until it holds. */
    const int64_t budget = c->large ? SDPA_LARGE_SCORES : SDPA_SMALL_SCORES;
    while (B * Hq * Tq * Tk > budget) {
        if (Tk >= Tq)
            Tk = (Tk + 1) / 2;
        else
            Tq = (Tq + 1) / 2;
    }
    attn_sdpa_desc *d = &c->d;
    FUZZ_REQUIRE(attn_sdpa_desc_init(d, B, Hq, Hkv, Tq, Tk, Dq, Dv) == ATTN_OK);
    if (scale_code != 0)
        d->scale *= (float)exp2(((int)(scale_code % 13) - 8) / 2.0);
    d->causal = (attn_causal)((causal_code & 3) % 3);
    c->flags = fi_u8(&in);
    const int guard = (c->flags & FLAG_GUARD) != 0;
    const unsigned layouts = fi_u8(&in);
    const unsigned pad = fi_u8(&in);
    c->threads = 1 + (int)((pad >> 4 & 3) % 3);
    c->rerun = (pad >> 6) & 1;
    c->rerun_path = (pad >> 7) & 1;

    d->q_strides = layout_of(layouts & 3, 0, B, Hq, Tq, Dq, pad);
    d->k_strides = layout_of(layouts >> 2 & 3, 0, B, Hkv, Tk, Dq, pad);
    d->v_strides = layout_of(layouts >> 4 & 3, 0, B, Hkv, Tk, Dv, pad);
    d->out_strides = layout_of(layouts >> 6 & 3, 1, B, Hq, Tq, Dv, pad);
    c->qs = fz_shape_of(B, Hq, Tq, Dq, d->q_strides);
    c->ks = fz_shape_of(B, Hkv, Tk, Dq, d->k_strides);
    c->vs = fz_shape_of(B, Hkv, Tk, Dv, d->v_strides);
    c->os = fz_shape_of(B, Hq, Tq, Dv, d->out_strides);

    const unsigned keep_mode = fi_u8(&in) % 6, keep_density = fi_u8(&in);
    const unsigned bias_mode = fi_u8(&in) % 6, inf_density = fi_u8(&in);
    /* bias_strides also shape dbias, which the backward always computes. */
    d->keep_strides = mask_strides((int)keep_mode, Hq, Tq, Tk);
    d->bias_strides = mask_strides((int)bias_mode, Hq, Tq, Tk);
    c->keep_sh = fz_shape_of(B, Hq, Tq, Tk, d->keep_strides);
    c->bias_sh = fz_shape_of(B, Hq, Tq, Tk, d->bias_strides);
    for (int64_t b = 0; b < SDPA_MAX_B; ++b)
        c->kv_lens[b] = fi_range(&in, 0, Tk);
    if (c->flags & FLAG_KV_LENS)
        d->kv_lens = c->kv_lens;

    fuzz_rng rng = {fi_u64(&in)};
    c->probe = fi_u8(&in);
    c->probe_detail = fi_u8(&in);

    c->q = sdpa_make_tensor(c->qs, &rng, 2.0f, guard);
    c->k = sdpa_make_tensor(c->ks, &rng, 2.0f, guard);
    c->v = sdpa_make_tensor(c->vs, &rng, 2.0f, guard);
    c->dout = sdpa_make_tensor(c->os, &rng, 1.0f, guard);
    if (c->flags & FLAG_KEEP) {
        c->keep = sdpa_make_keep(fz_span(c->keep_sh), &rng, keep_density, guard);
        d->keep_mask = c->keep;
    }
    if (c->flags & FLAG_BIAS) {
        c->bias = sdpa_make_tensor(c->bias_sh, &rng, 2.0f, guard);
        sdpa_bias_neginf(c->bias, fz_span(c->bias_sh), &rng, inf_density / 4);
        d->bias = c->bias;
    }
    inject_specials(c, &in);
    decode_cache(c, &in, pad);
    decode_variants(c, &in);
    sdpa_case_finish(c);
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return a == NULL || memcmp(a, b, n * sizeof *a) == 0;
}

static int same_bytes(const void *a, const void *b, size_t n)
{
    return a == NULL || memcmp(a, b, n) == 0;
}

int sdpa_case_inputs_intact(const sdpa_case *c)
{
    return same_bits(c->q0, c->q, fz_span(c->qs)) &&
           same_bits(c->k0, c->k, fz_span(c->ks)) &&
           same_bits(c->v0, c->v, fz_span(c->vs)) &&
           same_bits(c->bias0, c->bias, fz_span(c->bias_sh)) &&
           same_bytes(c->kx0, c->kx, c->kx_bytes) &&
           same_bytes(c->vx0, c->vx, c->vx_bytes) &&
           same_bytes(c->table0, c->table, c->table_n * sizeof *c->table);
}

void sdpa_case_free(sdpa_case *c)
{
    free(c->q_mark);
    free(c->k_mark);
    free(c->v_mark);
    free(c->o_mark);
    free(c->bias_mark);
    free(c->masked);
    fz_free(c->q);
    fz_free(c->k);
    fz_free(c->v);
    fz_free(c->dout);
    fz_free(c->keep);
    fz_free(c->bias);
    free(c->q0);
    free(c->k0);
    free(c->v0);
    free(c->bias0);
    fz_free(c->kx);
    fz_free(c->vx);
    free(c->table);
    free(c->kx0);
    free(c->vx0);
    free(c->table0);
}
