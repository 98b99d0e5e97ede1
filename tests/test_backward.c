/*
 * attn_sdpa_backward, attn_sdpa_backward_ws, attn_sdpa_backward_workspace_size
 * (include/attention/sdpa_backward.h).
 *
 * Oracle: the loss L = sum(out * G) for a fixed random G, computed in double
 * by tests/grad_reference.c from the same (float) inputs, and its gradients
 * by central finite differences of that double function. The library is
 * given dout = G and must produce dq, dk, dv and dbias within
 * ATTN_TEST_GRAD_TOL of them (normwise relative error with a floor, see
 * tolerance.h), over odd sizes across the 64-row block, GQA/MQA, every
 * mask, strided layouts and fully masked rows. Also: the exact rules of
 * sdpa_backward.h (+=, NULL outputs, zeros for rows and batches that see
 * nothing, gaps of strided gradients untouched), the workspace contract
 * and the errors, each leaving every buffer as it was.
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

#include <attention/sdpa_backward.h>

#include "grad_reference.h"
#include "reference.h"
#include "testutil.h"

/* ---- cases ------------------------------------------------------------------ */

enum lens_kind { LENS_NONE, LENS_SHORT, LENS_ZERO };
enum keep_kind { KEEP_NONE, KEEP_BCAST, KEEP_FULL };
/* BIAS_NONE: no bias, dbias with the default (Tq, Tk) broadcast strides;
 * BIAS_NONE_FULL: no bias, dbias with full (B, Hq, Tq, Tk) strides. */
enum bias_kind { BIAS_NONE, BIAS_BCAST, BIAS_FULL, BIAS_NONE_FULL };

typedef struct bw_case {
    int64_t B, Hq, Hkv, Tq, Tk, d, dv;
    attn_causal causal;
    enum lens_kind lens;
    enum keep_kind keep;
    enum bias_kind bias;
    int strided;    /* (B, T, H, last) layouts with gaps, else contiguous */
    float scale;    /* 0: the default 1/sqrt(d) */
    const struct bw_variant *var; /* sdpa.h's variants, or NULL */
} bw_case;

/* The variants' fields of a case; slopes and sinks from the arrays below. */
typedef struct bw_variant {
    const char *name;
    int64_t window_left, window_right;
    int alibi;
    float softcap;
    int sinks;
} bw_variant;

static const float var_slopes[8] = {0.5f, 0.25f, 0.125f, 0.3f,
                                    0.05f, 0.7f, 0.2f, 0.4f};
static const float var_sinks[4] = {0.3f, -0.8f, 1.7f, 0.0f};

static const char *causal_name(attn_causal c)
{
    return c == ATTN_CAUSAL_TOP_LEFT ? "tl"
           : c == ATTN_CAUSAL_BOTTOM_RIGHT ? "br" : "none";
}

static void case_name(const bw_case *c, char *buf, size_t n)
{
    static const char *lens[] = {"-", "short", "zero"};
    static const char *keep[] = {"-", "bcast", "full"};
    static const char *bias[] = {"-", "bcast", "full", "-(full dbias)"};
    snprintf(buf, n,
             "B%lld Hq%lld Hkv%lld Tq%lld Tk%lld d%lld dv%lld causal %s "
             "kv_lens %s keep %s bias %s%s",
             (long long)c->B, (long long)c->Hq, (long long)c->Hkv,
             (long long)c->Tq, (long long)c->Tk, (long long)c->d,
             (long long)c->dv, causal_name(c->causal), lens[c->lens],
             keep[c->keep], bias[c->bias], c->strided ? " strided" : "");
    if (c->var) {
        const size_t used = strlen(buf);
        snprintf(buf + used, n - used, " %s", c->var->name);
    }
}

/* Largest gradient error seen, per tensor, printed at the end. */
static double max_err[4];
static const char *const grad_name[4] = {"dq", "dk", "dv", "dbias"};

/* ---- one problem: data, library gradients, reference gradients ---------- */

typedef struct bw {
    bw_case c;
    char name[200];
    tu_problem p;           /* q, k, v, out, lse and the masks */
    float *dout;            /* span of out_strides; gaps NaN */
    double *g;              /* G, (B, Hq, Tq, dv) contiguous */
    attn_strides dbias_s;   /* layout of dbias */
    size_t dbias_n;
    float *dq, *dk, *dv, *dbias;         /* the library's, spans */
    unsigned char *mq, *mk, *mv, *mbias; /* which span entries are elements */
    double *r_dq, *r_dk, *r_dv;          /* reference, contiguous */
    double *r_dbias;                     /* reference, span of dbias_s */
    double *r_lse;                       /* reference lse, (B, Hq, Tq) */
    double r_dsinks[4];                  /* reference dL/dsink, with sinks */
} bw;

static attn_strides padded(int64_t H, int64_t T, int64_t last)
{
    /* (B, T, H, last) with one spare float per row and two per batch. */
    return tu_strides(T * (H * last + 1) + 2, last, H * last + 1);
}

static void plant_nan_past_lens(bw *x)
{
    const attn_sdpa_desc *d = &x->p.d;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->kv_heads; ++h)
            for (int64_t j = d->kv_lens[b]; j < d->kv_len; ++j) {
                for (int64_t e = 0; e < d->head_dim; ++e)
                    x->p.k[tu_at(d->k_strides, b, h, j, e)] = NAN;
                for (int64_t e = 0; e < d->v_head_dim; ++e)
                    x->p.v[tu_at(d->v_strides, b, h, j, e)] = NAN;
            }
}

