#include "speed_case.h"

#include <stdio.h>
#include <stdlib.h>

#include "speed_data.h"

static void check(attn_status s, const char *call)
{
    if (s == ATTN_OK)
        return;
    fprintf(stderr, "attention-bench-speed: %s: %s\n", call, attn_strerror(s));
    exit(1);
}

int speed_case_alloc(speed_case *c, speed_shape s, uint64_t seed)
{
    const size_t n = (size_t)(s.b * s.h * s.t * s.d);
    const size_t rows = (size_t)(s.b * s.h * s.t);
    c->s = s;
    c->q = malloc(n * sizeof *c->q);
    c->k = malloc(n * sizeof *c->k);
    c->v = malloc(n * sizeof *c->v);
    c->dout = malloc(n * sizeof *c->dout);
    c->out = calloc(n, sizeof *c->out);
    c->lse = calloc(rows, sizeof *c->lse);
    c->dq = calloc(n, sizeof *c->dq);
    c->dk = calloc(n, sizeof *c->dk);
    c->dv = calloc(n, sizeof *c->dv);
    if (!c->q || !c->k || !c->v || !c->dout || !c->out || !c->lse || !c->dq ||
        !c->dk || !c->dv) {
        speed_case_free(c);
        return -1;
    }
    speed_fill_uniform(c->q, n, seed);
    speed_fill_uniform(c->k, n, seed + 1);
    speed_fill_uniform(c->v, n, seed + 2);
    speed_fill_uniform(c->dout, n, seed + 3);
    /* calloc's zero pages may be mapped lazily: touch them now. */
    for (size_t i = 0; i < n; ++i)
        c->out[i] = c->dq[i] = c->dk[i] = c->dv[i] = 0.0f;
    for (size_t i = 0; i < rows; ++i)
        c->lse[i] = 0.0f;
    return 0;
}

void speed_case_free(speed_case *c)
{
    free(c->q);
    free(c->k);
    free(c->v);
    free(c->out);
    free(c->lse);
    free(c->dout);
    free(c->dq);
    free(c->dk);
    free(c->dv);
    c->q = c->k = c->v = c->out = c->lse = c->dout = NULL;
    c->dq = c->dk = c->dv = NULL;
}

double speed_flop(speed_shape s, int causal, speed_pass pass)
{
    double f = 4.0 * (double)s.b * (double)s.h * (double)s.t * (double)s.t *
               (double)s.d;
    if (causal)
        f *= 0.5;
    return pass == SPEED_FWDBWD ? 3.5 * f : f;
}

typedef struct call_ctx {
    speed_case *c;
    const attn_sdpa_desc *desc;
    speed_pass pass;
    void *ws;
    size_t ws_bytes;
} call_ctx;

/* One forward (inference: no lse) or forward with lse + backward. The
 * backward adds into dq, dk, dv: the values drift, the work does not. */
static int call_rep(void *arg, double *seconds)
{
    const call_ctx *x = arg;
    speed_case *c = x->c;
    const double t0 = speed_now();
    if (x->pass == SPEED_FWD) {
        check(attn_sdpa_forward_ws(x->desc, c->q, c->k, c->v, c->out, NULL,
                                   NULL, x->ws, x->ws_bytes),
              "attn_sdpa_forward_ws");
    } else {
        check(attn_sdpa_forward_ws(x->desc, c->q, c->k, c->v, c->out, NULL,
                                   c->lse, x->ws, x->ws_bytes),
              "attn_sdpa_forward_ws");
        check(attn_sdpa_backward_ws(x->desc, c->q, c->k, c->v, c->out, c->lse,
                                    c->dout, c->dq, c->dk, c->dv, NULL, x->ws,
                                    x->ws_bytes),
              "attn_sdpa_backward_ws");
    }
    *seconds = speed_now() - t0;
    return 0;
}

void speed_case_measure(speed_case *c, const speed_setting *set,
                        const speed_budget *b, speed_measure *out)
{
    const speed_shape s = c->s;
    attn_sdpa_desc desc;
    check(attn_sdpa_desc_init(&desc, s.b, s.h, s.h, s.t, s.t, s.d, s.d),
          "attn_sdpa_desc_init");
    desc.causal = set->causal ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_NONE;
    desc.num_threads = set->threads;
    desc.algo = set->algo;

    /* One workspace serves both calls, which run one after the other. */
    size_t fwd = 0, bwd = 0;
    check(attn_sdpa_workspace_size(&desc, &fwd), "attn_sdpa_workspace_size");
    if (set->pass == SPEED_FWDBWD)
        check(attn_sdpa_backward_workspace_size(&desc, &bwd),
              "attn_sdpa_backward_workspace_size");
    const size_t bytes = fwd > bwd ? fwd : bwd;
    void *ws = malloc(bytes > 0 ? bytes : 1);
    if (ws == NULL) {
        fprintf(stderr, "attention-bench-speed: cannot allocate %zu bytes of "
                        "workspace\n", bytes);
        exit(1);
    }

    call_ctx x = {c, &desc, set->pass, ws, bytes};
    speed_time(b, call_rep, &x, &out->timing);
    free(ws);
    out->flop = speed_flop(s, set->causal, set->pass);
    out->gflops = out->flop / out->timing.best * 1e-9;
    out->extra_bytes = bytes;
}
