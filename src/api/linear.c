#include <attention/linear.h>

#include <limits.h>
#include <string.h>

#include <cblas.h>

#include "plan/layout.h"
#include "api/linear_run.h"

/* Byte sizes of x, w, y; checks dimensions and the BLAS int range. */
typedef struct linear_sizes {
    size_t x, w, b, y;
} linear_sizes;

static attn_status check_linear(int64_t rows, int64_t in, int64_t out,
                                linear_sizes *s)
{
    if (rows <= 0 || in <= 0 || out <= 0)
        return ATTN_ERR_BAD_DIMENSION;
    if (rows > INT_MAX || in > INT_MAX || out > INT_MAX)
        return ATTN_ERR_SIZE_OVERFLOW;
    const size_t f = sizeof(float);
    if (!attni_mul_size((size_t)rows, (size_t)in, &s->x) ||
        !attni_mul_size(s->x, f, &s->x) ||
        !attni_mul_size((size_t)out, (size_t)in, &s->w) ||
        !attni_mul_size(s->w, f, &s->w) ||
        !attni_mul_size((size_t)rows, (size_t)out, &s->y) ||
        !attni_mul_size(s->y, f, &s->y))
        return ATTN_ERR_SIZE_OVERFLOW;
    s->b = (size_t)out * f;
    return ATTN_OK;
}

attn_status attn_linear_forward(const float *x, const float *w, const float *b,
                                float *y, int64_t rows, int64_t in_features,
                                int64_t out_features)
{
    linear_sizes s;
    attn_status st;
    if (x == NULL || w == NULL || y == NULL)
        return ATTN_ERR_NULL_POINTER;
    if ((st = check_linear(rows, in_features, out_features, &s)))
        return st;
    const attn_range outputs[] = {attni_range_of(y, s.y)};
    const attn_range inputs[] = {attni_range_of(x, s.x), attni_range_of(w, s.w),
                                 attni_range_of(b, s.b)};
    if (attni_outputs_alias(outputs, 1, inputs, 3))
        return ATTN_ERR_ALIASING;
    attni_linear_forward_run(x, w, b, y, rows, in_features, out_features);
    return ATTN_OK;
}

void attni_linear_forward_run(const float *x, const float *w, const float *b,
                             float *y, int64_t rows, int64_t in_features,
                             int64_t out_features)
{
    float beta = 0.0f;
    if (b != NULL) {
        /* Start every row at the bias and let sgemm add x W^T to it. */
        for (int64_t r = 0; r < rows; ++r)
            memcpy(y + r * out_features, b, (size_t)out_features * sizeof *b);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
                (int)out_features, (int)in_features, 1.0f, x, (int)in_features,
                w, (int)in_features, beta, y, (int)out_features);
}

attn_status attn_linear_backward(const float *x, const float *w,
                                 const float *dy, float *dx, float *dw,
                                 float *db, int64_t rows, int64_t in_features,
                                 int64_t out_features)
{
    linear_sizes s;
    attn_status st;
    if (x == NULL || w == NULL || dy == NULL)
        return ATTN_ERR_NULL_POINTER;
    if ((st = check_linear(rows, in_features, out_features, &s)))
        return st;
    const attn_range outputs[] = {attni_range_of(dx, s.x),
                                  attni_range_of(dw, s.w),
                                  attni_range_of(db, s.b)};
    const attn_range inputs[] = {attni_range_of(x, s.x), attni_range_of(w, s.w),
                                 attni_range_of(dy, s.y)};
    if (attni_outputs_alias(outputs, 3, inputs, 3))
        return ATTN_ERR_ALIASING;
    attni_linear_backward_run(x, w, dy, dx, dw, db, rows, in_features,
                             out_features);
    return ATTN_OK;
}

void attni_linear_backward_run(const float *x, const float *w, const float *dy,
                              float *dx, float *dw, float *db, int64_t rows,
                              int64_t in_features, int64_t out_features)
{
    const int n = (int)rows, in = (int)in_features, out = (int)out_features;
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out,
                    1.0f, dy, out, w, in, 1.0f, dx, in);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f,
                    dy, out, x, in, 1.0f, dw, in);
    if (db)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < out_features; ++j)
                db[j] += dy[r * out_features + j];
}
