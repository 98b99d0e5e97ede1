/*
 * K/V caches (sdpa.h, "K/V storage" and "Paged K/V"):
 *   - every fp16 and bfloat16 bit pattern widens exactly, on every CPU
 *     level this machine runs, through each forward path and the scores;
 *   - fp16 and bf16 K and V through the decoding, fused and materialised
 *     paths and attn_sdpa_scores against the double reference computed on
 *     the stored (rounded) values: Tq 1..16, GQA 1/4/8, Hkv 1, head sizes
 *     with and without vector tails, kv_lens 0, 1 and unaligned, causal;
 *   - paged pools, pages shuffled, bit-identical to the contiguous cache
 *     on the same path; NaN in every unused page, slot and table entry;
 *   - each bad cache input its own status, nothing written;
 *   - split-KV decoding of a long paged fp16 cache bit-identical for 1, 2
 *     and 3 threads.
 * The conversions the test uses are its own (half_ref.h). ATTN_TEST_LIGHT
 * (valgrind) shortens the long caches and drops the forced CPU levels.
 */
#define _POSIX_C_SOURCE 200809L /* setenv, unsetenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "half_ref.h"
#include "reference.h"
#include "testutil.h"

static int light(void)
{
    return getenv("ATTN_TEST_LIGHT") != NULL;
}

static const char *dtype_name(attn_dtype t)
{
    return t == ATTN_DTYPE_F16 ? "f16" : t == ATTN_DTYPE_BF16 ? "bf16" : "f32";
}

static const char *algo_name(attn_algo a)
{
    return a == ATTN_ALGO_FUSED ? "fused"
           : a == ATTN_ALGO_MATERIALIZED ? "materialized" : "auto";
}

/* ---- stored elements ------------------------------------------------------ */

static size_t elem_size(attn_dtype t)
{
    return t == ATTN_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

static hr_format format_of(attn_dtype t)
{
    return t == ATTN_DTYPE_F16 ? HR_F16 : HR_BF16;
}

/* Element i of a stored array = x, rounded to the storage type. */
static void store_elem(attn_dtype t, void *base, size_t i, double x)
{
    if (t == ATTN_DTYPE_F32) {
        const float f = (float)x;
        memcpy((char *)base + i * sizeof f, &f, sizeof f);
        return;
    }
    const uint16_t h = hr_encode(format_of(t), x);
    memcpy((char *)base + i * sizeof h, &h, sizeof h);
}

/* The value element i of a stored array holds (the test's decoding). */
static float load_elem(attn_dtype t, const void *base, size_t i)
{
    if (t == ATTN_DTYPE_F32) {
        float f;
        memcpy(&f, (const char *)base + i * sizeof f, sizeof f);
        return f;
    }
    uint16_t h;
    memcpy(&h, (const char *)base + i * sizeof h, sizeof h);
    return (float)hr_decode(format_of(t), h);
}

static void fill_nan_elems(attn_dtype t, void *base, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        store_elem(t, base, i, NAN);
}

/* ---- a problem with a stored cache ----------------------------------------- */

/*
 * p holds q, the masks, K and V as fp32 (B, Hkv, Tk, d) contiguous equal
 * to the stored values, and the reference on them; lib is the library's
 * descriptor over k and v, the stored tensors (strided) or pools (paged).
 */
typedef struct cache {
    tu_problem p;
    attn_sdpa_desc lib;
    void *k, *v;
    size_t k_n, v_n;        /* elements of k's and v's spans */
    int32_t *table;         /* (B, max_pages) when paged */
} cache;

typedef struct cache_case {
    int64_t B, Hq, Hkv, Tq, Tk, d, dv;
    int lens;               /* kv_lens: 0 none, 1 {0, 1, unaligned, ...} */
    attn_causal causal;
    int masks;              /* keep_mask and bias, one (Tq, Tk) each */
    int layout;             /* stored K/V: 0 contiguous, 1 (B, T, H, d),
                               2 padded rows, heads and batches */
} cache_case;

static attn_strides layout_strides(int layout, int64_t H, int64_t T,
                                   int64_t last)
{
    if (layout == 1)
        return tu_strides(T * H * last, last, H * last);
    if (layout == 2) {
        const int64_t row = last + 3, head = T * row + 5;
        return tu_strides(H * head + 1, head, row);
    }
    return tu_contig(H, T, last);
}

/* Keys batch b uses: kv_lens[b], else Tk. */
static int64_t used_keys(const attn_sdpa_desc *d, int64_t b)
{
    return d->kv_lens ? d->kv_lens[b] : d->kv_len;
}

/* The stored tensor over strides s from the fp32 one x (B, Hkv, Tk, last)
 * contiguous, which becomes the stored values; rows past kv_lens and the
 * gaps hold NaN (never read). */
static void *store_tensor(const attn_sdpa_desc *d, attn_dtype t, float *x,
                          int64_t last, attn_strides s, size_t *n)
{
    const int64_t H = d->kv_heads, T = d->kv_len;
    *n = tu_span(d->batch, H, T, last, s);
    void *y = tu_malloc(*n, elem_size(t));
    fill_nan_elems(t, y, *n);
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t j = 0; j < used_keys(d, b); ++j)
                for (int64_t c = 0; c < last; ++c) {
                    const size_t at = (size_t)tu_at(s, b, h, j, c);
                    float *xe = x + ((b * H + h) * T + j) * last + c;
                    store_elem(t, y, at, *xe);
                    *xe = load_elem(t, y, at);
                }
    return y;
}

static void cache_make(cache *c, const cache_case *cc, attn_dtype t,
                       uint64_t seed)
{
    tu_rng r = tu_rng_make(seed);
    memset(c, 0, sizeof *c);
    tu_problem *p = &c->p;
    tu_problem_init(p, cc->B, cc->Hq, cc->Hkv, cc->Tq, cc->Tk, cc->d, cc->dv);
    p->d.causal = cc->causal;
    if (cc->lens) {
        int64_t *lens = tu_problem_kv_lens(p);
        static const int64_t pick[] = {0, 1, 3};
        for (int64_t b = 0; b < cc->B; ++b)
            lens[b] = b < 3 ? (pick[b] < cc->Tk ? pick[b] : cc->Tk)
                            : cc->Tk - (b * 37) % cc->Tk;
        if (cc->B == 1)
            lens[0] = cc->Tk - cc->Tk / 3;
        else
            lens[cc->B - 1] = cc->Tk - cc->Tk / 7; /* one long, unaligned */
    }
    if (cc->masks) {
        tu_problem_keep(p, tu_strides(0, 0, cc->Tk), 85, &r);
        tu_problem_bias(p, tu_strides(0, 0, cc->Tk), &r);
    }
    tu_problem_data(p, &r);
    c->lib = p->d;
    c->lib.kv_dtype = t;
    c->lib.k_strides = layout_strides(cc->layout, cc->Hkv, cc->Tk, cc->d);
    c->lib.v_strides = layout_strides(cc->layout, cc->Hkv, cc->Tk, cc->dv);
    c->k = store_tensor(&p->d, t, p->k, cc->d, c->lib.k_strides, &c->k_n);
    c->v = store_tensor(&p->d, t, p->v, cc->dv, c->lib.v_strides, &c->v_n);
    tu_problem_reference(p);
}

