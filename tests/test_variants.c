/*
 * The variants of sdpa.h's "Variants": sliding windows, ALiBi, logit
 * softcap and attention sinks, alone and combined with each other, every
 * mask, GQA and padding, on the path ATTN_TEST_ALGO selects (ctest runs
 * the program on each path and thread count). Oracle: the float64
 * reference (tests/reference.c), which applies the header's formulas
 * directly; plus hand-checked values (ALiBi slopes, a window's pattern),
 * ALiBi through its field against the same numbers as a dense bias, and
 * NaN planted where the window says nothing is read. ATTN_TEST_LIGHT
 * (tests/valgrind/run.sh) leaves out the largest sizes: they add no code
 * path, only minutes under valgrind.
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "testutil.h"

/* Under valgrind: the grid without its largest sizes. */
static int light(void)
{
    return getenv("ATTN_TEST_LIGHT") != NULL;
}

#define MAX_HEADS 8
#define MAX_BATCH 3

/* Per-head values the descriptors point at: slopes (B, Hq) and sinks. */
static float slopes[MAX_BATCH * MAX_HEADS];
static float sinks[MAX_HEADS];

typedef struct variant {
    const char *name;
    int64_t window_left, window_right;
    int alibi;              /* 1: (Hq) slopes; 2: (B, Hq) */
    float softcap;
    int sinks;
} variant;

static const variant variants[] = {
    {"window 2/1", 2, 1, 0, 0.0f, 0},
    {"window 5/0", 5, 0, 0, 0.0f, 0},
    {"window -1/3", -1, 3, 0, 0.0f, 0},
    {"window 0/0", 0, 0, 0, 0.0f, 0},
    {"alibi", -1, -1, 1, 0.0f, 0},
    {"alibi per batch", -1, -1, 2, 0.0f, 0},
    {"softcap 0.7", -1, -1, 0, 0.7f, 0},
    {"sinks", -1, -1, 0, 0.0f, 1},
    {"window+softcap+sinks", 4, 0, 0, 0.9f, 1},
    {"everything", 6, 2, 2, 1.5f, 1},
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

static void set_variant(attn_sdpa_desc *d, const variant *v)
{
    d->window_left = v->window_left;
    d->window_right = v->window_right;
    d->alibi_slopes = v->alibi ? slopes : NULL;
    d->alibi_batch_stride = v->alibi == 2 ? d->q_heads : 0;
    d->softcap = v->softcap;
    d->sinks = v->sinks ? sinks : NULL;
}

static int setup(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x7a1a0001);
    for (int i = 0; i < MAX_BATCH * MAX_HEADS; ++i)
        slopes[i] = (float)tu_rng_uniform(&r, 0.0, 0.5);
    for (int i = 0; i < MAX_HEADS; ++i)
        sinks[i] = (float)tu_rng_uniform(&r, -1.0, 2.0);
    return 0;
}

/* One problem with variant v (and the masks asked for), checked in every
 * mode and by its scores. */
static void check_variant(const variant *v, int64_t B, int64_t Hq,
                          int64_t Hkv, int64_t Tq, int64_t Tk,
                          attn_causal causal, int lens, tu_rng *rng)
{
    char what[160];
    snprintf(what, sizeof what, "%s B%lld Hq%lld Hkv%lld Tq%lld Tk%lld causal %d lens %d",
             v->name, (long long)B, (long long)Hq, (long long)Hkv,
             (long long)Tq, (long long)Tk, (int)causal, lens);
    tu_problem p;
    tu_problem_init(&p, B, Hq, Hkv, Tq, Tk, 8, 5);
    p.d.causal = causal;
    set_variant(&p.d, v);
    if (lens) {
        int64_t *l = tu_problem_kv_lens(&p);
        l[0] = Tk / 2;
        if (B > 2)
            l[2] = 0;
    }
    tu_problem_data(&p, rng);
    tu_run_and_check(&p, what);
    tu_check_scores(&p, what);
    tu_problem_free(&p);
}

/* Every variant over sizes across the tile edges, with GQA, both causal
 * alignments and padding. */
