/*
 * attention-bench-decode: one decoding step (a few new query rows against
 * a KV cache) against the memory-read roof of the same bytes, measured in
 * one run. For every shape (Hq 32 / Hkv 8 / d 128 and Hq 8 / Hkv 1 / d 64;
 * B 1 and 8; Tq 1 and 4; Tk 1k, 4k, 32k, 128k), every K/V storage type
 * (fp32, fp16, bf16) and both layouts (contiguous (B, Hkv, Tk, d), and
 * paged: pages of 16 rows in a shuffled order from a pool laid out
 * (num_pages, Hkv, page_size, d), or with --token-major
 * (num_pages, page_size, Hkv, d) as FlashAttention keeps its)
 * it times
 *   - the roof: a vectorised read (sum) of a buffer of the step's K and V
 *     bytes at storage size on the same threads, warm from cache when it
 *     fits, from memory when it does not (the same as the step itself);
 *   - for the paged layout, the page roof: the same read over the pools'
 *     pages in the order the decoding path reads them (scattered runs of
 *     2-64 KiB cost the memory itself more than one sequential read);
 *   - the decoding path (ATTN_ALGO_AUTO) and the general fused path over
 *     the same storage and layout; for B 1 (Tk >= 4096) the decoding path
 *     and the roof on one thread too, to see that B 1 uses every thread;
 * and, once per run, cblas_sgemm's rate on the same threads: the most
 * the step's arithmetic (4 d FLOPs per query row and visible key) can
 * run at. It checks the decoding path's answer (against the general path's, a double
 * reference of two heads, the contiguous layout's and the 1-thread run's;
 * a wrong answer stops the bench with an error), and prints tokens/s, K/V
 * GB/s at storage size, the ratio to the roof and the ratios between
 * paths, storage types and layouts; then a summary against the decoding
 * issue's targets.
 */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include <attention/attention.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "decode.h"
#include "rng.h"
#include "speed.h" /* speed_now, speed_load_now, speed_others, BUSY_LIMIT,
                      speed_blas_set_threads */

/* The grid (decode.h's N_HEADS, N_B, N_TQ, N_TK). */
static const int64_t grid_heads[N_HEADS][3] = {{32, 8, 128}, {8, 1, 64}};
static const int64_t grid_b[N_B] = {1, 8};
static const int64_t grid_tq[N_TQ] = {1, 4};
static const int64_t grid_tk[N_TK] = {1024, 4096, 32768, 131072};

/* Checking: the decoding path against a double reference, per element
 * relative to sum_j p_j |v_j|; against the general path and between
 * layouts, absolute (|v| < 1, so the same scale or larger). Seen here:
 * up to 2e-7; a page read twice or out of order, or fp16 read as bf16,
 * gives 1e-2 and more. */
#define TOL_REF 4e-6
#define TOL_PATHS 4e-6
#define MEM_SHARE 0.6 /* of the memory available at the start */

static const uint64_t seed_q = 1, seed_k = 0x6b5f6b5f, seed_v = 0x765f765f,
                      seed_pages = 0x70616765, seed_roof = 4,
                      seed_gemm = 5;

static const char usage[] =
    "usage: " DPROG " [--quick] [--threads N] [--max-kv-gib X] [--token-major]\n"
    "       [--csv FILE]\n\n"
    "One decoding step (B x Tq new query rows against a K/V cache of Tk "
    "rows) in fp32,\nfp16 and bf16 storage, contiguous and paged, against "
    "a vectorised read of the same\nbytes on the same threads.\n\n"
    "  --quick          B 1 and Tk up to 32k only, shorter timing: under a "
    "minute\n"
    "                   (default: the whole grid, a few minutes on two "
    "cores)\n"
    "  --threads N      threads (default: ATTN_NUM_THREADS, else every "
    "online core)\n"
    "  --token-major    paged pools (num_pages, 16, Hkv, d) instead of "
    "(num_pages, Hkv,\n                   16, d)\n"
    "  --max-kv-gib X   skip rows whose K + V exceed X GiB (default 2, which "
    "skips B 8\n"
    "                   Tk 128k of Hq 32 / Hkv 8 / d 128: 4 GiB in fp16 and "
    "bf16, 8 in\n"
    "                   fp32); rows that would not fit in memory are skipped "
    "anyway\n"
    "  --csv FILE       write one line per table row to FILE\n"
    "  --help           show this and exit\n";

