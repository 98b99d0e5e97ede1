/* attention-bench-speed's variant calls (issue 12): a variants row's
 * descriptors on one group's buffers, its timed library calls, and its
 * FLOPs, counted over the query-key pairs its masks leave visible. */
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "rng.h"
#include "speed.h"

/* Mistral's "sliding window 1024" counts the current token: the key band
 * [i - 1023, i] (sdpa.h, Variants). */
#define WINDOW 1024
/* Grok-1 caps its attention logits at 30 with c tanh(s / c). */
#define SOFTCAP 30.0f
enum { MAX_SEQS = 16, MAX_HEADS = 64 };

const char *const speed_variant_names[V_SEPARATE + 1] = {
    "attention", "plain", "window1024", "softcap30", "alibi", "sinks",
    "packed", "separate"};

struct speed_vcall {
    int variant, pass;
    int64_t seqs;                   /* calls per repeat: 1, or V_SEPARATE's */
    attn_sdpa_desc desc[MAX_SEQS];  /* (seqs) one per call */
    int64_t first[MAX_SEQS];        /* (seqs) the call's first row (packed) */
    float *m;                       /* speed_attn_alloc's buffers, n apart */
    size_t n;
    void *ws;
    size_t bytes;
    float slopes[MAX_HEADS];        /* (H) ALiBi's standard slopes */
    float sinks[MAX_HEADS];         /* (H) sink logits */
    float dsinks[MAX_HEADS];        /* (H) their gradient, added into */
};

/* Rows (total, H, d) of a packed layout: row stride H d. */
static void packed_strides(attn_sdpa_desc *d, int64_t h, int64_t dim)
{
    const attn_strides s = {0, dim, h * dim};
    d->q_strides = d->k_strides = d->v_strides = d->out_strides = s;
}

speed_vcall *speed_variant_call(speed_row *r, float *m, const int32_t *cu)
{
    speed_vcall *c = speed_alloc(sizeof *c);
    memset(c, 0, sizeof *c);
    c->variant = r->variant;
    c->pass = r->pass;
    c->m = m;
    c->seqs = r->variant == V_SEPARATE ? r->b : 1;
    /* Packed and separate rows: b sequences in tq rows in all. */
    const int packed = r->variant == V_PACKED || r->variant == V_SEPARATE;
    c->n = (size_t)((packed ? 1 : r->b) * r->tq * r->h * r->d);
    if (r->h > MAX_HEADS || c->seqs > MAX_SEQS) {
        fprintf(stderr, PROG ": a variants row has too many heads or "
                        "sequences\n");
        exit(1);
    }
    for (int64_t s = 0; s < c->seqs; ++s) {
        attn_sdpa_desc *d = &c->desc[s];
        const int64_t t = r->variant == V_SEPARATE ? cu[s + 1] - cu[s]
                          : r->tq;
        speed_check(attn_sdpa_desc_init(d, r->variant == V_SEPARATE ? 1
                                                                    : r->b,
                                        r->h, r->h, t, t, r->d, r->d),
                    "attn_sdpa_desc_init");
        d->num_threads = r->threads;
        d->algo = ATTN_ALGO_FUSED;
        switch (r->variant) {
        case V_WINDOW:
            d->window_left = WINDOW - 1;
            d->window_right = 0;
            break;
        case V_SOFTCAP:
            d->softcap = SOFTCAP;
            break;
        case V_ALIBI:
            speed_check(attn_alibi_slopes(r->h, c->slopes),
                        "attn_alibi_slopes");
            d->alibi_slopes = c->slopes;
            break;
        case V_SINKS:
            bench_fill_uniform(c->sinks, (size_t)r->h, 20251212);
            d->sinks = c->sinks;
            break;
        default:
            break;
        }
        /* Packed rows: causal sequences, in one call or one call each. */
        if (r->variant == V_PACKED) {
            d->cu_seqlens_q = d->cu_seqlens_k = cu;
            d->seqlens_type = ATTN_INDEX_INT32;
        }
        if (packed) {
            packed_strides(d, r->h, r->d);
            d->causal = ATTN_CAUSAL_TOP_LEFT;
            c->first[s] = r->variant == V_SEPARATE ? cu[s] : 0;
        }
        /* One workspace serves every call, which run one after another. */
        size_t fwd = 0, bwd = 0;
        speed_check(attn_sdpa_workspace_size(d, &fwd),
                    "attn_sdpa_workspace_size");
        if (r->pass == FWDBWD)
            speed_check(attn_sdpa_backward_workspace_size(d, &bwd),
                        "attn_sdpa_backward_workspace_size");
        c->bytes = fwd > c->bytes ? fwd : c->bytes;
        c->bytes = bwd > c->bytes ? bwd : c->bytes;
    }
    c->ws = speed_alloc(c->bytes);
    r->extra_bytes = c->bytes;
    return c;
}

