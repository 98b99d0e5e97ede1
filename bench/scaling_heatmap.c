/* The scaling bench's PNG heat maps, through libpng. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "scaling.h"

enum { MARGIN = 8, GAP = 16, BAR_GAP = 8, BAR_H = 12, TICK_H = 5 };

/* matplotlib's viridis at t = 0, 0.1, ..., 1; linear in between is within
 * a few levels of the full table. t clamped; NaN gives the t = 0 colour. */
static void viridis(double t, unsigned char *rgb)
{
    static const unsigned char stops[11][3] = {
        {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
        {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
        {122, 209, 81}, {189, 223, 38}, {253, 231, 37}};
    const double x = 10.0 * (t > 0.0 ? (t < 1.0 ? t : 1.0) : 0.0);
    const int i = x < 9.0 ? (int)x : 9;
    for (int c = 0; c < 3; ++c)
        rgb[c] = (unsigned char)(stops[i][c] +
                                 (stops[i + 1][c] - stops[i][c]) * (x - i) + 0.5);
}

/* The pixels (h, w, 3) of one picture. */
static void draw(unsigned char *px, size_t w, const float *const m[2],
                 size_t rows, size_t cols, size_t cell)
{
    const size_t panel = cols * cell, bar_y = MARGIN + rows * cell + BAR_GAP;
    for (int k = 0; k < 2; ++k)
        for (size_t y = 0; y < rows * cell; ++y)
            for (size_t x = 0; x < panel; ++x) {
                const float p = m[k][y / cell * cols + x / cell];
                viridis(p > 0.0f ? (log10((double)p) - HEATMAP_LOG10_MIN) /
                                       -HEATMAP_LOG10_MIN
                                 : 0.0,
                        px + ((MARGIN + y) * w + MARGIN + k * (panel + GAP) + x) * 3);
            }
    const size_t bar_w = 2 * panel + GAP;   /* HEATMAP_LOG10_MIN .. 0 */
    for (size_t y = 0; y < BAR_H; ++y)
        for (size_t x = 0; x < bar_w; ++x)
            viridis((double)x / (double)(bar_w - 1),
                    px + ((bar_y + y) * w + MARGIN + x) * 3);
    const size_t decades = (size_t)-HEATMAP_LOG10_MIN;
    for (size_t k = 0; k <= decades; ++k)   /* a black tick per decade */
        for (size_t y = 0; y < TICK_H; ++y)
            memset(px + ((bar_y + BAR_H + y) * w + MARGIN +
                         k * (bar_w - 1) / decades) * 3, 0, 3);
}

const char *heatmap_write(const char *path, const float *left,
                          const float *right, size_t rows, size_t cols,
                          size_t cell, const char *title, const char *desc)
{
    const size_t w = 2 * MARGIN + 2 * cols * cell + GAP;
    const size_t h = MARGIN + rows * cell + BAR_GAP + BAR_H + TICK_H + MARGIN;
    unsigned char *px = malloc(w * h * 3);
    if (px == NULL)
        return "out of memory";
    memset(px, 255, w * h * 3);
    draw(px, w, (const float *const[2]){left, right}, rows, cols, cell);
    png_text text[2] = {
        {.compression = PNG_TEXT_COMPRESSION_NONE, .key = (png_charp) "Title",
         .text = (png_charp)title},
        {.compression = PNG_TEXT_COMPRESSION_NONE,
         .key = (png_charp) "Description", .text = (png_charp)desc}};
    const char *err = NULL;
    FILE *fp = fopen(path, "wb");
    /* libpng prints its own errors to stderr, then jumps back here. */
    png_structp png = fp ? png_create_write_struct(PNG_LIBPNG_VER_STRING,
                                                   NULL, NULL, NULL) : NULL;
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (fp == NULL) {
        err = strerror(errno);
    } else if (info == NULL) {
        err = "libpng cannot start";
    } else if (setjmp(png_jmpbuf(png))) {
        err = "libpng failed";
    } else {
        png_init_io(png, fp);
        png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8,
                     PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_set_text(png, info, text, 2);
        png_write_info(png, info);
        for (size_t y = 0; y < h; ++y)
            png_write_row(png, px + y * w * 3);
        png_write_end(png, info);
    }
    png_destroy_write_struct(&png, &info);
    if (fp && fclose(fp) != 0 && err == NULL)
        err = strerror(errno);
    free(px);
    return err;
}
