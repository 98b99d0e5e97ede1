/* fuzz_sdpa, forward stage: both paths, the reference, scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/sdpa.h>

#include "reference.h"
#include "sdpa_checks.h"

static size_t rows_of(const attn_sdpa_desc *d)
{
    return (size_t)(d->batch * d->q_heads * d->q_len);
}

static void fwd_alloc(const sdpa_case *c, sdpa_fwd *f, int want_lse)
{
    const attn_sdpa_desc *d = &c->d;
    const int guard = (c->flags & FLAG_GUARD) != 0;
    const size_t on = fz_span(c->os), rows = rows_of(d);
    f->out = fz_alloc(on * sizeof(float), guard);
    fz_poison(f->out, on);
    f->weights = NULL;
    f->lse = NULL;
    if (c->flags & FLAG_WEIGHTS) {
        const size_t n = rows * (size_t)d->kv_len;
        f->weights = fz_alloc(n * sizeof(float), guard);
        fz_poison(f->weights, n);
    }
    if (want_lse) {
        f->lse = fz_alloc(rows * sizeof(float), guard);
        fz_poison(f->lse, rows);
    }
}

void sdpa_fwd_free(sdpa_fwd *f)
{
    fz_free(f->out);
    fz_free(f->weights);
    fz_free(f->lse);
}

/* One forward; with_ws: attn_sdpa_forward_ws in an exact workspace. */
static attn_status run(const sdpa_case *c, attn_algo algo, int threads,
                       int with_ws, sdpa_fwd *f)
{
    attn_sdpa_desc d = c->lib; /* the case's K/V storage and pages */
    d.algo = algo;
    d.num_threads = threads;
    if (!with_ws)
        return attn_sdpa_forward(&d, c->q, c->lib_k, c->lib_v, f->out,
                                 f->weights, f->lse);
    size_t need = 0;
    attn_status s = attn_sdpa_workspace_size(&d, &need);
    FUZZ_REQUIRE(s == ATTN_OK);
    /* A zero-byte workspace is legal; keep a valid pointer anyway. */
    void *ws = fz_alloc(need > 0 ? need : 1, (c->flags & FLAG_GUARD) != 0);
    s = attn_sdpa_forward_ws(&d, c->q, c->lib_k, c->lib_v, f->out, f->weights,
                             f->lse, ws, need);
    fz_free(ws);
    return s;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    return (a == NULL) == (b == NULL) &&
           (a == NULL || memcmp(a, b, n * sizeof *a) == 0);
}

/* Documented: a row without a visible key is zeros, lse -INFINITY (its
 * sink with one). */
static void check_masked_rows(const sdpa_case *c, const sdpa_fwd *f)
{
    const attn_sdpa_desc *d = &c->d;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h)
            for (int64_t i = 0; i < d->q_len; ++i) {
                if (!sdpa_row_masked(c, b, h, i))
                    continue;
                const int64_t row = (b * d->q_heads + h) * d->q_len + i;
                for (int64_t x = 0; x < d->v_head_dim; ++x)
                    FUZZ_REQUIRE(f->out[fz_at(c->os, b, h, i, x)] == 0.0f);
                for (int64_t j = 0; f->weights && j < d->kv_len; ++j)
                    FUZZ_REQUIRE(f->weights[row * d->kv_len + j] == 0.0f);
                if (f->lse)
                    FUZZ_REQUIRE(f->lse[row] ==
                                 (d->sinks ? d->sinks[h] : -INFINITY));
            }
}

static void report(const char *what, double err)
{
    if (fuzz_verbose())
        fprintf(stderr, "sdpa %-22s %.3g\n", what, err);
}

static void require_close(const char *what, double err)
{
    report(what, err);
    FUZZ_REQUIRE(err <= SDPA_TOL);
}

/* The double reference, computed once per case (finite cases only). */
typedef struct ref_out {
    double *out;     /* (B, Hq, Tq, dv) */
    double *weights; /* (B, Hq, Tq, Tk) or NULL */
    double *lse;     /* (B, Hq, Tq) or NULL */
    double *scores;  /* (B, Hq, Tq, Tk) */
} ref_out;

static void ref_compute(const sdpa_case *c, int want_lse, ref_out *r)
{
    const attn_sdpa_desc *d = &c->d;
    const size_t rows = rows_of(d), nw = rows * (size_t)d->kv_len;
    r->out = malloc(rows * (size_t)d->v_head_dim * sizeof(double));
    r->scores = malloc(nw * sizeof(double));
    r->weights = c->flags & FLAG_WEIGHTS ? malloc(nw * sizeof(double)) : NULL;
    r->lse = want_lse ? malloc(rows * sizeof(double)) : NULL;
    FUZZ_REQUIRE(r->out && r->scores);
    FUZZ_REQUIRE(r->weights || !(c->flags & FLAG_WEIGHTS));
    FUZZ_REQUIRE(r->lse || !want_lse);
    ref_sdpa(d, c->q, c->k, c->v, r->out, r->weights, r->lse, r->scores);
}

static void ref_free(ref_out *r)
{
    free(r->out);
    free(r->weights);
    free(r->lse);
    free(r->scores);
}

