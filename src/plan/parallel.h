/* Threads of a call: how many, and a parallel loop over tasks. */
#ifndef ATTN_SRC_PARALLEL_H
#define ATTN_SRC_PARALLEL_H

#include <stdint.h>

/* The thread count a call uses: requested if > 0, else the positive
 * integer in ATTN_NUM_THREADS, else the number of online cores. */
int attni_threads_resolve(int requested);

/* Runs fn(ctx, task, thread) for task in [0, tasks) on up to `threads`
 * threads (thread in [0, threads)); returns when all are done. Which
 * thread runs which task varies; task results must not depend on it. */
typedef void (*attn_task_fn)(const void *ctx, int64_t task, int thread);
void attni_parallel_for(int64_t tasks, int threads, attn_task_fn fn,
                       const void *ctx);

#endif /* ATTN_SRC_PARALLEL_H */
