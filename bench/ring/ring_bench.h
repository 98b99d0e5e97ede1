/* attention-bench-ring: shared declarations of its files. */
#ifndef ATTENTION_BENCH_RING_H
#define ATTENTION_BENCH_RING_H

#include <stdint.h>

#include <attention/ring.h>

/* What one run measures. */
typedef struct rb_config {
    int64_t T;             /* global tokens */
    int64_t heads, kv_heads, d;
    int causal;
    attn_ring_layout layout;
    int backward;          /* time the backward instead of the forward */
    int reps;              /* timed repetitions (after one warm-up) */
    int csv;
} rb_config;

/* Per step, over the repetitions and ranks. */
typedef struct rb_step {
    double compute_mean;   /* seconds, mean over ranks (best repetition) */
    double compute_max;    /* slowest rank: what the lockstep ring waits for */
    double wait_max;       /* exposed communication, slowest rank */
    double comm_alone;     /* the same transfer with nothing to overlap */
    double flops_max;      /* score-pair work of the busiest rank, as FLOPs */
} rb_step;

typedef struct rb_result {
    int world;
    rb_step *steps;        /* (world) */
    double total;          /* the call, slowest rank, best repetition */
    double compute_sum;    /* sum of all ranks' compute, best repetition */
    uint64_t bytes_sent;   /* per rank per call */
    uint64_t block_bytes;  /* one K/V block (the backward also sends dK/dV blocks) */
    double flops_total;    /* FLOPs of the whole call, all ranks */
    attn_status status;
} rb_result;

/* Runs the configuration on MPI_COMM_WORLD; every rank returns the same
 * result (reduced). steps must be freed by the caller. */
rb_result rb_measure(const rb_config *c);

/* Prints the result on rank 0 (table or CSV). */
void rb_report(const rb_config *c, const rb_result *r);

#endif /* ATTENTION_BENCH_RING_H */
