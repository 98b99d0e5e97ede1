/* The three stages of fuzz_sdpa, each on one decoded case. */
#ifndef ATTN_FUZZ_SDPA_CHECKS_H
#define ATTN_FUZZ_SDPA_CHECKS_H

#include "sdpa_case.h"

/* Normwise relative tolerance between the two paths and the reference. */
#define SDPA_TOL 1e-4

/* Outputs of one forward. */
typedef struct sdpa_fwd {
    float *out;      /* span of the out layout, gaps poisoned */
    float *weights;  /* (B, Hq, Tq, Tk) or NULL */
    float *lse;      /* (B, Hq, Tq)     or NULL */
} sdpa_fwd;

/*
 * Fused and materialised forwards (with workspace; when the case asks for
 * a rerun, one path again through the allocating call on another thread
 * count), scores; statuses, agreement with each other and with the double
 * reference, finiteness, masked rows, untouched gaps. fwd[0] fused, fwd[1]
 * materialised, kept for the backward (lse always computed when the case
 * runs the backward).
 */
void sdpa_check_forward(const sdpa_case *c, sdpa_fwd fwd[2]);
void sdpa_fwd_free(sdpa_fwd *f);

/* Backward on both paths from their own forwards: agreement, finiteness,
 * untouched gaps, and (when the case asks for a rerun) thread-count
 * determinism of one path. */
void sdpa_check_backward(const sdpa_case *c, const sdpa_fwd fwd[2]);

/* One invalid variation of the case: the documented status, nothing
 * written. */
void sdpa_check_probe(const sdpa_case *c);

/* Row (b, h, i) sees no key: every key is hidden by causal, kv_lens or
 * keep_mask, or has a -INFINITY bias (found once, by sdpa_case_finish). */
static inline int sdpa_row_masked(const sdpa_case *c, int64_t b, int64_t h,
                                  int64_t i)
{
    return c->masked[(b * c->d.q_heads + h) * c->d.q_len + i];
}

#endif /* ATTN_FUZZ_SDPA_CHECKS_H */
