/* Status codes returned by every libattention call. */
#ifndef ATTENTION_STATUS_H
#define ATTENTION_STATUS_H

#include <attention/export.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Every call returns one of these. Values are part of the ABI: they never
 * change once released and new ones are only appended. A call that returns
 * anything but ATTN_OK has written nothing to any of its outputs.
 */
typedef enum attn_status {
    ATTN_OK = 0,
    /* A required pointer argument (or descriptor) is NULL. */
    ATTN_ERR_NULL_POINTER = 1,
    /* A dimension is zero or negative. */
    ATTN_ERR_BAD_DIMENSION = 2,
    /* A byte count overflows size_t, or a dimension or stride does not fit
     * the BLAS integer type. */
    ATTN_ERR_SIZE_OVERFLOW = 3,
    /* Heads do not divide: q_heads is not a multiple of kv_heads, or the
     * model width is not a multiple of the head count. */
    ATTN_ERR_HEAD_MISMATCH = 4,
    /* The scale is zero, negative, NaN or infinite. */
    ATTN_ERR_BAD_SCALE = 5,
    /* A per-batch key length is negative or larger than kv_len. */
    ATTN_ERR_BAD_KV_LEN = 6,
    /* The caller's workspace is smaller than the size query asked for. */
    ATTN_ERR_WORKSPACE_TOO_SMALL = 7,
    /* An output overlaps an input, another output or the workspace. */
    ATTN_ERR_ALIASING = 8,
    /* A stride is negative, or an output layout would write one element
     * twice. */
    ATTN_ERR_BAD_STRIDE = 9,
    /* The causal field is not one of the attn_causal values. */
    ATTN_ERR_BAD_CAUSAL = 10,
    /* The descriptor was not set up by attn_sdpa_desc_init, or comes from a
     * newer header than this library. */
    ATTN_ERR_BAD_DESC = 11,
    /* An allocating convenience call could not get memory. */
    ATTN_ERR_OUT_OF_MEMORY = 12,
    /* A file could not be opened, read or written (errno tells more). */
    ATTN_ERR_IO = 13,
    /* A weights file is malformed: truncated, bad header, offsets out of
     * range, unsupported dtype, sizes that disagree. */
    ATTN_ERR_BAD_FILE = 14,
    /* A well-formed weights file does not match the parameters: a name is
     * missing or extra, or a shape differs. (A name repeated in the list is
     * ATTN_ERR_BAD_ARGUMENT; a key repeated in the file, ATTN_ERR_BAD_FILE.) */
    ATTN_ERR_PARAM_MISMATCH = 15,
    /* An argument is out of its documented range (a hyperparameter, a
     * parameter list entry, a layer option). */
    ATTN_ERR_BAD_ARGUMENT = 16,
    /* kv_dtype is not an attn_dtype value, or names a storage type the
     * call does not take (the backward takes ATTN_DTYPE_F32 only). */
    ATTN_ERR_BAD_DTYPE = 17,
    /* A block table entry a sequence uses is negative or >= num_pages. */
    ATTN_ERR_BAD_PAGE = 18,
    /* A sequence needs more pages than a block table row holds:
     * ceil(length / page_size) > max_pages. */
    ATTN_ERR_BLOCK_TABLE_SHORT = 19,
    /* A K or V pointer (tensor or page pool) is not aligned to its storage
     * type's size (4 bytes for fp32, 2 for fp16 and bf16). */
    ATTN_ERR_MISALIGNED = 20,
    /* A rotary dimension is odd, below 2 or above the head dimension. */
    ATTN_ERR_BAD_ROTARY_DIM = 21,
    /* window_left or window_right below -1. */
    ATTN_ERR_BAD_WINDOW = 22,
    /* An ALiBi slope is negative or not finite, or alibi_batch_stride is
     * negative. */
    ATTN_ERR_BAD_ALIBI = 23,
    /* softcap is negative, infinite or NaN. */
    ATTN_ERR_BAD_SOFTCAP = 24,
    /* A sink logit is NaN or +INFINITY. */
    ATTN_ERR_BAD_SINK = 25,
    /* Packed-batch offsets that decrease, start below 0 or end past the
     * tensor's rows, only one of the two arrays, or an unknown
     * seqlens_type. */
    ATTN_ERR_BAD_SEQLENS = 26
} attn_status;

/*
 * A static, NUL-terminated English message for a status; never NULL, safe
 * from any thread. Unknown values give "unknown status".
 */
ATTN_EXPORT const char *attn_strerror(attn_status status);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_STATUS_H */
