/*
 * PNG heat maps of two attention weight matrices side by side (through
 * libpng), for comparing scaled and unscaled attention by eye.
 */
#ifndef BENCH_HEATMAP_H
#define BENCH_HEATMAP_H

#include <stddef.h>

/* Colour = log10(weight) from HEATMAP_LOG10_MIN (darkest; also weight 0) to
 * 0 (brightest): a log scale shows both a near-uniform row (all about
 * 1/cols) and a near one-hot row (one bright cell) in one picture. */
#define HEATMAP_LOG10_MIN (-5.0)

typedef struct heatmap_pair {
    const float *left;      /* (rows, ld) */
    const float *right;     /* (rows, ld) */
    size_t rows, cols, ld;  /* cols <= ld */
    int cell;               /* pixels per matrix entry, each side */
    const char *title;      /* PNG tEXt "Title", or NULL */
    const char *description;/* PNG tEXt "Description", or NULL */
} heatmap_pair;

/*
 * Writes path as an 8-bit RGB PNG: left panel, a gap, right panel, and a
 * colour bar with a tick per decade underneath. Returns NULL on success,
 * else a static message (from strerror or libpng) for the caller to print.
 */
const char *heatmap_write_pair(const char *path, const heatmap_pair *hp);

#endif /* BENCH_HEATMAP_H */
