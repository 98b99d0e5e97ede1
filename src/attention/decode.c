/*
 * The decoding path: a few query rows against many keys, bound by the
 * reading of K and V. A task is (batch, kv heads, key chunk); per kv head
 * it packs the query rows of every query head that shares it (group x Tq
 * rows) so each K and V row is read once per call, not once per query
 * head, and walks its keys in blocks, every head of the task in each block
 * (tiles.h): scores by a vectorised kernel that reads each key row once
 * (sgemm would pack the K tile first, a second pass over the bytes that
 * bound the step), the online-softmax pass of the fused path, and
 * O += P V by a kernel that reads each value row once.
 *
 * Chunks (tiles.h) are fixed by the shape; each writes a partial output
 * and log-sum-exp, merged afterwards in chunk order (api/merge_row.h), so
 * results are bit-identical for every thread count.
 */
#include "attention/decode.h"

#include <math.h>
#include <string.h>

#include "api/merge_row.h"
#include "attention/block.h"
#include "plan/kv_source.h"
#include "plan/packed.h"
#include "plan/parallel.h"

/* Chunking: the shape's, never the thread count's. */
typedef struct dec_layout {
    int64_t rows;           /* M: group x Tq packed rows */
    int64_t heads;          /* kv heads per task, dividing Hkv */
    int64_t chunks;         /* key chunks per (batch, kv head) */
    int64_t chunk_keys;     /* keys per chunk, a multiple of the block */
    int64_t block;          /* keys per block: ATTN_DECODE_KEYS, at most Tk */
    size_t partial_floats;  /* one chunk's outputs: B Hkv M dv */
} dec_layout;

static dec_layout layout_of(const sdpa_plan *p)
{
    const attn_sdpa_desc *d = &p->d;
    dec_layout L;
    L.rows = p->group * d->q_len;
    L.block = d->kv_len < ATTN_DECODE_KEYS ? d->kv_len : ATTN_DECODE_KEYS;
    const int64_t pairs = d->batch * d->kv_heads;
    /* kv heads whose packed Q and O rows fit ATTN_DECODE_HEAD_BYTES (the
     * head sizes compared first, so that no product overflows; none
     * without rows) */
    const int64_t dims = d->head_dim + d->v_head_dim;
    const int64_t head_bytes =
        dims > ATTN_DECODE_HEAD_BYTES ? 0 : L.rows * dims * (int64_t)sizeof(float);
    const int64_t fit = head_bytes > 0 ? ATTN_DECODE_HEAD_BYTES / head_bytes : 0;
    const int64_t grouped_most = (d->kv_len + ATTN_DECODE_GROUP_CHUNK - 1) /
                                 ATTN_DECODE_GROUP_CHUNK;
    L.heads = 1;
    for (int64_t h = d->kv_heads; h > 1; --h)
        if (d->kv_heads % h == 0 && h <= fit &&
            (pairs / h) * grouped_most >= ATTN_DECODE_TASKS) {
            L.heads = h;
            break;
        }
    const int64_t min_chunk =
        L.heads > 1 ? ATTN_DECODE_GROUP_CHUNK : ATTN_DECODE_MIN_CHUNK;
    const int64_t most = (d->kv_len + min_chunk - 1) / min_chunk;
    const int64_t tasks = pairs / L.heads; /* before chunking */
    int64_t chunks = tasks >= ATTN_DECODE_TASKS
                         ? 1 : (ATTN_DECODE_TASKS + tasks - 1) / tasks;
    if (chunks > most)
        chunks = most;
    /* rows of every head: B Hq Tq = pairs M; plus a float of lse each */
    L.partial_floats = (size_t)(pairs * L.rows) * (size_t)(d->v_head_dim + 1);
    const size_t cap = ATTN_DECODE_MAX_PARTIALS / sizeof(float) / L.partial_floats;
    if (chunks > 1 && (size_t)chunks > cap)
        chunks = cap > 1 ? (int64_t)cap : 1;
    L.chunks = chunks > 1 ? chunks : 1;
    const int64_t per = (d->kv_len + L.chunks - 1) / L.chunks;
    L.chunk_keys = (per + ATTN_DECODE_KEYS - 1) / ATTN_DECODE_KEYS * ATTN_DECODE_KEYS;
    return L;
}

