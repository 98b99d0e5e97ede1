/*
 * attention-bench-speed's sgemm roof: what cblas_sgemm itself reaches under
 * the same BLAS, to divide the attention rates by. The square product runs
 * on the BLAS's own threads, set to the row's count for the duration; the
 * tile products run one per thread, all threads at once, the BLAS set to
 * one thread: the per-core rate the fused kernel's products can reach when
 * every core works, summed over the threads.
 */
#define _POSIX_C_SOURCE 200809L /* pthread_barrier_t */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "rng.h"
#include "speed.h"

/* Work per thread and repeat (about 20 ms at 100 GFLOP/s): the barriers
 * are noise. */
#define CONCURRENT_FLOP_PER_REP 2e9

/* One row-major product C (m, n) = A (m, k) op(B) as the fused kernel
 * issues it: op(B) = B^T for Q K^T, B for P V. A worker's also times its
 * last batch. */
typedef struct product {
    int m, n, k, trans;
    float *a, *b, *c;       /* one block */
    double t0, t1;
} product;

static product make(const speed_row *r, uint64_t seed)
{
    const int pv = strcmp(r->product, "pv_tile") == 0;
    product p = {(int)r->tq, (int)(pv ? r->d : r->tk), (int)(pv ? r->tk : r->d),
                 strcmp(r->product, "qk_tile") == 0, NULL, NULL, NULL, 0, 0};
    const size_t a = (size_t)p.m * p.k, b = (size_t)p.k * p.n;
    p.a = speed_alloc((a + b + (size_t)p.m * p.n) * sizeof *p.a);
    p.b = p.a + a;
    p.c = p.b + b;
    bench_fill_uniform(p.a, a, seed);
    bench_fill_uniform(p.b, b, seed + 1);
    memset(p.c, 0, (size_t)p.m * p.n * sizeof *p.c);
    return p;
}

static void gemm(const product *p)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, p->trans ? CblasTrans : CblasNoTrans,
                p->m, p->n, p->k, 1.0f, p->a, p->k, p->b, p->trans ? p->k : p->n,
                0.0f, p->c, p->n);
}

static double once(void *p)
{
    const double t0 = speed_now();
    gemm(p);
    return speed_now() - t0;
}

/* Workers live for one measurement and run one batch per repeat, as a
 * thread pool would: no thread start-up inside the timing, and each keeps
 * its BLAS buffers warm. The barriers start and end a repeat. */
static struct {
    pthread_barrier_t start, done;
    int quit, calls, threads;
    product p[MAX_THREADS]; /* each worker's own */
    pthread_t tid[MAX_THREADS];
} pool;

static void *work(void *arg)
{
    product *p = arg;
    /* OpenBLAS's OpenMP build keeps the count per thread, and a new thread
     * starts at every core. */
    speed_blas_set_threads(1);
    for (;;) {
        pthread_barrier_wait(&pool.start);
        if (pool.quit)
            return NULL;
        p->t0 = speed_now();
        for (int c = 0; c < pool.calls; ++c)
            gemm(p);
        p->t1 = speed_now();
        pthread_barrier_wait(&pool.done);
    }
}

/* One repeat: the wall time from the first start to the last finish. */
static double batch(void *unused)
{
    (void)unused;
    pthread_barrier_wait(&pool.start);
    pthread_barrier_wait(&pool.done);
    double first = pool.p[0].t0, last = pool.p[0].t1;
    for (int i = 1; i < pool.threads; ++i) {
        first = pool.p[i].t0 < first ? pool.p[i].t0 : first;
        last = pool.p[i].t1 > last ? pool.p[i].t1 : last;
    }
    return last - first;
}

void speed_roof(const speed_run *x, speed_row *r)
{
    const int square = strcmp(r->product, "square") == 0;
    const double flop = 2.0 * (double)r->tq * (double)r->tk * (double)r->d;
    const int calls = (int)(CONCURRENT_FLOP_PER_REP / flop);
    /* The square on the row's count of BLAS threads; the tiles on one, as
     * inside the library's threads (set before the workers' first call). */
    const int previous = speed_blas_set_threads(square ? r->threads : 1);
    pool.quit = 0;
    pool.calls = calls > 0 ? calls : 1;
    pool.threads = square ? 1 : r->threads;
    if (square) {
        product p = make(r, 11);
        speed_time(x, once, &p, r);
        free(p.a);
        pool.calls = 1;
    } else {
        const unsigned n = (unsigned)pool.threads + 1;
        pthread_barrier_init(&pool.start, NULL, n);
        pthread_barrier_init(&pool.done, NULL, n);
        for (int i = 0; i < pool.threads; ++i) {
            pool.p[i] = make(r, 100 + (uint64_t)i);
            if (pthread_create(&pool.tid[i], NULL, work, &pool.p[i]) != 0) {
                fprintf(stderr, PROG ": cannot start %d threads\n", r->threads);
                exit(1);
            }
        }
        speed_time(x, batch, NULL, r);
        pool.quit = 1;
        pthread_barrier_wait(&pool.start);
        for (int i = 0; i < pool.threads; ++i) {
            pthread_join(pool.tid[i], NULL);
            free(pool.p[i].a);
        }
        pthread_barrier_destroy(&pool.start);
        pthread_barrier_destroy(&pool.done);
    }
    speed_blas_set_threads(previous);
    r->gflops = (double)pool.threads * pool.calls * flop / r->seconds * 1e-9;
}
