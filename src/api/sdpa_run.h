/* The attention entry points split into a check and a run, so that a
 * multi-step call (the layer) checks every step before its first write. */
#ifndef ATTN_SRC_SDPA_RUN_H
#define ATTN_SRC_SDPA_RUN_H

#include <stddef.h>

#include "plan/desc.h"

/*
 * Everything attn_sdpa_forward_ws checks beyond the plan: pointers,
 * aliasing, the workspace. On ATTN_OK *threads is what the run may use.
 */
attn_status attni_sdpa_forward_check(const sdpa_plan *p, const float *q,
                                    const void *k, const void *v,
                                    float *out, float *weights, float *lse,
                                    const void *workspace,
                                    size_t workspace_bytes, int *threads);

/* The forward on checked arguments; cannot fail. */
void attni_sdpa_forward_run(const sdpa_plan *p, int threads, const float *q,
                           const void *k, const void *v, float *out,
                           float *weights, float *lse, void *workspace);

/* The same pair for attn_sdpa_backward_ws. */
attn_status attni_sdpa_backward_check(const sdpa_plan *p, const float *q,
                                     const float *k, const float *v,
                                     const float *out, const float *lse,
                                     const float *dout, float *dq, float *dk,
                                     float *dv, float *dbias,
                                     const void *workspace,
                                     size_t workspace_bytes, int *threads);

void attni_sdpa_backward_run(const sdpa_plan *p, int threads, const float *q,
                            const float *k, const float *v, const float *out,
                            const float *lse, const float *dout, float *dq,
                            float *dk, float *dv, float *dbias,
                            void *workspace);

/* attn_sdpa_sinks_backward on checked arguments: dsinks (Hq) +=. */
void attni_sinks_backward_run(const sdpa_plan *p, const float *out,
                              const float *lse, const float *dout,
                              float *dsinks);

#endif /* ATTN_SRC_SDPA_RUN_H */
