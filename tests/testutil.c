#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

unsigned char *tu_read_file(const char *path, size_t *bytes)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    assert_non_null(buf);
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        buf = realloc(buf, cap);
        assert_non_null(buf);
    }
    assert_int_equal(ferror(f), 0);
    fclose(f);
    *bytes = n;
    return buf;
}

tu_rng tu_rng_make(uint64_t seed)
{
    tu_rng r;
    r.state = seed;
    return r;
}

uint64_t tu_rng_next(tu_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double tu_rng_uniform(tu_rng *r, double lo, double hi)
{
    /* 53 random bits -> [0, 1). */
    const double u = (double)(tu_rng_next(r) >> 11) * 0x1.0p-53;
    return lo + (hi - lo) * u;
}

uint64_t tu_rng_below(tu_rng *r, uint64_t n)
{
    return tu_rng_next(r) % n;
}

attn_strides tu_strides(int64_t batch, int64_t head, int64_t row)
{
    attn_strides s;
    s.batch = batch;
    s.head = head;
    s.row = row;
    return s;
}

attn_strides tu_contig(int64_t n1, int64_t n2, int64_t last)
{
    return tu_strides(n1 * n2 * last, n2 * last, last);
}

size_t tu_span(int64_t n0, int64_t n1, int64_t n2, int64_t last,
               attn_strides s)
{
    return (size_t)((n0 - 1) * s.batch + (n1 - 1) * s.head +
                    (n2 - 1) * s.row + last);
}

void *tu_malloc(size_t n, size_t size)
{
    void *p = malloc(n * size > 0 ? n * size : 1);
    assert_non_null(p);
    return p;
}

void tu_fill_nan(float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = NAN;
}

void tu_fill_tensor(float *x, int64_t n0, int64_t n1, int64_t n2,
                    int64_t last, attn_strides s, tu_rng *r, double lo,
                    double hi)
{
    tu_fill_nan(x, tu_span(n0, n1, n2, last, s));
    for (int64_t a = 0; a < n0; ++a)
        for (int64_t b = 0; b < n1; ++b)
            for (int64_t c = 0; c < n2; ++c)
                for (int64_t e = 0; e < last; ++e)
                    x[tu_at(s, a, b, c, e)] = (float)tu_rng_uniform(r, lo, hi);
}

double tu_rel_err(const float *x, attn_strides xs, int64_t n0, int64_t n1,
                  int64_t n2, int64_t last, const double *r)
{
    double max_diff = 0.0, max_ref = 0.0;
    int64_t idx = 0;
    for (int64_t a = 0; a < n0; ++a)
        for (int64_t b = 0; b < n1; ++b)
            for (int64_t c = 0; c < n2; ++c)
                for (int64_t e = 0; e < last; ++e, ++idx) {
                    const double xv = (double)x[tu_at(xs, a, b, c, e)];
                    const double rv = r[idx];
                    if (!isfinite(rv)) {
                        const int same = isnan(rv) ? isnan(xv) : xv == rv;
                        if (!same) {
                            print_error("entry (%lld,%lld,%lld,%lld): got %g,"
                                        " reference %g\n", (long long)a,
                                        (long long)b, (long long)c,
                                        (long long)e, xv, rv);
                            return INFINITY;
                        }
                        continue;
                    }
                    if (!isfinite(xv)) {
                        print_error("entry (%lld,%lld,%lld,%lld): got %g,"
                                    " reference %g\n", (long long)a,
                                    (long long)b, (long long)c, (long long)e,
                                    xv, rv);
                        return INFINITY;
                    }
                    if (fabs(xv - rv) > max_diff)
                        max_diff = fabs(xv - rv);
                    if (fabs(rv) > max_ref)
                        max_ref = fabs(rv);
                }
    return max_diff / (max_ref > ATTN_TEST_TINY ? max_ref : ATTN_TEST_TINY);
}

void tu_problem_init(tu_problem *p, int64_t B, int64_t Hq, int64_t Hkv,
                     int64_t Tq, int64_t Tk, int64_t d, int64_t dv)
{
    memset(p, 0, sizeof *p);
    TU_CHECK_STATUS(attn_sdpa_desc_init(&p->d, B, Hq, Hkv, Tq, Tk, d, dv),
                    ATTN_OK);
    p->d.algo = tu_algo();
}

attn_algo tu_algo(void)
{
    const char *e = getenv("ATTN_TEST_ALGO");
    if (e && strcmp(e, "materialized") == 0)
        return ATTN_ALGO_MATERIALIZED;
    if (e && strcmp(e, "fused") == 0)
        return ATTN_ALGO_FUSED;
    return ATTN_ALGO_AUTO;
}

int64_t *tu_problem_kv_lens(tu_problem *p)
{
    free(p->kv_lens);
    p->kv_lens = tu_malloc((size_t)p->d.batch, sizeof *p->kv_lens);
    for (int64_t b = 0; b < p->d.batch; ++b)
        p->kv_lens[b] = p->d.kv_len;
    p->d.kv_lens = p->kv_lens;
    return p->kv_lens;
}

uint8_t *tu_problem_keep(tu_problem *p, attn_strides s, int keep_percent,
                         tu_rng *r)
{
    const attn_sdpa_desc *d = &p->d;
    free(p->keep);
    p->keep_n = tu_span(d->batch, d->q_heads, d->q_len, d->kv_len, s);
    p->keep = tu_malloc(p->keep_n, 1);
    for (size_t i = 0; i < p->keep_n; ++i) {
        const int keep = (int)tu_rng_below(r, 100) < keep_percent;
        /* Any nonzero byte means "keep": use several. */
        p->keep[i] = keep ? (uint8_t)(1 + tu_rng_below(r, 255)) : 0;
    }
    p->d.keep_mask = p->keep;
    p->d.keep_strides = s;
    return p->keep;
}

float *tu_problem_bias(tu_problem *p, attn_strides s, tu_rng *r)
{
    const attn_sdpa_desc *d = &p->d;
    free(p->bias);
    p->bias_n = tu_span(d->batch, d->q_heads, d->q_len, d->kv_len, s);
    p->bias = tu_malloc(p->bias_n, sizeof *p->bias);
    tu_fill_tensor(p->bias, d->batch, d->q_heads, d->q_len, d->kv_len, s, r,
                   -1.0, 1.0);
    p->d.bias = p->bias;
    p->d.bias_strides = s;
    return p->bias;
}

void tu_problem_data(tu_problem *p, tu_rng *r)
{
    const attn_sdpa_desc *d = &p->d;
    free(p->q);
    free(p->k);
    free(p->v);
    free(p->out);
    free(p->weights);
    free(p->lse);
    p->q_n = tu_span(d->batch, d->q_heads, d->q_len, d->head_dim,
                     d->q_strides);
    p->k_n = tu_span(d->batch, d->kv_heads, d->kv_len, d->head_dim,
                     d->k_strides);
    p->v_n = tu_span(d->batch, d->kv_heads, d->kv_len, d->v_head_dim,
                     d->v_strides);
    p->out_n = tu_span(d->batch, d->q_heads, d->q_len, d->v_head_dim,
                       d->out_strides);
    p->w_n = (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len);
    p->lse_n = (size_t)(d->batch * d->q_heads * d->q_len);
    p->q = tu_malloc(p->q_n, sizeof(float));
    p->k = tu_malloc(p->k_n, sizeof(float));
    p->v = tu_malloc(p->v_n, sizeof(float));
    p->out = tu_malloc(p->out_n, sizeof(float));
    p->weights = tu_malloc(p->w_n, sizeof(float));
    p->lse = tu_malloc(p->lse_n, sizeof(float));
    tu_fill_tensor(p->q, d->batch, d->q_heads, d->q_len, d->head_dim,
                   d->q_strides, r, -1.0, 1.0);
    tu_fill_tensor(p->k, d->batch, d->kv_heads, d->kv_len, d->head_dim,
                   d->k_strides, r, -1.0, 1.0);
    tu_fill_tensor(p->v, d->batch, d->kv_heads, d->kv_len, d->v_head_dim,
                   d->v_strides, r, -1.0, 1.0);
}

void tu_problem_reference(tu_problem *p)
{
    free(p->r_out);
    free(p->r_w);
    free(p->r_lse);
    free(p->r_s);
    const size_t out_n =
        (size_t)(p->d.batch * p->d.q_heads * p->d.q_len * p->d.v_head_dim);
    p->r_out = tu_malloc(out_n, sizeof(double));
    p->r_w = tu_malloc(p->w_n, sizeof(double));
    p->r_lse = tu_malloc(p->lse_n, sizeof(double));
    p->r_s = tu_malloc(p->w_n, sizeof(double));
    ref_sdpa(&p->d, p->q, p->k, p->v, p->r_out, p->r_w, p->r_lse, p->r_s);
}

void tu_problem_free(tu_problem *p)
{
    free(p->q);
    free(p->k);
    free(p->v);
    free(p->out);
    free(p->weights);
    free(p->lse);
    free(p->kv_lens);
    free(p->keep);
    free(p->bias);
    free(p->r_out);
    free(p->r_w);
    free(p->r_lse);
    free(p->r_s);
    memset(p, 0, sizeof *p);
}

void tu_run(tu_problem *p, tu_mode mode, int want_weights, int want_lse)
{
    float *w = want_weights ? p->weights : NULL;
    float *l = want_lse ? p->lse : NULL;
    tu_fill_nan(p->out, p->out_n);
    tu_fill_nan(p->weights, p->w_n);
    tu_fill_nan(p->lse, p->lse_n);
    if (mode == TU_ALLOC) {
        TU_CHECK_STATUS(attn_sdpa_forward(&p->d, p->q, p->k, p->v, p->out, w,
                                          l),
                        ATTN_OK);
        return;
    }
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&p->d, &bytes), ATTN_OK);
    assert_true(bytes > 0);
    const size_t off = mode == TU_WS_MISALIGNED ? 1 : 0;
    unsigned char *buf = tu_malloc(bytes + off, 1);
    /* A caller's workspace holds garbage: all-ones bytes are NaN floats. */
    memset(buf, 0xFF, bytes + off);
    const attn_status s = attn_sdpa_forward_ws(&p->d, p->q, p->k, p->v,
                                               p->out, w, l, buf + off, bytes);
    free(buf);
    TU_CHECK_STATUS(s, ATTN_OK);
}

