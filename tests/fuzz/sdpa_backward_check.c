/* fuzz_sdpa, backward stage: both paths from their own forwards. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/sdpa_backward.h>

#include "sdpa_checks.h"

typedef struct grads {
    float *dq, *dk, *dv, *dbias; /* spans of q, k, v and bias layouts */
} grads;

/* Zero on the tensor's elements, poison in its gaps (mark: the layout's). */
static float *grad_buffer(fz_shape sh, const uint8_t *mark, int guard)
{
    const size_t n = fz_span(sh);
    float *x = fz_alloc(n * sizeof *x, guard);
    fz_poison(x, n);
    for (size_t i = 0; i < n; ++i)
        if (mark[i])
            x[i] = 0.0f;
    return x;
}

static void grads_alloc(const sdpa_case *c, grads *g)
{
    const int guard = (c->flags & FLAG_GUARD) != 0;
    g->dq = grad_buffer(c->qs, c->q_mark, guard);
    g->dk = grad_buffer(c->ks, c->k_mark, guard);
    g->dv = grad_buffer(c->vs, c->v_mark, guard);
    g->dbias = grad_buffer(c->bias_sh, c->bias_mark, guard);
}

static void grads_free(grads *g)
{
    fz_free(g->dq);
    fz_free(g->dk);
    fz_free(g->dv);
    fz_free(g->dbias);
}

static attn_status run(const sdpa_case *c, attn_algo algo, int threads,
                       int with_ws, const sdpa_fwd *f, grads *g)
{
    attn_sdpa_desc d = c->d;
    d.algo = algo;
    d.num_threads = threads;
    if (!with_ws)
        return attn_sdpa_backward(&d, c->q, c->k, c->v, f->out, f->lse,
                                  c->dout, g->dq, g->dk, g->dv, g->dbias);
    size_t need = 0;
    FUZZ_REQUIRE(attn_sdpa_backward_workspace_size(&d, &need) == ATTN_OK);
    void *ws = fz_alloc(need > 0 ? need : 1, (c->flags & FLAG_GUARD) != 0);
    attn_status s = attn_sdpa_backward_ws(&d, c->q, c->k, c->v, f->out, f->lse,
                                          c->dout, g->dq, g->dk, g->dv,
                                          g->dbias, ws, need);
    fz_free(ws);
    return s;
}

static void check_gaps(const sdpa_case *c, const grads *g)
{
    FUZZ_REQUIRE(fz_gaps_untouched_mark(g->dq, c->q_mark, fz_span(c->qs)));
    FUZZ_REQUIRE(fz_gaps_untouched_mark(g->dk, c->k_mark, fz_span(c->ks)));
    FUZZ_REQUIRE(fz_gaps_untouched_mark(g->dv, c->v_mark, fz_span(c->vs)));
    FUZZ_REQUIRE(fz_gaps_untouched_mark(g->dbias, c->bias_mark,
                                        fz_span(c->bias_sh)));
}

static int same_bits(const float *a, const float *b, fz_shape sh)
{
    return memcmp(a, b, fz_span(sh) * sizeof *a) == 0;
}

static void require_close(const char *what, double err)
{
    if (fuzz_verbose())
        fprintf(stderr, "sdpa %-22s %.3g\n", what, err);
    FUZZ_REQUIRE(err <= SDPA_TOL);
}

/*
 * Fused against materialised. Floors: the size of the terms each gradient
 * sums (dv: P dout; dbias: dS ~ dout . v; dq: scale dS k; dk: scale dS q),
 * so that a gradient that cancels to ~0 is held to an absolute error.
 */
static void compare(const sdpa_case *c, const grads g[2])
{
    const double mq = fz_max_abs(c->q, c->qs), mk = fz_max_abs(c->k, c->ks);
    const double mv = fz_max_abs(c->v, c->vs), mo = fz_max_abs(c->dout, c->os);
    const double s = c->d.scale, tiny = 1e-30;
    for (int p = 0; p < 2; ++p) {
        FUZZ_REQUIRE(fz_all_finite(g[p].dq, c->qs, 0));
        FUZZ_REQUIRE(fz_all_finite(g[p].dk, c->ks, 0));
        FUZZ_REQUIRE(fz_all_finite(g[p].dv, c->vs, 0));
        FUZZ_REQUIRE(fz_all_finite(g[p].dbias, c->bias_sh, 0));
    }
    require_close("dq fused/mat", fz_rel_err(g[0].dq, c->qs, g[1].dq, c->qs,
                                             s * mo * mv * mk + tiny));
    require_close("dk fused/mat", fz_rel_err(g[0].dk, c->ks, g[1].dk, c->ks,
                                             s * mo * mv * mq + tiny));
    require_close("dv fused/mat", fz_rel_err(g[0].dv, c->vs, g[1].dv, c->vs,
                                             mo + tiny));
    require_close("dbias fused/mat",
                  fz_rel_err(g[0].dbias, c->bias_sh, g[1].dbias, c->bias_sh,
                             mo * mv + tiny));
}

/* Every element of the strided tensor is zero. */
static int all_zero(const float *x, fz_shape sh)
{
    for (int64_t a = 0; a < sh.n0; ++a)
        for (int64_t b = 0; b < sh.n1; ++b)
            for (int64_t t = 0; t < sh.n2; ++t)
                if (!fz_all_zero(x + fz_at(sh, a, b, t, 0), (size_t)sh.last))
                    return 0;
    return 1;
}

