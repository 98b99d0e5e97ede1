/* attention-bench-speed's variants (issue 12): which groups of rows, on
 * which buffers, timed in turns; each variant judged against its group's
 * reference, measured in the same turns of the same run. */
#include <inttypes.h>
#include <stdlib.h>

#include "speed.h"

enum { SEQS = 16, HEADS = 8, DIM = 64 };

/* The packed batch: 64 * 2^(6k / 15) for k = 0..15, rounded (64 .. 4096,
 * geometric), in a fixed shuffled order; --quick packs a quarter of each
 * length (16 .. 1024). */
static const int32_t lens[SEQS] = {1024, 84,  3104, 256, 588, 4096,
                                   147,  1351, 64,  2353, 446, 194,
                                   1783, 111, 776, 338};

typedef struct member {
    int variant;
    int64_t b, t;   /* B and T; packed: sequences and total rows */
} member;

/* A group to measure in each of its passes: the reference first. */
typedef struct spec {
    const char *title, *unit;
    int passes;     /* 1: fwd only; 2: fwd and fwdbwd */
    double target;  /* each variant's GFLOP/s over the reference's, >= */
    size_t n;
    member m[MAX_MEMBERS];  /* (n) */
} spec;

/* Rows of a member's (rows, H, d) tensors. */
static int64_t rows(const member *m)
{
    return m->variant == V_PACKED || m->variant == V_SEPARATE ? m->t
                                                              : m->b * m->t;
}

/* The groups of a run: full T8192 and T32768 windows against full
 * attention at T4096, both passes; quick the T8192 window against T2048,
 * forward only, and the other groups at a quarter of their work. */
static size_t specs(const speed_run *x, int64_t total, spec s[3])
{
    const int q = x->quick;
    const int64_t b = q ? 1 : 4;
    s[0] = (spec){"sliding window 1024 vs full attention (no mask)",
                  "the band only", q ? 1 : 2, 0.8, q ? 2 : 3,
                  {{V_PLAIN, 1, q ? 2048 : 4096}, {V_WINDOW, 1, 8192},
                   {V_WINDOW, 1, 32768}}};
    s[1] = (spec){"softcap 30, ALiBi, sinks vs plain attention (no mask)",
                  "B H T^2", 2, 0.9, 4,
                  {{V_PLAIN, b, 1024}, {V_SOFTCAP, b, 1024},
                   {V_ALIBI, b, 1024}, {V_SINKS, b, 1024}}};
    s[2] = (spec){"16 causal sequences packed in one call vs one call each",
                  "causal, per sequence", 2, 0.9, 2,
                  {{V_SEPARATE, SEQS, total}, {V_PACKED, SEQS, total}}};
    return 3;
}

/* The median over rounds of member i's rate over the reference's rate in
 * the same round (its warm-up's when it had no timed repeat). */
static double paired(double times[][SPEED_ROUNDS + 1], int filled,
                     const double flop[], size_t i)
{
    double r[SPEED_ROUNDS + 1];     /* (filled) */
    int n = 0;
    for (int k = 1; k < filled; ++k)
        if (times[i][k] > 0.0 && times[0][k] > 0.0)
            r[n++] = flop[i] / times[i][k] / (flop[0] / times[0][k]);
    if (n == 0)
        r[n++] = flop[i] / times[i][0] / (flop[0] / times[0][0]);
    return speed_median(r, n);
}

static void measure(speed_run *x, const spec *s, int pass, float *m,
                    const int32_t *cu)
{
    speed_group *g = &x->groups[x->n_groups++];
    speed_row *out[MAX_MEMBERS];                /* (n) */
    void *ctx[MAX_MEMBERS];                     /* (n) */
    double flop[MAX_MEMBERS];                   /* (n) */
    double times[MAX_MEMBERS][SPEED_ROUNDS + 1];
    *g = (speed_group){s->title, s->unit, pass, s->n, {NULL}, -1.0};
    for (size_t i = 0; i < s->n; ++i) {
        const member *e = &s->m[i];
        out[i] = &x->rows[x->n++];
        *out[i] = (speed_row){
            .kind = FUSED, .pass = pass, .variant = e->variant,
            .product = speed_variant_names[e->variant], .phase = "variant",
            .b = e->b, .h = HEADS, .tq = e->t, .tk = e->t, .d = DIM,
            .causal = e->variant >= V_PACKED || e->variant == V_WINDOW,
            .threads = x->threads, .attempts = 1,
            .target = i ? s->target : 0.0};
        ctx[i] = speed_variant_call(out[i], m, cu);
        flop[i] = speed_variant_flop(out[i], cu);
        g->row[i] = out[i];
    }
    const speed_load a = speed_load_now();
    const int filled = speed_time_group(x, s->n, speed_variant_rep, ctx, out,
                                        times);
    const speed_load b = speed_load_now();
    g->others = speed_others(&a, &b);
    for (size_t i = 0; i < s->n; ++i) {
        speed_row *r = out[i];
        speed_variant_free(ctx[i]);
        r->gflops = flop[i] / r->seconds * 1e-9;
        r->vs_ref = r->gflops / out[0]->gflops;
        r->paired = i ? paired(times, filled, flop, i) : 1.0;
        r->others = g->others;
        fprintf(stderr, "  variant %-10s B%-2" PRId64 " H%" PRId64 " T%-5"
                        PRId64 " d%" PRId64 " %-6s %d thr %7.1f GFLOP/s "
                        "%7.3f s x %d  x ref %.2f  others busy %.2f\n",
                r->product, r->b, r->h, r->tq, r->d, speed_passes[pass],
                r->threads, r->gflops, r->seconds, r->reps, r->vs_ref,
                r->others);
    }
}

void speed_variants(speed_run *x)
{
    int32_t cu[SEQS + 1] = {0};     /* (SEQS + 1) packed offsets */
    for (int s = 0; s < SEQS; ++s)
        cu[s + 1] = cu[s] + (x->quick ? (lens[s] + 2) / 4 : lens[s]);
    spec s[3];
    const size_t n = specs(x, cu[SEQS], s);
    for (size_t i = 0; i < n; ++i) {
        int64_t most = 0;
        for (size_t j = 0; j < s[i].n; ++j)
            most = rows(&s[i].m[j]) > most ? rows(&s[i].m[j]) : most;
        double bytes;
        float *m = speed_attn_alloc((speed_shape){1, HEADS, most, DIM},
                                    x->seed + 100 * (uint64_t)i, &bytes);
        for (int pass = FWD; pass < s[i].passes; ++pass)
            measure(x, &s[i], pass, m, cu);
        free(m);
    }
}
