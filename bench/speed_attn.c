/* attention-bench-speed's attention calls: one shape's buffers, allocated
 * and filled once, and the timed library calls on them. */
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "rng.h"
#include "speed.h"

void speed_check(int status, const char *call)
{
    if (status == ATTN_OK)
        return;
    fprintf(stderr, PROG ": %s: %s\n", call,
            attn_strerror((attn_status)status));
    exit(1);
}

/* q k v dout, filled; out dq dk dv and lse (B, H, T), zeroed so that their
 * pages are resident before anything is timed. */
float *speed_attn_alloc(speed_shape s, uint64_t seed, double *bytes)
{
    const size_t n = (size_t)(s.b * s.h * s.t * s.d);
    *bytes = (double)(8 * n + (size_t)(s.b * s.h * s.t)) * sizeof(float);
    float *m = speed_alloc((size_t)*bytes);
    for (int i = 0; i < 4; ++i)
        bench_fill_uniform(m + i * n, n, seed + (uint64_t)i);
    memset(m + 4 * n, 0, (size_t)*bytes - 4 * n * sizeof *m);
    return m;
}

typedef struct call {
    const attn_sdpa_desc *desc;
    int pass;
    float *m;               /* speed_attn_alloc's buffers, n floats apart */
    size_t n;
    void *ws;
    size_t bytes;
} call;

/* One forward (inference: no lse), or forward with lse and backward; the
 * backward adds into dq, dk, dv: the values drift, the work does not. */
static double rep(void *arg)
{
    const call *c = arg;
    float *q = c->m, *k = q + c->n, *v = k + c->n, *dout = v + c->n;
    float *out = dout + c->n, *dq = out + c->n, *dk = dq + c->n;
    float *dv = dk + c->n, *lse = dv + c->n;
    const double t0 = speed_now();
    speed_check(attn_sdpa_forward_ws(c->desc, q, k, v, out, NULL,
                                     c->pass == FWD ? NULL : lse, c->ws,
                                     c->bytes),
                "attn_sdpa_forward_ws");
    if (c->pass == FWDBWD)
        speed_check(attn_sdpa_backward_ws(c->desc, q, k, v, out, lse, dout,
                                          dq, dk, dv, NULL, c->ws, c->bytes),
                    "attn_sdpa_backward_ws");
    return speed_now() - t0;
}

/* FLOPs as the issue counts them: forward 4 B H Tq Tk d, halved for
 * causal; forward + backward 3.5 x forward. */
void speed_attn(const speed_run *x, float *m, speed_row *r)
{
    attn_sdpa_desc desc;
    speed_check(attn_sdpa_desc_init(&desc, r->b, r->h, r->h, r->tq, r->tk,
                                    r->d, r->d),
                "attn_sdpa_desc_init");
    desc.causal = r->causal ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_NONE;
    desc.num_threads = r->threads;
    desc.algo = r->kind == FUSED ? ATTN_ALGO_FUSED : ATTN_ALGO_MATERIALIZED;
    /* One workspace serves both calls, which run one after the other. */
    size_t fwd = 0, bwd = 0;
    speed_check(attn_sdpa_workspace_size(&desc, &fwd),
                "attn_sdpa_workspace_size");
    if (r->pass == FWDBWD)
        speed_check(attn_sdpa_backward_workspace_size(&desc, &bwd),
                    "attn_sdpa_backward_workspace_size");
    call c = {&desc, r->pass, m, (size_t)(r->b * r->h * r->tq * r->d), NULL,
              fwd > bwd ? fwd : bwd};
    c.ws = speed_alloc(c.bytes);
    speed_time(x, rep, &c, r);
    free(c.ws);
    const double flop = 4.0 * (double)r->b * (double)r->h * (double)r->tq *
                        (double)r->tk * (double)r->d * (r->causal ? 0.5 : 1.0);
    r->gflops = flop * (r->pass == FWDBWD ? 3.5 : 1.0) / r->seconds * 1e-9;
    r->extra_bytes = c.bytes;
}
