/* attention-bench-decode's table, its summary against the decoding issue's
 * targets, and its CSV file. */
#include <math.h>
#include <string.h>

#include "decode.h"

const char *const dec_storage_names[N_STORAGE] = {"fp32", "fp16", "bf16"};
const char *const dec_layout_names[N_LAYOUT] = {"contig", "paged"};

int dec_row_index(int h, int bi, int ti, int ki, int storage, int layout)
{
    return ((((h * N_B + bi) * N_TQ + ti) * N_TK + ki) * N_STORAGE + storage) *
               N_LAYOUT +
           layout;
}

/* r's position in the grid, from its index. */
static int index_of(const dec_run *x, const dec_row *r)
{
    return (int)(r - x->rows);
}

const dec_row *dec_fp32_of(const dec_run *x, const dec_row *r)
{
    const dec_row *o = &x->rows[index_of(x, r) - r->storage * N_LAYOUT];
    return o->run ? o : NULL;
}

const dec_row *dec_contig_of(const dec_run *x, const dec_row *r)
{
    const dec_row *o = &x->rows[index_of(x, r) - r->layout];
    return o->run ? o : NULL;
}

static double tokens(const dec_row *r)
{
    return (double)(r->s.b * r->s.tq) / r->decode.seconds;
}

/* The first Tq of the grid (rows are ordered heads, B, Tq, Tk, ...). */
static int64_t grid_tq0(const dec_run *x)
{
    return x->rows[0].s.tq;
}

/* The metrics; NAN where a row has none. */
/* /roof: the median over rounds of the roof's time over the step's. */
static double roof_ratio(const dec_run *x, const dec_row *r)
{
    (void)x;
    return r->roof_paired;
}

static double x_general(const dec_run *x, const dec_row *r)
{
    (void)x;
    return r->general.seconds > 0.0 ? r->general.seconds / r->decode.seconds
                                    : NAN;
}

static double x_fp32(const dec_run *x, const dec_row *r)
{
    const dec_row *o = r->storage ? dec_fp32_of(x, r) : NULL;
    return o ? o->decode.seconds / r->decode.seconds : NAN;
}

/* Paged over contiguous, each against the roof read in its own rounds
 * (the two rows are measured minutes apart, over which the memory's speed
 * drifts). */
static double x_contig(const dec_run *x, const dec_row *r)
{
    const dec_row *o = r->layout == PAGED ? dec_contig_of(x, r) : NULL;
    return o ? roof_ratio(x, r) / roof_ratio(x, o) : NAN;
}

static double x_1thr(const dec_run *x, const dec_row *r)
{
    (void)x;
    return r->decode1.seconds > 0.0 ? r->decode1.seconds / r->decode.seconds
                                    : NAN;
}

static double roof_x_1thr(const dec_run *x, const dec_row *r)
{
    (void)x;
    return r->roof1.seconds > 0.0 ? r->roof1.seconds / r->roof.seconds : NAN;
}

/* The step's FLOPs: 4 d per (query row, visible key) pair (Q K^T and
 * P V, d each, a multiply and an add); bottom-right causal, query i of Tq
 * sees Tk - Tq + 1 + i keys. */
static double step_flops(const dec_shape *s)
{
    const double tq = (double)s->tq,
                 pairs = tq * (double)s->tk - tq * (tq - 1.0) / 2.0;
    return 4.0 * (double)s->d * (double)(s->b * s->hq) * pairs;
}

/* The step's arithmetic at the run's sgemm rate, seconds. */
static double flop_seconds(const dec_run *x, const dec_row *r)
{
    return x->sgemm_flops > 0.0 ? step_flops(&r->s) / x->sgemm_flops : NAN;
}

/* cmp/rd: > 1 where that arithmetic outlasts the read roof. */
static double cmp_rd(const dec_run *x, const dec_row *r)
{
    return flop_seconds(x, r) / r->roof.seconds;
}

/* Whether the read-roof target can be met at all: cmp/rd within
 * REACHABLE_CMP_RD (unknown without an sgemm rate: counted as reachable). */
static int memory_bound(const dec_run *x, const dec_row *r)
{
    return !(cmp_rd(x, r) > REACHABLE_CMP_RD);
}

