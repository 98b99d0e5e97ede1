#include <attention/params.h>

#include "plan/layout.h"

size_t attn_param_numel(const attn_param *param)
{
    if (param == NULL || param->ndim < 1 || param->ndim > ATTN_PARAM_MAX_DIMS)
        return 0;
    size_t n = 1;
    for (int i = 0; i < param->ndim; ++i)
        if (param->shape[i] <= 0 || !attni_mul_size(n, (size_t)param->shape[i], &n))
            return 0;
    return n;
}
