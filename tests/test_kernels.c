/*
 * The vectorised tile kernels one CPU level at a time (src/cpu.h,
 * src/tile_kernels.h), every level this CPU runs, whatever level the rest
 * of the suite was forced to:
 *   - the exponential against the correctly rounded 2^x (computed in
 *     double): an ulp sweep over the inputs the passes can give it, with
 *     the bound the header states, and its edge cases;
 *   - each pass against a double-precision evaluation of what it promises;
 *   - ATTN_CPU_LEVEL: the level it names is the level a call selects.
 * Links the static library for the internal kernel tables.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cpu.h"
#include "testutil.h"
#include "kernels/tile_kernels.h"

/* The bound of tile_kernels.h, in units in the last place. */
#define EXP2_ULP_BOUND 2.0
/* Every STRIDE-th float of the sweep (all would take ~2e9 evaluations). */
#define STRIDE 97u
#define CHUNK 4096

static double ulp_of(float y)
{
    const float up = nextafterf(fabsf(y), INFINITY);
    return (double)up - (double)fabsf(y);
}

/* Largest error in ulp of exp2 over floats with bits in [lo, hi] (one
 * sign), every STRIDE-th. */
static double sweep(const attn_tile_kernels *k, uint32_t lo, uint32_t hi)
{
    static float x[CHUNK], y[CHUNK];
    double worst = 0.0;
    uint32_t bits = lo;
    while (bits <= hi) {
        int n = 0;
        for (; n < CHUNK && bits <= hi; ++n, bits += STRIDE)
            memcpy(&x[n], &bits, sizeof bits);
        memcpy(y, x, (size_t)n * sizeof *y);
        k->exp2(y, n);
        for (int i = 0; i < n; ++i) {
            const double exact = exp2((double)x[i]);
            const float rounded = (float)exact;
            const double err = fabs((double)y[i] - exact) / ulp_of(rounded);
            if (!(err <= worst))
                worst = isnan(err) ? INFINITY : err;
        }
    }
    return worst;
}

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

static void check_exp2(attn_cpu_level level)
{
    const attn_tile_kernels *k = attni_tile_kernels_for(level);
    /* The passes give 2^x arguments in [-126, 64] where results count:
     * (s - M) log2 e <= 0 after a two-pass step, up to the 64-octave
     * rise one pass keeps. */
    const double neg = sweep(k, bits_of(-0.0f), bits_of(-126.0f));
    const double pos = sweep(k, bits_of(0.0f), bits_of(64.0f));
    print_message("%-8s exp2: max error %.3f ulp on [-126, 0], %.3f ulp on "
                  "[0, 64] (bound %.1f)\n",
                  k->level, neg, pos, EXP2_ULP_BOUND);
    if (!(neg <= EXP2_ULP_BOUND && pos <= EXP2_ULP_BOUND))
        fail_msg("%s: exp2 error above %g ulp", k->level, EXP2_ULP_BOUND);

    /* Edges: below -127 it is 0 (flushed), between -127 and -126 tiny but
     * never above 2^-126; NaN stays NaN; -inf gives 0; integers exact. */
    float e[] = {-INFINITY, -1e30f, -150.0f, -127.5f, -126.75f, NAN,
                 -3.0f, 0.0f, 7.0f, 64.0f};
    k->exp2(e, (int64_t)(sizeof e / sizeof e[0]));
    assert_true(e[0] == 0.0f && e[1] == 0.0f && e[2] == 0.0f && e[3] == 0.0f);
    assert_true(e[4] >= 0.0f && e[4] <= 0x1p-126f);
    assert_true(isnan(e[5]));
    assert_true(e[6] == 0.125f && e[7] == 1.0f && e[8] == 128.0f &&
                e[9] == 0x1p64f);
}

/* ---- the passes against double --------------------------------------- */

/* Relative error allowed for e^d computed as 2^(d log2 e): the bound on
 * 2^x, plus one rounding each of the difference d and of the product x,
 * which 2^x turns into a relative error of |x| ln 2 2^-24 each. */
static double exp_tol(double d)
{
    if (!isfinite(d))
        return 0.0; /* masked: the result must be exactly 0 */
    const double x = fabs(d) * 1.4426950408889634;
    return (EXP2_ULP_BOUND + 0.5) * 0x1p-24 + 2.0 * x * 0.6931471805599453 * 0x1p-24;
}

enum { M = 5, N = 37, LD = 40 };

static void random_tile(float *S, tu_rng *r, double spread)
{
    for (int i = 0; i < M * LD; ++i)
        S[i] = (float)tu_rng_uniform(r, -spread, spread);
    S[1 * LD + 3] = -INFINITY; /* a masked key */
    for (int j = 0; j < N; ++j) /* a fully masked row */
        S[4 * LD + j] = -INFINITY;
}

