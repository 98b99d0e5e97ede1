#include "plan/desc.h"

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include "plan/kv_source.h"
#include "plan/packed.h"
#include "plan/layout.h"
#include "plan/parallel.h"

/* The size of the first released descriptor: a caller built against it
 * gets the defaults of every later field (zero: fp32, not paged). */
#define DESC_V1_SIZE offsetof(attn_sdpa_desc, kv_dtype)

static void set_defaults(attn_sdpa_desc *d, int64_t batch, int64_t q_heads,
                         int64_t kv_heads, int64_t q_len, int64_t kv_len,
                         int64_t head_dim, int64_t v_head_dim)
{
    memset(d, 0, sizeof *d);
    d->struct_size = sizeof *d;
    d->batch = batch;
    d->q_heads = q_heads;
    d->kv_heads = kv_heads;
    d->q_len = q_len;
    d->kv_len = kv_len;
    d->head_dim = head_dim;
    d->v_head_dim = v_head_dim;
    d->scale = head_dim > 0 ? (float)(1.0 / sqrt((double)head_dim)) : 1.0f;
    d->q_strides = attni_contiguous_strides(q_heads, q_len, head_dim);
    d->k_strides = attni_contiguous_strides(kv_heads, kv_len, head_dim);
    d->v_strides = attni_contiguous_strides(kv_heads, kv_len, v_head_dim);
    d->out_strides = attni_contiguous_strides(q_heads, q_len, v_head_dim);
    d->causal = ATTN_CAUSAL_NONE;
    d->keep_strides.row = kv_len;
    d->bias_strides.row = kv_len;
    d->window_left = -1;
    d->window_right = -1;
}

