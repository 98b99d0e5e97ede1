#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "plan/parallel.h"

#include <stdlib.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

/* Beyond this a request is surely a mistake; it is clamped, not refused. */
#define MAX_THREADS 1024

int attni_threads_resolve(int requested)
{
    long n = requested;
    if (n <= 0) {
        const char *env = getenv("ATTN_NUM_THREADS");
        char *end;
        n = env ? strtol(env, &end, 10) : 0;
        if (env && (*end != '\0' || end == env))
            n = 0;
    }
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n <= 0)
        n = 1;
    return (int)(n > MAX_THREADS ? MAX_THREADS : n);
}

void attni_parallel_for(int64_t tasks, int threads, attn_task_fn fn,
                       const void *ctx)
{
    if (threads > tasks)
        threads = (int)tasks;
    if (threads < 1)
        threads = 1;
#ifdef _OPENMP
    /* A region even for one thread: inside it, omp_set_num_threads(1)
     * changes only this region's own setting, so an OpenMP BLAS called
     * from the tasks runs on the calling thread without any global change.
     * Dynamic scheduling: causal tasks differ in cost. */
#pragma omp parallel num_threads(threads)
    {
        omp_set_num_threads(1);
#pragma omp for schedule(dynamic, 1)
        for (int64_t t = 0; t < tasks; ++t)
            fn(ctx, t, omp_get_thread_num());
    }
#else
    for (int64_t t = 0; t < tasks; ++t)
        fn(ctx, t, 0);
#endif
}