/* Out elements outside the logical tensor must still hold the NaN fill. */
static void check_out_gaps(const tu_problem *p, const char *what)
{
    const attn_sdpa_desc *d = &p->d;
    unsigned char *logical = calloc(p->out_n, 1);
    assert_non_null(logical);
    for (int64_t b = 0; b < d->batch; ++b)
        for (int64_t h = 0; h < d->q_heads; ++h)
            for (int64_t i = 0; i < d->q_len; ++i)
                for (int64_t c = 0; c < d->v_head_dim; ++c)
                    logical[tu_at(d->out_strides, b, h, i, c)] = 1;
    size_t bad = p->out_n;
    for (size_t e = 0; e < p->out_n && bad == p->out_n; ++e)
        if (!logical[e] && !isnan(p->out[e]))
            bad = e;
    free(logical);
    if (bad != p->out_n)
        fail_msg("%s: out element %zu between rows was written", what, bad);
}

void tu_check(const tu_problem *p, int want_weights, int want_lse,
              const char *what)
{
    const attn_sdpa_desc *d = &p->d;
    const int64_t B = d->batch, H = d->q_heads, Tq = d->q_len,
                  Tk = d->kv_len, Dv = d->v_head_dim;
    TU_CHECK_REL(tu_rel_err(p->out, d->out_strides, B, H, Tq, Dv, p->r_out),
                 what, "out");
    check_out_gaps(p, what);
    if (want_weights) {
        TU_CHECK_REL(tu_rel_err(p->weights, tu_contig(H, Tq, Tk), B, H, Tq,
                                Tk, p->r_w),
                     what, "weights");
    }
    if (want_lse) {
        TU_CHECK_REL(tu_rel_err(p->lse, tu_contig(H, Tq, 1), B, H, Tq, 1,
                                p->r_lse),
                     what, "lse");
    }
    /* Row-wise properties, exact where the documentation says so. */
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t i = 0; i < Tq; ++i) {
                const int64_t row = (b * H + h) * Tq + i;
                const float *w = p->weights + row * Tk;
                /* A row that sees no key has lse = its sink, or -inf. */
                const double sink = d->sinks ? (double)d->sinks[h] : -INFINITY;
                int empty = !isnan(p->r_lse[row]);
                for (int64_t j = 0; empty && j < Tk; ++j)
                    empty = p->r_w[row * Tk + j] == 0.0;
                if (empty) {
                    for (int64_t c = 0; c < Dv; ++c)
                        if (p->out[tu_at(d->out_strides, b, h, i, c)] != 0.0f)
                            fail_msg("%s: fully masked row (%lld,%lld,%lld)"
                                     " has out[%lld] = %g, not 0", what,
                                     (long long)b, (long long)h, (long long)i,
                                     (long long)c,
                                     (double)p->out[tu_at(d->out_strides, b,
                                                          h, i, c)]);
                    for (int64_t j = 0; want_weights && j < Tk; ++j)
                        if (w[j] != 0.0f)
                            fail_msg("%s: fully masked row (%lld,%lld,%lld)"
                                     " has weight[%lld] = %g", what,
                                     (long long)b, (long long)h, (long long)i,
                                     (long long)j, (double)w[j]);
                    if (want_lse && p->lse[row] != (float)sink)
                        fail_msg("%s: fully masked row (%lld,%lld,%lld) has"
                                 " lse %g, not %g", what, (long long)b,
                                 (long long)h, (long long)i,
                                 (double)p->lse[row], sink);
                } else if (want_weights && isfinite(p->r_lse[row])) {
                    double sum = 0.0, want = 0.0; /* < 1 with a sink */
                    for (int64_t j = 0; j < Tk; ++j) {
                        want += p->r_w[row * Tk + j];
                        if (p->r_w[row * Tk + j] == 0.0 && w[j] != 0.0f)
                            fail_msg("%s: masked weight (%lld,%lld,%lld,%lld)"
                                     " is %g, not 0", what, (long long)b,
                                     (long long)h, (long long)i, (long long)j,
                                     (double)w[j]);
                        sum += (double)w[j];
                    }
                    if (!(fabs(sum - want) <= ATTN_TEST_REL_TOL))
                        fail_msg("%s: weights row (%lld,%lld,%lld) sums to"
                                 " %.9g, not %.9g", what, (long long)b,
                                 (long long)h, (long long)i, sum, want);
                }
            }
}

