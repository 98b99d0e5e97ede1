/*
 * Reading a safetensors header: bytes in, a validated list of tensor
 * entries out. Nothing here touches a parameter; the loaders match and
 * copy afterwards.
 *
 * File layout: an 8-byte little-endian header length n, n bytes of JSON
 * (an object, padded with trailing spaces), then the data section.
 */
#ifndef ATTN_SRC_SAFETENSORS_PARSE_H
#define ATTN_SRC_SAFETENSORS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <attention/params.h>

#define ATTN_ST_PREFIX_BYTES 8
/* The reference implementation refuses longer headers; so do we, which
 * also bounds what a hostile length can make us allocate. */
#define ATTN_ST_MAX_HEADER_BYTES 100000000u
/*
 * What a load reads of a header for a list of count tensors: at most
 * ATTN_ST_HEADER_BASE + ATTN_ST_HEADER_PER_TENSOR * count bytes plus
 * ATTN_ST_HEADER_PER_NAME_BYTE per byte of the listed names (and never
 * past ATTN_ST_MAX_HEADER_BYTES), holding at most ATTN_ST_VALUES_BASE +
 * ATTN_ST_VALUES_PER_TENSOR * count JSON values and keys. A file that
 * matches the list needs at most 14 values and about 100 bytes per tensor
 * plus its names (which JSON may escape to 6 bytes a byte) and its
 * "__metadata__", so whatever attn_params_save writes for a list loads
 * back into it; the bounds leave room for large metadata and keep
 * jansson's tree, which costs some 20 times the text for small values
 * (2 GB for a 98 MB header), to a few times the header.
 */
#define ATTN_ST_HEADER_BASE ((size_t)16 << 20)
#define ATTN_ST_HEADER_PER_TENSOR ((size_t)4096)
#define ATTN_ST_HEADER_PER_NAME_BYTE ((size_t)6)
#define ATTN_ST_VALUES_BASE ((size_t)65536)
#define ATTN_ST_VALUES_PER_TENSOR ((size_t)64)

/* The list must have passed attni_params_check. */
size_t attni_st_header_limit(const attn_param *params, size_t count);
size_t attni_st_value_limit(size_t count);

/* The writer pads the header to this so the data section is aligned. */
#define ATTN_ST_HEADER_ALIGN 8
#define ATTN_ST_DTYPE_F32 "F32"

/* One tensor of the file. Its name lives in the parsed JSON. */
typedef struct attn_st_entry {
    const char *name;       /* UTF-8, no NUL inside */
    size_t ndim;            /* may exceed ATTN_PARAM_MAX_DIMS */
    uint64_t shape[ATTN_PARAM_MAX_DIMS]; /* the first min(ndim, MAX) dims */
    size_t begin, end;      /* byte range in the data section */
} attn_st_entry;

typedef struct attn_st_header {
    json_t *root;           /* owns the names */
    attn_st_entry *entries; /* (count), sorted by name (strcmp) */
    size_t count;
    size_t data_bytes;      /* exact size the data section must have */
} attn_st_header;

/* The header length from the first 8 bytes; ATTN_ERR_BAD_FILE when it is
 * over ATTN_ST_MAX_HEADER_BYTES. */
attn_status attni_st_header_length(
    const unsigned char *prefix,    /* (ATTN_ST_PREFIX_BYTES) */
    size_t *header_bytes);

/*
 * Parses and checks the JSON header: at most max_values values and keys
 * (counted before jansson builds its tree), an object starting with '{',
 * no NUL byte, valid UTF-8, no duplicate keys, only whitespace after the object;
 * an optional "__metadata__" object of strings; every other key an object
 * with "dtype" "F32", "shape" an array of integers >= 0 and
 * "data_offsets" two integers begin <= end whose difference is
 * numel * 4; sorted by offset the tensors tile [0, data_bytes) without
 * hole or overlap. Other keys inside an entry are ignored, as the
 * reference implementation does. On ATTN_OK *header must be released
 * with attni_st_header_free; on failure nothing needs releasing.
 * Returns ATTN_ERR_BAD_FILE or ATTN_ERR_OUT_OF_MEMORY.
 */
attn_status attni_st_parse_header(const char *json,  /* (json_bytes) */
                                 size_t json_bytes, size_t max_values,
                                 attn_st_header *header);

void attni_st_header_free(attn_st_header *header);

/* The entry with this name, or NULL. */
const attn_st_entry *attni_st_find(const attn_st_header *header,
                                  const char *name);

#endif /* ATTN_SRC_SAFETENSORS_PARSE_H */
