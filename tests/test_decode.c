/*
 * The decoding path (ATTN_ALGO_AUTO with at most 16 query rows; the query
 * heads of a kv head packed, split-KV with an exact merge) against the
 * double-precision reference and the fused path: Tq 1..16, GQA ratios 1,
 * 4, 8 and MQA, head sizes 64, 128, 256 and off the kernels' lanes
 * (3, 12, 20, 36), Tk from 1 to 100k, kv_lens of 0,
 * 1 and unaligned lengths, bottom-right causal and the other masks; NaN in
 * cache slots past kv_lens never read; bit-identical for 1, 2, 3 threads.
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

#include <attention/attention.h>

#include "testutil.h"

typedef struct dec_case {
    int64_t B, Hq, Hkv, Tq, Tk, d;
    int lens;       /* 0 none, 1 {0, 1, unaligned ...} */
    int causal;     /* bottom-right */
    int masks;      /* a keep mask and a bias, one (Tq, Tk) each */
} dec_case;

/* Runs AUTO on 1, 2, 3 threads (bit-identical) and FUSED; both against
 * the reference. */
static void check_case(const dec_case *c, uint64_t seed)
{
    tu_rng r = tu_rng_make(seed);
    tu_problem p;
    tu_problem_init(&p, c->B, c->Hq, c->Hkv, c->Tq, c->Tk, c->d, c->d);
    if (c->causal)
        p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    if (c->lens) {
        int64_t *lens = tu_problem_kv_lens(&p);
        static const int64_t pick[] = {0, 1, 3};
        for (int64_t b = 0; b < c->B; ++b)
            lens[b] = b < 3 ? (pick[b] < c->Tk ? pick[b] : c->Tk)
                            : c->Tk - (b * 37) % c->Tk;
        if (c->B == 1)
            lens[0] = c->Tk - c->Tk / 3;
    }
    if (c->masks) {
        tu_problem_keep(&p, tu_strides(0, 0, c->Tk), 85, &r);
        tu_problem_bias(&p, tu_strides(0, 0, c->Tk), &r);
    }
    tu_problem_data(&p, &r);
    /* Cache slots past each sequence's length hold NaN: never read. */
    if (c->lens)
        for (int64_t b = 0; b < c->B; ++b)
            for (int64_t h = 0; h < c->Hkv; ++h)
                for (int64_t j = p.kv_lens[b]; j < c->Tk; ++j) {
                    tu_fill_nan(p.k + tu_at(p.d.k_strides, b, h, j, 0), (size_t)c->d);
                    tu_fill_nan(p.v + tu_at(p.d.v_strides, b, h, j, 0), (size_t)c->d);
                }
    tu_problem_reference(&p);

    char what[160];
    snprintf(what, sizeof what, "B%lld Hq%lld Hkv%lld Tq%lld Tk%lld d%lld lens%d causal%d masks%d",
             (long long)c->B, (long long)c->Hq, (long long)c->Hkv, (long long)c->Tq,
             (long long)c->Tk, (long long)c->d, c->lens, c->causal, c->masks);
    float *first = tu_malloc(p.out_n, sizeof *first);
    float *first_lse = tu_malloc(p.lse_n, sizeof *first_lse);
    for (int threads = 1; threads <= 3; ++threads) {
        p.d.algo = ATTN_ALGO_AUTO;
        p.d.num_threads = threads;
        tu_fill_nan(p.out, p.out_n);
        TU_CHECK_STATUS(attn_sdpa_forward(&p.d, p.q, p.k, p.v, p.out, NULL, p.lse),
                        ATTN_OK);
        TU_CHECK_REL(tu_rel_err(p.out, p.d.out_strides, c->B, c->Hq, c->Tq, c->d,
                                p.r_out), what, "out");
        TU_CHECK_REL(tu_rel_err(p.lse, tu_contig(c->Hq, c->Tq, 1), c->B, c->Hq,
                                c->Tq, 1, p.r_lse), what, "lse");
        if (threads == 1) {
            memcpy(first, p.out, p.out_n * sizeof *first);
            memcpy(first_lse, p.lse, p.lse_n * sizeof *first_lse);
        } else if (memcmp(first, p.out, p.out_n * sizeof *first) != 0 ||
                   memcmp(first_lse, p.lse, p.lse_n * sizeof *first_lse) != 0) {
            fail_msg("%s: %d threads differ from 1", what, threads);
        }
    }
    /* The general path gives the same results to float rounding. */
    p.d.algo = ATTN_ALGO_FUSED;
    p.d.num_threads = 0;
    TU_CHECK_STATUS(attn_sdpa_forward(&p.d, p.q, p.k, p.v, p.out, NULL, p.lse),
                    ATTN_OK);
    TU_CHECK_REL(tu_rel_err(p.out, p.d.out_strides, c->B, c->Hq, c->Tq, c->d,
                            p.r_out), what, "fused out");
    free(first);
    free(first_lse);
    tu_problem_free(&p);
}

