#include "grad_reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

static void *gr_alloc(size_t n, size_t size)
{
    void *p = calloc(n > 0 ? n : 1, size);
    if (p == NULL)
        abort(); /* test helper: no way to report */
    return p;
}

double *gr_to_double(const float *x, size_t n)
{
    double *y = gr_alloc(n, sizeof *y);
    for (size_t i = 0; i < n; ++i)
        y[i] = (double)x[i];
    return y;
}

void gr_mark(unsigned char *mark, size_t n, int64_t n0, int64_t n1,
             int64_t n2, int64_t last, attn_strides s)
{
    memset(mark, 0, n);
    for (int64_t a = 0; a < n0; ++a)
        for (int64_t b = 0; b < n1; ++b)
            for (int64_t c = 0; c < n2; ++c)
                for (int64_t e = 0; e < last; ++e)
                    mark[a * s.batch + b * s.head + c * s.row + e] = 1;
}

static double rel_of(double diff, double ref, double floor, double *scale)
{
    if (scale)
        *scale = ref;
    return diff / (ref > floor ? ref : floor);
}

double gr_rel_err(const float *x, attn_strides xs, int64_t n0, int64_t n1,
                  int64_t n2, int64_t last, const double *r, double floor,
                  double *scale)
{
    double diff = 0.0, ref = 0.0;
    int64_t idx = 0;
    for (int64_t a = 0; a < n0; ++a)
        for (int64_t b = 0; b < n1; ++b)
            for (int64_t c = 0; c < n2; ++c)
                for (int64_t e = 0; e < last; ++e, ++idx) {
                    const double xv =
                        (double)x[a * xs.batch + b * xs.head + c * xs.row + e];
                    if (!isfinite(xv) || !isfinite(r[idx]))
                        return INFINITY;
                    diff = fmax(diff, fabs(xv - r[idx]));
                    ref = fmax(ref, fabs(r[idx]));
                }
    return rel_of(diff, ref, floor, scale);
}

double gr_span_rel_err(const float *x, const double *r,
                       const unsigned char *mark, size_t n, double floor,
                       double *scale)
{
    double diff = 0.0, ref = 0.0;
    for (size_t e = 0; e < n; ++e) {
        if (!mark[e])
            continue;
        if (!isfinite(x[e]) || !isfinite(r[e]))
            return INFINITY;
        diff = fmax(diff, fabs((double)x[e] - r[e]));
        ref = fmax(ref, fabs(r[e]));
    }
    return rel_of(diff, ref, floor, scale);
}

/* ---- attention ----------------------------------------------------------- */

static int64_t at(attn_strides s, int64_t a, int64_t b, int64_t c, int64_t e)
{
    return a * s.batch + b * s.head + c * s.row + e;
}

/* Score of key j for query i of (b, h): the capped scale * q.k + bias +
 * ALiBi, -INFINITY when a mask hides the key (then q, k and bias are not
 * read). */
static double score(const gr_sdpa *p, int64_t b, int64_t h, int64_t i,
                    int64_t j)
{
    const attn_sdpa_desc *d = p->d;
    if (!ref_visible(d, b, h, i, j))
        return -INFINITY;
    const int64_t hk = h / (d->q_heads / d->kv_heads);
    double dot = 0.0;
    for (int64_t c = 0; c < d->head_dim; ++c)
        dot += p->q[at(d->q_strides, b, h, i, c)] *
               p->k[at(d->k_strides, b, hk, j, c)];
    double s = ref_modify_score(
        d, b, h, i, j, (p->scale != 0.0 ? p->scale : (double)d->scale) * dot);
    if (p->bias) {
        const double bij = p->bias[at(d->bias_strides, b, h, i, j)];
        s = bij == -INFINITY ? -INFINITY : s + bij;
    }
    return s;
}

/* Head h's sink logit: p->sinks's, else d->sinks's, else none. */
static double sink_of(const gr_sdpa *p, int64_t h)
{
    if (p->sinks)
        return p->sinks[h];
    return p->d->sinks ? (double)p->d->sinks[h] : -INFINITY;
}