static void cache_free(cache *c)
{
    tu_problem_free(&c->p);
    free(c->k);
    free(c->v);
    free(c->table);
    memset(c, 0, sizeof *c);
}

/* Forward on `algo` into p's outputs (pre-filled with NaN), lse always,
 * weights when asked; the allocating or the workspace entry point. */
static void run(cache *c, attn_algo algo, int threads, int want_w, int ws)
{
    tu_problem *p = &c->p;
    c->lib.algo = algo;
    c->lib.num_threads = threads;
    tu_fill_nan(p->out, p->out_n);
    tu_fill_nan(p->weights, p->w_n);
    tu_fill_nan(p->lse, p->lse_n);
    float *w = want_w ? p->weights : NULL;
    if (!ws) {
        TU_CHECK_STATUS(attn_sdpa_forward(&c->lib, p->q, c->k, c->v, p->out,
                                          w, p->lse),
                        ATTN_OK);
        return;
    }
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&c->lib, &bytes), ATTN_OK);
    unsigned char *buf = tu_malloc(bytes, 1);
    memset(buf, 0xFF, bytes);
    const attn_status s = attn_sdpa_forward_ws(&c->lib, p->q, c->k, c->v,
                                               p->out, w, p->lse, buf, bytes);
    free(buf);
    TU_CHECK_STATUS(s, ATTN_OK);
}

/* attn_sdpa_scores into a new (B, Hq, Tq, Tk) buffer. */
static float *scores_of(const cache *c)
{
    float *s = tu_malloc(c->p.w_n, sizeof *s);
    tu_fill_nan(s, c->p.w_n);
    TU_CHECK_STATUS(attn_sdpa_scores(&c->lib, c->p.q, c->k, s), ATTN_OK);
    return s;
}

static void check_scores(const cache *c, const char *what)
{
    const attn_sdpa_desc *d = &c->p.d;
    float *s = scores_of(c);
    const double err = tu_rel_err(s, tu_contig(d->q_heads, d->q_len, d->kv_len),
                                  d->batch, d->q_heads, d->q_len, d->kv_len,
                                  c->p.r_s);
    free(s);
    TU_CHECK_REL(err, what, "scores");
}

/* Every path (the decoding one where AUTO takes it: no weights, few
 * rows), then the scores, against the reference. */
static void check_all_paths(cache *c, const char *what)
{
    char at[224];
    static const attn_algo algos[] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED,
                                      ATTN_ALGO_MATERIALIZED};
    for (int a = 0; a < 3; ++a) {
        const int want_w = algos[a] != ATTN_ALGO_AUTO;
        run(c, algos[a], 0, want_w, a != 1);
        snprintf(at, sizeof at, "%s %s", what, algo_name(algos[a]));
        tu_check(&c->p, want_w, 1, at);
    }
    check_scores(c, what);
}

static void describe(char *buf, size_t n, const cache_case *cc, attn_dtype t)
{
    snprintf(buf, n, "%s B%lld Hq%lld Hkv%lld Tq%lld Tk%lld d%lld dv%lld "
             "lens%d causal%d masks%d layout%d", dtype_name(t),
             (long long)cc->B, (long long)cc->Hq, (long long)cc->Hkv,
             (long long)cc->Tq, (long long)cc->Tk, (long long)cc->d,
             (long long)cc->dv, cc->lens, (int)cc->causal, cc->masks,
             cc->layout);
}

/* ---- the test's own conversions --------------------------------------------- */

/* The oracle first: half_ref.h round-trips every pattern and rounds
 * midpoints to even, so the tests below stand on correct values. */
static void check_format(hr_format f, const char *name)
{
    const unsigned inf = ((1u << f.exp_bits) - 1) << (f.p - 1);
    for (unsigned h = 0; h < 0x10000u; ++h) {
        const double x = hr_decode(f, (uint16_t)h);
        const uint16_t back = hr_encode(f, x);
        if (isnan(x)) {
            if ((back & 0x7fffu) <= inf || (back & 0x8000u) != (h & 0x8000u))
                fail_msg("%s %#06x: NaN re-encodes as %#06x", name, h, back);
        } else if (back != h) {
            fail_msg("%s %#06x (%a) re-encodes as %#06x", name, h, x, back);
        }
        /* Between h and the next pattern up in magnitude: the midpoint
         * goes to the even one, anything off it to the nearer one. */
        const unsigned mag = h & 0x7fffu;
        if (mag + 1 >= inf) /* the step to Inf: the hand checks below */
            continue;
        const double next = hr_decode(f, (uint16_t)(h + 1));
        const double mid = (x + next) / 2; /* exact in double */
        const uint16_t even = (h & 1u) ? (uint16_t)(h + 1) : (uint16_t)h;
        const double toward0 = nextafter(mid, 0.0);
        const double away = nextafter(mid, copysign(INFINITY, mid));
        if (hr_encode(f, mid) != even ||
            hr_encode(f, toward0) != (uint16_t)h ||
            hr_encode(f, away) != (uint16_t)(h + 1))
            fail_msg("%s %#06x: rounding around %a wrong", name, h, mid);
    }
}

static void test_reference_conversions(void **state)
{
    (void)state;
    check_format(HR_F16, "fp16");
    check_format(HR_BF16, "bf16");
    /* A few values by hand. */
    assert_int_equal(hr_encode(HR_F16, 1.0), 0x3c00);
    assert_int_equal(hr_encode(HR_F16, -2.0), 0xc000);
    assert_int_equal(hr_encode(HR_F16, 65504.0), 0x7bff);
    assert_int_equal(hr_encode(HR_F16, 65519.99), 0x7bff);
    assert_int_equal(hr_encode(HR_F16, 65520.0), 0x7c00); /* ties to Inf */
    assert_int_equal(hr_encode(HR_F16, 0x1p-24), 0x0001);
    assert_int_equal(hr_encode(HR_F16, 0x1p-25), 0x0000);  /* tie: to 0 */
    assert_int_equal(hr_encode(HR_F16, 0x1.8p-24), 0x0002); /* tie: to 2 */
    assert_int_equal(hr_encode(HR_F16, -0.0), 0x8000);
    assert_int_equal(hr_encode(HR_BF16, 1.0), 0x3f80);
    assert_int_equal(hr_encode(HR_BF16, 1.0 + 0x1p-8), 0x3f80); /* tie: even */
    assert_int_equal(hr_encode(HR_BF16, 1.0 + 0x1.8p-7), 0x3f82);
    assert_int_equal(hr_encode(HR_BF16, 0x1p-133), 0x0001);
    assert_true(hr_decode(HR_F16, 0x3555) == 0x1.554p-2);
    assert_true(hr_decode(HR_BF16, 0xc2f7) == -123.5);
}

