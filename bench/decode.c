/*
 * attention-bench-decode: one decoding step (a few new query rows against
 * a KV cache) against the memory-read roof of the same bytes, measured in
 * one run. For every shape it times
 *   - the roof: a vectorised read (sum) of a buffer of the step's K and V
 *     bytes on the same threads, warm from cache when it fits, from memory
 *     when it does not (the same as the step itself);
 *   - the decoding path (ATTN_ALGO_AUTO) and the general fused path;
 * and prints tokens/s (B x Tq rows per step), K/V GB/s at storage size and
 * the ratio to the roof. Storage: fp32, contiguous caches (the fp16/bf16
 * and paged caches of the decoding issue are not built yet).
 *   attention-bench-decode [--quick] [--threads N] [--csv FILE]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <attention/attention.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "rng.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef float vf __attribute__((vector_size(64)));

/* Sum of x[0, n) on `threads` threads, 16 lanes at a time: what reading
 * the bytes costs at the least. */
static float read_all(const float *x, size_t n, int threads)
{
    float total = 0.0f;
    (void)threads;
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
    for (size_t i = 0; i < n / 16; ++i) {
        vf v;
        memcpy(&v, x + 16 * i, sizeof v);
        float s = 0.0f;
        for (int l = 0; l < 16; ++l)
            s += v[l];
        total += s;
    }
    return total;
}

typedef struct shape {
    int64_t B, Hq, Hkv, d, Tq, Tk;
} shape;

/* Best seconds per call of fn over repeats for at least 0.3 s. */
#define TIME_BEST(best, stmt)                                   \
    do {                                                        \
        stmt;                                                   \
        best = 1e30;                                            \
        const double t_end_ = now() + 0.3;                      \
        int reps_ = 0;                                          \
        while (now() < t_end_ || reps_ < 3) {                   \
            const double t0_ = now();                           \
            stmt;                                               \
            const double t_ = now() - t0_;                      \
            best = t_ < best ? t_ : best;                       \
            ++reps_;                                            \
        }                                                       \
    } while (0)

static volatile float sink;

static void run_shape(const shape *s, int threads, FILE *csv)
{
    const size_t nq = (size_t)(s->B * s->Hq * s->Tq * s->d);
    const size_t nkv = (size_t)(s->B * s->Hkv * s->Tk * s->d);
    float *q = malloc(nq * sizeof *q), *out = malloc(nq * sizeof *out);
    float *k = malloc(nkv * sizeof *k), *v = malloc(nkv * sizeof *v);
    float *roof_buf = malloc(2 * nkv * sizeof *roof_buf);
    if (!q || !out || !k || !v || !roof_buf) {
        fprintf(stderr, "attention-bench-decode: out of memory\n");
        exit(1);
    }
    bench_fill_uniform(q, nq, 1);
    bench_fill_uniform(k, nkv, 2);
    bench_fill_uniform(v, nkv, 3);
    bench_fill_uniform(roof_buf, 2 * nkv, 4);
    const double bytes = 2.0 * (double)nkv * sizeof(float);

    double t_roof, t_path[2];
    TIME_BEST(t_roof, sink = read_all(roof_buf, 2 * nkv, threads));
    static const attn_algo algos[2] = {ATTN_ALGO_AUTO, ATTN_ALGO_FUSED};
    for (int a = 0; a < 2; ++a) {
        attn_sdpa_desc d;
        attn_sdpa_desc_init(&d, s->B, s->Hq, s->Hkv, s->Tq, s->Tk, s->d, s->d);
        d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
        d.algo = algos[a];
        d.num_threads = threads;
        size_t ws_bytes;
        attn_sdpa_workspace_size(&d, &ws_bytes);
        void *ws = malloc(ws_bytes);
        attn_status st = ATTN_OK;
        TIME_BEST(t_path[a], st = attn_sdpa_forward_ws(&d, q, k, v, out, NULL,
                                                      NULL, ws, ws_bytes));
        if (st != ATTN_OK) {
            fprintf(stderr, "attention-bench-decode: %s\n", attn_strerror(st));
            exit(1);
        }
        free(ws);
    }
    const double roof_gbs = bytes / t_roof * 1e-9;
    for (int a = 0; a < 2; ++a) {
        const double gbs = bytes / t_path[a] * 1e-9;
        const double tokens = (double)(s->B * s->Tq) / t_path[a];
        printf("  Hq%-3lld Hkv%-2lld d%-4lld B%-2lld Tq%-3lld Tk%-7lld %-7s %11.0f %8.1f %8.1f %6.2f %7.2f\n",
               (long long)s->Hq, (long long)s->Hkv, (long long)s->d,
               (long long)s->B, (long long)s->Tq, (long long)s->Tk,
               a == 0 ? "decode" : "general", tokens, gbs, roof_gbs,
               gbs / roof_gbs, t_path[1] / t_path[a]);
        if (csv)
            fprintf(csv, "%lld,%lld,%lld,%lld,%lld,%lld,%s,%d,%.6g,%.6g,%.6g,%.4f\n",
                    (long long)s->Hq, (long long)s->Hkv, (long long)s->d,
                    (long long)s->B, (long long)s->Tq, (long long)s->Tk,
                    a == 0 ? "decode" : "general", threads, tokens, gbs,
                    roof_gbs, gbs / roof_gbs);
    }
    fflush(stdout);
    free(q);
    free(out);
    free(k);
    free(v);
    free(roof_buf);
}

