/*
 * A learnable multi-head attention layer with the semantics of PyTorch's
 * torch.nn.MultiheadAttention(embed_dim, num_heads, bias, kdim, vdim,
 * batch_first=True), without dropout, add_bias_kv or add_zero_attn:
 *
 *     Q = query Wq^T + bq      (B, Tq, E)     split into H heads of E/H
 *     K = key   Wk^T + bk      (B, Tk, E)
 *     V = value Wv^T + bv      (B, Tk, E)
 *     A = attention(Q, K, V)   (B, Tq, E)     heads concatenated
 *     out = A Wo^T + bo        (B, Tq, E)
 *
 * with scale 1/sqrt(E/H). Heads are read and written through strides: no
 * split or concat copies.
 *
 * Parameters (attn_mha_params), named and shaped as PyTorch's state_dict so
 * weight files move between the two (see <attention/safetensors.h>):
 *     kdim == vdim == E:  in_proj_weight (3E, E)   rows: Wq, Wk, Wv
 *     otherwise:          q_proj_weight (E, E), k_proj_weight (E, kdim),
 *                         v_proj_weight (E, vdim)
 *     with bias:          in_proj_bias (3E)        bq, bk, bv
 *     always:             out_proj.weight (E, E)
 *     with bias:          out_proj.bias (E)
 *     with sinks:         sinks (H)           (gpt-oss's name)
 *
 * Initialisation, as PyTorch's _reset_parameters: the input projections
 * Xavier/Glorot uniform (in_proj_weight as one (3E, E) matrix, bound
 * sqrt(6 / (E + 3E)); separate ones bound sqrt(6 / (E + in_dim))),
 * out_proj.weight uniform in +-1/sqrt(E) (nn.Linear's default), biases 0.
 * The numbers come from a splitmix64 stream seeded with `seed`: the same on
 * every run and machine (not the same numbers as torch.manual_seed).
 *
 * Masks use libattention's conventions, not PyTorch's: keep_mask nonzero
 * means "may attend" (PyTorch's boolean attn_mask means the opposite), and
 * key padding is given as lengths. A query row that sees no key gives zeros
 * (PyTorch gives NaN).
 *
 * Threads: the layer's parameters are only read by attn_mha_forward, so
 * any number of threads may run forwards on one layer at once, each with
 * its own attn_mha_state. attn_mha_backward writes the layer's gradients:
 * one backward at a time per layer.
 */
#ifndef ATTENTION_MHA_H
#define ATTENTION_MHA_H

#include <stddef.h>
#include <stdint.h>

#include <attention/export.h>
#include <attention/params.h>
#include <attention/sdpa.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct attn_mha attn_mha;             /* parameters and gradients */
typedef struct attn_mha_state attn_mha_state; /* activations of one call */

/*
 * What a layer call may set beyond its tensors: the masks, threads and
 * algorithm of <attention/sdpa.h>, with the descriptor's conventions. Set
 * it up with attn_mha_options_init, then change what you need; fields are
 * only ever appended (struct_size tells the library which ones the caller
 * knows about). A NULL options pointer means the defaults: no mask, the
 * library's threads and algorithm.
 */
typedef struct attn_mha_options {
    size_t struct_size;         /* set by attn_mha_options_init; do not touch */
    attn_causal causal;         /* init: ATTN_CAUSAL_NONE */
    const int64_t *kv_lens;     /* (B) or NULL; see attn_key_padding_lengths */
    const uint8_t *keep_mask;   /* (B, H, Tq, Tk) strided, or NULL */
    attn_strides keep_strides;  /* init: {0, 0, Tk}, one (Tq, Tk) mask */
    const float *bias;          /* (B, H, Tq, Tk) strided, or NULL */
    attn_strides bias_strides;  /* init: {0, 0, Tk}, one (Tq, Tk) bias */
    /* As attn_sdpa_desc's; the attention runs on at most as many threads
     * as the state's workspace has room for (see attn_mha_state_create). */
    int num_threads;            /* init: 0 */
    attn_algo algo;             /* init: ATTN_ALGO_AUTO */
    /* Appended with the variants; as attn_sdpa_desc's ("Variants" in
     * <attention/sdpa.h>). The layer's sinks are a parameter instead
     * (ATTN_MHA_SINKS). */
    int64_t window_left;        /* init: -1 */
    int64_t window_right;       /* init: -1 */
    const float *alibi_slopes;  /* (B, H) or (H) or NULL; init: NULL */
    int64_t alibi_batch_stride; /* init: 0, one (H) array */
    float softcap;              /* init: 0, off */
} attn_mha_options;

/*
 * Fills *options with the defaults above for calls with kv_len keys (the
 * row stride of a (Tq, Tk) mask). Call it through the macro, which passes
 * sizeof *options. ATTN_ERR_NULL_POINTER, or ATTN_ERR_BAD_DESC when
 * options_size is smaller than the first released struct.
 */
ATTN_EXPORT attn_status attn_mha_options_init_sized(attn_mha_options *options,
                                                    size_t options_size,
                                                    int64_t kv_len);

#define attn_mha_options_init(options, kv_len) \
    attn_mha_options_init_sized((options), sizeof *(options), (kv_len))