static void test_grid(void **state)
{
    (void)state;
    static const int64_t sizes[][2] = {{1, 1},   {1, 40},   {5, 3},
                                       {17, 65}, {65, 17},  {64, 300},
                                       {300, 300}};
    tu_rng rng = tu_rng_make(0x7a1a0002);
    const size_t last = sizeof sizes / sizeof sizes[0] - (light() ? 3 : 1);
    for (size_t v = 0; v < N_VARIANTS; ++v)
        for (size_t s = 0; s <= last; ++s) {
            const int64_t Tq = sizes[s][0], Tk = sizes[s][1];
            check_variant(&variants[v], 3, 4, 1, Tq, Tk,
                          ATTN_CAUSAL_BOTTOM_RIGHT, 1, &rng);
            if (s == last)
                continue; /* the largest once: the suite runs 5 times */
            check_variant(&variants[v], 2, 4, 2, Tq, Tk, ATTN_CAUSAL_NONE, 0,
                          &rng);
            check_variant(&variants[v], 1, 2, 2, Tq, Tk, ATTN_CAUSAL_TOP_LEFT,
                          0, &rng);
        }
}

/* Decoding shapes (few query rows, the query heads of a kv head packed,
 * keys long enough to be split into chunks): the sink joins once. */
static void test_decode_shapes(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0003);
    static const int64_t tq[] = {1, 4, 16};
    for (size_t v = 0; v < N_VARIANTS; ++v)
        for (size_t t = 0; t < (light() ? 2u : 3u); ++t) {
            check_variant(&variants[v], 1, 8, 2, tq[t], 1100,
                          ATTN_CAUSAL_BOTTOM_RIGHT, 0, &rng);
            check_variant(&variants[v], 2, 4, 4, tq[t], 700, ATTN_CAUSAL_NONE,
                          1, &rng);
        }
}

/* The window's pattern written out by hand: Tq 3, Tk 6 (off = 3), window
 * 1/0: query i sees keys i + 2 and i + 3. */
static void test_window_pattern(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0004);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, 3, 6, 4, 2);
    p.d.window_left = 1;
    p.d.window_right = 0;
    tu_problem_data(&p, &rng);
    tu_run(&p, TU_ALLOC, 1, 1);
    for (int64_t i = 0; i < 3; ++i)
        for (int64_t j = 0; j < 6; ++j) {
            const int seen = p.weights[i * 6 + j] != 0.0f;
            if (seen != (j == i + 2 || j == i + 3))
                fail_msg("window 1/0: query %lld key %lld weight %g",
                         (long long)i, (long long)j,
                         (double)p.weights[i * 6 + j]);
        }
    tu_problem_free(&p);
}

/* Keys no query can see under the window hold NaN: never read, so the
 * results stay those of the reference (which does not read them either). */
static void test_window_never_reads_outside(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0005);
    const int64_t Tq = 70, Tk = 2000, W = 100;
    tu_problem p;
    tu_problem_init(&p, 1, 2, 1, Tq, Tk, 8, 4);
    p.d.window_left = W;
    p.d.window_right = 0;
    tu_problem_data(&p, &rng);
    const int64_t first = Tk - Tq - W; /* the first visible key */
    for (int64_t j = 0; j < first; ++j) {
        for (int64_t e = 0; e < 8; ++e)
            p.k[tu_at(p.d.k_strides, 0, 0, j, e)] = NAN;
        for (int64_t e = 0; e < 4; ++e)
            p.v[tu_at(p.d.v_strides, 0, 0, j, e)] = NAN;
    }
    tu_run_and_check(&p, "window, NaN before the band");
    tu_problem_free(&p);
}

