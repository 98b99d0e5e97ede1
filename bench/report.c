#include "report.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#include <attention/attention.h>

#define LABEL "%-34s"

void report_setup(FILE *f, const bench_setup *s, int64_t d_k)
{
    const int64_t rows = s->batch * s->heads * s->q_len;
    fprintf(f, "libattention %s: why scaling matters\n\n", attn_version_string());
    fprintf(f, "  data     Q, K, V ~ N(0, 1) iid, xoshiro256** seed %" PRIu64
               " (the same numbers every run)\n", s->seed);
    fprintf(f, "  shape    B = %" PRId64 ", H = %" PRId64 ", Tq = %" PRId64
               ", Tk = %" PRId64 ", d_k = %" PRId64 "\n",
            s->batch, s->heads, s->q_len, s->kv_len, d_k);
    fprintf(f, "  sample   %" PRId64 " softmax rows and %" PRId64
               " scores per scaling\n", rows, rows * s->kv_len);
    fprintf(f, "  source   scores from attn_sdpa_scores, weights from "
               "attn_sdpa_forward; statistics in double\n\n");
}

static void row(FILE *f, const char *group, const char *label, double a,
                double b, const char *fmt)
{
    fprintf(f, "  %-8s " LABEL, group, label);
    fprintf(f, fmt, a);
    fprintf(f, fmt, b);
    fputc('\n', f);
}

void report_comparison(FILE *f, const bench_setup *s, const scaling_run *sc,
                       const scaling_run *un)
{
    char scale_name[32];
    snprintf(scale_name, sizeof scale_name, "1/sqrt(%" PRId64 ")", sc->d_k);
    fprintf(f, "  %-8s " LABEL "%12s%12s\n", "", "", "scaled", "unscaled");
    fprintf(f, "  %-8s " LABEL "%12s%12s\n", "", "scale", scale_name, "1");
    row(f, "scores", "min", sc->scores.min, un->scores.min, "%12.3f");
    row(f, "", "max", sc->scores.max, un->scores.max, "%12.3f");
    row(f, "", "mean", sc->scores.mean, un->scores.mean, "%12.4f");
    row(f, "", "std", sc->scores.std, un->scores.std, "%12.4f");
    row(f, "weights", "mean max weight", sc->weights.mean_max,
        un->weights.mean_max, "%12.4f");
    row(f, "", "mean entropy H [nats]", sc->weights.mean_entropy,
        un->weights.mean_entropy, "%12.4f");
    row(f, "", "H / ln(Tk)", sc->weights.entropy_ratio,
        un->weights.entropy_ratio, "%12.4f");
    row(f, "", "saturated rows [%]", 100.0 * sc->weights.saturated_share,
        100.0 * un->weights.saturated_share, "%12.2f");
    row(f, "Jacobian", "mean ||J||_F", sc->weights.jacobian_norm,
        un->weights.jacobian_norm, "%12.4f");
    row(f, "", "median ||J||_F", sc->weights.jacobian_p50,
        un->weights.jacobian_p50, "%12.4f");
    row(f, "", "10th percentile ||J||_F", sc->weights.jacobian_p10,
        un->weights.jacobian_p10, "%12.4f");

    const size_t tk = (size_t)s->kv_len;
    fprintf(f, "\n  H          -sum p ln p of a row, in nats: ln(Tk) = %.4f "
               "for the uniform row, 0 for one-hot.\n", log((double)tk));
    fprintf(f, "  saturated  largest weight > %.2f: the softmax has become a "
               "hard argmax.\n", BENCH_SATURATED);
    fprintf(f, "  ||J||_F    Frobenius norm of the softmax Jacobian "
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
            tk, uniform_jacobian_norm(tk));
}

/* " text" centred in a field of 1 + width characters; right padding only
 * when more follows, so lines carry no trailing blanks. */
static void centred(FILE *f, const char *text, int width, int more)
{
    const int len = (int)strlen(text);
    const int left = len < width ? (width - len + 1) / 2 : 0;
    const int right = more && len + left < width ? width - len - left : 0;
    fprintf(f, " %*s%s%*s", left, "", text, right, "");
}

