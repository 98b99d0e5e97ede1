/* The layer and state structs, shared by the mha_*.c files. */
#ifndef ATTN_SRC_MHA_IMPL_H
#define ATTN_SRC_MHA_IMPL_H

#include <attention/mha.h>

/* Pointers to one set of tensors: the parameters or their gradients. */
typedef struct mha_tensors {
    float *wq, *wk, *wv;    /* (E, E), (E, kdim), (E, vdim) */
    float *bq, *bk, *bv;    /* (E) each, or NULL */
    float *wo;              /* (E, E) */
    float *bo;              /* (E) or NULL */
    float *sinks;           /* (H) or NULL */
} mha_tensors;

struct attn_mha {
    int64_t embed_dim, num_heads, kdim, vdim;
    int bias;
    float *storage;         /* every parameter, then every gradient */
    size_t total;           /* floats of the parameters (and of the gradients) */
    mha_tensors w, g;
    attn_param params[7];
    size_t param_count;
};

struct attn_mha_state {
    int64_t embed_dim, num_heads, kdim, vdim; /* of the layers it fits */
    int64_t batch, q_len, kv_len;
    float *q, *k, *v;       /* (B, Tq, E), (B, Tk, E), (B, Tk, E) */
    float *attn;            /* (B, Tq, E): heads concatenated */
    float *lse;             /* (B, H, Tq) */
    float *dq, *dk, *dv, *dattn; /* backward scratch, shaped as above */
    void *workspace;        /* attention forward/backward workspace */
    size_t workspace_bytes;
    float *head_weights;    /* (B, H, Tq, Tk), made on first averaged call */
    size_t head_weights_bytes;
    attn_mha_options options; /* of the last forward, full size */
    const attn_mha *layer;  /* the last forward's layer, or NULL */
    int has_forward;        /* a forward has filled q, k, v, attn, lse */
    void *block;            /* the allocation behind q .. dattn */
    size_t block_bytes;
};

/* A caller's options (NULL: the defaults) as a full-size struct. */
attn_status attni_mha_options_load(const attn_mha_options *user, int64_t kv_len,
                                  attn_mha_options *options);

/* The attention descriptor of a layer call: (B, T, H, dh) strides into the
 * (B, T, E) projections, scale 1/sqrt(dh), the call's (loaded) options
 * and the layer's sinks (H) (or NULL). */
attn_status attni_mha_desc(const attn_mha_state *state,
                          const attn_mha_options *options,
                          const float *sinks, attn_sdpa_desc *desc);

#endif /* ATTN_SRC_MHA_IMPL_H */