/* Sets up data and masks and runs the library forward (out, lse). */
static void bw_setup(bw *x, const bw_case *c, uint64_t seed)
{
    memset(x, 0, sizeof *x);
    x->c = *c;
    case_name(c, x->name, sizeof x->name);
    tu_rng rng = tu_rng_make(seed);
    tu_problem *p = &x->p;
    tu_problem_init(p, c->B, c->Hq, c->Hkv, c->Tq, c->Tk, c->d, c->dv);
    attn_sdpa_desc *d = &p->d;
    if (c->strided) {
        d->q_strides = padded(c->Hq, c->Tq, c->d);
        d->k_strides = padded(c->Hkv, c->Tk, c->d);
        d->v_strides = padded(c->Hkv, c->Tk, c->dv);
        d->out_strides = padded(c->Hq, c->Tq, c->dv);
    }
    if (c->scale != 0.0f)
        d->scale = c->scale;
    d->causal = c->causal;
    if (c->var) {
        assert_true(c->Hq <= 4 && c->B <= 2);
        d->window_left = c->var->window_left;
        d->window_right = c->var->window_right;
        d->alibi_slopes = c->var->alibi ? var_slopes : NULL;
        d->alibi_batch_stride = c->var->alibi ? c->Hq : 0;
        d->softcap = c->var->softcap;
        d->sinks = c->var->sinks ? var_sinks : NULL;
    }

    if (c->lens != LENS_NONE) {
        int64_t *lens = tu_problem_kv_lens(p);
        if (c->lens == LENS_SHORT) {
            lens[0] = (c->Tk + 1) / 2;
            for (int64_t b = 1; b < c->B; ++b)
                lens[b] = c->Tk > 1 ? c->Tk - 1 : 1;
        } else {
            lens[0] = 0; /* batch 0 sees nothing */
            for (int64_t b = 1; b < c->B; ++b)
                lens[b] = c->Tk - c->Tk / 4;
        }
    }
    if (c->keep != KEEP_NONE) {
        const attn_strides ks =
            c->keep == KEEP_BCAST
                ? tu_strides(0, 0, c->Tk)
                : tu_strides(c->Hq * c->Tq * (c->Tk + 1) + 3,
                             c->Tq * (c->Tk + 1), c->Tk + 1);
        uint8_t *keep = tu_problem_keep(p, ks, 75, &rng);
        /* A fully masked row: row Tq/2 everywhere, or one row of one head. */
        const int64_t b = c->keep == KEEP_BCAST ? 0 : c->B - 1;
        const int64_t h = c->keep == KEEP_BCAST ? 0 : c->Hq - 1;
        const int64_t i = c->keep == KEEP_BCAST ? c->Tq / 2 : 0;
        for (int64_t j = 0; j < c->Tk; ++j)
            keep[tu_at(ks, b, h, i, j)] = 0;
    }
    if (c->bias == BIAS_BCAST || c->bias == BIAS_FULL) {
        const attn_strides bs =
            c->bias == BIAS_BCAST
                ? tu_strides(0, 0, c->Tk)
                : tu_strides(c->Hq * c->Tq * (c->Tk + 2) + 1,
                             c->Tq * (c->Tk + 2), c->Tk + 2);
        float *bias = tu_problem_bias(p, bs, &rng);
        /* A -INFINITY bias masks its key; dbias must be 0 there. */
        if (c->Tk > 1)
            bias[tu_at(bs, 0, 0, c->Tq - 1, 0)] = -INFINITY;
    } else if (c->bias == BIAS_NONE_FULL) {
        d->bias_strides = tu_contig(c->Hq, c->Tq, c->Tk);
    }
    x->dbias_s = d->bias_strides;
    x->dbias_n = tu_span(c->B, c->Hq, c->Tq, c->Tk, x->dbias_s);

    tu_problem_data(p, &rng);
    if (c->lens != LENS_NONE)
        plant_nan_past_lens(x);

    x->dout = tu_malloc(p->out_n, sizeof *x->dout);
    tu_fill_tensor(x->dout, c->B, c->Hq, c->Tq, c->dv, d->out_strides, &rng,
                   -1.0, 1.0);
    x->g = tu_malloc((size_t)(c->B * c->Hq * c->Tq * c->dv), sizeof *x->g);
    for (int64_t b = 0, e = 0; b < c->B; ++b)
        for (int64_t h = 0; h < c->Hq; ++h)
            for (int64_t i = 0; i < c->Tq; ++i)
                for (int64_t f = 0; f < c->dv; ++f, ++e)
                    x->g[e] = (double)x->dout[tu_at(d->out_strides, b, h, i, f)];

    tu_fill_nan(p->out, p->out_n);
    tu_fill_nan(p->lse, p->lse_n);
    TU_CHECK_STATUS(attn_sdpa_forward(d, p->q, p->k, p->v, p->out, NULL,
                                      p->lse),
                    ATTN_OK);

    x->dq = tu_malloc(p->q_n, sizeof(float));
    x->dk = tu_malloc(p->k_n, sizeof(float));
    x->dv = tu_malloc(p->v_n, sizeof(float));
    x->dbias = tu_malloc(x->dbias_n, sizeof(float));
    x->mq = tu_malloc(p->q_n, 1);
    x->mk = tu_malloc(p->k_n, 1);
    x->mv = tu_malloc(p->v_n, 1);
    x->mbias = tu_malloc(x->dbias_n, 1);
    gr_mark(x->mq, p->q_n, c->B, c->Hq, c->Tq, c->d, d->q_strides);
    gr_mark(x->mk, p->k_n, c->B, c->Hkv, c->Tk, c->d, d->k_strides);
    gr_mark(x->mv, p->v_n, c->B, c->Hkv, c->Tk, c->dv, d->v_strides);
    gr_mark(x->mbias, x->dbias_n, c->B, c->Hq, c->Tq, c->Tk, x->dbias_s);
}

/* The reference gradients (finite differences in double) and lse; also
 * ties the gradient reference to reference.c: same out and lse. */
static void bw_reference(bw *x)
{
    const attn_sdpa_desc *d = &x->p.d;
    const bw_case *c = &x->c;
    double *q = gr_to_double(x->p.q, x->p.q_n);
    double *k = gr_to_double(x->p.k, x->p.k_n);
    double *v = gr_to_double(x->p.v, x->p.v_n);
    double *bias = d->bias ? gr_to_double(d->bias, x->dbias_n)
                           : calloc(x->dbias_n, sizeof *bias);
    assert_non_null(bias);
    gr_sdpa r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.q = q;
    r.k = k;
    r.v = v;
    r.bias = bias;
    r.g = x->g;

    const size_t out_n = (size_t)(c->B * c->Hq * c->Tq * c->dv);
    const size_t lse_n = (size_t)(c->B * c->Hq * c->Tq);
    double *out = tu_malloc(out_n, sizeof *out);
    double *out0 = tu_malloc(out_n, sizeof *out0);
    double *lse0 = tu_malloc(lse_n, sizeof *lse0);
    x->r_lse = tu_malloc(lse_n, sizeof *x->r_lse);
    gr_sdpa_forward(&r, out, NULL, x->r_lse);
    ref_sdpa(d, x->p.q, x->p.k, x->p.v, out0, NULL, lse0, NULL);
    for (size_t e = 0; e < out_n; ++e)
        if (!(fabs(out[e] - out0[e]) <= 1e-12))
            fail_msg("%s: gradient reference out[%zu] = %.17g differs from"
                     " reference.c's %.17g", x->name, e, out[e], out0[e]);
    for (size_t e = 0; e < lse_n; ++e)
        if (!(x->r_lse[e] == lse0[e] || fabs(x->r_lse[e] - lse0[e]) <= 1e-12))
            fail_msg("%s: gradient reference lse differs", x->name);
    free(lse0);
    free(out0);
    free(out);

    x->r_dq = tu_malloc((size_t)(c->B * c->Hq * c->Tq * c->d), sizeof(double));
    x->r_dk = tu_malloc((size_t)(c->B * c->Hkv * c->Tk * c->d), sizeof(double));
    x->r_dv = tu_malloc((size_t)(c->B * c->Hkv * c->Tk * c->dv), sizeof(double));
    x->r_dbias = tu_malloc(x->dbias_n, sizeof(double));
    gr_sdpa_fd(&r, ATTN_TEST_FD_STEP, x->r_dq, x->r_dk, x->r_dv, x->r_dbias);
    if (d->sinks) {
        double sinks[4];
        for (int64_t h = 0; h < c->Hq; ++h)
            sinks[h] = d->sinks[h];
        r.sinks = sinks;
        gr_sdpa_fd_sinks(&r, ATTN_TEST_FD_STEP, x->r_dsinks);
    }
    free(bias);
    free(v);
    free(k);
    free(q);
}

static void bw_free(bw *x)
{
    tu_problem_free(&x->p);
    free(x->dout);
    free(x->g);
    free(x->dq);
    free(x->dk);
    free(x->dv);
    free(x->dbias);
    free(x->mq);
    free(x->mk);
    free(x->mv);
    free(x->mbias);
    free(x->r_dq);
    free(x->r_dk);
    free(x->r_dv);
    free(x->r_dbias);
    free(x->r_lse);
    memset(x, 0, sizeof *x);
}

/* Tensor entries = value (or, with rng, U[-2, 2)), gaps = NaN. */
static void fill_grad(float *g, const unsigned char *mark, size_t n,
                      float value, tu_rng *rng)
{
    for (size_t e = 0; e < n; ++e)
        g[e] = !mark[e] ? NAN
               : rng    ? (float)tu_rng_uniform(rng, -2.0, 2.0)
                        : value;
}

static void bw_clear_grads(bw *x)
{
    fill_grad(x->dq, x->mq, x->p.q_n, 0.0f, NULL);
    fill_grad(x->dk, x->mk, x->p.k_n, 0.0f, NULL);
    fill_grad(x->dv, x->mv, x->p.v_n, 0.0f, NULL);
    fill_grad(x->dbias, x->mbias, x->dbias_n, 0.0f, NULL);
}

