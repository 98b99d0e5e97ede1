/* Checking an attn_sdpa_desc once, before any tensor is touched. */
#ifndef ATTN_SRC_DESC_H
#define ATTN_SRC_DESC_H

#include <stddef.h>
#include <stdint.h>

#include <attention/sdpa.h>

#include "layout.h"

/* Query rows the materialised path scores at once: bounds its workspace
 * to ATTN_QUERY_BLOCK * Tk floats whatever Tq is. */
#define ATTN_QUERY_BLOCK 64
/* Slack so the workspace can be aligned to a cache line. */
#define ATTN_WORKSPACE_ALIGN 64

/* A validated descriptor and the byte spans of its tensors. */
typedef struct sdpa_plan {
    attn_sdpa_desc d;       /* full-size copy, defaults filled in */
    int64_t group;          /* Hq / Hkv: query heads per kv head */
    size_t q_bytes, k_bytes, v_bytes, out_bytes;
    size_t keep_bytes, bias_bytes, kv_lens_bytes;
    size_t weights_bytes;   /* (B, Hq, Tq, Tk) floats */
    size_t lse_bytes;       /* (B, Hq, Tq) floats */
    int weights_overflow;   /* weights_bytes does not fit size_t */
    size_t workspace_bytes; /* one materialised tile + alignment slack */
    int threads;            /* resolved from num_threads */
} sdpa_plan;

/* Bytes spanned by a (B, Hq, Tq, Tk) float tensor with bias_strides. */
attn_status attn_sdpa_bias_bytes(const attn_sdpa_desc *d, size_t *bytes);

/* n rounded up to a multiple of ATTN_WORKSPACE_ALIGN: workspace pieces
 * placed one after another stay aligned. */
size_t attn_workspace_round(size_t n);

/* The first ATTN_WORKSPACE_ALIGN-aligned float at or after p. */
float *attn_workspace_floats(void *p);

/* The ranges of the inputs every attention call reads: q, k, v, then
 * keep_mask, bias and kv_lens (empty when unset). */
#define ATTN_SDPA_INPUTS 6
void attn_sdpa_input_ranges(const sdpa_plan *p, const float *q, const float *k,
                            const float *v, attn_range ranges[ATTN_SDPA_INPUTS]);

/* Runs every check that needs only the descriptor (and kv_lens). */
attn_status attn_sdpa_plan_make(const attn_sdpa_desc *desc, sdpa_plan *plan);

#endif /* ATTN_SRC_DESC_H */
