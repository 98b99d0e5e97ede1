/* attention-bench-decode: what its files share. */
#ifndef BENCH_DECODE_H
#define BENCH_DECODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define DPROG "attention-bench-decode"
#define GIB (1024.0 * 1024.0 * 1024.0)
#define PAGE 16     /* rows per page of the paged layout */

/* The paged pools' layout: head-major (num_pages, Hkv, PAGE, d), a page
 * of one head one run of memory (vLLM's grouping), or with --token-major
 * (num_pages, PAGE, Hkv, d), FlashAttention's. */
extern int dec_token_major;
#define N_STORAGE 3 /* fp32, fp16, bf16: attn_dtype's values */
#define N_LAYOUT 2
enum { CONTIG, PAGED };
/* The grid: head configurations, batches, query rows, cache lengths. */
enum { N_HEADS = 2, N_B = 2, N_TQ = 2, N_TK = 4 };
#define N_ROWS (N_HEADS * N_B * N_TQ * N_TK * N_STORAGE * N_LAYOUT)
/* The targets' rows: Tk at least this. */
#define TARGET_TK 4096
/* The read-roof target (0.8) is reachable where the step's arithmetic at
 * the sgemm rate takes at most the read roof's time over 0.8: cmp/rd at
 * most this. */
#define REACHABLE_CMP_RD 1.25
/* The sgemm rate's product: M = N = K (row-major, on the run's threads),
 * the speed bench's square roof: 1024 stayed under its plateau on two AVX2
 * cores (84 and 125 GFLOP/s against 141), and a low rate would call rows
 * compute-bound that are not. */
#define SGEMM_N 2048

/* decode_roof.c: the sum of x[0, n) read on `threads` threads, one
 * contiguous range each (the read roof); and of the paged pools k, v read
 * as the decoding path reads them: per batch its pages in block-table
 * order (entry i of the table is page i % max_pages of batch i /
 * max_pages), each page's K run then its V run (page_bytes, contiguous in
 * both pool layouts), the (batch, page) list split statically over the
 * threads (the page roof: what scattered runs of a few KiB cost the
 * memory itself, whoever reads them). */
float dec_read_all(const float *x /* (n) */, size_t n, int threads);
float dec_read_pages(const char *k, const char *v, const int32_t *table,
                     int64_t n_pages, size_t page_bytes, int threads);

extern const char *const dec_storage_names[N_STORAGE];
extern const char *const dec_layout_names[N_LAYOUT];

typedef struct dec_shape {
    int64_t hq, hkv, d, b, tq, tk; /* dv = d */
} dec_shape;

/* One timed measurement. */
typedef struct dec_time {
    double seconds; /* best repeat; < 0: not measured */
    int reps;       /* timed repeats after the warm-up (0: none) */
    double busy;    /* cores other processes kept busy; -1: unknown */
} dec_time;

/* A table row: one shape, storage type and layout. */
typedef struct dec_row {
    dec_shape s;
    int storage, layout;
    int selected;    /* in this run's grid (--quick: a part) */
    int over_cap;    /* K + V over the run's cap (run time) */
    int over_memory; /* K + V and the roof's buffer over the budget */
    int run;         /* selected and neither: measured */
    double bytes;    /* K + V at storage size */
    dec_time roof, decode, general;
    dec_time page_roof;      /* paged rows: the same read over the pools'
                                pages in the decoding order (dec_read_pages) */
    dec_time decode1, roof1; /* 1 thread (B1, Tk >= TARGET_TK) */
    /* Medians over rounds of a read's time over the step's, the two timed
     * in turns round by round (so that the machine's drift touches both
     * alike): the roof's over the decoding path's, the page roof's over
     * it (paged rows), the 1-thread roof's over the 1-thread path's. */
    double roof_paired, page_paired, roof1_paired;
    double err_general;      /* max |decode - general|; < 0: no general */
    double err_ref;          /* max |decode - double reference| / sum p|v| */
} dec_row;

typedef struct dec_run {
    int quick, threads;
    /* Timing: a warm-up call, then repeats until min_seconds and min_reps;
     * one repeat when the warm-up took over long_call, none (the warm-up
     * is the measurement) over 4 long_call. Calls timed in turns: rounds
     * of one call each, until min_seconds per call and min_reps rounds. */
    double min_seconds, long_call;
    int min_reps;
    /* A measurement whose repeats took under long_call and during which
     * other processes kept over BUSY_LIMIT cores busy is made again (up to
     * MAX_ATTEMPTS in all, the fastest kept) while retry_left lasts. */
    double retry_seconds, retry_left, busy_limit;
    /* The general path runs where B Hq Tk d <= general_max (its time). */
    double general_max;
    /* Memory: what was available at the start, the budget for the K/V
     * buffers and the roof buffer, and the largest K + V that fits. */
    double mem_share, mem_available, mem_budget, kv_max;
    double kv_cap; /* rows with more K + V bytes are skipped (time) */
    int n_tk;      /* the first n_tk cache lengths; quick: fewer */
    int b_max;     /* batches up to this */
    /* cblas_sgemm SGEMM_N^3 on `threads` BLAS threads, FLOP/s: the rate
     * the step's arithmetic is bounded by (<= 0: not measured). */
    double sgemm_flops;
    dec_time sgemm;
    dec_row rows[N_ROWS];
    double t_start, seconds; /* the run's start (speed_now), wall time */
} dec_run;

/* decode_kv.c: data and checking. */
/* Uniform [-1, 1) on a grid of 2^-23, element i of stream seed: the same
 * value whatever the layout that stores it. */
float dec_value(uint64_t seed, uint64_t i);
size_t dec_storage_size(int storage);
/* K and V of shape s, logical (B, Hkv, Tk, d), element by element from
 * streams seed_k and seed_v, rounded to storage, into k and v: contiguous
 * (B, Hkv, Tk, d), or paged into pools (see dec_token_major) whose page
 * block_table[b * max_pages + p] holds keys [p PAGE, (p + 1) PAGE) of b. */
void dec_fill_kv(const dec_shape *s, int storage, int layout,
                 const int32_t *block_table, void *k, void *v, uint64_t seed_k,
                 uint64_t seed_v, int threads);
/* A shuffled assignment of the B * ceil(Tk / PAGE) pages of a pool. */
void dec_block_table(const dec_shape *s, int32_t *table, uint64_t seed);
/* Attention in double over the stored values (K and V recomputed from
 * their streams), for query head hq of batch b, bottom-right causal, Tq <=
 * 16, q contiguous (B, Hq, Tq, d): out (Tq, d) and, per element,
 * sum_j p_j |v_j| (the size its rounding errors scale with) into mag. */
void dec_reference(const dec_shape *s, int storage, float scale, const float *q,
                   int64_t b, int64_t hq, uint64_t seed_k, uint64_t seed_v,
                   double *out, double *mag);

/* decode_report.c: the table, the summary, the CSV file. */
void dec_table(FILE *f, const dec_run *x);
void dec_summary(FILE *f, const dec_run *x);
int dec_csv(FILE *f, const dec_run *x);
/* The fp32 row of r's shape and layout, the contiguous one of its shape
 * and storage (NULL when not run). */
const dec_row *dec_fp32_of(const dec_run *x, const dec_row *r);
const dec_row *dec_contig_of(const dec_run *x, const dec_row *r);
int dec_row_index(int h, int bi, int ti, int ki, int storage, int layout);

#endif /* BENCH_DECODE_H */
