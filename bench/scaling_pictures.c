/* The scaling bench's pictures (attention_plot: PNG and SVG): the weights
 * as heat maps per d_k, the scores' distribution at the headline d_k, and
 * the sweep over d_k. Each returns PLOT_OK or the first failure; printing
 * is the caller's. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "scaling.h"

enum { HIST_BINS = 320 };

/* Colour = log10(weight) from here (darkest; also exact 0) to 0. */
#define LOG10_MIN (-5.0)

static plot_status save_heatmap(const plot_heatmap *h, const char *dir,
                                const char *name)
{
    char stem[4096];
    if (snprintf(stem, sizeof stem, "%s/%s", dir, name) >= (int)sizeof stem)
        return PLOT_ERR_ARGUMENT;
    return plot_heatmap_save(h, stem, PLOT_BOTH);
}

static plot_status save_figure(const plot_figure *f, const char *dir,
                               const char *name)
{
    char stem[4096];
    if (snprintf(stem, sizeof stem, "%s/%s", dir, name) >= (int)sizeof stem)
        return PLOT_ERR_ARGUMENT;
    return plot_figure_save(f, stem, PLOT_BOTH);
}

plot_status scaling_picture_weights(const char *dir, const scaling_setup *s,
                                    int64_t d_k, const float *const w[2])
{
    char name[64], title[128], scaled[64], note[512];
    snprintf(name, sizeof name, "weights_dk%" PRId64, d_k);
    snprintf(title, sizeof title,
             "Attention weights at d_k = %" PRId64 ", head 0 of %" PRId64, d_k,
             s->heads);
    snprintf(scaled, sizeof scaled, "scaled by 1/\u221a%" PRId64, d_k);
    snprintf(note, sizeof note,
             "Row = one query's softmax over the %" PRId64 " keys (each row sums "
             "to 1). Q, K ~ N(0, 1), seed %" PRIu64 ".\n"
             "Colour on a log scale: weights below 10\u207b\u2075 and exact "
             "zeros take the darkest colour.\n"
             "Scaled rows spread over many keys; unscaled rows put almost all "
             "their weight on one key (a bright dot in a dark row).",
             s->kv_len, s->seed);
    const plot_panel panels[2] = {{scaled, w[0]}, {"unscaled (scale 1)", w[1]}};
    const plot_heatmap h = {
        .title = title, .x_label = "key", .y_label = "query",
        .rows = (size_t)s->q_len, .cols = (size_t)s->kv_len,
        .panels = panels, .n_panels = 2,
        .bar_label = "attention weight (log scale)",
        .lo = LOG10_MIN, .hi = 0.0, .log10 = 1, .values = 0, .note = note};
    return save_heatmap(&h, dir, name);
}

/* Density histogram over [lo, hi]: edges (HIST_BINS + 1), heights (HIST_BINS). */
static void histogram(const float *x, size_t n, double lo, double hi,
                      double *edges, double *height)
{
    const double width = (hi - lo) / HIST_BINS;
    for (size_t b = 0; b <= HIST_BINS; ++b)
        edges[b] = lo + width * (double)b;
    for (size_t b = 0; b < HIST_BINS; ++b)
        height[b] = 0.0;
    for (size_t i = 0; i < n; ++i) {
        long b = (long)floor((x[i] - lo) / width);
        b = b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
        height[b] += 1.0;
    }
    for (size_t b = 0; b < HIST_BINS; ++b)
        height[b] /= (double)n * width;
}

