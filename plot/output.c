/* The PNG (cairo image surface) and SVG (cairo SVG surface plus a layer of
 * real <text> elements) writers; both run the same draw function. */
#include "output.h"

#include <cairo-svg.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static plot_status from_cairo(cairo_status_t s)
{
    return s == CAIRO_STATUS_SUCCESS     ? PLOT_OK
           : s == CAIRO_STATUS_NO_MEMORY ? PLOT_ERR_NO_MEMORY
           : s == CAIRO_STATUS_WRITE_ERROR ? PLOT_ERR_IO
                                           : PLOT_ERR_CAIRO;
}

/* stem + ext in a new string, or NULL. */
static char *with_ext(const char *stem, const char *ext)
{
    const size_t n = strlen(stem), e = strlen(ext);
    char *p = malloc(n + e + 1);
    if (p != NULL) {
        memcpy(p, stem, n);
        memcpy(p + n, ext, e + 1);
    }
    return p;
}

static plot_status write_file(const char *stem, const char *ext,
                              const char *data, size_t n)
{
    char *path = with_ext(stem, ext);
    if (path == NULL)
        return PLOT_ERR_NO_MEMORY;
    FILE *f = fopen(path, "wb");
    free(path);
    if (f == NULL)
        return PLOT_ERR_IO;
    const int bad = fwrite(data, 1, n, f) != n;
    return (fclose(f) != 0 || bad) ? PLOT_ERR_IO : PLOT_OK;
}

static void paint_white(cairo_t *cr)
{
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_paint(cr);
}

static cairo_status_t to_sbuf(void *closure, const unsigned char *data,
                              unsigned int n)
{
    sbuf *b = closure;
    sbuf_append(b, (const char *)data, n);
    return b->failed ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* Measures on a 1x1 scratch surface: text widths need a cairo context. */
static plot_status measure(const void *what, plot_size_fn size, int *w, int *h)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
    cairo_t *cr = cairo_create(s);
    canvas c = {cr, NULL};
    double fw = 0.0, fh = 0.0;
    size(&c, what, &fw, &fh);
    const plot_status st = from_cairo(cairo_status(cr));
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    if (st != PLOT_OK)
        return st;
    if (!(fw >= 1.0 && fh >= 1.0 && fw < 32768.0 && fh < 32768.0))
        return PLOT_ERR_ARGUMENT;
    *w = (int)ceil(fw);
    *h = (int)ceil(fh);
    return PLOT_OK;
}

static cairo_status_t to_file(void *closure, const unsigned char *data,
                              unsigned int n)
{
    return fwrite(data, 1, n, closure) == n ? CAIRO_STATUS_SUCCESS
                                            : CAIRO_STATUS_WRITE_ERROR;
}

static plot_status write_png(const void *what, plot_draw_fn draw, int w, int h,
                             const char *stem)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    canvas c = {cr, NULL};
    paint_white(cr);
    draw(&c, what, w, h);
    plot_status st = from_cairo(cairo_status(cr));
    cairo_destroy(cr);
    char *path = st == PLOT_OK ? with_ext(stem, ".png") : NULL;
    if (st == PLOT_OK && path == NULL)
        st = PLOT_ERR_NO_MEMORY;
    if (st == PLOT_OK) {
        FILE *f = fopen(path, "wb");
        if (f == NULL) {
            st = PLOT_ERR_IO;
        } else {
            st = from_cairo(cairo_surface_write_to_png_stream(s, to_file, f));
            if (fclose(f) != 0 && st == PLOT_OK)
                st = PLOT_ERR_IO;
        }
    }
    free(path);
    cairo_surface_destroy(s);
    return st;
}

/* cairo's document with <title> after the <svg> start tag and the text
 * layer before its end tag. */
static plot_status assemble_svg(const sbuf *doc, const sbuf *text,
                                const char *title, sbuf *out)
{
    const char *open = doc->p ? strstr(doc->p, "<svg") : NULL;
    const char *open_end = open ? strchr(open, '>') : NULL;
    const char *close = NULL;
    for (const char *p = open_end; p && (p = strstr(p, "</svg>")) != NULL; ++p)
        close = p;
    if (close == NULL)
        return PLOT_ERR_CAIRO;
    sbuf_append(out, doc->p, (size_t)(open_end + 1 - doc->p));
    sbuf_append(out, "\n<title>", 8);
    sbuf_xml(out, title ? title : "");
    sbuf_append(out, "</title>", 8);
    sbuf_append(out, open_end + 1, (size_t)(close - open_end - 1));
    sbuf_printf(out, "<g id=\"text\" font-family=\"%s\">\n", CANVAS_SVG_FONTS);
    if (text->len > 0)
        sbuf_append(out, text->p, text->len);
    sbuf_append(out, "</g>\n", 5);
    sbuf_append(out, close, strlen(close));
    return out->failed ? PLOT_ERR_NO_MEMORY : PLOT_OK;
}

static plot_status write_svg(const void *what, plot_draw_fn draw, int w, int h,
                             const char *title, const char *stem)
{
    sbuf doc = {0}, text = {0}, out = {0};
    cairo_surface_t *s = cairo_svg_surface_create_for_stream(to_sbuf, &doc, w, h);
    cairo_svg_surface_set_document_unit(s, CAIRO_SVG_UNIT_PX);
    cairo_t *cr = cairo_create(s);
    canvas c = {cr, &text};
    paint_white(cr);
    draw(&c, what, w, h);
    plot_status st = from_cairo(cairo_status(cr));
    cairo_destroy(cr);
    cairo_surface_finish(s);
    if (st == PLOT_OK)
        st = from_cairo(cairo_surface_status(s));
    cairo_surface_destroy(s);
    if (st == PLOT_OK && (doc.failed || text.failed))
        st = PLOT_ERR_NO_MEMORY;
    if (st == PLOT_OK)
        st = assemble_svg(&doc, &text, title, &out);
    if (st == PLOT_OK)
        st = write_file(stem, ".svg", out.p, out.len);
    sbuf_free(&doc);
    sbuf_free(&text);
    sbuf_free(&out);
    return st;
}

plot_status plot_render(const void *what, plot_size_fn size, plot_draw_fn draw,
                        const char *title, const char *stem, unsigned formats)
{
    if (what == NULL || stem == NULL || formats == 0 || (formats & ~3u) != 0)
        return PLOT_ERR_ARGUMENT;
    int w = 0, h = 0;
    plot_status st = measure(what, size, &w, &h);
    if (st == PLOT_OK && (formats & PLOT_PNG))
        st = write_png(what, draw, w, h, stem);
    if (st == PLOT_OK && (formats & PLOT_SVG))
        st = write_svg(what, draw, w, h, title, stem);
    return st;
}

void plot_release(void)
{
    /* cairo first: its font faces hold fontconfig patterns. */
    cairo_debug_reset_static_data();
    FcFini();
}
