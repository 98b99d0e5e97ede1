/* The optimizer life cycle shared by every algorithm: checking and copying
 * the parameter list, reserving the state, step dispatch, zero_grad. */
#include <stdlib.h>
#include <string.h>

#include "plan/layout.h"
#include "train/optim.h"
#include "train/params_check.h"

/* Entry i's data (which = 0) or grad (which = 1) as an address range. */
static attn_range buffer_range(const attn_param *p, int which)
{
    /* The caller checked that numel * sizeof(float) fits size_t. */
    const size_t bytes = attn_param_numel(p) * sizeof(float);
    return attni_range_of(which ? (const void *)p->grad : (const void *)p->data,
                         bytes);
}

/* Nonzero when any two of the 2 * count data and grad buffers overlap.
 * Quadratic in count, which stays in the hundreds for real models, and
 * needs no allocation, so that validation comes before any. */
static int buffers_overlap(const attn_param *params, size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        const attn_range di = buffer_range(&params[i], 0);
        const attn_range gi = buffer_range(&params[i], 1);
        if (attni_ranges_overlap(di, gi))
            return 1;
        for (size_t j = i + 1; j < count; ++j) {
            const attn_range dj = buffer_range(&params[j], 0);
            const attn_range gj = buffer_range(&params[j], 1);
            if (attni_ranges_overlap(di, dj) || attni_ranges_overlap(di, gj) ||
                attni_ranges_overlap(gi, dj) || attni_ranges_overlap(gi, gj))
                return 1;
        }
    }
    return 0;
}

/* Checks every entry and sums the element counts into *numel; every
 * buffer's byte count then fits size_t. Shapes are judged as the weight
 * files judge them (an overflowing count is ATTN_ERR_SIZE_OVERFLOW). */
static attn_status check_list(const attn_param *params, size_t count,
                              size_t *numel)
{
    size_t total = 0, bytes;
    for (size_t i = 0; i < count; ++i) {
        if (params[i].data == NULL || params[i].grad == NULL)
            return ATTN_ERR_BAD_ARGUMENT;
        const attn_status s = attni_param_check_shape(&params[i], &bytes);
        if (s != ATTN_OK)
            return s;
        if (!attni_add_size(total, bytes / sizeof(float), &total))
            return ATTN_ERR_SIZE_OVERFLOW;
    }
    *numel = total;
    return ATTN_OK;
}

attn_status attni_optim_new(const attn_param *params, size_t count,
                           size_t per_elem, attn_optim **out)
{
    if (out == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    size_t numel = 0, list_bytes, state_count, state_bytes;
    attn_status s = check_list(params, count, &numel);
    if (s != ATTN_OK)
        return s;
    if (!attni_mul_size(count, sizeof(attn_param), &list_bytes) ||
        !attni_mul_size(numel, per_elem, &state_count) ||
        !attni_mul_size(state_count, sizeof(float), &state_bytes))
        return ATTN_ERR_SIZE_OVERFLOW;
    if (buffers_overlap(params, count))
        return ATTN_ERR_ALIASING;

    attn_optim *opt = calloc(1, sizeof *opt);
    attn_param *list = count > 0 ? malloc(list_bytes) : NULL;
    /* calloc gives +0.0f: IEEE 754 zero is all bits zero. */
    float *state = state_count > 0 ? calloc(state_count, sizeof(float)) : NULL;
    if (opt == NULL || (count > 0 && list == NULL) ||
        (state_count > 0 && state == NULL)) {
        free(opt);
        free(list);
        free(state);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    if (count > 0)
        memcpy(list, params, list_bytes);
    opt->params = list;
    opt->count = count;
    opt->numel = numel;
    opt->state = state;
    opt->steps = 0;
    *out = opt;
    return ATTN_OK;
}

attn_status attn_optim_step(attn_optim *opt)
{
    if (opt == NULL)
        return ATTN_ERR_NULL_POINTER;
    switch (opt->kind) {
    case ATTN_OPTIM_SGD: attni_sgd_step(opt); break;
    case ATTN_OPTIM_ADAM: attni_adam_step(opt); break;
    }
    return ATTN_OK;
}

attn_status attn_optim_zero_grad(attn_optim *opt)
{
    if (opt == NULL)
        return ATTN_ERR_NULL_POINTER;
    for (size_t i = 0; i < opt->count; ++i) {
        const attn_param *p = &opt->params[i];
        const size_t n = attn_param_numel(p);
        for (size_t j = 0; j < n; ++j)
            p->grad[j] = 0.0f;
    }
    return ATTN_OK;
}

void attn_optim_destroy(attn_optim *opt)
{
    if (opt == NULL)
        return;
    free(opt->state);
    free(opt->params);
    free(opt);
}
