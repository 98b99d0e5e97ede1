/*
 * The fused forward: one task per (batch, head, query block) walks the key
 * blocks it may see with an online softmax (scores in natural units, so
 * that any finite score up to FLT_MAX stays finite; the exponential is
 * 2^((s - M) log2 e)), keeps a running max, sum and unnormalised output,
 * and never stores more than one score tile. Tasks own disjoint output
 * rows and run their tiles in a fixed order, so results do not depend on
 * the thread count.
 */
#include "attention/fused.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

#include "plan/parallel.h"
#include "attention/block.h"


/* Per-thread scratch, carved from the workspace. */
typedef struct fwd_scratch {
    float *S;               /* (Bq, Bk) score tile */
    float *K, *V;           /* (Bk, d), (Bk, dv) widened tiles, or NULL */
    float *O;               /* (Bq, dv) unnormalised output */
    float *row_max;         /* (Bq) reference, natural units */
    double *row_sum;        /* (Bq) */
    float *alpha;           /* (Bq) */
    unsigned char *has_nan; /* (Bq) */
    unsigned char *redo;    /* (Bq) */
} fwd_scratch;

/* Bytes of one thread's scratch; 0 on overflow. K and V tiles only when
 * they must be widened or gathered from pages. */
static size_t scratch_bytes(const sdpa_plan *p, const attn_tiles *b)
{
    const size_t q = (size_t)b->q, f = sizeof(float);
    const size_t dv = (size_t)p->d.v_head_dim;
    const size_t kv = p->kv_direct ? 0 : (size_t)b->k;
    size_t s = 0, t;
    if (!attni_mul_size(q, (size_t)b->k, &t) || !attni_mul_size(t, f, &t) ||
        !attni_add_size(s, attni_workspace_round(t), &s) ||
        !attni_mul_size(q, dv, &t) || !attni_mul_size(t, f, &t) ||
        !attni_add_size(s, attni_workspace_round(t), &s) ||
        !attni_mul_size(kv, (size_t)p->d.head_dim, &t) || !attni_mul_size(t, f, &t) ||
        !attni_add_size(s, attni_workspace_round(t), &s) ||
        !attni_mul_size(kv, dv, &t) || !attni_mul_size(t, f, &t) ||
        !attni_add_size(s, attni_workspace_round(t), &s))
        return 0;
    s += attni_workspace_round(q * f) + attni_workspace_round(q * sizeof(double)) +
         attni_workspace_round(q * f) + 2 * attni_workspace_round(q);
    return s;
}

attn_status attni_fused_forward_shape(const sdpa_plan *p, int blas_threads,
                                     attn_ws_shape *shape)
{
    const attn_tiles b = attni_tiles_forward(&p->d, blas_threads);
    shape->shared = 0;
    shape->per_thread = scratch_bytes(p, &b);
    return shape->per_thread ? ATTN_OK : ATTN_ERR_SIZE_OVERFLOW;
}

static fwd_scratch carve(void *workspace, const sdpa_plan *p,
                         const attn_tiles *b, int thread)
{
    char *c = (char *)attni_workspace_floats(workspace) +
              (size_t)thread * scratch_bytes(p, b);
    const size_t q = (size_t)b->q, dv = (size_t)p->d.v_head_dim;
    const size_t k = (size_t)b->k, f = sizeof(float);
    fwd_scratch s;
    s.S = (float *)c;          c += attni_workspace_round(q * k * f);
    s.O = (float *)c;          c += attni_workspace_round(q * dv * f);
    s.K = s.V = NULL;
    if (!p->kv_direct) {
        s.K = (float *)c;      c += attni_workspace_round(k * (size_t)p->d.head_dim * f);
        s.V = (float *)c;      c += attni_workspace_round(k * dv * f);
    }
    s.row_max = (float *)c;    c += attni_workspace_round(q * f);
    s.row_sum = (double *)c;   c += attni_workspace_round(q * sizeof(double));
    s.alpha = (float *)c;      c += attni_workspace_round(q * f);
    s.has_nan = (unsigned char *)c;  c += attni_workspace_round(q);
    s.redo = (unsigned char *)c;
    return s;
}

typedef struct fwd_ctx {
    const sdpa_plan *p;
    attn_tiles blocks;
    int64_t q_blocks;       /* per (batch, head) */
    const float *q;
    const void *k, *v;      /* kv_dtype, strided or paged */
    float *out, *weights, *lse;
    void *workspace;
} fwd_ctx;

