/* Line plots and histogram outlines: a grid of panels with titles, axis
 * and tick labels, light grid lines, one legend and a note. Series i looks
 * the same in every panel: a colour, and a dash and marker of its own so
 * that the series still differ printed in grey. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "output.h"
#include "scale.h"

enum { MAX_AXES = 8, MAX_SERIES = 6, MAX_TICKS = 16 };

#define MARGIN 16.0
#define TITLE 18.0
#define LABEL 14.0
#define TICK 12.0
#define NOTE 12.0
#define TICK_LEN 4.0
#define PLOT_W 320.0        /* one panel's plot area in a grid, px */
#define PLOT_H 200.0
#define ALONE_W 560.0       /* ... and alone */
#define ALONE_H 320.0
#define RIGHT_PAD 20.0
#define SAMPLE 30.0         /* legend line sample, px */

static const plot_rgb ink = {0.1, 0.1, 0.1}, frame = {0.35, 0.35, 0.35},
                      grid = {0.88, 0.88, 0.88}, grey = {0.3, 0.3, 0.3};

/* Dark blue, orange, green, purple, brown, grey: distinct hues whose
 * lightness differs too (the first two, the common pair, the most). */
static const plot_rgb palette[MAX_SERIES] = {
    {0.12, 0.30, 0.55}, {0.90, 0.50, 0.05}, {0.15, 0.55, 0.25},
    {0.45, 0.25, 0.60}, {0.55, 0.35, 0.20}, {0.45, 0.45, 0.45}};

typedef struct panel {
    double x_lo, x_hi, y_lo, y_hi;      /* range (x in log10 when log_x) */
    double x_t[MAX_TICKS], y_t[MAX_TICKS], x_step, y_step;
    size_t n_x, n_y;
} panel;

typedef struct layout {
    double plot_w, plot_h;
    double left, top_area, bottom_area, cell_w, cell_h, grid_top, note_y;
    double legend_y, legend_w;
    size_t rows;
    double w, h;
} layout;

static double tx(const plot_axes *a, double x)
{
    return a->log_x ? log10(x) : x;
}

static void data_range(const plot_axes *a, panel *p)
{
    double xl = INFINITY, xh = -INFINITY, yl = INFINITY, yh = -INFINITY;
    for (size_t s = 0; s < a->n_series; ++s) {
        const plot_series *ser = &a->series[s];
        const size_t nx = ser->n + (ser->style == PLOT_STEPS);
        for (size_t i = 0; i < nx; ++i)
            if (isfinite(tx(a, ser->x[i]))) {
                xl = fmin(xl, tx(a, ser->x[i]));
                xh = fmax(xh, tx(a, ser->x[i]));
            }
        for (size_t i = 0; i < ser->n; ++i)
            if (isfinite(ser->y[i])) {
                yl = fmin(yl, ser->y[i]);
                yh = fmax(yh, ser->y[i]);
            }
        if (ser->style == PLOT_STEPS)
            yl = fmin(yl, 0.0);     /* bars stand on zero */
    }
    for (size_t i = 0; a->x_ticks && i < a->n_x_ticks; ++i) {
        xl = fmin(xl, tx(a, a->x_ticks[i]));
        xh = fmax(xh, tx(a, a->x_ticks[i]));
    }
    if (!(xl < xh)) {
        xl = isfinite(xl) ? xl - 1.0 : 0.0;
        xh = xl + 2.0;
    }
    if (!(yl < yh)) {
        yl = isfinite(yl) ? yl - 1.0 : 0.0;
        yh = yl + 2.0;
    }
    p->x_lo = xl;
    p->x_hi = xh;
    p->y_lo = yl;
    p->y_hi = yh;
}

static void ranges(const plot_axes *a, panel *p)
{
    data_range(a, p);
    int steps = 0;
    for (size_t s = 0; s < a->n_series; ++s)
        steps |= a->series[s].style == PLOT_STEPS;
    if (!steps) {                       /* room for the end markers */
        const double pad = 0.05 * (p->x_hi - p->x_lo);
        p->x_lo -= pad;
        p->x_hi += pad;
    }
    if (a->y_lo != a->y_hi) {
        p->y_lo = fmin(a->y_lo, a->y_hi);
        p->y_hi = fmax(a->y_lo, a->y_hi);
        p->n_y = scale_ticks(p->y_lo, p->y_hi, 6, p->y_t, &p->y_step);
    } else {                            /* out to the nearest ticks */
        scale_ticks(p->y_lo, p->y_hi, 6, p->y_t, &p->y_step);
        p->y_lo = floor(p->y_lo / p->y_step + 1e-9) * p->y_step;
        p->y_hi = ceil(p->y_hi / p->y_step - 1e-9) * p->y_step;
        p->n_y = 0;
        for (double v = p->y_lo; v <= p->y_hi + 1e-9 * p->y_step &&
                                 p->n_y < MAX_TICKS; v += p->y_step)
            p->y_t[p->n_y++] = fabs(v) < 1e-12 * p->y_step ? 0.0 : v;
    }
    if (a->x_ticks != NULL) {
        p->n_x = a->n_x_ticks < MAX_TICKS ? a->n_x_ticks : MAX_TICKS;
        for (size_t i = 0; i < p->n_x; ++i)
            p->x_t[i] = a->x_ticks[i];
        p->x_step = 0.0;
    } else {
        p->n_x = scale_ticks(p->x_lo, p->x_hi, 7, p->x_t, &p->x_step);
    }
}

