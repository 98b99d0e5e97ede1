/*
 * Masks: causal (top-left and bottom-right), kv_lens, keep_mask and bias,
 * broadcast and full, alone and combined, and fully masked rows. Outputs,
 * weights, lse and scores are compared with the reference; tu_check also
 * demands exact zeros / -INFINITY for fully masked rows.
 */
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

static const int64_t sizes[] = {1, 3, 17, 64, 65, 200, 300};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* Forward in every mode, then the scores. */
static void check_case(tu_problem *p, const char *what)
{
    tu_run_and_check(p, what);
    tu_check_scores(p, what);
}

static void causal_grid(attn_causal causal, uint64_t seed)
{
    tu_rng rng = tu_rng_make(seed);
    for (int i = 0; i < NSIZES; ++i)
        for (int j = 0; j < NSIZES; ++j) {
            const int64_t Tq = sizes[i], Tk = sizes[j];
            const int64_t d = (i + j) % 2 ? 17 : 3, dv = (i + j) % 3 ? 5 : 64;
            char what[96];
            snprintf(what, sizeof what, "causal %d Tq=%lld Tk=%lld",
                     (int)causal, (long long)Tq, (long long)Tk);
            tu_problem p;
            tu_problem_init(&p, 1, 2, 1, Tq, Tk, d, dv);
            p.d.causal = causal;
            tu_problem_data(&p, &rng);
            check_case(&p, what);
            tu_problem_free(&p);
        }
}

static void test_causal_top_left_grid(void **state)
{
    (void)state;
    causal_grid(ATTN_CAUSAL_TOP_LEFT, 0x3a5c0001);
}

static void test_causal_bottom_right_grid(void **state)
{
    (void)state;
    causal_grid(ATTN_CAUSAL_BOTTOM_RIGHT, 0x3a5c0002);
}

/*
 * The visibility patterns written out by hand from the header's rules
 * (independent of the reference): vis[i] is the number of leading keys
 * query i sees (the masks here only ever hide a suffix).
 */
static void check_pattern(int64_t Tq, int64_t Tk, attn_causal causal,
                          int64_t kv_len, const int64_t *vis)
{
    tu_rng rng = tu_rng_make(0x3a5c0003);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, Tq, Tk, 4, 2);
    p.d.causal = causal;
    if (kv_len >= 0)
        tu_problem_kv_lens(&p)[0] = kv_len;
    tu_problem_data(&p, &rng);
    tu_run(&p, TU_ALLOC, 1, 1);
    for (int64_t i = 0; i < Tq; ++i) {
        for (int64_t j = 0; j < Tk; ++j) {
            const float w = p.weights[i * Tk + j];
            if ((j < vis[i]) != (w > 0.0f))
                fail_msg("causal %d Tq=%lld Tk=%lld L=%lld: weight(%lld,%lld)"
                         " = %g", (int)causal, (long long)Tq, (long long)Tk,
                         (long long)kv_len, (long long)i, (long long)j,
                         (double)w);
            if (j >= vis[i] && w != 0.0f)
                fail_msg("weight (%lld,%lld) not exactly 0", (long long)i,
                         (long long)j);
        }
        if (vis[i] == 0)
            assert_true(p.lse[i] == -INFINITY);
        else
            assert_true(isfinite(p.lse[i]));
    }
    tu_problem_free(&p);
}

static void test_causal_patterns_by_hand(void **state)
{
    (void)state;
    /* top-left, Tq < Tk: query i sees keys 0..i */
    check_pattern(3, 5, ATTN_CAUSAL_TOP_LEFT, -1, (const int64_t[]){1, 2, 3});
    /* top-left, Tq > Tk: capped by Tk */
    check_pattern(5, 3, ATTN_CAUSAL_TOP_LEFT, -1,
                  (const int64_t[]){1, 2, 3, 3, 3});
    /* top-left with kv_lens = 2 */
    check_pattern(4, 5, ATTN_CAUSAL_TOP_LEFT, 2,
                  (const int64_t[]){1, 2, 2, 2});
    /* bottom-right, Tq < Tk: the last query sees every key */
    check_pattern(3, 5, ATTN_CAUSAL_BOTTOM_RIGHT, -1,
                  (const int64_t[]){3, 4, 5});
    /* bottom-right, Tq > Tk: the first Tq - Tk queries see nothing */
    check_pattern(5, 3, ATTN_CAUSAL_BOTTOM_RIGHT, -1,
                  (const int64_t[]){0, 0, 1, 2, 3});
    /* bottom-right aligned with kv_lens = 4 (not Tk = 6) */
    check_pattern(3, 6, ATTN_CAUSAL_BOTTOM_RIGHT, 4,
                  (const int64_t[]){2, 3, 4});
    /* bottom-right, kv_lens = 1 < Tq = 3 */
    check_pattern(3, 6, ATTN_CAUSAL_BOTTOM_RIGHT, 1,
                  (const int64_t[]){0, 0, 1});
    /* decoding: one query sees all L valid keys */
    check_pattern(1, 6, ATTN_CAUSAL_BOTTOM_RIGHT, 5, (const int64_t[]){5});
    /* no causal mask, kv_lens = 0 */
    check_pattern(2, 6, ATTN_CAUSAL_NONE, 0, (const int64_t[]){0, 0});
}

