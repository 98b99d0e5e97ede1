/* The ring descriptor: its defaults, the local checks of a call (the core
 * checks the shapes and strides through its own workspace-size queries), and
 * what the forward and backward derive from it. */
#include "ring_internal.h"

#include <math.h>
#include <string.h>

#include <attention/sdpa_backward.h>

/* The first released descriptor ends after algo. */
#define RING_DESC_V1_SIZE sizeof(attn_ring_desc)

attn_status attn_ring_desc_init_sized(attn_ring_desc *desc, size_t desc_size,
                                      int64_t batch, int64_t q_heads,
                                      int64_t kv_heads, int64_t q_len,
                                      int64_t kv_len, int64_t head_dim,
                                      int64_t v_head_dim)
{
    if (desc == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (desc_size < RING_DESC_V1_SIZE)
        return ATTN_ERR_BAD_DESC;
    attn_ring_desc d;
    memset(&d, 0, sizeof d);
    d.struct_size = sizeof d;
    d.batch = batch;
    d.q_heads = q_heads;
    d.kv_heads = kv_heads;
    d.q_len = q_len;
    d.kv_len = kv_len;
    d.head_dim = head_dim;
    d.v_head_dim = v_head_dim;
    d.scale = head_dim > 0 ? (float)(1.0 / sqrt((double)head_dim)) : 1.0f;
    d.q_strides = attni_ring_contig(q_heads, q_len, head_dim);
    d.k_strides = attni_ring_contig(kv_heads, kv_len, head_dim);
    d.v_strides = attni_ring_contig(kv_heads, kv_len, v_head_dim);
    d.out_strides = attni_ring_contig(q_heads, q_len, v_head_dim);
    d.causal = ATTN_CAUSAL_NONE;
    d.layout = ATTN_RING_CONTIGUOUS;
    d.kv_lens = NULL;
    d.num_threads = 0;
    d.algo = ATTN_ALGO_AUTO;
    /* A caller from a newer header keeps its extra fields zero. */
    memset(desc, 0, desc_size);
    memcpy(desc, &d, sizeof d);
    return ATTN_OK;
}

/* The core's workspace query for desc (forward or backward). */
static attn_status core_size(const attn_sdpa_desc *desc, int backward,
                             size_t *bytes)
{
    return backward ? attn_sdpa_backward_workspace_size(desc, bytes)
                    : attn_sdpa_workspace_size(desc, bytes);
}

/* The core descriptor of this rank's whole shard as one local call: the
 * core checks shapes, scale, strides, threads and algorithm on it. */
static attn_status check_local(const attn_ring_desc *d, int backward)
{
    if (d->causal == ATTN_CAUSAL_BOTTOM_RIGHT)
        return ATTN_ERR_BAD_ARGUMENT; /* needs a query offset (ring.h) */
    attn_sdpa_desc ld;
    attn_status s = attn_sdpa_desc_init(&ld, d->batch, d->q_heads, d->kv_heads,
                                        d->q_len, d->kv_len, d->head_dim,
                                        d->v_head_dim);
    if (s != ATTN_OK)
        return s;
    ld.scale = d->scale;
    ld.q_strides = d->q_strides;
    ld.k_strides = d->k_strides;
    ld.v_strides = d->v_strides;
    ld.out_strides = d->out_strides;
    /* Top-left causal over the local block is a valid stand-in for the
     * check; its Tq == Tk requirement is the ring's own (below). */
    ld.causal = d->causal;
    ld.num_threads = d->num_threads;
    ld.algo = d->algo;
    size_t bytes;
    return core_size(&ld, backward, &bytes);
}

attn_status attni_ring_plan_make(const attn_ring_desc *desc, int world,
                                 int rank, int backward, attni_ring_plan *plan)
{
    if (desc == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (desc->struct_size < RING_DESC_V1_SIZE ||
        desc->struct_size > sizeof(attn_ring_desc))
        return ATTN_ERR_BAD_DESC;
    memset(plan, 0, sizeof *plan);
    memcpy(&plan->d, desc, desc->struct_size);
    const attn_ring_desc *d = &plan->d;
    attn_status s = check_local(d, backward);
    if (s != ATTN_OK)
        return s;
    if ((s = attni_ring_check_layout(d->layout, world, rank, d->q_len)) ||
        (s = attni_ring_check_layout(d->layout, world, rank, d->kv_len)))
        return s;
    if (d->causal != ATTN_CAUSAL_NONE && d->q_len != d->kv_len)
        return ATTN_ERR_BAD_ARGUMENT; /* causal needs one sharded sequence */
    if (d->kv_lens != NULL)
        for (int64_t b = 0; b < d->batch; ++b)
            if (d->kv_lens[b] < 0 || d->kv_lens[b] > (int64_t)world * d->kv_len)
                return ATTN_ERR_BAD_KV_LEN;

    plan->world = world;
    plan->rank = rank;
    plan->nsub = attni_ring_subchunks(d->layout);
    plan->cq = d->q_len / plan->nsub;
    plan->ck = d->kv_len / plan->nsub;
    /* The core has checked that each tensor's size fits: B * H fits. */
    const int64_t dsum = d->head_dim + d->v_head_dim;
    int64_t kv_rows;
    if (attni_ring_mul(d->batch * d->q_heads, plan->cq, &plan->rows) ||
        attni_ring_mul(d->batch * d->kv_heads, d->kv_len, &kv_rows) ||
        attni_ring_mul(kv_rows, d->head_dim, &plan->k_floats) ||
        attni_ring_mul(kv_rows, dsum, &plan->block_floats) ||
        (uint64_t)plan->block_floats > SIZE_MAX / sizeof(float) / 2)
        return ATTN_ERR_SIZE_OVERFLOW;

    plan->group = d->q_heads / d->kv_heads; /* the core checked it divides */
    attn_sdpa_desc *p = &plan->pair;
    if ((s = attn_sdpa_desc_init(p, 1, plan->group, 1, plan->cq, plan->ck,
                                 d->head_dim, d->v_head_dim)) != ATTN_OK)
        return s;
    p->scale = d->scale;
    /* The forward reads the caller's Q in place; the backward packs Q (its
     * dQ must have Q's layout, and the internal dQ is packed). */
    p->q_strides = backward ? attni_ring_contig(d->q_heads, plan->cq, d->head_dim)
                            : d->q_strides;
    p->k_strides = attni_ring_contig(d->kv_heads, plan->ck, d->head_dim);
    p->v_strides = attni_ring_contig(d->kv_heads, plan->ck, d->v_head_dim);
    p->out_strides = attni_ring_contig(d->q_heads, plan->cq, d->v_head_dim);
    p->num_threads = d->num_threads;
    p->algo = d->algo;
    /* Pair calls are unmasked or top-left causal; room for both. */
    size_t a = 0, b = 0;
    p->causal = ATTN_CAUSAL_NONE;
    if ((s = core_size(p, backward, &a)) != ATTN_OK)
        return s;
    if (d->causal == ATTN_CAUSAL_TOP_LEFT) {
        p->causal = ATTN_CAUSAL_TOP_LEFT;
        if ((s = core_size(p, backward, &b)) != ATTN_OK)
            return s;
        p->causal = ATTN_CAUSAL_NONE;
    }
    plan->ws_bytes = a > b ? a : b;
    return ATTN_OK;
}

int64_t attni_ring_chunk_lens(const attni_ring_plan *p, int64_t start,
                              int64_t *lens)
{
    int64_t most = 0;
    for (int64_t b = 0; b < p->d.batch; ++b) {
        int64_t n = p->d.kv_lens[b] - start;
        n = n < 0 ? 0 : n > p->ck ? p->ck : n;
        lens[b] = n;
        if (n > most)
            most = n;
    }
    return most;
}

attni_ring_vis attni_ring_visibility(const attni_ring_plan *p, int64_t ga,
                                     int64_t gb)
{
    if (p->d.causal != ATTN_CAUSAL_TOP_LEFT)
        return ATTNI_RING_FULL;
    return gb < ga ? ATTNI_RING_FULL : gb == ga ? ATTNI_RING_DIAG : ATTNI_RING_SKIP;
}
