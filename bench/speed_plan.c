#include "speed_plan.h"

/* The grid: (B, H, T, d). */
static const speed_shape full_shapes[] = {
    {1, 8, 512, 64},  {4, 8, 1024, 64},  {1, 8, 4096, 64},
    {1, 8, 512, 128}, {4, 8, 1024, 128}, {1, 8, 4096, 128},
};
static const speed_shape quick_shapes[] = {
    {1, 8, 512, 64}, {4, 8, 1024, 64},
};
static const int64_t full_tile_d[] = {64, 128};
static const int64_t quick_tile_d[] = {64};

/* Long enough that a (T, T) score matrix per head (1 GiB) would not be
 * affordable: the fused path's memory claim is tested here. */
static const speed_shape long_shape = {1, 8, 16384, 64};

#define COUNT(a) (sizeof (a) / sizeof (a)[0])

void speed_plan_make(speed_plan *p, int quick, int threads)
{
    p->quick = quick;
    p->threads = threads;
    p->shapes = quick ? quick_shapes : full_shapes;
    p->n_shapes = quick ? COUNT(quick_shapes) : COUNT(full_shapes);
    p->tile_d = quick ? quick_tile_d : full_tile_d;
    p->n_tile_d = quick ? COUNT(quick_tile_d) : COUNT(full_tile_d);
    p->ref_max_t = 4096;
    p->long_shape = quick ? NULL : &long_shape;
    /* A call longer than long_call is timed once after its warm-up. */
    p->budget = quick ? (speed_budget){0.3, 3, 1.0}
                      : (speed_budget){1.0, 3, 2.0};
    p->retry_seconds = quick ? 10.0 : 45.0;
    p->seed = 20240611;
}