static int compute_bound(const dec_run *x, const dec_row *r)
{
    return !memory_bound(x, r);
}

/* /pgroof: KV GB/s over the page roof's (the same bytes). */
static double page_roof_ratio(const dec_run *x, const dec_row *r)
{
    (void)x;
    return r->page_roof.seconds > 0.0 ? r->page_paired : NAN;
}

/* /bound: the time the bytes (paged: the pages) or the arithmetic take at
 * the least, over the step's. */
static double bound_ratio(const dec_run *x, const dec_row *r)
{
    const double read = r->page_roof.seconds > 0.0 ? page_roof_ratio(x, r)
                                                   : roof_ratio(x, r),
                 flop = flop_seconds(x, r) / r->decode.seconds;
    return flop > read ? flop : read;
}

/* The page roof's GB/s over the sequential roof's: what the scattered
 * pages cost the memory itself (Tq 1 rows only: every Tq shares both). */
static double page_over_seq(const dec_run *x, const dec_row *r)
{
    return r->page_roof.seconds > 0.0 && r->s.tq == grid_tq0(x)
               ? roof_ratio(x, r) / page_roof_ratio(x, r)
               : NAN;
}

/* The library's own cost of pages: paged /pgroof over contiguous /roof of
 * the same shape and storage. */
static double paged_overhead(const dec_run *x, const dec_row *r)
{
    const dec_row *o = r->layout == PAGED ? dec_contig_of(x, r) : NULL;
    return o ? page_roof_ratio(x, r) / roof_ratio(x, o) : NAN;
}

static double page_roof_gbs(const dec_row *r)
{
    return r->page_roof.seconds > 0.0 ? r->bytes / r->page_roof.seconds * 1e-9
                                      : NAN;
}

/* The thread target's measure: the decoding path's N/1 over the roof's. */
static double thread_share(const dec_run *x, const dec_row *r)
{
    (void)x;
    return r->decode1.seconds > 0.0 ? r->roof_paired / r->roof1_paired : NAN;
}

static void tk_name(char *buf, size_t n, int64_t tk)
{
    if (tk % 1024 == 0)
        snprintf(buf, n, "%lldk", (long long)(tk / 1024));
    else
        snprintf(buf, n, "%lld", (long long)tk);
}

static void row_name(char *buf, size_t n, const dec_row *r)
{
    char tk[24];
    tk_name(tk, sizeof tk, r->s.tk);
    snprintf(buf, n, "Hq%lld/%lld d%lld B%lld Tq%lld Tk%s %s %s",
             (long long)r->s.hq, (long long)r->s.hkv, (long long)r->s.d,
             (long long)r->s.b, (long long)r->s.tq, tk,
             dec_storage_names[r->storage], dec_layout_names[r->layout]);
}

/* " %w.pf", or "-" when NAN. */
static void num(FILE *f, int w, int prec, double v)
{
    if (v == v)
        fprintf(f, " %*.*f", w, prec, v);
    else
        fprintf(f, " %*s", w, "-");
}

enum { WITH_NONE, WITH_FP32, WITH_CONTIG };

static const char *skip_reason(const dec_row *r)
{
    return r->over_cap && r->over_memory ? "over the cap and the memory budget"
           : r->over_cap                 ? "over the cap (--max-kv-gib)"
                                         : "over the memory budget";
}

static double busiest(const dec_row *r)
{
    const dec_time *t[6] = {&r->roof,    &r->decode, &r->general,
                            &r->decode1, &r->roof1,  &r->page_roof};
    double b = -1.0;
    for (int i = 0; i < 6; ++i)
        b = t[i]->seconds > 0.0 && t[i]->busy > b ? t[i]->busy : b;
    return b;
}

