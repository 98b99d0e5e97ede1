/*
 * Scaled dot-product attention:
 *
 *     out = softmax(scale * Q K^T + bias, masked) V
 *
 * Shapes (names used throughout):
 *     Q    (B, Hq,  Tq, d)      out      (B, Hq, Tq, dv)
 *     K    (B, Hkv, Tk, d)      weights  (B, Hq, Tq, Tk)   optional
 *     V    (B, Hkv, Tk, dv)     lse      (B, Hq, Tq)       optional
 *
 * Hq must be a multiple of Hkv: query head h reads kv head h / (Hq / Hkv)
 * (grouped-query attention; Hkv = 1 is multi-query attention).
 *
 * Layout: the last dimension of Q, K, V and out is contiguous; batch, head
 * and row strides (in elements, >= 0) are given per tensor, so (B, T, H, d)
 * tensors straight out of a projection work without a copy. weights and lse
 * are always contiguous in the order shown.
 *
 * Masks (all optional, all combinable; a key is visible to a query only if
 * every mask in use allows it):
 *
 *   causal     ATTN_CAUSAL_TOP_LEFT:     query i sees keys j <= i
 *              ATTN_CAUSAL_BOTTOM_RIGHT: query i sees keys j <= i + L - Tq
 *              where L is the batch's valid key length (kv_lens[b] if
 *              given, else Tk): the last query lines up with the last valid
 *              key, as in decoding and chunked prefill.
 *   kv_lens    (B): batch b sees keys j < kv_lens[b]; 0 <= kv_lens[b] <= Tk.
 *   keep_mask  (B, Hq, Tq, Tk) bytes, nonzero = may attend; broadcast by
 *              giving stride 0 (the default strides broadcast one (Tq, Tk)
 *              mask over batch and heads).
 *   bias       (B, Hq, Tq, Tk) floats added to the scaled scores; same
 *              broadcasting as keep_mask. A -INFINITY entry masks that key
 *              exactly as keep_mask = 0 does (even if its score is NaN).
 *
 * K/V storage (kv_dtype): K and V may be stored as fp32, IEEE fp16 or
 * bfloat16; Q, out, weights and lse are always fp32. Every forward path
 * widens stored values to fp32 exactly (both formats are subsets of fp32)
 * and computes as it does for fp32 K and V, so the result is attention
 * over the stored (rounded) values. k and v then point at uint16_t data
 * (any type with that layout, e.g. _Float16); strides stay in elements.
 * The backward takes fp32 K and V only (ATTN_ERR_BAD_DTYPE, checked
 * before a block table's ATTN_ERR_BAD_ARGUMENT).
 *
 * Paged K/V (block_table): K and V live in pools of num_pages pages of
 * page_size rows each; key j of batch b is row j % page_size of page
 * block_table[b * max_pages + j / page_size]. k_strides and v_strides
 * then describe the pools: batch = the stride between pages, head and row
 * within a page, so both (num_pages, Hkv, page_size, d) and
 * (num_pages, page_size, Hkv, d) pools work. A batch's length L (kv_lens[b]
 * if given, else kv_len) needs ceil(L / page_size) <= max_pages
 * (ATTN_ERR_BLOCK_TABLE_SHORT) and those entries in [0, num_pages)
 * (ATTN_ERR_BAD_PAGE); entries past them are never read, nor is any page
 * or row not in them. Any positive page size works. Every mask, GQA and
 * storage type works with pages; the backward does not take them
 * (ATTN_ERR_BAD_ARGUMENT). k and v must be aligned to the storage type's
 * size (ATTN_ERR_MISALIGNED), paged or not.
 *
 * Variants (the score modifiers of current model families). With L the
 * batch's valid key length (kv_lens[b], else Tk) and off = L - Tq, so that
 * the last query lines up with the last valid key (as bottom-right causal):
 *
 *   window     window_left, window_right (-1 = unbounded, the init):
 *              query i sees key j only if
 *                  i + off - window_left <= j <= i + off + window_right.
 *              window_right = 0 is bottom-right causal. A model card's
 *              "sliding window W" that counts the current token (Mistral,
 *              Gemma) is window_left = W - 1, window_right = 0. Key tiles
 *              outside the band are neither computed nor read, so the cost
 *              is proportional to the band, not to Tq x Tk.
 *   ALiBi      alibi_slopes: adds -slope[b, h] * |i + off - j| to the scaled
 *              score, slope[b, h] = alibi_slopes[b * alibi_batch_stride + h]
 *              (stride 0: one (Hq) array for every batch; the distance is
 *              a float, exact up to 2^24). Slopes must be
 *              finite and >= 0 (ATTN_ERR_BAD_ALIBI); attn_alibi_slopes
 *              (<attention/alibi.h>) fills the standard ones.
 *   softcap    c > 0: the scaled score becomes c * tanh(scale * q.k / c),
 *              before bias, ALiBi and masks (Gemma 2, Grok). 0 is off; a
 *              negative, infinite or NaN c is ATTN_ERR_BAD_SOFTCAP.
 *   sinks      (Hq): a logit sink[h] that joins every row's softmax
 *              denominator, Z = sum_j e^(s_j) + e^(sink[h]), with no value
 *              (gpt-oss). It is not scaled, capped or masked, counts once
 *              per row however the keys are split, and is included in the
 *              returned lse, so the weights of a row sum to less than 1. A
 *              sink of -INFINITY is no sink; NaN or +INFINITY is
 *              ATTN_ERR_BAD_SINK. Its gradient: attn_sdpa_sinks_backward.
 *
 * Packed variable-length batches (FlashAttention's varlen convention):
 * with cu_seqlens_q and cu_seqlens_k set (both, B + 1 offsets each, of
 * seqlens_type), Q and out are (total_q, Hq, d|dv) and K and V
 * (total_k, Hkv, d|dv): q_len = total_q and kv_len = total_k rows, laid
 * out by the row and head strides (the batch strides are not used).
 * Sequence b owns rows [cu_seqlens_q[b], cu_seqlens_q[b + 1]) of Q and out
 * and [cu_seqlens_k[b], cu_seqlens_k[b + 1]) of K and V; every mask and
 * variant aligns within it (Tq and L are its own row counts). lse is then
 * (Hq, total_q). Zero-length sequences are fine; rows outside every
 * sequence are neither read nor written. Offsets must not decrease, start
 * at >= 0 and end within the tensor (ATTN_ERR_BAD_SEQLENS). Packed calls
 * take no weights output, keep_mask, bias, kv_lens or block table, and
 * attn_sdpa_scores does not take them (ATTN_ERR_BAD_ARGUMENT).
 *
 * Slices of a longer sequence (position_shift, init 0): everything above
 * that aligns query i with key i + off (bottom-right causal, the window,
 * ALiBi) uses i + off + position_shift instead. A call over a slice of a
 * sequence, queries from global position qs and keys from ks, keeps the
 * whole sequence's alignment with position_shift = (qs + off_global) -
 * (ks + off), e.g. qs - ks for self-attention without padding: sequence
 * parallelism, or a query chunk against a part of the keys. |shift| must
 * be at most 2^40 (ATTN_ERR_BAD_WINDOW).
 *
 * The score a softmax sees is then c tanh(scale q.k / c) + bias -
 * slope |i + off - j|, or -INFINITY where a mask hides the key. Every
 * variant combines with every other, every mask, GQA, strides, storage
 * types and pages, on every path, forward and backward.
 *
 * Fully masked rows: a query row that sees no key (or whose every visible
 * score is -INFINITY) gets an output row of zeros, a weights row of zeros
 * and lse = -INFINITY, or lse = sink[h] with a sink. Never NaN.
 *
 * Non-finite input: NaN or Inf in data that is used propagates as IEEE
 * arithmetic says (a NaN score makes its row NaN; +Inf scores give NaN).
 *
 * What is read: keys and values at positions j >= kv_lens[b] are never read,
 * and neither are keys and values outside the range that some query of the
 * current query block may see under the causal mask and the window. Query
 * blocks are the tiles of each path (up to a few hundred rows, chosen by
 * head size and cache size; README "Tiles"). Inside that range every key and
 * value row is read even where a keep_mask, bias or the causal mask hides it
 * from a particular query, so a NaN or Inf stored there can reach that
 * query's output through 0 * NaN in the weights-times-V product (fully
 * masked rows excepted: they are always zero). keep_mask entries are read
 * for the keys a query may see under kv_lens and causal; bias entries for
 * those keep_mask allows.
 *
 * Accuracy: the fused and materialised paths' products are cblas_sgemm
 * calls, the decoding path's vectorised dot products and row updates in
 * float (README "Decoding and KV caches"). The fused path (the
 * default) keeps a running row maximum and computes e^(s - max) as
 * 2^((s - max) log2 e) with a vectorised polynomial (at most 2 ulp, plus
 * one rounding of the product); the materialised path subtracts the row
 * maximum and uses expf (glibc: < 1 ulp). Both sum in double per row, and
 * both subtract before exponentiating, so any finite scaled score (up to
 * FLT_MAX) gives finite weights. The vectorised passes are built for each
 * CPU level (x86-64: AVX-512, AVX2, generic; elsewhere generic) and the
 * best one the CPU runs is used; the environment variable ATTN_CPU_LEVEL
 * (generic, avx2, avx512) forces a lower one. Levels may differ in the
 * last bits (FMA or not), each within the bound above.
 *
 * Threads: each call runs on desc->num_threads threads (OpenMP), split over
 * (batch, head, query block) in the forward and (batch, kv head, key
 * chunk) in the backward, or on fewer when its workspace has room for
 * fewer (see Workspaces). Every output element has one owner and a fixed
 * order of accumulation, so results are bit-identical for any thread count
 * and any workspace size. Inside those threads every sgemm must run on its
 * own thread: with OpenBLAS's OpenMP build that is automatic; with its
 * pthread build and more than one BLAS thread the fused path takes smaller
 * tiles, below the size OpenBLAS would thread (slower; set
 * OPENBLAS_NUM_THREADS=1 or use the OpenMP build for full speed), and the
 * materialised path runs on one thread of the library's and lets the BLAS
 * thread its products. Results may differ in the last bits between those
 * two tilings: they depend on the descriptor and on whether the BLAS
 * threads, never on the thread count. The library never changes BLAS
 * settings.
 *
 * Process state (the BLAS's threading, ATTN_NUM_THREADS, ATTN_CPU_LEVEL,
 * the online core count) is read once at the start of each call and that reading is used
 * throughout it, so other threads may change any of it at any time.
 *
 * Workspaces: the size a query returns is enough for every call with that
 * descriptor, whatever the process state is by then: it has room for the
 * threads the query resolved (num_threads, else ATTN_NUM_THREADS, else the
 * online cores) with either tiling. A call runs on as many of its threads
 * as the workspace it is given has room for. The least a workspace may
 * have is one thread's share, the size queried with num_threads = 1;
 * below that a call returns ATTN_ERR_WORKSPACE_TOO_SMALL. Sizes depend on
 * the shape, strides, storage, paging, algorithm and whether the softcap
 * is on (its backward keeps one more tile); not on the window,
 * position_shift, ALiBi, the sinks, kv_lens or the packed offsets' values.
 *
 * No global state: calls may run concurrently as long as their outputs and
 * workspaces are distinct; inputs may be shared.
 */
