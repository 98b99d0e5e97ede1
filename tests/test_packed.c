/*
 * Packed variable-length batches (cu_seqlens, sdpa.h): a packed call
 * equals the same sequences run one by one as separate calls (whose
 * results test_sdpa, test_variants and test_backward check against the
 * float64 reference and finite differences), forward and backward, with
 * int32 and int64 offsets, zero-length sequences, gaps between sequences
 * that are neither read nor written, every mask and variant that aligns
 * per sequence, GQA, and lse laid out as (Hq, total_q). Also the float64
 * reference directly, and the errors.
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

#define HQ 4
#define HKV 2
#define D 8
#define DV 6
#define MAX_SEQS 6

static const float slopes[HQ] = {0.5f, 0.25f, 0.125f, 0.0625f};
static const float sinks[HQ] = {0.5f, -1.0f, 1.5f, 0.0f};

/* A packed problem: sequences of lens_q[b] queries and lens_k[b] keys,
 * `gap` unused rows before each (NaN, so a read would show). */
typedef struct packed {
    int64_t B, total_q, total_k;
    int64_t cu_q[MAX_SEQS + 1], cu_k[MAX_SEQS + 1];
    int32_t cu_q32[MAX_SEQS + 1], cu_k32[MAX_SEQS + 1];
    float *q, *k, *v, *out, *lse, *dout;
    attn_sdpa_desc d;
} packed;

/* (T, H, last) rows with a head stride of last and a row stride of H last. */
static attn_strides token_major(int64_t H, int64_t last)
{
    return tu_strides(0, last, H * last);
}

static void packed_make(packed *p, int64_t B, const int64_t *lens_q,
                        const int64_t *lens_k, int64_t gap, int int64_index,
                        tu_rng *rng)
{
    memset(p, 0, sizeof *p);
    p->B = B;
    int64_t tq = 0, tk = 0;
    for (int64_t b = 0; b < B; ++b) {
        tq += gap;
        tk += gap;
        p->cu_q[b] = tq;
        p->cu_k[b] = tk;
        tq += lens_q[b];
        tk += lens_k[b];
    }
    p->cu_q[B] = tq;
    p->cu_k[B] = tk;
    p->total_q = tq + gap; /* and a gap after the last */
    p->total_k = tk + gap;
    for (int64_t b = 0; b <= B; ++b) {
        p->cu_q32[b] = (int32_t)p->cu_q[b];
        p->cu_k32[b] = (int32_t)p->cu_k[b];
    }
    const size_t nq = (size_t)(p->total_q * HQ * D);
    const size_t nk = (size_t)(p->total_k * HKV * D);
    const size_t nv = (size_t)(p->total_k * HKV * DV);
    const size_t no = (size_t)(p->total_q * HQ * DV);
    p->q = tu_malloc(nq, sizeof(float));
    p->k = tu_malloc(nk, sizeof(float));
    p->v = tu_malloc(nv, sizeof(float));
    p->out = tu_malloc(no, sizeof(float));
    p->dout = tu_malloc(no, sizeof(float));
    p->lse = tu_malloc((size_t)(HQ * p->total_q), sizeof(float));
    tu_fill_nan(p->q, nq);
    tu_fill_nan(p->k, nk);
    tu_fill_nan(p->v, nv);
    tu_fill_nan(p->dout, no);
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t t = p->cu_q[b]; t < p->cu_q[b + 1]; ++t)
            for (int64_t e = 0; e < HQ * D; ++e)
                p->q[t * HQ * D + e] = (float)tu_rng_uniform(rng, -1.0, 1.0);
        for (int64_t t = p->cu_q[b]; t < p->cu_q[b + 1]; ++t)
            for (int64_t e = 0; e < HQ * DV; ++e)
                p->dout[t * HQ * DV + e] = (float)tu_rng_uniform(rng, -1.0, 1.0);
        for (int64_t t = p->cu_k[b]; t < p->cu_k[b + 1]; ++t) {
            for (int64_t e = 0; e < HKV * D; ++e)
                p->k[t * HKV * D + e] = (float)tu_rng_uniform(rng, -1.0, 1.0);
            for (int64_t e = 0; e < HKV * DV; ++e)
                p->v[t * HKV * DV + e] = (float)tu_rng_uniform(rng, -1.0, 1.0);
        }
    }
    TU_CHECK_STATUS(attn_sdpa_desc_init(&p->d, B, HQ, HKV, p->total_q,
                                        p->total_k, D, DV),
                    ATTN_OK);
    p->d.algo = tu_algo();
    p->d.q_strides = token_major(HQ, D);
    p->d.out_strides = token_major(HQ, DV);
    p->d.k_strides = token_major(HKV, D);
    p->d.v_strides = token_major(HKV, DV);
    p->d.cu_seqlens_q = int64_index ? (const void *)p->cu_q : (const void *)p->cu_q32;
    p->d.cu_seqlens_k = int64_index ? (const void *)p->cu_k : (const void *)p->cu_k32;
    p->d.seqlens_type = int64_index ? ATTN_INDEX_INT64 : ATTN_INDEX_INT32;
}

