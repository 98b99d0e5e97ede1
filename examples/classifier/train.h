/* Epochs and evaluation of the classifier on an ordered-pair dataset. */
#ifndef EXAMPLES_TRAIN_H
#define EXAMPLES_TRAIN_H

#include "model.h"
#include "ordered_pair.h"

typedef struct clf_trainer {
    clf_model *model;
    attn_optim *optim;
    float *x;           /* (B, T, V) one-hot batch */
    int32_t *labels;    /* (B) */
    int64_t *order;     /* (dataset count) shuffled indices */
    int64_t *batch_idx; /* (B) indices of an evaluation batch */
} clf_trainer;

attn_status clf_trainer_init(clf_trainer *t, clf_model *m, attn_optim *opt,
                             int64_t dataset_count);
void clf_trainer_free(clf_trainer *t);

/* One pass over the shuffled dataset in full batches; mean batch loss. */
attn_status clf_train_epoch(clf_trainer *t, const pair_dataset *ds,
                            pair_rng *rng, double *mean_loss);

/* Loss and accuracy over every full batch of ds, without training. */
attn_status clf_evaluate(clf_trainer *t, const pair_dataset *ds,
                         double *mean_loss, double *accuracy);

#endif