#ifndef ATTENTION_SDPA_H
#define ATTENTION_SDPA_H

#include <stddef.h>
#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How the forward and backward are computed; all give the same results to
 * float rounding and honour every mask, layout and rule in this header. */
typedef enum attn_algo {
    /* The library's choice: a forward with few query rows (at most 16,
     * and at most 32 once the query heads of a kv head are packed) that
     * does not ask for the weights takes the decoding path, which reads
     * each K and V row once (README "Decoding and KV caches");
     * everything else ATTN_ALGO_FUSED. */
    ATTN_ALGO_AUTO = 0,
    /* Tiled online softmax: query blocks walk key blocks, two sgemm per
     * tile, the (Tq, Tk) scores never stored (weights, when asked for,
     * are recomputed tile by tile from the final log-sum-exp). */
    ATTN_ALGO_FUSED = 1,
    /* Whole score rows of 64 queries at a time: the reference path. */
    ATTN_ALGO_MATERIALIZED = 2
} attn_algo;

typedef enum attn_causal {
    ATTN_CAUSAL_NONE = 0,
    ATTN_CAUSAL_TOP_LEFT = 1,
    ATTN_CAUSAL_BOTTOM_RIGHT = 2
} attn_causal;

/* How K and V are stored (kv_dtype). */
typedef enum attn_dtype {
    ATTN_DTYPE_F32 = 0,     /* float */
    ATTN_DTYPE_F16 = 1,     /* IEEE 754 binary16, in uint16_t */
    ATTN_DTYPE_BF16 = 2     /* bfloat16: a float's upper 16 bits */
} attn_dtype;

