/*
 * Ring attention forward. Step s (0 <= s < P) on rank r computes its query
 * sub-chunks against the K/V block of rank (r - s) mod P while the next
 * block is already on its way (Irecv from r - 1, Isend to r + 1, posted
 * before the compute). Per query sub-chunk, the step's partials (one per
 * visible key sub-chunk, in sub-chunk order) are merged with the running
 * result by attn_merge_partials: the order is fixed, so the result is
 * bit-identical between runs with the same P. Which pairs are computed and
 * how each keeps the global alignment: ring_band.c. Sinks join each row
 * once, after the last step (ring_sinks.c).
 */
#include "ring_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <attention/merge.h>

typedef struct fwd_bufs {
    float *blk[2];     /* packed K/V blocks: in hand, arriving */
    float *acc_out;    /* per query sub-chunk a: (1 + nsub) slots of (rows, dv):
                        * slot 0 the running result, 1.. this step's partials */
    float *acc_lse;    /* the same slots of (rows) log-sum-exps */
    float *tmp_out;    /* (rows, dv): the merge's destination */
    float *tmp_lse;    /* (rows) */
    int64_t *lens;     /* (B): one key sub-chunk's lengths */
    void *ws;          /* the core's workspace */
    MPI_Request *reqs; /* 2 * pieces */
} fwd_bufs;

static void fwd_free(fwd_bufs *b)
{
    free(b->blk[0]);
    free(b->blk[1]);
    free(b->acc_out);
    free(b->acc_lse);
    free(b->tmp_out);
    free(b->tmp_lse);
    free(b->lens);
    free(b->ws);
    free(b->reqs);
}

static attn_status fwd_alloc(fwd_bufs *b, const attni_ring_plan *p)
{
    const int64_t dv = p->d.v_head_dim, slots = (int64_t)p->nsub * (1 + p->nsub);
    int64_t slot_out, acc_out, acc_lse;
    if (attni_ring_mul(p->rows, dv, &slot_out) ||
        attni_ring_mul(slots, slot_out, &acc_out) ||
        attni_ring_mul(slots, p->rows, &acc_lse) ||
        (uint64_t)acc_out > SIZE_MAX / sizeof(float))
        return ATTN_ERR_SIZE_OVERFLOW;
    b->blk[0] = attni_ring_alloc(p->block_floats, sizeof(float));
    b->blk[1] = attni_ring_alloc(p->block_floats, sizeof(float));
    b->acc_out = attni_ring_alloc(acc_out, sizeof(float));
    b->acc_lse = attni_ring_alloc(acc_lse, sizeof(float));
    b->tmp_out = attni_ring_alloc(slot_out, sizeof(float));
    b->tmp_lse = attni_ring_alloc(p->rows, sizeof(float));
    b->lens = attni_ring_alloc(p->d.batch, sizeof(int64_t));
    b->ws = malloc(p->ws_bytes > 0 ? p->ws_bytes : 1);
    b->reqs = attni_ring_alloc(2 * (int64_t)attni_ring_pieces(p->block_floats),
                      sizeof(MPI_Request));
    if (!b->blk[0] || !b->blk[1] || !b->acc_out || !b->acc_lse || !b->tmp_out ||
        !b->tmp_lse || !b->lens || !b->ws || !b->reqs)
        return ATTN_ERR_OUT_OF_MEMORY;
    return ATTN_OK;
}