void dec_table(FILE *f, const dec_run *x)
{
    fprintf(f,
            "decoding step: the decoding path (ATTN_ALGO_AUTO), %d "
            "thread%s, best round\n\n"
            "  %-15s %2s %3s %5s %-4s %-6s %10s %8s %9s %6s %7s %7s %6s %6s "
            "%9s %7s %8s %5s %5s %5s\n",
            x->threads, x->threads == 1 ? "" : "s", "heads", "B", "Tq", "Tk",
            "K/V", "layout", "tokens/s", "KV GB/s", "roof GB/s", "/roof",
            "pg roof", "/pgroof", "cmp/rd", "/bound", "x general", "x fp32",
            "x contig", "N/1", "roof", "busy");
    const dec_row *prev = NULL;
    for (const dec_row *r = x->rows; r < x->rows + N_ROWS; ++r) {
        if (!r->selected)
            continue;
        if (prev && (prev->s.hq != r->s.hq || prev->s.b != r->s.b ||
                     prev->s.tq != r->s.tq))
            fputc('\n', f);
        prev = r;
        char heads[80], tk[24];
        snprintf(heads, sizeof heads, "Hq%lld Hkv%lld d%lld",
                 (long long)r->s.hq, (long long)r->s.hkv, (long long)r->s.d);
        tk_name(tk, sizeof tk, r->s.tk);
        fprintf(f, "  %-15s %2lld %3lld %5s %-4s %-6s", heads,
                (long long)r->s.b, (long long)r->s.tq, tk,
                dec_storage_names[r->storage], dec_layout_names[r->layout]);
        if (!r->run) {
            fprintf(f, "  skipped: K + V %.2f GiB, %s\n", r->bytes / GIB,
                    skip_reason(r));
            continue;
        }
        fprintf(f, " %9.1f%c %8.2f %9.2f %6.2f", tokens(r),
                r->decode.reps < 3 ? '*' : ' ',
                r->bytes / r->decode.seconds * 1e-9,
                r->bytes / r->roof.seconds * 1e-9, roof_ratio(x, r));
        num(f, 7, 2, page_roof_gbs(r));
        num(f, 7, 2, page_roof_ratio(x, r));
        num(f, 6, 2, cmp_rd(x, r));
        num(f, 6, 2, bound_ratio(x, r));
        num(f, 9, 2, x_general(x, r));
        num(f, 7, 2, x_fp32(x, r));
        num(f, 8, 2, x_contig(x, r));
        num(f, 5, 2, x_1thr(x, r));
        num(f, 5, 2, roof_x_1thr(x, r));
        num(f, 5, 2, busiest(r) >= 0.0 ? busiest(r) : NAN);
        fputc('\n', f);
    }
    fprintf(f,
            "\n  tokens/s: B x Tq new query rows per second ('*': fewer than "
            "3 timed rounds).\n"
            "  KV GB/s: the step's K and V bytes at storage size over its "
            "time. roof GB/s: a\n"
            "  vectorised read (sum) of as many bytes on the same threads, "
            "from cache when they\n"
            "  fit, else from memory; /roof: the median over rounds of its "
            "time over the step's,\n"
            "  the two timed in turns round by round. x general: the "
            "general fused path\n"
            "  (ATTN_ALGO_FUSED) over the same storage and layout, its time "
            "over this row's ('-':\n"
            "  not run, where B Hq Tk d > %.3g, to keep the run short). x "
            "fp32: tokens/s over\n"
            "  the fp32 row of the same shape and layout. x contig: paged "
            "/roof over contiguous\n"
            "  /roof (each row against the read in its own rounds). N/1: "
            "the decoding path's\n"
            "  1-thread time over its %d-thread time; roof:\n"
            "  the same for the roof (B 1, Tk >= %d). busy: the most cores "
            "other processes kept\n"
            "  busy during any of the row's measurements (/proc/stat less "
            "this process).\n"
            "  pg roof: the same read over the paged pools' pages in the "
            "decoding path's order (per\n"
            "  batch its pages in block-table order, K page then V page), K "
            "+ V GB/s. /pgroof: as\n"
            "  /roof, against pg roof. cmp/rd: the step's arithmetic (4 d "
            "FLOPs per query row and visible\n"
            "  key) at cblas_sgemm's rate (%d^3, %d BLAS threads: %.1f "
            "GFLOP/s) over the roof's time\n"
            "  (> 1: longer than reading the bytes). /bound: the larger of "
            "/roof (paged: /pgroof)\n"
            "  and that arithmetic's time over the step's: the fraction of "
            "the roofline.\n"
            "  contig: K and V (B, Hkv, Tk, d). paged: pools %s of exactly\n"
            "  the B x Tk/%d pages the batch uses, assigned to the block "
            "table in a shuffled order.\n",
            x->general_max, x->threads, TARGET_TK, SGEMM_N, x->threads,
            x->sgemm_flops * 1e-9,
            dec_token_major ? "(num_pages, 16, Hkv, d)"
                            : "(num_pages, Hkv, 16, d)",
            PAGE);
}