/* The integer type of the cu_seqlens offset arrays. */
typedef enum attn_index_type {
    ATTN_INDEX_INT32 = 0,   /* int32_t */
    ATTN_INDEX_INT64 = 1    /* int64_t */
} attn_index_type;

/* Element strides of a 4-D tensor whose last dimension is contiguous. */
typedef struct attn_strides {
    int64_t batch;
    int64_t head;
    int64_t row;
} attn_strides;

/*
 * Everything about one attention call except the tensors themselves.
 * Set it up with attn_sdpa_desc_init, then change what you need. Fields are
 * only ever appended; struct_size tells the library which ones the caller
 * knows about.
 */
typedef struct attn_sdpa_desc {
    size_t struct_size;     /* set by attn_sdpa_desc_init; do not touch */

    int64_t batch;          /* B   */
    int64_t q_heads;        /* Hq  */
    int64_t kv_heads;       /* Hkv */
    int64_t q_len;          /* Tq  */
    int64_t kv_len;         /* Tk  */
    int64_t head_dim;       /* d   */
    int64_t v_head_dim;     /* dv  */

    /* Multiplies Q K^T; positive and finite. init: 1 / sqrt(head_dim).
     * 1.0f gives unscaled attention. */
    float scale;

    /* init: contiguous (B, H, T, last) for each tensor. */
    attn_strides q_strides;    /* over (B, Hq,  Tq, d)  */
    attn_strides k_strides;    /* over (B, Hkv, Tk, d)  */
    attn_strides v_strides;    /* over (B, Hkv, Tk, dv) */
    attn_strides out_strides;  /* over (B, Hq,  Tq, dv) */

    attn_causal causal;        /* init: ATTN_CAUSAL_NONE */

    const int64_t *kv_lens;    /* (B) or NULL; init: NULL */

    const uint8_t *keep_mask;  /* (B, Hq, Tq, Tk) or NULL; init: NULL */
    attn_strides keep_strides; /* init: {0, 0, Tk}, one (Tq, Tk) mask */

    const float *bias;         /* (B, Hq, Tq, Tk) or NULL; init: NULL */
    attn_strides bias_strides; /* init: {0, 0, Tk}, one (Tq, Tk) bias */

    /* Threads the call may use; 0 (init) means the ATTN_NUM_THREADS
     * environment variable if set, else every online core, read at the
     * call (and at a size query, for the workspace's room). Results are
     * bit-identical for every thread count. */
    int num_threads;
    attn_algo algo;            /* init: ATTN_ALGO_AUTO */

    /* Appended after the first release: K/V caches (see "K/V storage" and
     * "Paged K/V" above). */
    attn_dtype kv_dtype;       /* init: ATTN_DTYPE_F32 */
    const int32_t *block_table; /* (B, max_pages) or NULL (init): not paged */
    int64_t max_pages;         /* block table row length; init: 0 */
    int64_t page_size;         /* rows per page; init: 0 */
    int64_t num_pages;         /* pages in each of the K and V pools; init: 0 */

    /* Appended with the model families' variants (see "Variants" above). */
    int64_t window_left;       /* keys before the aligned one; init: -1 (all) */
    int64_t window_right;      /* keys after it; init: -1 (all) */
    const float *alibi_slopes; /* (B, Hq) or (Hq) or NULL; init: NULL */
    int64_t alibi_batch_stride; /* between batches' slopes; init: 0 (one (Hq)) */
    float softcap;             /* c > 0 caps the scores; init: 0 (off) */
    const float *sinks;        /* (Hq) sink logits, or NULL; init: NULL */
    /* Packed batches (see "Packed variable-length batches" above). */
    const void *cu_seqlens_q;  /* (B + 1) row offsets into Q and out, or NULL */
    const void *cu_seqlens_k;  /* (B + 1) row offsets into K and V, or NULL */
    attn_index_type seqlens_type; /* init: ATTN_INDEX_INT32 */
    /* Added to off = L - Tq wherever it aligns queries with keys (see
     * "Variants"); init: 0. */
    int64_t position_shift;
} attn_sdpa_desc;

