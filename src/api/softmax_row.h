/* The row softmax kernel shared by attention and attn_softmax_rows. */
#ifndef ATTN_SRC_SOFTMAX_ROW_H
#define ATTN_SRC_SOFTMAX_ROW_H

#include <stdint.h>

/* Softmax of x[0, n) in place; returns log(sum(exp(x))). A row with no
 * finite-or-NaN entry (all -INFINITY, or n == 0) becomes zeros and returns
 * -INFINITY. */
float attni_softmax_row(float *x /* (n) */, int64_t n);

#endif /* ATTN_SRC_SOFTMAX_ROW_H */
