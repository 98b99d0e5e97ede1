/*
 * libFuzzer harness for the multi-head attention layer (mha.h): small
 * layers (E <= 32, kdim/vdim != E, with or without bias, self- or
 * cross-attention) with parameters taken from the fuzz bytes and every
 * mask kind. The forward must be finite and match the double reference
 * (tests/grad_reference.c); the backward must be finite and its gradients
 * must agree with a central difference of the reference along a random
 * direction in (parameters, inputs).
 *
 * Bytes: 0 H-1, 1 dh-1, 2 kdim (0: E, else 1 + n % 9), 3 vdim (same),
 *   4 flags (1 bias, 2 self-attention, 4 kv_lens, 8 keep_mask, 16 mask
 *   bias, 32 weights out, 64 averaged weights, 128 backward),
 *   5 B-1, 6 Tq-1, 7 Tk-1, 8 causal (mod 3; bits 2-5 the variants: 4
 *   window, 8 ALiBi, 16 softcap, 32 the "sinks" parameter, their values
 *   from the seed stream), 9 mask strides (keep low
 *   nibble, bias high), 10 keep density, 11..12 kv_lens, 13..20 data seed,
 *   then parameter values (one signed byte each, the seed stream after).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/mha.h>

#include "fuzz_check.h"
#include "fuzz_input.h"
#include "grad_reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TOL 1e-4

typedef struct dims {
    int64_t E, H, kdim, vdim, B, Tq, Tk;
} dims;

/* Strides over (B, H, Tq, Tk) for a layer mask: 0 all zero (one matrix),
 * 1 full, 2 per batch, 3 per head. */
static attn_strides mask_strides(unsigned mode, const dims *m)
{
    attn_strides s = {0, 0, m->Tk}; /* one (Tq, Tk) matrix */
    const int64_t n = m->Tq * m->Tk;
    switch (mode % 5) {
    case 1: s.head = n; s.batch = m->H * n; break;
    case 2: s.batch = n; break;
    case 3: s.head = n; break;
    case 4: s.row = 0; break; /* one row for every query */
    default: break;
    }
    return s;
}

static size_t mask_span(attn_strides s, const dims *m)
{
    return (size_t)((m->B - 1) * s.batch + (m->H - 1) * s.head +
                    (m->Tq - 1) * s.row + m->Tk);
}

static double *doubles(const float *x, size_t n)
{
    double *y = gr_to_double(x, n);
    FUZZ_REQUIRE(y != NULL);
    return y;
}

/* The layer's parameters in double; wq/wk/wv point into in_proj when
 * packed. Filled from the list (unpacked again after a perturbation). */
typedef struct dparams {
    gr_mha m;
    double *all[8];
    size_t n[8];
    size_t count;
} dparams;

static void unpack(const attn_param *p, size_t count, const dims *dm,
                   dparams *dp, const double *const *vals)
{
    gr_mha *m = &dp->m;
    memset(m, 0, sizeof *m);
    m->E = dm->E; m->H = dm->H; m->kdim = dm->kdim; m->vdim = dm->vdim;
    const size_t EE = (size_t)(dm->E * dm->E);
    for (size_t i = 0; i < count; ++i) {
        double *x = (double *)vals[i];
        const char *name = p[i].name;
        if (!strcmp(name, "in_proj_weight")) {
            m->wq = x; m->wk = x + EE; m->wv = x + 2 * EE;
        } else if (!strcmp(name, "in_proj_bias")) {
            m->bq = x; m->bk = x + dm->E; m->bv = x + 2 * dm->E;
        } else if (!strcmp(name, "q_proj_weight")) {
            m->wq = x;
        } else if (!strcmp(name, "k_proj_weight")) {
            m->wk = x;
        } else if (!strcmp(name, "v_proj_weight")) {
            m->wv = x;
        } else if (!strcmp(name, "out_proj.weight")) {
            m->wo = x;
        } else if (!strcmp(name, "out_proj.bias")) {
            m->bo = x;
        } else if (!strcmp(name, "sinks")) {
            m->sinks = x;
        } else {
            fuzz_fail(name, __FILE__, __LINE__); /* undocumented name */
        }
    }
    FUZZ_REQUIRE(m->wq && m->wk && m->wv && m->wo);
}