/* Bytes a backward may write beyond its workspace and still land in ours:
 * generous, so that an overrun shows as a failed check, not a crash. */
static size_t guard_bytes(const attn_sdpa_desc *d)
{
    return (size_t)(4 * 64 * d->kv_len) * sizeof(float) + 4096;
}

#define WS_FILL 0xFF    /* garbage in the workspace: NaN floats */
#define GUARD_FILL 0xA5

/*
 * attn_sdpa_backward_ws with a workspace of the queried size plus
 * size_delta bytes, at `misalign` bytes into a buffer whose other bytes
 * are a guard pattern. *overrun (if not NULL) gets the number of guard
 * bytes the call changed.
 */
static attn_status guarded_backward(const attn_sdpa_desc *d, const float *q,
                                    const float *k, const float *v,
                                    const float *out, const float *lse,
                                    const float *dout, float *dq, float *dk,
                                    float *dv, float *dbias, size_t misalign,
                                    long size_delta, size_t *overrun)
{
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(d, &bytes), ATTN_OK);
    assert_true(bytes > 0);
    const size_t given = (size_t)((long)bytes + size_delta);
    const size_t total = misalign + given + guard_bytes(d);
    unsigned char *buf = tu_malloc(total, 1);
    memset(buf, GUARD_FILL, total);
    memset(buf + misalign, WS_FILL, given);
    const attn_status s = attn_sdpa_backward_ws(d, q, k, v, out, lse, dout,
                                                dq, dk, dv, dbias,
                                                buf + misalign, given);
    size_t changed = 0, ws_changed = 0;
    for (size_t e = 0; e < total; ++e) {
        if (e < misalign || e >= misalign + given)
            changed += buf[e] != GUARD_FILL;
        else
            ws_changed += buf[e] != WS_FILL;
    }
    free(buf);
    if (s != ATTN_OK && ws_changed != 0)
        fail_msg("a failing backward (%s) wrote %zu workspace bytes",
                 attn_strerror(s), ws_changed);
    if (overrun)
        *overrun = changed;
    return s;
}

static attn_status call_ws(const bw *x, float *dq, float *dk, float *dv,
                           float *dbias, size_t misalign, long size_delta,
                           size_t *overrun)
{
    return guarded_backward(&x->p.d, x->p.q, x->p.k, x->p.v, x->p.out,
                            x->p.lse, x->dout, dq, dk, dv, dbias, misalign,
                            size_delta, overrun);
}

static void run_ws(bw *x)
{
    TU_CHECK_STATUS(call_ws(x, x->dq, x->dk, x->dv, x->dbias, 0, 0, NULL),
                    ATTN_OK);
}

static void check_gaps(const float *g, const unsigned char *mark, size_t n,
                       const char *what, const char *grad)
{
    for (size_t e = 0; e < n; ++e)
        if (!mark[e] && !isnan(g[e]))
            fail_msg("%s: %s: element %zu between rows was written (%g)",
                     what, grad, e, (double)g[e]);
}

static void check_grad(double err, double scale, int which,
                       const char *what)
{
    if (err > max_err[which] || isnan(err))
        max_err[which] = err;
    if (!(err <= ATTN_TEST_GRAD_TOL))
        fail_msg("%s: %s: error %g against finite differences > %g"
                 " (largest reference entry %g)", what, grad_name[which],
                 err, ATTN_TEST_GRAD_TOL, scale);
}

/* The library's gradients against the reference, but the `skip`th. */
static void check_grads(const bw *x, int skip, const char *what)
{
    const attn_sdpa_desc *d = &x->p.d;
    const bw_case *c = &x->c;
    const double F = ATTN_TEST_GRAD_FLOOR;
    double e, sc;
    if (skip != 0) {
        e = gr_rel_err(x->dq, d->q_strides, c->B, c->Hq, c->Tq, c->d, x->r_dq,
                       F, &sc);
        check_grad(e, sc, 0, what);
    }
    if (skip != 1) {
        e = gr_rel_err(x->dk, d->k_strides, c->B, c->Hkv, c->Tk, c->d,
                       x->r_dk, F, &sc);
        check_grad(e, sc, 1, what);
    }
    if (skip != 2) {
        e = gr_rel_err(x->dv, d->v_strides, c->B, c->Hkv, c->Tk, c->dv,
                       x->r_dv, F, &sc);
        check_grad(e, sc, 2, what);
    }
    if (skip != 3) {
        e = gr_span_rel_err(x->dbias, x->r_dbias, x->mbias, x->dbias_n, F,
                            &sc);
        check_grad(e, sc, 3, what);
    }
}

/* Whether every (b, h, i) row owns its dbias row (no broadcasting). */
static int dbias_unshared(const bw *x)
{
    return x->dbias_s.batch != 0 && x->dbias_s.head != 0;
}

/* The library's gradients against the reference, plus the exact rules. */
static void bw_check(const bw *x)
{
    const attn_sdpa_desc *d = &x->p.d;
    const bw_case *c = &x->c;
    check_grads(x, -1, x->name);
    check_gaps(x->dq, x->mq, x->p.q_n, x->name, "dq");
    check_gaps(x->dk, x->mk, x->p.k_n, x->name, "dk");
    check_gaps(x->dv, x->mv, x->p.v_n, x->name, "dv");
    check_gaps(x->dbias, x->mbias, x->dbias_n, x->name, "dbias");

    /* Fully masked rows: dq (and an unshared dbias row) exactly 0. */
    for (int64_t b = 0; b < c->B; ++b)
        for (int64_t h = 0; h < c->Hq; ++h)
            for (int64_t i = 0; i < c->Tq; ++i) {
                const double dead = d->sinks ? (double)d->sinks[h] : -INFINITY;
                const double l = x->r_lse[(b * c->Hq + h) * c->Tq + i];
                if (l != -INFINITY && l != dead)
                    continue; /* the row saw a key */
                for (int64_t e = 0; e < c->d; ++e)
                    if (x->dq[tu_at(d->q_strides, b, h, i, e)] != 0.0f)
                        fail_msg("%s: fully masked row (%lld,%lld,%lld): dq"
                                 " = %g, not 0", x->name, (long long)b,
                                 (long long)h, (long long)i,
                                 (double)x->dq[tu_at(d->q_strides, b, h, i,
                                                     e)]);
                for (int64_t j = 0; dbias_unshared(x) && j < c->Tk; ++j)
                    if (x->dbias[tu_at(x->dbias_s, b, h, i, j)] != 0.0f)
                        fail_msg("%s: fully masked row (%lld,%lld,%lld):"
                                 " dbias not 0", x->name, (long long)b,
                                 (long long)h, (long long)i);
            }
    /* kv_lens[0] == 0: batch 0 has exactly zero gradients. */
    if (c->lens == LENS_ZERO) {
        for (size_t e = 0; e < x->p.q_n; ++e)
            if (x->mq[e] && (int64_t)e < d->q_strides.batch &&
                x->dq[e] != 0.0f)
                fail_msg("%s: batch 0 sees no key but dq[%zu] = %g", x->name,
                         e, (double)x->dq[e]);
        for (int64_t h = 0; h < c->Hkv; ++h)
            for (int64_t j = 0; j < c->Tk; ++j) {
                for (int64_t e = 0; e < c->d; ++e)
                    if (x->dk[tu_at(d->k_strides, 0, h, j, e)] != 0.0f)
                        fail_msg("%s: batch 0 sees no key but dk != 0",
                                 x->name);
                for (int64_t e = 0; e < c->dv; ++e)
                    if (x->dv[tu_at(d->v_strides, 0, h, j, e)] != 0.0f)
                        fail_msg("%s: batch 0 sees no key but dv != 0",
                                 x->name);
            }
    }
}

