/* attention-bench-speed's readings: the clock and the repeat rule, other
 * processes' load, the process's memory. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf */
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "speed.h"

double speed_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double speed_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The best repeat counts: on a shared machine noise only ever adds time.
 * The warm-up faults in pages, starts thread pools and fills caches. */
void speed_time(const speed_run *x, double (*rep)(void *), void *ctx,
                speed_row *out)
{
    double t = rep(ctx), total = 0.0;
    out->seconds = t;
    out->reps = 0;
    if (t > 4.0 * x->long_call)
        return;
    const int min_reps = t > x->long_call ? 1 : x->min_reps;
    while (out->reps < min_reps || total < x->min_seconds) {
        t = rep(ctx);
        if (out->reps++ == 0 || t < out->seconds)
            out->seconds = t;
        total += t;
    }
}

/* speed_time's rule for one call of a group after its warm-up t: the
 * repeats it wants (0: the warm-up is the measurement). */
static int wanted_reps(const speed_run *x, double t)
{
    return t > 4.0 * x->long_call ? 0 : t > x->long_call ? 1 : x->min_reps;
}

/* Whether a call of a group still wants repeats after those in total. */
static int wants(const speed_run *x, int want, const speed_row *r,
                 double total)
{
    return want > 0 && (r->reps < want || total < x->min_seconds);
}

int speed_time_group(const speed_run *x, size_t n, double (*rep)(void *),
                     void *const ctx[], speed_row *const out[],
                     double times[][SPEED_ROUNDS + 1])
{
    int want[MAX_MEMBERS];          /* (n) */
    double total[MAX_MEMBERS];      /* (n) seconds of timed repeats */
    for (size_t i = 0; i < n; ++i) {
        for (int r = 0; r <= SPEED_ROUNDS; ++r)
            times[i][r] = 0.0;
        times[i][0] = out[i]->seconds = rep(ctx[i]);
        out[i]->reps = 0;
        want[i] = wanted_reps(x, times[i][0]);
        total[i] = 0.0;
    }
    int round = 1;
    for (; round <= SPEED_ROUNDS; ++round) {
        int any = 0;
        for (size_t i = 0; i < n; ++i)
            any |= wants(x, want[i], out[i], total[i]);
        if (!any)
            break;
        /* The reference runs in every round, to pair with the others. */
        for (size_t i = 0; i < n; ++i) {
            if (i > 0 && !wants(x, want[i], out[i], total[i]))
                continue;
            const double t = times[i][round] = rep(ctx[i]);
            if (out[i]->reps++ == 0 || t < out[i]->seconds)
                out[i]->seconds = t;
            total[i] += t;
        }
    }
    return round;
}

/* CPU seconds busy over all CPUs (/proc/stat's first line: user nice
 * system idle iowait irq softirq steal; idle and iowait are not busy,
 * steal is: a co-tenant took it) and this process's own (getrusage). */
speed_load speed_load_now(void)
{
    speed_load m = {speed_now(), -1.0, 0.0};
    unsigned long long t[8] = {0};
    struct rusage u;
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return m;
    const int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                           &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6],
                           &t[7]);
    fclose(f);
    const long hz = sysconf(_SC_CLK_TCK);
    if (got < 7 || hz <= 0 || getrusage(RUSAGE_SELF, &u) != 0)
        return m;
    m.busy = (double)(t[0] + t[1] + t[2] + t[5] + t[6] + t[7]) / (double)hz;
    m.own = (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
            (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
    return m;
}

/* Average number of cores other processes kept busy between a and b. */
double speed_others(const speed_load *a, const speed_load *b)
{
    const double wall = b->wall - a->wall;
    if (a->busy < 0.0 || b->busy < 0.0 || wall <= 0.0)
        return -1.0;
    const double others = (b->busy - a->busy) - (b->own - a->own);
    return others > 0.0 ? others / wall : 0.0; /* ticks: 10 ms granularity */
}

/* ru_maxrss (KiB on Linux), or /proc/self/statm's resident pages. */
double speed_rss(int peak)
{
    struct rusage u;
    long size = 0, resident = 0;
    if (peak)
        return getrusage(RUSAGE_SELF, &u) == 0 ? 1024.0 * (double)u.ru_maxrss
                                               : -1.0;
    FILE *f = fopen("/proc/self/statm", "r");
    const int got = f ? fscanf(f, "%ld %ld", &size, &resident) : 0;
    if (f)
        fclose(f);
    const long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (double)resident * (double)page : -1.0;
}

void *speed_alloc(size_t bytes)
{
    void *p = malloc(bytes > 0 ? bytes : 1);
    if (p == NULL) {
        fprintf(stderr, PROG ": out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}