/* Whether other processes kept over busy_limit cores busy during one of
 * r's measurements, or (with) of the row r's metric divides by. */
static int disturbed(const dec_run *x, const dec_row *r, int with)
{
    const dec_row *o = with == WITH_FP32     ? dec_fp32_of(x, r)
                       : with == WITH_CONTIG ? dec_contig_of(x, r)
                                             : NULL;
    return busiest(r) > x->busy_limit || (o && busiest(o) > x->busy_limit);
}

typedef double (*metric)(const dec_run *, const dec_row *);
/* Which rows a range is over (NULL: all). */
typedef int (*row_filter)(const dec_run *, const dec_row *);

/* range's result when no row has the metric: leaves others unchanged. */
enum { NO_ROWS = -2 };

/* Smallest and largest of m over the run's rows with Tk >= TARGET_TK (of
 * one storage type if storage >= 0, and that keep accepts) that were not
 * disturbed (with: as for disturbed), and how many are at least target:
 * "0.55 (row) .. 0.93 (row)\n  10 of 12 >= 0.80; 2 disturbed rows left
 * out". Returns 1 if all are, 0 if not, -1 when there are none undisturbed,
 * NO_ROWS when there are none at all. */
static int range(FILE *f, const dec_run *x, metric m, int storage, int with,
                 double target, row_filter keep)
{
    const dec_row *at[2] = {NULL, NULL};
    double lo = 0.0, hi = 0.0;
    int n = 0, met = 0, left_out = 0;
    for (const dec_row *r = x->rows; r < x->rows + N_ROWS; ++r) {
        if (!r->run || r->s.tk < TARGET_TK ||
            (storage >= 0 && r->storage != storage) || (keep && !keep(x, r)))
            continue;
        const double v = m(x, r);
        if (v != v)
            continue;
        if (disturbed(x, r, with)) {
            ++left_out;
            continue;
        }
        if (n == 0 || v < lo)
            lo = v, at[0] = r;
        if (n == 0 || v > hi)
            hi = v, at[1] = r;
        ++n;
        met += v >= target;
    }
    if (n > 0) {
        char a[160], b[160];
        row_name(a, sizeof a, at[0]);
        row_name(b, sizeof b, at[1]);
        fprintf(f, "%.2f (%s) .. %.2f (%s)\n          %d of %d >= %.2f", lo,
                a, hi, b, met, n, target);
    } else {
        fprintf(f, left_out ? "no undisturbed rows" : "no rows");
    }
    if (left_out)
        fprintf(f, "; %d disturbed row%s left out", left_out,
                left_out == 1 ? "" : "s");
    fputc('\n', f);
    return n > 0 ? met == n : left_out ? -1 : NO_ROWS;
}

static const char *verdict(int met)
{
    return met > 0     ? "met"
           : met == 0    ? "NOT met"
           : met == -1   ? "not measured undisturbed"
                         : "no rows";
}

/* Combines range results: NOT met if any is not, else unknown if any is
 * (NO_ROWS counts for nothing). */
static int both(int a, int b)
{
    return a == NO_ROWS   ? b
           : b == NO_ROWS ? a
           : a == 0 || b == 0 ? 0
           : a < 0 || b < 0   ? -1
                              : 1;
}

/* m over the storage types from first on (the rows keep accepts): a line
 * each; returns their range results combined. */
static int storage_lines(FILE *f, const dec_run *x, metric m, int first,
                         int with, double target, row_filter keep)
{
    int met = NO_ROWS;
    for (int st = first; st < N_STORAGE; ++st) {
        fprintf(f, "    %-5s ", dec_storage_names[st]);
        met = both(met, range(f, x, m, st, with, target, keep));
    }
    return met;
}

