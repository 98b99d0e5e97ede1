/*
 * attn_merge_partials: attention over a key range cut into random parts
 * (empty ones included), each part computed by attn_sdpa_forward and the
 * parts merged, equals the double-precision reference over the whole
 * range; empty parts are never read; all-empty rows give zeros and -inf;
 * NaN stays NaN; bad arguments write nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "testutil.h"

enum { B = 3, HQ = 4, HKV = 2, TQ = 5, TK = 37, D = 16, DV = 8, MAXP = 8 };
enum { ROWS = B * HQ * TQ };

/* Attention over keys [j0, j0 + n) of p's problem into out/lse rows. */
static void part_forward(const tu_problem *p, int64_t j0, int64_t n,
                         float *out /* (ROWS, DV) */, float *lse /* (ROWS) */)
{
    attn_sdpa_desc d = p->d;
    int64_t lens[B];
    d.kv_len = n;
    for (int64_t b = 0; b < B; ++b) {
        const int64_t left = p->kv_lens[b] - j0;
        lens[b] = left < 0 ? 0 : left > n ? n : left;
    }
    d.kv_lens = lens;
    d.out_strides = tu_contig(HQ, TQ, DV);
    TU_CHECK_STATUS(attn_sdpa_forward(&d, p->q, p->k + j0 * D, p->v + j0 * DV,
                                      out, NULL, lse),
                    ATTN_OK);
}

static void test_random_splits_equal_unsplit(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x3e7e);
    tu_problem p;
    tu_problem_init(&p, B, HQ, HKV, TQ, TK, D, DV);
    int64_t *lens = tu_problem_kv_lens(&p);
    lens[0] = TK;
    lens[1] = 23;
    lens[2] = 0; /* every part empty: zeros, -inf */
    tu_problem_data(&p, &r);
    tu_problem_reference(&p);
    float *outs = tu_malloc((size_t)MAXP * ROWS * DV, sizeof(float));
    float *lses = tu_malloc((size_t)MAXP * ROWS, sizeof(float));
    float out[ROWS * DV], lse[ROWS];
    for (int trial = 0; trial < 40; ++trial) {
        /* Cut points, sorted, repeats allowed (empty parts). */
        const int parts = 1 + (int)tu_rng_below(&r, MAXP);
        int64_t cut[MAXP + 1];
        cut[0] = 0;
        cut[parts] = TK;
        for (int i = 1; i < parts; ++i)
            cut[i] = (int64_t)tu_rng_below(&r, TK + 1);
        for (int i = 1; i < parts; ++i) /* insertion sort */
            for (int j = i; j > 1 && cut[j] < cut[j - 1]; --j) {
                const int64_t t = cut[j]; cut[j] = cut[j - 1]; cut[j - 1] = t;
            }
        tu_fill_nan(outs, (size_t)MAXP * ROWS * DV);
        for (int i = 0; i < parts; ++i) {
            float *po = outs + (size_t)i * ROWS * DV, *pl = lses + (size_t)i * ROWS;
            if (cut[i + 1] > cut[i]) {
                part_forward(&p, cut[i], cut[i + 1] - cut[i], po, pl);
            } else { /* an empty part: -inf, and garbage never read */
                for (int e = 0; e < ROWS; ++e)
                    pl[e] = -INFINITY;
            }
        }
        TU_CHECK_STATUS(attn_merge_partials(parts, ROWS, DV, outs, ROWS * DV, DV,
                                            lses, out, DV, lse),
                        ATTN_OK);
        TU_CHECK_REL(tu_rel_err(out, tu_contig(HQ, TQ, DV), B, HQ, TQ, DV, p.r_out),
                     "merged parts", "out");
        TU_CHECK_REL(tu_rel_err(lse, tu_contig(HQ, TQ, 1), B, HQ, TQ, 1, p.r_lse),
                     "merged parts", "lse");
        for (int e = 2 * HQ * TQ; e < ROWS; ++e) /* batch 2 saw no key */
            assert_true(lse[e] == -INFINITY && out[e * DV] == 0.0f);
    }
    free(outs);
    free(lses);
    tu_problem_free(&p);
}

