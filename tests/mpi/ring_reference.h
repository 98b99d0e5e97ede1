/*
 * The float64 oracle of the ring tests: the forward of tests/reference.c
 * (ref_sdpa) and a closed-form backward in double written from the
 * formulas of <attention/sdpa_backward.h> (with the softcap's chain
 * rule; the window, ALiBi and sinks need none beyond the weights), plus the
 * normwise error
 * measures of ../tolerance.h over contiguous tensors.
 */
#ifndef ATTN_TESTS_RING_REFERENCE_H
#define ATTN_TESTS_RING_REFERENCE_H

#include <stddef.h>

#include <attention/sdpa.h>

/*
 * Gradients of L = sum(out * dout) for contiguous float inputs, in double:
 * dq (B, Hq, Tq, d), dk (B, Hkv, Tk, d), dv (B, Hkv, Tk, dv), all
 * contiguous and overwritten. d must describe contiguous tensors, with any
 * masks reference.c understands.
 */
void ring_ref_backward(const attn_sdpa_desc *d, const float *q,
                       const float *k, const float *v, const float *dout,
                       double *dq, double *dk, double *dv);

/* The sinks' gradient of <attention/sdpa_backward.h> in double from the
 * reference's out (B, Hq, Tq, dv) and lse (B, Hq, Tq), contiguous:
 * dsinks[h] = -sum_{b,i} e^(sink[h] - lse) rowsum(dout * out); rows with
 * lse = -INFINITY and heads without a sink add nothing. */
void ring_ref_dsinks(const attn_sdpa_desc *d, const double *out,
                     const double *lse, const float *dout, double *dsinks);

/* max |x - r| / max(max |r|, floor) over the entries with finite r; an
 * entry with non-finite r must equal it exactly (else +INFINITY). */
double ring_rel_err(const float *x, const double *r, size_t n, double floor);

#endif /* ATTN_TESTS_RING_REFERENCE_H */
