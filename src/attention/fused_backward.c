/*
 * The fused backward (FlashAttention-2 style): P is recomputed tile by tile
 * from the forward's log-sum-exp, and five sgemm calls per (query block,
 * key tile) give dP, dV, dK and dQ. Nothing of size (Tq, Tk) is stored.
 *
 * Work is split into tasks (batch, kv head, key chunk). A task owns the dK
 * and dV rows of its keys, and loops over every query head of its group and
 * every query block that can see them, in a fixed order. dQ collects sums
 * over key chunks: with one chunk per (batch, kv head) the task owns its dQ
 * rows outright; with more (chosen from the shape only, so that small B*H
 * still gives enough tasks) each chunk adds into its own partial dQ and the
 * partials are summed in chunk order afterwards. Either way every element
 * has one writer and a fixed order of accumulation: results do not depend
 * on the thread count.
 */
#include "attention/fused.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "plan/parallel.h"
#include "attention/block.h"
#include "plan/packed.h"


/* Tasks wanted for parallelism whatever the machine: a constant, so that
 * the chunking (and the rounding of dQ) is the same for every thread
 * count. */
#define MIN_TASKS 8
/* Upper bound on the partial dQ buffers that chunking may add. */
#define MAX_PARTIAL_BYTES ((size_t)32 << 20)

/* The layout of the backward: tiles, chunks and workspace pieces. */
typedef struct bwd_layout {
    attn_tiles blocks;
    int64_t key_blocks;     /* over Tk */
    int64_t chunks;         /* key chunks per (batch, kv head) */
    size_t tile_bytes;      /* one Bq x Bk float tile, rounded */
    size_t rows_bytes;      /* D: (B, Hq, Tq) floats, rounded */
    size_t partial_bytes;   /* one chunk's dQ: (B, Hq, Tq, d) floats */
} bwd_layout;

static attn_status layout_of(const sdpa_plan *p, int blas_threads,
                             bwd_layout *L)
{
    const attn_sdpa_desc *d = &p->d;
    L->blocks = attni_tiles_backward(d, blas_threads);
    /* over the total keys even when packed: the workspace (chunks) must not
     * depend on the offsets' values */
    L->key_blocks = (d->kv_len + L->blocks.k - 1) / L->blocks.k;
    size_t t;
    if (!attni_mul_size((size_t)L->blocks.q, (size_t)L->blocks.k, &t) ||
        !attni_mul_size(t, sizeof(float), &t))
        return ATTN_ERR_SIZE_OVERFLOW;
    L->tile_bytes = attni_workspace_round(t);
    L->rows_bytes = attni_workspace_round(p->lse_bytes);
    /* lse_bytes * d cannot overflow where q_bytes did not. */
    L->partial_bytes = attni_workspace_round(p->lse_bytes * (size_t)d->head_dim);

    const int64_t pairs = d->batch * d->kv_heads;
    int64_t chunks = pairs >= MIN_TASKS ? 1 : (MIN_TASKS + pairs - 1) / pairs;
    if (chunks > L->key_blocks)
        chunks = L->key_blocks;
    if (chunks > 1 && (size_t)chunks * L->partial_bytes > MAX_PARTIAL_BYTES)
        chunks = (int64_t)(MAX_PARTIAL_BYTES / L->partial_bytes);
    L->chunks = chunks > 1 ? chunks : 1;
    return ATTN_OK;
}

/* P and dS, and the softcap's derivative when it is on. */
static size_t tiles_per_thread(const sdpa_plan *p)
{
    return p->d.softcap > 0.0f ? 3 : 2;
}

