/* strdup: POSIX. */
#define _POSIX_C_SOURCE 200809L
#include "safetensors_list.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_check.h"

static uint64_t le64(const uint8_t *p)
{
    uint64_t x = 0;
    for (int i = 0; i < 8; ++i)
        x |= (uint64_t)p[i] << (8 * i);
    return x;
}

static size_t total_elements(const st_list *l)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; ++i)
        n += attn_param_numel(&l->p[i]);
    return n;
}

int st_list_add(st_list *l, const char *name, int ndim, const int64_t *shape)
{
    if (l->count > ST_MAX_TENSORS || ndim < 1 || ndim > ATTN_PARAM_MAX_DIMS)
        return 0;
    attn_param *p = &l->p[l->count];
    memset(p, 0, sizeof *p);
    p->ndim = ndim;
    for (int i = 0; i < ndim; ++i) {
        if (shape[i] < 1 || shape[i] > (int64_t)ST_MAX_ELEMENTS)
            return 0;
        p->shape[i] = shape[i];
    }
    const size_t n = attn_param_numel(p);
    if (n == 0 || n + total_elements(l) > ST_MAX_ELEMENTS)
        return 0;
    l->names[l->count] = strdup(name);
    p->data = malloc(n * sizeof(float));
    FUZZ_REQUIRE(l->names[l->count] && p->data);
    p->name = l->names[l->count];
    l->count++;
    st_list_reset(l);
    return 1;
}

void st_list_fixed(st_list *l)
{
    memset(l, 0, sizeof *l);
    const int64_t a[2] = {2, 3}, b[1] = {4};
    FUZZ_REQUIRE(st_list_add(l, "a", 2, a) && st_list_add(l, "b", 1, b));
}

/* One header entry into l; 0 if it does not make a parameter. */
static int add_entry(st_list *l, const char *key, json_t *e)
{
    json_t *shape = json_object_get(e, "shape");
    json_t *off = json_object_get(e, "data_offsets");
    /* An empty name is a bad list (ATTN_ERR_BAD_ARGUMENT), not a file. */
    if (key[0] == '\0' || !json_is_object(e) || !json_is_array(shape) ||
        !json_is_array(off) || json_array_size(off) != 2 ||
        !json_is_integer(json_array_get(off, 0)))
        return 0;
    const size_t ndim = json_array_size(shape);
    int64_t dims[ATTN_PARAM_MAX_DIMS];
    if (ndim < 1 || ndim > ATTN_PARAM_MAX_DIMS)
        return 0;
    for (size_t i = 0; i < ndim; ++i) {
        json_t *x = json_array_get(shape, i);
        if (!json_is_integer(x))
            return 0;
        dims[i] = (int64_t)json_integer_value(x);
    }
    const json_int_t begin = json_integer_value(json_array_get(off, 0));
    if (begin < 0)
        return 0;
    l->begin[l->count] = (uint64_t)begin;
    return st_list_add(l, key, (int)ndim, dims);
}

int st_list_from_file(const uint8_t *data, size_t size, st_list *l)
{
    memset(l, 0, sizeof *l);
    if (size < 8 || le64(data) > size - 8)
        return 0;
    json_error_t err;
    json_t *root = json_loadb((const char *)data + 8, (size_t)le64(data),
                              JSON_REJECT_DUPLICATES, &err);
    if (root == NULL)
        return 0;
    int ok = json_is_object(root);
    const char *key;
    json_t *e;
    json_object_foreach(root, key, e) {
        if (!ok)
            break;
        if (strcmp(key, "__metadata__") != 0)
            ok = add_entry(l, key, e);
    }
    json_decref(root);
    if (!ok || l->count == 0) {
        st_list_free(l);
        return 0;
    }
    return 1;
}

void st_list_reset(st_list *l)
{
    const uint32_t bits = ST_SENTINEL_BITS;
    for (size_t i = 0; i < l->count; ++i)
        for (size_t j = 0; j < attn_param_numel(&l->p[i]); ++j)
            memcpy(&l->p[i].data[j], &bits, sizeof bits);
}

int st_list_untouched(const st_list *l)
{
    for (size_t i = 0; i < l->count; ++i)
        for (size_t j = 0; j < attn_param_numel(&l->p[i]); ++j) {
            uint32_t bits;
            memcpy(&bits, &l->p[i].data[j], sizeof bits);
            if (bits != ST_SENTINEL_BITS)
                return 0;
        }
    return 1;
}

void st_list_free(st_list *l)
{
    for (size_t i = 0; i < l->count; ++i) {
        free(l->names[i]);
        free(l->p[i].data);
    }
    memset(l, 0, sizeof *l);
}