/* ---- every 16-bit pattern --------------------------------------------------- */

/* The CPU levels to run the exhaustive checks on: the one the run was
 * given (ATTN_CPU_LEVEL, else the best), then each lower one forced
 * (ATTN_CPU_LEVEL is read at every call; a level above the machine's
 * falls back to its best). */
static const char *const levels[] = {NULL, "generic", "avx2"};

static int level_count(void)
{
    return light() ? 1 : 3;
}

/* level NULL: the environment's own setting, saved at the first call. */
static void set_level(const char *level)
{
    static int saved;
    static char given[32];
    if (!saved) {
        const char *e = getenv("ATTN_CPU_LEVEL");
        snprintf(given, sizeof given, "%s", e ? e : "");
        saved = 1;
    }
    if (level == NULL && given[0] == '\0')
        assert_int_equal(unsetenv("ATTN_CPU_LEVEL"), 0);
    else
        assert_int_equal(setenv("ATTN_CPU_LEVEL", level ? level : given, 1), 0);
}

/*
 * What the output of one pattern must be when it is attended with weight
 * exactly 1: its value (NaN for a NaN, the same infinity for ±Inf: 1 x Inf
 * = Inf and nothing else is added). Zeros compare equal whatever their
 * sign: an accumulator that starts at +0 turns -0 into +0, and the header
 * promises nothing about the sign of a zero.
 */
static int matches(float got, double want)
{
    return isnan(want) ? isnan(got) : (double)got == want;
}

/*
 * V rows hold every pattern once: B = ceil(65536 / dv) batches of one
 * query and one key; the key row is zero, so the score is 0 and the one
 * weight exactly 1, and out = V. dv = 8 runs the 8-lane loads, dv = 3
 * the scalar tails.
 */
static void check_patterns_v(attn_dtype t, int64_t dv, attn_algo algo,
                             const char *level)
{
    const int64_t B = (0x10000 + dv - 1) / dv, d = 8;
    attn_sdpa_desc desc;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&desc, B, 1, 1, 1, 1, d, dv), ATTN_OK);
    desc.kv_dtype = t;
    desc.algo = algo;
    uint16_t *k = calloc((size_t)(B * d), sizeof *k);   /* (B, 1, 1, d) */
    uint16_t *v = tu_malloc((size_t)(B * dv), sizeof *v); /* (B, 1, 1, dv) */
    float *q = tu_malloc((size_t)(B * d), sizeof *q);   /* (B, 1, 1, d) */
    float *out = tu_malloc((size_t)(B * dv), sizeof *out);
    float *w = tu_malloc((size_t)B, sizeof *w), *lse = tu_malloc((size_t)B, sizeof *lse);
    assert_non_null(k);
    tu_rng r = tu_rng_make(7);
    for (int64_t i = 0; i < B * d; ++i)
        q[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
    for (int64_t i = 0; i < B * dv; ++i)
        v[i] = (uint16_t)(i < 0x10000 ? i : 0);
    for (int64_t i = 0; i < B * dv; ++i)
        out[i] = 0.123f; /* not NaN: NaN is a result here */
    const int want_w = algo != ATTN_ALGO_AUTO;
    TU_CHECK_STATUS(attn_sdpa_forward(&desc, q, k, v, out, want_w ? w : NULL,
                                      lse),
                    ATTN_OK);
    const hr_format f = format_of(t);
    for (int64_t i = 0; i < 0x10000; ++i) {
        const double want = hr_decode(f, (uint16_t)i);
        if (!matches(out[i], want))
            fail_msg("%s %s level %s dv %lld: pattern %#06llx gives %a, not %a",
                     dtype_name(t), algo_name(algo), level ? level : "given",
                     (long long)dv, (unsigned long long)i, (double)out[i], want);
    }
    for (int64_t b = 0; b < B; ++b)
        if (lse[b] != 0.0f || (want_w && w[b] != 1.0f))
            fail_msg("%s %s: batch %lld has lse %g, weight %g", dtype_name(t),
                     algo_name(algo), (long long)b, (double)lse[b],
                     (double)w[b]);
    free(k);
    free(v);
    free(q);
    free(out);
    free(w);
    free(lse);
}

/*
 * K rows hold one pattern each, in lane b % 9 (the 8-lane loads and the
 * scalar tail), zeros elsewhere; the query is that lane's unit vector and
 * the scale 1, so attn_sdpa_scores gives the pattern's value: every other
 * product is 0 x 0.
 */
static void check_patterns_k(attn_dtype t, const char *level)
{
    const int64_t B = 0x10000, d = 9;
    attn_sdpa_desc desc;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&desc, B, 1, 1, 1, 1, d, 1), ATTN_OK);
    desc.kv_dtype = t;
    desc.scale = 1.0f;
    uint16_t *k = calloc((size_t)(B * d), sizeof *k);  /* (B, 1, 1, d) */
    float *q = calloc((size_t)(B * d), sizeof *q);     /* (B, 1, 1, d) */
    float *s = tu_malloc((size_t)B, sizeof *s);        /* (B, 1, 1, 1) */
    assert_non_null(k);
    assert_non_null(q);
    for (int64_t b = 0; b < B; ++b) {
        k[b * d + b % d] = (uint16_t)b;
        q[b * d + b % d] = 1.0f;
        s[b] = 0.123f;
    }
    TU_CHECK_STATUS(attn_sdpa_scores(&desc, q, k, s), ATTN_OK);
    const hr_format f = format_of(t);
    for (int64_t b = 0; b < B; ++b)
        if (!matches(s[b], hr_decode(f, (uint16_t)b)))
            fail_msg("%s scores level %s: pattern %#06llx gives %a, not %a",
                     dtype_name(t), level ? level : "given",
                     (unsigned long long)b, (double)s[b],
                     hr_decode(f, (uint16_t)b));
    free(k);
    free(q);
    free(s);
}