/* One target over the storage types from first on: a line each, then
 * the verdict. */
static void storage_target(FILE *f, const dec_run *x, const char *title,
                           metric m, int first, int with, double target,
                           row_filter keep)
{
    fputs(title, f);
    const int met = storage_lines(f, x, m, first, with, target, keep);
    fprintf(f, "    -> %s\n", verdict(met));
}

/* The rate the arithmetic bounds divide by. */
static void sgemm_line(FILE *f, const dec_run *x)
{
    fprintf(f,
            "  sgemm rate: %.1f GFLOP/s (cblas_sgemm %d^3 on %d BLAS thread%s, "
            "best of %d after a\n  warm-up",
            x->sgemm_flops * 1e-9, SGEMM_N, x->threads,
            x->threads == 1 ? "" : "s", x->sgemm.reps);
    if (x->sgemm.busy > x->busy_limit)
        fprintf(f, "; disturbed: others kept %.2f cores busy", x->sgemm.busy);
    fprintf(f, "): at this rate the step's arithmetic, 4 d FLOPs per query "
               "row and\n  visible key, bounds it as the roof does (cmp/rd, "
               "/bound)\n\n");
}

/* The read-roof target where the arithmetic lets it be met, and the
 * fraction of the roofline the other rows reach. */
static void roof_split(FILE *f, const dec_run *x)
{
    fprintf(f, "  ... where reachable: cmp/rd <= %.2f (the arithmetic at the "
               "sgemm rate fits in the\n  roof's time / 0.8) (/roof):\n",
            REACHABLE_CMP_RD);
    fprintf(f, "    -> %s\n",
            verdict(storage_lines(f, x, roof_ratio, 0, WITH_NONE, 0.8,
                                  memory_bound)));
    fprintf(f, "  ... the others, compute-bound on this machine: /bound "
               "(fraction of max(read,\n  sgemm-rate arithmetic)):\n");
    storage_lines(f, x, bound_ratio, 0, WITH_NONE, 0.8, compute_bound);
}

/* The 16-bit target where the 16-bit row's bytes, not its arithmetic, set
 * its time. */
static void fp32_split(FILE *f, const dec_run *x)
{
    fprintf(f, "  ... where the fp16/bf16 row is memory-bound (its cmp/rd <= "
               "%.2f; halving the bytes\n  cannot speed up the others' "
               "arithmetic) (x fp32):\n",
            REACHABLE_CMP_RD);
    fprintf(f, "    -> %s\n",
            verdict(storage_lines(f, x, x_fp32, 1, WITH_FP32, 1.8,
                                  memory_bound)));
    fprintf(f, "  ... the others, compute-bound at 16 bits (x fp32):\n");
    storage_lines(f, x, x_fp32, 1, WITH_FP32, 1.8, compute_bound);
}

/* The paged target's two parts: the memory's cost of scattered pages,
 * and the library's own on top. */
static void paged_split(FILE *f, const dec_run *x)
{
    fprintf(f, "  ... the memory's own cost of scattered pages: a plain read "
               "of the same pages runs\n  at a..b of a sequential read (pg "
               "roof over roof GB/s, Tq 1 rows):\n");
    storage_lines(f, x, page_over_seq, 0, WITH_NONE, 0.95, NULL);
    fprintf(f, "  ... the library's own paged overhead: paged /pgroof over "
               "contiguous /roof, same\n  shape and storage (>= 0.95):\n");
    fprintf(f, "    -> %s\n",
            verdict(storage_lines(f, x, paged_overhead, 0, WITH_CONTIG, 0.95,
                                  NULL)));
}