/* Workspace: D and the dQ partials shared, the tiles per thread. */
attn_status attni_fused_backward_shape(const sdpa_plan *p, int blas_threads,
                                      attn_ws_shape *shape)
{
    bwd_layout L;
    attn_status s = layout_of(p, blas_threads, &L);
    if (s != ATTN_OK)
        return s;
    if (!attni_add_size(L.rows_bytes,
                       L.chunks > 1 ? (size_t)L.chunks * L.partial_bytes : 0,
                       &shape->shared) ||
        !attni_mul_size(L.tile_bytes, tiles_per_thread(p), &shape->per_thread))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

typedef struct bwd_ctx {
    const sdpa_plan *p;
    bwd_layout L;
    const float *q, *k, *v, *out, *lse, *dout;
    float *dq, *dk, *dv, *dbias;
    float *D;               /* (B, Hq, Tq) rowsum(dout * out) */
    float *partials;        /* (chunks, B, Hq, Tq, d) when chunks > 1 */
    char *tiles;            /* per thread: P, dS and G tiles */
} bwd_ctx;

/* D = rowsum(dout * out), one task per (batch, query head). */
static void rowsum_task(const void *arg, int64_t bh, int thread)
{
    (void)thread;
    const bwd_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const head_offsets o = attni_head_offsets(c->p, bh / d->q_heads, bh % d->q_heads);
    for (int64_t i = 0; i < o.rows; ++i) {
        const float *x = c->out + o.out + i * d->out_strides.row;
        const float *y = c->dout + o.out + i * d->out_strides.row;
        double sum = 0.0;
        for (int64_t j = 0; j < d->v_head_dim; ++j)
            sum += (double)x[j] * y[j];
        c->D[o.lse + i] = (float)sum;
    }
}

/* One (query block, key tile) of one query head: the five products. G
 * receives the softcap's derivative, when it is on. */
static void tile_grads(const bwd_ctx *c, const head_offsets *o,
                       int64_t i0, int64_t m, int64_t j0, int64_t n,
                       float *dq_blk, int ld_dq, float *P, float *dS, float *G)
{
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t ld = c->L.blocks.k, D = d->head_dim, Dv = d->v_head_dim;
    const int ldq = attni_blas_ld(d->q_strides.row, m, D);
    const int ldk = attni_blas_ld(d->k_strides.row, n, D);
    const int ldv = attni_blas_ld(d->v_strides.row, n, Dv);
    const int ldo = attni_blas_ld(d->out_strides.row, m, Dv);
    const float *q_blk = c->q + o->q + i0 * d->q_strides.row;
    const float *do_blk = c->dout + o->out + i0 * d->out_strides.row;
    const float *k_tile = c->k + o->k + j0 * d->k_strides.row;
    const float *v_tile = c->v + o->v + j0 * d->v_strides.row;

    attni_score_tile(c->p, o, c->q, k_tile, d->k_strides.row, i0, m, j0, n, P,
                     ld, G);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n,
                (int)Dv, 1.0f, do_blk, ldo, v_tile, ldv, 0.0f, dS, (int)ld);
    c->p->kernels->softmax_grad(P, dS, m, n, ld, c->lse + o->lse + i0,
                                c->D + o->lse + i0);

    if (c->dbias)
        for (int64_t r = 0; r < m; ++r) {
            float *row = c->dbias + o->bias + (i0 + r) * d->bias_strides.row + j0;
            for (int64_t j = 0; j < n; ++j)
                row[j] += dS[r * ld + j];
        }
    if (G)  /* through the cap: the scores' gradient before it */
        attni_mul_rows(dS, G, m, n, ld);
    if (c->dv)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)Dv,
                    (int)m, 1.0f, P, (int)ld, do_blk, ldo, 1.0f,
                    c->dv + o->v + j0 * d->v_strides.row, ldv);
    if (c->dk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)D,
                    (int)m, d->scale, dS, (int)ld, q_blk, ldq, 1.0f,
                    c->dk + o->k + j0 * d->k_strides.row, ldk);
    if (dq_blk)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)D,
                    (int)n, d->scale, dS, (int)ld, k_tile, ldk, 1.0f, dq_blk,
                    ld_dq);
}