static void test_kv_lens(void **state)
{
    (void)state;
    static const struct {
        int64_t Hq, Hkv, Tq, Tk;
    } cases[] = {
        {1, 1, 17, 200}, {4, 2, 65, 64}, {4, 1, 200, 17}, {2, 2, 1, 65},
        {2, 1, 3, 3},
    };
    static const attn_causal causal[] = {
        ATTN_CAUSAL_NONE, ATTN_CAUSAL_TOP_LEFT, ATTN_CAUSAL_BOTTOM_RIGHT};
    tu_rng rng = tu_rng_make(0x3a5c0004);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c)
        for (size_t m = 0; m < 3; ++m) {
            const int64_t Tk = cases[c].Tk;
            char what[96];
            snprintf(what, sizeof what, "kv_lens case %zu causal %d", c,
                     (int)causal[m]);
            tu_problem p;
            tu_problem_init(&p, 4, cases[c].Hq, cases[c].Hkv, cases[c].Tq,
                            Tk, 17, 3);
            p.d.causal = causal[m];
            int64_t *lens = tu_problem_kv_lens(&p);
            lens[0] = Tk;
            lens[1] = 1;
            lens[2] = 0;
            lens[3] = Tk / 2 + 1 < Tk ? Tk / 2 + 1 : Tk;
            tu_problem_data(&p, &rng);
            check_case(&p, what);
            tu_problem_free(&p);
        }
}

static void test_keep_mask_broadcast(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{17, 65}, {65, 17}, {200, 64}, {1, 3}};
    tu_rng rng = tu_rng_make(0x3a5c0005);
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; ++c) {
        const int64_t Tq = shapes[c][0], Tk = shapes[c][1];
        tu_problem p;
        tu_problem_init(&p, 2, 4, 2, Tq, Tk, 17, 3);
        /* the init default: one (Tq, Tk) mask for every batch and head */
        tu_problem_keep(&p, p.d.keep_strides, 60, &rng);
        assert_int_equal(p.keep_n, (size_t)(Tq * Tk));
        tu_problem_data(&p, &rng);
        check_case(&p, "keep mask (Tq, Tk)");
        tu_problem_free(&p);
    }
}

static void test_keep_mask_full_and_partial_broadcast(void **state)
{
    (void)state;
    const int64_t B = 2, Hq = 4, Hkv = 2, Tq = 65, Tk = 64;
    const attn_strides layouts[] = {
        tu_contig(Hq, Tq, Tk),                   /* full (B, H, Tq, Tk) */
        tu_strides(Tq * Tk, 0, Tk),              /* per batch */
        tu_strides(0, Tq * Tk, Tk),              /* per head */
        tu_strides(Hq * Tq * (Tk + 3), Tq * (Tk + 3), Tk + 3), /* padded */
    };
    tu_rng rng = tu_rng_make(0x3a5c0006);
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; ++l) {
        char what[64];
        snprintf(what, sizeof what, "keep mask layout %zu", l);
        tu_problem p;
        tu_problem_init(&p, B, Hq, Hkv, Tq, Tk, 3, 17);
        tu_problem_keep(&p, layouts[l], 50, &rng);
        tu_problem_data(&p, &rng);
        check_case(&p, what);
        tu_problem_free(&p);
    }
}

static void test_bias_broadcast(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {{17, 65}, {64, 200}, {3, 1}};
    tu_rng rng = tu_rng_make(0x3a5c0007);
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; ++c) {
        tu_problem p;
        tu_problem_init(&p, 2, 2, 1, shapes[c][0], shapes[c][1], 64, 17);
        tu_problem_bias(&p, p.d.bias_strides, &rng);
        assert_int_equal(p.bias_n, (size_t)(shapes[c][0] * shapes[c][1]));
        tu_problem_data(&p, &rng);
        check_case(&p, "bias (Tq, Tk)");
        tu_problem_free(&p);
    }
}

