/* Where the tour's pictures go and how it reports them. */
#define _POSIX_C_SOURCE 200809L /* mkdir */

#include "tour_pictures.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *out_dir;     /* NULL: pictures off */

int tour_pictures_init(const char *dir)
{
    out_dir = NULL;
    if (dir == NULL)
        return 0;
    if (!plot_available()) {
        printf("(%s)\n", plot_off_message());
        return 0;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "attention-tour: cannot create %s: %s\n", dir,
                strerror(errno));
        return -1;
    }
    out_dir = dir;
    printf("Pictures (PNG and SVG) go to %s/\n", dir);
    return 0;
}

int tour_picture(const char *name, const plot_heatmap *h)
{
    if (out_dir == NULL)
        return 0;
    char stem[4096];
    if (snprintf(stem, sizeof stem, "%s/%s", out_dir, name) >= (int)sizeof stem) {
        fprintf(stderr, "attention-tour: path too long under %s\n", out_dir);
        return -1;
    }
    const plot_status s = plot_heatmap_save(h, stem, PLOT_BOTH);
    if (s != PLOT_OK) {
        fprintf(stderr, "attention-tour: cannot write %s.png/.svg: %s\n", stem,
                plot_strerror(s));
        return -1;
    }
    printf("Picture: %s.png (and .svg)\n", stem);
    return 0;
}
