/*
 * attn_softmax_rows against the double-precision reference softmax, with
 * row strides, -INFINITY entries, all -INFINITY rows, NaN rows, lse, and
 * its argument checks.
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

static const int64_t sizes[] = {1, 3, 17, 64, 65, 200};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

/* Gaps between rows hold this value and must keep it. */
#define GAP_VALUE 12345.0f

/*
 * Reference softmax of the (rows, cols) matrix x (row stride ld) into y
 * (contiguous) and lse; then runs the library on x in place and compares.
 */
static void softmax_and_check(float *x, int64_t rows, int64_t cols,
                              int64_t ld, const char *what)
{
    double *y = tu_malloc((size_t)(rows * cols), sizeof *y);
    double *l = tu_malloc((size_t)rows, sizeof *l);
    double *row = tu_malloc((size_t)cols, sizeof *row);
    float *lse = tu_malloc((size_t)rows, sizeof *lse);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < cols; ++j)
            row[j] = (double)x[r * ld + j];
        l[r] = ref_softmax_row(row, cols, y + r * cols);
    }
    tu_fill_nan(lse, (size_t)rows);
    TU_CHECK_STATUS(attn_softmax_rows(x, rows, cols, ld, lse), ATTN_OK);
    const attn_strides xs = tu_strides(0, 0, ld);
    TU_CHECK_REL(tu_rel_err(x, xs, 1, 1, rows, cols, y), what, "softmax");
    TU_CHECK_REL(tu_rel_err(lse, tu_strides(0, 0, 1), 1, 1, rows, 1, l), what,
                 "lse");
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = cols; j < ld; ++j)
            if (x[r * ld + j] != GAP_VALUE)
                fail_msg("%s: gap element (%lld, %lld) was written", what,
                         (long long)r, (long long)j);
        if (l[r] == -INFINITY) {
            assert_true(lse[r] == -INFINITY);
            for (int64_t j = 0; j < cols; ++j)
                assert_true(x[r * ld + j] == 0.0f);
        } else if (isfinite(l[r])) {
            double sum = 0.0;
            for (int64_t j = 0; j < cols; ++j)
                sum += x[r * ld + j];
            if (!(fabs(sum - 1.0) <= ATTN_TEST_REL_TOL))
                fail_msg("%s: row %lld sums to %.9g", what, (long long)r, sum);
        }
    }
    free(lse);
    free(row);
    free(l);
    free(y);
}

/* A (rows, cols) matrix with row stride ld, U[lo, hi); the gaps, including
 * ld - cols elements after the last row, hold GAP_VALUE. */
static float *make_matrix(int64_t rows, int64_t cols, int64_t ld, tu_rng *r,
                          double lo, double hi)
{
    const size_t n = (size_t)(rows * ld);
    float *x = tu_malloc(n, sizeof *x);
    for (size_t i = 0; i < n; ++i)
        x[i] = GAP_VALUE;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            x[i * ld + j] = (float)tu_rng_uniform(r, lo, hi);
    return x;
}

static void test_softmax_sizes(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x50f70001);
    for (int c = 0; c < NSIZES; ++c)
        for (int rr = 0; rr < 3; ++rr) {
            const int64_t rows = sizes[rr * 2 + c % 2], cols = sizes[c];
            char what[64];
            snprintf(what, sizeof what, "rows=%lld cols=%lld",
                     (long long)rows, (long long)cols);
            /* scores of the size attention produces, and wider */
            float *x = make_matrix(rows, cols, cols, &rng, -8.0, 8.0);
            softmax_and_check(x, rows, cols, cols, what);
            free(x);
        }
}

static void test_softmax_row_stride_gap_untouched(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x50f70002);
    static const int64_t shapes[][3] = {
        {3, 17, 20}, {17, 64, 65}, {5, 1, 7}, {2, 200, 256}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s) {
        const int64_t rows = shapes[s][0], cols = shapes[s][1],
                      ld = shapes[s][2];
        float *x = make_matrix(rows, cols, ld, &rng, -3.0, 3.0);
        softmax_and_check(x, rows, cols, ld, "ld > cols");
        free(x);
    }
}

static void test_softmax_neg_inf_entries(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x50f70003);
    const int64_t rows = 17, cols = 65, ld = 70;
    float *x = make_matrix(rows, cols, ld, &rng, -2.0, 2.0);
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            if (tu_rng_below(&rng, 3) == 0 && j != i)
                x[i * ld + j] = -INFINITY;
    float copy[17 * 70];
    memcpy(copy, x, sizeof copy);
    softmax_and_check(x, rows, cols, ld, "-inf entries");
    /* masked entries are exactly 0 */
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j)
            if (copy[i * ld + j] == -INFINITY)
                assert_true(x[i * ld + j] == 0.0f);
            else
                assert_true(x[i * ld + j] > 0.0f);
    free(x);
}

