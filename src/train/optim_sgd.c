/*
 * SGD as torch.optim.SGD in PyTorch 1.13 (_single_tensor_sgd).
 *
 * Bit equality with PyTorch's float32 kernels rests on two things: each
 * PyTorch operation is one statement here, so no compiler may contract two
 * of them (C11 6.5p8 allows contraction only within an expression, and
 * assumes FLT_EVAL_METHOD == 0 as on x86-64 and AArch64); and add(alpha=),
 * which PyTorch's AVX2 kernel computes as fma(other, alpha, self), is fmaf.
 */
#include <math.h>

#include "train/optim.h"

/* Finite and within [lo, hi]. */
static int in_range(float x, float lo, float hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

attn_status attn_sgd_create(const attn_param *params, size_t count, float lr,
                            float momentum, float dampening,
                            float weight_decay, int nesterov, attn_optim **out)
{
    if (out == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    if (!in_range(lr, 0.0f, INFINITY) || !in_range(momentum, 0.0f, 1.0f) ||
        !in_range(dampening, 0.0f, 1.0f) ||
        !in_range(weight_decay, 0.0f, INFINITY) ||
        (nesterov != 0 && nesterov != 1) ||
        (nesterov && (momentum <= 0.0f || dampening != 0.0f)))
        return ATTN_ERR_BAD_ARGUMENT;

    /* PyTorch keeps no buffer without momentum; neither do we. */
    attn_optim *opt;
    attn_status s = attni_optim_new(params, count, momentum != 0.0f ? 1 : 0, &opt);
    if (s != ATTN_OK)
        return s;
    opt->kind = ATTN_OPTIM_SGD;
    opt->h.sgd = (attn_sgd_hparams){lr, momentum, dampening, weight_decay, nesterov};
    *out = opt;
    return ATTN_OK;
}

void attni_sgd_step(attn_optim *opt)
{
    const attn_sgd_hparams h = opt->h.sgd;
    /* PyTorch's Python-float alphas, each rounded to float by its kernel. */
    const float keep = (float)(1.0 - (double)h.dampening); /* 1 - dampening */
    const float neg_lr = -h.lr;
    /* PyTorch makes each buffer a copy of the first step's gradient. */
    const int first = opt->steps == 0;
    float *buf = opt->state; /* (numel) when momentum != 0 */

    for (size_t i = 0; i < opt->count; ++i) {
        const attn_param *p = &opt->params[i];
        const size_t n = attn_param_numel(p);
        float *theta = p->data;      /* (n) */
        const float *grad = p->grad; /* (n) */
        for (size_t j = 0; j < n; ++j) {
            float g = grad[j];
            if (h.weight_decay != 0.0f)
                g = fmaf(theta[j], h.weight_decay, g);
            if (h.momentum != 0.0f) {
                float b = g;
                if (!first) {
                    b = buf[j] * h.momentum;
                    b = fmaf(g, keep, b);
                }
                buf[j] = b;
                g = h.nesterov ? fmaf(b, h.momentum, g) : b;
            }
            theta[j] = fmaf(g, neg_lr, theta[j]);
        }
        if (buf != NULL)
            buf += n;
    }
    opt->steps++;
}
