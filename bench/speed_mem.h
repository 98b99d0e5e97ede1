/*
 * Process memory, as a cross-check of the workspace sizes the library
 * reports: the peak resident set (getrusage) and the current one.
 */
#ifndef BENCH_SPEED_MEM_H
#define BENCH_SPEED_MEM_H

/* Peak resident set so far, in bytes (ru_maxrss); -1 if unknown. */
double speed_peak_rss(void);

/* Resident set now, in bytes (/proc/self/statm); -1 if unknown (not Linux). */
double speed_current_rss(void);

#endif /* BENCH_SPEED_MEM_H */