/* attn_sdpa_sinks_backward against finite differences: it adds (+=). */
static void check_dsinks(const bw *x)
{
    const int64_t H = x->c.Hq;
    float ds[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    TU_CHECK_STATUS(attn_sdpa_sinks_backward(&x->p.d, x->p.out, x->p.lse,
                                             x->dout, ds),
                    ATTN_OK);
    double err = 0.0, scale = 0.0;
    for (int64_t h = 0; h < H; ++h) {
        const double e = fabs((double)ds[h] - 0.5 - x->r_dsinks[h]);
        if (!(e <= err)) /* NaN sticks */
            err = e;
        if (fabs(x->r_dsinks[h]) > scale)
            scale = fabs(x->r_dsinks[h]);
    }
    err /= fmax(scale, ATTN_TEST_GRAD_FLOOR);
    if (!(err <= ATTN_TEST_GRAD_TOL))
        fail_msg("%s: dsinks: error %g against finite differences", x->name,
                 err);
}

/* The whole check for one case. */
static void run_case(const bw_case *c, uint64_t seed)
{
    bw x;
    bw_setup(&x, c, seed);
    bw_reference(&x);
    bw_clear_grads(&x);
    run_ws(&x);
    bw_check(&x);
    if (x.p.d.sinks)
        check_dsinks(&x);
    bw_free(&x);
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Sizes that straddle nothing, one block, and the 64-row block edge. */
static const int64_t sizes[] = {1, 3, 17, 65};

static bw_case base_case(int64_t Tq, int64_t Tk)
{
    bw_case c;
    memset(&c, 0, sizeof c);
    c.B = 2;
    c.Hq = 4;
    c.Hkv = 2;
    c.Tq = Tq;
    c.Tk = Tk;
    c.d = 5;
    c.dv = 3;
    return c;
}

/* ---- the reference itself ------------------------------------------------- */

/* gr_sdpa_fd (one-term updates) against gr_sdpa_fd_full (whole loss). */
static void check_fd_self(const bw_case *c, uint64_t seed)
{
    bw x;
    bw_setup(&x, c, seed);
    const attn_sdpa_desc *d = &x.p.d;
    double *q = gr_to_double(x.p.q, x.p.q_n);
    double *k = gr_to_double(x.p.k, x.p.k_n);
    double *v = gr_to_double(x.p.v, x.p.v_n);
    double *bias = d->bias ? gr_to_double(d->bias, x.dbias_n)
                           : calloc(x.dbias_n, sizeof *bias);
    assert_non_null(bias);
    gr_sdpa r;
    memset(&r, 0, sizeof r);
    r.d = d;
    r.q = q;
    r.k = k;
    r.v = v;
    r.bias = bias;
    r.g = x.g;
    const size_t nq = (size_t)(c->B * c->Hq * c->Tq * c->d);
    const size_t nk = (size_t)(c->B * c->Hkv * c->Tk * c->d);
    const size_t nv = (size_t)(c->B * c->Hkv * c->Tk * c->dv);
    double *a[4], *b[4];
    const size_t n[4] = {nq, nk, nv, x.dbias_n};
    for (int t = 0; t < 4; ++t) {
        a[t] = tu_malloc(n[t], sizeof(double));
        b[t] = tu_malloc(n[t], sizeof(double));
    }
    const double L0 = gr_sdpa_loss(&r);
    gr_sdpa_fd(&r, ATTN_TEST_FD_STEP, a[0], a[1], a[2], a[3]);
    gr_sdpa_fd_full(&r, ATTN_TEST_FD_STEP, b[0], b[1], b[2], b[3]);
    /* The inputs are restored exactly. */
    assert_true(gr_sdpa_loss(&r) == L0);
    for (int t = 0; t < 4; ++t) {
        double diff = 0.0, ref = 0.0;
        for (size_t e = 0; e < n[t]; ++e) {
            diff = fmax(diff, fabs(a[t][e] - b[t][e]));
            ref = fmax(ref, fabs(b[t][e]));
        }
        if (!(diff <= ATTN_TEST_FD_SELF_TOL * ref) || !(ref > 0.0))
            fail_msg("%s: %s: fast and full finite differences differ by %g"
                     " (largest %g)", x.name, grad_name[t], diff, ref);
        free(a[t]);
        free(b[t]);
    }
    free(bias);
    free(v);
    free(k);
    free(q);
    bw_free(&x);
}

static void test_reference_self_check(void **state)
{
    (void)state;
    bw_case c = base_case(5, 7);
    c.d = 3;
    c.dv = 2;
    c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    c.lens = LENS_SHORT;
    c.keep = KEEP_FULL;
    c.bias = BIAS_FULL;
    c.strided = 1;
    check_fd_self(&c, 11);
    c.Hkv = 1;
    c.causal = ATTN_CAUSAL_TOP_LEFT;
    c.lens = LENS_NONE;
    c.keep = KEEP_BCAST;
    c.bias = BIAS_BCAST;
    c.strided = 0;
    check_fd_self(&c, 12);
    /* Truncation error: a 4x larger step changes the differences by
     * (16 - 1) x the truncation error at ATTN_TEST_FD_STEP, plus rounding. */
    {
        bw_case t = base_case(4, 6);
        t.bias = BIAS_FULL;
        t.causal = ATTN_CAUSAL_TOP_LEFT;
        bw x;
        bw_setup(&x, &t, 14);
        bw_reference(&x);
        double *r[4] = {x.r_dq, x.r_dk, x.r_dv, x.r_dbias};
        const size_t n[4] = {(size_t)(t.B * t.Hq * t.Tq * t.d),
                             (size_t)(t.B * t.Hkv * t.Tk * t.d),
                             (size_t)(t.B * t.Hkv * t.Tk * t.dv), x.dbias_n};
        double *big[4];
        for (int u = 0; u < 4; ++u)
            big[u] = tu_malloc(n[u], sizeof(double));
        double *q = gr_to_double(x.p.q, x.p.q_n);
        double *k = gr_to_double(x.p.k, x.p.k_n);
        double *v = gr_to_double(x.p.v, x.p.v_n);
        double *bias = gr_to_double(x.p.d.bias, x.dbias_n);
        gr_sdpa rp;
        memset(&rp, 0, sizeof rp);
        rp.d = &x.p.d;
        rp.q = q;
        rp.k = k;
        rp.v = v;
        rp.bias = bias;
        rp.g = x.g;
        gr_sdpa_fd(&rp, 4 * ATTN_TEST_FD_STEP, big[0], big[1], big[2], big[3]);
        for (int u = 0; u < 4; ++u) {
            double diff = 0.0, ref = 0.0;
            for (size_t e = 0; e < n[u]; ++e) {
                diff = fmax(diff, fabs(big[u][e] - r[u][e]));
                ref = fmax(ref, fabs(r[u][e]));
            }
            if (!(diff <= 15 * ATTN_TEST_FD_SELF_TOL * ref))
                fail_msg("%s: step 4h changes the finite differences by %g"
                         " (largest %g)", grad_name[u], diff, ref);
            free(big[u]);
        }
        free(bias);
        free(v);
        free(k);
        free(q);
        bw_free(&x);
    }
    /* The analytic gradient of a tiny case, by hand: Tk = 1 makes the
     * softmax 1, so L = v . g, dv = g and everything else is 0. */
    bw_case one = base_case(1, 1);
    one.B = 1;
    one.Hq = 1;
    one.Hkv = 1;
    bw x;
    bw_setup(&x, &one, 13);
    bw_reference(&x);
    for (int64_t e = 0; e < one.dv; ++e)
        assert_true(fabs(x.r_dv[e] - x.g[e]) <= 1e-9);
    for (int64_t e = 0; e < one.d; ++e) {
        assert_true(fabs(x.r_dq[e]) <= 1e-9);
        assert_true(fabs(x.r_dk[e]) <= 1e-9);
    }
    bw_free(&x);
}

/* ---- gradients over a grid ----------------------------------------------- */

/* Every (Tq, Tk) pair, GQA, no mask (dbias of a zero broadcast bias). */
static void test_sizes(void **state)
{
    (void)state;
    uint64_t seed = 100;
    for (size_t a = 0; a < N_OF(sizes); ++a)
        for (size_t b = 0; b < N_OF(sizes); ++b) {
            const bw_case c = base_case(sizes[a], sizes[b]);
            run_case(&c, seed++);
        }
}

/* (Tq, Tk) pairs for the mask sweeps: both orders, short and long, the
 * 64-row block edge; the combined tests add (65, 65). */
static const int64_t pairs[][2] = {{1, 3}, {3, 17}, {17, 3}, {65, 17},
                                   {17, 65}, {65, 65}};
#define SWEEP_PAIRS (N_OF(pairs) - 1)

static void sweep(void (*set)(bw_case *c), uint64_t seed)
{
    for (size_t i = 0; i < SWEEP_PAIRS; ++i) {
        bw_case c = base_case(pairs[i][0], pairs[i][1]);
        set(&c);
        run_case(&c, seed + i);
    }
}

static void set_tl(bw_case *c) { c->causal = ATTN_CAUSAL_TOP_LEFT; }
static void set_br(bw_case *c) { c->causal = ATTN_CAUSAL_BOTTOM_RIGHT; }
static void set_lens_short(bw_case *c) { c->lens = LENS_SHORT; }
static void set_lens_zero(bw_case *c) { c->lens = LENS_ZERO; }
static void set_br_lens(bw_case *c)
{
    /* Bottom-right with L < Tq: the first rows see nothing. */
    c->causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    c->lens = LENS_SHORT;
}
static void set_keep_bcast(bw_case *c) { c->keep = KEEP_BCAST; }
static void set_keep_full(bw_case *c) { c->keep = KEEP_FULL; }
static void set_bias_bcast(bw_case *c) { c->bias = BIAS_BCAST; }
static void set_bias_full(bw_case *c) { c->bias = BIAS_FULL; }
static void set_bias_none_full(bw_case *c) { c->bias = BIAS_NONE_FULL; }

static void test_causal_top_left(void **state)
{
    (void)state;
    sweep(set_tl, 200);
}

static void test_causal_bottom_right(void **state)
{
    (void)state;
    sweep(set_br, 300);
}

static void test_kv_lens(void **state)
{
    (void)state;
    sweep(set_lens_short, 400);
    sweep(set_lens_zero, 410);
    sweep(set_br_lens, 420);
}

static void test_keep_mask(void **state)
{
    (void)state;
    sweep(set_keep_bcast, 500);
    sweep(set_keep_full, 510);
}

static void test_bias(void **state)
{
    (void)state;
    sweep(set_bias_bcast, 600);
    sweep(set_bias_full, 610);
    /* desc->bias NULL: dbias is the gradient of a zero bias, summed over
     * the broadcast dimensions (BIAS_NONE, every case of test_sizes) or
     * not (here). */
    sweep(set_bias_none_full, 620);
}

/* Every mask at once, for GQA, MQA and plain multi-head. */
/* Each variant over the sweep's (Tq, Tk) pairs, then combined with the
 * masks: window + softcap + sink + GQA + padding, and a bottom-right
 * window with Tq != Tk. */
static const bw_variant bw_variants[] = {
    {"window 3/1", 3, 1, 0, 0.0f, 0},
    {"window 2/0", 2, 0, 0, 0.0f, 0},
    {"alibi", -1, -1, 1, 0.0f, 0},
    {"softcap 0.6", -1, -1, 0, 0.6f, 0},
    {"sinks", -1, -1, 0, 0.0f, 1},
    {"window+softcap+sinks", 4, 0, 0, 0.8f, 1},
    {"everything", 5, 2, 1, 1.3f, 1},
};

static void test_variants(void **state)
{
    (void)state;
    uint64_t seed = 1500;
    /* under valgrind (ATTN_TEST_LIGHT) the short pairs only: no new path */
    const size_t n_pairs = getenv("ATTN_TEST_LIGHT") ? 3 : N_OF(pairs);
    printf("largest gradient error per variant (dq dk dv dbias):\n");
    for (size_t v = 0; v < N_OF(bw_variants); ++v) {
        double before[4];
        memcpy(before, max_err, sizeof before);
        memset(max_err, 0, sizeof max_err);
        for (size_t i = 0; i < n_pairs; ++i) {
            bw_case c = base_case(pairs[i][0], pairs[i][1]);
            c.var = &bw_variants[v];
            run_case(&c, seed++);
            c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
            c.lens = LENS_SHORT;
            c.bias = BIAS_FULL;
            run_case(&c, seed++);
            c.lens = LENS_ZERO;
            c.keep = KEEP_BCAST;
            c.causal = ATTN_CAUSAL_TOP_LEFT;
            c.strided = 1;
            run_case(&c, seed++);
        }
        printf("  %-22s %.2g %.2g %.2g %.2g\n", bw_variants[v].name,
               max_err[0], max_err[1], max_err[2], max_err[3]);
        for (int t = 0; t < 4; ++t)
            max_err[t] = before[t] > max_err[t] ? before[t] : max_err[t];
    }
}

static void test_heads_combined(void **state)
{
    (void)state;
    static const int64_t kv[] = {2, 1, 4};
    uint64_t seed = 700;
    for (size_t h = 0; h < N_OF(kv); ++h)
        for (size_t i = 0; i < N_OF(pairs); ++i) {
            bw_case c = base_case(pairs[i][0], pairs[i][1]);
            c.Hkv = kv[h];
            c.causal = i % 2 ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_BOTTOM_RIGHT;
            c.lens = i % 3 == 0 ? LENS_ZERO : LENS_SHORT;
            c.keep = i % 2 ? KEEP_BCAST : KEEP_FULL;
            c.bias = i % 2 ? BIAS_FULL : BIAS_BCAST;
            run_case(&c, seed++);
        }
}

/* (B, T, H, d) layouts with gaps: dq, dk, dv follow q, k, v. */
static void test_strided(void **state)
{
    (void)state;
    uint64_t seed = 800;
    for (size_t i = 0; i < N_OF(pairs); ++i) {
        bw_case c = base_case(pairs[i][0], pairs[i][1]);
        c.strided = 1;
        run_case(&c, seed++);
        c.Hkv = 1;
        c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
        c.lens = LENS_SHORT;
        c.keep = KEEP_FULL;
        c.bias = BIAS_FULL;
        run_case(&c, seed++);
    }
}

/* A scale other than 1/sqrt(d), and d == dv, d > dv, d < dv. */
static void test_scale_and_dims(void **state)
{
    (void)state;
    bw_case c = base_case(17, 17);
    c.scale = 0.8f;
    c.bias = BIAS_BCAST;
    c.causal = ATTN_CAUSAL_TOP_LEFT;
    run_case(&c, 900);
    c.scale = 1.0f;
    c.d = 3;
    c.dv = 7;
    run_case(&c, 901);
    c.d = 4;
    c.dv = 4;
    c.B = 3;
    run_case(&c, 902);
}

/*
 * Fully masked rows stay exactly zero even when V holds NaN: row 1 sees no
 * key, V row 2 is NaN (visible to rows 0 and 2, whose outputs and
 * gradients are NaN as IEEE arithmetic says). dq and dbias of row 1 must
 * be exactly 0, its out row 0.
 */
static void test_fully_masked_rows_with_nan(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    const int64_t Tq = 3, Tk = 5, D = 3, Dv = 2;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, Tq, Tk, D, Dv), ATTN_OK);
    uint8_t keep[3 * 5];
    memset(keep, 1, sizeof keep);
    memset(keep + 1 * Tk, 0, (size_t)Tk); /* row 1 sees nothing */
    d.keep_mask = keep;
    d.bias_strides = tu_contig(1, Tq, Tk); /* a full dbias */
    tu_rng rng = tu_rng_make(1000);
    float q[3 * 3], k[5 * 3], v[5 * 2], out[3 * 2], lse[3], dout[3 * 2];
    float dq[3 * 3] = {0}, dk[5 * 3] = {0}, dv[5 * 2] = {0}, dbias[3 * 5] = {0};
    for (size_t e = 0; e < N_OF(q); ++e)
        q[e] = (float)tu_rng_uniform(&rng, -1, 1);
    for (size_t e = 0; e < N_OF(k); ++e)
        k[e] = (float)tu_rng_uniform(&rng, -1, 1);
    for (size_t e = 0; e < N_OF(v); ++e)
        v[e] = (float)tu_rng_uniform(&rng, -1, 1);
    for (size_t e = 0; e < N_OF(dout); ++e)
        dout[e] = (float)tu_rng_uniform(&rng, -1, 1);
    v[2 * Dv] = NAN;
    TU_CHECK_STATUS(attn_sdpa_forward(&d, q, k, v, out, NULL, lse), ATTN_OK);
    assert_true(lse[1] == -INFINITY);
    assert_true(out[1 * Dv] == 0.0f && out[1 * Dv + 1] == 0.0f);
    TU_CHECK_STATUS(guarded_backward(&d, q, k, v, out, lse, dout, dq, dk, dv,
                                     dbias, 0, 0, NULL),
                    ATTN_OK);
    for (int64_t e = 0; e < D; ++e)
        if (dq[1 * D + e] != 0.0f)
            fail_msg("fully masked row: dq[%lld] = %g, not 0", (long long)e,
                     (double)dq[1 * D + e]);
    for (int64_t j = 0; j < Tk; ++j)
        if (dbias[1 * Tk + j] != 0.0f)
            fail_msg("fully masked row: dbias[%lld] = %g, not 0", (long long)j,
                     (double)dbias[1 * Tk + j]);
    /* The NaN does reach what may see it (sanity of the test). */
    assert_true(isnan(dq[0]));
}

