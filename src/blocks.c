#include "blocks.h"

/* OpenBLAS's introspection, if the BLAS is OpenBLAS; weak so that any
 * other CBLAS links too (the pointers are then NULL). */
#pragma weak openblas_get_parallel
#pragma weak openblas_get_num_threads
int openblas_get_parallel(void);
int openblas_get_num_threads(void);

/* OpenBLAS runs an sgemm of at most this many multiply-adds unthreaded
 * (SMP_THRESHOLD_MIN * GEMM_MULTITHREAD_THRESHOLD in interface/gemm.c). */
#define OPENBLAS_UNTHREADED_MNK (65536 * 4)

int attn_blas_may_thread(void)
{
    if (openblas_get_parallel == NULL || openblas_get_num_threads == NULL)
        return 0;
    return openblas_get_parallel() == 1 && openblas_get_num_threads() > 1;
}

attn_blocks attn_fused_blocks(const attn_sdpa_desc *d, int blas_threads)
{
    const int64_t D = d->head_dim > d->v_head_dim ? d->head_dim : d->v_head_dim;
    attn_blocks b;
    if (blas_threads) {
        b.q = 64;
        b.k = OPENBLAS_UNTHREADED_MNK / (b.q * D);
        b.k = b.k >= 32 ? b.k & ~(int64_t)15 : (b.k > 0 ? b.k : 1);
    } else {
        b.q = 256;
        b.k = D <= 64 ? 512 : D <= 128 ? 256 : 128;
    }
    if (b.q > d->q_len)
        b.q = d->q_len;
    if (b.k > d->kv_len)
        b.k = d->kv_len;
    return b;
}
