/*
 * The multi-head attention layer (include/attention/mha.h) against a naive
 * double-precision layer built from the formulas of mha.h on top of the
 * core reference (gr_mha_forward in tests/grad_reference.c), using the
 * layer's own parameters as attn_mha_params hands them out (PyTorch names
 * and layouts). Gradients of every parameter and of the inputs are checked
 * against central finite differences of the double layer's loss
 * L = sum(out * G).
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

#include <attention/mha.h>
#include <attention/params.h>

#include "grad_reference.h"
#include "testutil.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Largest errors against finite differences: parameters, inputs. */
static double max_err_params, max_err_inputs;

/* ---- a layer, its data and its double twin -------------------------------- */

enum { M_NONE, M_BCAST, M_FULL };           /* keep mask / mask bias */
enum { L_NONE, L_SHORT, L_ZERO };           /* kv_lens */

typedef struct mha_case {
    int64_t E, H, kdim, vdim;   /* kdim, vdim 0: E */
    int bias;                   /* the layer's bias parameters */
    int64_t B, Tq, Tk;
    int self;                   /* one buffer as query, key and value */
    attn_causal causal;
    int lens, keep, mbias;
    int variants;               /* sinks parameter, window, ALiBi, softcap */
} mha_case;

static const float alibi[4] = {0.5f, 0.25f, 0.125f, 0.0625f};

typedef struct mha_run {
    mha_case c;
    char name[200];
    int64_t kdim, vdim;
    attn_mha *layer;
    attn_mha_state *st;
    const attn_param *params;
    size_t np;
    double *pd[8];              /* double copies of the parameters */
    gr_mha ref;                 /* pointing into pd */
    float *query, *key, *value; /* key == value == query when self */
    float *dout;                /* (B, Tq, E) */
    double *qd, *kd, *vd;       /* kd == vd == qd when self */
    double *gd;
    attn_mha_options masks;
    int has_masks;
    int64_t lens[4];
    uint8_t *keep;
    float *mbias;
} mha_run;

static void case_name(const mha_case *c, char *buf, size_t n)
{
    snprintf(buf, n,
             "E%lld H%lld kdim%lld vdim%lld bias%d B%lld Tq%lld Tk%lld%s"
             " causal%d lens%d keep%d mbias%d",
             (long long)c->E, (long long)c->H, (long long)c->kdim,
             (long long)c->vdim, c->bias, (long long)c->B, (long long)c->Tq,
             (long long)c->Tk, c->self ? " self" : "", (int)c->causal,
             c->lens, c->keep, c->mbias);
}

static float *uniform(size_t n, tu_rng *r, double lo, double hi)
{
    float *x = tu_malloc(n, sizeof *x);
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)tu_rng_uniform(r, lo, hi);
    return x;
}

/* Points ref at the double copies, by the parameters' PyTorch names. */
static void bind_ref(mha_run *m)
{
    const int64_t E = m->c.E;
    memset(&m->ref, 0, sizeof m->ref);
    m->ref.E = E;
    m->ref.H = m->c.H;
    m->ref.kdim = m->kdim;
    m->ref.vdim = m->vdim;
    for (size_t t = 0; t < m->np; ++t) {
        const char *n = m->params[t].name;
        double *d = m->pd[t];
        if (strcmp(n, "in_proj_weight") == 0) {
            m->ref.wq = d;
            m->ref.wk = d + E * E;
            m->ref.wv = d + 2 * E * E;
        } else if (strcmp(n, "q_proj_weight") == 0) {
            m->ref.wq = d;
        } else if (strcmp(n, "k_proj_weight") == 0) {
            m->ref.wk = d;
        } else if (strcmp(n, "v_proj_weight") == 0) {
            m->ref.wv = d;
        } else if (strcmp(n, "in_proj_bias") == 0) {
            m->ref.bq = d;
            m->ref.bk = d + E;
            m->ref.bv = d + 2 * E;
        } else if (strcmp(n, "out_proj.weight") == 0) {
            m->ref.wo = d;
        } else if (strcmp(n, "out_proj.bias") == 0) {
            m->ref.bo = d;
        } else if (strcmp(n, "sinks") == 0) {
            m->ref.sinks = d;
        } else {
            fail_msg("unexpected parameter %s", n);
        }
    }
    assert_non_null(m->ref.wq);
    assert_non_null(m->ref.wk);
    assert_non_null(m->ref.wv);
    assert_non_null(m->ref.wo);
}

static void run_setup(mha_run *m, const mha_case *c, uint64_t seed)
{
    memset(m, 0, sizeof *m);
    m->c = *c;
    case_name(c, m->name, sizeof m->name);
    m->kdim = c->kdim ? c->kdim : c->E;
    m->vdim = c->vdim ? c->vdim : c->E;
    tu_rng r = tu_rng_make(seed);
    const unsigned flags = (c->bias ? ATTN_MHA_BIAS : 0u) |
                           (c->variants ? ATTN_MHA_SINKS : 0u);
    TU_CHECK_STATUS(attn_mha_create_flags(c->E, c->H, c->kdim, c->vdim, flags,
                                          seed, &m->layer),
                    ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(m->layer, &m->params, &m->np), ATTN_OK);
    assert_true(m->np <= N_OF(m->pd));
    for (size_t t = 0; t < m->np; ++t) {
        const attn_param *p = &m->params[t];
        /* Biases start at 0; make them matter. */
        if (p->ndim == 1)
            for (size_t e = 0; e < attn_param_numel(p); ++e)
                p->data[e] = (float)tu_rng_uniform(&r, -0.5, 0.5);
        m->pd[t] = gr_to_double(p->data, attn_param_numel(p));
    }
    bind_ref(m);

    const int64_t B = c->B, Tq = c->Tq, Tk = c->Tk, E = c->E, H = c->H;
    m->query = uniform((size_t)(B * Tq * E), &r, -1.0, 1.0);
    m->qd = gr_to_double(m->query, (size_t)(B * Tq * E));
    if (c->self) {
        assert_true(Tq == Tk && m->kdim == E && m->vdim == E);
        m->key = m->value = m->query;
        m->kd = m->vd = m->qd;
    } else {
        m->key = uniform((size_t)(B * Tk * m->kdim), &r, -1.0, 1.0);
        m->value = uniform((size_t)(B * Tk * m->vdim), &r, -1.0, 1.0);
        m->kd = gr_to_double(m->key, (size_t)(B * Tk * m->kdim));
        m->vd = gr_to_double(m->value, (size_t)(B * Tk * m->vdim));
    }
    m->dout = uniform((size_t)(B * Tq * E), &r, -1.0, 1.0);
    m->gd = gr_to_double(m->dout, (size_t)(B * Tq * E));

    attn_mha_options *k = &m->masks;
    TU_CHECK_STATUS(attn_mha_options_init(k, Tk), ATTN_OK);
    k->causal = c->causal;
    if (c->lens != L_NONE) {
        assert_true(B <= (int64_t)N_OF(m->lens));
        for (int64_t b = 0; b < B; ++b)
            m->lens[b] = b == 0 ? (c->lens == L_ZERO ? 0 : (Tk + 1) / 2) : Tk;
        k->kv_lens = m->lens;
    }
    if (c->keep != M_NONE) {
        const size_t n = (size_t)(c->keep == M_FULL ? B * H * Tq * Tk : Tq * Tk);
        m->keep = tu_malloc(n, 1);
        for (size_t e = 0; e < n; ++e)
            m->keep[e] = (uint8_t)(tu_rng_below(&r, 4) != 0);
        /* key 0 always allowed: no fully masked row from the keep mask */
        for (size_t e = 0; e < n; e += (size_t)Tk)
            m->keep[e] = 1;
        k->keep_mask = m->keep;
        if (c->keep == M_FULL)
            k->keep_strides = tu_contig(H, Tq, Tk);
    }
    if (c->mbias != M_NONE) {
        const size_t n =
            (size_t)(c->mbias == M_FULL ? B * H * Tq * Tk : Tq * Tk);
        m->mbias = uniform(n, &r, -1.0, 1.0);
        k->bias = m->mbias;
        if (c->mbias == M_FULL)
            k->bias_strides = tu_contig(H, Tq, Tk);
    }
    if (c->variants) {
        assert_true(c->H <= (int64_t)N_OF(alibi));
        k->window_left = 2;
        k->window_right = 0;
        k->alibi_slopes = alibi;
        k->softcap = 0.9f;
    }
    m->has_masks = c->causal != ATTN_CAUSAL_NONE || c->lens != L_NONE ||
                   c->keep != M_NONE || c->mbias != M_NONE || c->variants;
    TU_CHECK_STATUS(attn_mha_state_create(m->layer, B, Tq, Tk, &m->st),
                    ATTN_OK);
}

