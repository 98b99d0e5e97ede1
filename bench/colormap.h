/* A perceptually uniform colour scale for the heat maps. */
#ifndef BENCH_COLORMAP_H
#define BENCH_COLORMAP_H

/* Viridis at t in [0, 1] (clamped; NaN gives the t = 0 colour), 8-bit sRGB. */
void colormap_viridis(double t, unsigned char rgb[3]);

#endif /* BENCH_COLORMAP_H */
