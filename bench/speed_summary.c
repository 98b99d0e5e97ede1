#include "speed_summary.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "speed_load.h"

#define MIB (1024.0 * 1024.0)

/* Smallest and largest of a metric over rows, and where they were. */
typedef struct range {
    int n;
    double lo, hi;
    const speed_row *at_lo, *at_hi;
} range;

static void range_add(range *g, double x, const speed_row *row)
{
    if (g->n == 0 || x < g->lo) {
        g->lo = x;
        g->at_lo = row;
    }
    if (g->n == 0 || x > g->hi) {
        g->hi = x;
        g->at_hi = row;
    }
    g->n++;
}

static void where(FILE *f, const speed_row *x)
{
    fprintf(f, "B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64 "%s", x->b,
            x->h, x->tq, x->d, x->causal ? " causal" : "");
}

/* "0.52 (B4 H8 T1024 d64) .. 0.65 (B1 H8 T4096 d64)", or one value. */
static void range_print(FILE *f, const range *g, const char *unit)
{
    fprintf(f, "%.2f%s (", g->lo, unit);
    where(f, g->at_lo);
    if (g->n > 1) {
        fprintf(f, ") .. %.2f%s (", g->hi, unit);
        where(f, g->at_hi);
    }
    fputc(')', f);
}

static const char *verdict(int met)
{
    return met ? "met" : "NOT met";
}

static speed_shape shape_of(const speed_row *x)
{
    return (speed_shape){x->b, x->h, x->tq, x->d};
}

/* Fused rows of the main table at N threads, one pass. */
static int main_fused(const speed_row *x, const speed_plan *p, speed_pass pass)
{
    return x->kind == SPEED_FUSED && strcmp(x->phase, "main") == 0 &&
           x->threads == p->threads && x->pass == pass;
}

/* Roof ratio over full attention, d = 64, T >= 1024, at N threads. */
static void target_ratio(FILE *f, const speed_plan *p, const speed_rows *r,
                         speed_pass pass, double target, const char *what)
{
    range g = {0};
    for (size_t i = 0; i < r->n; ++i) {
        const speed_row *x = &r->v[i];
        if (main_fused(x, p, pass) && !x->causal && x->d == 64 && x->tq >= 1024)
            range_add(&g, speed_rows_ratio(r, x), x);
    }
    if (g.n == 0) {
        fprintf(f, "  %s: not measured\n", what);
        return;
    }
    fprintf(f, "  %s roof ratio, full, d64, T >= 1024, %d thr:\n    ", what,
            p->threads);
    range_print(f, &g, "");
    fprintf(f, "; target >= %.2f: %s\n", target, verdict(g.lo >= target));
}

/* Time of full over time of causal at T = 4096, forward, N threads. */
static void causal_speedup(FILE *f, const speed_plan *p, const speed_rows *r)
{
    int any = 0, met = 1;
    fprintf(f, "  causal speed-up, full time over causal time, T4096, %d thr "
               "(FLOPs halve: 2.00):\n   ", p->threads);
    for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass)
        for (size_t i = 0; i < r->n; ++i) {
            const speed_row *c = &r->v[i];
            if (!main_fused(c, p, (speed_pass)pass) || !c->causal ||
                c->tq != 4096)
                continue;
            const speed_row *full = speed_rows_find(
                r, SPEED_FUSED, "main", shape_of(c), 0, c->pass, p->threads);
            if (!full)
                continue;
            const double s = full->seconds / c->seconds;
            fprintf(f, "%s %s d%" PRId64 " %.2f", any ? "," : "",
                    pass == SPEED_FWD ? "fwd" : "fwdbwd", c->d, s);
            if (pass == SPEED_FWD && s < 1.8)
                met = 0;
            any = 1;
        }
    if (!any)
        fprintf(f, " not measured (T4096 is in the full run only)\n");
    else
        fprintf(f, ";\n    target fwd >= 1.80: %s\n", verdict(met));
}

/* eff1/N = (1-thread roof ratio) / (N-thread roof ratio), per pass. */
static void scaling(FILE *f, const speed_plan *p, const speed_rows *r)
{
    if (p->threads == 1) {
        fprintf(f, "  1- vs N-thread efficiency: N = 1, nothing to compare\n");
        return;
    }
    int met = 1, any = 0;
    fprintf(f, "  eff1/N, 1-thread roof ratio over %d-thread roof ratio:\n",
            p->threads);
    for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass) {
        range g = {0};
        for (size_t i = 0; i < r->n; ++i) {
            const speed_row *x = &r->v[i];
            if (!main_fused(x, p, (speed_pass)pass))
                continue;
            const speed_row *one = speed_rows_find(
                r, SPEED_FUSED, "main", shape_of(x), x->causal, x->pass, 1);
            const double en = speed_rows_ratio(r, x);
            const double e1 = one ? speed_rows_ratio(r, one) : 0.0;
            if (en > 0.0 && e1 > 0.0)
                range_add(&g, e1 / en, x);
        }
        if (g.n == 0)
            continue;
        any = 1;
        if (g.lo < 0.9 || g.hi > 1.1)
            met = 0;
        fprintf(f, "    %-6s ", pass == SPEED_FWD ? "fwd" : "fwdbwd");
        range_print(f, &g, "");
        fputc('\n', f);
    }
    if (any)
        fprintf(f, "    target within 10%% (0.90 .. 1.10): %s\n", verdict(met));
}