static void packed_free(packed *p)
{
    free(p->q);
    free(p->k);
    free(p->v);
    free(p->out);
    free(p->dout);
    free(p->lse);
}

/* The descriptor of sequence b alone: (1, T, H, last) views of the packed
 * tensors at its rows (a zero-length sequence has no call of its own). */
static attn_sdpa_desc one_desc(const packed *p, int64_t b)
{
    attn_sdpa_desc d = p->d;
    d.batch = 1;
    d.q_len = p->cu_q[b + 1] - p->cu_q[b];
    d.kv_len = p->cu_k[b + 1] - p->cu_k[b];
    d.cu_seqlens_q = d.cu_seqlens_k = NULL;
    return d;
}

/* Whether row t belongs to one of the B sequences of cu. */
static int owns(const int64_t *cu, int64_t B, int64_t t)
{
    for (int64_t b = 0; b < B; ++b)
        if (t >= cu[b] && t < cu[b + 1])
            return 1;
    return 0;
}

/* Compares packed results (out, lse (Hq, total_q); gaps untouched) with
 * the sequences run one by one. */
static void check_forward(packed *p, const char *what)
{
    const size_t no = (size_t)(p->total_q * HQ * DV);
    tu_fill_nan(p->out, no);
    tu_fill_nan(p->lse, (size_t)(HQ * p->total_q));
    TU_CHECK_STATUS(attn_sdpa_forward(&p->d, p->q, p->k, p->v, p->out, NULL,
                                      p->lse),
                    ATTN_OK);
    for (int64_t b = 0; b < p->B; ++b) {
        const attn_sdpa_desc d = one_desc(p, b);
        if (d.q_len == 0)
            continue;
        float *out = tu_malloc((size_t)(d.q_len * HQ * DV), sizeof *out);
        float *lse = tu_malloc((size_t)(d.q_len * HQ), sizeof *lse);
        if (d.kv_len == 0) { /* no call takes Tk = 0: every row empty */
            memset(out, 0, (size_t)(d.q_len * HQ * DV) * sizeof *out);
            for (int64_t e = 0; e < d.q_len * HQ; ++e)
                lse[e] = d.sinks ? d.sinks[e / d.q_len] : -INFINITY;
        } else {
            TU_CHECK_STATUS(attn_sdpa_forward(&d, p->q + p->cu_q[b] * HQ * D,
                                              p->k + p->cu_k[b] * HKV * D,
                                              p->v + p->cu_k[b] * HKV * DV,
                                              out, NULL, lse),
                            ATTN_OK);
        }
        double diff, size;
        tu_max_diff(p->out + p->cu_q[b] * HQ * DV, out, 1.0,
                    (size_t)(d.q_len * HQ * DV), &diff, &size);
        if (!(diff <= 1e-6 * (size > 1.0 ? size : 1.0)))
            fail_msg("%s: sequence %lld: out differs by %g", what,
                     (long long)b, diff);
        for (int64_t h = 0; h < HQ; ++h)
            for (int64_t i = 0; i < d.q_len; ++i) {
                const float a = p->lse[h * p->total_q + p->cu_q[b] + i];
                const float r = lse[h * d.q_len + i];
                if (!(a == r || fabsf(a - r) <= 1e-5f * (1.0f + fabsf(r))))
                    fail_msg("%s: sequence %lld head %lld row %lld: lse %g,"
                             " alone %g", what, (long long)b, (long long)h,
                             (long long)i, (double)a, (double)r);
            }
        free(lse);
        free(out);
    }
    for (int64_t t = 0; t < p->total_q; ++t) {
        const int owned = owns(p->cu_q, p->B, t);
        for (int64_t e = 0; !owned && e < HQ * DV; ++e)
            if (!isnan(p->out[t * HQ * DV + e]))
                fail_msg("%s: out row %lld outside every sequence written",
                         what, (long long)t);
        for (int64_t h = 0; !owned && h < HQ; ++h)
            if (!isnan(p->lse[h * p->total_q + t]))
                fail_msg("%s: lse of row %lld outside every sequence written",
                         what, (long long)t);
    }
}

