/*
 * Ring attention backward. The core's backward recomputes P = exp(s - lse)
 * from the lse it is given, so with the GLOBAL lse and out of the ring
 * forward each (query sub-chunk, key sub-chunk) call gives exactly that
 * pair's share of the gradients: dQ accumulates locally, and each K/V block
 * travels round the ring again followed by its dK/dV accumulator, to which
 * every rank adds its share; after P steps the accumulator reaches its home
 * rank. rowsum(dO * O) uses the global O: correct. With sinks, the global
 * lse includes them, and the pair calls get the sinks as well: the core
 * uses them only to skip rows that saw nothing (lse == sink).
 *
 * Overlap: the next K/V block and the accumulator of the block in hand
 * arrive while this step's shares are computed into a zeroed buffer z; the
 * accumulator is then z added to it, in a fixed order (home rank first,
 * then round the ring), so results are bit-identical between runs.
 */
#include "ring_internal.h"

#include <stdlib.h>
#include <string.h>

#include <attention/sdpa_backward.h>

typedef struct bwd_bufs {
    float *qp, *op, *dop, *lp; /* packed Q, out, dO (nsub, B, Hq, cq, .) and lse */
    float *dqp;                /* packed dQ accumulator, like qp */
    float *blk[2];             /* K/V blocks: in hand, arriving */
    float *dacc[2];            /* dK/dV accumulators: arriving/in hand, leaving */
    float *z;                  /* this step's dK/dV shares */
    int64_t *lens;             /* (B) */
    void *ws;
    MPI_Request *kv_reqs;      /* 2 * pieces */
    MPI_Request *drecv_reqs;   /* pieces */
    MPI_Request *dsend_reqs;   /* pieces */
} bwd_bufs;

static void bwd_free(bwd_bufs *b)
{
    free(b->qp);
    free(b->op);
    free(b->dop);
    free(b->lp);
    free(b->dqp);
    free(b->blk[0]);
    free(b->blk[1]);
    free(b->dacc[0]);
    free(b->dacc[1]);
    free(b->z);
    free(b->lens);
    free(b->ws);
    free(b->kv_reqs);
    free(b->drecv_reqs);
    free(b->dsend_reqs);
}

static attn_status bwd_alloc(bwd_bufs *b, const attni_ring_plan *p)
{
    const attn_ring_desc *d = &p->d;
    int64_t all_rows, qf, of;
    if (attni_ring_mul(p->rows, p->nsub, &all_rows) ||
        attni_ring_mul(all_rows, d->head_dim, &qf) ||
        attni_ring_mul(all_rows, d->v_head_dim, &of))
        return ATTN_ERR_SIZE_OVERFLOW;
    const int64_t pieces = attni_ring_pieces(p->block_floats);
    b->qp = attni_ring_alloc(qf, sizeof(float));
    b->dqp = calloc((size_t)(qf > 0 ? qf : 1), sizeof(float));
    b->op = attni_ring_alloc(of, sizeof(float));
    b->dop = attni_ring_alloc(of, sizeof(float));
    b->lp = attni_ring_alloc(all_rows, sizeof(float));
    for (int i = 0; i < 2; ++i) {
        b->blk[i] = attni_ring_alloc(p->block_floats, sizeof(float));
        b->dacc[i] = attni_ring_alloc(p->block_floats, sizeof(float));
    }
    b->z = attni_ring_alloc(p->block_floats, sizeof(float));
    b->lens = attni_ring_alloc(d->batch, sizeof(int64_t));
    b->ws = malloc(p->ws_bytes > 0 ? p->ws_bytes : 1);
    b->kv_reqs = attni_ring_alloc(2 * pieces, sizeof(MPI_Request));
    b->drecv_reqs = attni_ring_alloc(pieces, sizeof(MPI_Request));
    b->dsend_reqs = attni_ring_alloc(pieces, sizeof(MPI_Request));
    if (!b->qp || !b->dqp || !b->op || !b->dop || !b->lp || !b->blk[0] ||
        !b->blk[1] || !b->dacc[0] || !b->dacc[1] || !b->z || !b->lens ||
        !b->ws || !b->kv_reqs || !b->drecv_reqs || !b->dsend_reqs)
        return ATTN_ERR_OUT_OF_MEMORY;
    return ATTN_OK;
}