/* ALiBi through its field equals the same numbers as a dense bias. */
static void test_alibi_equals_dense_bias(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0006);
    const int64_t B = 2, H = 4, Tq = 33, Tk = 90;
    tu_problem p;
    tu_problem_init(&p, B, H, 2, Tq, Tk, 8, 5);
    p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    int64_t *lens = tu_problem_kv_lens(&p);
    lens[1] = 50;
    p.d.alibi_slopes = slopes;
    p.d.alibi_batch_stride = H;
    tu_problem_data(&p, &rng);
    tu_run(&p, TU_ALLOC, 1, 1);
    float *out = tu_malloc(p.out_n, sizeof *out);
    memcpy(out, p.out, p.out_n * sizeof *out);

    const attn_strides bs = tu_contig(H, Tq, Tk);
    float *bias = tu_problem_bias(&p, bs, &rng);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < Tq; ++i)
                for (int64_t j = 0; j < Tk; ++j)
                    bias[tu_at(bs, b, h, i, j)] =
                        -slopes[b * H + h] *
                        (float)llabs(i + lens[b] - Tq - j);
    p.d.alibi_slopes = NULL;
    tu_run(&p, TU_ALLOC, 1, 1);
    double diff, size;
    tu_max_diff(p.out, out, 1.0, p.out_n, &diff, &size);
    if (!(diff <= 1e-6 * size))
        fail_msg("ALiBi field vs dense bias: out differs by %g (size %g)",
                 diff, size);
    free(out);
    tu_problem_free(&p);
}

/* attn_alibi_slopes: the published values. 8 heads: 2^-1 .. 2^-8; 12
 * heads: those, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5 (the odd powers of
 * m1 = 2^(-4/8)). */
static void test_alibi_slopes(void **state)
{
    (void)state;
    float s[12];
    TU_CHECK_STATUS(attn_alibi_slopes(8, s), ATTN_OK);
    for (int h = 0; h < 8; ++h)
        assert_true(s[h] == ldexpf(1.0f, -(h + 1)));
    TU_CHECK_STATUS(attn_alibi_slopes(12, s), ATTN_OK);
    for (int h = 0; h < 8; ++h)
        assert_true(s[h] == ldexpf(1.0f, -(h + 1)));
    for (int h = 8; h < 12; ++h)
        assert_true(s[h] == (float)exp2(-0.5 - (h - 8)));
    TU_CHECK_STATUS(attn_alibi_slopes(1, s), ATTN_OK);
    assert_true(s[0] == 1.0f / 256.0f);
    TU_CHECK_STATUS(attn_alibi_slopes(0, s), ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_alibi_slopes(4, NULL), ATTN_ERR_NULL_POINTER);
}

/* softcap: c tanh(x / c) by hand for scores far past the cap (q scaled
 * up so that |scale q.k| reaches hundreds), and the weights then follow
 * the capped scores; finite throughout. */
static void test_softcap_saturates(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0007);
    tu_problem p;
    tu_problem_init(&p, 1, 2, 1, 20, 40, 16, 4);
    p.d.softcap = 30.0f;
    tu_problem_data(&p, &rng);
    for (size_t e = 0; e < p.q_n; ++e)
        p.q[e] *= 400.0f;
    tu_problem_reference(&p);
    double largest = 0.0;
    for (size_t e = 0; e < p.w_n; ++e)
        if (fabs(p.r_s[e]) > largest)
            largest = fabs(p.r_s[e]);
    assert_true(largest > 29.0 && largest < 30.0); /* capped, not huge */
    tu_run_and_check(&p, "softcap 30, scores in the hundreds");
    tu_check_scores(&p, "softcap 30, scores in the hundreds");
    tu_problem_free(&p);
}

/* Sinks: a row that sees nothing gets zeros and lse = sink; a sink of
 * -INFINITY is no sink at all (bit for bit); weights sum to
 * 1 - e^(sink - lse). */
