/* Carries out a plan: roof, main table, long shape, roof again. */
#ifndef BENCH_SPEED_RUN_H
#define BENCH_SPEED_RUN_H

#include "speed_plan.h"
#include "speed_rows.h"

/* Resident-set readings around the long shape (bytes; -1 unknown). */
typedef struct speed_long_mem {
    int measured;
    double peak_before;     /* ru_maxrss before its buffers exist */
    double peak_inputs;     /* ... once inputs and outputs are resident */
    double current_inputs;  /* current RSS at that point */
    double peak_after;      /* ru_maxrss after its calls */
    double data_bytes;      /* what the bench itself allocated for it */
} speed_long_mem;

/* Appends every measurement to rows; progress goes to stderr. Exits on a
 * library error or when out of memory. */
void speed_run(const speed_plan *p, speed_rows *rows, speed_long_mem *mem);

#endif /* BENCH_SPEED_RUN_H */