void dec_summary(FILE *f, const dec_run *x)
{
    int met;
    fprintf(f,
            "\nsummary: the decoding issue's targets, over the rows with "
            "Tk >= %d measured\nundisturbed (busy <= %.2f, also for the row "
            "a ratio divides by)\n\n",
            TARGET_TK, x->busy_limit);

    sgemm_line(f, x);
    storage_target(f, x,
                   "  decoding path >= 0.8 x the read roof, every storage "
                   "type (/roof):\n",
                   roof_ratio, 0, WITH_NONE, 0.8, NULL);
    roof_split(f, x);
    storage_target(f, x,
                   "  fp16 and bf16 give >= 1.8 x the tokens/s of fp32, same "
                   "shape and layout (x fp32):\n",
                   x_fp32, 1, WITH_FP32, 1.8, NULL);
    fp32_split(f, x);
    storage_target(f, x,
                   "  paged within 5% of contiguous (x contig >= 0.95):\n",
                   x_contig, 0, WITH_CONTIG, 0.95, NULL);
    paged_split(f, x);

    if (x->threads > 1) {
        fprintf(f,
                "  B 1 uses every thread: the decoding path gains from "
                "%d threads over 1 at least\n"
                "  0.9 of what the roof's read gains (N/1 over the roof's "
                "N/1):\n    all   ",
                x->threads);
        met = range(f, x, thread_share, -1, WITH_NONE, 0.9, NULL);
        fprintf(f, "    -> %s\n", verdict(met));
    } else {
        fprintf(f, "  B 1 uses every thread: not measured (1 thread)\n");
    }

    fprintf(f, "  general path, for reference (x general, where run):\n"
               "    all   ");
    range(f, x, x_general, -1, WITH_NONE, 1.0, NULL);

    /* What did not run, and the checks. */
    fprintf(f,
            "\n  not run (K + V over %.2g GiB, --max-kv-gib, to keep the "
            "run short; or with the\n  roof's buffer of as many bytes over "
            "%.0f%% of the %.1f GiB available):",
            x->kv_cap / GIB, 100.0 * x->mem_share, x->mem_available / GIB);
    int any = 0;
    for (const dec_row *r = x->rows; r < x->rows + N_ROWS;
         r += N_STORAGE * N_LAYOUT) {
        /* r: the first row of a (heads, B, Tq, Tk); Tq 1 speaks for Tq 4 */
        if (!r->selected || r->s.tq != grid_tq0(x))
            continue;
        int first = 1;
        for (int st = 0; st < N_STORAGE; ++st) {
            const dec_row *o = r + st * N_LAYOUT;
            if (o->run)
                continue;
            if (first) {
                char tk[24];
                tk_name(tk, sizeof tk, r->s.tk);
                fprintf(f,
                        "\n    Hq%lld Hkv%lld d%lld B%lld Tk%s, every Tq "
                        "and layout:",
                        (long long)r->s.hq, (long long)r->s.hkv,
                        (long long)r->s.d, (long long)r->s.b, tk);
            }
            fprintf(f, "%s %s %.2f GiB (%s)", first ? "" : ",",
                    dec_storage_names[st], o->bytes / GIB,
                    o->over_cap && o->over_memory ? "cap, memory"
                    : o->over_cap                 ? "cap"
                                                  : "memory");
            first = 0;
            any = 1;
        }
    }
    if (!any)
        fprintf(f, " nothing");
    fprintf(f,
            ".\n  general path not run where B Hq Tk d > %.3g (its "
            "time would dominate the run):",
            x->general_max);
    any = 0;
    for (int i = 0; i < N_ROWS; ++i) {
        const dec_row *r = &x->rows[i];
        if (!r->run || r->storage || r->layout || r->general.seconds > 0.0)
            continue;
        char tk[24];
        tk_name(tk, sizeof tk, r->s.tk);
        fprintf(f, "%s Hq%lld B%lld Tq%lld Tk%s", any++ % 4 ? "," : "\n   ",
                (long long)r->s.hq, (long long)r->s.b, (long long)r->s.tq, tk);
    }
    fprintf(f, "%s\n", any ? " (every storage and layout)." : " none.");
    if (x->quick)
        fprintf(f, "  --quick: B 1 and Tk up to 32k only, shorter timing.\n");

    double ref = 0.0, gen = 0.0;
    int n = 0, busy = 0;
    for (const dec_row *r = x->rows; r < x->rows + N_ROWS; ++r)
        if (r->run) {
            ++n;
            busy += busiest(r) > x->busy_limit;
            ref = r->err_ref > ref ? r->err_ref : ref;
            gen = r->err_general > gen ? r->err_general : gen;
        }
    fprintf(f,
            "  disturbed: %d of %d rows had other processes keeping over "
            "%.2f cores busy during a\n  measurement (busy): left out of "
            "the ranges above, their numbers may be off.\n",
            busy, n, x->busy_limit);
    fprintf(f,
            "  checks (%d rows, all passed): the decoding path's output "
            "against a double reference\n"
            "  of two heads (largest error %.2g of sum p|v|), the general "
            "path's (largest\n"
            "  difference %.2g) and the contiguous layout's (paged rows)",
            n, ref, gen);
    if (x->threads > 1)
        fprintf(f, ", and bit for bit\n  its 1-thread run (B 1, Tk >= %d)",
                TARGET_TK);
    fprintf(f, ".\n");
}