static volatile float sink;

/* A timed call: the roof's read, the paged pools' read, the sgemm
 * product, or one library call. */
typedef struct call {
    const float *roof;
    size_t roof_n;
    const char *pages_k, *pages_v; /* dec_read_pages's arguments */
    const int32_t *table;
    int64_t n_pages;
    size_t page_bytes;
    float *gemm; /* A, B, C: (SGEMM_N, SGEMM_N) each */
    int threads;
    const attn_sdpa_desc *desc;
    const float *q;
    const void *k, *v;
    float *out;
    void *ws;
    size_t ws_bytes;
} call;

static void *xmalloc(size_t bytes)
{
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, DPROG ": out of memory (%.0f bytes)\n", (double)bytes);
        exit(1);
    }
    return p;
}

static void invoke(const call *c)
{
    if (c->roof) {
        sink = dec_read_all(c->roof, c->roof_n, c->threads);
        return;
    }
    if (c->pages_k) {
        sink = dec_read_pages(c->pages_k, c->pages_v, c->table, c->n_pages,
                          c->page_bytes, c->threads);
        return;
    }
    if (c->gemm) {
        const float *a = c->gemm, *b = a + SGEMM_N * SGEMM_N;
        float *out = c->gemm + 2 * SGEMM_N * SGEMM_N;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, SGEMM_N,
                    SGEMM_N, SGEMM_N, 1.0f, a, SGEMM_N, b, SGEMM_N, 0.0f, out,
                    SGEMM_N);
        sink = out[0];
        return;
    }
    const attn_status st = attn_sdpa_forward_ws(
        c->desc, c->q, c->k, c->v, c->out, NULL, NULL, c->ws, c->ws_bytes);
    if (st != ATTN_OK) {
        fprintf(stderr, DPROG ": attn_sdpa_forward_ws: %s\n",
                attn_strerror(st));
        exit(1);
    }
}

/* Calls timed in turns (at most SET_MAX of them). */
#define SET_MAX 4
#define ROUNDS_MAX 64
typedef struct rounds {
    int n;
    double t[SET_MAX][ROUNDS_MAX]; /* per call, per round, seconds */
} rounds;

static double time_call(const call *c)
{
    const double t0 = speed_now();
    invoke(c);
    return speed_now() - t0;
}

/* n calls by dec_run's timing rule, in turns: a warm-up of each, then
 * rounds that time each once; per call its best round into t, every
 * round into rd. */
static void time_set(const dec_run *x, const call *const *c, int n,
                     dec_time *t, rounds *rd)
{
    double warm = 0.0;
    for (int i = 0; i < n; ++i) {
        t[i] = (dec_time){time_call(c[i]), 0, -1.0};
        rd->t[i][0] = t[i].seconds;
        warm = t[i].seconds > warm ? t[i].seconds : warm;
    }
    rd->n = 1; /* the warm-ups, when they are the measurement */
    if (warm > 4.0 * x->long_call)
        return;
    const int min_rounds = warm > x->long_call ? 1 : x->min_reps;
    double total = 0.0;
    rd->n = 0;
    while (rd->n < ROUNDS_MAX &&
           (rd->n < min_rounds || total < n * x->min_seconds)) {
        for (int i = 0; i < n; ++i) {
            const double dt = time_call(c[i]);
            if (t[i].reps++ == 0 || dt < t[i].seconds)
                t[i].seconds = dt;
            rd->t[i][rd->n] = dt;
            total += dt;
        }
        ++rd->n;
    }
}

/* time_set, again while other processes disturbed it (speed bench's
 * rule); the attempt whose best times sum least is kept. */
static void measure_set(dec_run *x, const call *const *c, int n, dec_time *t,
                        rounds *rd)
{
    dec_time try_t[SET_MAX];
    static rounds try_rd; /* 2 KiB: off the stack */
    double kept = -1.0;
    for (int attempt = 1;; ++attempt) {
        const speed_load a = speed_load_now();
        time_set(x, c, n, try_t, &try_rd);
        const speed_load b = speed_load_now();
        double sum = 0.0;
        for (int i = 0; i < n; ++i) {
            try_t[i].busy = speed_others(&a, &b);
            sum += try_t[i].seconds;
        }
        if (attempt == 1 || sum < kept) {
            kept = sum;
            memcpy(t, try_t, (size_t)n * sizeof *t);
            if (rd)
                *rd = try_rd;
        }
        if (attempt > 1)
            x->retry_left -= b.wall - a.wall;
        if (attempt == MAX_ATTEMPTS || t[0].busy <= BUSY_LIMIT ||
            kept > x->long_call || x->retry_left <= 0.0)
            return;
    }
}