static void test_bias_full_and_partial_broadcast(void **state)
{
    (void)state;
    const int64_t B = 2, Hq = 4, Hkv = 1, Tq = 17, Tk = 65;
    const attn_strides layouts[] = {
        tu_contig(Hq, Tq, Tk),      /* full */
        tu_strides(0, Tq * Tk, Tk), /* per head, e.g. ALiBi */
        tu_strides(Tq * Tk, 0, Tk), /* per batch */
        tu_strides(Hq * Tq * (Tk + 1) + 2, Tq * (Tk + 1), Tk + 1),
    };
    tu_rng rng = tu_rng_make(0x3a5c0008);
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; ++l) {
        char what[64];
        snprintf(what, sizeof what, "bias layout %zu", l);
        tu_problem p;
        tu_problem_init(&p, B, Hq, Hkv, Tq, Tk, 17, 3);
        tu_problem_bias(&p, layouts[l], &rng);
        tu_problem_data(&p, &rng);
        check_case(&p, what);
        tu_problem_free(&p);
    }
}

/* -INFINITY bias entries mask their keys: weights exactly 0 there. */
static void test_bias_neg_inf_entries(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x3a5c0009);
    tu_problem p;
    tu_problem_init(&p, 1, 2, 2, 17, 64, 17, 17);
    float *bias = tu_problem_bias(&p, tu_contig(2, 17, 64), &rng);
    for (size_t i = 0; i < p.bias_n; ++i)
        if (tu_rng_below(&rng, 3) == 0)
            bias[i] = -INFINITY;
    tu_problem_data(&p, &rng);
    check_case(&p, "bias with -inf entries");
    size_t zeros = 0;
    for (size_t i = 0; i < p.w_n; ++i)
        zeros += p.r_w[i] == 0.0;
    assert_true(zeros > p.w_n / 4); /* the masking really happened */
    tu_problem_free(&p);
}

/* Every mask at once, with GQA and (B, T, H, d) strides. */
static void test_all_masks_combined(void **state)
{
    (void)state;
    static const struct {
        int64_t Tq, Tk;
        attn_causal causal;
    } cases[] = {
        {17, 65, ATTN_CAUSAL_BOTTOM_RIGHT},
        {65, 200, ATTN_CAUSAL_TOP_LEFT},
        {200, 64, ATTN_CAUSAL_BOTTOM_RIGHT},
        {3, 3, ATTN_CAUSAL_NONE},
    };
    tu_rng rng = tu_rng_make(0x3a5c000a);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const int64_t B = 3, Hq = 4, Hkv = 2, d = 17, dv = 3;
        const int64_t Tq = cases[c].Tq, Tk = cases[c].Tk;
        char what[64];
        snprintf(what, sizeof what, "combined case %zu", c);
        tu_problem p;
        tu_problem_init(&p, B, Hq, Hkv, Tq, Tk, d, dv);
        p.d.causal = cases[c].causal;
        p.d.q_strides = tu_strides(Tq * Hq * d, d, Hq * d);
        p.d.k_strides = tu_strides(Tk * Hkv * d, d, Hkv * d);
        p.d.v_strides = tu_strides(Tk * Hkv * dv, dv, Hkv * dv);
        p.d.out_strides = tu_strides(Tq * Hq * dv, dv, Hq * dv);
        int64_t *lens = tu_problem_kv_lens(&p);
        lens[0] = Tk;
        lens[1] = Tk - Tk / 3;
        lens[2] = Tk > 1 ? 1 : 0;
        tu_problem_keep(&p, tu_contig(Hq, Tq, Tk), 80, &rng);
        tu_problem_bias(&p, tu_strides(0, Tq * Tk, Tk), &rng);
        tu_problem_data(&p, &rng);
        check_case(&p, what);
        tu_problem_free(&p);
    }
}

/* Asserts that the reference finds row (b, h, i) fully masked, so that
 * the exact-zero checks of tu_check really apply to it. */
static void expect_masked_row(const tu_problem *p, int64_t b, int64_t h,
                              int64_t i)
{
    const int64_t row = (b * p->d.q_heads + h) * p->d.q_len + i;
    if (p->r_lse[row] != -INFINITY)
        fail_msg("test setup: row (%lld,%lld,%lld) is not fully masked",
                 (long long)b, (long long)h, (long long)i);
}

