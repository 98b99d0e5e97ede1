/*
 * attn_kv_append (kv_cache.h): rows appended into fp32, fp16 and bf16
 * caches, contiguous and paged (shuffled pages, both pool layouts, K and V
 * interleaved in one pool), read back against a rounding reference written
 * here (double arithmetic on the formats' definitions, not the library's
 * bit tricks); RoPE on append against a double reference at the absolute
 * positions kv_lens[b] + t; one rounding from double, not two; appending
 * and attending step by step against attention over the final cache; and
 * every bad input refused with its status and nothing written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "reference.h"
#include "testutil.h"

/* ---- the storage formats, from their definitions ------------------------ */

/* x rounded to nearest even in the format (p bits, least normal exponent
 * emin, largest finite value max): the quantum at x's exponent, rint. */
static double ref_round(double x, attn_dtype t)
{
    if (isnan(x) || isinf(x) || x == 0.0)
        return x;
    const int p = t == ATTN_DTYPE_F32 ? 24 : t == ATTN_DTYPE_F16 ? 11 : 8;
    const int emin = t == ATTN_DTYPE_F16 ? -14 : -126;
    const double max = t == ATTN_DTYPE_F32   ? FLT_MAX
                       : t == ATTN_DTYPE_F16 ? 65504.0
                                             : ldexp(255.0, 120);
    int e = ilogb(x);
    e = e < emin ? emin : e;
    const double q = ldexp(1.0, e - (p - 1));
    const double r = rint(x / q) * q;
    return fabs(r) > max ? copysign(INFINITY, x) : r;
}

/* Half the format's spacing at x's magnitude. */
static double half_ulp(double x, attn_dtype t)
{
    const int p = t == ATTN_DTYPE_F32 ? 24 : t == ATTN_DTYPE_F16 ? 11 : 8;
    const int emin = t == ATTN_DTYPE_F16 ? -14 : -126;
    int e = x == 0.0 ? emin : ilogb(x);
    e = e < emin ? emin : e;
    return ldexp(1.0, e - p);
}

static double f16_value(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 31 ? (m ? NAN : INFINITY)
               : e == 0 ? ldexp((double)m, -24)
                        : ldexp((double)(1024 + m), e - 25);
    return h & 0x8000 ? -v : v;
}

