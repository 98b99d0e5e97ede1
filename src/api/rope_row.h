/*
 * RoPE internals shared by attn_rope_forward/backward (rope.c) and
 * attn_kv_append (kv_append.c): one validation of the rope's fields and
 * one rotation of a row, so that keys rotated on append and queries
 * rotated either way turn by the same angles, bit for bit.
 */
#ifndef ATTN_SRC_ROPE_ROW_H
#define ATTN_SRC_ROPE_ROW_H

#include <stddef.h>
#include <stdint.h>

#include <attention/rope.h>

/* The rope's own fields against the head dimension d: ATTN_ERR_BAD_ROTARY_DIM
 * (R odd, below 2 or above d), then ATTN_ERR_BAD_ARGUMENT (an unknown
 * style, base not positive and finite without tables, a single table,
 * table_len < 1 with tables). */
attn_status attni_rope_check(const attn_rope *r, int64_t d);

/* Bytes of each caller table into *bytes (0 without tables); 0 on
 * overflow. */
int attni_rope_table_bytes(const attn_rope *r, size_t *bytes);

/* Nonzero when r can rotate by position t: t >= 0, below table_len with
 * tables. */
int attni_rope_position_ok(const attn_rope *r, int64_t t);

/* Pairs handled per call below: a stack buffer of angles shared by every
 * row at one position (cos and sin cost more than the rotation). */
#define ATTNI_ROPE_CHUNK 32

/* cos and sin of the angles of pairs [i0, i0 + n) at position t, n <=
 * ATTNI_ROPE_CHUNK, sin times sign (-1: backwards). */
void attni_rope_angles(const attn_rope *r, int64_t t, double sign, int64_t i0,
                       int64_t n, double *c /* (n) */, double *s /* (n) */);

/*
 * Pairs [i0, i0 + n) of row x turned by those angles, in double, each value
 * rounded once to `type` into y (a row of R values; y == x with
 * ATTN_DTYPE_F32 rotates in place: a pair is read before it is written).
 * The one rotation of the library: attn_rope_forward/backward and
 * attn_kv_append give the same bits for the same row and position.
 */
void attni_rope_pairs(const attn_rope *r, const float *x /* (R) */, int64_t i0,
                      int64_t n, const double *c, const double *s,
                      void *y /* (R) of type */, attn_dtype type);

#endif /* ATTN_SRC_ROPE_ROW_H */
