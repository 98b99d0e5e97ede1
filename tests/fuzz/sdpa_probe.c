/*
 * fuzz_sdpa, error stage: one invalid variation of a valid case, sent to
 * one entry point. The status must be the documented one (the base case is
 * valid, so exactly one thing is wrong) and nothing may be written.
 */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <attention/sdpa.h>
#include <attention/sdpa_backward.h>

#include "sdpa_checks.h"

enum probe {
    PR_NULL_DESC, PR_NULL_Q, PR_NULL_K, PR_NULL_V, PR_NULL_OUT, PR_NULL_LSE,
    PR_NULL_DOUT, PR_NULL_WS, PR_WS_SMALL, PR_OUT_IS_Q, PR_LSE_IN_WEIGHTS,
    PR_WS_IS_OUT, PR_OUT_ON_INPUT, PR_GRADS_OVERLAP, PR_BAD_SCALE,
    PR_BAD_CAUSAL, PR_BAD_ARGUMENT, PR_BAD_DESC, PR_BAD_KV_LEN,
    PR_NEG_STRIDE, PR_SHORT_ROW, PR_NOT_INJECTIVE, PR_HEAD_MISMATCH,
    PR_BAD_DIM, PR_OVERFLOW,
    /* K/V caches (sdpa.h "K/V storage", "Paged K/V") */
    PR_BAD_DTYPE, PR_BAD_PAGE, PR_TABLE_SHORT, PR_PAGE_DIM, PR_MISALIGNED,
    PR_BWD_CACHE, PR_ON_TABLE, PR_COUNT
};

/* The entry point a probe calls. */
enum target { T_FWD_WS, T_FWD, T_SCORES, T_BWD_WS, T_BWD, T_WS_SIZE,
              T_BWD_WS_SIZE, T_COUNT };

/* Everything one call receives; starts as a valid call. */
typedef struct call {
    enum target t;
    attn_sdpa_desc d;
    const attn_sdpa_desc *dp;                 /* &d, or NULL */
    const float *q;
    const void *k, *v;                        /* d's storage and layout */
    int32_t *table;                           /* d's block table, writable */
    float *out, *weights, *lse, *scores;      /* forward outputs */
    const float *out_in, *lse_in, *dout;      /* backward inputs */
    float *dq, *dk, *dv, *dbias;              /* backward outputs */
    void *ws;
    size_t ws_bytes;
    size_t *bytes;                            /* workspace queries */
} call;

/* Buffers the calls write, all poisoned, plus the backward's inputs. */
typedef struct bufs {
    float *out, *weights, *lse, *dq, *dk, *dv, *dbias, *out_in, *lse_in;
    size_t n_out, n_w, n_lse, n_dq, n_dk, n_dv, n_dbias;
    void *ws;
    size_t ws_bytes;
    size_t bytes;
} bufs;

static float *poisoned(size_t n)
{
    float *x = malloc(n * sizeof *x);
    FUZZ_REQUIRE(x != NULL);
    fz_poison(x, n);
    return x;
}

static float *zeros(size_t n)
{
    float *x = calloc(n, sizeof *x);
    FUZZ_REQUIRE(x != NULL);
    return x;
}

/* Element loops live in fuzz_check.c, built without coverage. */
static int intact(const float *x, size_t n)
{
    return fz_all_poison(x, n);
}

