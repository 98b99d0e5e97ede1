/* Heat maps: panels of cells side by side with a title, panel titles, axis
 * and tick labels, a colour bar with values and a label, the value in each
 * cell when the matrix is small. Layout is computed once from text widths
 * and used by the size query and the drawing alike. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "scale.h"

enum { MAX_PANELS = 8, MAX_SIDE = 4096, SMALL = 16, VECTOR_CELLS = 64 * 64 };

#define MARGIN 16.0
#define TITLE 18.0          /* font sizes, px */
#define LABEL 14.0
#define TICK 12.0
#define NOTE 12.0
#define TICK_LEN 4.0
#define PANEL_GAP 24.0
#define BAR_GAP 24.0
#define BAR_W 16.0
#define BAR_MIN_H 160.0
#define TARGET 512.0        /* about this many px along the longer side */

static const plot_rgb ink = {0.1, 0.1, 0.1}, frame = {0.35, 0.35, 0.35},
                      grey = {0.3, 0.3, 0.3};

typedef struct layout {
    int show_values;
    double cell, value_size;
    double panel_w, panel_h, top, left;
    size_t x_stride, y_stride;
    int x_vertical;
    double x_tick_h, y_tick_w;
    double bar_x, bar_h, bar_ticks_w;
    double lo, hi;           /* colour range (decades when log10) */
    double note_y;
    double w, h;
} layout;

static double panel_x(const layout *L, size_t k)
{
    return L->left + (double)k * (L->panel_w + PANEL_GAP);
}

static void tick_label(const char *const *given, size_t i, char *buf, size_t n)
{
    if (given != NULL && given[i] != NULL)
        snprintf(buf, n, "%s", given[i]);
    else
        snprintf(buf, n, "%zu", i);
}

static void value_label(const plot_heatmap *h, double v, char *buf, size_t n)
{
    snprintf(buf, n, h->value_format ? h->value_format : "%.2f", v);
}

static double widest_tick(canvas *c, const char *const *given, size_t n)
{
    double w = 0.0;
    char buf[128];
    for (size_t i = 0; i < n; ++i) {
        tick_label(given, i, buf, sizeof buf);
        w = fmax(w, canvas_text_width(c, buf, TICK, TEXT_NORMAL));
    }
    return w;
}

static void colour_range(const plot_heatmap *h, layout *L)
{
    double lo = INFINITY, hi = -INFINITY;
    if (h->lo != h->hi) {
        lo = fmin(h->lo, h->hi);
        hi = fmax(h->lo, h->hi);
    } else {
        for (size_t k = 0; k < h->n_panels; ++k)
            for (size_t i = 0; i < h->rows * h->cols; ++i) {
                const double v = h->panels[k].values[i];
                if (!isfinite(v) || (h->log10 && v <= 0.0))
                    continue;
                const double x = h->log10 ? log10(v) : v;
                lo = fmin(lo, x);
                hi = fmax(hi, x);
            }
        if (h->log10) {
            lo = floor(lo);
            hi = ceil(hi);
        }
    }
    if (!(lo < hi)) {       /* no data, or all equal */
        lo = isfinite(lo) ? lo : 0.0;
        hi = lo + 1.0;
    }
    L->lo = lo;
    L->hi = hi;
}

static double colour_t(const plot_heatmap *h, const layout *L, double v)
{
    if (h->log10)
        v = v > 0.0 ? log10(v) : L->lo;
    return (v - L->lo) / (L->hi - L->lo);
}

/* The colour bar's ticks: decades, or nice values; returns how many. */
static size_t bar_ticks(const plot_heatmap *h, const layout *L, double *t,
                        char (*label)[32])
{
    size_t n = 0;
    double step = 1.0;
    if (h->log10) {
        const int a = (int)ceil(L->lo - 1e-9), b = (int)floor(L->hi + 1e-9);
        const int every = b - a > 8 ? (b - a + 7) / 8 : 1;
        for (int k = a; k <= b && n < 12; k += every) {
            t[n] = k;
            scale_decade(label[n++], 32, k);
        }
        return n;
    }
    n = scale_ticks(L->lo, L->hi, 6, t, &step);
    for (size_t i = 0; i < n; ++i)
        scale_format(label[i], 32, t[i], step);
    return n;
}