static void x_label_text(const panel *p, size_t i, char *buf, size_t n)
{
    if (p->x_step == 0.0)
        snprintf(buf, n, "%g", p->x_t[i]);
    else
        scale_format(buf, n, p->x_t[i], p->x_step);
}

static double legend_width(canvas *c, const plot_figure *f)
{
    double w = 0.0;
    const plot_axes *a = &f->axes[0];
    for (size_t s = 0; s < a->n_series; ++s)
        w += SAMPLE + 6.0 +
             canvas_text_width(c, a->series[s].label ? a->series[s].label : "",
                               TICK, TEXT_NORMAL) +
             (s + 1 < a->n_series ? 24.0 : 0.0);
    return w;
}

static void lay_out(canvas *c, const plot_figure *f, layout *L)
{
    memset(L, 0, sizeof *L);
    double tick_w = 0.0;
    int y_labels = 0, x_labels = 0, titles = 0;
    for (size_t k = 0; k < f->n_axes; ++k) {
        const plot_axes *a = &f->axes[k];
        panel p;
        ranges(a, &p);
        char buf[64];
        for (size_t i = 0; i < p.n_y; ++i) {
            scale_format(buf, sizeof buf, p.y_t[i], p.y_step);
            tick_w = fmax(tick_w, canvas_text_width(c, buf, TICK, TEXT_NORMAL));
        }
        y_labels |= a->y_label != NULL;
        x_labels |= a->x_label != NULL;
        titles |= a->title != NULL;
    }
    const size_t cols = (size_t)f->columns < f->n_axes ? (size_t)f->columns
                                                       : f->n_axes;
    L->rows = (f->n_axes + cols - 1) / cols;
    L->plot_w = cols == 1 ? ALONE_W : PLOT_W;
    L->plot_h = cols == 1 ? ALONE_H : PLOT_H;
    L->left = (y_labels ? 1.6 * LABEL : 0.0) + tick_w + TICK_LEN + 4.0;
    L->top_area = titles ? 1.8 * LABEL : 0.6 * LABEL;
    L->bottom_area = TICK_LEN + 2.0 + CANVAS_LINE * TICK +
                     (x_labels ? 1.8 * LABEL : 0.0);
    L->cell_w = L->left + L->plot_w + RIGHT_PAD;
    L->cell_h = L->top_area + L->plot_h + L->bottom_area;
    L->legend_y = MARGIN + (f->title ? 1.8 * TITLE : 0.0) + 0.6 * TICK;
    L->legend_w = legend_width(c, f);
    L->grid_top = L->legend_y + 1.4 * TICK;
    L->note_y = L->grid_top + (double)L->rows * L->cell_h + 4.0;
    double note_w = 0.0;
    const size_t lines = canvas_lines_measure(c, f->note, NOTE, &note_w);
    L->w = 2 * MARGIN + (double)cols * L->cell_w;
    L->w = fmax(L->w, note_w + 2 * MARGIN);
    L->w = fmax(L->w, L->legend_w + 2 * MARGIN);
    if (f->title)
        L->w = fmax(L->w, canvas_text_width(c, f->title, TITLE, TEXT_BOLD) +
                              2 * MARGIN);
    L->h = L->note_y + (double)lines * CANVAS_LINE * NOTE + MARGIN;
}

static void style(canvas *c, size_t s, double width)
{
    static const double dash[] = {6.0, 3.5};
    canvas_set(c, palette[s % MAX_SERIES]);
    cairo_set_line_width(c->cr, width);
    cairo_set_dash(c->cr, dash, s % 2 ? 2 : 0, 0.0);
}

static void marker(cairo_t *cr, size_t s, double x, double y)
{
    const double r = 3.5;
    switch (s % 3) {
    case 0: cairo_arc(cr, x, y, r, 0.0, 6.283185307179586); break;
    case 1: cairo_rectangle(cr, x - r, y - r, 2 * r, 2 * r); break;
    default:
        cairo_move_to(cr, x, y - 1.2 * r);
        cairo_line_to(cr, x + 1.1 * r, y + 0.8 * r);
        cairo_line_to(cr, x - 1.1 * r, y + 0.8 * r);
        cairo_close_path(cr);
    }
    cairo_fill(cr);
}

