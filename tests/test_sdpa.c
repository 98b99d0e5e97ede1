/*
 * attn_sdpa_forward / attn_sdpa_forward_ws / attn_sdpa_scores without
 * masks: shapes, grouped-query heads, strided layouts, workspaces, against
 * the double-precision reference (tests/reference.c).
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

/* The sizes the issue asks for, used for Tq, Tk, d and dv. */
static const int64_t sizes[] = {1, 3, 17, 64, 65, 200};
#define NSIZES ((int)(sizeof sizes / sizeof sizes[0]))

static void test_desc_init_defaults(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    memset(&d, 0xA5, sizeof d);
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 2, 6, 3, 5, 7, 16, 9), ATTN_OK);
    assert_int_equal(d.struct_size, sizeof d);
    assert_int_equal(d.batch, 2);
    assert_int_equal(d.q_heads, 6);
    assert_int_equal(d.kv_heads, 3);
    assert_int_equal(d.q_len, 5);
    assert_int_equal(d.kv_len, 7);
    assert_int_equal(d.head_dim, 16);
    assert_int_equal(d.v_head_dim, 9);
    assert_true(d.scale == 0.25f); /* 1 / sqrt(16) */
    /* contiguous (B, H, T, last) */
    assert_int_equal(d.q_strides.row, 16);
    assert_int_equal(d.q_strides.head, 5 * 16);
    assert_int_equal(d.q_strides.batch, 6 * 5 * 16);
    assert_int_equal(d.k_strides.row, 16);
    assert_int_equal(d.k_strides.head, 7 * 16);
    assert_int_equal(d.k_strides.batch, 3 * 7 * 16);
    assert_int_equal(d.v_strides.row, 9);
    assert_int_equal(d.v_strides.head, 7 * 9);
    assert_int_equal(d.v_strides.batch, 3 * 7 * 9);
    assert_int_equal(d.out_strides.row, 9);
    assert_int_equal(d.out_strides.head, 5 * 9);
    assert_int_equal(d.out_strides.batch, 6 * 5 * 9);
    assert_int_equal(d.causal, ATTN_CAUSAL_NONE);
    assert_null(d.kv_lens);
    assert_null(d.keep_mask);
    assert_null(d.bias);
    /* one (Tq, Tk) mask / bias broadcast over batch and heads */
    assert_int_equal(d.keep_strides.batch, 0);
    assert_int_equal(d.keep_strides.head, 0);
    assert_int_equal(d.keep_strides.row, 7);
    assert_int_equal(d.bias_strides.batch, 0);
    assert_int_equal(d.bias_strides.head, 0);
    assert_int_equal(d.bias_strides.row, 7);

    /* scale for another head_dim */
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 1, 1, 3, 3), ATTN_OK);
    assert_true(fabs((double)d.scale - 1.0 / sqrt(3.0)) <= 1e-7);
}

/* Every (Tq, Tk) pair of sizes; d and dv walk through the sizes too. */
static void test_grid_unmasked(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x5eed0001);
    for (int i = 0; i < NSIZES; ++i)
        for (int j = 0; j < NSIZES; ++j) {
            const int64_t Tq = sizes[i], Tk = sizes[j];
            const int64_t d = sizes[(i + j) % NSIZES];
            const int64_t dv = sizes[(i + 2 * j + 1) % NSIZES];
            const int64_t B = 1 + (i + j) % 2, H = 1 + j % 2;
            char what[128];
            snprintf(what, sizeof what,
                     "B=%lld H=%lld Tq=%lld Tk=%lld d=%lld dv=%lld",
                     (long long)B, (long long)H, (long long)Tq, (long long)Tk,
                     (long long)d, (long long)dv);
            tu_problem p;
            tu_problem_init(&p, B, H, H, Tq, Tk, d, dv);
            tu_problem_data(&p, &rng);
            tu_run_and_check(&p, what);
            tu_problem_free(&p);
        }
}

/*
 * The full (Tq, Tk, d) cartesian product of the sizes, one head, one
 * call each (weights and lse on), the causal mode rotating so that every
 * (Tq, Tk) pair meets more than one of them.
 */