/* Gradient outputs may not overlap any input or each other. */
static attn_status bwd_check_pointers(const attni_ring_plan *p, const float *q,
                                      const float *k, const float *v,
                                      const float *out, const float *lse,
                                      const float *dout, const float *dq,
                                      const float *dk, const float *dv)
{
    const attn_ring_desc *d = &p->d;
    if (!q || !k || !v || !out || !lse || !dout)
        return ATTN_ERR_NULL_POINTER;
    size_t qb, kb, vb, ob, lb;
    attn_status s;
    const attn_strides ls = attni_ring_contig(d->q_heads, d->q_len, 1);
    if ((s = attni_ring_span(d->batch, d->q_heads, d->q_len, d->head_dim, d->q_strides, &qb)) ||
        (s = attni_ring_span(d->batch, d->kv_heads, d->kv_len, d->head_dim, d->k_strides, &kb)) ||
        (s = attni_ring_span(d->batch, d->kv_heads, d->kv_len, d->v_head_dim, d->v_strides, &vb)) ||
        (s = attni_ring_span(d->batch, d->q_heads, d->q_len, d->v_head_dim, d->out_strides, &ob)) ||
        (s = attni_ring_span(d->batch, d->q_heads, d->q_len, 1, ls, &lb)))
        return s;
    const attni_ring_range outs[] = {{dq, qb}, {dk, kb}, {dv, vb}};
    const attni_ring_range ins[] = {{q, qb}, {k, kb}, {v, vb},
                                    {out, ob}, {lse, lb}, {dout, ob}};
    if (attni_ring_overlap(outs, 3, ins, 6))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

/* One step's shares: every query sub-chunk against the block from `src`,
 * dQ into dqp, dK/dV into dst (a packed block). */
static attn_status bwd_step(attni_ring_plan *p, bwd_bufs *b, int want_dq,
                            const float *blk, float *dst, int src, int nkv,
                            int nrecv)
{
    const attn_ring_desc *d = &p->d;
    const int64_t dd = d->head_dim, dv = d->v_head_dim;
    const int64_t kb = d->batch * d->kv_heads * p->ck * dd;
    const int64_t vb = d->batch * d->kv_heads * p->ck * dv;
    for (int a = 0; a < p->nsub; ++a) {
        const int64_t ga = attni_ring_chunk(d->layout, p->world, p->rank, a);
        for (int c = 0; c < p->nsub; ++c) {
            const int64_t gb = attni_ring_chunk(d->layout, p->world, src, c);
            for (int64_t i = 0; i < d->batch; ++i) {
                attni_ring_pair pc;
                attni_ring_pair_of(p, ga, gb, i, &pc);
                if (!pc.visible)
                    continue; /* nothing visible: nothing to add */
                for (int64_t g = 0; g < d->kv_heads; ++g) {
                    /* (batch i, kv head g) and its group of query heads;
                     * the sinks only mark the rows that saw nothing */
                    const int64_t kvrow = (i * d->kv_heads + g) * p->ck;
                    const int64_t qrow = a * p->rows + (i * d->q_heads + g * p->group) * p->cq;
                    attni_ring_pair_desc(p, i, g, &pc, 1, b->lens);
                    attn_status s = attn_sdpa_backward_ws(
                        &p->pair, b->qp + qrow * dd, blk + c * kb + kvrow * dd,
                        blk + p->k_floats + c * vb + kvrow * dv, b->op + qrow * dv,
                        b->lp + qrow, b->dop + qrow * dv,
                        want_dq ? b->dqp + qrow * dd : NULL, dst + c * kb + kvrow * dd,
                        dst + p->k_floats + c * vb + kvrow * dv, NULL, b->ws, p->ws_bytes);
                    /* the next K/V block and this one's accumulator */
                    attni_ring_progress(b->kv_reqs, nkv);
                    attni_ring_progress(b->drecv_reqs, nrecv);
                    if (s != ATTN_OK)
                        return s;
                }
            }
        }
    }
    return ATTN_OK;
}

static void add_into(float *acc, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; ++i)
        acc[i] += x[i];
}

