/* What the heat maps and line plots draw on: a cairo context plus the text
 * route. Shapes always go through cairo. Text goes through cairo's toy text
 * API for the PNG; for the SVG it is kept as real <text> elements (cairo's
 * SVG surface would turn it into glyph outlines, which no reader, search
 * or screen reader sees as text), measured with the same font so the
 * layout is the same in both. */
#ifndef PLOT_CANVAS_H
#define PLOT_CANVAS_H

#include <cairo.h>
#include <stddef.h>

#include "sbuf.h"

typedef struct plot_rgb {
    double r, g, b;
} plot_rgb;

typedef struct canvas {
    cairo_t *cr;
    sbuf *svg_text;     /* SVG: <text> elements collect here; NULL: PNG */
} canvas;

enum { ALIGN_LEFT, ALIGN_CENTRE, ALIGN_RIGHT };
enum { TEXT_NORMAL = 0, TEXT_BOLD = 1 };

/* The font every picture uses, and the fallbacks an SVG viewer may take. */
#define CANVAS_FONT "DejaVu Sans"
#define CANVAS_SVG_FONTS "'DejaVu Sans', Verdana, sans-serif"

/* The advance width of s at this size, in user units. */
double canvas_text_width(canvas *c, const char *s, double size, int weight);

/* s with its vertical middle at y (x-height centred), aligned at x;
 * vertical: turned 90 degrees anticlockwise (reads bottom to top), the
 * alignment then along the turned line. */
void canvas_text(canvas *c, double x, double y, const char *s, double size,
                 int weight, int align, int vertical, plot_rgb colour);

void canvas_set(canvas *c, plot_rgb colour);

/* Line height of a block of text, in font sizes. */
#define CANVAS_LINE 1.4

/* The number of '\n'-separated lines of s (NULL: 0), their widest width
 * through *w. */
size_t canvas_lines_measure(canvas *c, const char *s, double size, double *w);

/* Those lines left-aligned at x, the first line's box starting at y. */
void canvas_lines(canvas *c, double x, double y, const char *s, double size,
                  plot_rgb colour);

#endif /* PLOT_CANVAS_H */