static void check_all_patterns(attn_dtype t)
{
    static const attn_algo algos[] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED,
                                      ATTN_ALGO_MATERIALIZED};
    for (int l = 0; l < level_count(); ++l) {
        set_level(levels[l]);
        for (int a = 0; a < 3; ++a) {
            check_patterns_v(t, 8, algos[a], levels[l]);
            check_patterns_v(t, 3, algos[a], levels[l]);
        }
        check_patterns_k(t, levels[l]);
    }
    set_level(NULL);
}

static void test_every_f16_pattern(void **state)
{
    (void)state;
    check_all_patterns(ATTN_DTYPE_F16);
}

static void test_every_bf16_pattern(void **state)
{
    (void)state;
    check_all_patterns(ATTN_DTYPE_BF16);
}

/* ---- every path against the reference ---------------------------------------- */

static void test_paths_against_reference(void **state)
{
    (void)state;
    const int64_t tk = light() ? 130 : 300;
    const cache_case cases[] = {
        /* B Hq Hkv Tq Tk  d  dv  lens causal masks layout */
        {2, 4, 4, 1, tk, 64, 64, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 0, 0},
        {2, 8, 2, 4, tk, 128, 128, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 0, 1},
        {2, 8, 1, 4, 2 * tk, 72, 72, 0, ATTN_CAUSAL_NONE, 1, 2},
        {1, 8, 1, 16, tk - 43, 100, 100, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 0, 2},
        {4, 4, 1, 16, 40, 64, 40, 1, ATTN_CAUSAL_TOP_LEFT, 1, 1},
        {3, 4, 2, 7, 1, 9, 3, 1, ATTN_CAUSAL_NONE, 0, 0},
        {2, 2, 2, 3, 517, 3, 11, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 1, 2},
        {2, 6, 1, 2, tk, 20, 20, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 0, 1},
    };
    static const attn_dtype types[] = {ATTN_DTYPE_F16, ATTN_DTYPE_BF16};
    char what[192];
    uint64_t seed = 100;
    for (int t = 0; t < 2; ++t)
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
            cache c;
            cache_make(&c, &cases[i], types[t], seed++);
            describe(what, sizeof what, &cases[i], types[t]);
            check_all_paths(&c, what);
            cache_free(&c);
        }
}

/* Every Tq from 1 to 16 (the decoding path's rows; GQA 4 packs up to 32
 * of them, 8 past that goes to the fused path), odd head sizes. */
static void test_every_q_len(void **state)
{
    (void)state;
    static const attn_dtype types[] = {ATTN_DTYPE_F16, ATTN_DTYPE_BF16};
    char what[192];
    for (int64_t tq = 1; tq <= 16; ++tq) {
        const cache_case cc = {2, 8, tq % 2 ? 2 : 1, tq, 77, 100, 36, 1,
                               ATTN_CAUSAL_BOTTOM_RIGHT, tq % 3 == 0,
                               (int)(tq % 3)};
        cache c;
        cache_make(&c, &cc, types[tq % 2], (uint64_t)(200 + tq));
        describe(what, sizeof what, &cc, types[tq % 2]);
        check_all_paths(&c, what);
        cache_free(&c);
    }
}

/* ---- pages -------------------------------------------------------------------- */

/* Invalid table entries, each one a bad page if it were read. */
static int32_t unused_entry(int64_t i, int64_t num_pages)
{
    static const int32_t bad[] = {-1, INT32_MAX, INT32_MIN, 0};
    const int32_t x = bad[i % 4];
    return x == 0 ? (int32_t)num_pages : x;
}

/* Pools (num_pages, Hkv, ps, last) (mode 0) or (num_pages, ps, Hkv, last). */
static attn_strides pool_strides(int mode, int64_t H, int64_t ps, int64_t last)
{
    return mode ? tu_strides(ps * H * last, last, H * last)
                : tu_contig(H, ps, last);
}

/* The rows of the stored tensor x (src strides) that batches use, copied
 * into a NaN-filled pool along the block table. */
static void *fill_pool(const cache *c, const attn_sdpa_desc *pd,
                       const void *x, attn_strides src, attn_strides dst,
                       int64_t last, size_t *n)
{
    const attn_dtype t = pd->kv_dtype;
    const size_t es = elem_size(t);
    *n = tu_span(pd->num_pages, pd->kv_heads, pd->page_size, last, dst);
    char *pool = tu_malloc(*n, es);
    fill_nan_elems(t, pool, *n);
    for (int64_t b = 0; b < pd->batch; ++b)
        for (int64_t j = 0; j < used_keys(&c->lib, b); ++j) {
            const int64_t page = pd->block_table[b * pd->max_pages + j / pd->page_size];
            for (int64_t h = 0; h < pd->kv_heads; ++h)
                memcpy(pool + (size_t)tu_at(dst, page, h, j % pd->page_size, 0) * es,
                       (const char *)x + (size_t)tu_at(src, b, h, j, 0) * es,
                       (size_t)last * es);
        }
    return pool;
}

/* The cache c paged: the pages its batches use in shuffled order among 3
 * spare ones, two entries past each row's used ones (invalid values);
 * every unused page and slot NaN. Shares p (q, masks, reference) with c. */
static void page_cache(const cache *c, cache *pc, int64_t ps, int mode,
                       tu_rng *r)
{
    const attn_sdpa_desc *d = &c->lib;
    memset(pc, 0, sizeof *pc);
    pc->p = c->p;
    pc->lib = *d;
    int64_t total = 0, most = 0;
    for (int64_t b = 0; b < d->batch; ++b) {
        const int64_t n = (used_keys(d, b) + ps - 1) / ps;
        total += n;
        most = n > most ? n : most;
    }
    const int64_t num_pages = total + 3, max_pages = most + 2;
    int32_t *perm = tu_malloc((size_t)num_pages, sizeof *perm);
    for (int64_t i = 0; i < num_pages; ++i)
        perm[i] = (int32_t)i;
    for (int64_t i = num_pages - 1; i > 0; --i) {
        const int64_t j = (int64_t)tu_rng_below(r, (uint64_t)i + 1);
        const int32_t x = perm[i];
        perm[i] = perm[j];
        perm[j] = x;
    }
    pc->table = tu_malloc((size_t)(d->batch * max_pages), sizeof *pc->table);
    int64_t next = 0;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t i = 0; i < max_pages; ++i)
            pc->table[b * max_pages + i] =
                i * ps < used_keys(d, b) ? perm[next++] : unused_entry(b + i, num_pages);
    free(perm);
    pc->lib.block_table = pc->table;
    pc->lib.max_pages = max_pages;
    pc->lib.page_size = ps;
    pc->lib.num_pages = num_pages;
    pc->lib.k_strides = pool_strides(mode, d->kv_heads, ps, d->head_dim);
    pc->lib.v_strides = pool_strides(mode, d->kv_heads, ps, d->v_head_dim);
    pc->k = fill_pool(c, &pc->lib, c->k, d->k_strides, pc->lib.k_strides,
                      d->head_dim, &pc->k_n);
    pc->v = fill_pool(c, &pc->lib, c->v, d->v_strides, pc->lib.v_strides,
                      d->v_head_dim, &pc->v_n);
}