static void test_edge_rows(void **state)
{
    (void)state;
    /* 3 parts x 4 rows x 2 values; row stride 3 (a gap), part stride 13. */
    enum { P = 3, R = 4, C = 2, RS = 3, PS = 13 };
    float po[P * PS], pl[P * R], out[R * C], lse[R];
    tu_fill_nan(po, P * PS);
    const float lses[P][R] = {{-INFINITY, 0.5f, NAN, 1.0f},
                              {-INFINITY, -INFINITY, 2.0f, INFINITY},
                              {-INFINITY, 1.5f, 0.0f, 1.0f}};
    for (int q = 0; q < P; ++q)
        for (int i = 0; i < R; ++i) {
            pl[q * R + i] = lses[q][i];
            for (int c = 0; c < C; ++c)
                if (lses[q][i] != -INFINITY)
                    po[q * PS + i * RS + c] = (float)(q + 1) * (c ? -1.0f : 1.0f);
        }
    TU_CHECK_STATUS(attn_merge_partials(P, R, C, po, PS, RS, pl, out, C, lse),
                    ATTN_OK);
    /* Row 0: every part empty (their outputs NaN, never read). */
    assert_true(out[0] == 0.0f && out[1] == 0.0f && lse[0] == -INFINITY);
    /* Row 1: parts 0 and 2, weights e^0.5 and e^1.5. */
    const double w0 = exp(0.5), w2 = exp(1.5);
    assert_true(fabs(out[2] - (w0 * 1 + w2 * 3) / (w0 + w2)) < 1e-6);
    assert_true(fabs(out[3] + (w0 * 1 + w2 * 3) / (w0 + w2)) < 1e-6);
    assert_true(fabs(lse[1] - log(w0 + w2)) < 1e-6);
    /* Rows 2, 3: a NaN or +inf lse makes the row NaN. */
    assert_true(isnan(out[4]) && isnan(out[5]) && isnan(lse[2]));
    assert_true(isnan(out[6]) && isnan(out[7]) && isnan(lse[3]));
    /* No parts at all: every row empty. */
    TU_CHECK_STATUS(attn_merge_partials(0, R, C, NULL, 0, C, NULL, out, C, NULL),
                    ATTN_OK);
    for (int e = 0; e < R * C; ++e)
        assert_true(out[e] == 0.0f);
    /* Huge lse values do not overflow. */
    const float big[2] = {1e30f, 1e30f};
    const float vals[2] = {2.0f, 4.0f};
    TU_CHECK_STATUS(attn_merge_partials(2, 1, 1, vals, 1, 1, big, out, 1, lse),
                    ATTN_OK);
    assert_true(out[0] == 3.0f && lse[0] == 1e30f);
}

static void test_errors(void **state)
{
    (void)state;
    float buf[64], out[16], lse[4];
    for (int i = 0; i < 64; ++i)
        buf[i] = (float)i;
    tu_fill_nan(out, 16);
    tu_fill_nan(lse, 4);
    const float *po = buf, *pl = buf + 40;
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, NULL, 8, 2, pl, out, 2, lse),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 2, NULL, out, 2, lse),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 2, pl, NULL, 2, lse),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_merge_partials(-1, 4, 2, po, 8, 2, pl, out, 2, lse),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_merge_partials(2, 0, 2, po, 8, 2, pl, out, 2, lse),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 0, po, 8, 2, pl, out, 2, lse),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 1, pl, out, 2, lse),
                    ATTN_ERR_BAD_STRIDE);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, -8, 2, pl, out, 2, lse),
                    ATTN_ERR_BAD_STRIDE);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 2, pl, out, 1, lse),
                    ATTN_ERR_BAD_STRIDE);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, INT64_MAX / 2, 2, pl, out,
                                        2, lse),
                    ATTN_ERR_SIZE_OVERFLOW);
    /* out over the parts, over their lse, lse over out */
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 2, pl, buf + 10, 2, lse),
                    ATTN_ERR_ALIASING);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 2, pl, buf + 42, 2, lse),
                    ATTN_ERR_ALIASING);
    TU_CHECK_STATUS(attn_merge_partials(2, 4, 2, po, 8, 2, pl, out, 2, out + 4),
                    ATTN_ERR_ALIASING);
    for (int i = 0; i < 16; ++i)
        assert_true(isnan(out[i]));
    for (int i = 0; i < 4; ++i)
        assert_true(isnan(lse[i]));
    for (int i = 0; i < 64; ++i)
        assert_true(buf[i] == (float)i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_splits_equal_unsplit),
        cmocka_unit_test(test_edge_rows),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
