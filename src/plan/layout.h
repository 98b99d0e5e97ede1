/* Size arithmetic and memory-range checks shared by the entry points. */
#ifndef ATTN_SRC_LAYOUT_H
#define ATTN_SRC_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include <attention/sdpa.h>

/* Half-open address range [begin, end); begin == end means "none". */
typedef struct attn_range {
    uintptr_t begin;
    uintptr_t end;
} attn_range;

/* *r = a * b or a + b; 0 on overflow. */
int attni_mul_size(size_t a, size_t b, size_t *r);
int attni_add_size(size_t a, size_t b, size_t *r);

/*
 * Bytes spanned by a (n0, n1, n2, last) tensor with strides
 * (s.batch, s.head, s.row, 1): ((n0-1)s0 + (n1-1)s1 + (n2-1)s2 + last)
 * elements. Dimensions must be positive and strides non-negative.
 * Returns ATTN_ERR_SIZE_OVERFLOW if the byte count exceeds PTRDIFF_MAX
 * (offsets into the span must be valid pointer differences).
 */
attn_status attni_span_bytes(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                            attn_strides s, size_t elem_size, size_t *bytes);

/* ATTN_ERR_BAD_STRIDE unless every stride is >= 0 and, for rows > 1, the
 * row stride is >= last (the BLAS leading-dimension rule). */
attn_status attni_check_strides(attn_strides s, int64_t rows, int64_t last);

/* Nonzero when no two index tuples of the tensor share an element. */
int attni_layout_is_injective(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                             attn_strides s);

/* The same for a tensor of `dims` <= ATTN_LAYOUT_MAX_DIMS outer dimensions
 * n (positive) with strides st (non-negative), then `last` contiguous. */
#define ATTN_LAYOUT_MAX_DIMS 4
int attni_layout_is_injective_n(int dims, const int64_t *n /* (dims) */,
                                const int64_t *st /* (dims) */, int64_t last);

attn_range attni_range_of(const void *p, size_t bytes);
int attni_ranges_overlap(attn_range a, attn_range b);

/* Nonzero when any of the n outputs overlaps another output or any of the
 * m inputs. */
int attni_outputs_alias(const attn_range *outputs, size_t n,
                       const attn_range *inputs, size_t m);

/* Contiguous strides for a (n0, n1, n2, last) tensor; saturate at
 * INT64_MAX, zero for non-positive dimensions. */
attn_strides attni_contiguous_strides(int64_t n1, int64_t n2, int64_t last);

#endif /* ATTN_SRC_LAYOUT_H */
