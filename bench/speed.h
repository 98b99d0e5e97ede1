/* attention-bench-speed: what its files share. */
#ifndef BENCH_SPEED_H
#define BENCH_SPEED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROG "attention-bench-speed"
#define MIB (1024.0 * 1024.0)
/* Other processes keeping more cores than this busy during a measurement
 * make it "disturbed": made again, up to MAX_ATTEMPTS times in all, when
 * its repeats are within long_call and the run's retry allowance lasts. */
#define BUSY_LIMIT 0.25
#define MAX_ATTEMPTS 3
enum { MAX_SHAPES = 6, MAX_ROOFS = 5, MAX_THREADS = 1024 };
/* The variants' groups (speed_variants.c): at most MAX_GROUPS, each of at
 * most MAX_MEMBERS rows timed in turns, in at most SPEED_ROUNDS rounds. */
enum { MAX_GROUPS = 6, MAX_MEMBERS = 4, SPEED_ROUNDS = 64 };

typedef struct speed_shape {
    int64_t b, h, t, d;     /* Tq = Tk = t, Hq = Hkv = h, dv = d */
} speed_shape;

enum { ROOF, FUSED, REFERENCE };    /* speed_row.kind */
enum { FWD, FWDBWD };               /* speed_row.pass */
/* speed_row.variant: what a variants row sets in the descriptor (NONE:
 * a roof or main-table row). */
enum { V_NONE, V_PLAIN, V_WINDOW, V_SOFTCAP, V_ALIBI, V_SINKS, V_PACKED,
       V_SEPARATE };
extern const char *const speed_kinds[3], *const speed_passes[2];

/* One measurement, a CSV row. Roof rows: B = H = 1 and a cblas_sgemm
 * product, "qk_tile" Q K^T (tq x tk x d) or "pv_tile" P V (tq x d x tk)
 * of a 256-query, 512-key tile, or "square", 2048 each. */
typedef struct speed_row {
    int kind, pass;
    const char *product;    /* "square", "qk_tile", "pv_tile"; "attention";
                               a variant's name (speed_variant_names) */
    const char *phase;      /* roof: "start", "end"; else "main", "long",
                               "variant" */
    int variant;            /* V_NONE, or the variant of a "variant" row */
    int64_t b, h, tq, tk, d;
    int causal, threads;    /* roof threads: concurrent (tiles) or BLAS */
    double seconds;         /* best repeat */
    int reps;               /* timed repeats after the warm-up (0: none) */
    double gflops;
    size_t extra_bytes;     /* workspace asked for; 0 for the roof */
    double others;          /* cores other processes kept busy; -1: ? */
    int attempts;           /* measurements made; the fastest is kept */
    /* Variant rows: GFLOP/s over the group's reference row (1 for the
     * reference), the median over rounds of the same ratio taken within
     * each round, and the target (0: the reference, none). */
    double vs_ref, paired, target;
} speed_row;

/* A group of the variants' rows, timed in turns in one measurement: the
 * reference first, then the variants judged against it. */
typedef struct speed_group {
    const char *title;      /* what is compared, e.g. "sliding window" */
    const char *unit;       /* how each row is counted */
    int pass;
    size_t n;
    const speed_row *row[MAX_MEMBERS];  /* (n) [0] the reference */
    double others;          /* cores other processes kept busy; -1: ? */
} speed_group;

/* What a run measures (full or --quick), and what it got. */
typedef struct speed_run {
    int quick;                      /* --quick: smaller variants groups */
    int threads, counts;            /* N; counts: 2 (N and 1), 1 if N = 1 */
    const speed_shape *shapes;      /* (n_shapes) the main table */
    size_t n_shapes;
    const int64_t *tile_d;          /* (n_tile_d) head dims of tile roofs */
    size_t n_tile_d;
    int64_t ref_max_t;              /* materialised path for T <= this */
    const speed_shape *long_shape;  /* fused-only memory shape, or NULL */
    /* Repeat until min_seconds and min_reps; a call over long_call is
     * timed once, over 4 long_call the warm-up is the measurement. */
    double min_seconds, long_call;
    int min_reps;
    double retry_seconds, retry_left;
    uint64_t seed;
    speed_row rows[4 * MAX_ROOFS + 12 * MAX_SHAPES + 2 +
                   MAX_GROUPS * MAX_MEMBERS];
    size_t n;                       /* rows in measurement order */
    /* Each table's rows (NULL: not measured): roof [start, end][square,
     * then QK^T and P.V per tile d][N, 1]; tab [shape][causal][pass]
     * [fused at N, at 1, materialised at N]; lng [pass]. */
    const speed_row *roof[2][MAX_ROOFS][2];
    const speed_row *tab[MAX_SHAPES][2][2][3];
    const speed_row *lng[2];
    speed_group groups[MAX_GROUPS]; /* (n_groups) the variants' groups */
    size_t n_groups;
    /* The long shape, bytes: ru_maxrss before its buffers, once they are
     * resident (and the RSS then), after its calls; the buffers' size. */
    double peak_before, peak_inputs, current_inputs, peak_after, data_bytes;
} speed_run;