static void bufs_alloc(const sdpa_case *c, bufs *b)
{
    const attn_sdpa_desc *d = &c->d;
    b->n_out = fz_span(c->os);
    b->n_lse = (size_t)(d->batch * d->q_heads * d->q_len);
    b->n_w = b->n_lse * (size_t)d->kv_len;
    b->n_dq = fz_span(c->qs);
    b->n_dk = fz_span(c->ks);
    b->n_dv = fz_span(c->vs);
    b->n_dbias = fz_span(c->bias_sh);
    b->out = poisoned(b->n_out);
    b->weights = poisoned(b->n_w);
    b->lse = poisoned(b->n_lse);
    b->dq = poisoned(b->n_dq);
    b->dk = poisoned(b->n_dk);
    b->dv = poisoned(b->n_dv);
    b->dbias = poisoned(b->n_dbias);
    b->out_in = zeros(b->n_out);
    b->lse_in = zeros(b->n_lse);
    /* Big enough for either workspace of either path (the forward's
     * with the case's K/V storage, the backward's with fp32 tensors). */
    size_t f = 0, g = 0;
    attn_sdpa_desc m = *d, mf = c->lib;
    m.num_threads = mf.num_threads = c->threads;
    FUZZ_REQUIRE(attn_sdpa_workspace_size(&mf, &f) == ATTN_OK);
    FUZZ_REQUIRE(attn_sdpa_backward_workspace_size(&m, &g) == ATTN_OK);
    m.algo = mf.algo = ATTN_ALGO_MATERIALIZED;
    b->ws_bytes = f > g ? f : g;
    FUZZ_REQUIRE(attn_sdpa_workspace_size(&mf, &f) == ATTN_OK);
    FUZZ_REQUIRE(attn_sdpa_backward_workspace_size(&m, &g) == ATTN_OK);
    b->ws_bytes = b->ws_bytes > f ? b->ws_bytes : f;
    b->ws_bytes = b->ws_bytes > g ? b->ws_bytes : g;
    b->ws = malloc(b->ws_bytes + 1);
    FUZZ_REQUIRE(b->ws != NULL);
}

static void bufs_check_free(bufs *b)
{
    FUZZ_REQUIRE(intact(b->out, b->n_out));
    FUZZ_REQUIRE(intact(b->weights, b->n_w));
    FUZZ_REQUIRE(intact(b->lse, b->n_lse));
    FUZZ_REQUIRE(intact(b->dq, b->n_dq));
    FUZZ_REQUIRE(intact(b->dk, b->n_dk));
    FUZZ_REQUIRE(intact(b->dv, b->n_dv));
    FUZZ_REQUIRE(intact(b->dbias, b->n_dbias));
    FUZZ_REQUIRE(fz_all_zero(b->out_in, b->n_out));
    FUZZ_REQUIRE(fz_all_zero(b->lse_in, b->n_lse));
    free(b->out); free(b->weights); free(b->lse);
    free(b->dq); free(b->dk); free(b->dv); free(b->dbias);
    free(b->out_in); free(b->lse_in); free(b->ws);
}

/* The workspace the call's own descriptor asks for (0 if it is invalid). */
static size_t need_of(const call *k)
{
    size_t n = 0;
    if (k->t == T_FWD_WS)
        attn_sdpa_workspace_size(&k->d, &n);
    else
        attn_sdpa_backward_workspace_size(&k->d, &n);
    return n;
}

/* The least workspace a call accepts: one thread's share, whatever the
 * thread count asked for (sdpa.h, Workspaces). */
static size_t least_of(const call *k)
{
    call one = *k;
    one.d.num_threads = 1;
    return need_of(&one);
}

static attn_status invoke(call *k)
{
    switch (k->t) {
    case T_FWD_WS:
        return attn_sdpa_forward_ws(k->dp, k->q, k->k, k->v, k->out,
                                    k->weights, k->lse, k->ws, k->ws_bytes);
    case T_FWD:
        return attn_sdpa_forward(k->dp, k->q, k->k, k->v, k->out, k->weights,
                                 k->lse);
    case T_SCORES:
        return attn_sdpa_scores(k->dp, k->q, k->k, k->scores);
    case T_BWD_WS:
        return attn_sdpa_backward_ws(k->dp, k->q, (const float *)k->k,
                                     (const float *)k->v, k->out_in,
                                     k->lse_in, k->dout, k->dq, k->dk, k->dv,
                                     k->dbias, k->ws, k->ws_bytes);
    case T_BWD:
        return attn_sdpa_backward(k->dp, k->q, (const float *)k->k,
                                  (const float *)k->v, k->out_in,
                                  k->lse_in, k->dout, k->dq, k->dk, k->dv,
                                  k->dbias);
    case T_WS_SIZE:
        return attn_sdpa_workspace_size(k->dp, k->bytes);
    default:
        return attn_sdpa_backward_workspace_size(k->dp, k->bytes);
    }
}

static int is_fwd(enum target t) { return t == T_FWD_WS || t == T_FWD; }
static int is_bwd(enum target t) { return t == T_BWD_WS || t == T_BWD; }
static int is_size(enum target t) { return t == T_WS_SIZE || t == T_BWD_WS_SIZE; }

/*
 * The call's entry point, with the descriptor and K, V it takes: the
 * case's K/V storage and pages (lib), except that the backward, which
 * refuses caches (PR_BWD_CACHE checks that), gets the same values as fp32
 * tensors (d). Probes call it before changing anything else.
 */
