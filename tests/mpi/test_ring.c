/*
 * Ring attention against the float64 reference and the single-process
 * library, under mpiexec with any number of ranks (ctest runs 1..4): for
 * each case every rank builds the same global sequence, takes its shard
 * (attn_ring_scatter, or attn_ring_shard_rows into strided layouts), runs
 * attn_ring_forward and attn_ring_backward twice (bit-identical runs), and
 * rank 0 compares the gathered (attn_ring_gather) results with the
 * reference: forward within ATTN_TEST_RING_FWD_TOL, gradients within
 * ATTN_TEST_RING_BWD_TOL (ring_tolerance.h). Plain C, no cmocka: a failed
 * check on any rank fails the program on every rank (exit 1).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <attention/attention.h>
#include <attention/ring.h>

#include "reference.h"
#include "ring_reference.h"
#include "ring_tolerance.h"
#include "testutil.h"

typedef struct ring_case {
    const char *name;
    int64_t B, Hq, Hkv, lq, lk, d, dv; /* lq, lk: rows per rank */
    attn_causal causal;
    attn_ring_layout layout;
    int padded;   /* global kv_lens: Tk - 3, Tk / 3 + 1, 0, ... */
    int strided;  /* (B, T, H, d) local layouts through attn_ring_shard_rows */
    /* The variants (global, as attn_sdpa_desc's): */
    int windowed;          /* window_left = wl, window_right = wr */
    int64_t wl, wr;
    int alibi;             /* per-batch slopes (B, Hq) */
    float softcap;
    int sinks;             /* per-head sinks, head 1 without (-INFINITY) */
} ring_case;

static int g_rank, g_world;