int main(int argc, char **argv)
{
    int quick = 0, threads = 0;
    const char *csv_path = NULL;
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc)
            csv_path = argv[++i];
        else {
            fprintf(stderr, "usage: attention-bench-decode [--quick] [--threads N] [--csv FILE]\n");
            return 2;
        }
    }
#ifdef _OPENMP
    if (threads <= 0)
        threads = omp_get_num_procs();
#endif
    if (threads <= 0)
        threads = 1;
    FILE *csv = csv_path ? fopen(csv_path, "w") : NULL;
    if (csv_path && !csv) {
        perror(csv_path);
        return 1;
    }
    if (csv)
        fprintf(csv, "hq,hkv,d,b,tq,tk,path,threads,tokens_per_s,kv_gb_per_s,roof_gb_per_s,roof_ratio\n");

    printf("attention-bench-decode: %s run, %d threads, fp32 contiguous K/V, "
           "bottom-right causal\n\n", quick ? "quick" : "full", threads);
    printf("  shape                                path       tokens/s   KV GB/s  roof GB/s  /roof  x general\n");
    static const int64_t heads[2][3] = {{32, 8, 128}, {8, 1, 64}};
    static const int64_t tks[] = {1024, 4096, 32768, 131072};
    static const int64_t bs[] = {1, 8};
    static const int64_t tqs[] = {1, 4};
    for (int h = 0; h < 2; ++h)
        for (int bi = 0; bi < 2; ++bi)
            for (int ti = 0; ti < 2; ++ti)
                for (int ki = 0; ki < 4; ++ki) {
                    const shape s = {bs[bi], heads[h][0], heads[h][1], heads[h][2],
                                     tqs[ti], tks[ki]};
                    const double kv = 2.0 * (double)(s.B * s.Hkv * s.Tk * s.d) * 4.0;
                    if (kv > 2.2e9 || (quick && (s.Tk > 32768 || s.B > 1)))
                        continue; /* fits the machine / the quick run */
                    run_shape(&s, threads, csv);
                }
    printf("\n  tokens/s: B x Tq new rows per second. KV GB/s: the step's K and V bytes over its\n"
           "  time. roof: a vectorised read of as many bytes on the same threads (from cache\n"
           "  when they fit, else from memory). x general: the general (fused) path's time\n"
           "  over this row's. Targets (Tk >= 4096): /roof >= 0.8 for every storage type.\n");
    if (csv)
        fclose(csv);
    return 0;
}
