/* One row of the exact merge (attention/merge.h), for the library's own
 * split-KV too. */
#ifndef ATTN_SRC_MERGE_ROW_H
#define ATTN_SRC_MERGE_ROW_H

#include <stdint.h>

/* out (dv) and *lse (if lse) from `parts` partial rows part_out[p *
 * part_stride ..] with log-sum-exp part_lse[p * lse_stride]: weights
 * e^(L_p - M) in double, M the largest L_p; -INFINITY parts never read. */
void attni_merge_row(int64_t parts, int64_t lse_stride, int64_t dv,
                     const float *part_out, int64_t part_stride,
                     const float *part_lse, float *out, float *lse);

#endif /* ATTN_SRC_MERGE_ROW_H */