/* Frees what page_cache allocated (p belongs to the contiguous cache). */
static void paged_free(cache *pc)
{
    free(pc->k);
    free(pc->v);
    free(pc->table);
    memset(pc, 0, sizeof *pc);
}

/* The forward's outputs, copied. */
typedef struct saved {
    float *out, *w, *lse;
} saved;

static saved save(const tu_problem *p)
{
    saved s = {tu_malloc(p->out_n, sizeof(float)),
               tu_malloc(p->w_n, sizeof(float)),
               tu_malloc(p->lse_n, sizeof(float))};
    memcpy(s.out, p->out, p->out_n * sizeof(float));
    memcpy(s.w, p->weights, p->w_n * sizeof(float));
    memcpy(s.lse, p->lse, p->lse_n * sizeof(float));
    return s;
}

static void saved_free(saved *s)
{
    free(s->out);
    free(s->w);
    free(s->lse);
}

/* Paged against contiguous on every path, bit for bit (the same kernels
 * on the same values in the same order), and against the reference (the
 * NaN in the pools reached nothing). */
static void check_paged(cache *c, int64_t ps, int mode, tu_rng *r,
                        const char *what)
{
    static const attn_algo algos[] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED,
                                      ATTN_ALGO_MATERIALIZED};
    cache pc;
    page_cache(c, &pc, ps, mode, r);
    char at[256];
    for (int a = 0; a < 3; ++a) {
        const int want_w = algos[a] != ATTN_ALGO_AUTO;
        snprintf(at, sizeof at, "%s page %lld mode %d %s", what, (long long)ps,
                 mode, algo_name(algos[a]));
        run(c, algos[a], 0, want_w, 0);
        saved s = save(&c->p);
        run(&pc, algos[a], 0, want_w, 1);
        if (memcmp(s.out, pc.p.out, c->p.out_n * sizeof(float)) != 0 ||
            memcmp(s.lse, pc.p.lse, c->p.lse_n * sizeof(float)) != 0 ||
            (want_w && memcmp(s.w, pc.p.weights, c->p.w_n * sizeof(float)) != 0))
            fail_msg("%s: paged results differ from the contiguous cache", at);
        tu_check(&pc.p, want_w, 1, at);
        saved_free(&s);
    }
    /* attn_sdpa_scores hands an fp32 tensor to sgemm but dots pages row
     * by row (it has no workspace to gather them): bit-identical only for
     * the 16-bit types, which take the row kernel either way. */
    snprintf(at, sizeof at, "%s page %lld mode %d", what, (long long)ps, mode);
    check_scores(&pc, at);
    if (c->lib.kv_dtype != ATTN_DTYPE_F32) {
        float *s0 = scores_of(c), *s1 = scores_of(&pc);
        const int same = memcmp(s0, s1, c->p.w_n * sizeof *s0) == 0;
        free(s0);
        free(s1);
        if (!same)
            fail_msg("%s: paged scores differ", at);
    }
    paged_free(&pc);
}

static void test_paged_bit_identical(void **state)
{
    (void)state;
    const int64_t tk = light() ? 90 : 300;
    const cache_case cases[] = {
        /* B Hq Hkv Tq Tk  d  dv  lens causal masks layout */
        {2, 4, 4, 3, tk, 64, 64, 1, ATTN_CAUSAL_NONE, 0, 0},
        {2, 8, 2, 4, tk, 64, 32, 0, ATTN_CAUSAL_NONE, 1, 1},
        {2, 8, 1, 4, tk, 64, 64, 0, ATTN_CAUSAL_TOP_LEFT, 0, 0},
        {3, 4, 2, 16, tk, 100, 100, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 1, 2},
        {2, 2, 1, 70, tk, 100, 20, 1, ATTN_CAUSAL_BOTTOM_RIGHT, 0, 1},
    };
    static const attn_dtype types[] = {ATTN_DTYPE_F32, ATTN_DTYPE_F16,
                                       ATTN_DTYPE_BF16};
    static const int64_t page_sizes[] = {1, 16, 17, 256};
    const size_t n_cases = light() ? 3 : sizeof cases / sizeof cases[0];
    tu_rng r = tu_rng_make(300);
    char what[192];
    for (int t = 0; t < 3; ++t)
        for (size_t i = 0; i < n_cases; ++i) {
            cache c;
            cache_make(&c, &cases[i], types[t], 300 + 10 * (uint64_t)t + i);
            describe(what, sizeof what, &cases[i], types[t]);
            /* every page size on each case, the pool layouts taking
             * turns: each (size, layout) pair over the cases */
            for (int ps = 0; ps < 4; ++ps)
                check_paged(&c, page_sizes[ps], (int)(ps + i + t) % 2, &r, what);
            cache_free(&c);
        }
}

/* Caches long enough for a decoding task to walk several kv heads
 * together (plan/tiles.h: 4 kv heads, 4 batches, over 8192 keys): still
 * bit-identical to the contiguous cache, in both pool layouts. */
static void test_paged_heads_together(void **state)
{
    (void)state;
    /* B Hq Hkv Tq Tk  d  dv  lens causal masks layout */
    const cache_case cc = {4, 8, 4, 2, 8200, 64, 64, 1,
                           ATTN_CAUSAL_BOTTOM_RIGHT, 0, 0};
    tu_rng r = tu_rng_make(650);
    char what[192];
    cache c;
    cache_make(&c, &cc, ATTN_DTYPE_F16, 650);
    describe(what, sizeof what, &cc, ATTN_DTYPE_F16);
    check_paged(&c, 16, 0, &r, what);
    check_paged(&c, 17, 1, &r, what);
    cache_free(&c);
}

/* Pages shared between sequences (a common prefix), and a page used
 * twice by one sequence: the table is free to repeat entries. */