/* Fused against materialised, and both against the double reference. */
static void compare(const sdpa_case *c, const sdpa_fwd f[2], const ref_out *r)
{
    const attn_sdpa_desc *d = &c->d;
    const size_t rows = rows_of(d);
    const fz_shape ws = fz_dense(d->batch, d->q_heads, d->q_len, d->kv_len);
    const fz_shape ls = fz_dense(1, 1, 1, (int64_t)rows);
    /* out is a convex combination of v rows: |v| sets its scale. */
    const double out_floor = fz_max_abs(c->v, c->vs) + 1e-30;

    require_close("out fused/mat", fz_rel_err(f[0].out, c->os, f[1].out, c->os,
                                              out_floor));
    for (int p = 0; p < 2; ++p) {
        FUZZ_REQUIRE(fz_all_finite(f[p].out, c->os, 0));
        require_close(p ? "out mat/ref" : "out fused/ref",
                      fz_rel_err_ref(f[p].out, c->os, r->out, out_floor));
        if (f[p].weights) {
            FUZZ_REQUIRE(fz_all_finite(f[p].weights, ws, 0));
            require_close("weights/ref",
                          fz_rel_err_ref(f[p].weights, ws, r->weights, 1.0));
        }
        if (f[p].lse) {
            FUZZ_REQUIRE(fz_all_finite(f[p].lse, ls, 1));
            require_close("lse/ref", fz_rel_err_ref(f[p].lse, ls, r->lse, 1.0));
        }
    }
    if (f[0].weights)
        require_close("weights fused/mat",
                      fz_rel_err(f[0].weights, ws, f[1].weights, ws, 1.0));
    if (f[0].lse)
        require_close("lse fused/mat", fz_rel_err(f[0].lse, ls, f[1].lse, ls, 1.0));
}

/* attn_sdpa_scores: the masked scaled scores of the reference (r: NULL
 * unless the case is finite). */
static void check_scores(const sdpa_case *c, const ref_out *r)
{
    const attn_sdpa_desc *d = &c->d;
    const fz_shape sh = fz_dense(d->batch, d->q_heads, d->q_len, d->kv_len);
    const size_t n = fz_numel(sh);
    float *s = fz_alloc(n * sizeof *s, (c->flags & FLAG_GUARD) != 0);
    fz_poison(s, n);
    FUZZ_REQUIRE(attn_sdpa_scores(&c->lib, c->q, c->lib_k, s) == ATTN_OK);
    FUZZ_REQUIRE(sdpa_case_inputs_intact(c));
    for (size_t i = 0; i < n; ++i)
        FUZZ_REQUIRE(!fz_is_poison(s[i]));
    if (r != NULL) {
        FUZZ_REQUIRE(fz_all_finite(s, sh, 1));
        require_close("scores/ref", fz_rel_err_ref(s, sh, r->scores, 1.0));
    }
    fz_free(s);
}

void sdpa_check_forward(const sdpa_case *c, sdpa_fwd fwd[2])
{
    const int want_lse = (c->flags & (FLAG_LSE | FLAG_BACKWARD)) != 0;
    /* The library's choice first: the decoding path for few query rows
     * without weights, else the fused one (which the backward check runs
     * explicitly). */
    const attn_algo algos[2] = {ATTN_ALGO_AUTO, ATTN_ALGO_MATERIALIZED};
    const attn_sdpa_desc *d = &c->d;
    attn_status st[2];
    for (int p = 0; p < 2; ++p) {
        fwd_alloc(c, &fwd[p], want_lse);
        st[p] = run(c, algos[p], c->threads, 1, &fwd[p]);
        /* The case is valid by construction. */
        FUZZ_REQUIRE(st[p] == ATTN_OK);
        FUZZ_REQUIRE(sdpa_case_inputs_intact(c));
        FUZZ_REQUIRE(fz_gaps_untouched_mark(fwd[p].out, c->o_mark,
                                            fz_span(c->os)));
        check_masked_rows(c, &fwd[p]);
    }
    FUZZ_REQUIRE(st[0] == st[1]);

    /* The allocating call on another thread count, bit-identical (results
     * depend neither on the thread count nor on who provides the
     * workspace): on one path, for the cases that ask. */
    if (c->rerun) {
        const int p = c->rerun_path;
        sdpa_fwd again;
        fwd_alloc(c, &again, want_lse);
        FUZZ_REQUIRE(run(c, algos[p], c->threads > 1 ? 1 : 2, 0, &again) ==
                     ATTN_OK);
        FUZZ_REQUIRE(same_bits(again.out, fwd[p].out, fz_span(c->os)));
        FUZZ_REQUIRE(same_bits(again.weights, fwd[p].weights,
                               rows_of(d) * (size_t)d->kv_len));
        FUZZ_REQUIRE(same_bits(again.lse, fwd[p].lse, rows_of(d)));
        sdpa_fwd_free(&again);
    }

    if (c->finite) {
        ref_out r;
        ref_compute(c, want_lse, &r);
        compare(c, fwd, &r);
        check_scores(c, &r);
        ref_free(&r);
    } else {
        check_scores(c, NULL);
    }
}
