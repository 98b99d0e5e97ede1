/*
 * Where the K or V rows of one (batch, kv head) live: a strided tensor or
 * the pages of a block table, in the call's storage type. Every forward
 * path reads K and V through this, so pages and storage types reach them
 * all the same way.
 */
#ifndef ATTN_SRC_KV_SOURCE_H
#define ATTN_SRC_KV_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <attention/sdpa.h>

typedef struct kv_source {
    const char *base;       /* row 0 of the pair, or of head hk in page 0 */
    int64_t row_bytes;      /* between rows (of a page, when paged) */
    int64_t page_bytes;     /* between pages */
    const int32_t *pages;   /* the batch's block table row, or NULL */
    int64_t page_size;
    attn_dtype dtype;
} kv_source;

/* The K and V tensors as laid out in memory: (tensors, Hkv, rows, last)
 * with k_strides / v_strides. Not paged: (B, Hkv, Tk); paged: the pools,
 * (num_pages, Hkv, page_size). */
int64_t attni_kv_tensors(const attn_sdpa_desc *d);
int64_t attni_kv_tensor_rows(const attn_sdpa_desc *d);

/* Bytes of one stored element. */
size_t attni_dtype_size(attn_dtype t);

/* The rows of K (strides = k_strides) or V of batch b, kv head hk. */
kv_source attni_kv_source(const attn_sdpa_desc *d, const void *base,
                          attn_strides strides, int64_t b, int64_t hk);

/* rows[i] = the address of row j0 + i, for i < n. */
void attni_kv_rows(const kv_source *s, int64_t j0, int64_t n,
                   const void **rows /* (n) */);

/* Nonzero when rows [j0, j0 + n) are fp32 at one row stride (not paged,
 * or inside one page): the tensor can be handed to sgemm as it is. */
int attni_kv_is_direct(const kv_source *s, int64_t j0, int64_t n);

#endif /* ATTN_SRC_KV_SOURCE_H */
