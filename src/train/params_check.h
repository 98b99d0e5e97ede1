/* Checking a caller's attn_param list once, before any file is touched. */
#ifndef ATTN_SRC_PARAMS_CHECK_H
#define ATTN_SRC_PARAMS_CHECK_H

#include <stddef.h>

#include <attention/params.h>

/* The key safetensors reserves for string metadata; never a tensor name. */
#define ATTN_ST_METADATA_KEY "__metadata__"

/*
 * One entry's shape: ATTN_ERR_BAD_ARGUMENT unless 1 <= ndim <=
 * ATTN_PARAM_MAX_DIMS and every dimension is positive, then
 * ATTN_ERR_SIZE_OVERFLOW when numel * 4 does not fit size_t; else the byte
 * count in *bytes. Every call that takes a parameter list judges shapes
 * here, so that one cause gives one status everywhere.
 */
attn_status attni_param_check_shape(const attn_param *param, size_t *bytes);

/*
 * Every entry has a non-empty, valid UTF-8 name other than "__metadata__",
 * non-NULL data, 1 <= ndim <= ATTN_PARAM_MAX_DIMS and positive dimensions,
 * and no two names are equal: else ATTN_ERR_BAD_ARGUMENT. A byte count
 * (numel * 4, or the sum over the list) that overflows size_t gives
 * ATTN_ERR_SIZE_OVERFLOW. params may be NULL only when count is 0.
 * May return ATTN_ERR_OUT_OF_MEMORY (the name check sorts a copy).
 */
attn_status attni_params_check(const attn_param *params, size_t count);

/* Bytes of float32 data of a parameter that passed attni_params_check. */
size_t attni_param_bytes(const attn_param *param);

/*
 * ATTN_ERR_ALIASING when the data of two parameters overlap, or the data
 * of one overlaps [input, input + input_bytes) (input may be NULL): a load
 * would then write one element twice or read what it already wrote. The
 * list must have passed attni_params_check.
 */
attn_status attni_params_check_disjoint(const attn_param *params, size_t count,
                                       const void *input, size_t input_bytes);

#endif /* ATTN_SRC_PARAMS_CHECK_H */
