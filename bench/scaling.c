/*
 * attention-bench-scaling: the seeds' "why scaling matters" experiment,
 * through libattention's own API. Unit-normal Q and K give scores q . k
 * with variance d_k; scale 1/sqrt(d_k) brings it back to 1, scale 1 lets
 * the softmax saturate. Prints the comparison at d_k = 64 and a sweep over
 * d_k; --csv writes the numbers, --pictures DIR the figures (PNG and SVG,
 * through plot/).
 */
#define _POSIX_C_SOURCE 200809L /* mkdir */

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <attention/attention.h>

#include "rng.h"
#include "scaling.h"

#define PROG "attention-bench-scaling"

static const int64_t sweep_dk[] = {8, 16, 32, 64, 128, 256, 512};
enum { N_DK = sizeof sweep_dk / sizeof sweep_dk[0], HEADLINE = 3 /* 64 */ };

/* Enough rows for stable statistics (H * Tq = 1024), fast on two cores. */
static const scaling_setup setup = {1, 4, 256, 256, 2017};

static const char usage[] =
    "usage: " PROG " [--csv FILE] [--pictures DIR]\n\n"
    "Scores and softmax weights of unit-normal Q and K with scale 1/sqrt(d_k) "
    "against\nscale 1, at d_k = 64 and over d_k = 8..512 (fixed seed).\n\n"
    "  --csv FILE      write one row per (d_k, scaling) to FILE\n"
    "  --pictures DIR  write into DIR (created if missing), each as .png and "
    ".svg:\n"
    "                  weights_dk<d_k>  head 0's weights, scaled and unscaled "
    "side by side\n"
    "                  scores_dk64      the scores' histograms, scaled and "
    "unscaled\n"
    "                  sweep            std, saturation, entropy, Jacobian "
    "norm against d_k\n"
    "  --png DIR       the same as --pictures DIR (its older name)\n"
    "  --help          show this and exit\n";

static void check(attn_status s, const char *call, int64_t d_k)
{
    if (s == ATTN_OK)
        return;
    fprintf(stderr, PROG ": %s at d_k = %" PRId64 ": %s\n", call, d_k,
            attn_strerror(s));
    exit(1);
}

static void check_picture(plot_status s, const char *dir, const char *what)
{
    if (s == PLOT_OK)
        return;
    fprintf(stderr, PROG ": cannot write the %s picture into %s: %s\n", what,
            dir, plot_strerror(s));
    exit(1);
}

/* Both scalings at one d_k into runs[0] (scaled) and runs[1] (unscaled);
 * buf holds Q, K, V, out (n_in each at the largest d_k), then scores and
 * the two weight tensors. keep, when not NULL, receives both scalings'
 * scores (n_sc each). */
static void run_dk(int64_t d_k, float *buf, double *norms, scaling_run runs[2],
                   const char *pictures, float *const keep[2])
{
    const scaling_setup *s = &setup;
    const size_t rows = (size_t)(s->batch * s->heads * s->q_len);
    const size_t n_in = rows * (size_t)d_k, n_sc = rows * (size_t)s->kv_len;
    float *q = buf, *k = q + n_in, *v = k + n_in, *out = v + n_in;
    float *scores = buf + 4 * rows * (size_t)sweep_dk[N_DK - 1];
    float *const w[2] = {scores + n_sc, scores + 2 * n_sc};
    /* Reseeded per d_k, so that the d_k = 64 comparison is the d_k = 64
     * line of the sweep. */
    bench_fill_normal(q, 3 * n_in, s->seed);
    const float scales[2] = {(float)(1.0 / sqrt((double)d_k)), 1.0f};
    for (int i = 0; i < 2; ++i) {
        attn_sdpa_desc desc;
        check(attn_sdpa_desc_init(&desc, s->batch, s->heads, s->heads, s->q_len,
                                  s->kv_len, d_k, d_k),
              "attn_sdpa_desc_init", d_k);
        desc.scale = scales[i];
        check(attn_sdpa_scores(&desc, q, k, scores), "attn_sdpa_scores", d_k);
        check(attn_sdpa_forward(&desc, q, k, v, out, w[i], NULL),
              "attn_sdpa_forward", d_k);
        runs[i] = (scaling_run){.d_k = d_k, .scaled = i == 0,
                                .scale = scales[i]};
        if (keep != NULL)
            memcpy(keep[i], scores, n_sc * sizeof *scores);
        scaling_stats(scores, n_sc, w[i], rows, (size_t)s->kv_len, norms,
                      runs[i].v);
    }
    if (pictures != NULL) {
        /* Head 0: the first Tq rows of each weight tensor. */
        const float *const head0[2] = {w[0], w[1]};
        check_picture(scaling_picture_weights(pictures, s, d_k, head0),
                      pictures, "weights");
    }
}

