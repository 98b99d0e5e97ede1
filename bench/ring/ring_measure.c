/*
 * The measurements of attention-bench-ring: the ring call with its
 * per-step timings (attn_ring_stats), the same transfers alone (one K/V
 * block, or K/V plus dK/dV in the backward, shifted round the ring with
 * nothing to compute) and the work of each step, counted from the layout.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "ring_bench.h"

static float *filled(size_t n, unsigned seed)
{
    float *x = malloc(n * sizeof *x);
    if (x == NULL)
        return NULL;
    uint32_t s = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
    }
    return x;
}

/* Score pairs rank r computes at step s (query rows x visible keys): the
 * chunk of each local sub-chunk comes from attn_ring_positions. */
static double step_pairs(const rb_config *c, int world, int rank, int step)
{
    const int64_t t = c->T / world;
    const int nsub = c->layout == ATTN_RING_ZIGZAG ? 2 : 1;
    const int64_t cs = t / nsub;
    const int src = ((rank - step) % world + world) % world;
    int64_t *mine = malloc((size_t)t * sizeof *mine), *theirs = malloc((size_t)t * sizeof *theirs);
    double pairs = 0.0;
    if (mine && theirs && attn_ring_positions(c->layout, world, rank, t, mine) == ATTN_OK &&
        attn_ring_positions(c->layout, world, src, t, theirs) == ATTN_OK)
        for (int a = 0; a < nsub; ++a)
            for (int b = 0; b < nsub; ++b) {
                const int64_t ga = mine[a * cs] / cs, gb = theirs[b * cs] / cs;
                if (!c->causal || gb < ga)
                    pairs += (double)cs * (double)cs;
                else if (gb == ga)
                    pairs += (double)cs * (double)(cs + 1) / 2.0;
            }
    free(mine);
    free(theirs);
    return pairs;
}

/* The transfers of one step with nothing to overlap: the best of `reps`
 * ring shifts of n floats. */
static double comm_alone(const float *send, float *recv, int64_t n, int reps)
{
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    if (world == 1)
        return 0.0;
    double best = INFINITY;
    for (int i = 0; i < reps + 1; ++i) {
        MPI_Barrier(MPI_COMM_WORLD);
        const double t0 = MPI_Wtime();
        MPI_Sendrecv(send, (int)n, MPI_FLOAT, (rank + 1) % world, 9, recv, (int)n,
                     MPI_FLOAT, (rank + world - 1) % world, 9, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        double t = MPI_Wtime() - t0, tmax;
        MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (i > 0 && tmax < best)
            best = tmax;
    }
    return best;
}

rb_result rb_measure(const rb_config *c)
{
    rb_result r;
    memset(&r, 0, sizeof r);
    int rank, world;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world);
    r.world = world;
    r.block_bytes = (uint64_t)(2 * c->kv_heads * (c->T / world) * c->d) * sizeof(float);
    const int64_t t = c->T / world;
    const size_t nq = (size_t)(c->heads * t * c->d), nk = (size_t)(c->kv_heads * t * c->d);
    float *q = filled(nq, 1 + rank), *k = filled(nk, 100 + rank), *v = filled(nk, 200 + rank);
    float *dout = filled(nq, 300 + rank), *out = calloc(nq, 4), *lse = calloc(nq / c->d, 4);
    float *dq = calloc(nq, 4), *dk = calloc(nk, 4), *dv = calloc(nk, 4);
    double *sc = calloc((size_t)world, sizeof *sc), *sw = calloc((size_t)world, sizeof *sw);
    r.steps = calloc((size_t)world, sizeof *r.steps);
    attn_ring_desc rd;
    attn_ring_desc_init(&rd, 1, c->heads, c->kv_heads, t, t, c->d, c->d);
    rd.causal = c->causal ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_NONE;
    rd.layout = c->layout;
    attn_ring_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    st.step_capacity = world;
    st.step_compute = sc;
    st.step_wait = sw;
    int ok = q && k && v && dout && out && lse && dq && dk && dv && sc && sw && r.steps, all;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    r.status = all ? ATTN_OK : ATTN_ERR_OUT_OF_MEMORY;
    double best_total = INFINITY;
    /* The forward always runs: the backward needs its out and lse. */
    for (int rep = 0; rep < c->reps + 1 && r.status == ATTN_OK; ++rep) {
        MPI_Barrier(MPI_COMM_WORLD);
        attn_status s = attn_ring_forward_ex(&rd, MPI_COMM_WORLD, q, k, v, out, lse,
                                             c->backward ? NULL : &st);
        if (s == ATTN_OK && c->backward)
            s = attn_ring_backward_ex(&rd, MPI_COMM_WORLD, q, k, v, out, lse, dout, dq,
                                      dk, dv, &st);
        r.status = s;
        if (s != ATTN_OK || rep == 0)
            continue; /* the first call warms up */
        double tmax;
        MPI_Allreduce(&st.total_seconds, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        if (tmax >= best_total)
            continue;
        best_total = tmax;
        r.total = tmax;
        r.bytes_sent = st.bytes_sent;
        MPI_Allreduce(&st.compute_seconds, &r.compute_sum, 1, MPI_DOUBLE, MPI_SUM,
                      MPI_COMM_WORLD);
        for (int s2 = 0; s2 < world; ++s2) {
            rb_step *p = &r.steps[s2];
            MPI_Allreduce(&sc[s2], &p->compute_mean, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
            p->compute_mean /= world;
            MPI_Allreduce(&sc[s2], &p->compute_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            MPI_Allreduce(&sw[s2], &p->wait_max, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        }
    }
    /* Work: FLOPs of the two products per score pair (forward 4 d; the
     * backward's five products 10 d), per head. */
    const double per_pair = (c->backward ? 10.0 : 4.0) * (double)c->d * (double)c->heads;
    for (int s2 = 0; s2 < world && r.status == ATTN_OK; ++s2) {
        double mx = 0.0;
        for (int i = 0; i < world; ++i) {
            const double w = step_pairs(c, world, i, s2) * per_pair;
            mx = w > mx ? w : mx;
            r.flops_total += w;
        }
        r.steps[s2].flops_max = mx;
    }
    /* The same traffic with nothing to hide it behind. */
    if (r.status == ATTN_OK) {
        const int64_t block = 2 * (int64_t)nk * (c->backward ? 2 : 1);
        float *a = calloc((size_t)block, 4), *b = calloc((size_t)block, 4);
        const double alone = a && b ? comm_alone(a, b, block, c->reps) : NAN;
        for (int s2 = 0; s2 < world; ++s2)
            r.steps[s2].comm_alone = s2 + 1 < world || c->backward ? alone : 0.0;
        free(a);
        free(b);
    }
    free(q), free(k), free(v), free(dout), free(out), free(lse);
    free(dq), free(dk), free(dv), free(sc), free(sw);
    return r;
}
