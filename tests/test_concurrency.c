/*
 * Concurrency stress: several application threads call the library at
 * once, each with its own outputs, on shared read-only inputs and layer
 * weights, with the library's own threading on (2 OpenMP threads per
 * call). Every result must equal, bit for bit, the one computed before
 * on a single application thread with the library on one thread.
 *
 * What runs on every application thread, THREADS_N threads x ITERATIONS:
 *   - attn_sdpa_forward, fused and materialised, with every mask (causal,
 *     kv_lens, a broadcast keep mask and bias), weights and lse, on
 *     (B, T, H, d) strided inputs; and a second, MQA shape whose backward
 *     takes the dQ partial-sum path (B * Hkv < 8);
 *   - attn_sdpa_backward on both paths with dq, dk, dv and the broadcast
 *     dbias (a sum over batches and heads);
 *   - the layer: attn_mha_forward on ONE layer shared by every thread
 *     (documented read-only: each thread its own attn_mha_state), per-head
 *     and averaged weights; then forward, backward and an SGD step on the
 *     thread's own layer, loaded from the shared weights with
 *     attn_params_load_buffer from one shared safetensors buffer (the
 *     backward writes the layer's gradients, so a layer per thread);
 *   - attn_split_heads / attn_concat_heads.
 *
 * Threads: the sdpa calls take desc.num_threads and the layer calls
 * attn_mha_options.num_threads: 1 for the references, 2 in the threads.
 *
 * Under ThreadSanitizer (tests/tsan/run.sh) this is the race detector's
 * workload; in the normal suite it checks the bit-identity claims of
 * sdpa.h and mha.h under concurrent use.
 */
#define _POSIX_C_SOURCE 200809L /* pthread, snprintf in C11 strict mode */

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <attention/attention.h>

#include "testutil.h"

#define THREADS_N 4
#define ITERATIONS 3
#define LIB_THREADS 2

/* ---- data --------------------------------------------------------------- */

static tu_rng rng = {0xc0c0a};

static float *fvec(size_t n)
{
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
    return x;
}

static float *zvec(size_t n)
{
    float *x = calloc(n, sizeof(float));
    assert_non_null(x);
    return x;
}

/* One attention problem and its single-threaded results. */
typedef struct problem {
    attn_sdpa_desc d;
    float *q, *k, *v, *dout, *bias;
    uint8_t *keep;
    int64_t kv_lens[4];
    size_t nq, nk, nv, no, nw, nl, nb;
    /* references, per algo: [0] fused, [1] materialised */
    float *out[2], *w[2], *lse[2];
    float *dq[2], *dk[2], *dv[2], *dbias[2];
} problem;

static const attn_algo algos[2] = {ATTN_ALGO_FUSED, ATTN_ALGO_MATERIALIZED};

/* P1: (B, T, H, d) strided q and out, every mask, GQA. */
static void problem_p1(problem *p)
{
    enum { B = 2, HQ = 4, HKV = 2, TQ = 150, TK = 290, D = 32, DV = 24 };
    memset(p, 0, sizeof *p);
    assert_int_equal(attn_sdpa_desc_init(&p->d, B, HQ, HKV, TQ, TK, D, DV), ATTN_OK);
    p->d.q_strides = (attn_strides){(int64_t)TQ * HQ * D, D, (int64_t)HQ * D};
    p->d.out_strides = (attn_strides){(int64_t)TQ * HQ * DV, DV, (int64_t)HQ * DV};
    p->d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    p->kv_lens[0] = TK;
    p->kv_lens[1] = 201;
    p->d.kv_lens = p->kv_lens;
    p->nb = (size_t)TQ * TK;
    p->keep = malloc(p->nb);
    assert_non_null(p->keep);
    for (size_t i = 0; i < p->nb; ++i)
        p->keep[i] = (uint8_t)(i % 11 != 5);
    p->d.keep_mask = p->keep;
    p->bias = fvec(p->nb);
    p->d.bias = p->bias;
}