static void test_sink_rules(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0008);
    tu_problem p;
    tu_problem_init(&p, 2, 2, 1, 6, 9, 4, 3);
    int64_t *lens = tu_problem_kv_lens(&p);
    lens[0] = 0; /* batch 0 sees nothing */
    float s[2] = {0.25f, -3.0f};
    p.d.sinks = s;
    tu_problem_data(&p, &rng);
    tu_run(&p, TU_ALLOC, 1, 1);
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < 6; ++i) {
            assert_true(p.lse[h * 6 + i] == s[h]);
            for (int64_t c = 0; c < 3; ++c)
                assert_true(p.out[tu_at(p.d.out_strides, 0, h, i, c)] == 0.0f);
        }
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < 6; ++i) {
            const int64_t row = (2 + h) * 6 + i;
            double sum = 0.0;
            for (int64_t j = 0; j < 9; ++j)
                sum += p.weights[row * 9 + j];
            const double want = 1.0 - exp((double)s[h] - p.lse[row]);
            if (!(fabs(sum - want) <= 1e-6))
                fail_msg("row %lld: weights sum %.9g, want %.9g",
                         (long long)row, sum, want);
        }
    tu_run_and_check(&p, "sinks, a batch that sees nothing");

    float *out = tu_malloc(p.out_n, sizeof *out);
    p.d.sinks = NULL;
    tu_run(&p, TU_ALLOC, 0, 0);
    memcpy(out, p.out, p.out_n * sizeof *out);
    s[0] = s[1] = -INFINITY;
    p.d.sinks = s;
    tu_run(&p, TU_ALLOC, 0, 0);
    assert_memory_equal(out, p.out, p.out_n * sizeof *out);
    free(out);
    tu_problem_free(&p);
}

/* position_shift: a slice of a longer sequence keeps its alignment. Rows
 * [100, 150) of a 200-token self-attention with a window of 20/0 and
 * ALiBi, computed against keys [60, 170) only (off = 60, shift = 40 - 60),
 * equal those rows of the whole call; the reference checks the slice on
 * its own terms. A window of INT64_MAX is unbounded. */
static void test_position_shift_slices(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a000a);
    const int64_t T = 200, qs = 100, m = 50, ks = 60, n = 110;
    tu_problem whole;
    tu_problem_init(&whole, 1, 2, 1, T, T, 8, 4);
    whole.d.window_left = 20;
    whole.d.window_right = 0;
    whole.d.alibi_slopes = slopes;
    tu_problem_data(&whole, &rng);
    tu_run(&whole, TU_ALLOC, 0, 1);

    tu_problem part;
    tu_problem_init(&part, 1, 2, 1, m, n, 8, 4);
    part.d.window_left = 20;
    part.d.window_right = 0;
    part.d.alibi_slopes = slopes;
    part.d.position_shift = (qs - ks) - (n - m);
    tu_problem_data(&part, &rng);
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < m; ++i)
            for (int64_t e = 0; e < 8; ++e)
                part.q[tu_at(part.d.q_strides, 0, h, i, e)] =
                    whole.q[tu_at(whole.d.q_strides, 0, h, qs + i, e)];
    for (int64_t j = 0; j < n; ++j) {
        for (int64_t e = 0; e < 8; ++e)
            part.k[tu_at(part.d.k_strides, 0, 0, j, e)] =
                whole.k[tu_at(whole.d.k_strides, 0, 0, ks + j, e)];
        for (int64_t e = 0; e < 4; ++e)
            part.v[tu_at(part.d.v_strides, 0, 0, j, e)] =
                whole.v[tu_at(whole.d.v_strides, 0, 0, ks + j, e)];
    }
    tu_run_and_check(&part, "a slice with position_shift");
    tu_run(&part, TU_ALLOC, 0, 1);
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < m; ++i) {
            const float a = part.lse[h * m + i], b = whole.lse[h * T + qs + i];
            if (!(fabsf(a - b) <= 1e-5f * (1.0f + fabsf(b))))
                fail_msg("head %lld row %lld: slice lse %g, whole %g",
                         (long long)h, (long long)i, (double)a, (double)b);
            for (int64_t e = 0; e < 4; ++e) {
                const float x = part.out[tu_at(part.d.out_strides, 0, h, i, e)];
                const float y = whole.out[tu_at(whole.d.out_strides, 0, h, qs + i, e)];
                if (!(fabsf(x - y) <= 1e-5f))
                    fail_msg("head %lld row %lld: slice out %g, whole %g",
                             (long long)h, (long long)i, (double)x, (double)y);
            }
        }
    part.d.window_left = INT64_MAX;
    part.d.window_right = INT64_MAX;
    part.d.alibi_slopes = NULL; /* distances of 2^40 are not exact floats */
    part.d.position_shift = -((int64_t)1 << 40);
    tu_run_and_check(&part, "INT64_MAX windows");
    part.d.position_shift -= 1;
    size_t bytes;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&part.d, &bytes),
                    ATTN_ERR_BAD_WINDOW);
    tu_problem_free(&part);
    tu_problem_free(&whole);
}