/* v_j . g_r for query row (b, h, i). */
static double vdotg(const gr_sdpa *p, int64_t b, int64_t h, int64_t i,
                    int64_t j)
{
    const attn_sdpa_desc *d = p->d;
    const int64_t hk = h / (d->q_heads / d->kv_heads);
    const double *g = p->g + ((b * d->q_heads + h) * d->q_len + i) *
                                 d->v_head_dim;
    double acc = 0.0;
    for (int64_t c = 0; c < d->v_head_dim; ++c)
        acc += p->v[at(d->v_strides, b, hk, j, c)] * g[c];
    return acc;
}

void gr_sdpa_forward(const gr_sdpa *p, double *out, double *weights,
                     double *lse)
{
    const attn_sdpa_desc *d = p->d;
    const int64_t Hq = d->q_heads, Tq = d->q_len, Tk = d->kv_len;
    const int64_t Dv = d->v_head_dim, group = Hq / d->kv_heads;
    double *s = gr_alloc((size_t)Tk, sizeof *s);
    double *w = gr_alloc((size_t)Tk, sizeof *w);
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < Hq; ++h)
            for (int64_t i = 0; i < Tq; ++i) {
                for (int64_t j = 0; j < Tk; ++j)
                    s[j] = score(p, b, h, i, j);
                const double l = ref_softmax_row_sink(s, Tk, sink_of(p, h), w);
                const int64_t row = (b * Hq + h) * Tq + i;
                if (lse)
                    lse[row] = l;
                if (weights)
                    memcpy(weights + row * Tk, w, (size_t)Tk * sizeof *w);
                for (int64_t c = 0; out && c < Dv; ++c) {
                    double acc = 0.0;
                    for (int64_t j = 0; j < Tk; ++j)
                        if (w[j] != 0.0)
                            acc += w[j] *
                                   p->v[at(d->v_strides, b, h / group, j, c)];
                    out[row * Dv + c] = acc;
                }
            }
    free(w);
    free(s);
}

double gr_sdpa_loss(const gr_sdpa *p)
{
    const attn_sdpa_desc *d = p->d;
    const size_t n =
        (size_t)(d->batch * d->q_heads * d->q_len * d->v_head_dim);
    double *out = gr_alloc(n, sizeof *out);
    gr_sdpa_forward(p, out, NULL, NULL);
    double L = 0.0;
    for (size_t e = 0; e < n; ++e)
        L += out[e] * p->g[e];
    free(out);
    return L;
}

/* The loss of row (b, h, i) from scratch: sum_j w_j (v_j . g). */
static double row_loss(const gr_sdpa *p, int64_t b, int64_t h, int64_t i,
                       double *s, double *w)
{
    const int64_t Tk = p->d->kv_len;
    for (int64_t j = 0; j < Tk; ++j)
        s[j] = score(p, b, h, i, j);
    ref_softmax_row_sink(s, Tk, sink_of(p, h), w);
    double acc = 0.0;
    for (int64_t j = 0; j < Tk; ++j)
        if (w[j] != 0.0)
            acc += w[j] * vdotg(p, b, h, i, j);
    return acc;
}

/* Per-row sums of the unperturbed problem, for one-term updates. */
typedef struct row_cache {
    int64_t Tk;
    double *s;      /* (rows, Tk) scores */
    double *e;      /* (rows, Tk) exp(s - m), 0 where masked */
    double *vg;     /* (rows, Tk) v_j . g_r, 0 where masked */
    double *m, *Z, *N; /* (rows) */
} row_cache;

