/* The ring tests' float64 backward and error measure (ring_reference.h). */
#include "ring_reference.h"

#include <math.h>
#include <stdlib.h>

#include "reference.h"

void ring_ref_backward(const attn_sdpa_desc *d, const float *q,
                       const float *k, const float *v, const float *dout,
                       double *dq, double *dk, double *dv)
{
    const int64_t B = d->batch, Hq = d->q_heads, Hkv = d->kv_heads;
    const int64_t Tq = d->q_len, Tk = d->kv_len, D = d->head_dim, Dv = d->v_head_dim;
    const int64_t group = Hq / Hkv;
    double *w = malloc((size_t)(B * Hq * Tq * Tk) * sizeof *w);
    double *out = malloc((size_t)(B * Hq * Tq * Dv) * sizeof *out);
    double *ds = malloc((size_t)Tk * sizeof *ds);
    ref_sdpa(d, q, k, v, out, w, NULL, NULL);
    for (int64_t i = 0; i < B * Hq * Tq * D; ++i)
        dq[i] = 0.0;
    for (int64_t i = 0; i < B * Hkv * Tk * D; ++i)
        dk[i] = 0.0;
    for (int64_t i = 0; i < B * Hkv * Tk * Dv; ++i)
        dv[i] = 0.0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hq; ++h) {
            const int64_t g = h / group;
            for (int64_t i = 0; i < Tq; ++i) {
                const int64_t row = (b * Hq + h) * Tq + i;
                const double *p = w + row * Tk;
                const float *go = dout + row * Dv;
                const float *qi = q + row * D;
                double rs = 0.0; /* rowsum(dout * out) */
                for (int64_t e = 0; e < Dv; ++e)
                    rs += (double)go[e] * out[row * Dv + e];
                for (int64_t j = 0; j < Tk; ++j) {
                    const int64_t kr = (b * Hkv + g) * Tk + j;
                    double dp = 0.0;
                    for (int64_t e = 0; e < Dv; ++e)
                        dp += (double)go[e] * v[kr * Dv + e];
                    ds[j] = p[j] * (dp - rs);
                    if (d->softcap > 0.0f && ds[j] != 0.0) {
                        /* s = c tanh(x / c), x = scale q.k: ds/dx = 1 - t^2 */
                        double x = 0.0;
                        for (int64_t e = 0; e < D; ++e)
                            x += (double)qi[e] * k[kr * D + e];
                        const double t = tanh(d->scale * x / d->softcap);
                        ds[j] *= 1.0 - t * t;
                    }
                    for (int64_t e = 0; e < Dv; ++e)
                        dv[kr * Dv + e] += p[j] * go[e];
                }
                for (int64_t j = 0; j < Tk; ++j) {
                    if (ds[j] == 0.0)
                        continue;
                    const int64_t kr = (b * Hkv + g) * Tk + j;
                    for (int64_t e = 0; e < D; ++e) {
                        dq[row * D + e] += d->scale * ds[j] * k[kr * D + e];
                        dk[kr * D + e] += d->scale * ds[j] * qi[e];
                    }
                }
            }
        }
    free(ds);
    free(out);
    free(w);
}

void ring_ref_dsinks(const attn_sdpa_desc *d, const double *out,
                     const double *lse, const float *dout, double *dsinks)
{
    const int64_t Tq = d->q_len, Dv = d->v_head_dim;
    for (int64_t h = 0; h < d->q_heads; ++h) {
        dsinks[h] = 0.0;
        const double sink = d->sinks ? d->sinks[h] : -INFINITY;
        if (sink == -INFINITY)
            continue;
        for (int64_t b = 0; b < d->batch; ++b)
            for (int64_t i = 0; i < Tq; ++i) {
                const int64_t row = (b * d->q_heads + h) * Tq + i;
                if (lse[row] == -INFINITY)
                    continue;
                double rs = 0.0;
                for (int64_t e = 0; e < Dv; ++e)
                    rs += (double)dout[row * Dv + e] * out[row * Dv + e];
                dsinks[h] -= exp(sink - lse[row]) * rs;
            }
    }
}

double ring_rel_err(const float *x, const double *r, size_t n, double floor)
{
    double top = 0.0, big = floor;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(r[i])) {
            if (!((isnan(r[i]) && isnan(x[i])) || (double)x[i] == r[i]))
                return INFINITY;
            continue;
        }
        if (!isfinite(x[i]))
            return INFINITY;
        const double e = fabs((double)x[i] - r[i]);
        if (e > top)
            top = e;
        if (fabs(r[i]) > big)
            big = fabs(r[i]);
    }
    return top / big;
}