/* Results do not depend on the thread count, for every variant. */
static void test_threads_bit_identical(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a0009);
    static const int64_t tq[] = {1, 100};
    for (size_t v = 0; v < N_VARIANTS; ++v)
        for (size_t t = 0; t < 2; ++t) {
            tu_problem p; /* 1100 keys: two decoding chunks */
            tu_problem_init(&p, 1, 4, 2, tq[t], 1100, 8, 8);
            p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
            set_variant(&p.d, &variants[v]);
            tu_problem_data(&p, &rng);
            float *first = tu_malloc(p.out_n + p.lse_n, sizeof *first);
            for (int threads = 1; threads <= 3; ++threads) {
                p.d.num_threads = threads;
                tu_run(&p, TU_WS, 0, 1);
                if (threads == 1) {
                    memcpy(first, p.out, p.out_n * sizeof *first);
                    memcpy(first + p.out_n, p.lse, p.lse_n * sizeof *first);
                    continue;
                }
                assert_memory_equal(first, p.out, p.out_n * sizeof *first);
                assert_memory_equal(first + p.out_n, p.lse,
                                    p.lse_n * sizeof *first);
            }
            free(first);
            tu_problem_free(&p);
        }
}

/* The largest normwise error of out and lse against the float64
 * reference per variant, over the three paths (decoding for Tq 4), printed
 * for the record (the checks above hold every case to 1e-5). */
static void test_report(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a000b);
    static const attn_algo algos[] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED,
                                      ATTN_ALGO_MATERIALIZED};
    printf("largest error against the float64 reference (out, lse), fused /"
           " materialised / decoding:\n");
    for (size_t v = 0; v < N_VARIANTS; ++v) {
        double worst = 0.0;
        for (size_t a = 0; a < 3; ++a) {
            tu_problem p;
            tu_problem_init(&p, 2, 4, 2, a == 0 ? 4 : 65, 300, 16, 8);
            p.d.algo = algos[a];
            p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
            tu_problem_kv_lens(&p)[1] = 170;
            set_variant(&p.d, &variants[v]);
            tu_problem_data(&p, &rng);
            tu_problem_reference(&p);
            tu_run(&p, TU_WS, 0, 1);
            const attn_sdpa_desc *d = &p.d;
            const double eo = tu_rel_err(p.out, d->out_strides, 2, 4, d->q_len,
                                         8, p.r_out);
            const double el = tu_rel_err(p.lse, tu_contig(4, d->q_len, 1), 2, 4,
                                         d->q_len, 1, p.r_lse);
            worst = eo > worst ? eo : worst;
            worst = el > worst ? el : worst;
            tu_problem_free(&p);
        }
        printf("  %-22s %.2g\n", variants[v].name, worst);
        TU_CHECK_REL(worst, variants[v].name, "out and lse");
    }
}

/* The new fields and calls as an adversary uses them: outputs over the
 * slopes, sinks or offsets; the sinks' gradient over its inputs, without
 * sinks, with NULLs; layer flags that do not exist; the thread count
 * changed between a softcap backward's size query and its call. Every
 * failing call writes nothing. */
