/*
 * What the harnesses share besides input decoding: the property check
 * (a violated property traps, so libFuzzer records the input), strided
 * tensor walks, error measures, and buffers that may end at a guard page.
 */
#ifndef ATTN_FUZZ_CHECK_H
#define ATTN_FUZZ_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <attention/sdpa.h>

/* Prints what failed (stderr, for the crash log) and traps. */
_Noreturn void fuzz_fail(const char *what, const char *file, int line);

#define FUZZ_REQUIRE(cond)                                 \
    do {                                                   \
        if (!(cond))                                       \
            fuzz_fail(#cond, __FILE__, __LINE__);          \
    } while (0)

/* Nonzero when FUZZ_VERBOSE is set: harnesses then print their errors. */
int fuzz_verbose(void);

/* ---- strided 4-D tensors ------------------------------------------------ */

/* (n0, n1, n2, last) over strides s; the last dimension contiguous. */
typedef struct fz_shape {
    int64_t n0, n1, n2, last;
    attn_strides s;
} fz_shape;

fz_shape fz_shape_of(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                     attn_strides s);
/* Contiguous (n0, n1, n2, last). */
fz_shape fz_dense(int64_t n0, int64_t n1, int64_t n2, int64_t last);

/* Elements from the first to one past the last one the tensor uses. */
size_t fz_span(fz_shape sh);
size_t fz_numel(fz_shape sh);

/* Inline: every element walk of every check goes through it. */
static inline int64_t fz_at(fz_shape sh, int64_t i0, int64_t i1, int64_t i2,
                            int64_t c)
{
    return i0 * sh.s.batch + i1 * sh.s.head + i2 * sh.s.row + c;
}

/* mark (fz_span) = 1 where the tensor has an element, 0 in the gaps. */
void fz_mark(fz_shape sh, uint8_t *mark);
/* The same in a new malloc'd buffer (free()). */
uint8_t *fz_mark_new(fz_shape sh);

/* ---- error measures ------------------------------------------------------ */

/*
 * max |a - b| / max(max |b|, floor) over the elements of the two strided
 * tensors (same logical shape), in double. Entries where either side is not
 * finite must be the same non-finite value (both NaN, or the same
 * infinity), else the error is +INFINITY.
 */
double fz_rel_err(const float *a, fz_shape sa, const float *b, fz_shape sb,
                  double floor);
/* The same against a contiguous double reference. */
double fz_rel_err_ref(const float *a, fz_shape sa, const double *r,
                      double floor);

/* Largest finite |x| over the tensor's elements (for error floors). */
double fz_max_abs(const float *x, fz_shape sh);
/* Every element finite; with allow_neg_inf, -INFINITY passes too. */
int fz_all_finite(const float *x, fz_shape sh, int allow_neg_inf);

/* ---- buffers --------------------------------------------------------------- */

/*
 * bytes of memory (> 0). guard = 0: malloc (ASan red zones on both sides,
 * but BLAS is not instrumented); guard != 0: the buffer ends exactly at a
 * PROT_NONE page, so that an overrun even inside the BLAS faults. Guarded
 * mappings are kept after fz_free and handed out again (mmap, mprotect
 * and munmap per buffer cost more than a small fuzz case), so their
 * contents start undefined, like malloc's.
 * Traps if memory runs out (inputs are tiny).
 */
void *fz_alloc(size_t bytes, int guard);
void fz_free(void *p);

/* Fills n floats with a NaN pattern the library cannot produce. */
void fz_poison(float *x, size_t n);
#define FZ_POISON_BITS 0x7FC0DEADu
static inline int fz_is_poison(float x)
{
    union { float f; uint32_t u; } b = {x};
    return b.u == FZ_POISON_BITS;
}
/* All n floats still hold the poison. */
int fz_all_poison(const float *x, size_t n);
/* All n floats are +0.0f or -0.0f. */
int fz_all_zero(const float *x, size_t n);

/* Nonzero when every gap of x's layout (sh) still holds the poison:
 * nothing was written there. */
int fz_gaps_untouched(const float *x /* (fz_span(sh)) */, fz_shape sh);
/* The same with the layout's mark (fz_mark) at hand: n = fz_span(sh). */
int fz_gaps_untouched_mark(const float *x, const uint8_t *mark, size_t n);

#endif /* ATTN_FUZZ_CHECK_H */
