/* The module's messages; the same in builds with and without cairo. */
#include "plot.h"

const char *plot_strerror(plot_status s)
{
    switch (s) {
    case PLOT_OK: return "success";
    case PLOT_ERR_OFF: return "pictures are off (built without cairo)";
    case PLOT_ERR_ARGUMENT: return "a picture field is missing or inconsistent";
    case PLOT_ERR_NO_MEMORY: return "out of memory";
    case PLOT_ERR_IO: return "cannot write the picture file";
    case PLOT_ERR_CAIRO: return "cairo failed to draw";
    }
    return "unknown plot status";
}

int plot_available(void)
{
#ifdef PLOT_HAVE_CAIRO
    return 1;
#else
    return 0;
#endif
}

const char *plot_off_message(void)
{
#ifdef PLOT_HAVE_CAIRO
    return "pictures are on (cairo)";
#else
    return "pictures are off: this build has no cairo. To turn them on, "
           "install it (Debian: apt-get install libcairo2-dev fonts-dejavu-core, "
           "or cmake/debian-deps.sh) and reconfigure the build directory "
           "(cmake -DATTENTION_PICTURES=ON ...), then rebuild.";
#endif
}
