/* Rotary position embeddings (see attention/rope.h). */
#include <attention/rope.h>

#include <math.h>

#include "api/kv_store.h"
#include "api/rope_row.h"
#include "plan/layout.h"

attn_status attni_rope_check(const attn_rope *r, int64_t d)
{
    if (r->rotary_dim < 2 || r->rotary_dim % 2 != 0 || r->rotary_dim > d)
        return ATTN_ERR_BAD_ROTARY_DIM;
    if (r->style != ATTN_ROPE_NEOX && r->style != ATTN_ROPE_GPTJ)
        return ATTN_ERR_BAD_ARGUMENT;
    const int tables = (r->cos != NULL) + (r->sin != NULL);
    if (tables == 1 || (tables == 0 && !(r->base > 0.0 && isfinite(r->base))) ||
        (tables == 2 && r->table_len < 1))
        return ATTN_ERR_BAD_ARGUMENT;
    return ATTN_OK;
}

int attni_rope_table_bytes(const attn_rope *r, size_t *bytes)
{
    *bytes = 0;
    return r->cos == NULL ||
           (attni_mul_size((size_t)r->table_len, (size_t)(r->rotary_dim / 2), bytes) &&
            attni_mul_size(*bytes, sizeof(float), bytes));
}

int attni_rope_position_ok(const attn_rope *r, int64_t t)
{
    return t >= 0 && (r->cos == NULL || t < r->table_len);
}

void attni_rope_angles(const attn_rope *r, int64_t t, double sign, int64_t i0,
                       int64_t n, double *c, double *s)
{
    const int64_t half = r->rotary_dim / 2;
    if (r->cos) {
        for (int64_t k = 0; k < n; ++k) {
            c[k] = r->cos[t * half + i0 + k];
            s[k] = sign * r->sin[t * half + i0 + k];
        }
        return;
    }
    const double log2_base = log2(r->base);
    for (int64_t k = 0; k < n; ++k) {
        const double a = (double)t * exp2(-2.0 * (double)(i0 + k) /
                                          (double)r->rotary_dim * log2_base);
        c[k] = cos(a);
        s[k] = sign * sin(a);
    }
}

void attni_rope_pairs(const attn_rope *r, const float *x, int64_t i0,
                      int64_t n, const double *c, const double *s, void *y,
                      attn_dtype type)
{
    const int64_t half = r->rotary_dim / 2;
    for (int64_t k = 0; k < n; ++k) {
        const int64_t i = i0 + k;
        const int64_t ia = r->style == ATTN_ROPE_NEOX ? i : 2 * i;
        const int64_t ib = r->style == ATTN_ROPE_NEOX ? i + half : 2 * i + 1;
        const double a = x[ia], b = x[ib];
        attni_store_f64(y, type, ia, a * c[k] - b * s[k]);
        attni_store_f64(y, type, ib, a * s[k] + b * c[k]);
    }
}

/* Every check, before x is touched. */
static attn_status check(const attn_rope *r, const float *x, int64_t B,
                         int64_t H, int64_t T, int64_t d, attn_strides s,
                         const int64_t *positions)
{
    if (r == NULL || x == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (B < 1 || H < 1 || T < 1 || d < 1)
        return ATTN_ERR_BAD_DIMENSION;
    attn_status st;
    if ((st = attni_rope_check(r, d)))
        return st;
    size_t x_bytes, pos_bytes = 0, table_bytes = 0;
    if ((st = attni_check_strides(s, T, d)) ||
        (st = attni_span_bytes(B, H, T, d, s, sizeof(float), &x_bytes)))
        return st;
    if (!attni_layout_is_injective(B, H, T, d, s))
        return ATTN_ERR_BAD_STRIDE;
    if ((positions && (!attni_mul_size((size_t)B, (size_t)T, &pos_bytes) ||
                       !attni_mul_size(pos_bytes, sizeof *positions, &pos_bytes))) ||
        !attni_rope_table_bytes(r, &table_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    const attn_range out = attni_range_of(x, x_bytes);
    const attn_range in[] = {attni_range_of(positions, pos_bytes),
                             attni_range_of(r->cos, table_bytes),
                             attni_range_of(r->sin, table_bytes)};
    if (attni_outputs_alias(&out, 1, in, 3))
        return ATTN_ERR_ALIASING;
    if (positions)
        for (int64_t i = 0; i < B * T; ++i)
            if (!attni_rope_position_ok(r, positions[i]))
                return ATTN_ERR_BAD_ARGUMENT;
    return ATTN_OK;
}

static attn_status rope(const attn_rope *r, float *x, int64_t B, int64_t H,
                        int64_t T, int64_t d, attn_strides s,
                        const int64_t *positions, double sign)
{
    const attn_status st = check(r, x, B, H, T, d, s, positions);
    if (st != ATTN_OK)
        return st;
    const int64_t half = r->rotary_dim / 2;
    double c[ATTNI_ROPE_CHUNK], sn[ATTNI_ROPE_CHUNK];
    /* Position-major: each chunk of angles serves every head. */
    for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t i0 = 0; i0 < half; i0 += ATTNI_ROPE_CHUNK) {
                const int64_t n = half - i0 < ATTNI_ROPE_CHUNK ? half - i0
                                                               : ATTNI_ROPE_CHUNK;
                attni_rope_angles(r, positions ? positions[b * T + t] : t, sign,
                                  i0, n, c, sn);
                for (int64_t h = 0; h < H; ++h) {
                    float *row = x + b * s.batch + h * s.head + t * s.row;
                    attni_rope_pairs(r, row, i0, n, c, sn, row, ATTN_DTYPE_F32);
                }
            }
    return ATTN_OK;
}

attn_status attn_rope_forward(const attn_rope *r, float *x, int64_t B,
                              int64_t H, int64_t T, int64_t d, attn_strides s,
                              const int64_t *positions)
{
    return rope(r, x, B, H, T, d, s, positions, 1.0);
}

attn_status attn_rope_backward(const attn_rope *r, float *dy, int64_t B,
                               int64_t H, int64_t T, int64_t d,
                               attn_strides s, const int64_t *positions)
{
    return rope(r, dy, B, H, T, d, s, positions, -1.0);
}
