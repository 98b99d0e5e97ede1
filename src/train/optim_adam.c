/*
 * Adam and AdamW as torch.optim.Adam / AdamW in PyTorch 1.13
 * (_single_tensor_adam / _single_tensor_adamw, amsgrad off).
 *
 * Bit equality with PyTorch's float32 kernels rests on: one statement per
 * PyTorch operation, so no compiler may contract two of them (C11 6.5p8;
 * assumes FLT_EVAL_METHOD == 0 as on x86-64 and AArch64); fmaf where
 * PyTorch's AVX2 kernels fuse (add(alpha=) is fma(other, alpha, self),
 * addcmul is fma(value * t1, t2, self)); plain float where they do not
 * (mul, div, sqrt, addcdiv = self + value * t1 / t2); and the scalar
 * coefficients in double, rounded to float once, as PyTorch computes them in
 * Python and hands them to the kernels.
 */
#include <math.h>

#include "train/optim.h"

static int in_range(float x, float lo, float hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

attn_status attn_adam_create(const attn_param *params, size_t count, float lr,
                             float beta1, float beta2, float eps,
                             float weight_decay, int decoupled,
                             attn_optim **out)
{
    if (out == NULL || (params == NULL && count > 0))
        return ATTN_ERR_NULL_POINTER;
    if (!in_range(lr, 0.0f, INFINITY) || !in_range(beta1, 0.0f, 1.0f) ||
        beta1 == 1.0f || !in_range(beta2, 0.0f, 1.0f) || beta2 == 1.0f ||
        !in_range(eps, 0.0f, INFINITY) ||
        !in_range(weight_decay, 0.0f, INFINITY) ||
        (decoupled != 0 && decoupled != 1))
        return ATTN_ERR_BAD_ARGUMENT;

    attn_optim *opt;
    attn_status s = attni_optim_new(params, count, 2, &opt); /* m and v */
    if (s != ATTN_OK)
        return s;
    opt->kind = ATTN_OPTIM_ADAM;
    opt->h.adam = (attn_adam_hparams){lr, beta1, beta2, eps, weight_decay, decoupled};
    *out = opt;
    return ATTN_OK;
}

void attni_adam_step(attn_optim *opt)
{
    const attn_adam_hparams h = opt->h.adam;
    /* The step number t, exact in double far past any real run. */
    const double t = (double)(opt->steps + 1);
    /* beta < 1, so both corrections are > 0. */
    const double bc1 = 1.0 - pow((double)h.beta1, t);
    const double bc2 = 1.0 - pow((double)h.beta2, t);
    const float one_m_b1 = (float)(1.0 - (double)h.beta1);
    const float one_m_b2 = (float)(1.0 - (double)h.beta2);
    const float neg_step = (float)(-((double)h.lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const float decay = (float)(1.0 - (double)h.lr * (double)h.weight_decay);
    float *m = opt->state;                           /* (numel) */
    float *v = m != NULL ? m + opt->numel : NULL;    /* (numel) */

    for (size_t i = 0; i < opt->count; ++i) {
        const attn_param *p = &opt->params[i];
        const size_t n = attn_param_numel(p);
        float *theta = p->data;      /* (n) */
        const float *grad = p->grad; /* (n) */
        for (size_t j = 0; j < n; ++j) {
            float th = theta[j];
            float g = grad[j];
            if (h.decoupled)
                th = th * decay; /* AdamW scales even when weight_decay is 0 */
            else if (h.weight_decay != 0.0f)
                g = fmaf(th, h.weight_decay, g);
            float mj = m[j] * h.beta1;
            mj = fmaf(g, one_m_b1, mj);
            float vj = v[j] * h.beta2;
            const float vg = one_m_b2 * g;
            vj = fmaf(vg, g, vj);
            float den = sqrtf(vj);
            den = den / bc2_sqrt;
            den = den + h.eps;
            float upd = neg_step * mj;
            upd = upd / den;
            th = th + upd;
            m[j] = mj;
            v[j] = vj;
            theta[j] = th;
        }
        m += n;
        v += n;
    }
    opt->steps++;
}
