/* Layer forward and backward: three projections, attention through
 * (B, T, H, dh) strides, the output projection. */
#include <stdlib.h>
#include <string.h>

#include <attention/linear.h>
#include <attention/sdpa_backward.h>

#include "layout.h"
#include "mha_impl.h"

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
    if (!attn_mul_size((size_t)(st->batch * st->q_len), (size_t)st->embed_dim, &n) ||
        !attn_mul_size(n, f, &b->query) ||
        !attn_mul_size((size_t)(st->batch * st->kv_len), (size_t)st->kdim, &n) ||
        !attn_mul_size(n, f, &b->key) ||
        !attn_mul_size((size_t)(st->batch * st->kv_len), (size_t)st->vdim, &n) ||
        !attn_mul_size(n, f, &b->value))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
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
                             const attn_mha_masks *masks, const float *query,
                             const float *key, const float *value, float *out,
                             float *attn_weights, int average_weights)
{
    if (layer == NULL || state == NULL || query == NULL || key == NULL ||
        value == NULL || out == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (!state_fits(state, layer))
        return ATTN_ERR_BAD_ARGUMENT;
    attn_mha_state *st = state;
    attn_sdpa_desc d;
    io_bytes io;
    size_t ws, weights_bytes;
    attn_status s;
    if ((s = attn_mha_desc(st, masks, &d)) ||
        (s = attn_sdpa_workspace_size(&d, &ws)) || (s = io_sizes(st, &io)))
        return s;
    const int64_t B = st->batch, E = st->embed_dim, H = st->num_heads;
    const size_t per_head = (size_t)(B * st->q_len) * (size_t)st->kv_len;
    if (!attn_mul_size(per_head, sizeof(float) * (average_weights ? 1 : (size_t)H),
                       &weights_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    const attn_range outputs[] = {attn_range_of(out, io.query),
                                  attn_range_of(attn_weights, weights_bytes)};
    const attn_range inputs[] = {attn_range_of(query, io.query),
                                 attn_range_of(key, io.key),
                                 attn_range_of(value, io.value)};
    if (attn_outputs_alias(outputs, 2, inputs, 3))
        return ATTN_ERR_ALIASING;

    float *head_weights = average_weights ? NULL : attn_weights;
    if (attn_weights && average_weights) {
        if (st->head_weights == NULL &&
            (st->head_weights = malloc(per_head * (size_t)H * sizeof(float))) == NULL)
            return ATTN_ERR_OUT_OF_MEMORY;
        head_weights = st->head_weights;
    }

    st->has_forward = 0;
    const attn_mha *m = layer;
    const int64_t rows_q = B * st->q_len, rows_k = B * st->kv_len;
    if ((s = attn_linear_forward(query, m->w.wq, m->w.bq, st->q, rows_q, E, E)) ||
        (s = attn_linear_forward(key, m->w.wk, m->w.bk, st->k, rows_k, m->kdim, E)) ||
        (s = attn_linear_forward(value, m->w.wv, m->w.bv, st->v, rows_k, m->vdim, E)) ||
        (s = attn_sdpa_forward_ws(&d, st->q, st->k, st->v, st->attn, head_weights,
                                  st->lse, st->workspace, st->workspace_bytes)) ||
        (s = attn_linear_forward(st->attn, m->w.wo, m->w.bo, out, rows_q, E, E)))
        return s;
    if (attn_weights && average_weights)
        average_heads(st, attn_weights);
    memset(&st->masks, 0, sizeof st->masks);
    if (masks)
        st->masks = *masks;
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
    if (!state_fits(state, layer) || !state->has_forward)
        return ATTN_ERR_BAD_ARGUMENT;
    attn_mha_state *st = state;
    attn_sdpa_desc d;
    io_bytes io;
    attn_status s;
    if ((s = attn_mha_desc(st, &st->masks, &d)) || (s = io_sizes(st, &io)))
        return s;
    /* The input gradients may share one buffer (self-attention), but none
     * may overlap what the backward reads. */
    const attn_range inputs[] = {attn_range_of(query, io.query),
                                 attn_range_of(key, io.key),
                                 attn_range_of(value, io.value),
                                 attn_range_of(dout, io.query)};
    const attn_range dq = attn_range_of(dquery, io.query),
                     dk = attn_range_of(dkey, io.key),
                     dv = attn_range_of(dvalue, io.value);
    if (attn_outputs_alias(&dq, 1, inputs, 4) ||
        attn_outputs_alias(&dk, 1, inputs, 4) ||
        attn_outputs_alias(&dv, 1, inputs, 4))
        return ATTN_ERR_ALIASING;

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
    if ((s = attn_linear_backward(st->attn, m->w.wo, dout, st->dattn, g->wo,
                                  g->bo, rows_q, E, E)) ||
        (s = attn_sdpa_backward_ws(&d, st->q, st->k, st->v, st->attn, st->lse,
                                   st->dattn, st->dq, st->dk, st->dv, NULL,
                                   st->workspace, st->workspace_bytes)) ||
        (s = attn_linear_backward(query, m->w.wq, st->dq, dquery, g->wq, g->bq,
                                  rows_q, E, E)) ||
        (s = attn_linear_backward(key, m->w.wk, st->dk, dkey, g->wk, g->bk,
                                  rows_k, m->kdim, E)) ||
        (s = attn_linear_backward(value, m->w.wv, st->dv, dvalue, g->wv, g->bv,
                                  rows_k, m->vdim, E)))
        return s;
    return ATTN_OK;
}