int attni_decode_applies(const sdpa_plan *p)
{
    return p->d.algo == ATTN_ALGO_AUTO && !attni_packed(&p->d) &&
           p->d.q_len <= ATTN_DECODE_MAX_Q &&
           p->group * p->d.q_len <= ATTN_DECODE_MAX_ROWS;
}

/* Per-thread scratch: for every kv head of the task, its packed Q, output
 * rows and online-softmax state (H = L.heads); the score block and the
 * per-block state, one head at a time. head_scratch views one head. */
typedef struct dec_scratch {
    float *Q;               /* (H, M, d) */
    float *O;               /* (H, M, dv) */
    float *row_max;         /* (H, M) */
    double *row_sum;        /* (H, M) */
    unsigned char *has_nan; /* (H, M) */
    float *S;               /* (M, block) */
    float *old_max, *alpha; /* (M) each */
    unsigned char *redo;    /* (M) */
} dec_scratch;

static size_t scratch_bytes(const sdpa_plan *p, const dec_layout *L)
{
    const size_t m = (size_t)L->rows, hm = (size_t)L->heads * m, f = sizeof(float);
    return attni_workspace_round(hm * (size_t)p->d.head_dim * f) +
           attni_workspace_round(hm * (size_t)p->d.v_head_dim * f) +
           attni_workspace_round(hm * f) +
           attni_workspace_round(hm * sizeof(double)) + attni_workspace_round(hm) +
           attni_workspace_round(m * (size_t)L->block * f) +
           2 * attni_workspace_round(m * f) + attni_workspace_round(m);
}

attn_status attni_decode_shape(const sdpa_plan *p, attn_ws_shape *shape)
{
    const dec_layout L = layout_of(p);
    shape->per_thread = scratch_bytes(p, &L);
    shape->shared = L.chunks > 1
                        ? attni_workspace_round((size_t)L.chunks * L.partial_floats * sizeof(float))
                        : 0;
    return ATTN_OK; /* M <= ATTN_DECODE_MAX_ROWS: sizes far from overflow */
}

static dec_scratch carve(void *workspace, size_t shared, const sdpa_plan *p,
                         const dec_layout *L, int thread)
{
    char *c = (char *)attni_workspace_floats(workspace) + shared +
              (size_t)thread * scratch_bytes(p, L);
    const size_t m = (size_t)L->rows, hm = (size_t)L->heads * m, f = sizeof(float);
    dec_scratch s;
    s.Q = (float *)c;        c += attni_workspace_round(hm * (size_t)p->d.head_dim * f);
    s.O = (float *)c;        c += attni_workspace_round(hm * (size_t)p->d.v_head_dim * f);
    s.row_max = (float *)c;  c += attni_workspace_round(hm * f);
    s.row_sum = (double *)c; c += attni_workspace_round(hm * sizeof(double));
    s.has_nan = (unsigned char *)c; c += attni_workspace_round(hm);
    s.S = (float *)c;        c += attni_workspace_round(m * (size_t)L->block * f);
    s.old_max = (float *)c;  c += attni_workspace_round(m * f);
    s.alpha = (float *)c;    c += attni_workspace_round(m * f);
    s.redo = (unsigned char *)c;
    return s;
}

/* The scratch of the task's h-th kv head. */
static dec_scratch head_scratch(const dec_scratch *all, const sdpa_plan *p,
                                const dec_layout *L, int64_t h)
{
    dec_scratch s = *all;
    const int64_t m = L->rows;
    s.Q += h * m * p->d.head_dim;
    s.O += h * m * p->d.v_head_dim;
    s.row_max += h * m;
    s.row_sum += h * m;
    s.has_nan += h * m;
    return s;
}

typedef struct dec_ctx {
    const sdpa_plan *p;
    dec_layout L;
    const float *q;
    const void *k, *v;      /* kv_dtype, strided or paged */
    float *out, *lse;
    float *partials;        /* (chunks, B, Hkv, M, dv) then (chunks, B, Hkv, M) */
    size_t shared;          /* bytes of partials in the workspace */
    void *workspace;
} dec_ctx;

