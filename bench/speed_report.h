/* The printed tables of attention-bench-speed. */
#ifndef BENCH_SPEED_REPORT_H
#define BENCH_SPEED_REPORT_H

#include <stdio.h>

#include "speed_plan.h"
#include "speed_rows.h"
#include "speed_run.h"

/* The sgemm roof, start and end, and which one the ratios divide by. */
void speed_report_roof(FILE *f, const speed_plan *p, const speed_rows *r);

/* One line per (shape, mask, pass): fused at N and 1 threads, their roof
 * ratios and scaling, the materialised path, the workspaces. */
void speed_report_table(FILE *f, const speed_plan *p, const speed_rows *r);

/* The long shape: rate, workspace, and the resident-set cross-check. */
void speed_report_long(FILE *f, const speed_plan *p, const speed_rows *r,
                       const speed_long_mem *mem);

#endif /* BENCH_SPEED_REPORT_H */