static void check_passes(attn_cpu_level level)
{
    const attn_tile_kernels *k = attni_tile_kernels_for(level);
    tu_rng r = tu_rng_make(0x7113 + (uint64_t)level);
    float S[M * LD], P[M * LD], dS[M * LD];
    float row_max[M], alpha[M], lse[M], D[M];
    double row_sum[M];
    unsigned char has_nan[M], redo[M];

    /* softmax, first tile: row_max = the row's maximum, row_sum the sum of
     * e^(s - max), S the unnormalised weights. */
    random_tile(S, &r, 20.0);
    memcpy(P, S, sizeof S);
    for (int i = 0; i < M; ++i) {
        row_max[i] = -INFINITY;
        row_sum[i] = 0.0;
        has_nan[i] = 0;
    }
    k->softmax(S, M, N, LD, 0, row_max, row_sum, alpha, has_nan, redo);
    for (int i = 0; i < M; ++i) {
        double mx = -INFINITY, sum = 0.0;
        for (int j = 0; j < N; ++j) /* no fmax: see tu_max_diff */
            if (P[i * LD + j] > mx)
                mx = P[i * LD + j];
        assert_true(redo[i] == 0 && has_nan[i] == 0);
        assert_true(row_max[i] == (float)mx);
        for (int j = 0; j < N; ++j) {
            const double w = mx == -INFINITY ? 0.0 : exp(P[i * LD + j] - mx);
            sum += w;
            if (!(fabs(S[i * LD + j] - w) <= exp_tol(P[i * LD + j] - mx) * w + 1e-37))
                fail_msg("%s: softmax (%d, %d): %g, want %g", k->level, i, j,
                         (double)S[i * LD + j], w);
        }
        assert_true(fabs(row_sum[i] - sum) <= 1e-6 * fmax(sum, 1e-30));
        lse[i] = mx == -INFINITY ? -INFINITY : (float)(mx + log(sum));
    }

    /* exp_shift: e^(s - shift) */
    memcpy(S, P, sizeof S);
    k->exp_shift(S, M, N, LD, lse);
    for (int i = 0; i < M - 1; ++i)
        for (int j = 0; j < N; ++j) {
            const double w = exp((double)P[i * LD + j] - lse[i]);
            assert_true(fabs(S[i * LD + j] - w) <=
                        exp_tol(P[i * LD + j] - lse[i]) * w + 1e-37);
        }

    /* softmax_grad: P = e^(S - lse), dS = P (dP - D), exactly 0 where P is
     * 0 even against a NaN dP, and in rows with lse = -inf. */
    memcpy(S, P, sizeof S);
    for (int i = 0; i < M * LD; ++i)
        dS[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
    dS[1 * LD + 3] = NAN;
    float dP[M * LD];
    memcpy(dP, dS, sizeof dS);
    for (int i = 0; i < M; ++i)
        D[i] = (float)tu_rng_uniform(&r, -0.5, 0.5);
    k->softmax_grad(S, dS, M, N, LD, lse, D);
    for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j) {
            const double p = lse[i] == -INFINITY ? 0.0
                                                 : exp((double)P[i * LD + j] - lse[i]);
            const double g = p == 0.0 ? 0.0 : p * ((double)dP[i * LD + j] - D[i]);
            const double t = lse[i] == -INFINITY ? 0.0 : exp_tol(P[i * LD + j] - lse[i]);
            assert_true(fabs(S[i * LD + j] - p) <= t * p + 1e-37);
            if (p != 0.0 && !(fabs(dS[i * LD + j] - g) <=
                  (t + 0x1p-22) * p * (fabs((double)dP[i * LD + j]) + fabs(D[i])) +
                      1e-37))
                fail_msg("%s: softmax_grad (%d, %d): dS %g, want %g (p %g)",
                         k->level, i, j, (double)dS[i * LD + j], g, p);
            if (p == 0.0)
                assert_true(dS[i * LD + j] == 0.0f);
        }
}

static void test_every_level(void **state)
{
    (void)state;
    const attn_cpu_level best = attni_cpu_level_best();
    print_message("CPU levels run here: generic .. %s\n", attni_cpu_level_name(best));
    for (int l = 0; l <= (int)best; ++l) {
        check_exp2((attn_cpu_level)l);
        check_passes((attn_cpu_level)l);
    }
}

static void test_forced_level(void **state)
{
    (void)state;
    const char *saved = getenv("ATTN_CPU_LEVEL");
    char *copy = saved ? strdup(saved) : NULL;
    const attn_cpu_level best = attni_cpu_level_best();
    for (int l = 0; l < ATTN_CPU_LEVELS; ++l) {
        setenv("ATTN_CPU_LEVEL", attni_cpu_level_name((attn_cpu_level)l), 1);
        const attn_cpu_level want = (attn_cpu_level)l < best ? (attn_cpu_level)l : best;
        assert_int_equal(attni_cpu_level_select(), want);
        assert_string_equal(attni_tile_kernels_for(want)->level,
                            attni_cpu_level_name(want));
    }
    setenv("ATTN_CPU_LEVEL", "pentium", 1);
    assert_int_equal(attni_cpu_level_select(), best);
    unsetenv("ATTN_CPU_LEVEL");
    assert_int_equal(attni_cpu_level_select(), best);
    if (copy) {
        setenv("ATTN_CPU_LEVEL", copy, 1);
        free(copy);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_level),
        cmocka_unit_test(test_forced_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