static double bf16_value(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static size_t elem_size(attn_dtype t)
{
    return t == ATTN_DTYPE_F32 ? 4 : 2;
}

/* Element i of a buffer of `t` values, widened. */
static double stored(const void *buf, attn_dtype t, int64_t i)
{
    if (t == ATTN_DTYPE_F32)
        return ((const float *)buf)[i];
    const uint16_t h = ((const uint16_t *)buf)[i];
    return t == ATTN_DTYPE_F16 ? f16_value(h) : bf16_value(h);
}

/* ---- RoPE, from rope.h --------------------------------------------------- */

/* Row x (d values) turned at position t: angles from base or the tables. */
static void ref_rope(const attn_rope *r, double *x, int64_t t)
{
    const int64_t R = r->rotary_dim;
    for (int64_t i = 0; i < R / 2; ++i) {
        const double angle = (double)t / pow(r->base, (double)(2 * i) / (double)R);
        const double c = r->cos ? r->cos[t * (R / 2) + i] : cos(angle);
        const double s = r->cos ? r->sin[t * (R / 2) + i] : sin(angle);
        const int64_t a = r->style == ATTN_ROPE_NEOX ? i : 2 * i;
        const int64_t b = r->style == ATTN_ROPE_NEOX ? i + R / 2 : 2 * i + 1;
        const double xa = x[a], xb = x[b];
        x[a] = xa * c - xb * s;
        x[b] = xa * s + xb * c;
    }
}

/* ---- a cache under test ---------------------------------------------------- */

enum { NB = 3, HQ = 4, HKV = 2, D = 8, DV = 6, CAP = 40, PS = 5, NP = 20,
       MAXP = CAP / PS, SENTINEL = 0x5a };

typedef enum layout {
    LAY_CONTIG,     /* (B, T, Hkv, d) tensors with gaps between rows */
    LAY_PAGED_HEAD, /* (num_pages, Hkv, page_size, d) pools */
    LAY_PAGED_ROW,  /* (num_pages, page_size, Hkv, d) pools */
    LAY_PAGED_KV    /* one (num_pages, 2, Hkv, page_size, 8) pool: K then V */
} layout;

static const char *const layout_names[] = {"contiguous", "paged (P,H,S,d)",
                                           "paged (P,S,H,d)", "paged K|V"};
static const char *const dtype_names[] = {"f32", "f16", "bf16"};

/*
 * The descriptor, the caches in one sentinel-filled buffer, and what every
 * element of that buffer should hold: want[i] where written[i] (1: the
 * rounding of want[i] exactly, 2: within half an ulp of it, for rotated
 * values whose double reference differs in its last bits from the
 * library's), the sentinel bytes elsewhere.
 */
typedef struct cache {
    attn_sdpa_desc d;
    int64_t lens[NB];
    int32_t table[NB * MAXP];
    unsigned char *buf;
    int64_t n;              /* elements in buf */
    int64_t k_at, v_at;     /* element offsets of the K and V caches */
    double *want;
    unsigned char *written;
} cache;

static void *k_cache(cache *c)
{
    return c->buf + c->k_at * (int64_t)elem_size(c->d.kv_dtype);
}

static void *v_cache(cache *c)
{
    return c->buf + c->v_at * (int64_t)elem_size(c->d.kv_dtype);
}

/* Pages for each sequence's final length, from a shuffled pool; -1 in the
 * entries no row reaches (never read). */
static void deal_pages(cache *c, const int64_t *final_lens, tu_rng *r)
{
    int32_t perm[NP];
    for (int i = 0; i < NP; ++i)
        perm[i] = i;
    for (int i = NP - 1; i > 0; --i) {
        const int j = (int)tu_rng_below(r, (uint64_t)i + 1);
        const int32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int next = 0;
    for (int64_t b = 0; b < NB; ++b)
        for (int64_t i = 0; i < MAXP; ++i)
            c->table[b * MAXP + i] =
                i * PS < final_lens[b] ? perm[next++] : -1;
    assert_true(next <= NP);
}

static void cache_init(cache *c, attn_dtype t, layout lay,
                       const int64_t *lens, const int64_t *final_lens,
                       tu_rng *r)
{
    memset(c, 0, sizeof *c);
    attn_sdpa_desc_init(&c->d, NB, HQ, HKV, 1, CAP, D, DV);
    c->d.kv_dtype = t;
    memcpy(c->lens, lens, sizeof c->lens);
    c->d.kv_lens = c->lens;
    int64_t k_n, v_n;
    switch (lay) {
    case LAY_CONTIG:
        c->d.k_strides = tu_strides(CAP * (HKV * D + 2), D, HKV * D + 2);
        c->d.v_strides = tu_strides(CAP * (HKV * DV + 1), DV, HKV * DV + 1);
        k_n = NB * c->d.k_strides.batch;
        v_n = NB * c->d.v_strides.batch;
        break;
    case LAY_PAGED_HEAD:
        c->d.k_strides = tu_contig(HKV, PS, D);
        c->d.v_strides = tu_contig(HKV, PS, DV);
        k_n = NP * HKV * PS * D;
        v_n = NP * HKV * PS * DV;
        break;
    case LAY_PAGED_ROW:
        c->d.k_strides = tu_strides(PS * HKV * D, D, HKV * D);
        c->d.v_strides = tu_strides(PS * HKV * DV, DV, HKV * DV);
        k_n = NP * PS * HKV * D;
        v_n = NP * PS * HKV * DV;
        break;
    default: /* LAY_PAGED_KV: V rows of 6 in 8-wide slots after K's */
        c->d.k_strides = c->d.v_strides = tu_strides(2 * HKV * PS * D, PS * D, D);
        k_n = HKV * PS * D;
        v_n = (2 * NP - 1) * HKV * PS * D;
        break;
    }
    if (lay != LAY_CONTIG) {
        deal_pages(c, final_lens, r);
        c->d.block_table = c->table;
        c->d.max_pages = MAXP;
        c->d.page_size = PS;
        c->d.num_pages = NP;
    }
    c->k_at = 0;
    c->v_at = k_n;
    c->n = k_n + v_n;
    c->buf = tu_malloc((size_t)c->n, elem_size(t));
    memset(c->buf, SENTINEL, (size_t)c->n * elem_size(t));
    c->want = tu_malloc((size_t)c->n, sizeof *c->want);
    c->written = calloc((size_t)c->n, 1);
    assert_non_null(c->written);
}

static void cache_free(cache *c)
{
    free(c->buf);
    free(c->want);
    free(c->written);
}

/* Element offset of row j of (b, h) in a cache with strides s, from the
 * header's paging formula. */
static int64_t row_at(const cache *c, attn_strides s, int64_t b, int64_t h,
                      int64_t j)
{
    if (c->d.block_table == NULL)
        return b * s.batch + h * s.head + j * s.row;
    const int64_t page = c->table[b * MAXP + j / PS];
    return page * s.batch + h * s.head + (j % PS) * s.row;
}

/* Records what an append of src (B, Hkv, tn, width) at the current
 * lengths must leave in one cache; rope turns the first R values. */
static void expect_rows(cache *c, int64_t at, attn_strides cs,
                        const float *src, attn_strides ss, int64_t width,
                        int64_t tn, const attn_rope *rope)
{
    for (int64_t b = 0; b < NB; ++b)
        for (int64_t h = 0; h < HKV; ++h)
            for (int64_t t = 0; t < tn; ++t) {
                double x[D];
                for (int64_t e = 0; e < width; ++e)
                    x[e] = src[tu_at(ss, b, h, t, e)];
                if (rope)
                    ref_rope(rope, x, c->lens[b] + t);
                const int64_t o = at + row_at(c, cs, b, h, c->lens[b] + t);
                for (int64_t e = 0; e < width; ++e) {
                    c->want[o + e] = x[e];
                    c->written[o + e] = rope && e < rope->rotary_dim ? 2 : 1;
                }
            }
}

/* attn_kv_append of tn rows per sequence; on success the expectations
 * follow and the lengths grow by tn. */
static attn_status append(cache *c, int64_t tn, const float *k,
                          attn_strides ks, const float *v, attn_strides vs,
                          const attn_rope *rope, float *q)
{
    c->d.q_len = tn;
    c->d.q_strides = tu_contig(HQ, tn, D);
    c->d.out_strides = tu_contig(HQ, tn, DV);
    const attn_status s =
        attn_kv_append(&c->d, k, ks, v, vs, rope, q, k_cache(c), v_cache(c));
    if (s == ATTN_OK) {
        expect_rows(c, c->k_at, c->d.k_strides, k, ks, D, tn, rope);
        expect_rows(c, c->v_at, c->d.v_strides, v, vs, DV, tn, NULL);
        for (int64_t b = 0; b < NB; ++b)
            c->lens[b] += tn;
    }
    return s;
}

/* Every element of the buffer against its expectation. */
static void cache_check(const cache *c, const char *what)
{
    const attn_dtype t = c->d.kv_dtype;
    const size_t es = elem_size(t);
    int64_t rows = 0;
    for (int64_t i = 0; i < c->n; ++i) {
        if (!c->written[i]) {
            for (size_t k = 0; k < es; ++k)
                if (c->buf[(size_t)i * es + k] != SENTINEL)
                    fail_msg("%s: element %lld written", what, (long long)i);
            continue;
        }
        ++rows;
        const double got = stored(c->buf, t, i), want = c->want[i];
        if (isnan(want)) {
            if (!isnan(got))
                fail_msg("%s: element %lld is %g, not NaN", what, (long long)i, got);
        } else if (c->written[i] == 1) {
            const double r = ref_round(want, t);
            if (!(got == r && signbit(got) == signbit(r)))
                fail_msg("%s: element %lld: %a stored, %a is %a rounded", what,
                         (long long)i, got, want, r);
        } else if (!(fabs(got - want) <= half_ulp(want, t) + 1e-12 * fabs(want))) {
            fail_msg("%s: element %lld: %a stored for %a", what, (long long)i,
                     got, want);
        }
    }
    assert_true(rows > 0);
}

/* (B, Hkv, tn, width) rows in U[-2, 2), with values that probe the
 * formats' rounding (ties, subnormals, overflow, NaN) at the start. */
static float *new_rows(int64_t tn, int64_t width, attn_strides *s, tu_rng *r)
{
    static const float probes[] = {
        0.0f, -0.0f, 1.00048828125f /* 1 + 2^-11: fp16 tie, to 1 */,
        1.00146484375f /* 1 + 3 * 2^-11: tie, up */, -1.00390625f /* bf16 tie */,
        65504.0f, 65519.99f, 65520.0f /* fp16: Inf */, 1e-8f, 2.98023224e-8f,
        4.5e-8f, 6.1e-5f, 1e30f, FLT_MAX, -3e-39f, 1.0000001f, NAN, 3.3e-38f};
    const int64_t n = NB * HKV * tn * width;
    /* A row stride past the width: gaps the call must not read as rows. */
    *s = tu_strides(HKV * tn * (width + 3), tn * (width + 3), width + 3);
    float *x = tu_malloc(tu_span(NB, HKV, tn, width, *s), sizeof *x);
    tu_fill_tensor(x, NB, HKV, tn, width, *s, r, -2.0, 2.0);
    for (int64_t i = 0; i < (int64_t)(sizeof probes / sizeof *probes) && i < n; ++i) {
        const int64_t row = i / width;
        x[tu_at(*s, 0, row / tn % HKV, row % tn, i % width)] = probes[i];
    }
    return x;
}

/* ---- round trips ----------------------------------------------------------- */

static void round_trip(attn_dtype t, layout lay, tu_rng *r)
{
    static const int64_t lens[NB] = {0, 7, 13}, tns[] = {4, 1, 6};
    int64_t final_lens[NB];
    for (int64_t b = 0; b < NB; ++b)
        final_lens[b] = lens[b] + 11;
    cache c;
    cache_init(&c, t, lay, lens, final_lens, r);
    char what[96];
    snprintf(what, sizeof what, "%s %s", dtype_names[t], layout_names[lay]);
    for (size_t i = 0; i < sizeof tns / sizeof *tns; ++i) {
        attn_strides ks, vs;
        float *k = new_rows(tns[i], D, &ks, r);
        float *v = new_rows(tns[i], DV, &vs, r);
        TU_CHECK_STATUS(append(&c, tns[i], k, ks, v, vs, NULL, NULL), ATTN_OK);
        cache_check(&c, what);
        free(k);
        free(v);
    }
    cache_free(&c);
}

static void test_round_trip(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0xa99e);
    for (int t = 0; t < 3; ++t)
        for (int lay = 0; lay < 4; ++lay)
            round_trip((attn_dtype)t, (layout)lay, &r);
}

/* Two sequences writing disjoint slots of one page (and the rest of that
 * page's rows left alone). */
static void test_shared_page(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0xa99f);
    static const int64_t lens[NB] = {0, 2, 20}, final_lens[NB] = {2, 4, 22};
    cache c;
    cache_init(&c, ATTN_DTYPE_F16, LAY_PAGED_HEAD, lens, final_lens, &r);
    c.table[0 * MAXP] = 4; /* rows 0, 1 of sequence 0 */
    c.table[1 * MAXP] = 4; /* rows 2, 3 of sequence 1 */
    attn_strides ks, vs;
    float *k = new_rows(2, D, &ks, &r), *v = new_rows(2, DV, &vs, &r);
    TU_CHECK_STATUS(append(&c, 2, k, ks, v, vs, NULL, NULL), ATTN_OK);
    cache_check(&c, "shared page");
    free(k);
    free(v);
    cache_free(&c);
}

