#include "stats.h"

#include <math.h>
#include <stdlib.h>

score_stats score_stats_of(const float *x, size_t n)
{
    score_stats s = {x[0], x[0], 0.0, 0.0};
    double sum = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double v = x[i];
        sum += v;
        if (v < s.min)
            s.min = v;
        if (v > s.max)
            s.max = v;
    }
    s.mean = sum / (double)n;
    /* Second pass about the mean: no cancellation between sum x^2 and n m^2. */
    double ss = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double d = x[i] - s.mean;
        ss += d * d;
    }
    s.std = sqrt(ss / (double)n);
    return s;
}

double softmax_jacobian_norm(const float *p, size_t n)
{
    double s2 = 0.0, s3 = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double v = p[i];
        s2 += v * v;
        s3 += v * v * v;
    }
    const double f2 = s2 - 2.0 * s3 + s2 * s2;
    return f2 > 0.0 ? sqrt(f2) : 0.0;   /* rounding can dip below 0 at one-hot */
}

double uniform_jacobian_norm(size_t n)
{
    return sqrt((double)n - 1.0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest rank on sorted data. */
static double percentile(const double *sorted, size_t n, double q)
{
    return sorted[(size_t)(q * (double)(n - 1) + 0.5)];
}

weight_stats weight_stats_of(const float *w, size_t rows, size_t cols,
                             double *norms)
{
    double sum_max = 0.0, sum_entropy = 0.0, sum_jacobian = 0.0;
    size_t saturated = 0;
    for (size_t r = 0; r < rows; ++r) {
        const float *p = w + r * cols;
        double mx = 0.0, h = 0.0;
        for (size_t j = 0; j < cols; ++j) {
            const double v = p[j];
            if (v > mx)
                mx = v;
            if (v > 0.0)            /* 0 ln 0 = 0 */
                h -= v * log(v);
        }
        sum_max += mx;
        sum_entropy += h;
        saturated += mx > BENCH_SATURATED;
        norms[r] = softmax_jacobian_norm(p, cols);
        sum_jacobian += norms[r];
    }
    qsort(norms, rows, sizeof *norms, cmp_double);
    weight_stats s;
    s.mean_max = sum_max / (double)rows;
    s.mean_entropy = sum_entropy / (double)rows;
    s.entropy_ratio = s.mean_entropy / log((double)cols);
    s.saturated_share = (double)saturated / (double)rows;
    s.jacobian_norm = sum_jacobian / (double)rows;
    s.jacobian_p10 = percentile(norms, rows, 0.10);
    s.jacobian_p50 = percentile(norms, rows, 0.50);
    return s;
}