/* P2: multi-query attention with B * Hkv = 1: the backward splits keys
 * into chunks and sums dQ partials. */
static void problem_p2(problem *p)
{
    enum { B = 1, HQ = 3, HKV = 1, TQ = 200, TK = 700, D = 16, DV = 16 };
    memset(p, 0, sizeof *p);
    assert_int_equal(attn_sdpa_desc_init(&p->d, B, HQ, HKV, TQ, TK, D, DV), ATTN_OK);
    p->d.causal = ATTN_CAUSAL_TOP_LEFT;
    p->nb = (size_t)TQ * TK;
}

static void problem_data(problem *p)
{
    const attn_sdpa_desc *d = &p->d;
    p->nq = (size_t)(d->batch * d->q_heads * d->q_len * d->head_dim);
    p->nk = (size_t)(d->batch * d->kv_heads * d->kv_len * d->head_dim);
    p->nv = (size_t)(d->batch * d->kv_heads * d->kv_len * d->v_head_dim);
    p->no = (size_t)(d->batch * d->q_heads * d->q_len * d->v_head_dim);
    p->nw = (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len);
    p->nl = (size_t)(d->batch * d->q_heads * d->q_len);
    p->q = fvec(p->nq);
    p->k = fvec(p->nk);
    p->v = fvec(p->nv);
    p->dout = fvec(p->no);
}

typedef struct sdpa_out {
    float *out, *w, *lse, *dq, *dk, *dv, *dbias;
} sdpa_out;

static int sdpa_alloc(const problem *p, sdpa_out *o)
{
    o->out = calloc(p->no, sizeof(float));
    o->w = calloc(p->nw, sizeof(float));
    o->lse = calloc(p->nl, sizeof(float));
    o->dq = calloc(p->nq, sizeof(float));
    o->dk = calloc(p->nk, sizeof(float));
    o->dv = calloc(p->nv, sizeof(float));
    o->dbias = calloc(p->nb, sizeof(float));
    return o->out && o->w && o->lse && o->dq && o->dk && o->dv && o->dbias;
}

static void sdpa_free(sdpa_out *o)
{
    free(o->out); free(o->w); free(o->lse);
    free(o->dq); free(o->dk); free(o->dv); free(o->dbias);
}

/* Forward then backward (fresh gradient buffers) with the given algo and
 * thread count; returns the first status that is not ATTN_OK. */
static attn_status sdpa_run(const problem *p, int algo, int threads, sdpa_out *o)
{
    attn_sdpa_desc d = p->d;
    d.algo = algos[algo];
    d.num_threads = threads;
    memset(o->dq, 0, p->nq * sizeof(float));
    memset(o->dk, 0, p->nk * sizeof(float));
    memset(o->dv, 0, p->nv * sizeof(float));
    memset(o->dbias, 0, p->nb * sizeof(float));
    attn_status s = attn_sdpa_forward(&d, p->q, p->k, p->v, o->out, o->w, o->lse);
    if (s == ATTN_OK)
        s = attn_sdpa_backward(&d, p->q, p->k, p->v, o->out, o->lse, p->dout,
                               o->dq, o->dk, o->dv, o->dbias);
    return s;
}

static void problem_reference(problem *p)
{
    for (int a = 0; a < 2; ++a) {
        sdpa_out o;
        assert_true(sdpa_alloc(p, &o));
        assert_int_equal(sdpa_run(p, a, 1, &o), ATTN_OK);
        p->out[a] = o.out; p->w[a] = o.w; p->lse[a] = o.lse;
        p->dq[a] = o.dq; p->dk[a] = o.dk; p->dv[a] = o.dv; p->dbias[a] = o.dbias;
    }
}

static void problem_free(problem *p)
{
    free(p->q); free(p->k); free(p->v); free(p->dout); free(p->bias); free(p->keep);
    for (int a = 0; a < 2; ++a) {
        free(p->out[a]); free(p->w[a]); free(p->lse[a]);
        free(p->dq[a]); free(p->dk[a]); free(p->dv[a]); free(p->dbias[a]);
    }
}