/* ---- accumulation, NULL outputs --------------------------------------------- */

static bw_case busy_case(void)
{
    bw_case c = base_case(17, 13);
    c.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    c.lens = LENS_SHORT;
    c.keep = KEEP_FULL;
    c.bias = BIAS_BCAST;
    c.strided = 1;
    return c;
}

/* |got - (base + add)| <= ATTN_TEST_ACCUM_TOL * (|base| + |add|), normwise,
 * over the tensor's entries. */
static void check_sum(const float *got, const float *base, const float *add,
                      const unsigned char *mark, size_t n, const char *what)
{
    double diff = 0.0, size = 0.0;
    for (size_t e = 0; e < n; ++e) {
        if (!mark[e]) {
            if (!isnan(got[e]))
                fail_msg("%s: gap element %zu written", what, e);
            continue;
        }
        const double want = (double)base[e] + (double)add[e];
        diff = fmax(diff, fabs((double)got[e] - want));
        size = fmax(size, fabs((double)base[e]) + fabs((double)add[e]));
    }
    if (!(diff <= ATTN_TEST_ACCUM_TOL * size))
        fail_msg("%s: accumulated result off by %g (scale %g)", what, diff,
                 size);
}

static float *clone(const float *x, size_t n)
{
    float *y = tu_malloc(n, sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* dq += ...: pre-filled gradients get the plain gradient added, and two
 * calls give twice one call. */
static void test_accumulates(void **state)
{
    (void)state;
    const bw_case c = busy_case();
    bw x;
    bw_setup(&x, &c, 1100);
    bw_clear_grads(&x);
    run_ws(&x);
    float *g1[4] = {clone(x.dq, x.p.q_n), clone(x.dk, x.p.k_n),
                    clone(x.dv, x.p.v_n), clone(x.dbias, x.dbias_n)};
    float *grads[4] = {x.dq, x.dk, x.dv, x.dbias};
    const unsigned char *marks[4] = {x.mq, x.mk, x.mv, x.mbias};
    const size_t n[4] = {x.p.q_n, x.p.k_n, x.p.v_n, x.dbias_n};

    /* A second call into the same buffers: 2x. */
    run_ws(&x);
    for (int t = 0; t < 4; ++t)
        check_sum(grads[t], g1[t], g1[t], marks[t], n[t], grad_name[t]);

    /* Pre-filled with random values: prefill + gradient. */
    tu_rng rng = tu_rng_make(1101);
    float *pre[4];
    for (int t = 0; t < 4; ++t) {
        fill_grad(grads[t], marks[t], n[t], 0.0f, &rng);
        pre[t] = clone(grads[t], n[t]);
    }
    TU_CHECK_STATUS(call_ws(&x, x.dq, x.dk, x.dv, x.dbias, 0, 0, NULL),
                    ATTN_OK);
    for (int t = 0; t < 4; ++t) {
        check_sum(grads[t], pre[t], g1[t], marks[t], n[t], grad_name[t]);
        /* The gradient is not negligible next to the prefill. */
        double big = 0.0;
        for (size_t e = 0; e < n[t]; ++e)
            if (marks[t][e])
                big = fmax(big, fabs((double)g1[t][e]));
        assert_true(big > 1e-3);
        free(pre[t]);
        free(g1[t]);
    }
    bw_free(&x);
}

/* Each of dq, dk, dv, dbias may be NULL; the others are unaffected. */
static void test_null_outputs(void **state)
{
    (void)state;
    const bw_case c = busy_case();
    bw x;
    bw_setup(&x, &c, 1200);
    bw_reference(&x);
    float *grads[4] = {x.dq, x.dk, x.dv, x.dbias};
    const unsigned char *marks[4] = {x.mq, x.mk, x.mv, x.mbias};
    const size_t n[4] = {x.p.q_n, x.p.k_n, x.p.v_n, x.dbias_n};
    for (int skip = -1; skip < 4; ++skip) {
        bw_clear_grads(&x);
        /* The skipped buffer is filled with a marker it must keep. */
        if (skip >= 0)
            fill_grad(grads[skip], marks[skip], n[skip], 42.0f, NULL);
        float *arg[4];
        for (int t = 0; t < 4; ++t)
            arg[t] = t == skip ? NULL : grads[t];
        TU_CHECK_STATUS(call_ws(&x, arg[0], arg[1], arg[2], arg[3], 0, 0,
                                NULL),
                        ATTN_OK);
        if (skip >= 0)
            for (size_t e = 0; e < n[skip]; ++e)
                if (marks[skip][e] && grads[skip][e] != 42.0f)
                    fail_msg("NULL %s: its buffer changed", grad_name[skip]);
        /* The computed ones still match the reference. */
        check_grads(&x, skip, "NULL skipping");
    }
    /* All four NULL: nothing to do, still OK. */
    TU_CHECK_STATUS(call_ws(&x, NULL, NULL, NULL, NULL, 0, 0, NULL), ATTN_OK);
    bw_free(&x);
}

/* ---- workspace ---------------------------------------------------------------- */

static void snapshot_grads(const bw *x, float *s[4])
{
    s[0] = clone(x->dq, x->p.q_n);
    s[1] = clone(x->dk, x->p.k_n);
    s[2] = clone(x->dv, x->p.v_n);
    s[3] = clone(x->dbias, x->dbias_n);
}

static void expect_grads_unchanged(const bw *x, float *s[4], const char *what)
{
    const float *g[4] = {x->dq, x->dk, x->dv, x->dbias};
    const size_t n[4] = {x->p.q_n, x->p.k_n, x->p.v_n, x->dbias_n};
    for (int t = 0; t < 4; ++t) {
        if (memcmp(g[t], s[t], n[t] * sizeof(float)) != 0)
            fail_msg("%s: %s was written by a failing call", what,
                     grad_name[t]);
        free(s[t]);
    }
}

/* The queried size works, aligned or not; one byte less than one thread's
 * share (the size queried with num_threads = 1) is refused with nothing
 * written. */
static void test_workspace(void **state)
{
    (void)state;
    const bw_case c = busy_case();
    bw x;
    bw_setup(&x, &c, 1300);
    bw_reference(&x);
    static const size_t offsets[] = {0, 1, 3, 4, 60};
    for (size_t i = 0; i < N_OF(offsets); ++i) {
        bw_clear_grads(&x);
        TU_CHECK_STATUS(call_ws(&x, x.dq, x.dk, x.dv, x.dbias, offsets[i], 0,
                                NULL),
                        ATTN_OK);
        bw_check(&x);
    }
    bw_clear_grads(&x);
    float *snap[4];
    snapshot_grads(&x, snap);
    size_t overrun = 0;
    x.p.d.num_threads = 1;
    TU_CHECK_STATUS(call_ws(&x, x.dq, x.dk, x.dv, x.dbias, 0, -1, &overrun),
                    ATTN_ERR_WORKSPACE_TOO_SMALL);
    expect_grads_unchanged(&x, snap, "workspace one byte short");
    assert_true(overrun == 0);
    bw_free(&x);
}

/*
 * The backward writes nothing outside the workspace it is given, whatever
 * the shape: Tq below, at and above the 64-row block, causal or not.
 */
static void test_workspace_bounds(void **state)
{
    (void)state;
    static const int64_t tq[] = {1, 3, 17, 63, 64, 65, 130};
    static const int64_t tk[] = {1, 17, 65};
    uint64_t seed = 1400;
    for (size_t a = 0; a < N_OF(tq); ++a)
        for (size_t b = 0; b < N_OF(tk); ++b)
            for (int causal = 0; causal < 2; ++causal) {
                bw_case c = base_case(tq[a], tk[b]);
                c.B = 1;
                c.Hq = 2;
                c.Hkv = 1;
                c.causal = causal ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_NONE;
                bw x;
                bw_setup(&x, &c, seed++);
                bw_clear_grads(&x);
                size_t overrun = 0;
                size_t bytes = 0;
                TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(&x.p.d,
                                                                  &bytes),
                                ATTN_OK);
                TU_CHECK_STATUS(call_ws(&x, x.dq, x.dk, x.dv, x.dbias, 0, 0,
                                        &overrun),
                                ATTN_OK);
                if (overrun != 0)
                    fail_msg("%s: the backward wrote %zu bytes past the %zu"
                             " of workspace attn_sdpa_backward_workspace_size"
                             " asked for", x.name, overrun, bytes);
                bw_free(&x);
            }
}

/* Backward workspace of a (1, 1, T, T, 64) problem on one path. */
static size_t backward_ws(attn_algo algo, int64_t T)
{
    attn_sdpa_desc d;
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, T, T, 64, 64), ATTN_OK);
    d.algo = algo;
    d.num_threads = 2;
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(&d, &bytes), ATTN_OK);
    return bytes;
}

