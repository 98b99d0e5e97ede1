/*
 * Backward entry points: plans, workspaces and checks, then the fused
 * (attention/fused_backward.c) or the materialised path
 * (attention/materialized_backward.c).
 */
#include <attention/sdpa_backward.h>

#include <stdlib.h>

#include "api/sdpa_run.h"
#include "attention/block.h"
#include "attention/fused.h"
#include "attention/materialized.h"
#include "plan/desc.h"
#include "plan/layout.h"
#include "plan/packed.h"

/* The backward's workspace with the tiles blas_threads gives.
 * Materialised: two (ATTN_MATERIALIZED_ROWS, Tk) tiles, P and dS, on one thread.
 * Fused: see fused_backward.c. */
static attn_status backward_shape(const sdpa_plan *p, int blas_threads,
                                  attn_ws_shape *shape)
{
    if (p->d.algo != ATTN_ALGO_MATERIALIZED)
        return attni_fused_backward_shape(p, blas_threads, shape);
    shape->per_thread = 0;
    return attni_mul_size(p->tile_bytes, p->d.softcap > 0.0f ? 3 : 2, &shape->shared)
               ? ATTN_OK : ATTN_ERR_SIZE_OVERFLOW;
}

/* Room for `threads` threads whichever tiles the call will take. */
static attn_status backward_bytes(const sdpa_plan *p, int threads,
                                  size_t *bytes)
{
    attn_ws_shape a, b;
    attn_status s;
    if ((s = backward_shape(p, 0, &a)) || (s = backward_shape(p, 1, &b)))
        return s;
    return attni_ws_bytes(attni_ws_shape_max(a, b), threads, bytes);
}

/* The backward's plan: fp32 K and V in tensors of their own (gradients
 * share their layout), no storage types, no pages. */
static attn_status backward_plan(const attn_sdpa_desc *desc, sdpa_plan *p)
{
    attn_status s = attni_sdpa_plan_make(desc, p);
    if (s)
        return s;
    if (p->d.kv_dtype != ATTN_DTYPE_F32)
        return ATTN_ERR_BAD_DTYPE;
    return p->d.block_table ? ATTN_ERR_BAD_ARGUMENT : ATTN_OK;
}

attn_status attn_sdpa_backward_workspace_size(const attn_sdpa_desc *desc,
                                              size_t *bytes)
{
    sdpa_plan p;
    attn_status s;
    if (bytes == NULL)
        return ATTN_ERR_NULL_POINTER;
    if ((s = backward_plan(desc, &p)))
        return s;
    return backward_bytes(&p, p.threads, bytes);
}

typedef struct grads {
    float *dq, *dk, *dv, *dbias;
} grads;