int main(int argc, char **argv)
{
    const char *csv = NULL, *pictures = NULL;
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i];
        const char **slot = strcmp(a, "--csv") == 0   ? &csv
                            : strcmp(a, "--pictures") == 0 ? &pictures
                            : strcmp(a, "--png") == 0 ? &pictures
                                                      : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (slot == NULL || i + 1 >= argc || argv[i + 1][0] == '\0') {
            fprintf(stderr, slot ? PROG ": %s needs an argument\n%s"
                                 : PROG ": unknown option '%s'\n%s", a, usage);
            return 2;
        }
        *slot = argv[++i];
    }
    if (pictures != NULL && !plot_available()) {
        /* The numbers still come; only the pictures are skipped. */
        fprintf(stderr, PROG ": %s\n", plot_off_message());
        pictures = NULL;
    }
    if (pictures != NULL && mkdir(pictures, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", pictures,
                strerror(errno));
        return 1;
    }
    const size_t rows = (size_t)(setup.batch * setup.heads * setup.q_len);
    const size_t n_sc = rows * (size_t)setup.kv_len;
    float *buf = malloc(rows * (4 * (size_t)sweep_dk[N_DK - 1] +
                                3 * (size_t)setup.kv_len) * sizeof *buf);
    double *norms = malloc(rows * sizeof *norms);
    float *kept = pictures ? malloc(2 * n_sc * sizeof *kept) : NULL;
    if (buf == NULL || norms == NULL || (pictures != NULL && kept == NULL)) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    float *const keep[2] = {kept, kept + (kept ? n_sc : 0)};
    scaling_run runs[2 * N_DK];
    for (size_t i = 0; i < N_DK; ++i)
        run_dk(sweep_dk[i], buf, norms, &runs[2 * i], pictures,
               i == HEADLINE && kept ? keep : NULL);
    free(buf);
    free(norms);
    scaling_report(stdout, &setup, runs, N_DK, HEADLINE);
    if (pictures != NULL) {
        const float *const scores[2] = {keep[0], keep[1]};
        check_picture(scaling_picture_scores(pictures, &setup, &runs[2 * HEADLINE],
                                             scores, n_sc),
                      pictures, "scores");
        check_picture(scaling_picture_sweep(pictures, &setup, runs, N_DK),
                      pictures, "sweep");
    }
    free(kept);
    plot_release();

    if (csv != NULL) {
        FILE *f = fopen(csv, "w");
        if (f == NULL || scaling_csv(f, &setup, runs, 2 * N_DK) != 0 ||
            fclose(f) != 0) {
            fprintf(stderr, PROG ": cannot write %s: %s\n", csv,
                    strerror(errno));
            return 1;
        }
        printf("\nwrote %s (%d rows)\n", csv, 2 * N_DK);
    }
    if (pictures != NULL) {
        printf("%spictures (each .png and .svg) in %s:\n", csv ? "" : "\n",
               pictures);
        printf("  sweep            score std, saturated rows, entropy and "
               "Jacobian norm against d_k\n");
        printf("  scores_dk%-6" PRId64 " the scores' histograms, scaled and "
               "unscaled\n", sweep_dk[HEADLINE]);
        for (size_t i = 0; i < N_DK; ++i)
            printf("  weights_dk%-5" PRId64 " head 0's weights, scaled left, "
                   "unscaled right\n", sweep_dk[i]);
    }
    return 0;
}
