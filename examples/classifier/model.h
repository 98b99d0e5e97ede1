/* The seeds' AttentionModel in C: input Linear -> multi-head self-attention
 * -> mean over time -> Linear classifier, cross-entropy loss. With
 * use_attention = 0 the attention layer is skipped: the bag-of-tokens
 * baseline (a mean of per-token embeddings cannot see order). */
#ifndef EXAMPLES_MODEL_H
#define EXAMPLES_MODEL_H

#include <attention/attention.h>

typedef struct clf_config {
    int64_t batch, seq_len, input_dim, embed_dim, num_heads, classes;
    int use_attention;
    attn_causal causal;     /* mask of the attention layer */
    uint64_t seed;
} clf_config;

#define CLF_MAX_PARAMS 10

typedef struct clf_model {
    clf_config cfg;
    float *storage;                 /* everything below, one allocation */
    float *we, *be, *wc, *bc;       /* (E, Din), (E), (C, E), (C) */
    float *gwe, *gbe, *gwc, *gbc;   /* their gradients */
    float *h, *a, *pool, *logits;   /* (B,T,E), (B,T,E), (B,E), (B,C) */
    float *dh, *da, *dpool, *dlogits;
    attn_mha *mha;
    attn_mha_state *state;
    attn_mha_options masks;
    attn_param params[CLF_MAX_PARAMS];
    char names[CLF_MAX_PARAMS][40];
    size_t param_count;
} clf_model;

attn_status clf_create(clf_model *m, const clf_config *cfg);
void clf_destroy(clf_model *m);

/* Mean cross-entropy of a batch; *correct counts right predictions. */
attn_status clf_forward(clf_model *m, const float *x /* (B, T, Din) */,
                        const int32_t *labels /* (B) */, double *loss,
                        int64_t *correct);

/* Gradients of the last forward's loss, added to every parameter's grad. */
attn_status clf_backward(clf_model *m, const float *x /* (B, T, Din) */);

#endif
