#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "speed_load.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "speed_timer.h"

/* Busy CPU seconds over all CPUs from the first line of /proc/stat:
 * user nice system idle iowait irq softirq steal, in clock ticks; idle and
 * iowait are not busy. Steal counts: a co-tenant took that time. */
static int all_busy(double *seconds)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return -1;
    unsigned long long t[8] = {0};   /* (8) ticks, in the order above */
    const int got = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
                           &t[0], &t[1], &t[2], &t[3], &t[4], &t[5], &t[6],
                           &t[7]);
    fclose(f);
    const long hz = sysconf(_SC_CLK_TCK);
    if (got < 7 || hz <= 0)
        return -1;
    const unsigned long long busy = t[0] + t[1] + t[2] + t[5] + t[6] + t[7];
    *seconds = (double)busy / (double)hz;
    return 0;
}

void speed_load_mark_now(speed_load_mark *m)
{
    struct rusage u;
    m->wall = speed_now();
    m->ok = all_busy(&m->all_busy) == 0 && getrusage(RUSAGE_SELF, &u) == 0;
    if (m->ok)
        m->own = (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
                 (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

double speed_load_others(const speed_load_mark *a, const speed_load_mark *b)
{
    const double wall = b->wall - a->wall;
    if (!a->ok || !b->ok || wall <= 0.0)
        return -1.0;
    const double others = (b->all_busy - a->all_busy) - (b->own - a->own);
    /* Tick granularity (10 ms) can make a short interval slightly negative. */
    return others > 0.0 ? others / wall : 0.0;
}