static dec_time measure(dec_run *x, const call *c)
{
    dec_time t;
    measure_set(x, &c, 1, &t, NULL);
    return t;
}

/* The median over rd's rounds of call i's time over call j's. */
static double paired(const rounds *rd, int i, int j)
{
    double q[ROUNDS_MAX];
    for (int r = 0; r < rd->n; ++r)
        q[r] = rd->t[i][r] / rd->t[j][r];
    return speed_median(q, rd->n);
}

/* Bytes of memory available now: /proc/meminfo's MemAvailable, else half
 * the physical memory. */
static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    double kib = -1.0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    if (kib > 0.0)
        return 1024.0 * kib;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? 0.5 * (double)pages * (double)page
                                 : 4.0 * GIB;
}

static void shape_name(char *buf, size_t n, const dec_shape *s)
{
    snprintf(buf, n, "Hq%lld Hkv%lld d%lld B%lld Tq%lld Tk%lld",
             (long long)s->hq, (long long)s->hkv, (long long)s->d,
             (long long)s->b, (long long)s->tq, (long long)s->tk);
}

static void wrong(const dec_row *r, const char *what, double err, double tol)
{
    char name[96];
    shape_name(name, sizeof name, &r->s);
    fprintf(stderr,
            DPROG ": WRONG ANSWER, %s %s %s: %s by %.3g (tolerance "
                  "%.3g); no speed is reported for it\n",
            name, dec_storage_names[r->storage], dec_layout_names[r->layout],
            what, err, tol);
    exit(1);
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double e = fabs((double)a[i] - (double)b[i]);
        m = e > m || e != e ? e : m; /* NaN counts as the largest */
    }
    return m;
}

/* What one (shape, storage) shares across layouts. */
typedef struct shape_data {
    float *q[N_TQ];
    double *ref[N_TQ][2], *mag[N_TQ][2]; /* two sampled heads */
    int64_t ref_b[2], ref_h[2];
} shape_data;

static void desc_for(attn_sdpa_desc *d, const dec_shape *s, int storage,
                     int layout, const int32_t *table, attn_algo algo,
                     int threads)
{
    attn_sdpa_desc_init(d, s->b, s->hq, s->hkv, s->tq, s->tk, s->d, s->d);
    d->causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    d->algo = algo;
    d->num_threads = threads;
    d->kv_dtype = (attn_dtype)storage;
    if (layout == PAGED) {
        const attn_strides head_major = {PAGE * s->hkv * s->d, PAGE * s->d, s->d};
        const attn_strides token_major = {PAGE * s->hkv * s->d, s->d, s->hkv * s->d};
        const attn_strides pool = dec_token_major ? token_major : head_major;
        d->block_table = table;
        d->max_pages = (s->tk + PAGE - 1) / PAGE;
        d->page_size = PAGE;
        d->num_pages = s->b * d->max_pages;
        d->k_strides = pool;
        d->v_strides = pool;
    }
}

/* One library call ready to time: its descriptor (which c points to) and
 * workspace. */
typedef struct path {
    attn_sdpa_desc d;
    call c;
} path;

/* p's call of a path into out (threads: the call's). */
static void path_open(path *p, const dec_shape *s, int storage, int layout,
                      const int32_t *table, attn_algo algo, int threads,
                      const float *q, const void *k, const void *v, float *out)
{
    desc_for(&p->d, s, storage, layout, table, algo, threads);
    size_t ws_bytes = 0;
    const attn_status st = attn_sdpa_workspace_size(&p->d, &ws_bytes);
    if (st != ATTN_OK) {
        fprintf(stderr, DPROG ": attn_sdpa_workspace_size: %s\n",
                attn_strerror(st));
        exit(1);
    }
    p->c = (call){.desc = &p->d,
                  .q = q,
                  .k = k,
                  .v = v,
                  .out = out,
                  .ws = xmalloc(ws_bytes),
                  .ws_bytes = ws_bytes};
}

static void path_close(path *p)
{
    free(p->c.ws);
}

