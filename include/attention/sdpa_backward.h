/*
 * Gradients of scaled dot-product attention (see <attention/sdpa.h> for
 * shapes, strides and masks).
 *
 * With s = scale * Q K^T + bias (masked), P = softmax(s), out = P V and
 * dout = dL/dout, the backward adds (+=) into the caller's buffers:
 *
 *     dv   += P^T dout
 *     dq   += scale * dS K          dS = P * (dout V^T - rowsum(dout * out))
 *     dk   += scale * dS^T Q
 *     dbias += dS
 *
 * so gradients can be summed over micro-batches; clear them first for a
 * plain gradient. Gradients of query heads that share a kv head (GQA/MQA)
 * are summed into that kv head. dq, dk and dv have the layouts (strides) of
 * q, k and v; dout that of out; dbias that of the bias (bias_strides), so a
 * broadcast bias gets the sum over the dimensions it is broadcast along,
 * and so does a q, k or v broadcast with a zero stride (such calls run on
 * one thread: their gradient rows are shared).
 * dbias is the gradient with respect to an additive bias whether or not
 * desc->bias is set (it is dS itself).
 *
 * Fully masked rows (lse = -INFINITY, or lse = the head's sink: the row saw
 * no key, or its keys' weights sum to less than float resolution beside the
 * sink, about 2^-24, and are dropped) take part in no product: their q, out
 * and dout rows enter no result, their dq and dbias rows get nothing added,
 * and they add nothing to dk and dv, so NaN or Inf anywhere cannot reach
 * them or come from them. Masked pairs of other rows have dS = 0 and P = 0
 * exactly; but as in the forward ("What is read" in <attention/sdpa.h>), a
 * NaN or Inf stored in a key or value row inside the range read for a query
 * block reaches that block's gradients through 0 * NaN in the products.
 *
 * Memory: P is recomputed from Q, K and the forward's lse, one tile at a
 * time (fused: a query block against a key tile; materialised: 64 query
 * rows against their keys); nothing of size (Tq, Tk) per head is ever
 * needed. The workspace holds those tiles per thread, a float per query
 * row and, when B * Hkv < 8, dQ partial sums (at most 32 MiB). The forward
 * must have been run with the same descriptor and inputs, and must have
 * returned lse.
 */
#ifndef ATTENTION_SDPA_BACKWARD_H
#define ATTENTION_SDPA_BACKWARD_H

#include <stddef.h>

#include <attention/export.h>
#include <attention/sdpa.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of workspace attn_sdpa_backward_ws needs, in *bytes: enough for
 * every later call with this descriptor; one thread's share (the size with
 * num_threads = 1) is the least a call accepts (see Workspaces in
 * <attention/sdpa.h>). */
ATTN_EXPORT attn_status attn_sdpa_backward_workspace_size(
    const attn_sdpa_desc *desc, size_t *bytes);

/*
 * Attention backward in a caller workspace; never allocates. q, k, v, out,
 * lse and dout are required; each of dq, dk, dv, dbias may be NULL to skip
 * it. Validates everything before writing anything.
 */
ATTN_EXPORT attn_status attn_sdpa_backward_ws(
    const attn_sdpa_desc *desc,
    const float *q,       /* (B, Hq,  Tq, d)  strided */
    const float *k,       /* (B, Hkv, Tk, d)  strided */
    const float *v,       /* (B, Hkv, Tk, dv) strided */
    const float *out,     /* (B, Hq,  Tq, dv) strided, from the forward */
    const float *lse,     /* (B, Hq,  Tq)     from the forward */
    const float *dout,    /* (B, Hq,  Tq, dv) strided like out */
    float *dq,            /* (B, Hq,  Tq, d)  strided like q,  += ; or NULL */
    float *dk,            /* (B, Hkv, Tk, d)  strided like k,  += ; or NULL */
    float *dv,            /* (B, Hkv, Tk, dv) strided like v,  += ; or NULL */
    float *dbias,         /* (B, Hq, Tq, Tk)  bias_strides,    += ; or NULL */
    void *workspace, size_t workspace_bytes);

/* attn_sdpa_backward_ws with a workspace it allocates and frees itself;
 * may also return ATTN_ERR_OUT_OF_MEMORY. */
ATTN_EXPORT attn_status attn_sdpa_backward(
    const attn_sdpa_desc *desc,
    const float *q,       /* (B, Hq,  Tq, d)  strided */
    const float *k,       /* (B, Hkv, Tk, d)  strided */
    const float *v,       /* (B, Hkv, Tk, dv) strided */
    const float *out,     /* (B, Hq,  Tq, dv) strided */
    const float *lse,     /* (B, Hq,  Tq) */
    const float *dout,    /* (B, Hq,  Tq, dv) strided like out */
    float *dq,            /* (B, Hq,  Tq, d)  += ; or NULL */
    float *dk,            /* (B, Hkv, Tk, d)  += ; or NULL */
    float *dv,            /* (B, Hkv, Tk, dv) += ; or NULL */
    float *dbias);        /* (B, Hq, Tq, Tk) bias_strides, += ; or NULL */

/*
 * The gradient of the sink logits (desc->sinks; see "Variants" in
 * <attention/sdpa.h>), added into dsinks:
 *
 *     dsinks[h] += -sum over b, i of e^(sink[h] - lse[b, h, i]) * D[b, h, i],
 *     D = rowsum(dout * out),
 *
 * summed in double in (b, i) order. It needs the forward's out and lse
 * only, no K or V, so it is separate from attn_sdpa_backward (whose dq,
 * dk and dv already account for the sinks through lse). Rows with lse =
 * -INFINITY add nothing. ATTN_ERR_BAD_ARGUMENT when desc->sinks is NULL;
 * the descriptor's other checks as attn_sdpa_backward; ATTN_ERR_ALIASING
 * when dsinks overlaps an input. Nothing is written on error.
 */
ATTN_EXPORT attn_status attn_sdpa_sinks_backward(
    const attn_sdpa_desc *desc,
    const float *out,     /* (B, Hq, Tq, dv) strided, from the forward */
    const float *lse,     /* (B, Hq, Tq)     from the forward */
    const float *dout,    /* (B, Hq, Tq, dv) strided like out */
    float *dsinks);       /* (Hq) += */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_SDPA_BACKWARD_H */
