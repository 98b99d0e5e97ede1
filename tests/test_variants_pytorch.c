/*
 * The variants against PyTorch (tests/fixtures/make_variants_fixture.py):
 * the window and ALiBi written as dense masks, the softcap and the sinks
 * by their formulas, in float32 torch operations, and the gradients of all
 * four together by autograd. B 2, Hq 4, Hkv 2, Tq 6, Tk 9, d 8, dv 5.
 * Tolerances: ATTN_TEST_REL_TOL for outputs and lse (both sides round in
 * float32), ATTN_TEST_GRAD_TOL for the gradients (normwise, with the
 * gradient tests' floor).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <attention/attention.h>

#include "tolerance.h"

#define FIXTURE ATTN_FIXTURE_DIR "/variants.safetensors"
enum { B = 2, HQ = 4, HKV = 2, TQ = 6, TK = 9, D = 8, DV = 5 };

enum { Q, K, V, G, SINKS, SLOPES, OUT_WINDOW, OUT_ALIBI, OUT_SOFTCAP,
       OUT_SINKS, LSE_SINKS, OUT_ALL, LSE_ALL, DQ_ALL, DK_ALL, DV_ALL,
       DSINKS_ALL, N_TENSORS };

static const struct {
    const char *name;
    int ndim;
    int64_t shape[4];
} layout[N_TENSORS] = {
    {"q", 4, {B, HQ, TQ, D}},          {"k", 4, {B, HKV, TK, D}},
    {"v", 4, {B, HKV, TK, DV}},        {"g", 4, {B, HQ, TQ, DV}},
    {"sinks", 1, {HQ}},                {"slopes", 1, {HQ}},
    {"out_window", 4, {B, HQ, TQ, DV}}, {"out_alibi", 4, {B, HQ, TQ, DV}},
    {"out_softcap", 4, {B, HQ, TQ, DV}}, {"out_sinks", 4, {B, HQ, TQ, DV}},
    {"lse_sinks", 3, {B, HQ, TQ}},     {"out_all", 4, {B, HQ, TQ, DV}},
    {"lse_all", 3, {B, HQ, TQ}},       {"dq_all", 4, {B, HQ, TQ, D}},
    {"dk_all", 4, {B, HKV, TK, D}},    {"dv_all", 4, {B, HKV, TK, DV}},
    {"dsinks_all", 1, {HQ}},
};

static float *t[N_TENSORS];

static size_t numel(int i)
{
    size_t n = 1;
    for (int d = 0; d < layout[i].ndim; ++d)
        n *= (size_t)layout[i].shape[d];
    return n;
}

static int setup(void **state)
{
    (void)state;
    attn_param params[N_TENSORS];
    for (int i = 0; i < N_TENSORS; ++i) {
        t[i] = malloc(numel(i) * sizeof(float));
        if (t[i] == NULL)
            return -1;
        params[i] = (attn_param){layout[i].name, t[i], NULL, layout[i].ndim,
                                 {0}};
        for (int d = 0; d < layout[i].ndim; ++d)
            params[i].shape[d] = layout[i].shape[d];
    }
    return attn_params_load(params, N_TENSORS, FIXTURE) == ATTN_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < N_TENSORS; ++i)
        free(t[i]);
    return 0;
}

/* max |x - r| / max(max |r|, floor) over n floats. */
static double rel_err(const float *x, const float *r, size_t n, double floor)
{
    double diff = 0.0, ref = floor;
    for (size_t i = 0; i < n; ++i) {
        const double e = fabs((double)x[i] - r[i]);
        if (!(e <= diff)) /* NaN sticks */
            diff = e;
        if (fabs((double)r[i]) > ref)
            ref = fabs((double)r[i]);
    }
    return diff / ref;
}

static void check(const char *what, const float *x, int ref, double tol,
                  double floor)
{
    const double e = rel_err(x, t[ref], numel(ref), floor);
    if (!(e <= tol))
        fail_msg("%s vs PyTorch: relative error %g > %g", what, e, tol);
}

