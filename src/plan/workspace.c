#include "plan/workspace.h"

#include <stdint.h>

#include "plan/layout.h"

attn_ws_shape attni_ws_shape_max(attn_ws_shape a, attn_ws_shape b)
{
    attn_ws_shape m;
    m.shared = a.shared > b.shared ? a.shared : b.shared;
    m.per_thread = a.per_thread > b.per_thread ? a.per_thread : b.per_thread;
    return m;
}

attn_status attni_ws_bytes(attn_ws_shape s, int threads, size_t *bytes)
{
    size_t n;
    if (!attni_mul_size(s.per_thread, (size_t)threads, &n) ||
        !attni_add_size(n, s.shared, &n) ||
        !attni_add_size(n, ATTN_WORKSPACE_ALIGN, bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    return ATTN_OK;
}

int attni_ws_threads(attn_ws_shape s, size_t bytes, int wanted)
{
    if (bytes < ATTN_WORKSPACE_ALIGN || bytes - ATTN_WORKSPACE_ALIGN < s.shared)
        return 0;
    const size_t left = bytes - ATTN_WORKSPACE_ALIGN - s.shared;
    if (s.per_thread == 0)
        return wanted;
    const size_t fit = left / s.per_thread;
    return fit < (size_t)wanted ? (int)fit : wanted;
}

attn_status attni_ws_check(const void *ws, size_t ws_bytes, size_t least,
                           attn_ws_shape shape, int wanted, int *threads)
{
    if (ws == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (ws_bytes < least)
        return ATTN_ERR_WORKSPACE_TOO_SMALL;
    *threads = attni_ws_threads(shape, ws_bytes, wanted);
    return ATTN_OK;
}

size_t attni_workspace_round(size_t n)
{
    return (n + ATTN_WORKSPACE_ALIGN - 1) & ~(size_t)(ATTN_WORKSPACE_ALIGN - 1);
}

float *attni_workspace_floats(void *p)
{
    const uintptr_t a = ((uintptr_t)p + ATTN_WORKSPACE_ALIGN - 1) &
                        ~(uintptr_t)(ATTN_WORKSPACE_ALIGN - 1);
    return (float *)a;
}