/* Packed row r is query head hk * group + r / Tq, query row r % Tq. */
static head_offsets row_offsets(const dec_ctx *c, int64_t b, int64_t hk,
                                int64_t r)
{
    return attni_head_offsets(c->p, b, hk * c->p->group + r / c->p->d.q_len);
}

/* Scores of packed rows [r0, r0 + m) against the n keys at krows,
 * [j0, j0 + n), masked; kahead as the kernel takes it. */
static void scores(const dec_ctx *c, const dec_scratch *s, int64_t b,
                   int64_t hk, int64_t r0, int64_t m, int64_t j0, int64_t n,
                   const void *const *krows, const void *const *kahead)
{
    const attn_sdpa_desc *d = &c->p->d;
    c->p->kernels->dot_rows[d->kv_dtype](s->Q + r0 * d->head_dim, m,
                                         d->head_dim, krows, n, d->scale,
                                         s->S + r0 * c->L.block, c->L.block,
                                         kahead);
    for (int64_t r = r0; r < r0 + m; ++r) {
        const head_offsets ro = row_offsets(c, b, hk, r);
        attni_mask_scores(c->p, &ro, r % d->q_len, j0, n,
                          s->S + r * c->L.block, NULL);
    }
}

/* out[j]: the row a fixed distance of bytes after row j of this step,
 * counted on into the next step's rows (the last one repeated at the
 * end): the kernels fetch it while computing row j. A short distance,
 * covered at the pace the rows are read, keeps memory busy; fetching the
 * whole next block during this one measured 1.1-1.45x slower. */
static void ahead_rows(const void *const *cur, int64_t n,
                       const void *const *next, int64_t next_n,
                       int64_t row_bytes, const void **out)
{
    const int64_t ahead = ATTN_DECODE_AHEAD_BYTES / row_bytes > 1
                              ? ATTN_DECODE_AHEAD_BYTES / row_bytes : 1;
    for (int64_t j = 0; j < n; ++j) {
        const int64_t a = j + ahead;
        if (a < n)
            out[j] = cur[a];
        else if (next) /* NULL when there is no next step */
            out[j] = next[a - n < next_n ? a - n : next_n - 1];
        else
            out[j] = cur[n - 1];
    }
}

/* The packed rows' outputs (normalised) and lse, to `out` rows laid out as
 * the call's (the sink joined), or to a chunk's partials (without it: it
 * joins once, at the merge). */
static void finish(const dec_ctx *c, const dec_scratch *s, int64_t b,
                   int64_t hk, int64_t chunk)
{
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t M = c->L.rows, dv = d->v_head_dim;
    const int64_t pair = b * d->kv_heads + hk;
    for (int64_t r = 0; r < M; ++r) {
        const head_offsets ro = row_offsets(c, b, hk, r);
        const float sink = c->L.chunks == 1 ? ro.sink : -INFINITY;
        float *dst, *lse_dst;
        if (c->L.chunks == 1) {
            dst = c->out + ro.out + (r % d->q_len) * d->out_strides.row;
            lse_dst = c->lse ? c->lse + (b * d->q_heads + hk * c->p->group) * d->q_len + r
                             : NULL;
        } else {
            const size_t at = (size_t)(chunk * d->batch * d->kv_heads + pair) *
                              (size_t)M + (size_t)r;
            dst = c->partials + at * (size_t)dv;
            lse_dst = c->partials + (size_t)c->L.chunks * (size_t)(d->batch * d->kv_heads) *
                                        (size_t)M * (size_t)dv + at;
        }
        float l;
        if (s->has_nan[r]) {
            for (int64_t j = 0; j < dv; ++j)
                dst[j] = NAN;
            l = NAN;
        } else if (s->row_max[r] == -INFINITY) {
            memset(dst, 0, (size_t)dv * sizeof *dst);
            l = sink;
        } else {
            const float f = attni_sink_join(
                s->row_max[r] + (float)log(s->row_sum[r]), sink, &l);
            const float inv = (float)(f / s->row_sum[r]);
            for (int64_t j = 0; j < dv; ++j)
                dst[j] = s->O[r * dv + j] * inv;
        }
        if (lse_dst)
            *lse_dst = l;
    }
}

