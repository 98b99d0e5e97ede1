/*
 * The seed example (/work/shared/seeds/002_...: "Cats love cozy windows"):
 * unscaled self-attention over four 3-d word vectors, Q = K = V = inputs,
 * must reproduce the numbers the notebook printed (PyTorch, 4 decimals).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>

#include "testutil.h"

static const float inputs[4][3] = {
    {0.10f, 0.20f, 0.30f}, /* Cats    */
    {0.40f, 0.50f, 0.60f}, /* love    */
    {0.70f, 0.80f, 0.10f}, /* cozy    */
    {0.90f, 0.10f, 0.20f}, /* windows */
};

/* print(attn_weights) */
static const double printed_weights[4][4] = {
    {0.2296, 0.2749, 0.2589, 0.2366},
    {0.1878, 0.2946, 0.2859, 0.2317},
    {0.1509, 0.2439, 0.3638, 0.2414},
    {0.1619, 0.2320, 0.2834, 0.3227},
};

/* print(context_vectors) */
static const double printed_context[4][3] = {
    {0.5271, 0.4141, 0.3070},
    {0.5453, 0.4367, 0.3080},
    {0.5846, 0.4673, 0.2763},
    {0.5978, 0.4074, 0.2807},
};

/* print(attn_scores): the scores of "love" against every word */
static const double printed_love_scores[4] = {0.3200, 0.7700, 0.7400, 0.5300};

static void seed_desc(attn_sdpa_desc *d)
{
    TU_CHECK_STATUS(attn_sdpa_desc_init(d, 1, 1, 1, 4, 4, 3, 3), ATTN_OK);
    d->scale = 1.0f; /* the notebook does not divide by sqrt(d) */
}

static void expect_printed(double got, double printed, const char *what,
                           int r, int c)
{
    if (!(fabs(got - printed) <= ATTN_TEST_PRINTED_TOL))
        fail_msg("%s[%d][%d] = %.6f, notebook printed %.4f", what, r, c, got,
                 printed);
}

static void test_seed_weights(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    seed_desc(&d);
    float out[4][3], weights[4][4], lse[4];
    TU_CHECK_STATUS(attn_sdpa_forward(&d, &inputs[0][0], &inputs[0][0],
                                      &inputs[0][0], &out[0][0],
                                      &weights[0][0], lse),
                    ATTN_OK);
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            expect_printed(weights[i][j], printed_weights[i][j], "weights", i,
                           j);
}

static void test_seed_context_vectors(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    seed_desc(&d);
    float out[4][3];
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&d, &bytes), ATTN_OK);
    unsigned char ws[4096];
    assert_true(bytes <= sizeof ws - 1);
    /* the workspace variant, deliberately misaligned */
    TU_CHECK_STATUS(attn_sdpa_forward_ws(&d, &inputs[0][0], &inputs[0][0],
                                         &inputs[0][0], &out[0][0], NULL,
                                         NULL, ws + 1, bytes),
                    ATTN_OK);
    for (int i = 0; i < 4; ++i)
        for (int c = 0; c < 3; ++c)
            expect_printed(out[i][c], printed_context[i][c], "context", i, c);
}

static void test_seed_scores_love(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    seed_desc(&d);
    float scores[4][4];
    TU_CHECK_STATUS(attn_sdpa_scores(&d, &inputs[0][0], &inputs[0][0],
                                     &scores[0][0]),
                    ATTN_OK);
    for (int j = 0; j < 4; ++j)
        expect_printed(scores[1][j], printed_love_scores[j], "scores", 1, j);
    /* inputs @ inputs.T is symmetric */
    for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j)
            assert_true(fabs(scores[i][j] - scores[j][i]) <= 1e-6);
}

/* The same numbers through a (B, T, H, d) layout with two heads, where
 * head 1 is the seed and head 0 is its mirror image (rows reversed). */
static void test_seed_as_second_head(void **state)
{
    (void)state;
    float x[4][2][3]; /* (T, H, d) */
    for (int t = 0; t < 4; ++t)
        for (int c = 0; c < 3; ++c) {
            x[t][0][c] = inputs[3 - t][c];
            x[t][1][c] = inputs[t][c];
        }
    attn_sdpa_desc d;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 2, 2, 4, 4, 3, 3), ATTN_OK);
    d.scale = 1.0f;
    d.q_strides = d.k_strides = d.v_strides = d.out_strides =
        tu_strides(4 * 2 * 3, 3, 2 * 3);
    float out[4][2][3];
    TU_CHECK_STATUS(attn_sdpa_forward(&d, &x[0][0][0], &x[0][0][0],
                                      &x[0][0][0], &out[0][0][0], NULL, NULL),
                    ATTN_OK);
    for (int t = 0; t < 4; ++t)
        for (int c = 0; c < 3; ++c) {
            expect_printed(out[t][1][c], printed_context[t][c], "head 1", t,
                           c);
            /* reversing the sequence reverses the outputs */
            expect_printed(out[3 - t][0][c], printed_context[t][c], "head 0",
                           t, c);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_weights),
        cmocka_unit_test(test_seed_context_vectors),
        cmocka_unit_test(test_seed_scores_love),
        cmocka_unit_test(test_seed_as_second_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