typedef struct frame_xy {
    double x0, y0;          /* plot area's top left, px */
    const panel *p;
    const plot_axes *a;
    const layout *L;
} frame_xy;

static double px(const frame_xy *F, double x)
{
    return F->x0 + (tx(F->a, x) - F->p->x_lo) / (F->p->x_hi - F->p->x_lo) * F->L->plot_w;
}

static double py(const frame_xy *F, double y)
{
    return F->y0 + F->L->plot_h - (y - F->p->y_lo) / (F->p->y_hi - F->p->y_lo) * F->L->plot_h;
}

static void series(canvas *c, const frame_xy *F, size_t s)
{
    cairo_t *cr = c->cr;
    const plot_series *ser = &F->a->series[s];
    if (ser->n == 0)
        return;
    if (ser->style == PLOT_STEPS) {
        const double base = py(F, fmax(F->p->y_lo, fmin(0.0, F->p->y_hi)));
        cairo_move_to(cr, px(F, ser->x[0]), base);
        for (size_t i = 0; i < ser->n; ++i) {
            cairo_line_to(cr, px(F, ser->x[i]), py(F, ser->y[i]));
            cairo_line_to(cr, px(F, ser->x[i + 1]), py(F, ser->y[i]));
        }
        cairo_line_to(cr, px(F, ser->x[ser->n]), base);
        const plot_rgb col = palette[s % MAX_SERIES];
        cairo_set_source_rgba(cr, col.r, col.g, col.b, 0.22);
        cairo_fill_preserve(cr);
        style(c, s, 1.6);
        cairo_stroke(cr);
        return;
    }
    style(c, s, 2.0);
    int pen = 0;
    for (size_t i = 0; i < ser->n; ++i) {
        if (!isfinite(ser->y[i]) || !isfinite(tx(F->a, ser->x[i]))) {
            pen = 0;
            continue;
        }
        if (pen)
            cairo_line_to(cr, px(F, ser->x[i]), py(F, ser->y[i]));
        else
            cairo_move_to(cr, px(F, ser->x[i]), py(F, ser->y[i]));
        pen = 1;
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < ser->n; ++i)
        if (isfinite(ser->y[i]) && isfinite(tx(F->a, ser->x[i])))
            marker(cr, s, px(F, ser->x[i]), py(F, ser->y[i]));
}

static void one_panel(canvas *c, const layout *L, const plot_axes *a,
                      double cx, double cy)
{
    cairo_t *cr = c->cr;
    panel p;
    ranges(a, &p);
    const frame_xy F = {cx + L->left, cy + L->top_area, &p, a, L};
    char buf[64];
    cairo_set_dash(cr, NULL, 0, 0.0);
    canvas_set(c, grid);
    cairo_set_line_width(cr, 1.0);
    for (size_t i = 0; i < p.n_y; ++i) {
        const double y = floor(py(&F, p.y_t[i])) + 0.5;
        cairo_move_to(cr, F.x0, y);
        cairo_line_to(cr, F.x0 + L->plot_w, y);
    }
    for (size_t i = 0; i < p.n_x; ++i) {
        const double x = floor(px(&F, p.x_t[i])) + 0.5;
        cairo_move_to(cr, x, F.y0);
        cairo_line_to(cr, x, F.y0 + L->plot_h);
    }
    cairo_stroke(cr);

    cairo_save(cr);
    cairo_rectangle(cr, F.x0, F.y0, L->plot_w, L->plot_h);
    cairo_clip(cr);
    for (size_t s = 0; s < a->n_series; ++s)
        series(c, &F, s);
    cairo_restore(cr);

    cairo_set_dash(cr, NULL, 0, 0.0);
    canvas_set(c, frame);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, F.x0 - 0.5, F.y0 - 0.5, L->plot_w + 1.0, L->plot_h + 1.0);
    for (size_t i = 0; i < p.n_y; ++i) {
        const double y = floor(py(&F, p.y_t[i])) + 0.5;
        cairo_move_to(cr, F.x0 - TICK_LEN, y);
        cairo_line_to(cr, F.x0, y);
    }
    for (size_t i = 0; i < p.n_x; ++i) {
        const double x = floor(px(&F, p.x_t[i])) + 0.5;
        cairo_move_to(cr, x, F.y0 + L->plot_h);
        cairo_line_to(cr, x, F.y0 + L->plot_h + TICK_LEN);
    }
    cairo_stroke(cr);
    for (size_t i = 0; i < p.n_y; ++i) {
        scale_format(buf, sizeof buf, p.y_t[i], p.y_step);
        canvas_text(c, F.x0 - TICK_LEN - 3.0, py(&F, p.y_t[i]), buf, TICK,
                    TEXT_NORMAL, ALIGN_RIGHT, 0, ink);
    }
    const double below = F.y0 + L->plot_h + TICK_LEN + 2.0;
    for (size_t i = 0; i < p.n_x; ++i) {
        x_label_text(&p, i, buf, sizeof buf);
        canvas_text(c, px(&F, p.x_t[i]), below + 0.5 * CANVAS_LINE * TICK, buf,
                    TICK, TEXT_NORMAL, ALIGN_CENTRE, 0, ink);
    }
    if (a->title)
        canvas_text(c, F.x0 + L->plot_w / 2, cy + 0.8 * LABEL, a->title, LABEL,
                    TEXT_BOLD, ALIGN_CENTRE, 0, ink);
    if (a->x_label)
        canvas_text(c, F.x0 + L->plot_w / 2,
                    below + CANVAS_LINE * TICK + 0.9 * LABEL, a->x_label, LABEL,
                    TEXT_NORMAL, ALIGN_CENTRE, 0, ink);
    if (a->y_label)
        canvas_text(c, cx + 0.6 * LABEL, F.y0 + L->plot_h / 2, a->y_label, LABEL,
                    TEXT_NORMAL, ALIGN_CENTRE, 1, ink);
}