/*
 * No (Tq, Tk) buffer on either path: doubling the sequence length at most
 * doubles the workspace (it grows with T, from 64-row tiles or per-row
 * partial sums, never with T * T), and at T = 4096 it is a small part of
 * what a (Tq, Tk) float matrix would take.
 */
static void test_workspace_is_small(void **state)
{
    (void)state;
    const attn_algo algos[] = {ATTN_ALGO_FUSED, ATTN_ALGO_MATERIALIZED};
    const size_t full = (size_t)4096 * 4096 * sizeof(float);
    for (size_t a = 0; a < 2; ++a) {
        const size_t ws4k = backward_ws(algos[a], 4096);
        const size_t ws8k = backward_ws(algos[a], 8192);
        if (!(ws4k * 4 <= full) || !(ws8k <= 2 * ws4k + 65536))
            fail_msg("algo %d: backward workspace %zu bytes at T = 4096, %zu"
                     " at T = 8192; a (Tq, Tk) matrix is %zu at T = 4096",
                     (int)algos[a], ws4k, ws8k, full);
    }
}

/* ---- errors: nothing written ----------------------------------------------- */

/* One problem whose every buffer lives in `arena`, so aliasing layouts can
 * be built by pointing into it; snapshots of the arena detect writes. */
#define ARENA_FLOATS 8192