static void test_adversarial(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7a1a000c);
    tu_problem p;
    tu_problem_init(&p, 1, 4, 2, 6, 9, 4, 3);
    p.d.sinks = sinks;
    p.d.softcap = 2.0f;
    tu_problem_data(&p, &rng);
    /* out over the sinks or the slopes (both read by the call) */
    float *buf = tu_malloc(p.out_n + 16, sizeof *buf);
    attn_sdpa_desc d = p.d;
    d.sinks = buf;
    for (size_t e = 0; e < p.out_n + 16; ++e)
        buf[e] = 0.5f;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, p.q, p.k, p.v, buf, NULL, NULL),
                    ATTN_ERR_ALIASING);
    for (int h = 0; h < 4; ++h)
        assert_true(buf[h] == 0.5f);
    d = p.d;
    d.alibi_slopes = buf + 1;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, p.q, p.k, p.v, buf, NULL, NULL),
                    ATTN_ERR_ALIASING);
    for (int h = 0; h < 4; ++h) /* untouched by the refused call */
        assert_true(buf[h] == 0.5f);

    /* the sinks' gradient */
    tu_run(&p, TU_ALLOC, 0, 1);
    float ds[4] = {1, 2, 3, 4};
    float *dout = tu_malloc(p.out_n, sizeof *dout);
    memcpy(dout, p.out, p.out_n * sizeof *dout);
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(NULL, p.out, p.lse, dout, ds),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&p.d, p.out, NULL, dout, ds),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&p.d, p.out, p.lse, dout, p.lse),
                    ATTN_ERR_ALIASING);
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&p.d, p.out, p.lse, dout,
                                             (float *)sinks),
                    ATTN_ERR_ALIASING);
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&p.d, p.out, p.lse, dout,
                                             dout + 2),
                    ATTN_ERR_ALIASING);
    d = p.d;
    d.sinks = NULL;
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&d, p.out, p.lse, dout, ds),
                    ATTN_ERR_BAD_ARGUMENT);
    d = p.d;
    d.softcap = NAN;
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&d, p.out, p.lse, dout, ds),
                    ATTN_ERR_BAD_SOFTCAP);
    assert_true(ds[0] == 1 && ds[1] == 2 && ds[2] == 3 && ds[3] == 4);

    /* a layer flag that does not exist */
    attn_mha *layer = (attn_mha *)&rng; /* must stay as it is */
    TU_CHECK_STATUS(attn_mha_create_flags(8, 2, 0, 0, 4u, 1, &layer),
                    ATTN_ERR_BAD_ARGUMENT);
    assert_ptr_equal(layer, (attn_mha *)&rng);

    /* the softcap backward's extra tile: sized at the query for the
     * threads resolved then; more threads in the environment later do
     * not make the workspace short */
    size_t bytes = 0;
    const char *env = getenv("ATTN_NUM_THREADS");
    char saved[32] = "";
    if (env)
        snprintf(saved, sizeof saved, "%s", env);
    setenv("ATTN_NUM_THREADS", "1", 1);
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(&p.d, &bytes), ATTN_OK);
    setenv("ATTN_NUM_THREADS", "3", 1);
    void *ws = tu_malloc(bytes, 1);
    float *dq = calloc(p.q_n, sizeof *dq), *dk = calloc(p.k_n, sizeof *dk),
          *dv = calloc(p.v_n, sizeof *dv);
    assert_true(dq && dk && dv);
    TU_CHECK_STATUS(attn_sdpa_backward_ws(&p.d, p.q, p.k, p.v, p.out, p.lse,
                                          dout, dq, dk, dv, NULL, ws, bytes),
                    ATTN_OK);
    if (env) /* as the ctest registration set it */
        setenv("ATTN_NUM_THREADS", saved, 1);
    else
        unsetenv("ATTN_NUM_THREADS");
    free(dq);
    free(dk);
    free(dv);
    free(ws);
    free(dout);
    free(buf);
    tu_problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_decode_shapes),
        cmocka_unit_test(test_window_pattern),
        cmocka_unit_test(test_window_never_reads_outside),
        cmocka_unit_test(test_alibi_equals_dense_bias),
        cmocka_unit_test(test_alibi_slopes),
        cmocka_unit_test(test_softcap_saturates),
        cmocka_unit_test(test_sink_rules),
        cmocka_unit_test(test_threads_bit_identical),
        cmocka_unit_test(test_position_shift_slices),
        cmocka_unit_test(test_adversarial),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