/* The reads a row's step is timed in turns with: the roof on the run's
 * threads and on one, and (paged rows) the page roof. */
typedef struct reads {
    call roof, roof1, pages;
} reads;

/* One table row: the paths on the K/V already in k, v, and the checks. */
static void run_row(dec_run *x, dec_row *r, const shape_data *sd, int ti,
                    const int32_t *table, const void *k, const void *v,
                    const reads *rd_calls, float *const outs[3 + N_TQ])
{
    const dec_shape *s = &r->s;
    const size_t n_out = (size_t)(s->b * s->hq * s->tq * s->d);
    float *out = outs[0], *out_gen = outs[1], *out_1 = outs[2],
          *out_contig = outs[3 + ti]; /* this Tq's contiguous answer */
    static rounds rd;
    path p;
    path_open(&p, s, r->storage, r->layout, table, ATTN_ALGO_AUTO, x->threads,
              sd->q[ti], k, v, out);
    /* The roof again before the page roof: the step and the page roof
     * read the same bytes, so that each follows a read of others, as the
     * step does in the contiguous rows (where they fit in the caches, all
     * three stay there). */
    const call *set[SET_MAX] = {&rd_calls->roof, &p.c, &rd_calls->roof,
                                &rd_calls->pages};
    dec_time t[SET_MAX];
    measure_set(x, set, r->layout == PAGED ? 4 : 2, t, &rd);
    path_close(&p);
    r->roof = t[0];
    r->decode = t[1];
    r->roof_paired = paired(&rd, 0, 1);
    if (r->layout == PAGED) {
        r->roof = t[2].seconds < t[0].seconds ? t[2] : t[0];
        r->page_roof = t[3];
        r->page_paired = paired(&rd, 3, 1);
    }
    /* Against the reference, per element relative to sum p|v|. */
    r->err_ref = 0.0;
    for (int p = 0; p < 2; ++p) {
        const float *o =
            out + (sd->ref_b[p] * s->hq + sd->ref_h[p]) * s->tq * s->d;
        for (int64_t i = 0; i < s->tq * s->d; ++i) {
            const double e =
                fabs((double)o[i] - sd->ref[ti][p][i]) / sd->mag[ti][p][i];
            r->err_ref = e > r->err_ref || e != e ? e : r->err_ref;
        }
    }
    if (!(r->err_ref <= TOL_REF))
        wrong(r,
              "decoding path and double reference differ (relative to "
              "sum p|v|)",
              r->err_ref, TOL_REF);
    if (r->layout == CONTIG) {
        memcpy(out_contig, out, n_out * sizeof *out);
    } else {
        const double e = max_abs_diff(out, out_contig, n_out);
        if (!(e <= TOL_PATHS))
            wrong(r, "paged and contiguous decoding differ", e, TOL_PATHS);
    }
    if (x->threads > 1 && s->b == 1 && s->tk >= TARGET_TK) {
        path_open(&p, s, r->storage, r->layout, table, ATTN_ALGO_AUTO, 1,
                  sd->q[ti], k, v, out_1);
        const call *set1[2] = {&rd_calls->roof1, &p.c};
        measure_set(x, set1, 2, t, &rd);
        path_close(&p);
        r->roof1 = t[0];
        r->decode1 = t[1];
        r->roof1_paired = paired(&rd, 0, 1);
        if (memcmp(out_1, out, n_out * sizeof *out) != 0)
            wrong(r, "1 thread and N threads are not bit-identical",
                  max_abs_diff(out_1, out, n_out), 0.0);
    }
    r->err_general = -1.0;
    if ((double)(s->b * s->hq * s->tk * s->d) <= x->general_max) {
        path_open(&p, s, r->storage, r->layout, table, ATTN_ALGO_FUSED,
                  x->threads, sd->q[ti], k, v, out_gen);
        r->general = measure(x, &p.c);
        path_close(&p);
        r->err_general = max_abs_diff(out, out_gen, n_out);
        if (!(r->err_general <= TOL_PATHS))
            wrong(r, "decoding and general paths differ", r->err_general,
                  TOL_PATHS);
    }
    char name[96];
    shape_name(name, sizeof name, s);
    fprintf(stderr, "  %4.0f s  %-36s %-4s %-6s decode %10.1f tok/s %6.2f roof",
            speed_now() - x->t_start, name, dec_storage_names[r->storage],
            dec_layout_names[r->layout],
            (double)(s->b * s->tq) / r->decode.seconds, r->roof_paired);
    if (r->general.seconds > 0.0)
        fprintf(stderr, "  x general %5.2f",
                r->general.seconds / r->decode.seconds);
    fprintf(stderr, "  err %.1e\n", r->err_ref);
}

