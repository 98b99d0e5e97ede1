#include "train.h"

#include <stdlib.h>
#include <string.h>

attn_status clf_trainer_init(clf_trainer *t, clf_model *m, attn_optim *opt,
                             int64_t dataset_count)
{
    const clf_config *c = &m->cfg;
    memset(t, 0, sizeof *t);
    t->model = m;
    t->optim = opt;
    t->x = malloc((size_t)(c->batch * c->seq_len * c->input_dim) * sizeof(float));
    t->labels = malloc((size_t)c->batch * sizeof(int32_t));
    t->order = malloc((size_t)dataset_count * sizeof(int64_t));
    t->batch_idx = malloc((size_t)c->batch * sizeof(int64_t));
    if (t->x == NULL || t->labels == NULL || t->order == NULL ||
        t->batch_idx == NULL) {
        clf_trainer_free(t);
        return ATTN_ERR_OUT_OF_MEMORY;
    }
    for (int64_t i = 0; i < dataset_count; ++i)
        t->order[i] = i;
    return ATTN_OK;
}

void clf_trainer_free(clf_trainer *t)
{
    free(t->x);
    free(t->labels);
    free(t->order);
    free(t->batch_idx);
    memset(t, 0, sizeof *t);
}

attn_status clf_train_epoch(clf_trainer *t, const pair_dataset *ds,
                            pair_rng *rng, double *mean_loss)
{
    const int64_t B = t->model->cfg.batch, batches = ds->count / B;
    for (int64_t i = ds->count - 1; i > 0; --i) {   /* Fisher-Yates */
        const int64_t j = pair_rng_below(rng, i + 1), tmp = t->order[i];
        t->order[i] = t->order[j];
        t->order[j] = tmp;
    }
    double total = 0.0;
    for (int64_t b = 0; b < batches; ++b) {
        double loss;
        int64_t correct;
        attn_status s;
        pair_dataset_one_hot(ds, t->order + b * B, B, t->x, t->labels);
        if ((s = attn_optim_zero_grad(t->optim)) ||
            (s = clf_forward(t->model, t->x, t->labels, &loss, &correct)) ||
            (s = clf_backward(t->model, t->x)) ||
            (s = attn_optim_step(t->optim)))
            return s;
        total += loss;
    }
    *mean_loss = total / (double)batches;
    return ATTN_OK;
}

attn_status clf_evaluate(clf_trainer *t, const pair_dataset *ds,
                         double *mean_loss, double *accuracy)
{
    const int64_t B = t->model->cfg.batch, batches = ds->count / B;
    double total = 0.0;
    int64_t right = 0;
    for (int64_t b = 0; b < batches; ++b) {
        int64_t correct;
        double loss;
        for (int64_t i = 0; i < B; ++i)
            t->batch_idx[i] = b * B + i;
        pair_dataset_one_hot(ds, t->batch_idx, B, t->x, t->labels);
        attn_status s = clf_forward(t->model, t->x, t->labels, &loss, &correct);
        if (s != ATTN_OK)
            return s;
        total += loss;
        right += correct;
    }
    *mean_loss = total / (double)batches;
    *accuracy = (double)right / (double)(batches * B);
    return ATTN_OK;
}
