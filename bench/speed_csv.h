/* attention-bench-speed --csv: one row per measurement. */
#ifndef BENCH_SPEED_CSV_H
#define BENCH_SPEED_CSV_H

#include "speed_rows.h"

#include <stdio.h>

/* Opens path for writing before anything is measured, so that a bad path
 * fails at once; NULL after printing why. */
FILE *speed_csv_open(const char *path);

/* Writes header and rows to f and closes it; 0, or -1 after printing why
 * not (path names it in the message). */
int speed_csv_write(FILE *f, const char *path, const speed_rows *r);

#endif /* BENCH_SPEED_CSV_H */
