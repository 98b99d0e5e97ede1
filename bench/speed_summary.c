/* attention-bench-speed's closing summary: the targets, computed
 * from the numbers. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "speed.h"

/* Smallest and largest of a metric over rows, and where they were. */
typedef struct range {
    int n;
    double lo, hi;
    const speed_row *at_lo, *at_hi;
} range;

static void add(range *g, double v, const speed_row *r)
{
    if (g->n == 0 || v < g->lo)
        g->lo = v, g->at_lo = r;
    if (g->n++ == 0 || v > g->hi)
        g->hi = v, g->at_hi = r;
}

/* "0.52 (B4 H8 T1024 d64) .. 0.65 (B1 H8 T4096 d64 causal)", or one. */
static void print(FILE *f, const range *g, const char *unit)
{
    for (int i = 0; i < (g->n > 1 ? 2 : 1); ++i) {
        const speed_row *r = i ? g->at_hi : g->at_lo;
        fprintf(f, "%s%.2f%s (B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
                   "%s)", i ? " .. " : "", i ? g->hi : g->lo, unit, r->b, r->h,
                r->tq, r->d, r->causal ? " causal" : "");
    }
}

static const char *verdict(int met)
{
    return met ? "met" : "NOT met";
}

/* Fused rows of the main table at N threads, one pass. */
static int main_fused(const speed_run *x, const speed_row *r, int pass)
{
    return r->kind == FUSED && strcmp(r->phase, "main") == 0 &&
           r->threads == x->threads && r->pass == pass;
}

/* r's row measured with another kind, mask or thread count, or NULL. */
static const speed_row *other(const speed_run *x, const speed_row *r, int kind,
                              int causal, int threads)
{
    speed_row k = *r;
    k.kind = kind;
    k.causal = causal;
    k.threads = threads;
    return speed_find(x, &k);
}

/* Roof ratio over full attention, d = 64, T >= 1024, at N threads. */
static void target_ratio(FILE *f, const speed_run *x, int pass, double target,
                         const char *what)
{
    range g = {0};
    for (const speed_row *r = x->rows; r < x->rows + x->n; ++r)
        if (main_fused(x, r, pass) && !r->causal && r->d == 64 && r->tq >= 1024)
            add(&g, speed_ratio(x, r), r);
    if (g.n == 0) {
        fprintf(f, "  %s: not measured\n", what);
        return;
    }
    fprintf(f, "  %s roof ratio, full, d64, T >= 1024, %d thr:\n    ", what,
            x->threads);
    print(f, &g, "");
    fprintf(f, "; target >= %.2f: %s\n", target, verdict(g.lo >= target));
}

/* Time of full over time of causal at T = 4096, N threads. */
static void causal_speedup(FILE *f, const speed_run *x)
{
    int any = 0, met = 1;
    fprintf(f, "  causal speed-up, full time over causal time, T4096, %d thr "
               "(FLOPs halve: 2.00):\n   ", x->threads);
    for (int pass = FWD; pass <= FWDBWD; ++pass)
        for (const speed_row *c = x->rows; c < x->rows + x->n; ++c) {
            const speed_row *full = main_fused(x, c, pass) && c->causal &&
                                    c->tq == 4096 ? other(x, c, FUSED, 0, x->threads)
                                                  : NULL;
            if (!full)
                continue;
            const double s = full->seconds / c->seconds;
            fprintf(f, "%s %s d%" PRId64 " %.2f", any ? "," : "",
                    speed_passes[pass], c->d, s);
            met &= pass != FWD || s >= 1.8;
            any = 1;
        }
    if (!any)
        fprintf(f, " not measured (T4096 is in the full run only)\n");
    else
        fprintf(f, ";\n    target fwd >= 1.80: %s\n", verdict(met));
}

/* Per pass over the main fused rows at N threads: eff1/N, the 1-thread roof
 * ratio over the N-thread one (eff), or fused over materialised GFLOP/s.
 * Returns whether any was measured, *met whether all are within 10 %. */