static void cache_make(const gr_sdpa *p, row_cache *c)
{
    const attn_sdpa_desc *d = p->d;
    const int64_t Tk = d->kv_len, rows = d->batch * d->q_heads * d->q_len;
    c->Tk = Tk;
    c->s = gr_alloc((size_t)(rows * Tk), sizeof *c->s);
    c->e = gr_alloc((size_t)(rows * Tk), sizeof *c->e);
    c->vg = gr_alloc((size_t)(rows * Tk), sizeof *c->vg);
    c->m = gr_alloc((size_t)rows, sizeof *c->m);
    c->Z = gr_alloc((size_t)rows, sizeof *c->Z);
    c->N = gr_alloc((size_t)rows, sizeof *c->N);
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h)
            for (int64_t i = 0; i < d->q_len; ++i) {
                const int64_t r = (b * d->q_heads + h) * d->q_len + i;
                double *s = c->s + r * Tk, *e = c->e + r * Tk,
                       *vg = c->vg + r * Tk;
                const double sink = sink_of(p, h);
                double m = sink;
                for (int64_t j = 0; j < Tk; ++j) {
                    s[j] = score(p, b, h, i, j);
                    if (s[j] > m)
                        m = s[j];
                }
                c->m[r] = m;
                c->Z[r] = m == -INFINITY ? 0.0 : exp(sink - m);
                c->N[r] = 0.0;
                for (int64_t j = 0; j < Tk; ++j) {
                    e[j] = m == -INFINITY || s[j] == -INFINITY
                               ? 0.0 : exp(s[j] - m);
                    vg[j] = e[j] != 0.0 ? vdotg(p, b, h, i, j) : 0.0;
                    c->Z[r] += e[j];
                    c->N[r] += e[j] * vg[j];
                }
            }
}

static void cache_free(row_cache *c)
{
    free(c->s);
    free(c->e);
    free(c->vg);
    free(c->m);
    free(c->Z);
    free(c->N);
}

/* Row r's loss with score j set to t and v_j . g_r set to u. */
static double row_loss_swap(const row_cache *c, int64_t r, int64_t j,
                            double t, double u)
{
    const int64_t rj = r * c->Tk + j;
    if (c->m[r] == -INFINITY)
        return 0.0; /* the row sees no key */
    const double e = t == -INFINITY ? 0.0 : exp(t - c->m[r]);
    const double Z = c->Z[r] + (e - c->e[rj]);
    /* e u - e_j vg_j, written so that each part is a small difference. */
    const double N = c->N[r] + (e - c->e[rj]) * u + c->e[rj] * (u - c->vg[rj]);
    return N / Z;
}

/* Central difference of EVAL over *x: sets *x to x +- step, evaluates,
 * restores; divides by the distance of the two points as rounded. An
 * infinite element (a -INFINITY bias is a mask) has derivative 0. */
#define CENTRAL(x, step, fp, fm, deriv, EVAL)                               \
    do {                                                                    \
        const double x0_ = *(x);                                            \
        if (!isfinite(x0_)) {                                               \
            (deriv) = 0.0;                                                  \
            break;                                                          \
        }                                                                   \
        const double xp_ = x0_ + (step), xm_ = x0_ - (step);                \
        *(x) = xp_;                                                         \
        (fp) = (EVAL);                                                      \
        *(x) = xm_;                                                         \
        (fm) = (EVAL);                                                      \
        *(x) = x0_;                                                         \
        (deriv) = ((fp) - (fm)) / (xp_ - xm_);                              \
    } while (0)