attn_status attn_sdpa_desc_init_sized(attn_sdpa_desc *desc, size_t desc_size,
                                      int64_t batch, int64_t q_heads,
                                      int64_t kv_heads, int64_t q_len,
                                      int64_t kv_len, int64_t head_dim,
                                      int64_t v_head_dim)
{
    if (desc == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (desc_size < DESC_V1_SIZE)
        return ATTN_ERR_BAD_DESC;
    attn_sdpa_desc full;
    set_defaults(&full, batch, q_heads, kv_heads, q_len, kv_len, head_dim,
                 v_head_dim);
    /* A caller built against an older header has a shorter struct. */
    size_t n = desc_size < sizeof full ? desc_size : sizeof full;
    full.struct_size = n;
    memcpy(desc, &full, n);
    return ATTN_OK;
}

/* Copies the caller's descriptor into a full-size one. */
static attn_status load_desc(const attn_sdpa_desc *user, attn_sdpa_desc *d)
{
    size_t n = user->struct_size;
    if (n < DESC_V1_SIZE || n > sizeof *d)
        return ATTN_ERR_BAD_DESC;
    memset(d, 0, sizeof *d);
    memcpy(d, user, n);
    /* Fields past the caller's struct take their init values; all are
     * zero but the window's -1. */
    if (n <= offsetof(attn_sdpa_desc, window_left))
        d->window_left = -1;
    if (n <= offsetof(attn_sdpa_desc, window_right))
        d->window_right = -1;
    return ATTN_OK;
}

static int fits_blas_int(int64_t x)
{
    return x <= INT_MAX;
}

/* position_shift's bound: far from int64 overflow in any key arithmetic. */
#define MAX_SHIFT ((int64_t)1 << 40)

static attn_status check_shape(attn_sdpa_desc *d)
{
    if (d->batch <= 0 || d->q_heads <= 0 || d->kv_heads <= 0 ||
        d->q_len <= 0 || d->kv_len <= 0 || d->head_dim <= 0 ||
        d->v_head_dim <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    if (d->q_heads % d->kv_heads != 0)
        return ATTN_ERR_HEAD_MISMATCH;
    if (!(d->scale > 0.0f) || isinf(d->scale))
        return ATTN_ERR_BAD_SCALE;
    if (d->causal != ATTN_CAUSAL_NONE && d->causal != ATTN_CAUSAL_TOP_LEFT &&
        d->causal != ATTN_CAUSAL_BOTTOM_RIGHT)
        return ATTN_ERR_BAD_CAUSAL;
    if (d->num_threads < 0 ||
        (d->algo != ATTN_ALGO_AUTO && d->algo != ATTN_ALGO_FUSED &&
         d->algo != ATTN_ALGO_MATERIALIZED))
        return ATTN_ERR_BAD_ARGUMENT;
    if (d->kv_dtype != ATTN_DTYPE_F32 && d->kv_dtype != ATTN_DTYPE_F16 &&
        d->kv_dtype != ATTN_DTYPE_BF16)
        return ATTN_ERR_BAD_DTYPE;
    if (d->block_table &&
        (d->max_pages <= 0 || d->page_size <= 0 || d->num_pages <= 0))
        return ATTN_ERR_BAD_DIMENSION;
    if (d->window_left < -1 || d->window_right < -1 ||
        d->position_shift > MAX_SHIFT || d->position_shift < -MAX_SHIFT)
        return ATTN_ERR_BAD_WINDOW;
    /* A window wider than any distance here hides nothing: unbounded, so
     * that no bound arithmetic can overflow (larger shapes fail later). */
    if (d->q_len <= MAX_SHIFT && d->kv_len <= MAX_SHIFT) {
        const int64_t widest = d->q_len + d->kv_len +
                               (d->position_shift < 0 ? -d->position_shift
                                                      : d->position_shift);
        if (d->window_left > widest)
            d->window_left = -1;
        if (d->window_right > widest)
            d->window_right = -1;
    }
    if (d->alibi_slopes && d->alibi_batch_stride < 0)
        return ATTN_ERR_BAD_ALIBI;
    if (!(d->softcap >= 0.0f) || isinf(d->softcap))
        return ATTN_ERR_BAD_SOFTCAP;
    return ATTN_OK;
}

/* The variants' per-head values: finite slopes >= 0, sinks not NaN or
 * +INFINITY (-INFINITY is no sink). */
static attn_status check_variant_values(const attn_sdpa_desc *d)
{
    if (d->alibi_slopes)
        for (int64_t b = 0; b < (d->alibi_batch_stride ? d->batch : 1); ++b)
            for (int64_t h = 0; h < d->q_heads; ++h) {
                const float s = d->alibi_slopes[b * d->alibi_batch_stride + h];
                if (!(s >= 0.0f) || isinf(s))
                    return ATTN_ERR_BAD_ALIBI;
            }
    if (d->sinks)
        for (int64_t h = 0; h < d->q_heads; ++h)
            if (isnan(d->sinks[h]) || d->sinks[h] == INFINITY)
                return ATTN_ERR_BAD_SINK;
    return ATTN_OK;
}

/* Packed batches: both offset arrays, never decreasing, inside the
 * tensors; none of the fields indexed by (B, Tq, Tk). Sets the longest
 * sequence's query rows (the forward's tasks; no workspace depends on
 * the offsets' values). */
static attn_status check_seqlens(sdpa_plan *p)
{
    attn_sdpa_desc *d = &p->d;
    p->max_rows = d->q_len;
    if (d->cu_seqlens_q == NULL && d->cu_seqlens_k == NULL)
        return ATTN_OK;
    if (d->cu_seqlens_q == NULL || d->cu_seqlens_k == NULL ||
        (d->seqlens_type != ATTN_INDEX_INT32 &&
         d->seqlens_type != ATTN_INDEX_INT64))
        return ATTN_ERR_BAD_SEQLENS;
    if (d->kv_lens || d->keep_mask || d->bias || d->block_table)
        return ATTN_ERR_BAD_ARGUMENT;
    const void *cu[2] = {d->cu_seqlens_q, d->cu_seqlens_k};
    const int64_t total[2] = {d->q_len, d->kv_len};
    int64_t longest[2] = {0, 0};
    for (int t = 0; t < 2; ++t) {
        if (attni_seq_offset(d, cu[t], 0) < 0 ||
            attni_seq_offset(d, cu[t], d->batch) > total[t])
            return ATTN_ERR_BAD_SEQLENS;
        for (int64_t b = 0; b < d->batch; ++b) {
            const int64_t n = attni_seq_offset(d, cu[t], b + 1) -
                              attni_seq_offset(d, cu[t], b);
            if (n < 0)
                return ATTN_ERR_BAD_SEQLENS;
            longest[t] = n > longest[t] ? n : longest[t];
        }
    }
    p->max_rows = longest[0];
    /* the batch strides are not used: row offsets say where sequences are */
    d->q_strides.batch = d->k_strides.batch = 0;
    d->v_strides.batch = d->out_strides.batch = 0;
    return ATTN_OK;
}

static attn_status check_strides(const attn_sdpa_desc *d)
{
    attn_status s;
    if ((s = attni_check_strides(d->q_strides, d->q_len, d->head_dim)) ||
        (s = attni_check_strides(d->k_strides, attni_kv_tensor_rows(d), d->head_dim)) ||
        (s = attni_check_strides(d->v_strides, attni_kv_tensor_rows(d), d->v_head_dim)) ||
        (s = attni_check_strides(d->out_strides, d->q_len, d->v_head_dim)))
        return s;
    /* Masks are read element by element: any non-negative stride works. */
    if (d->keep_mask && (s = attni_check_strides(d->keep_strides, 1, 0)))
        return s;
    if (d->bias && (s = attni_check_strides(d->bias_strides, 1, 0)))
        return s;
    return ATTN_OK;
}

attn_status attni_sdpa_bias_bytes(const attn_sdpa_desc *d, size_t *bytes)
{
    return attni_span_bytes(d->batch, d->q_heads, d->q_len, d->kv_len,
                           d->bias_strides, sizeof(float), bytes);
}

static attn_status compute_spans(sdpa_plan *p)
{
    const attn_sdpa_desc *d = &p->d;
    const size_t elem = attni_dtype_size(d->kv_dtype);
    const int64_t nb = attni_tensor_batch(d);
    attn_status s;
    if ((s = attni_span_bytes(nb, d->q_heads, d->q_len, d->head_dim,
                        d->q_strides, sizeof(float), &p->q_bytes)) ||
        (s = attni_span_bytes(attni_kv_tensors(d), d->kv_heads, attni_kv_tensor_rows(d),
                        d->head_dim, d->k_strides, elem, &p->k_bytes)) ||
        (s = attni_span_bytes(attni_kv_tensors(d), d->kv_heads, attni_kv_tensor_rows(d),
                        d->v_head_dim, d->v_strides, elem, &p->v_bytes)) ||
        (s = attni_span_bytes(nb, d->q_heads, d->q_len, d->v_head_dim,
                        d->out_strides, sizeof(float), &p->out_bytes)))
        return s;
    if (d->keep_mask &&
        (s = attni_span_bytes(d->batch, d->q_heads, d->q_len, d->kv_len,
                        d->keep_strides, sizeof(uint8_t), &p->keep_bytes)))
        return s;
    if (d->bias && (s = attni_sdpa_bias_bytes(d, &p->bias_bytes)))
        return s;
    if (d->kv_lens && !attni_mul_size((size_t)d->batch, sizeof(int64_t),
                                     &p->kv_lens_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (d->alibi_slopes) {
        const attn_strides st = {0, d->alibi_batch_stride, 1};
        if (attni_span_bytes(1, d->alibi_batch_stride ? d->batch : 1, 1,
                             d->q_heads, st, sizeof(float), &p->alibi_bytes))
            return ATTN_ERR_SIZE_OVERFLOW;
    }
    if (d->sinks && !attni_mul_size((size_t)d->q_heads, sizeof(float),
                                    &p->sinks_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (attni_packed(d) &&
        !attni_mul_size((size_t)d->batch + 1,
                        d->seqlens_type == ATTN_INDEX_INT64 ? 8 : 4,
                        &p->seqlens_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (d->block_table &&
        (!attni_mul_size((size_t)d->batch, (size_t)d->max_pages, &p->block_table_bytes) ||
         !attni_mul_size(p->block_table_bytes, sizeof(int32_t), &p->block_table_bytes) ||
         p->block_table_bytes > PTRDIFF_MAX))
        return ATTN_ERR_SIZE_OVERFLOW;

    /* lse: (B, Hq, Tq), or (Hq, total_q) when packed */
    attn_strides dense = attni_contiguous_strides(d->q_heads, d->q_len, 1);
    if (attni_span_bytes(nb, d->q_heads, d->q_len, 1, dense, sizeof(float),
                   &p->lse_bytes))
        return ATTN_ERR_SIZE_OVERFLOW; /* smaller than out: cannot happen */
    dense = attni_contiguous_strides(d->q_heads, d->q_len, d->kv_len);
    p->weights_overflow =
        attni_span_bytes(d->batch, d->q_heads, d->q_len, d->kv_len, dense,
                   sizeof(float), &p->weights_bytes) != ATTN_OK;

    int64_t qb = d->q_len < ATTN_MATERIALIZED_ROWS ? d->q_len : ATTN_MATERIALIZED_ROWS;
    size_t ws;
    if (!attni_mul_size((size_t)qb, (size_t)d->kv_len, &ws) ||
        !attni_mul_size(ws, sizeof(float), &ws) ||
        ws > SIZE_MAX - ATTN_WORKSPACE_ALIGN)
        return ATTN_ERR_SIZE_OVERFLOW;
    p->tile_bytes = attni_workspace_round(ws);

    p->kv_direct = d->kv_dtype == ATTN_DTYPE_F32 && d->block_table == NULL;
    const int64_t D = d->head_dim > d->v_head_dim ? d->head_dim : d->v_head_dim;
    if (!p->kv_direct &&
        (!attni_mul_size((size_t)d->kv_len, (size_t)D, &ws) ||
         !attni_mul_size(ws, sizeof(float), &ws) ||
         ws > SIZE_MAX / 2 - ATTN_WORKSPACE_ALIGN))
        return ATTN_ERR_SIZE_OVERFLOW;
    p->kv_buf_bytes = p->kv_direct ? 0 : attni_workspace_round(ws);
    return ATTN_OK;
}

/* Dimensions and leading dimensions handed to cblas_sgemm must fit int. */
static attn_status check_blas_limits(const attn_sdpa_desc *d)
{
    if (!fits_blas_int(d->q_len) || !fits_blas_int(d->kv_len) ||
        !fits_blas_int(d->head_dim) || !fits_blas_int(d->v_head_dim) ||
        !fits_blas_int(d->q_strides.row) || !fits_blas_int(d->k_strides.row) ||
        !fits_blas_int(d->v_strides.row) || !fits_blas_int(d->out_strides.row))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

static attn_status check_kv_lens(const attn_sdpa_desc *d)
{
    if (d->kv_lens == NULL)
        return ATTN_OK;
    for (int64_t b = 0; b < d->batch; ++b)
        if (d->kv_lens[b] < 0 || d->kv_lens[b] > d->kv_len)
            return ATTN_ERR_BAD_KV_LEN;
    return ATTN_OK;
}

/* The pages each batch's keys need exist in its block table row and in
 * the pools; the rest of the row is never read. */
static attn_status check_block_table(const attn_sdpa_desc *d)
{
    if (d->block_table == NULL)
        return ATTN_OK;
    for (int64_t b = 0; b < d->batch; ++b) {
        const int64_t len = d->kv_lens ? d->kv_lens[b] : d->kv_len;
        const int64_t pages = len / d->page_size + (len % d->page_size != 0);
        if (pages > d->max_pages)
            return ATTN_ERR_BLOCK_TABLE_SHORT;
    }
    for (int64_t b = 0; b < d->batch; ++b) {
        const int64_t len = d->kv_lens ? d->kv_lens[b] : d->kv_len;
        const int32_t *row = d->block_table + b * d->max_pages;
        for (int64_t i = 0; i * d->page_size < len; ++i)
            if (row[i] < 0 || row[i] >= d->num_pages)
                return ATTN_ERR_BAD_PAGE;
    }
    return ATTN_OK;
}

attn_status attni_sdpa_plan_make(const attn_sdpa_desc *desc, sdpa_plan *plan)
{
    attn_status s;
    if (desc == NULL)
        return ATTN_ERR_NULL_POINTER;
    memset(plan, 0, sizeof *plan);
    attn_sdpa_desc *d = &plan->d;
    if ((s = load_desc(desc, d)) || (s = check_shape(d)) ||
        (s = check_seqlens(plan)) || (s = check_strides(d)) ||
        (s = compute_spans(plan)))
        return s;
    if (!attni_layout_is_injective(attni_tensor_batch(d), d->q_heads, d->q_len,
                                  d->v_head_dim, d->out_strides))
        return ATTN_ERR_BAD_STRIDE;
    if ((s = check_blas_limits(d)) || (s = check_kv_lens(d)) ||
        (s = check_block_table(d)) || (s = check_variant_values(d)))
        return s;
    plan->group = d->q_heads / d->kv_heads;
    plan->threads = attni_threads_resolve(d->num_threads);
    plan->blas_threads = attni_blas_may_thread();
    plan->kernels = attni_tile_kernels_for(attni_cpu_level_select());
    return ATTN_OK;
}

attn_status attni_sdpa_kv_aligned(const sdpa_plan *p, const void *k,
                                  const void *v)
{
    const uintptr_t a = attni_dtype_size(p->d.kv_dtype) - 1;
    return ((uintptr_t)k & a) || ((uintptr_t)v & a) ? ATTN_ERR_MISALIGNED
                                                     : ATTN_OK;
}

void attni_sdpa_input_ranges(const sdpa_plan *p, const float *q, const void *k,
                            const void *v, attn_range ranges[ATTN_SDPA_INPUTS])
{
    ranges[0] = attni_range_of(q, p->q_bytes);
    ranges[1] = attni_range_of(k, p->k_bytes);
    ranges[2] = attni_range_of(v, p->v_bytes);
    ranges[3] = attni_range_of(p->d.keep_mask, p->keep_bytes);
    ranges[4] = attni_range_of(p->d.bias, p->bias_bytes);
    ranges[5] = attni_range_of(p->d.kv_lens, p->kv_lens_bytes);
    ranges[6] = attni_range_of(p->d.block_table, p->block_table_bytes);
    ranges[7] = attni_range_of(p->d.alibi_slopes, p->alibi_bytes);
    ranges[8] = attni_range_of(p->d.sinks, p->sinks_bytes);
    ranges[9] = attni_range_of(p->d.cu_seqlens_q, p->seqlens_bytes);
    ranges[10] = attni_range_of(p->d.cu_seqlens_k, p->seqlens_bytes);
}
