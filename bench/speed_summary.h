/* The closing summary: the targets, computed from the numbers. */
#ifndef BENCH_SPEED_SUMMARY_H
#define BENCH_SPEED_SUMMARY_H

#include <stdio.h>

#include "speed_plan.h"
#include "speed_rows.h"
#include "speed_run.h"

/* avx512: the BLAS runs AVX-512 sgemm kernels, which sets lower roof-ratio
 * targets (the softmax pass weighs twice as much against them). */
void speed_report_summary(FILE *f, const speed_plan *p, const speed_rows *r,
                          const speed_long_mem *mem, int avx512);

#endif /* BENCH_SPEED_SUMMARY_H */
