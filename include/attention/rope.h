/*
 * Rotary position embeddings (RoPE), forward and backward, with the
 * conventions as explicit arguments.
 *
 * A row x of d values at absolute position t is rotated pair by pair in
 * its first R dimensions (R = rotary_dim, even, R <= d; dimensions R .. d
 * are left as they are). Pair i (0 <= i < R/2) is
 *     ATTN_ROPE_NEOX:  (x[i], x[i + R/2])   GPT-NeoX, LLaMA in Hugging Face
 *     ATTN_ROPE_GPTJ:  (x[2i], x[2i + 1])   GPT-J, the original RoFormer
 * and turns by the angle t * f_i with f_i = base^(-2i/R):
 *     (a, b) -> (a cos - b sin, a sin + b cos).
 * cos and sin are computed in double from the angle, or taken from caller
 * tables cos[t * R/2 + i], sin[...] (then base is not used). The backward
 * turns the gradient by the opposite angle (a rotation's transpose).
 */
#ifndef ATTENTION_ROPE_H
#define ATTENTION_ROPE_H

#include <stdint.h>

#include <attention/export.h>
#include <attention/sdpa.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum attn_rope_style {
    ATTN_ROPE_NEOX = 0,  /* dimension i pairs with i + R/2 */
    ATTN_ROPE_GPTJ = 1   /* dimension 2i pairs with 2i + 1 */
} attn_rope_style;

typedef struct attn_rope {
    attn_rope_style style;
    int64_t rotary_dim;     /* R: even, 2 <= R <= d */
    double base;            /* theta, > 0 and finite (10000 in most models) */
    const float *cos;       /* (table_len, R/2) or NULL: computed from base */
    const float *sin;       /* (table_len, R/2); both tables or neither */
    int64_t table_len;      /* positions the tables cover */
} attn_rope;

/*
 * Rotates x in place: row (b, h, t) of a (B, H, T, d) tensor with strides
 * (in elements; the last dimension contiguous) sits at absolute position
 * positions[b * T + t], or t when positions is NULL.
 *
 * ATTN_ERR_NULL_POINTER; ATTN_ERR_BAD_DIMENSION (a dimension < 1);
 * ATTN_ERR_BAD_ROTARY_DIM (R odd, < 2 or > d); ATTN_ERR_BAD_STRIDE;
 * ATTN_ERR_SIZE_OVERFLOW;
 * ATTN_ERR_BAD_ARGUMENT (an unknown style, base not positive and finite, a
 * single table, a negative position, or one at or past table_len);
 * ATTN_ERR_ALIASING (positions or tables overlapping x, or x's layout
 * overlapping itself). Everything is checked before x is touched.
 */
ATTN_EXPORT attn_status attn_rope_forward(
    const attn_rope *rope,
    float *x,                   /* (B, H, T, d) strided, in place */
    int64_t batch, int64_t heads, int64_t len, int64_t dim,
    attn_strides strides,
    const int64_t *positions);  /* (B, T) or NULL */

/* The backward of attn_rope_forward: dx = R(t)^T dy, in place of dy, with
 * the same arguments and checks. */
ATTN_EXPORT attn_status attn_rope_backward(
    const attn_rope *rope,
    float *dy,                  /* (B, H, T, d) strided, in place: dx */
    int64_t batch, int64_t heads, int64_t len, int64_t dim,
    attn_strides strides,
    const int64_t *positions);  /* (B, T) or NULL */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_ROPE_H */
