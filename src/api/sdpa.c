/*
 * Forward entry points: plans, workspaces and checks, then the fused
 * (attention/fused_forward.c) or the materialised path
 * (attention/materialized_forward.c); and the scores on their own.
 */
#include <attention/sdpa.h>

#include <math.h>
#include <stdlib.h>

#include "api/sdpa_run.h"
#include "attention/block.h"
#include "attention/decode.h"
#include "attention/fused.h"
#include "attention/materialized.h"
#include "plan/desc.h"
#include "plan/packed.h"
#include "plan/layout.h"

/* The path a forward takes: the descriptor's, and whether the call wants
 * the weights (the decoding path does not write them). */
typedef enum fwd_path { PATH_FUSED, PATH_MATERIALIZED, PATH_DECODE } fwd_path;

static fwd_path forward_path(const sdpa_plan *p, int want_weights)
{
    if (p->d.algo == ATTN_ALGO_MATERIALIZED)
        return PATH_MATERIALIZED;
    return attni_decode_applies(p) && !want_weights ? PATH_DECODE : PATH_FUSED;
}

/* A path's workspace with the tiles blas_threads gives. */
static attn_status forward_shape(const sdpa_plan *p, fwd_path path,
                                 int blas_threads, attn_ws_shape *shape)
{
    if (path == PATH_FUSED)
        return attni_fused_forward_shape(p, blas_threads, shape);
    if (path == PATH_DECODE)
        return attni_decode_shape(p, shape);
    shape->shared = 0;
    shape->per_thread = p->tile_bytes + p->kv_buf_bytes;
    return ATTN_OK;
}

/* Room for `threads` threads whichever path and tiles a call with this
 * descriptor will take: the answer cannot go stale when the BLAS's
 * threading changes, and holds with or without weights. */
static attn_status forward_bytes(const sdpa_plan *p, int threads, size_t *bytes)
{
    attn_ws_shape most = {0, 0}, one;
    attn_status s;
    for (int want_weights = 0; want_weights < 2; ++want_weights)
        for (int blas = 0; blas < 2; ++blas) {
            if ((s = forward_shape(p, forward_path(p, want_weights), blas, &one)))
                return s;
            most = attni_ws_shape_max(most, one);
        }
    return attni_ws_bytes(most, threads, bytes);
}

/* Threads the forward wants. The materialised path's products are too
 * large to stay unthreaded in a threading BLAS: then one thread of ours,
 * and the BLAS's threads inside (tiles.h). */
static int forward_threads(const sdpa_plan *p, fwd_path path)
{
    return path == PATH_MATERIALIZED && p->blas_threads ? 1 : p->threads;
}

attn_status attn_sdpa_workspace_size(const attn_sdpa_desc *desc, size_t *bytes)
{
    sdpa_plan p;
    attn_status s;
    if (bytes == NULL)
        return ATTN_ERR_NULL_POINTER;
    if ((s = attni_sdpa_plan_make(desc, &p)))
        return s;
    return forward_bytes(&p, p.threads, bytes);
}

/* Everything a forward call touches, checked against each other (ws may
 * be NULL: the allocating entry point). */