/*
 * Fully masked rows take part in no product (sdpa_backward.h): their dq
 * rows stay zero even when a key they cannot see, or their own dout,
 * holds NaN (the bug corpus/sdpa/regress-masked-row-nan found: NaN
 * through 0 * NaN); when every row is masked, dk, dv and dbias are zero
 * too, whatever NaN q holds.
 */
static void check_masked_rows(const sdpa_case *c, const grads *g)
{
    const attn_sdpa_desc *d = &c->d;
    const size_t rows = (size_t)(d->batch * d->q_heads * d->q_len);
    size_t masked = 0;
    for (size_t r = 0; r < rows; ++r)
        masked += c->masked[r];
    if (masked == rows) {
        FUZZ_REQUIRE(all_zero(g->dq, c->qs));
        FUZZ_REQUIRE(all_zero(g->dk, c->ks));
        FUZZ_REQUIRE(all_zero(g->dv, c->vs));
        FUZZ_REQUIRE(all_zero(g->dbias, c->bias_sh));
        return;
    }
    if (c->qs.s.batch == 0 && d->batch > 1)
        return; /* rows shared between batches */
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h)
            for (int64_t i = 0; i < d->q_len; ++i)
                if (sdpa_row_masked(c, b, h, i))
                    for (int64_t x = 0; x < d->head_dim; ++x) {
                        const float v = g->dq[fz_at(c->qs, b, h, i, x)];
                        if (v != 0.0f && fuzz_verbose())
                            fprintf(stderr, "dq[%ld,%ld,%ld,%ld] = %g in a "
                                    "masked row\n", (long)b, (long)h,
                                    (long)i, (long)x, (double)v);
                        FUZZ_REQUIRE(v == 0.0f);
                    }
}

/* The backward takes fp32 K and V in tensors only: a cache case's own
 * descriptor gives ATTN_ERR_BAD_DTYPE (16-bit storage) or
 * ATTN_ERR_BAD_ARGUMENT (pages; either one when both), nothing written. */
static void check_refused(const sdpa_case *c, const sdpa_fwd *f)
{
    const int bad_type = c->lib.kv_dtype != ATTN_DTYPE_F32;
    const int paged = c->lib.block_table != NULL;
    attn_sdpa_desc d = c->lib;
    d.num_threads = c->threads;
    grads g;
    grads_alloc(c, &g);
    size_t bytes = 0;
    const attn_status s[2] = {
        attn_sdpa_backward_workspace_size(&d, &bytes),
        attn_sdpa_backward(&d, c->q, c->lib_k, c->lib_v, f->out, f->lse,
                           c->dout, g.dq, g.dk, g.dv, g.dbias)};
    for (int i = 0; i < 2; ++i)
        FUZZ_REQUIRE((bad_type && s[i] == ATTN_ERR_BAD_DTYPE) ||
                     (paged && s[i] == ATTN_ERR_BAD_ARGUMENT));
    FUZZ_REQUIRE(bytes == 0);
    FUZZ_REQUIRE(sdpa_case_inputs_intact(c));
    /* zeros on the elements as allocated, poison in the gaps */
    FUZZ_REQUIRE(all_zero(g.dq, c->qs) && all_zero(g.dk, c->ks) &&
                 all_zero(g.dv, c->vs) && all_zero(g.dbias, c->bias_sh));
    check_gaps(c, &g);
    grads_free(&g);
}

void sdpa_check_backward(const sdpa_case *c, const sdpa_fwd fwd[2])
{
    if (c->cache) {
        check_refused(c, &fwd[0]);
        return;
    }
    const attn_algo algos[2] = {ATTN_ALGO_FUSED, ATTN_ALGO_MATERIALIZED};
    /* With a batch stride of 0 in q, k or v the library itself runs the
     * backward on one thread (sdpa_backward.h). */
    const int threads = c->threads;
    grads g[2];
    for (int p = 0; p < 2; ++p) {
        grads_alloc(c, &g[p]);
        FUZZ_REQUIRE(run(c, algos[p], threads, 1, &fwd[p], &g[p]) == ATTN_OK);
        FUZZ_REQUIRE(sdpa_case_inputs_intact(c));
        check_gaps(c, &g[p]);
        check_masked_rows(c, &g[p]);
    }
    if (c->finite && c->dout_finite)
        compare(c, g);

    /* Bit-identical for another thread count (and the allocating call),
     * on one path, for the cases that ask. */
    if (c->rerun) {
        const int p = c->rerun_path;
        grads again;
        grads_alloc(c, &again);
        FUZZ_REQUIRE(run(c, algos[p], threads == 1 ? 2 : 1, 0, &fwd[p],
                         &again) == ATTN_OK);
        FUZZ_REQUIRE(same_bits(again.dq, g[p].dq, c->qs));
        FUZZ_REQUIRE(same_bits(again.dk, g[p].dk, c->ks));
        FUZZ_REQUIRE(same_bits(again.dv, g[p].dv, c->vs));
        FUZZ_REQUIRE(same_bits(again.dbias, g[p].dbias, c->bias_sh));
        grads_free(&again);
    }
    grads_free(&g[0]);
    grads_free(&g[1]);
}