static void test_grid_cartesian(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x5eed000d);
    int n = 0;
    for (int i = 0; i < NSIZES; ++i)
        for (int j = 0; j < NSIZES; ++j)
            for (int k = 0; k < NSIZES; ++k, ++n) {
                const int64_t Tq = sizes[i], Tk = sizes[j], d = sizes[k];
                const int64_t dv = sizes[(i + j + 2 * k) % NSIZES];
                const attn_causal causal = (attn_causal)(n % 3);
                char what[128];
                snprintf(what, sizeof what,
                         "Tq=%lld Tk=%lld d=%lld dv=%lld causal %d",
                         (long long)Tq, (long long)Tk, (long long)d,
                         (long long)dv, (int)causal);
                tu_problem p;
                tu_problem_init(&p, 1, 1, 1, Tq, Tk, d, dv);
                p.d.causal = causal;
                tu_problem_data(&p, &rng);
                tu_problem_reference(&p);
                tu_run(&p, n % 2 ? TU_ALLOC : TU_WS_MISALIGNED, 1, 1);
                tu_check(&p, 1, 1, what);
                tu_problem_free(&p);
            }
}

static void test_gqa_and_mqa(void **state)
{
    (void)state;
    static const struct {
        int64_t Hq, Hkv, Tq, Tk, d, dv;
    } cases[] = {
        {4, 2, 17, 65, 17, 3},  /* GQA */
        {4, 2, 65, 17, 3, 64},
        {4, 1, 3, 200, 64, 17}, /* MQA */
        {4, 1, 200, 3, 1, 65},
        {6, 3, 64, 64, 65, 1},
        {4, 4, 1, 17, 200, 3},  /* plain multi-head for contrast */
    };
    tu_rng rng = tu_rng_make(0x5eed0002);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        char what[128];
        snprintf(what, sizeof what, "Hq=%lld Hkv=%lld Tq=%lld Tk=%lld",
                 (long long)cases[c].Hq, (long long)cases[c].Hkv,
                 (long long)cases[c].Tq, (long long)cases[c].Tk);
        tu_problem p;
        tu_problem_init(&p, 2, cases[c].Hq, cases[c].Hkv, cases[c].Tq,
                        cases[c].Tk, cases[c].d, cases[c].dv);
        tu_problem_data(&p, &rng);
        tu_run_and_check(&p, what);
        tu_check_scores(&p, what);
        tu_problem_free(&p);
    }
}

/*
 * The GQA head mapping checked without the reference: kv head g holds V
 * rows all equal to g + 1, so query head h must output h / (Hq / Hkv) + 1
 * whatever the weights are.
 */
static void test_gqa_head_mapping(void **state)
{
    (void)state;
    static const int64_t configs[][2] = {{4, 2}, {4, 1}, {6, 3}, {8, 2}};
    tu_rng rng = tu_rng_make(0x5eed0003);
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; ++c) {
        const int64_t Hq = configs[c][0], Hkv = configs[c][1];
        tu_problem p;
        tu_problem_init(&p, 2, Hq, Hkv, 5, 9, 4, 3);
        tu_problem_data(&p, &rng);
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t g = 0; g < Hkv; ++g)
                for (int64_t j = 0; j < 9; ++j)
                    for (int64_t e = 0; e < 3; ++e)
                        p.v[tu_at(p.d.v_strides, b, g, j, e)] = (float)(g + 1);
        tu_run(&p, TU_ALLOC, 0, 0);
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t h = 0; h < Hq; ++h)
                for (int64_t i = 0; i < 5; ++i)
                    for (int64_t e = 0; e < 3; ++e) {
                        const double want = (double)(h / (Hq / Hkv) + 1);
                        const double got =
                            p.out[tu_at(p.d.out_strides, b, h, i, e)];
                        if (!(fabs(got - want) <= ATTN_TEST_REL_TOL * want))
                            fail_msg("Hq=%lld Hkv=%lld head %lld: %g, want %g",
                                     (long long)Hq, (long long)Hkv,
                                     (long long)h, got, want);
                    }
        tu_problem_free(&p);
    }
}

/* (B, T, H, d) tensors straight out of a projection, read via strides. */
static void test_strided_bthd(void **state)
{
    (void)state;
    static const struct {
        int64_t B, Hq, Hkv, Tq, Tk, d, dv;
    } cases[] = {
        {2, 4, 2, 17, 65, 17, 3},
        {1, 4, 1, 65, 200, 64, 65},
        {3, 2, 2, 3, 1, 200, 17},
        {2, 1, 1, 200, 64, 1, 64},
    };
    tu_rng rng = tu_rng_make(0x5eed0004);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const int64_t Hq = cases[c].Hq, Hkv = cases[c].Hkv;
        const int64_t Tq = cases[c].Tq, Tk = cases[c].Tk;
        const int64_t d = cases[c].d, dv = cases[c].dv;
        char what[128];
        snprintf(what, sizeof what, "BTHD case %zu", c);
        tu_problem p;
        tu_problem_init(&p, cases[c].B, Hq, Hkv, Tq, Tk, d, dv);
        p.d.q_strides = tu_strides(Tq * Hq * d, d, Hq * d);
        p.d.k_strides = tu_strides(Tk * Hkv * d, d, Hkv * d);
        p.d.v_strides = tu_strides(Tk * Hkv * dv, dv, Hkv * dv);
        p.d.out_strides = tu_strides(Tq * Hq * dv, dv, Hq * dv);
        tu_problem_data(&p, &rng);
        tu_run_and_check(&p, what);
        tu_check_scores(&p, what);
        tu_problem_free(&p);
    }
}

