/* The module without cairo: the same calls, no pictures (PLOT_ERR_OFF). */
#include "plot.h"

plot_status plot_heatmap_save(const plot_heatmap *h, const char *stem,
                              unsigned formats)
{
    (void)h;
    (void)stem;
    (void)formats;
    return PLOT_ERR_OFF;
}

plot_status plot_figure_save(const plot_figure *f, const char *stem,
                             unsigned formats)
{
    (void)f;
    (void)stem;
    (void)formats;
    return PLOT_ERR_OFF;
}

void plot_release(void)
{
}