typedef struct err_fixture {
    attn_sdpa_desc d;
    float *arena, *snap;
    float *q, *k, *v, *out, *lse, *dout, *bias, *dq, *dk, *dv, *dbias, *ws;
    size_t ws_bytes;
    int64_t lens[2];
    uint8_t keep[5 * 7];
} err_fixture;

static err_fixture E;

static int err_setup(void **state)
{
    (void)state;
    memset(&E, 0, sizeof E);
    E.arena = malloc(ARENA_FLOATS * sizeof(float));
    E.snap = malloc(ARENA_FLOATS * sizeof(float));
    if (E.arena == NULL || E.snap == NULL)
        return -1;
    tu_rng rng = tu_rng_make(1500);
    for (size_t e = 0; e < ARENA_FLOATS; ++e)
        E.arena[e] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
    /* B 2, Hq 4, Hkv 2, Tq 5, Tk 7, d 3, dv 2, every mask. */
    if (attn_sdpa_desc_init(&E.d, 2, 4, 2, 5, 7, 3, 2) != ATTN_OK)
        return -1;
    E.lens[0] = 7;
    E.lens[1] = 4;
    for (size_t e = 0; e < sizeof E.keep; ++e)
        E.keep[e] = (uint8_t)(e % 4 != 0);
    E.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    E.d.kv_lens = E.lens;
    E.d.keep_mask = E.keep;
    float *p = E.arena;
    E.q = p;    p += 2 * 4 * 5 * 3;
    E.k = p;    p += 2 * 2 * 7 * 3;
    E.v = p;    p += 2 * 2 * 7 * 2;
    E.out = p;  p += 2 * 4 * 5 * 2;
    E.lse = p;  p += 2 * 4 * 5;
    E.dout = p; p += 2 * 4 * 5 * 2;
    E.bias = p; p += 5 * 7;
    E.dq = p;   p += 2 * 4 * 5 * 3;
    E.dk = p;   p += 2 * 2 * 7 * 3;
    E.dv = p;   p += 2 * 2 * 7 * 2;
    E.dbias = p; p += 5 * 7;
    E.ws = p;
    E.d.bias = E.bias;
    if (attn_sdpa_forward(&E.d, E.q, E.k, E.v, E.out, NULL, E.lse) != ATTN_OK)
        return -1;
    if (attn_sdpa_backward_workspace_size(&E.d, &E.ws_bytes) != ATTN_OK ||
        (size_t)(p - E.arena) * sizeof(float) + E.ws_bytes >
            ARENA_FLOATS * sizeof(float))
        return -1;
    return 0;
}

static int err_teardown(void **state)
{
    (void)state;
    free(E.arena);
    free(E.snap);
    memset(&E, 0, sizeof E);
    return 0;
}

#define EXPECT_BW(desc, q, k, v, out, lse, dout, dq, dk, dv, dbias, ws,     \
                  bytes, want)                                              \
    do {                                                                    \
        memcpy(E.snap, E.arena, ARENA_FLOATS * sizeof(float));              \
        TU_CHECK_STATUS(attn_sdpa_backward_ws(desc, q, k, v, out, lse,      \
                                              dout, dq, dk, dv, dbias, ws,  \
                                              bytes),                       \
                        want);                                              \
        if (memcmp(E.snap, E.arena, ARENA_FLOATS * sizeof(float)) != 0)     \
            fail_msg("a failing backward (line %d) wrote to its buffers",   \
                     __LINE__);                                             \
    } while (0)