/*
 * One packed projection buffer (B, T, 3, H, d): q, k and v are views into
 * the same memory (inputs may overlap each other), out is (B, T, H, d).
 */
static void test_packed_qkv(void **state)
{
    (void)state;
    const int64_t B = 2, T = 65, H = 3, d = 17;
    const size_t n = (size_t)(B * T * 3 * H * d);
    tu_rng rng = tu_rng_make(0x5eed0005);
    float *qkv = tu_malloc(n, sizeof *qkv);
    for (size_t i = 0; i < n; ++i)
        qkv[i] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
    const size_t out_n = (size_t)(B * T * H * d);
    float *out = tu_malloc(out_n, sizeof *out);
    double *ref = tu_malloc(out_n, sizeof *ref);

    attn_sdpa_desc desc;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&desc, B, H, H, T, T, d, d), ATTN_OK);
    const attn_strides in = tu_strides(T * 3 * H * d, d, 3 * H * d);
    desc.q_strides = desc.k_strides = desc.v_strides = in;
    desc.out_strides = tu_strides(T * H * d, d, H * d);
    desc.causal = ATTN_CAUSAL_TOP_LEFT;
    const float *q = qkv, *k = qkv + H * d, *v = qkv + 2 * H * d;

    tu_fill_nan(out, out_n);
    TU_CHECK_STATUS(attn_sdpa_forward(&desc, q, k, v, out, NULL, NULL),
                    ATTN_OK);
    ref_sdpa(&desc, q, k, v, ref, NULL, NULL, NULL);
    TU_CHECK_REL(tu_rel_err(out, desc.out_strides, B, H, T, d, ref),
                 "packed qkv", "out");
    free(ref);
    free(out);
    free(qkv);
}

/* Row, head and batch strides with gaps; gaps of out must stay untouched. */
static void test_padded_strides(void **state)
{
    (void)state;
    static const struct {
        int64_t B, Hq, Hkv, Tq, Tk, d, dv;
    } cases[] = {
        {2, 2, 1, 17, 3, 17, 64},
        {1, 4, 2, 65, 65, 3, 3},
        {2, 1, 1, 1, 200, 64, 1},
    };
    tu_rng rng = tu_rng_make(0x5eed0006);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; ++c) {
        const int64_t Hq = cases[c].Hq, Hkv = cases[c].Hkv;
        const int64_t Tq = cases[c].Tq, Tk = cases[c].Tk;
        const int64_t d = cases[c].d, dv = cases[c].dv;
        char what[128];
        snprintf(what, sizeof what, "padded case %zu", c);
        tu_problem p;
        tu_problem_init(&p, cases[c].B, Hq, Hkv, Tq, Tk, d, dv);
        const int64_t qr = d + 3, kr = d + 1, vr = dv + 5, orow = dv + 2;
        p.d.q_strides = tu_strides(Hq * (Tq * qr + 7) + 11, Tq * qr + 7, qr);
        p.d.k_strides = tu_strides(Hkv * Tk * kr + 1, Tk * kr, kr);
        p.d.v_strides = tu_strides(Hkv * (Tk * vr + 2), Tk * vr + 2, vr);
        p.d.out_strides =
            tu_strides(Hq * (Tq * orow + 3) + 5, Tq * orow + 3, orow);
        tu_problem_data(&p, &rng);
        tu_run_and_check(&p, what);
        tu_check_scores(&p, what);
        tu_problem_free(&p);
    }
}

/* Zero strides broadcast inputs: one K/V for every batch, one query for
 * every head; with Tq = 1 the row strides are irrelevant. */
