/*
 * attn_split_heads / attn_concat_heads: the index formula of heads.h,
 * exact round trips, agreement with reading (B, T, H, dh) through strides,
 * and argument checks. Linked against the static library.
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

#include "testutil.h"

/* Distinct, exactly representable values: x[i] = i + 0.25 (i < 2^20). */
static float *coded(size_t n)
{
    float *x = tu_malloc(n, sizeof *x);
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)i + 0.25f;
    return x;
}

static const int64_t shapes[][3] = {
    /* B, T, E */
    {1, 1, 1}, {2, 3, 12}, {1, 17, 64}, {3, 5, 30}, {2, 65, 200},
};

static void test_split_matches_index_formula(void **state)
{
    (void)state;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        const int64_t B = shapes[s][0], T = shapes[s][1], E = shapes[s][2];
        const size_t n = (size_t)(B * T * E);
        float *x = coded(n);
        float *y = tu_malloc(n, sizeof *y);
        int tried_one = 0, tried_e = 0;
        for (int64_t H = 1; H <= E; ++H) {
            if (E % H != 0)
                continue;
            tried_one |= H == 1;
            tried_e |= H == E;
            const int64_t dh = E / H;
            tu_fill_nan(y, n);
            TU_CHECK_STATUS(attn_split_heads(x, y, B, T, E, H), ATTN_OK);
            /* y[b, h, t, i] = x[b, t, h*dh + i] */
            for (int64_t b = 0; b < B; ++b)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t t = 0; t < T; ++t)
                        for (int64_t i = 0; i < dh; ++i) {
                            const float got = y[((b * H + h) * T + t) * dh + i];
                            const float want = x[(b * T + t) * E + h * dh + i];
                            if (got != want)
                                fail_msg("B=%lld T=%lld E=%lld H=%lld: "
                                         "y[%lld,%lld,%lld,%lld] = %g, want %g",
                                         (long long)B, (long long)T,
                                         (long long)E, (long long)H,
                                         (long long)b, (long long)h,
                                         (long long)t, (long long)i,
                                         (double)got, (double)want);
                        }
        }
        assert_true(tried_one && tried_e);
        free(y);
        free(x);
    }
}

static void test_concat_matches_index_formula(void **state)
{
    (void)state;
    static const int64_t heads[] = {1, 2, 3, 6};
    const int64_t B = 2, T = 5, E = 6;
    const size_t n = (size_t)(B * T * E);
    float *y = coded(n);
    float *x = tu_malloc(n, sizeof *x);
    for (size_t k = 0; k < 4; ++k) {
        const int64_t H = heads[k], dh = E / H;
        tu_fill_nan(x, n);
        TU_CHECK_STATUS(attn_concat_heads(y, x, B, T, E, H), ATTN_OK);
        /* x[b, t, h*dh + i] = y[b, h, t, i] */
        for (int64_t b = 0; b < B; ++b)
            for (int64_t t = 0; t < T; ++t)
                for (int64_t h = 0; h < H; ++h)
                    for (int64_t i = 0; i < dh; ++i)
                        assert_true(x[(b * T + t) * E + h * dh + i] ==
                                    y[((b * H + h) * T + t) * dh + i]);
    }
    free(x);
    free(y);
}

static void test_round_trips_are_exact(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x4ead0001);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        const int64_t B = shapes[s][0], T = shapes[s][1], E = shapes[s][2];
        const size_t n = (size_t)(B * T * E);
        float *x = tu_malloc(n, sizeof *x);
        float *y = tu_malloc(n, sizeof *y);
        float *z = tu_malloc(n, sizeof *z);
        for (size_t i = 0; i < n; ++i)
            x[i] = (float)tu_rng_uniform(&rng, -1e3, 1e3);
        x[0] = NAN; /* bit patterns, not values, are moved */
        for (int64_t H = 1; H <= E; ++H) {
            if (E % H != 0)
                continue;
            TU_CHECK_STATUS(attn_split_heads(x, y, B, T, E, H), ATTN_OK);
            TU_CHECK_STATUS(attn_concat_heads(y, z, B, T, E, H), ATTN_OK);
            assert_memory_equal(x, z, n * sizeof *x);
            /* and the other way round */
            TU_CHECK_STATUS(attn_concat_heads(x, y, B, T, E, H), ATTN_OK);
            TU_CHECK_STATUS(attn_split_heads(y, z, B, T, E, H), ATTN_OK);
            assert_memory_equal(x, z, n * sizeof *x);
        }
        free(z);
        free(y);
        free(x);
    }
}

/*
 * Splitting heads and running contiguous attention equals reading the
 * (B, T, H, dh) projections through strides, and concat puts the result
 * back into (B, T, E).
 */