static attn_status check_backward_buffers(const sdpa_plan *p, const float *q,
                                          const float *k, const float *v,
                                          const float *out, const float *lse,
                                          const float *dout, const grads *g,
                                          const void *ws, size_t ws_bytes)
{
    if (q == NULL || k == NULL || v == NULL || out == NULL || lse == NULL ||
        dout == NULL)
        return ATTN_ERR_NULL_POINTER;
    size_t dbias_bytes = 0;
    if (g->dbias && attni_packed(&p->d))
        return ATTN_ERR_BAD_ARGUMENT; /* no (B, Hq, Tq, Tk) bias to match */
    if (g->dbias) {
        attn_status s;
        if ((s = attni_check_strides(p->d.bias_strides, 1, 0)) ||
            (s = attni_sdpa_bias_bytes(&p->d, &dbias_bytes)))
            return s;
    }
    const attn_range outputs[] = {
        attni_range_of(g->dq, p->q_bytes),
        attni_range_of(g->dk, p->k_bytes),
        attni_range_of(g->dv, p->v_bytes),
        attni_range_of(g->dbias, dbias_bytes),
        attni_range_of(ws, ws_bytes),
    };
    attn_range inputs[ATTN_SDPA_INPUTS + 3];
    attni_sdpa_input_ranges(p, q, k, v, inputs);
    inputs[ATTN_SDPA_INPUTS] = attni_range_of(out, p->out_bytes);
    inputs[ATTN_SDPA_INPUTS + 1] = attni_range_of(lse, p->lse_bytes);
    inputs[ATTN_SDPA_INPUTS + 2] = attni_range_of(dout, p->out_bytes);
    if (attni_outputs_alias(outputs, 5, inputs, ATTN_SDPA_INPUTS + 3))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

/* Threads the backward runs on in a caller's workspace (attni_ws_check). */
static attn_status backward_ws_threads(const sdpa_plan *p, const void *ws,
                                       size_t ws_bytes, int *threads)
{
    attn_ws_shape shape;
    size_t least;
    attn_status s;
    if ((s = backward_bytes(p, 1, &least)) ||
        (s = backward_shape(p, p->blas_threads, &shape)))
        return s;
    return attni_ws_check(ws, ws_bytes, least, shape, p->threads, threads);
}

attn_status attni_sdpa_backward_check(const sdpa_plan *p, const float *q,
                                     const float *k, const float *v,
                                     const float *out, const float *lse,
                                     const float *dout, float *dq, float *dk,
                                     float *dv, float *dbias,
                                     const void *workspace,
                                     size_t workspace_bytes, int *threads)
{
    const grads g = {dq, dk, dv, dbias};
    attn_status s = check_backward_buffers(p, q, k, v, out, lse, dout, &g,
                                           workspace, workspace_bytes);
    return s ? s : backward_ws_threads(p, workspace, workspace_bytes, threads);
}

void attni_sdpa_backward_run(const sdpa_plan *p, int threads, const float *q,
                            const float *k, const float *v, const float *out,
                            const float *lse, const float *dout, float *dq,
                            float *dk, float *dv, float *dbias,
                            void *workspace)
{
    if (p->d.algo == ATTN_ALGO_MATERIALIZED)
        attni_materialized_backward(p, q, k, v, out, lse, dout, dq, dk, dv,
                                    dbias, workspace);
    else
        attni_fused_backward(p, threads, q, k, v, out, lse, dout, dq, dk, dv,
                            dbias, workspace);
}

attn_status attn_sdpa_backward_ws(const attn_sdpa_desc *desc, const float *q,
                                  const float *k, const float *v,
                                  const float *out, const float *lse,
                                  const float *dout, float *dq, float *dk,
                                  float *dv, float *dbias, void *workspace,
                                  size_t workspace_bytes)
{
    sdpa_plan p;
    attn_status s;
    int threads;
    if ((s = backward_plan(desc, &p)) ||
        (s = attni_sdpa_backward_check(&p, q, k, v, out, lse, dout, dq, dk, dv,
                                      dbias, workspace, workspace_bytes,
                                      &threads)))
        return s;
    attni_sdpa_backward_run(&p, threads, q, k, v, out, lse, dout, dq, dk, dv,
                           dbias, workspace);
    return ATTN_OK;
}

attn_status attn_sdpa_backward(const attn_sdpa_desc *desc, const float *q,
                               const float *k, const float *v,
                               const float *out, const float *lse,
                               const float *dout, float *dq, float *dk,
                               float *dv, float *dbias)
{
    sdpa_plan p;
    attn_ws_shape shape;
    attn_status s;
    size_t bytes;
    const grads g = {dq, dk, dv, dbias};
    if ((s = backward_plan(desc, &p)) ||
        (s = check_backward_buffers(&p, q, k, v, out, lse, dout, &g, NULL, 0)) ||
        (s = backward_shape(&p, p.blas_threads, &shape)) ||
        (s = attni_ws_bytes(shape, p.threads, &bytes)))
        return s;
    void *ws = malloc(bytes);
    if (ws == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    attni_sdpa_backward_run(&p, p.threads, q, k, v, out, lse, dout, dq, dk, dv,
                           dbias, ws);
    free(ws);
    return ATTN_OK;
}
