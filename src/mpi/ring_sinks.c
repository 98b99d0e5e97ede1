/*
 * Attention sinks across ranks. A sink joins every row's softmax
 * denominator once, however the keys are split, so the ring's pair calls
 * run without sinks and each row takes its sink once, after the exact
 * merge of all its keys (attni_ring_join_sinks). The backward's pair calls
 * get the global, sink-including lse (and the sinks, which the core uses
 * only to tell rows that saw nothing: lse == sink). The sinks' own
 * gradient needs only out, lse and dout: each rank takes its rows'
 * share with attn_sdpa_sinks_backward and the shares are summed in rank
 * order (attn_ring_sinks_backward), so the result is bit-identical between
 * runs and the same on every rank.
 */
#include "ring_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <attention/sdpa_backward.h>

void attni_ring_join_sinks(const attni_ring_plan *p,
                           float *acc_out,  /* (B, Hq, cq, dv) packed */
                           float *acc_lse)  /* (B, Hq, cq) */
{
    const attn_ring_desc *d = &p->d;
    if (d->sinks == NULL)
        return;
    const int64_t dv = d->v_head_dim;
    for (int64_t r = 0; r < p->rows; ++r) {
        const double sink = d->sinks[(r / p->cq) % d->q_heads];
        const double l = acc_lse[r];
        float *o = acc_out + r * dv;
        if (sink == -INFINITY)
            continue; /* no sink */
        if (l == -INFINITY) { /* saw no key: zeros, lse = sink */
            memset(o, 0, (size_t)dv * sizeof(float));
            acc_lse[r] = (float)sink;
            continue;
        }
        const double m = l > sink ? l : sink;
        const double lse = m + log(exp(l - m) + exp(sink - m));
        const double f = exp(l - lse);
        for (int64_t e = 0; e < dv; ++e)
            o[e] = (float)(f * o[e]);
        acc_lse[r] = (float)lse;
    }
}

/* The core descriptor of this rank's rows (for attn_sdpa_sinks_backward). */
static attn_status local_desc(const attni_ring_plan *p, attn_sdpa_desc *ld)
{
    const attn_ring_desc *d = &p->d;
    attn_status s = attn_sdpa_desc_init(ld, d->batch, d->q_heads, d->kv_heads,
                                        d->q_len, d->kv_len, d->head_dim,
                                        d->v_head_dim);
    if (s != ATTN_OK)
        return s;
    ld->scale = d->scale;
    ld->q_strides = d->q_strides;
    ld->k_strides = d->k_strides;
    ld->v_strides = d->v_strides;
    ld->out_strides = d->out_strides;
    ld->num_threads = d->num_threads;
    ld->algo = d->algo;
    ld->sinks = d->sinks;
    return ATTN_OK;
}

/* The local checks: the plan's, the pointers, and dsinks apart from
 * every input. */
static attn_status sinks_check(const attni_ring_plan *p, const float *out,
                               const float *lse, const float *dout,
                               const float *dsinks)
{
    const attn_ring_desc *d = &p->d;
    if (out == NULL || lse == NULL || dout == NULL || dsinks == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (d->sinks == NULL)
        return ATTN_ERR_BAD_ARGUMENT; /* as attn_sdpa_sinks_backward */
    if (d->q_heads > INT_MAX / p->world)
        return ATTN_ERR_SIZE_OVERFLOW; /* MPI counts are int */
    size_t ob, lb;
    attn_status s;
    const attn_strides ls = attni_ring_contig(d->q_heads, d->q_len, 1);
    if ((s = attni_ring_span(d->batch, d->q_heads, d->q_len, d->v_head_dim,
                             d->out_strides, &ob)) ||
        (s = attni_ring_span(d->batch, d->q_heads, d->q_len, 1, ls, &lb)))
        return s;
    const size_t hb = (size_t)d->q_heads * sizeof(float);
    const attni_ring_range outs[] = {{dsinks, hb}};
    const attni_ring_range ins[] = {{out, ob}, {lse, lb}, {dout, ob}, {d->sinks, hb}};
    if (attni_ring_overlap(outs, 1, ins, 4))
        return ATTN_ERR_ALIASING;
    return ATTN_OK;
}

attn_status attn_ring_sinks_backward(const attn_ring_desc *desc, MPI_Comm comm,
                                     const float *out, const float *lse,
                                     const float *dout, float *dsinks)
{
    MPI_Comm c;
    int world = 0, rank = 0;
    attn_status s = attni_ring_comm_begin(comm, &c, &world, &rank);
    if (s != ATTN_OK)
        return s;
    attni_ring_plan plan;
    attn_sdpa_desc ld;
    float *mine = NULL, *all = NULL;
    int64_t shape[ATTNI_RING_SHAPE_N] = {0};
    s = attni_ring_plan_make(desc, world, rank, 1, &plan);
    if (s == ATTN_OK)
        s = sinks_check(&plan, out, lse, dout, dsinks);
    if (s == ATTN_OK)
        s = local_desc(&plan, &ld);
    if (s == ATTN_OK) {
        const size_t h = (size_t)plan.d.q_heads;
        mine = calloc(h, sizeof *mine);
        all = malloc(h * (size_t)world * sizeof *all);
        if (mine == NULL || all == NULL)
            s = ATTN_ERR_OUT_OF_MEMORY;
    }
    /* This rank's share, into zeros (a local call: no communication). */
    if (s == ATTN_OK)
        s = attn_sdpa_sinks_backward(&ld, out, lse, dout, mine);
    if (s == ATTN_OK)
        attni_ring_shape(&plan.d, shape);
    s = attni_ring_agree(c, rank, s, shape, ATTNI_RING_SHAPE_N);
    if (s == ATTN_OK) {
        const int h = (int)plan.d.q_heads;
        attn_status g = attni_ring_mpi(
            MPI_Allgather(mine, h, MPI_FLOAT, all, h, MPI_FLOAT, c));
        s = attni_ring_agree(c, rank, g, NULL, 0);
    }
    if (s == ATTN_OK) {
        /* Every rank sums the same shares in the same (rank) order. */
        for (int64_t h = 0; h < plan.d.q_heads; ++h) {
            double sum = 0.0;
            for (int r = 0; r < world; ++r)
                sum += all[(int64_t)r * plan.d.q_heads + h];
            dsinks[h] += (float)sum;
        }
    }
    free(mine);
    free(all);
    attni_ring_comm_end(&c);
    return s;
}
