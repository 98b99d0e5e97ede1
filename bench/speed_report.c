#include "speed_report.h"

#include <inttypes.h>
#include <string.h>

#include "speed_load.h"

#define MIB (1024.0 * 1024.0)

static const char *const pass_names[] = {"fwd", "fwdbwd"};

/* "  123.4" or "      -" in a field of `w`, with '*' after a rate that
 * rests on a single timed repeat. */
static void num(FILE *f, int w, int prec, double x, int have)
{
    if (have)
        fprintf(f, " %*.*f", w, prec, x);
    else
        fprintf(f, " %*s", w, "-");
}

static void rate(FILE *f, const speed_row *x)
{
    if (x)
        fprintf(f, " %7.1f%c", x->gflops, x->reps < 3 ? '*' : ' ');
    else
        fprintf(f, " %7s ", "-");
}

/* Cores other processes kept busy: the larger over the rows given. */
static double busiest(const speed_row *const *x /* (n) */, int n)
{
    double m = -1.0;
    for (int i = 0; i < n; ++i)
        if (x[i] && x[i]->others > m)
            m = x[i]->others;
    return m;
}

static void busy(FILE *f, int w, double others)
{
    num(f, w, 2, others, others >= 0.0);
}

static void roof_line(FILE *f, const speed_rows *r, const char *product,
                      int64_t d, int threads, const char *label)
{
    const speed_row *s = speed_rows_find_roof(r, product, d, "start", threads);
    const speed_row *e = speed_rows_find_roof(r, product, d, "end", threads);
    if (!s && !e)
        return;
    const double roof = speed_rows_roof(r, threads);
    const double best = s && e ? (s->gflops > e->gflops ? s->gflops : e->gflops)
                               : (s ? s->gflops : e->gflops);
    fprintf(f, "  %-38s %7d", label, threads);
    num(f, 8, 1, s ? s->gflops : 0.0, s != NULL);
    busy(f, 5, s ? s->others : -1.0);
    num(f, 8, 1, e ? e->gflops : 0.0, e != NULL);
    busy(f, 5, e ? e->others : -1.0);
    num(f, 10, 2, roof > 0.0 ? best / roof : 0.0, roof > 0.0);
    fputc('\n', f);
}

void speed_report_roof(FILE *f, const speed_plan *p, const speed_rows *r)
{
    const int counts[2] = {p->threads, 1};
    const int n_counts = p->threads > 1 ? 2 : 1;
    char label[64];
    fprintf(f, "sgemm roof: cblas_sgemm GFLOP/s, best repeat, at the start and "
               "at the end of the run\n\n");
    fprintf(f, "  %-38s %7s %8s %5s %8s %5s %10s\n", "product (m x n x k)",
            "threads", "start", "busy", "end", "busy", "/ square");
    for (int i = 0; i < n_counts; ++i)
        roof_line(f, r, "square", 2048, counts[i], "square 2048 x 2048 x 2048");
    for (size_t j = 0; j < p->n_tile_d; ++j) {
        const int64_t d = p->tile_d[j];
        for (int i = 0; i < n_counts; ++i) {
            snprintf(label, sizeof label, "QK^T tile 256 x 512 x %" PRId64, d);
            roof_line(f, r, "qk_tile", d, counts[i], label);
        }
        for (int i = 0; i < n_counts; ++i) {
            snprintf(label, sizeof label, "P.V  tile 256 x %" PRId64 " x 512", d);
            roof_line(f, r, "pv_tile", d, counts[i], label);
        }
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
               "          at the measurement's thread count:\n"
               "         ");
    for (int i = 0; i < n_counts; ++i)
        fprintf(f, "%s %.1f GFLOP/s at %d thread%s", i ? "," : "",
                speed_rows_roof(r, counts[i]), counts[i],
                counts[i] == 1 ? "" : "s");
    fprintf(f, ".\n"
               "  busy:   cores other processes kept busy meanwhile (/proc/stat "
               "less this process):\n"
               "          a shared machine's noise, and the reason a row can "
               "be off. Above %.2f\n"
               "          a measurement is made again, up to 3 times in all, "
               "the fastest kept\n"
               "          (retries share a %.0f s allowance per run).\n\n",
            SPEED_BUSY_LIMIT, p->retry_seconds);
}

static void shape_name(char *buf, size_t n, speed_shape s)
{
    snprintf(buf, n, "B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64, s.b,
             s.h, s.t, s.d);
}