/* A task's walk: block by block, kv head by kv head. */
typedef struct dec_step {
    int64_t h, j0, n;       /* the task's h-th kv head, keys [j0, j0 + n) */
} dec_step;

/* The step after `at` in a task whose keys end at `end`; n = 0: none. */
static dec_step next_step(const dec_layout *L, dec_step at, int64_t end)
{
    if (++at.h < L->heads)
        return at;
    at.h = 0;
    at.j0 += at.n;
    at.n = end - at.j0 < L->block ? end - at.j0 : L->block;
    return at;
}

/* The K or V rows of step t of a task at kv head hk0 + t.h; NULL when
 * there is no such step. */
static const void **step_rows(const dec_ctx *c, const void *base,
                              attn_strides strides, int64_t b, int64_t hk0,
                              dec_step t, const void **rows)
{
    if (t.n <= 0)
        return NULL;
    const kv_source src =
        attni_kv_source(&c->p->d, base, strides, b, hk0 + t.h);
    attni_kv_rows(&src, t.j0, t.n, rows);
    return rows;
}

/* A step's K and V row pointers. */
typedef struct step_kv {
    const void *k[ATTN_DECODE_KEYS], *v[ATTN_DECODE_KEYS];
} step_kv;

/* One step of a task at kv head hk0 over the rows in cur: scores, the
 * online-softmax step and O += P V for its head, fetching rows ahead, on
 * into the next step's (the next head's, so that a page's heads are read
 * together). The next step's rows are left in next. */
static void head_block(const dec_ctx *c, const dec_scratch *s, int64_t b,
                       int64_t hk0, dec_step t, int64_t end,
                       const step_kv *cur, step_kv *next)
{
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t M = c->L.rows, dv = d->v_head_dim, bk = c->L.block;
    const int64_t hk = hk0 + t.h, j0 = t.j0, n = t.n;
    const void *const *krows = cur->k, *const *vrows = cur->v;
    const dec_step u = next_step(&c->L, t, end);
    const int64_t es = (int64_t)attni_dtype_size(d->kv_dtype);
    const void *kahead[ATTN_DECODE_KEYS], *vahead[ATTN_DECODE_KEYS];
    ahead_rows(krows, n, step_rows(c, c->k, d->k_strides, b, hk0, u, next->k),
               u.n, d->head_dim * es, kahead);
    ahead_rows(vrows, n, step_rows(c, c->v, d->v_strides, b, hk0, u, next->v),
               u.n, d->v_head_dim * es, vahead);
    scores(c, s, b, hk, 0, M, j0, n, krows, kahead);
    memcpy(s->old_max, s->row_max, (size_t)M * sizeof *s->old_max);
    c->p->kernels->softmax(s->S, M, n, bk, d->alibi_slopes != NULL, s->row_max,
                           s->row_sum, s->alpha, s->has_nan, s->redo);
    for (int64_t r = 0; r < M; ++r)
        if (s->redo[r]) { /* a score rose too far for one pass: again */
            scores(c, s, b, hk, r, 1, j0, n, krows, NULL);
            c->p->kernels->softmax(s->S + r * bk, 1, n, bk, 1, s->row_max + r,
                                   s->row_sum + r, s->alpha + r,
                                   s->has_nan + r, s->redo + r);
        }
    attni_rescale_rows(s->O, s->alpha, s->old_max, M, dv);
    c->p->kernels->axpy_rows[d->kv_dtype](s->S, bk, M, n, vrows, dv, s->O,
                                          vahead);
}

