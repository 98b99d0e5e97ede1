/*
 * What is read, and what NaN / Inf do (include/attention/sdpa.h, "What is
 * read" and "Non-finite input"):
 *  - keys and values past kv_lens[b], or past every query's causal
 *    boundary, are never read: garbage there must not change anything;
 *  - fully masked rows are exactly zero even when NaN is in reach;
 *  - NaN / Inf in data that is used propagates as IEEE arithmetic says.
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

/* NaN, +Inf and -Inf in turn. */
static float garbage(int64_t n)
{
    switch (n % 3) {
    case 0: return NAN;
    case 1: return INFINITY;
    default: return -INFINITY;
    }
}

/* Overwrites K and V rows j >= from[b] (for every kv head) with garbage. */
static void poison_kv_rows(tu_problem *p, const int64_t *from)
{
    const attn_sdpa_desc *d = &p->d;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t g = 0; g < d->kv_heads; ++g)
            for (int64_t j = from[b]; j < d->kv_len; ++j) {
                for (int64_t c = 0; c < d->head_dim; ++c)
                    p->k[tu_at(d->k_strides, b, g, j, c)] = garbage(j + c);
                for (int64_t c = 0; c < d->v_head_dim; ++c)
                    p->v[tu_at(d->v_strides, b, g, j, c)] = garbage(j + c + 1);
            }
}

/* Runs every mode against the reference already stored in p. */
static void run_modes(tu_problem *p, int weights, const char *what)
{
    tu_run(p, TU_ALLOC, weights, 1);
    tu_check(p, weights, 1, what);
    tu_run(p, TU_WS, 0, 0);
    tu_check(p, 0, 0, what);
    tu_run(p, TU_WS_MISALIGNED, weights, 0);
    tu_check(p, weights, 0, what);
}

static void test_garbage_beyond_kv_lens_is_never_read(void **state)
{
    (void)state;
    static const attn_causal causal[] = {
        ATTN_CAUSAL_NONE, ATTN_CAUSAL_TOP_LEFT, ATTN_CAUSAL_BOTTOM_RIGHT};
    static const int64_t shapes[][2] = {{65, 200}, {17, 64}, {1, 17}};
    tu_rng rng = tu_rng_make(0x9a4b0001);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
        for (size_t c = 0; c < 3; ++c) {
            const int64_t Tq = shapes[s][0], Tk = shapes[s][1];
            char what[96];
            snprintf(what, sizeof what,
                     "garbage past kv_lens Tq=%lld Tk=%lld causal %d",
                     (long long)Tq, (long long)Tk, (int)causal[c]);
            tu_problem p;
            tu_problem_init(&p, 4, 4, 2, Tq, Tk, 17, 3);
            p.d.causal = causal[c];
            int64_t *lens = tu_problem_kv_lens(&p);
            lens[0] = Tk - 1;
            lens[1] = Tk / 3;
            lens[2] = 0;
            lens[3] = 1;
            tu_problem_data(&p, &rng);
            tu_problem_reference(&p); /* on clean data */
            poison_kv_rows(&p, lens);
            run_modes(&p, 1, what);
            tu_check_scores(&p, what); /* -inf past kv_lens, not NaN */
            tu_problem_free(&p);
        }
}

/*
 * Top-left causal with Tk > Tq: no query sees a key j >= Tq, so those K and
 * V rows are never read (with kv_lens: j >= min(Tq, kv_lens[b])).
 */
static void test_garbage_beyond_causal_boundary_is_never_read(void **state)
{
    (void)state;
    static const int64_t shapes[][2] = {
        {17, 40}, {65, 200}, {64, 65}, {1, 3}, {3, 17}};
    tu_rng rng = tu_rng_make(0x9a4b0002);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; ++s)
        for (int with_lens = 0; with_lens < 2; ++with_lens) {
            const int64_t Tq = shapes[s][0], Tk = shapes[s][1];
            char what[96];
            snprintf(what, sizeof what,
                     "garbage past causal boundary Tq=%lld Tk=%lld lens %d",
                     (long long)Tq, (long long)Tk, with_lens);
            tu_problem p;
            tu_problem_init(&p, 2, 2, 1, Tq, Tk, 17, 17);
            p.d.causal = ATTN_CAUSAL_TOP_LEFT;
            int64_t from[2] = {Tq, Tq};
            if (with_lens) {
                int64_t *lens = tu_problem_kv_lens(&p);
                lens[0] = Tk;
                lens[1] = Tq > 1 ? Tq / 2 : 1;
                from[1] = lens[1];
            }
            tu_problem_data(&p, &rng);
            tu_problem_reference(&p);
            poison_kv_rows(&p, from);
            run_modes(&p, 1, what);
            tu_check_scores(&p, what);
            tu_problem_free(&p);
        }
}