static void use_target(const sdpa_case *c, call *k, enum target t)
{
    const int fp32 = is_bwd(t) || t == T_BWD_WS_SIZE;
    k->t = t;
    k->d = fp32 ? c->d : c->lib;
    k->d.num_threads = c->threads;
    k->k = fp32 ? (const void *)c->k : c->lib_k;
    k->v = fp32 ? (const void *)c->v : c->lib_v;
    if (k->d.block_table) {
        memcpy(k->table, c->table, c->table_n * sizeof *k->table);
        k->d.block_table = k->table;
    }
}

/* Keys batch b of the call uses. */
static int64_t used_keys(const call *k, int64_t b)
{
    return k->d.kv_lens ? k->d.kv_lens[b] : k->d.kv_len;
}

/* Gives a call that is not paged the identity table: batch b's K and V
 * tensors are its only page (valid for every layout; batch stride 0
 * makes pages alias, which tables may). */
static void make_paged(call *k)
{
    attn_sdpa_desc *d = &k->d;
    if (d->block_table)
        return;
    for (int64_t b = 0; b < d->batch; ++b)
        k->table[b] = (int32_t)b;
    d->block_table = k->table;
    d->max_pages = 1;
    d->page_size = d->kv_len;
    d->num_pages = d->batch;
}

/* Pages the batches of a paged call use, at most. */
static int64_t most_pages(const call *k)
{
    int64_t most = 0;
    for (int64_t b = 0; b < k->d.batch; ++b) {
        const int64_t n = (used_keys(k, b) + k->d.page_size - 1) / k->d.page_size;
        most = n > most ? n : most;
    }
    return most;
}

/* The page probes need an entry point that takes the case's pages: the
 * backward's calls here get fp32 tensors (use_target). */
static void forward_side(const sdpa_case *c, call *k)
{
    if (is_bwd(k->t) || k->t == T_BWD_WS_SIZE)
        use_target(c, k, k->t == T_BWD_WS_SIZE ? T_WS_SIZE : T_FWD_WS);
}

/* attn_strides of the tensor `which` (0 q, 1 k, 2 v, 3 out). */
static attn_strides *strides_of(attn_sdpa_desc *d, int which)
{
    attn_strides *s[4] = {&d->q_strides, &d->k_strides, &d->v_strides,
                          &d->out_strides};
    return s[which & 3];
}

/*
 * Applies the probe to k; returns the status it must give, -1 when the
 * probe does not apply to this case (then nothing is called), or -2 for
 * a call with two errors whose order is not documented (the backward
 * given 16-bit pages: ATTN_ERR_BAD_DTYPE or ATTN_ERR_BAD_ARGUMENT).
 */