/* Fused over materialised GFLOP/s at N threads, per pass. */
static void versus_reference(FILE *f, const speed_plan *p, const speed_rows *r)
{
    fprintf(f, "  fused over materialised GFLOP/s, %d thr:\n", p->threads);
    for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass) {
        range g = {0};
        for (size_t i = 0; i < r->n; ++i) {
            const speed_row *x = &r->v[i];
            if (!main_fused(x, p, (speed_pass)pass))
                continue;
            const speed_row *ref = speed_rows_find(r, SPEED_REFERENCE, "main",
                                                   shape_of(x), x->causal,
                                                   x->pass, p->threads);
            if (ref)
                range_add(&g, x->gflops / ref->gflops, x);
        }
        if (g.n == 0)
            continue;
        fprintf(f, "    %-6s ", pass == SPEED_FWD ? "fwd" : "fwdbwd");
        range_print(f, &g, "x");
        fputc('\n', f);
    }
}

static void long_memory(FILE *f, const speed_plan *p, const speed_rows *r,
                        const speed_long_mem *mem)
{
    if (p->long_shape == NULL || !mem->measured) {
        fprintf(f, "  long-sequence memory (B1 H8 T16384 d64): not measured "
                   "(full run only)\n");
        return;
    }
    const speed_shape s = *p->long_shape;
    const speed_row *fw = speed_rows_find(r, SPEED_FUSED, "long", s, 0,
                                          SPEED_FWD, p->threads);
    const speed_row *fb = speed_rows_find(r, SPEED_FUSED, "long", s, 0,
                                          SPEED_FWDBWD, p->threads);
    const double limit = 64.0 * MIB;
    const double a = fw ? (double)fw->extra_bytes : NAN;
    const double b = fb ? (double)fb->extra_bytes : NAN;
    fprintf(f, "  B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
               " extra memory:\n    forward %.2f MiB, fwd+bwd %.2f MiB, RSS "
               "growth %.1f MiB; target < 64 MiB: %s\n",
            s.b, s.h, s.t, s.d, a / MIB, b / MIB,
            (mem->peak_after - mem->peak_inputs) / MIB,
            verdict(a < limit && b < limit &&
                    mem->peak_after - mem->peak_inputs < limit));
}

/* How far the square roof moved between start and end: the noise floor
 * under every ratio above. */
static void roof_drift(FILE *f, const speed_plan *p, const speed_rows *r)
{
    const int counts[2] = {p->threads, 1};
    fprintf(f, "  square roof end over start (machine noise):");
    for (int i = 0; i < (p->threads > 1 ? 2 : 1); ++i) {
        const speed_row *s = speed_rows_find_roof(r, "square", 2048, "start",
                                                  counts[i]);
        const speed_row *e = speed_rows_find_roof(r, "square", 2048, "end",
                                                  counts[i]);
        if (s && e)
            fprintf(f, "%s %.2f at %d thr", i ? "," : "", e->gflops / s->gflops,
                    counts[i]);
    }
    fputc('\n', f);
}

/* Measurements another process disturbed: their rates understate. */
static void disturbed(FILE *f, const speed_rows *r)
{
    const double limit = SPEED_BUSY_LIMIT;  /* cores */
    size_t n = 0, known = 0;
    for (size_t i = 0; i < r->n; ++i) {
        known += r->v[i].others >= 0.0;
        n += r->v[i].others > limit;
    }
    if (known == 0)
        fprintf(f, "  other processes' load: unknown (no /proc/stat)\n");
    else if (n == 0)
        fprintf(f, "  other processes kept at most %.2f cores busy during "
                   "every measurement\n", limit);
    else
        fprintf(f, "  other processes kept more than %.2f cores busy during "
                   "%zu of %zu measurements\n"
                   "    (busy column): those rows understate; rerun on a quiet "
                   "machine\n", limit, n, r->n);
}

void speed_report_summary(FILE *f, const speed_plan *p, const speed_rows *r,
                          const speed_long_mem *mem, int avx512)
{
    fprintf(f, "summary%s\n\n", avx512 ? " (targets for AVX-512 sgemm kernels)" : "");
    target_ratio(f, p, r, SPEED_FWD, avx512 ? 0.75 : 0.85, "forward");
    causal_speedup(f, p, r);
    target_ratio(f, p, r, SPEED_FWDBWD, avx512 ? 0.70 : 0.80, "fwd+bwd");
    scaling(f, p, r);
    long_memory(f, p, r, mem);
    versus_reference(f, p, r);
    roof_drift(f, p, r);
    disturbed(f, r);
}