/* speed_time.c: clock, repeat rule, other processes' load, memory. */
typedef struct speed_load {
    double wall, busy, own; /* busy < 0: unknown */
} speed_load;
double speed_now(void);
/* Warm-up, then repeats of rep (which returns its own duration, so work
 * spanning threads reports its wall time); sets seconds and reps. */
void speed_time(const speed_run *x, double (*rep)(void *), void *ctx,
                speed_row *out);
/* n calls timed in turns, so that the machine's noise falls on each alike:
 * a warm-up each, then rounds in which out[0] (a reference) always runs
 * and each other call runs while speed_time's rule still wants repeats of
 * it; sets each out's seconds and reps. times[i][0] is call i's warm-up,
 * times[i][r] its repeat in round r (0: it did not run); returns the
 * rounds + 1 filled. */
int speed_time_group(const speed_run *x, size_t n, double (*rep)(void *),
                     void *const ctx[], speed_row *const out[],
                     double times[][SPEED_ROUNDS + 1]);
speed_load speed_load_now(void);
double speed_others(const speed_load *a, const speed_load *b); /* -1: ? */
/* The median of v[0, n), n >= 1 (v is sorted in place). */
double speed_median(double *v /* (n) */, int n);
double speed_rss(int peak);         /* bytes, peak or now; -1 unknown */
void *speed_alloc(size_t bytes);    /* exits when out of memory */

/* speed_attn.c: one shape's buffers; the timed library calls of a row;
 * exits with a message unless status is ATTN_OK. */
void speed_check(int status, const char *call);
float *speed_attn_alloc(speed_shape s, uint64_t seed, double *bytes);
void speed_attn(const speed_run *x, float *buffers, speed_row *row);

/* speed_variant_calls.c: a variants row's descriptors on buffers from
 * speed_attn_alloc (sets the row's extra_bytes), its timed calls
 * (speed_variant_rep) and its FLOPs. cu: (b + 1) offsets of a packed or
 * separate row's sequences, else NULL. */
extern const char *const speed_variant_names[V_SEPARATE + 1];
typedef struct speed_vcall speed_vcall;
speed_vcall *speed_variant_call(speed_row *row, float *buffers,
                                const int32_t *cu);
double speed_variant_rep(void *call);
double speed_variant_flop(const speed_row *row, const int32_t *cu);
void speed_variant_free(speed_vcall *call);

/* speed_variants.c: the variants' groups, measured (issue 12). */
void speed_variants(speed_run *x);

/* speed_variants_report.c: their table and their summary lines. */
void speed_variants_table(FILE *f, const speed_run *x);
void speed_variants_summary(FILE *f, const speed_run *x);

/* speed_roof.c: the roof product of a row. */
void speed_roof(const speed_run *x, speed_row *row);

/* speed_blas.c: which BLAS; the bench's control of its threads (sets
 * n > 0, returns the previous count; -1: no control, or n <= 0). */
int speed_blas_set_threads(int n);
void speed_blas_banner(FILE *f, int lib_threads);
int speed_blas_avx512(void);        /* sgemm kernels use AVX-512 */

/* speed_table.c: the tables and the CSV file. roof_at: the square's best
 * rate at count i (0: N, 1: 1), start or end, ratios divide by. */
double speed_roof_at(const speed_run *x, int i);
double speed_ratio(const speed_run *x, const speed_row *row);
void speed_tables(FILE *f, const speed_run *x);
int speed_csv(FILE *f, const speed_run *x);

/* speed_summary.c: the targets, computed from the numbers. */
void speed_summary(FILE *f, const speed_run *x, int avx512);

#endif /* BENCH_SPEED_H */
