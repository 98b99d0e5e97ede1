#include "io/safetensors_parse.h"

#include <stdlib.h>
#include <string.h>

#include "io/json_grammar.h"
#include "plan/layout.h"
#include "train/params_check.h"

attn_status attni_st_header_length(const unsigned char *prefix,
                                  size_t *header_bytes)
{
    uint64_t n = 0;
    for (int i = ATTN_ST_PREFIX_BYTES - 1; i >= 0; --i)
        n = n << 8 | prefix[i];
    if (n > ATTN_ST_MAX_HEADER_BYTES)
        return ATTN_ERR_BAD_FILE;
    *header_bytes = (size_t)n;
    return ATTN_OK;
}

/* a + b * count, saturating at cap. */
static size_t bound(size_t a, size_t b, size_t count, size_t cap)
{
    size_t n;
    if (!attni_mul_size(b, count, &n) || !attni_add_size(a, n, &n) || n > cap)
        return cap;
    return n;
}

size_t attni_st_header_limit(const attn_param *params, size_t count)
{
    size_t names = 0;
    for (size_t i = 0; i < count && names < ATTN_ST_MAX_HEADER_BYTES; ++i)
        names += strlen(params[i].name); /* stops long before overflow */
    const size_t limit = bound(ATTN_ST_HEADER_BASE, ATTN_ST_HEADER_PER_TENSOR,
                               count, ATTN_ST_MAX_HEADER_BYTES);
    return bound(limit, ATTN_ST_HEADER_PER_NAME_BYTE, names,
                 ATTN_ST_MAX_HEADER_BYTES);
}

size_t attni_st_value_limit(size_t count)
{
    return bound(ATTN_ST_VALUES_BASE, ATTN_ST_VALUES_PER_TENSOR, count,
                 SIZE_MAX);
}

/* A JSON integer >= 0 that fits size_t (jansson has already refused
 * anything past its json_int_t; reals such as 2.0 are not integers). */
static int get_size(const json_t *v, size_t *out)
{
    if (!json_is_integer(v))
        return 0;
    json_int_t i = json_integer_value(v);
    if (i < 0 || (unsigned long long)i > SIZE_MAX)
        return 0;
    *out = (size_t)i;
    return 1;
}

/* Dimensions into e->ndim/shape, and numel * 4 into *bytes. The product
 * is checked left to right like the reference implementation does, so
 * [2^40, 2^40, 0] is refused even though it holds nothing. */
static int get_shape(const json_t *shape, attn_st_entry *e, size_t *bytes)
{
    if (!json_is_array(shape))
        return 0;
    e->ndim = json_array_size(shape);
    size_t n = sizeof(float);
    for (size_t i = 0; i < e->ndim; ++i) {
        size_t d;
        if (!get_size(json_array_get(shape, i), &d) ||
            !attni_mul_size(n, d, &n))
            return 0;
        if (i < ATTN_PARAM_MAX_DIMS)
            e->shape[i] = d;
    }
    *bytes = n;
    return 1;
}

static int get_entry(const char *name, const json_t *v, attn_st_entry *e)
{
    const json_t *dtype = json_object_get(v, "dtype");
    const json_t *offsets = json_object_get(v, "data_offsets");
    size_t bytes;
    memset(e, 0, sizeof *e);
    e->name = name;
    /* Only float32 is supported; another dtype is refused as a file this
     * library cannot read rather than as a mismatch. */
    return json_is_object(v) && json_is_string(dtype) &&
           strcmp(json_string_value(dtype), ATTN_ST_DTYPE_F32) == 0 &&
           get_shape(json_object_get(v, "shape"), e, &bytes) &&
           json_is_array(offsets) && json_array_size(offsets) == 2 &&
           get_size(json_array_get(offsets, 0), &e->begin) &&
           get_size(json_array_get(offsets, 1), &e->end) &&
           e->begin <= e->end && e->end - e->begin == bytes;
}

/* "__metadata__" maps strings to strings. */
static int metadata_ok(json_t *v)
{
    const char *key;
    json_t *value;
    if (!json_is_object(v))
        return 0;
    json_object_foreach(v, key, value)
        if (!json_is_string(value))
            return 0;
    return 1;
}

