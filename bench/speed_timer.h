/*
 * Timing for attention-bench-speed: a monotonic clock and the repeat rule
 * every measurement follows (warm-up call, then repeats until a time budget
 * and a minimum count are both met; the best repeat is reported, since on a
 * shared machine noise only ever adds time).
 */
#ifndef BENCH_SPEED_TIMER_H
#define BENCH_SPEED_TIMER_H

/* Seconds on CLOCK_MONOTONIC. */
double speed_now(void);

/* One repeat: does the work once and stores its duration in *seconds (the
 * callee times itself, so work that spans several threads can report its
 * own wall time). Returns 0, or -1 after printing why it failed. */
typedef int (*speed_rep_fn)(void *ctx, double *seconds);

typedef struct speed_budget {
    double min_seconds;   /* keep repeating until this much time was timed */
    int min_reps;         /* ... and at least this many repeats */
    /* A warm-up longer than this is a "long call": then one timed repeat
     * is enough, and past 4 x long_call the warm-up itself is the
     * measurement (its start-up costs are then well under 1 %). Keeps the
     * largest shapes, and a path gone slow on a busy machine, inside the
     * run's time budget. */
    double long_call;
} speed_budget;

typedef struct speed_timing {
    double best;          /* seconds of the fastest repeat */
    double warmup;        /* seconds of the untimed warm-up call */
    int reps;             /* timed repeats; 0: the warm-up was timed */
} speed_timing;

/* Warm-up, then repeats under *b; 0, or -1 if fn failed. */
int speed_time(const speed_budget *b, speed_rep_fn fn, void *ctx,
               speed_timing *out);

#endif /* BENCH_SPEED_TIMER_H */
