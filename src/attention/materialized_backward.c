/*
 * The materialised backward by recomputation: for each (batch, head) and
 * block of ATTN_MATERIALIZED_ROWS query rows, P is rebuilt from the scores
 * and the saved lse, and four sgemm calls produce dP, dQ, dK and dV.
 * Nothing of size (Tq, Tk) per head is kept. One thread.
 */
#include <math.h>

#include <cblas.h>

#include "attention/block.h"
#include "attention/materialized.h"

typedef struct grads {
    float *dq, *dk, *dv, *dbias;
} grads;

/*
 * dS = P * (dP - D) in place of dP, row by row, with P = exp(S - lse) in
 * place of S. Entries with P == 0 (masked, or underflowed) give dS = 0
 * exactly, so NaN in a hidden V row cannot leak into the gradients.
 */
static void softmax_grad_block(const attn_sdpa_desc *d, const head_offsets *o,
                               const float *out, const float *dout,
                               const float *lse /* (m) */, int64_t i0,
                               int64_t m, int64_t n,
                               float *P /* (m, ld) */, float *dS /* (m, ld) */,
                               int64_t ld)
{
    const int64_t os = d->out_strides.row;
    for (int64_t r = 0; r < m; ++r) {
        const float *o_row = out + o->out + (i0 + r) * os;
        const float *do_row = dout + o->out + (i0 + r) * os;
        double D = 0.0;
        for (int64_t c = 0; c < d->v_head_dim; ++c)
            D += (double)do_row[c] * o_row[c];
        float *p_row = P + r * ld, *ds_row = dS + r * ld;
        const float l = lse[r];
        for (int64_t j = 0; j < n; ++j) {
            const float pj = l == -INFINITY ? 0.0f : expf(p_row[j] - l);
            p_row[j] = pj;
            ds_row[j] = pj == 0.0f ? 0.0f : pj * (float)(ds_row[j] - D);
        }
    }
}

/* dbias (bias_strides) += dS over keys [kb, kb + n). */
static void accumulate_dbias(const attn_sdpa_desc *d, const head_offsets *o,
                             float *dbias, int64_t i0, int64_t m, int64_t kb,
                             int64_t n, const float *dS, int64_t ld)
{
    for (int64_t r = 0; r < m; ++r) {
        float *row = dbias + o->bias + (i0 + r) * d->bias_strides.row + kb;
        for (int64_t j = 0; j < n; ++j)
            row[j] += dS[r * ld + j];
    }
}

/* Query rows [i0, i0 + m) against keys [kb, kb + n): P and dS hold those
 * columns (column 0 = key kb). */
static void backward_block(const sdpa_plan *p, const head_offsets *o,
                           const float *q, const float *k, const float *v,
                           const float *out, const float *lse,
                           const float *dout, const grads *g, int64_t i0,
                           int64_t m, int64_t kb, int64_t n, float *P,
                           float *dS, float *G)
{
    const attn_sdpa_desc *d = &p->d;
    const int64_t ld = n;
    const int ldq = attni_blas_ld(d->q_strides.row, m, d->head_dim);
    const int ldk = attni_blas_ld(d->k_strides.row, n, d->head_dim);
    const int ldv = attni_blas_ld(d->v_strides.row, n, d->v_head_dim);
    const int ldo = attni_blas_ld(d->out_strides.row, m, d->v_head_dim);
    const int64_t ko = o->k + kb * d->k_strides.row;
    const int64_t vo = o->v + kb * d->v_strides.row;
    const float *q_blk = q + o->q + i0 * d->q_strides.row;
    const float *do_blk = dout + o->out + i0 * d->out_strides.row;

    attni_score_tile(p, o, q, k + ko, d->k_strides.row, i0, m, kb, n, P, ld, G);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n,
                (int)d->v_head_dim, 1.0f, do_blk, ldo, v + vo, ldv, 0.0f,
                dS, (int)ld);
    softmax_grad_block(d, o, out, dout, lse, i0, m, n, P, dS, ld);

    if (g->dbias)
        accumulate_dbias(d, o, g->dbias, i0, m, kb, n, dS, ld);
    if (G)  /* through the cap: the scores' gradient before it */
        attni_mul_rows(dS, G, m, n, ld);
    if (g->dq)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
                    (int)d->head_dim, (int)n, d->scale, dS, (int)ld,
                    k + ko, ldk, 1.0f, g->dq + o->q + i0 * d->q_strides.row,
                    ldq);
    if (g->dk)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n,
                    (int)d->head_dim, (int)m, d->scale, dS, (int)ld, q_blk,
                    ldq, 1.0f, g->dk + ko, ldk);
    if (g->dv)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n,
                    (int)d->v_head_dim, (int)m, 1.0f, P, (int)ld, do_blk, ldo,
                    1.0f, g->dv + vo, ldv);
}

void attni_materialized_backward(const sdpa_plan *p, const float *q,
                                 const float *k, const float *v,
                                 const float *out, const float *lse,
                                 const float *dout, float *dq, float *dk,
                                 float *dv, float *dbias, void *workspace)
{
    const attn_sdpa_desc *d = &p->d;
    const grads gr = {dq, dk, dv, dbias}, *g = &gr;
    float *P = attni_workspace_floats(workspace);
    float *dS = P + p->tile_bytes / sizeof(float);
    float *G = d->softcap > 0.0f ? dS + p->tile_bytes / sizeof(float) : NULL;

    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h) {
            const head_offsets o = attni_head_offsets(p, b, h);
            const float *bh_lse = lse + o.lse;
            for (int64_t i0 = 0; i0 < o.rows; i0 += ATTN_MATERIALIZED_ROWS) {
                const int64_t m = attni_block_rows(&o, i0);
                int64_t r0 = 0, len;
                for (; (len = attni_live_rows(bh_lse + i0, m, o.sink, &r0)) > 0; r0 += len) {
                    const int64_t i = i0 + r0;
                    const attn_key_range keys =
                        attni_block_keys(d, &o, i, i + len - 1);
                    if (keys.end > keys.begin) /* rows left only a sink */
                        backward_block(p, &o, q, k, v, out, bh_lse + i, dout,
                                       g, i, len, keys.begin,
                                       keys.end - keys.begin, P, dS, G);
                }
            }
        }
}

