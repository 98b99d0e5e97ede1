#include "speed_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "speed_load.h"
#include "speed_mem.h"
#include "speed_roof.h"

/* A measurement that other processes disturbed is made again, at most
 * this many times in all, when it is cheap (best repeat within the
 * budget's long_call) and the run's retry allowance lasts; the fastest
 * attempt is kept, as the fastest repeat is within one. Long ones are only
 * flagged, and a lasting load uses up the allowance: either way the run
 * stays within its time budget. */
#define MAX_ATTEMPTS 3

/* What every measurement of a run shares. */
typedef struct run_ctx {
    const speed_plan *p;
    speed_rows *rows;
    double retry_left;      /* seconds */
} run_ctx;

static const char *const kind_names[] = {"roof", "fused", "reference"};
static const char *const pass_names[] = {"fwd", "fwdbwd"};

static void oom(void)
{
    fprintf(stderr, "attention-bench-speed: out of memory\n");
    exit(1);
}

/* Whether to measure again; charges the attempt just made to the
 * allowance when it was itself a retry. */
static int again(run_ctx *x, const speed_row *kept, int attempts,
                 double attempt_seconds)
{
    if (attempts > 1)
        x->retry_left -= attempt_seconds;
    return attempts < MAX_ATTEMPTS && kept->others > SPEED_BUSY_LIMIT &&
           kept->seconds <= x->p->budget.long_call && x->retry_left > 0.0;
}

/* The fastest of the attempts so far. */
static void keep_best(speed_row *kept, const speed_row *now, int attempts)
{
    if (attempts == 1 || now->seconds < kept->seconds)
        *kept = *now;
    kept->attempts = attempts;
}

/* One roof product at `threads`: square on the BLAS's threads, tiles
 * concurrently on the bench's. */
static void roof(run_ctx *x, const speed_product *pr, const char *phase,
                 int threads)
{
    const speed_plan *p = x->p;
    speed_row kept = {0};
    int attempts = 0;
    speed_load_mark a, b;
    do {
        speed_roof r;
        speed_load_mark_now(&a);
        const int rc = strcmp(pr->name, "square") == 0
                           ? speed_roof_blas_threads(pr, threads, &p->budget, &r)
                           : speed_roof_concurrent(pr, threads, &p->budget, &r);
        if (rc)
            exit(1);
        speed_load_mark_now(&b);
        const speed_row now = {
            .kind = SPEED_ROOF, .product = pr->name, .phase = phase,
            .pass = SPEED_FWD, .b = 1, .h = 1, .tq = pr->tq, .tk = pr->tk,
            .d = pr->d, .causal = 0, .threads = threads,
            .seconds = r.timing.best, .reps = r.timing.reps,
            .gflops = r.gflops, .extra_bytes = 0,
            .others = speed_load_others(&a, &b)};
        keep_best(&kept, &now, ++attempts);
        fprintf(stderr, "  roof %-5s %-7s %4d x %4d x %4d  %d thr  %7.1f "
                        "GFLOP/s  others busy %.2f\n",
                phase, pr->name, pr->m, pr->n, pr->k, threads, now.gflops,
                now.others);
    } while (again(x, &kept, attempts, b.wall - a.wall));
    speed_rows_add(x->rows, &kept);
}

/* The square roof at every thread count a measurement uses, and the tile
 * roofs at each head dimension. */
static void roof_phase(run_ctx *x, const char *phase)
{
    const speed_plan *p = x->p;
    const int counts[2] = {p->threads, 1};
    const int n_counts = p->threads > 1 ? 2 : 1;
    const speed_product sq = speed_square();
    for (int i = 0; i < n_counts; ++i)
        roof(x, &sq, phase, counts[i]);
    for (size_t j = 0; j < p->n_tile_d; ++j) {
        const speed_product tiles[2] = {speed_qk_tile((int)p->tile_d[j]),
                                        speed_pv_tile((int)p->tile_d[j])};
        for (int t = 0; t < 2; ++t)
            for (int i = 0; i < n_counts; ++i)
                roof(x, &tiles[t], phase, counts[i]);
    }
}