static void lay_out(canvas *c, const plot_heatmap *h, layout *L)
{
    memset(L, 0, sizeof *L);
    colour_range(h, L);
    const size_t side = h->rows > h->cols ? h->rows : h->cols;
    L->show_values = h->values == 1 ||
                     (h->values < 0 && h->rows <= SMALL && h->cols <= SMALL);
    L->cell = fmin(72.0, fmax(1.0, floor(TARGET / (double)side)));
    if (L->show_values) {
        L->value_size = TICK;
        double widest = 0.0;
        char buf[64];
        for (size_t k = 0; k < h->n_panels; ++k)
            for (size_t i = 0; i < h->rows * h->cols; ++i) {
                value_label(h, h->panels[k].values[i], buf, sizeof buf);
                widest = fmax(widest, canvas_text_width(c, buf, TICK, TEXT_NORMAL));
            }
        L->cell = fmax(L->cell, fmax(widest + 10.0, 2.2 * TICK));
    }
    L->panel_w = (double)h->cols * L->cell;
    L->panel_h = (double)h->rows * L->cell;

    /* Tick labels: every stride-th row and column, as many as fit. */
    L->y_tick_w = widest_tick(c, h->y_ticks, h->rows);
    L->y_stride = scale_stride(2.0 * TICK / L->cell);
    const double x_w = widest_tick(c, h->x_ticks, h->cols);
    const size_t across = scale_stride((x_w + 8.0) / L->cell);
    const size_t upright = scale_stride(2.0 * TICK / L->cell);
    L->x_vertical = upright < across;
    L->x_stride = L->x_vertical ? upright : across;
    L->x_tick_h = L->x_vertical ? x_w + 6.0 : CANVAS_LINE * TICK;

    int panel_titles = 0;
    for (size_t k = 0; k < h->n_panels; ++k)
        panel_titles |= h->panels[k].title != NULL;
    L->top = MARGIN + (h->title ? 1.8 * TITLE : 0.0) +
             (panel_titles ? 1.8 * LABEL : 0.0);
    L->left = MARGIN + (h->y_label ? 1.6 * LABEL : 0.0) + L->y_tick_w +
              TICK_LEN + 4.0;
    L->bar_x = panel_x(L, h->n_panels) - PANEL_GAP + BAR_GAP;
    L->bar_h = fmax(L->panel_h, BAR_MIN_H);
    double t[12];
    char labels[12][32];
    const size_t nt = bar_ticks(h, L, t, labels);
    for (size_t i = 0; i < nt; ++i)
        L->bar_ticks_w = fmax(L->bar_ticks_w,
                              canvas_text_width(c, labels[i], TICK, TEXT_NORMAL));
    L->w = L->bar_x + BAR_W + TICK_LEN + 4.0 + L->bar_ticks_w +
           (h->bar_label ? 1.8 * LABEL : 0.0) + MARGIN;
    double note_w = 0.0;
    const size_t note_lines = canvas_lines_measure(c, h->note, NOTE, &note_w);
    L->note_y = L->top + fmax(L->panel_h, L->bar_h) + TICK_LEN + 2.0 +
                L->x_tick_h + (h->x_label ? 1.8 * LABEL : 0.0);
    L->h = L->note_y + (double)note_lines * CANVAS_LINE * NOTE + MARGIN;
    if (h->title)
        L->w = fmax(L->w, canvas_text_width(c, h->title, TITLE, TEXT_BOLD) +
                              2 * MARGIN);
    L->w = fmax(L->w, note_w + 2 * MARGIN);
}

/* Cells as rectangles (small matrices: crisp vectors in the SVG). */
static void cells_vector(canvas *c, const plot_heatmap *h, const layout *L,
                         const float *m, double x0)
{
    for (size_t r = 0; r < h->rows; ++r)
        for (size_t j = 0; j < h->cols; ++j) {
            canvas_set(c, scale_viridis(colour_t(h, L, m[r * h->cols + j])));
            /* a hair wider, so anti-aliasing leaves no seams */
            cairo_rectangle(c->cr, x0 + (double)j * L->cell,
                            L->top + (double)r * L->cell, L->cell + 0.5,
                            L->cell + 0.5);
            cairo_fill(c->cr);
        }
}

/* Cells as one image, a pixel per entry scaled up without smoothing (large
 * matrices: a rectangle each would make a huge SVG). */
