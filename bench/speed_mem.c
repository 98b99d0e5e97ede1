#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "speed_mem.h"

#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

double speed_peak_rss(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u) != 0)
        return -1.0;
#ifdef __APPLE__
    return (double)u.ru_maxrss;             /* bytes there */
#else
    return 1024.0 * (double)u.ru_maxrss;    /* KiB on Linux and the BSDs */
#endif
}

double speed_current_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1.0;
    long size = 0, resident = 0;
    const int got = fscanf(f, "%ld %ld", &size, &resident);
    fclose(f);
    const long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (double)resident * (double)page : -1.0;
}