static void measure(run_ctx *x, speed_case *c, const char *phase,
                    speed_kind kind, int causal, speed_pass pass, int threads)
{
    const speed_plan *p = x->p;
    const speed_setting set = {
        kind == SPEED_FUSED ? ATTN_ALGO_FUSED : ATTN_ALGO_MATERIALIZED, causal,
        pass, threads};
    speed_row kept = {0};
    int attempts = 0;
    speed_load_mark a, b;
    do {
        speed_measure m;
        speed_load_mark_now(&a);
        speed_case_measure(c, &set, &p->budget, &m);
        speed_load_mark_now(&b);
        const speed_row now = {
            .kind = kind, .product = "attention", .phase = phase,
            .pass = pass, .b = c->s.b, .h = c->s.h, .tq = c->s.t,
            .tk = c->s.t, .d = c->s.d, .causal = causal, .threads = threads,
            .seconds = m.timing.best, .reps = m.timing.reps,
            .gflops = m.gflops, .extra_bytes = m.extra_bytes,
            .others = speed_load_others(&a, &b)};
        keep_best(&kept, &now, ++attempts);
        fprintf(stderr, "  B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
                        " %-6s %-6s %-9s %d thr  %7.1f GFLOP/s  %7.3f s x %d"
                        "  others busy %.2f\n",
                c->s.b, c->s.h, c->s.t, c->s.d, causal ? "causal" : "full",
                pass_names[pass], kind_names[kind], threads, now.gflops,
                now.seconds, now.reps, now.others);
    } while (again(x, &kept, attempts, b.wall - a.wall));
    speed_rows_add(x->rows, &kept);
}

static void main_shape(run_ctx *x, speed_shape s)
{
    const speed_plan *p = x->p;
    speed_case c;
    if (speed_case_alloc(&c, s, p->seed))
        oom();
    for (int causal = 0; causal < 2; ++causal)
        for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass) {
            measure(x, &c, "main", SPEED_FUSED, causal, pass, p->threads);
            if (p->threads > 1)
                measure(x, &c, "main", SPEED_FUSED, causal, pass, 1);
            if (s.t <= p->ref_max_t)
                measure(x, &c, "main", SPEED_REFERENCE, causal, pass,
                        p->threads);
        }
    speed_case_free(&c);
}

/* Fused only, all threads, full attention (the largest workspace). */
static void long_shape(run_ctx *x, speed_long_mem *mem)
{
    const speed_plan *p = x->p;
    const speed_shape s = *p->long_shape;
    mem->peak_before = speed_peak_rss();
    speed_case c;
    if (speed_case_alloc(&c, s, p->seed))
        oom();
    /* q k v out dout dq dk dv, and lse. */
    mem->data_bytes = (8.0 * (double)(s.b * s.h * s.t * s.d) +
                       (double)(s.b * s.h * s.t)) * sizeof(float);
    mem->peak_inputs = speed_peak_rss();
    mem->current_inputs = speed_current_rss();
    measure(x, &c, "long", SPEED_FUSED, 0, SPEED_FWD, p->threads);
    measure(x, &c, "long", SPEED_FUSED, 0, SPEED_FWDBWD, p->threads);
    mem->peak_after = speed_peak_rss();
    mem->measured = 1;
    speed_case_free(&c);
}

void speed_run(const speed_plan *p, speed_rows *rows, speed_long_mem *mem)
{
    run_ctx x = {p, rows, p->retry_seconds};
    mem->measured = 0;
    roof_phase(&x, "start");
    for (size_t i = 0; i < p->n_shapes; ++i)
        main_shape(&x, p->shapes[i]);
    if (p->long_shape)
        long_shape(&x, mem);
    roof_phase(&x, "end");
}
