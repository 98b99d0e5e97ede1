#include "train/params_check.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan/layout.h"

/* Nonzero when s is well-formed UTF-8 (no overlong forms, surrogates or
 * code points past U+10FFFF): JSON keys must be, and jansson refuses
 * anything else, so such a name could neither be saved nor ever match. */
static int is_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    while (*s != 0) {
        unsigned c = *s;
        size_t extra;
        unsigned min;
        if (c < 0x80) {
            ++s;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3, min = 0x10000;
        } else {
            return 0;
        }
        unsigned cp = c & (0x3Fu >> extra);
        for (size_t i = 1; i <= extra; ++i) {
            if ((s[i] & 0xC0) != 0x80) /* also stops at the NUL */
                return 0;
            cp = (cp << 6) | (s[i] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += extra + 1;
    }
    return 1;
}

attn_status attni_param_check_shape(const attn_param *p, size_t *bytes)
{
    if (p->ndim < 1 || p->ndim > ATTN_PARAM_MAX_DIMS)
        return ATTN_ERR_BAD_ARGUMENT;
    for (int i = 0; i < p->ndim; ++i)
        if (p->shape[i] <= 0)
            return ATTN_ERR_BAD_ARGUMENT;
    size_t n = sizeof(float);
    for (int i = 0; i < p->ndim; ++i)
        if ((uint64_t)p->shape[i] > SIZE_MAX ||
            !attni_mul_size(n, (size_t)p->shape[i], &n))
            return ATTN_ERR_SIZE_OVERFLOW;
    *bytes = n;
    return ATTN_OK;
}

static attn_status check_entry(const attn_param *p, size_t *bytes)
{
    if (p->name == NULL || p->data == NULL || p->name[0] == '\0' ||
        !is_utf8(p->name) || strcmp(p->name, ATTN_ST_METADATA_KEY) == 0)
        return ATTN_ERR_BAD_ARGUMENT;
    return attni_param_check_shape(p, bytes);
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

attn_status attni_params_check(const attn_param *params, size_t count)
{
    if (count == 0)
        return ATTN_OK;
    if (params == NULL)
        return ATTN_ERR_NULL_POINTER;
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        size_t bytes = 0;
        attn_status s = check_entry(&params[i], &bytes);
        if (s != ATTN_OK)
            return s;
        if (!attni_add_size(total, bytes, &total))
            return ATTN_ERR_SIZE_OVERFLOW;
    }
    /* Duplicates: sort the names, then compare neighbours (n log n, so a
     * long list of layers stays cheap). */
    size_t array_bytes;
    if (!attni_mul_size(count, sizeof(const char *), &array_bytes))
        return ATTN_ERR_OUT_OF_MEMORY;
    const char **names = malloc(array_bytes);
    if (names == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < count; ++i)
        names[i] = params[i].name;
    qsort(names, count, sizeof *names, compare_names);
    attn_status s = ATTN_OK;
    for (size_t i = 1; i < count && s == ATTN_OK; ++i)
        if (strcmp(names[i - 1], names[i]) == 0)
            s = ATTN_ERR_BAD_ARGUMENT;
    free(names);
    return s;
}

size_t attni_param_bytes(const attn_param *param)
{
    return attn_param_numel(param) * sizeof(float);
}

static int compare_ranges(const void *a, const void *b)
{
    const attn_range *x = a, *y = b;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

attn_status attni_params_check_disjoint(const attn_param *params, size_t count,
                                       const void *input, size_t input_bytes)
{
    /* Sorted by start, ranges are disjoint iff each ends before the next
     * begins; the input buffer joins the sort as one more range. */
    size_t n = count + (input != NULL && input_bytes > 0), array_bytes;
    if (n < 2)
        return ATTN_OK;
    if (!attni_mul_size(n, sizeof(attn_range), &array_bytes))
        return ATTN_ERR_OUT_OF_MEMORY;
    attn_range *r = malloc(array_bytes);
    if (r == NULL)
        return ATTN_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < count; ++i)
        r[i] = attni_range_of(params[i].data, attni_param_bytes(&params[i]));
    if (n > count)
        r[count] = attni_range_of(input, input_bytes);
    qsort(r, n, sizeof *r, compare_ranges);
    attn_status s = ATTN_OK;
    for (size_t i = 1; i < n && s == ATTN_OK; ++i)
        if (attni_ranges_overlap(r[i - 1], r[i]))
            s = ATTN_ERR_ALIASING;
    free(r);
    return s;
}