/* The check that every rank agrees on: nonzero when any rank failed. */
static int any_failed(int local_fail)
{
    int all = 0;
    MPI_Allreduce(&local_fail, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return all;
}

static float *alloc_f(size_t n)
{
    float *p = calloc(n ? n : 1, sizeof(float));
    if (p == NULL) {
        fprintf(stderr, "test_ring: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    return p;
}

static void fill(float *x, size_t n, tu_rng *r)
{
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)tu_rng_uniform(r, -1.0, 1.0);
}

static double *to_doubles(const float *x, size_t n)
{
    double *r = malloc((n ? n : 1) * sizeof *r);
    if (r == NULL) {
        fprintf(stderr, "test_ring: out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    for (size_t i = 0; i < n; ++i)
        r[i] = x[i];
    return r;
}

/* Strides of a local (n0, n1, t, last) tensor, (B, T, H, last) in memory
 * when strided, else contiguous. */
static attn_strides local_strides(int strided, int64_t n1, int64_t t, int64_t last)
{
    if (strided)
        return tu_strides(t * n1 * last, last, n1 * last);
    return tu_contig(n1, t, last);
}

/* A strided local tensor as a contiguous one (for attn_ring_gather). */
static float *contiguous(const float *x, attn_strides s, int64_t n0, int64_t n1,
                         int64_t t, int64_t last)
{
    float *c = alloc_f((size_t)(n0 * n1 * t * last));
    for (int64_t a = 0; a < n0; ++a)
        for (int64_t b = 0; b < n1; ++b)
            for (int64_t i = 0; i < t; ++i)
                memcpy(c + ((a * n1 + b) * t + i) * last, x + tu_at(s, a, b, i, 0),
                       (size_t)last * sizeof(float));
    return c;
}

/* A local shard of a global contiguous tensor, in layout s. */
static float *shard(const ring_case *c, const float *global, int64_t n1,
                    int64_t t, int64_t last, attn_strides s, int *fail)
{
    float *x = alloc_f(tu_span(c->B, n1, t, last, s));
    attn_status st;
    if (c->strided)
        st = attn_ring_shard_rows(c->layout, g_world, g_rank, c->B, n1, t, last,
                                  global, tu_contig(n1, g_world * t, last), x, s);
    else
        st = attn_ring_scatter(MPI_COMM_WORLD, 0, c->layout, c->B, n1, t, last,
                               g_rank == 0 ? global : NULL, x);
    if (st != ATTN_OK) {
        fprintf(stderr, "rank %d: shard: %s\n", g_rank, attn_strerror(st));
        *fail = 1;
    }
    return x;
}

/* Gathers a strided local tensor into a global contiguous one on rank 0. */
static float *gather(const ring_case *c, const float *x, attn_strides s,
                     int64_t n1, int64_t t, int64_t last, int *fail)
{
    float *cx = contiguous(x, s, c->B, n1, t, last);
    float *g = g_rank == 0 ? alloc_f((size_t)(c->B * n1 * t * last) * g_world) : NULL;
    attn_status st = attn_ring_gather(MPI_COMM_WORLD, 0, c->layout, c->B, n1, t,
                                      last, cx, g);
    if (st != ATTN_OK) {
        fprintf(stderr, "rank %d: gather: %s\n", g_rank, attn_strerror(st));
        *fail = 1;
    }
    free(cx);
    return g;
}

typedef struct ring_run {
    float *out, *lse, *dq, *dk, *dv;
    float *ds;  /* (Hq) the sinks' gradient, when the case has sinks */
} ring_run;

static attn_status run_ring(const attn_ring_desc *rd, const float *q,
                            const float *k, const float *v, const float *dout,
                            ring_run *r, size_t nq, size_t nk, size_t nv,
                            size_t no, size_t nl)
{
    r->out = alloc_f(no);
    r->lse = alloc_f(nl);
    r->dq = alloc_f(nq);
    r->dk = alloc_f(nk);
    r->dv = alloc_f(nv);
    r->ds = alloc_f((size_t)rd->q_heads);
    attn_status s = attn_ring_forward(rd, MPI_COMM_WORLD, q, k, v, r->out, r->lse);
    if (s == ATTN_OK)
        s = attn_ring_backward(rd, MPI_COMM_WORLD, q, k, v, r->out, r->lse, dout,
                               r->dq, r->dk, r->dv);
    if (s == ATTN_OK && rd->sinks)
        s = attn_ring_sinks_backward(rd, MPI_COMM_WORLD, r->out, r->lse, dout, r->ds);
    return s;
}

static void free_run(ring_run *r)
{
    free(r->out);
    free(r->lse);
    free(r->dq);
    free(r->dk);
    free(r->dv);
    free(r->ds);
}

static int same_bits(const ring_run *a, const ring_run *b, size_t nq, size_t nk,
                     size_t nv, size_t no, size_t nl, size_t nh)
{
    return !memcmp(a->out, b->out, no * 4) && !memcmp(a->lse, b->lse, nl * 4) &&
           !memcmp(a->dq, b->dq, nq * 4) && !memcmp(a->dk, b->dk, nk * 4) &&
           !memcmp(a->dv, b->dv, nv * 4) && !memcmp(a->ds, b->ds, nh * 4);
}

/* The same dsinks bits on every rank. */
static int ranks_agree(const float *x, int64_t n)
{
    float *root = alloc_f((size_t)n);
    memcpy(root, x, (size_t)n * sizeof *x);
    MPI_Bcast(root, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
    const int same = !memcmp(root, x, (size_t)n * sizeof *x);
    free(root);
    return same;
}

/* The variants of a case on a descriptor (ring or core: the same fields). */
#define SET_VARIANTS(dst, c, slopes, sinks)            \
    do {                                               \
        if ((c)->windowed) {                           \
            (dst).window_left = (c)->wl;               \
            (dst).window_right = (c)->wr;              \
        }                                              \
        if ((c)->alibi) {                              \
            (dst).alibi_slopes = (slopes);             \
            (dst).alibi_batch_stride = (c)->Hq;        \
        }                                              \
        (dst).softcap = (c)->softcap;                  \
        (dst).sinks = (c)->sinks ? (sinks) : NULL;     \
    } while (0)

static int run_case(const ring_case *c, uint64_t seed)
{
    const int P = g_world;
    const int64_t Tq = P * c->lq, Tk = P * c->lk;
    int fail = 0;
    tu_rng rng = tu_rng_make(seed);
    const size_t nQ = (size_t)(c->B * c->Hq * Tq * c->d), nK = (size_t)(c->B * c->Hkv * Tk * c->d);
    const size_t nV = (size_t)(c->B * c->Hkv * Tk * c->dv), nO = (size_t)(c->B * c->Hq * Tq * c->dv);
    float *Q = alloc_f(nQ), *K = alloc_f(nK), *V = alloc_f(nV), *dO = alloc_f(nO);
    fill(Q, nQ, &rng);
    fill(K, nK, &rng);
    fill(V, nV, &rng);
    fill(dO, nO, &rng);
    int64_t lens[8];
    for (int64_t b = 0; b < c->B; ++b)
        lens[b] = b == 0 ? Tk - 3 : b == 1 ? Tk / 3 + 1 : b == 2 ? 0 : Tk;
    float slopes[8 * 8], sinks[8];
    for (int64_t b = 0; b < c->B; ++b)
        for (int64_t h = 0; h < c->Hq; ++h)
            slopes[b * c->Hq + h] = 0.05f * (float)(h + 1) + 0.02f * (float)b;
    for (int64_t h = 0; h < c->Hq; ++h)
        sinks[h] = h == 1 ? -INFINITY : 0.4f * (float)h - 0.3f;

    const attn_strides qs = local_strides(c->strided, c->Hq, c->lq, c->d);
    const attn_strides ks = local_strides(c->strided, c->Hkv, c->lk, c->d);
    const attn_strides vs = local_strides(c->strided, c->Hkv, c->lk, c->dv);
    const attn_strides os = local_strides(c->strided, c->Hq, c->lq, c->dv);
    float *q = shard(c, Q, c->Hq, c->lq, c->d, qs, &fail);
    float *k = shard(c, K, c->Hkv, c->lk, c->d, ks, &fail);
    float *v = shard(c, V, c->Hkv, c->lk, c->dv, vs, &fail);
    float *dout = shard(c, dO, c->Hq, c->lq, c->dv, os, &fail);

    attn_ring_desc rd;
    attn_ring_desc_init(&rd, c->B, c->Hq, c->Hkv, c->lq, c->lk, c->d, c->dv);
    rd.q_strides = qs;
    rd.k_strides = ks;
    rd.v_strides = vs;
    rd.out_strides = os;
    rd.causal = c->causal;
    rd.layout = c->layout;
    rd.kv_lens = c->padded ? lens : NULL;
    SET_VARIANTS(rd, c, slopes, sinks);

    const size_t nq = tu_span(c->B, c->Hq, c->lq, c->d, qs);
    const size_t nk = tu_span(c->B, c->Hkv, c->lk, c->d, ks);
    const size_t nv = tu_span(c->B, c->Hkv, c->lk, c->dv, vs);
    const size_t no = tu_span(c->B, c->Hq, c->lq, c->dv, os);
    const size_t nl = (size_t)(c->B * c->Hq * c->lq);
    ring_run r1, r2;
    attn_status s1 = run_ring(&rd, q, k, v, dout, &r1, nq, nk, nv, no, nl);
    attn_status s2 = run_ring(&rd, q, k, v, dout, &r2, nq, nk, nv, no, nl);
    if (s1 != ATTN_OK || s2 != ATTN_OK) {
        fprintf(stderr, "rank %d: %s: ring calls: %s / %s\n", g_rank, c->name,
                attn_strerror(s1), attn_strerror(s2));
        fail = 1;
    }
    const size_t nh = c->sinks ? (size_t)c->Hq : 0;
    const int identical = !any_failed(!same_bits(&r1, &r2, nq, nk, nv, no, nl, nh) ||
                                      !ranks_agree(r1.ds, (int64_t)nh));
    /* Rows that saw nothing (lse = -INFINITY, or its head's sink: padding,
     * or queries before the first key under bottom-right causal) take part
     * in no product: NaN in their dout changes no gradient bit. */
    int dead_ok = 1, dead = 0;
    float *dnan = alloc_f(no);
    memcpy(dnan, dout, no * sizeof *dnan);
    for (int64_t b = 0; b < c->B; ++b)
        for (int64_t h = 0; h < c->Hq; ++h)
            for (int64_t i = 0; i < c->lq; ++i) {
                const float l = r1.lse[(b * c->Hq + h) * c->lq + i];
                if (l != -INFINITY && !(c->sinks && l == sinks[h]))
                    continue;
                ++dead;
                for (int64_t e = 0; e < c->dv; ++e)
                    dnan[tu_at(os, b, h, i, e)] = NAN;
            }
    int any_dead = 0;
    MPI_Allreduce(&dead, &any_dead, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any_dead) {
        float *gq = alloc_f(nq), *gk = alloc_f(nk), *gv = alloc_f(nv);
        dead_ok = attn_ring_backward(&rd, MPI_COMM_WORLD, q, k, v, r1.out, r1.lse, dnan,
                                     gq, gk, gv) == ATTN_OK &&
                  !memcmp(gq, r1.dq, nq * 4) && !memcmp(gk, r1.dk, nk * 4) &&
                  !memcmp(gv, r1.dv, nv * 4);
        free(gq); free(gk); free(gv);
    }
    free(dnan);
    dead_ok = !any_failed(!dead_ok);
    /* Gradients are added: a second backward into r2's gradients (equal to
     * r1's, bit for bit) doubles them exactly. */
    int doubled = attn_ring_backward(&rd, MPI_COMM_WORLD, q, k, v, r1.out, r1.lse, dout,
                                     r2.dq, r2.dk, r2.dv) == ATTN_OK;
    for (size_t i = 0; i < nq && doubled; ++i)
        doubled = r2.dq[i] == 2.0f * r1.dq[i] || (isnan(r2.dq[i]) && isnan(r1.dq[i]));
    for (size_t i = 0; i < nk && doubled; ++i)
        doubled = r2.dk[i] == 2.0f * r1.dk[i] || (isnan(r2.dk[i]) && isnan(r1.dk[i]));
    for (size_t i = 0; i < nv && doubled; ++i)
        doubled = r2.dv[i] == 2.0f * r1.dv[i] || (isnan(r2.dv[i]) && isnan(r1.dv[i]));
    doubled = !any_failed(!doubled);

    float *OUT = gather(c, r1.out, os, c->Hq, c->lq, c->dv, &fail);
    float *LSE = gather(c, r1.lse, tu_contig(c->Hq, c->lq, 1), c->Hq, c->lq, 1, &fail);
    float *DQ = gather(c, r1.dq, qs, c->Hq, c->lq, c->d, &fail);
    float *DK = gather(c, r1.dk, ks, c->Hkv, c->lk, c->d, &fail);
    float *DV = gather(c, r1.dv, vs, c->Hkv, c->lk, c->dv, &fail);

    if (g_rank == 0 && !fail) {
        attn_sdpa_desc gd;
        attn_sdpa_desc_init(&gd, c->B, c->Hq, c->Hkv, Tq, Tk, c->d, c->dv);
        gd.causal = c->causal;
        gd.kv_lens = c->padded ? lens : NULL;
        SET_VARIANTS(gd, c, slopes, sinks);
        const size_t nL = (size_t)(c->B * c->Hq * Tq);
        double *rout = malloc(nO * sizeof(double)), *rlse = malloc(nL * sizeof(double));
        double *rdq = malloc(nQ * sizeof(double)), *rdk = malloc(nK * sizeof(double));
        double *rdv = malloc(nV * sizeof(double));
        ref_sdpa(&gd, Q, K, V, rout, NULL, rlse, NULL);
        ring_ref_backward(&gd, Q, K, V, dO, rdq, rdk, rdv);
        double rds[8] = {0};
        ring_ref_dsinks(&gd, rout, rlse, dO, rds);
        /* The single-process library on the gathered sequence. */
        float *sout = alloc_f(nO), *slse = alloc_f(nL), *sdq = alloc_f(nQ);
        float *sdk = alloc_f(nK), *sdv = alloc_f(nV), sds[8] = {0};
        attn_status s = attn_sdpa_forward(&gd, Q, K, V, sout, NULL, slse);
        if (s == ATTN_OK)
            s = attn_sdpa_backward(&gd, Q, K, V, sout, slse, dO, sdq, sdk, sdv, NULL);
        if (s == ATTN_OK && c->sinks)
            s = attn_sdpa_sinks_backward(&gd, sout, slse, dO, sds);
        const double fl = ATTN_TEST_TINY, gf = ATTN_TEST_GRAD_FLOOR;
        const double e[5] = {ring_rel_err(OUT, rout, nO, fl), ring_rel_err(LSE, rlse, nL, fl),
                             ring_rel_err(DQ, rdq, nQ, gf), ring_rel_err(DK, rdk, nK, gf),
                             ring_rel_err(DV, rdv, nV, gf)};
        const double e1[5] = {ring_rel_err(sout, rout, nO, fl), ring_rel_err(slse, rlse, nL, fl),
                              ring_rel_err(sdq, rdq, nQ, gf), ring_rel_err(sdk, rdk, nK, gf),
                              ring_rel_err(sdv, rdv, nV, gf)};
        /* The ring against the single-process library itself. */
        double *d_out = to_doubles(sout, nO), *d_lse = to_doubles(slse, nL);
        double *d_dq = to_doubles(sdq, nQ), *d_dk = to_doubles(sdk, nK);
        double *d_dv = to_doubles(sdv, nV), d_ds[8], *d_rds = rds;
        for (int64_t h = 0; h < c->Hq; ++h)
            d_ds[h] = sds[h];
        const double es[5] = {ring_rel_err(OUT, d_out, nO, fl), ring_rel_err(LSE, d_lse, nL, fl),
                              ring_rel_err(DQ, d_dq, nQ, gf), ring_rel_err(DK, d_dk, nK, gf),
                              ring_rel_err(DV, d_dv, nV, gf)};
        /* dsinks: every rank holds the whole gradient (rank 0's here). */
        const double eds = c->sinks ? ring_rel_err(r1.ds, d_rds, nh, gf) : 0.0;
        const double eds1 = c->sinks ? ring_rel_err(r1.ds, d_ds, nh, gf) : 0.0;
        int ok = s == ATTN_OK && eds <= ATTN_TEST_RING_BWD_TOL && eds1 <= ATTN_TEST_RING_BWD_TOL;
        for (int i = 0; i < 5; ++i) {
            const double tol = i < 2 ? ATTN_TEST_RING_FWD_TOL : ATTN_TEST_RING_BWD_TOL;
            ok = ok && e[i] <= tol && es[i] <= tol;
        }
        printf("%s P=%d %-30s out %.1e lse %.1e dq %.1e dk %.1e dv %.1e"
               " | vs 1 process: out %.1e dq %.1e dk %.1e dv %.1e"
               " | 1 process: out %.1e dq %.1e | %s, %s%s\n",
               ok && identical && doubled && dead_ok ? "ok  " : "FAIL", P, c->name,
               e[0], e[1], e[2], e[3], e[4], es[0], es[2], es[3],
               es[4], e1[0], e1[2], identical ? "bit-identical rerun" : "RERUN DIFFERS",
               doubled ? "+= ok" : "+= WRONG",
               any_dead ? (dead_ok ? ", NaN-safe dead rows" : ", DEAD ROWS WRONG") : "");
        if (c->sinks)
            printf("     dsinks vs reference %.1e, vs attn_sdpa_sinks_backward %.1e\n", eds, eds1);
        free(d_out); free(d_lse); free(d_dq); free(d_dk); free(d_dv);
        fail = !ok;
        free(rout); free(rlse); free(rdq); free(rdk); free(rdv);
        free(sout); free(slse); free(sdq); free(sdk); free(sdv);
    }
    fail |= !identical || !doubled || !dead_ok;
    free(OUT); free(LSE); free(DQ); free(DK); free(DV);
    free_run(&r1);
    free_run(&r2);
    free(q); free(k); free(v); free(dout);
    free(Q); free(K); free(V); free(dO);
    return any_failed(fail);
}

/* attn_ring_positions and shard/unshard round trips of both layouts. */
static int check_layouts(void)
{
    int fail = 0;
    for (int layout = 0; layout < 2; ++layout) {
        const int64_t t = 6, T = 6 * g_world;
        int64_t pos[6];
        if (attn_ring_positions((attn_ring_layout)layout, g_world, g_rank, t, pos) != ATTN_OK)
            fail = 1;
        for (int64_t i = 0; i < t && !fail; ++i) {
            const int64_t c = layout ? t / 2 : t, sub = i / c;
            const int64_t chunk = sub == 0 ? g_rank : 2 * g_world - 1 - g_rank;
            if (pos[i] != chunk * c + i % c)
                fail = 1;
        }
        float global[2 * 24 * 3], local[2 * 6 * 3], back[2 * 24 * 3];
        for (int i = 0; i < 2 * T * 3; ++i)
            global[i] = (float)i, back[i] = -1.0f;
        const attn_strides gs = tu_contig(1, T, 3), ls = tu_contig(1, t, 3);
        if (attn_ring_shard_rows((attn_ring_layout)layout, g_world, g_rank, 2, 1, t, 3,
                                 global, gs, local, ls) != ATTN_OK ||
            attn_ring_unshard_rows((attn_ring_layout)layout, g_world, g_rank, 2, 1, t, 3,
                                   local, ls, back, gs) != ATTN_OK)
            fail = 1;
        for (int b = 0; b < 2; ++b)
            for (int64_t i = 0; i < t; ++i)
                for (int e = 0; e < 3; ++e)
                    if (back[(b * T + pos[i]) * 3 + e] != global[(b * T + pos[i]) * 3 + e] ||
                        local[(b * t + i) * 3 + e] != global[(b * T + pos[i]) * 3 + e])
                        fail = 1;
    }
    if (g_rank == 0)
        printf("%s P=%d layouts: positions, shard/unshard round trip\n",
               fail ? "FAIL" : "ok  ", g_world);
    return any_failed(fail);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world);
    const attn_causal N = ATTN_CAUSAL_NONE, C = ATTN_CAUSAL_TOP_LEFT;
    const attn_causal R = ATTN_CAUSAL_BOTTOM_RIGHT;
    const attn_ring_layout L = ATTN_RING_CONTIGUOUS, Z = ATTN_RING_ZIGZAG;
    const ring_case cases[] = {
        {"full contiguous", 2, 4, 4, 10, 10, 16, 16, N, L, 0, 0, .windowed = 0},
        {"full zigzag", 2, 4, 4, 10, 10, 16, 16, N, Z, 0, 0, .windowed = 0},
        {"causal contiguous", 2, 4, 4, 12, 12, 16, 16, C, L, 0, 0, .windowed = 0},
        {"causal zigzag", 2, 4, 4, 12, 12, 16, 16, C, Z, 0, 0, .windowed = 0},
        {"gqa causal zigzag", 2, 6, 2, 12, 12, 8, 12, C, Z, 0, 0, .windowed = 0},
        {"mqa full contiguous", 1, 4, 1, 9, 9, 16, 8, N, L, 0, 0, .windowed = 0},
        {"padded causal zigzag", 3, 2, 2, 12, 12, 16, 16, C, Z, 1, 0, .windowed = 0},
        {"padded causal contiguous", 3, 2, 2, 12, 12, 16, 16, C, L, 1, 0, .windowed = 0},
        {"padded gqa full contiguous", 3, 4, 2, 10, 10, 16, 16, N, L, 1, 0, .windowed = 0},
        {"cross padded full zigzag", 3, 2, 1, 8, 14, 16, 8, N, Z, 1, 0, .windowed = 0},
        {"strided causal zigzag", 2, 4, 2, 12, 12, 16, 16, C, Z, 0, 1, .windowed = 0},
        {"strided padded contiguous", 3, 2, 2, 10, 10, 8, 8, C, L, 1, 1, .windowed = 0},
        {"long causal zigzag", 1, 2, 2, 96, 96, 32, 32, C, Z, 0, 0, .windowed = 0},
        {"long padded causal contig", 2, 2, 1, 80, 80, 64, 64, C, L, 1, 0, .windowed = 0},
        /* windows (bands that skip whole chunk pairs at P > 1) */
        {"window contiguous", 2, 4, 2, 12, 12, 16, 16, N, L, 0, 0, .windowed = 1, .wl = 5, .wr = 3},
        {"window zigzag", 2, 4, 2, 12, 12, 16, 16, N, Z, 0, 0, .windowed = 1, .wl = 5, .wr = 3},
        {"sliding padded zigzag", 3, 2, 2, 12, 12, 16, 16, N, Z, 1, 0, .windowed = 1, .wl = 6, .wr = 0},
        {"long sliding zigzag", 1, 2, 2, 96, 96, 32, 32, N, Z, 0, 0, .windowed = 1, .wl = 15, .wr = 0},
        /* bottom-right causal: padding moves the diagonal per batch entry */
        {"bottom-right padded contig", 3, 2, 2, 12, 12, 16, 16, R, L, 1, 0, .windowed = 0},
        {"bottom-right padded gqa zigzag", 3, 4, 2, 12, 12, 16, 16, R, Z, 1, 0, .windowed = 0},
        {"bottom-right cross Tq<Tk zigzag", 3, 2, 1, 6, 10, 16, 8, R, Z, 1, 0, .windowed = 0},
        {"bottom-right cross Tq>Tk contig", 2, 2, 2, 10, 6, 16, 16, R, L, 0, 0, .windowed = 0},
        {"long bottom-right band contig", 2, 2, 1, 80, 80, 64, 64, R, L, 1, 0, .windowed = 1, .wl = 20, .wr = -1},
        /* ALiBi, softcap, sinks */
        {"alibi causal zigzag", 2, 4, 2, 12, 12, 16, 16, C, Z, 0, 0, .alibi = 1},
        {"alibi window padded contig", 3, 2, 2, 10, 10, 16, 16, N, L, 1, 0, .windowed = 1, .wl = 4, .wr = 4, .alibi = 1},
        {"softcap causal contiguous", 2, 4, 4, 12, 12, 16, 16, C, L, 0, 0, .softcap = 0.3f},
        {"softcap full zigzag", 2, 2, 2, 10, 10, 16, 16, N, Z, 0, 0, .softcap = 0.5f},
        {"sinks causal zigzag", 2, 4, 4, 12, 12, 16, 16, C, Z, 0, 0, .sinks = 1},
        {"sinks padded full contiguous", 3, 4, 2, 10, 10, 16, 16, N, L, 1, 0, .sinks = 1},
        /* everything at once */
        {"all bottom-right strided zigzag", 3, 4, 2, 12, 12, 16, 16, R, Z, 1, 1, .windowed = 1, .wl = 9, .wr = 2, .alibi = 1, .softcap = 0.4f, .sinks = 1},
        {"all top-left strided contig", 3, 4, 2, 10, 10, 16, 8, C, L, 1, 1, .windowed = 1, .wl = 7, .wr = 1, .alibi = 1, .softcap = 0.5f, .sinks = 1},
    };
    int fails = check_layouts();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i)
        fails += run_case(&cases[i], 1000 + i);
    if (g_rank == 0)
        printf("test_ring P=%d: %d failure(s)\n", g_world, fails);
    MPI_Finalize();
    return fails ? 1 : 0;
}