/* ---- RoPE on append -------------------------------------------------------- */

enum { TABLE_LEN = 64 };

static void rope_case(attn_dtype t, const attn_rope *rope, tu_rng *r)
{
    static const int64_t lens[NB] = {3, 0, 17};
    enum { TN = 3 };
    int64_t final_lens[NB];
    for (int64_t b = 0; b < NB; ++b)
        final_lens[b] = lens[b] + TN;
    cache c;
    cache_init(&c, t, LAY_PAGED_ROW, lens, final_lens, r);
    attn_strides ks, vs;
    float *k = new_rows(TN, D, &ks, r), *v = new_rows(TN, DV, &vs, r);
    /* Rotation mixes a pair: no NaN or overflow probes in the keys. */
    for (size_t i = 0; i < tu_span(NB, HKV, TN, D, ks); ++i)
        if (!isnan(k[i]))
            k[i] = fabsf(k[i]) < 4.0f ? k[i] : 0.5f;
    const attn_strides qs = tu_contig(HQ, TN, D);
    float *q = tu_malloc(NB * HQ * TN * D, sizeof *q);
    float *q_rope = tu_malloc(NB * HQ * TN * D, sizeof *q);
    tu_fill_tensor(q, NB, HQ, TN, D, qs, r, -1.0, 1.0);
    memcpy(q_rope, q, NB * HQ * TN * D * sizeof *q);
    int64_t pos[NB * TN];
    for (int64_t b = 0; b < NB; ++b)
        for (int64_t i = 0; i < TN; ++i)
            pos[b * TN + i] = lens[b] + i;
    TU_CHECK_STATUS(attn_rope_forward(rope, q_rope, NB, HQ, TN, D, qs, pos),
                    ATTN_OK);
    /* The queries against the double reference, once. */
    double worst = 0.0;
    for (int64_t b = 0; b < NB; ++b)
        for (int64_t h = 0; h < HQ; ++h)
            for (int64_t i = 0; i < TN; ++i) {
                double x[D];
                for (int e = 0; e < D; ++e)
                    x[e] = q[tu_at(qs, b, h, i, e)];
                ref_rope(rope, x, lens[b] + i);
                for (int e = 0; e < D; ++e) {
                    const double err = fabs(x[e] - q_rope[tu_at(qs, b, h, i, e)]);
                    worst = err > worst ? err : worst;
                }
            }
    assert_true(worst <= 4e-7);

    TU_CHECK_STATUS(append(&c, TN, k, ks, v, vs, rope, q), ATTN_OK);
    char what[96];
    snprintf(what, sizeof what, "rope style %d R %lld %s %s", (int)rope->style,
             (long long)rope->rotary_dim, rope->cos ? "tables" : "base",
             dtype_names[t]);
    cache_check(&c, what);
    /* q turned bit for bit as attn_rope_forward turns it. */
    assert_memory_equal(q, q_rope, NB * HQ * TN * D * sizeof *q);
    if (t == ATTN_DTYPE_F32) {
        /* And so are the keys an fp32 cache holds. */
        float *k_rope = tu_malloc(tu_span(NB, HKV, TN, D, ks), sizeof *k_rope);
        memcpy(k_rope, k, tu_span(NB, HKV, TN, D, ks) * sizeof *k);
        TU_CHECK_STATUS(attn_rope_forward(rope, k_rope, NB, HKV, TN, D, ks, pos),
                        ATTN_OK);
        for (int64_t b = 0; b < NB; ++b)
            for (int64_t h = 0; h < HKV; ++h)
                for (int64_t i = 0; i < TN; ++i)
                    assert_memory_equal(
                        (const float *)k_cache(&c) +
                            row_at(&c, c.d.k_strides, b, h, lens[b] + i),
                        k_rope + tu_at(ks, b, h, i, 0), D * sizeof(float));
        free(k_rope);
    }
    free(q);
    free(q_rope);
    free(k);
    free(v);
    cache_free(&c);
}

