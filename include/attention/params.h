/*
 * Learnable parameters as a plain list, shared by layers, optimizers and
 * weight files: a layer hands out its list, an optimizer steps over it,
 * attn_params_save/attn_params_load move it to and from safetensors files.
 */
#ifndef ATTENTION_PARAMS_H
#define ATTENTION_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include <attention/export.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTN_PARAM_MAX_DIMS 4

/* One parameter tensor: float32, row-major, contiguous. The list does not
 * own anything; data and grad belong to whoever made it. */
typedef struct attn_param {
    const char *name;                 /* state_dict key, e.g. "in_proj_weight" */
    float *data;                      /* (numel) */
    float *grad;                      /* (numel), backward adds into it; or NULL */
    int ndim;                         /* 1 .. ATTN_PARAM_MAX_DIMS */
    int64_t shape[ATTN_PARAM_MAX_DIMS];
} attn_param;

/* Product of the shape, or 0 when ndim or a dimension is out of range or
 * the product overflows size_t. */
ATTN_EXPORT size_t attn_param_numel(const attn_param *param);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_PARAMS_H */
