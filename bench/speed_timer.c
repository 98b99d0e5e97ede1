#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "speed_timer.h"

#include <time.h>

double speed_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int speed_time(const speed_budget *b, speed_rep_fn fn, void *ctx,
               speed_timing *out)
{
    double t;
    /* The warm-up faults in the pages of outputs and workspace, starts the
     * thread pools and fills the caches: none of that is the steady state. */
    if (fn(ctx, &t))
        return -1;
    out->warmup = t;
    out->best = t;
    out->reps = 0;
    if (t > 4.0 * b->long_call)
        return 0;
    const int min_reps = t > b->long_call ? 1 : b->min_reps;
    double total = 0.0;
    while (out->reps < min_reps || total < b->min_seconds) {
        if (fn(ctx, &t))
            return -1;
        if (out->reps == 0 || t < out->best)
            out->best = t;
        total += t;
        out->reps++;
    }
    return 0;
}
