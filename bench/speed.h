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

typedef struct speed_shape {
    int64_t b, h, t, d;     /* Tq = Tk = t, Hq = Hkv = h, dv = d */
} speed_shape;

enum { ROOF, FUSED, REFERENCE };    /* speed_row.kind */
enum { FWD, FWDBWD };               /* speed_row.pass */
extern const char *const speed_kinds[3], *const speed_passes[2];

/* One measurement, a CSV row. Roof rows: B = H = 1 and a cblas_sgemm
 * product, "qk_tile" Q K^T (tq x tk x d) or "pv_tile" P V (tq x d x tk)
 * of a 256-query, 512-key tile, or "square", 2048 each. */
typedef struct speed_row {
    int kind, pass;
    const char *product;    /* "square", "qk_tile", "pv_tile"; "attention" */
    const char *phase;      /* roof: "start", "end"; else "main", "long" */
    int64_t b, h, tq, tk, d;
    int causal, threads;    /* roof threads: concurrent (tiles) or BLAS */
    double seconds;         /* best repeat */
    int reps;               /* timed repeats after the warm-up (0: none) */
    double gflops;
    size_t extra_bytes;     /* workspace asked for; 0 for the roof */
    double others;          /* cores other processes kept busy; -1: ? */
    int attempts;           /* measurements made; the fastest is kept */
} speed_row;

/* What a run measures (full or --quick), and what it got. */
typedef struct speed_run {
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
    speed_row rows[4 * MAX_ROOFS + 12 * MAX_SHAPES + 2];
    size_t n;                       /* rows in measurement order */
    /* Each table's rows (NULL: not measured): roof [start, end][square,
     * then QK^T and P.V per tile d][N, 1]; tab [shape][causal][pass]
     * [fused at N, at 1, materialised at N]; lng [pass]. */
    const speed_row *roof[2][MAX_ROOFS][2];
    const speed_row *tab[MAX_SHAPES][2][2][3];
    const speed_row *lng[2];
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
speed_load speed_load_now(void);
double speed_others(const speed_load *a, const speed_load *b); /* -1: ? */
double speed_rss(int peak);         /* bytes, peak or now; -1 unknown */
void *speed_alloc(size_t bytes);    /* exits when out of memory */

/* speed_attn.c: one shape's buffers; the timed library calls of a row. */
float *speed_attn_alloc(speed_shape s, uint64_t seed, double *bytes);
void speed_attn(const speed_run *x, float *buffers, speed_row *row);

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
