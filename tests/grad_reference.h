/*
 * Double-precision references for the gradient and layer tests, written
 * from the formulas of include/attention/sdpa.h, sdpa_backward.h, linear.h
 * and mha.h on top of reference.c (ref_visible, ref_softmax_row): plain
 * loops, everything in double, no BLAS and nothing of the library's
 * implementation. Inputs are double arrays, so that gradients can be taken
 * by central finite differences of these functions in double precision.
 */
#ifndef ATTN_TESTS_GRAD_REFERENCE_H
#define ATTN_TESTS_GRAD_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include <attention/mha.h>
#include <attention/sdpa.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- attention ----------------------------------------------------------- */

/*
 * One attention problem in double. d gives the shapes, strides, scale,
 * the visibility masks (causal, kv_lens, window, keep_mask, read through
 * ref_visible) and the softcap and ALiBi (ref_modify_score); d->bias is not read, the additive bias is `bias` instead
 * (same bias_strides; a -INFINITY entry masks its key, as in sdpa.h).
 * q, k, v and bias are spans laid out by d's strides (gaps are not read);
 * g is dL/dout, contiguous (B, Hq, Tq, dv).
 */
typedef struct gr_sdpa {
    const attn_sdpa_desc *d;
    double *q;      /* span of d->q_strides over (B, Hq,  Tq, d)  */
    double *k;      /* span of d->k_strides over (B, Hkv, Tk, d)  */
    double *v;      /* span of d->v_strides over (B, Hkv, Tk, dv) */
    double *bias;   /* span of d->bias_strides over (B, Hq, Tq, Tk), or NULL */
    const double *g; /* (B, Hq, Tq, dv) contiguous, or NULL (forward only) */
    double scale;   /* 0: use d->scale */
    double *sinks;  /* (Hq) sink logits, or NULL: d->sinks's */
} gr_sdpa;

/*
 * Forward, every output optional and contiguous: out (B, Hq, Tq, dv),
 * weights (B, Hq, Tq, Tk), lse (B, Hq, Tq). Fully masked rows give zeros
 * and lse = -INFINITY; keys with weight 0 contribute nothing to out.
 */
void gr_sdpa_forward(const gr_sdpa *p, double *out, double *weights,
                     double *lse);

/* The scalar loss L = sum(out * g). */
double gr_sdpa_loss(const gr_sdpa *p);

/*
 * dL/dq, dL/dk, dL/dv (contiguous, shaped as q, k, v) and dL/dbias (over
 * the span of d->bias_strides, indexed like bias; p->bias must then not be
 * NULL; span entries outside the tensor get 0) by central differences with
 * step `step`. Each output may be NULL. Inputs are perturbed in place and
 * restored exactly.
 *
 * Since L is a sum of per-row losses L_r = sum_j w_rj (v_j . g_r), an
 * element only changes the rows that read it: a q or bias element one row,
 * a k or v element the rows of its kv head. Only those are re-evaluated:
 * a q element re-evaluates its row from scratch; a k, v or bias element
 * changes one score s_rj or one v_j . g_r of each row, and the row's sums
 * Z = sum exp(s - m), N = sum exp(s - m) (v . g) are updated by that one
 * term (m the unperturbed row maximum). gr_sdpa_fd_full does everything
 * from scratch; the tests check that the two agree.
 */
void gr_sdpa_fd(const gr_sdpa *p, double step, double *dq, double *dk,
                double *dv, double *dbias);

/* The same by re-evaluating gr_sdpa_loss in full for every perturbation:
 * slow, to check gr_sdpa_fd on small problems. */
void gr_sdpa_fd_full(const gr_sdpa *p, double step, double *dq, double *dk,
                     double *dv, double *dbias);

/* dL/dsink (Hq) by central differences of gr_sdpa_loss over p->sinks
 * (which must not be NULL). */
void gr_sdpa_fd_sinks(const gr_sdpa *p, double step, double *dsinks);

/* ---- linear layer ----------------------------------------------------------- */

/* y (rows, out) = x (rows, in) W^T (out, in) + b (out, or NULL). */
void gr_linear_forward(const double *x, const double *w, const double *b,
                       double *y, int64_t rows, int64_t in_features,
                       int64_t out_features);

/* ---- multi-head attention layer ------------------------------------------ */

/* The parameters of a layer, in double, unpacked (PyTorch semantics). */
typedef struct gr_mha {
    int64_t E, H, kdim, vdim;
    double *wq;     /* (E, E)    */
    double *wk;     /* (E, kdim) */
    double *wv;     /* (E, vdim) */
    double *bq, *bk, *bv; /* (E) each, or NULL */
    double *wo;     /* (E, E) */
    double *bo;     /* (E) or NULL */
    double *sinks;  /* (H) or NULL */
} gr_mha;

/*
 * The layer forward of mha.h in double: the three projections, per-head
 * attention through gr_sdpa_forward on (B, T, H, E/H) views of the
 * projections with scale 1/sqrt(E/H), the call's masks and variants
 * (NULL: none; only those fields of the options are read) and the sinks,
 * heads concatenated, the output projection. out (B, Tq, E); weights
 * (B, H, Tq, Tk) contiguous or NULL.
 */
void gr_mha_forward(const gr_mha *m, const attn_mha_options *masks,
                    int64_t B, int64_t Tq, int64_t Tk, const double *query,
                    const double *key, const double *value, double *out,
                    double *weights);

/* ---- helpers -------------------------------------------------------------- */

/*
 * The error measure of the gradient tests (see tolerance.h):
 *     max_i |x_i - r_i| / max(max_i |r_i|, floor)
 * over the elements of the strided float tensor x (reference r
 * contiguous), or over the span entries `mark` selects (r indexed like x).
 * +INFINITY when an x is not finite (the references here always are).
 * *scale (if not NULL) gets max_i |r_i|.
 */
double gr_rel_err(const float *x, attn_strides xs, int64_t n0, int64_t n1,
                  int64_t n2, int64_t last, const double *r, double floor,
                  double *scale);
double gr_span_rel_err(const float *x, const double *r,
                       const unsigned char *mark, size_t n, double floor,
                       double *scale);

/* Doubles of n floats (NaN stays NaN). */
double *gr_to_double(const float *x, size_t n);

/*
 * Marks (1) the span elements of a strided (n0, n1, n2, last) tensor that
 * belong to it, 0 elsewhere; mark has tu_span(...) entries.
 */
void gr_mark(unsigned char *mark, size_t n, int64_t n0, int64_t n1,
             int64_t n2, int64_t last, attn_strides s);

#ifdef __cplusplus
}
#endif

#endif /* ATTN_TESTS_GRAD_REFERENCE_H */
