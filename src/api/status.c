#include <attention/status.h>

const char *attn_strerror(attn_status status)
{
    switch (status) {
    case ATTN_OK: return "success";
    case ATTN_ERR_NULL_POINTER: return "a required pointer is NULL";
    case ATTN_ERR_BAD_DIMENSION: return "a dimension is zero or negative";
    case ATTN_ERR_SIZE_OVERFLOW:
        return "a size overflows size_t or the BLAS integer type";
    case ATTN_ERR_HEAD_MISMATCH:
        return "head counts do not divide (q_heads % kv_heads or model_dim % heads)";
    case ATTN_ERR_BAD_SCALE: return "scale is not positive and finite";
    case ATTN_ERR_BAD_KV_LEN: return "a key length is negative or exceeds kv_len";
    case ATTN_ERR_WORKSPACE_TOO_SMALL: return "the workspace is too small";
    case ATTN_ERR_ALIASING: return "an output overlaps an input, another output or the workspace";
    case ATTN_ERR_BAD_STRIDE:
        return "a stride is negative, a row stride is below the row length, or an output layout overlaps itself";
    case ATTN_ERR_BAD_CAUSAL: return "causal is not an attn_causal value";
    case ATTN_ERR_BAD_DESC:
        return "descriptor not set up by attn_sdpa_desc_init, or from a newer header";
    case ATTN_ERR_OUT_OF_MEMORY: return "out of memory";
    case ATTN_ERR_IO: return "a file could not be opened, read or written";
    case ATTN_ERR_BAD_FILE: return "the weights file is malformed";
    case ATTN_ERR_PARAM_MISMATCH:
        return "the weights file does not match the parameters (name or shape)";
    case ATTN_ERR_BAD_ARGUMENT: return "an argument is out of its documented range";
    case ATTN_ERR_BAD_DTYPE:
        return "kv_dtype is not an attn_dtype value or not taken by this call";
    case ATTN_ERR_BAD_PAGE: return "a block table entry is outside [0, num_pages)";
    case ATTN_ERR_BLOCK_TABLE_SHORT:
        return "a sequence needs more pages than its block table row holds";
    case ATTN_ERR_MISALIGNED:
        return "a K or V pointer is not aligned to its storage type's size";
    case ATTN_ERR_BAD_ROTARY_DIM:
        return "the rotary dimension is odd, below 2 or above the head dimension";
    case ATTN_ERR_BAD_WINDOW: return "a window bound is below -1";
    case ATTN_ERR_BAD_ALIBI:
        return "an ALiBi slope is negative or not finite, or its batch stride is negative";
    case ATTN_ERR_BAD_SOFTCAP: return "softcap is negative, infinite or NaN";
    case ATTN_ERR_BAD_SINK: return "a sink logit is NaN or +infinity";
    case ATTN_ERR_BAD_SEQLENS:
        return "packed-batch offsets decrease, leave the tensor, or are incomplete";
    }
    return "unknown status";
}
