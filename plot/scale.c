/* The colour map, contrast, tick values and their labels. */
#include "scale.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* viridis, sampled at t = 0, 0.1, ..., 1 from matplotlib's colour map of
 * that name (Stéfan van der Walt and Nathaniel Smith, 2015, released CC0;
 * matplotlib/_cm_listed.py _viridis_data, 256 entries). It was designed to
 * be perceptually uniform and to keep increasing in lightness, so it still
 * reads printed in grey and for the common colour-vision deficiencies.
 * Linear interpolation between these 11 stops stays within a few 8-bit
 * levels of the full table. */
static const unsigned char viridis[11][3] = {
    {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
    {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
    {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};

plot_rgb scale_viridis(double t)
{
    const double x = 10.0 * (t > 0.0 ? (t < 1.0 ? t : 1.0) : 0.0);
    const int i = x < 9.0 ? (int)x : 9;
    const double f = x - i;
    double c[3];
    for (int k = 0; k < 3; ++k)
        c[k] = (viridis[i][k] + (viridis[i + 1][k] - viridis[i][k]) * f) / 255.0;
    return (plot_rgb){c[0], c[1], c[2]};
}

static double linear(double c)   /* sRGB to linear light */
{
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

plot_rgb scale_contrast(plot_rgb bg)
{
    /* WCAG relative luminance; 0.18 is where black and white text have
     * the same contrast ratio against the background. */
    const double y = 0.2126 * linear(bg.r) + 0.7152 * linear(bg.g) +
                     0.0722 * linear(bg.b);
    return y > 0.18 ? (plot_rgb){0, 0, 0} : (plot_rgb){1, 1, 1};
}

size_t scale_ticks(double lo, double hi, size_t max_n, double *out,
                   double *step)
{
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi) || max_n < 2) {
        if (step)
            *step = 1.0;
        out[0] = lo;
        return 1;
    }
    const double raw = (hi - lo) / (double)(max_n - 1);
    const double p = pow(10.0, floor(log10(raw)));
    double s = 10.0 * p;
    for (int k = 0; k < 3; ++k) {
        const double m = (const double[]){1.0, 2.0, 5.0}[k] * p;
        if (m >= raw * (1.0 - 1e-9)) {
            s = m;
            break;
        }
    }
    size_t n = 0;
    const double eps = 1e-9 * (hi - lo);
    for (double v = ceil((lo - eps) / s) * s; v <= hi + eps && n < max_n; v += s)
        out[n++] = fabs(v) < 1e-12 * s ? 0.0 : v;
    if (step)
        *step = s;
    return n;
}

void scale_format(char *buf, size_t size, double value, double step)
{
    int decimals = step > 0.0 && step < 1.0 ? (int)ceil(-log10(step) - 1e-9) : 0;
    if (decimals > 6)
        decimals = 6;
    if (fabs(value) >= 1e6)
        snprintf(buf, size, "%.3g", value);
    else
        snprintf(buf, size, "%.*f", decimals, value);
}

void scale_decade(char *buf, size_t size, int k)
{
    static const char *const sup[10] = {
        "\u2070", "\u00b9", "\u00b2", "\u00b3", "\u2074",
        "\u2075", "\u2076", "\u2077", "\u2078", "\u2079"};
    if (k == 0 || k == 1) {
        snprintf(buf, size, "%s", k ? "10" : "1");
        return;
    }
    char digits[16];
    snprintf(digits, sizeof digits, "%d", k < 0 ? -k : k);
    snprintf(buf, size, "10%s", k < 0 ? "\u207b" : "");
    for (const char *d = digits; *d; ++d) {
        const size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%s", sup[*d - '0']);
    }
}

size_t scale_stride(double need)
{
    static const size_t nice[] = {1,   2,   4,   5,    8,    10,   16,  20,
                                  25,  32,  50,  64,   100,  128,  200, 250,
                                  256, 500, 512, 1000, 1024, 2000, 2048, 5000};
    for (size_t i = 0; i < sizeof nice / sizeof nice[0]; ++i)
        if ((double)nice[i] >= need)
            return nice[i];
    return need < 1e9 ? (size_t)ceil(need) : 1000000000;
}
