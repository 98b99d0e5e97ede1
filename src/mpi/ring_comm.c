/* The communicator of a ring call and the collective agreement on its
 * status: every rank returns the same status before any data moves. */
#include "ring_internal.h"

#include <stdint.h>

attn_status attni_ring_comm_begin(MPI_Comm comm, MPI_Comm *dup, int *world,
                                  int *rank)
{
    *dup = MPI_COMM_NULL;
    if (comm == MPI_COMM_NULL)
        return ATTN_ERR_NULL_POINTER;
    int up = 0, down = 0;
    if (MPI_Initialized(&up) != MPI_SUCCESS || !up ||
        MPI_Finalized(&down) != MPI_SUCCESS || down)
        return ATTN_ERR_BAD_ARGUMENT;
    /* Our own context: our messages never match the caller's, and errors
     * come back as codes instead of the caller's handler (often fatal). */
    if (MPI_Comm_dup(comm, dup) != MPI_SUCCESS) {
        *dup = MPI_COMM_NULL;
        return ATTN_ERR_IO;
    }
    if (MPI_Comm_set_errhandler(*dup, MPI_ERRORS_RETURN) != MPI_SUCCESS ||
        MPI_Comm_size(*dup, world) != MPI_SUCCESS ||
        MPI_Comm_rank(*dup, rank) != MPI_SUCCESS) {
        MPI_Comm_free(dup);
        return ATTN_ERR_IO;
    }
    return ATTN_OK;
}

void attni_ring_comm_end(MPI_Comm *dup)
{
    if (*dup != MPI_COMM_NULL)
        MPI_Comm_free(dup);
}

/* Status codes stay below 2^16: the agreement key is rank * 2^16 + status,
 * so the minimum over ranks is the lowest failing rank's status. */
#define RING_KEY_SHIFT 16
#define RING_KEY_OK INT64_MAX

attn_status attni_ring_agree(MPI_Comm comm, int rank, attn_status local,
                             const int64_t *shape, int n)
{
    /* One MIN reduction over [key, shape, -shape]: min(-x) = -max(x). */
    int64_t in[1 + 2 * 24], out[1 + 2 * 24];
    in[0] = local == ATTN_OK ? RING_KEY_OK
                             : ((int64_t)rank << RING_KEY_SHIFT) | (int64_t)local;
    for (int i = 0; i < n; ++i) {
        const int64_t x = local == ATTN_OK ? shape[i] : 0;
        in[1 + i] = x;
        in[1 + n + i] = -x;
    }
    /* A failing rank's shape values are zeros, but its key decides. */
    if (MPI_Allreduce(in, out, 1 + 2 * n, MPI_INT64_T, MPI_MIN, comm) != MPI_SUCCESS)
        return ATTN_ERR_IO;
    if (out[0] != RING_KEY_OK)
        return (attn_status)(out[0] & (((int64_t)1 << RING_KEY_SHIFT) - 1));
    for (int i = 0; i < n; ++i)
        if (out[1 + i] != -out[1 + n + i])
            return ATTN_ERR_BAD_ARGUMENT; /* the ranks disagree on the shape */
    return ATTN_OK;
}

int64_t attni_ring_hash(const int64_t *x, int64_t n)
{
    /* FNV-1a over the values' bytes, kept positive so that -hash fits. */
    uint64_t h = 1469598103934665603ull;
    for (int64_t i = 0; i < n; ++i)
        for (int k = 0; k < 8; ++k) {
            h ^= ((uint64_t)x[i] >> (8 * k)) & 0xffu;
            h *= 1099511628211ull;
        }
    return (int64_t)(h >> 1);
}

int64_t attni_ring_hash_floats(const float *x, int64_t n0, int64_t stride0,
                               int64_t n)
{
    if (x == NULL)
        return 0;
    /* The values' bits (a NaN's payload too: the core rejects those). */
    uint64_t h = 1469598103934665603ull;
    for (int64_t a = 0; a < n0; ++a)
        for (int64_t i = 0; i < n; ++i) {
            union { float f; uint32_t u; } v = {x[a * stride0 + i]};
            for (int k = 0; k < 4; ++k) {
                h ^= (v.u >> (8 * k)) & 0xffu;
                h *= 1099511628211ull;
            }
        }
    return (int64_t)(h >> 1) | 1; /* nonzero: present */
}