/*
 * Fills *desc for the given shape with the defaults listed above. Call it
 * through the attn_sdpa_desc_init macro, which passes sizeof *desc.
 * Returns ATTN_ERR_NULL_POINTER or ATTN_ERR_BAD_DESC (desc_size smaller
 * than the first released descriptor); shapes are checked by the calls
 * that use the descriptor.
 */
ATTN_EXPORT attn_status attn_sdpa_desc_init_sized(
    attn_sdpa_desc *desc, size_t desc_size, int64_t batch, int64_t q_heads,
    int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
    int64_t v_head_dim);

#define attn_sdpa_desc_init(desc, batch, q_heads, kv_heads, q_len, kv_len, \
                            head_dim, v_head_dim)                          \
    attn_sdpa_desc_init_sized((desc), sizeof *(desc), (batch), (q_heads),  \
                              (kv_heads), (q_len), (kv_len), (head_dim),   \
                              (v_head_dim))

/*
 * Bytes of workspace attn_sdpa_forward_ws needs for this descriptor, in
 * *bytes: enough for every later call with it (see Workspaces above).
 * Validates the descriptor (but no data pointers).
 */
ATTN_EXPORT attn_status attn_sdpa_workspace_size(const attn_sdpa_desc *desc,
                                                 size_t *bytes);