/*
 * Creates a layer with initialised parameters and zero gradients.
 * kdim and vdim of 0 mean embed_dim. embed_dim must be a multiple of
 * num_heads (else ATTN_ERR_HEAD_MISMATCH).
 */
ATTN_EXPORT attn_status attn_mha_create(int64_t embed_dim, int64_t num_heads,
                                        int64_t kdim, int64_t vdim, int bias,
                                        uint64_t seed, attn_mha **layer);

/* attn_mha_create_flags's flags. */
enum {
    ATTN_MHA_BIAS = 1,  /* the projections' biases (attn_mha_create's bias) */
    /* A learnable attention sink per head (gpt-oss): the parameter "sinks"
     * (H), initialised to 0, the last in the list; see "sinks" in
     * <attention/sdpa.h>. */
    ATTN_MHA_SINKS = 2
};

/* attn_mha_create with flags; unknown bits give ATTN_ERR_BAD_ARGUMENT. */
ATTN_EXPORT attn_status attn_mha_create_flags(int64_t embed_dim,
                                              int64_t num_heads, int64_t kdim,
                                              int64_t vdim, unsigned flags,
                                              uint64_t seed, attn_mha **layer);

ATTN_EXPORT void attn_mha_destroy(attn_mha *layer); /* NULL is fine */

/* The layer's parameter list (PyTorch names and shapes, data and grad
 * pointers into the layer), valid until attn_mha_destroy. */
ATTN_EXPORT attn_status attn_mha_params(attn_mha *layer,
                                        const attn_param **params,
                                        size_t *count);

/* Sets every gradient of the layer to zero. */
ATTN_EXPORT attn_status attn_mha_zero_grad(attn_mha *layer);

/*
 * Activations for calls with this batch size and these lengths. It keeps
 * what the backward needs: the projections Q (B, Tq, E), K and V
 * (B, Tk, E), the attention output A (B, Tq, E) and the log-sum-exp
 * (B, H, Tq), plus scratch for the backward; no (B, H, Tq, Tk) buffer. The
 * state belongs to one thread at a time.
 *
 * Its attention workspace is sized once, here, for either algorithm and
 * for the threads ATTN_NUM_THREADS (else the online cores) gives now;
 * later calls never need more, whatever happens to the environment or the
 * BLAS's threading, and run on at most that many threads.
 */
ATTN_EXPORT attn_status attn_mha_state_create(const attn_mha *layer,
                                              int64_t batch, int64_t q_len,
                                              int64_t kv_len,
                                              attn_mha_state **state);

ATTN_EXPORT void attn_mha_state_destroy(attn_mha_state *state); /* NULL ok */

/*
 * Forward. For self-attention pass the same pointer as query, key and
 * value. attn_weights, when not NULL, receives the attention weights, per
 * head (B, H, Tq, Tk) or, with average_weights, averaged over heads
 * (B, Tq, Tk) as PyTorch's average_attn_weights. options may be NULL; the
 * mask buffers must stay valid until the backward of this forward.
 * Allocates nothing, except a (B, H, Tq, Tk) buffer kept in the state the
 * first time averaged weights are asked for.
 *
 * out and attn_weights may not overlap each other, the inputs, the masks,
 * the layer's parameters or gradients (ATTN_ERR_ALIASING); everything is
 * checked before anything is written, and on error nothing is (the state
 * keeps its last forward).
 */
ATTN_EXPORT attn_status attn_mha_forward(
    const attn_mha *layer, attn_mha_state *state,
    const attn_mha_options *options,
    const float *query,   /* (B, Tq, E)    */
    const float *key,     /* (B, Tk, kdim) */
    const float *value,   /* (B, Tk, vdim) */
    float *out,           /* (B, Tq, E)    */
    float *attn_weights,  /* (B, H, Tq, Tk), (B, Tq, Tk) averaged, or NULL */
    int average_weights);

/*
 * Backward of the last forward run with this state, given dout = dL/dout:
 * adds (+=) the gradients of every parameter into the layer and those of
 * the inputs into dquery, dkey, dvalue (each may be NULL to skip it). For
 * self-attention, dquery, dkey and dvalue may be the same buffer: the three
 * contributions add up. query, key and value must be the forward's, and
 * layer the one the forward ran on (else ATTN_ERR_BAD_ARGUMENT).
 *
 * dquery, dkey and dvalue may not overlap the inputs, dout, the masks or
 * the layer's parameters and gradients; the inputs, dout and the masks may
 * not overlap the gradients (ATTN_ERR_ALIASING). Everything is checked
 * before anything is written; on error no gradient changes.
 */
ATTN_EXPORT attn_status attn_mha_backward(
    attn_mha *layer, attn_mha_state *state,
    const float *query,   /* (B, Tq, E)    */
    const float *key,     /* (B, Tk, kdim) */
    const float *value,   /* (B, Tk, vdim) */
    const float *dout,    /* (B, Tq, E)    */
    float *dquery,        /* (B, Tq, E)    += ; or NULL */
    float *dkey,          /* (B, Tk, kdim) += ; or NULL */
    float *dvalue);       /* (B, Tk, vdim) += ; or NULL */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_MHA_H */