typedef struct masks {
    const char *name;
    attn_causal causal;
    int64_t window_left, window_right;
    int alibi, sinks;
    float softcap;
} masks;

static const masks mask_cases[] = {
    {"none", ATTN_CAUSAL_NONE, -1, -1, 0, 0, 0.0f},
    {"causal tl", ATTN_CAUSAL_TOP_LEFT, -1, -1, 0, 0, 0.0f},
    {"causal br", ATTN_CAUSAL_BOTTOM_RIGHT, -1, -1, 0, 0, 0.0f},
    {"window 3/0 + sinks", ATTN_CAUSAL_NONE, 3, 0, 0, 1, 0.0f},
    {"br + alibi + softcap", ATTN_CAUSAL_BOTTOM_RIGHT, -1, -1, 1, 0, 0.8f},
    {"everything", ATTN_CAUSAL_TOP_LEFT, 7, 2, 1, 1, 1.2f},
};
#define N_MASKS (sizeof mask_cases / sizeof mask_cases[0])

static void set_masks(attn_sdpa_desc *d, const masks *m)
{
    d->causal = m->causal;
    d->window_left = m->window_left;
    d->window_right = m->window_right;
    d->alibi_slopes = m->alibi ? slopes : NULL;
    d->sinks = m->sinks ? sinks : NULL;
    d->softcap = m->softcap;
}

/* Lengths with a zero-length sequence, Tq != Tk, and sequences across the
 * tile edges (one longer than a fused query tile). */
static const int64_t lens_q[MAX_SEQS] = {5, 0, 300, 1, 64, 17};
static const int64_t lens_k[MAX_SEQS] = {9, 4, 300, 0, 65, 40};

static void test_forward_equals_one_by_one(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x9ac0001);
    for (int idx64 = 0; idx64 < 2; ++idx64)
        for (int64_t gap = 0; gap <= 2; gap += 2)
            for (size_t m = 0; m < N_MASKS; ++m) {
                packed p;
                packed_make(&p, MAX_SEQS, lens_q, lens_k, gap, idx64, &rng);
                set_masks(&p.d, &mask_cases[m]);
                char what[96];
                snprintf(what, sizeof what, "%s, int%d offsets, gap %lld",
                         mask_cases[m].name, idx64 ? 64 : 32, (long long)gap);
                check_forward(&p, what);
                packed_free(&p);
            }
}

/* The float64 reference of the packed rows directly (sequence 2, 300 rows
 * against 300 keys, causal, with everything): the packed call at 1e-5. */
static void test_forward_reference(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x9ac0002);
    packed p;
    packed_make(&p, MAX_SEQS, lens_q, lens_k, 1, 0, &rng);
    set_masks(&p.d, &mask_cases[N_MASKS - 1]);
    TU_CHECK_STATUS(attn_sdpa_forward(&p.d, p.q, p.k, p.v, p.out, NULL, p.lse),
                    ATTN_OK);
    attn_sdpa_desc d = one_desc(&p, 2);
    const int64_t n_out = d.q_len * HQ * DV;
    double *r = tu_malloc((size_t)n_out, sizeof *r);
    ref_sdpa(&d, p.q + p.cu_q[2] * HQ * D, p.k + p.cu_k[2] * HKV * D,
             p.v + p.cu_k[2] * HKV * DV, r, NULL, NULL, NULL);
    /* r is (1, Hq, Tq, dv) contiguous; out is token-major */
    const double err = tu_rel_err(p.out + p.cu_q[2] * HQ * DV, d.out_strides, 1,
                                  HQ, d.q_len, DV, r);
    TU_CHECK_REL(err, "packed sequence 2 vs float64", "out");
    free(r);
    packed_free(&p);
}