static attn_status check_forward_buffers(const sdpa_plan *p, const float *q,
                                         const void *k, const void *v,
                                         float *out, float *weights,
                                         float *lse, const void *ws,
                                         size_t ws_bytes)
{
    if (q == NULL || k == NULL || v == NULL || out == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (weights && p->weights_overflow)
        return ATTN_ERR_SIZE_OVERFLOW;
    if (weights && attni_packed(&p->d))
        return ATTN_ERR_BAD_ARGUMENT; /* no (B, Hq, Tq, Tk) to fill */
    attn_status s = attni_sdpa_kv_aligned(p, k, v);
    if (s)
        return s;
    const attn_range outputs[] = {
        attni_range_of(out, p->out_bytes),
        attni_range_of(weights, p->weights_bytes),
        attni_range_of(lse, p->lse_bytes),
        attni_range_of(ws, ws_bytes),
    };
    attn_range inputs[ATTN_SDPA_INPUTS];
    attni_sdpa_input_ranges(p, q, k, v, inputs);
    if (attni_outputs_alias(outputs, 4, inputs, ATTN_SDPA_INPUTS))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

/* Threads the forward runs on in a caller's workspace (attni_ws_check). */
static attn_status forward_ws_threads(const sdpa_plan *p, fwd_path path,
                                      const void *ws, size_t ws_bytes,
                                      int *threads)
{
    attn_ws_shape shape;
    size_t least;
    attn_status s;
    if ((s = forward_bytes(p, 1, &least)) ||
        (s = forward_shape(p, path, p->blas_threads, &shape)))
        return s;
    return attni_ws_check(ws, ws_bytes, least, shape, forward_threads(p, path),
                          threads);
}

attn_status attni_sdpa_forward_check(const sdpa_plan *p, const float *q,
                                    const void *k, const void *v,
                                    float *out, float *weights, float *lse,
                                    const void *workspace,
                                    size_t workspace_bytes, int *threads)
{
    attn_status s = check_forward_buffers(p, q, k, v, out, weights, lse,
                                          workspace, workspace_bytes);
    return s ? s : forward_ws_threads(p, forward_path(p, weights != NULL),
                                      workspace, workspace_bytes, threads);
}

void attni_sdpa_forward_run(const sdpa_plan *p, int threads, const float *q,
                           const void *k, const void *v, float *out,
                           float *weights, float *lse, void *workspace)
{
    switch (forward_path(p, weights != NULL)) {
    case PATH_FUSED:
        attni_fused_forward(p, threads, q, k, v, out, weights, lse, workspace);
        break;
    case PATH_DECODE:
        attni_decode_forward(p, threads, q, k, v, out, lse, workspace);
        break;
    case PATH_MATERIALIZED:
        attni_materialized_forward(p, threads, q, k, v, out, weights, lse,
                                   workspace);
        break;
    }
}

attn_status attn_sdpa_forward_ws(const attn_sdpa_desc *desc, const float *q,
                                 const void *k, const void *v, float *out,
                                 float *weights, float *lse, void *workspace,
                                 size_t workspace_bytes)
{
    sdpa_plan p;
    attn_status s;
    int threads;
    if ((s = attni_sdpa_plan_make(desc, &p)) ||
        (s = attni_sdpa_forward_check(&p, q, k, v, out, weights, lse, workspace,
                                     workspace_bytes, &threads)))
        return s;
    attni_sdpa_forward_run(&p, threads, q, k, v, out, weights, lse, workspace);
    return ATTN_OK;
}

attn_status attn_sdpa_forward(const attn_sdpa_desc *desc, const float *q,
                              const void *k, const void *v, float *out,
                              float *weights, float *lse)
{
    sdpa_plan p;
    attn_ws_shape shape;
    attn_status s;
    size_t need;
    fwd_path path;
    if ((s = attni_sdpa_plan_make(desc, &p)) ||
        (s = check_forward_buffers(&p, q, k, v, out, weights, lse, NULL, 0)) ||
        (s = forward_shape(&p, path = forward_path(&p, weights != NULL),
                           p.blas_threads, &shape)) ||
        (s = attni_ws_bytes(shape, forward_threads(&p, path), &need)))
        return s;
    void *ws = malloc(need);
    if (ws == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    attni_sdpa_forward_run(&p, forward_threads(&p, path), q, k, v, out,
                           weights, lse, ws);
    free(ws);
    return ATTN_OK;
}

/* Scores of rows [i0, i0 + m) of pair o against keys [kb, kb + n): by
 * sgemm on an fp32 tensor, else row by row from the widened keys (this
 * call has no workspace to widen a tile into). */
static void scores_block(const sdpa_plan *p, const head_offsets *o,
                         const kv_source *ks, const float *q, int64_t i0,
                         int64_t m, int64_t kb, int64_t n, float *S,
                         int64_t ld)
{
    const attn_sdpa_desc *d = &p->d;
    if (p->kv_direct) {
        const kv_tile kt = attni_kv_tile(p, ks, kb, n, d->head_dim, NULL);
        attni_score_tile(p, o, q, kt.rows, kt.ld, i0, m, kb, n, S, ld, NULL);
        return;
    }
    const void *rows[ATTN_DECODE_KEYS];
    for (int64_t j0 = kb; j0 < kb + n; j0 += ATTN_DECODE_KEYS) {
        const int64_t len = kb + n - j0 < ATTN_DECODE_KEYS ? kb + n - j0 : ATTN_DECODE_KEYS;
        attni_kv_rows(ks, j0, len, rows);
        for (int64_t r = 0; r < m; ++r) {
            float *row = S + r * ld + (j0 - kb);
            p->kernels->dot_rows[d->kv_dtype](
                q + o->q + (i0 + r) * d->q_strides.row, 1, d->head_dim, rows,
                len, d->scale, row, 1, NULL);
            attni_mask_scores(p, o, i0 + r, j0, len, row, NULL);
        }
    }
}

attn_status attn_sdpa_scores(const attn_sdpa_desc *desc, const float *q,
                             const void *k, float *scores)
{
    sdpa_plan p;
    attn_status s;
    if ((s = attni_sdpa_plan_make(desc, &p)))
        return s;
    if (q == NULL || k == NULL || scores == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (attni_packed(&p.d))
        return ATTN_ERR_BAD_ARGUMENT;
    if (p.weights_overflow)
        return ATTN_ERR_SIZE_OVERFLOW;
    if ((s = attni_sdpa_kv_aligned(&p, k, k)))
        return s;
    const attn_range outputs[] = {attni_range_of(scores, p.weights_bytes)};
    attn_range inputs[ATTN_SDPA_INPUTS];
    attni_sdpa_input_ranges(&p, q, k, NULL, inputs);
    if (attni_outputs_alias(outputs, 1, inputs, ATTN_SDPA_INPUTS))
        return ATTN_ERR_ALIASING;

    const attn_sdpa_desc *d = &p.d;
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h) {
            const head_offsets o = attni_head_offsets(&p, b, h);
            const kv_source ks = attni_kv_source(d, k, d->k_strides, b, h / p.group);
            float *bh_scores = scores + (b * d->q_heads + h) * d->q_len * d->kv_len;
            for (int64_t i0 = 0; i0 < d->q_len; i0 += ATTN_MATERIALIZED_ROWS) {
                const int64_t m = attni_block_rows(&o, i0);
                const attn_key_range keys = attni_block_keys(d, &o, i0, i0 + m - 1);
                float *S = bh_scores + i0 * d->kv_len;
                scores_block(&p, &o, &ks, q, i0, m, keys.begin,
                             keys.end - keys.begin, S + keys.begin, d->kv_len);
                for (int64_t r = 0; r < m; ++r)
                    for (int64_t j = 0; j < d->kv_len; ++j)
                        if (j < keys.begin || j >= keys.end)
                            S[r * d->kv_len + j] = -INFINITY;
            }
        }
    return ATTN_OK;
}