static int per_pass(FILE *f, const speed_run *x, int eff, int *met)
{
    int any = 0;
    for (int pass = FWD; pass <= FWDBWD; ++pass) {
        range g = {0};
        for (const speed_row *r = x->rows; r < x->rows + x->n; ++r) {
            const speed_row *o = main_fused(x, r, pass)
                                     ? other(x, r, eff ? FUSED : REFERENCE,
                                             r->causal, eff ? 1 : x->threads)
                                     : NULL;
            const double en = speed_ratio(x, r), e1 = o ? speed_ratio(x, o) : 0;
            if (o && !eff)
                add(&g, r->gflops / o->gflops, r);
            else if (o && en > 0.0 && e1 > 0.0)
                add(&g, e1 / en, r);
        }
        if (g.n == 0)
            continue;
        any = 1;
        *met &= g.lo >= 0.9 && g.hi <= 1.1;
        fprintf(f, "    %-6s ", speed_passes[pass]);
        print(f, &g, eff ? "" : "x");
        fputc('\n', f);
    }
    return any;
}

void speed_summary(FILE *f, const speed_run *x, int avx512)
{
    fprintf(f, "summary%s\n\n", avx512 ? " (targets for AVX-512 sgemm kernels)"
                                       : "");
    target_ratio(f, x, FWD, avx512 ? 0.75 : 0.85, "forward");
    causal_speedup(f, x);
    target_ratio(f, x, FWDBWD, avx512 ? 0.70 : 0.80, "fwd+bwd");
    int met = 1;
    if (x->threads == 1) {
        fprintf(f, "  1- vs N-thread efficiency: N = 1, nothing to compare\n");
    } else {
        fprintf(f, "  eff1/N, 1-thread roof ratio over %d-thread roof ratio:\n",
                x->threads);
        if (per_pass(f, x, 1, &met))
            fprintf(f, "    target within 10%% (0.90 .. 1.10): %s\n",
                    verdict(met));
    }

    if (x->long_shape == NULL) {
        fprintf(f, "  long-sequence memory (B1 H8 T16384 d64): not measured "
                   "(full run only)\n");
    } else {
        const speed_shape s = *x->long_shape;
        double ws[2] = {NAN, NAN};
        for (const speed_row *r = x->rows; r < x->rows + x->n; ++r)
            if (strcmp(r->phase, "long") == 0)
                ws[r->pass] = (double)r->extra_bytes;
        const double growth = x->peak_after - x->peak_inputs;
        fprintf(f, "  B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
                   " extra memory:\n    forward %.2f MiB, fwd+bwd %.2f MiB, "
                   "RSS growth %.1f MiB; target < 64 MiB: %s\n",
                s.b, s.h, s.t, s.d, ws[FWD] / MIB, ws[FWDBWD] / MIB,
                growth / MIB, verdict(ws[FWD] < 64 * MIB &&
                                      ws[FWDBWD] < 64 * MIB && growth < 64 * MIB));
    }

    fprintf(f, "  fused over materialised GFLOP/s, %d thr:\n", x->threads);
    per_pass(f, x, 0, &met);

    /* How far the square roof moved: the noise floor under every ratio. */
    fprintf(f, "  square roof end over start (machine noise):");
    for (int i = 0; i < (x->threads > 1 ? 2 : 1); ++i) {
        speed_row k = {.kind = ROOF, .product = "square", .phase = "start",
                       .b = 1, .h = 1, .tq = 2048, .d = 2048,
                       .threads = i ? 1 : x->threads};
        const speed_row *s = speed_find(x, &k);
        k.phase = "end";
        const speed_row *e = speed_find(x, &k);
        if (s && e)
            fprintf(f, "%s %.2f at %d thr", i ? "," : "", e->gflops / s->gflops,
                    k.threads);
    }

    size_t busy = 0, known = 0;
    for (const speed_row *r = x->rows; r < x->rows + x->n; ++r) {
        known += r->others >= 0.0;
        busy += r->others > BUSY_LIMIT;
    }
    if (known == 0)
        fprintf(f, "\n  other processes' load: unknown (no /proc/stat)\n");
    else if (busy == 0)
        fprintf(f, "\n  other processes kept at most %.2f cores busy during "
                   "every measurement\n", BUSY_LIMIT);
    else
        fprintf(f, "\n  other processes kept more than %.2f cores busy during "
                   "%zu of %zu measurements\n"
                   "    (busy column): those rows understate; rerun on a quiet "
                   "machine\n", BUSY_LIMIT, busy, x->n);
}
