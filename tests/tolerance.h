/*
 * The one place where the test suite's tolerances are defined.
 *
 * Error measure. Every float tensor x produced by the library is compared
 * with a double-precision reference r (tests/reference.c) by its normwise
 * relative error
 *
 *     rel(x, r) = max_i |x_i - r_i| / max(max_i |r_i|, ATTN_TEST_TINY)
 *
 * where i runs over the entries whose reference value is finite. Entries
 * whose reference value is not finite (-INFINITY scores, NaN rows) must be
 * matched exactly (same infinity, or both NaN); a non-finite x where r is
 * finite counts as an infinite error. A tensor passes when
 * rel(x, r) <= ATTN_TEST_REL_TOL.
 *
 * Why 1e-5 is reachable. The library computes both products with
 * cblas_sgemm and the softmax in float (expf, double row sums); float has
 * a unit roundoff of 2^-24 ~ 6e-8. The test data are drawn uniformly from
 * [-1, 1] (queries, keys, values, biases) and the default scale
 * 1/sqrt(d) is used, so a score is a sum of d products of magnitude <= 1
 * whose typical size is O(1) and never more than sqrt(d) <= 15 for
 * d <= 200. The rounding error of a length-n float dot product is bounded
 * by about n * u * sum|a_i b_i|, in practice ~sqrt(n) * u, i.e. below 1e-6
 * relative for n <= 200. exp(s - max) is then evaluated to < 1 ulp on
 * arguments of size <= 2 * 15, so the weights carry a relative error of at
 * most a few 1e-6 in the worst case and ~1e-7 typically; the output is a
 * convex combination of values in [-1, 1], so its absolute error is of the
 * same order while its largest entry is O(0.1 .. 1). A normwise (rather
 * than elementwise) measure is used because a context entry that happens
 * to cancel to ~0 has no meaningful relative error of its own.
 * The softmax tests (test_softmax.c) feed scores from [-8, 8) and from
 * [85, 95): there x - max is exact (Sterbenz) or carries at most
 * |x| * u ~ 1e-6 of rounding, so exp stays within a few 1e-6 as well.
 * Data with a large dynamic range (e.g. scores of size 1e4) could not meet
 * 1e-5 in float and is deliberately not used, except in the softmax
 * stability test, which checks specific exactly representable cases.
 *
 * ATTN_TEST_TINY only guards the division for an all-zero reference.
 */
#ifndef ATTN_TESTS_TOLERANCE_H
#define ATTN_TESTS_TOLERANCE_H

/* Maximum normwise relative error of any tensor against the reference. */
#define ATTN_TEST_REL_TOL 1e-5

/* Floor of the denominator of the normwise relative error. */
#define ATTN_TEST_TINY 1e-30

/*
 * The seed test compares with numbers printed by PyTorch to 4 decimals:
 * a correctly rounded print is within 0.5e-4 of the true value, and the
 * float computation on both sides adds at most ~1e-7; 1e-6 covers that.
 */
#define ATTN_TEST_PRINTED_TOL (0.5e-4 + 1e-6)

/*
 * Layer outputs against PyTorch's float32 outputs stored in the fixtures:
 * both sides round in float32 with different summation orders (sgemm
 * blocking, PyTorch's baddbmm), each ~1e-7 relative per product; 1e-5
 * normwise leaves two orders of magnitude while still catching any
 * layout, scaling or masking mistake (those give errors of order 1).
 */
#define ATTN_TEST_PYTORCH_TOL 1e-5

#endif /* ATTN_TESTS_TOLERANCE_H */
