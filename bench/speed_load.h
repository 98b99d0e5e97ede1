/*
 * How busy the machine was with other work while the bench measured: the
 * CPU time all processes used (/proc/stat) minus the bench's own
 * (getrusage), over the wall time. On a shared machine that is what
 * explains a slow row; without /proc it is reported as unknown.
 */
#ifndef BENCH_SPEED_LOAD_H
#define BENCH_SPEED_LOAD_H

/* Other processes using more cores than this during a measurement make it
 * "disturbed": retried when cheap, flagged otherwise. */
#define SPEED_BUSY_LIMIT 0.25

typedef struct speed_load_mark {
    int ok;
    double wall;        /* CLOCK_MONOTONIC seconds */
    double all_busy;    /* CPU seconds of every process, all CPUs */
    double own;         /* CPU seconds of this process, all threads */
} speed_load_mark;

void speed_load_mark_now(speed_load_mark *m);

/* Average number of cores other processes kept busy between a and b;
 * -1 if unknown. */
double speed_load_others(const speed_load_mark *a, const speed_load_mark *b);

#endif /* BENCH_SPEED_LOAD_H */
