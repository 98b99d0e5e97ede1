/* Layer creation, parameters and their initialisation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plan/layout.h"
#include "layer/mha_impl.h"
#include "train/rng.h"

/* Appends a parameter of `rows` x `cols` (cols 0 = 1-D) carved from the
 * parameter and gradient areas; returns its data pointer. */
static float *add_param(attn_mha *m, const char *name, int64_t rows,
                        int64_t cols, size_t *offset, size_t total)
{
    attn_param *p = &m->params[m->param_count++];
    p->name = name;
    p->data = m->storage + *offset;
    p->grad = m->storage + total + *offset;
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
    *offset += (size_t)rows * (size_t)(cols ? cols : 1);
    return p->data;
}

/* Gradient pointer of the parameter whose data is `data`. */
static float *grad_of(const float *data, size_t total)
{
    return data ? (float *)data + total : NULL;
}

static void fill_uniform(attn_rng *rng, float *x, size_t n, float bound)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = attni_rng_uniform(rng, bound);
}

/* As torch.nn.MultiheadAttention._reset_parameters (see mha.h). */
static void init_params(attn_mha *m, uint64_t seed, int packed)
{
    attn_rng rng = {seed};
    const int64_t E = m->embed_dim;
    const size_t ee = (size_t)E * (size_t)E;
    if (packed) {
        fill_uniform(&rng, m->w.wq, 3 * ee, sqrtf(6.0f / (float)(E + 3 * E)));
    } else {
        fill_uniform(&rng, m->w.wq, ee, sqrtf(6.0f / (float)(E + E)));
        fill_uniform(&rng, m->w.wk, (size_t)E * (size_t)m->kdim,
                     sqrtf(6.0f / (float)(E + m->kdim)));
        fill_uniform(&rng, m->w.wv, (size_t)E * (size_t)m->vdim,
                     sqrtf(6.0f / (float)(E + m->vdim)));
    }
    fill_uniform(&rng, m->w.wo, ee, 1.0f / sqrtf((float)E));
    /* Biases stay at the zeros calloc gave them. */
}

/* Number of parameter floats, or 0 on overflow. */
static size_t param_floats(int64_t E, int64_t H, int64_t kdim, int64_t vdim,
                           unsigned flags)
{
    size_t ee, ek, ev, n;
    if (!attni_mul_size((size_t)E, (size_t)E, &ee) ||
        !attni_mul_size((size_t)E, (size_t)kdim, &ek) ||
        !attni_mul_size((size_t)E, (size_t)vdim, &ev) ||
        !attni_add_size(ee, ek, &n) || !attni_add_size(n, ev, &n) ||
        !attni_add_size(n, ee, &n) ||
        !attni_add_size(n, flags & ATTN_MHA_BIAS ? 4 * (size_t)E : 0, &n) ||
        !attni_add_size(n, flags & ATTN_MHA_SINKS ? (size_t)H : 0, &n))
        return 0;
    /* Twice that (gradients) in bytes must fit too. */
    if (n > SIZE_MAX / 2 / sizeof(float))
        return 0;
    return n;
}

attn_status attn_mha_create(int64_t embed_dim, int64_t num_heads,
                            int64_t kdim, int64_t vdim, int bias,
                            uint64_t seed, attn_mha **layer)
{
    return attn_mha_create_flags(embed_dim, num_heads, kdim, vdim,
                                 bias ? ATTN_MHA_BIAS : 0u, seed, layer);
}

attn_status attn_mha_create_flags(int64_t embed_dim, int64_t num_heads,
                                  int64_t kdim, int64_t vdim, unsigned flags,
                                  uint64_t seed, attn_mha **layer)
{
    if (layer == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (flags & ~(unsigned)(ATTN_MHA_BIAS | ATTN_MHA_SINKS))
        return ATTN_ERR_BAD_ARGUMENT;
    if (kdim == 0)
        kdim = embed_dim;
    if (vdim == 0)
        vdim = embed_dim;
    if (embed_dim <= 0 || num_heads <= 0 || kdim <= 0 || vdim <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    if (embed_dim % num_heads != 0)
        return ATTN_ERR_HEAD_MISMATCH;
    if (embed_dim > INT32_MAX || kdim > INT32_MAX || vdim > INT32_MAX)
        return ATTN_ERR_SIZE_OVERFLOW;
    const size_t total = param_floats(embed_dim, num_heads, kdim, vdim, flags);
    if (total == 0)
        return ATTN_ERR_SIZE_OVERFLOW;

    attn_mha *m = calloc(1, sizeof *m);
    if (m == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    m->storage = calloc(2 * total, sizeof(float));
    if (m->storage == NULL) {
        free(m);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    m->total = total;
    m->embed_dim = embed_dim;
    m->num_heads = num_heads;
    m->kdim = kdim;
    m->vdim = vdim;
    m->bias = (flags & ATTN_MHA_BIAS) != 0;

    const int64_t E = embed_dim;
    const int packed = kdim == E && vdim == E;
    size_t off = 0;
    if (packed) {
        m->w.wq = add_param(m, "in_proj_weight", 3 * E, E, &off, total);
        m->w.wk = m->w.wq + E * E;
        m->w.wv = m->w.wk + E * E;
    } else {
        m->w.wq = add_param(m, "q_proj_weight", E, E, &off, total);
        m->w.wk = add_param(m, "k_proj_weight", E, kdim, &off, total);
        m->w.wv = add_param(m, "v_proj_weight", E, vdim, &off, total);
    }
    if (m->bias) {
        m->w.bq = add_param(m, "in_proj_bias", 3 * E, 0, &off, total);
        m->w.bk = m->w.bq + E;
        m->w.bv = m->w.bk + E;
    }
    m->w.wo = add_param(m, "out_proj.weight", E, E, &off, total);
    if (m->bias)
        m->w.bo = add_param(m, "out_proj.bias", E, 0, &off, total);
    if (flags & ATTN_MHA_SINKS) /* zeros, from calloc */
        m->w.sinks = add_param(m, "sinks", num_heads, 0, &off, total);

    m->g.wq = grad_of(m->w.wq, total);
    m->g.wk = grad_of(m->w.wk, total);
    m->g.wv = grad_of(m->w.wv, total);
    m->g.bq = grad_of(m->w.bq, total);
    m->g.bk = grad_of(m->w.bk, total);
    m->g.bv = grad_of(m->w.bv, total);
    m->g.wo = grad_of(m->w.wo, total);
    m->g.bo = grad_of(m->w.bo, total);
    m->g.sinks = grad_of(m->w.sinks, total);

    init_params(m, seed, packed);
    *layer = m;
    return ATTN_OK;
}

void attn_mha_destroy(attn_mha *layer)
{
    if (layer == NULL)
        return;
    free(layer->storage);
    free(layer);
}

attn_status attn_mha_params(attn_mha *layer, const attn_param **params,
                            size_t *count)
{
    if (layer == NULL || params == NULL || count == NULL)
        return ATTN_ERR_NULL_POINTER;
    *params = layer->params;
    *count = layer->param_count;
    return ATTN_OK;
}

attn_status attn_mha_zero_grad(attn_mha *layer)
{
    if (layer == NULL)
        return ATTN_ERR_NULL_POINTER;
    for (size_t i = 0; i < layer->param_count; ++i)
        memset(layer->params[i].grad, 0,
               attn_param_numel(&layer->params[i]) * sizeof(float));
    return ATTN_OK;
}
