/* The ring descriptor: its defaults, the local checks of a call (the core
 * checks the shapes and strides through its own workspace-size queries), and
 * what the forward and backward derive from it. */
#include "ring_internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include <attention/sdpa_backward.h>

/* The first released descriptor ends after algo: its size (with its tail
 * padding) is the offset of the first appended field, an int64_t. */
#define RING_DESC_V1_SIZE offsetof(attn_ring_desc, window_left)

/* Global lengths beyond this are refused (ATTN_ERR_SIZE_OVERFLOW): every
 * position, offset and core position_shift stays far inside int64 and
 * within the core's |shift| <= 2^40. */
#define RING_MAX_GLOBAL ((int64_t)1 << 38)

void attni_ring_desc_tail_defaults(attn_ring_desc *d, size_t known)
{
    if (known <= offsetof(attn_ring_desc, window_left))
        d->window_left = -1;
    if (known <= offsetof(attn_ring_desc, window_right))
        d->window_right = -1;
}

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
    d.window_left = -1;
    d.window_right = -1;
    /* A caller from a newer header keeps its extra fields zero; one from
     * an older header gets the fields it knows. */
    const size_t n = desc_size < sizeof d ? desc_size : sizeof d;
    d.struct_size = n;
    memset(desc, 0, desc_size);
    memcpy(desc, &d, n);
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
    /* The variants' values (window >= -1, slopes, softcap, sinks) are
     * checked by the core on the whole shard: the same heads and batch. */
    ld.window_left = d->window_left;
    ld.window_right = d->window_right;
    ld.alibi_slopes = d->alibi_slopes;
    ld.alibi_batch_stride = d->alibi_batch_stride;
    ld.softcap = d->softcap;
    ld.sinks = d->sinks;
    size_t bytes;
    return core_size(&ld, backward, &bytes);
}

/* The core's workspace for the pair calls: the largest over the masks
 * they use (the variants set; kv length and shift do not change it). */
static attn_status pair_workspace(attni_ring_plan *plan, int backward)
{
    const attn_ring_desc *d = &plan->d;
    attn_sdpa_desc *p = &plan->pair;
    const attn_causal masks[2] = {ATTN_CAUSAL_NONE, d->causal};
    size_t most = 0;
    p->alibi_slopes = d->alibi_slopes;
    p->sinks = backward ? d->sinks : NULL;
    for (int m = 0; m < 2; ++m) {
        size_t bytes = 0;
        p->causal = masks[m];
        attn_status s = core_size(p, backward, &bytes);
        if (s != ATTN_OK)
            return s;
        if (bytes > most)
            most = bytes;
    }
    p->causal = ATTN_CAUSAL_NONE;
    p->alibi_slopes = NULL;
    p->sinks = NULL;
    plan->ws_bytes = most;
    return ATTN_OK;
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
    attni_ring_desc_tail_defaults(&plan->d, desc->struct_size);
    plan->d.struct_size = sizeof plan->d;
    const attn_ring_desc *d = &plan->d;
    attn_status s = check_local(d, backward);
    if (s != ATTN_OK)
        return s;
    if ((s = attni_ring_check_layout(d->layout, world, rank, d->q_len)) ||
        (s = attni_ring_check_layout(d->layout, world, rank, d->kv_len)))
        return s;
    /* Top-left causal is applied chunk against chunk (the diagonal pairs
     * are the same rows): one sharded sequence. Bottom-right aligns
     * through position_shift and takes any lengths. */
    if (d->causal == ATTN_CAUSAL_TOP_LEFT && d->q_len != d->kv_len)
        return ATTN_ERR_BAD_ARGUMENT;
    if (attni_ring_mul(world, d->q_len, &plan->tq) ||
        attni_ring_mul(world, d->kv_len, &plan->tk) ||
        plan->tq > RING_MAX_GLOBAL || plan->tk > RING_MAX_GLOBAL)
        return ATTN_ERR_SIZE_OVERFLOW;
    if (d->kv_lens != NULL)
        for (int64_t b = 0; b < d->batch; ++b)
            if (d->kv_lens[b] < 0 || d->kv_lens[b] > plan->tk)
                return ATTN_ERR_BAD_KV_LEN;
    /* The core has checked window >= -1; wider than any distance is all. */
    plan->wl = d->window_left > plan->tq + plan->tk ? -1 : d->window_left;
    plan->wr = d->window_right > plan->tq + plan->tk ? -1 : d->window_right;

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
    /* The window as the caller gave it: within a pair the core treats
     * one wider than the pair's distances as unbounded, as plan->wl. */
    p->window_left = d->window_left;
    p->window_right = d->window_right;
    p->softcap = d->softcap;
    return pair_workspace(plan, backward);
}
