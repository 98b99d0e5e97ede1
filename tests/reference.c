#include "reference.h"

#include <math.h>
#include <stdlib.h>

int ref_visible(const attn_sdpa_desc *d, int64_t b, int64_t h, int64_t i,
                int64_t j)
{
    /* L: the batch's valid key length. */
    const int64_t L = d->kv_lens ? d->kv_lens[b] : d->kv_len;
    if (j >= L)
        return 0;
    if (d->causal == ATTN_CAUSAL_TOP_LEFT && j > i)
        return 0;
    /* Bottom-right: the last query lines up with the last valid key. */
    const int64_t aligned = i + L - d->q_len + d->position_shift;
    if (d->causal == ATTN_CAUSAL_BOTTOM_RIGHT && j > aligned)
        return 0;
    /* The window is measured from the same aligned key. */
    /* as differences: a window may be as wide as INT64_MAX */
    if (d->window_left >= 0 && aligned > j && aligned - j > d->window_left)
        return 0;
    if (d->window_right >= 0 && j > aligned && j - aligned > d->window_right)
        return 0;
    if (d->keep_mask) {
        const attn_strides s = d->keep_strides;
        if (d->keep_mask[b * s.batch + h * s.head + i * s.row + j] == 0)
            return 0;
    }
    return 1;
}

double ref_modify_score(const attn_sdpa_desc *d, int64_t b, int64_t h,
                        int64_t i, int64_t j, double s)
{
    if (d->softcap > 0.0f)
        s = d->softcap * tanh(s / d->softcap);
    if (d->alibi_slopes) {
        const int64_t L = d->kv_lens ? d->kv_lens[b] : d->kv_len;
        const double slope = d->alibi_slopes[b * d->alibi_batch_stride + h];
        s -= slope * fabs((double)(i + L - d->q_len + d->position_shift - j));
    }
    return s;
}

double ref_softmax_row(const double *x, int64_t n, double *y)
{
    return ref_softmax_row_sink(x, n, -INFINITY, y);
}

double ref_softmax_row_sink(const double *x, int64_t n, double sink, double *y)
{
    double m = sink;
    int has_nan = 0;
    for (int64_t j = 0; j < n; ++j) {
        if (isnan(x[j]))
            has_nan = 1;
        else if (x[j] > m)
            m = x[j];
    }
    if (has_nan || m == INFINITY) {
        for (int64_t j = 0; y && j < n; ++j)
            y[j] = NAN;
        return NAN;
    }
    if (m == -INFINITY) {
        for (int64_t j = 0; y && j < n; ++j)
            y[j] = 0.0;
        return -INFINITY;
    }
    double sum = exp(sink - m);
    for (int64_t j = 0; j < n; ++j)
        sum += exp(x[j] - m);
    for (int64_t j = 0; y && j < n; ++j)
        y[j] = exp(x[j] - m) / sum;
    return m + log(sum);
}

void ref_sdpa(const attn_sdpa_desc *d, const float *q, const float *k,
              const float *v, double *out, double *weights, double *lse,
              double *scores)
{
    const int64_t B = d->batch, Hq = d->q_heads, Hkv = d->kv_heads;
    const int64_t Tq = d->q_len, Tk = d->kv_len;
    const int64_t D = d->head_dim, Dv = d->v_head_dim;
    const int64_t group = Hq / Hkv;
    double *s = malloc((size_t)Tk * sizeof *s);
    double *w = malloc((size_t)Tk * sizeof *w);
    if (s == NULL || w == NULL)
        abort(); /* test helper: no way to report */

    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hq; ++h) {
            const int64_t hk = h / group;
            for (int64_t i = 0; i < Tq; ++i) {
                const float *qi = q + b * d->q_strides.batch +
                                  h * d->q_strides.head + i * d->q_strides.row;
                for (int64_t j = 0; j < Tk; ++j) {
                    if (!ref_visible(d, b, h, i, j)) {
                        s[j] = -INFINITY;
                        continue;
                    }
                    const float *kj = k + b * d->k_strides.batch +
                                      hk * d->k_strides.head +
                                      j * d->k_strides.row;
                    double dot = 0.0;
                    for (int64_t c = 0; c < D; ++c)
                        dot += (double)qi[c] * (double)kj[c];
                    s[j] = ref_modify_score(d, b, h, i, j,
                                            (double)d->scale * dot);
                    if (d->bias) {
                        const attn_strides bs = d->bias_strides;
                        const float bij = d->bias[b * bs.batch + h * bs.head +
                                                  i * bs.row + j];
                        /* A -inf bias is a mask: the score is not used. */
                        s[j] = bij == -INFINITY ? -INFINITY : s[j] + (double)bij;
                    }
                }
                const double l = ref_softmax_row_sink(
                    s, Tk, d->sinks ? (double)d->sinks[h] : -INFINITY, w);
                const int64_t row = (b * Hq + h) * Tq + i;
                if (scores)
                    for (int64_t j = 0; j < Tk; ++j)
                        scores[row * Tk + j] = s[j];
                if (weights)
                    for (int64_t j = 0; j < Tk; ++j)
                        weights[row * Tk + j] = w[j];
                if (lse)
                    lse[row] = l;
                if (out == NULL)
                    continue;
                for (int64_t c = 0; c < Dv; ++c) {
                    double acc = isnan(l) ? NAN : 0.0;
                    for (int64_t j = 0; j < Tk; ++j) {
                        if (w[j] == 0.0)
                            continue; /* masked keys contribute nothing */
                        const float *vj = v + b * d->v_strides.batch +
                                          hk * d->v_strides.head +
                                          j * d->v_strides.row;
                        acc += w[j] * (double)vj[c];
                    }
                    out[row * Dv + c] = acc;
                }
            }
        }
    free(w);
    free(s);
}