/* ---- the layer ---------------------------------------------------------- */

enum { E = 32, NH = 4, MB = 2, MTQ = 40, MTK = 56, KVDIM = 24 };

typedef struct layer_ref {
    attn_mha *shared;           /* read by every thread's forwards */
    unsigned char *weights;     /* its parameters as a safetensors file */
    size_t weights_bytes;
    attn_mha_options masks;
    int64_t kv_lens[MB];
    float *query, *key, *value, *dout;
    size_t nq, nkv, nw, navg;
    /* references */
    float *out, *head_w, *avg_w;
    float *dquery, *dkey, *dvalue;
    float *grads;               /* every gradient, in parameter order */
    float *stepped;             /* every parameter after one SGD step */
    size_t param_floats;
} layer_ref;

static layer_ref L;

static size_t params_floats(attn_mha *layer)
{
    const attn_param *p;
    size_t n, total = 0;
    if (attn_mha_params(layer, &p, &n) != ATTN_OK)
        return 0;
    for (size_t i = 0; i < n; ++i)
        total += attn_param_numel(&p[i]);
    return total;
}

/* Copies the data (which = 0) or grads (which = 1) of every parameter. */
static void params_copy(attn_mha *layer, int which, float *dst)
{
    const attn_param *p;
    size_t n;
    if (attn_mha_params(layer, &p, &n) != ATTN_OK)
        return;
    for (size_t i = 0; i < n; ++i) {
        const size_t m = attn_param_numel(&p[i]);
        memcpy(dst, which ? p[i].grad : p[i].data, m * sizeof(float));
        dst += m;
    }
}

/* A thread's own layer and its buffers. */
typedef struct layer_run {
    attn_mha *own;
    attn_mha_state *st_shared, *st_own;
    attn_optim *sgd;
    float *out, *head_w, *avg_w, *dquery, *dkey, *dvalue, *tmp;
} layer_run;

static attn_status layer_run_make(layer_run *r)
{
    memset(r, 0, sizeof *r);
    attn_status s;
    const attn_param *p;
    size_t n;
    /* Another seed on purpose: the weights come from the shared file. */
    if ((s = attn_mha_create(E, NH, KVDIM, KVDIM, 1, 7, &r->own)) ||
        (s = attn_mha_state_create(L.shared, MB, MTQ, MTK, &r->st_shared)) ||
        (s = attn_mha_state_create(r->own, MB, MTQ, MTK, &r->st_own)) ||
        (s = attn_mha_params(r->own, &p, &n)) ||
        (s = attn_sgd_create(p, n, 0.25f, 0.0f, 0.0f, 0.0f, 0, &r->sgd)))
        return s;
    r->out = calloc(L.nq, sizeof(float));
    r->head_w = calloc(L.nw, sizeof(float));
    r->avg_w = calloc(L.navg, sizeof(float));
    r->dquery = calloc(L.nq, sizeof(float));
    r->dkey = calloc(L.nkv, sizeof(float));
    r->dvalue = calloc(L.nkv, sizeof(float));
    r->tmp = calloc(L.param_floats, sizeof(float));
    if (!r->out || !r->head_w || !r->avg_w || !r->dquery || !r->dkey ||
        !r->dvalue || !r->tmp)
        return ATTN_ERR_OUT_OF_MEMORY;
    return ATTN_OK;
}

static void layer_run_free(layer_run *r)
{
    attn_optim_destroy(r->sgd);
    attn_mha_state_destroy(r->st_shared);
    attn_mha_state_destroy(r->st_own);
    attn_mha_destroy(r->own);
    free(r->out); free(r->head_w); free(r->avg_w);
    free(r->dquery); free(r->dkey); free(r->dvalue); free(r->tmp);
}

/* Forward on the shared layer (per-head weights); forward, backward and
 * an SGD step on the own layer loaded from the shared file (averaged
 * weights). */
