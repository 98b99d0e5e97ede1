#include "attention/block.h"

#include "plan/packed.h"

#include <math.h>
#include <string.h>

#include <cblas.h>

head_offsets attni_head_offsets(const sdpa_plan *p, int64_t b, int64_t h)
{
    const attn_sdpa_desc *d = &p->d;
    const int64_t hk = h / p->group;
    head_offsets o;
    o.q = b * d->q_strides.batch + h * d->q_strides.head;
    o.k = b * d->k_strides.batch + hk * d->k_strides.head;
    o.v = b * d->v_strides.batch + hk * d->v_strides.head;
    o.out = b * d->out_strides.batch + h * d->out_strides.head;
    o.keep = b * d->keep_strides.batch + h * d->keep_strides.head;
    o.bias = b * d->bias_strides.batch + h * d->bias_strides.head;
    o.valid = d->kv_lens ? d->kv_lens[b] : d->kv_len;
    o.rows = d->q_len;
    o.lse = (b * d->q_heads + h) * d->q_len;
    if (attni_packed(d)) { /* batch strides are 0: add the rows' offsets */
        const int64_t q0 = attni_seq_offset(d, d->cu_seqlens_q, b);
        const int64_t k0 = attni_seq_offset(d, d->cu_seqlens_k, b);
        o.q += q0 * d->q_strides.row;
        o.out += q0 * d->out_strides.row;
        o.k += k0 * d->k_strides.row;
        o.v += k0 * d->v_strides.row;
        o.rows = attni_seq_offset(d, d->cu_seqlens_q, b + 1) - q0;
        o.valid = attni_seq_offset(d, d->cu_seqlens_k, b + 1) - k0;
        o.lse = h * d->q_len + q0;
    }
    o.slope = d->alibi_slopes ? d->alibi_slopes[b * d->alibi_batch_stride + h]
                              : 0.0f;
    o.sink = d->sinks ? d->sinks[h] : -INFINITY;
    return o;
}

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

attn_key_range attni_row_keys(const attn_sdpa_desc *d, const head_offsets *o,
                              int64_t i)
{
    const int64_t aligned = i + o->valid - o->rows + d->position_shift;
    attn_key_range r = {0, o->valid};
    if (d->causal == ATTN_CAUSAL_TOP_LEFT)
        r.end = min64(r.end, i + 1);
    else if (d->causal == ATTN_CAUSAL_BOTTOM_RIGHT)
        r.end = min64(r.end, aligned + 1);
    if (d->window_right >= 0)
        r.end = min64(r.end, aligned + d->window_right + 1);
    if (d->window_left >= 0) /* within [0, L]: a shift may move it past */
        r.begin = min64(max64(0, aligned - d->window_left), o->valid);
    r.end = max64(r.end, 0);
    return r;
}

attn_key_range attni_block_keys(const attn_sdpa_desc *d, const head_offsets *o,
                               int64_t i0, int64_t i1)
{
    attn_key_range r = {attni_row_keys(d, o, i0).begin,
                        attni_row_keys(d, o, i1).end};
    if (r.end < r.begin)
        r.end = r.begin;
    return r;
}

/* The first row in [lo, hi) whose range ends past j (end_past) or begins
 * at or after j (begin_from), else hi: both are monotone in the row. */