/*
 * A row that sees no key is exactly zero even when NaN sits in V rows
 * inside the range that is read (visible to other rows). NaN in its own
 * query row and in K does not matter either, whether the row is masked by
 * keep_mask or by a -INFINITY bias (a mask, not an addend).
 */
static void test_fully_masked_row_stays_zero_despite_nan(void **state)
{
    (void)state;
    const int64_t Tq = 70, Tk = 6, d = 3, dv = 4;
    const int64_t masked[] = {1, 66}; /* one per query block */
    for (int how = 0; how < 2; ++how) {
        tu_rng rng = tu_rng_make(0x9a4b0003);
        tu_problem p;
        tu_problem_init(&p, 1, 1, 1, Tq, Tk, d, dv);
        if (how == 0) {
            uint8_t *keep = tu_problem_keep(&p, p.d.keep_strides, 100, &rng);
            for (size_t m = 0; m < 2; ++m)
                memset(keep + masked[m] * Tk, 0, (size_t)Tk);
        } else {
            float *bias = tu_problem_bias(&p, p.d.bias_strides, &rng);
            for (size_t m = 0; m < 2; ++m)
                for (int64_t j = 0; j < Tk; ++j)
                    bias[masked[m] * Tk + j] = -INFINITY;
        }
        tu_problem_data(&p, &rng);
        for (size_t m = 0; m < 2; ++m)
            p.q[masked[m] * d] = NAN;
        p.k[4 * d + 2] = NAN;
        p.v[2 * dv + 1] = NAN;
        for (tu_mode mode = TU_ALLOC; mode <= TU_WS_MISALIGNED; ++mode) {
            tu_run(&p, mode, 1, 1);
            for (size_t m = 0; m < 2; ++m) {
                const int64_t i = masked[m];
                for (int64_t c = 0; c < dv; ++c)
                    if (p.out[i * dv + c] != 0.0f)
                        fail_msg("how %d mode %d: masked row %lld out[%lld] ="
                                 " %g", how, (int)mode, (long long)i,
                                 (long long)c, (double)p.out[i * dv + c]);
                for (int64_t j = 0; j < Tk; ++j)
                    assert_true(p.weights[i * Tk + j] == 0.0f);
                assert_true(p.lse[i] == -INFINITY);
            }
            /* The other rows did see the NaN key and value. */
            assert_true(isnan(p.out[0 * dv + 1]));
        }
        tu_problem_free(&p);
    }

    /* Bottom-right with Tq > Tk: early rows see nothing, NaN or not. */
    tu_rng rng = tu_rng_make(0x9a4b0004);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, 8, 3, 2, 2);
    p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    tu_problem_data(&p, &rng);
    for (int64_t i = 0; i < 5; ++i)
        p.q[i * 2] = NAN;
    tu_problem_reference(&p);
    run_modes(&p, 1, "bottom-right early rows with NaN queries");
    for (size_t r = 0; r < 5; ++r)
        assert_true(p.r_lse[r] == -INFINITY);
    tu_problem_free(&p);
}

/* Builds a problem, lets `poison` change the data, runs the reference on
 * the poisoned data (it propagates NaN like the header says) and checks. */
static void nan_case(int64_t Tq, int64_t Tk, attn_causal causal,
                     void (*poison)(tu_problem *), int weights,
                     const char *what)
{
    tu_rng rng = tu_rng_make(0x9a4b0005);
    tu_problem p;
    tu_problem_init(&p, 2, 2, 1, Tq, Tk, 4, 3);
    p.d.causal = causal;
    tu_problem_data(&p, &rng);
    poison(&p);
    tu_problem_reference(&p);
    run_modes(&p, weights, what);
    tu_problem_free(&p);
}

static void poison_q(tu_problem *p)
{
    p->q[tu_at(p->d.q_strides, 1, 1, 5, 2)] = NAN;
}

static void poison_k(tu_problem *p)
{
    p->k[tu_at(p->d.k_strides, 0, 0, 5, 1)] = NAN;
}

static void poison_v(tu_problem *p)
{
    p->v[tu_at(p->d.v_strides, 1, 0, 7, 1)] = NAN;
}

static void poison_k_inf(tu_problem *p)
{
    p->k[tu_at(p->d.k_strides, 0, 0, 3, 0)] = INFINITY;
}

static void poison_v_inf(tu_problem *p)
{
    p->v[tu_at(p->d.v_strides, 0, 0, 2, 0)] = INFINITY;
}

