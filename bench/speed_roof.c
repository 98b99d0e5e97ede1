#include "speed_roof.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "speed_blas.h"
#include "speed_data.h"

/* Enough work per thread and repeat (about 20 ms at 100 GFLOP/s) that
 * thread start-up and the barrier are noise. */
#define CONCURRENT_FLOP_PER_REP 2e9

speed_product speed_square(void)
{
    return (speed_product){"square", 2048, 2048, 2048, 0, 2048, 2048, 2048};
}

speed_product speed_qk_tile(int d)
{
    return (speed_product){"qk_tile", 256, 512, d, 1, 256, 512, d};
}

speed_product speed_pv_tile(int d)
{
    return (speed_product){"pv_tile", 256, d, 512, 0, 256, 512, d};
}

static double product_flop(const speed_product *p)
{
    return 2.0 * p->m * p->n * p->k;
}

/* Operands of one product. */
typedef struct operands {
    float *a;   /* (m, k) */
    float *b;   /* (n, k) if trans_b, else (k, n) */
    float *c;   /* (m, n) */
} operands;

static int operands_alloc(operands *o, const speed_product *p, uint64_t seed)
{
    const size_t a = (size_t)p->m * p->k, b = (size_t)p->k * p->n,
                 c = (size_t)p->m * p->n;
    o->a = malloc(a * sizeof *o->a);
    o->b = malloc(b * sizeof *o->b);
    o->c = calloc(c, sizeof *o->c);
    if (!o->a || !o->b || !o->c) {
        free(o->a);
        free(o->b);
        free(o->c);
        fprintf(stderr, "attention-bench-speed: out of memory for the roof\n");
        return -1;
    }
    speed_fill_uniform(o->a, a, seed);
    speed_fill_uniform(o->b, b, seed + 1);
    return 0;
}

static void operands_free(operands *o)
{
    free(o->a);
    free(o->b);
    free(o->c);
}

static void product_run(const speed_product *p, const operands *o)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans,
                p->trans_b ? CblasTrans : CblasNoTrans, p->m, p->n, p->k, 1.0f,
                o->a, p->k, o->b, p->trans_b ? p->k : p->n, 0.0f, o->c, p->n);
}

typedef struct single_ctx {
    const speed_product *p;
    const operands *o;
} single_ctx;

static int single_rep(void *arg, double *seconds)
{
    const single_ctx *c = arg;
    const double t0 = speed_now();
    product_run(c->p, c->o);
    *seconds = speed_now() - t0;
    return 0;
}

int speed_roof_blas_threads(const speed_product *p, int threads,
                            const speed_budget *b, speed_roof *out)
{
    operands o;
    if (operands_alloc(&o, p, 11))
        return -1;
    const int previous = speed_blas_set_threads(threads);
    single_ctx c = {p, &o};
    speed_time(b, single_rep, &c, &out->timing);
    speed_blas_restore(previous);
    out->controlled = previous > 0;
    out->gflops = product_flop(p) / out->timing.best * 1e-9;
    operands_free(&o);
    return 0;
}

/* Workers that live for one measurement and run one batch of calls per
 * repeat, as a thread pool would: no thread start-up inside the timing,
 * and each thread keeps its BLAS buffers warm. */
typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t go;      /* a new repeat (or quit) */
    pthread_cond_t done;    /* a worker finished its batch */
    int generation;         /* repeats started */
    int finished;           /* workers done with the current repeat */
    int quit;
    int threads;
} pool;

typedef struct worker {
    const speed_product *p;
    operands o;             /* this thread's own operands */
    int calls;              /* per repeat */
    pool *pl;
    double t0, t1;          /* of the last batch */
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    pool *pl = w->pl;
    int seen = 0;
    /* One BLAS thread per worker. With OpenBLAS's OpenMP build this sets
     * this thread's own OpenMP count (a new thread starts at every core). */
    speed_blas_set_threads(1);
    for (;;) {
        pthread_mutex_lock(&pl->mu);
        while (pl->generation == seen && !pl->quit)
            pthread_cond_wait(&pl->go, &pl->mu);
        const int quit = pl->quit;
        seen = pl->generation;
        pthread_mutex_unlock(&pl->mu);
        if (quit)
            return NULL;
        w->t0 = speed_now();
        for (int i = 0; i < w->calls; ++i)
            product_run(w->p, &w->o);
        w->t1 = speed_now();
        pthread_mutex_lock(&pl->mu);
        if (++pl->finished == pl->threads)
            pthread_cond_signal(&pl->done);
        pthread_mutex_unlock(&pl->mu);
    }
}

typedef struct concurrent_ctx {
    worker *w;              /* (threads) */
    pool *pl;
} concurrent_ctx;

/* One repeat: every worker runs its batch; the wall time spans the first
 * start to the last finish. */
static int concurrent_rep(void *arg, double *seconds)
{
    concurrent_ctx *c = arg;
    pool *pl = c->pl;
    pthread_mutex_lock(&pl->mu);
    pl->finished = 0;
    pl->generation++;
    pthread_cond_broadcast(&pl->go);
    while (pl->finished < pl->threads)
        pthread_cond_wait(&pl->done, &pl->mu);
    pthread_mutex_unlock(&pl->mu);
    double first = c->w[0].t0, last = c->w[0].t1;
    for (int i = 1; i < pl->threads; ++i) {
        if (c->w[i].t0 < first)
            first = c->w[i].t0;
        if (c->w[i].t1 > last)
            last = c->w[i].t1;
    }
    *seconds = last - first;
    return 0;
}

static void pool_stop(pool *pl, pthread_t *tid /* (started) */, int started)
{
    pthread_mutex_lock(&pl->mu);
    pl->quit = 1;
    pthread_cond_broadcast(&pl->go);
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < started; ++i)
        pthread_join(tid[i], NULL);
}

int speed_roof_concurrent(const speed_product *p, int threads,
                          const speed_budget *b, speed_roof *out)
{
    worker *w = calloc((size_t)threads, sizeof *w);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    if (w == NULL || tid == NULL) {
        free(w);
        free(tid);
        fprintf(stderr, "attention-bench-speed: out of memory for the roof\n");
        return -1;
    }
    pool pl = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
               PTHREAD_COND_INITIALIZER, 0, 0, 0, threads};
    int calls = (int)(CONCURRENT_FLOP_PER_REP / product_flop(p));
    calls = calls > 0 ? calls : 1;
    int ready = 0;
    for (; ready < threads; ++ready) {
        w[ready].p = p;
        w[ready].calls = calls;
        w[ready].pl = &pl;
        if (operands_alloc(&w[ready].o, p, 100 + (uint64_t)ready))
            break;
    }
    /* One BLAS thread per call, as inside the library's threads; set
     * before the workers make their first call. */
    const int previous = speed_blas_set_threads(1);
    int started = 0;
    if (ready == threads)
        for (; started < threads; ++started)
            if (pthread_create(&tid[started], NULL, worker_main, &w[started]))
                break;
    int rc = -1;
    if (started == threads) {
        concurrent_ctx c = {w, &pl};
        rc = speed_time(b, concurrent_rep, &c, &out->timing);
        out->controlled = previous > 0;
        out->gflops = (double)threads * calls * product_flop(p) /
                      out->timing.best * 1e-9;
    } else if (ready == threads) {
        fprintf(stderr, "attention-bench-speed: cannot start %d threads\n",
                threads);
    }
    pool_stop(&pl, tid, started);
    speed_blas_restore(previous);
    for (int i = 0; i < ready; ++i)
        operands_free(&w[i].o);
    free(w);
    free(tid);
    return rc;
}
