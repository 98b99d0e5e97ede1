/* One drawing, two files: the PNG and SVG writers around a draw function. */
#ifndef PLOT_OUTPUT_H
#define PLOT_OUTPUT_H

#include "canvas.h"
#include "plot.h"

/* The picture's size in pixels (SVG user units), measured on c. */
typedef void (*plot_size_fn)(canvas *c, const void *what, double *w, double *h);
/* Draws the picture on c, white background already painted. */
typedef void (*plot_draw_fn)(canvas *c, const void *what, double w, double h);

/* Writes <stem>.png and/or <stem>.svg (formats) from the same calls;
 * title goes into the SVG's <title>. */
plot_status plot_render(const void *what, plot_size_fn size, plot_draw_fn draw,
                        const char *title, const char *stem, unsigned formats);

#endif /* PLOT_OUTPUT_H */
