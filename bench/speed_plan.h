/* What one run of attention-bench-speed measures, full or --quick. */
#ifndef BENCH_SPEED_PLAN_H
#define BENCH_SPEED_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "speed_case.h"
#include "speed_timer.h"

typedef struct speed_plan {
    int quick;
    int threads;                /* N: the many-thread count */
    const speed_shape *shapes;  /* (n_shapes) the main table */
    size_t n_shapes;
    const int64_t *tile_d;      /* (n_tile_d) head dims of the tile roofs */
    size_t n_tile_d;
    /* The materialised path runs only for T <= ref_max_t: beyond, it is
     * slow enough to dominate the run and adds nothing. */
    int64_t ref_max_t;
    const speed_shape *long_shape;  /* fused-only memory shape, or NULL */
    speed_budget budget;
    /* Seconds the whole run may spend making disturbed measurements again
     * (see speed_run.c), so a lasting load costs a bounded amount. */
    double retry_seconds;
    uint64_t seed;
} speed_plan;

void speed_plan_make(speed_plan *p, int quick, int threads);

#endif /* BENCH_SPEED_PLAN_H */