void tu_run_and_check(tu_problem *p, const char *what)
{
    tu_problem_reference(p);

    tu_run(p, TU_ALLOC, 1, 1);  /* attn_sdpa_forward, weights + lse */
    tu_check(p, 1, 1, what);

    tu_run(p, TU_WS, 0, 0);     /* attn_sdpa_forward_ws, out only */
    tu_check(p, 0, 0, what);

    tu_run(p, TU_WS_MISALIGNED, 0, 1);  /* workspace at buffer + 1, lse */
    tu_check(p, 0, 1, what);
}

void tu_check_scores(tu_problem *p, const char *what)
{
    const attn_sdpa_desc *d = &p->d;
    const int64_t B = d->batch, H = d->q_heads, Tq = d->q_len,
                  Tk = d->kv_len;
    if (p->r_s == NULL)
        tu_problem_reference(p);

    float *s = tu_malloc(p->w_n, sizeof *s);
    tu_fill_nan(s, p->w_n);
    TU_CHECK_STATUS(attn_sdpa_scores(d, p->q, p->k, s), ATTN_OK);
    const double err = tu_rel_err(s, tu_contig(H, Tq, Tk), B, H, Tq, Tk,
                                  p->r_s);
    if (!(err <= ATTN_TEST_REL_TOL)) {
        free(s);
        fail_msg("%s: scores: relative error %g", what, err);
    }

    /* lse == log(sum(exp(scores))) of the library's own scores. */
    tu_run(p, TU_ALLOC, 0, 1);
    double *row = tu_malloc((size_t)Tk, sizeof *row);
    double *lse = tu_malloc(p->lse_n, sizeof *lse);
    for (size_t r = 0; r < p->lse_n; ++r) {
        const int64_t h = (int64_t)(r / (size_t)Tq) % H;
        for (int64_t j = 0; j < Tk; ++j)
            row[j] = (double)s[r * (size_t)Tk + (size_t)j];
        lse[r] = ref_softmax_row_sink(
            row, Tk, d->sinks ? (double)d->sinks[h] : -INFINITY, NULL);
    }
    const double lerr = tu_rel_err(p->lse, tu_contig(H, Tq, 1), B, H, Tq, 1,
                                   lse);
    free(lse);
    free(row);
    free(s);
    TU_CHECK_REL(lerr, what, "lse vs logsumexp(scores)");
}

void tu_max_diff(const float *x, const float *y, double s, size_t n,
                 double *diff, double *size)
{
    double d = 0.0, m = 0.0;
    for (size_t i = 0; i < n; ++i) {
        const double e = fabs((double)x[i] - s * (double)y[i]);
        const double a = fabs((double)y[i]);
        if (!(e <= d)) /* NaN sticks */
            d = e;
        if (a > m)
            m = a;
    }
    *diff = d;
    *size = m;
}