static void test_rope_on_append(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0xa9a0);
    float *tc = tu_malloc(TABLE_LEN * D / 2, sizeof *tc);
    float *ts = tu_malloc(TABLE_LEN * D / 2, sizeof *ts);
    for (int64_t p = 0; p < TABLE_LEN; ++p)
        for (int i = 0; i < D / 2; ++i) { /* base 500, R = D */
            const double a = (double)p / pow(500.0, 2.0 * i / D);
            tc[p * D / 2 + i] = (float)cos(a);
            ts[p * D / 2 + i] = (float)sin(a);
        }
    for (int t = 0; t < 3; ++t)
        for (int style = 0; style < 2; ++style) {
            const attn_rope full = {(attn_rope_style)style, D, 10000.0, NULL, NULL, 0};
            const attn_rope part = {(attn_rope_style)style, D - 4, 7.5, NULL, NULL, 0};
            const attn_rope table = {(attn_rope_style)style, D, 0.0, tc, ts,
                                     TABLE_LEN};
            rope_case((attn_dtype)t, &full, &r);
            rope_case((attn_dtype)t, &part, &r);
            rope_case((attn_dtype)t, &table, &r);
        }
    free(tc);
    free(ts);
}

/* Rows wider than the library's chunk of angles (66 pairs: 32, 32, 2),
 * partial rotary: keys in an fp32 cache and q by attn_kv_append, and q by
 * attn_rope_forward, against the double reference. */
