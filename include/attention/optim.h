/*
 * Optimizers over a parameter list (attention/params.h): SGD, Adam and
 * AdamW with the update rules of PyTorch 1.13's torch.optim.
 *
 * Ownership. The optimizer keeps its own copy of the attn_param array (the
 * pointers and shapes, not the data), so the caller's array may go away
 * after create; every data and grad buffer must outlive the optimizer.
 * Names are not used. The state (SGD's momentum buffers, Adam's first and
 * second moments, the step count) belongs to the optimizer; create reserves
 * all of it, so step never allocates and cannot run out of memory.
 *
 * Threading. An optimizer holds no global state: distinct optimizers may be
 * used from different threads at once. One optimizer must not be stepped,
 * zeroed or destroyed from two threads at the same time, nor while another
 * thread reads or writes its parameters' data or grads.
 *
 * Arithmetic. Every element is updated in float, one rounding per PyTorch
 * operation and in PyTorch's order. The scalar coefficients that PyTorch
 * computes as Python floats (1 - beta, the bias corrections, the step size,
 * 1 - lr * weight_decay) are computed here in double from the float
 * hyperparameters and rounded to float once, where PyTorch rounds them.
 * PyTorch's AVX2 and AVX-512 kernels fuse the multiply-add of add(alpha=)
 * and addcmul into one rounding; this library does the same, with fmaf, on
 * every machine. The results then equal torch.optim's on float32 tensors
 * bit for bit (tested against PyTorch 1.13.1 on x86-64), provided PyTorch
 * gets the same float values (float(numpy.float32(0.9)) rather than 0.9).
 * PyTorch's own portable kernels (ATEN_CPU_CAPABILITY=default) round the
 * multiply-adds twice; their results differ from the AVX2 ones by up to
 * a few tens of ulps (up to 32 on the tests' small parameters).
 *
 * Below, per element: theta is the parameter, g its grad, t the step number
 * (1 on the first step), lambda = weight_decay, gamma = lr.
 */
#ifndef ATTENTION_OPTIM_H
#define ATTENTION_OPTIM_H

#include <stddef.h>

#include <attention/export.h>
#include <attention/params.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* torch.optim.Adam / AdamW defaults. SGD has no default learning rate in
 * PyTorch 1.13 (lr is required) and none is offered here; its other
 * defaults are momentum = dampening = weight_decay = 0, nesterov = 0. */
#define ATTN_ADAM_DEFAULT_LR 1e-3f
#define ATTN_ADAM_DEFAULT_BETA1 0.9f
#define ATTN_ADAM_DEFAULT_BETA2 0.999f
#define ATTN_ADAM_DEFAULT_EPS 1e-8f
/* Adam's default weight_decay is 0; AdamW's is this. */
#define ATTN_ADAMW_DEFAULT_WEIGHT_DECAY 1e-2f

/* An optimizer: the parameter list, hyperparameters and state. Opaque. */
typedef struct attn_optim attn_optim;

/*
 * Stochastic gradient descent as torch.optim.SGD (maximize off).
 * With mu = momentum, tau = dampening and b the momentum buffer:
 *
 *   g   <- g + lambda * theta                      if lambda != 0
 *   b_1 <- g                                       if mu != 0, t = 1
 *   b_t <- mu * b_{t-1} + (1 - tau) * g            if mu != 0, t > 1
 *   g   <- g + mu * b_t   (nesterov)  or  b_t      if mu != 0
 *   theta <- theta - gamma * g
 *
 * (the g on the left is a temporary: the grad buffer is never written by a
 * step). Ranges (ATTN_ERR_BAD_ARGUMENT otherwise), each value also finite:
 * lr >= 0; 0 <= momentum <= 1; 0 <= dampening <= 1; weight_decay >= 0;
 * nesterov is 0 or 1, and 1 needs momentum > 0 and dampening == 0.
 * PyTorch checks the same except that it also takes momentum > 1, any
 * dampening, NaN and infinities. A momentum buffer (one float per
 * parameter element) is reserved only when momentum != 0.
 *
 * Returns ATTN_ERR_NULL_POINTER when out is NULL or params is NULL with
 * count > 0; ATTN_ERR_BAD_ARGUMENT for a hyperparameter out of range or a
 * params entry with a NULL data or grad or an invalid ndim or dimension;
 * ATTN_ERR_ALIASING when any two of the data and grad buffers overlap;
 * ATTN_ERR_SIZE_OVERFLOW when an element count or the sizes do not fit
 * size_t (as from the weight files); ATTN_ERR_OUT_OF_MEMORY. On any error *out is left untouched and
 * nothing is allocated or kept. count == 0 is valid: every step is a no-op.
 */
ATTN_EXPORT attn_status attn_sgd_create(
    const attn_param *params,   /* (count) */
    size_t count, float lr, float momentum, float dampening,
    float weight_decay, int nesterov, attn_optim **out);

/*
 * Adam (decoupled = 0) as torch.optim.Adam, or AdamW (decoupled = 1) as
 * torch.optim.AdamW; amsgrad and maximize off. With m and v the first and
 * second moments, both zero before the first step:
 *
 *   theta <- theta * (1 - gamma * lambda)           AdamW
 *   g     <- g + lambda * theta                     Adam, if lambda != 0
 *   m     <- beta1 * m + (1 - beta1) * g
 *   v     <- beta2 * v + (1 - beta2) * g * g
 *   theta <- theta - (gamma / (1 - beta1^t))
 *                    * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * Note that eps is added after the bias correction of sqrt(v), as PyTorch
 * does. Ranges (ATTN_ERR_BAD_ARGUMENT otherwise), each value also finite:
 * lr >= 0; 0 <= beta1 < 1; 0 <= beta2 < 1; eps >= 0; weight_decay >= 0;
 * decoupled is 0 or 1. PyTorch checks the same ranges but takes
 * infinities.
 * Two floats per parameter element are reserved for m and v. t counts
 * exactly past 2^24, where PyTorch 1.13's float32 step counter stops.
 *
 * Returns as attn_sgd_create.
 */
ATTN_EXPORT attn_status attn_adam_create(
    const attn_param *params,   /* (count) */
    size_t count, float lr, float beta1, float beta2, float eps,
    float weight_decay, int decoupled, attn_optim **out);

/*
 * One update of every parameter's data from its grad, as above, in the
 * order of the list. Reads the grads, writes the data and the state.
 * Returns ATTN_ERR_NULL_POINTER if opt is NULL, else ATTN_OK; non-finite
 * grads or data propagate into the parameters as they would in PyTorch.
 */
ATTN_EXPORT attn_status attn_optim_step(attn_optim *opt);

/*
 * Sets every element of every grad of the optimizer's parameters to +0.0f
 * (PyTorch 1.13's zero_grad(set_to_none=False)). The state is untouched.
 * Returns ATTN_ERR_NULL_POINTER if opt is NULL, else ATTN_OK.
 */
ATTN_EXPORT attn_status attn_optim_zero_grad(attn_optim *opt);

/* Frees the optimizer and its state, never the parameters' buffers.
 * NULL is a no-op. */
ATTN_EXPORT void attn_optim_destroy(attn_optim *opt);

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_OPTIM_H */