/* One call: forward (with lse for the backward), then backward, then the
 * sinks' gradient; the backward adds into dq, dk, dv and dsinks: the
 * values drift, the work does not. */
static void one(speed_vcall *c, const attn_sdpa_desc *d, int64_t first)
{
    /* A packed row's first row: (row, H, d) floats, lse (H, row) as
     * (1, H, Tq) per separate call. */
    const size_t at = (size_t)(first * d->q_heads * d->head_dim);
    float *q = c->m + at, *k = q + c->n, *v = k + c->n, *dout = v + c->n;
    float *out = dout + c->n, *dq = out + c->n, *dk = dq + c->n;
    float *dv = dk + c->n;
    float *lse = c->m + 8 * c->n + (size_t)(first * d->q_heads);
    speed_check(attn_sdpa_forward_ws(d, q, k, v, out, NULL,
                                     c->pass == FWD ? NULL : lse, c->ws,
                                     c->bytes),
                "attn_sdpa_forward_ws");
    if (c->pass == FWD)
        return;
    speed_check(attn_sdpa_backward_ws(d, q, k, v, out, lse, dout, dq, dk, dv,
                                      NULL, c->ws, c->bytes),
                "attn_sdpa_backward_ws");
    if (d->sinks)
        speed_check(attn_sdpa_sinks_backward(d, out, lse, dout, c->dsinks),
                    "attn_sdpa_sinks_backward");
}

double speed_variant_rep(void *arg)
{
    speed_vcall *c = arg;
    const double t0 = speed_now();
    for (int64_t s = 0; s < c->seqs; ++s)
        one(c, &c->desc[s], c->first[s]);
    return speed_now() - t0;
}

void speed_variant_free(speed_vcall *c)
{
    if (c)
        free(c->ws);
    free(c);
}

/* Query-key pairs visible to a (t, t) block of rows, causal or not, in a
 * window or not: query i sees keys [i - (WINDOW - 1), i] in the window,
 * [0, i] causal, [0, t) else. */
static double pairs(int64_t t, int causal, int window)
{
    if (!causal && !window)
        return (double)t * (double)t;
    double sum = 0.0;
    for (int64_t i = 0; i < t; ++i)
        sum += (double)(window && i + 1 > WINDOW ? WINDOW : i + 1);
    return sum;
}

/* Forward 4 d per visible pair (Q K^T and P V, a multiply and an add
 * each), exactly: no halving for causal as the main table does;
 * forward + backward 3.5 x forward as there. */
double speed_variant_flop(const speed_row *r, const int32_t *cu)
{
    double p = 0.0;
    if (r->variant == V_PACKED || r->variant == V_SEPARATE)
        for (int64_t s = 0; s < r->b; ++s)
            p += pairs(cu[s + 1] - cu[s], 1, 0);
    else
        p = (double)r->b * pairs(r->tq, 0, r->variant == V_WINDOW);
    return p * (double)r->h * 4.0 * (double)r->d *
           (r->pass == FWDBWD ? 3.5 : 1.0);
}
