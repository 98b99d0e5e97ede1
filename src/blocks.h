/* Tile sizes of the fused path, and the BLAS threading they must respect. */
#ifndef ATTN_SRC_BLOCKS_H
#define ATTN_SRC_BLOCKS_H

#include <stdint.h>

#include <attention/sdpa.h>

typedef struct attn_blocks {
    int64_t q;  /* query rows per tile */
    int64_t k;  /* keys per tile */
} attn_blocks;

/*
 * Nonzero when sgemm calls made from the library's threads could fan out
 * to the BLAS's own threads: OpenBLAS's pthread build with more than one
 * thread (it threads any product above 2^18 multiply-adds and serialises
 * concurrent threaded calls). The OpenMP build runs single-threaded inside
 * our OpenMP threads, and other BLAS libraries are taken at their word.
 */
int attn_blas_may_thread(void);

/*
 * The rule (D = max(d, dv)):
 *  - normally Q queries x K keys with K = 512 for D <= 64, 256 for
 *    D <= 128, 128 beyond: the K and V tiles (2 K D floats) stay within
 *    256 KiB and the score tile (Q K floats) within 512 KiB, together
 *    inside a 1 MiB L2. Q = 256 halves the packing of K and V per
 *    multiply-add against Q = 128 (+8 % forward speed with AVX-512
 *    kernels); a causal mask takes Q = 128, whose diagonal tiles waste
 *    half as much (the backward also takes 128: it keeps two tiles);
 *  - when blas_threads (attn_blas_may_thread() as the call read it once):
 *    64 queries x K keys with 64 K D <= 2^18, so OpenBLAS keeps every tile
 *    product on the calling thread;
 *  - never more than Tq or Tk.
 */
attn_blocks attn_fused_blocks(const attn_sdpa_desc *d, int blas_threads);

#endif /* ATTN_SRC_BLOCKS_H */
