/*
 * For fuzz_safetensors: the parameter list a safetensors file describes,
 * read from its JSON header with jansson (independently of the library's
 * parser), with sentinel-filled data, so that a well-formed file can be
 * loaded and its values checked against the file's bytes.
 */
#ifndef ATTN_FUZZ_SAFETENSORS_LIST_H
#define ATTN_FUZZ_SAFETENSORS_LIST_H

#include <stddef.h>
#include <stdint.h>

#include <attention/params.h>

#define ST_MAX_TENSORS 16
#define ST_MAX_ELEMENTS (1u << 18)
/* A NaN the loader would have to copy by accident from a file. */
#define ST_SENTINEL_BITS 0x7FC0BEEFu

typedef struct st_list {
    attn_param p[ST_MAX_TENSORS + 1];  /* one spare for variations */
    size_t count;
    char *names[ST_MAX_TENSORS + 1];
    uint64_t begin[ST_MAX_TENSORS];    /* data_offsets[0] of each */
} st_list;

/*
 * Fills l from the header of the file (size bytes): every entry but
 * "__metadata__" that has an integer "shape" of 1..4 positive dimensions
 * and integer "data_offsets". Returns 0 (l empty) when the header cannot
 * be read or does not describe such a list.
 */
int st_list_from_file(const uint8_t *data, size_t size, st_list *l);

/* The two parameters of the test suite's table: "a" (2, 3), "b" (4). */
void st_list_fixed(st_list *l);

/* Adds a parameter (data sentinel-filled); returns 0 if it cannot. */
int st_list_add(st_list *l, const char *name, int ndim, const int64_t *shape);

/* Sets every value back to the sentinel. */
void st_list_reset(st_list *l);
/* Every value is still the sentinel. */
int st_list_untouched(const st_list *l);

void st_list_free(st_list *l);

#endif /* ATTN_FUZZ_SAFETENSORS_LIST_H */