static void test_split_equals_strided_attention(void **state)
{
    (void)state;
    const int64_t B = 2, T = 17, H = 4, E = 64, dh = E / H;
    const size_t n = (size_t)(B * T * E);
    tu_rng rng = tu_rng_make(0x4ead0002);
    float *xq = tu_malloc(n, sizeof(float)), *xk = tu_malloc(n, sizeof(float));
    float *xv = tu_malloc(n, sizeof(float));
    float *q = tu_malloc(n, sizeof(float)), *k = tu_malloc(n, sizeof(float));
    float *v = tu_malloc(n, sizeof(float)), *o = tu_malloc(n, sizeof(float));
    float *o_cat = tu_malloc(n, sizeof(float));
    float *o_str = tu_malloc(n, sizeof(float));
    for (size_t i = 0; i < n; ++i) {
        xq[i] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
        xk[i] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
        xv[i] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
    }
    TU_CHECK_STATUS(attn_split_heads(xq, q, B, T, E, H), ATTN_OK);
    TU_CHECK_STATUS(attn_split_heads(xk, k, B, T, E, H), ATTN_OK);
    TU_CHECK_STATUS(attn_split_heads(xv, v, B, T, E, H), ATTN_OK);

    attn_sdpa_desc d;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, B, H, H, T, T, dh, dh), ATTN_OK);
    d.causal = ATTN_CAUSAL_TOP_LEFT;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, q, k, v, o, NULL, NULL), ATTN_OK);
    TU_CHECK_STATUS(attn_concat_heads(o, o_cat, B, T, E, H), ATTN_OK);

    d.q_strides = d.k_strides = d.v_strides = d.out_strides =
        tu_strides(T * E, dh, E);
    TU_CHECK_STATUS(attn_sdpa_forward(&d, xq, xk, xv, o_str, NULL, NULL),
                    ATTN_OK);
    double max_diff, max_abs;
    tu_max_diff(o_str, o_cat, 1.0, n, &max_diff, &max_abs);
    assert_true(max_abs > 0.0);
    TU_CHECK_REL(max_diff / max_abs, "split + sdpa + concat", "vs strided");
    free(o_str);
    free(o_cat);
    free(o);
    free(v);
    free(k);
    free(q);
    free(xv);
    free(xk);
    free(xq);
}

typedef attn_status (*heads_fn)(const float *, float *, int64_t, int64_t,
                                int64_t, int64_t);

/* A failing call leaves both buffers exactly as they were. */
static void expect_heads_error(heads_fn fn, const char *name, const float *src,
                               float *dst, int64_t B, int64_t T, int64_t E,
                               int64_t H, attn_status want, const float *buf,
                               size_t n)
{
    float *before = tu_malloc(n, sizeof *before);
    memcpy(before, buf, n * sizeof *before);
    const attn_status s = fn(src, dst, B, T, E, H);
    if (s != want)
        fail_msg("%s(B=%lld T=%lld E=%lld H=%lld): %d (%s), expected %d (%s)",
                 name, (long long)B, (long long)T, (long long)E, (long long)H,
                 (int)s, attn_strerror(s), (int)want, attn_strerror(want));
    if (memcmp(before, buf, n * sizeof *before) != 0)
        fail_msg("%s: a failing call wrote to a buffer", name);
    free(before);
}

static void test_heads_errors(void **state)
{
    (void)state;
    enum { N = 96 };
    float *buf = coded(N);
    float *x = buf, *y = buf + 48; /* two disjoint (2, 4, 6) tensors */
    const heads_fn fns[] = {attn_split_heads, attn_concat_heads};
    const char *names[] = {"attn_split_heads", "attn_concat_heads"};
    const int64_t huge = (int64_t)1 << 40;

    for (int f = 0; f < 2; ++f) {
        const heads_fn fn = fns[f];
        const char *nm = names[f];
        expect_heads_error(fn, nm, NULL, y, 2, 4, 6, 2, ATTN_ERR_NULL_POINTER,
                           buf, N);
        expect_heads_error(fn, nm, x, NULL, 2, 4, 6, 2, ATTN_ERR_NULL_POINTER,
                           buf, N);
        for (int64_t bad = 0; bad >= -1; --bad) {
            expect_heads_error(fn, nm, x, y, bad, 4, 6, 2,
                               ATTN_ERR_BAD_DIMENSION, buf, N);
            expect_heads_error(fn, nm, x, y, 2, bad, 6, 2,
                               ATTN_ERR_BAD_DIMENSION, buf, N);
            expect_heads_error(fn, nm, x, y, 2, 4, bad, 2,
                               ATTN_ERR_BAD_DIMENSION, buf, N);
            expect_heads_error(fn, nm, x, y, 2, 4, 6, bad,
                               ATTN_ERR_BAD_DIMENSION, buf, N);
        }
        expect_heads_error(fn, nm, x, y, 2, 4, 6, 4, ATTN_ERR_HEAD_MISMATCH,
                           buf, N);
        expect_heads_error(fn, nm, x, y, 2, 4, 5, 2, ATTN_ERR_HEAD_MISMATCH,
                           buf, N);
        expect_heads_error(fn, nm, x, y, 2, 4, 6, 7, ATTN_ERR_HEAD_MISMATCH,
                           buf, N);
        expect_heads_error(fn, nm, x, x + 47, 2, 4, 6, 2, ATTN_ERR_ALIASING,
                           buf, N);
        expect_heads_error(fn, nm, x + 1, x, 2, 4, 6, 2, ATTN_ERR_ALIASING,
                           buf, N);
        expect_heads_error(fn, nm, x, x, 2, 4, 6, 3, ATTN_ERR_ALIASING, buf,
                           N);
        /* B * T * E * 4 bytes overflows size_t; nothing may be touched. */
        expect_heads_error(fn, nm, x, y, huge, huge, huge, 1,
                           ATTN_ERR_SIZE_OVERFLOW, buf, N);
        expect_heads_error(fn, nm, x, y, 1, (int64_t)1 << 31,
                           (int64_t)1 << 31, 2, ATTN_ERR_SIZE_OVERFLOW, buf,
                           N);
    }
    /* adjacent but disjoint is fine */
    TU_CHECK_STATUS(attn_split_heads(x, x + 48, 2, 4, 6, 3), ATTN_OK);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_matches_index_formula),
        cmocka_unit_test(test_concat_matches_index_formula),
        cmocka_unit_test(test_round_trips_are_exact),
        cmocka_unit_test(test_split_equals_strided_attention),
        cmocka_unit_test(test_heads_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
