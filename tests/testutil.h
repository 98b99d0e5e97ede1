/*
 * Shared helpers of the test programs: a deterministic PRNG, strided
 * tensors, error measures and a "problem" bundle that runs the library and
 * the reference on the same data and compares them.
 *
 * Include <stdarg.h>, <stddef.h>, <setjmp.h> and <cmocka.h> before this
 * header (cmocka's own requirement); the checks fail the running test.
 */
#ifndef ATTN_TESTS_TESTUTIL_H
#define ATTN_TESTS_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <attention/attention.h>

#include "tolerance.h"

#ifdef __cplusplus
extern "C" {
#endif

/* splitmix64: deterministic, seedable, independent of the C library. */
typedef struct tu_rng {
    uint64_t state;
} tu_rng;

tu_rng tu_rng_make(uint64_t seed);
uint64_t tu_rng_next(tu_rng *r);
/* Uniform in [lo, hi). */
double tu_rng_uniform(tu_rng *r, double lo, double hi);
/* Uniform integer in [0, n). */
uint64_t tu_rng_below(tu_rng *r, uint64_t n);

/* A whole file in a malloc'd buffer (*bytes its size); NULL when it cannot
 * be opened. */
unsigned char *tu_read_file(const char *path, size_t *bytes);

/* Contiguous strides of a (n0, n1, n2, last) tensor. */
attn_strides tu_contig(int64_t n1, int64_t n2, int64_t last);
attn_strides tu_strides(int64_t batch, int64_t head, int64_t row);

/* Elements spanned by a strided (n0, n1, n2, last) tensor. */
size_t tu_span(int64_t n0, int64_t n1, int64_t n2, int64_t last,
               attn_strides s);

/* Offset of element (a, b, c, e). */
static inline int64_t tu_at(attn_strides s, int64_t a, int64_t b, int64_t c,
                            int64_t e)
{
    return a * s.batch + b * s.head + c * s.row + e;
}

/* malloc that fails the test on NULL; n elements of size bytes. */
void *tu_malloc(size_t n, size_t size);

/* Fills the span with NaN, then the tensor's elements with U[lo, hi):
 * gaps between elements hold NaN so that reading them would show. */
void tu_fill_tensor(float *x, int64_t n0, int64_t n1, int64_t n2,
                    int64_t last, attn_strides s, tu_rng *r, double lo,
                    double hi);
void tu_fill_nan(float *x, size_t n);

/*
 * Normwise relative error (see tolerance.h) of the strided float tensor x
 * against the contiguous reference r. Returns +INFINITY when a non-finite
 * reference entry is not matched exactly or x is not finite where r is.
 */
double tu_rel_err(const float *x, attn_strides xs, int64_t n0, int64_t n1,
                  int64_t n2, int64_t last, const double *r);

/* max_i |x_i - s y_i| into *diff and max_i |y_i| into *size. (Written
 * with comparisons: Debian 12's aarch64 GCC crashes vectorising fmax
 * reductions at -O3.) */
void tu_max_diff(const float *x, const float *y, double s, size_t n,
                 double *diff, double *size);

/* Fails the current test with a message when err > ATTN_TEST_REL_TOL. */
#define TU_CHECK_REL(err, what, part)                                    \
    do {                                                                 \
        const double tu_e_ = (err);                                      \
        if (!(tu_e_ <= ATTN_TEST_REL_TOL))                               \
            fail_msg("%s: %s: relative error %g > %g", (what), (part),   \
                     tu_e_, ATTN_TEST_REL_TOL);                          \
    } while (0)

#define TU_CHECK_STATUS(call, expected)                                  \
    do {                                                                 \
        const attn_status tu_s_ = (call);                                \
        if (tu_s_ != (expected))                                         \
            fail_msg("%s returned %d (%s), expected %d (%s)", #call,     \
                     (int)tu_s_, attn_strerror(tu_s_), (int)(expected),  \
                     attn_strerror(expected));                           \
    } while (0)

/* The ways tu_run calls the library. */
typedef enum tu_mode {
    TU_ALLOC,         /* attn_sdpa_forward */
    TU_WS,            /* attn_sdpa_forward_ws, exact-size aligned buffer */
    TU_WS_MISALIGNED  /* attn_sdpa_forward_ws at buffer + 1 byte */
} tu_mode;

/* One attention problem: data, library outputs and reference outputs. */
typedef struct tu_problem {
    attn_sdpa_desc d;
    float *q, *k, *v;
    float *out;             /* span of d.out_strides */
    float *weights, *lse;   /* contiguous */
    size_t q_n, k_n, v_n, out_n, w_n, lse_n;
    /* Masks owned by the problem; tu_problem_* set d's pointers. */
    int64_t *kv_lens;
    uint8_t *keep;
    float *bias;
    size_t keep_n, bias_n;
    /* Reference results, contiguous. */
    double *r_out, *r_w, *r_lse, *r_s;
} tu_problem;

/* attn_sdpa_desc_init; afterwards change strides, scale, causal. */
/* The path the suite runs: ATTN_TEST_ALGO = fused | materialized, else
 * the library's default. ctest registers the programs once per path. */
attn_algo tu_algo(void);

void tu_problem_init(tu_problem *p, int64_t B, int64_t Hq, int64_t Hkv,
                     int64_t Tq, int64_t Tk, int64_t d, int64_t dv);
/* Masks: allocate the spans for the given strides and point d at them. */
int64_t *tu_problem_kv_lens(tu_problem *p);
/* Random keep mask, roughly keep_percent % nonzero (nonzero values vary). */
uint8_t *tu_problem_keep(tu_problem *p, attn_strides s, int keep_percent,
                         tu_rng *r);
/* Bias uniform in [-1, 1). */
float *tu_problem_bias(tu_problem *p, attn_strides s, tu_rng *r);
/* Allocates and fills q, k, v (U[-1, 1), NaN in gaps) and the outputs. */
void tu_problem_data(tu_problem *p, tu_rng *r);
/* Runs the reference on the current data. */
void tu_problem_reference(tu_problem *p);
void tu_problem_free(tu_problem *p);

/* Runs the library (outputs pre-filled with NaN) and asserts ATTN_OK. */
void tu_run(tu_problem *p, tu_mode mode, int want_weights, int want_lse);
/*
 * Compares the library's outputs with the reference: out (and that its
 * gaps still hold the NaN fill), weights and lse when requested; rows the
 * reference finds fully masked must be exactly 0 / 0 / -INFINITY; weights
 * rows of the other rows must sum to 1.
 */
void tu_check(const tu_problem *p, int want_weights, int want_lse,
              const char *what);
/* tu_run + tu_check over several modes and optional outputs. */
void tu_run_and_check(tu_problem *p, const char *what);
/*
 * attn_sdpa_scores against the reference scores (-INFINITY exactly where
 * masked), and the library's lse against log(sum(exp(scores))) of the
 * library's own scores.
 */
void tu_check_scores(tu_problem *p, const char *what);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_TESTS_TESTUTIL_H */
