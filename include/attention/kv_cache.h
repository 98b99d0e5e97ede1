/*
 * Appending to a K/V cache: the write that goes with the reads of
 * attn_sdpa_forward (attention/sdpa.h, "K/V storage" and "Paged K/V").
 *
 * One descriptor describes both: the same attn_sdpa_desc that attends over
 * the cache (kv_heads, head_dim, v_head_dim, kv_len = the capacity,
 * kv_dtype, k_strides / v_strides, block_table, max_pages, page_size,
 * num_pages), with q_len = Tn, the rows appended per sequence, and kv_lens
 * = the lengths before the append. A decoding step is then
 *
 *     attn_kv_append(&d, k_new, ks, v_new, vs, &rope, q, k_cache, v_cache);
 *     for (b = 0; b < B; ++b) lens[b] += Tn;   (d.kv_lens == lens)
 *     attn_sdpa_forward(&d, q, k_cache, v_cache, out, NULL, NULL);
 *
 * with d.causal = ATTN_CAUSAL_BOTTOM_RIGHT, so the new queries see the
 * cache up to themselves.
 */
#ifndef ATTENTION_KV_CACHE_H
#define ATTENTION_KV_CACHE_H

#include <attention/export.h>
#include <attention/rope.h>
#include <attention/sdpa.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Writes Tn = desc->q_len new key and value rows per sequence into the K/V
 * cache the descriptor describes, at positions kv_lens[b] .. kv_lens[b] +
 * Tn - 1 (desc->kv_lens is required: the lengths before the append; the
 * caller adds Tn afterwards), converting fp32 to the storage type (round to
 * nearest even). With rope non-NULL, the new keys are rotated at those
 * absolute positions before storing; with q non-NULL, the Tn query rows
 * (desc->q_heads, desc->q_strides) are rotated in place at the same
 * positions. q is not touched (nor checked) when rope is NULL.
 *
 * Rotation is computed in double exactly as attn_rope_forward computes it
 * (rope.h), then rounded once to the storage type: an fp32 cache holds
 * exactly what attn_rope_forward makes of k_new, and q is rotated bit for
 * bit as attn_rope_forward would rotate it. Only cache rows at the new
 * positions are written; no other row, page or pool byte is. The block
 * table entries read are those of the rows already there (the descriptor
 * check) and of the pages the new rows land on. One thread; no
 * allocation.
 *
 * Statuses, checked in this order; on any error nothing is written:
 *   ATTN_ERR_NULL_POINTER      desc, k_new, v_new, k_cache, v_cache or
 *                              desc->kv_lens is NULL.
 *   the descriptor's own       as attn_sdpa_forward checks it, all of it
 *                              (shapes, every stride, out_strides included:
 *                              it is the forward's descriptor, kv_dtype,
 *                              kv_lens[b] in [0, kv_len], the block table
 *                              for the rows already there).
 *   ATTN_ERR_BAD_KV_LEN        kv_lens[b] + Tn > kv_len.
 *   ATTN_ERR_BLOCK_TABLE_SHORT ceil((kv_lens[b] + Tn) / page_size) >
 *                              max_pages.
 *   ATTN_ERR_BAD_PAGE          an entry for a page the new rows land on is
 *                              outside [0, num_pages).
 *   ATTN_ERR_MISALIGNED        k_cache or v_cache is not aligned to the
 *                              storage type's size.
 *   ATTN_ERR_BAD_ROTARY_DIM,   the rope's fields against head_dim, as
 *   ATTN_ERR_BAD_ARGUMENT      attn_rope_forward checks them; also a table
 *                              too short for position kv_lens[b] + Tn - 1.
 *   ATTN_ERR_BAD_STRIDE        a negative stride or a row stride below d
 *                              (dv) in k_new_strides (v_new_strides) with
 *                              Tn > 1; a cache layout (the (B, Hkv, kv_len)
 *                              tensors, or the (num_pages, Hkv, page_size)
 *                              pools) or the rotated q whose layout would
 *                              write one element twice.
 *   ATTN_ERR_SIZE_OVERFLOW     a span of k_new, v_new or the tables does
 *                              not fit.
 *   ATTN_ERR_ALIASING          see below.
 *
 * Aliasing. The outputs are the cache rows written and q (when rotated);
 * the inputs k_new, v_new, kv_lens, the block table and the rope tables.
 * Every written row is checked against every input's span and q's, so
 * inputs may live anywhere in a cache's unwritten rows. Two written rows
 * may not share a byte:
 *   - within the K pool (V pool): its layout is injective (else
 *     ATTN_ERR_BAD_STRIDE), and no two new rows land on the same page slot
 *     (two sequences, or one sequence, whose block table rows name the
 *     same page for rows being written). The check compares the (sequence,
 *     page) pairs being written pairwise: W^2 / 2 comparisons for W such
 *     pairs (W = B, or a few more, in decoding; about B * Tn / page_size in
 *     a prefill). Writing a page slot that another sequence holds as one of
 *     its existing rows (a shared prefix page) is not detected: that is
 *     the page allocator's business.
 *   - between K and V: the bytes spanned by the K rows written and by the
 *     V rows written are disjoint, or K and V share their strides and the
 *     offset between k_cache and v_cache puts every V row in the gaps of
 *     K's layout (pages or tensors holding K then V, rows interleaved ...):
 *     the layout with a K/V dimension of that stride added is injective.
 */
ATTN_EXPORT attn_status attn_kv_append(
    const attn_sdpa_desc *desc,
    const float *k_new, attn_strides k_new_strides, /* (B, Hkv, Tn, d)  */
    const float *v_new, attn_strides v_new_strides, /* (B, Hkv, Tn, dv) */
    const attn_rope *rope,                          /* or NULL */
    float *q,                                       /* (B, Hq, Tn, d) or NULL */
    void *k_cache, void *v_cache);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_KV_CACHE_H */