int attni_ring_shape(const attn_ring_desc *d, int64_t *shape)
{
    union { float f; uint32_t u; } scale = {d->scale};
    int n = 0;
    shape[n++] = d->batch;
    shape[n++] = d->q_heads;
    shape[n++] = d->kv_heads;
    shape[n++] = d->q_len;
    shape[n++] = d->kv_len;
    shape[n++] = d->head_dim;
    shape[n++] = d->v_head_dim;
    shape[n++] = (int64_t)scale.u;
    shape[n++] = (int64_t)d->causal;
    shape[n++] = (int64_t)d->layout;
    shape[n++] = d->kv_lens != NULL;
    shape[n++] = d->kv_lens != NULL ? attni_ring_hash(d->kv_lens, d->batch) : 0;
    union { float f; uint32_t u; } cap = {d->softcap};
    shape[n++] = d->window_left;
    shape[n++] = d->window_right;
    shape[n++] = (int64_t)cap.u;
    shape[n++] = d->alibi_slopes != NULL ? d->alibi_batch_stride : -1;
    shape[n++] = attni_ring_hash_floats(d->alibi_slopes, d->batch,
                                        d->alibi_batch_stride, d->q_heads);
    shape[n++] = attni_ring_hash_floats(d->sinks, 1, 0, d->q_heads);
    return n;
}

void attni_ring_stats_begin(attn_ring_stats *st, int64_t steps)
{
    if (st == NULL)
        return;
    st->steps = steps;
    st->compute_seconds = st->wait_seconds = st->total_seconds = 0.0;
    st->bytes_sent = 0;
    for (int64_t i = 0; i < st->step_capacity; ++i) {
        if (st->step_compute)
            st->step_compute[i] = 0.0;
        if (st->step_wait)
            st->step_wait[i] = 0.0;
    }
}

void attni_ring_stats_step(attn_ring_stats *st, int64_t step, double compute,
                           double wait)
{
    if (st == NULL)
        return;
    st->compute_seconds += compute;
    st->wait_seconds += wait;
    if (step < st->step_capacity) {
        if (st->step_compute)
            st->step_compute[step] += compute;
        if (st->step_wait)
            st->step_wait[step] += wait;
    }
}

attn_status attni_ring_stats_check(const attn_ring_stats *st)
{
    if (st == NULL)
        return ATTN_OK;
    if (st->struct_size != sizeof *st)
        return ATTN_ERR_BAD_DESC;
    if (st->step_capacity < 0)
        return ATTN_ERR_BAD_ARGUMENT;
    return ATTN_OK;
}

/* Floats per message: MPI counts are int. */
#define RING_PIECE ((int64_t)1 << 30)

int attni_ring_pieces(int64_t n)
{
    return (int)((n + RING_PIECE - 1) / RING_PIECE);
}

attn_status attni_ring_post_recv(float *buf, int64_t n, int from, int tag,
                                 MPI_Comm comm, MPI_Request *reqs, int *nreq)
{
    for (int64_t at = 0; at < n; at += RING_PIECE) {
        const int64_t len = n - at < RING_PIECE ? n - at : RING_PIECE;
        if (MPI_Irecv(buf + at, (int)len, MPI_FLOAT, from, tag, comm,
                      &reqs[*nreq]) != MPI_SUCCESS)
            return ATTN_ERR_IO;
        ++*nreq;
    }
    return ATTN_OK;
}

attn_status attni_ring_post_send(const float *buf, int64_t n, int to, int tag,
                                 MPI_Comm comm, MPI_Request *reqs, int *nreq)
{
    for (int64_t at = 0; at < n; at += RING_PIECE) {
        const int64_t len = n - at < RING_PIECE ? n - at : RING_PIECE;
        if (MPI_Isend(buf + at, (int)len, MPI_FLOAT, to, tag, comm,
                      &reqs[*nreq]) != MPI_SUCCESS)
            return ATTN_ERR_IO;
        ++*nreq;
    }
    return ATTN_OK;
}

void attni_ring_progress(MPI_Request *reqs, int nreq)
{
    int done;
    if (nreq > 0)
        (void)MPI_Testall(nreq, reqs, &done, MPI_STATUSES_IGNORE);
}

attn_status attni_ring_wait(MPI_Request *reqs, int *nreq)
{
    const int n = *nreq;
    *nreq = 0;
    if (n > 0 && MPI_Waitall(n, reqs, MPI_STATUSES_IGNORE) != MPI_SUCCESS)
        return ATTN_ERR_IO;
    return ATTN_OK;
}

void attni_ring_abandon(MPI_Request *reqs, int *nreq)
{
    for (int i = 0; i < *nreq; ++i)
        if (reqs[i] != MPI_REQUEST_NULL)
            (void)MPI_Cancel(&reqs[i]);
    if (*nreq > 0)
        (void)MPI_Waitall(*nreq, reqs, MPI_STATUSES_IGNORE);
    *nreq = 0;
}
