/*
 * attention-ring-example: one causal attention layer's core over a
 * sequence sharded across MPI ranks, end to end, checked against one
 * process.
 *
 *     mpirun -np 4 build/examples/attention-ring-example [T]
 *
 * Rank 0 makes Q, K, V and the output gradient dO for a sequence of T
 * tokens (default 2048; 8 query heads sharing 2 kv heads, d = 64), and
 * scatters them in the zigzag layout (rank r gets chunks r and 2P-1-r of
 * 2P). Every rank rotates its Q and K rows by RoPE at their GLOBAL
 * positions (attn_ring_positions), runs the ring forward and backward, and
 * rank 0 gathers out, dQ, dK, dV back and compares them with
 * attn_sdpa_forward / attn_sdpa_backward on the whole sequence. Exit
 * status 0 when they agree (normwise 1e-5 forward, 1e-4 gradients).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <attention/attention.h>
#include <attention/ring.h>

enum { B = 1, HQ = 8, HKV = 2, D = 64 };

/* A fixed pseudo-random fill in [-1, 1) (the same on every run). */
static void fill(float *x, size_t n, uint64_t seed)
{
    uint64_t s = seed;
    for (size_t i = 0; i < n; ++i) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
}

/* max |a - b| / max |b|. */
static double rel_err(const float *a, const float *b, size_t n)
{
    double e = 0.0, m = 1e-30;
    for (size_t i = 0; i < n; ++i) {
        e = fmax(e, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return e / m;
}

static float *alloc(size_t n)
{
    float *p = calloc(n, sizeof(float));
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    return p;
}

/* Stops every rank on a failed call (statuses are collective). */
static void check(attn_status s, const char *what)
{
    if (s != ATTN_OK) {
        fprintf(stderr, "%s: %s\n", what, attn_strerror(s));
        MPI_Finalize();
        exit(1);
    }
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, P;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &P);
    const int64_t T = argc > 1 ? atoll(argv[1]) : 2048;
    if (T < 2 * P || T % (2 * P) != 0) {
        if (rank == 0)
            fprintf(stderr, "T = %lld must be a multiple of 2P = %d\n", (long long)T, 2 * P);
        MPI_Finalize();
        return 2;
    }
    const int64_t t = T / P; /* rows per rank */
    const size_t nq = (size_t)(B * HQ * T * D), nk = (size_t)(B * HKV * T * D);
    const size_t lq = nq / (size_t)P, lk = nk / (size_t)P;
    const attn_ring_layout layout = ATTN_RING_ZIGZAG;

    /* Rank 0's whole sequence. */
    float *Q = NULL, *K = NULL, *V = NULL, *dO = NULL;
    if (rank == 0) {
        Q = alloc(nq), K = alloc(nk), V = alloc(nk), dO = alloc(nq);
        fill(Q, nq, 1), fill(K, nk, 2), fill(V, nk, 3), fill(dO, nq, 4);
    }
    float *q = alloc(lq), *k = alloc(lk), *v = alloc(lk), *dout = alloc(lq);
    check(attn_ring_scatter(MPI_COMM_WORLD, 0, layout, B, HQ, t, D, Q, q), "scatter q");
    check(attn_ring_scatter(MPI_COMM_WORLD, 0, layout, B, HKV, t, D, K, k), "scatter k");
    check(attn_ring_scatter(MPI_COMM_WORLD, 0, layout, B, HKV, t, D, V, v), "scatter v");
    check(attn_ring_scatter(MPI_COMM_WORLD, 0, layout, B, HQ, t, D, dO, dout), "scatter dO");

    /* RoPE needs each row's global position, which the layout decides. */
    int64_t *pos = malloc((size_t)t * sizeof *pos);
    check(pos ? attn_ring_positions(layout, P, rank, t, pos) : ATTN_ERR_OUT_OF_MEMORY,
          "positions");
    const attn_rope rope = {ATTN_ROPE_NEOX, D, 10000.0, NULL, NULL, 0};
    const attn_strides qs = {HQ * t * D, t * D, D}, ks = {HKV * t * D, t * D, D};
    check(attn_rope_forward(&rope, q, B, HQ, t, D, qs, pos), "rope q");
    check(attn_rope_forward(&rope, k, B, HKV, t, D, ks, pos), "rope k");

    attn_ring_desc rd;
    attn_ring_desc_init(&rd, B, HQ, HKV, t, t, D, D);
    rd.causal = ATTN_CAUSAL_TOP_LEFT;
    rd.layout = layout;
    float *out = alloc(lq), *lse = alloc((size_t)(B * HQ * t));
    float *dq = alloc(lq), *dk = alloc(lk), *dv = alloc(lk);
    const double t0 = MPI_Wtime();
    check(attn_ring_forward(&rd, MPI_COMM_WORLD, q, k, v, out, lse), "ring forward");
    const double t1 = MPI_Wtime();
    check(attn_ring_backward(&rd, MPI_COMM_WORLD, q, k, v, out, lse, dout, dq, dk, dv),
          "ring backward");
    const double t2 = MPI_Wtime();

    float *OUT = NULL, *DQ = NULL, *DK = NULL, *DV = NULL;
    if (rank == 0)
        OUT = alloc(nq), DQ = alloc(nq), DK = alloc(nk), DV = alloc(nk);
    check(attn_ring_gather(MPI_COMM_WORLD, 0, layout, B, HQ, t, D, out, OUT), "gather out");
    check(attn_ring_gather(MPI_COMM_WORLD, 0, layout, B, HQ, t, D, dq, DQ), "gather dq");
    check(attn_ring_gather(MPI_COMM_WORLD, 0, layout, B, HKV, t, D, dk, DK), "gather dk");
    check(attn_ring_gather(MPI_COMM_WORLD, 0, layout, B, HKV, t, D, dv, DV), "gather dv");

    int status = 0;
    if (rank == 0) {
        /* One process: RoPE at positions 0..T-1, attention, gradients. */
        const attn_strides Qs = {HQ * T * D, T * D, D}, Ks = {HKV * T * D, T * D, D};
        check(attn_rope_forward(&rope, Q, B, HQ, T, D, Qs, NULL), "rope Q");
        check(attn_rope_forward(&rope, K, B, HKV, T, D, Ks, NULL), "rope K");
        attn_sdpa_desc gd;
        attn_sdpa_desc_init(&gd, B, HQ, HKV, T, T, D, D);
        gd.causal = ATTN_CAUSAL_TOP_LEFT;
        float *o = alloc(nq), *l = alloc((size_t)(B * HQ * T));
        float *gq = alloc(nq), *gk = alloc(nk), *gv = alloc(nk);
        const double s0 = MPI_Wtime();
        check(attn_sdpa_forward(&gd, Q, K, V, o, NULL, l), "forward");
        check(attn_sdpa_backward(&gd, Q, K, V, o, l, dO, gq, gk, gv, NULL), "backward");
        const double s1 = MPI_Wtime();
        const double e[4] = {rel_err(OUT, o, nq), rel_err(DQ, gq, nq),
                             rel_err(DK, gk, nk), rel_err(DV, gv, nk)};
        printf("ring attention: T = %lld tokens on %d ranks (zigzag, %lld rows each), "
               "Hq %d, Hkv %d, d %d, causal, RoPE at global positions\n",
               (long long)T, P, (long long)t, HQ, HKV, D);
        printf("  ring:        forward %.3f s, backward %.3f s (rank 0)\n", t1 - t0, t2 - t1);
        printf("  one process: forward + backward %.3f s\n", s1 - s0);
        printf("  normwise difference from one process: out %.1e, dQ %.1e, dK %.1e, dV %.1e\n",
               e[0], e[1], e[2], e[3]);
        status = e[0] <= 1e-5 && e[1] <= 1e-4 && e[2] <= 1e-4 && e[3] <= 1e-4 ? 0 : 1;
        printf("%s\n", status ? "MISMATCH" : "matches one process");
        free(o), free(l), free(gq), free(gk), free(gv);
    }
    MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
    free(Q), free(K), free(V), free(dO), free(OUT), free(DQ), free(DK), free(DV);
    free(q), free(k), free(v), free(dout), free(out), free(lse), free(dq), free(dk),
        free(dv), free(pos);
    MPI_Finalize();
    return status;
}