/* sum(out * g) of the reference with every value (parameters, inputs)
 * moved by t * direction. */
static double ref_loss(const attn_param *p, size_t count, const dims *dm,
                       const attn_mha_options *masks, double *const *pv,
                       double *const *pdir, double *const in[3],
                       double *const indir[3], const size_t in_n[3],
                       int self, const float *g, double t)
{
    double *vals[8], *x[3];
    for (size_t i = 0; i < count; ++i) {
        const size_t n = attn_param_numel(&p[i]);
        vals[i] = malloc(n * sizeof(double));
        FUZZ_REQUIRE(vals[i] != NULL);
        for (size_t j = 0; j < n; ++j)
            vals[i][j] = pv[i][j] + t * pdir[i][j];
    }
    for (int a = 0; a < 3; ++a) {
        x[a] = malloc(in_n[a] * sizeof(double));
        FUZZ_REQUIRE(x[a] != NULL);
        for (size_t j = 0; j < in_n[a]; ++j)
            x[a][j] = in[a][j] + t * indir[a][j];
    }
    dparams dp;
    unpack(p, count, dm, &dp, (const double *const *)vals);
    const size_t no = (size_t)(dm->B * dm->Tq * dm->E);
    double *out = malloc(no * sizeof *out);
    FUZZ_REQUIRE(out != NULL);
    gr_mha_forward(&dp.m, masks, dm->B, dm->Tq, dm->Tk, x[0],
                   self ? x[0] : x[1], self ? x[0] : x[2], out, NULL);
    double L = 0.0;
    for (size_t i = 0; i < no; ++i)
        L += out[i] * g[i];
    free(out);
    for (size_t i = 0; i < count; ++i)
        free(vals[i]);
    for (int a = 0; a < 3; ++a)
        free(x[a]);
    return L;
}

static void require_close(const char *what, double err)
{
    if (fuzz_verbose())
        fprintf(stderr, "mha %-16s %.3g\n", what, err);
    FUZZ_REQUIRE(err <= TOL);
}

static float *values(size_t n, fuzz_rng *r, float bound)
{
    float *x = malloc(n * sizeof *x);
    FUZZ_REQUIRE(x != NULL);
    for (size_t i = 0; i < n; ++i)
        x[i] = fr_value(r, bound);
    return x;
}

