/* Text on the canvas: cairo glyphs for the PNG, <text> for the SVG. */
#include "canvas.h"

#include <string.h>

/* From the middle of lower-case letters to the baseline, in ems (DejaVu
 * Sans' x-height is 0.55 em; matplotlib's "center_baseline" is similar). */
#define MIDDLE_TO_BASELINE 0.36

static void use_font(cairo_t *cr, double size, int weight)
{
    cairo_select_font_face(cr, CANVAS_FONT, CAIRO_FONT_SLANT_NORMAL,
                           weight == TEXT_BOLD ? CAIRO_FONT_WEIGHT_BOLD
                                               : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
}

double canvas_text_width(canvas *c, const char *s, double size, int weight)
{
    cairo_text_extents_t e;
    use_font(c->cr, size, weight);
    cairo_text_extents(c->cr, s, &e);
    return e.x_advance;
}

void canvas_set(canvas *c, plot_rgb colour)
{
    cairo_set_source_rgb(c->cr, colour.r, colour.g, colour.b);
}

static int byte(double v)
{
    return v <= 0.0 ? 0 : v >= 1.0 ? 255 : (int)(v * 255.0 + 0.5);
}

void canvas_text(canvas *c, double x, double y, const char *s, double size,
                 int weight, int align, int vertical, plot_rgb colour)
{
    const double base = MIDDLE_TO_BASELINE * size;
    if (c->svg_text != NULL) {
        static const char *const anchor[] = {"start", "middle", "end"};
        sbuf *b = c->svg_text;
        sbuf_printf(b, "<text transform=\"translate(%.2f %.2f)%s\" y=\"%.2f\" "
                       "font-size=\"%.2f\"%s text-anchor=\"%s\" "
                       "fill=\"#%02x%02x%02x\">",
                    x, y, vertical ? " rotate(-90)" : "", base, size,
                    weight == TEXT_BOLD ? " font-weight=\"bold\"" : "",
                    anchor[align], byte(colour.r), byte(colour.g),
                    byte(colour.b));
        sbuf_xml(b, s);
        sbuf_append(b, "</text>\n", 8);
        return;
    }
    cairo_t *cr = c->cr;
    const double w = canvas_text_width(c, s, size, weight);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    if (vertical)
        cairo_rotate(cr, -1.5707963267948966);
    cairo_move_to(cr, align == ALIGN_LEFT ? 0.0 : align == ALIGN_CENTRE ? -w / 2 : -w,
                  base);
    canvas_set(c, colour);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

/* Calls f on each '\n'-separated line of s (cut at 511 bytes). */
static void each_line(const char *s, void (*f)(void *, const char *, size_t),
                      void *ctx)
{
    size_t i = 0;
    while (s != NULL && *s) {
        char line[512];
        size_t n = strcspn(s, "\n");
        const size_t keep = n < sizeof line ? n : sizeof line - 1;
        memcpy(line, s, keep);
        line[keep] = '\0';
        f(ctx, line, i++);
        s += n + (s[n] == '\n');
    }
}

struct lines_ctx {
    canvas *c;
    double x, y, size, w;
    size_t n;
    plot_rgb colour;
};

static void measure_line(void *p, const char *line, size_t i)
{
    struct lines_ctx *l = p;
    const double w = canvas_text_width(l->c, line, l->size, TEXT_NORMAL);
    l->w = w > l->w ? w : l->w;
    l->n = i + 1;
}

static void draw_line(void *p, const char *line, size_t i)
{
    struct lines_ctx *l = p;
    canvas_text(l->c, l->x, l->y + (0.5 + (double)i) * CANVAS_LINE * l->size,
                line, l->size, TEXT_NORMAL, ALIGN_LEFT, 0, l->colour);
}

size_t canvas_lines_measure(canvas *c, const char *s, double size, double *w)
{
    struct lines_ctx l = {.c = c, .size = size};
    each_line(s, measure_line, &l);
    *w = l.w;
    return l.n;
}

void canvas_lines(canvas *c, double x, double y, const char *s, double size,
                  plot_rgb colour)
{
    struct lines_ctx l = {.c = c, .x = x, .y = y, .size = size, .colour = colour};
    each_line(s, draw_line, &l);
}
