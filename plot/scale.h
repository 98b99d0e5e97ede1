/* Colours and numbers on axes, shared by heat maps and line plots. */
#ifndef PLOT_SCALE_H
#define PLOT_SCALE_H

#include <stddef.h>

#include "canvas.h"

/* viridis at t in [0, 1] (clamped; NaN gives t = 0). */
plot_rgb scale_viridis(double t);

/* Black or white, whichever reads better on this background. */
plot_rgb scale_contrast(plot_rgb background);

/* "Nice" tick values (1, 2 or 5 times a power of ten apart) inside
 * [lo, hi], at most max_n of them (max_n >= 2); returns how many were
 * written to out, and the step through *step. */
size_t scale_ticks(double lo, double hi, size_t max_n, double *out,
                   double *step);

/* value printed with as many decimals as step needs ("0.25", "-10"). */
void scale_format(char *buf, size_t size, double value, double step);

/* "10⁻³" for k = -3 (UTF-8 superscripts), "1" for 0, "10" for 1. */
void scale_decade(char *buf, size_t size, int k);

/* The smallest of 1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, ...
 * that is >= need: the stride between labelled rows or columns. */
size_t scale_stride(double need);

#endif /* PLOT_SCALE_H */