static void run_free(mha_run *m)
{
    attn_mha_state_destroy(m->st);
    attn_mha_destroy(m->layer);
    for (size_t t = 0; t < m->np; ++t)
        free(m->pd[t]);
    free(m->query);
    free(m->qd);
    if (!m->c.self) {
        free(m->key);
        free(m->value);
        free(m->kd);
        free(m->vd);
    }
    free(m->dout);
    free(m->gd);
    free(m->keep);
    free(m->mbias);
    memset(m, 0, sizeof *m);
}

static const attn_mha_options *masks_of(const mha_run *m)
{
    return m->has_masks ? &m->masks : NULL;
}

static size_t out_n(const mha_run *m)
{
    return (size_t)(m->c.B * m->c.Tq * m->c.E);
}

static size_t weights_n(const mha_run *m)
{
    return (size_t)(m->c.B * m->c.H * m->c.Tq * m->c.Tk);
}

static void ref_forward(const mha_run *m, double *out, double *weights)
{
    gr_mha_forward(&m->ref, masks_of(m), m->c.B, m->c.Tq, m->c.Tk, m->qd,
                   m->kd, m->vd, out, weights);
}

static double ref_loss(const mha_run *m, double *scratch)
{
    ref_forward(m, scratch, NULL);
    double L = 0.0;
    for (size_t e = 0; e < out_n(m); ++e)
        L += scratch[e] * m->gd[e];
    return L;
}

/* dL/dx for every entry of x (n doubles) by central differences. */
static void fd(const mha_run *m, double *x, size_t n, double *grad)
{
    double *scratch = tu_malloc(out_n(m), sizeof *scratch);
    for (size_t e = 0; e < n; ++e) {
        const double x0 = x[e], xp = x0 + ATTN_TEST_FD_STEP,
                     xm = x0 - ATTN_TEST_FD_STEP;
        x[e] = xp;
        const double Lp = ref_loss(m, scratch);
        x[e] = xm;
        const double Lm = ref_loss(m, scratch);
        x[e] = x0;
        grad[e] = (Lp - Lm) / (xp - xm);
    }
    free(scratch);
}

static void lib_forward(mha_run *m, float *out, float *weights, int average)
{
    TU_CHECK_STATUS(attn_mha_forward(m->layer, m->st, masks_of(m), m->query,
                                     m->key, m->value, out, weights, average),
                    ATTN_OK);
}

static attn_strides rows_of(int64_t cols)
{
    return tu_strides(0, 0, cols);
}

/* ---- (a) forward, (b) weights ----------------------------------------------- */

static void check_forward(const mha_case *c, uint64_t seed)
{
    mha_run m;
    run_setup(&m, c, seed);
    const size_t no = out_n(&m), nw = weights_n(&m);
    double *r_out = tu_malloc(no, sizeof *r_out);
    double *r_w = tu_malloc(nw, sizeof *r_w);
    ref_forward(&m, r_out, r_w);
    float *out = tu_malloc(no, sizeof *out);
    float *w = tu_malloc(nw, sizeof *w);
    float *avg = tu_malloc(nw / (size_t)c->H, sizeof *avg);

    /* No weights; per-head weights; averaged weights. */
    tu_fill_nan(out, no);
    lib_forward(&m, out, NULL, 0);
    TU_CHECK_REL(tu_rel_err(out, rows_of(c->E), 1, 1, c->B * c->Tq, c->E,
                            r_out),
                 m.name, "out");
    tu_fill_nan(out, no);
    tu_fill_nan(w, nw);
    lib_forward(&m, out, w, 0);
    TU_CHECK_REL(tu_rel_err(out, rows_of(c->E), 1, 1, c->B * c->Tq, c->E,
                            r_out),
                 m.name, "out (with weights)");
    TU_CHECK_REL(tu_rel_err(w, rows_of(c->Tk), 1, 1,
                            c->B * c->H * c->Tq, c->Tk, r_w),
                 m.name, "per-head weights");

    /* Averaged: the mean over heads of the per-head weights just
     * returned, and of the reference's. */
    const int64_t per_b = c->Tq * c->Tk;
    double *mean_lib = tu_malloc(nw / (size_t)c->H, sizeof *mean_lib);
    double *mean_ref = tu_malloc(nw / (size_t)c->H, sizeof *mean_ref);
    for (int64_t b = 0; b < c->B; ++b)
        for (int64_t e = 0; e < per_b; ++e) {
            double sl = 0.0, sr = 0.0;
            for (int64_t h = 0; h < c->H; ++h) {
                sl += (double)w[(b * c->H + h) * per_b + e];
                sr += r_w[(b * c->H + h) * per_b + e];
            }
            mean_lib[b * per_b + e] = sl / (double)c->H;
            mean_ref[b * per_b + e] = sr / (double)c->H;
        }
    tu_fill_nan(avg, nw / (size_t)c->H);
    tu_fill_nan(out, no);
    lib_forward(&m, out, avg, 1);
    TU_CHECK_REL(tu_rel_err(avg, rows_of(c->Tk), 1, 1, c->B * c->Tq, c->Tk,
                            mean_lib),
                 m.name, "averaged vs mean of per-head weights");
    TU_CHECK_REL(tu_rel_err(avg, rows_of(c->Tk), 1, 1, c->B * c->Tq, c->Tk,
                            mean_ref),
                 m.name, "averaged weights vs reference");
    TU_CHECK_REL(tu_rel_err(out, rows_of(c->E), 1, 1, c->B * c->Tq, c->E,
                            r_out),
                 m.name, "out (averaged weights)");

    /* Rows that see no key: A is 0, so out is exactly out_proj.bias (or 0
     * without biases), and their weights are 0. */
    for (int64_t b = 0; b < c->B; ++b)
        for (int64_t i = 0; i < c->Tq; ++i) {
            int none = 1;
            for (int64_t h = 0; h < c->H && none; ++h)
                for (int64_t j = 0; j < c->Tk && none; ++j)
                    none = r_w[((b * c->H + h) * c->Tq + i) * c->Tk + j] == 0.0;
            if (!none)
                continue;
            for (int64_t e = 0; e < c->E; ++e) {
                const float want = m.ref.bo ? (float)m.ref.bo[e] : 0.0f;
                if (out[(b * c->Tq + i) * c->E + e] != want)
                    fail_msg("%s: row (%lld, %lld) sees no key: out[%lld] ="
                             " %.9g, not the output bias %.9g", m.name,
                             (long long)b, (long long)i, (long long)e,
                             (double)out[(b * c->Tq + i) * c->E + e],
                             (double)want);
            }
            for (int64_t h = 0; h < c->H; ++h)
                for (int64_t j = 0; j < c->Tk; ++j)
                    assert_true(
                        w[((b * c->H + h) * c->Tq + i) * c->Tk + j] == 0.0f);
        }
    free(mean_lib);
    free(mean_ref);
    free(avg);
    free(w);
    free(out);
    free(r_w);
    free(r_out);
    run_free(&m);
}