static void csv_time(FILE *f, const dec_time *t)
{
    if (t->seconds > 0.0)
        fprintf(f, ",%.6g", t->seconds);
    else
        fprintf(f, ",");
}

static void csv_num(FILE *f, double v)
{
    if (v == v)
        fprintf(f, ",%.6g", v);
    else
        fprintf(f, ",");
}

int dec_csv(FILE *f, const dec_run *x)
{
    fprintf(f, "hq,hkv,d,b,tq,tk,storage,layout,status,threads,kv_bytes,"
               "tokens_per_s,kv_gb_per_s,roof_gb_per_s,roof_ratio,x_general,"
               "x_fp32,x_contig,decode_s,decode_reps,roof_s,general_s,"
               "decode_1thr_s,roof_1thr_s,x_1thr,roof_x_1thr,others_busy,"
               "err_ref,err_general,page_roof_s,page_roof_gb_per_s,"
               "page_roof_ratio,flops,flop_s,cmp_rd,bound_ratio,"
               "sgemm_gflops\n");
    for (const dec_row *r = x->rows; r < x->rows + N_ROWS; ++r) {
        if (!r->selected)
            continue;
        fprintf(f, "%lld,%lld,%lld,%lld,%lld,%lld,%s,%s,%s,%d,%.0f",
                (long long)r->s.hq, (long long)r->s.hkv, (long long)r->s.d,
                (long long)r->s.b, (long long)r->s.tq, (long long)r->s.tk,
                dec_storage_names[r->storage], dec_layout_names[r->layout],
                r->run ? "ok"
                : r->over_memory
                    ? (r->over_cap ? "skipped_cap_memory" : "skipped_memory")
                    : "skipped_cap",
                x->threads, r->bytes);
        if (!r->run) {
            fprintf(f, ",,,,,,,,,,,,,,,,,,,,,,,,,,\n"); /* 18 + 8 fields */
            continue;
        }
        csv_num(f, tokens(r));
        csv_num(f, r->bytes / r->decode.seconds * 1e-9);
        csv_num(f, r->bytes / r->roof.seconds * 1e-9);
        csv_num(f, roof_ratio(x, r));
        csv_num(f, x_general(x, r));
        csv_num(f, x_fp32(x, r));
        csv_num(f, x_contig(x, r));
        csv_time(f, &r->decode);
        fprintf(f, ",%d", r->decode.reps);
        csv_time(f, &r->roof);
        csv_time(f, &r->general);
        csv_time(f, &r->decode1);
        csv_time(f, &r->roof1);
        csv_num(f, x_1thr(x, r));
        csv_num(f, roof_x_1thr(x, r));
        csv_num(f, busiest(r) >= 0.0 ? busiest(r) : NAN);
        csv_num(f, r->err_ref);
        csv_num(f, r->err_general >= 0.0 ? r->err_general : NAN);
        csv_time(f, &r->page_roof);
        csv_num(f, page_roof_gbs(r));
        csv_num(f, page_roof_ratio(x, r));
        csv_num(f, step_flops(&r->s));
        csv_num(f, flop_seconds(x, r));
        csv_num(f, cmp_rd(x, r));
        csv_num(f, bound_ratio(x, r));
        csv_num(f, x->sgemm_flops > 0.0 ? x->sgemm_flops * 1e-9 : NAN);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}
