/* attention-bench-speed's tables, and its CSV file: every measurement. */
#include <inttypes.h>
#include <math.h>

#include "speed.h"

const char *const speed_kinds[3] = {"roof", "fused", "reference"};
const char *const speed_passes[2] = {"fwd", "fwdbwd"};

double speed_roof_at(const speed_run *x, int i)
{
    return fmax(x->roof[0][0][i]->gflops, x->roof[1][0][i]->gflops);
}

double speed_ratio(const speed_run *x, const speed_row *r)
{
    return r->gflops / speed_roof_at(x, r->threads == x->threads ? 0 : 1);
}

/* " %w.pf", or "-" when not had. */
static void num(FILE *f, int w, int prec, double v, int have)
{
    if (have)
        fprintf(f, " %*.*f", w, prec, v);
    else
        fprintf(f, " %*s", w, "-");
}

/* A rate, '*' after one resting on a single timed repeat. */
static void rate(FILE *f, const speed_row *r)
{
    if (r)
        fprintf(f, " %7.1f%c", r->gflops, r->reps < 3 ? '*' : ' ');
    else
        fprintf(f, " %7s ", "-");
}

static void roof_table(FILE *f, const speed_run *x)
{
    fprintf(f, "sgemm roof: cblas_sgemm GFLOP/s, best repeat, at the start and "
               "at the end of the run\n\n  %-38s %7s %8s %5s %8s %5s %10s\n",
            "product (m x n x k)", "threads", "start", "busy", "end", "busy",
            "/ square");
    for (size_t p = 0; p < 1 + 2 * x->n_tile_d; ++p)
        for (int i = 0; i < x->counts; ++i) {
            const speed_row *s = x->roof[0][p][i], *e = x->roof[1][p][i];
            const int pv = p > 0 && p % 2 == 0;
            char label[64];
            snprintf(label, sizeof label, "%s %" PRId64 " x %" PRId64 " x %"
                     PRId64, p == 0 ? "square" : pv ? "P.V  tile" : "QK^T tile",
                     s->tq, pv ? s->d : s->tk, pv ? s->tk : s->d);
            fprintf(f, "  %-38s %7d %8.1f", label, s->threads, s->gflops);
            num(f, 5, 2, s->others, s->others >= 0.0);
            fprintf(f, " %8.1f", e->gflops);
            num(f, 5, 2, e->others, e->others >= 0.0);
            fprintf(f, " %10.2f\n", fmax(s->gflops, e->gflops) /
                                        speed_roof_at(x, i));
        }
    fprintf(f, "\n  square: one product on the BLAS's own threads, which the "
               "bench sets to the\n"
               "          row's count with openblas_set_num_threads and then "
               "restores (OpenBLAS only;\n"
               "          another BLAS runs with its own setting).\n"
               "  tiles:  one product per thread, all threads at once, BLAS "
               "set to 1 thread: the\n"
               "          per-core rate of the fused kernel's products when "
               "every core works (summed).\n"
               "  roof:   every roof ratio below divides by the better of start "
               "and end of the square\n"
               "          at the measurement's thread count:\n         ");
    for (int i = 0; i < x->counts; ++i)
        fprintf(f, "%s %.1f GFLOP/s at %d thread%s", i ? "," : "",
                speed_roof_at(x, i), i ? 1 : x->threads,
                i || x->threads == 1 ? "" : "s");
    fprintf(f, ".\n"
               "  busy:   cores other processes kept busy meanwhile (/proc/stat "
               "less this process):\n"
               "          a shared machine's noise, and the reason a row can "
               "be off. A measurement\n"
               "          above %.2f with repeats under %.0f s is made again, up "
               "to %d times in all, the\n"
               "          fastest kept, while the run's %.0f s retry allowance "
               "lasts.\n\n",
            BUSY_LIMIT, x->long_call, MAX_ATTEMPTS, x->retry_seconds);
}

/* The start of a line: shape, mask, pass. */
static void line_name(FILE *f, speed_shape s, int causal, int pass)
{
    char name[48];
    snprintf(name, sizeof name, "B%" PRId64 " H%" PRId64 " T%" PRId64
             " d%" PRId64, s.b, s.h, s.t, s.d);
    fprintf(f, "  %-17s %-6s %-6s", name, causal ? "causal" : "full",
            speed_passes[pass]);
}

static void main_line(FILE *f, const speed_run *x, const speed_row *const l[3])
{
    const speed_row *fn = l[0], *f1 = l[1], *ref = l[2];
    const double en = speed_ratio(x, fn), e1 = f1 ? speed_ratio(x, f1) : 0.0;
    double busy = -1.0;
    for (int i = 0; i < 3; ++i)
        busy = l[i] && l[i]->others > busy ? l[i]->others : busy;
    rate(f, fn);
    num(f, 5, 2, en, 1);
    rate(f, f1);
    num(f, 5, 2, e1, f1 != NULL);
    num(f, 5, 2, f1 ? fn->gflops / f1->gflops : 0.0, f1 != NULL);
    num(f, 6, 2, e1 / en, f1 != NULL);
    rate(f, ref);
    num(f, 7, 2, ref ? fn->gflops / ref->gflops : 0.0, ref != NULL);
    num(f, 6, 2, (double)fn->extra_bytes / MIB, 1);
    num(f, 6, 2, ref ? (double)ref->extra_bytes / MIB : 0.0, ref != NULL);
    num(f, 5, 2, busy, busy >= 0.0);
    fputc('\n', f);
}

