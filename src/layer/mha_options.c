/* Options of a layer call, with the descriptor's conventions. */
#include <string.h>

#include "layer/mha_impl.h"

#include <stddef.h>

/* The size of the first released struct; see DESC_V1_SIZE in desc.c. */
#define OPTIONS_V1_SIZE offsetof(attn_mha_options, window_left)

static void set_defaults(attn_mha_options *o, int64_t kv_len)
{
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->causal = ATTN_CAUSAL_NONE;
    o->keep_strides.row = kv_len;
    o->bias_strides.row = kv_len;
    o->algo = ATTN_ALGO_AUTO;
    o->window_left = -1;
    o->window_right = -1;
}

attn_status attn_mha_options_init_sized(attn_mha_options *options,
                                        size_t options_size, int64_t kv_len)
{
    if (options == NULL)
        return ATTN_ERR_NULL_POINTER;
    if (options_size < OPTIONS_V1_SIZE)
        return ATTN_ERR_BAD_DESC;
    attn_mha_options full;
    set_defaults(&full, kv_len);
    const size_t n = options_size < sizeof full ? options_size : sizeof full;
    full.struct_size = n;
    memcpy(options, &full, n);
    return ATTN_OK;
}

attn_status attni_mha_options_load(const attn_mha_options *user, int64_t kv_len,
                                  attn_mha_options *o)
{
    set_defaults(o, kv_len);
    if (user == NULL)
        return ATTN_OK;
    if (user->struct_size < OPTIONS_V1_SIZE || user->struct_size > sizeof *o)
        return ATTN_ERR_BAD_DESC;
    memcpy(o, user, user->struct_size);
    o->struct_size = sizeof *o; /* past the caller's struct: the defaults */
    return ATTN_OK;
}