void gr_sdpa_fd(const gr_sdpa *p, double step, double *dq, double *dk,
                double *dv, double *dbias)
{
    const attn_sdpa_desc *d = p->d;
    const int64_t B = d->batch, Hq = d->q_heads, Hkv = d->kv_heads;
    const int64_t Tq = d->q_len, Tk = d->kv_len, D = d->head_dim,
                  Dv = d->v_head_dim, group = Hq / Hkv;
    if (dq)
        memset(dq, 0, (size_t)(B * Hq * Tq * D) * sizeof *dq);
    if (dk)
        memset(dk, 0, (size_t)(B * Hkv * Tk * D) * sizeof *dk);
    if (dv)
        memset(dv, 0, (size_t)(B * Hkv * Tk * Dv) * sizeof *dv);
    size_t bias_n = 0;
    if (dbias) {
        const attn_strides bs = d->bias_strides;
        bias_n = (size_t)at(bs, B - 1, Hq - 1, Tq - 1, Tk);
        memset(dbias, 0, bias_n * sizeof *dbias);
    }

    row_cache c;
    cache_make(p, &c);
    double *s = gr_alloc((size_t)Tk, sizeof *s);
    double *w = gr_alloc((size_t)Tk, sizeof *w);
    double fp, fm, g;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hq; ++h) {
            const int64_t hk = h / group;
            for (int64_t i = 0; i < Tq; ++i) {
                const int64_t r = (b * Hq + h) * Tq + i;
                /* q: the row from scratch. */
                for (int64_t e = 0; dq && e < D; ++e) {
                    double *x = &p->q[at(d->q_strides, b, h, i, e)];
                    CENTRAL(x, step, fp, fm, g, row_loss(p, b, h, i, s, w));
                    dq[r * D + e] = g;
                }
                if (c.m[r] == -INFINITY)
                    continue; /* sees nothing, whatever k, v, bias are */
                for (int64_t j = 0; j < Tk; ++j) {
                    const int64_t rj = r * Tk + j;
                    /* k: score j of this row changes. */
                    for (int64_t e = 0; dk && e < D; ++e) {
                        double *x = &p->k[at(d->k_strides, b, hk, j, e)];
                        if (c.s[rj] == -INFINITY)
                            break; /* masked: k_j is not even read */
                        CENTRAL(x, step, fp, fm, g,
                                row_loss_swap(&c, r, j, score(p, b, h, i, j),
                                              c.vg[rj]));
                        dk[((b * Hkv + hk) * Tk + j) * D + e] += g;
                    }
                    /* v: v_j . g_r of this row changes. */
                    for (int64_t e = 0; dv && e < Dv; ++e) {
                        double *x = &p->v[at(d->v_strides, b, hk, j, e)];
                        if (c.s[rj] == -INFINITY)
                            break;
                        CENTRAL(x, step, fp, fm, g,
                                row_loss_swap(&c, r, j, c.s[rj],
                                              vdotg(p, b, h, i, j)));
                        dv[((b * Hkv + hk) * Tk + j) * Dv + e] += g;
                    }
                    /* bias: score j of this row changes; a shared
                     * (broadcast) element sums the rows that read it. */
                    if (dbias) {
                        const int64_t o = at(d->bias_strides, b, h, i, j);
                        CENTRAL(&p->bias[o], step, fp, fm, g,
                                row_loss_swap(&c, r, j, score(p, b, h, i, j),
                                              c.vg[rj]));
                        dbias[o] += g;
                    }
                }
            }
        }
    free(w);
    free(s);
    cache_free(&c);
}

void gr_sdpa_fd_sinks(const gr_sdpa *p, double step, double *dsinks)
{
    double fp, fm;
    for (int64_t h = 0; h < p->d->q_heads; ++h)
        CENTRAL(&p->sinks[h], step, fp, fm, dsinks[h], gr_sdpa_loss(p));
}

void gr_sdpa_fd_full(const gr_sdpa *p, double step, double *dq, double *dk,
                     double *dv, double *dbias)
{
    const attn_sdpa_desc *d = p->d;
    const int64_t B = d->batch, Hq = d->q_heads, Hkv = d->kv_heads;
    const int64_t Tq = d->q_len, Tk = d->kv_len, D = d->head_dim,
                  Dv = d->v_head_dim;
    double fp, fm, g;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hq; ++h)
            for (int64_t i = 0; i < Tq; ++i)
                for (int64_t e = 0; dq && e < D; ++e) {
                    CENTRAL(&p->q[at(d->q_strides, b, h, i, e)], step, fp, fm,
                            g, gr_sdpa_loss(p));
                    dq[((b * Hq + h) * Tq + i) * D + e] = g;
                }
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hkv; ++h)
            for (int64_t j = 0; j < Tk; ++j) {
                const int64_t lim = d->kv_lens ? d->kv_lens[b] : Tk;
                for (int64_t e = 0; dk && e < D; ++e) {
                    g = 0.0; /* never read past kv_lens: may hold NaN */
                    if (j < lim)
                        CENTRAL(&p->k[at(d->k_strides, b, h, j, e)], step, fp,
                                fm, g, gr_sdpa_loss(p));
                    dk[((b * Hkv + h) * Tk + j) * D + e] = g;
                }
                for (int64_t e = 0; dv && e < Dv; ++e) {
                    g = 0.0;
                    if (j < lim)
                        CENTRAL(&p->v[at(d->v_strides, b, h, j, e)], step, fp,
                                fm, g, gr_sdpa_loss(p));
                    dv[((b * Hkv + h) * Tk + j) * Dv + e] = g;
                }
            }
    if (dbias) {
        const attn_strides bs = d->bias_strides;
        const size_t n = (size_t)at(bs, B - 1, Hq - 1, Tq - 1, Tk);
        unsigned char *mark = gr_alloc(n, 1);
        gr_mark(mark, n, B, Hq, Tq, Tk, bs);
        for (size_t o = 0; o < n; ++o) {
            g = 0.0;
            if (mark[o])
                CENTRAL(&p->bias[o], step, fp, fm, g, gr_sdpa_loss(p));
            dbias[o] = g;
        }
        free(mark);
    }
}