static void test_shapes(void **state)
{
    (void)state;
    static const int64_t tq[] = {1, 4, 16};
    static const int64_t heads[][2] = {{4, 4}, {8, 2}, {8, 1}, {16, 2}};
    static const int64_t dims[] = {64, 128, 256};
    static const int64_t tk[] = {1, 17, 600, 5000};
    uint64_t seed = 1;
    for (size_t a = 0; a < 3; ++a)
        for (size_t h = 0; h < 4; ++h)
            for (size_t t = 0; t < 4; ++t) {
                const dec_case c = {2, heads[h][0], heads[h][1], tq[a], tk[t],
                                    dims[(a + h + t) % 3], (int)(t % 2),
                                    (int)((a + t) % 2), (int)(h == 1)};
                check_case(&c, seed++);
            }
}

static void test_lengths(void **state)
{
    (void)state;
    /* kv_lens 0 (zeros, -inf), 1 and unaligned, several batches. */
    const dec_case c = {5, 8, 2, 3, 1000, 64, 1, 1, 0};
    check_case(&c, 77);
    const dec_case one = {3, 4, 4, 1, 1, 128, 1, 0, 0};
    check_case(&one, 78);
}

static void test_odd_sizes(void **state)
{
    (void)state;
    /* Head sizes off the kernels' 8 lanes (the scalar tails), packed rows
     * off their groups of four (m = 6, 9, 8) and keys off their steps. */
    const dec_case cases[] = {
        {1, 6, 1, 1, 301, 36, 1, 1, 0},
        {2, 3, 1, 3, 7, 12, 0, 0, 1},
        {2, 8, 2, 2, 50, 20, 1, 1, 0},
        {1, 5, 5, 1, 64, 3, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        check_case(&cases[i], 90 + i);
}

static void test_long_cache(void **state)
{
    (void)state;
    /* One sequence, one query row, 100k keys: split into chunks. */
    const dec_case c = {1, 8, 1, 1, 100000, 64, 0, 1, 0};
    check_case(&c, 79);
    const dec_case gqa = {1, 8, 2, 4, 40000, 128, 1, 1, 0};
    check_case(&gqa, 80);
}

/* A workspace sized for one thread runs a call asking for three (on one),
 * with the same bits; one byte less is refused with nothing written. At
 * 33000 keys a task walks both kv heads (plan/tiles.h), so its scratch
 * holds two heads' rows. */
static void test_workspace_for_fewer_threads(void **state)
{
    (void)state;
    static const int64_t tks[] = {3000, 33000};
    for (size_t t = 0; t < sizeof tks / sizeof tks[0]; ++t) {
        tu_rng r = tu_rng_make(81 + t);
        tu_problem p;
        tu_problem_init(&p, 1, 8, 2, 2, tks[t], 64, 64);
        tu_problem_data(&p, &r);
        tu_problem_reference(&p);
        p.d.num_threads = 1;
        size_t one;
        TU_CHECK_STATUS(attn_sdpa_workspace_size(&p.d, &one), ATTN_OK);
        unsigned char *ws = tu_malloc(one, 1);
        float *ref = tu_malloc(p.out_n, sizeof *ref);
        TU_CHECK_STATUS(attn_sdpa_forward_ws(&p.d, p.q, p.k, p.v, ref, NULL,
                                             NULL, ws, one),
                        ATTN_OK);
        TU_CHECK_REL(tu_rel_err(ref, p.d.out_strides, 1, 8, 2, 64, p.r_out),
                     "one-thread workspace", "out");
        p.d.num_threads = 3;
        tu_fill_nan(p.out, p.out_n);
        TU_CHECK_STATUS(attn_sdpa_forward_ws(&p.d, p.q, p.k, p.v, p.out, NULL,
                                             NULL, ws, one - 1),
                        ATTN_ERR_WORKSPACE_TOO_SMALL);
        for (size_t i = 0; i < p.out_n; ++i)
            assert_true(isnan(p.out[i]));
        TU_CHECK_STATUS(attn_sdpa_forward_ws(&p.d, p.q, p.k, p.v, p.out, NULL,
                                             NULL, ws, one),
                        ATTN_OK);
        assert_memory_equal(ref, p.out, p.out_n * sizeof *ref);
        free(ws);
        free(ref);
        tu_problem_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_odd_sizes),
        cmocka_unit_test(test_long_cache),
        cmocka_unit_test(test_workspace_for_fewer_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
