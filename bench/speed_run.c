#include "speed_run.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "speed_load.h"
#include "speed_mem.h"
#include "speed_roof.h"

static const char *const kind_names[] = {"roof", "fused", "reference"};
static const char *const pass_names[] = {"fwd", "fwdbwd"};

static void oom(void)
{
    fprintf(stderr, "attention-bench-speed: out of memory\n");
    exit(1);
}

static void add_roof(speed_rows *rows, const speed_product *p,
                     const char *phase, int threads, const speed_roof *r,
                     double others)
{
    const speed_row row = {
        .kind = SPEED_ROOF, .product = p->name, .phase = phase,
        .pass = SPEED_FWD, .b = 1, .h = 1, .tq = p->tq, .tk = p->tk, .d = p->d,
        .causal = 0, .threads = threads, .seconds = r->timing.best,
        .reps = r->timing.reps, .gflops = r->gflops, .extra_bytes = 0,
        .others = others};
    speed_rows_add(rows, &row);
    fprintf(stderr, "  roof %-5s %-7s %4d x %4d x %4d  %d thr  %7.1f GFLOP/s"
                    "  others busy %.2f\n",
            phase, p->name, p->m, p->n, p->k, threads, r->gflops, others);
}

/* The square roof at every thread count a measurement uses, and the tile
 * roofs at each head dimension. */
static void roof_phase(const speed_plan *p, speed_rows *rows, const char *phase)
{
    const int counts[2] = {p->threads, 1};
    const int n_counts = p->threads > 1 ? 2 : 1;
    const speed_product sq = speed_square();
    speed_roof r;
    speed_load_mark a, b;
    for (int i = 0; i < n_counts; ++i) {
        speed_load_mark_now(&a);
        if (speed_roof_blas_threads(&sq, counts[i], &p->budget, &r))
            oom();
        speed_load_mark_now(&b);
        add_roof(rows, &sq, phase, counts[i], &r, speed_load_others(&a, &b));
    }
    for (size_t j = 0; j < p->n_tile_d; ++j) {
        const speed_product tiles[2] = {speed_qk_tile((int)p->tile_d[j]),
                                        speed_pv_tile((int)p->tile_d[j])};
        for (int t = 0; t < 2; ++t)
            for (int i = 0; i < n_counts; ++i) {
                speed_load_mark_now(&a);
                if (speed_roof_concurrent(&tiles[t], counts[i], &p->budget, &r))
                    exit(1);
                speed_load_mark_now(&b);
                add_roof(rows, &tiles[t], phase, counts[i], &r,
                         speed_load_others(&a, &b));
            }
    }
}

static void measure(const speed_plan *p, speed_rows *rows, speed_case *c,
                    const char *phase, speed_kind kind, int causal,
                    speed_pass pass, int threads)
{
    const speed_setting set = {
        kind == SPEED_FUSED ? ATTN_ALGO_FUSED : ATTN_ALGO_MATERIALIZED, causal,
        pass, threads};
    speed_measure m;
    speed_load_mark a, b;
    speed_load_mark_now(&a);
    speed_case_measure(c, &set, &p->budget, &m);
    speed_load_mark_now(&b);
    const speed_row row = {
        .kind = kind, .product = "attention", .phase = phase, .pass = pass,
        .b = c->s.b, .h = c->s.h, .tq = c->s.t, .tk = c->s.t, .d = c->s.d,
        .causal = causal, .threads = threads, .seconds = m.timing.best,
        .reps = m.timing.reps, .gflops = m.gflops,
        .extra_bytes = m.extra_bytes, .others = speed_load_others(&a, &b)};
    speed_rows_add(rows, &row);
    fprintf(stderr, "  B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
                    " %-6s %-6s %-9s %d thr  %7.1f GFLOP/s  %7.3f s x %d"
                    "  others busy %.2f\n",
            c->s.b, c->s.h, c->s.t, c->s.d, causal ? "causal" : "full",
            pass_names[pass], kind_names[kind], threads, m.gflops,
            m.timing.best, m.timing.reps, row.others);
}

static void main_shape(const speed_plan *p, speed_rows *rows, speed_shape s)
{
    speed_case c;
    if (speed_case_alloc(&c, s, p->seed))
        oom();
    for (int causal = 0; causal < 2; ++causal)
        for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass) {
            measure(p, rows, &c, "main", SPEED_FUSED, causal, pass, p->threads);
            if (p->threads > 1)
                measure(p, rows, &c, "main", SPEED_FUSED, causal, pass, 1);
            if (s.t <= p->ref_max_t)
                measure(p, rows, &c, "main", SPEED_REFERENCE, causal, pass,
                        p->threads);
        }
    speed_case_free(&c);
}

/* Fused only, all threads, full attention (the largest workspace). */
static void long_shape(const speed_plan *p, speed_rows *rows,
                       speed_long_mem *mem)
{
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
    measure(p, rows, &c, "long", SPEED_FUSED, 0, SPEED_FWD, p->threads);
    measure(p, rows, &c, "long", SPEED_FUSED, 0, SPEED_FWDBWD, p->threads);
    mem->peak_after = speed_peak_rss();
    mem->measured = 1;
    speed_case_free(&c);
}

void speed_run(const speed_plan *p, speed_rows *rows, speed_long_mem *mem)
{
    mem->measured = 0;
    roof_phase(p, rows, "start");
    for (size_t i = 0; i < p->n_shapes; ++i)
        main_shape(p, rows, p->shapes[i]);
    if (p->long_shape)
        long_shape(p, rows, mem);
    roof_phase(p, rows, "end");
}