static int by_offset(const void *a, const void *b)
{
    const attn_st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const attn_st_entry *)a)->name,
                  ((const attn_st_entry *)b)->name);
}

/* Sorted by offset, each tensor must start where the previous one ended:
 * the spec wants the data section covered without holes or overlaps. */
static int tiles(const attn_st_entry *e, size_t count, size_t *data_bytes)
{
    size_t at = 0;
    for (size_t i = 0; i < count; ++i) {
        if (e[i].begin != at)
            return 0;
        at = e[i].end;
    }
    *data_bytes = at;
    return 1;
}

static attn_status collect(json_t *root, attn_st_header *h)
{
    size_t n = json_object_size(root), bytes;
    if (!attni_mul_size(n, sizeof(attn_st_entry), &bytes))
        return ATTN_ERR_OUT_OF_MEMORY;
    /* + 1: malloc(0) may return NULL. */
    h->entries = malloc(bytes + 1);
    if (h->entries == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    const char *key;
    json_t *value;
    json_object_foreach(root, key, value) {
        if (strcmp(key, ATTN_ST_METADATA_KEY) == 0) {
            if (!metadata_ok(value))
                return ATTN_ERR_BAD_FILE;
        } else if (!get_entry(key, value, &h->entries[h->count++])) {
            return ATTN_ERR_BAD_FILE;
        }
    }
    qsort(h->entries, h->count, sizeof *h->entries, by_offset);
    if (!tiles(h->entries, h->count, &h->data_bytes))
        return ATTN_ERR_BAD_FILE;
    qsort(h->entries, h->count, sizeof *h->entries, by_name);
    return ATTN_OK;
}

attn_status attni_st_parse_header(const char *json, size_t json_bytes,
                                 size_t max_values, attn_st_header *header)
{
    attn_st_header h = {NULL, NULL, 0, 0};
    /* The reference implementation insists on '{' first; a NUL byte is
     * refused outright rather than trusting every later string function
     * to stop at the same place jansson did. */
    if (json_bytes == 0 || json[0] != '{' || memchr(json, 0, json_bytes) != NULL)
        return ATTN_ERR_BAD_FILE;
    /* Before jansson: its tree grows with the count of values, and its
     * failed allocations are reported like bad grammar (json_grammar.c). */
    if (!attni_json_grammar_ok(json, json_bytes, max_values))
        return ATTN_ERR_BAD_FILE;
    json_error_t error;
    /* jansson leaves the code unset on some failures: make that "unknown". */
    memset(&error, 0, sizeof error);
    /* Bounded by json_bytes; duplicate keys would make "which tensor" a
     * guess, and the EOF check (on by default) allows only whitespace
     * after the object, i.e. the padding. */
    h.root = json_loadb(json, json_bytes, JSON_REJECT_DUPLICATES, &error);
    if (h.root == NULL) {
        /* Codes jansson sets for well-formed grammar it still refuses;
         * any other failure on text that passed the grammar check is a
         * failed allocation. */
        const enum json_error_code code = json_error_code(&error);
        if (code == json_error_duplicate_key || code == json_error_invalid_utf8 ||
            code == json_error_null_character || code == json_error_null_byte_in_key ||
            code == json_error_numeric_overflow ||
            code == json_error_stack_overflow)
            return ATTN_ERR_BAD_FILE;
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    attn_status s = json_is_object(h.root) ? collect(h.root, &h)
                                           : ATTN_ERR_BAD_FILE;
    if (s != ATTN_OK) {
        attni_st_header_free(&h);
        return s;
    }
    *header = h;
    return ATTN_OK;
}

void attni_st_header_free(attn_st_header *header)
{
    free(header->entries);
    json_decref(header->root);
    header->entries = NULL;
    header->root = NULL;
    header->count = 0;
}

const attn_st_entry *attni_st_find(const attn_st_header *header,
                                  const char *name)
{
    attn_st_entry key;
    key.name = name;
    return bsearch(&key, header->entries, header->count,
                   sizeof *header->entries, by_name);
}
