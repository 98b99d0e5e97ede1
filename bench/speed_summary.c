/* attention-bench-speed's closing summary: the targets, computed
 * from the numbers. */
#include <inttypes.h>

#include "speed.h"

enum { RATIO, EFF, VS_REF };

/* Over the main table's lines of one pass: RATIO, the fused roof ratio at
 * N threads over full attention, d = 64, T >= 1024; EFF, eff1/N, the
 * 1-thread roof ratio over the N-thread one; VS_REF, fused over
 * materialised GFLOP/s at N threads. Prints the smallest and largest and
 * where, "0.52 (B4 H8 T1024 d64) .. 0.65 (B1 H8 T4096 d64 causal)", into
 * m[0] and m[1]. */
static void range(FILE *f, const speed_run *x, int pass, int what,
                  const char *unit, double m[2])
{
    const speed_row *at[2] = {NULL, NULL};
    int n = 0;
    for (size_t i = 0; i < x->n_shapes; ++i)
        for (int causal = 0; causal < 2; ++causal) {
            const speed_row *const *l = x->tab[i][causal][pass], *r = l[0];
            /* EFF and VS_REF need the line's l[EFF], l[VS_REF] */
            if (what == RATIO ? causal || r->d != 64 || r->tq < 1024 : !l[what])
                continue;
            const double v = what == RATIO ? speed_ratio(x, r)
                             : what == EFF ? speed_ratio(x, l[1]) /
                                                 speed_ratio(x, r)
                                           : r->gflops / l[2]->gflops;
            if (n == 0 || v < m[0])
                m[0] = v, at[0] = r;
            if (n++ == 0 || v > m[1])
                m[1] = v, at[1] = r;
        }
    for (int i = 0; i < (n > 1 ? 2 : 1); ++i)
        fprintf(f, "%s%.2f%s (B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
                   "%s)", i ? " .. " : "", m[i], unit, at[i]->b, at[i]->h,
                at[i]->tq, at[i]->d, at[i]->causal ? " causal" : "");
}

static const char *verdict(int met)
{
    return met ? "met" : "NOT met";
}

static void target(FILE *f, const speed_run *x, int pass, double target,
                   const char *what)
{
    double m[2];
    fprintf(f, "  %s roof ratio, full, d64, T >= 1024, %d thr:\n    ", what,
            x->threads);
    range(f, x, pass, RATIO, "", m);
    fprintf(f, "; target >= %.2f: %s\n", target, verdict(m[0] >= target));
}

/* eff1/N or fused over materialised, a line per pass; whether all are
 * within 10 %. */
static int per_pass(FILE *f, const speed_run *x, int what)
{
    int met = 1;
    for (int pass = FWD; pass <= FWDBWD; ++pass) {
        double m[2];
        fprintf(f, "    %-6s ", speed_passes[pass]);
        range(f, x, pass, what, what == EFF ? "" : "x", m);
        fputc('\n', f);
        met &= m[0] >= 0.9 && m[1] <= 1.1;
    }
    return met;
}

void speed_summary(FILE *f, const speed_run *x, int avx512)
{
    fprintf(f, "summary%s\n\n", avx512 ? " (targets for AVX-512 sgemm kernels)"
                                       : "");
    target(f, x, FWD, avx512 ? 0.75 : 0.85, "forward");

    /* Time of full over time of causal at T = 4096. */
    int any = 0, met = 1;
    fprintf(f, "  causal speed-up, full time over causal time, T4096, %d thr "
               "(FLOPs halve: 2.00):\n   ", x->threads);
    for (int pass = FWD; pass <= FWDBWD; ++pass)
        for (size_t i = 0; i < x->n_shapes; ++i) {
            const speed_row *full = x->tab[i][0][pass][0];
            const speed_row *c = x->tab[i][1][pass][0];
            if (full->tq != 4096)
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

    target(f, x, FWDBWD, avx512 ? 0.70 : 0.80, "fwd+bwd");
    if (x->threads == 1) {
        fprintf(f, "  1- vs N-thread efficiency: N = 1, nothing to compare\n");
    } else {
        fprintf(f, "  eff1/N, 1-thread roof ratio over %d-thread roof ratio:\n",
                x->threads);
        met = per_pass(f, x, EFF);
        fprintf(f, "    target within 10%% (0.90 .. 1.10): %s\n", verdict(met));
    }

    if (x->long_shape == NULL) {
        fprintf(f, "  long-sequence memory (B1 H8 T16384 d64): not measured "
                   "(full run only)\n");
    } else {
        const speed_shape s = *x->long_shape;
        const double fw = (double)x->lng[FWD]->extra_bytes;
        const double fb = (double)x->lng[FWDBWD]->extra_bytes;
        const double growth = x->peak_after - x->peak_inputs;
        fprintf(f, "  B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64
                   " extra memory:\n    forward %.2f MiB, fwd+bwd %.2f MiB, "
                   "RSS growth %.1f MiB; target < 64 MiB: %s\n",
                s.b, s.h, s.t, s.d, fw / MIB, fb / MIB, growth / MIB,
                verdict(fw < 64 * MIB && fb < 64 * MIB && growth < 64 * MIB));
    }

    fprintf(f, "  fused over materialised GFLOP/s, %d thr:\n", x->threads);
    per_pass(f, x, VS_REF);

    speed_variants_summary(f, x);

    /* How far the square roof moved: the noise floor under every ratio. */
    fprintf(f, "  square roof end over start (machine noise):");
    for (int i = 0; i < x->counts; ++i)
        fprintf(f, "%s %.2f at %d thr", i ? "," : "",
                x->roof[1][0][i]->gflops / x->roof[0][0][i]->gflops,
                x->roof[0][0][i]->threads);

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
