#include "heatmap.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "colormap.h"

enum {
    MARGIN = 8,     /* white border */
    GAP = 16,       /* between the two panels */
    BAR_GAP = 8,    /* between the panels and the colour bar */
    BAR_H = 12,
    TICK_H = 5
};

typedef struct canvas {
    unsigned char *px;  /* (h, w, 3) */
    size_t w, h;
} canvas;

static void put(canvas *c, size_t x, size_t y, const unsigned char rgb[3])
{
    memcpy(c->px + (y * c->w + x) * 3, rgb, 3);
}

static double weight_to_t(float p)
{
    if (!(p > 0.0f))
        return 0.0;
    return (log10((double)p) - HEATMAP_LOG10_MIN) / -HEATMAP_LOG10_MIN;
}

static void draw_panel(canvas *c, size_t x0, size_t y0,
                       const float *w /* (rows, ld) */, const heatmap_pair *hp)
{
    const size_t cell = (size_t)hp->cell;
    for (size_t i = 0; i < hp->rows; ++i)
        for (size_t j = 0; j < hp->cols; ++j) {
            unsigned char rgb[3];
            colormap_viridis(weight_to_t(w[i * hp->ld + j]), rgb);
            for (size_t dy = 0; dy < cell; ++dy)
                for (size_t dx = 0; dx < cell; ++dx)
                    put(c, x0 + j * cell + dx, y0 + i * cell + dy, rgb);
        }
}

/* The colour scale from HEATMAP_LOG10_MIN (left) to 0 (right), with a tick
 * under each power of ten. */
static void draw_bar(canvas *c, size_t x0, size_t y0, size_t width)
{
    static const unsigned char black[3] = {0, 0, 0};
    for (size_t x = 0; x < width; ++x) {
        unsigned char rgb[3];
        colormap_viridis((double)x / (double)(width - 1), rgb);
        for (size_t y = 0; y < BAR_H; ++y)
            put(c, x0 + x, y0 + y, rgb);
    }
    const int decades = (int)-HEATMAP_LOG10_MIN;
    for (int k = 0; k <= decades; ++k) {
        const size_t x = x0 + (size_t)k * (width - 1) / (size_t)decades;
        for (size_t y = 0; y < TICK_H; ++y)
            put(c, x, y0 + BAR_H + y, black);
    }
}

static void on_png_error(png_structp png, png_const_charp msg)
{
    char *buf = png_get_error_ptr(png);
    snprintf(buf, 256, "libpng: %s", msg);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Kept out of write_png so that no local there changes after setjmp. */
static void write_rows(png_structp png, const canvas *c)
{
    for (size_t y = 0; y < c->h; ++y)
        png_write_row(png, c->px + y * c->w * 3);
}

static const char *write_png(FILE *fp, const canvas *c, const heatmap_pair *hp)
{
    static char msg[256]; /* the bench is single-threaded */
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, msg,
                                              on_png_error, on_png_warning);
    if (png == NULL)
        return "libpng: cannot create write struct";
    png_infop info = png_create_info_struct(png);
    if (info == NULL) {
        png_destroy_write_struct(&png, NULL);
        return "libpng: cannot create info struct";
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return msg;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)c->w, (png_uint_32)c->h, 8,
                 PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text text[2];
    int ntext = 0;
    memset(text, 0, sizeof text);
    if (hp->title) {
        text[ntext].compression = PNG_TEXT_COMPRESSION_NONE;
        text[ntext].key = (png_charp) "Title";
        text[ntext].text = (png_charp)hp->title;
        ++ntext;
    }
    if (hp->description) {
        text[ntext].compression = PNG_TEXT_COMPRESSION_NONE;
        text[ntext].key = (png_charp) "Description";
        text[ntext].text = (png_charp)hp->description;
        ++ntext;
    }
    if (ntext > 0)
        png_set_text(png, info, text, ntext);
    png_write_info(png, info);
    write_rows(png, c);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return NULL;
}

const char *heatmap_write_pair(const char *path, const heatmap_pair *hp)
{
    const size_t cell = (size_t)hp->cell;
    const size_t panel_w = hp->cols * cell, panel_h = hp->rows * cell;
    canvas c;
    c.w = 2 * MARGIN + 2 * panel_w + GAP;
    c.h = MARGIN + panel_h + BAR_GAP + BAR_H + TICK_H + MARGIN;
    c.px = malloc(c.w * c.h * 3);
    if (c.px == NULL)
        return "out of memory";
    memset(c.px, 255, c.w * c.h * 3);
    draw_panel(&c, MARGIN, MARGIN, hp->left, hp);
    draw_panel(&c, MARGIN + panel_w + GAP, MARGIN, hp->right, hp);
    draw_bar(&c, MARGIN, MARGIN + panel_h + BAR_GAP, 2 * panel_w + GAP);

    const char *err = NULL;
    FILE *fp = fopen(path, "wb");
    if (fp == NULL) {
        err = strerror(errno);
    } else {
        err = write_png(fp, &c, hp);
        if (fclose(fp) != 0 && err == NULL)
            err = strerror(errno);
    }
    free(c.px);
    return err;
}
