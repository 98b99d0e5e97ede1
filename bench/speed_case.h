/*
 * One attention shape's buffers, allocated and filled once, and the timed
 * library calls on them: forward, or forward + backward, on the fused or
 * the materialised path, full or causal, at a given thread count.
 */
#ifndef BENCH_SPEED_CASE_H
#define BENCH_SPEED_CASE_H

#include <stddef.h>
#include <stdint.h>

#include <attention/attention.h>

#include "speed_timer.h"

/* Self-attention: Tq = Tk = t, Hq = Hkv = h, dv = d. */
typedef struct speed_shape {
    int64_t b, h, t, d;
} speed_shape;

typedef struct speed_case {
    speed_shape s;
    float *q;       /* (B, H, T, d) */
    float *k;       /* (B, H, T, d) */
    float *v;       /* (B, H, T, d) */
    float *out;     /* (B, H, T, d) */
    float *lse;     /* (B, H, T)    */
    float *dout;    /* (B, H, T, d) */
    float *dq;      /* (B, H, T, d) accumulated into, never read back */
    float *dk;      /* (B, H, T, d) */
    float *dv;      /* (B, H, T, d) */
} speed_case;

/* Allocates and fills (outputs zeroed, so their pages are resident before
 * anything is timed); 0, or -1 out of memory. */
int speed_case_alloc(speed_case *c, speed_shape s, uint64_t seed);
void speed_case_free(speed_case *c);

typedef enum speed_pass { SPEED_FWD = 0, SPEED_FWDBWD = 1 } speed_pass;

typedef struct speed_setting {
    attn_algo algo;         /* ATTN_ALGO_FUSED or ATTN_ALGO_MATERIALIZED */
    int causal;             /* 0 full, 1 causal (top-left) */
    speed_pass pass;
    int threads;            /* attn_sdpa_desc.num_threads */
} speed_setting;

typedef struct speed_measure {
    double flop;            /* counted FLOPs of one call (see .c) */
    double gflops;          /* flop / best time */
    size_t extra_bytes;     /* workspace the library asked for */
    speed_timing timing;
} speed_measure;

/* Times the setting on the case's buffers. Exits with the library's
 * message on any API error (a benchmark of a failing call means nothing). */
void speed_case_measure(speed_case *c, const speed_setting *set,
                        const speed_budget *b, speed_measure *out);

/* FLOPs as the issue counts them: forward 4 B H Tq Tk d, halved for causal;
 * backward 2.5 x forward. */
double speed_flop(speed_shape s, int causal, speed_pass pass);

#endif /* BENCH_SPEED_CASE_H */