static void key_chunk_task(const void *arg, int64_t task, int thread)
{
    const bwd_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const bwd_layout *L = &c->L;
    const int64_t pair = task / L->chunks, chunk = task % L->chunks;
    const int64_t b = pair / d->kv_heads, hk = pair % d->kv_heads;
    const int64_t kb0 = chunk * L->key_blocks / L->chunks;
    const int64_t kb1 = (chunk + 1) * L->key_blocks / L->chunks;
    float *P = (float *)(c->tiles + (size_t)thread * tiles_per_thread(c->p) *
                                        L->tile_bytes);
    float *dS = (float *)((char *)P + L->tile_bytes);
    float *G = d->softcap > 0.0f ? (float *)((char *)dS + L->tile_bytes) : NULL;
    const int64_t bq = L->blocks.q, bk = L->blocks.k;

    for (int64_t kb = kb0; kb < kb1; ++kb) {
        const int64_t j0 = kb * bk;
        for (int64_t h = hk * c->p->group; h < (hk + 1) * c->p->group; ++h) {
            const head_offsets o = attni_head_offsets(c->p, b, h);
            if (j0 >= o.valid && j0 > 0)
                break; /* past a packed sequence's keys: the same for every head */
            const int64_t n = o.valid - j0 < bk ? o.valid - j0 : bk;
            const float *bh_lse = c->lse + o.lse;
            /* only the query blocks that may see this key tile */
            const attn_key_range rows = attni_key_queries(d, &o, j0, j0 + n);
            for (int64_t i0 = rows.begin - rows.begin % bq; i0 < rows.end; i0 += bq) {
                const int64_t m = o.rows - i0 < bq ? o.rows - i0 : bq;
                int64_t r0 = 0, len;
                for (; (len = attni_live_rows(bh_lse + i0, m, o.sink, &r0)) > 0; r0 += len) {
                    const int64_t i = i0 + r0;
                    /* Keys outside the run's range are invisible to it. */
                    const attn_key_range keys =
                        attni_block_keys(d, &o, i, i + len - 1);
                    const int64_t js = keys.begin > j0 ? keys.begin : j0;
                    const int64_t je = keys.end < j0 + n ? keys.end : j0 + n;
                    if (je <= js)
                        continue;
                    float *dq = NULL; /* the user's rows, or this chunk's partial */
                    int ld_dq = (int)d->head_dim;
                    if (c->dq && L->chunks == 1) {
                        dq = c->dq + o.q + i * d->q_strides.row;
                        ld_dq = attni_blas_ld(d->q_strides.row, len, d->head_dim);
                    } else if (c->dq) {
                        dq = c->partials + (size_t)chunk * (L->partial_bytes / sizeof(float)) +
                             (o.lse + i) * d->head_dim;
                    }
                    tile_grads(c, &o, i, len, js, je - js, dq, ld_dq, P, dS,
                               G);
                }
            }
        }
    }
}

/* dq += sum over chunks of the partials, in chunk order; one task per
 * (batch, query head). */
static void reduce_task(const void *arg, int64_t bh, int thread)
{
    (void)thread;
    const bwd_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const head_offsets o = attni_head_offsets(c->p, bh / d->q_heads, bh % d->q_heads);
    const size_t stride = c->L.partial_bytes / sizeof(float);
    for (int64_t i = 0; i < o.rows; ++i) {
        float *dst = c->dq + o.q + i * d->q_strides.row;
        for (int64_t j = 0; j < d->head_dim; ++j) {
            float sum = 0.0f;
            for (int64_t ch = 0; ch < c->L.chunks; ++ch)
                sum += c->partials[(size_t)ch * stride +
                                   (size_t)((o.lse + i) * d->head_dim + j)];
            dst[j] += sum;
        }
    }
}

void attni_fused_backward(const sdpa_plan *p, int threads, const float *q,
                         const float *k, const float *v, const float *out,
                         const float *lse, const float *dout, float *dq,
                         float *dk, float *dv, float *dbias, void *workspace)
{
    const attn_sdpa_desc *d = &p->d;
    bwd_ctx c;
    layout_of(p, p->blas_threads, &c.L); /* checked by attni_fused_backward_shape */
    c.p = p;
    c.q = q; c.k = k; c.v = v; c.out = out; c.lse = lse; c.dout = dout;
    c.dq = dq; c.dk = dk; c.dv = dv; c.dbias = dbias;
    char *w = (char *)attni_workspace_floats(workspace);
    c.D = (float *)w;
    w += c.L.rows_bytes;
    c.partials = NULL;
    if (c.L.chunks > 1) {
        c.partials = (float *)w;
        w += (size_t)c.L.chunks * c.L.partial_bytes;
        if (dq)
            memset(c.partials, 0, (size_t)c.L.chunks * c.L.partial_bytes);
    }
    c.tiles = w;

    const int64_t nb = attni_tensor_batch(d);
    /* The gradient of a broadcast input (a stride 0, or rows that overlap)
     * is shared by tasks: then one thread does it all, in task order, which
     * is also the order of any other thread count. */
    if ((dbias && !attni_layout_is_injective(d->batch, d->q_heads, d->q_len,
                                            d->kv_len, d->bias_strides)) ||
        (dq && !attni_layout_is_injective(nb, d->q_heads, d->q_len,
                                         d->head_dim, d->q_strides)) ||
        (dk && !attni_layout_is_injective(nb, d->kv_heads, d->kv_len,
                                         d->head_dim, d->k_strides)) ||
        (dv && !attni_layout_is_injective(nb, d->kv_heads, d->kv_len,
                                         d->v_head_dim, d->v_strides)))
        threads = 1;
    const int64_t bh = d->batch * d->q_heads;
    attni_parallel_for(bh, threads, rowsum_task, &c);
    attni_parallel_for(d->batch * d->kv_heads * c.L.chunks, threads,
                      key_chunk_task, &c);
    if (dq && c.L.chunks > 1)
        attni_parallel_for(bh, threads, reduce_task, &c);
}