/* ---- linear layer ----------------------------------------------------------- */

void gr_linear_forward(const double *x, const double *w, const double *b,
                       double *y, int64_t rows, int64_t in_features,
                       int64_t out_features)
{
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out_features; ++o) {
            double acc = b ? b[o] : 0.0;
            for (int64_t i = 0; i < in_features; ++i)
                acc += x[r * in_features + i] * w[o * in_features + i];
            y[r * out_features + o] = acc;
        }
}

/* ---- multi-head attention layer ------------------------------------------ */

void gr_mha_forward(const gr_mha *m, const attn_mha_options *masks,
                    int64_t B, int64_t Tq, int64_t Tk, const double *query,
                    const double *key, const double *value, double *out,
                    double *weights)
{
    const int64_t E = m->E, H = m->H, dh = E / H;
    double *Q = gr_alloc((size_t)(B * Tq * E), sizeof *Q);
    double *K = gr_alloc((size_t)(B * Tk * E), sizeof *K);
    double *V = gr_alloc((size_t)(B * Tk * E), sizeof *V);
    double *O = gr_alloc((size_t)(B * H * Tq * dh), sizeof *O);
    double *A = gr_alloc((size_t)(B * Tq * E), sizeof *A);
    gr_linear_forward(query, m->wq, m->bq, Q, B * Tq, E, E);
    gr_linear_forward(key, m->wk, m->bk, K, B * Tk, m->kdim, E);
    gr_linear_forward(value, m->wv, m->bv, V, B * Tk, m->vdim, E);

    /* Head h of a (B, T, E) projection is the (B, T, dh) slice at h * dh:
     * strides (T E, dh, E) over (B, H, T, dh). */
    attn_sdpa_desc d;
    if (attn_sdpa_desc_init(&d, B, H, H, Tq, Tk, dh, dh) != ATTN_OK)
        abort();
    const attn_strides qs = {Tq * E, dh, E}, ks = {Tk * E, dh, E};
    d.q_strides = qs;
    d.out_strides = qs;
    d.k_strides = ks;
    d.v_strides = ks;
    double *bias = NULL;
    if (masks) {
        d.causal = masks->causal;
        d.kv_lens = masks->kv_lens;
        d.keep_mask = masks->keep_mask;
        d.keep_strides = masks->keep_strides;
        d.bias_strides = masks->bias_strides;
        d.window_left = masks->window_left;
        d.window_right = masks->window_right;
        d.alibi_slopes = masks->alibi_slopes;
        d.alibi_batch_stride = masks->alibi_batch_stride;
        d.softcap = masks->softcap;
        if (masks->bias) {
            const size_t n = (size_t)at(d.bias_strides, B - 1, H - 1, Tq - 1,
                                        Tk);
            bias = gr_to_double(masks->bias, n);
        }
    }
    gr_sdpa p;
    memset(&p, 0, sizeof p);
    p.d = &d;
    p.q = Q;
    p.k = K;
    p.v = V;
    p.bias = bias;
    p.scale = 1.0 / sqrt((double)dh); /* exact, not d.scale's float */
    p.sinks = m->sinks;
    gr_sdpa_forward(&p, O, weights, NULL);
    /* Concatenate the heads: A[b, i, h dh + c] = O[b, h, i, c]. */
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < Tq; ++i)
                for (int64_t c = 0; c < dh; ++c)
                    A[(b * Tq + i) * E + h * dh + c] =
                        O[((b * H + h) * Tq + i) * dh + c];
    gr_linear_forward(A, m->wo, m->bo, out, B * Tq, E, E);
    free(bias);
    free(A);
    free(O);
    free(V);
    free(K);
    free(Q);
}