/* What one task reads of its (batch, head). */
typedef struct fwd_pair {
    head_offsets o;
    kv_source k, v;
} fwd_pair;

/* out rows = O / sum with the sink joined, or zeros (no visible key) or
 * NaN (a NaN score). */
static void finish_rows(const fwd_ctx *c, const head_offsets *o, int64_t i0,
                        int64_t m, const fwd_scratch *s, float *lse /* (m) */)
{
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t dv = d->v_head_dim;
    for (int64_t r = 0; r < m; ++r) {
        float *dst = c->out + o->out + (i0 + r) * d->out_strides.row;
        const double sum = s->row_sum[r];
        if (s->has_nan[r]) {
            for (int64_t j = 0; j < dv; ++j)
                dst[j] = NAN;
            lse[r] = NAN;
        } else if (s->row_max[r] == -INFINITY) {
            memset(dst, 0, (size_t)dv * sizeof *dst);
            lse[r] = o->sink;
        } else {
            const float f = attni_sink_join(s->row_max[r] + (float)log(sum),
                                            o->sink, &lse[r]);
            const float inv = (float)(f / sum);
            const float *src = s->O + r * dv;
            for (int64_t j = 0; j < dv; ++j)
                dst[j] = src[j] * inv;
        }
    }
}

/* The weights of the block, recomputed tile by tile from the final lse
 * over the block's keys; zero elsewhere. */
static void write_weights(const fwd_ctx *c, const fwd_pair *pr,
                          const fwd_scratch *s, int64_t bh, int64_t i0,
                          int64_t m, attn_key_range keys,
                          const float *lse /* (m) */)
{
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t Tk = d->kv_len, bk = c->blocks.k;
    float *W = c->weights + (bh * d->q_len + i0) * Tk;
    for (int64_t j0 = keys.begin; j0 < keys.end; j0 += bk) {
        const int64_t n = keys.end - j0 < bk ? keys.end - j0 : bk;
        const kv_tile kt = attni_kv_tile(c->p, &pr->k, j0, n, d->head_dim, s->K);
        attni_score_tile(c->p, &pr->o, c->q, kt.rows, kt.ld, i0, m, j0, n, W + j0,
                         Tk, NULL);
        c->p->kernels->exp_shift(W + j0, m, n, Tk, lse);
    }
    for (int64_t r = 0; r < m; ++r) {
        float *row = W + r * Tk;
        if (lse[r] == -INFINITY)   /* exp(-inf - -inf) would be NaN */
            memset(row + keys.begin, 0,
                   (size_t)(keys.end - keys.begin) * sizeof *row);
        memset(row, 0, (size_t)keys.begin * sizeof *row);
        memset(row + keys.end, 0, (size_t)(Tk - keys.end) * sizeof *row);
    }
}

/* One key tile [j0, j0 + n) for query rows i0 + r0 .. + m of the block:
 * scores, the online-softmax step, and O += P V. */
static void tile_step(const fwd_ctx *c, const fwd_pair *pr,
                      const fwd_scratch *s, int64_t i0, int64_t r0, int64_t m,
                      int64_t j0, int64_t n)
{
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t bk = c->blocks.k, dv = d->v_head_dim;
    float *S = s->S + r0 * bk, *O = s->O + r0 * dv;
    float *row_max = s->row_max + r0, *alpha = s->alpha + r0;
    double *row_sum = s->row_sum + r0;
    unsigned char *has_nan = s->has_nan + r0, *redo = s->redo + r0;
    float old_max[ATTN_TILE_MAX_Q];

    const kv_tile kt = attni_kv_tile(c->p, &pr->k, j0, n, d->head_dim, s->K);
    attni_score_tile(c->p, &pr->o, c->q, kt.rows, kt.ld, i0 + r0, m, j0, n, S, bk,
                     NULL);
    memcpy(old_max, row_max, (size_t)m * sizeof *old_max);
    /* ALiBi's scores rise along the row by design: a row maximum pass costs
     * less than rescoring the rows whose rise one pass cannot take. */
    c->p->kernels->softmax(S, m, n, bk, pr->o.slope != 0.0f, row_max, row_sum,
                           alpha, has_nan, redo);
    for (int64_t r = 0; r < m; ++r)
        if (redo[r]) { /* a score rose too far for one pass: again */
            float *row = S + r * bk;
            attni_score_tile(c->p, &pr->o, c->q, kt.rows, kt.ld, i0 + r0 + r,
                             1, j0, n, row, bk, NULL);
            c->p->kernels->softmax(row, 1, n, bk, 1, row_max + r,
                                   row_sum + r, alpha + r, has_nan + r,
                                   redo + r);
        }
    attni_rescale_rows(O, alpha, old_max, m, dv);
    const kv_tile vt = attni_kv_tile(c->p, &pr->v, j0, n, dv, s->V);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)dv,
                (int)n, 1.0f, S, (int)bk, vt.rows, attni_blas_ld(vt.ld, n, dv),
                1.0f, O, (int)dv);
}