void report_sweep(FILE *f, const bench_setup *s, const scaling_run *runs,
                  size_t n)
{
    const int64_t rows = s->batch * s->heads * s->q_len;
    fprintf(f, "sweep over d_k (same B, H, T and seed; %" PRId64
               " rows per cell)\n\n", rows);
    fprintf(f, "  %5s %9s |", "", "");
    centred(f, "score std", 30, 1);
    fputs(" |", f);
    centred(f, "mean max weight", 17, 1);
    fputs(" |", f);
    centred(f, "saturated [%]", 17, 1);
    fputs(" |", f);
    centred(f, "mean ||J||_F", 17, 0);
    fputc('\n', f);
    fprintf(f, "  %5s %9s | %9s %10s %9s | %8s %8s | %8s %8s | %8s %8s\n",
            "d_k", "sqrt(d_k)", "unscaled", "/sqrt(d_k)", "scaled", "scaled",
            "unscaled", "scaled", "unscaled", "scaled", "unscaled");
    fprintf(f, "  ----- --------- | --------- ---------- --------- | "
               "-------- -------- | -------- -------- | -------- --------\n");

    double ratio_min = INFINITY, ratio_max = -INFINITY, ratio_sum = 0.0;
    double sc_min = INFINITY, sc_max = -INFINITY, sat_sc_max = 0.0;
    double jac_min = INFINITY, jac_max = -INFINITY;
    for (size_t i = 0; i < n; ++i) {
        const scaling_run *sc = &runs[2 * i], *un = &runs[2 * i + 1];
        const double root = sqrt((double)sc->d_k);
        const double ratio = un->scores.std / root;
        fprintf(f, "  %5" PRId64 " %9.3f | %9.3f %10.4f %9.4f | %8.4f %8.4f | "
                   "%8.2f %8.2f | %8.4f %8.4f\n",
                sc->d_k, root, un->scores.std, ratio, sc->scores.std,
                sc->weights.mean_max, un->weights.mean_max,
                100.0 * sc->weights.saturated_share,
                100.0 * un->weights.saturated_share, sc->weights.jacobian_norm,
                un->weights.jacobian_norm);
        ratio_min = fmin(ratio_min, ratio);
        ratio_max = fmax(ratio_max, ratio);
        ratio_sum += ratio;
        sc_min = fmin(sc_min, sc->scores.std);
        sc_max = fmax(sc_max, sc->scores.std);
        sat_sc_max = fmax(sat_sc_max, sc->weights.saturated_share);
        jac_min = fmin(jac_min, sc->weights.jacobian_norm);
        jac_max = fmax(jac_max, sc->weights.jacobian_norm);
    }
    if (n == 0)
        return;

    /* Mean and the largest deviation from it: the whole range, not a
     * standard error, since the d_k values are not a random sample. */
    const double ratio_mean = ratio_sum / (double)n;
    const double ratio_dev = fmax(ratio_max - ratio_mean, ratio_mean - ratio_min);
    const scaling_run *first = &runs[1], *last = &runs[2 * (n - 1) + 1];
    fprintf(f, "\nconclusion: unscaled std / sqrt(d_k) = %.3f +- %.3f across "
               "d_k = %" PRId64 "..%" PRId64 ", so the unscaled\n"
               "spread grows like sqrt(d_k) (%.2f -> %.2f); the scaled std "
               "stays within [%.3f, %.3f].\n",
            ratio_mean, ratio_dev, first->d_k, last->d_k, first->scores.std,
            last->scores.std, sc_min, sc_max);
    fprintf(f, "Saturated rows without scaling: %.1f%% at d_k = %" PRId64
               " -> %.1f%% at d_k = %" PRId64 "; with scaling at most %.1f%%.\n",
            100.0 * first->weights.saturated_share, first->d_k,
            100.0 * last->weights.saturated_share, last->d_k,
            100.0 * sat_sc_max);
    fprintf(f, "Mean ||J||_F without scaling: %.3f at d_k = %" PRId64
               " -> %.3f at d_k = %" PRId64 "; with scaling within "
               "[%.3f, %.3f].\n",
            first->weights.jacobian_norm, first->d_k,
            last->weights.jacobian_norm, last->d_k, jac_min, jac_max);
}

int report_csv(FILE *f, const bench_setup *s, const scaling_run *runs,
               size_t m)
{
    fprintf(f, "d_k,scaling,scale,batch,heads,q_len,kv_len,min,max,mean,std,"
               "mean_max_weight,mean_entropy,entropy_ratio,saturated_share,"
               "jacobian_norm,jacobian_median,jacobian_p10\n");
    for (size_t i = 0; i < m; ++i) {
        const scaling_run *r = &runs[i];
        fprintf(f, "%" PRId64 ",%s,%.9g,%" PRId64 ",%" PRId64 ",%" PRId64
                   ",%" PRId64 ",%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,"
                   "%.9g\n",
                r->d_k, r->scaled ? "scaled" : "unscaled", r->scale, s->batch,
                s->heads, s->q_len, s->kv_len, r->scores.min, r->scores.max,
                r->scores.mean, r->scores.std, r->weights.mean_max,
                r->weights.mean_entropy, r->weights.entropy_ratio,
                r->weights.saturated_share, r->weights.jacobian_norm,
                r->weights.jacobian_p50, r->weights.jacobian_p10);
    }
    return ferror(f) ? -1 : 0;
}