static int64_t first_row(const attn_sdpa_desc *d, const head_offsets *o,
                         int64_t lo, int64_t hi, int64_t j, int begin_from)
{
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        const attn_key_range r = attni_row_keys(d, o, mid);
        if (begin_from ? r.begin >= j : r.end > j)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

attn_key_range attni_key_queries(const attn_sdpa_desc *d, const head_offsets *o,
                                 int64_t j0, int64_t j1)
{
    attn_key_range q;
    q.begin = first_row(d, o, 0, o->rows, j0, 0);
    q.end = first_row(d, o, q.begin, o->rows, j1, 1);
    return q;
}

int64_t attni_block_rows(const head_offsets *o, int64_t i0)
{
    const int64_t left = o->rows - i0;
    return left < ATTN_MATERIALIZED_ROWS ? left : ATTN_MATERIALIZED_ROWS;
}

int64_t attni_live_rows(const float *lse, int64_t m, float dead,
                        int64_t *start)
{
    int64_t r = *start;
    while (r < m && (lse[r] == -INFINITY || lse[r] == dead))
        ++r;
    *start = r;
    int64_t end = r;
    while (end < m && lse[end] != -INFINITY && lse[end] != dead)
        ++end;
    return end - r;
}

int attni_blas_ld(int64_t stride, int64_t rows, int64_t cols)
{
    return (int)(rows > 1 || stride >= cols ? stride : cols);
}

void attni_mask_scores(const sdpa_plan *p, const head_offsets *o, int64_t i,
                       int64_t j0, int64_t n, float *row, float *dcap)
{
    const attn_sdpa_desc *d = &p->d;
    const attn_key_range keys = attni_row_keys(d, o, i);
    int64_t begin = keys.begin - j0, end = keys.end - j0;
    begin = begin < 0 ? 0 : begin > n ? n : begin;
    end = end < begin ? begin : end > n ? n : end;
    for (int64_t j = 0; j < begin; ++j)
        row[j] = -INFINITY;
    if (d->softcap > 0.0f || o->slope != 0.0f) {
        /* the distance i + off - j as a float, exact below 2^24 */
        const float dist0 = (float)(i + o->valid - o->rows + d->position_shift -
                                    (j0 + begin));
        p->kernels->modify_scores(row + begin, end - begin, d->softcap,
                                  o->slope, dist0, dcap ? dcap + begin : NULL);
        if (dcap) {
            memset(dcap, 0, (size_t)begin * sizeof *dcap);
            memset(dcap + end, 0, (size_t)(n - end) * sizeof *dcap);
        }
    }
    if (d->keep_mask || d->bias) {
        const uint8_t *keep = d->keep_mask ? d->keep_mask + o->keep +
                                                 i * d->keep_strides.row + j0
                                           : NULL;
        const float *bias =
            d->bias ? d->bias + o->bias + i * d->bias_strides.row + j0 : NULL;
        for (int64_t j = begin; j < end; ++j) {
            if (keep && !keep[j])
                row[j] = -INFINITY;
            else if (bias) /* -inf is a mask: NaN + -inf must not revive it */
                row[j] = bias[j] == -INFINITY ? -INFINITY : row[j] + bias[j];
        }
    }
    for (int64_t j = end; j < n; ++j)
        row[j] = -INFINITY;
}

void attni_score_tile(const sdpa_plan *p, const head_offsets *o,
                     const float *q, const float *K, int64_t ldk, int64_t i0,
                     int64_t m, int64_t j0, int64_t n, float *S, int64_t ld,
                     float *dcap)
{
    const attn_sdpa_desc *d = &p->d;
    if (n <= 0)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)n,
                (int)d->head_dim, d->scale,
                q + o->q + i0 * d->q_strides.row,
                attni_blas_ld(d->q_strides.row, m, d->head_dim), K,
                attni_blas_ld(ldk, n, d->head_dim), 0.0f, S, (int)ld);
    for (int64_t r = 0; r < m; ++r)
        attni_mask_scores(p, o, i0 + r, j0, n, S + r * ld,
                          dcap ? dcap + r * ld : NULL);
}

float attni_sink_join(float L, float sink, float *joined)
{
    if (isnan(L) || L == -INFINITY) {
        *joined = isnan(L) ? L : sink;
        return isnan(L) ? L : 0.0f;
    }
    if (sink == -INFINITY) {
        *joined = L;
        return 1.0f;
    }
    /* in double after taking out the larger, so neither side overflows */
    const double top = L > sink ? L : sink;
    const double a = exp(L - top), z = a + exp(sink - top);
    *joined = (float)(top + log(z));
    return (float)(a / z);
}

kv_tile attni_kv_tile(const sdpa_plan *p, const kv_source *s, int64_t j0,
                      int64_t n, int64_t cols, float *buf)
{
    const void *rows[ATTN_DECODE_KEYS];
    kv_tile t = {buf, cols};
    if (n <= 0)
        return t;
    if (attni_kv_is_direct(s, j0, n)) {
        attni_kv_rows(s, j0, 1, rows);
        t.rows = rows[0];
        t.ld = s->row_bytes / (int64_t)sizeof(float);
        return t;
    }
    for (int64_t i = 0; i < n; i += ATTN_DECODE_KEYS) {
        const int64_t len = n - i < ATTN_DECODE_KEYS ? n - i : ATTN_DECODE_KEYS;
        attni_kv_rows(s, j0 + i, len, rows);
        p->kernels->widen_rows[s->dtype](rows, len, cols, buf + i * cols, cols);
    }
    return t;
}

void attni_mul_rows(float *x, const float *y, int64_t m, int64_t n,
                    int64_t ld)
{
    for (int64_t r = 0; r < m; ++r)
        for (int64_t j = 0; j < n; ++j)
            x[r * ld + j] *= y[r * ld + j];
}

void attni_zero_rows(float *x, int64_t rows, int64_t stride, int64_t cols)
{
    for (int64_t r = 0; r < rows; ++r)
        memset(x + r * stride, 0, (size_t)cols * sizeof *x);
}

/* O[r] *= alpha[r]; a row that saw nothing before restarts from zero, so
 * 0 * NaN from a hidden V row cannot survive into it. */
void attni_rescale_rows(float *O, const float *alpha, const float *old_max,
                        int64_t m, int64_t dv)
{
    for (int64_t r = 0; r < m; ++r) {
        float *row = O + r * dv;
        if (old_max[r] == -INFINITY)
            memset(row, 0, (size_t)dv * sizeof *row);
        else if (alpha[r] != 1.0f)
            for (int64_t c = 0; c < dv; ++c)
                row[c] *= alpha[r];
    }
}