plot_status scaling_picture_scores(const char *dir, const scaling_setup *s,
                                   const scaling_run runs[2],
                                   const float *const scores[2], size_t n)
{
    double reach = 0.0;     /* symmetric range over both, whole numbers */
    for (int k = 0; k < 2; ++k)
        reach = fmax(reach, fmax(fabs(runs[k].v[S_MIN]), fabs(runs[k].v[S_MAX])));
    reach = ceil(reach);
    double *mem = malloc(2 * (2 * HIST_BINS + 1) * sizeof *mem);
    if (mem == NULL)
        return PLOT_ERR_NO_MEMORY;
    char label[2][96], title[128], name[64], note[512];
    plot_series series[2];
    for (int k = 0; k < 2; ++k) {
        double *edges = mem + k * (2 * HIST_BINS + 1), *height = edges + HIST_BINS + 1;
        histogram(scores[k], n, -reach, reach, edges, height);
        snprintf(label[k], sizeof label[k], "%s (std %.2f)",
                 k == 0 ? "scaled by 1/\u221ad_k" : "unscaled", runs[k].v[S_STD]);
        series[k] = (plot_series){label[k], edges, height, HIST_BINS, PLOT_STEPS};
    }
    const int64_t d_k = runs[0].d_k;
    snprintf(title, sizeof title,
             "Scores q\u00b7k at d_k = %" PRId64 ", scaled and unscaled", d_k);
    snprintf(name, sizeof name, "scores_dk%" PRId64, d_k);
    snprintf(note, sizeof note,
             "All %zu scores of B = %" PRId64 ", H = %" PRId64 ", Tq = Tk = %"
             PRId64 " (Q, K ~ N(0, 1), seed %" PRIu64 "), %d bins.\n"
             "q\u00b7k sums d_k products of variance 1: its std is "
             "\u221ad_k = %.0f. Dividing by \u221ad_k brings it back to 1, where "
             "the softmax is not saturated.",
             n, s->batch, s->heads, s->q_len, s->seed, HIST_BINS,
             sqrt((double)d_k));
    const plot_axes axes = {
        .x_label = "score (what the softmax sees)", .y_label = "density",
        .series = series, .n_series = 2};
    const plot_figure f = {title, &axes, 1, 1, note};
    const plot_status st = save_figure(&f, dir, name);
    free(mem);
    return st;
}

plot_status scaling_picture_sweep(const char *dir, const scaling_setup *s,
                                  const scaling_run *runs, size_t n)
{
    enum { MAX_N = 16, PANELS = 6 };
    if (n > MAX_N)
        return PLOT_ERR_ARGUMENT;
    static const struct {
        const char *title, *y_label;
        int stat;
        double mul, lo, hi;
    } what[PANELS] = {
        {"score std", "std of q\u00b7k \u00d7 scale", S_STD, 1.0, 0.0, 0.0},
        {"saturated rows (max weight > 0.99)", "share of rows [%]", W_SATURATED,
         100.0, 0.0, 100.0},
        {"normalised entropy H / ln(Tk)", "1 = uniform, 0 = one-hot", W_RATIO,
         1.0, 0.0, 1.0},
        {"softmax Jacobian \u2016J\u2016_F: mean row", "gradient that gets through",
         J_MEAN, 1.0, 0.0, 0.0},
        {"\u2016J\u2016_F: median row", "gradient that gets through", J_P50,
         1.0, 0.0, 0.0},
        {"\u2016J\u2016_F: 10th percentile row", "gradient that gets through",
         J_P10, 1.0, 0.0, 0.0}};
    double x[MAX_N], y[PANELS][2][MAX_N];
    plot_series series[PANELS][2];
    plot_axes axes[PANELS];
    for (size_t i = 0; i < n; ++i)
        x[i] = (double)runs[2 * i].d_k;
    for (int p = 0; p < PANELS; ++p) {
        for (int k = 0; k < 2; ++k) {
            for (size_t i = 0; i < n; ++i)
                y[p][k][i] = what[p].mul * runs[2 * i + k].v[what[p].stat];
            series[p][k] = (plot_series){
                k == 0 ? "scaled by 1/\u221ad_k" : "unscaled (scale 1)", x,
                y[p][k], n, PLOT_LINE};
        }
        axes[p] = (plot_axes){.title = what[p].title, .x_label = "d_k (log scale)",
                              .y_label = what[p].y_label, .log_x = 1,
                              .x_ticks = x, .n_x_ticks = n, .y_lo = what[p].lo,
                              .y_hi = what[p].hi, .series = series[p],
                              .n_series = 2};
    }
    char note[512];
    snprintf(note, sizeof note,
             "Each point: %" PRId64 " softmax rows over Tk = %" PRId64
             " keys (B = %" PRId64 ", H = %" PRId64 ", Tq = %" PRId64
             "), Q, K ~ N(0, 1), seed %" PRIu64 ".\n"
             "Unscaled, the scores' spread grows like \u221ad_k and more and "
             "more rows become one-hot: their Jacobian, the gradient the softmax "
             "lets through, collapses\n"
             "(10th percentile, then median). The mean hides it at first: "
             "unscaled rows not yet saturated sit on a few keys, where "
             "\u2016J\u2016_F is largest (0.5 at two keys of 1/2).\n"
             "Scaled by 1/\u221ad_k, each of them stays in a narrow band at "
             "every d_k.",
             s->batch * s->heads * s->q_len, s->kv_len, s->batch, s->heads,
             s->q_len, s->seed);
    const plot_figure f = {"Why attention divides by \u221ad_k: the sweep over d_k",
                           axes, PANELS, 3, note};
    return save_figure(&f, dir, "sweep");
}
