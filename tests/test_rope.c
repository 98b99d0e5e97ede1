/*
 * Rotary embeddings against a double-precision reference written from the
 * formulas of rope.h (both conventions, partial rotary dimensions, bases,
 * explicit positions, caller tables, strided layouts); the backward
 * against central differences of L = sum(g * rope(x)); bad arguments
 * write nothing.
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

/* The pair of dimension i and its angle, straight from the header. */
static void ref_rope(const attn_rope *r, double *x /* (d) */, int64_t t)
{
    const int64_t R = r->rotary_dim;
    for (int64_t i = 0; i < R / 2; ++i) {
        const double angle = (double)t / pow(r->base, (double)(2 * i) / (double)R);
        const int64_t a = r->style == ATTN_ROPE_NEOX ? i : 2 * i;
        const int64_t b = r->style == ATTN_ROPE_NEOX ? i + R / 2 : 2 * i + 1;
        const double xa = x[a], xb = x[b];
        x[a] = xa * cos(angle) - xb * sin(angle);
        x[b] = xa * sin(angle) + xb * cos(angle);
    }
}

enum { B = 2, H = 3, T = 7, D = 12 };

/* (B, T, H, d) storage read as (B, H, T, d): a projection's layout. */
static const attn_strides S = {T * H * D, D, H * D};

static float *random_x(tu_rng *r)
{
    float *x = tu_malloc(B * T * H * D, sizeof *x);
    for (int i = 0; i < B * T * H * D; ++i)
        x[i] = (float)tu_rng_uniform(r, -1.0, 1.0);
    return x;
}

static double check_forward(const attn_rope *rope, const int64_t *pos,
                            const float *x0)
{
    float x[B * T * H * D];
    memcpy(x, x0, sizeof x);
    TU_CHECK_STATUS(attn_rope_forward(rope, x, B, H, T, D, S, pos), ATTN_OK);
    double worst = 0.0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t t = 0; t < T; ++t) {
                const int64_t o = b * S.batch + h * S.head + t * S.row;
                double ref[D];
                for (int c = 0; c < D; ++c)
                    ref[c] = x0[o + c];
                ref_rope(rope, ref, pos ? pos[b * T + t] : t);
                for (int c = 0; c < D; ++c) /* no fmax: see tu_max_diff */
                    if (!(fabs(x[o + c] - ref[c]) <= worst))
                        worst = fabs(x[o + c] - ref[c]);
            }
    return worst;
}

static void test_forward_against_reference(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x70be);
    float *x = random_x(&r);
    const int64_t pos[B * T] = {0, 1, 2, 3, 4, 5, 6,
                                4093, 4094, 4095, 4096, 100000, 7, 8};
    static const int64_t dims[] = {D, 8, 2};
    static const double bases[] = {10000.0, 500000.0, 7.5};
    for (int style = 0; style < 2; ++style)
        for (size_t di = 0; di < 3; ++di)
            for (size_t bi = 0; bi < 3; ++bi)
                for (int with_pos = 0; with_pos < 2; ++with_pos) {
                    const attn_rope rope = {(attn_rope_style)style, dims[di],
                                            bases[bi], NULL, NULL, 0};
                    const double e = check_forward(&rope, with_pos ? pos : NULL, x);
                    if (!(e <= 4e-7)) /* |x| <= 1: a few float roundings */
                        fail_msg("style %d R %lld base %g positions %d: error %g",
                                 style, (long long)dims[di], bases[bi], with_pos, e);
                }
    /* Caller tables, rounded to float, agree to their rounding. */
    enum { LEN = 100001, HALF = 4 };
    float *c = tu_malloc((size_t)LEN * HALF, sizeof *c);
    float *s = tu_malloc((size_t)LEN * HALF, sizeof *s);
    for (int64_t t = 0; t < LEN; ++t)
        for (int i = 0; i < HALF; ++i) {
            const double a = (double)t / pow(10000.0, 2.0 * i / (2.0 * HALF));
            c[t * HALF + i] = (float)cos(a);
            s[t * HALF + i] = (float)sin(a);
        }
    const attn_rope table = {ATTN_ROPE_GPTJ, 2 * HALF, 10000.0, c, s, LEN};
    assert_true(check_forward(&table, pos, x) <= 6e-7);
    free(c);
    free(s);
    free(x);
}

