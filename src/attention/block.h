/* Pieces shared by the attention forward and backward: where one (batch,
 * head) pair lives, which keys a query sees, and the masked score block. */
#ifndef ATTN_SRC_SDPA_BLOCK_H
#define ATTN_SRC_SDPA_BLOCK_H

#include <stdint.h>

#include "plan/desc.h"
#include "plan/kv_source.h"

/* Element offsets of one (batch, query head) pair in every tensor, and the
 * pair's row counts (its own when packed). Gradient tensors share the
 * layout of what they differentiate. */
typedef struct head_offsets {
    int64_t q, k, v, out, keep, bias;
    int64_t valid;          /* keys this batch may see at most: L */
    int64_t rows;           /* query rows of this batch: Tq */
    int64_t lse;            /* of query row 0 in lse (B, Hq, Tq) or
                               (Hq, total_q), and in (B, Hq, Tq)-shaped
                               scratch: unique per row */
    float slope;            /* ALiBi slope, 0 without ALiBi */
    float sink;             /* sink logit, -INFINITY without a sink */
} head_offsets;

head_offsets attni_head_offsets(const sdpa_plan *p, int64_t b, int64_t h);

/*
 * The keys [begin, end) a query may see under the masks that bound a range
 * (kv_lens, causal and the window); keep_mask and bias hide keys inside
 * it. Empty when end <= begin. Neither end decreases with the query index,
 * so the keys any of the rows i0 .. i1 may see lie in
 * [begin(i0), end(i1)): every path computes only the key tiles inside that
 * range, forward and backward.
 */
typedef struct attn_key_range {
    int64_t begin, end;
} attn_key_range;

attn_key_range attni_row_keys(const attn_sdpa_desc *d, const head_offsets *o,
                              int64_t i);

/* The query rows [begin, end) that may see some key of [j0, j1): an
 * interval, since neither end of a row's range decreases with the row
 * (the backward walks only these for a key tile). */
attn_key_range attni_key_queries(const attn_sdpa_desc *d, const head_offsets *o,
                                 int64_t j0, int64_t j1);

/* The union of the ranges of rows i0 .. i1 (end >= begin). */
attn_key_range attni_block_keys(const attn_sdpa_desc *d, const head_offsets *o,
                               int64_t i0, int64_t i1);

/* Rows in the materialised query block starting at i0. */
int64_t attni_block_rows(const head_offsets *o, int64_t i0);

/* BLAS wants ld >= columns even when a single row makes it irrelevant. */
int attni_blas_ld(int64_t stride, int64_t rows, int64_t cols);

/* Turns one row of scaled scores of query i against keys [j0, j0 + n)
 * into what the softmax sees: -INFINITY outside its key range or where
 * keep_mask hides a key; elsewhere softcapped, then ALiBi and bias added.
 * With softcap, dcap (when not NULL) receives the cap's derivative
 * 1 - tanh^2 (0 where masked). */
void attni_mask_scores(const sdpa_plan *p, const head_offsets *o, int64_t i,
                       int64_t j0, int64_t n, float *row /* (n) */,
                       float *dcap /* (n) or NULL */);

/*
 * Scores of query rows [i0, i0 + m) of pair o against keys [j0, j0 + n)
 * into S (row stride ld), as attni_mask_scores leaves them (dcap alike,
 * same stride, when not NULL). K holds the keys' rows (row j0 first, ldk
 * apart); q is the tensor's base pointer; masks come from p->d.
 */
void attni_score_tile(const sdpa_plan *p, const head_offsets *o,
                     const float *q, const float *K /* (n, ldk) */,
                     int64_t ldk, int64_t i0, int64_t m, int64_t j0,
                     int64_t n, float *S /* (m, ld) */, int64_t ld,
                     float *dcap /* (m, ld) or NULL */);

/* A row's softmax with the sink logit joined to its denominator: the
 * factor its weights (and output) are multiplied by, e^L / (e^L + e^sink),
 * and *joined = log(e^L + e^sink), from the row's log-sum-exp L. L =
 * -INFINITY gives 0 and sink; sink = -INFINITY gives 1 and L; NaN stays
 * NaN. */
float attni_sink_join(float L, float sink, float *joined);

/* Rows [j0, j0 + n) of K or V as floats, ld apart: the tensor's own rows
 * when sgemm can take them (attni_kv_is_direct), else widened (and
 * gathered from their pages) into buf. */
typedef struct kv_tile {
    const float *rows;
    int64_t ld;
} kv_tile;

kv_tile attni_kv_tile(const sdpa_plan *p, const kv_source *s, int64_t j0,
                      int64_t n, int64_t cols, float *buf /* (n, cols) */);

/*
 * The next run of rows that saw a key at or after *start among m: rows
 * whose lse is neither -INFINITY nor `dead`, the head's sink (the lse of
 * a row that saw nothing, or whose keys' weights sum below float
 * resolution beside the sink: dropped, as documented). Moves *start to its first row and returns its length (0 when
 * none is left). The backward runs its products over such runs only, so a
 * fully masked row takes part in none of them and NaN in its q or dout
 * row, or in a key it cannot see, never reaches any gradient.
 */
int64_t attni_live_rows(const float *lse /* (m) */, int64_t m, float dead,
                        int64_t *start);

/* The online softmax's rescaling of an unnormalised output: O[r] *=
 * alpha[r], and a row that saw nothing before (old_max -INFINITY) restarts
 * from zero, so 0 * NaN from a hidden V row cannot survive into it. */
void attni_rescale_rows(float *O /* (m, dv) */, const float *alpha /* (m) */,
                        const float *old_max /* (m) */, int64_t m, int64_t dv);

/* x[r, j] *= y[r, j] over an (m, n) block of two tiles of row stride ld. */
void attni_mul_rows(float *x /* (m, ld) */, const float *y /* (m, ld) */,
                    int64_t m, int64_t n, int64_t ld);

/* Zeroes `rows` rows of `cols` floats, `stride` apart. */
void attni_zero_rows(float *x, int64_t rows, int64_t stride, int64_t cols);

#endif /* ATTN_SRC_SDPA_BLOCK_H */