static void test_broadcast_input_strides(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x5eed0007);
    tu_problem p;

    tu_problem_init(&p, 3, 4, 2, 17, 65, 17, 3);
    p.d.k_strides.batch = 0;
    p.d.v_strides.batch = 0;
    p.d.q_strides.head = 0;
    p.d.q_strides.batch = p.d.q_len * p.d.head_dim;
    tu_problem_data(&p, &rng);
    tu_run_and_check(&p, "zero batch/head input strides");
    tu_problem_free(&p);

    tu_problem_init(&p, 2, 2, 1, 1, 64, 65, 17);
    p.d.q_strides.row = 0;
    p.d.out_strides.row = 0;
    tu_problem_data(&p, &rng);
    tu_run_and_check(&p, "Tq = 1 with row strides 0");
    tu_problem_free(&p);

    tu_problem_init(&p, 2, 4, 2, 17, 1, 3, 17);
    p.d.k_strides.row = 0;
    p.d.v_strides.row = 0;
    p.d.k_strides.head = 0; /* both kv heads share one key */
    tu_problem_data(&p, &rng);
    tu_run_and_check(&p, "Tk = 1 with row strides 0");
    tu_problem_free(&p);
}

/* A custom scale, including unscaled attention. */
static void test_scale(void **state)
{
    (void)state;
    static const float scales[] = {1.0f, 0.05f, 2.0f};
    tu_rng rng = tu_rng_make(0x5eed0008);
    for (size_t s = 0; s < sizeof scales / sizeof scales[0]; ++s) {
        char what[64];
        snprintf(what, sizeof what, "scale %g", (double)scales[s]);
        tu_problem p;
        tu_problem_init(&p, 1, 2, 1, 17, 65, 17, 17);
        p.d.scale = scales[s];
        tu_problem_data(&p, &rng);
        tu_run_and_check(&p, what);
        tu_check_scores(&p, what);
        tu_problem_free(&p);
    }
}

/*
 * Without the reference: if all keys are equal, every weight is 1 / Tk
 * and out is the mean of the V rows.
 */
static void test_equal_keys_average_values(void **state)
{
    (void)state;
    const int64_t Tq = 65, Tk = 17, d = 3, dv = 5;
    tu_rng rng = tu_rng_make(0x5eed0009);
    tu_problem p;
    tu_problem_init(&p, 1, 1, 1, Tq, Tk, d, dv);
    tu_problem_data(&p, &rng);
    for (int64_t j = 1; j < Tk; ++j)
        memcpy(p.k + j * d, p.k, (size_t)d * sizeof *p.k);
    tu_run(&p, TU_WS, 1, 1);
    for (int64_t e = 0; e < dv; ++e) {
        double mean = 0.0;
        for (int64_t j = 0; j < Tk; ++j)
            mean += p.v[j * dv + e];
        mean /= (double)Tk;
        for (int64_t i = 0; i < Tq; ++i)
            assert_true(fabs(p.out[i * dv + e] - mean) <= 1e-6);
    }
    for (int64_t i = 0; i < Tq * Tk; ++i)
        assert_true(fabs(p.weights[i] - 1.0 / (double)Tk) <= 1e-7);
    for (int64_t i = 0; i < Tq; ++i) {
        /* lse = s + log(Tk) where s is the common score of row i */
        double s = 0.0;
        for (int64_t c = 0; c < d; ++c)
            s += (double)p.q[i * d + c] * p.k[c];
        s *= (double)p.d.scale;
        assert_true(fabs(p.lse[i] - (s + log((double)Tk))) <= 1e-5);
    }
    tu_problem_free(&p);
}

/*
 * Workspaces: the exact size reported works at any alignment and with
 * garbage in it; a larger one works too; results match the allocating call
 * and the reference.
 */
static void test_workspace_alignment(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x5eed000a);
    tu_problem p;
    tu_problem_init(&p, 2, 4, 2, 65, 200, 17, 64);
    p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    tu_problem_data(&p, &rng);
    tu_problem_reference(&p);

    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&p.d, &bytes), ATTN_OK);
    assert_true(bytes > 0);
    unsigned char *buf = tu_malloc(bytes + 64, 1);
    for (size_t off = 0; off < 8; ++off) {
        for (size_t extra = 0; extra <= 32; extra += 32) {
            char what[64];
            snprintf(what, sizeof what, "workspace offset %zu extra %zu", off,
                     extra);
            memset(buf, 0xFF, bytes + 64);
            tu_fill_nan(p.out, p.out_n);
            tu_fill_nan(p.weights, p.w_n);
            tu_fill_nan(p.lse, p.lse_n);
            TU_CHECK_STATUS(attn_sdpa_forward_ws(&p.d, p.q, p.k, p.v, p.out,
                                                 p.weights, p.lse, buf + off,
                                                 bytes + extra),
                            ATTN_OK);
            tu_check(&p, 1, 1, what);
        }
    }
    free(buf);
    tu_problem_free(&p);
}