static void cells_image(canvas *c, const plot_heatmap *h, const layout *L,
                        const float *m, double x0)
{
    cairo_surface_t *img = cairo_image_surface_create(
        CAIRO_FORMAT_RGB24, (int)h->cols, (int)h->rows);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(img);
        cells_vector(c, h, L, m, x0);   /* slow but right */
        return;
    }
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    const int stride = cairo_image_surface_get_stride(img);
    for (size_t r = 0; r < h->rows; ++r) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)stride * r);
        for (size_t j = 0; j < h->cols; ++j) {
            const plot_rgb p = scale_viridis(colour_t(h, L, m[r * h->cols + j]));
            row[j] = (uint32_t)(p.r * 255.0 + 0.5) << 16 |
                     (uint32_t)(p.g * 255.0 + 0.5) << 8 |
                     (uint32_t)(p.b * 255.0 + 0.5);
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_t *cr = c->cr;
    cairo_save(cr);
    cairo_translate(cr, x0, L->top);
    cairo_scale(cr, L->cell, L->cell);
    cairo_set_source_surface(cr, img, 0.0, 0.0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0.0, 0.0, (double)h->cols, (double)h->rows);
    cairo_fill(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
}

static void values(canvas *c, const plot_heatmap *h, const layout *L,
                   const float *m, double x0)
{
    char buf[64];
    for (size_t r = 0; r < h->rows; ++r)
        for (size_t j = 0; j < h->cols; ++j) {
            const double v = m[r * h->cols + j];
            value_label(h, v, buf, sizeof buf);
            canvas_text(c, x0 + ((double)j + 0.5) * L->cell,
                        L->top + ((double)r + 0.5) * L->cell, buf, L->value_size,
                        TEXT_NORMAL, ALIGN_CENTRE, 0,
                        scale_contrast(scale_viridis(colour_t(h, L, v))));
        }
}

static void line(cairo_t *cr, double x0, double y0, double x1, double y1)
{
    cairo_move_to(cr, x0, y0);
    cairo_line_to(cr, x1, y1);
}

static void axes(canvas *c, const plot_heatmap *h, const layout *L)
{
    cairo_t *cr = c->cr;
    char buf[128];
    canvas_set(c, frame);
    cairo_set_line_width(cr, 1.0);
    for (size_t r = 0; r < h->rows; r += L->y_stride) {
        const double y = L->top + ((double)r + 0.5) * L->cell;
        line(cr, L->left - TICK_LEN, y, L->left, y);
    }
    const double bottom = L->top + L->panel_h;
    for (size_t k = 0; k < h->n_panels; ++k) {
        const double x0 = panel_x(L, k);
        cairo_rectangle(cr, x0 - 0.5, L->top - 0.5, L->panel_w + 1.0,
                        L->panel_h + 1.0);
        for (size_t j = 0; j < h->cols; j += L->x_stride) {
            const double x = x0 + ((double)j + 0.5) * L->cell;
            line(cr, x, bottom + 0.5, x, bottom + TICK_LEN);
        }
    }
    cairo_stroke(cr);
    for (size_t r = 0; r < h->rows; r += L->y_stride) {
        tick_label(h->y_ticks, r, buf, sizeof buf);
        canvas_text(c, L->left - TICK_LEN - 3.0,
                    L->top + ((double)r + 0.5) * L->cell, buf, TICK, TEXT_NORMAL,
                    ALIGN_RIGHT, 0, ink);
    }
    for (size_t k = 0; k < h->n_panels; ++k)
        for (size_t j = 0; j < h->cols; j += L->x_stride) {
            tick_label(h->x_ticks, j, buf, sizeof buf);
            const double x = panel_x(L, k) + ((double)j + 0.5) * L->cell;
            const double y = bottom + TICK_LEN + 3.0;
            if (L->x_vertical)
                canvas_text(c, x, y, buf, TICK, TEXT_NORMAL, ALIGN_RIGHT, 1, ink);
            else
                canvas_text(c, x, y + 0.5 * CANVAS_LINE * TICK, buf, TICK,
                            TEXT_NORMAL, ALIGN_CENTRE, 0, ink);
        }
    const double span = panel_x(L, h->n_panels) - PANEL_GAP - L->left;
    if (h->x_label)
        canvas_text(c, L->left + span / 2, bottom + TICK_LEN + 2.0 + L->x_tick_h +
                                               0.9 * LABEL,
                    h->x_label, LABEL, TEXT_NORMAL, ALIGN_CENTRE, 0, ink);
    if (h->y_label)
        canvas_text(c, MARGIN + 0.6 * LABEL, L->top + L->panel_h / 2, h->y_label,
                    LABEL, TEXT_NORMAL, ALIGN_CENTRE, 1, ink);
}

static void colour_bar(canvas *c, const plot_heatmap *h, const layout *L)
{
    cairo_t *cr = c->cr;
    const double y0 = L->top, y1 = L->top + L->bar_h;
    /* viridis is linear between its stops, so an 11-stop gradient is the
     * colour map itself (and stays a vector in the SVG). */
    cairo_pattern_t *g = cairo_pattern_create_linear(0.0, y1, 0.0, y0);
    for (int i = 0; i <= 10; ++i) {
        const plot_rgb p = scale_viridis(i / 10.0);
        cairo_pattern_add_color_stop_rgb(g, i / 10.0, p.r, p.g, p.b);
    }
    cairo_rectangle(cr, L->bar_x, y0, BAR_W, L->bar_h);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);
    canvas_set(c, frame);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, L->bar_x - 0.5, y0 - 0.5, BAR_W + 1.0, L->bar_h + 1.0);
    double t[12];
    char labels[12][32];
    const size_t n = bar_ticks(h, L, t, labels);
    const double right = L->bar_x + BAR_W;
    for (size_t i = 0; i < n; ++i) {
        const double y = y1 - (t[i] - L->lo) / (L->hi - L->lo) * L->bar_h;
        line(cr, right, y, right + TICK_LEN, y);
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < n; ++i) {
        const double y = y1 - (t[i] - L->lo) / (L->hi - L->lo) * L->bar_h;
        canvas_text(c, right + TICK_LEN + 3.0, y, labels[i], TICK, TEXT_NORMAL,
                    ALIGN_LEFT, 0, ink);
    }
    if (h->bar_label)
        canvas_text(c, right + TICK_LEN + 4.0 + L->bar_ticks_w + 1.0 * LABEL,
                    y0 + L->bar_h / 2, h->bar_label, LABEL, TEXT_NORMAL,
                    ALIGN_CENTRE, 1, ink);
}

