/*
 * attn_params_load and attn_params_load_buffer: check the arguments, then
 * the header against the size of the data and against the list, and only
 * then touch the tensors. Both judge the same bytes the same way, so a
 * file and the buffer holding it give the same status (bar I/O errors).
 *
 * Memory follows the list, not the file: the header is read only when its
 * length is within what the list allows (attni_st_header_limit), and of the
 * data only the list's tensors, once the header matched.
 */
#include <attention/safetensors.h>

#include <stdlib.h>

#include "io/f32le.h"
#include "io/file_read.h"
#include "plan/layout.h"
#include "train/params_check.h"
#include "io/safetensors_parse.h"

/* Where one parameter's bytes are, settled before the first write: once
 * one parameter is written, the list itself or a name may have changed
 * (nothing forbids them to share memory with another's data). */
typedef struct attn_st_copy {
    float *dst;
    size_t numel;
    size_t begin;   /* byte offset in the data section */
} attn_st_copy;

static attn_status check_list(const attn_param *params, size_t count,
                              const void *input, size_t input_bytes)
{
    attn_status s = attni_params_check(params, count);
    if (s == ATTN_OK)
        s = attni_params_check_disjoint(params, count, input, input_bytes);
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
        const attn_st_entry *e = attni_st_find(h, params[i].name);
        if (e == NULL || !same_shape(&params[i], e))
            return ATTN_ERR_PARAM_MISMATCH;
    }
    return ATTN_OK;
}

/*
 * The header length from the prefix, checked against what follows it
 * (rest bytes) and against the list's bound: all before the header is
 * read, so a hostile length costs nothing.
 */
static attn_status header_length(const unsigned char *prefix, uint64_t rest,
                                 const attn_param *params, size_t count,
                                 size_t *json_bytes)
{
    attn_status s = attni_st_header_length(prefix, json_bytes);
    if (s == ATTN_OK && (*json_bytes > rest ||
                         *json_bytes > attni_st_header_limit(params, count)))
        s = ATTN_ERR_BAD_FILE;
    return s;
}

/*
 * Every check short of reading the data: the header parsed, its tensors
 * exactly covering the data_bytes that follow it, matched to the list.
 * On ATTN_OK *copies (count entries; NULL when count is 0) says where
 * each parameter's bytes are.
 */
static attn_status plan(const attn_param *params, size_t count,
                        const char *json, size_t json_bytes,
                        uint64_t data_bytes, attn_st_copy **copies)
{
    attn_st_header h;
    attn_status s = attni_st_parse_header(json, json_bytes,
                                         attni_st_value_limit(count), &h);
    if (s != ATTN_OK)
        return s;
    /* Shorter: a tensor ends past the data; longer: trailing garbage. */
    if ((uint64_t)h.data_bytes != data_bytes)
        s = ATTN_ERR_BAD_FILE;
    if (s == ATTN_OK)
        s = match(params, count, &h);
    attn_st_copy *c = NULL;
    size_t bytes;
    if (s == ATTN_OK && count > 0) {
        /* count entries were allocated for the header already. */
        c = attni_mul_size(count, sizeof *c, &bytes) ? malloc(bytes) : NULL;
        if (c == NULL)
            s = ATTN_ERR_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < count && s == ATTN_OK; ++i) {
        c[i].dst = params[i].data;
        c[i].numel = attn_param_numel(&params[i]);
        c[i].begin = attni_st_find(&h, params[i].name)->begin;
    }
    attni_st_header_free(&h);
    if (s == ATTN_OK)
        *copies = c;
    return s;
}

/* The only writes. */
static void copy(const attn_st_copy *c, size_t count,
                 const unsigned char *data)
{
    for (size_t i = 0; i < count; ++i)
        attni_f32_from_le(c[i].dst, data + c[i].begin, c[i].numel);
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
    size_t json_bytes;
    if (size < ATTN_ST_PREFIX_BYTES)
        return ATTN_ERR_BAD_FILE;
    const size_t rest = size - ATTN_ST_PREFIX_BYTES;
    s = header_length(bytes, rest, params, count, &json_bytes);
    if (s != ATTN_OK)
        return s;
    attn_st_copy *c = NULL;
    s = plan(params, count, (const char *)bytes + ATTN_ST_PREFIX_BYTES,
             json_bytes, rest - json_bytes, &c);
    if (s == ATTN_OK)
        copy(c, count, bytes + ATTN_ST_PREFIX_BYTES + json_bytes);
    free(c);
    return s;
}

/* attn_params_load on an open regular file of size bytes. The tensors are
 * read whole into a buffer of the list's size before the first write, so
 * a read error half way still leaves every parameter as it was. */
static attn_status load_fd(const attn_param *params, size_t count, int fd,
                           uint64_t size)
{
    unsigned char prefix[ATTN_ST_PREFIX_BYTES];
    size_t json_bytes;
    if (size < ATTN_ST_PREFIX_BYTES)
        return ATTN_ERR_BAD_FILE;
    const uint64_t rest = size - ATTN_ST_PREFIX_BYTES;
    attn_status s = attni_file_read_at(fd, prefix, sizeof prefix, 0);
    if (s == ATTN_OK)
        s = header_length(prefix, rest, params, count, &json_bytes);
    if (s != ATTN_OK)
        return s;
    /* Never malloc(0). */
    char *json = malloc(json_bytes > 0 ? json_bytes : 1);
    if (json == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    attn_st_copy *c = NULL;
    s = attni_file_read_at(fd, json, json_bytes, ATTN_ST_PREFIX_BYTES);
    if (s == ATTN_OK)
        s = plan(params, count, json, json_bytes, rest - json_bytes, &c);
    free(json);
    if (s != ATTN_OK)
        return s;
    /* The matched tensors tile the data section: it is the list's size
     * (a size_t sum, attni_params_check made sure). */
    const size_t data_bytes = (size_t)(rest - json_bytes);
    unsigned char *data = malloc(data_bytes > 0 ? data_bytes : 1);
    if (data == NULL)
        s = ATTN_ERR_OUT_OF_MEMORY;
    else
        s = attni_file_read_at(fd, data, data_bytes,
                              ATTN_ST_PREFIX_BYTES + (uint64_t)json_bytes);
    if (s == ATTN_OK)
        copy(c, count, data);
    free(data);
    free(c);
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
    int fd;
    uint64_t size;
    s = attni_file_open_read(path, &fd, &size);
    if (s != ATTN_OK)
        return s;
    s = load_fd(params, count, fd, size);
    attni_file_close(fd);
    return s;
}