static mha_case self_case(int64_t E, int64_t H, int bias)
{
    mha_case c;
    memset(&c, 0, sizeof c);
    c.E = E;
    c.H = H;
    c.bias = bias;
    c.B = 2;
    c.Tq = 5;
    c.Tk = 5;
    c.self = 1;
    return c;
}

static mha_case cross_case(int bias)
{
    mha_case c;
    memset(&c, 0, sizeof c);
    c.E = 8;
    c.H = 2;
    c.kdim = 6;
    c.vdim = 5;
    c.bias = bias;
    c.B = 2;
    c.Tq = 4;
    c.Tk = 6;
    return c;
}

/* Every mask kind alone, then all together. */
static void mask_sweep(mha_case c, uint64_t seed)
{
    static const struct {
        attn_causal causal;
        int lens, keep, mbias;
    } kinds[] = {
        {ATTN_CAUSAL_NONE, L_NONE, M_NONE, M_NONE},
        {ATTN_CAUSAL_TOP_LEFT, L_NONE, M_NONE, M_NONE},
        {ATTN_CAUSAL_BOTTOM_RIGHT, L_NONE, M_NONE, M_NONE},
        {ATTN_CAUSAL_NONE, L_SHORT, M_NONE, M_NONE},
        {ATTN_CAUSAL_NONE, L_ZERO, M_NONE, M_NONE},
        {ATTN_CAUSAL_NONE, L_NONE, M_BCAST, M_NONE},
        {ATTN_CAUSAL_NONE, L_NONE, M_FULL, M_NONE},
        {ATTN_CAUSAL_NONE, L_NONE, M_NONE, M_BCAST},
        {ATTN_CAUSAL_NONE, L_NONE, M_NONE, M_FULL},
        {ATTN_CAUSAL_BOTTOM_RIGHT, L_SHORT, M_FULL, M_BCAST},
        {ATTN_CAUSAL_TOP_LEFT, L_ZERO, M_BCAST, M_FULL},
    };
    for (size_t i = 0; i < N_OF(kinds); ++i) {
        c.causal = kinds[i].causal;
        c.lens = kinds[i].lens;
        c.keep = kinds[i].keep;
        c.mbias = kinds[i].mbias;
        check_forward(&c, seed + i);
    }
}

static void test_forward_self(void **state)
{
    (void)state;
    for (int bias = 0; bias < 2; ++bias) {
        mask_sweep(self_case(8, 2, bias), 100 + 20 * (uint64_t)bias);
        mask_sweep(self_case(12, 3, bias), 200 + 20 * (uint64_t)bias);
    }
    /* Separate query, key and value tensors of the same shapes. */
    mha_case c = self_case(12, 3, 1);
    c.self = 0;
    c.Tk = 7;
    mask_sweep(c, 300);
}

static void test_forward_cross(void **state)
{
    (void)state;
    mask_sweep(cross_case(1), 400);
    mask_sweep(cross_case(0), 420);
    /* kdim != E only, vdim == E: still separate projections. */
    mha_case c = cross_case(1);
    c.vdim = 0;
    mask_sweep(c, 440);
}

/* ---- (c) gradients ------------------------------------------------------------ */

static void check_grad(const float *g, const double *r, size_t n, int param,
                       const char *what, const char *tensor)
{
    double scale = 0.0;
    const double err = gr_rel_err(g, rows_of((int64_t)n), 1, 1, 1, (int64_t)n,
                                  r, ATTN_TEST_GRAD_FLOOR, &scale);
    double *mx = param ? &max_err_params : &max_err_inputs;
    if (err > *mx || isnan(err))
        *mx = err;
    if (!(err <= ATTN_TEST_LAYER_GRAD_TOL))
        fail_msg("%s: %s: error %g against finite differences > %g (largest"
                 " reference entry %g)", what, tensor, err,
                 ATTN_TEST_LAYER_GRAD_TOL, scale);
}

/* All gradients of one configuration against finite differences. */
static void check_gradients(const mha_case *c, uint64_t seed)
{
    mha_run m;
    run_setup(&m, c, seed);
    const int64_t B = c->B, Tq = c->Tq, Tk = c->Tk, E = c->E;
    const size_t nq = (size_t)(B * Tq * E), nk = (size_t)(B * Tk * m.kdim),
                 nv = (size_t)(B * Tk * m.vdim);
    float *out = tu_malloc(out_n(&m), sizeof *out);
    float *dq = calloc(nq, sizeof *dq);
    float *dk = c->self ? dq : calloc(nk, sizeof *dk);
    float *dv = c->self ? dq : calloc(nv, sizeof *dv);
    assert_true(dq && dk && dv);

    TU_CHECK_STATUS(attn_mha_zero_grad(m.layer), ATTN_OK);
    lib_forward(&m, out, NULL, 0);
    TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                      m.dout, dq, dk, dv),
                    ATTN_OK);

    for (size_t t = 0; t < m.np; ++t) {
        const attn_param *p = &m.params[t];
        const size_t n = attn_param_numel(p);
        double *g = tu_malloc(n, sizeof *g);
        fd(&m, m.pd[t], n, g);
        check_grad(p->grad, g, n, 1, m.name, p->name);
        free(g);
    }
    /* Inputs; with self-attention one buffer got all three parts, and the
     * finite differences move the one x that feeds all three. */
    double *g = tu_malloc(nq > nk ? (nq > nv ? nq : nv) : (nk > nv ? nk : nv),
                          sizeof *g);
    fd(&m, m.qd, nq, g);
    check_grad(dq, g, nq, 0, m.name, c->self ? "dx (shared)" : "dquery");
    if (!c->self) {
        fd(&m, m.kd, nk, g);
        check_grad(dk, g, nk, 0, m.name, "dkey");
        fd(&m, m.vd, nv, g);
        check_grad(dv, g, nv, 0, m.name, "dvalue");
    }
    free(g);
    if (!c->self) {
        free(dk);
        free(dv);
    }
    free(dq);
    free(out);
    run_free(&m);
}

static void test_gradients_self(void **state)
{
    (void)state;
    /* Separate query/key/value buffers, no mask. */
    mha_case c = self_case(8, 2, 1);
    c.self = 0;
    check_gradients(&c, 500);
    /* One shared buffer x and dx, with masks. */
    c = self_case(12, 3, 1);
    c.causal = ATTN_CAUSAL_TOP_LEFT;
    c.lens = L_SHORT;
    c.keep = M_FULL;
    c.mbias = M_FULL;
    check_gradients(&c, 501);
    /* Shared buffer, no mask, no bias parameters, E/H = 2. */
    c = self_case(8, 4, 0);
    check_gradients(&c, 502);
}