static attn_sdpa_desc base_desc(void)
{
    attn_sdpa_desc d;
    assert_int_equal(attn_sdpa_desc_init(&d, B, HQ, HKV, TQ, TK, D, DV),
                     ATTN_OK);
    return d;
}

static float out[B * HQ * TQ * DV], lse[B * HQ * TQ];

static void forward(const attn_sdpa_desc *d, attn_algo algo)
{
    attn_sdpa_desc a = *d;
    a.algo = algo;
    assert_int_equal(attn_sdpa_forward(&a, t[Q], t[K], t[V], out, NULL, lse),
                     ATTN_OK);
}

static const attn_algo algos[] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED,
                                  ATTN_ALGO_MATERIALIZED};

static void test_each_variant(void **state)
{
    (void)state;
    float slopes[HQ];
    assert_int_equal(attn_alibi_slopes(HQ, slopes), ATTN_OK);
    assert_memory_equal(slopes, t[SLOPES], sizeof slopes);
    for (size_t a = 0; a < 3; ++a) {
        attn_sdpa_desc d = base_desc();
        d.window_left = 2;
        d.window_right = 1;
        forward(&d, algos[a]);
        check("window", out, OUT_WINDOW, ATTN_TEST_REL_TOL, 0.0);
        d = base_desc();
        d.alibi_slopes = slopes;
        forward(&d, algos[a]);
        check("alibi", out, OUT_ALIBI, ATTN_TEST_REL_TOL, 0.0);
        d = base_desc();
        d.softcap = 1.5f;
        forward(&d, algos[a]);
        check("softcap", out, OUT_SOFTCAP, ATTN_TEST_REL_TOL, 0.0);
        d = base_desc();
        d.sinks = t[SINKS];
        forward(&d, algos[a]);
        check("sinks", out, OUT_SINKS, ATTN_TEST_REL_TOL, 0.0);
        check("sinks lse", lse, LSE_SINKS, ATTN_TEST_REL_TOL, 0.0);
    }
}

/* All four at once, forward and every gradient (d sinks too). */
static void test_all_with_gradients(void **state)
{
    (void)state;
    attn_sdpa_desc d = base_desc();
    d.window_left = 2;
    d.window_right = 1;
    d.alibi_slopes = t[SLOPES];
    d.softcap = 1.5f;
    d.sinks = t[SINKS];
    for (size_t a = 1; a < 3; ++a) {
        forward(&d, algos[a]);
        check("all", out, OUT_ALL, ATTN_TEST_REL_TOL, 0.0);
        check("all lse", lse, LSE_ALL, ATTN_TEST_REL_TOL, 0.0);
        static float dq[B * HQ * TQ * D], dk[B * HKV * TK * D],
            dv[B * HKV * TK * DV];
        float dsinks[HQ] = {0};
        memset(dq, 0, sizeof dq);
        memset(dk, 0, sizeof dk);
        memset(dv, 0, sizeof dv);
        attn_sdpa_desc b = d;
        b.algo = algos[a];
        assert_int_equal(attn_sdpa_backward(&b, t[Q], t[K], t[V], out, lse,
                                            t[G], dq, dk, dv, NULL),
                         ATTN_OK);
        assert_int_equal(attn_sdpa_sinks_backward(&b, out, lse, t[G], dsinks),
                         ATTN_OK);
        const double F = ATTN_TEST_GRAD_FLOOR;
        check("dq", dq, DQ_ALL, ATTN_TEST_GRAD_TOL, F);
        check("dk", dk, DK_ALL, ATTN_TEST_GRAD_TOL, F);
        check("dv", dv, DV_ALL, ATTN_TEST_GRAD_TOL, F);
        check("dsinks", dsinks, DSINKS_ALL, ATTN_TEST_GRAD_TOL, F);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_variant),
        cmocka_unit_test(test_all_with_gradients),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