static void test_shared_pages(void **state)
{
    (void)state;
    const cache_case cc = {2, 4, 2, 2, 40, 16, 16, 0, ATTN_CAUSAL_BOTTOM_RIGHT,
                           0, 0};
    cache c;
    cache_make(&c, &cc, ATTN_DTYPE_F16, 400);
    tu_problem *p = &c.p;
    /* pages of 8: batch 1 repeats batch 0's first two pages, batch 0
     * repeats its own page 0 at position 3 */
    int32_t table[2][5] = {{4, 2, 0, 4, 1}, {4, 2, 3, 5, 6}};
    const int64_t ps = 8, num_pages = 7;
    const attn_strides pool = tu_contig(2, ps, 16);
    const size_t n = tu_span(num_pages, 2, ps, 16, pool);
    uint16_t *kp = tu_malloc(n, 2), *vp = tu_malloc(n, 2);
    fill_nan_elems(ATTN_DTYPE_F16, kp, n);
    fill_nan_elems(ATTN_DTYPE_F16, vp, n);
    /* the pools define K and V: the logical tensors read them back */
    tu_rng r = tu_rng_make(401);
    for (int64_t pg = 0; pg < num_pages; ++pg)
        for (int64_t h = 0; h < 2; ++h)
            for (int64_t s = 0; s < ps; ++s)
                for (int64_t e = 0; e < 16; ++e) {
                    const size_t at = (size_t)tu_at(pool, pg, h, s, e);
                    store_elem(ATTN_DTYPE_F16, kp, at, tu_rng_uniform(&r, -1, 1));
                    store_elem(ATTN_DTYPE_F16, vp, at, tu_rng_uniform(&r, -1, 1));
                }
    for (int64_t b = 0; b < 2; ++b)
        for (int64_t h = 0; h < 2; ++h)
            for (int64_t j = 0; j < 40; ++j)
                for (int64_t e = 0; e < 16; ++e) {
                    const size_t at = (size_t)tu_at(pool, table[b][j / ps], h, j % ps, e);
                    const size_t lg = (size_t)(((b * 2 + h) * 40 + j) * 16 + e);
                    p->k[lg] = load_elem(ATTN_DTYPE_F16, kp, at);
                    p->v[lg] = load_elem(ATTN_DTYPE_F16, vp, at);
                }
    tu_problem_reference(p);
    cache pc = c;
    pc.lib.block_table = &table[0][0];
    pc.lib.max_pages = 5;
    pc.lib.page_size = ps;
    pc.lib.num_pages = num_pages;
    pc.lib.k_strides = pool;
    pc.lib.v_strides = pool;
    pc.k = kp;
    pc.v = vp;
    check_all_paths(&pc, "shared pages");
    free(kp);
    free(vp);
    cache_free(&c);
}

/* ---- bad cache inputs ------------------------------------------------------------ */

/* Bytes of every output buffer below: more than any call may write. */
#define OUT_BYTES 16384
#define SENTINEL 0xA5

/* A small valid paged fp16 problem and sentinel-filled outputs. */
typedef struct bad_fixture {
    cache c, pc;
    unsigned char *out, *w, *lse, *scores, *ws;  /* (OUT_BYTES) each */
    unsigned char *snap;                         /* copies of the inputs */
    float *pool32;          /* zeros, as large as fp32 pools of pc's shape */
} bad_fixture;

static void outputs_reset(bad_fixture *f)
{
    unsigned char *o[5] = {f->out, f->w, f->lse, f->scores, f->ws};
    for (int i = 0; i < 5; ++i)
        memset(o[i], SENTINEL, OUT_BYTES);
}

/* q, the pools and the table: every input the calls read. */
static size_t inputs_bytes(const bad_fixture *f)
{
    return f->c.p.q_n * sizeof(float) + (f->pc.k_n + f->pc.v_n) * 2 +
           (size_t)(f->c.lib.batch * f->pc.lib.max_pages) * sizeof(int32_t);
}

static void inputs_copy(const bad_fixture *f, unsigned char *to)
{
    memcpy(to, f->c.p.q, f->c.p.q_n * sizeof(float));
    to += f->c.p.q_n * sizeof(float);
    memcpy(to, f->pc.k, f->pc.k_n * 2);
    to += f->pc.k_n * 2;
    memcpy(to, f->pc.v, f->pc.v_n * 2);
    to += f->pc.v_n * 2;
    memcpy(to, f->pc.table,
           (size_t)(f->c.lib.batch * f->pc.lib.max_pages) * sizeof(int32_t));
}

static void expect_untouched(const bad_fixture *f, const char *what)
{
    const unsigned char *o[5] = {f->out, f->w, f->lse, f->scores, f->ws};
    for (int i = 0; i < 5; ++i)
        for (size_t b = 0; b < OUT_BYTES; ++b)
            if (o[i][b] != SENTINEL)
                fail_msg("%s: output %d byte %zu written by a failing call",
                         what, i, b);
    unsigned char *now = tu_malloc(inputs_bytes(f), 1);
    inputs_copy(f, now);
    const int same = memcmp(now, f->snap, inputs_bytes(f)) == 0;
    free(now);
    if (!same)
        fail_msg("%s: an input changed", what);
}

static bad_fixture *bad_fixture_make(void)
{
    bad_fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    /* B 2, Hq 4, Hkv 2, Tq 3, Tk 10, d 8; kv_lens {10, 5} */
    const cache_case cc = {2, 4, 2, 3, 10, 8, 8, 0, ATTN_CAUSAL_NONE, 0, 0};
    cache_make(&f->c, &cc, ATTN_DTYPE_F16, 500);
    int64_t *lens = tu_problem_kv_lens(&f->c.p);
    lens[1] = 5;
    f->c.lib.kv_lens = lens;
    tu_problem_reference(&f->c.p);
    f->pool32 = calloc(f->c.k_n * 4, sizeof(float)); /* room for fp32 pools */
    assert_non_null(f->pool32);
    tu_rng r = tu_rng_make(501);
    page_cache(&f->c, &f->pc, 4, 0, &r);  /* pages of 4 rows: 3 + 2 used, 8 in all */
    unsigned char **o[5] = {&f->out, &f->w, &f->lse, &f->scores, &f->ws};
    for (int i = 0; i < 5; ++i)
        *o[i] = tu_malloc(OUT_BYTES, 1);
    f->snap = tu_malloc(inputs_bytes(f), 1);
    inputs_copy(f, f->snap);
    /* valid as it is */
    run(&f->pc, ATTN_ALGO_AUTO, 0, 0, 1);
    tu_check(&f->pc.p, 0, 1, "bad-input fixture");
    return f;
}

static void bad_fixture_free(bad_fixture *f)
{
    paged_free(&f->pc);
    cache_free(&f->c);
    free(f->out);
    free(f->w);
    free(f->lse);
    free(f->scores);
    free(f->ws);
    free(f->snap);
    free(f->pool32);
    free(f);
}

