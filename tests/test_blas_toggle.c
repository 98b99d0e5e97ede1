/*
 * An application thread that changes OpenBLAS's thread count while another
 * thread is inside the library, as applications do at run time: it
 * toggles openblas_set_num_threads between 1 and 2 in a loop while the
 * main thread runs attention forwards and backwards (in workspaces sized
 * once, before the toggling starts) and layer forwards and backwards.
 *
 * The tile sizes depend on whether the BLAS threads, so a call that read
 * that state twice could size its workspace for one tiling and use the
 * other (a heap overflow under AddressSanitizer, a crash without). Every
 * call must succeed, and every result match the double-precision
 * reference. Run on whichever OpenBLAS build the loader finds: ctest runs
 * it on the default (pthread) build and on the OpenMP one; the sanitizer
 * and ThreadSanitizer runs take it too. Without OpenBLAS it checks only
 * the results.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "grad_reference.h"
#include "testutil.h"

/* OpenBLAS's setters, if the BLAS is OpenBLAS (weak: NULL otherwise). */
#pragma weak openblas_set_num_threads
#pragma weak openblas_get_num_threads
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

#define ROUNDS 24

static atomic_int stop;
static atomic_long toggles;

static void *toggler(void *arg)
{
    (void)arg;
    int n = 1;
    while (!atomic_load(&stop)) {
        openblas_set_num_threads(n);
        n = 3 - n;
        atomic_fetch_add(&toggles, 1);
    }
    openblas_set_num_threads(2);
    return NULL;
}

/* d 64 and T 512: the large tiles (up to 256 x 512) and the small ones
 * (64 x 64, when the BLAS threads) differ in every workspace piece. */
enum { B = 1, H = 4, T = 512, D = 64 };

static void test_toggling_during_calls(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x7066);
    tu_problem p;
    tu_problem_init(&p, B, H, H, T, T, D, D);
    p.d.causal = ATTN_CAUSAL_TOP_LEFT;
    tu_problem_data(&p, &r);
    tu_problem_reference(&p);
    float *dout = tu_malloc(p.out_n, sizeof *dout);
    for (size_t i = 0; i < p.out_n; ++i)
        dout[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);

    /* Gradients of a run before the toggling, to compare with (test_backward
     * checks this path against finite differences). */
    float *dq0 = calloc(p.q_n, sizeof *dq0), *dq = tu_malloc(p.q_n, sizeof *dq);
    assert_non_null(dq0);
    TU_CHECK_STATUS(attn_sdpa_forward(&p.d, p.q, p.k, p.v, p.out, NULL, p.lse),
                    ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_backward(&p.d, p.q, p.k, p.v, p.out, p.lse, dout,
                                       dq0, NULL, NULL, NULL),
                    ATTN_OK);

    size_t fwd_bytes, bwd_bytes;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&p.d, &fwd_bytes), ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(&p.d, &bwd_bytes), ATTN_OK);
    unsigned char *fwd_ws = tu_malloc(fwd_bytes, 1);
    unsigned char *bwd_ws = tu_malloc(bwd_bytes, 1);

    attn_mha *layer;
    attn_mha_state *st;
    const int64_t E = H * D;
    TU_CHECK_STATUS(attn_mha_create(E, H, 0, 0, 1, 11, &layer), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_state_create(layer, 1, T / 4, T / 4, &st), ATTN_OK);
    const size_t nx = (size_t)(T / 4 * E);
    float *x = tu_malloc(nx, sizeof *x), *y = tu_malloc(nx, sizeof *y);
    for (size_t i = 0; i < nx; ++i)
        x[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);

    pthread_t thread = 0;
    const int have_openblas = openblas_set_num_threads != NULL;
    atomic_store(&stop, 0);
    if (have_openblas)
        assert_int_equal(pthread_create(&thread, NULL, toggler, NULL), 0);
    for (int round = 0; round < ROUNDS; ++round) {
        tu_fill_nan(p.out, p.out_n);
        TU_CHECK_STATUS(attn_sdpa_forward_ws(&p.d, p.q, p.k, p.v, p.out, NULL,
                                             p.lse, fwd_ws, fwd_bytes),
                        ATTN_OK);
        TU_CHECK_REL(tu_rel_err(p.out, p.d.out_strides, B, H, T, D, p.r_out),
                     "forward while toggling", "out");
        memset(dq, 0, p.q_n * sizeof *dq);
        TU_CHECK_STATUS(attn_sdpa_backward_ws(&p.d, p.q, p.k, p.v, p.out,
                                              p.lse, dout, dq, NULL, NULL,
                                              NULL, bwd_ws, bwd_bytes),
                        ATTN_OK);
        double *ref = gr_to_double(dq0, p.q_n);
        const double e = gr_rel_err(dq, p.d.q_strides, B, H, T, D, ref,
                                    ATTN_TEST_GRAD_FLOOR, NULL);
        free(ref);
        if (!(e <= ATTN_TEST_REL_TOL))
            fail_msg("round %d: dq differs from the untoggled run by %g", round, e);
        TU_CHECK_STATUS(attn_mha_forward(layer, st, NULL, x, x, x, y, NULL, 0),
                        ATTN_OK);
        TU_CHECK_STATUS(attn_mha_backward(layer, st, x, x, x, y, NULL, NULL,
                                          NULL),
                        ATTN_OK);
    }
    if (have_openblas) {
        atomic_store(&stop, 1);
        pthread_join(thread, NULL);
        print_message("OpenBLAS thread count changed %ld times during the calls\n",
                      atomic_load(&toggles));
        assert_true(atomic_load(&toggles) > ROUNDS);
    }

    attn_mha_state_destroy(st);
    attn_mha_destroy(layer);
    free(x);
    free(y);
    free(fwd_ws);
    free(bwd_ws);
    free(dq0);
    free(dq);
    free(dout);
    tu_problem_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_toggling_during_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