static void test_rope_wide(void **state)
{
    (void)state;
    enum { WD = 136, WR = 132, WHQ = 3, WTN = 2 };
    tu_rng r = tu_rng_make(0xa9a3);
    const int64_t lens[1] = {5};
    attn_sdpa_desc d;
    attn_sdpa_desc_init(&d, 1, WHQ, 1, WTN, 8, WD, 4);
    d.kv_lens = lens;
    static float k[WTN * WD], v[WTN * 4], q[WHQ * WTN * WD], q2[WHQ * WTN * WD];
    static float kc[8 * WD], vc[8 * 4];
    tu_fill_tensor(k, 1, 1, WTN, WD, tu_contig(1, WTN, WD), &r, -1.0, 1.0);
    tu_fill_tensor(v, 1, 1, WTN, 4, tu_contig(1, WTN, 4), &r, -1.0, 1.0);
    tu_fill_tensor(q, 1, WHQ, WTN, WD, d.q_strides, &r, -1.0, 1.0);
    memcpy(q2, q, sizeof q);
    const float *k0 = k, *q0 = q2;
    static float tc[8 * WR / 2], ts[8 * WR / 2];
    for (int i = 0; i < 8 * WR / 2; ++i) { /* not angles, any pairs will do */
        tc[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
        ts[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
    }
    for (int config = 0; config < 4; ++config) {
        attn_rope rope = {(attn_rope_style)(config % 2), WR, 10000.0, NULL, NULL, 0};
        if (config >= 2) {
            rope.cos = tc;
            rope.sin = ts;
            rope.table_len = 8;
        }
        memcpy(q, q0, sizeof q);
        TU_CHECK_STATUS(attn_kv_append(&d, k, tu_contig(1, WTN, WD), v,
                                       tu_contig(1, WTN, 4), &rope, q, kc, vc),
                        ATTN_OK);
        float qf[WHQ * WTN * WD];
        memcpy(qf, q0, sizeof qf);
        const int64_t pos[WTN] = {5, 6};
        TU_CHECK_STATUS(attn_rope_forward(&rope, qf, 1, WHQ, WTN, WD, d.q_strides, pos),
                        ATTN_OK);
        for (int64_t row = 0; row < WHQ * WTN + WTN; ++row) {
            const int64_t t = row % WTN;
            const float *src = row < WHQ * WTN ? q0 + row * WD : k0 + t * WD;
            double x[WD];
            for (int e = 0; e < WD; ++e)
                x[e] = src[e];
            ref_rope(&rope, x, lens[0] + t);
            for (int e = 0; e < WD; ++e) {
                const double got = row < WHQ * WTN ? q[row * WD + e]
                                                   : kc[(lens[0] + t) * WD + e];
                if (!(fabs(got - x[e]) <= 6e-7) ||
                    (row < WHQ * WTN && qf[row * WD + e] != q[row * WD + e]))
                    fail_msg("config %d row %lld value %d: %g, reference %g", config,
                             (long long)row, e, got, x[e]);
            }
        }
    }
}

/* Rotated values are rounded once, from double: a value 2^-40 above an
 * fp16 (bf16) tie stored as the upper neighbour, where rounding to float
 * first would land on the tie and go to even. */
static void test_one_rounding(void **state)
{
    (void)state;
    static const float tab_cos[1] = {1.0f}, tab_sin[1] = {0x1p-40f};
    const attn_rope rope = {ATTN_ROPE_NEOX, 2, 0.0, tab_cos, tab_sin, 1};
    static const int64_t zero[1] = {0};
    for (int t = ATTN_DTYPE_F16; t <= ATTN_DTYPE_BF16; ++t) {
        const float tie = t == ATTN_DTYPE_F16 ? 1.00048828125f : 1.00390625f;
        const double up = t == ATTN_DTYPE_F16 ? 1.0009765625 : 1.0078125;
        attn_sdpa_desc d;
        attn_sdpa_desc_init(&d, 1, 1, 1, 1, 4, 2, 2);
        d.kv_dtype = (attn_dtype)t;
        d.kv_lens = zero;
        const float k[2] = {tie, -1.0f}, v[2] = {tie, 0.0f};
        uint16_t kc[8], vc[8];
        const attn_strides s = tu_contig(1, 1, 2);
        TU_CHECK_STATUS(attn_kv_append(&d, k, s, v, s, &rope, NULL, kc, vc),
                        ATTN_OK);
        assert_true(stored(kc, (attn_dtype)t, 0) == up);   /* rotated: up */
        assert_true(stored(kc, (attn_dtype)t, 1) == -1.0);
        assert_true(stored(vc, (attn_dtype)t, 0) == 1.0);  /* a plain tie: even */
    }
}

/* ---- append and attend, step by step --------------------------------------- */

enum { SB = 2, SCAP = 32, SPS = 8, SNP = 10, SMAXP = SCAP / SPS, SD = 16,
       PRE = 6, PROMPT = 9, STEPS = 12, TQ = PROMPT + STEPS };

/* The decoding loop of one configuration: sequence 1 starts with a
 * 6-row prefix already cached, both prefill 9 rows and decode 12 tokens;
 * each step's output is kept with its lengths. */
typedef struct session {
    attn_sdpa_desc d;       /* of the cache; q_len and kv_lens per call */
    int64_t lens[SB];
    int32_t table[SB * SMAXP];
    void *k, *v;            /* caches */
    float *q_all;           /* (SB, HQ, TQ, SD): every rotated query */
    float *out_all;         /* (SB, HQ, TQ, SD): every step's output */
    double *want_k, *want_v;/* (SB, HKV, SCAP, SD): the rows appended,
                               keys turned, in double */
    int64_t step_lens[1 + STEPS][SB];
} session;

/* Records rows (nb, HKV, tn, SD) appended to sequences b0.. at their
 * current lengths; keys turned by rope. */
static void session_expect(session *s, int64_t b0, int64_t nb, int64_t tn,
                           const float *k, const float *v, const attn_rope *rope)
{
    for (int64_t b = b0; b < b0 + nb; ++b)
        for (int64_t h = 0; h < HKV; ++h)
            for (int64_t t = 0; t < tn; ++t) {
                const int64_t src = (((b - b0) * HKV + h) * tn + t) * SD;
                const int64_t dst = ((b * HKV + h) * SCAP + s->lens[b] + t) * SD;
                double x[SD];
                for (int64_t e = 0; e < SD; ++e) {
                    x[e] = k[src + e];
                    s->want_v[dst + e] = v[src + e];
                }
                ref_rope(rope, x, s->lens[b] + t);
                memcpy(s->want_k + dst, x, sizeof x);
            }
}

/* attn_kv_append + attn_sdpa_forward for tn new tokens from row `row` of
 * the session's query stream. */
static void step(session *s, const attn_rope *rope, int64_t row, int64_t tn,
                 int64_t step_no, tu_rng *r)
{
    attn_sdpa_desc d = s->d;
    d.q_len = tn;
    d.q_strides = tu_contig(HQ, tn, SD);
    d.out_strides = tu_contig(HQ, tn, SD);
    d.kv_lens = s->lens;
    d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    const attn_strides ns = tu_contig(HKV, tn, SD);
    float *k = tu_malloc(SB * HKV * tn * SD, sizeof *k);
    float *v = tu_malloc(SB * HKV * tn * SD, sizeof *v);
    float *q = tu_malloc(SB * HQ * tn * SD, sizeof *q);
    float *out = tu_malloc(SB * HQ * tn * SD, sizeof *out);
    tu_fill_tensor(k, SB, HKV, tn, SD, ns, r, -1.0, 1.0);
    tu_fill_tensor(v, SB, HKV, tn, SD, ns, r, -1.0, 1.0);
    tu_fill_tensor(q, SB, HQ, tn, SD, d.q_strides, r, -1.0, 1.0);
    double *want_q = tu_malloc(SB * HQ * tn * SD, sizeof *want_q);
    for (int64_t b = 0; b < SB; ++b)
        for (int64_t i = 0; i < HQ * tn; ++i) {
            double *x = want_q + (b * HQ * tn + i) * SD;
            for (int64_t e = 0; e < SD; ++e)
                x[e] = q[(b * HQ * tn + i) * SD + e];
            ref_rope(rope, x, s->lens[b] + i % tn);
        }
    TU_CHECK_STATUS(attn_kv_append(&d, k, ns, v, ns, rope, q, s->k, s->v), ATTN_OK);
    for (int64_t i = 0; i < SB * HQ * tn * SD; ++i) /* |q| < 1 */
        if (!(fabs(q[i] - want_q[i]) <= 4e-7))
            fail_msg("query value %lld: %g for %g", (long long)i, q[i], want_q[i]);
    free(want_q);
    session_expect(s, 0, SB, tn, k, v, rope);
    for (int64_t b = 0; b < SB; ++b)
        s->lens[b] += tn;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, q, s->k, s->v, out, NULL, NULL), ATTN_OK);
    memcpy(s->step_lens[step_no], s->lens, sizeof s->lens);
    for (int64_t b = 0; b < SB; ++b)
        for (int64_t h = 0; h < HQ; ++h)
            for (int64_t i = 0; i < tn; ++i) {
                const int64_t at = ((b * HQ + h) * TQ + row + i) * SD;
                memcpy(s->q_all + at, q + tu_at(d.q_strides, b, h, i, 0),
                       SD * sizeof *q);
                memcpy(s->out_all + at, out + tu_at(d.out_strides, b, h, i, 0),
                       SD * sizeof *out);
            }
    free(k);
    free(v);
    free(q);
    free(out);
}

/* Sequence 1's cached prefix: a one-sequence descriptor on its table row
 * (or its slice of the tensors). */
static void prefix(session *s, tu_rng *r)
{
    attn_sdpa_desc d = s->d;
    d.batch = 1;
    d.q_len = PRE;
    d.q_strides = d.out_strides = tu_contig(HQ, PRE, SD);
    d.kv_lens = &s->lens[1];
    char *k = s->k, *v = s->v;
    if (d.block_table) {
        d.block_table = s->table + SMAXP;
    } else {
        const int64_t es = (int64_t)elem_size(d.kv_dtype);
        k += d.k_strides.batch * es;
        v += d.v_strides.batch * es;
    }
    const attn_strides ns = tu_contig(HKV, PRE, SD);
    float *kn = tu_malloc(HKV * PRE * SD, sizeof *kn);
    float *vn = tu_malloc(HKV * PRE * SD, sizeof *vn);
    tu_fill_tensor(kn, 1, HKV, PRE, SD, ns, r, -1.0, 1.0);
    tu_fill_tensor(vn, 1, HKV, PRE, SD, ns, r, -1.0, 1.0);
    const attn_rope rope = {ATTN_ROPE_NEOX, SD, 10000.0, NULL, NULL, 0};
    TU_CHECK_STATUS(attn_kv_append(&d, kn, ns, vn, ns, &rope, NULL, k, v), ATTN_OK);
    session_expect(s, 1, 1, PRE, kn, vn, &rope);
    s->lens[1] += PRE;
    free(kn);
    free(vn);
}