static void legend(canvas *c, const plot_figure *f, const layout *L)
{
    cairo_t *cr = c->cr;
    const plot_axes *a = &f->axes[0];
    double x = (L->w - L->legend_w) / 2;
    const double y = L->legend_y;
    for (size_t s = 0; s < a->n_series; ++s) {
        const char *label = a->series[s].label ? a->series[s].label : "";
        style(c, s, 2.0);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + SAMPLE, y);
        cairo_stroke(cr);
        if (a->series[s].style != PLOT_STEPS)
            marker(cr, s, x + SAMPLE / 2, y);
        x += SAMPLE + 6.0;
        canvas_text(c, x, y, label, TICK, TEXT_NORMAL, ALIGN_LEFT, 0, ink);
        x += canvas_text_width(c, label, TICK, TEXT_NORMAL) + 24.0;
    }
    cairo_set_dash(cr, NULL, 0, 0.0);
}

static void size_fn(canvas *c, const void *what, double *w, double *h)
{
    layout L;
    lay_out(c, what, &L);
    *w = L.w;
    *h = L.h;
}

static void draw_fn(canvas *c, const void *what, double w, double h)
{
    const plot_figure *f = what;
    layout L;
    lay_out(c, f, &L);
    (void)h;
    if (f->title)
        canvas_text(c, w / 2, MARGIN + 0.7 * TITLE, f->title, TITLE, TEXT_BOLD,
                    ALIGN_CENTRE, 0, ink);
    legend(c, f, &L);
    const size_t cols = (size_t)f->columns < f->n_axes ? (size_t)f->columns
                                                       : f->n_axes;
    const double x0 = (w - (double)cols * L.cell_w) / 2;
    for (size_t k = 0; k < f->n_axes; ++k)
        one_panel(c, &L, &f->axes[k], x0 + (double)(k % cols) * L.cell_w,
                  L.grid_top + (double)(k / cols) * L.cell_h);
    if (f->note)
        canvas_lines(c, MARGIN, L.note_y, f->note, NOTE, grey);
}

static int valid_axes(const plot_axes *a)
{
    if (a->series == NULL || a->n_series == 0 || a->n_series > MAX_SERIES ||
        (a->x_ticks == NULL && a->n_x_ticks != 0) ||
        !isfinite(a->y_lo) || !isfinite(a->y_hi))
        return 0;
    for (size_t i = 0; a->x_ticks && i < a->n_x_ticks; ++i)
        if (!isfinite(tx(a, a->x_ticks[i])))
            return 0;
    for (size_t s = 0; s < a->n_series; ++s) {
        const plot_series *ser = &a->series[s];
        if ((ser->n > 0 && (ser->x == NULL || ser->y == NULL)) ||
            (ser->style != PLOT_LINE && ser->style != PLOT_STEPS))
            return 0;
    }
    return 1;
}

plot_status plot_figure_save(const plot_figure *f, const char *stem,
                             unsigned formats)
{
    if (f == NULL || f->axes == NULL || f->n_axes == 0 || f->n_axes > MAX_AXES ||
        f->columns < 1)
        return PLOT_ERR_ARGUMENT;
    for (size_t k = 0; k < f->n_axes; ++k)
        if (!valid_axes(&f->axes[k]))
            return PLOT_ERR_ARGUMENT;
    return plot_render(f, size_fn, draw_fn, f->title, stem, formats);
}