static void test_nan_in_query_row(void **state)
{
    (void)state;
    nan_case(17, 65, ATTN_CAUSAL_NONE, poison_q, 1, "NaN in Q");
    nan_case(17, 65, ATTN_CAUSAL_TOP_LEFT, poison_q, 0, "NaN in Q, causal");

    /* The claim itself, without the reference: row NaN, lse NaN. */
    tu_rng rng = tu_rng_make(0x9a4b0006);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, 4, 5, 3, 2);
    tu_problem_data(&p, &rng);
    p.q[2 * 3 + 1] = NAN;
    tu_run(&p, TU_ALLOC, 1, 1);
    for (int64_t c = 0; c < 2; ++c) {
        assert_true(isnan(p.out[2 * 2 + c]));
        assert_true(isfinite(p.out[1 * 2 + c]));
    }
    assert_true(isnan(p.lse[2]));
    assert_true(isfinite(p.lse[3]));
    tu_problem_free(&p);
}

static void test_nan_in_key_row(void **state)
{
    (void)state;
    /* Unmasked: every query row of (b 0, both heads) becomes NaN. */
    nan_case(17, 65, ATTN_CAUSAL_NONE, poison_k, 1, "NaN in K");
    /* Top-left causal: rows i < 5 do not see key 5 and stay finite. */
    nan_case(17, 65, ATTN_CAUSAL_TOP_LEFT, poison_k, 0, "NaN in K, causal");
}

static void test_nan_in_value_row(void **state)
{
    (void)state;
    /* Column 1 of every row that sees key 7 becomes NaN, nothing else. */
    nan_case(17, 65, ATTN_CAUSAL_NONE, poison_v, 1, "NaN in V");

    /* With kv_lens hiding key 7 the NaN is never read. */
    tu_rng rng = tu_rng_make(0x9a4b0007);
    tu_problem p;
    tu_problem_init(&p, 2, 2, 1, 17, 65, 4, 3);
    tu_problem_kv_lens(&p)[1] = 7;
    tu_problem_data(&p, &rng);
    poison_v(&p);
    tu_problem_reference(&p);
    for (size_t i = 0; i < p.lse_n * 3; ++i)
        assert_true(isfinite(p.r_out[i]));
    run_modes(&p, 1, "NaN in V past kv_lens");
    tu_problem_free(&p);
}

static void test_inf_in_key_gives_nan(void **state)
{
    (void)state;
    /* Rows with q[0] > 0 get a +Inf score (row NaN); rows with q[0] < 0
     * get -Inf (that key masked). The reference models both. */
    nan_case(17, 65, ATTN_CAUSAL_NONE, poison_k_inf, 1, "Inf in K");

    /* Direct: q = (1, 0, 0) against a key with +Inf gives NaN. */
    tu_rng rng = tu_rng_make(0x9a4b0008);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, 1, 3, 3, 2);
    tu_problem_data(&p, &rng);
    p.q[0] = 1.0f;
    p.q[1] = p.q[2] = 0.5f;
    p.k[1 * 3 + 0] = INFINITY;
    tu_run(&p, TU_ALLOC, 1, 1);
    assert_true(isnan(p.out[0]) && isnan(p.out[1]));
    assert_true(isnan(p.lse[0]));
    tu_problem_free(&p);
}

static void test_inf_in_value_propagates(void **state)
{
    (void)state;
    nan_case(17, 65, ATTN_CAUSAL_NONE, poison_v_inf, 1, "Inf in V");

    /* Direct: every weight is > 0, so out[:, 0] = +Inf, the rest finite. */
    tu_rng rng = tu_rng_make(0x9a4b0009);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, 3, 4, 2, 2);
    tu_problem_data(&p, &rng);
    p.v[2 * 2 + 0] = INFINITY;
    tu_run(&p, TU_ALLOC, 1, 1);
    for (int64_t i = 0; i < 3; ++i) {
        assert_true(isinf(p.out[i * 2]) && p.out[i * 2] > 0.0f);
        assert_true(isfinite(p.out[i * 2 + 1]));
        assert_true(isfinite(p.lse[i]));
    }
    tu_problem_free(&p);
}

static void test_nonfinite_bias(void **state)
{
    (void)state;
    static const float bad[] = {NAN, INFINITY};
    for (size_t k = 0; k < 2; ++k) {
        tu_rng rng = tu_rng_make(0x9a4b000a);
        tu_problem p;
        tu_problem_init(&p, 1, 2, 2, 5, 7, 3, 2);
        float *bias = tu_problem_bias(&p, tu_contig(2, 5, 7), &rng);
        bias[tu_at(p.d.bias_strides, 0, 1, 3, 4)] = bad[k];
        tu_problem_data(&p, &rng);
        tu_problem_reference(&p);
        run_modes(&p, 1, k ? "+Inf bias" : "NaN bias");
        /* and directly: that row NaN, its neighbours finite */
        tu_run(&p, TU_ALLOC, 0, 1);
        assert_true(isnan(p.lse[1 * 5 + 3]));
        assert_true(isnan(p.out[tu_at(p.d.out_strides, 0, 1, 3, 0)]));
        assert_true(isfinite(p.lse[1 * 5 + 2]));
        assert_true(isfinite(p.lse[0 * 5 + 3]));
        tu_problem_free(&p);
    }
}

