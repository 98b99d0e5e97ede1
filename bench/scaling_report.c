/* The scaling bench's printed tables and its CSV file. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <attention/attention.h>

#include "scaling.h"

/* The comparison table's lines, in N_STATS order. */
static const struct {
    const char *group, *label;
    int prec;
    double mul;
} lines[N_STATS] = {
    {"scores", "min", 3, 1}, {"", "max", 3, 1}, {"", "mean", 4, 1},
    {"", "std", 4, 1}, {"weights", "mean max weight", 4, 1},
    {"", "mean entropy H [nats]", 4, 1}, {"", "H / ln(Tk)", 4, 1},
    {"", "saturated rows [%]", 2, 100}, {"Jacobian", "mean ||J||_F", 4, 1},
    {"", "median ||J||_F", 4, 1}, {"", "10th percentile ||J||_F", 4, 1}};

static void comparison(FILE *f, const scaling_setup *s, const scaling_run *sc,
                       const scaling_run *un)
{
    char scale[32];
    snprintf(scale, sizeof scale, "1/sqrt(%" PRId64 ")", sc->d_k);
    fprintf(f, "  %-8s %-34s%12s%12s\n", "", "", "scaled", "unscaled");
    fprintf(f, "  %-8s %-34s%12s%12s\n", "", "scale", scale, "1");
    for (int i = 0; i < N_STATS; ++i)
        fprintf(f, "  %-8s %-34s%12.*f%12.*f\n", lines[i].group, lines[i].label,
                lines[i].prec, lines[i].mul * sc->v[i], lines[i].prec,
                lines[i].mul * un->v[i]);
    const size_t tk = (size_t)s->kv_len;
    fprintf(f, "\n  H          -sum p ln p of a row, in nats: ln(Tk) = %.4f "
               "for the uniform row, 0 for one-hot.\n"
               "  saturated  largest weight > %.2f: the softmax has become a "
               "hard argmax.\n"
               "  ||J||_F    Frobenius norm of the softmax Jacobian "
               "J = diag(p) - p p^T of a row: how\n"
               "             much of a gradient on the weights reaches the "
               "scores. Uniform over Tk = %zu\n"
               "             gives sqrt(Tk - 1) / Tk = %.4f; one-hot gives 0 "
               "(nothing gets through);\n"
               "             the largest possible value is 0.5 (two keys at "
               "1/2 each). Unscaled rows\n"
               "             split: saturated ones pass almost nothing (low "
               "percentile), the rest\n"
               "             sit on a few keys, where ||J||_F is largest, "
               "which lifts the mean.\n\n",
            log((double)tk), SATURATED, tk,
            sqrt((double)tk - 1.0) / (double)tk);
}

/* " text" centred in a field of 1 + width; padded right only when more
 * follows, so lines carry no trailing blanks. */
static void centred(FILE *f, const char *text, int width, int more)
{
    const int len = (int)strlen(text);
    const int left = len < width ? (width - len + 1) / 2 : 0;
    const int right = more && len + left < width ? width - len - left : 0;
    fprintf(f, " %*s%s%*s%s", left, "", text, right, "", more ? " |" : "\n");
}