static void test_softmax_all_neg_inf_row(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x50f70004);
    const int64_t rows = 4, cols = 17, ld = 17;
    float *x = make_matrix(rows, cols, ld, &rng, -1.0, 1.0);
    for (int64_t j = 0; j < cols; ++j)
        x[2 * ld + j] = -INFINITY;
    softmax_and_check(x, rows, cols, ld, "all -inf row");
    free(x);

    /* a single column that is -inf */
    float one = -INFINITY, lse = 0.0f;
    TU_CHECK_STATUS(attn_softmax_rows(&one, 1, 1, 1, &lse), ATTN_OK);
    assert_true(one == 0.0f && lse == -INFINITY);
}

static void test_softmax_nan_row(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x50f70005);
    const int64_t rows = 3, cols = 65, ld = 66;
    for (int where = 0; where < 3; ++where) {
        float *x = make_matrix(rows, cols, ld, &rng, -1.0, 1.0);
        /* NaN first, in the middle, or with the rest of the row -inf */
        if (where == 2)
            for (int64_t j = 0; j < cols; ++j)
                x[1 * ld + j] = -INFINITY;
        x[1 * ld + (where == 0 ? 0 : 31)] = NAN;
        float lse[3];
        TU_CHECK_STATUS(attn_softmax_rows(x, rows, cols, ld, lse), ATTN_OK);
        for (int64_t j = 0; j < cols; ++j) {
            assert_true(isnan(x[1 * ld + j]));
            assert_true(isfinite(x[0 * ld + j]) && isfinite(x[2 * ld + j]));
        }
        assert_true(x[1 * ld + cols] == GAP_VALUE);
        assert_true(isnan(lse[1]));
        assert_true(isfinite(lse[0]) && isfinite(lse[2]));
        free(x);
    }
}

/* The row maximum is subtracted: large scores neither overflow nor
 * underflow to a 0 / 0. */
static void test_softmax_large_values(void **state)
{
    (void)state;
    float a[2] = {1000.0f, 1000.0f}, la;
    TU_CHECK_STATUS(attn_softmax_rows(a, 1, 2, 2, &la), ATTN_OK);
    assert_true(a[0] == 0.5f && a[1] == 0.5f);
    assert_true(fabs(la - (1000.0 + log(2.0))) <= 1e-4);

    float b[4] = {-1000.0f, -1000.0f, -1000.0f, -1000.0f}, lb;
    TU_CHECK_STATUS(attn_softmax_rows(b, 1, 4, 4, &lb), ATTN_OK);
    for (int j = 0; j < 4; ++j)
        assert_true(b[j] == 0.25f);
    assert_true(fabs(lb - (-1000.0 + log(4.0))) <= 1e-4);

    float c[2] = {1e30f, 0.0f}, lc;
    TU_CHECK_STATUS(attn_softmax_rows(c, 1, 2, 2, &lc), ATTN_OK);
    assert_true(c[0] == 1.0f && c[1] == 0.0f);
    assert_true(lc == 1e30f);

    tu_rng rng = tu_rng_make(0x50f70006);
    float *x = make_matrix(3, 64, 64, &rng, 85.0, 95.0); /* expf overflows
                                                            past ~88.7 */
    softmax_and_check(x, 3, 64, 64, "values around 90");
    free(x);
}

/* lse is optional and does not change the probabilities. */
static void test_softmax_lse_optional(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x50f70007);
    float *x = make_matrix(17, 65, 65, &rng, -4.0, 4.0);
    float *y = tu_malloc(17 * 65, sizeof *y);
    memcpy(y, x, 17 * 65 * sizeof *y);
    float lse[17];
    TU_CHECK_STATUS(attn_softmax_rows(x, 17, 65, 65, lse), ATTN_OK);
    TU_CHECK_STATUS(attn_softmax_rows(y, 17, 65, 65, NULL), ATTN_OK);
    assert_memory_equal(x, y, 17 * 65 * sizeof *y);
    free(y);
    free(x);
}

/* With a single row the row stride is irrelevant, even 0 or < cols. */
static void test_softmax_single_row_any_ld(void **state)
{
    (void)state;
    static const int64_t lds[] = {0, 1, 3};
    for (size_t i = 0; i < 3; ++i) {
        float x[3] = {0.0f, 1.0f, 2.0f}, lse;
        TU_CHECK_STATUS(attn_softmax_rows(x, 1, 3, lds[i], &lse), ATTN_OK);
        const double s = 1.0 + exp(1.0) + exp(2.0);
        assert_true(fabs(x[0] - 1.0 / s) <= 1e-7);
        assert_true(fabs(x[2] - exp(2.0) / s) <= 1e-7);
        assert_true(fabs(lse - log(s)) <= 1e-6);
    }
}

