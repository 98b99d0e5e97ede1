/* The exact merge of partial attention results (see attention/merge.h). */
#include <attention/merge.h>

#include <math.h>

#include "api/merge_row.h"
#include "plan/layout.h"

void attni_merge_row(int64_t parts, int64_t lse_stride, int64_t dv,
                     const float *part_out, int64_t part_stride,
                     const float *part_lse, float *out, float *lse)
{
    double m = -INFINITY;
    int bad = 0;
    for (int64_t p = 0; p < parts; ++p) {
        const float l = part_lse[p * lse_stride];
        if (isnan(l) || l == INFINITY)
            bad = 1;
        else if (l > m)
            m = l;
    }
    if (bad || m == -INFINITY) {
        for (int64_t c = 0; c < dv; ++c)
            out[c] = bad ? NAN : 0.0f;
        if (lse)
            *lse = bad ? NAN : -INFINITY;
        return;
    }
    double sum = 0.0;
    for (int64_t p = 0; p < parts; ++p)
        sum += exp((double)part_lse[p * lse_stride] - m);
    for (int64_t c = 0; c < dv; ++c) {
        double acc = 0.0;
        for (int64_t p = 0; p < parts; ++p) {
            const float l = part_lse[p * lse_stride];
            if (l != -INFINITY) /* an empty part's output is never read */
                acc += exp((double)l - m) * part_out[p * part_stride + c];
        }
        out[c] = (float)(acc / sum);
    }
    if (lse)
        *lse = (float)(m + log(sum));
}

attn_status attn_merge_partials(int64_t parts, int64_t rows, int64_t dv,
                                const float *part_out, int64_t part_stride,
                                int64_t row_stride, const float *part_lse,
                                float *out, int64_t out_row_stride, float *lse)
{
    if (out == NULL || (parts > 0 && (part_out == NULL || part_lse == NULL)))
        return ATTN_ERR_NULL_POINTER;
    if (parts < 0 || rows < 1 || dv < 1)
        return ATTN_ERR_BAD_DIMENSION;
    if (part_stride < 0 || row_stride < dv || out_row_stride < dv)
        return ATTN_ERR_BAD_STRIDE;
    const attn_strides in = {0, part_stride, row_stride};
    const attn_strides o = {0, 0, out_row_stride}, l = {0, rows, 1};
    size_t in_bytes = 0, lse_in_bytes = 0, out_bytes, lse_bytes;
    attn_status s;
    if ((parts > 0 &&
         ((s = attni_span_bytes(1, parts, rows, dv, in, sizeof(float), &in_bytes)) ||
          (s = attni_span_bytes(1, parts, rows, 1, l, sizeof(float), &lse_in_bytes)))) ||
        (s = attni_span_bytes(1, 1, rows, dv, o, sizeof(float), &out_bytes)) ||
        (s = attni_span_bytes(1, 1, rows, 1, l, sizeof(float), &lse_bytes)))
        return s;
    const attn_range outputs[] = {attni_range_of(out, out_bytes),
                                  attni_range_of(lse, lse_bytes)};
    const attn_range inputs[] = {attni_range_of(part_out, in_bytes),
                                 attni_range_of(part_lse, lse_in_bytes)};
    if (attni_outputs_alias(outputs, 2, inputs, 2))
        return ATTN_ERR_ALIASING;
    for (int64_t r = 0; r < rows; ++r)
        attni_merge_row(parts, rows, dv, part_out + r * row_stride, part_stride,
                  part_lse + r, out + r * out_row_stride, lse ? lse + r : NULL);
    return ATTN_OK;
}
