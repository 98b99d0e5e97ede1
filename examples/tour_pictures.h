/* The tour's pictures: where they go, and one call per heat map that saves
 * it (PNG and SVG) and says so under the numbers it shows. */
#ifndef EXAMPLES_TOUR_PICTURES_H
#define EXAMPLES_TOUR_PICTURES_H

#include "plot.h"

/* dir: where pictures go (created if missing); NULL: no pictures. Prints
 * why when the build has none. 0, or -1 when dir cannot be made. */
int tour_pictures_init(const char *dir);

/* Saves h as <dir>/<name>.png and .svg and prints their paths; nothing
 * when pictures are off. 0, or -1 after printing the error. */
int tour_picture(const char *name, const plot_heatmap *h);

#endif /* EXAMPLES_TOUR_PICTURES_H */