/* The ring; returns the block's final accumulator in *home. As in the
 * forward, a failed compute stops computing but not the transfers. */
static attn_status bwd_ring(attni_ring_plan *p, bwd_bufs *b, MPI_Comm comm,
                            const float *k, const float *v, int want_dq,
                            attn_ring_stats *stats, float **home)
{
    const attn_ring_desc *d = &p->d;
    const int P = p->world, r = p->rank;
    const int left = (r + P - 1) % P, right = (r + 1) % P;
    const int64_t n = p->block_floats;
    const uint64_t bytes = (uint64_t)n * sizeof(float);
    attni_ring_pack(d->batch, d->kv_heads, p->nsub, p->ck, d->head_dim, k,
                    d->k_strides, b->blk[0]);
    attni_ring_pack(d->batch, d->kv_heads, p->nsub, p->ck, d->v_head_dim, v,
                    d->v_strides, b->blk[0] + p->k_floats);
    memset(b->dacc[0], 0, (size_t)n * sizeof(float));
    int nkv = 0, nrecv = 0, nsend = 0;
    attn_status cs = ATTN_OK, comp = ATTN_OK;
    for (int step = 0; step < P && cs == ATTN_OK; ++step) {
        float *cur = b->blk[step & 1], *next = b->blk[(step + 1) & 1];
        float *acc = b->dacc[step & 1];
        const int src = (r - step % P + P) % P;
        if (step + 1 < P) {
            cs = attni_ring_post_recv(next, n, left, ATTNI_RING_TAG_KV, comm,
                                      b->kv_reqs, &nkv);
            if (cs == ATTN_OK)
                cs = attni_ring_post_send(cur, n, right, ATTNI_RING_TAG_KV, comm,
                                          b->kv_reqs, &nkv);
            if (stats)
                stats->bytes_sent += bytes;
        }
        /* The accumulator of this block, from the left neighbour's last
         * step (step 0: the block is home, its accumulator starts at 0). */
        if (cs == ATTN_OK && step > 0)
            cs = attni_ring_post_recv(acc, n, left, ATTNI_RING_TAG_DKV, comm,
                                      b->drecv_reqs, &nrecv);
        attni_ring_progress(b->kv_reqs, nkv);
        attni_ring_progress(b->drecv_reqs, nrecv);

        const double t0 = MPI_Wtime();
        double waited = 0.0;
        float *dst = step == 0 ? acc : b->z;
        if (cs == ATTN_OK && comp == ATTN_OK) {
            if (step > 0)
                memset(b->z, 0, (size_t)n * sizeof(float));
            comp = bwd_step(p, b, want_dq, cur, dst, src, nkv, nrecv);
        }
        double t1 = MPI_Wtime();
        if (cs == ATTN_OK)
            cs = attni_ring_wait(b->drecv_reqs, &nrecv);
        const double t2 = MPI_Wtime();
        waited += t2 - t1;
        if (cs == ATTN_OK && step > 0)
            add_into(acc, b->z, n);
        const double t3 = MPI_Wtime();
        /* Pass the accumulator on (after the last step: to its home). */
        if (cs == ATTN_OK && P > 1) {
            cs = attni_ring_wait(b->dsend_reqs, &nsend); /* its buffer is reused */
            if (cs == ATTN_OK)
                cs = attni_ring_post_send(acc, n, right, ATTNI_RING_TAG_DKV, comm,
                                          b->dsend_reqs, &nsend);
            if (stats)
                stats->bytes_sent += bytes;
        }
        if (cs == ATTN_OK)
            cs = attni_ring_wait(b->kv_reqs, &nkv);
        waited += MPI_Wtime() - t3;
        attni_ring_stats_step(stats, step, (t1 - t0) + (t3 - t2), waited);
    }
    *home = b->dacc[0];
    if (cs == ATTN_OK && P > 1) {
        /* Our own block's accumulator comes back from the left. */
        const double t0 = MPI_Wtime();
        *home = b->dacc[P & 1];
        cs = attni_ring_post_recv(*home, n, left, ATTNI_RING_TAG_DKV, comm,
                                  b->drecv_reqs, &nrecv);
        if (cs == ATTN_OK)
            cs = attni_ring_wait(b->drecv_reqs, &nrecv);
        if (cs == ATTN_OK)
            cs = attni_ring_wait(b->dsend_reqs, &nsend);
        attni_ring_stats_step(stats, P - 1, 0.0, MPI_Wtime() - t0);
    }
    attni_ring_abandon(b->kv_reqs, &nkv);
    attni_ring_abandon(b->drecv_reqs, &nrecv);
    attni_ring_abandon(b->dsend_reqs, &nsend);
    return cs != ATTN_OK ? cs : comp;
}

