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

/* ---- gradients (test_backward, test_linear, test_mha) ---------------------- */

/*
 * The oracle for every gradient is a central difference
 * (L(x + h) - L(x - h)) / 2h of the scalar loss L = sum(out * G), G a fixed
 * random tensor in [-1, 1), evaluated by the double-precision references of
 * tests/grad_reference.c on the same (float) inputs. Its own error is the
 * truncation h^2/6 |d^3L/dx^3| plus rounding ~u_double |L| / h
 * (u_double = 1.1e-16). With inputs in [-1, 1) the derivatives of L are
 * O(1..10) and |L| per row O(1), so h = 1e-5 puts both near 1e-10, four
 * orders below the tolerances. test_backward measures it: one-term against
 * full re-evaluation agree to 5e-10, steps 4h and h to 1e-10 (a truncation
 * error of ~7e-12 at h); linear's differences match its closed form.
 */
#define ATTN_TEST_FD_STEP 1e-5

/* Agreement required between two evaluations of the reference
 * differences (fast vs full, step 4h vs h / 15, finite differences vs
 * closed form): 20x the 5e-10 measured. */
#define ATTN_TEST_FD_SELF_TOL 1e-8

/*
 * Library gradients against those differences, by the measure
 *
 *     max_i |x_i - r_i| / max(max_i |r_i|, ATTN_TEST_GRAD_FLOOR)
 *
 * i.e. normwise relative, except that a gradient whose true size is below
 * the floor is held to an absolute ATTN_TEST_GRAD_TOL * FLOOR = 1e-6. The
 * floor exists because some gradients are exactly zero by cancellation
 * while the terms they are made of are not: with one visible key the
 * softmax is constant, so dq = scale * P (dP - rowsum(dout * out)) K = 0
 * (dk and dbias likewise), but the library forms dP = dout V^T with sgemm
 * in float and the row sum in double, leaving float rounding of size
 * u |dout| |v| dv ~ 1e-7 per term (u = 6e-8), summed over up to Tq = 65
 * rows and the query heads of a kv head. Measured: 1.8e-7 absolute
 * (1.8e-6 against the floor). The floor is 0.1 because every input is
 * drawn from [-1, 1): the terms of each gradient (P (dP - D) k, P dout,
 * x dy ...) are O(0.1 .. 1), and typical gradients are 0.04 .. 7.
 *
 * Why 1e-5. The backward recomputes P = exp(s - lse) in float from float
 * scores and the forward's float lse (relative error ~2u |s| <= 1e-6 for
 * |s| <= 5), forms dS = P (dP - D) (D summed in double) and three float
 * sgemm products over at most 65 terms of O(1) size (error ~sqrt(65) u
 * relative to the terms). That adds up to a few 1e-7 of the gradient's
 * scale; measured over the whole grid: dq 4.0e-7, dk 5.0e-7 (1.2e-6
 * floored), dv 4.6e-7, dbias 7.2e-7 (1.8e-6 floored); linear dx 7.4e-8,
 * dw 2.7e-7, db 2.2e-7. 1e-5 leaves a 5x margin on the worst (floored)
 * case and 15..20x on the others, while a wrong scale, a missed head or
 * row, or a sign error gives errors of 1e-2 .. 1.
 */
#define ATTN_TEST_GRAD_FLOOR 0.1
#define ATTN_TEST_GRAD_TOL 1e-5

/*
 * Layer gradients (test_mha): the same measure and floor. The layer's
 * backward chains three float stages (output projection, attention,
 * input projections), each of the accuracy above over E <= 12 or
 * B*T <= 14 terms; their errors add, they do not multiply. Measured:
 * parameters 3.4e-7, inputs 3.2e-7; 1e-5 leaves 30x.
 */
#define ATTN_TEST_LAYER_GRAD_TOL 1e-5

/*
 * += accumulation: the second of two identical calls, or a call into
 * pre-filled buffers, must give the sum within this fraction of the
 * normwise size of the summands. Each element receives a few float
 * additions per call (one per query block and per query head of a kv head;
 * for a broadcast dbias one per (batch, head), 8 here); reassociating n
 * float additions moves the sum by at most ~n u of the summands' size,
 * 16 u = 1e-6 for two calls of 8. Measured: 1.2e-7.
 */
#define ATTN_TEST_ACCUM_TOL 1e-6

/*
 * Initialisation bounds. The library draws x = (2u - 1) * bound_f with
 * u a multiple of 2^-24 in [0, 1), exact in float, and bound_f the bound
 * computed in float (a division and sqrtf, each correctly rounded: within
 * 1.5 float ulp, 9e-8 relative, of the true sqrt(6 / (fan_in + fan_out))
 * or 1/sqrt(E)); the product rounds to at most |bound_f|. So
 * |x| <= bound (1 + 2e-7).
 */
#define ATTN_TEST_INIT_BOUND_SLACK 2e-7

#endif /* ATTN_TESTS_TOLERANCE_H */