/* Each forward entry point returns `want` and writes nothing; with
 * desc_level the size query too (it sees no data pointers). */
static void expect_status(bad_fixture *f, const attn_sdpa_desc *d,
                          const void *k, const void *v, attn_status want,
                          int desc_level, const char *what)
{
    const float *q = f->c.p.q;
    float *out = (float *)(void *)f->out, *w = (float *)(void *)f->w;
    float *lse = (float *)(void *)f->lse, *s = (float *)(void *)f->scores;
    char at[160];
    outputs_reset(f);
    if (desc_level) {
        size_t bytes = 777;
        snprintf(at, sizeof at, "%s (size query)", what);
        TU_CHECK_STATUS(attn_sdpa_workspace_size(d, &bytes), want);
        assert_int_equal(bytes, 777);
    }
    snprintf(at, sizeof at, "%s (forward_ws)", what);
    TU_CHECK_STATUS(attn_sdpa_forward_ws(d, q, k, v, out, w, lse, f->ws,
                                         OUT_BYTES),
                    want);
    expect_untouched(f, at);
    snprintf(at, sizeof at, "%s (forward)", what);
    TU_CHECK_STATUS(attn_sdpa_forward(d, q, k, v, out, NULL, lse), want);
    expect_untouched(f, at);
    snprintf(at, sizeof at, "%s (scores)", what);
    if (((uintptr_t)v & 3) == 0) /* scores read no V: a bad v is no error */
        TU_CHECK_STATUS(attn_sdpa_scores(d, q, k, s), want);
    expect_untouched(f, at);
}

static void test_bad_pages(void **state)
{
    (void)state;
    bad_fixture *f = bad_fixture_make();
    attn_sdpa_desc d = f->pc.lib;
    int32_t *row1 = f->pc.table + d.max_pages;
    const int32_t keep = row1[1];
    /* batch 1 (5 keys) uses entries 0 and 1 of its row */
    row1[1] = -1;
    inputs_copy(f, f->snap);
    expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BAD_PAGE, 1, "page -1");
    row1[1] = (int32_t)d.num_pages;
    inputs_copy(f, f->snap);
    expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BAD_PAGE, 1,
                  "page == num_pages");
    row1[1] = keep;
    /* the entry after them is never read, whatever it holds */
    row1[2] = -1;
    inputs_copy(f, f->snap);
    run(&f->pc, ATTN_ALGO_FUSED, 0, 1, 0);
    tu_check(&f->pc.p, 1, 1, "unused entry -1");

    /* batch 0 (10 keys) needs 3 pages */
    d.max_pages = 2;
    expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BLOCK_TABLE_SHORT, 1,
                  "table too short");
    d = f->pc.lib;
    f->c.p.kv_lens[1] = 4 * d.max_pages + 1; /* > Tk: a bad length first */
    expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BAD_KV_LEN, 1,
                  "kv_lens past Tk");
    f->c.p.kv_lens[1] = 5;

    int64_t *dims[3] = {&d.page_size, &d.max_pages, &d.num_pages};
    for (int i = 0; i < 3; ++i) {
        const int64_t was = *dims[i];
        *dims[i] = 0;
        expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BAD_DIMENSION, 1,
                      i == 0 ? "page_size 0" : i == 1 ? "max_pages 0" : "num_pages 0");
        *dims[i] = -3;
        expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BAD_DIMENSION, 1,
                      "page dimension -3");
        *dims[i] = was;
    }
    bad_fixture_free(f);
}

static void test_bad_dtype_and_alignment(void **state)
{
    (void)state;
    bad_fixture *f = bad_fixture_make();
    attn_sdpa_desc d = f->pc.lib;
    static const int bad[] = {7, 3, -1, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        d.kv_dtype = (attn_dtype)bad[i];
        expect_status(f, &d, f->pc.k, f->pc.v, ATTN_ERR_BAD_DTYPE, 1,
                      "kv_dtype invalid");
    }
    d = f->pc.lib;
    const char *k = f->pc.k, *v = f->pc.v;
    expect_status(f, &d, k + 1, v, ATTN_ERR_MISALIGNED, 0, "fp16 k + 1 byte");
    expect_status(f, &d, k, v + 1, ATTN_ERR_MISALIGNED, 0, "fp16 v + 1 byte");
    /* scores check k only */
    outputs_reset(f);
    TU_CHECK_STATUS(attn_sdpa_scores(&d, f->c.p.q, k, (float *)(void *)f->scores),
                    ATTN_OK);
    /* fp32: 2-byte offsets are misaligned too, paged or not */
    d.kv_dtype = ATTN_DTYPE_F32;
    const char *k32 = (const char *)f->pool32, *v32 = k32;
    expect_status(f, &d, k32 + 2, v32, ATTN_ERR_MISALIGNED, 0, "fp32 k + 2 bytes");
    expect_status(f, &d, k32, v32 + 2, ATTN_ERR_MISALIGNED, 0, "fp32 v + 2 bytes");
    d.block_table = NULL;
    d.k_strides = f->c.lib.k_strides;
    d.v_strides = f->c.lib.v_strides;
    expect_status(f, &d, k32 + 2, v32, ATTN_ERR_MISALIGNED, 0, "fp32 tensor k + 2");
    outputs_reset(f);
    TU_CHECK_STATUS(attn_sdpa_forward(&d, f->c.p.q, k32, v32 + 4,
                                      (float *)(void *)f->out, NULL, NULL),
                    ATTN_OK); /* one float further is aligned */
    bad_fixture_free(f);
}

static void test_cache_aliasing(void **state)
{
    (void)state;
    bad_fixture *f = bad_fixture_make();
    const attn_sdpa_desc *d = &f->pc.lib;
    const float *q = f->c.p.q;
    float *table = (float *)(void *)f->pc.table;
    float *out = (float *)(void *)f->out, *w = (float *)(void *)f->w;
    float *lse = (float *)(void *)f->lse;
    const void *k = f->pc.k, *v = f->pc.v;
    const attn_status A = ATTN_ERR_ALIASING;
    outputs_reset(f);
    TU_CHECK_STATUS(attn_sdpa_forward(d, q, k, v, table, NULL, NULL), A);
    TU_CHECK_STATUS(attn_sdpa_forward_ws(d, q, k, v, table, NULL, NULL,
                                         f->ws, OUT_BYTES), A);
    TU_CHECK_STATUS(attn_sdpa_forward(d, q, k, v, out, NULL, table + 3), A);
    TU_CHECK_STATUS(attn_sdpa_forward(d, q, k, v, out, table, lse), A);
    TU_CHECK_STATUS(attn_sdpa_forward_ws(d, q, k, v, out, w, lse,
                                         (unsigned char *)f->pc.table + 5,
                                         OUT_BYTES), A);
    TU_CHECK_STATUS(attn_sdpa_scores(d, q, k, table), A);
    /* outputs on the pools */
    TU_CHECK_STATUS(attn_sdpa_forward(d, q, k, v, (float *)(void *)f->pc.v,
                                      NULL, NULL), A);
    TU_CHECK_STATUS(attn_sdpa_scores(d, q, k, (float *)(void *)f->pc.k), A);
    expect_untouched(f, "outputs on the block table or the pools");
    bad_fixture_free(f);
}

