/*
 * attention-bench-scaling: the seeds' "why scaling matters" experiment,
 * through libattention's own API. Unit-normal Q and K give scores
 * q . k with variance d_k; scale 1/sqrt(d_k) brings it back to 1, scale 1
 * lets the softmax saturate. Prints the comparison at d_k = 64 and a sweep
 * over d_k; --csv and --png write the figures.
 */
#define _POSIX_C_SOURCE 200809L /* mkdir, stat */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <attention/attention.h>

#include "heatmap.h"
#include "report.h"
#include "rng.h"
#include "stats.h"

#define PROG "attention-bench-scaling"

static const int64_t sweep_dk[] = {8, 16, 32, 64, 128, 256, 512};
enum { N_DK = sizeof sweep_dk / sizeof sweep_dk[0] };
enum { HEADLINE_DK = 64 };
enum { HEAT_CELL = 2 };     /* pixels per weight in the heat maps */

/* Enough rows for stable statistics (H * Tq = 1024), fast on two cores. */
static const bench_setup setup = {
    .batch = 1, .heads = 4, .q_len = 256, .kv_len = 256, .seed = 2017};

typedef struct options {
    const char *csv;        /* or NULL */
    const char *png_dir;    /* or NULL */
} options;

/* Sized for the largest d_k of the sweep. */
typedef struct buffers {
    float *q;           /* (B, H, Tq, d) */
    float *k;           /* (B, H, Tk, d) */
    float *v;           /* (B, H, Tk, d) */
    float *out;         /* (B, H, Tq, d) */
    float *scores;      /* (B, H, Tq, Tk) */
    float *weights[2];  /* (B, H, Tq, Tk): [0] scaled, [1] unscaled */
    double *norms;      /* (B * H * Tq) scratch for stats */
} buffers;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: " PROG " [--csv FILE] [--png DIR]\n"
            "\n"
            "Scores and softmax weights of unit-normal Q and K with scale "
            "1/sqrt(d_k) against\n"
            "scale 1, at d_k = 64 and over d_k = 8..512 (fixed seed).\n"
            "\n"
            "  --csv FILE  write one row per (d_k, scaling) to FILE\n"
            "  --png DIR   write DIR/weights_dk<d_k>.png heat maps, scaled "
            "left, unscaled right\n"
            "              (DIR is created if missing)\n"
            "  --help      show this and exit\n");
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
        const char **slot = strcmp(a, "--csv") == 0   ? &o->csv
                            : strcmp(a, "--png") == 0 ? &o->png_dir
                                                      : NULL;
        if (slot == NULL) {
            fprintf(stderr, PROG ": unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (i + 1 >= argc || argv[i + 1][0] == '\0') {
            fprintf(stderr, PROG ": %s needs an argument\n", a);
            usage(stderr);
            return 2;
        }
        *slot = argv[++i];
    }
    return 0;
}

static int api_ok(attn_status s, const char *call, int64_t d_k)
{
    if (s == ATTN_OK)
        return 1;
    fprintf(stderr, PROG ": %s at d_k = %" PRId64 ": %s\n", call, d_k,
            attn_strerror(s));
    return 0;
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0)
        return 0;
    if (errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        fprintf(stderr, PROG ": %s exists and is not a directory\n", dir);
        return -1;
    }
    fprintf(stderr, PROG ": cannot create %s: %s\n", dir, strerror(errno));
    return -1;
}

/* Head 0 of both weight tensors, every query and key. */
static int write_heatmap(const char *dir, int64_t d_k, const buffers *b,
                         float scale)
{
    char path[4096], title[64], desc[512];
    if (snprintf(path, sizeof path, "%s/weights_dk%" PRId64 ".png", dir,
                 d_k) >= (int)sizeof path) {
        fprintf(stderr, PROG ": path too long under %s\n", dir);
        return -1;
    }
    snprintf(title, sizeof title, "attention weights at d_k = %" PRId64, d_k);
    snprintf(desc, sizeof desc,
             "Left: scale 1/sqrt(d_k) = %g. Right: scale 1. Head 0, rows = "
             "%" PRId64 " queries, columns = %" PRId64 " keys, Q and K unit "
             "normal (seed %" PRIu64 "). Colour: log10(weight) on viridis from "
             "%g (dark; also exact 0) to 0 (bright), one tick per decade on "
             "the bar below.",
             (double)scale, setup.q_len, setup.kv_len, setup.seed,
             HEATMAP_LOG10_MIN);
    const heatmap_pair hp = {
        .left = b->weights[0], .right = b->weights[1],
        .rows = (size_t)setup.q_len, .cols = (size_t)setup.kv_len,
        .ld = (size_t)setup.kv_len, .cell = HEAT_CELL,
        .title = title, .description = desc};
    const char *err = heatmap_write_pair(path, &hp);
    if (err != NULL) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path, err);
        return -1;
    }
    return 0;
}