static attn_status layer_shared_forward(layer_run *r)
{
    return attn_mha_forward(L.shared, r->st_shared, &L.masks, L.query, L.key,
                            L.value, r->out, r->head_w, 0);
}

static attn_status layer_own_step(layer_run *r)
{
    const attn_param *p;
    size_t n;
    attn_status s;
    if ((s = attn_mha_params(r->own, &p, &n)) ||
        (s = attn_params_load_buffer(p, n, L.weights, L.weights_bytes)) ||
        (s = attn_mha_zero_grad(r->own)))
        return s;
    memset(r->dquery, 0, L.nq * sizeof(float));
    memset(r->dkey, 0, L.nkv * sizeof(float));
    memset(r->dvalue, 0, L.nkv * sizeof(float));
    if ((s = attn_mha_forward(r->own, r->st_own, &L.masks, L.query, L.key,
                              L.value, r->out, r->avg_w, 1)) ||
        (s = attn_mha_backward(r->own, r->st_own, L.query, L.key, L.value,
                               L.dout, r->dquery, r->dkey, r->dvalue)))
        return s;
    return ATTN_OK;
}

static void layer_reference(void)
{
    memset(&L, 0, sizeof L);
    assert_int_equal(attn_mha_create(E, NH, KVDIM, KVDIM, 1, 1234, &L.shared), ATTN_OK);
    L.param_floats = params_floats(L.shared);
    L.nq = (size_t)MB * MTQ * E;
    L.nkv = (size_t)MB * MTK * KVDIM;
    L.nw = (size_t)MB * NH * MTQ * MTK;
    L.navg = (size_t)MB * MTQ * MTK;
    L.query = fvec(L.nq);
    L.key = fvec(L.nkv);
    L.value = fvec(L.nkv);
    L.dout = fvec(L.nq);
    L.kv_lens[0] = MTK;
    L.kv_lens[1] = 33;
    assert_int_equal(attn_mha_options_init(&L.masks, MTK), ATTN_OK);
    L.masks.kv_lens = L.kv_lens;
    L.masks.causal = ATTN_CAUSAL_BOTTOM_RIGHT;

    /* The shared weights as a file in memory. */
    const char *base = getenv("TMPDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/attn-concurrency-%ld.safetensors",
             base != NULL && base[0] != '\0' ? base : "/tmp", (long)rand());
    const attn_param *p;
    size_t n;
    assert_int_equal(attn_mha_params(L.shared, &p, &n), ATTN_OK);
    assert_int_equal(attn_params_save(p, n, path), ATTN_OK);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    L.weights_bytes = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    L.weights = malloc(L.weights_bytes);
    assert_non_null(L.weights);
    assert_int_equal(fread(L.weights, 1, L.weights_bytes, f), L.weights_bytes);
    fclose(f);
    remove(path);

    layer_run r;
    assert_int_equal(layer_run_make(&r), ATTN_OK);
    assert_int_equal(layer_shared_forward(&r), ATTN_OK);
    L.out = r.out;
    L.head_w = r.head_w;
    r.out = zvec(L.nq);
    r.head_w = zvec(L.nw);
    assert_int_equal(layer_own_step(&r), ATTN_OK);
    /* Same weights, same inputs: the own layer's forward equals the
     * shared one's. */
    assert_memory_equal(r.out, L.out, L.nq * sizeof(float));
    L.avg_w = r.avg_w;
    L.dquery = r.dquery;
    L.dkey = r.dkey;
    L.dvalue = r.dvalue;
    r.avg_w = zvec(L.navg);
    r.dquery = zvec(L.nq);
    r.dkey = zvec(L.nkv);
    r.dvalue = zvec(L.nkv);
    L.grads = zvec(L.param_floats);
    params_copy(r.own, 1, L.grads);
    assert_int_equal(attn_optim_step(r.sgd), ATTN_OK);
    L.stepped = zvec(L.param_floats);
    params_copy(r.own, 0, L.stepped);
    layer_run_free(&r);
}