/* The backward takes fp32 K and V in tensors: fp16 is ATTN_ERR_BAD_DTYPE,
 * a block table ATTN_ERR_BAD_ARGUMENT; no gradient written. */
static void test_backward_refuses_caches(void **state)
{
    (void)state;
    bad_fixture *f = bad_fixture_make();
    const tu_problem *p = &f->c.p;
    float *g = tu_malloc(4 * 4096, sizeof *g);  /* dq, dk, dv, dbias */
    memset(g, SENTINEL, 4 * 4096 * sizeof *g);
    unsigned char *snap = tu_malloc(4 * 4096, sizeof *g);
    memcpy(snap, g, 4 * 4096 * sizeof *g);
    const float *out = p->out, *lse = p->lse, *dout = p->q;
    attn_sdpa_desc fp16 = f->c.lib, paged = f->pc.lib;
    paged.kv_dtype = ATTN_DTYPE_F32;
    const attn_sdpa_desc *descs[2] = {&fp16, &paged};
    const attn_status want[2] = {ATTN_ERR_BAD_DTYPE, ATTN_ERR_BAD_ARGUMENT};
    const void *ks[2] = {f->c.k, f->pool32}, *vs[2] = {f->c.v, f->pool32};
    for (int i = 0; i < 2; ++i) {
        const float *k = ks[i], *v = vs[i];
        size_t bytes = 99;
        TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(descs[i], &bytes),
                        want[i]);
        assert_int_equal(bytes, 99);
        TU_CHECK_STATUS(attn_sdpa_backward(descs[i], p->q, k, v, out, lse,
                                           dout, g, g + 4096, g + 8192,
                                           NULL),
                        want[i]);
        TU_CHECK_STATUS(attn_sdpa_backward_ws(descs[i], p->q, k, v, out, lse,
                                              dout, g, g + 4096, g + 8192,
                                              g + 12288, f->ws, OUT_BYTES),
                        want[i]);
    }
    assert_memory_equal(g, snap, 4 * 4096 * sizeof *g);
    /* both at once: one of the two */
    fp16 = f->pc.lib;
    const attn_status s = attn_sdpa_backward(&fp16, p->q, f->pc.k, f->pc.v,
                                             out, lse, dout, g, NULL, NULL,
                                             NULL);
    assert_true(s == ATTN_ERR_BAD_DTYPE || s == ATTN_ERR_BAD_ARGUMENT);
    assert_memory_equal(g, snap, 4 * 4096 * sizeof *g);
    free(g);
    free(snap);
    bad_fixture_free(f);
}

/* ---- threads -------------------------------------------------------------------- */

/*
 * One sequence, a long paged fp16 (and bf16) cache: the decoding path
 * splits the keys into chunks, merged in a fixed order, so 1, 2 and 3
 * threads agree bit for bit (and with the reference); with 1, 2 and 4
 * kv heads, through both pool layouts.
 */
static void test_split_kv_threads(void **state)
{
    (void)state;
    const int64_t tk = light() ? 3000 : 20000;
    static const struct {
        int64_t Hq, Hkv, Tq;
        int lens;
        attn_dtype t;
        int64_t tk_div;     /* shorter caches, still many chunks: less time */
    } runs[] = {{4, 1, 1, 0, ATTN_DTYPE_F16, 1}, {8, 2, 3, 1, ATTN_DTYPE_F16, 2},
                {8, 4, 2, 1, ATTN_DTYPE_BF16, 4}};
    char what[96];
    tu_rng r = tu_rng_make(600);
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; ++i) {
        const cache_case cc = {1, runs[i].Hq, runs[i].Hkv, runs[i].Tq,
                               tk / runs[i].tk_div,
                               128, 128, runs[i].lens,
                               ATTN_CAUSAL_BOTTOM_RIGHT, 0, 0};
        cache c, pc;
        cache_make(&c, &cc, runs[i].t, 600 + i);
        page_cache(&c, &pc, 16, (int)i % 2, &r);
        snprintf(what, sizeof what, "%s Hq%lld Hkv%lld Tq%lld Tk%lld lens %lld",
                 dtype_name(runs[i].t), (long long)cc.Hq, (long long)cc.Hkv,
                 (long long)cc.Tq,
                 (long long)cc.Tk, (long long)used_keys(&c.lib, 0));
        saved first = {NULL, NULL, NULL};
        for (int threads = 1; threads <= 3; ++threads) {
            run(&pc, ATTN_ALGO_AUTO, threads, 0, threads == 2);
            tu_check(&pc.p, 0, 1, what);
            if (threads == 1)
                first = save(&pc.p);
            else if (memcmp(first.out, pc.p.out, pc.p.out_n * sizeof(float)) ||
                     memcmp(first.lse, pc.p.lse, pc.p.lse_n * sizeof(float)))
                fail_msg("%s: %d threads differ from 1", what, threads);
        }
        saved_free(&first);
        paged_free(&pc);
        cache_free(&c);
    }
}

int main(void)
{
    /* ATTN_TEST_FILTER=name runs the tests matching it (cmocka's pattern) */
    const char *filter = getenv("ATTN_TEST_FILTER");
    if (filter)
        cmocka_set_test_filter(filter);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_conversions),
        cmocka_unit_test(test_every_f16_pattern),
        cmocka_unit_test(test_every_bf16_pattern),
        cmocka_unit_test(test_paths_against_reference),
        cmocka_unit_test(test_every_q_len),
        cmocka_unit_test(test_paged_bit_identical),
        cmocka_unit_test(test_paged_heads_together),
        cmocka_unit_test(test_shared_pages),
        cmocka_unit_test(test_bad_pages),
        cmocka_unit_test(test_bad_dtype_and_alignment),
        cmocka_unit_test(test_cache_aliasing),
        cmocka_unit_test(test_backward_refuses_caches),
        cmocka_unit_test(test_split_kv_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