static void chunk_task(const void *arg, int64_t task, int thread)
{
    const dec_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t M = c->L.rows, Tq = d->q_len, dv = d->v_head_dim;
    const int64_t H = c->L.heads, chunk = task % c->L.chunks;
    const int64_t pair0 = task / c->L.chunks * H;
    const int64_t b = pair0 / d->kv_heads, hk0 = pair0 % d->kv_heads;
    const dec_scratch all = carve(c->workspace, c->shared, c->p, &c->L, thread);

    for (int64_t h = 0; h < H; ++h) { /* pack the rows of each group */
        const dec_scratch s = head_scratch(&all, c->p, &c->L, h);
        for (int64_t r = 0; r < M; ++r) {
            const head_offsets ro = row_offsets(c, b, hk0 + h, r);
            memcpy(s.Q + r * d->head_dim,
                   c->q + ro.q + (r % Tq) * d->q_strides.row,
                   (size_t)d->head_dim * sizeof *s.Q);
            s.row_max[r] = -INFINITY;
            s.row_sum[r] = 0.0;
            s.has_nan[r] = 0;
        }
        memset(s.O, 0, (size_t)(M * dv) * sizeof *s.O);
    }
    /* the same keys for every head of the batch */
    const head_offsets o = attni_head_offsets(c->p, b, hk0 * c->p->group);
    attn_key_range keys = attni_block_keys(d, &o, 0, Tq - 1);
    const int64_t c0 = chunk * c->L.chunk_keys, c1 = c0 + c->L.chunk_keys;
    keys.begin = keys.begin > c0 ? keys.begin : c0;
    keys.end = keys.end < c1 ? keys.end : c1;
    const int64_t n0 = keys.end - keys.begin;
    step_kv rows[2]; /* this step's and the next's, swapped step by step */
    step_kv *cur = &rows[0], *next = &rows[1];
    dec_step t = {0, keys.begin, n0 < c->L.block ? n0 : c->L.block};
    step_rows(c, c->k, d->k_strides, b, hk0, t, cur->k);
    step_rows(c, c->v, d->v_strides, b, hk0, t, cur->v);
    for (; t.n > 0; t = next_step(&c->L, t, keys.end)) {
        const dec_scratch s = head_scratch(&all, c->p, &c->L, t.h);
        head_block(c, &s, b, hk0, t, keys.end, cur, next);
        step_kv *done = cur;
        cur = next;
        next = done;
    }
    for (int64_t h = 0; h < H; ++h) {
        const dec_scratch s = head_scratch(&all, c->p, &c->L, h);
        finish(c, &s, b, hk0 + h, chunk);
    }
}

/* out rows of one (batch, kv head): the chunks' partials merged in chunk
 * order. */
static void merge_task(const void *arg, int64_t pair, int thread)
{
    (void)thread;
    const dec_ctx *c = arg;
    const attn_sdpa_desc *d = &c->p->d;
    const int64_t M = c->L.rows, dv = d->v_head_dim, pairs = d->batch * d->kv_heads;
    const int64_t b = pair / d->kv_heads, hk = pair % d->kv_heads;
    const float *lses = c->partials + (size_t)c->L.chunks * (size_t)(pairs * M) * (size_t)dv;
    for (int64_t r = 0; r < M; ++r) {
        const head_offsets ro = row_offsets(c, b, hk, r);
        const size_t at = (size_t)(pair * M + r);
        float l, *dst = c->out + ro.out + (r % d->q_len) * d->out_strides.row;
        attni_merge_row(c->L.chunks, pairs * M, dv, c->partials + at * (size_t)dv,
                        pairs * M * dv, lses + at, dst, &l);
        const float f = attni_sink_join(l, ro.sink, &l);
        if (f != 1.0f && !isnan(f))
            for (int64_t j = 0; j < dv; ++j)
                dst[j] *= f;
        if (c->lse)
            c->lse[(b * d->q_heads + hk * c->p->group) * d->q_len + r] = l;
    }
}

void attni_decode_forward(const sdpa_plan *p, int threads, const float *q,
                          const void *k, const void *v, float *out,
                          float *lse, void *workspace)
{
    dec_ctx c;
    attn_ws_shape shape;
    attni_decode_shape(p, &shape);
    c.p = p;
    c.L = layout_of(p);
    c.q = q;
    c.k = k;
    c.v = v;
    c.out = out;
    c.lse = lse;
    c.workspace = workspace;
    c.shared = shape.shared;
    c.partials = attni_workspace_floats(workspace);
    const int64_t pairs = p->d.batch * p->d.kv_heads;
    attni_parallel_for(pairs / c.L.heads * c.L.chunks, threads, chunk_task, &c);
    if (c.L.chunks > 1)
        attni_parallel_for(pairs, threads, merge_task, &c);
}