/* weights alone, lse alone: each as if the other were also asked for. */
static void test_optional_outputs(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x5eed000b);
    tu_problem p;
    tu_problem_init(&p, 2, 2, 2, 65, 64, 64, 17);
    tu_problem_data(&p, &rng);
    tu_problem_reference(&p);
    tu_run(&p, TU_ALLOC, 1, 0);
    tu_check(&p, 1, 0, "weights only");
    tu_run(&p, TU_WS, 1, 0);
    tu_check(&p, 1, 0, "weights only, workspace");
    tu_run(&p, TU_ALLOC, 0, 1);
    tu_check(&p, 0, 1, "lse only");
    tu_run(&p, TU_ALLOC, 0, 0);
    tu_check(&p, 0, 0, "neither");
    tu_problem_free(&p);
}

/* attn_sdpa_scores over the size grid (diagonal pairs and neighbours). */
static void test_scores_grid(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x5eed000c);
    for (int i = 0; i < NSIZES; ++i) {
        const int64_t Tq = sizes[i], Tk = sizes[(i + 1) % NSIZES];
        const int64_t d = sizes[(i + 3) % NSIZES];
        char what[64];
        snprintf(what, sizeof what, "scores Tq=%lld Tk=%lld d=%lld",
                 (long long)Tq, (long long)Tk, (long long)d);
        tu_problem p;
        tu_problem_init(&p, 2, 2, 1, Tq, Tk, d, 3);
        tu_problem_data(&p, &rng);
        tu_check_scores(&p, what);
        tu_problem_free(&p);
    }
}

/*
 * Scores that rise a lot from one key tile to the next. The fused path
 * keeps a reference at most 8 octaves below a row's maximum, moves it up
 * by whole octaves when a tile rises further, and recomputes a row whose
 * scores rise more than 64 octaves in one tile. Keys come in groups of 256.
 * Batch 0: each of the first four groups 6 nats (8.7 octaves) above the
 * one before, so whatever the tile size (256 to 1024 keys) a tile rises by
 * 8.7 to 35 octaves; then flat, so that what was summed before a move
 * still counts. Batch 1: flat, one jump of 80 nats (115 octaves), flat
 * again. The causal variant cuts some groups off for some rows.
 */
static void test_rising_scores_across_tiles(void **state)
{
    (void)state;
    const attn_causal modes[] = {ATTN_CAUSAL_NONE, ATTN_CAUSAL_BOTTOM_RIGHT};
    const int64_t Tq = 5, Tk = 2600, D = 4;
    for (size_t c = 0; c < 2; ++c) {
        tu_rng rng = tu_rng_make(0x515e);
        tu_problem p;
        tu_problem_init(&p, 2, 2, 1, Tq, Tk, D, 3);
        p.d.scale = 1.0f;
        p.d.causal = modes[c];
        tu_problem_data(&p, &rng);
        for (int64_t r = 0; r < 2 * 2 * Tq; ++r) /* q . k = sum(k) / 4 */
            for (int64_t x = 0; x < D; ++x)
                p.q[r * D + x] = 0.25f;
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t j = 0; j < Tk; ++j) {
                const int64_t group = j / 256;
                float level;
                if (b == 0)
                    level = 6.0f * (float)(group < 4 ? group : 4);
                else
                    level = group < 5 ? 0.0f : 80.0f;
                /* A little variety inside a group, different per key. */
                const float score = level + 0.5f * (float)(j % 7) / 7.0f;
                for (int64_t x = 0; x < D; ++x)
                    p.k[(b * Tk + j) * D + x] = score;
            }
        tu_run_and_check(&p, c ? "rising scores, causal" : "rising scores");
        tu_problem_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_desc_init_defaults),
        cmocka_unit_test(test_grid_unmasked),
        cmocka_unit_test(test_grid_cartesian),
        cmocka_unit_test(test_gqa_and_mqa),
        cmocka_unit_test(test_gqa_head_mapping),
        cmocka_unit_test(test_strided_bthd),
        cmocka_unit_test(test_packed_qkv),
        cmocka_unit_test(test_padded_strides),
        cmocka_unit_test(test_broadcast_input_strides),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_equal_keys_average_values),
        cmocka_unit_test(test_workspace_alignment),
        cmocka_unit_test(test_optional_outputs),
        cmocka_unit_test(test_scores_grid),
        cmocka_unit_test(test_rising_scores_across_tiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