/* Outputs may not overlap inputs or each other. */
static attn_status fwd_check_pointers(const attni_ring_plan *p, const float *q,
                                      const float *k, const float *v,
                                      const float *out, const float *lse)
{
    const attn_ring_desc *d = &p->d;
    if (q == NULL || k == NULL || v == NULL || out == NULL)
        return ATTN_ERR_NULL_POINTER;
    size_t qb, kb, vb, ob, lb = 0;
    attn_status s;
    const attn_strides ls = attni_ring_contig(d->q_heads, d->q_len, 1);
    if ((s = attni_ring_span(d->batch, d->q_heads, d->q_len, d->head_dim, d->q_strides, &qb)) ||
        (s = attni_ring_span(d->batch, d->kv_heads, d->kv_len, d->head_dim, d->k_strides, &kb)) ||
        (s = attni_ring_span(d->batch, d->kv_heads, d->kv_len, d->v_head_dim, d->v_strides, &vb)) ||
        (s = attni_ring_span(d->batch, d->q_heads, d->q_len, d->v_head_dim, d->out_strides, &ob)) ||
        (lse && (s = attni_ring_span(d->batch, d->q_heads, d->q_len, 1, ls, &lb))))
        return s;
    const attni_ring_range outs[] = {{out, ob}, {lse, lb}};
    const attni_ring_range ins[] = {{q, qb}, {k, kb}, {v, vb}};
    if (attni_ring_overlap(outs, 2, ins, 3))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

/* Rows of batch entry i in a slot that saw nothing this step: zeros and
 * lse -INFINITY (the merge then takes nothing from them). */
static void slot_empty(const attni_ring_plan *p, int64_t i, float *o, float *l)
{
    const int64_t n = p->d.q_heads * p->cq, at = i * n;
    memset(o + at * p->d.v_head_dim, 0, (size_t)(n * p->d.v_head_dim) * sizeof(float));
    for (int64_t r = 0; r < n; ++r)
        l[at + r] = -INFINITY;
}

/* Key sub-chunk gb against query sub-chunk ga, every batch entry and kv
 * head, into one slot; returns 0 (and computes nothing) when no entry
 * has a visible key. */
static attn_status fwd_pair(attni_ring_plan *p, fwd_bufs *b, const float *q,
                            const float *blk, int a, int c, int64_t ga,
                            int64_t gb, float *slot_o, float *slot_l,
                            int64_t nreq, int *computed)
{
    const attn_ring_desc *d = &p->d;
    const int64_t dv = d->v_head_dim;
    const int64_t kb = d->batch * d->kv_heads * p->ck * d->head_dim;
    const int64_t vb = d->batch * d->kv_heads * p->ck * dv;
    attni_ring_pair pc;
    *computed = 0;
    for (int64_t i = 0; i < d->batch && !*computed; ++i) {
        attni_ring_pair_of(p, ga, gb, i, &pc);
        *computed = pc.visible;
    }
    if (!*computed)
        return ATTN_OK;
    for (int64_t i = 0; i < d->batch; ++i) {
        attni_ring_pair_of(p, ga, gb, i, &pc);
        if (!pc.visible) {
            slot_empty(p, i, slot_o, slot_l);
            continue;
        }
        for (int64_t g = 0; g < d->kv_heads; ++g) {
            /* (batch i, kv head g) and its group of query heads */
            const int64_t qh = g * p->group, kvrow = (i * d->kv_heads + g) * p->ck;
            const int64_t orow = (i * d->q_heads + qh) * p->cq;
            attni_ring_pair_desc(p, i, g, &pc, 0, b->lens);
            attn_status s = attn_sdpa_forward_ws(
                &p->pair,
                q + i * d->q_strides.batch + qh * d->q_strides.head +
                    a * p->cq * d->q_strides.row,
                blk + c * kb + kvrow * d->head_dim,
                blk + p->k_floats + c * vb + kvrow * dv,
                slot_o + orow * dv, NULL, slot_l + orow, b->ws, p->ws_bytes);
            attni_ring_progress(b->reqs, (int)nreq);
            if (s != ATTN_OK)
                return s;
        }
    }
    return ATTN_OK;
}

/* One step's compute: every query sub-chunk against the block from `src`. */
static attn_status fwd_step(attni_ring_plan *p, fwd_bufs *b, const float *q,
                            const float *blk, int src, int64_t nreq)
{
    const attn_ring_desc *d = &p->d;
    const int64_t dv = d->v_head_dim, slot_out = p->rows * dv;
    for (int a = 0; a < p->nsub; ++a) {
        float *acc_o = b->acc_out + (int64_t)a * (1 + p->nsub) * slot_out;
        float *acc_l = b->acc_lse + (int64_t)a * (1 + p->nsub) * p->rows;
        const int64_t ga = attni_ring_chunk(d->layout, p->world, p->rank, a);
        int parts = 0;
        for (int c = 0; c < p->nsub; ++c) {
            const int64_t gb = attni_ring_chunk(d->layout, p->world, src, c);
            int computed = 0;
            attn_status s = fwd_pair(p, b, q, blk, a, c, ga, gb,
                                     acc_o + (parts + 1) * slot_out,
                                     acc_l + (parts + 1) * p->rows, nreq, &computed);
            if (s != ATTN_OK)
                return s;
            parts += computed;
        }
        if (parts == 0)
            continue;
        attn_status s = attn_merge_partials(1 + parts, p->rows, dv, acc_o, slot_out,
                                            dv, acc_l, b->tmp_out, dv, b->tmp_lse);
        if (s != ATTN_OK)
            return s;
        memcpy(acc_o, b->tmp_out, (size_t)slot_out * sizeof(float));
        memcpy(acc_l, b->tmp_lse, (size_t)p->rows * sizeof(float));
    }
    return ATTN_OK;
}

/* The ring itself. */
static attn_status fwd_ring(attni_ring_plan *p, fwd_bufs *b, MPI_Comm comm,
                            const float *q, const float *k, const float *v,
                            attn_ring_stats *stats)
{
    const attn_ring_desc *d = &p->d;
    const int P = p->world, r = p->rank;
    const int left = (r + P - 1) % P, right = (r + 1) % P;
    attni_ring_pack(d->batch, d->kv_heads, p->nsub, p->ck, d->head_dim, k,
                    d->k_strides, b->blk[0]);
    attni_ring_pack(d->batch, d->kv_heads, p->nsub, p->ck, d->v_head_dim, v,
                    d->v_strides, b->blk[0] + p->k_floats);
    for (int a = 0; a < p->nsub; ++a) {
        const int64_t slots = 1 + p->nsub;
        memset(b->acc_out + a * slots * p->rows * d->v_head_dim, 0,
               (size_t)(p->rows * d->v_head_dim) * sizeof(float));
        float *l = b->acc_lse + a * slots * p->rows;
        for (int64_t i = 0; i < p->rows; ++i)
            l[i] = -INFINITY; /* empty so far: merges as nothing */
    }
    /* A failed compute (not expected once the checks passed) stops the
     * computing but not the transfers, so the neighbours never wait for a
     * message that does not come; an MPI error stops both. */
    int nreq = 0;
    attn_status comm_s = ATTN_OK, comp_s = ATTN_OK;
    for (int step = 0; step < P && comm_s == ATTN_OK; ++step) {
        float *cur = b->blk[step & 1], *next = b->blk[(step + 1) & 1];
        const int src = (r - step % P + P) % P;
        if (step + 1 < P) {
            comm_s = attni_ring_post_recv(next, p->block_floats, left,
                                          ATTNI_RING_TAG_KV, comm, b->reqs, &nreq);
            if (comm_s == ATTN_OK)
                comm_s = attni_ring_post_send(cur, p->block_floats, right,
                                              ATTNI_RING_TAG_KV, comm, b->reqs, &nreq);
            if (comm_s == ATTN_OK && stats)
                stats->bytes_sent += (uint64_t)p->block_floats * sizeof(float);
            attni_ring_progress(b->reqs, nreq);
        }
        const double t0 = MPI_Wtime();
        if (comm_s == ATTN_OK && comp_s == ATTN_OK)
            comp_s = fwd_step(p, b, q, cur, src, nreq);
        const double t1 = MPI_Wtime();
        if (comm_s == ATTN_OK)
            comm_s = attni_ring_wait(b->reqs, &nreq);
        attni_ring_stats_step(stats, step, t1 - t0, MPI_Wtime() - t1);
    }
    attni_ring_abandon(b->reqs, &nreq);
    /* The sinks join once per row, after every key has been merged. */
    if (comm_s == ATTN_OK && comp_s == ATTN_OK)
        for (int a = 0; a < p->nsub; ++a) {
            const int64_t at = (int64_t)a * (1 + p->nsub);
            attni_ring_join_sinks(p, b->acc_out + at * p->rows * d->v_head_dim,
                                  b->acc_lse + at * p->rows);
        }
    return comm_s != ATTN_OK ? comm_s : comp_s;
}

attn_status attn_ring_forward_ex(const attn_ring_desc *desc, MPI_Comm comm,
                                 const float *q, const float *k, const float *v,
                                 float *out, float *lse, attn_ring_stats *stats)
{
    MPI_Comm c;
    int world = 0, rank = 0;
    attn_status s = attni_ring_comm_begin(comm, &c, &world, &rank);
    if (s != ATTN_OK)
        return s;
    const double t_start = MPI_Wtime();
    attni_ring_plan plan;
    fwd_bufs b;
    memset(&b, 0, sizeof b);
    int64_t shape[ATTNI_RING_SHAPE_N] = {0};
    s = attni_ring_stats_check(stats);
    if (s == ATTN_OK)
        s = attni_ring_plan_make(desc, world, rank, 0, &plan);
    if (s == ATTN_OK)
        s = fwd_check_pointers(&plan, q, k, v, out, lse);
    if (s == ATTN_OK)
        s = fwd_alloc(&b, &plan);
    if (s == ATTN_OK)
        attni_ring_shape(&plan.d, shape);
    /* Everyone agrees before any data moves. */
    s = attni_ring_agree(c, rank, s, shape, ATTNI_RING_SHAPE_N);
    if (s == ATTN_OK) {
        attni_ring_stats_begin(stats, world);
        attn_status ring = fwd_ring(&plan, &b, c, q, k, v, stats);
        /* ... and again before anything is written. */
        s = attni_ring_agree(c, rank, ring, NULL, 0);
    }
    if (s == ATTN_OK) {
        const attn_ring_desc *d = &plan.d;
        const int64_t slot_out = plan.rows * d->v_head_dim;
        const attn_strides ls = attni_ring_contig(d->q_heads, d->q_len, 1);
        for (int a = 0; a < plan.nsub; ++a) {
            const int64_t at = (int64_t)a * (1 + plan.nsub);
            attni_ring_unpack(d->batch, d->q_heads, 1, plan.cq, d->v_head_dim,
                              b.acc_out + at * slot_out,
                              out + a * plan.cq * d->out_strides.row, d->out_strides);
            if (lse)
                attni_ring_unpack(d->batch, d->q_heads, 1, plan.cq, 1,
                                  b.acc_lse + at * plan.rows, lse + a * plan.cq, ls);
        }
    }
    if (stats && s == ATTN_OK)
        stats->total_seconds = MPI_Wtime() - t_start;
    fwd_free(&b);
    attni_ring_comm_end(&c);
    return s;
}

attn_status attn_ring_forward(const attn_ring_desc *desc, MPI_Comm comm,
                              const float *q, const float *k, const float *v,
                              float *out, float *lse)
{
    return attn_ring_forward_ex(desc, comm, q, k, v, out, lse, NULL);
}
