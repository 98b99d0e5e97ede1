/*
 * attention_plot (plot/): a small labelled heat map and a line plot drawn
 * into PNG and SVG. The PNG is decoded with libpng (its size, and that it
 * is not blank); the SVG is parsed with libxml2 (well-formed, an <svg>
 * root) and must hold the title, the tick labels and the other labels as
 * real <text>. Built without cairo, the same calls must answer
 * PLOT_ERR_OFF and the message must say how to turn pictures on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plot.h"

#ifdef PLOT_TEST_PICTURES
#include <errno.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <png.h>
#endif

static const float cells[3 * 4] = {0.10f, 0.20f, 0.30f, 0.40f,
                                   0.25f, 0.25f, 0.25f, 0.25f,
                                   0.70f, 0.10f, 0.10f, 0.10f};
static const char *const cols[4] = {"alpha", "beta", "gamma", "delta"};
static const char *const rows[3] = {"one", "two", "three"};

static plot_heatmap small_heatmap(const plot_panel *panel)
{
    return (plot_heatmap){
        .title = "Test Heat Map & <Friends>", .x_label = "key word",
        .y_label = "query word", .x_ticks = cols, .y_ticks = rows, .rows = 3,
        .cols = 4, .panels = panel, .n_panels = 1, .bar_label = "Weight Bar",
        .values = -1, .note = "a note\nover two lines"};
}

static const double xs[4] = {8, 64, 256, 512}, ya[4] = {1, 2, 3, 2.5},
                    yb[4] = {4, 3, 1, 0.5};

static plot_figure line_figure(plot_series *s, plot_axes *a)
{
    s[0] = (plot_series){"first series", xs, ya, 4, PLOT_LINE};
    s[1] = (plot_series){"second series", xs, yb, 4, PLOT_LINE};
    *a = (plot_axes){.title = "Panel Title", .x_label = "d_k", .y_label = "value",
                     .log_x = 1, .x_ticks = xs, .n_x_ticks = 4, .series = s,
                     .n_series = 2};
    return (plot_figure){"Test Line Plot", a, 1, 1, NULL};
}

static void messages(void **state)
{
    (void)state;
    for (int s = PLOT_OK; s <= PLOT_ERR_CAIRO; ++s)
        assert_non_null(plot_strerror((plot_status)s));
    assert_non_null(plot_off_message());
}

#ifndef PLOT_TEST_PICTURES

/* Without cairo: no picture, a clear status and a message with the cure. */
static void pictures_off(void **state)
{
    (void)state;
    const plot_panel panel = {NULL, cells};
    const plot_heatmap h = small_heatmap(&panel);
    plot_series s[2];
    plot_axes a;
    const plot_figure f = line_figure(s, &a);
    assert_int_equal(plot_available(), 0);
    assert_int_equal(plot_heatmap_save(&h, "never", PLOT_BOTH), PLOT_ERR_OFF);
    assert_int_equal(plot_figure_save(&f, "never", PLOT_BOTH), PLOT_ERR_OFF);
    assert_non_null(strstr(plot_off_message(), "libcairo2-dev"));
    assert_non_null(strstr(plot_off_message(), "ATTENTION_PICTURES=ON"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(messages),
        cmocka_unit_test(pictures_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#else /* PLOT_TEST_PICTURES */

/* <dir>/<name>: the test's files, in the build tree. */
static const char *out(const char *name)
{
    static char path[4096];
    if (mkdir(PLOT_TEST_DIR, 0777) != 0 && errno != EEXIST)
        fail_msg("cannot create %s", PLOT_TEST_DIR);
    snprintf(path, sizeof path, "%s/%s", PLOT_TEST_DIR, name);
    return path;
}

/* Decodes <stem>.png; checks its size range and that it is a picture:
 * many pixels not white, and many distinct colours. */
static void check_png(const char *stem, unsigned min_w, unsigned min_h)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.png", stem);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    img.format = PNG_FORMAT_RGB;
    assert_true(img.width >= min_w && img.width < 4000);
    assert_true(img.height >= min_h && img.height < 4000);
    const size_t n = (size_t)img.width * img.height;
    unsigned char *px = malloc(3 * n);
    assert_non_null(px);
    assert_true(png_image_finish_read(&img, NULL, px, 0, NULL));
    size_t inked = 0, distinct = 0;
    uint32_t seen[64];
    for (size_t i = 0; i < n; ++i) {
        const uint32_t c = (uint32_t)px[3 * i] << 16 | (uint32_t)px[3 * i + 1] << 8 |
                           px[3 * i + 2];
        inked += c != 0xffffffu;
        size_t k = 0;
        while (k < distinct && seen[k] != c)
            ++k;
        if (k == distinct && distinct < 64)
            seen[distinct++] = c;
    }
    free(px);
    assert_true(inked > n / 100);   /* not blank */
    assert_true(distinct >= 32);    /* colours, text, anti-aliasing */
}

/* Appends the text of every <tag> element under node, '\n'-separated. */
static void collect(xmlNode *node, const char *tag, char *buf, size_t size)
{
    for (xmlNode *n = node; n != NULL; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, tag) == 0) {
            xmlChar *t = xmlNodeGetContent(n);
            const size_t used = strlen(buf);
            snprintf(buf + used, size - used, "%s\n", t ? (const char *)t : "");
            xmlFree(t);
        }
        collect(n->children, tag, buf, size);
    }
}

/* Parses <stem>.svg (well-formed, <svg> root) and checks that each of the
 * NULL-terminated strings is a whole <text> element, and the title the
 * document's <title>. */
static void check_svg(const char *stem, const char *title,
                      const char *const *texts)
{
    char path[4200];
    snprintf(path, sizeof path, "%s.svg", stem);
    xmlDoc *doc = xmlReadFile(path, NULL, XML_PARSE_NONET);
    assert_non_null(doc);           /* well-formed */
    xmlNode *root = xmlDocGetRootElement(doc);
    assert_non_null(root);
    assert_string_equal((const char *)root->name, "svg");
    static char found[1 << 16], titles[4096];
    found[0] = titles[0] = '\0';
    collect(root, "text", found, sizeof found);
    collect(root, "title", titles, sizeof titles);
    char want[512];
    snprintf(want, sizeof want, "%s\n", title);
    assert_string_equal(titles, want);
    for (const char *const *t = texts; *t != NULL; ++t) {
        snprintf(want, sizeof want, "\n%s\n", *t);
        char line[512];
        snprintf(line, sizeof line, "%s\n", *t);
        if (strncmp(found, line, strlen(line)) != 0 && strstr(found, want) == NULL)
            fail_msg("no <text> \"%s\" in %s", *t, path);
    }
    xmlFreeDoc(doc);
}

static void heatmap_png_svg(void **state)
{
    (void)state;
    const plot_panel panel = {"panel one", cells};
    const plot_heatmap h = small_heatmap(&panel);
    const char *stem = out("heatmap");
    assert_int_equal(plot_heatmap_save(&h, stem, PLOT_BOTH), PLOT_OK);
    check_png(stem, 200, 150);
    static const char *const texts[] = {
        "Test Heat Map & <Friends>", "panel one", "alpha", "beta", "gamma",
        "delta", "one", "two", "three", "key word", "query word", "Weight Bar",
        "0.70", "0.25", "a note", "over two lines", NULL};
    check_svg(stem, "Test Heat Map & <Friends>", texts);
}

/* Many cells: thinned tick labels, no values, the cells as one image. */
static void heatmap_large(void **state)
{
    (void)state;
    enum { N = 100 };
    static float m[N * N];
    for (int i = 0; i < N * N; ++i)
        m[i] = (float)(i % 97) / 97.0f + 1e-3f;
    const plot_panel panels[2] = {{"left", m}, {"right", m}};
    const plot_heatmap h = {.title = "Large", .rows = N, .cols = N,
                            .panels = panels, .n_panels = 2, .log10 = 1,
                            .lo = -3.0, .hi = 0.0, .values = -1};
    const char *stem = out("heatmap_large");
    assert_int_equal(plot_heatmap_save(&h, stem, PLOT_BOTH), PLOT_OK);
    check_png(stem, 400, 200);
    static const char *const shown[] = {"Large", "left", "right", "0", "1",
                                        "10\u207b\u00b3", NULL};
    check_svg(stem, "Large", shown);
}

static void line_plot_png_svg(void **state)
{
    (void)state;
    plot_series s[2];
    plot_axes a;
    plot_figure f = line_figure(s, &a);
    f.note = "the note";
    const char *stem = out("lines");
    assert_int_equal(plot_figure_save(&f, stem, PLOT_BOTH), PLOT_OK);
    check_png(stem, 300, 200);
    static const char *const texts[] = {
        "Test Line Plot", "Panel Title", "first series", "second series",
        "8", "64", "256", "512", "d_k", "value", "the note", NULL};
    check_svg(stem, "Test Line Plot", texts);
}

static void histogram_svg_only(void **state)
{
    (void)state;
    const double edges[5] = {-2, -1, 0, 1, 2}, h[4] = {0.1, 0.4, 0.4, 0.1};
    const plot_series s = {"bars", edges, h, 4, PLOT_STEPS};
    const plot_axes a = {.x_label = "score", .series = &s, .n_series = 1};
    const plot_figure f = {"Histogram", &a, 1, 1, NULL};
    const char *stem = out("histogram");
    char png[4200];
    snprintf(png, sizeof png, "%s.png", stem);
    remove(png);
    assert_int_equal(plot_figure_save(&f, stem, PLOT_SVG), PLOT_OK);
    assert_null(fopen(png, "rb"));  /* only the format asked for */
    static const char *const texts[] = {"Histogram", "bars", "score", "0", NULL};
    check_svg(stem, "Histogram", texts);
}

static void errors(void **state)
{
    (void)state;
    const plot_panel panel = {NULL, cells};
    plot_heatmap h = small_heatmap(&panel);
    assert_int_equal(plot_available(), 1);
    assert_int_equal(plot_heatmap_save(NULL, "x", PLOT_BOTH), PLOT_ERR_ARGUMENT);
    assert_int_equal(plot_heatmap_save(&h, NULL, PLOT_BOTH), PLOT_ERR_ARGUMENT);
    assert_int_equal(plot_heatmap_save(&h, "x", 0), PLOT_ERR_ARGUMENT);
    assert_int_equal(plot_heatmap_save(&h, "/nonexistent-dir/x", PLOT_PNG),
                     PLOT_ERR_IO);
    assert_int_equal(plot_heatmap_save(&h, "/nonexistent-dir/x", PLOT_SVG),
                     PLOT_ERR_IO);
    h.rows = 0;
    assert_int_equal(plot_heatmap_save(&h, "x", PLOT_BOTH), PLOT_ERR_ARGUMENT);
    plot_series s[2];
    plot_axes a;
    plot_figure f = line_figure(s, &a);
    a.n_series = 0;
    assert_int_equal(plot_figure_save(&f, "x", PLOT_BOTH), PLOT_ERR_ARGUMENT);
    a.n_series = 2;
    f.columns = 0;
    assert_int_equal(plot_figure_save(&f, "x", PLOT_BOTH), PLOT_ERR_ARGUMENT);
}

static int teardown(void **state)
{
    (void)state;
    xmlCleanupParser();
    plot_release();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(messages),
        cmocka_unit_test(heatmap_png_svg),
        cmocka_unit_test(heatmap_large),
        cmocka_unit_test(line_plot_png_svg),
        cmocka_unit_test(histogram_svg_only),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}

#endif /* PLOT_TEST_PICTURES */