/* The variants through the layer: the "sinks" parameter (gpt-oss), a
 * window, ALiBi and the softcap; forward against the double reference,
 * every gradient (d sinks too) against finite differences. */
static void test_variants(void **state)
{
    (void)state;
    mha_case c = self_case(12, 3, 1);
    c.variants = 1;
    check_forward(&c, 700);
    check_gradients(&c, 701);
    c.lens = L_ZERO; /* rows that see nothing: lse = sink, zeros */
    check_forward(&c, 702);
    check_gradients(&c, 703);
    c = cross_case(0);
    c.variants = 1;
    c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    check_forward(&c, 704);
    check_gradients(&c, 705);
}

static void test_gradients_cross(void **state)
{
    (void)state;
    mha_case c = cross_case(1);
    c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    c.keep = M_BCAST;
    c.mbias = M_BCAST;
    check_gradients(&c, 600);
    c = cross_case(0);
    c.lens = L_SHORT;
    check_gradients(&c, 601);
}

/* (g) A batch whose every row sees nothing: gradients still finite and
 * right (its rows contribute only through out_proj.bias). */
static void test_gradients_fully_masked(void **state)
{
    (void)state;
    mha_case c = self_case(8, 2, 1);
    c.lens = L_ZERO;
    check_gradients(&c, 700);
    c = cross_case(1);
    c.lens = L_ZERO;
    c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    check_gradients(&c, 701);
}

/* ---- (d) accumulation, zero_grad ------------------------------------------- */

static void test_accumulate_and_zero_grad(void **state)
{
    (void)state;
    mha_case c = cross_case(1);
    c.causal = ATTN_CAUSAL_TOP_LEFT;
    mha_run m;
    run_setup(&m, &c, 800);
    const size_t nq = out_n(&m), nk = (size_t)(c.B * c.Tk * m.kdim),
                 nv = (size_t)(c.B * c.Tk * m.vdim);
    float *out = tu_malloc(nq, sizeof *out);
    float *d[3] = {calloc(nq, sizeof(float)), calloc(nk, sizeof(float)),
                   calloc(nv, sizeof(float))};
    const size_t dn[3] = {nq, nk, nv};
    float *one[3], *pone[8];
    assert_true(d[0] && d[1] && d[2]);

    /* Fresh layer: gradients are zero. */
    for (size_t t = 0; t < m.np; ++t)
        for (size_t e = 0; e < attn_param_numel(&m.params[t]); ++e)
            assert_true(m.params[t].grad[e] == 0.0f);
    lib_forward(&m, out, NULL, 0);
    TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                      m.dout, d[0], d[1], d[2]),
                    ATTN_OK);
    for (int t = 0; t < 3; ++t) {
        one[t] = tu_malloc(dn[t], sizeof(float));
        memcpy(one[t], d[t], dn[t] * sizeof(float));
    }
    for (size_t t = 0; t < m.np; ++t) {
        const size_t n = attn_param_numel(&m.params[t]);
        pone[t] = tu_malloc(n, sizeof(float));
        memcpy(pone[t], m.params[t].grad, n * sizeof(float));
    }
    /* A second backward of the same forward: everything doubles. */
    TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                      m.dout, d[0], d[1], d[2]),
                    ATTN_OK);
    for (size_t t = 0; t < m.np + 3; ++t) {
        const int is_param = t < m.np;
        const float *got = is_param ? m.params[t].grad : d[t - m.np];
        const float *base = is_param ? pone[t] : one[t - m.np];
        const size_t n =
            is_param ? attn_param_numel(&m.params[t]) : dn[t - m.np];
        double diff, big;
        tu_max_diff(got, base, 2.0, n, &diff, &big);
        const double size = 2.0 * big;
        if (!(diff <= ATTN_TEST_ACCUM_TOL * size) || !(big > 1e-3))
            fail_msg("%s: two backward calls: off by %g (scale %g)",
                     is_param ? m.params[t].name : "input gradient", diff,
                     size);
    }
    /* zero_grad clears every parameter gradient and nothing else. */
    float *data0 = tu_malloc(attn_param_numel(&m.params[0]), sizeof(float));
    memcpy(data0, m.params[0].data,
           attn_param_numel(&m.params[0]) * sizeof(float));
    TU_CHECK_STATUS(attn_mha_zero_grad(m.layer), ATTN_OK);
    for (size_t t = 0; t < m.np; ++t)
        for (size_t e = 0; e < attn_param_numel(&m.params[t]); ++e)
            if (m.params[t].grad[e] != 0.0f)
                fail_msg("zero_grad left %s[%zu] = %g", m.params[t].name, e,
                         (double)m.params[t].grad[e]);
    assert_memory_equal(data0, m.params[0].data,
                        attn_param_numel(&m.params[0]) * sizeof(float));
    /* After zero_grad a backward gives the single-call gradients again. */
    TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                      m.dout, NULL, NULL, NULL),
                    ATTN_OK);
    for (size_t t = 0; t < m.np; ++t) {
        const size_t n = attn_param_numel(&m.params[t]);
        for (size_t e = 0; e < n; ++e)
            if (!(fabs((double)m.params[t].grad[e] - (double)pone[t][e]) <=
                  ATTN_TEST_ACCUM_TOL * fabs((double)pone[t][e]) + 1e-30))
                fail_msg("after zero_grad: %s[%zu] = %.9g, first call %.9g",
                         m.params[t].name, e, (double)m.params[t].grad[e],
                         (double)pone[t][e]);
        free(pone[t]);
    }
    free(data0);
    for (int t = 0; t < 3; ++t) {
        free(d[t]);
        free(one[t]);
    }
    free(out);
    run_free(&m);
}

/* ---- (e) parameters: names, shapes, initialisation ------------------------- */

typedef struct expect_param {
    const char *name;
    int ndim;
    int64_t s0, s1;
} expect_param;

static void check_names(int64_t E, int64_t H, int64_t kdim, int64_t vdim,
                        int bias, const expect_param *want, size_t n)
{
    attn_mha *l = NULL;
    const attn_param *p = NULL;
    size_t count = 0;
    TU_CHECK_STATUS(attn_mha_create(E, H, kdim, vdim, bias, 1, &l), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(l, &p, &count), ATTN_OK);
    if (count != n)
        fail_msg("E%lld kdim%lld vdim%lld bias%d: %zu parameters, want %zu",
                 (long long)E, (long long)kdim, (long long)vdim, bias, count,
                 n);
    for (size_t i = 0; i < n; ++i) {
        if (strcmp(p[i].name, want[i].name) != 0 || p[i].ndim != want[i].ndim ||
            p[i].shape[0] != want[i].s0 ||
            (want[i].ndim == 2 && p[i].shape[1] != want[i].s1))
            fail_msg("parameter %zu: %s (%d-D %lld x %lld), want %s (%d-D"
                     " %lld x %lld)", i, p[i].name, p[i].ndim,
                     (long long)p[i].shape[0], (long long)p[i].shape[1],
                     want[i].name, want[i].ndim, (long long)want[i].s0,
                     (long long)want[i].s1);
        assert_non_null(p[i].data);
        assert_non_null(p[i].grad);
        assert_true(attn_param_numel(&p[i]) ==
                    (size_t)(want[i].s0 * (want[i].ndim == 2 ? want[i].s1 : 1)));
        /* Gradients start at zero. */
        for (size_t e = 0; e < attn_param_numel(&p[i]); ++e)
            assert_true(p[i].grad[e] == 0.0f);
    }
    attn_mha_destroy(l);
}

