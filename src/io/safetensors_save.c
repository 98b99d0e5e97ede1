/* attn_params_save: the header JSON as the reference implementation writes
 * it, then the data, into a temporary file that replaces the target only
 * once everything is written (file_write.h). */
#include <attention/safetensors.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "io/f32le.h"
#include "io/file_write.h"
#include "plan/layout.h"
#include "train/params_check.h"
#include "io/safetensors_parse.h"

/* Largest json_int_t, which is long long or long. */
#if JSON_INTEGER_IS_LONG_LONG
#define ATTN_JSON_INT_MAX LLONG_MAX
#else
#define ATTN_JSON_INT_MAX LONG_MAX
#endif

/* Most floats converted per write. */
#define ATTN_SAVE_CHUNK ((size_t)1 << 16)

/* {"dtype":"F32","shape":[...],"data_offsets":[begin,end]}; keys in this
 * order, as the reference implementation writes them. */
static json_t *entry_json(const attn_param *p, size_t begin, size_t end)
{
    json_t *shape = json_array();
    json_t *e = json_object();
    int bad = shape == NULL || e == NULL;
    for (int i = 0; i < p->ndim && !bad; ++i)
        bad = json_array_append_new(shape, json_integer(p->shape[i])) != 0;
    bad = bad || json_object_set_new(e, "dtype", json_string(ATTN_ST_DTYPE_F32));
    if (!bad) {
        /* set_new takes shape even when it fails. */
        bad = json_object_set_new(e, "shape", shape) != 0;
        shape = NULL;
    }
    bad = bad || json_object_set_new(e, "data_offsets",
                                     json_pack("[II]", (json_int_t)begin,
                                               (json_int_t)end));
    if (bad) {
        json_decref(shape);
        json_decref(e);
        return NULL;
    }
    return e;
}

/*
 * The header bytes, padded with spaces to a multiple of 8 so the data
 * start aligned (the reference implementation's rule), in a malloc'd
 * buffer. Keys follow the list order, which is also the data order.
 */
static attn_status make_header(const attn_param *params, size_t count,
                               char **out, size_t *out_bytes)
{
    json_t *root = json_object();
    if (root == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    size_t offset = 0;
    for (size_t i = 0; i < count; ++i) {
        size_t end = offset + attni_param_bytes(&params[i]); /* checked sum */
        /* json_int_t is signed: an offset past its range cannot be
         * written (nor held in memory, in practice). */
        if ((unsigned long long)end > (unsigned long long)ATTN_JSON_INT_MAX) {
            json_decref(root);
            return ATTN_ERR_SIZE_OVERFLOW;
        }
        json_t *e = entry_json(&params[i], offset, end);
        /* set_new takes e even when it fails. */
        if (e == NULL || json_object_set_new(root, params[i].name, e) != 0) {
            json_decref(root);
            return ATTN_ERR_OUT_OF_MEMORY;
        }
        offset = end;
    }
    /* Compact, in insertion order (jansson keeps it since 2.8), UTF-8 left
     * unescaped: what serde_json writes, byte for byte, for any name
     * without control characters (whose \u escapes the two may spell
     * differently; they read back the same). */
    /* json_dumpb, not json_dumps: jansson's dump ignores a failed write
     * of an object key, which json_dumps's growing buffer can hit on an
     * allocation failure (the key is then silently left out); writing
     * into a buffer of the size asked for first cannot fail that way. */
    const size_t len = json_dumpb(root, NULL, 0, JSON_COMPACT);
    size_t padded;
    if (len == 0) {
        json_decref(root);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    if (!attni_add_size(len, ATTN_ST_HEADER_ALIGN - 1, &padded)) {
        json_decref(root);
        return ATTN_ERR_SIZE_OVERFLOW;
    }
    padded -= padded % ATTN_ST_HEADER_ALIGN;
    if (padded > ATTN_ST_MAX_HEADER_BYTES) {
        json_decref(root);
        return ATTN_ERR_BAD_ARGUMENT;
    }
    char *grown = malloc(padded);
    if (grown == NULL || json_dumpb(root, grown, padded, JSON_COMPACT) != len) {
        free(grown);
        json_decref(root);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    json_decref(root);
    memset(grown + len, ' ', padded - len);
    *out = grown;
    *out_bytes = padded;
    return ATTN_OK;
}

/* The 8-byte length, the header, then every tensor, little-endian. The
 * tensors go through buf (chunk floats), filled across tensor boundaries
 * so that many small tensors still make few writes. */
static attn_status write_all(attn_file_out *out, const attn_param *params,
                             size_t count, const char *header,
                             size_t header_bytes, unsigned char *buf,
                             size_t chunk)
{
    unsigned char prefix[ATTN_ST_PREFIX_BYTES];
    uint64_t n = header_bytes;
    for (int i = 0; i < ATTN_ST_PREFIX_BYTES; ++i, n >>= 8)
        prefix[i] = (unsigned char)(n & 0xFF);
    attn_status s = attni_file_write(out, prefix, sizeof prefix);
    if (s == ATTN_OK)
        s = attni_file_write(out, header, header_bytes);
    size_t filled = 0; /* floats in buf */
    for (size_t i = 0; i < count && s == ATTN_OK; ++i) {
        const float *x = params[i].data;
        size_t left = attn_param_numel(&params[i]);
        while (left > 0 && s == ATTN_OK) {
            const size_t room = chunk - filled;
            const size_t m = left < room ? left : room;
            attni_f32_to_le(buf + filled * sizeof(float), x, m);
            filled += m;
            x += m;
            left -= m;
            if (filled == chunk) {
                s = attni_file_write(out, buf, filled * sizeof(float));
                filled = 0;
            }
        }
    }
    if (s == ATTN_OK && filled > 0)
        s = attni_file_write(out, buf, filled * sizeof(float));
    return s;
}

/* Floats per write: all of them, up to ATTN_SAVE_CHUNK, so a small list
 * takes a small buffer. */
static size_t chunk_for(const attn_param *params, size_t count)
{
    size_t total = 0;
    for (size_t i = 0; i < count && total < ATTN_SAVE_CHUNK; ++i)
        total += attn_param_numel(&params[i]);
    return total == 0 ? 1 : total < ATTN_SAVE_CHUNK ? total : ATTN_SAVE_CHUNK;
}

attn_status attn_params_save(const attn_param *params, size_t count,
                             const char *path)
{
    if (path == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    attn_status s = attni_params_check(params, count);
    if (s != ATTN_OK)
        return s;
    if (path[0] == '\0') {
        errno = ENOENT; /* as open("") reports it */
        return ATTN_ERR_IO;
    }
    char *header = NULL;
    size_t header_bytes = 0;
    s = make_header(params, count, &header, &header_bytes);
    if (s != ATTN_OK)
        return s;
    const size_t chunk = chunk_for(params, count);
    unsigned char *buf = malloc(chunk * sizeof(float));
    attn_file_out out;
    if (buf == NULL)
        s = ATTN_ERR_OUT_OF_MEMORY;
    else
        s = attni_file_create(path, &out);
    if (s == ATTN_OK) {
        s = write_all(&out, params, count, header, header_bytes, buf, chunk);
        if (s == ATTN_OK)
            s = attni_file_commit(&out);
        else
            attni_file_discard(&out);
    }
    free(buf);
    free(header);
    return s;
}