static void size_fn(canvas *c, const void *what, double *w, double *h)
{
    layout L;
    lay_out(c, what, &L);
    *w = L.w;
    *h = L.h;
}

static void draw_fn(canvas *c, const void *what, double w, double height)
{
    const plot_heatmap *h = what;
    layout L;
    lay_out(c, h, &L);
    (void)height;
    if (h->title)
        canvas_text(c, w / 2, MARGIN + 0.7 * TITLE, h->title, TITLE, TEXT_BOLD,
                    ALIGN_CENTRE, 0, ink);
    const int vector = h->rows * h->cols <= VECTOR_CELLS;
    for (size_t k = 0; k < h->n_panels; ++k) {
        const double x0 = panel_x(&L, k);
        if (h->panels[k].title)
            canvas_text(c, x0 + L.panel_w / 2, L.top - 0.9 * LABEL,
                        h->panels[k].title, LABEL, TEXT_NORMAL, ALIGN_CENTRE, 0,
                        ink);
        if (vector)
            cells_vector(c, h, &L, h->panels[k].values, x0);
        else
            cells_image(c, h, &L, h->panels[k].values, x0);
        if (L.show_values)
            values(c, h, &L, h->panels[k].values, x0);
    }
    axes(c, h, &L);
    colour_bar(c, h, &L);
    if (h->note)
        canvas_lines(c, MARGIN, L.note_y, h->note, NOTE, grey);
}

plot_status plot_heatmap_save(const plot_heatmap *h, const char *stem,
                              unsigned formats)
{
    if (h == NULL || h->panels == NULL || h->n_panels == 0 ||
        h->n_panels > MAX_PANELS || h->rows == 0 || h->cols == 0 ||
        h->rows > MAX_SIDE || h->cols > MAX_SIDE || !isfinite(h->lo) ||
        !isfinite(h->hi))
        return PLOT_ERR_ARGUMENT;
    for (size_t k = 0; k < h->n_panels; ++k)
        if (h->panels[k].values == NULL)
            return PLOT_ERR_ARGUMENT;
    return plot_render(h, size_fn, draw_fn, h->title, stem, formats);
}
