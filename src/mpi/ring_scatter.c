/* A global tensor on one rank to every rank's shard under a layout and
 * back, over the communicator: the root cuts (or assembles) one shard at a
 * time in a buffer of one shard, and exchanges it with that rank. */
#include "ring_internal.h"

#include <stdlib.h>
#include <string.h>

/* The checks of both directions, local to each rank. */
static attn_status check_args(int world, int rank, int root,
                              attn_ring_layout layout, int64_t n0, int64_t n1,
                              int64_t local_len, int64_t last,
                              const float *global, const float *local,
                              int64_t *shard_floats)
{
    if (local == NULL || (rank == root && global == NULL))
        return ATTN_ERR_NULL_POINTER;
    if (root < 0 || root >= world)
        return ATTN_ERR_BAD_ARGUMENT;
    attn_status s = attni_ring_check_layout(layout, world, rank, local_len);
    if (s != ATTN_OK)
        return s;
    if (n0 < 1 || n1 < 1 || last < 1)
        return ATTN_ERR_BAD_DIMENSION;
    int64_t rows, shard, total;
    if (attni_ring_mul(n0, n1, &rows) || attni_ring_mul(rows, local_len, &rows) ||
        attni_ring_mul(rows, last, &shard) || attni_ring_mul(shard, world, &total) ||
        (uint64_t)total > SIZE_MAX / sizeof(float) ||
        (uint64_t)total > (uint64_t)PTRDIFF_MAX / sizeof(float))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (rank == root) {
        const attni_ring_range a = {local, (size_t)shard * sizeof(float)};
        const attni_ring_range g = {global, (size_t)total * sizeof(float)};
        if (attni_ring_overlap(&a, 1, &g, 1))
            return ATTN_ERR_ALIASING;
    }
    *shard_floats = shard;
    return ATTN_OK;
}

/* Root's side: every rank's shard cut from global and sent (scatter), or
 * received and placed into `assembled` (gather), one at a time through
 * tmp; its own shard goes through tmp too. */
static attn_status root_side(MPI_Comm c, int world, int root,
                             attn_ring_layout layout, int64_t n0, int64_t n1,
                             int64_t local_len, int64_t last, int64_t shard,
                             const float *global, const float *local,
                             float *tmp, float *assembled, MPI_Request *reqs,
                             int to_root)
{
    const attn_strides ls = attni_ring_contig(n1, local_len, last);
    const attn_strides gs = attni_ring_contig(n1, (int64_t)world * local_len, last);
    attn_status s = ATTN_OK;
    int nreq = 0;
    for (int i = 0; i < world && s == ATTN_OK; ++i) {
        if (i == root)
            continue; /* last, below: tmp then holds the root's shard */
        if (!to_root) {
            attni_ring_copy_rows(layout, world, i, n0, n1, local_len, last,
                                 global, gs, tmp, ls, 0);
            s = attni_ring_post_send(tmp, shard, i, ATTNI_RING_TAG_ROWS, c,
                                     reqs, &nreq);
        } else {
            s = attni_ring_post_recv(tmp, shard, i, ATTNI_RING_TAG_ROWS, c,
                                     reqs, &nreq);
        }
        if (s == ATTN_OK)
            s = attni_ring_wait(reqs, &nreq);
        if (s == ATTN_OK && to_root)
            attni_ring_copy_rows(layout, world, i, n0, n1, local_len, last,
                                 tmp, ls, assembled, gs, 1);
    }
    attni_ring_abandon(reqs, &nreq);
    if (s == ATTN_OK) {
        if (!to_root)
            attni_ring_copy_rows(layout, world, root, n0, n1, local_len, last,
                                 global, gs, tmp, ls, 0);
        else
            attni_ring_copy_rows(layout, world, root, n0, n1, local_len, last,
                                 local, ls, assembled, gs, 1);
    }
    return s;
}

/*
 * Runs one direction; to_root selects gather. Nothing is written on any
 * rank until every transfer has succeeded everywhere: shards arrive in a
 * staging buffer (scatter: tmp on every rank) or the global tensor is
 * assembled apart (gather: on the root), copied out after the final
 * agreement.
 */
static attn_status exchange(MPI_Comm comm, int root, attn_ring_layout layout,
                            int64_t n0, int64_t n1, int64_t local_len,
                            int64_t last, const float *global_in,
                            float *global_out, const float *local_in,
                            float *local_out, int to_root)
{
    MPI_Comm c;
    int world = 0, rank = 0;
    attn_status s = attni_ring_comm_begin(comm, &c, &world, &rank);
    if (s != ATTN_OK)
        return s;
    int64_t shard = 0;
    float *tmp = NULL, *assembled = NULL;
    MPI_Request *reqs = NULL;
    s = check_args(world, rank, root, layout, n0, n1, local_len, last,
                   to_root ? global_out : global_in,
                   to_root ? local_in : local_out, &shard);
    if (s == ATTN_OK) {
        tmp = malloc((size_t)shard * sizeof(float));
        reqs = malloc((size_t)attni_ring_pieces(shard) * sizeof *reqs);
        if (to_root && rank == root)
            assembled = malloc((size_t)(shard * world) * sizeof(float));
        if (!tmp || !reqs || (to_root && rank == root && !assembled))
            s = ATTN_ERR_OUT_OF_MEMORY;
    }
    int64_t shape[ATTNI_RING_SHAPE_N] = {root, layout, n0, n1, local_len, last};
    s = attni_ring_agree(c, rank, s, shape, ATTNI_RING_SHAPE_N);
    if (s == ATTN_OK) {
        attn_status run;
        if (rank == root) {
            run = root_side(c, world, root, layout, n0, n1, local_len, last,
                            shard, global_in, local_in, tmp, assembled, reqs,
                            to_root);
        } else {
            int nreq = 0;
            run = to_root ? attni_ring_post_send(local_in, shard, root,
                                                 ATTNI_RING_TAG_ROWS, c, reqs, &nreq)
                          : attni_ring_post_recv(tmp, shard, root,
                                                 ATTNI_RING_TAG_ROWS, c, reqs, &nreq);
            if (run == ATTN_OK)
                run = attni_ring_wait(reqs, &nreq);
            attni_ring_abandon(reqs, &nreq);
        }
        s = attni_ring_agree(c, rank, run, NULL, 0);
    }
    if (s == ATTN_OK) {
        if (!to_root)
            memcpy(local_out, tmp, (size_t)shard * sizeof(float));
        else if (rank == root)
            memcpy(global_out, assembled, (size_t)(shard * world) * sizeof(float));
    }
    free(assembled);
    free(tmp);
    free(reqs);
    attni_ring_comm_end(&c);
    return s;
}

attn_status attn_ring_scatter(MPI_Comm comm, int root, attn_ring_layout layout,
                              int64_t n0, int64_t n1, int64_t local_len,
                              int64_t last, const float *global, float *local)
{
    return exchange(comm, root, layout, n0, n1, local_len, last, global, NULL,
                    NULL, local, 0);
}

attn_status attn_ring_gather(MPI_Comm comm, int root, attn_ring_layout layout,
                             int64_t n0, int64_t n1, int64_t local_len,
                             int64_t last, const float *local, float *global)
{
    return exchange(comm, root, layout, n0, n1, local_len, last, NULL, global,
                    local, NULL, 1);
}