/*
 * The backward of a fully masked row (found by fuzz_sdpa): row 0 sees no
 * key, row 1 sees both. NaN in row 0's q and dout, and NaN in a key row 0
 * cannot see, must reach no gradient: dq row 0 stays exactly 0, and dq
 * row 1, dk and dv equal those of the same problem with the NaNs replaced
 * by ordinary numbers (row 0 adds nothing to dk and dv).
 */
static void backward_masked_row(const float *q /* (2) */, const float *k /* (2) */,
                                const float *dout /* (2) */, float *dq /* (2) */,
                                float *dk /* (2) */, float *dv /* (2) */)
{
    static const uint8_t keep[4] = {0, 0, 1, 1};
    const float v[2] = {1.0f, 2.0f};
    float out[2], lse[2];
    attn_sdpa_desc d;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 2, 2, 1, 1), ATTN_OK);
    d.algo = tu_algo();
    d.keep_mask = keep;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, q, k, v, out, NULL, lse), ATTN_OK);
    assert_true(lse[0] == -INFINITY && out[0] == 0.0f);
    memset(dq, 0, 2 * sizeof *dq);
    memset(dk, 0, 2 * sizeof *dk);
    memset(dv, 0, 2 * sizeof *dv);
    TU_CHECK_STATUS(attn_sdpa_backward(&d, q, k, v, out, lse, dout, dq, dk, dv,
                                       NULL),
                    ATTN_OK);
}

static void test_fully_masked_row_backward_ignores_nan(void **state)
{
    (void)state;
    float want_dq[2], want_dk[2], want_dv[2], dq[2], dk[2], dv[2];
    backward_masked_row((const float[]){0.5f, 1.0f}, (const float[]){1.0f, 2.0f},
                        (const float[]){3.0f, 1.0f}, want_dq, want_dk, want_dv);
    assert_true(want_dq[0] == 0.0f && want_dq[1] != 0.0f);
    assert_true(want_dk[0] != 0.0f && want_dv[0] != 0.0f);

    backward_masked_row((const float[]){NAN, 1.0f}, (const float[]){1.0f, 2.0f},
                        (const float[]){NAN, 1.0f}, dq, dk, dv);
    assert_memory_equal(dq, want_dq, sizeof dq);
    assert_memory_equal(dk, want_dk, sizeof dk);
    assert_memory_equal(dv, want_dv, sizeof dv);
}

/* Every row fully masked, NaN in a key: all gradients stay exactly 0. */
static void test_all_rows_masked_backward_is_zero(void **state)
{
    (void)state;
    static const uint8_t keep[4] = {0, 0, 0, 0};
    const float q[2] = {1.0f, 2.0f}, k[2] = {1.0f, NAN}, v[2] = {1.0f, NAN};
    const float dout[2] = {1.0f, NAN};
    float out[2], lse[2], dq[2] = {0}, dk[2] = {0}, dv[2] = {0};
    attn_sdpa_desc d;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 2, 2, 1, 1), ATTN_OK);
    d.algo = tu_algo();
    d.keep_mask = keep;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, q, k, v, out, NULL, lse), ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_backward(&d, q, k, v, out, lse, dout, dq, dk, dv,
                                       NULL),
                    ATTN_OK);
    for (int i = 0; i < 2; ++i)
        assert_true(out[i] == 0.0f && dq[i] == 0.0f && dk[i] == 0.0f &&
                    dv[i] == 0.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_garbage_beyond_kv_lens_is_never_read),
        cmocka_unit_test(test_garbage_beyond_causal_boundary_is_never_read),
        cmocka_unit_test(test_fully_masked_row_stays_zero_despite_nan),
        cmocka_unit_test(test_nan_in_query_row),
        cmocka_unit_test(test_nan_in_key_row),
        cmocka_unit_test(test_nan_in_value_row),
        cmocka_unit_test(test_inf_in_key_gives_nan),
        cmocka_unit_test(test_inf_in_value_propagates),
        cmocka_unit_test(test_nonfinite_bias),
        cmocka_unit_test(test_fully_masked_row_backward_ignores_nan),
        cmocka_unit_test(test_all_rows_masked_backward_is_zero),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