static int finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in;
    fi_init(&in, data, size);
    dims dm;
    dm.H = fi_range(&in, 1, 4);
    dm.E = dm.H * fi_range(&in, 1, 8);
    const unsigned kc = fi_u8(&in), vc = fi_u8(&in), flags = fi_u8(&in);
    dm.kdim = kc ? 1 + kc % 9 : dm.E;
    dm.vdim = vc ? 1 + vc % 9 : dm.E;
    dm.B = fi_range(&in, 1, 2);
    dm.Tq = fi_range(&in, 1, 12);
    dm.Tk = fi_range(&in, 1, 12);
    const int self = (flags & 2) != 0;
    if (self) {
        dm.kdim = dm.vdim = dm.E;
        dm.Tk = dm.Tq;
    }
    attn_mha_options masks;
    attn_mha_options_init(&masks, dm.Tk);
    const unsigned causal = fi_u8(&in);
    masks.causal = (attn_causal)(causal % 3);
    const unsigned modes = fi_u8(&in), density = fi_u8(&in);
    int64_t kv_lens[2] = {fi_range(&in, 0, dm.Tk), fi_range(&in, 0, dm.Tk)};
    fuzz_rng rng = {fi_u64(&in)};

    attn_mha *layer = NULL;
    attn_mha_state *state = NULL;
    const unsigned layer_flags = (flags & 1 ? ATTN_MHA_BIAS : 0u) |
                                 (causal & 32 ? ATTN_MHA_SINKS : 0u);
    FUZZ_REQUIRE(attn_mha_create_flags(dm.E, dm.H,
                                       dm.kdim == dm.E ? 0 : dm.kdim,
                                       dm.vdim == dm.E ? 0 : dm.vdim,
                                       layer_flags, fr_next(&rng),
                                       &layer) == ATTN_OK);
    float slopes[4];
    if (causal & 4) {
        masks.window_left = (int64_t)(fr_next(&rng) % (uint64_t)(dm.Tk + 1)) - 1;
        masks.window_right = (int64_t)(fr_next(&rng) % (uint64_t)(dm.Tk + 1)) - 1;
    }
    if (causal & 8) {
        for (int64_t h = 0; h < dm.H; ++h)
            slopes[h] = (float)(fr_next(&rng) % 64) / 64.0f;
        masks.alibi_slopes = slopes;
    }
    if (causal & 16)
        masks.softcap = 0.25f * (float)(1 + fr_next(&rng) % 16);
    FUZZ_REQUIRE(attn_mha_state_create(layer, dm.B, dm.Tq, dm.Tk, &state) ==
                 ATTN_OK);
    const attn_param *p;
    size_t count;
    FUZZ_REQUIRE(attn_mha_params(layer, &p, &count) == ATTN_OK);
    FUZZ_REQUIRE(count <= 8);
    /* Parameters from the input bytes: weights within +-1/sqrt(E) keep
     * the scores of modest size (comparable in float), biases +-1/2. */
    for (size_t i = 0; i < count; ++i) {
        const size_t n = attn_param_numel(&p[i]);
        const float bound = p[i].ndim == 1 ? 0.5f : 1.0f / sqrtf((float)dm.E);
        for (size_t j = 0; j < n; ++j) {
            const int8_t b = fi_left(&in) ? (int8_t)fi_u8(&in)
                                          : (int8_t)fr_next(&rng);
            p[i].data[j] = bound * (float)b / 128.0f;
        }
    }

    uint8_t *keep = NULL;
    float *bias = NULL;
    if (flags & 4)
        masks.kv_lens = kv_lens;
    if (flags & 8) {
        masks.keep_strides = mask_strides(modes, &dm);
        const size_t n = mask_span(masks.keep_strides, &dm);
        keep = malloc(n);
        FUZZ_REQUIRE(keep != NULL);
        for (size_t i = 0; i < n; ++i)
            keep[i] = (uint8_t)fr_chance(&rng, density);
        masks.keep_mask = keep;
    }
    if (flags & 16) {
        masks.bias_strides = mask_strides(modes >> 4, &dm);
        const size_t n = mask_span(masks.bias_strides, &dm);
        bias = values(n, &rng, 1.0f);
        for (size_t i = 0; i < n; ++i)
            if (fr_chance(&rng, density / 8))
                bias[i] = -INFINITY;
        masks.bias = bias;
    }

    const size_t nq = (size_t)(dm.B * dm.Tq * dm.E);
    const size_t nk = (size_t)(dm.B * dm.Tk * dm.kdim);
    const size_t nv = (size_t)(dm.B * dm.Tk * dm.vdim);
    float *query = values(nq, &rng, 1.0f);
    float *key = self ? query : values(nk, &rng, 1.0f);
    float *value = self ? query : values(nv, &rng, 1.0f);
    float *out = malloc(nq * sizeof *out);
    const int average = (flags & 64) != 0;
    const size_t nw = (size_t)(dm.B * dm.Tq * dm.Tk) * (average ? 1 : (size_t)dm.H);
    float *w = (flags & 32) ? malloc(nw * sizeof *w) : NULL;
    FUZZ_REQUIRE(out != NULL);

    FUZZ_REQUIRE(attn_mha_forward(layer, state, &masks, query, key, value, out,
                                  w, average) == ATTN_OK);
    FUZZ_REQUIRE(finite(out, nq));
    if (w)
        FUZZ_REQUIRE(finite(w, nw));

    /* Against the double reference. */
    double *pv[8], *x[3];
    for (size_t i = 0; i < count; ++i)
        pv[i] = doubles(p[i].data, attn_param_numel(&p[i]));
    const size_t in_n[3] = {nq, nk, nv};
    x[0] = doubles(query, nq);
    x[1] = doubles(key, nk);
    x[2] = doubles(value, nv);
    dparams dp;
    unpack(p, count, &dm, &dp, (const double *const *)pv);
    double *r_out = malloc(nq * sizeof *r_out);
    const size_t nwh = (size_t)(dm.B * dm.H * dm.Tq * dm.Tk);
    double *r_w = malloc(nwh * sizeof *r_w);
    FUZZ_REQUIRE(r_out && r_w);
    gr_mha_forward(&dp.m, &masks, dm.B, dm.Tq, dm.Tk, x[0], x[1], x[2], r_out,
                   r_w);
    if (average) { /* mean over heads, into the first B*Tq*Tk entries */
        const size_t n = (size_t)(dm.Tq * dm.Tk);
        for (int64_t b = 0; b < dm.B; ++b)
            for (size_t i = 0; i < n; ++i) {
                double s = 0.0;
                for (int64_t h = 0; h < dm.H; ++h)
                    s += r_w[(size_t)(b * dm.H + h) * n + i];
                r_w[(size_t)b * n + i] = s / (double)dm.H;
            }
    }
    double max_out = 0.0;
    for (size_t i = 0; i < nq; ++i)
        max_out = fmax(max_out, fabs(r_out[i]));
    require_close("out/ref", fz_rel_err_ref(out, fz_dense(1, 1, 1, (int64_t)nq),
                                            r_out, max_out + 1e-2));
    if (w)
        require_close("weights/ref",
                      fz_rel_err_ref(w, fz_dense(1, 1, 1, (int64_t)nw), r_w, 1.0));

    if (flags & 128) {
        float *g = values(nq, &rng, 1.0f);
        float *dx[3];
        dx[0] = calloc(nq, sizeof(float));
        dx[1] = self ? dx[0] : calloc(nk, sizeof(float));
        dx[2] = self ? dx[0] : calloc(nv, sizeof(float));
        FUZZ_REQUIRE(dx[0] && dx[1] && dx[2]);
        FUZZ_REQUIRE(attn_mha_zero_grad(layer) == ATTN_OK);
        FUZZ_REQUIRE(attn_mha_backward(layer, state, query, key, value, g,
                                       dx[0], dx[1], dx[2]) == ATTN_OK);
        /* The directional derivative: library gradients against the
         * reference's central difference along a random direction. */
        double *pdir[8], *indir[3];
        double lib = 0.0, mag = 0.0;
        for (size_t i = 0; i < count; ++i) {
            const size_t n = attn_param_numel(&p[i]);
            FUZZ_REQUIRE(p[i].grad != NULL && finite(p[i].grad, n));
            pdir[i] = malloc(n * sizeof(double));
            FUZZ_REQUIRE(pdir[i] != NULL);
            for (size_t j = 0; j < n; ++j) {
                pdir[i][j] = fr_value(&rng, 1.0f);
                lib += p[i].grad[j] * pdir[i][j];
                mag += fabs(p[i].grad[j] * pdir[i][j]);
            }
        }
        for (int a = 0; a < 3; ++a) {
            FUZZ_REQUIRE(finite(dx[a], in_n[a]));
            indir[a] = calloc(in_n[a], sizeof(double));
            FUZZ_REQUIRE(indir[a] != NULL);
            if (self && a > 0)
                continue; /* one input, one gradient buffer */
            for (size_t j = 0; j < in_n[a]; ++j) {
                indir[a][j] = fr_value(&rng, 1.0f);
                lib += dx[a][j] * indir[a][j];
                mag += fabs(dx[a][j] * indir[a][j]);
            }
        }
        const double h = 1e-5;
        const double fd =
            (ref_loss(p, count, &dm, &masks, pv, pdir, x, indir, in_n, self, g, h) -
             ref_loss(p, count, &dm, &masks, pv, pdir, x, indir, in_n, self, g, -h)) /
            (2 * h);
        require_close("directional", fabs(lib - fd) / (mag + 1e-2));
        for (size_t i = 0; i < count; ++i)
            free(pdir[i]);
        for (int a = 0; a < 3; ++a)
            free(indir[a]);
        free(g);
        free(dx[0]);
        if (!self) {
            free(dx[1]);
            free(dx[2]);
        }
    }

    free(r_out);
    free(r_w);
    for (size_t i = 0; i < count; ++i)
        free(pv[i]);
    for (int a = 0; a < 3; ++a)
        free(x[a]);
    free(w);
    free(out);
    if (!self) {
        free(key);
        free(value);
    }
    free(query);
    free(keep);
    free(bias);
    attn_mha_state_destroy(state);
    attn_mha_destroy(layer);
    return 0;
}
