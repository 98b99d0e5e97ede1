/* Layer forward and backward: three projections, attention through
 * (B, T, H, dh) strides, the output projection. Each call checks all of
 * its steps before its first write, then runs them unchecked
 * (linear_run.h, sdpa_run.h), so a call that fails has written nothing. */
#include <stdlib.h>
#include <string.h>

#include "plan/desc.h"
#include "plan/layout.h"
#include "api/linear_run.h"
#include "layer/mha_impl.h"
#include "api/sdpa_run.h"

static int state_fits(const attn_mha_state *st, const attn_mha *m)
{
    return st->embed_dim == m->embed_dim && st->num_heads == m->num_heads &&
           st->kdim == m->kdim && st->vdim == m->vdim;
}

/* Byte sizes of the (B, Tq, E), (B, Tk, kdim), (B, Tk, vdim) tensors;
 * they fit size_t since the state holds buffers at least as large, except
 * for kdim/vdim > E, checked here. */
typedef struct io_bytes {
    size_t query, key, value;
} io_bytes;

static attn_status io_sizes(const attn_mha_state *st, io_bytes *b)
{
    const size_t f = sizeof(float);
    size_t n;
    if (!attni_mul_size((size_t)(st->batch * st->q_len), (size_t)st->embed_dim, &n) ||
        !attni_mul_size(n, f, &b->query) ||
        !attni_mul_size((size_t)(st->batch * st->kv_len), (size_t)st->kdim, &n) ||
        !attni_mul_size(n, f, &b->key) ||
        !attni_mul_size((size_t)(st->batch * st->kv_len), (size_t)st->vdim, &n) ||
        !attni_mul_size(n, f, &b->value))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

/* What no layer call may write through: the layer's parameters and
 * gradients, the state's buffers and the call's masks. */
enum { R_PARAMS, R_GRADS, R_STATE, R_WORKSPACE, R_HEAD_WEIGHTS, R_KEEP,
       R_BIAS, R_KV_LENS, R_ALIBI, R_COUNT };

static void protected_ranges(const attn_mha *m, const attn_mha_state *st,
                             const sdpa_plan *p, attn_range r[R_COUNT])
{
    const size_t bytes = m->total * sizeof(float);
    attn_range masks[ATTN_SDPA_INPUTS];
    attni_sdpa_input_ranges(p, NULL, NULL, NULL, masks);
    r[R_PARAMS] = attni_range_of(m->storage, bytes);
    r[R_GRADS] = attni_range_of(m->storage + m->total, bytes);
    r[R_STATE] = attni_range_of(st->block, st->block_bytes);
    r[R_WORKSPACE] = attni_range_of(st->workspace, st->workspace_bytes);
    r[R_HEAD_WEIGHTS] = attni_range_of(st->head_weights, st->head_weights_bytes);
    r[R_KEEP] = masks[3];
    r[R_BIAS] = masks[4];
    r[R_KV_LENS] = masks[5];
    r[R_ALIBI] = masks[7];
}

/* The plan of a call of this layer with these (loaded) options. */
static attn_status plan_call(const attn_mha *m, const attn_mha_state *st,
                             const attn_mha_options *o, sdpa_plan *p)
{
    attn_sdpa_desc d;
    attn_status s = attni_mha_desc(st, o, m->w.sinks, &d);
    return s ? s : attni_sdpa_plan_make(&d, p);
}

/* weights (B, Tq, Tk) = mean over h of head_weights (B, H, Tq, Tk). */
static void average_heads(const attn_mha_state *st, float *weights)
{
    const int64_t H = st->num_heads, n = st->q_len * st->kv_len;
    const float inv = 1.0f / (float)H;
    for (int64_t b = 0; b < st->batch; ++b) {
        const float *src = st->head_weights + b * H * n;
        float *dst = weights + b * n;
        for (int64_t i = 0; i < n; ++i) {
            float sum = 0.0f;
            for (int64_t h = 0; h < H; ++h)
                sum += src[h * n + i];
            dst[i] = sum * inv;
        }
    }
}

attn_status attn_mha_forward(const attn_mha *layer, attn_mha_state *state,
                             const attn_mha_options *options,
                             const float *query, const float *key,
                             const float *value, float *out,
                             float *attn_weights, int average_weights)
{
    if (layer == NULL || state == NULL || query == NULL || key == NULL ||
        value == NULL || out == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (!state_fits(state, layer))
        return ATTN_ERR_BAD_ARGUMENT;
    attn_mha_state *st = state;
    attn_mha_options o;
    sdpa_plan p;
    io_bytes io;
    size_t weights_bytes;
    attn_status s;
    if ((s = attni_mha_options_load(options, st->kv_len, &o)) ||
        (s = plan_call(layer, st, &o, &p)) || (s = io_sizes(st, &io)))
        return s;
    const int64_t B = st->batch, E = st->embed_dim, H = st->num_heads;
    const size_t per_head = (size_t)(B * st->q_len) * (size_t)st->kv_len;
    if (!attni_mul_size(per_head, sizeof(float) * (average_weights ? 1 : (size_t)H),
                       &weights_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    attn_range guarded[3 + R_COUNT] = {attni_range_of(query, io.query),
                                       attni_range_of(key, io.key),
                                       attni_range_of(value, io.value)};
    protected_ranges(layer, st, &p, guarded + 3);
    const attn_range outputs[] = {attni_range_of(out, io.query),
                                  attni_range_of(attn_weights, weights_bytes)};
    if (attni_outputs_alias(outputs, 2, guarded, 3 + R_COUNT))
        return ATTN_ERR_ALIASING;

    float *head_weights = average_weights ? NULL : attn_weights;
    if (attn_weights && average_weights) {
        const size_t n = per_head * (size_t)H * sizeof(float);
        if (st->head_weights == NULL &&
            (st->head_weights = malloc(n)) == NULL)
            return ATTN_ERR_OUT_OF_MEMORY;
        st->head_weights_bytes = n;
        head_weights = st->head_weights;
    }
    int threads;
    if ((s = attni_sdpa_forward_check(&p, st->q, st->k, st->v, st->attn,
                                     head_weights, st->lse, st->workspace,
                                     st->workspace_bytes, &threads)))
        return s;

    /* Nothing can fail from here on. */
    const attn_mha *m = layer;
    const int64_t rows_q = B * st->q_len, rows_k = B * st->kv_len;
    attni_linear_forward_run(query, m->w.wq, m->w.bq, st->q, rows_q, E, E);
    attni_linear_forward_run(key, m->w.wk, m->w.bk, st->k, rows_k, m->kdim, E);
    attni_linear_forward_run(value, m->w.wv, m->w.bv, st->v, rows_k, m->vdim, E);
    attni_sdpa_forward_run(&p, threads, st->q, st->k, st->v, st->attn,
                          head_weights, st->lse, st->workspace);
    attni_linear_forward_run(st->attn, m->w.wo, m->w.bo, out, rows_q, E, E);
    if (attn_weights && average_weights)
        average_heads(st, attn_weights);
    st->options = o;
    st->layer = layer;
    st->has_forward = 1;
    return ATTN_OK;
}

attn_status attn_mha_backward(attn_mha *layer, attn_mha_state *state,
                              const float *query, const float *key,
                              const float *value, const float *dout,
                              float *dquery, float *dkey, float *dvalue)
{
    if (layer == NULL || state == NULL || query == NULL || key == NULL ||
        value == NULL || dout == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (!state_fits(state, layer) || !state->has_forward ||
        state->layer != layer)
        return ATTN_ERR_BAD_ARGUMENT;
    attn_mha_state *st = state;
    sdpa_plan p;
    io_bytes io;
    attn_status s;
    if ((s = plan_call(layer, st, &st->options, &p)) || (s = io_sizes(st, &io)))
        return s;
    /* The input gradients may share one buffer (self-attention), but none
     * may overlap what the backward reads or the layer's own tensors; and
     * nothing the backward reads may overlap the gradients it adds to. */
    attn_range guarded[4 + R_COUNT] = {attni_range_of(query, io.query),
                                       attni_range_of(key, io.key),
                                       attni_range_of(value, io.value),
                                       attni_range_of(dout, io.query)};
    protected_ranges(layer, st, &p, guarded + 4);
    const attn_range dq = attni_range_of(dquery, io.query),
                     dk = attni_range_of(dkey, io.key),
                     dv = attni_range_of(dvalue, io.value);
    const attn_range read[] = {guarded[0], guarded[1], guarded[2], guarded[3],
                               guarded[4 + R_KEEP], guarded[4 + R_BIAS],
                               guarded[4 + R_KV_LENS], guarded[4 + R_ALIBI]};
    if (attni_outputs_alias(&dq, 1, guarded, 4 + R_COUNT) ||
        attni_outputs_alias(&dk, 1, guarded, 4 + R_COUNT) ||
        attni_outputs_alias(&dv, 1, guarded, 4 + R_COUNT) ||
        attni_outputs_alias(&guarded[4 + R_GRADS], 1, read, 8))
        return ATTN_ERR_ALIASING;
    int threads;
    if ((s = attni_sdpa_backward_check(&p, st->q, st->k, st->v, st->attn,
                                      st->lse, st->dattn, st->dq, st->dk,
                                      st->dv, NULL, st->workspace,
                                      st->workspace_bytes, &threads)))
        return s;

    /* Nothing can fail from here on. */
    const int64_t B = st->batch, E = st->embed_dim;
    const int64_t rows_q = B * st->q_len, rows_k = B * st->kv_len;
    const size_t nq = (size_t)rows_q * (size_t)E * sizeof(float);
    const size_t nk = (size_t)rows_k * (size_t)E * sizeof(float);
    memset(st->dattn, 0, nq);
    memset(st->dq, 0, nq);
    memset(st->dk, 0, nk);
    memset(st->dv, 0, nk);
    const attn_mha *m = layer;
    const mha_tensors *g = &layer->g;
    attni_linear_backward_run(st->attn, m->w.wo, dout, st->dattn, g->wo, g->bo,
                             rows_q, E, E);
    attni_sdpa_backward_run(&p, threads, st->q, st->k, st->v, st->attn, st->lse,
                           st->dattn, st->dq, st->dk, st->dv, NULL,
                           st->workspace);
    if (g->sinks)
        attni_sinks_backward_run(&p, st->attn, st->lse, st->dattn, g->sinks);
    attni_linear_backward_run(query, m->w.wq, st->dq, dquery, g->wq, g->bq,
                             rows_q, E, E);
    attni_linear_backward_run(key, m->w.wk, st->dk, dkey, g->wk, g->bk, rows_k,
                             m->kdim, E);
    attni_linear_backward_run(value, m->w.wv, st->dv, dvalue, g->wv, g->bv,
                             rows_k, m->vdim, E);
    return ATTN_OK;
}