static void test_backward_by_differences(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x70bf);
    float *x = random_x(&r), *g = random_x(&r);
    const int64_t pos[B * T] = {3, 9, 27, 81, 243, 729, 2187,
                                0, 5, 10, 15, 20, 25, 30};
    for (int style = 0; style < 2; ++style) {
        const attn_rope rope = {(attn_rope_style)style, 8, 10000.0, NULL, NULL, 0};
        float dx[B * T * H * D];
        memcpy(dx, g, sizeof dx);
        TU_CHECK_STATUS(attn_rope_backward(&rope, dx, B, H, T, D, S, pos), ATTN_OK);
        /* L(x) = sum g * rope(x) is linear: central differences in double
         * of the double reference are exact up to rounding. */
        double worst = 0.0;
        for (int e = 0; e < B * T * H * D; e += 5) {
            const int64_t row = e / D, b = row / (T * H), t = row / H % T;
            const int c = e % D;
            double plus[D], minus[D];
            for (int k = 0; k < D; ++k)
                plus[k] = minus[k] = x[row * D + k];
            plus[c] += 1e-3;
            minus[c] -= 1e-3;
            ref_rope(&rope, plus, pos[b * T + t]);
            ref_rope(&rope, minus, pos[b * T + t]);
            double fd = 0.0;
            for (int k = 0; k < D; ++k)
                fd += g[row * D + k] * (plus[k] - minus[k]) / 2e-3;
            if (!(fabs(fd - dx[e]) <= worst))
                worst = fabs(fd - dx[e]);
        }
        if (!(worst <= 1e-5))
            fail_msg("style %d: backward off by %g", style, worst);
        /* And backward(forward(x)) = x. */
        float y[B * T * H * D];
        memcpy(y, x, sizeof y);
        attn_rope_forward(&rope, y, B, H, T, D, S, pos);
        attn_rope_backward(&rope, y, B, H, T, D, S, pos);
        double back, size;
        tu_max_diff(y, x, 1.0, B * T * H * D, &back, &size);
        assert_true(back <= 1e-6);
    }
    free(x);
    free(g);
}

static void test_errors(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x70c0);
    float *x = random_x(&r);
    float *x0 = tu_malloc(B * T * H * D, sizeof *x0);
    memcpy(x0, x, B * T * H * D * sizeof *x);
    const float tab[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    int64_t pos[B * T] = {0};
    const attn_rope good = {ATTN_ROPE_NEOX, 4, 10000.0, NULL, NULL, 0};
    attn_rope bad;
#define EXPECT(rope, strides, positions, want)                               \
    do {                                                                     \
        TU_CHECK_STATUS(attn_rope_forward(rope, x, B, H, T, D, strides,      \
                                          positions), want);                 \
        TU_CHECK_STATUS(attn_rope_backward(rope, x, B, H, T, D, strides,     \
                                           positions), want);                \
        assert_memory_equal(x, x0, B * T * H * D * sizeof *x);               \
    } while (0)
    EXPECT(NULL, S, NULL, ATTN_ERR_NULL_POINTER);
    /* R odd, below 2 or above d: its own status, whatever else is wrong
     * with the rope. */
    bad = good; bad.rotary_dim = 3;  EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    bad = good; bad.rotary_dim = 14; EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    bad = good; bad.rotary_dim = 0;  EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    bad = good; bad.rotary_dim = 1;  EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    bad = good; bad.rotary_dim = -2; EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    bad.base = NAN;                  EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    bad = good; bad.rotary_dim = D + 2; bad.style = (attn_rope_style)2;
                                     EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ROTARY_DIM);
    /* A rotary dimension that fits a 12-wide row is refused for an
     * 8-wide one; a tensor dimension below 1 stays a bad dimension. */
    bad = good; bad.rotary_dim = 10;
    TU_CHECK_STATUS(attn_rope_forward(&bad, x, B, H, T, 8, S, NULL),
                    ATTN_ERR_BAD_ROTARY_DIM);
    TU_CHECK_STATUS(attn_rope_forward(&good, x, B, H, T, 0, S, NULL),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_rope_backward(&good, x, 0, H, T, D, S, NULL),
                    ATTN_ERR_BAD_DIMENSION);
    assert_memory_equal(x, x0, B * T * H * D * sizeof *x);
    bad = good; bad.style = (attn_rope_style)2; EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ARGUMENT);
    bad = good; bad.base = 0.0;      EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ARGUMENT);
    bad = good; bad.base = NAN;      EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ARGUMENT);
    bad = good; bad.cos = tab;       EXPECT(&bad, S, NULL, ATTN_ERR_BAD_ARGUMENT);
    bad = good; bad.cos = tab; bad.sin = tab + 4; bad.table_len = 2;
    pos[3] = 2;                      EXPECT(&bad, S, pos, ATTN_ERR_BAD_ARGUMENT);
    pos[3] = -1;                     EXPECT(&good, S, pos, ATTN_ERR_BAD_ARGUMENT);
    pos[3] = 0;
    EXPECT(&good, tu_strides(T * H * D, D, D - 1), NULL, ATTN_ERR_BAD_STRIDE);
    EXPECT(&good, tu_strides(0, D, H * D), NULL, ATTN_ERR_BAD_STRIDE); /* B rows overlap */
    EXPECT(&good, S, (const int64_t *)(void *)(x + 8), ATTN_ERR_ALIASING);
    EXPECT(&good, tu_strides(INT64_MAX / 2, D, H * D), NULL, ATTN_ERR_SIZE_OVERFLOW);
#undef EXPECT
    free(x);
    free(x0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_against_reference),
        cmocka_unit_test(test_backward_by_differences),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