static void forward_task(const void *arg, int64_t task, int thread)
{
    const fwd_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t bh = task / c->q_blocks;
    const int64_t b = bh / d->q_heads, h = bh % d->q_heads;
    const int64_t bq = c->blocks.q, bk = c->blocks.k;
    /* Last query block first: under a causal mask it is the costliest, and
     * handing out the large tasks first evens out the threads' ends. */
    const int64_t i0 = (c->q_blocks - 1 - task % c->q_blocks) * bq;
    fwd_pair pr;
    pr.o = attni_head_offsets(c->p, b, h);
    if (i0 >= pr.o.rows)
        return; /* past a packed sequence's end */
    const int64_t m = pr.o.rows - i0 < bq ? pr.o.rows - i0 : bq;
    pr.k = attni_kv_source(d, c->k, d->k_strides, b, h / c->p->group);
    pr.v = attni_kv_source(d, c->v, d->v_strides, b, h / c->p->group);
    const head_offsets o = pr.o;
    const attn_key_range keys = attni_block_keys(d, &o, i0, i0 + m - 1);
    /* Keys every row of the block may see: tiles inside need no groups. */
    const int64_t all_begin = attni_row_keys(d, &o, i0 + m - 1).begin;
    const int64_t all_end = attni_row_keys(d, &o, i0).end;
    const fwd_scratch s = carve(c->workspace, c->p, &c->blocks, thread);

    for (int64_t r = 0; r < m; ++r) {
        s.row_max[r] = -INFINITY;
        s.row_sum[r] = 0.0;
        s.has_nan[r] = 0;
    }
    /* Tiles stay aligned to multiples of bk, clipped to the block's keys. */
    for (int64_t t0 = keys.begin - keys.begin % bk; t0 < keys.end; t0 += bk) {
        const int64_t j0 = t0 > keys.begin ? t0 : keys.begin;
        const int64_t j1 = t0 + bk < keys.end ? t0 + bk : keys.end;
        if ((j0 >= all_begin && j1 <= all_end) || m <= ATTN_DIAGONAL_ROWS) {
            tile_step(c, &pr, &s, i0, 0, m, j0, j1 - j0);
            continue;
        }
        for (int64_t r0 = 0; r0 < m; r0 += ATTN_DIAGONAL_ROWS) {
            const int64_t mg = m - r0 < ATTN_DIAGONAL_ROWS ? m - r0 : ATTN_DIAGONAL_ROWS;
            const attn_key_range g =
                attni_block_keys(d, &o, i0 + r0, i0 + r0 + mg - 1);
            const int64_t g0 = g.begin > j0 ? g.begin : j0;
            const int64_t g1 = g.end < j1 ? g.end : j1;
            if (g1 > g0) /* rows that see nothing here keep their state */
                tile_step(c, &pr, &s, i0, r0, mg, g0, g1 - g0);
        }
    }
    float lse[ATTN_TILE_MAX_Q];
    finish_rows(c, &o, i0, m, &s, lse);
    if (c->weights)
        write_weights(c, &pr, &s, bh, i0, m, keys, lse);
    if (c->lse)
        memcpy(c->lse + o.lse + i0, lse, (size_t)m * sizeof *lse);
}

void attni_fused_forward(const sdpa_plan *p, int threads, const float *q,
                        const void *k, const void *v, float *out,
                        float *weights, float *lse, void *workspace)
{
    fwd_ctx c;
    c.p = p;
    c.blocks = attni_tiles_forward(&p->d, p->blas_threads);
    c.q_blocks = (p->max_rows + c.blocks.q - 1) / c.blocks.q;
    c.q = q;
    c.k = k;
    c.v = v;
    c.out = out;
    c.weights = weights;
    c.lse = lse;
    c.workspace = workspace;
    attni_parallel_for(p->d.batch * p->d.q_heads * c.q_blocks, threads,
                      forward_task, &c);
}