/* Exactly PyTorch's state_dict keys and shapes, in its order. */
static void test_param_names(void **state)
{
    (void)state;
    const expect_param packed[] = {{"in_proj_weight", 2, 24, 8},
                                   {"in_proj_bias", 1, 24, 0},
                                   {"out_proj.weight", 2, 8, 8},
                                   {"out_proj.bias", 1, 8, 0}};
    check_names(8, 2, 0, 0, 1, packed, 4);
    check_names(8, 2, 8, 8, 1, packed, 4); /* kdim == vdim == E: packed */
    const expect_param packed_nb[] = {{"in_proj_weight", 2, 24, 8},
                                      {"out_proj.weight", 2, 8, 8}};
    check_names(8, 2, 0, 0, 0, packed_nb, 2);
    const expect_param sep[] = {{"q_proj_weight", 2, 8, 8},
                                {"k_proj_weight", 2, 8, 6},
                                {"v_proj_weight", 2, 8, 5},
                                {"in_proj_bias", 1, 24, 0},
                                {"out_proj.weight", 2, 8, 8},
                                {"out_proj.bias", 1, 8, 0}};
    check_names(8, 2, 6, 5, 1, sep, 6);
    const expect_param sep_nb[] = {{"q_proj_weight", 2, 8, 8},
                                   {"k_proj_weight", 2, 8, 8},
                                   {"v_proj_weight", 2, 8, 3},
                                   {"out_proj.weight", 2, 8, 8}};
    check_names(8, 2, 0, 3, 0, sep_nb, 4);
}

/*
 * A tensor drawn uniformly from [-bound, bound): every entry within the
 * bound (the float rounding of the bound allowed), and the sample looks
 * uniform over all of it: largest |x| near the bound, mean near 0,
 * mean of x^2 near bound^2 / 3, about half negative.
 */
static void check_uniform(const float *x, size_t n, double bound,
                          const char *what)
{
    double mx = 0.0, sum = 0.0, sum2 = 0.0;
    size_t neg = 0;
    for (size_t i = 0; i < n; ++i) {
        const double v = (double)x[i];
        if (!(fabs(v) <= bound * (1.0 + ATTN_TEST_INIT_BOUND_SLACK)))
            fail_msg("%s[%zu] = %.9g outside +-%.9g", what, i, v, bound);
        mx = fmax(mx, fabs(v));
        sum += v;
        sum2 += v * v;
        neg += v < 0.0;
    }
    const double mean = sum / (double)n, m2 = sum2 / (double)n;
    const double sd = bound / sqrt(3.0 * (double)n); /* of the mean */
    /* m2 has relative standard deviation sqrt(0.8 / n) for a uniform. */
    const double m2_sd = sqrt(0.8 / (double)n);
    if (!(mx >= bound * (1.0 - 20.0 / (double)n)) ||
        !(fabs(mean) <= 5.0 * sd) ||
        !(fabs(m2 / (bound * bound / 3.0) - 1.0) <= 5.0 * m2_sd) ||
        !(fabs((double)neg / (double)n - 0.5) <= 5.0 * 0.5 / sqrt((double)n)))
        fail_msg("%s (n %zu): max |x| %.6g, mean %.3g, mean x^2 %.6g, %zu"
                 " negative: not U(+-%.6g)", what, n, mx, mean, m2, neg,
                 bound);
}

static const attn_param *find(const attn_param *p, size_t n, const char *name)
{
    for (size_t i = 0; i < n; ++i)
        if (strcmp(p[i].name, name) == 0)
            return &p[i];
    fail_msg("no parameter %s", name);
    return NULL;
}

static void test_init_distribution(void **state)
{
    (void)state;
    const int64_t E = 64;
    attn_mha *l = NULL;
    const attn_param *p = NULL;
    size_t n = 0;
    TU_CHECK_STATUS(attn_mha_create(E, 4, 0, 0, 1, 12345, &l), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(l, &p, &n), ATTN_OK);
    const attn_param *w = find(p, n, "in_proj_weight");
    check_uniform(w->data, attn_param_numel(w), sqrt(6.0 / (double)(E + 3 * E)),
                  "in_proj_weight");
    const attn_param *o = find(p, n, "out_proj.weight");
    check_uniform(o->data, attn_param_numel(o), 1.0 / sqrt((double)E),
                  "out_proj.weight");
    const attn_param *b = find(p, n, "in_proj_bias");
    for (size_t i = 0; i < attn_param_numel(b); ++i)
        assert_true(b->data[i] == 0.0f);
    b = find(p, n, "out_proj.bias");
    for (size_t i = 0; i < attn_param_numel(b); ++i)
        assert_true(b->data[i] == 0.0f);
    attn_mha_destroy(l);

    /* Separate projections: Xavier over each one's own fan-in + fan-out. */
    const int64_t kdim = 40, vdim = 24;
    TU_CHECK_STATUS(attn_mha_create(E, 4, kdim, vdim, 1, 777, &l), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(l, &p, &n), ATTN_OK);
    w = find(p, n, "q_proj_weight");
    check_uniform(w->data, attn_param_numel(w), sqrt(6.0 / (double)(E + E)),
                  "q_proj_weight");
    w = find(p, n, "k_proj_weight");
    check_uniform(w->data, attn_param_numel(w),
                  sqrt(6.0 / (double)(E + kdim)), "k_proj_weight");
    w = find(p, n, "v_proj_weight");
    check_uniform(w->data, attn_param_numel(w),
                  sqrt(6.0 / (double)(E + vdim)), "v_proj_weight");
    o = find(p, n, "out_proj.weight");
    check_uniform(o->data, attn_param_numel(o), 1.0 / sqrt((double)E),
                  "out_proj.weight (separate)");
    b = find(p, n, "in_proj_bias");
    for (size_t i = 0; i < attn_param_numel(b); ++i)
        assert_true(b->data[i] == 0.0f);
    attn_mha_destroy(l);
}

/* Same seed: the same bits; another seed: other numbers. */
static void test_init_seed(void **state)
{
    (void)state;
    attn_mha *a = NULL, *b = NULL, *c = NULL;
    const attn_param *pa, *pb, *pc;
    size_t na, nb, nc;
    TU_CHECK_STATUS(attn_mha_create(12, 3, 6, 5, 1, 42, &a), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_create(12, 3, 6, 5, 1, 42, &b), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_create(12, 3, 6, 5, 1, 43, &c), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(a, &pa, &na), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(b, &pb, &nb), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_params(c, &pc, &nc), ATTN_OK);
    assert_true(na == nb && na == nc);
    for (size_t i = 0; i < na; ++i) {
        const size_t n = attn_param_numel(&pa[i]);
        assert_memory_equal(pa[i].data, pb[i].data, n * sizeof(float));
        if (pa[i].ndim == 1)
            continue; /* biases: zero whatever the seed */
        size_t same = 0;
        for (size_t e = 0; e < n; ++e)
            same += pa[i].data[e] == pc[i].data[e];
        if (same > n / 10)
            fail_msg("%s: seeds 42 and 43 share %zu of %zu values",
                     pa[i].name, same, n);
    }
    attn_mha_destroy(a);
    attn_mha_destroy(b);
    attn_mha_destroy(c);
}

/* ---- (f) errors ---------------------------------------------------------------- */