static int apply(const sdpa_case *c, call *k, enum probe p, unsigned x,
                 int64_t *bad_lens)
{
    attn_sdpa_desc *d = &k->d;
    switch (p) {
    case PR_NULL_DESC:
        k->dp = NULL;
        return ATTN_ERR_NULL_POINTER;
    case PR_NULL_Q:
    case PR_NULL_K:
        if (is_size(k->t))
            use_target(c, k, T_FWD_WS);
        if (p == PR_NULL_Q)
            k->q = NULL;
        else
            k->k = NULL;
        return ATTN_ERR_NULL_POINTER;
    case PR_NULL_V:
        if (!is_fwd(k->t) && !is_bwd(k->t))
            use_target(c, k, T_FWD);
        k->v = NULL;
        return ATTN_ERR_NULL_POINTER;
    case PR_NULL_OUT:
        k->out = NULL;
        k->scores = NULL;
        k->out_in = NULL;
        k->bytes = NULL;
        return ATTN_ERR_NULL_POINTER;
    case PR_NULL_LSE:
    case PR_NULL_DOUT:
        if (!is_bwd(k->t))
            use_target(c, k, T_BWD);
        if (p == PR_NULL_LSE)
            k->lse_in = NULL;
        else
            k->dout = NULL;
        return ATTN_ERR_NULL_POINTER;
    case PR_NULL_WS:
    case PR_WS_SMALL: {
        use_target(c, k, x & 1 ? T_BWD_WS : T_FWD_WS);
        const size_t need = least_of(k);
        if (need == 0)
            return -1;
        if (p == PR_NULL_WS) {
            k->ws = NULL;
            return ATTN_ERR_NULL_POINTER;
        }
        k->ws_bytes = need - 1 - (x >> 1) % need;
        return ATTN_ERR_WORKSPACE_TOO_SMALL;
    }
    case PR_OUT_IS_Q:
        /* Every output in turn may sit on q. */
        if (is_size(k->t))
            use_target(c, k, T_FWD);
        k->out = k->scores = k->dq = (float *)c->q;
        if (is_bwd(k->t) && (x & 1))
            k->dq = NULL, k->dk = (float *)c->q;
        return ATTN_ERR_ALIASING;
    case PR_LSE_IN_WEIGHTS:
        use_target(c, k, x & 1 ? T_FWD_WS : T_FWD);
        k->lse = k->weights + (x >> 1) % (size_t)(d->batch * d->q_heads *
                                                  d->q_len * d->kv_len);
        return ATTN_ERR_ALIASING;
    case PR_WS_IS_OUT:
        use_target(c, k, x & 1 ? T_BWD_WS : T_FWD_WS);
        k->ws = x & 2 ? (void *)(x & 1 ? k->dk : k->out)
                      : (void *)(x & 1 ? k->dbias : k->lse);
        k->ws_bytes = need_of(k);
        if (k->ws_bytes == 0)
            return -1;
        return ATTN_ERR_ALIASING;
    case PR_OUT_ON_INPUT: {
        if (is_size(k->t))
            use_target(c, k, T_FWD_WS);
        /* An output on k, v, the keep mask, the bias, kv_lens or the
         * block table. */
        float *on[6] = {(float *)k->k, (float *)k->v, (float *)c->keep,
                        c->bias, (float *)d->kv_lens,
                        (float *)(void *)d->block_table};
        float *target = on[x % 6];
        /* attn_sdpa_scores does not read v: no aliasing there. */
        if (target == NULL || (k->t == T_SCORES && target == on[1]))
            target = on[0];
        if (is_fwd(k->t))
            k->weights = target;
        k->scores = target;
        if (is_bwd(k->t)) {
            if (x & 8)
                k->dq = target;
            else
                k->dbias = target;
        }
        return ATTN_ERR_ALIASING;
    }
    case PR_GRADS_OVERLAP:
        use_target(c, k, x & 1 ? T_BWD : T_BWD_WS);
        /* Two gradients on one buffer, or one on a backward input. */
        switch ((x >> 1) % 4) {
        case 0: k->dk = k->dv; break;
        case 1: k->dv = (float *)k->out_in; break;
        case 2: k->dbias = (float *)k->lse_in; break;
        default: k->dq = (float *)k->dout; break;
        }
        return ATTN_ERR_ALIASING;
    case PR_BAD_SCALE: {
        const float bad[6] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
        d->scale = bad[x % 6];
        return ATTN_ERR_BAD_SCALE;
    }
    case PR_BAD_CAUSAL: {
        const int bad[3] = {3, -1, 1000};
        d->causal = (attn_causal)bad[x % 3];
        return ATTN_ERR_BAD_CAUSAL;
    }
    case PR_BAD_ARGUMENT:
        if (x & 1)
            d->num_threads = -1 - (int)(x >> 1);
        else
            d->algo = (attn_algo)(x & 2 ? 3 : -1);
        return ATTN_ERR_BAD_ARGUMENT;
    case PR_BAD_DESC: {
        /* below the first released descriptor (which ended where kv_dtype
         * begins), or from a newer header */
        const size_t bad[4] = {0, offsetof(attn_sdpa_desc, kv_dtype) - 1,
                               sizeof *d + 8, sizeof(size_t)};
        d->struct_size = bad[x % 4];
        return ATTN_ERR_BAD_DESC;
    }
    case PR_BAD_KV_LEN: {
        const int64_t bad[4] = {-1, d->kv_len + 1, INT64_MIN, INT64_MAX};
        memcpy(bad_lens, c->kv_lens, sizeof c->kv_lens);
        bad_lens[(x >> 2) % d->batch] = bad[x % 4];
        d->kv_lens = bad_lens;
        return ATTN_ERR_BAD_KV_LEN;
    }
    case PR_NEG_STRIDE: {
        attn_strides *s = strides_of(d, (int)x);
        if ((x & 4) && d->keep_mask)
            s = &d->keep_strides;
        if ((x & 8) && d->bias)
            s = &d->bias_strides;
        int64_t *f[3] = {&s->batch, &s->head, &s->row};
        *f[(x >> 4) % 3] = -1 - (int64_t)(x >> 6);
        return ATTN_ERR_BAD_STRIDE;
    }
    case PR_SHORT_ROW: {
        const int which = (int)(x & 3);
        /* K and V rows: a page's when paged */
        const int64_t kv_rows = d->block_table ? d->page_size : d->kv_len;
        const int64_t rows = which == 1 || which == 2 ? kv_rows : d->q_len;
        const int64_t last = which == 0 || which == 1 ? d->head_dim
                                                      : d->v_head_dim;
        if (rows < 2)
            return -1;
        strides_of(d, which)->row = last - 1 - (int64_t)((x >> 2) % last);
        return ATTN_ERR_BAD_STRIDE;
    }
    case PR_NOT_INJECTIVE:
        if (!is_fwd(k->t))
            use_target(c, k, T_FWD_WS);
        /* Heads that start inside each other's rows, or a zero stride. */
        if ((x & 1) && d->q_heads > 1)
            d->out_strides.head = (int64_t)(x >> 1) % d->v_head_dim;
        else if (d->batch > 1)
            d->out_strides.batch = 0;
        else if (d->q_heads > 1)
            d->out_strides.head = 0;
        else
            return -1;
        return ATTN_ERR_BAD_STRIDE;
    case PR_HEAD_MISMATCH:
        d->kv_heads = d->q_heads + 1 + (int64_t)(x % 3);
        return ATTN_ERR_HEAD_MISMATCH;
    case PR_BAD_DIM: {
        int64_t *f[7] = {&d->batch, &d->q_heads, &d->kv_heads, &d->q_len,
                         &d->kv_len, &d->head_dim, &d->v_head_dim};
        *f[x % 7] = x & 8 ? INT64_MIN : -(int64_t)((x >> 4) % 3);
        return ATTN_ERR_BAD_DIMENSION;
    }
    case PR_OVERFLOW:
        switch (x % 3) {
        case 0: /* the span of q does not fit size_t */
            d->q_len = INT64_MAX;
            break;
        case 1: /* kv_len does not fit the BLAS int */
            d->kv_len = (int64_t)INT_MAX + 1 + (int64_t)(x >> 2);
            break;
        default: /* a row stride that does not */
            if (d->q_len < 2)
                return -1;
            d->out_strides.row = (int64_t)INT_MAX + 1;
            break;
        }
        return ATTN_ERR_SIZE_OVERFLOW;
    case PR_BAD_DTYPE: {
        const int bad[4] = {3, 7, -1, INT_MAX};
        d->kv_dtype = (attn_dtype)(x & 4 ? 3 + (int)(x >> 3) : bad[x % 4]);
        return ATTN_ERR_BAD_DTYPE;
    }
    case PR_BAD_PAGE: {
        forward_side(c, k);
        make_paged(k);
        /* a used entry of batch x % B (or of the other one) */
        int64_t b = (int64_t)(x % (unsigned)d->batch);
        if (used_keys(k, b) == 0)
            b = d->batch - 1 - b;
        const int64_t n = (used_keys(k, b) + d->page_size - 1) / d->page_size;
        if (n == 0)
            return -1;
        const int32_t bad[4] = {-1, (int32_t)d->num_pages, INT32_MIN, INT32_MAX};
        k->table[b * d->max_pages + (int64_t)(x >> 2) % n] =
            x & 32 ? (int32_t)d->num_pages + (int32_t)(x >> 6) : bad[x % 4];
        return ATTN_ERR_BAD_PAGE;
    }
    case PR_TABLE_SHORT: {
        forward_side(c, k);
        make_paged(k);
        const int64_t most = most_pages(k);
        if (most < 2)
            return -1;
        d->max_pages = 1 + (int64_t)x % (most - 1);
        return ATTN_ERR_BLOCK_TABLE_SHORT;
    }
    case PR_PAGE_DIM: {
        forward_side(c, k);
        make_paged(k);
        int64_t *f[3] = {&d->page_size, &d->max_pages, &d->num_pages};
        *f[x % 3] = x & 4 ? INT64_MIN : -(int64_t)((x >> 3) % 3);
        return ATTN_ERR_BAD_DIMENSION;
    }
    case PR_MISALIGNED: {
        forward_side(c, k);
        if (k->t == T_WS_SIZE) /* no data pointers there */
            use_target(c, k, T_FWD);
        const unsigned elem = d->kv_dtype == ATTN_DTYPE_F32 ? 4 : 2;
        const unsigned off = 1 + (x >> 1) % (elem - 1);
        /* attn_sdpa_scores reads no v: misalign k there */
        if ((x & 1) && k->t != T_SCORES)
            k->v = (const char *)k->v + off;
        else
            k->k = (const char *)k->k + off;
        return ATTN_ERR_MISALIGNED;
    }
    case PR_BWD_CACHE: {
        /* the backward with a 16-bit storage type or a table */
        const enum target t[3] = {T_BWD, T_BWD_WS, T_BWD_WS_SIZE};
        use_target(c, k, t[x % 3]);
        if (c->cache) { /* the case's own cache, as the forward read it */
            *d = c->lib;
            d->num_threads = c->threads;
            k->k = c->lib_k;
            k->v = c->lib_v;
            if (c->lib.block_table) {
                memcpy(k->table, c->table, c->table_n * sizeof *k->table);
                d->block_table = k->table;
            }
        } else if (x & 4) {
            make_paged(k);
        } else {
            d->kv_dtype = x & 8 ? ATTN_DTYPE_BF16 : ATTN_DTYPE_F16;
        }
        if (d->kv_dtype != ATTN_DTYPE_F32 && d->block_table)
            return -2; /* both wrong: either status */
        return d->kv_dtype != ATTN_DTYPE_F32 ? ATTN_ERR_BAD_DTYPE
                                             : ATTN_ERR_BAD_ARGUMENT;
    }
    case PR_ON_TABLE: {
        /* an output or the workspace on the block table */
        forward_side(c, k);
        if (k->t == T_WS_SIZE)
            use_target(c, k, T_FWD_WS);
        make_paged(k);
        float *t = (float *)(void *)k->table;
        switch ((x >> 1) % 4) {
        case 0: k->out = k->scores = t; break;
        case 1: k->weights = k->scores = t; break;
        case 2: /* one entry in, when there is a second one */
            k->lse = k->scores = t + (d->batch * d->max_pages > 1 ? (x >> 3) % 2 : 0);
            break;
        default:
            if (k->t == T_FWD_WS)
                k->ws = t;
            else
                k->out = k->scores = t;
            break;
        }
        return ATTN_ERR_ALIASING;
    }
    default:
        return -1;
    }
}