/* Backward: dq, dk and dv of the packed call equal those of the sequences
 * one by one; rows outside every sequence keep their NaN. */
static void test_backward_equals_one_by_one(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x9ac0003);
    for (size_t m = 0; m < N_MASKS; ++m) {
        packed p;
        packed_make(&p, MAX_SEQS, lens_q, lens_k, 2, (int)(m % 2), &rng);
        set_masks(&p.d, &mask_cases[m]);
        TU_CHECK_STATUS(attn_sdpa_forward(&p.d, p.q, p.k, p.v, p.out, NULL,
                                          p.lse),
                        ATTN_OK);
        const size_t nq = (size_t)(p.total_q * HQ * D);
        const size_t nk = (size_t)(p.total_k * HKV * D);
        const size_t nv = (size_t)(p.total_k * HKV * DV);
        float *g[3], *r[3];
        const size_t n[3] = {nq, nk, nv};
        for (int t = 0; t < 3; ++t) {
            g[t] = tu_malloc(n[t], sizeof(float));
            r[t] = tu_malloc(n[t], sizeof(float));
            for (size_t e = 0; e < n[t]; ++e)
                g[t][e] = r[t][e] = 0.0f;
        }
        /* rows outside the sequences: NaN in the gradients must stay */
        for (int64_t t = 0; t < p.total_q; ++t)
            if (!owns(p.cu_q, p.B, t))
                for (int64_t e = 0; e < HQ * D; ++e)
                    g[0][t * HQ * D + e] = r[0][t * HQ * D + e] = NAN;
        for (int64_t t = 0; t < p.total_k; ++t)
            if (!owns(p.cu_k, p.B, t)) {
                for (int64_t e = 0; e < HKV * D; ++e)
                    g[1][t * HKV * D + e] = r[1][t * HKV * D + e] = NAN;
                for (int64_t e = 0; e < HKV * DV; ++e)
                    g[2][t * HKV * DV + e] = r[2][t * HKV * DV + e] = NAN;
            }
        TU_CHECK_STATUS(attn_sdpa_backward(&p.d, p.q, p.k, p.v, p.out, p.lse,
                                           p.dout, g[0], g[1], g[2], NULL),
                        ATTN_OK);
        for (int64_t b = 0; b < p.B; ++b) {
            const attn_sdpa_desc d = one_desc(&p, b);
            if (d.q_len == 0 || d.kv_len == 0)
                continue; /* nothing to differentiate: stays 0 */
            float *lse = tu_malloc((size_t)(d.q_len * HQ), sizeof *lse);
            float *out = tu_malloc((size_t)(d.q_len * HQ * DV), sizeof *out);
            const float *q = p.q + p.cu_q[b] * HQ * D;
            const float *k = p.k + p.cu_k[b] * HKV * D;
            const float *v = p.v + p.cu_k[b] * HKV * DV;
            TU_CHECK_STATUS(attn_sdpa_forward(&d, q, k, v, out, NULL, lse),
                            ATTN_OK);
            TU_CHECK_STATUS(attn_sdpa_backward(
                                &d, q, k, v, out, lse,
                                p.dout + p.cu_q[b] * HQ * DV,
                                r[0] + p.cu_q[b] * HQ * D,
                                r[1] + p.cu_k[b] * HKV * D,
                                r[2] + p.cu_k[b] * HKV * DV, NULL),
                            ATTN_OK);
            free(out);
            free(lse);
        }
        static const char *names[3] = {"dq", "dk", "dv"};
        for (int t = 0; t < 3; ++t) {
            for (size_t e = 0; e < n[t]; ++e)
                if (isnan(r[t][e]) != isnan(g[t][e]))
                    fail_msg("%s: %s[%zu] = %g, one by one %g",
                             mask_cases[m].name, names[t], e, (double)g[t][e],
                             (double)r[t][e]);
            double diff = 0.0, size = 0.0;
            for (size_t e = 0; e < n[t]; ++e) {
                if (isnan(r[t][e]))
                    continue;
                const double x = fabs((double)g[t][e] - r[t][e]);
                if (!(x <= diff))
                    diff = x;
                if (fabs((double)r[t][e]) > size)
                    size = fabs((double)r[t][e]);
            }
            if (!(diff <= 1e-5 * (size > 0.1 ? size : 0.1)))
                fail_msg("%s: %s differs by %g (size %g)", mask_cases[m].name,
                         names[t], diff, size);
            free(g[t]);
            free(r[t]);
        }
        packed_free(&p);
    }
}

