/*
 * Results must be bit-identical whatever the thread count: every output
 * element has one owner and a fixed order of accumulation. Runs the same
 * problems with 1, 2 and 3 threads on each path and compares bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

typedef struct run_out {
    float *out, *w, *lse;
} run_out;

static void run(const tu_problem *p, attn_algo algo, int threads, run_out *r)
{
    attn_sdpa_desc d = p->d;
    d.algo = algo;
    d.num_threads = threads;
    const size_t no = tu_span(d.batch, d.q_heads, d.q_len, d.v_head_dim,
                              d.out_strides);
    const size_t nw = (size_t)(d.batch * d.q_heads * d.q_len * d.kv_len);
    const size_t nl = (size_t)(d.batch * d.q_heads * d.q_len);
    r->out = tu_malloc(no, sizeof(float));
    r->w = tu_malloc(nw, sizeof(float));
    r->lse = tu_malloc(nl, sizeof(float));
    tu_fill_nan(r->out, no);
    TU_CHECK_STATUS(attn_sdpa_forward(&d, p->q, p->k, p->v, r->out, r->w, r->lse),
                    ATTN_OK);
}

static void compare(const tu_problem *p, attn_algo algo)
{
    const attn_sdpa_desc *d = &p->d;
    const size_t no = tu_span(d->batch, d->q_heads, d->q_len, d->v_head_dim,
                              d->out_strides);
    const size_t nw = (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len);
    const size_t nl = (size_t)(d->batch * d->q_heads * d->q_len);
    run_out one;
    run(p, algo, 1, &one);
    for (int threads = 2; threads <= 3; ++threads) {
        run_out many;
        run(p, algo, threads, &many);
        assert_memory_equal(one.out, many.out, no * sizeof(float));
        assert_memory_equal(one.w, many.w, nw * sizeof(float));
        assert_memory_equal(one.lse, many.lse, nl * sizeof(float));
        free(many.out); free(many.w); free(many.lse);
    }
    free(one.out); free(one.w); free(one.lse);
}

static void test_forward_bit_identical(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_make(0x7e11);
    const attn_causal causal[] = {ATTN_CAUSAL_NONE, ATTN_CAUSAL_TOP_LEFT,
                                  ATTN_CAUSAL_BOTTOM_RIGHT};
    for (int c = 0; c < 3; ++c) {
        tu_problem p;
        tu_problem_init(&p, 2, 4, 2, 300, 777, 64, 40);
        p.d.causal = causal[c];
        int64_t *lens = tu_problem_kv_lens(&p);
        lens[1] = 500;
        tu_problem_data(&p, &rng);
        compare(&p, ATTN_ALGO_FUSED);
        compare(&p, ATTN_ALGO_MATERIALIZED);
        tu_problem_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
