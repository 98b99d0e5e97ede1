/*
 * The materialised forward: for each (batch, head) and each block of
 * ATTN_MATERIALIZED_ROWS query rows (one task each), one sgemm for the
 * scores against all the block's keys, masks and softmax row by row, one
 * sgemm for weights * V. The reference the fused path is tested against.
 */
#include <math.h>
#include <string.h>

#include <cblas.h>

#include "api/softmax_row.h"
#include "attention/block.h"
#include "attention/materialized.h"
#include "plan/parallel.h"

/* Zeroes row r's entries of a (m, Tk) weights block outside the keys
 * [kb, kb + n) that S (column 0 = key kb) holds. */
static void zero_outside(const attn_sdpa_desc *d, float *S, int64_t ld,
                         int64_t r, int64_t kb, int64_t n)
{
    float *row = S + r * ld - kb;
    memset(row, 0, (size_t)kb * sizeof *row);
    memset(row + kb + n, 0, (size_t)(d->kv_len - kb - n) * sizeof *row);
}

/* Softmax (with the sink joined) and weights * V for one query block whose
 * scores against keys [kb, kb + n) are in S; row_lse receives each row's
 * log-sum-exp. */
static void attend_block(const attn_sdpa_desc *d, const head_offsets *o,
                         kv_tile vt, float *out, int64_t i0, int64_t m,
                         int64_t kb, int64_t n, float *S /* (m, ld) */,
                         int64_t ld, int weights_out, float *row_lse /* (m) */)
{
    const int64_t os = d->out_strides.row;
    out += o->out + i0 * os;
    unsigned char empty[ATTN_MATERIALIZED_ROWS];
    for (int64_t r = 0; r < m; ++r) {
        float *row = S + r * ld;
        const float f = attni_sink_join(attni_softmax_row(row, n), o->sink,
                                        &row_lse[r]);
        empty[r] = f == 0.0f; /* no key seen, or the sink took it all */
        if (f != 1.0f)
            for (int64_t j = 0; j < n; ++j)
                row[j] *= f;
        if (weights_out)
            zero_outside(d, S, ld, r, kb, n);
    }
    if (n == 0) {
        attni_zero_rows(out, m, os, d->v_head_dim);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
                (int)d->v_head_dim, (int)n, 1.0f, S, (int)ld, vt.rows,
                attni_blas_ld(vt.ld, n, d->v_head_dim),
                0.0f, out, attni_blas_ld(os, m, d->v_head_dim));
    /* A fully masked row must be zero even if a V row it cannot see holds
     * NaN or Inf (0 * NaN is NaN inside the product). */
    for (int64_t r = 0; r < m; ++r)
        if (empty[r])
            memset(out + r * os, 0, (size_t)d->v_head_dim * sizeof *out);
}

typedef struct materialized_ctx {
    const sdpa_plan *p;
    int64_t q_blocks;       /* per (batch, head) */
    const float *q;
    const void *k, *v;      /* kv_dtype, strided or paged */
    float *out, *weights, *lse;
    void *workspace;
} materialized_ctx;

static void materialized_task(const void *arg, int64_t task, int thread)
{
    const materialized_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t bh = task / c->q_blocks;
    const int64_t i0 = (task % c->q_blocks) * ATTN_MATERIALIZED_ROWS;
    const int64_t b = bh / d->q_heads, h = bh % d->q_heads;
    const head_offsets o = attni_head_offsets(c->p, b, h);
    if (i0 >= o.rows)
        return; /* past a packed sequence's end */
    const int64_t m = attni_block_rows(&o, i0);
    const attn_key_range keys = attni_block_keys(d, &o, i0, i0 + m - 1);
    const int64_t kb = keys.begin, n = keys.end - keys.begin;
    /* Column 0 of S is key kb. K, then V, widened into kv_buf when they
     * must be (one after the other: the scores are done before V). */
    char *scratch = (char *)attni_workspace_floats(c->workspace) +
                    (size_t)thread * (c->p->tile_bytes + c->p->kv_buf_bytes);
    float *S = (float *)scratch, *kv_buf = (float *)(scratch + c->p->tile_bytes);
    int64_t ld = n > 0 ? n : 1;
    if (c->weights) {
        S = c->weights + (bh * d->q_len + i0) * d->kv_len + kb;
        ld = d->kv_len;
    }
    float row_lse[ATTN_MATERIALIZED_ROWS];
    const kv_source ks = attni_kv_source(d, c->k, d->k_strides, b, h / c->p->group);
    const kv_source vs = attni_kv_source(d, c->v, d->v_strides, b, h / c->p->group);
    const kv_tile kt = attni_kv_tile(c->p, &ks, kb, n, d->head_dim, kv_buf);
    attni_score_tile(c->p, &o, c->q, kt.rows, kt.ld, i0, m, kb, n, S, ld, NULL);
    const kv_tile vt = attni_kv_tile(c->p, &vs, kb, n, d->v_head_dim, kv_buf);
    attend_block(d, &o, vt, c->out, i0, m, kb, n, S, ld, c->weights != NULL,
                 row_lse);
    if (c->lse)
        memcpy(c->lse + o.lse + i0, row_lse, (size_t)m * sizeof *c->lse);
}

void attni_materialized_forward(const sdpa_plan *p, int threads,
                                const float *q, const void *k, const void *v,
                                float *out, float *weights, float *lse,
                                void *workspace)
{
    const materialized_ctx c = {
        p, (p->max_rows + ATTN_MATERIALIZED_ROWS - 1) / ATTN_MATERIALIZED_ROWS,
        q, k, v, out, weights, lse, workspace};
    attni_parallel_for(p->d.batch * p->d.q_heads * c.q_blocks, threads,
                       materialized_task, &c);
}
