/* Activations of a layer call, sized once for (B, Tq, Tk). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <attention/sdpa_backward.h>

#include "plan/layout.h"
#include "layer/mha_impl.h"

attn_status attni_mha_desc(const attn_mha_state *st,
                          const attn_mha_options *o, const float *sinks,
                          attn_sdpa_desc *d)
{
    const int64_t E = st->embed_dim, H = st->num_heads, dh = E / H;
    attn_status s = attn_sdpa_desc_init(d, st->batch, H, H, st->q_len,
                                        st->kv_len, dh, dh);
    if (s != ATTN_OK)
        return s;
    /* (B, T, H, dh) views of the (B, T, E) projections. */
    const attn_strides q = {st->q_len * E, dh, E}, kv = {st->kv_len * E, dh, E};
    d->q_strides = q;
    d->out_strides = q;
    d->k_strides = kv;
    d->v_strides = kv;
    d->causal = o->causal;
    d->kv_lens = o->kv_lens;
    d->keep_mask = o->keep_mask;
    d->keep_strides = o->keep_strides;
    d->bias = o->bias;
    d->bias_strides = o->bias_strides;
    d->num_threads = o->num_threads;
    d->algo = o->algo;
    d->window_left = o->window_left;
    d->window_right = o->window_right;
    d->alibi_slopes = o->alibi_slopes;
    d->alibi_batch_stride = o->alibi_batch_stride;
    d->softcap = o->softcap;
    d->sinks = sinks;
    return ATTN_OK;
}

/* Workspace bytes for every call the state can meet: either algorithm,
 * forward or backward, with or without the softcap (its backward keeps one
 * more tile), whatever the BLAS's threading (the size queries answer for
 * both tile choices). */
static attn_status workspace_bytes(const attn_mha_state *st, size_t *bytes)
{
    static const attn_algo algos[] = {ATTN_ALGO_FUSED, ATTN_ALGO_MATERIALIZED};
    attn_mha_options o;
    attn_sdpa_desc d;
    attn_status s;
    *bytes = 0;
    for (size_t a = 0; a < 2 * sizeof algos / sizeof algos[0]; ++a) {
        size_t fwd, bwd;
        attni_mha_options_load(NULL, st->kv_len, &o);
        o.algo = algos[a / 2];
        o.softcap = a % 2 ? 1.0f : 0.0f;
        if ((s = attni_mha_desc(st, &o, NULL, &d)) ||
            (s = attn_sdpa_workspace_size(&d, &fwd)) ||
            (s = attn_sdpa_backward_workspace_size(&d, &bwd)))
            return s;
        if (fwd > *bytes)
            *bytes = fwd;
        if (bwd > *bytes)
            *bytes = bwd;
    }
    return ATTN_OK;
}

/* n = a * b * c floats, 0 on overflow. */
static size_t floats3(int64_t a, int64_t b, int64_t c)
{
    size_t n;
    if (!attni_mul_size((size_t)a, (size_t)b, &n) ||
        !attni_mul_size(n, (size_t)c, &n) || n > SIZE_MAX / sizeof(float))
        return 0;
    return n;
}

attn_status attn_mha_state_create(const attn_mha *layer, int64_t batch,
                                  int64_t q_len, int64_t kv_len,
                                  attn_mha_state **state)
{
    if (layer == NULL || state == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (batch <= 0 || q_len <= 0 || kv_len <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    const int64_t E = layer->embed_dim, H = layer->num_heads;
    /* Projections run over B*T rows in one sgemm. */
    if (batch > INT_MAX / q_len || batch > INT_MAX / kv_len)
        return ATTN_ERR_SIZE_OVERFLOW;
    const size_t nq = floats3(batch, q_len, E), nk = floats3(batch, kv_len, E);
    const size_t nl = floats3(batch, H, q_len);
    size_t total;
    if (nq == 0 || nk == 0 || nl == 0 ||
        !attni_mul_size(nq, 4, &total) || /* q, attn, dq, dattn */
        !attni_add_size(total, 4 * nk, &total) || /* k, v, dk, dv */
        !attni_add_size(total, nl, &total) ||
        !attni_mul_size(total, sizeof(float), &total))
        return ATTN_ERR_SIZE_OVERFLOW;

    attn_mha_state *st = calloc(1, sizeof *st);
    if (st == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    st->embed_dim = E;
    st->num_heads = H;
    st->kdim = layer->kdim;
    st->vdim = layer->vdim;
    st->batch = batch;
    st->q_len = q_len;
    st->kv_len = kv_len;

    attn_status s = workspace_bytes(st, &st->workspace_bytes);
    if (s != ATTN_OK) {
        free(st);
        return s;
    }
    st->block = malloc(total);
    st->block_bytes = total;
    st->workspace = malloc(st->workspace_bytes);
    if (st->block == NULL || st->workspace == NULL) {
        attn_mha_state_destroy(st);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    float *p = st->block;
    st->q = p;       p += nq;
    st->attn = p;    p += nq;
    st->dq = p;      p += nq;
    st->dattn = p;   p += nq;
    st->k = p;       p += nk;
    st->v = p;       p += nk;
    st->dk = p;      p += nk;
    st->dv = p;      p += nk;
    st->lse = p;
    *state = st;
    return ATTN_OK;
}

void attn_mha_state_destroy(attn_mha_state *state)
{
    if (state == NULL)
        return;
    free(state->block);
    free(state->workspace);
    free(state->head_weights);
    free(state);
}
