/* The optimizer object, shared by the list handling (optim.c) and the
 * algorithms (optim_sgd.c, optim_adam.c). */
#ifndef ATTN_SRC_OPTIM_H
#define ATTN_SRC_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include <attention/optim.h>

typedef enum attn_optim_kind {
    ATTN_OPTIM_SGD,
    ATTN_OPTIM_ADAM
} attn_optim_kind;

typedef struct attn_sgd_hparams {
    float lr, momentum, dampening, weight_decay;
    int nesterov;
} attn_sgd_hparams;

typedef struct attn_adam_hparams {
    float lr, beta1, beta2, eps, weight_decay;
    int decoupled;
} attn_adam_hparams;

struct attn_optim {
    attn_optim_kind kind;
    attn_param *params;   /* (count), a copy of the caller's list */
    size_t count;
    size_t numel;         /* elements over all parameters */
    /* (per_elem * numel), zeroed at create; NULL when per_elem is 0.
     * SGD: the momentum buffers, parameter after parameter. Adam: the first
     * moments of all parameters, then the second moments. */
    float *state;
    uint64_t steps;       /* steps taken so far */
    union {
        attn_sgd_hparams sgd;
        attn_adam_hparams adam;
    } h;
};

/*
 * The part of create common to every algorithm, run after its own
 * hyperparameter checks: validates the list (see attn_sgd_create for the
 * statuses), then allocates the optimizer, the list copy and per_elem zeroed
 * state floats per parameter element. On success *out gets an optimizer
 * whose kind and h the caller still has to set; on failure nothing is
 * allocated and *out is untouched.
 */
attn_status attni_optim_new(const attn_param *params, size_t count,
                           size_t per_elem, attn_optim **out);

/* One step of each algorithm; opt is valid and of that kind. */
void attni_sgd_step(attn_optim *opt);
void attni_adam_step(attn_optim *opt);

#endif /* ATTN_SRC_OPTIM_H */
