/*
 * The tile policy: every tile and block size of the library, and the rule
 * they follow, in one place. The public headers and the README describe
 * the rule; the numbers live here only.
 *
 * The rule. A tile's working set must stay in a core's L2 (1 MiB on the
 * CPUs this is tuned on): the fused forward's score tile (Q x K floats),
 * its K and V tiles (2 K D floats, D = max(d, dv)) and the output tile.
 *   - K by head size: 512 keys for D <= 64, 256 for D <= 128, 128 beyond,
 *     so the K and V tiles stay within 256 KiB and the score tile within
 *     512 KiB.
 *   - Q = 256 query rows: twice 128's rows per packed K and V tile (+8 %
 *     forward speed with AVX-512 kernels). Under a causal mask the
 *     diagonal tiles are cut into groups of DIAGONAL_ROWS rows that each
 *     stop at their own last visible key, so the masked triangle costs a
 *     group's worth, not a tile's.
 *   - The backward keeps two score-sized tiles (P and dS) and four
 *     key-side tiles resident: at most 128 queries x 256 keys.
 *   - When the BLAS would thread a tile's products itself (OpenBLAS's
 *     pthread build with more than one thread threads any sgemm above
 *     2^18 multiply-adds, and serialises concurrent threaded calls), the
 *     fused tiles shrink below that size: 64 queries x K keys with
 *     64 K D <= 2^18. Each product then stays on its calling thread.
 *   - Never more than Tq or Tk.
 *   - The materialised path scores MATERIALIZED_ROWS queries against all
 *     their keys at once, whatever Tq is.
 *   - Decoding (at most DECODE_MAX_Q query rows, the query heads of a kv
 *     head packed together, at most DECODE_MAX_ROWS of them): key blocks of
 *     DECODE_KEYS, whose score tile (rows x keys) and K and V rows stay in
 *     L1/L2 while each K and V row is read once. A task walks several kv
 *     heads of its batch block by block: the most that divide Hkv with
 *     their packed Q and O rows within DECODE_HEAD_BYTES and still leave
 *     DECODE_TASKS tasks with chunks of DECODE_GROUP_CHUNK keys; a paged
 *     pool's page then reaches memory as one run across its heads, not one
 *     short run per head (pages of 16 fp16 rows of d 128 are 4 KiB per
 *     head, read at about 0.6 of a sequential read when scattered, 0.9
 *     when a page's heads are read together). Shorter chunks cost more
 *     than the longer runs gain. Contiguous caches take the same layout,
 *     so that paged and contiguous results agree bit for bit. When the
 *     tasks number fewer than DECODE_TASKS, the keys are cut into as many
 *     chunks (of at least DECODE_MIN_CHUNK keys, DECODE_GROUP_CHUNK when
 *     heads are walked together; partial results within
 *     DECODE_MAX_PARTIALS bytes). Both counts depend on the shape only.
 * Which tiling a call takes depends on its descriptor and on one reading
 * of the BLAS's threading (sdpa_plan.blas_threads); results may differ in
 * the last bits between tilings, never between thread counts.
 */
#ifndef ATTN_SRC_TILES_H
#define ATTN_SRC_TILES_H

#include <stdint.h>

#include <attention/sdpa.h>

enum {
    ATTN_TILE_Q = 256,              /* fused forward query rows */
    ATTN_TILE_Q_BACKWARD = 128,     /* fused backward query rows, at most */
    ATTN_TILE_K_BACKWARD = 256,     /* fused backward keys, at most */
    ATTN_TILE_Q_SMALL = 64,         /* query rows when the BLAS threads */
    ATTN_DIAGONAL_ROWS = 64,        /* rows per group on a causal diagonal */
    ATTN_MATERIALIZED_ROWS = 64,    /* query rows the materialised path scores */
    ATTN_DECODE_MAX_Q = 16,         /* query rows the decoding path takes, at most */
    ATTN_DECODE_MAX_ROWS = 32,      /* packed rows (group x Tq), at most */
    ATTN_DECODE_KEYS = 256,         /* keys per decoding block */
    ATTN_DECODE_TASKS = 16,         /* tasks wanted before chunking stops */
    ATTN_DECODE_MIN_CHUNK = 512,    /* keys per chunk, at least */
    ATTN_DECODE_HEAD_BYTES = 64 << 10, /* a task's kv heads' Q and O rows */
    ATTN_DECODE_GROUP_CHUNK = 2048, /* keys per chunk, at least, then */
    ATTN_DECODE_AHEAD_BYTES = 4096, /* K or V rows fetched this far ahead */
    ATTN_TILE_MAX_Q = ATTN_TILE_Q   /* sizes per-row stack arrays */
};

_Static_assert(ATTN_TILE_Q_SMALL <= ATTN_TILE_MAX_Q &&
                   ATTN_TILE_Q_BACKWARD <= ATTN_TILE_MAX_Q,
               "every query tile fits the per-row stack arrays");
#define ATTN_DECODE_MAX_PARTIALS ((size_t)32 << 20)

_Static_assert(ATTN_DECODE_MIN_CHUNK % ATTN_DECODE_KEYS == 0,
               "chunks are whole decoding blocks");
_Static_assert(ATTN_TILE_Q % ATTN_DIAGONAL_ROWS == 0,
               "diagonal groups tile the query tile");

typedef struct attn_tiles {
    int64_t q;  /* query rows per tile */
    int64_t k;  /* keys per tile */
} attn_tiles;

/*
 * Nonzero when sgemm calls made from the library's threads could fan out
 * to the BLAS's own threads: OpenBLAS's pthread build with more than one
 * thread. The OpenMP build runs single-threaded inside our OpenMP threads,
 * and other BLAS libraries are taken at their word. A call reads it once
 * (attni_sdpa_plan_make).
 */
int attni_blas_may_thread(void);

/* The fused forward's and backward's tiles for the BLAS threading a call
 * read. */
attn_tiles attni_tiles_forward(const attn_sdpa_desc *d, int blas_threads);
attn_tiles attni_tiles_backward(const attn_sdpa_desc *d, int blas_threads);

#endif /* ATTN_SRC_TILES_H */