/* The page roof's call: the read of the paged pools k, v of shape s (any
 * Tq) as filled through table, dec_read_pages on the run's threads. */
static call pages_call(const dec_run *x, const dec_shape *s, int storage,
                       const int32_t *table, const char *k, const char *v)
{
    return (call){
        .pages_k = k,
        .pages_v = v,
        .table = table,
        .n_pages = s->b * ((s->tk + PAGE - 1) / PAGE),
        .page_bytes =
            (size_t)(s->hkv * PAGE * s->d) * dec_storage_size(storage),
        .threads = x->threads};
}

/* The sgemm rate the step's arithmetic is bounded by: cblas_sgemm
 * SGEMM_N^3 with the BLAS on the run's threads (restored after), into
 * x->sgemm and x->sgemm_flops. Measured after the rows, so that BLAS
 * threads still spinning after it cannot slow a row's measurement. */
static void sgemm_rate(dec_run *x)
{
    const size_t n = (size_t)SGEMM_N * SGEMM_N;
    call c = {.gemm = xmalloc(3 * n * sizeof(float)), .threads = x->threads};
    bench_fill_uniform(c.gemm, 2 * n, seed_gemm);
    const int previous = speed_blas_set_threads(x->threads);
    x->sgemm = measure(x, &c);
    speed_blas_set_threads(previous);
    free(c.gemm);
    x->sgemm_flops =
        2.0 * (double)SGEMM_N * SGEMM_N * SGEMM_N / x->sgemm.seconds;
}

/* Every row of one (heads, B, Tk): per storage the roof (and at one
 * thread), the references, then per layout the K/V and the rows of each
 * Tq. */
static void run_group(dec_run *x, int h, int bi, int ki, void *arena,
                      const float *roof_buf, float *const outs[3 + N_TQ])
{
    dec_shape s = {
        grid_heads[h][0], grid_heads[h][1], grid_heads[h][2], grid_b[bi], 0,
        grid_tk[ki]};
    shape_data sd;
    for (int ti = 0; ti < N_TQ; ++ti) {
        const size_t nq = (size_t)(s.b * s.hq * grid_tq[ti] * s.d);
        sd.q[ti] = xmalloc(nq * sizeof(float));
        bench_fill_uniform(sd.q[ti], nq, seed_q + (uint64_t)ti);
        for (int p = 0; p < 2; ++p) {
            sd.ref[ti][p] =
                xmalloc((size_t)(grid_tq[ti] * s.d) * sizeof(double));
            sd.mag[ti][p] =
                xmalloc((size_t)(grid_tq[ti] * s.d) * sizeof(double));
        }
    }
    sd.ref_b[0] = 0, sd.ref_h[0] = 0;
    sd.ref_b[1] = s.b - 1, sd.ref_h[1] = s.hq - 1;
    const int64_t n_pages = s.b * ((s.tk + PAGE - 1) / PAGE);
    int32_t *table = xmalloc((size_t)n_pages * sizeof *table);
    dec_block_table(&s, table, seed_pages);

    for (int st = 0; st < N_STORAGE; ++st) {
        dec_row *first = &x->rows[dec_row_index(h, bi, 0, ki, st, CONTIG)];
        if (!first->run)
            continue;
        const double bytes = first->bytes;
        reads rd_calls = {.roof = {.roof = roof_buf,
                                   .roof_n = (size_t)(bytes / sizeof(float)),
                                   .threads = x->threads}};
        rd_calls.roof1 = rd_calls.roof;
        rd_calls.roof1.threads = 1;
        for (int ti = 0; ti < N_TQ; ++ti) {
            s.tq = grid_tq[ti];
            attn_sdpa_desc d; /* the reference's scale: the library's default */
            desc_for(&d, &s, st, CONTIG, NULL, ATTN_ALGO_AUTO, 1);
#ifdef _OPENMP
#pragma omp parallel for num_threads(x->threads) schedule(static, 1)
#endif
            for (int p = 0; p < 2; ++p)
                dec_reference(&s, st, d.scale, sd.q[ti], sd.ref_b[p],
                              sd.ref_h[p], seed_k, seed_v, sd.ref[ti][p],
                              sd.mag[ti][p]);
        }
        for (int lay = 0; lay < N_LAYOUT; ++lay) {
            s.tq = grid_tq[0];
            char *k = arena, *v = k + (size_t)(bytes / 2);
            dec_fill_kv(&s, st, lay, table, k, v, seed_k, seed_v, x->threads);
            rd_calls.pages = pages_call(x, &s, st, table, k, v);
            for (int ti = 0; ti < N_TQ; ++ti) {
                dec_row *r = &x->rows[dec_row_index(h, bi, ti, ki, st, lay)];
                run_row(x, r, &sd, ti, lay == PAGED ? table : NULL, k, v,
                        &rd_calls, outs);
            }
        }
    }
    for (int ti = 0; ti < N_TQ; ++ti) {
        free(sd.q[ti]);
        for (int p = 0; p < 2; ++p) {
            free(sd.ref[ti][p]);
            free(sd.mag[ti][p]);
        }
    }
    free(table);
}

