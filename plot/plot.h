/*
 * attention_plot: labelled heat maps and line plots for the benches and the
 * examples, drawn with cairo into PNG (for viewing) and SVG (for documents)
 * from one drawing code path. Not part of libattention: nothing installed
 * depends on it. Built without cairo, every save returns PLOT_ERR_OFF and
 * plot_off_message() says how to turn pictures on.
 *
 * Calls return a plot_status and print nothing. Inputs are only read.
 */
#ifndef ATTENTION_PLOT_H
#define ATTENTION_PLOT_H

#include <stddef.h>

typedef enum plot_status {
    PLOT_OK = 0,
    PLOT_ERR_OFF,           /* built without cairo: no pictures */
    PLOT_ERR_ARGUMENT,      /* a NULL or inconsistent field */
    PLOT_ERR_NO_MEMORY,
    PLOT_ERR_IO,            /* a file could not be written (see errno) */
    PLOT_ERR_CAIRO          /* cairo reported an error while drawing */
} plot_status;

/* A static message for every status; never NULL. */
const char *plot_strerror(plot_status s);

/* 1 when this build draws pictures (it has cairo), 0 otherwise. */
int plot_available(void);

/* What a program prints when pictures are off: why, and how to turn them
 * on. Static; mentions the package and the CMake option. */
const char *plot_off_message(void);

/* Frees the font caches cairo and fontconfig keep for the whole process
 * (they would show as leaks in valgrind and LeakSanitizer). Call it once,
 * at the end, after the last picture and with no cairo object left; it
 * does nothing when pictures are off. */
void plot_release(void);

/* Output formats of a save; OR them together. */
enum { PLOT_PNG = 1, PLOT_SVG = 2, PLOT_BOTH = PLOT_PNG | PLOT_SVG };

/* ---- heat maps ------------------------------------------------------- */

/* One matrix of a heat map, drawn as a panel with its own title. */
typedef struct plot_panel {
    const char *title;      /* may be NULL */
    const float *values;    /* (rows, cols), row-major */
} plot_panel;

/* Panels side by side sharing axes, tick labels and one colour bar.
 * Colour: viridis (perceptually uniform, monotone in lightness, so it reads
 * in grey too) from lo (dark) to hi (bright); with log10 set, the colour
 * follows log10(value) and lo, hi are decades (value <= 0 takes lo). */
typedef struct plot_heatmap {
    const char *title;                  /* the figure's title */
    const char *x_label, *y_label;      /* axis labels; may be NULL */
    const char *const *x_ticks;         /* (cols) column labels; NULL: 0, 1, ... */
    const char *const *y_ticks;         /* (rows) row labels; NULL: 0, 1, ... */
    size_t rows, cols;
    const plot_panel *panels;           /* (n_panels) */
    size_t n_panels;                    /* 1 to 8 */
    const char *bar_label;              /* the colour bar's label; may be NULL */
    double lo, hi;                      /* colour range; lo == hi: the data's */
    int log10;                          /* 1: colour by log10(value) */
    int values;                         /* write each value in its cell:
                                           -1 when rows, cols <= 16; 0 no; 1 yes */
    const char *value_format;           /* printf format of those; NULL: "%.2f" */
    const char *note;                   /* a line under the figure; may be NULL */
} plot_heatmap;

/* Writes <stem>.png and/or <stem>.svg. */
plot_status plot_heatmap_save(const plot_heatmap *h, const char *stem,
                              unsigned formats);

/* ---- line plots ------------------------------------------------------ */

enum { PLOT_LINE = 0,   /* points joined, with markers */
       PLOT_STEPS = 1   /* a histogram outline: x are the bin edges (n + 1),
                           y the bar heights (n) */ };

/* One series. Series i of every panel has the same colour, dash and
 * marker, so the figure's one legend serves all panels. */
typedef struct plot_series {
    const char *label;      /* shown in the legend */
    const double *x, *y;    /* (n) points; PLOT_STEPS: x has n + 1 edges */
    size_t n;
    int style;              /* PLOT_LINE or PLOT_STEPS */
} plot_series;

typedef struct plot_axes {
    const char *title, *x_label, *y_label;    /* may be NULL */
    int log_x;                  /* 1: logarithmic x axis (x > 0) */
    const double *x_ticks;      /* (n_x_ticks) tick positions; NULL: automatic */
    size_t n_x_ticks;
    double y_lo, y_hi;          /* y range; y_lo == y_hi: from the data */
    const plot_series *series;  /* (n_series), 1 to 6 */
    size_t n_series;
} plot_axes;

/* Panels in a grid of `columns` columns, one title, one legend (from the
 * first panel's series labels) and an optional note underneath. */
typedef struct plot_figure {
    const char *title;
    const plot_axes *axes;      /* (n_axes), 1 to 8 */
    size_t n_axes;
    int columns;                /* 1 or more */
    const char *note;           /* may be NULL */
} plot_figure;

/* Writes <stem>.png and/or <stem>.svg. */
plot_status plot_figure_save(const plot_figure *f, const char *stem,
                             unsigned formats);

#endif /* ATTENTION_PLOT_H */