/* Both scalings at one d_k into runs[0] (scaled) and runs[1] (unscaled). */
static int run_dk(int64_t d_k, buffers *b, scaling_run runs[2],
                  const char *png_dir)
{
    const bench_setup *s = &setup;
    const size_t n_in = (size_t)(s->batch * s->heads * s->q_len * d_k);
    const size_t n_scores = (size_t)(s->batch * s->heads * s->q_len * s->kv_len);
    const size_t rows = (size_t)(s->batch * s->heads * s->q_len);

    /* Reseeded per d_k, so every d_k's data stands on its own and the
     * d_k = 64 comparison is the d_k = 64 line of the sweep. */
    bench_rng rng;
    bench_rng_seed(&rng, s->seed);
    bench_rng_fill_normal(&rng, b->q, n_in);
    bench_rng_fill_normal(&rng, b->k, n_in);
    bench_rng_fill_normal(&rng, b->v, n_in);

    const float scales[2] = {(float)(1.0 / sqrt((double)d_k)), 1.0f};
    for (int i = 0; i < 2; ++i) {
        attn_sdpa_desc desc;
        if (!api_ok(attn_sdpa_desc_init(&desc, s->batch, s->heads, s->heads,
                                        s->q_len, s->kv_len, d_k, d_k),
                    "attn_sdpa_desc_init", d_k))
            return -1;
        desc.scale = scales[i];
        if (!api_ok(attn_sdpa_scores(&desc, b->q, b->k, b->scores),
                    "attn_sdpa_scores", d_k))
            return -1;
        if (!api_ok(attn_sdpa_forward(&desc, b->q, b->k, b->v, b->out,
                                      b->weights[i], NULL),
                    "attn_sdpa_forward", d_k))
            return -1;
        runs[i].d_k = d_k;
        runs[i].scaled = i == 0;
        runs[i].scale = scales[i];
        runs[i].scores = score_stats_of(b->scores, n_scores);
        runs[i].weights = weight_stats_of(b->weights[i], rows,
                                          (size_t)s->kv_len, b->norms);
    }
    if (png_dir != NULL)
        return write_heatmap(png_dir, d_k, b, scales[0]);
    return 0;
}

static int alloc_buffers(buffers *b)
{
    const bench_setup *s = &setup;
    const size_t n_in = (size_t)(s->batch * s->heads * s->q_len *
                                 sweep_dk[N_DK - 1]);
    const size_t n_scores = (size_t)(s->batch * s->heads * s->q_len * s->kv_len);
    b->q = malloc(n_in * sizeof *b->q);
    b->k = malloc(n_in * sizeof *b->k);
    b->v = malloc(n_in * sizeof *b->v);
    b->out = malloc(n_in * sizeof *b->out);
    b->scores = malloc(n_scores * sizeof *b->scores);
    b->weights[0] = malloc(n_scores * sizeof *b->weights[0]);
    b->weights[1] = malloc(n_scores * sizeof *b->weights[1]);
    b->norms = malloc((size_t)(s->batch * s->heads * s->q_len) *
                      sizeof *b->norms);
    return b->q && b->k && b->v && b->out && b->scores && b->weights[0] &&
                   b->weights[1] && b->norms
               ? 0
               : -1;
}

static void free_buffers(buffers *b)
{
    free(b->q);
    free(b->k);
    free(b->v);
    free(b->out);
    free(b->scores);
    free(b->weights[0]);
    free(b->weights[1]);
    free(b->norms);
}

static int write_csv(const char *path, const scaling_run *runs, size_t m)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, PROG ": cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    int bad = report_csv(f, &setup, runs, m);
    if (fclose(f) != 0)
        bad = -1;
    if (bad) {
        fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options opt = {NULL, NULL};
    const int parsed = parse_args(argc, argv, &opt);
    if (parsed == 1)
        return 0;
    if (parsed != 0)
        return 2;
    if (opt.png_dir != NULL && make_dir(opt.png_dir) != 0)
        return 1;

    buffers b;
    scaling_run runs[2 * N_DK];
    size_t headline = 0;
    int rc = 1;
    if (alloc_buffers(&b) != 0) {
        fprintf(stderr, PROG ": out of memory\n");
        goto done;
    }
    for (size_t i = 0; i < N_DK; ++i) {
        if (run_dk(sweep_dk[i], &b, &runs[2 * i], opt.png_dir) != 0)
            goto done;
        if (sweep_dk[i] == HEADLINE_DK)
            headline = i;
    }

    report_setup(stdout, &setup, HEADLINE_DK);
    report_comparison(stdout, &setup, &runs[2 * headline],
                      &runs[2 * headline + 1]);
    report_sweep(stdout, &setup, runs, N_DK);

    if (opt.csv != NULL) {
        if (write_csv(opt.csv, runs, 2 * N_DK) != 0)
            goto done;
        printf("\nwrote %s (%d rows)\n", opt.csv, 2 * N_DK);
    }
    if (opt.png_dir != NULL) {
        printf("%sheat maps of head 0, scaled left and unscaled right, colour "
               "log10(weight)\n"
               "from %g (dark) to 0 (bright):\n",
               opt.csv ? "" : "\n", HEATMAP_LOG10_MIN);
        for (size_t i = 0; i < N_DK; ++i)
            printf("  %s/weights_dk%" PRId64 ".png\n", opt.png_dir, sweep_dk[i]);
    }
    rc = 0;
done:
    free_buffers(&b);
    return rc;
}
