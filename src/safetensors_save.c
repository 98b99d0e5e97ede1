/* attn_params_save: the header JSON as the reference implementation writes
 * it, then the data, into a temporary file that is renamed over the
 * target only once everything is written. */
#if defined(__unix__) || defined(__APPLE__)
/* fileno and fsync, to make the data durable before the rename. */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>
#define ATTN_HAVE_FSYNC 1
#endif

#include <attention/safetensors.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "f32le.h"
#include "layout.h"
#include "params_check.h"
#include "safetensors_parse.h"

/* Largest json_int_t, which is long long or long. */
#if JSON_INTEGER_IS_LONG_LONG
#define ATTN_JSON_INT_MAX LLONG_MAX
#else
#define ATTN_JSON_INT_MAX LONG_MAX
#endif

/* Floats converted per fwrite; the buffer lives on the stack. */
#define ATTN_SAVE_CHUNK 1024
/* Temporary names tried before giving up: "<path>.<n>.tmp". */
#define ATTN_SAVE_TMP_TRIES 100

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
        size_t end = offset + attn_param_bytes(&params[i]); /* checked sum */
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
    if (!attn_add_size(len, ATTN_ST_HEADER_ALIGN - 1, &padded)) {
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

/* Everything into f; nonzero on success. */
static int write_all(FILE *f, const attn_param *params, size_t count,
                     const char *header, size_t header_bytes)
{
    unsigned char buf[ATTN_SAVE_CHUNK * 4];
    uint64_t n = header_bytes;
    for (int i = 0; i < ATTN_ST_PREFIX_BYTES; ++i, n >>= 8)
        buf[i] = (unsigned char)(n & 0xFF);
    if (fwrite(buf, 1, ATTN_ST_PREFIX_BYTES, f) != ATTN_ST_PREFIX_BYTES ||
        fwrite(header, 1, header_bytes, f) != header_bytes)
        return 0;
    for (size_t i = 0; i < count; ++i) {
        const float *x = params[i].data;
        size_t left = attn_param_numel(&params[i]);
        while (left > 0) {
            size_t m = left < ATTN_SAVE_CHUNK ? left : ATTN_SAVE_CHUNK;
            attn_f32_to_le(buf, x, m);
            if (fwrite(buf, 4, m, f) != m)
                return 0;
            x += m;
            left -= m;
        }
    }
    return 1;
}

/* Flushes, syncs where the platform can, closes; nonzero on success. */
static int finish(FILE *f)
{
    int ok = fflush(f) == 0;
#ifdef ATTN_HAVE_FSYNC
    ok = ok && fsync(fileno(f)) == 0;
#endif
    return (fclose(f) == 0) && ok;
}

/* A new file next to path, created exclusively ("x", C11) so that two
 * saves to the same path never share a temporary. */
static FILE *open_temp(const char *path, char *tmp /* (strlen(path) + 16) */)
{
    size_t len = strlen(path);
    for (int n = 0; n < ATTN_SAVE_TMP_TRIES; ++n) {
        memcpy(tmp, path, len);
        snprintf(tmp + len, 16, ".%d.tmp", n);
        errno = 0;
        FILE *f = fopen(tmp, "wbx");
        if (f != NULL)
            return f;
#ifdef EEXIST
        if (errno != EEXIST)
            return NULL;
#endif
    }
    return NULL;
}

attn_status attn_params_save(const attn_param *params, size_t count,
                             const char *path)
{
    if (path == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    attn_status s = attn_params_check(params, count);
    if (s != ATTN_OK)
        return s;
    if (path[0] == '\0')
        return ATTN_ERR_IO;
    char *header = NULL;
    size_t header_bytes = 0;
    s = make_header(params, count, &header, &header_bytes);
    if (s != ATTN_OK)
        return s;
    size_t tmp_bytes;
    char *tmp = NULL;
    if (attn_add_size(strlen(path), 16, &tmp_bytes))
        tmp = malloc(tmp_bytes);
    if (tmp == NULL) {
        free(header);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    s = ATTN_ERR_IO;
    FILE *f = open_temp(path, tmp);
    if (f != NULL) {
        int ok = write_all(f, params, count, header, header_bytes);
        ok = finish(f) && ok;
        /* rename replaces path atomically on POSIX: readers see the old
         * file or the new one, never half of one. */
        if (ok && rename(tmp, path) == 0)
            s = ATTN_OK;
        else
            remove(tmp);
    }
    free(tmp);
    free(header);
    return s;
}