/* One widened cache value against the appended one: its rounding (to
 * half an ulp: the reference turns keys in other last bits). */
static void check_value(double got, double want, attn_dtype t, int64_t b,
                        int64_t j)
{
    if (!(fabs(got - want) <= half_ulp(want, t) + 1e-12 * fabs(want)))
        fail_msg("sequence %lld row %lld: %a cached for %a", (long long)b,
                 (long long)j, got, want);
}

/* The caches widened into (SB, HKV, SCAP, SD) floats, NaN past the
 * lengths (the reference must not read there), each value checked
 * against the row appended there. */
static void widen(const session *s, float *k, float *v)
{
    const attn_sdpa_desc *d = &s->d;
    tu_fill_nan(k, SB * HKV * SCAP * SD);
    tu_fill_nan(v, SB * HKV * SCAP * SD);
    for (int64_t b = 0; b < SB; ++b)
        for (int64_t h = 0; h < HKV; ++h)
            for (int64_t j = 0; j < s->lens[b]; ++j) {
                int64_t o;
                if (d->block_table)
                    o = s->table[b * SMAXP + j / SPS] * d->k_strides.batch +
                        h * d->k_strides.head + (j % SPS) * d->k_strides.row;
                else
                    o = b * d->k_strides.batch + h * d->k_strides.head +
                        j * d->k_strides.row;
                for (int64_t e = 0; e < SD; ++e) {
                    const int64_t at = ((b * HKV + h) * SCAP + j) * SD + e;
                    k[at] = (float)stored(s->k, d->kv_dtype, o + e);
                    v[at] = (float)stored(s->v, d->kv_dtype, o + e);
                    check_value(k[at], s->want_k[at], d->kv_dtype, b, j);
                    check_value(v[at], s->want_v[at], d->kv_dtype, b, j);
                }
            }
}

static void session_run(attn_dtype t, int paged, tu_rng *r)
{
    session s;
    memset(&s, 0, sizeof s);
    attn_sdpa_desc_init(&s.d, SB, HQ, HKV, 1, SCAP, SD, SD);
    s.d.kv_dtype = t;
    int64_t elems = SB * HKV * SCAP * SD;
    if (paged) {
        int32_t perm[SNP];
        for (int i = 0; i < SNP; ++i)
            perm[i] = i;
        for (int i = SNP - 1; i > 0; --i) {
            const int j = (int)tu_rng_below(r, (uint64_t)i + 1);
            const int32_t x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        for (int i = 0; i < SB * SMAXP; ++i)
            s.table[i] = i < SNP ? perm[i] : -1;
        s.d.block_table = s.table;
        s.d.max_pages = SMAXP;
        s.d.page_size = SPS;
        s.d.num_pages = SNP;
        s.d.k_strides = s.d.v_strides = tu_contig(HKV, SPS, SD);
        elems = SNP * HKV * SPS * SD;
    }
    s.k = tu_malloc((size_t)elems, elem_size(t));
    s.v = tu_malloc((size_t)elems, elem_size(t));
    memset(s.k, 0xff, (size_t)elems * elem_size(t)); /* NaN in every format */
    memset(s.v, 0xff, (size_t)elems * elem_size(t));
    s.q_all = tu_malloc(SB * HQ * TQ * SD, sizeof *s.q_all);
    s.out_all = tu_malloc(SB * HQ * TQ * SD, sizeof *s.out_all);
    s.want_k = tu_malloc(SB * HKV * SCAP * SD, sizeof *s.want_k);
    s.want_v = tu_malloc(SB * HKV * SCAP * SD, sizeof *s.want_v);
    const attn_rope rope = {ATTN_ROPE_NEOX, SD, 10000.0, NULL, NULL, 0};

    prefix(&s, r);
    int64_t starts[SB];
    memcpy(starts, s.lens, sizeof starts);
    step(&s, &rope, 0, PROMPT, 0, r);
    for (int64_t i = 0; i < STEPS; ++i)
        step(&s, &rope, PROMPT + i, 1, 1 + i, r);

    /* Each step again on the final cache, same descriptor and inputs:
     * later appends left its rows as they were, bit for bit. */
    for (int64_t i = 0; i <= STEPS; ++i) {
        const int64_t row = i == 0 ? 0 : PROMPT + i - 1, tn = i == 0 ? PROMPT : 1;
        attn_sdpa_desc d = s.d;
        d.q_len = tn;
        d.q_strides = d.out_strides = tu_contig(HQ, tn, SD);
        d.kv_lens = s.step_lens[i];
        d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
        float *q = tu_malloc(SB * HQ * tn * SD, sizeof *q);
        float *out = tu_malloc(SB * HQ * tn * SD, sizeof *out);
        for (int64_t bh = 0; bh < SB * HQ; ++bh)
            memcpy(q + bh * tn * SD, s.q_all + (bh * TQ + row) * SD,
                   (size_t)(tn * SD) * sizeof *q);
        TU_CHECK_STATUS(attn_sdpa_forward(&d, q, s.k, s.v, out, NULL, NULL), ATTN_OK);
        for (int64_t bh = 0; bh < SB * HQ; ++bh)
            assert_memory_equal(out + bh * tn * SD, s.out_all + (bh * TQ + row) * SD,
                                (size_t)(tn * SD) * sizeof *out);
        free(q);
        free(out);
    }

    /* All steps at once: the double reference over the widened final
     * cache, and the general path over the cache itself, query row i of
     * sequence b at position starts[b] + i. */
    float *kw = tu_malloc(SB * HKV * SCAP * SD, sizeof *kw);
    float *vw = tu_malloc(SB * HKV * SCAP * SD, sizeof *vw);
    widen(&s, kw, vw);
    attn_sdpa_desc d;
    attn_sdpa_desc_init(&d, SB, HQ, HKV, TQ, SCAP, SD, SD);
    d.kv_lens = s.lens;
    d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    double *ref = tu_malloc(SB * HQ * TQ * SD, sizeof *ref);
    ref_sdpa(&d, s.q_all, kw, vw, ref, NULL, NULL, NULL);
    char what[64];
    snprintf(what, sizeof what, "%s %s", dtype_names[t], paged ? "paged" : "contiguous");
    const attn_strides os = tu_contig(HQ, TQ, SD);
    TU_CHECK_REL(tu_rel_err(s.out_all, os, SB, HQ, TQ, SD, ref), what, "steps");
    attn_sdpa_desc full = s.d;
    full.q_len = TQ;
    full.q_strides = full.out_strides = os;
    full.kv_lens = s.lens;
    full.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    full.algo = ATTN_ALGO_FUSED;
    float *out = tu_malloc(SB * HQ * TQ * SD, sizeof *out);
    TU_CHECK_STATUS(attn_sdpa_forward(&full, s.q_all, s.k, s.v, out, NULL, NULL),
                    ATTN_OK);
    TU_CHECK_REL(tu_rel_err(out, os, SB, HQ, TQ, SD, ref), what, "all at once");
    assert_int_equal(s.lens[0], starts[0] + TQ);
    assert_int_equal(s.lens[1], PRE + TQ);
    free(out);
    free(ref);
    free(kw);
    free(vw);
    free(s.k);
    free(s.v);
    free(s.q_all);
    free(s.out_all);
    free(s.want_k);
    free(s.want_v);
}

static void test_append_then_attend(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0xa9a1);
    session_run(ATTN_DTYPE_F16, 1, &r);
    session_run(ATTN_DTYPE_BF16, 0, &r);
    session_run(ATTN_DTYPE_F32, 1, &r);
}

