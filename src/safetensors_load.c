/* attn_params_load and attn_params_load_buffer: check the arguments, parse
 * and check the whole file, match it against the list, and only then
 * copy. Both read the same bytes the same way, so a file and the buffer
 * holding it give the same status (bar I/O errors). */
#include <attention/safetensors.h>

#include <stdio.h>
#include <stdlib.h>

#include "f32le.h"
#include "file_read.h"
#include "params_check.h"
#include "safetensors_parse.h"

static attn_status check_list(const attn_param *params, size_t count,
                              const void *input, size_t input_bytes)
{
    attn_status s = attn_params_check(params, count);
    if (s == ATTN_OK)
        s = attn_params_check_disjoint(params, count, input, input_bytes);
    return s;
}

static int same_shape(const attn_param *p, const attn_st_entry *e)
{
    if (e->ndim != (size_t)p->ndim)
        return 0;
    for (int i = 0; i < p->ndim; ++i)
        if (e->shape[i] != (uint64_t)p->shape[i])
            return 0;
    return 1;
}

/* strict=True: the file holds exactly the listed names with the listed
 * shapes. Names are unique on both sides (the list was checked, the JSON
 * refuses duplicate keys), so equal counts and every name found means a
 * one-to-one match. */
static attn_status match(const attn_param *params, size_t count,
                         const attn_st_header *h)
{
    if (h->count != count)
        return ATTN_ERR_PARAM_MISMATCH;
    for (size_t i = 0; i < count; ++i) {
        const attn_st_entry *e = attn_st_find(h, params[i].name);
        if (e == NULL || !same_shape(&params[i], e))
            return ATTN_ERR_PARAM_MISMATCH;
    }
    return ATTN_OK;
}

/* The last checks, then the only writes. */
static attn_status load_data(const attn_param *params, size_t count,
                             const attn_st_header *h,
                             const unsigned char *data, /* (data_bytes) */
                             size_t data_bytes)
{
    /* Shorter: a tensor ends past the data; longer: trailing garbage. */
    if (data_bytes != h->data_bytes)
        return ATTN_ERR_BAD_FILE;
    attn_status s = match(params, count, h);
    if (s != ATTN_OK)
        return s;
    for (size_t i = 0; i < count; ++i) {
        const attn_st_entry *e = attn_st_find(h, params[i].name);
        attn_f32_from_le(params[i].data, data + e->begin,
                         attn_param_numel(&params[i]));
    }
    return ATTN_OK;
}

attn_status attn_params_load_buffer(const attn_param *params, size_t count,
                                    const void *data, size_t size)
{
    if (data == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    attn_status s = check_list(params, count, data, size);
    if (s != ATTN_OK)
        return s;
    const unsigned char *bytes = data;
    size_t header_bytes;
    if (size < ATTN_ST_PREFIX_BYTES)
        return ATTN_ERR_BAD_FILE;
    s = attn_st_header_length(bytes, &header_bytes);
    if (s != ATTN_OK)
        return s;
    size_t rest = size - ATTN_ST_PREFIX_BYTES;
    if (header_bytes > rest)
        return ATTN_ERR_BAD_FILE;
    attn_st_header h;
    s = attn_st_parse_header((const char *)bytes + ATTN_ST_PREFIX_BYTES,
                             header_bytes, &h);
    if (s != ATTN_OK)
        return s;
    s = load_data(params, count, &h,
                  bytes + ATTN_ST_PREFIX_BYTES + header_bytes,
                  rest - header_bytes);
    attn_st_header_free(&h);
    return s;
}

/* Reads and parses the header of an open file. */
static attn_status read_header(FILE *f, attn_st_header *h)
{
    unsigned char prefix[ATTN_ST_PREFIX_BYTES];
    size_t header_bytes;
    attn_status s = attn_read_exact(f, prefix, sizeof prefix);
    if (s == ATTN_OK)
        s = attn_st_header_length(prefix, &header_bytes);
    if (s != ATTN_OK)
        return s;
    /* Capped at ATTN_ST_MAX_HEADER_BYTES by now; never malloc(0). */
    char *json = malloc(header_bytes > 0 ? header_bytes : 1);
    if (json == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    s = attn_read_exact(f, json, header_bytes);
    if (s == ATTN_OK)
        s = attn_st_parse_header(json, header_bytes, h);
    free(json);
    return s;
}

attn_status attn_params_load(const attn_param *params, size_t count,
                             const char *path)
{
    if (path == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    attn_status s = check_list(params, count, NULL, 0);
    if (s != ATTN_OK)
        return s;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return ATTN_ERR_IO;
    attn_st_header h;
    s = read_header(f, &h);
    if (s == ATTN_OK) {
        /* One byte more than the header asks for, to notice trailing
         * garbage; saturating, as a hostile end offset may be SIZE_MAX. */
        size_t limit = h.data_bytes < SIZE_MAX ? h.data_bytes + 1 : SIZE_MAX;
        unsigned char *data = NULL;
        size_t data_bytes = 0;
        s = attn_read_rest(f, limit, &data, &data_bytes);
        if (s == ATTN_OK)
            s = load_data(params, count, &h, data, data_bytes);
        free(data);
        attn_st_header_free(&h);
    }
    fclose(f);
    return s;
}
