/*
 * Process state that changes between a size query and the call it sized,
 * or inside one call: the BLAS's thread count and ATTN_NUM_THREADS.
 *
 * The library reads OpenBLAS's threading state to choose its tiles. This
 * program links the static library with the linker's --wrap so that those
 * reads reach the functions below, which count them and can answer
 * differently every time (as an application thread calling
 * openblas_set_num_threads would make them). Whatever the answers, every
 * call sized by a size query (or a layer state) must succeed and match the
 * double-precision reference, and each call must read the state at most
 * once, so that the tiles it sizes and the tiles it uses agree.
 */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "grad_reference.h"
#include "reference.h"
#include "testutil.h"

/* ---- the injected BLAS state ---------------------------------------------- */

enum { ANSWER_REAL, ANSWER_ALTERNATE };
static int answer_mode = ANSWER_REAL;
static long reads;     /* openblas_get_num_threads calls since reset */

int __real_openblas_get_num_threads(void);
int __real_openblas_get_parallel(void);
int __wrap_openblas_get_num_threads(void);
int __wrap_openblas_get_parallel(void);

/* "pthread build" and alternately 2 and 1 threads, or the real answers. */
int __wrap_openblas_get_parallel(void)
{
    return answer_mode == ANSWER_ALTERNATE ? 1 : __real_openblas_get_parallel();
}

int __wrap_openblas_get_num_threads(void)
{
    ++reads;
    if (answer_mode == ANSWER_ALTERNATE)
        return reads % 2 ? 2 : 1;
    return __real_openblas_get_num_threads();
}

/* ---- one attention problem, large enough that the two tile choices differ */

/* The small tiles (BLAS may thread) are 64 queries by 2^18 / (64 d) keys;
 * the large ones up to 256 x 512: at Tq 160, Tk 200, d 16 every workspace
 * piece differs between them. */
enum { B = 1, HQ = 2, HKV = 1, TQ = 160, TK = 200, D = 16 };

typedef struct fixture {
    tu_problem p;
    double *dq, *dk, *dv;  /* finite-difference gradients of sum(out * g) */
    float *g;              /* dout */
} fixture;

static fixture F;