/* Bit-identical for 1, 2 and 3 threads. */
static void test_threads(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x9ac0004);
    packed p;
    packed_make(&p, MAX_SEQS, lens_q, lens_k, 1, 1, &rng);
    set_masks(&p.d, &mask_cases[N_MASKS - 1]);
    const size_t no = (size_t)(p.total_q * HQ * DV);
    float *first = tu_malloc(no, sizeof *first);
    for (int t = 1; t <= 3; ++t) {
        p.d.num_threads = t;
        tu_fill_nan(p.out, no);
        TU_CHECK_STATUS(attn_sdpa_forward(&p.d, p.q, p.k, p.v, p.out, NULL,
                                          NULL),
                        ATTN_OK);
        if (t == 1)
            memcpy(first, p.out, no * sizeof *first);
        else
            assert_memory_equal(first, p.out, no * sizeof *first);
    }
    free(first);
    packed_free(&p);
}

/* Offsets that decrease, start below 0 or end past the rows; one array
 * without the other; fields packed calls do not take. Nothing written. */
static void test_errors(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x9ac0005);
    packed p;
    packed_make(&p, 2, lens_q, lens_k, 0, 1, &rng);
    const size_t no = (size_t)(p.total_q * HQ * DV);
    attn_sdpa_desc d;
#define EXPECT_ERR(status)                                                   \
    do {                                                                     \
        tu_fill_nan(p.out, no);                                              \
        TU_CHECK_STATUS(attn_sdpa_forward(&d, p.q, p.k, p.v, p.out, NULL,    \
                                          NULL),                             \
                        status);                                             \
        for (size_t e_ = 0; e_ < no; ++e_)                                   \
            assert_true(isnan(p.out[e_]));                                   \
    } while (0)
    int64_t bad[3];
    d = p.d;
    memcpy(bad, p.cu_q, sizeof bad);
    bad[1] = bad[2] + 1; /* decreases */
    d.cu_seqlens_q = bad;
    EXPECT_ERR(ATTN_ERR_BAD_SEQLENS);
    bad[1] = p.cu_q[1];
    bad[2] = p.total_q + 1; /* past the rows */
    EXPECT_ERR(ATTN_ERR_BAD_SEQLENS);
    bad[2] = p.cu_q[2];
    bad[0] = -1;
    EXPECT_ERR(ATTN_ERR_BAD_SEQLENS);
    d = p.d;
    d.cu_seqlens_k = NULL;
    EXPECT_ERR(ATTN_ERR_BAD_SEQLENS);
    d = p.d;
    d.seqlens_type = (attn_index_type)5;
    EXPECT_ERR(ATTN_ERR_BAD_SEQLENS);
    int64_t kv_lens[2] = {1, 1};
    d = p.d;
    d.kv_lens = kv_lens;
    EXPECT_ERR(ATTN_ERR_BAD_ARGUMENT);
    float bias = 0.0f;
    d = p.d;
    d.bias = &bias;
    EXPECT_ERR(ATTN_ERR_BAD_ARGUMENT);
    d = p.d;
    float *w = tu_malloc((size_t)(2 * HQ * p.total_q * p.total_k), sizeof *w);
    TU_CHECK_STATUS(attn_sdpa_forward(&d, p.q, p.k, p.v, p.out, w, NULL),
                    ATTN_ERR_BAD_ARGUMENT);
    TU_CHECK_STATUS(attn_sdpa_scores(&d, p.q, p.k, w), ATTN_ERR_BAD_ARGUMENT);
    free(w);
#undef EXPECT_ERR
    packed_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_equals_one_by_one),
        cmocka_unit_test(test_forward_reference),
        cmocka_unit_test(test_backward_equals_one_by_one),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
