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
    return (speed_product){"qk_tile", 128, 512, d, 1, 128, 512, d};
}

speed_product speed_pv_tile(int d)
{
    return (speed_product){"pv_tile", 128, d, 512, 0, 128, 512, d};
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

/* A counting barrier: every worker waits until all have arrived, so the
 * timed loops start together. */
typedef struct barrier {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int waiting, total;
} barrier;

static void barrier_wait(barrier *b)
{
    pthread_mutex_lock(&b->mu);
    if (++b->waiting == b->total)
        pthread_cond_broadcast(&b->cv);
    while (b->waiting < b->total)
        pthread_cond_wait(&b->cv, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

typedef struct worker {
    const speed_product *p;
    operands o;             /* this thread's own operands */
    int calls;
    barrier *start;
    double t0, t1;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    barrier_wait(w->start);
    w->t0 = speed_now();
    for (int i = 0; i < w->calls; ++i)
        product_run(w->p, &w->o);
    w->t1 = speed_now();
    return NULL;
}

typedef struct concurrent_ctx {
    worker *w;              /* (threads) */
    pthread_t *tid;         /* (threads) */
    int threads;
} concurrent_ctx;

/* One repeat: all threads run their calls; the wall time spans the first
 * start to the last finish. */
static int concurrent_rep(void *arg, double *seconds)
{
    concurrent_ctx *c = arg;
    barrier start = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0,
                     c->threads};
    pthread_t *tid = c->tid;
    int started = 0;
    for (; started < c->threads; ++started) {
        c->w[started].start = &start;
        if (pthread_create(&tid[started], NULL, worker_main, &c->w[started]))
            break;
    }
    if (started < c->threads) {
        /* Release the ones already waiting, then give up. */
        pthread_mutex_lock(&start.mu);
        start.total = started;
        pthread_cond_broadcast(&start.cv);
        pthread_mutex_unlock(&start.mu);
    }
    double first = 0.0, last = 0.0;
    for (int i = 0; i < started; ++i) {
        pthread_join(tid[i], NULL);
        if (i == 0 || c->w[i].t0 < first)
            first = c->w[i].t0;
        if (i == 0 || c->w[i].t1 > last)
            last = c->w[i].t1;
    }
    if (started < c->threads) {
        fprintf(stderr, "attention-bench-speed: cannot start %d threads\n",
                c->threads);
        return -1;
    }
    *seconds = last - first;
    return 0;
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
    int calls = (int)(CONCURRENT_FLOP_PER_REP / product_flop(p));
    calls = calls > 0 ? calls : 1;
    int ok = 0;
    for (; ok < threads; ++ok) {
        w[ok].p = p;
        w[ok].calls = calls;
        if (operands_alloc(&w[ok].o, p, 100 + (uint64_t)ok))
            break;
    }
    int rc = -1;
    if (ok == threads) {
        /* One BLAS thread per call, as inside the library's threads. */
        const int previous = speed_blas_set_threads(1);
        concurrent_ctx c = {w, tid, threads};
        rc = speed_time(b, concurrent_rep, &c, &out->timing);
        speed_blas_restore(previous);
        out->controlled = previous > 0;
        out->gflops = (double)threads * calls * product_flop(p) /
                      out->timing.best * 1e-9;
    }
    for (int i = 0; i < ok; ++i)
        operands_free(&w[i].o);
    free(w);
    free(tid);
    return rc;
}