static int setup(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(0x57a7e);
    tu_problem_init(&F.p, B, HQ, HKV, TQ, TK, D, D);
    F.p.d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    tu_problem_data(&F.p, &r);
    tu_problem_reference(&F.p);

    const size_t nq = F.p.q_n, nk = F.p.k_n, nv = F.p.v_n, no = F.p.out_n;
    F.g = tu_malloc(no, sizeof *F.g);
    for (size_t i = 0; i < no; ++i)
        F.g[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
    double *qd = gr_to_double(F.p.q, nq), *kd = gr_to_double(F.p.k, nk);
    double *vd = gr_to_double(F.p.v, nv), *gd = gr_to_double(F.g, no);
    const gr_sdpa gp = {&F.p.d, qd, kd, vd, NULL, gd, 0.0, NULL};
    F.dq = tu_malloc(nq, sizeof *F.dq);
    F.dk = tu_malloc(nk, sizeof *F.dk);
    F.dv = tu_malloc(nv, sizeof *F.dv);
    gr_sdpa_fd(&gp, 1e-3, F.dq, F.dk, F.dv, NULL);
    free(qd);
    free(kd);
    free(vd);
    free(gd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_problem_free(&F.p);
    free(F.dq);
    free(F.dk);
    free(F.dv);
    free(F.g);
    return 0;
}

/* Forward in a workspace of `bytes` (from a size query made earlier). */
static void check_forward(const attn_sdpa_desc *d, size_t bytes,
                          const char *what)
{
    unsigned char *ws = tu_malloc(bytes, 1);
    tu_fill_nan(F.p.out, F.p.out_n);
    TU_CHECK_STATUS(attn_sdpa_forward_ws(d, F.p.q, F.p.k, F.p.v, F.p.out,
                                         NULL, F.p.lse, ws, bytes),
                    ATTN_OK);
    TU_CHECK_REL(tu_rel_err(F.p.out, d->out_strides, B, HQ, TQ, D, F.p.r_out),
                 what, "out");
    TU_CHECK_REL(tu_rel_err(F.p.lse, tu_contig(HQ, TQ, 1), B, HQ, TQ, 1,
                            F.p.r_lse),
                 what, "lse");
    free(ws);
}

/* Backward (after a forward filled out and lse) in `bytes` of workspace. */
static void check_backward(const attn_sdpa_desc *d, size_t bytes,
                           const char *what)
{
    unsigned char *ws = tu_malloc(bytes, 1);
    float *dq = calloc(F.p.q_n, sizeof *dq), *dk = calloc(F.p.k_n, sizeof *dk);
    float *dv = calloc(F.p.v_n, sizeof *dv);
    assert_non_null(dq);
    assert_non_null(dk);
    assert_non_null(dv);
    TU_CHECK_STATUS(attn_sdpa_backward_ws(d, F.p.q, F.p.k, F.p.v, F.p.out,
                                          F.p.lse, F.g, dq, dk, dv, NULL, ws,
                                          bytes),
                    ATTN_OK);
    const double floor = ATTN_TEST_GRAD_FLOOR;
    const double eq = gr_rel_err(dq, d->q_strides, B, HQ, TQ, D, F.dq, floor, NULL);
    const double ek = gr_rel_err(dk, d->k_strides, B, HKV, TK, D, F.dk, floor, NULL);
    const double ev = gr_rel_err(dv, d->v_strides, B, HKV, TK, D, F.dv, floor, NULL);
    if (!(eq <= ATTN_TEST_GRAD_TOL && ek <= ATTN_TEST_GRAD_TOL &&
          ev <= ATTN_TEST_GRAD_TOL))
        fail_msg("%s: gradient errors dq %g dk %g dv %g > %g", what, eq, ek,
                 ev, ATTN_TEST_GRAD_TOL);
    free(ws);
    free(dq);
    free(dk);
    free(dv);
}

static void sizes(const attn_sdpa_desc *d, size_t *fwd, size_t *bwd)
{
    TU_CHECK_STATUS(attn_sdpa_workspace_size(d, fwd), ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_backward_workspace_size(d, bwd), ATTN_OK);
}

static const attn_algo algos[] = {ATTN_ALGO_FUSED, ATTN_ALGO_MATERIALIZED};

/* Every call reads the BLAS's threading state at most once. */
static void test_one_reading_per_call(void **state)
{
    (void)state;
    answer_mode = ANSWER_ALTERNATE;
    for (size_t a = 0; a < 2; ++a) {
        attn_sdpa_desc d = F.p.d;
        d.algo = algos[a];
        size_t fwd, bwd;
        reads = 0;
        sizes(&d, &fwd, &bwd);
        assert_true(reads <= 2);
        reads = 0;
        check_forward(&d, fwd, "forward_ws");
        if (reads > 1)
            fail_msg("algo %d: the forward read the BLAS state %ld times",
                     (int)d.algo, reads);
        reads = 0;
        check_backward(&d, bwd, "backward_ws");
        if (reads > 1)
            fail_msg("algo %d: the backward read the BLAS state %ld times",
                     (int)d.algo, reads);
        reads = 0;
        TU_CHECK_STATUS(attn_sdpa_forward(&d, F.p.q, F.p.k, F.p.v, F.p.out,
                                          NULL, F.p.lse),
                        ATTN_OK);
        assert_true(reads <= 1);
    }
    answer_mode = ANSWER_REAL;
}

/* The answer changes between every query and every call, both ways. */
static void test_blas_threads_change_between_query_and_call(void **state)
{
    (void)state;
    answer_mode = ANSWER_ALTERNATE;
    for (int round = 0; round < 4; ++round)
        for (size_t a = 0; a < 2; ++a) {
            attn_sdpa_desc d = F.p.d;
            d.algo = algos[a];
            size_t fwd, bwd;
            reads = round; /* start on either answer */
            sizes(&d, &fwd, &bwd);
            check_forward(&d, fwd, "forward after a change");
            check_backward(&d, bwd, "backward after a change");
        }
    answer_mode = ANSWER_REAL;
}

/* ATTN_NUM_THREADS and num_threads: a workspace sized for n threads runs
 * any request on at most n; one thread's size is the minimum, whatever the
 * environment says. */
static void test_thread_count_change_between_query_and_call(void **state)
{
    (void)state;
    for (size_t a = 0; a < 2; ++a) {
        attn_sdpa_desc d = F.p.d;
        d.algo = algos[a];
        size_t fwd1, bwd1, fwd3, bwd3;
        setenv("ATTN_NUM_THREADS", "1", 1);
        sizes(&d, &fwd1, &bwd1);
        setenv("ATTN_NUM_THREADS", "3", 1);
        sizes(&d, &fwd3, &bwd3);
        assert_true(fwd1 <= fwd3 && bwd1 <= bwd3);
        /* sized for 1, called with 3 */
        check_forward(&d, fwd1, "sized for 1 thread, run with 3");
        check_backward(&d, bwd1, "sized for 1 thread, run with 3");
        d.num_threads = 3;
        check_forward(&d, fwd1, "sized for 1 thread, num_threads 3");
        /* sized for 3, called with 1 */
        setenv("ATTN_NUM_THREADS", "1", 1);
        d.num_threads = 0;
        check_forward(&d, fwd3, "sized for 3 threads, run with 1");
        check_backward(&d, bwd3, "sized for 3 threads, run with 1");
        unsetenv("ATTN_NUM_THREADS");

        /* Below one thread's share: refused, nothing written. */
        d.num_threads = 1;
        sizes(&d, &fwd1, &bwd1);
        d.num_threads = 4;
        unsigned char *ws = tu_malloc(fwd1 > bwd1 ? fwd1 : bwd1, 1);
        float *out = tu_malloc(F.p.out_n, sizeof *out);
        tu_fill_nan(out, F.p.out_n);
        TU_CHECK_STATUS(attn_sdpa_forward_ws(&d, F.p.q, F.p.k, F.p.v, out,
                                             NULL, NULL, ws, fwd1 - 1),
                        ATTN_ERR_WORKSPACE_TOO_SMALL);
        for (size_t i = 0; i < F.p.out_n; ++i)
            assert_true(isnan(out[i]));
        TU_CHECK_STATUS(attn_sdpa_backward_ws(&d, F.p.q, F.p.k, F.p.v, F.p.out,
                                              F.p.lse, F.g, out, NULL, NULL,
                                              NULL, ws, bwd1 - 1),
                        ATTN_ERR_WORKSPACE_TOO_SMALL);
        free(ws);
        free(out);
    }
}

/* ---- the layer: its state's workspace was sized once ---------------------- */

enum { LE = 32, LH = 2 };

static void test_layer_survives_blas_thread_changes(void **state)
{
    (void)state;
    const int64_t T = TK;
    tu_rng r = tu_rng_make(0x1a7e);
    attn_mha *layer;
    attn_mha_state *st;
    TU_CHECK_STATUS(attn_mha_create(LE, LH, 0, 0, 1, 7, &layer), ATTN_OK);
    const attn_param *params;
    size_t np;
    TU_CHECK_STATUS(attn_mha_params(layer, &params, &np), ATTN_OK);

    const size_t n = (size_t)(T * LE);
    float *x = tu_malloc(n, sizeof *x), *out = tu_malloc(n, sizeof *out);
    float *dout = tu_malloc(n, sizeof *dout);
    for (size_t i = 0; i < n; ++i) {
        x[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
        dout[i] = (float)tu_rng_uniform(&r, -1.0, 1.0);
    }
    /* The reference layer, on the layer's own parameters. */
    double *pd[4];
    for (size_t t = 0; t < np; ++t)
        pd[t] = gr_to_double(params[t].data, attn_param_numel(&params[t]));
    const int64_t ee = LE * LE;
    const gr_mha ref = {LE, LH, LE, LE, pd[0], pd[0] + ee, pd[0] + 2 * ee,
                        pd[1], pd[1] + LE, pd[1] + 2 * LE, pd[2], pd[3], NULL};
    double *xd = gr_to_double(x, n), *out_ref = tu_malloc(n, sizeof *out_ref);
    gr_mha_forward(&ref, NULL, 1, T, T, xd, xd, xd, out_ref, NULL);

    /* Gradients of a run without changes, to compare with. */
    answer_mode = ANSWER_REAL;
    TU_CHECK_STATUS(attn_mha_state_create(layer, 1, T, T, &st), ATTN_OK);
    TU_CHECK_STATUS(attn_mha_forward(layer, st, NULL, x, x, x, out, NULL, 0),
                    ATTN_OK);
    TU_CHECK_STATUS(attn_mha_backward(layer, st, x, x, x, dout, NULL, NULL, NULL),
                    ATTN_OK);
    float *grads[4];
    for (size_t t = 0; t < np; ++t) {
        const size_t k = attn_param_numel(&params[t]);
        grads[t] = tu_malloc(k, sizeof(float));
        memcpy(grads[t], params[t].grad, k * sizeof(float));
    }
    attn_mha_state_destroy(st);

    answer_mode = ANSWER_ALTERNATE;
    for (int round = 0; round < 4; ++round) {
        reads = round;
        TU_CHECK_STATUS(attn_mha_state_create(layer, 1, T, T, &st), ATTN_OK);
        TU_CHECK_STATUS(attn_mha_zero_grad(layer), ATTN_OK);
        TU_CHECK_STATUS(attn_mha_forward(layer, st, NULL, x, x, x, out, NULL, 0),
                        ATTN_OK);
        TU_CHECK_REL(tu_rel_err(out, tu_contig(1, T, LE), 1, 1, T, LE, out_ref),
                     "layer forward after a change", "out");
        TU_CHECK_STATUS(attn_mha_backward(layer, st, x, x, x, dout, NULL, NULL,
                                          NULL),
                        ATTN_OK);
        for (size_t t = 0; t < np; ++t) {
            const size_t k = attn_param_numel(&params[t]);
            double *gd = gr_to_double(grads[t], k);
            const double e = gr_rel_err(params[t].grad, tu_contig(1, 1, (int64_t)k),
                                        1, 1, 1, (int64_t)k, gd, ATTN_TEST_GRAD_FLOOR,
                                        NULL);
            if (!(e <= ATTN_TEST_REL_TOL))
                fail_msg("round %d: gradient of %s off by %g", round,
                         params[t].name, e);
            free(gd);
        }
        attn_mha_state_destroy(st);
    }
    answer_mode = ANSWER_REAL;

    for (size_t t = 0; t < np; ++t) {
        free(pd[t]);
        free(grads[t]);
    }
    free(x);
    free(out);
    free(dout);
    free(xd);
    free(out_ref);
    attn_mha_destroy(layer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_reading_per_call),
        cmocka_unit_test(test_blas_threads_change_between_query_and_call),
        cmocka_unit_test(test_thread_count_change_between_query_and_call),
        cmocka_unit_test(test_layer_survives_blas_thread_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