static void sweep(FILE *f, const scaling_run *runs, size_t n, int64_t rows)
{
    fprintf(f, "sweep over d_k (same B, H, T and seed; %" PRId64
               " rows per cell)\n\n  %5s %9s |", rows, "", "");
    centred(f, "score std", 30, 1);
    centred(f, "mean max weight", 17, 1);
    centred(f, "saturated [%]", 17, 1);
    centred(f, "mean ||J||_F", 17, 0);
    fprintf(f, "  %5s %9s | %9s %10s %9s | %8s %8s | %8s %8s | %8s %8s\n",
            "d_k", "sqrt(d_k)", "unscaled", "/sqrt(d_k)", "scaled", "scaled",
            "unscaled", "scaled", "unscaled", "scaled", "unscaled");
    fprintf(f, "  ----- --------- | --------- ---------- --------- | "
               "-------- -------- | -------- -------- | -------- --------\n");
    double r_lo = INFINITY, r_hi = -INFINITY, r_sum = 0.0, sd_lo = INFINITY;
    double sd_hi = -INFINITY, sat_hi = 0.0, j_lo = INFINITY, j_hi = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
        const double *sc = runs[2 * i].v, *un = runs[2 * i + 1].v;
        const double root = sqrt((double)runs[2 * i].d_k);
        const double ratio = un[S_STD] / root;
        fprintf(f, "  %5" PRId64 " %9.3f | %9.3f %10.4f %9.4f | %8.4f %8.4f | "
                   "%8.2f %8.2f | %8.4f %8.4f\n",
                runs[2 * i].d_k, root, un[S_STD], ratio, sc[S_STD], sc[W_MAX],
                un[W_MAX], 100.0 * sc[W_SATURATED], 100.0 * un[W_SATURATED],
                sc[J_MEAN], un[J_MEAN]);
        r_lo = fmin(r_lo, ratio);
        r_hi = fmax(r_hi, ratio);
        r_sum += ratio;
        sd_lo = fmin(sd_lo, sc[S_STD]);
        sd_hi = fmax(sd_hi, sc[S_STD]);
        sat_hi = fmax(sat_hi, sc[W_SATURATED]);
        j_lo = fmin(j_lo, sc[J_MEAN]);
        j_hi = fmax(j_hi, sc[J_MEAN]);
    }
    /* Mean and the largest deviation from it: the whole range, not a
     * standard error, since the d_k values are not a random sample. */
    const double mean = r_sum / (double)n;
    const scaling_run *a = &runs[1], *b = &runs[2 * n - 1];
    fprintf(f, "\nconclusion: unscaled std / sqrt(d_k) = %.3f +- %.3f across "
               "d_k = %" PRId64 "..%" PRId64 ", so the unscaled\n"
               "spread grows like sqrt(d_k) (%.2f -> %.2f); the scaled std "
               "stays within [%.3f, %.3f].\n",
            mean, fmax(r_hi - mean, mean - r_lo), a->d_k, b->d_k, a->v[S_STD],
            b->v[S_STD], sd_lo, sd_hi);
    fprintf(f, "Saturated rows without scaling: %.1f%% at d_k = %" PRId64
               " -> %.1f%% at d_k = %" PRId64 "; with scaling at most %.1f%%.\n",
            100.0 * a->v[W_SATURATED], a->d_k, 100.0 * b->v[W_SATURATED],
            b->d_k, 100.0 * sat_hi);
    fprintf(f, "Mean ||J||_F without scaling: %.3f at d_k = %" PRId64
               " -> %.3f at d_k = %" PRId64 "; with scaling within "
               "[%.3f, %.3f].\n",
            a->v[J_MEAN], a->d_k, b->v[J_MEAN], b->d_k, j_lo, j_hi);
}

void scaling_report(FILE *f, const scaling_setup *s, const scaling_run *runs,
                    size_t n, size_t headline)
{
    const int64_t rows = s->batch * s->heads * s->q_len;
    fprintf(f, "libattention %s: why scaling matters\n\n"
               "  data     Q, K, V ~ N(0, 1) iid, xoshiro256** seed %" PRIu64
               " (the same numbers every run)\n"
               "  shape    B = %" PRId64 ", H = %" PRId64 ", Tq = %" PRId64
               ", Tk = %" PRId64 ", d_k = %" PRId64 "\n"
               "  sample   %" PRId64 " softmax rows and %" PRId64
               " scores per scaling\n"
               "  source   scores from attn_sdpa_scores, weights from "
               "attn_sdpa_forward; statistics in double\n\n",
            attn_version_string(), s->seed, s->batch, s->heads, s->q_len,
            s->kv_len, runs[2 * headline].d_k, rows, rows * s->kv_len);
    comparison(f, s, &runs[2 * headline], &runs[2 * headline + 1]);
    sweep(f, runs, n, rows);
}

int scaling_csv(FILE *f, const scaling_setup *s, const scaling_run *runs,
                size_t m)
{
    fprintf(f, "d_k,scaling,scale,batch,heads,q_len,kv_len,min,max,mean,std,"
               "mean_max_weight,mean_entropy,entropy_ratio,saturated_share,"
               "jacobian_norm,jacobian_median,jacobian_p10\n");
    for (size_t i = 0; i < m; ++i) {
        const scaling_run *r = &runs[i];
        fprintf(f, "%" PRId64 ",%s,%.9g,%" PRId64 ",%" PRId64 ",%" PRId64
                   ",%" PRId64, r->d_k, r->scaled ? "scaled" : "unscaled",
                r->scale, s->batch, s->heads, s->q_len, s->kv_len);
        for (int k = 0; k < N_STATS; ++k)
            fprintf(f, ",%.9g", r->v[k]);
        fputc('\n', f);
    }
    return ferror(f) ? -1 : 0;
}
