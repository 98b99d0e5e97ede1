#include "plan/kv_source.h"

#include "plan/packed.h"

int64_t attni_kv_tensors(const attn_sdpa_desc *d)
{
    return d->block_table ? d->num_pages : attni_tensor_batch(d);
}

int64_t attni_kv_tensor_rows(const attn_sdpa_desc *d)
{
    return d->block_table ? d->page_size : d->kv_len;
}

size_t attni_dtype_size(attn_dtype t)
{
    return t == ATTN_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

kv_source attni_kv_source(const attn_sdpa_desc *d, const void *base,
                          attn_strides strides, int64_t b, int64_t hk)
{
    const int64_t elem = (int64_t)attni_dtype_size(d->kv_dtype);
    kv_source s;
    s.base = (const char *)base + hk * strides.head * elem;
    s.row_bytes = strides.row * elem;
    s.page_bytes = strides.batch * elem;
    s.pages = NULL;
    s.page_size = 0;
    s.dtype = d->kv_dtype;
    if (d->block_table) {
        s.pages = d->block_table + b * d->max_pages;
        s.page_size = d->page_size;
    } else if (attni_packed(d)) {
        s.base += attni_seq_offset(d, d->cu_seqlens_k, b) * s.row_bytes;
    } else {
        s.base += b * s.page_bytes;
    }
    return s;
}

void attni_kv_rows(const kv_source *s, int64_t j0, int64_t n, const void **rows)
{
    if (s->pages == NULL) {
        for (int64_t i = 0; i < n; ++i)
            rows[i] = s->base + (j0 + i) * s->row_bytes;
        return;
    }
    int64_t page = j0 / s->page_size, slot = j0 % s->page_size;
    for (int64_t i = 0; i < n;) {
        const char *p = s->base + s->pages[page] * s->page_bytes;
        for (; slot < s->page_size && i < n; ++slot, ++i)
            rows[i] = p + slot * s->row_bytes;
        ++page;
        slot = 0;
    }
}

int attni_kv_is_direct(const kv_source *s, int64_t j0, int64_t n)
{
    return s->dtype == ATTN_DTYPE_F32 &&
           (s->pages == NULL || n <= 0 ||
            j0 / s->page_size == (j0 + n - 1) / s->page_size);
}