/* A valid call, so that every error below is due to the one change. */
static void test_errors_valid_baseline(void **state)
{
    (void)state;
    TU_CHECK_STATUS(attn_sdpa_backward_ws(&E.d, E.q, E.k, E.v, E.out, E.lse,
                                          E.dout, E.dq, E.dk, E.dv, E.dbias,
                                          E.ws, E.ws_bytes),
                    ATTN_OK);
}

static void test_errors_null(void **state)
{
    (void)state;
    const attn_sdpa_desc *d = &E.d;
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(NULL, &bytes),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(d, NULL),
                    ATTN_ERR_NULL_POINTER);
    EXPECT_BW(NULL, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, NULL, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, E.q, NULL, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, E.q, E.k, NULL, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, E.q, E.k, E.v, NULL, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, NULL, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, NULL, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, NULL, E.ws_bytes, ATTN_ERR_NULL_POINTER);
    memcpy(E.snap, E.arena, ARENA_FLOATS * sizeof(float));
    TU_CHECK_STATUS(attn_sdpa_backward(NULL, E.q, E.k, E.v, E.out, E.lse,
                                       E.dout, E.dq, E.dk, E.dv, E.dbias),
                    ATTN_ERR_NULL_POINTER);
    TU_CHECK_STATUS(attn_sdpa_backward(d, E.q, E.k, E.v, E.out, E.lse, NULL,
                                       E.dq, E.dk, E.dv, E.dbias),
                    ATTN_ERR_NULL_POINTER);
    assert_memory_equal(E.snap, E.arena, ARENA_FLOATS * sizeof(float));
}

static void test_errors_aliasing(void **state)
{
    (void)state;
    const attn_sdpa_desc *d = &E.d;
    const attn_status A = ATTN_ERR_ALIASING;
    /* dq overlapping q (same start, and shifted by one float). */
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.q, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, A);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.q + 1, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, A);
    /* dk overlapping dv. */
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dk + 3,
              E.dbias, E.ws, E.ws_bytes, A);
    /* dbias overlapping bias. */
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.bias + 2, E.ws, E.ws_bytes, A);
    /* workspace overlapping dq. */
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.dq + 4, E.ws_bytes, A);
    /* dv overlapping dout, dq overlapping lse, dk overlapping k,
     * dbias overlapping dq, dv overlapping out. */
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dout,
              E.dbias, E.ws, E.ws_bytes, A);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.lse - 2, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, A);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.k, E.dv,
              E.dbias, E.ws, E.ws_bytes, A);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dq + 10, E.ws, E.ws_bytes, A);
    EXPECT_BW(d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.out,
              E.dbias, E.ws, E.ws_bytes, A);
    /* dbias over the kv_lens or keep_mask arrays of the descriptor. */
    attn_sdpa_desc d2 = E.d;
    d2.bias = NULL;
    float *at8 = E.dbias + ((uintptr_t)(E.dbias + 4) % 8 == 0 ? 4 : 5);
    memcpy(at8, E.lens, sizeof E.lens);
    d2.kv_lens = (const int64_t *)(void *)at8;
    EXPECT_BW(&d2, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, A);
}

static void test_errors_descriptor(void **state)
{
    (void)state;
    attn_sdpa_desc d = E.d;
    size_t bytes = 0;
    d.q_heads = 3; /* not a multiple of kv_heads */
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(&d, &bytes),
                    ATTN_ERR_HEAD_MISMATCH);
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_HEAD_MISMATCH);
    d = E.d;
    int64_t lens[2] = {7, 8};
    d.kv_lens = lens;
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_BAD_KV_LEN);
    d = E.d;
    d.scale = 0.0f;
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_BAD_SCALE);
    d = E.d;
    d.head_dim = 0;
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_BAD_DIMENSION);
    /* A dbias layout with a negative stride, without a bias. */
    d = E.d;
    d.bias = NULL;
    d.bias_strides.row = -7;
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, E.ws_bytes, ATTN_ERR_BAD_STRIDE);
    /* One byte short of one thread's share. */
    d = E.d;
    d.num_threads = 1;
    size_t least;
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(&d, &least), ATTN_OK);
    assert_true(least <= E.ws_bytes);
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, least - 1, ATTN_ERR_WORKSPACE_TOO_SMALL);
    d.num_threads = 3; /* a request for more threads changes nothing */
    EXPECT_BW(&d, E.q, E.k, E.v, E.out, E.lse, E.dout, E.dq, E.dk, E.dv,
              E.dbias, E.ws, least - 1, ATTN_ERR_WORKSPACE_TOO_SMALL);
}

/* ---- the allocating call ---------------------------------------------------- */

/* attn_sdpa_backward (own workspace) gives the gradients too. The Tq = 3
 * problem comes last: an overrun of the allocated workspace shows under
 * AddressSanitizer as a heap-buffer-overflow. */
static void test_allocating_call(void **state)
{
    (void)state;
    static const int64_t tq[] = {65, 3};
    for (size_t i = 0; i < N_OF(tq); ++i) {
        bw_case c = base_case(tq[i], 17);
        c.causal = ATTN_CAUSAL_TOP_LEFT;
        c.bias = BIAS_FULL;
        c.lens = LENS_SHORT;
        bw x;
        bw_setup(&x, &c, 1600 + i);
        bw_reference(&x);
        bw_clear_grads(&x);
        TU_CHECK_STATUS(attn_sdpa_backward(&x.p.d, x.p.q, x.p.k, x.p.v,
                                           x.p.out, x.p.lse, x.dout, x.dq,
                                           x.dk, x.dv, x.dbias),
                        ATTN_OK);
        bw_check(&x);
        bw_free(&x);
    }
}

/* ---- summary ------------------------------------------------------------------ */

static void test_report(void **state)
{
    (void)state;
    print_message("largest gradient errors against finite differences"
                  " (tolerance %g): dq %.3g, dk %.3g, dv %.3g, dbias %.3g\n",
                  ATTN_TEST_GRAD_TOL, max_err[0], max_err[1], max_err[2],
                  max_err[3]);
}

int main(void)
{
    const struct CMUnitTest grads[] = {
        cmocka_unit_test(test_reference_self_check),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_causal_top_left),
        cmocka_unit_test(test_causal_bottom_right),
        cmocka_unit_test(test_kv_lens),
        cmocka_unit_test(test_keep_mask),
        cmocka_unit_test(test_bias),
        cmocka_unit_test(test_heads_combined),
        cmocka_unit_test(test_variants),
        cmocka_unit_test(test_strided),
        cmocka_unit_test(test_scale_and_dims),
        cmocka_unit_test(test_fully_masked_rows_with_nan),
        cmocka_unit_test(test_accumulates),
        cmocka_unit_test(test_null_outputs),
        cmocka_unit_test(test_workspace),
        cmocka_unit_test(test_workspace_bounds),
        cmocka_unit_test(test_workspace_is_small),
        cmocka_unit_test(test_report),
    };
    const struct CMUnitTest errors[] = {
        cmocka_unit_test(test_errors_valid_baseline),
        cmocka_unit_test(test_errors_null),
        cmocka_unit_test(test_errors_aliasing),
        cmocka_unit_test(test_errors_descriptor),
    };
    const struct CMUnitTest last[] = {
        cmocka_unit_test(test_allocating_call),
    };
    int failed = cmocka_run_group_tests_name("backward gradients", grads,
                                             NULL, NULL);
    failed += cmocka_run_group_tests_name("backward errors", errors,
                                          err_setup, err_teardown);
    failed += cmocka_run_group_tests_name("backward allocating", last, NULL,
                                          NULL);
    return failed;
}
