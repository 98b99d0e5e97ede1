/* The sinks' gradient: from the forward's out and lse alone. */
#include <attention/sdpa_backward.h>

#include <math.h>

#include "api/sdpa_run.h"
#include "attention/block.h"
#include "plan/desc.h"
#include "plan/layout.h"

void attni_sinks_backward_run(const sdpa_plan *p, const float *out,
                              const float *lse, const float *dout,
                              float *dsinks)
{
    const attn_sdpa_desc *d = &p->d;
    for (int64_t h = 0; h < d->q_heads; ++h) {
        const double sink = d->sinks[h];
        double sum = 0.0;
        for (int64_t b = 0; b < d->batch; ++b) {
            const head_offsets o = attni_head_offsets(p, b, h);
            for (int64_t i = 0; i < o.rows; ++i) {
                const float l = lse[o.lse + i];
                if (l == -INFINITY || sink == -INFINITY)
                    continue; /* no sink, or a row that saw nothing at all */
                const int64_t at = o.out + i * d->out_strides.row;
                double D = 0.0;
                for (int64_t c = 0; c < d->v_head_dim; ++c)
                    D += (double)dout[at + c] * out[at + c];
                sum += exp(sink - l) * D;
            }
        }
        dsinks[h] += (float)-sum;
    }
}

attn_status attn_sdpa_sinks_backward(const attn_sdpa_desc *desc,
                                     const float *out, const float *lse,
                                     const float *dout, float *dsinks)
{
    sdpa_plan p;
    attn_status s = attni_sdpa_plan_make(desc, &p);
    if (s)
        return s;
    const attn_sdpa_desc *d = &p.d;
    if (out == NULL || lse == NULL || dout == NULL || dsinks == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (d->sinks == NULL)
        return ATTN_ERR_BAD_ARGUMENT;
    const attn_range outputs[] = {
        attni_range_of(dsinks, (size_t)d->q_heads * sizeof *dsinks)};
    const attn_range inputs[] = {attni_range_of(out, p.out_bytes),
                                 attni_range_of(lse, p.lse_bytes),
                                 attni_range_of(dout, p.out_bytes),
                                 attni_range_of(d->sinks, p.sinks_bytes)};
    if (attni_outputs_alias(outputs, 1, inputs, 4))
        return ATTN_ERR_ALIASING;

    attni_sinks_backward_run(&p, out, lse, dout, dsinks);
    return ATTN_OK;
}