static void layer_free(void)
{
    attn_mha_destroy(L.shared);
    void *all[] = {L.weights, L.query, L.key, L.value, L.dout, L.out, L.head_w,
                   L.avg_w, L.dquery, L.dkey, L.dvalue, L.grads, L.stepped};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        free(all[i]);
}

/* ---- heads -------------------------------------------------------------- */

enum { HB = 3, HT = 33, HE = 48, HH = 6 };
static float *heads_x, *heads_y_ref;

/* ---- the worker threads -------------------------------------------------- */

/* Mismatch counters per check, per thread (no cmocka call off the main
 * thread). */
enum {
    C_STATUS, C_FWD_OUT, C_FWD_W, C_FWD_LSE, C_BWD_DQ, C_BWD_DK, C_BWD_DV,
    C_BWD_DBIAS, C_MHA_SHARED_OUT, C_MHA_SHARED_W, C_MHA_OWN_OUT, C_MHA_AVG_W,
    C_MHA_DQUERY, C_MHA_DKEY, C_MHA_DVALUE, C_MHA_GRADS, C_MHA_STEP, C_SPLIT,
    C_CONCAT, C_COUNT
};
static const char *check_names[C_COUNT] = {
    "a call's status", "sdpa out", "sdpa weights", "sdpa lse", "sdpa dq",
    "sdpa dk", "sdpa dv", "sdpa dbias", "mha shared-layer out",
    "mha shared-layer per-head weights", "mha own-layer out",
    "mha averaged weights", "mha dquery", "mha dkey", "mha dvalue",
    "mha parameter gradients", "SGD step", "split_heads", "concat_heads"};

typedef struct worker {
    pthread_t tid;
    int index;
    problem *problems;
    int problem_count;
    int bad[C_COUNT];
    attn_status first_error;
} worker;

static void count(worker *w, int check, int differs)
{
    if (differs)
        ++w->bad[check];
}

#define SAME(a, b, n) (memcmp((a), (b), (n) * sizeof(float)) == 0)

static void status(worker *w, attn_status s)
{
    if (s != ATTN_OK) {
        ++w->bad[C_STATUS];
        if (w->first_error == ATTN_OK)
            w->first_error = s;
    }
}