static void main_table(FILE *f, const speed_run *x)
{
    const int n = x->threads;
    char many[32];
    snprintf(many, sizeof many, "fused, %d thr", n);
    fprintf(f, "attention: GFLOP/s (forward 4 B H Tq Tk d, halved for causal; "
               "fwdbwd 3.5 x forward),\nbest repeat, same inputs for every "
               "path\n\n  %-31s  %-14s %-14s %-12s %-16s %s\n"
               "  %-17s %-6s %-6s %7s  %5s %7s  %5s %5s %6s %7s  %7s %6s %6s "
               "%5s\n", "", many, "fused, 1 thr", "scaling", "materialised",
            "extra MiB", "shape", "mask", "pass", "GFLOP/s", "/roof", "GFLOP/s",
            "/roof", "N/1", "eff1/N", "GFLOP/s", "fused x", "fused", "mat.",
            "busy");
    for (size_t i = 0; i < x->n_shapes; ++i)
        for (int causal = 0; causal < 2; ++causal)
            for (int pass = FWD; pass <= FWDBWD; ++pass) {
                line_name(f, x->shapes[i], causal, pass);
                main_line(f, x, x->tab[i][causal][pass]);
            }
    fprintf(f, "\n  N = %d thread%s (attn_sdpa_desc.num_threads). /roof: over "
               "the square sgemm roof at the\n"
               "  same thread count. N/1: N-thread over 1-thread GFLOP/s. "
               "eff1/N: 1-thread /roof over\n"
               "  N-thread /roof (1.00: threads scale as well as sgemm does). "
               "fused x: fused over\n"
               "  materialised GFLOP/s, both at N threads; the materialised "
               "path runs for T <= %" PRId64 ".\n"
               "  extra MiB: the workspace the library asked for "
               "(attn_sdpa_workspace_size; fwdbwd:\n"
               "  the larger of it and attn_sdpa_backward_workspace_size) at "
               "N threads; mat. is the\n"
               "  materialised path's. fwd passes no lse (inference); fwdbwd "
               "is forward with lse then\n"
               "  backward into dq, dk, dv. '*': timed once (timing, above). "
               "busy: the most cores\n"
               "  other processes kept busy during any of the line's "
               "measurements (busy, above).\n\n",
            n, n == 1 ? "" : "s", x->ref_max_t);
}

static void long_table(FILE *f, const speed_run *x)
{
    fprintf(f, "long sequence: fused path only, %d threads, full attention "
               "(the materialised path\nis skipped: it would dominate the "
               "run)\n\n  %-17s %-6s %-6s %7s  %5s %9s %10s %5s\n", x->threads,
            "shape", "mask", "pass", "GFLOP/s", "/roof", "seconds",
            "extra MiB", "busy");
    for (int pass = FWD; pass <= FWDBWD; ++pass) {
        const speed_row *r = x->lng[pass];
        line_name(f, *x->long_shape, 0, pass);
        rate(f, r);
        fprintf(f, " %5.2f %9.3f %10.2f", speed_ratio(x, r), r->seconds,
                (double)r->extra_bytes / MIB);
        num(f, 5, 2, r->others, r->others >= 0.0);
        fputc('\n', f);
    }
    fprintf(f, "\n  peak RSS (getrusage ru_maxrss): %.1f MiB before this shape, "
               "%.1f MiB with its\n"
               "  %.1f MiB of inputs and outputs resident, %.1f MiB after its "
               "calls:\n"
               "  growth during the calls %.1f MiB (workspace and anything the "
               "library allocates).\n",
            x->peak_before / MIB, x->peak_inputs / MIB, x->data_bytes / MIB,
            x->peak_after / MIB, (x->peak_after - x->peak_inputs) / MIB);
    if (x->current_inputs > 0.0 && x->current_inputs + MIB < x->peak_inputs)
        fprintf(f, "  (an earlier peak, %.1f MiB above the resident set then, "
                   "hides that much growth.)\n",
                (x->peak_inputs - x->current_inputs) / MIB);
    fputc('\n', f);
}

void speed_tables(FILE *f, const speed_run *x)
{
    roof_table(f, x);
    main_table(f, x);
    if (x->long_shape)
        long_table(f, x);
    speed_variants_table(f, x);
}

int speed_csv(FILE *f, const speed_run *x)
{
    fprintf(f, "kind,pass,B,H,Tq,Tk,d,causal,threads,gflops,roof_gflops,"
               "roof_ratio,extra_bytes,product,phase,seconds,reps,others_busy,"
               "attempts,vs_reference,paired,target\n");
    for (const speed_row *r = x->rows; r < x->rows + x->n; ++r) {
        fprintf(f, "%s,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                   ",%" PRId64 ",%d,%d,%.6g,%.6g,%.6g,%zu,%s,%s,%.6g,%d,%.3g,%d",
                speed_kinds[r->kind], speed_passes[r->pass], r->b, r->h, r->tq,
                r->tk, r->d, r->causal, r->threads, r->gflops,
                speed_roof_at(x, r->threads == x->threads ? 0 : 1),
                speed_ratio(x, r), r->extra_bytes, r->product, r->phase,
                r->seconds, r->reps, r->others, r->attempts);
        /* Variant rows: over their group's reference; empty elsewhere. */
        if (r->variant == V_NONE)
            fprintf(f, ",,,\n");
        else if (r->target > 0.0)
            fprintf(f, ",%.4g,%.4g,%.2f\n", r->vs_ref, r->paired, r->target);
        else
            fprintf(f, ",1,1,\n");
    }
    return ferror(f) ? -1 : 0;
}
