/*
 * attention-bench-speed: how close libattention's attention comes to the
 * sgemm roof of the BLAS it runs on. In one run, on the same inputs: the
 * cblas_sgemm roof (large square and attention-tile products), the fused
 * forward and forward + backward, full and causal, at N threads and at 1,
 * and the materialised reference path; then a summary against the
 * project's targets. --csv writes every measurement.
 */
#define _POSIX_C_SOURCE 200809L /* sysconf */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "speed_blas.h"
#include "speed_csv.h"
#include "speed_load.h"
#include "speed_plan.h"
#include "speed_report.h"
#include "speed_rows.h"
#include "speed_run.h"
#include "speed_summary.h"
#include "speed_timer.h"

#define PROG "attention-bench-speed"

typedef struct options {
    int quick;
    int threads;            /* 0: ATTN_NUM_THREADS, else online cores */
    const char *csv;        /* or NULL */
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--quick] [--threads N] [--csv FILE]\n"
            "\n"
            "GFLOP/s of libattention's forward and forward+backward (fused and "
            "materialised,\n"
            "full and causal, N threads and 1) against the cblas_sgemm roof "
            "of the same BLAS.\n"
            "\n"
            "  --quick      B1 H8 T512 d64 and B4 H8 T1024 d64 and the roof, "
            "under a minute\n"
            "               (default: the full grid, d 64 and 128 up to T4096, "
            "and B1 H8 T16384\n"
            "               d64 fused; a few minutes on two cores)\n"
            "  --threads N  the many-thread count (default: ATTN_NUM_THREADS, "
            "else every online core)\n"
            "  --csv FILE   write one row per measurement to FILE\n"
            "  --help       show this and exit\n");
}

/* A positive int, or 0. */
static int positive(const char *s)
{
    char *end;
    const long n = s ? strtol(s, &end, 10) : 0;
    return s && end != s && *end == '\0' && n > 0 && n <= 1024 ? (int)n : 0;
}

/* 0: run; 1: help shown; 2: bad usage. */
static int parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 1;
        }
        if (strcmp(a, "--quick") == 0) {
            o->quick = 1;
            continue;
        }
        if (strcmp(a, "--csv") != 0 && strcmp(a, "--threads") != 0) {
            fprintf(stderr, PROG ": unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            fprintf(stderr, PROG ": %s needs an argument\n", a);
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--csv") == 0) {
            o->csv = v;
        } else if ((o->threads = positive(v)) == 0) {
            fprintf(stderr, PROG ": --threads wants a count from 1 to 1024, "
                            "not '%s'\n", v);
            usage(stderr);
            return 2;
        }
    }
    return 0;
}

/* The library's own rule for num_threads = 0, made explicit so that every
 * row names the count it used. */
static int default_threads(void)
{
    const int env = positive(getenv("ATTN_NUM_THREADS"));
    if (env > 0)
        return env;
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n > 1024 ? 1024 : n) : 1;
}

int main(int argc, char **argv)
{
    options opt = {0, 0, NULL};
    const int parsed = parse_args(argc, argv, &opt);
    if (parsed == 1)
        return 0;
    if (parsed == 2)
        return 2;
    const double t0 = speed_now();
    FILE *csv = NULL;
    if (opt.csv && (csv = speed_csv_open(opt.csv)) == NULL)
        return 1;

    speed_plan plan;
    speed_plan_make(&plan, opt.quick, opt.threads ? opt.threads
                                                  : default_threads());
    speed_blas_info blas;
    speed_blas_query(&blas);

    printf(PROG ": %s run, N = %d thread%s\n\n",
           opt.quick ? "quick" : "full", plan.threads,
           plan.threads == 1 ? "" : "s");
    speed_blas_report(stdout, &blas, plan.threads);
    printf("  timing    CLOCK_MONOTONIC; a warm-up call, then repeats until "
           "%.1f s and %d repeats\n"
           "            (one when the warm-up took over %.0f s, none over %.0f s: "
           "then the\n"
           "            warm-up is the measurement); the best repeat counts\n"
           "  data      uniform [-1, 1), xoshiro256** seed %llu, allocated "
           "once per shape\n\n",
           plan.budget.min_seconds, plan.budget.min_reps, plan.budget.long_call,
           4.0 * plan.budget.long_call,
           (unsigned long long)plan.seed);
    fflush(stdout);

    speed_rows rows = {0};
    speed_long_mem mem;
    speed_load_mark start, end;
    speed_load_mark_now(&start);
    speed_run(&plan, &rows, &mem);
    speed_load_mark_now(&end);

    speed_report_roof(stdout, &plan, &rows);
    speed_report_table(stdout, &plan, &rows);
    speed_report_long(stdout, &plan, &rows, &mem);
    speed_report_summary(stdout, &plan, &rows, &mem,
                         blas.corename && speed_blas_avx512_core(blas.corename));
    const double others = speed_load_others(&start, &end);
    printf("\nrun time %.0f s", speed_now() - t0);
    if (others >= 0.0)
        printf("; other processes kept %.2f of %ld cores busy on average",
               others, sysconf(_SC_NPROCESSORS_ONLN));
    printf("\n");

    int rc = 0;
    if (csv && speed_csv_write(csv, opt.csv, &rows))
        rc = 1;
    speed_rows_free(&rows);
    return rc;
}