/* Byte snapshots of the buffers a failing call might write. */
typedef struct snap {
    const void *p[24];
    size_t n[24];
    unsigned char *copy[24];
    int count;
} snap;

static void snap_add(snap *s, const void *p, size_t bytes)
{
    s->p[s->count] = p;
    s->n[s->count] = bytes;
    s->copy[s->count] = tu_malloc(bytes, 1);
    memcpy(s->copy[s->count], p, bytes);
    ++s->count;
}

static void snap_check(snap *s, const char *what)
{
    for (int i = 0; i < s->count; ++i) {
        if (memcmp(s->p[i], s->copy[i], s->n[i]) != 0)
            fail_msg("%s: a failing call wrote to buffer %d", what, i);
        free(s->copy[i]);
    }
    s->count = 0;
}

/* Snapshots of out, weights, the input gradients and every parameter
 * gradient of m. */
static void snap_all(snap *s, const mha_run *m, const float *out,
                     const float *w, const float *dq, const float *dk)
{
    s->count = 0;
    snap_add(s, out, out_n(m) * sizeof(float));
    snap_add(s, w, weights_n(m) * sizeof(float));
    snap_add(s, dq, out_n(m) * sizeof(float));
    snap_add(s, dk, (size_t)(m->c.B * m->c.Tk * m->kdim) * sizeof(float));
    for (size_t t = 0; t < m->np; ++t)
        snap_add(s, m->params[t].grad,
                 attn_param_numel(&m->params[t]) * sizeof(float));
}

#define EXPECT(call, want, what)                                          \
    do {                                                                  \
        snap_all(&S, &m, out, w, dq, dk);                                 \
        TU_CHECK_STATUS(call, want);                                      \
        snap_check(&S, what);                                             \
    } while (0)

static void test_errors(void **state)
{
    (void)state;
    static char sentinel_object;
    attn_mha *const sentinel = (attn_mha *)(void *)&sentinel_object;
    attn_mha *l = sentinel; /* failing creates must leave it */
    TU_CHECK_STATUS(attn_mha_create(8, 2, 0, 0, 1, 1, NULL),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_mha_create(10, 3, 0, 0, 1, 1, &l),
                    ATTN_ERR_HEAD_MISMATCH);
    TU_CHECK_STATUS(attn_mha_create(12, 5, 6, 5, 0, 1, &l),
                    ATTN_ERR_HEAD_MISMATCH);
    TU_CHECK_STATUS(attn_mha_create(0, 1, 0, 0, 1, 1, &l),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_mha_create(8, 0, 0, 0, 1, 1, &l),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_mha_create(8, 2, -1, 0, 1, 1, &l),
                    ATTN_ERR_BAD_DIMENSION);
    assert_ptr_equal(l, sentinel);

    const attn_param *p = NULL;
    size_t count = 0;
    TU_CHECK_STATUS(attn_mha_params(NULL, &p, &count), ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_mha_zero_grad(NULL), ATTN_ERR_NULL_POINTER);
    attn_mha_destroy(NULL);
    attn_mha_state_destroy(NULL);

    mha_case c = cross_case(1);
    mha_run m;
    run_setup(&m, &c, 900);
    TU_CHECK_STATUS(attn_mha_params(m.layer, NULL, &count),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_mha_params(m.layer, &p, NULL),
                    ATTN_ERR_NULL_POINTER);
    attn_mha_state *st = NULL;
    TU_CHECK_STATUS(attn_mha_state_create(NULL, 2, 4, 6, &st),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_mha_state_create(m.layer, 2, 4, 6, NULL),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_mha_state_create(m.layer, 0, 4, 6, &st),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_mha_state_create(m.layer, 2, 4, -6, &st),
                    ATTN_ERR_BAD_DIMENSION);
    assert_null(st);

    snap S;
    memset(&S, 0, sizeof S);
    float *out = tu_malloc(out_n(&m), sizeof *out);
    float *w = tu_malloc(weights_n(&m), sizeof *w);
    float *dq = tu_malloc(out_n(&m), sizeof *dq);
    float *dk = tu_malloc((size_t)(c.B * c.Tk * m.kdim), sizeof *dk);
    float *dv = tu_malloc((size_t)(c.B * c.Tk * m.vdim), sizeof *dv);
    tu_fill_nan(out, out_n(&m));
    tu_fill_nan(w, weights_n(&m));
    memset(dq, 0, out_n(&m) * sizeof *dq);
    memset(dk, 0, (size_t)(c.B * c.Tk * m.kdim) * sizeof *dk);
    memset(dv, 0, (size_t)(c.B * c.Tk * m.vdim) * sizeof *dv);
    const attn_status NP = ATTN_ERR_NULL_POINTER, BA = ATTN_ERR_BAD_ARGUMENT,
                      AL = ATTN_ERR_ALIASING;

    /* Backward before any forward. */
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value, m.dout,
                             dq, dk, dv),
           BA, "backward before forward");

    /* Forward: NULL arguments. */
    EXPECT(attn_mha_forward(NULL, m.st, NULL, m.query, m.key, m.value, out, w,
                            0), NP, "NULL layer");
    EXPECT(attn_mha_forward(m.layer, NULL, NULL, m.query, m.key, m.value, out,
                            w, 0), NP, "NULL state");
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, NULL, m.key, m.value, out, w,
                            0), NP, "NULL query");
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, m.query, NULL, m.value, out,
                            w, 0), NP, "NULL key");
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, m.query, m.key, NULL, out, w,
                            0), NP, "NULL value");
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, m.query, m.key, m.value,
                            NULL, w, 0), NP, "NULL out");
    /* out aliasing query or key; weights aliasing out. */
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, m.query, m.key, m.value,
                            m.query, w, 0), AL, "out = query");
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, m.query, m.key, m.value,
                            (float *)m.key + 3, w, 0), AL, "out over key");
    EXPECT(attn_mha_forward(m.layer, m.st, NULL, m.query, m.key, m.value, out,
                            out + 5, 0), AL, "weights over out");
    /* A mask the descriptor rejects. */
    attn_mha_options bad;
    TU_CHECK_STATUS(attn_mha_options_init(&bad, c.Tk), ATTN_OK);
    int64_t lens[2] = {6, 7};
    bad.kv_lens = lens;
    EXPECT(attn_mha_forward(m.layer, m.st, &bad, m.query, m.key, m.value, out,
                            w, 0), ATTN_ERR_BAD_KV_LEN, "kv_lens > Tk");
    bad.kv_lens = NULL;
    bad.causal = (attn_causal)7;
    EXPECT(attn_mha_forward(m.layer, m.st, &bad, m.query, m.key, m.value, out,
                            w, 0), ATTN_ERR_BAD_CAUSAL, "bad causal");

    /* A state made for a layer of another shape. */
    attn_mha *other = NULL;
    attn_mha_state *other_st = NULL;
    TU_CHECK_STATUS(attn_mha_create(12, 3, 6, 5, 1, 2, &other), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_state_create(other, c.B, c.Tq, c.Tk, &other_st),
                    ATTN_OK);
    EXPECT(attn_mha_forward(m.layer, other_st, NULL, m.query, m.key, m.value,
                            out, w, 0), BA, "state of a wider layer");
    attn_mha *other2 = NULL;
    attn_mha_state *other2_st = NULL;
    TU_CHECK_STATUS(attn_mha_create(8, 2, 6, 4, 1, 2, &other2), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_state_create(other2, c.B, c.Tq, c.Tk,
                                          &other2_st),
                    ATTN_OK);
    EXPECT(attn_mha_forward(m.layer, other2_st, NULL, m.query, m.key, m.value,
                            out, w, 0), BA, "state of another vdim");

    /* Now a valid forward, then backward errors. */
    lib_forward(&m, out, w, 0);
    EXPECT(attn_mha_backward(NULL, m.st, m.query, m.key, m.value, m.dout, dq,
                             dk, dv), NP, "NULL layer");
    EXPECT(attn_mha_backward(m.layer, NULL, m.query, m.key, m.value, m.dout,
                             dq, dk, dv), NP, "NULL state");
    EXPECT(attn_mha_backward(m.layer, m.st, NULL, m.key, m.value, m.dout, dq,
                             dk, dv), NP, "NULL query");
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, NULL, m.value, m.dout,
                             dq, dk, dv), NP, "NULL key");
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, m.key, NULL, m.dout, dq,
                             dk, dv), NP, "NULL value");
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value, NULL,
                             dq, dk, dv), NP, "NULL dout");
    EXPECT(attn_mha_backward(m.layer, other_st, m.query, m.key, m.value,
                             m.dout, dq, dk, dv), BA, "state of another layer");
    /* The other layer's state never saw a forward of its own either. */
    EXPECT(attn_mha_backward(other, other_st, m.query, m.key, m.value, m.dout,
                             NULL, NULL, NULL), BA, "other: no forward");
    /* dquery aliasing dout; dkey aliasing key; dvalue over query. */
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value, m.dout,
                             m.dout, dk, dv), AL, "dquery = dout");
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value, m.dout,
                             dq, (float *)m.key + 1, dv), AL, "dkey over key");
    EXPECT(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value, m.dout,
                             dq, dk, m.query), AL, "dvalue over query");
    /* And the forward's state still works after all that. */
    TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                      m.dout, dq, dk, dv),
                    ATTN_OK);

    attn_mha_state_destroy(other_st);
    attn_mha_destroy(other);
    attn_mha_state_destroy(other2_st);
    attn_mha_destroy(other2);
    free(out);
    free(w);
    free(dq);
    free(dk);
    free(dv);
    run_free(&m);
}