attn_status attn_ring_backward_ex(const attn_ring_desc *desc, MPI_Comm comm,
                                  const float *q, const float *k, const float *v,
                                  const float *out, const float *lse,
                                  const float *dout, float *dq, float *dk,
                                  float *dv, attn_ring_stats *stats)
{
    MPI_Comm c;
    int world = 0, rank = 0;
    attn_status s = attni_ring_comm_begin(comm, &c, &world, &rank);
    if (s != ATTN_OK)
        return s;
    const double t_start = MPI_Wtime();
    attni_ring_plan plan;
    bwd_bufs b;
    memset(&b, 0, sizeof b);
    int64_t shape[ATTNI_RING_SHAPE_N] = {0};
    s = attni_ring_stats_check(stats);
    if (s == ATTN_OK)
        s = attni_ring_plan_make(desc, world, rank, 1, &plan);
    if (s == ATTN_OK)
        s = bwd_check_pointers(&plan, q, k, v, out, lse, dout, dq, dk, dv);
    if (s == ATTN_OK)
        s = bwd_alloc(&b, &plan);
    if (s == ATTN_OK)
        attni_ring_shape(&plan.d, shape);
    s = attni_ring_agree(c, rank, s, shape, ATTNI_RING_SHAPE_N);
    float *home = NULL;
    const attn_ring_desc *d = &plan.d;
    if (s == ATTN_OK) {
        attni_ring_stats_begin(stats, world);
        const attn_strides ls = attni_ring_contig(d->q_heads, d->q_len, 1);
        attni_ring_pack(d->batch, d->q_heads, plan.nsub, plan.cq, d->head_dim, q,
                        d->q_strides, b.qp);
        attni_ring_pack(d->batch, d->q_heads, plan.nsub, plan.cq, d->v_head_dim,
                        out, d->out_strides, b.op);
        attni_ring_pack(d->batch, d->q_heads, plan.nsub, plan.cq, d->v_head_dim,
                        dout, d->out_strides, b.dop);
        attni_ring_pack(d->batch, d->q_heads, plan.nsub, plan.cq, 1, lse, ls, b.lp);
        attn_status ring = bwd_ring(&plan, &b, c, k, v, dq != NULL, stats, &home);
        s = attni_ring_agree(c, rank, ring, NULL, 0);
    }
    if (s == ATTN_OK) {
        if (dq)
            attni_ring_unpack_add(d->batch, d->q_heads, plan.nsub, plan.cq,
                                  d->head_dim, b.dqp, dq, d->q_strides);
        if (dk)
            attni_ring_unpack_add(d->batch, d->kv_heads, plan.nsub, plan.ck,
                                  d->head_dim, home, dk, d->k_strides);
        if (dv)
            attni_ring_unpack_add(d->batch, d->kv_heads, plan.nsub, plan.ck,
                                  d->v_head_dim, home + plan.k_floats, dv,
                                  d->v_strides);
    }
    if (stats && s == ATTN_OK)
        stats->total_seconds = MPI_Wtime() - t_start;
    bwd_free(&b);
    attni_ring_comm_end(&c);
    return s;
}

attn_status attn_ring_backward(const attn_ring_desc *desc, MPI_Comm comm,
                               const float *q, const float *k, const float *v,
                               const float *out, const float *lse,
                               const float *dout, float *dq, float *dk, float *dv)
{
    return attn_ring_backward_ex(desc, comm, q, k, v, out, lse, dout, dq, dk,
                                 dv, NULL);
}