/* ---- bad input --------------------------------------------------------------- */

/* An fp32 paged cache (K and V pools of 20 pages of 5 rows) with 6 rows
 * to append to each of lengths {4, 9, 0}, and everything a call reads,
 * with a copy to see that nothing changed. */
typedef struct bad_case {
    attn_sdpa_desc d;
    int64_t lens[NB];
    int32_t table[NB * MAXP];
    float *all;             /* K pool, V pool, k_new, v_new, q */
    float *k, *v;
    float *kn, *vn, *q;     /* k_new, v_new (B, Hkv, 6, D), q (B, Hq, 6, D) */
    attn_strides ns;
    attn_rope rope;
    float *copy;            /* all, as it was */
} bad_case;

enum { BTN = 6, POOL = NP * HKV * PS * D, NEW = NB * HKV * BTN * D,
       QN = NB * HQ * BTN * D, ALL = 2 * POOL + 2 * NEW + QN };

static void bad_init(bad_case *c, tu_rng *r)
{
    memset(c, 0, sizeof *c);
    attn_sdpa_desc_init(&c->d, NB, HQ, HKV, BTN, CAP, D, D);
    static const int64_t lens[NB] = {4, 9, 0};
    memcpy(c->lens, lens, sizeof lens);
    c->d.kv_lens = c->lens;
    /* Distinct pages; sequence 2's entries from 4 on are -1 (unused). */
    for (int i = 0; i < NB * MAXP; ++i)
        c->table[i] = i < NP ? (i * 7) % NP : -1;
    c->d.block_table = c->table;
    c->d.max_pages = MAXP;
    c->d.page_size = PS;
    c->d.num_pages = NP;
    c->d.k_strides = c->d.v_strides = tu_contig(HKV, PS, D);
    /* One allocation, so that pointers can be pointed into each other. */
    c->all = tu_malloc(ALL, sizeof *c->all);
    c->k = c->all;
    c->v = c->all + POOL;
    c->kn = c->all + 2 * POOL;
    c->vn = c->kn + NEW;
    c->q = c->vn + NEW;
    for (int i = 0; i < ALL; ++i)
        c->all[i] = (float)tu_rng_uniform(r, -1.0, 1.0);
    c->ns = tu_contig(HKV, BTN, D);
    const attn_rope rope = {ATTN_ROPE_GPTJ, D, 10000.0, NULL, NULL, 0};
    c->rope = rope;
    c->copy = tu_malloc(ALL, sizeof *c->copy);
    memcpy(c->copy, c->all, ALL * sizeof *c->all);
}

static attn_status bad_call(bad_case *c)
{
    return attn_kv_append(&c->d, c->kn, c->ns, c->vn, c->ns, &c->rope, c->q,
                          c->k, c->v);
}

/* The call returns `want` and leaves every byte as it was. */
#define EXPECT(call, want)                                                    \
    do {                                                                      \
        TU_CHECK_STATUS(call, want);                                          \
        assert_memory_equal(c.all, c.copy, ALL * sizeof *c.all);              \
    } while (0)

/* Back to the good call. */
#define RESET()                                                               \
    do {                                                                      \
        c.d = g.d;                                                            \
        c.rope = g.rope;                                                      \
        c.ns = g.ns;                                                          \
        c.kn = g.kn, c.vn = g.vn, c.q = g.q, c.k = g.k, c.v = g.v;            \
        memcpy(c.lens, g.lens, sizeof c.lens);                                \
        memcpy(c.table, g.table, sizeof c.table);                             \
    } while (0)

