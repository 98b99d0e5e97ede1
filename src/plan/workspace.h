/* Workspaces: how a call's scratch is laid out, and how many threads a
 * given workspace has room for. */
#ifndef ATTN_SRC_WORKSPACE_H
#define ATTN_SRC_WORKSPACE_H

#include <stddef.h>

#include <attention/status.h>

/* Slack so the workspace can be aligned to a cache line. */
#define ATTN_WORKSPACE_ALIGN 64

/*
 * A workspace is ATTN_WORKSPACE_ALIGN bytes of slack, a part every thread
 * of the call shares, then one slot per thread. The size query answers for
 * the largest shape any call with the descriptor can take, so a call
 * adapts inside the workspace it is given (fewer threads) instead of
 * failing when process state changed since the query.
 */
typedef struct attn_ws_shape {
    size_t shared;
    size_t per_thread;
} attn_ws_shape;

/* The larger of each part. */
attn_ws_shape attni_ws_shape_max(attn_ws_shape a, attn_ws_shape b);

/* Bytes for `threads` slots; ATTN_ERR_SIZE_OVERFLOW if they do not fit. */
attn_status attni_ws_bytes(attn_ws_shape s, int threads, size_t *bytes);

/* How many of `wanted` threads fit in `bytes` (at most `wanted`, 0 when
 * not even one does). */
int attni_ws_threads(attn_ws_shape s, size_t bytes, int wanted);

/* The threads a call runs on in a caller's workspace ws of ws_bytes: as
 * many of `wanted` as `shape` (the tiles the call takes) has room for.
 * `least` (one thread's share of the size query's answer) is the least
 * accepted, whatever the process state: below, ATTN_ERR_WORKSPACE_TOO_SMALL;
 * no workspace, ATTN_ERR_NULL_POINTER. */
attn_status attni_ws_check(const void *ws, size_t ws_bytes, size_t least,
                           attn_ws_shape shape, int wanted, int *threads);

/* n rounded up to a multiple of ATTN_WORKSPACE_ALIGN: workspace pieces
 * placed one after another stay aligned. */
size_t attni_workspace_round(size_t n);

/* The first ATTN_WORKSPACE_ALIGN-aligned float at or after p. */
float *attni_workspace_floats(void *p);

#endif /* ATTN_SRC_WORKSPACE_H */