/* Every byte a layer call can reach: the parameters, their gradients, the
 * masks and the caller's buffers. */
typedef struct layer_bytes {
    snap s;
} layer_bytes;

static void layer_bytes_take(layer_bytes *b, const mha_run *m,
                             const float *out, const float *w,
                             const float *dq)
{
    b->s.count = 0;
    snap_add(&b->s, out, out_n(m) * sizeof(float));
    snap_add(&b->s, w, weights_n(m) * sizeof(float));
    snap_add(&b->s, dq, out_n(m) * sizeof(float));
    snap_add(&b->s, m->keep, (size_t)(m->c.B * m->c.H * m->c.Tq * m->c.Tk));
    snap_add(&b->s, m->mbias,
             (size_t)(m->c.B * m->c.H * m->c.Tq * m->c.Tk) * sizeof(float));
    for (size_t t = 0; t < m->np; ++t) {
        const size_t n = attn_param_numel(&m->params[t]) * sizeof(float);
        snap_add(&b->s, m->params[t].data, n);
        snap_add(&b->s, m->params[t].grad, n);
    }
}

#define EXPECT_UNTOUCHED(call, want, what)                                \
    do {                                                                  \
        layer_bytes b_;                                                   \
        layer_bytes_take(&b_, &m, out, w, dq);                            \
        TU_CHECK_STATUS(call, want);                                      \
        snap_check(&b_.s, what);                                          \
    } while (0)

/* Layer outputs over the layer's own tensors or the call's masks are
 * refused before anything is written: parameters, gradients, masks and
 * outputs keep every byte. */
static void test_outputs_over_layer_tensors(void **state)
{
    (void)state;
    mha_case c;
    memset(&c, 0, sizeof c);
    c.E = 8;
    c.H = 2;
    c.bias = 1;
    c.B = 2;
    c.Tq = 4;
    c.Tk = 6;
    c.lens = L_SHORT;
    c.keep = M_FULL;
    c.mbias = M_FULL;
    mha_run m;
    run_setup(&m, &c, 901);
    const int64_t E = c.E;
    float *out = tu_malloc(out_n(&m), sizeof *out);
    float *w = tu_malloc(weights_n(&m), sizeof *w);
    float *dq = calloc(out_n(&m), sizeof *dq);
    assert_non_null(dq);
    tu_fill_nan(out, out_n(&m));
    tu_fill_nan(w, weights_n(&m));
    const attn_param *in_proj = &m.params[0], *out_w = &m.params[2];
    assert_string_equal(in_proj->name, "in_proj_weight");
    assert_string_equal(out_w->name, "out_proj.weight");
    const attn_mha_options *o = masks_of(&m);
    const attn_status AL = ATTN_ERR_ALIASING;

    /* Forward outputs over parameters, gradients and masks. */
    EXPECT_UNTOUCHED(attn_mha_forward(m.layer, m.st, o, m.query, m.key, m.value,
                                      in_proj->data, w, 0),
                     AL, "out = in_proj_weight");
    EXPECT_UNTOUCHED(attn_mha_forward(m.layer, m.st, o, m.query, m.key, m.value,
                                      out, out_w->data, 0),
                     AL, "weights = out_proj.weight");
    EXPECT_UNTOUCHED(attn_mha_forward(m.layer, m.st, o, m.query, m.key, m.value,
                                      out_w->grad + 3, NULL, 0),
                     AL, "out over out_proj.weight's gradient");
    EXPECT_UNTOUCHED(attn_mha_forward(m.layer, m.st, o, m.query, m.key, m.value,
                                      m.mbias + 5, NULL, 0),
                     AL, "out over the bias mask");
    EXPECT_UNTOUCHED(attn_mha_forward(m.layer, m.st, o, m.query, m.key, m.value,
                                      out, (float *)(void *)m.keep, 1),
                     AL, "averaged weights over the keep mask");
    EXPECT_UNTOUCHED(attn_mha_forward(m.layer, m.st, o, m.query, m.key, m.value,
                                      out, (float *)(void *)m.lens, 0),
                     AL, "weights over kv_lens");

    /* A valid forward, then backward outputs over the layer's tensors:
     * the Wq, Wk rows of in_proj_weight's gradient, out_proj.weight's
     * gradient (written first), and inputs over the gradients. */
    lib_forward(&m, out, w, 0);
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                       m.dout, in_proj->grad, NULL, NULL),
                     AL, "dquery = the Wq rows' gradient");
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                       m.dout, in_proj->grad + E * E, NULL, NULL),
                     AL, "dquery = the Wk rows' gradient");
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                       m.dout, NULL, out_w->grad, NULL),
                     AL, "dkey = out_proj.weight's gradient");
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                       m.dout, NULL, NULL, in_proj->data + 2),
                     AL, "dvalue over in_proj_weight");
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                       m.dout, m.mbias, NULL, NULL),
                     AL, "dquery = the bias mask");
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                       out_w->grad, dq, NULL, NULL),
                     AL, "dout = out_proj.weight's gradient");
    EXPECT_UNTOUCHED(attn_mha_backward(m.layer, m.st, in_proj->grad, m.key,
                                       m.value, m.dout, dq, NULL, NULL),
                     AL, "query = in_proj_weight's gradient");

    /* A state whose forward ran on another layer of the same shape. */
    attn_mha *twin;
    TU_CHECK_STATUS(attn_mha_create(E, c.H, 0, 0, 1, 902, &twin), ATTN_OK);
    const attn_param *tp;
    size_t tn;
    TU_CHECK_STATUS(attn_mha_params(twin, &tp, &tn), ATTN_OK);
    float *twin_grad0 = tu_malloc(attn_param_numel(&tp[0]), sizeof(float));
    memcpy(twin_grad0, tp[0].grad, attn_param_numel(&tp[0]) * sizeof(float));
    EXPECT_UNTOUCHED(attn_mha_backward(twin, m.st, m.query, m.key, m.value,
                                       m.dout, dq, NULL, NULL),
                     ATTN_ERR_BAD_ARGUMENT, "backward on another layer");
    assert_memory_equal(twin_grad0, tp[0].grad,
                        attn_param_numel(&tp[0]) * sizeof(float));
    /* ... and the forward's own layer still takes it. */
    TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key, m.value,
                                      m.dout, dq, NULL, NULL),
                    ATTN_OK);
    free(twin_grad0);
    attn_mha_destroy(twin);
    free(out);
    free(w);
    free(dq);
    run_free(&m);
}