/* Sets out the rows (index: dec_row_index): shapes, bytes, which run
 * (this run's part of the grid, the cap, memory); the largest K + V run. */
static void plan(dec_run *x)
{
    x->mem_available = mem_available();
    x->mem_share = MEM_SHARE;
    x->mem_budget = MEM_SHARE * x->mem_available;
    x->kv_max = 0.0;
    for (int i = 0; i < N_ROWS; ++i) {
        dec_row *r = &x->rows[i];
        int j = i;
        r->layout = j % N_LAYOUT, j /= N_LAYOUT;
        r->storage = j % N_STORAGE, j /= N_STORAGE;
        const int ki = j % N_TK, ti = (j /= N_TK) % N_TQ;
        const int bi = (j /= N_TQ) % N_B, h = j / N_B;
        r->s = (dec_shape){grid_heads[h][0], grid_heads[h][1],
                           grid_heads[h][2], grid_b[bi], grid_tq[ti],
                           grid_tk[ki]};
        r->bytes = 2.0 * (double)(r->s.b * r->s.hkv * r->s.tk * r->s.d) *
                   (double)dec_storage_size(r->storage);
        r->roof = r->decode = r->general = r->decode1 = r->roof1 =
            r->page_roof = (dec_time){-1.0, 0, -1.0};
        r->err_general = r->err_ref = -1.0;
        r->roof_paired = r->page_paired = r->roof1_paired = NAN;
        r->selected = r->s.b <= x->b_max && ki < x->n_tk;
        r->over_cap = r->bytes > x->kv_cap;
        /* the K/V and the roof's buffer of as many bytes */
        r->over_memory = 2.0 * r->bytes > x->mem_budget;
        r->run = r->selected && !r->over_cap && !r->over_memory;
        if (r->run && r->bytes > x->kv_max)
            x->kv_max = r->bytes;
        if (i != dec_row_index(h, bi, ti, ki, r->storage, r->layout))
            abort(); /* the two orders agree */
    }
}

/* A count from 1 to MAX_THREADS, or 0. */
static int count(const char *s)
{
    char *end;
    const long n = s ? strtol(s, &end, 10) : 0;
    return s && end != s && !*end && n > 0 && n <= MAX_THREADS ? (int)n : 0;
}

