#include "plan/tiles.h"

/* OpenBLAS's introspection, if the BLAS is OpenBLAS; weak so that any
 * other CBLAS links too (the pointers are then NULL). */
#pragma weak openblas_get_parallel
#pragma weak openblas_get_num_threads
int openblas_get_parallel(void);
int openblas_get_num_threads(void);

/* OpenBLAS runs an sgemm of at most this many multiply-adds unthreaded
 * (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD in interface/gemm.c). */
#define OPENBLAS_UNTHREADED_MNK (65536 * 4)

int attni_blas_may_thread(void)
{
    if (openblas_get_parallel == NULL || openblas_get_num_threads == NULL)
        return 0;
    return openblas_get_parallel() == 1 && openblas_get_num_threads() > 1;
}

static int64_t at_most(int64_t x, int64_t cap)
{
    return x < cap ? x : cap;
}

attn_tiles attni_tiles_forward(const attn_sdpa_desc *d, int blas_threads)
{
    const int64_t D = d->head_dim > d->v_head_dim ? d->head_dim : d->v_head_dim;
    attn_tiles t;
    if (blas_threads) {
        t.q = ATTN_TILE_Q_SMALL;
        t.k = OPENBLAS_UNTHREADED_MNK / (t.q * D);
        t.k = t.k >= 32 ? t.k & ~(int64_t)15 : (t.k > 0 ? t.k : 1);
    } else {
        t.q = ATTN_TILE_Q;
        t.k = D <= 64 ? 512 : D <= 128 ? 256 : 128;
    }
    t.q = at_most(t.q, d->q_len);
    t.k = at_most(t.k, d->kv_len);
    return t;
}

attn_tiles attni_tiles_backward(const attn_sdpa_desc *d, int blas_threads)
{
    attn_tiles t = attni_tiles_forward(d, blas_threads);
    t.q = at_most(t.q, ATTN_TILE_Q_BACKWARD);
    t.k = at_most(t.k, ATTN_TILE_K_BACKWARD);
    return t;
}
