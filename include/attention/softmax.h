/* The numerically stable row softmax used inside attention, on its own. */
#ifndef ATTENTION_SOFTMAX_H
#define ATTENTION_SOFTMAX_H

#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * In place: x[r, :] = exp(x[r, :] - m) / sum(exp(x[r, :] - m)), m the row
 * maximum. -INFINITY entries are masked and become 0; a row that is all
 * -INFINITY becomes all zeros with lse -INFINITY. A NaN or +INFINITY entry
 * makes its whole row (and lse) NaN, as IEEE arithmetic does.
 * lse, when not NULL, receives log(sum(exp(x[r, :]))) per row.
 * Rows are ld elements apart (ld >= cols); the gap is not touched.
 */
ATTN_EXPORT attn_status attn_softmax_rows(
    float *x,           /* (rows, cols), row stride ld */
    int64_t rows, int64_t cols, int64_t ld,
    float *lse);        /* (rows) or NULL */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_SOFTMAX_H */