int main(int argc, char **argv)
{
    const double t_start = speed_now();
    const char *csv = NULL;
    int quick = 0, threads = 0;
    double kv_cap_gib = -1.0;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        char *end = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (strcmp(a, "--token-major") == 0) {
            dec_token_major = 1;
        } else if (strcmp(a, "--csv") == 0 && v[0] != '\0') {
            csv = argv[++i];
        } else if (strcmp(a, "--threads") == 0 && (threads = count(v)) > 0) {
            ++i;
        } else if (strcmp(a, "--max-kv-gib") == 0 && v[0] != '\0' &&
                   (kv_cap_gib = strtod(v, &end)) > 0.0 && *end == '\0') {
            ++i;
        } else {
            fprintf(stderr,
                    strcmp(a, "--threads") == 0
                        ? DPROG ": --threads wants a count from 1 to "
                                "1024, not '%s'\n%s"
                        : DPROG ": unknown option or missing argument "
                                "'%s'\n%s",
                    strcmp(a, "--threads") == 0 ? v : a, usage);
            return 2;
        }
    }
    FILE *out = csv ? fopen(csv, "w") : NULL;
    if (csv && out == NULL) {
        fprintf(stderr, DPROG ": cannot open %s: %s\n", csv, strerror(errno));
        return 1;
    }
    /* The library's own rule for num_threads = 0, made explicit so that
     * the roof runs on as many. */
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads == 0)
        threads = count(getenv("ATTN_NUM_THREADS"));
    if (threads == 0)
        threads =
            online > 0 ? (int)(online < MAX_THREADS ? online : MAX_THREADS) : 1;

    static dec_run x;
    x.t_start = t_start;
    x.quick = quick;
    x.threads = threads;
    x.min_seconds = quick ? 0.05 : 0.1;
    x.min_reps = 5;
    x.long_call = quick ? 0.25 : 0.4;
    x.retry_seconds = x.retry_left = quick ? 4.0 : 15.0;
    x.busy_limit = BUSY_LIMIT;
    x.general_max = quick ? 3.4e7 : 1.4e8;
    x.kv_cap = (kv_cap_gib > 0.0 ? kv_cap_gib : 2.0) * GIB;
    x.n_tk = quick ? 3 : N_TK;
    x.b_max = quick ? 1 : 8;
    plan(&x);

    printf(DPROG ": %s run, %d thread%s, bottom-right causal, dv = d\n\n",
           quick ? "quick" : "full", threads, threads == 1 ? "" : "s");
    printf(
        "  timing    CLOCK_MONOTONIC; each step in turns with the reads it "
        "is compared to: a\n"
        "            warm-up call each, then rounds of one call each until "
        "%.2g s per call and %d\n"
        "            rounds (one when a warm-up took over %.2f s, none over "
        "%.1f s); times: the\n"
        "            best round; ratios to a read: the median over rounds "
        "of the paired times\n"
        "  data      uniform [-1, 1), rounded to the storage type; Q "
        "xoshiro256**, K and V\n"
        "            splitmix64 by logical index (the same values in "
        "every layout)\n"
        "  memory    %.1f GiB available at the start; rows whose K + V "
        "and roof buffer (2 x K + V)\n"
        "            exceed %.0f%% of it are skipped, and (run time) rows "
        "whose K + V exceed\n"
        "            %.2g GiB (--max-kv-gib); largest K + V run %.2f GiB\n\n",
        x.min_seconds, x.min_reps, x.long_call, 4.0 * x.long_call,
        x.mem_available / GIB, 100.0 * MEM_SHARE, x.kv_cap / GIB,
        x.kv_max / GIB);
    fflush(stdout);

    /* The K/V arena and the roof's buffer, once, at the largest size. */
    void *arena = xmalloc((size_t)x.kv_max + 64);
    const size_t roof_n = (size_t)(x.kv_max / sizeof(float));
    float *roof_buf = xmalloc(roof_n * sizeof(float) + 64);
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) schedule(static)
#endif
    for (size_t i = 0; i < roof_n; ++i)
        roof_buf[i] = dec_value(seed_roof, i);
    size_t n_out = 0;
    for (int i = 0; i < N_ROWS; ++i) {
        const dec_shape *s = &x.rows[i].s;
        const size_t n = (size_t)(s->b * s->hq * s->tq * s->d);
        n_out = n > n_out ? n : n_out;
    }
    float *outs[3 + N_TQ]; /* decoding, general, 1 thread, contiguous */
    for (int i = 0; i < 3 + N_TQ; ++i)
        outs[i] = xmalloc(n_out * sizeof(float));

    for (int h = 0; h < N_HEADS; ++h)
        for (int bi = 0; bi < N_B; ++bi)
            for (int ki = 0; ki < N_TK; ++ki)
                run_group(&x, h, bi, ki, arena, roof_buf, outs);
    sgemm_rate(&x);
    x.seconds = speed_now() - x.t_start;

    dec_table(stdout, &x);
    dec_summary(stdout, &x);
    printf("\nrun time %.0f s\n", x.seconds);
    int rc = 0;
    if (out && (dec_csv(out, &x) != 0) + (fclose(out) != 0)) {
        fprintf(stderr, DPROG ": cannot write %s\n", csv);
        rc = 1;
    }
    for (int i = 0; i < 3 + N_TQ; ++i)
        free(outs[i]);
    free(arena);
    free(roof_buf);
    return rc;
}