/* The options speak the descriptor's language: threads and algorithm are
 * honoured (same results on every path and thread count), strides are the
 * descriptor's (all zero: one mask row for every query), and a bad options
 * struct or value is refused. */
static void test_options(void **state)
{
    (void)state;
    mha_case c = cross_case(1);
    c.keep = M_BCAST;
    mha_run m;
    run_setup(&m, &c, 903);
    /* One keep row, broadcast over batches, heads and queries. */
    m.masks.keep_strides = tu_strides(0, 0, 0);
    for (int64_t j = 0; j < c.Tk; ++j)
        m.keep[j] = (uint8_t)(j % 3 != 1);
    const size_t no = out_n(&m);
    double *r_out = tu_malloc(no, sizeof *r_out);
    ref_forward(&m, r_out, NULL);
    float *out = tu_malloc(no, sizeof *out);
    static const attn_algo algos[] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED,
                                      ATTN_ALGO_MATERIALIZED};
    static const int threads[] = {0, 1, 3};
    for (size_t a = 0; a < N_OF(algos); ++a)
        for (size_t t = 0; t < N_OF(threads); ++t) {
            m.masks.algo = algos[a];
            m.masks.num_threads = threads[t];
            tu_fill_nan(out, no);
            lib_forward(&m, out, NULL, 0);
            TU_CHECK_REL(tu_rel_err(out, rows_of(c.E), 1, 1, c.B * c.Tq, c.E,
                                    r_out),
                         "options", "out");
            TU_CHECK_STATUS(attn_mha_backward(m.layer, m.st, m.query, m.key,
                                              m.value, m.dout, NULL, NULL,
                                              NULL),
                            ATTN_OK);
        }

    attn_mha_options o = m.masks;
    o.num_threads = -1;
    TU_CHECK_STATUS(attn_mha_forward(m.layer, m.st, &o, m.query, m.key,
                                     m.value, out, NULL, 0),
                    ATTN_ERR_BAD_ARGUMENT);
    o = m.masks;
    o.algo = (attn_algo)9;
    TU_CHECK_STATUS(attn_mha_forward(m.layer, m.st, &o, m.query, m.key,
                                     m.value, out, NULL, 0),
                    ATTN_ERR_BAD_ARGUMENT);
    o = m.masks;
    o.struct_size = 3;
    TU_CHECK_STATUS(attn_mha_forward(m.layer, m.st, &o, m.query, m.key,
                                     m.value, out, NULL, 0),
                    ATTN_ERR_BAD_DESC);
    o.struct_size = sizeof o + 8; /* from a newer header */
    TU_CHECK_STATUS(attn_mha_forward(m.layer, m.st, &o, m.query, m.key,
                                     m.value, out, NULL, 0),
                    ATTN_ERR_BAD_DESC);
    TU_CHECK_STATUS(attn_mha_options_init_sized(&o, 4, c.Tk), ATTN_ERR_BAD_DESC);
    TU_CHECK_STATUS(attn_mha_options_init_sized(NULL, sizeof o, c.Tk),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_mha_options_init(&o, c.Tk), ATTN_OK);
    assert_true(o.keep_strides.row == c.Tk && o.keep_strides.head == 0 &&
                o.bias_strides.row == c.Tk && o.bias_strides.batch == 0 &&
                o.num_threads == 0 && o.algo == ATTN_ALGO_AUTO &&
                o.causal == ATTN_CAUSAL_NONE && o.kv_lens == NULL);
    free(r_out);
    free(out);
    run_free(&m);
}

/* PyTorch's boolean key padding mask as lengths. */
static void test_key_padding_lengths(void **state)
{
    (void)state;
    /* Rows of 5 keys in a stride of 6 (the sixth byte is not read). */
    const uint8_t pad[4 * 6] = {0, 0, 0, 1, 1, 7,   /* 3 */
                                0, 0, 0, 0, 0, 7,   /* 5: no padding */
                                1, 1, 1, 1, 1, 7,   /* 0: all padding */
                                0, 2, 9, 1, 1, 0};  /* 1: any nonzero pads */
    int64_t lens[4] = {-1, -1, -1, -1};
    TU_CHECK_STATUS(attn_key_padding_lengths(pad, 4, 5, 6, lens), ATTN_OK);
    assert_true(lens[0] == 3 && lens[1] == 5 && lens[2] == 0 && lens[3] == 1);

    /* Not a padding pattern: nothing written. */
    const uint8_t holes[2 * 5] = {0, 0, 0, 0, 0,   0, 1, 0, 1, 1};
    int64_t keep[2] = {42, 43};
    TU_CHECK_STATUS(attn_key_padding_lengths(holes, 2, 5, 5, keep),
                    ATTN_ERR_BAD_ARGUMENT);
    assert_true(keep[0] == 42 && keep[1] == 43);
    TU_CHECK_STATUS(attn_key_padding_lengths(holes, 2, 5, 4, keep),
                    ATTN_ERR_BAD_STRIDE);
    TU_CHECK_STATUS(attn_key_padding_lengths(holes, 0, 5, 5, keep),
                    ATTN_ERR_BAD_DIMENSION);
    TU_CHECK_STATUS(attn_key_padding_lengths(NULL, 2, 5, 5, keep),
                    ATTN_ERR_NULL_POINTER);
    int64_t buf[8] = {0};
    TU_CHECK_STATUS(attn_key_padding_lengths((const uint8_t *)(void *)buf, 2,
                                             5, 5, buf + 1),
                    ATTN_ERR_ALIASING);
    assert_true(keep[0] == 42 && keep[1] == 43);
}

static void test_report(void **state)
{
    (void)state;
    print_message("largest layer gradient errors against finite differences"
                  " (tolerance %g): parameters %.3g, inputs %.3g\n",
                  ATTN_TEST_LAYER_GRAD_TOL, max_err_params, max_err_inputs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_self),
        cmocka_unit_test(test_forward_cross),
        cmocka_unit_test(test_gradients_self),
        cmocka_unit_test(test_gradients_cross),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_gradients_fully_masked),
        cmocka_unit_test(test_accumulate_and_zero_grad),
        cmocka_unit_test(test_param_names),
        cmocka_unit_test(test_init_distribution),
        cmocka_unit_test(test_init_seed),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_outputs_over_layer_tensors),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_key_padding_lengths),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests_name("multi-head attention layer", tests,
                                       NULL, NULL);
}
