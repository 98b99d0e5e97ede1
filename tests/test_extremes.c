/*
 * Numerics under extremes: wherever the mathematics is finite the outputs
 * are finite and match the double-precision reference within the usual
 * tolerance, on every path (ctest runs this program per path and thread
 * count, like the other attention suites):
 *  - scaled scores up to ~3e38, near FLT_MAX (the fused path's base-2
 *    units must not overflow before the row maximum is subtracted);
 *  - scales up to FLT_MAX (scale * log2(e) itself overflows a float);
 *  - rows whose scores are all equal (uniform weights);
 *  - a single -INFINITY bias entry in a row (that key gets weight 0);
 *  - lengths 1 and head size 1;
 *  - a million keys for one query row.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static void scale_tensor(float *x /* (n) */, size_t n, float factor)
{
    for (size_t i = 0; i < n; ++i)
        x[i] *= factor;
}

/* Reference, every call mode, and the scores. */
static void check(tu_problem *p, const char *what)
{
    tu_problem_reference(p);
    tu_run_and_check(p, what);
    tu_check_scores(p, what);
}

/* d = 1 and q, k up to 1.8e19: every score lies in (-3.3e38, 3.3e38), so
 * any summation order stays finite, and the rows are nearly one-hot. */
static void test_scores_near_flt_max(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0xe7001);
    static const int64_t T[] = {1, 7, 64, 300};
    for (size_t i = 0; i < sizeof T / sizeof T[0]; ++i) {
        char what[64];
        snprintf(what, sizeof what, "scores near FLT_MAX, T=%lld",
                 (long long)T[i]);
        tu_problem p;
        tu_problem_init(&p, 1, 2, 1, T[i], T[i], 1, 5);
        tu_problem_data(&p, &rng);
        scale_tensor(p.q, p.q_n, 1.8e19f);
        scale_tensor(p.k, p.k_n, 1.8e19f);
        check(&p, what);
        tu_problem_free(&p);
    }
}

/* Scales from 1e30 to FLT_MAX with q and k shrunk so that scores are
 * O(1) .. O(100): products may be subnormal, but their absolute error
 * (times the scale) stays ~1e-7. */
static void test_huge_scales(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0xe7002);
    static const float scales[] = {1e30f, 2.4e38f, FLT_MAX};
    for (size_t i = 0; i < sizeof scales / sizeof scales[0]; ++i) {
        char what[64];
        snprintf(what, sizeof what, "scale %g", (double)scales[i]);
        tu_problem p;
        tu_problem_init(&p, 1, 2, 2, 70, 90, 8, 3);
        p.d.scale = scales[i];
        tu_problem_data(&p, &rng);
        const float shrink = sqrtf(4.0f / scales[i]);
        scale_tensor(p.q, p.q_n, shrink);
        scale_tensor(p.k, p.k_n, shrink);
        check(&p, what);
        tu_problem_free(&p);
    }
}

/* q = 0: every score is 0 and every weight 1 / Tk, also with a causal
 * mask (1 / visible keys). */
static void test_all_equal_rows(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0xe7003);
    for (int causal = 0; causal < 2; ++causal) {
        tu_problem p;
        tu_problem_init(&p, 2, 2, 1, 100, 333, 16, 4);
        p.d.causal = causal ? ATTN_CAUSAL_BOTTOM_RIGHT : ATTN_CAUSAL_NONE;
        tu_problem_data(&p, &rng);
        memset(p.q, 0, p.q_n * sizeof *p.q);
        check(&p, causal ? "equal scores, causal" : "equal scores");
        tu_problem_free(&p);
    }
}

/* One -INFINITY entry per bias row, elsewhere ordinary bias values. */
static void test_one_neg_inf_bias_per_row(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0xe7004);
    tu_problem p;
    tu_problem_init(&p, 1, 2, 2, 40, 300, 8, 8);
    const attn_strides s = tu_contig(2, 40, 300);
    float *bias = tu_problem_bias(&p, s, &rng);
    for (int64_t r = 0; r < 2 * 40; ++r)
        bias[r * 300 + (int64_t)tu_rng_below(&rng, 300)] = -INFINITY;
    tu_problem_data(&p, &rng);
    check(&p, "one -inf bias per row");
    tu_problem_free(&p);
}

/* Tq = Tk = 1, d = dv = 1: the output is the one value row, weight 1. */
static void test_lengths_and_head_size_one(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0xe7005);
    static const int64_t shapes[][4] = {
        {1, 1, 1, 1}, {1, 1, 64, 1}, {1, 50, 1, 1}, {50, 1, 1, 7}, {3, 2, 1, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; ++i) {
        char what[64];
        snprintf(what, sizeof what, "Tq %lld Tk %lld d %lld dv %lld",
                 (long long)shapes[i][0], (long long)shapes[i][1],
                 (long long)shapes[i][2], (long long)shapes[i][3]);
        tu_problem p;
        tu_problem_init(&p, 2, 1, 1, shapes[i][0], shapes[i][1], shapes[i][2],
                        shapes[i][3]);
        tu_problem_data(&p, &rng);
        check(&p, what);
        tu_problem_free(&p);
    }
}

/* 2^20 keys for two query rows (8 MiB of K and V, 8 MiB of weights). */
static void test_a_million_keys(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0xe7006);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, 2, (int64_t)1 << 20, 2, 2);
    p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    tu_problem_data(&p, &rng);
    check(&p, "2^20 keys");
    tu_problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scores_near_flt_max),
        cmocka_unit_test(test_huge_scales),
        cmocka_unit_test(test_all_equal_rows),
        cmocka_unit_test(test_one_neg_inf_bias_per_row),
        cmocka_unit_test(test_lengths_and_head_size_one),
        cmocka_unit_test(test_a_million_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