/*
 * Attention forward in a caller workspace; never allocates.
 * q, k, v and out are required; weights and lse are computed only when not
 * NULL. The workspace needs no particular alignment and may be smaller
 * than the size query's answer down to one thread's share (then fewer
 * threads run). Validates everything before writing anything; on error
 * nothing is written.
 */
ATTN_EXPORT attn_status attn_sdpa_forward_ws(
    const attn_sdpa_desc *desc,
    const float *q,       /* (B, Hq,  Tq, d)  strided */
    const void *k,        /* (B, Hkv, Tk, d)  strided, kv_dtype, or pages */
    const void *v,        /* (B, Hkv, Tk, dv) strided, kv_dtype, or pages */
    float *out,           /* (B, Hq,  Tq, dv) strided */
    float *weights,       /* (B, Hq,  Tq, Tk) or NULL */
    float *lse,           /* (B, Hq,  Tq)     or NULL */
    void *workspace, size_t workspace_bytes);

/* attn_sdpa_forward_ws with a workspace it allocates and frees itself;
 * may also return ATTN_ERR_OUT_OF_MEMORY. */
ATTN_EXPORT attn_status attn_sdpa_forward(
    const attn_sdpa_desc *desc,
    const float *q,       /* (B, Hq,  Tq, d)  strided */
    const void *k,        /* (B, Hkv, Tk, d)  strided, kv_dtype, or pages */
    const void *v,        /* (B, Hkv, Tk, dv) strided, kv_dtype, or pages */
    float *out,           /* (B, Hq,  Tq, dv) strided */
    float *weights,       /* (B, Hq,  Tq, Tk) or NULL */
    float *lse);          /* (B, Hq,  Tq)     or NULL */

/*
 * kv_lens from a PyTorch-style boolean key padding mask (nonzero = padding,
 * as torch.nn.MultiheadAttention's key_padding_mask): lens[b] is the number
 * of keys before row b's first padded one. Every row must be unpadded keys
 * followed only by padding; a row that pads a key before an unpadded one
 * cannot be expressed as a length (use keep_mask instead) and gives
 * ATTN_ERR_BAD_ARGUMENT, with nothing written. ld >= kv_len is the row
 * stride; lens may not overlap padding (ATTN_ERR_ALIASING).
 */
ATTN_EXPORT attn_status attn_key_padding_lengths(
    const uint8_t *padding, /* (B, Tk), row stride ld */
    int64_t batch, int64_t kv_len, int64_t ld,
    int64_t *lens);         /* (B) */

/*
 * The masked, scaled scores scale * Q K^T + bias, with -INFINITY wherever a
 * mask hides the key (including keys past kv_lens[b], which are not read).
 * This is what the softmax inside attn_sdpa_forward sees; useful for
 * inspecting score ranges. Never allocates, so keys that sgemm cannot take
 * as they are (fp16/bf16 or paged) are scored row by row by the decoding
 * path's kernel: equal to the sgemm scores to float rounding.
 */
ATTN_EXPORT attn_status attn_sdpa_scores(
    const attn_sdpa_desc *desc,
    const float *q,       /* (B, Hq,  Tq, d) strided */
    const void *k,        /* (B, Hkv, Tk, d) strided, kv_dtype, or pages */
    float *scores);       /* (B, Hq,  Tq, Tk) contiguous */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_SDPA_H */