static void test_fully_masked_rows(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x3a5c000b);
    tu_problem p;

    /* kv_lens[b] = 0: the whole batch sees nothing. */
    tu_problem_init(&p, 3, 2, 1, 65, 17, 17, 3);
    tu_problem_kv_lens(&p)[1] = 0;
    tu_problem_data(&p, &rng);
    check_case(&p, "kv_lens 0");
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t i = 0; i < 65; ++i)
            expect_masked_row(&p, 1, h, i);
    tu_problem_free(&p);

    /* keep mask rows all zero: row 0, and row 70 in the second block. */
    tu_problem_init(&p, 2, 2, 2, 100, 64, 17, 64);
    uint8_t *keep = tu_problem_keep(&p, tu_contig(2, 100, 64), 70, &rng);
    memset(keep + tu_at(p.d.keep_strides, 0, 1, 0, 0), 0, 64);
    memset(keep + tu_at(p.d.keep_strides, 1, 0, 70, 0), 0, 64);
    tu_problem_data(&p, &rng);
    check_case(&p, "keep all-zero rows");
    expect_masked_row(&p, 0, 1, 0);
    expect_masked_row(&p, 1, 0, 70);
    tu_problem_free(&p);

    /* bottom-right with Tq > Tk: the first Tq - Tk rows see nothing. */
    tu_problem_init(&p, 1, 4, 2, 200, 65, 3, 17);
    p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    tu_problem_data(&p, &rng);
    check_case(&p, "bottom-right Tq > Tk");
    for (int64_t i = 0; i < 200 - 65; ++i)
        expect_masked_row(&p, 0, 3, i);
    tu_problem_free(&p);

    /* bottom-right with kv_lens < Tq inside a larger Tk. */
    tu_problem_init(&p, 2, 1, 1, 17, 64, 17, 3);
    p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    int64_t *lens = tu_problem_kv_lens(&p);
    lens[0] = 5;
    lens[1] = 64;
    tu_problem_data(&p, &rng);
    check_case(&p, "bottom-right kv_lens 5 < Tq");
    for (int64_t i = 0; i < 17 - 5; ++i)
        expect_masked_row(&p, 0, 0, i);
    tu_problem_free(&p);

    /* bias rows all -INFINITY (visible keys, every score -inf). */
    tu_problem_init(&p, 2, 2, 1, 65, 17, 3, 3);
    float *bias = tu_problem_bias(&p, tu_contig(2, 65, 17), &rng);
    for (int64_t j = 0; j < 17; ++j) {
        bias[tu_at(p.d.bias_strides, 0, 0, 3, j)] = -INFINITY;
        bias[tu_at(p.d.bias_strides, 1, 1, 64, j)] = -INFINITY;
    }
    tu_problem_data(&p, &rng);
    check_case(&p, "bias all -inf rows");
    expect_masked_row(&p, 0, 0, 3);
    expect_masked_row(&p, 1, 1, 64);
    tu_problem_free(&p);

    /* A row masked by a mix: keep hides some keys, bias -inf the rest. */
    tu_problem_init(&p, 1, 1, 1, 3, 4, 3, 3);
    keep = tu_problem_keep(&p, p.d.keep_strides, 100, &rng);
    bias = tu_problem_bias(&p, p.d.bias_strides, &rng);
    keep[4 + 0] = keep[4 + 2] = 0;
    bias[4 + 1] = bias[4 + 3] = -INFINITY;
    tu_problem_data(&p, &rng);
    check_case(&p, "keep + bias -inf");
    expect_masked_row(&p, 0, 0, 1);
    tu_problem_free(&p);

    /* Everything masked. */
    tu_problem_init(&p, 2, 2, 2, 65, 3, 17, 17);
    keep = tu_problem_keep(&p, p.d.keep_strides, 0, &rng);
    tu_problem_data(&p, &rng);
    check_case(&p, "all masked");
    for (size_t r = 0; r < p.lse_n; ++r)
        assert_true(p.r_lse[r] == -INFINITY);
    tu_problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_causal_top_left_grid),
        cmocka_unit_test(test_causal_bottom_right_grid),
        cmocka_unit_test(test_causal_patterns_by_hand),
        cmocka_unit_test(test_kv_lens),
        cmocka_unit_test(test_keep_mask_broadcast),
        cmocka_unit_test(test_keep_mask_full_and_partial_broadcast),
        cmocka_unit_test(test_bias_broadcast),
        cmocka_unit_test(test_bias_full_and_partial_broadcast),
        cmocka_unit_test(test_bias_neg_inf_entries),
        cmocka_unit_test(test_all_masks_combined),
        cmocka_unit_test(test_fully_masked_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
