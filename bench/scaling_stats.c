/* The scaling bench's statistics, all accumulated in double. */
#include <math.h>
#include <stdlib.h>

#include "scaling.h"

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void scaling_stats(const float *x, size_t n, const float *w, size_t rows,
                   size_t cols, double *norms, double v[N_STATS])
{
    double sum = 0.0, ss = 0.0, lo = x[0], hi = x[0];
    for (size_t i = 0; i < n; ++i) {
        sum += x[i];
        lo = fmin(lo, x[i]);
        hi = fmax(hi, x[i]);
    }
    const double mean = sum / (double)n;
    for (size_t i = 0; i < n; ++i)  /* about the mean: no cancellation */
        ss += (x[i] - mean) * (x[i] - mean);
    v[S_MIN] = lo;
    v[S_MAX] = hi;
    v[S_MEAN] = mean;
    v[S_STD] = sqrt(ss / (double)n);

    double sum_max = 0.0, sum_h = 0.0, sum_j = 0.0, saturated = 0.0;
    for (size_t r = 0; r < rows; ++r) {
        const float *p = w + r * cols;
        double mx = 0.0, h = 0.0, s2 = 0.0, s3 = 0.0;
        for (size_t j = 0; j < cols; ++j) {
            const double q = p[j];
            mx = fmax(mx, q);
            if (q > 0.0)            /* 0 ln 0 = 0 */
                h -= q * log(q);
            s2 += q * q;
            s3 += q * q * q;
        }
        /* ||J||_F^2 = sum p^2 - 2 sum p^3 + (sum p^2)^2, O(n); rounding
         * can dip below 0 at one-hot. */
        const double f2 = s2 - 2.0 * s3 + s2 * s2;
        norms[r] = f2 > 0.0 ? sqrt(f2) : 0.0;
        sum_max += mx;
        sum_h += h;
        saturated += mx > SATURATED;
        sum_j += norms[r];
    }
    qsort(norms, rows, sizeof *norms, cmp_double);
    v[W_MAX] = sum_max / (double)rows;
    v[W_ENTROPY] = sum_h / (double)rows;
    v[W_RATIO] = v[W_ENTROPY] / log((double)cols);
    v[W_SATURATED] = saturated / (double)rows;
    v[J_MEAN] = sum_j / (double)rows;
    /* nearest rank */
    v[J_P50] = norms[(size_t)(0.50 * (double)(rows - 1) + 0.5)];
    v[J_P10] = norms[(size_t)(0.10 * (double)(rows - 1) + 0.5)];
}