static void *work(void *arg)
{
    worker *w = arg;
    sdpa_out o[2];
    layer_run r;
    int ok = 1;
    for (int i = 0; i < w->problem_count; ++i)
        ok = ok && sdpa_alloc(&w->problems[i], &o[i]);
    attn_status s = layer_run_make(&r);
    float *y = calloc((size_t)HB * HT * HE, sizeof(float));
    float *x = calloc((size_t)HB * HT * HE, sizeof(float));
    if (!ok || s != ATTN_OK || y == NULL || x == NULL) {
        status(w, s != ATTN_OK ? s : ATTN_ERR_OUT_OF_MEMORY);
        return NULL;
    }
    for (int it = 0; it < ITERATIONS; ++it) {
        /* Start from a different point on each thread so that different
         * calls overlap. */
        const int shift = (w->index + it) % 4;
        for (int step = 0; step < 4; ++step) {
            switch ((step + shift) % 4) {
            case 0:
            case 1:
                for (int pi = 0; pi < w->problem_count; ++pi) {
                    const problem *p = &w->problems[pi];
                    const int a = (step + shift) % 4; /* 0 fused, 1 materialised */
                    status(w, sdpa_run(p, a, LIB_THREADS, &o[pi]));
                    count(w, C_FWD_OUT, !SAME(o[pi].out, p->out[a], p->no));
                    count(w, C_FWD_W, !SAME(o[pi].w, p->w[a], p->nw));
                    count(w, C_FWD_LSE, !SAME(o[pi].lse, p->lse[a], p->nl));
                    count(w, C_BWD_DQ, !SAME(o[pi].dq, p->dq[a], p->nq));
                    count(w, C_BWD_DK, !SAME(o[pi].dk, p->dk[a], p->nk));
                    count(w, C_BWD_DV, !SAME(o[pi].dv, p->dv[a], p->nv));
                    count(w, C_BWD_DBIAS, !SAME(o[pi].dbias, p->dbias[a], p->nb));
                }
                break;
            case 2:
                status(w, layer_shared_forward(&r));
                count(w, C_MHA_SHARED_OUT, !SAME(r.out, L.out, L.nq));
                count(w, C_MHA_SHARED_W, !SAME(r.head_w, L.head_w, L.nw));
                status(w, layer_own_step(&r));
                count(w, C_MHA_OWN_OUT, !SAME(r.out, L.out, L.nq));
                count(w, C_MHA_AVG_W, !SAME(r.avg_w, L.avg_w, L.navg));
                count(w, C_MHA_DQUERY, !SAME(r.dquery, L.dquery, L.nq));
                count(w, C_MHA_DKEY, !SAME(r.dkey, L.dkey, L.nkv));
                count(w, C_MHA_DVALUE, !SAME(r.dvalue, L.dvalue, L.nkv));
                params_copy(r.own, 1, r.tmp);
                count(w, C_MHA_GRADS, !SAME(r.tmp, L.grads, L.param_floats));
                status(w, attn_optim_step(r.sgd));
                params_copy(r.own, 0, r.tmp);
                count(w, C_MHA_STEP, !SAME(r.tmp, L.stepped, L.param_floats));
                break;
            default:
                status(w, attn_split_heads(heads_x, y, HB, HT, HE, HH));
                count(w, C_SPLIT, !SAME(y, heads_y_ref, (size_t)HB * HT * HE));
                status(w, attn_concat_heads(y, x, HB, HT, HE, HH));
                count(w, C_CONCAT, !SAME(x, heads_x, (size_t)HB * HT * HE));
                break;
            }
        }
    }
    for (int i = 0; i < w->problem_count; ++i)
        sdpa_free(&o[i]);
    layer_run_free(&r);
    free(x);
    free(y);
    return NULL;
}

static void test_concurrent_calls(void **state)
{
    (void)state;
    /* References: this thread alone, the library on one thread. */
    L.masks.num_threads = 1;
    problem problems[2];
    problem_p1(&problems[0]);
    problem_p2(&problems[1]);
    for (int i = 0; i < 2; ++i) {
        problem_data(&problems[i]);
        problem_reference(&problems[i]);
    }
    layer_reference();
    heads_x = fvec((size_t)HB * HT * HE);
    heads_y_ref = zvec((size_t)HB * HT * HE);
    assert_int_equal(attn_split_heads(heads_x, heads_y_ref, HB, HT, HE, HH), ATTN_OK);

    /* The layer's calls from here on; set before any thread starts. */
    L.masks.num_threads = LIB_THREADS;
    worker w[THREADS_N];
    memset(w, 0, sizeof w);
    for (int t = 0; t < THREADS_N; ++t) {
        w[t].index = t;
        w[t].problems = problems;
        w[t].problem_count = 2;
        assert_int_equal(pthread_create(&w[t].tid, NULL, work, &w[t]), 0);
    }
    for (int t = 0; t < THREADS_N; ++t)
        assert_int_equal(pthread_join(w[t].tid, NULL), 0);


    int bad = 0;
    for (int t = 0; t < THREADS_N; ++t)
        for (int c = 0; c < C_COUNT; ++c)
            if (w[t].bad[c] != 0) {
                print_error("thread %d: %s differed %d time(s) from the "
                            "single-threaded result%s%s\n",
                            t, check_names[c], w[t].bad[c],
                            c == C_STATUS ? "; first error: " : "",
                            c == C_STATUS ? attn_strerror(w[t].first_error) : "");
                ++bad;
            }
    for (int i = 0; i < 2; ++i)
        problem_free(&problems[i]);
    layer_free();
    free(heads_x);
    free(heads_y_ref);
    if (bad)
        fail_msg("%d mismatching check(s), listed above", bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_calls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
