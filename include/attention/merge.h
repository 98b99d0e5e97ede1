/*
 * The exact merge of partial attention results. Attention over a key set
 * split into disjoint parts p (split-KV, a sharded cache, sequence
 * parallelism) gives per part an output O_p and a log-sum-exp L_p (natural
 * log, as attn_sdpa_forward's lse). The result over the union is
 *
 *     L = log(sum_p e^(L_p))        O = sum_p e^(L_p - L) O_p
 *
 * computed in double after subtracting the largest L_p, so it is as exact
 * as attention over the whole set and never overflows. A part with
 * L_p = -INFINITY (it saw no key) contributes nothing, whatever its O_p
 * holds; when every part has -INFINITY the row is zeros with L =
 * -INFINITY. A NaN L_p makes the row and L NaN; so does +INFINITY, which
 * no attention call gives.
 */
#ifndef ATTENTION_MERGE_H
#define ATTENTION_MERGE_H

#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Merges `parts` partial results of `rows` rows of dv values each. Part p's
 * row r starts at part_out[p * part_stride + r * row_stride] (strides in
 * floats, row_stride >= dv; part_stride 0 with parts 1 is fine) and its
 * log-sum-exp is part_lse[p * rows + r]. out row r starts at
 * out[r * out_row_stride]; lse (may be NULL) receives L. parts may be 0
 * (every row empty). Rows are typically the (B, Hq, Tq) rows of attention
 * outputs, laid out as the caller likes.
 *
 * ATTN_ERR_NULL_POINTER, ATTN_ERR_BAD_DIMENSION (rows or dv < 1, parts <
 * 0), ATTN_ERR_BAD_STRIDE (a stride below its row length or negative),
 * ATTN_ERR_SIZE_OVERFLOW, ATTN_ERR_ALIASING (out or lse overlapping the
 * parts or each other); on error nothing is written. Never allocates.
 */
ATTN_EXPORT attn_status attn_merge_partials(
    int64_t parts, int64_t rows, int64_t dv,
    const float *part_out,   /* (parts, rows, dv) strided */
    int64_t part_stride, int64_t row_stride,
    const float *part_lse,   /* (parts, rows) contiguous */
    float *out,              /* (rows, dv), row stride out_row_stride */
    int64_t out_row_stride,
    float *lse);             /* (rows) or NULL */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_MERGE_H */
