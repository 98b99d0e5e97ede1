/* Checking an attn_sdpa_desc once, before any tensor is touched. */
#ifndef ATTN_SRC_DESC_H
#define ATTN_SRC_DESC_H

#include <stddef.h>
#include <stdint.h>

#include <attention/sdpa.h>

#include "plan/layout.h"
#include "kernels/tile_kernels.h"
#include "plan/tiles.h"
#include "plan/workspace.h"


/* A validated descriptor and the byte spans of its tensors. */
typedef struct sdpa_plan {
    attn_sdpa_desc d;       /* full-size copy, defaults filled in */
    int64_t group;          /* Hq / Hkv: query heads per kv head */
    size_t q_bytes, k_bytes, v_bytes, out_bytes;
    size_t keep_bytes, bias_bytes, kv_lens_bytes;
    size_t weights_bytes;   /* (B, Hq, Tq, Tk) floats */
    size_t lse_bytes;       /* (B, Hq, Tq) floats */
    int weights_overflow;   /* weights_bytes does not fit size_t */
    size_t tile_bytes;      /* one materialised (ATTN_MATERIALIZED_ROWS, Tk) float
                               tile, rounded to ATTN_WORKSPACE_ALIGN */
    int kv_direct;          /* K and V are fp32 tensors (not paged): sgemm
                               takes them as they are */
    size_t kv_buf_bytes;    /* unless kv_direct: one widened (Tk, max(d, dv))
                               float tile of the materialised path */
    size_t block_table_bytes;
    size_t alibi_bytes, sinks_bytes, seqlens_bytes;
    int64_t max_rows;       /* Tq, or the longest packed sequence's */
    /* Process state, read once per call (never again inside it, so that
     * the tiles a call sizes are the tiles it uses): */
    int threads;            /* resolved from num_threads */
    int blas_threads;       /* attni_blas_may_thread() */
    const attn_tile_kernels *kernels; /* of attni_cpu_level_select() */
} sdpa_plan;

/* Bytes spanned by a (B, Hq, Tq, Tk) float tensor with bias_strides. */
attn_status attni_sdpa_bias_bytes(const attn_sdpa_desc *d, size_t *bytes);

/* The ranges of the inputs every attention call reads: q, k, v, then
 * keep_mask, bias, kv_lens, block_table, alibi_slopes, sinks and the two
 * cu_seqlens (empty when unset). */
#define ATTN_SDPA_INPUTS 11
void attni_sdpa_input_ranges(const sdpa_plan *p, const float *q, const void *k,
                            const void *v, attn_range ranges[ATTN_SDPA_INPUTS]);

/* ATTN_ERR_MISALIGNED unless k and v are aligned to the storage type. */
attn_status attni_sdpa_kv_aligned(const sdpa_plan *p, const void *k,
                                  const void *v);

/* Runs every check that needs only the descriptor (and kv_lens), and
 * reads the process state the call depends on. */
attn_status attni_sdpa_plan_make(const attn_sdpa_desc *desc, sdpa_plan *plan);

#endif /* ATTN_SRC_DESC_H */