static void test_bad_input(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0xa9a2);
    bad_case c, g;
    bad_init(&c, &r);
    g = c;
    memcpy(g.lens, c.lens, sizeof g.lens);
    memcpy(g.table, c.table, sizeof g.table);

    /* Null pointers. */
    EXPECT(attn_kv_append(NULL, c.kn, c.ns, c.vn, c.ns, &c.rope, c.q, c.k, c.v),
           ATTN_ERR_NULL_POINTER);
    EXPECT(attn_kv_append(&c.d, NULL, c.ns, c.vn, c.ns, &c.rope, c.q, c.k, c.v),
           ATTN_ERR_NULL_POINTER);
    EXPECT(attn_kv_append(&c.d, c.kn, c.ns, NULL, c.ns, &c.rope, c.q, c.k, c.v),
           ATTN_ERR_NULL_POINTER);
    EXPECT(attn_kv_append(&c.d, c.kn, c.ns, c.vn, c.ns, &c.rope, c.q, NULL, c.v),
           ATTN_ERR_NULL_POINTER);
    EXPECT(attn_kv_append(&c.d, c.kn, c.ns, c.vn, c.ns, &c.rope, c.q, c.k, NULL),
           ATTN_ERR_NULL_POINTER);
    c.d.kv_lens = NULL;
    EXPECT(bad_call(&c), ATTN_ERR_NULL_POINTER);

    /* The descriptor's own checks. */
    RESET(); c.d.struct_size = 8;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_DESC);
    RESET(); c.d.head_dim = 0;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_DIMENSION);
    RESET(); c.d.page_size = 0;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_DIMENSION);
    RESET(); c.d.kv_dtype = (attn_dtype)3;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_DTYPE);
    RESET(); c.lens[1] = -1;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_KV_LEN);
    RESET(); c.table[0] = NP; /* a page of sequence 0's existing rows */
    EXPECT(bad_call(&c), ATTN_ERR_BAD_PAGE);

    /* No room for the new rows: capacity, table, pages. */
    RESET(); c.lens[1] = CAP - BTN + 1;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_KV_LEN);
    RESET(); c.lens[1] = CAP - BTN; /* fits: refused only for the q alias */
    c.q = c.kn;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.d.max_pages = 2; /* rows 0..8 fit 2 pages, rows 9..14 need 3 */
    EXPECT(bad_call(&c), ATTN_ERR_BLOCK_TABLE_SHORT);
    RESET(); c.table[1 * MAXP + 2] = NP;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_PAGE);
    RESET(); c.table[0 * MAXP + 1] = -1;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_PAGE);

    /* Alignment of the caches to their storage type. */
    RESET(); c.d.kv_dtype = ATTN_DTYPE_F16;
    c.v = (float *)(void *)((char *)c.v + 1);
    EXPECT(bad_call(&c), ATTN_ERR_MISALIGNED);
    RESET(); c.k = (float *)(void *)((char *)c.k + 2);
    EXPECT(bad_call(&c), ATTN_ERR_MISALIGNED);

    /* The rope, as attn_rope_forward checks it, and its positions: up to
     * 9 + 6 - 1 = 14, so tables need 15 rows. */
    static const float tab[2 * 15 * D / 2];
    RESET(); c.rope.rotary_dim = 3;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ROTARY_DIM);
    RESET(); c.rope.rotary_dim = 0;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ROTARY_DIM);
    RESET(); c.rope.rotary_dim = D + 2;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ROTARY_DIM);
    RESET(); c.rope.style = (attn_rope_style)2;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ARGUMENT);
    RESET(); c.rope.base = -1.0;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ARGUMENT);
    RESET(); c.rope.base = INFINITY;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ARGUMENT);
    RESET(); c.rope.sin = tab;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ARGUMENT);
    RESET(); c.rope.cos = tab; c.rope.sin = tab + 15 * D / 2; c.rope.table_len = 14;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_ARGUMENT);

    /* Strides: the new rows', the caches' and q's layouts. */
    RESET(); c.ns.row = D - 1;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_STRIDE);
    RESET(); c.ns.head = -1;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_STRIDE);
    RESET();
    EXPECT(attn_kv_append(&c.d, c.kn, c.ns, c.vn, tu_strides(0, 0, -D), &c.rope,
                          c.q, c.k, c.v), ATTN_ERR_BAD_STRIDE);
    RESET(); c.d.k_strides.head = 0;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_STRIDE);
    RESET(); c.d.v_strides.batch = PS * D; /* pages overlap */
    EXPECT(bad_call(&c), ATTN_ERR_BAD_STRIDE);
    RESET(); c.d.q_strides.head = 0;
    EXPECT(bad_call(&c), ATTN_ERR_BAD_STRIDE);
    RESET(); c.ns.batch = INT64_MAX / 2;
    EXPECT(bad_call(&c), ATTN_ERR_SIZE_OVERFLOW);

    /* Aliasing: an input or q over a row written (sequence 0's row 4,
     * page table[0] slot 4), q over an input, K over V. */
    const int64_t row = (int64_t)c.table[0] * HKV * PS * D + 4 * D;
    RESET(); c.kn = c.k + row + D - 1;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.vn = c.v + row + PS * D + D - 1; /* head 1's row */
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.q = c.k + row + D - 1;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.q = c.kn + 3;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.rope.cos = c.q + QN - 1; c.rope.sin = tab; c.rope.table_len = 15;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.v = c.k;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET(); c.v = c.k + D / 2; /* one layout, rows overlapping */
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    /* K rows in every other row slot, V one slot further on with half
     * K's row stride: V in K's gaps by K's strides, not by its own. */
    RESET();
    c.d.k_strides = tu_strides(HKV * PS * 2 * D, PS * 2 * D, 2 * D);
    c.d.v_strides = tu_strides(HKV * PS * 2 * D, PS * 2 * D, D);
    c.v = c.k + D;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    /* kv_lens and the block table inside a V row written. */
    RESET();
    memcpy(c.v + row, c.lens, sizeof c.lens);
    memcpy(c.copy, c.all, ALL * sizeof *c.all);
    c.d.kv_lens = (const int64_t *)(const void *)(c.v + row);
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    RESET();
    memcpy(c.v + row + 2, c.table, sizeof c.table);
    memcpy(c.copy, c.all, ALL * sizeof *c.all);
    c.d.block_table = (const int32_t *)(const void *)(c.v + row + 2);
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);

    /* Two new rows on one page slot: sequence 2 given sequence 0's first
     * page, where 0 writes slot 4 and 2 slots 3, 4 (from length 3). */
    RESET(); c.table[2 * MAXP] = c.table[0]; c.lens[2] = 3;
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);
    /* One sequence naming a page twice: rows 4 (slot 4) and 5..9. */
    RESET(); c.table[1] = c.table[0];
    EXPECT(bad_call(&c), ATTN_ERR_ALIASING);

    /* Without a rope q is neither rotated nor checked. */
    RESET(); c.d.q_strides.head = 0;
    TU_CHECK_STATUS(attn_kv_append(&c.d, c.kn, c.ns, c.vn, c.ns, NULL, c.q,
                                   c.k, c.v), ATTN_OK);
    assert_memory_equal(c.k + 2 * POOL, c.copy + 2 * POOL,
                        (2 * NEW + QN) * sizeof *c.all);
    assert_memory_not_equal(c.all, c.copy, 2 * POOL * sizeof *c.all);
    free(c.all);
    free(c.copy);
}
#undef RESET
#undef EXPECT

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_shared_page),
        cmocka_unit_test(test_rope_on_append),
        cmocka_unit_test(test_rope_wide),
        cmocka_unit_test(test_one_rounding),
        cmocka_unit_test(test_append_then_attend),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
