#include "colormap.h"

/* matplotlib's viridis sampled at t = 0, 0.1, ..., 1; linear in between is
 * within a few levels of the full 256-entry table. */
static const unsigned char viridis_stops[11][3] = {
    {68, 1, 84},    {72, 36, 117},  {65, 68, 135},  {53, 95, 141},
    {42, 120, 142}, {33, 145, 140}, {34, 168, 132}, {68, 191, 112},
    {122, 209, 81}, {189, 223, 38}, {253, 231, 37},
};

void colormap_viridis(double t, unsigned char rgb[3])
{
    if (!(t > 0.0))
        t = 0.0;
    if (t > 1.0)
        t = 1.0;
    const double x = t * 10.0;
    int i = (int)x;
    if (i > 9)
        i = 9;
    const double f = x - i;
    for (int c = 0; c < 3; ++c) {
        const double a = viridis_stops[i][c], b = viridis_stops[i + 1][c];
        rgb[c] = (unsigned char)(a + (b - a) * f + 0.5);
    }
}