void sdpa_check_probe(const sdpa_case *c)
{
    const enum probe p = (enum probe)(c->probe % PR_COUNT);
    const unsigned x = (unsigned)c->probe_detail;
    bufs b;
    bufs_alloc(c, &b);
    call k;
    memset(&k, 0, sizeof k);
    int32_t table[SDPA_MAX_TABLE] = {0};
    k.table = table;
    use_target(c, &k, (enum target)((x >> 5) % T_COUNT));
    k.dp = &k.d;
    k.q = c->q;
    k.out = b.out; k.weights = b.weights; k.lse = b.lse; k.scores = b.weights;
    k.out_in = b.out_in; k.lse_in = b.lse_in; k.dout = c->dout;
    k.dq = b.dq; k.dk = b.dk; k.dv = b.dv; k.dbias = b.dbias;
    k.ws = b.ws; k.ws_bytes = b.ws_bytes;
    k.bytes = &b.bytes;
    int64_t bad_lens[SDPA_MAX_B];
    const int want = apply(c, &k, p, x, bad_lens);
    int32_t table0[SDPA_MAX_TABLE];
    memcpy(table0, table, sizeof table);
    if (want >= 0 || want == -2) {
        const attn_status got = invoke(&k);
        if (fuzz_verbose() && want >= 0 && (int)got != want)
            fuzz_fail(attn_strerror(got), __FILE__, (int)p);
        if (want == -2) /* two errors at once: either one */
            FUZZ_REQUIRE(got == ATTN_ERR_BAD_DTYPE || got == ATTN_ERR_BAD_ARGUMENT);
        else
            FUZZ_REQUIRE((int)got == want);
    }
    FUZZ_REQUIRE(memcmp(table0, table, sizeof table) == 0);
    FUZZ_REQUIRE(sdpa_case_inputs_intact(c));
    bufs_check_free(&b);
}
