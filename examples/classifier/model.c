#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ordered_pair.h"

static void add_param(clf_model *m, const char *name, float *data, float *grad,
                      int64_t rows, int64_t cols)
{
    attn_param *p = &m->params[m->param_count];
    snprintf(m->names[m->param_count], sizeof m->names[0], "%s", name);
    p->name = m->names[m->param_count++];
    p->data = data;
    p->grad = grad;
    p->ndim = cols ? 2 : 1;
    p->shape[0] = rows;
    p->shape[1] = cols;
}

/* torch.nn.Linear's default: weight and bias uniform in +-1/sqrt(fan_in). */
static void init_linear(pair_rng *rng, float *w, float *b, int64_t out,
                        int64_t in)
{
    const float bound = 1.0f / sqrtf((float)in);
    for (int64_t i = 0; i < out * in; ++i)
        w[i] = pair_rng_uniform(rng, bound);
    for (int64_t i = 0; i < out; ++i)
        b[i] = pair_rng_uniform(rng, bound);
}

attn_status clf_create(clf_model *m, const clf_config *cfg)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    const int64_t B = cfg->batch, T = cfg->seq_len, D = cfg->input_dim;
    const int64_t E = cfg->embed_dim, C = cfg->classes;
    const size_t params = (size_t)(E * D + E + C * E + C);
    const size_t acts = (size_t)(2 * B * T * E + B * E + B * C);
    m->storage = calloc(2 * (params + acts), sizeof(float));
    if (m->storage == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    float *p = m->storage;
    m->we = p; p += E * D;   m->be = p; p += E;
    m->wc = p; p += C * E;   m->bc = p; p += C;
    m->gwe = p; p += E * D;  m->gbe = p; p += E;
    m->gwc = p; p += C * E;  m->gbc = p; p += C;
    m->h = p; p += B * T * E;   m->a = p; p += B * T * E;
    m->pool = p; p += B * E;    m->logits = p; p += B * C;
    m->dh = p; p += B * T * E;  m->da = p; p += B * T * E;
    m->dpool = p; p += B * E;   m->dlogits = p;

    pair_rng rng = {cfg->seed};
    init_linear(&rng, m->we, m->be, E, D);
    init_linear(&rng, m->wc, m->bc, C, E);
    add_param(m, "embed.weight", m->we, m->gwe, E, D);
    add_param(m, "embed.bias", m->be, m->gbe, E, 0);
    if (cfg->use_attention) {
        attn_status s = attn_mha_create(E, cfg->num_heads, 0, 0, 1,
                                        pair_rng_next(&rng), &m->mha);
        if (s == ATTN_OK)
            s = attn_mha_state_create(m->mha, B, T, T, &m->state);
        if (s != ATTN_OK) {
            clf_destroy(m);
            return s;
        }
        attn_mha_options_init(&m->masks, T);
        m->masks.causal = cfg->causal;
        const attn_param *lp;
        size_t n;
        attn_mha_params(m->mha, &lp, &n);
        for (size_t i = 0; i < n; ++i) {
            char name[40];
            snprintf(name, sizeof name, "attn.%s", lp[i].name);
            add_param(m, name, lp[i].data, lp[i].grad, lp[i].shape[0],
                      lp[i].ndim == 2 ? lp[i].shape[1] : 0);
        }
    }
    add_param(m, "fc.weight", m->wc, m->gwc, C, E);
    add_param(m, "fc.bias", m->bc, m->gbc, C, 0);
    return ATTN_OK;
}

void clf_destroy(clf_model *m)
{
    attn_mha_state_destroy(m->state);
    attn_mha_destroy(m->mha);
    free(m->storage);
    memset(m, 0, sizeof *m);
}

attn_status clf_forward(clf_model *m, const float *x, const int32_t *labels,
                        double *loss, int64_t *correct)
{
    const clf_config *c = &m->cfg;
    const int64_t B = c->batch, T = c->seq_len, E = c->embed_dim, C = c->classes;
    attn_status s = attn_linear_forward(x, m->we, m->be, m->h, B * T,
                                        c->input_dim, E);
    if (s == ATTN_OK && c->use_attention)
        s = attn_mha_forward(m->mha, m->state, &m->masks, m->h, m->h, m->h,
                             m->a, NULL, 0);
    if (s != ATTN_OK)
        return s;
    const float *a = c->use_attention ? m->a : m->h;
    for (int64_t b = 0; b < B; ++b)   /* mean over time */
        for (int64_t e = 0; e < E; ++e) {
            double sum = 0.0;
            for (int64_t t = 0; t < T; ++t)
                sum += a[(b * T + t) * E + e];
            m->pool[b * E + e] = (float)(sum / (double)T);
        }
    if ((s = attn_linear_forward(m->pool, m->wc, m->bc, m->logits, B, E, C)))
        return s;

    /* Cross-entropy through a stable log-softmax; dlogits kept for backward. */
    double total = 0.0;
    *correct = 0;
    for (int64_t b = 0; b < B; ++b) {
        const float *z = m->logits + b * C;
        int64_t best = 0;
        for (int64_t j = 1; j < C; ++j)
            if (z[j] > z[best])
                best = j;
        double sum = 0.0;
        for (int64_t j = 0; j < C; ++j)
            sum += exp((double)z[j] - z[best]);
        const double lse = z[best] + log(sum);
        total += lse - z[labels[b]];
        *correct += best == labels[b];
        for (int64_t j = 0; j < C; ++j)
            m->dlogits[b * C + j] =
                (float)((exp(z[j] - lse) - (j == labels[b])) / (double)B);
    }
    *loss = total / (double)B;
    return ATTN_OK;
}

attn_status clf_backward(clf_model *m, const float *x)
{
    const clf_config *c = &m->cfg;
    const int64_t B = c->batch, T = c->seq_len, E = c->embed_dim, C = c->classes;
    memset(m->dpool, 0, (size_t)(B * E) * sizeof(float));
    attn_status s = attn_linear_backward(m->pool, m->wc, m->dlogits, m->dpool,
                                         m->gwc, m->gbc, B, E, C);
    if (s != ATTN_OK)
        return s;
    float *da = c->use_attention ? m->da : m->dh;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t e = 0; e < E; ++e)
                da[(b * T + t) * E + e] = m->dpool[b * E + e] / (float)T;
    if (c->use_attention) {
        memset(m->dh, 0, (size_t)(B * T * E) * sizeof(float));
        if ((s = attn_mha_backward(m->mha, m->state, m->h, m->h, m->h, m->da,
                                   m->dh, m->dh, m->dh)))
            return s;
    }
    return attn_linear_backward(x, m->we, m->dh, NULL, m->gwe, m->gbe, B * T,
                                c->input_dim, E);
}