/* Each failing call leaves x and lse exactly as they were. */
static void expect_softmax_error(float *x, int64_t rows, int64_t cols,
                                 int64_t ld, float *lse, attn_status want,
                                 const float *buf, size_t n,
                                 const char *what)
{
    float *before = tu_malloc(n, sizeof *before);
    memcpy(before, buf, n * sizeof *before);
    const attn_status s = attn_softmax_rows(x, rows, cols, ld, lse);
    if (s != want)
        fail_msg("%s: status %d (%s), expected %d (%s)", what, (int)s,
                 attn_strerror(s), (int)want, attn_strerror(want));
    if (memcmp(before, buf, n * sizeof *before) != 0)
        fail_msg("%s: buffers changed by a failing call", what);
    free(before);
}

static void test_softmax_errors(void **state)
{
    (void)state;
    enum { N = 64 };
    float buf[N];
    for (int i = 0; i < N; ++i)
        buf[i] = (float)i - 20.5f;
    float *x = buf, *lse = buf + 48;

    expect_softmax_error(NULL, 2, 3, 3, lse, ATTN_ERR_NULL_POINTER, buf, N,
                         "NULL x");
    expect_softmax_error(x, 0, 3, 3, lse, ATTN_ERR_BAD_DIMENSION, buf, N,
                         "rows 0");
    expect_softmax_error(x, -1, 3, 3, lse, ATTN_ERR_BAD_DIMENSION, buf, N,
                         "rows -1");
    expect_softmax_error(x, 2, 0, 3, lse, ATTN_ERR_BAD_DIMENSION, buf, N,
                         "cols 0");
    expect_softmax_error(x, 2, -3, 3, lse, ATTN_ERR_BAD_DIMENSION, buf, N,
                         "cols -3");
    expect_softmax_error(x, 2, 3, 2, lse, ATTN_ERR_BAD_STRIDE, buf, N,
                         "ld < cols");
    expect_softmax_error(x, 2, 3, -3, lse, ATTN_ERR_BAD_STRIDE, buf, N,
                         "ld negative");
    /* lse inside x's span: rows 4 x ld 10 spans buf[0, 38) */
    expect_softmax_error(x, 4, 8, 10, buf + 37, ATTN_ERR_ALIASING, buf, N,
                         "lse overlaps x");
    expect_softmax_error(x, 4, 8, 10, x, ATTN_ERR_ALIASING, buf, N,
                         "lse == x");
    /* spans that do not fit size_t; nothing may be read */
    expect_softmax_error(x, (int64_t)1 << 40, 8, (int64_t)1 << 40, lse,
                         ATTN_ERR_SIZE_OVERFLOW, buf, N, "rows * ld overflow");
    expect_softmax_error(x, INT64_MAX, 1, INT64_MAX, NULL,
                         ATTN_ERR_SIZE_OVERFLOW, buf, N, "INT64_MAX rows");
    /* just outside x's span is fine */
    float y[2 * 10 + 8 + 2];
    for (int i = 0; i < 30; ++i)
        y[i] = (float)i * 0.1f;
    TU_CHECK_STATUS(attn_softmax_rows(y, 2, 8, 10, y + 18), ATTN_OK);
}

/*
 * A single row wider than SIZE_MAX / sizeof(float) elements cannot exist:
 * the byte count overflows size_t, which status.h says is
 * ATTN_ERR_SIZE_OVERFLOW, and nothing may be read. (Kept last in this
 * program: a library that reads x here crashes.)
 */
static void test_softmax_cols_overflow(void **state)
{
    (void)state;
    enum { N = 8 };
    float buf[N] = {1, 2, 3, 4, 5, 6, 7, 8};
    expect_softmax_error(buf, 1, ((int64_t)1 << 62) + 1, 1, buf + 4,
                         ATTN_ERR_SIZE_OVERFLOW, buf, N, "cols > SIZE_MAX / 4");
    expect_softmax_error(buf, 1, INT64_MAX, INT64_MAX, NULL,
                         ATTN_ERR_SIZE_OVERFLOW, buf, N, "cols INT64_MAX");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_softmax_sizes),
        cmocka_unit_test(test_softmax_row_stride_gap_untouched),
        cmocka_unit_test(test_softmax_neg_inf_entries),
        cmocka_unit_test(test_softmax_all_neg_inf_row),
        cmocka_unit_test(test_softmax_nan_row),
        cmocka_unit_test(test_softmax_large_values),
        cmocka_unit_test(test_softmax_lse_optional),
        cmocka_unit_test(test_softmax_single_row_any_ld),
        cmocka_unit_test(test_softmax_errors),
        cmocka_unit_test(test_softmax_cols_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