static void table_line(FILE *f, const speed_plan *p, const speed_rows *r,
                       speed_shape s, int causal, speed_pass pass)
{
    const int n = p->threads;
    const speed_row *fn = speed_rows_find(r, SPEED_FUSED, "main", s, causal, pass, n);
    const speed_row *f1 = speed_rows_find(r, SPEED_FUSED, "main", s, causal, pass, 1);
    const speed_row *ref = speed_rows_find(r, SPEED_REFERENCE, "main", s, causal,
                                           pass, n);
    char name[48];
    shape_name(name, sizeof name, s);
    const double en = fn ? speed_rows_ratio(r, fn) : 0.0;
    const double e1 = f1 ? speed_rows_ratio(r, f1) : 0.0;
    fprintf(f, "  %-17s %-6s %-6s", name, causal ? "causal" : "full",
            pass_names[pass]);
    rate(f, fn);
    num(f, 5, 2, en, fn != NULL && en > 0.0);
    rate(f, f1);
    num(f, 5, 2, e1, f1 != NULL && e1 > 0.0);
    num(f, 5, 2, fn && f1 ? fn->gflops / f1->gflops : 0.0, fn && f1);
    num(f, 6, 2, en > 0.0 ? e1 / en : 0.0, en > 0.0 && e1 > 0.0);
    rate(f, ref);
    num(f, 7, 2, fn && ref ? fn->gflops / ref->gflops : 0.0, fn && ref);
    num(f, 6, 2, fn ? (double)fn->extra_bytes / MIB : 0.0, fn != NULL);
    num(f, 6, 2, ref ? (double)ref->extra_bytes / MIB : 0.0, ref != NULL);
    const speed_row *const all[3] = {fn, f1, ref};
    busy(f, 5, busiest(all, 3));
    fputc('\n', f);
}

void speed_report_table(FILE *f, const speed_plan *p, const speed_rows *r)
{
    const int n = p->threads;
    fprintf(f, "attention: GFLOP/s (forward 4 B H Tq Tk d, halved for causal; "
               "fwdbwd 3.5 x forward),\n"
               "best repeat, same inputs for every path\n\n");
    char many[32];
    snprintf(many, sizeof many, "fused, %d thr", n);
    /* Group labels over the columns below: 15, 15, 13, 17, 14 wide. */
    fprintf(f, "  %-31s  %-14s %-14s %-12s %-16s %s\n", "", many,
            "fused, 1 thr", "scaling", "materialised", "extra MiB");
    fprintf(f, "  %-17s %-6s %-6s %7s  %5s %7s  %5s %5s %6s %7s  %7s %6s %6s "
               "%5s\n",
            "shape", "mask", "pass", "GFLOP/s", "/roof", "GFLOP/s", "/roof",
            "N/1", "eff1/N", "GFLOP/s", "fused x", "fused", "mat.", "busy");
    for (size_t i = 0; i < p->n_shapes; ++i)
        for (int causal = 0; causal < 2; ++causal)
            for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass)
                table_line(f, p, r, p->shapes[i], causal, (speed_pass)pass);
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
               "  backward into dq, dk, dv. '*': timed once (call > %.0f s: one "
               "repeat after the warm-up;\n"
               "  > %.0f s: the warm-up alone).\n"
               "  busy: the most cores other processes kept busy during any of "
               "the line's measurements;\n"
               "  one disturbed (busy > %.2f) with repeats under %.0f s is made "
               "up to 3 times, the\n"
               "  fastest kept, while the run's %.0f s retry allowance "
               "lasts.\n\n",
            n, n == 1 ? "" : "s", p->ref_max_t, p->budget.long_call,
            4.0 * p->budget.long_call, SPEED_BUSY_LIMIT, p->budget.long_call,
            p->retry_seconds);
}

void speed_report_long(FILE *f, const speed_plan *p, const speed_rows *r,
                       const speed_long_mem *mem)
{
    if (p->long_shape == NULL || !mem->measured)
        return;
    const speed_shape s = *p->long_shape;
    char name[48];
    shape_name(name, sizeof name, s);
    fprintf(f, "long sequence: fused path only, %d threads, full attention "
               "(the materialised path\nis skipped: it would dominate the "
               "run)\n\n", p->threads);
    fprintf(f, "  %-17s %-6s %-6s %7s  %5s %9s %10s %5s\n", "shape", "mask",
            "pass", "GFLOP/s", "/roof", "seconds", "extra MiB", "busy");
    for (int pass = SPEED_FWD; pass <= SPEED_FWDBWD; ++pass) {
        const speed_row *x = speed_rows_find(r, SPEED_FUSED, "long", s, 0,
                                             (speed_pass)pass, p->threads);
        if (!x)
            continue;
        fprintf(f, "  %-17s %-6s %-6s", name, "full", pass_names[pass]);
        rate(f, x);
        num(f, 5, 2, speed_rows_ratio(r, x), 1);
        num(f, 9, 3, x->seconds, 1);
        num(f, 10, 2, (double)x->extra_bytes / MIB, 1);
        busy(f, 5, x->others);
        fputc('\n', f);
    }
    fprintf(f, "\n  peak RSS (getrusage ru_maxrss): %.1f MiB before this shape, "
               "%.1f MiB with its\n"
               "  %.1f MiB of inputs and outputs resident, %.1f MiB after its "
               "calls:\n"
               "  growth during the calls %.1f MiB (workspace and anything the "
               "library allocates).\n",
            mem->peak_before / MIB, mem->peak_inputs / MIB,
            mem->data_bytes / MIB, mem->peak_after / MIB,
            (mem->peak_after - mem->peak_inputs) / MIB);
    if (mem->current_inputs > 0.0 &&
        mem->current_inputs + 1.0 * MIB < mem->peak_inputs)
        fprintf(f, "  (an earlier peak, %.1f MiB above the resident set then, "
                   "hides that much growth.)\n",
                (mem->peak_inputs - mem->current_inputs) / MIB);
    fputc('\n', f);
}
