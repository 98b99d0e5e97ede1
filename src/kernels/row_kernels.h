/*
 * The row kernels for one K/V storage type, included by
 * tile_kernels_body.h once per type with
 *     KV_T          the stored element type
 *     KV_LOAD8(p)   8 stored values from p widened to a v8
 *     KV_SCALAR(x)  one stored value widened to float
 *     KV_NAME(f)    f with the type's suffix
 * K and V come as arrays of row pointers, so strided tensors and pages
 * (plan/kv_source.h) are read alike. Widening is exact, so every storage
 * type computes what fp32 does on the widened values.
 */

/* Fetches a row the caller reads later into the caches while this one
 * computes: pages scatter rows where the hardware prefetcher cannot
 * follow them. */
VEC_INLINE void KV_NAME(prefetch_row)(const void *const *ahead, int64_t j,
                                      int64_t cols)
{
    if (ahead == NULL)
        return;
    const char *row = ahead[j];
    for (int64_t at = 0; at < cols * (int64_t)sizeof(KV_T); at += 64)
        __builtin_prefetch(row + at);
}

/* q . k over d values: 8 lanes, then the tail. */
VEC_INLINE float KV_NAME(dot8)(const float *q, const KV_T *k, int64_t d)
{
    v8 acc = {0};
    int64_t c = 0;
    for (; c + 8 <= d; c += 8)
        acc += load8(q + c) * KV_LOAD8(k + c);
    float s = hsum8(acc);
    for (; c < d; ++c)
        s += q[c] * KV_SCALAR(k[c]);
    return s;
}

/* dot_rows_t's transposed Q, in floats (16 KiB of stack, and 8 KiB for
 * four widened key rows). */
#ifndef DOT_T_FLOATS
#define DOT_T_FLOATS 4096
#endif

/* dot_rows for m >= 16 rows with m d <= DOT_T_FLOATS (so d <= DOT_T_FLOATS
 * / 16): eight rows per vector instead of a sum across lanes per product.
 * Q is transposed once per call, (d, m8) with its rows padded to m8, a
 * multiple of 8, with zeros; each key row is widened once and its values
 * broadcast against it, four keys by sixteen rows at a time, so each of
 * the six loads of a step serves eight products. */
static void KV_NAME(dot_rows_t)(const float *Q, int64_t m, int64_t d,
                                const void *const *K, int64_t n, float scale,
                                float *S, int64_t lds, const void *const *ahead)
{
    float qt[DOT_T_FLOATS] __attribute__((aligned(32)));   /* (d, m8) */
    float kw[4][DOT_T_FLOATS / 16]; /* (4, d) */
    const int64_t m8 = (m + 7) & ~(int64_t)7;
    for (int64_t c = 0; c < d; ++c)
        for (int64_t r = 0; r < m8; ++r)
            qt[c * m8 + r] = r < m ? Q[r * d + c] : 0.0f;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        for (int k = 0; k < 4; ++k) {
            const KV_T *x = K[j + k];
            KV_NAME(prefetch_row)(ahead, j + k, d);
            int64_t c = 0;
            for (; c + 8 <= d; c += 8)
                store8(kw[k] + c, KV_LOAD8(x + c));
            for (; c < d; ++c)
                kw[k][c] = KV_SCALAR(x[c]);
        }
        for (int64_t g = 0; g < m8; g += 16) {
            const int two = g + 16 <= m8;   /* sixteen rows, or the last eight */
            v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            v8 b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            const float *q = qt + g;
            if (two)
                for (int64_t c = 0; c < d; ++c, q += m8) {
                    const v8 qa = load8(q), qb = load8(q + 8);
                    const v8 x0 = splat8(kw[0][c]), x1 = splat8(kw[1][c]),
                             x2 = splat8(kw[2][c]), x3 = splat8(kw[3][c]);
                    a0 += x0 * qa; b0 += x0 * qb;
                    a1 += x1 * qa; b1 += x1 * qb;
                    a2 += x2 * qa; b2 += x2 * qb;
                    a3 += x3 * qa; b3 += x3 * qb;
                }
            else
                for (int64_t c = 0; c < d; ++c, q += m8) {
                    const v8 qa = load8(q);
                    a0 += splat8(kw[0][c]) * qa;
                    a1 += splat8(kw[1][c]) * qa;
                    a2 += splat8(kw[2][c]) * qa;
                    a3 += splat8(kw[3][c]) * qa;
                }
            const v8 sc = splat8(scale);
            a0 *= sc; a1 *= sc; a2 *= sc; a3 *= sc;
            b0 *= sc; b1 *= sc; b2 *= sc; b3 *= sc;
            for (int64_t i = 0; i < 8 && g + i < m; ++i) {
                float *row = S + (g + i) * lds + j;
                row[0] = a0[i]; row[1] = a1[i]; row[2] = a2[i]; row[3] = a3[i];
            }
            for (int64_t i = 0; two && i < 8 && g + 8 + i < m; ++i) {
                float *row = S + (g + 8 + i) * lds + j;
                row[0] = b0[i]; row[1] = b1[i]; row[2] = b2[i]; row[3] = b3[i];
            }
        }
    }
    for (; j < n; ++j) {
        KV_NAME(prefetch_row)(ahead, j, d);
        for (int64_t r = 0; r < m; ++r)
            S[r * lds + j] = scale * KV_NAME(dot8)(Q + r * d, K[j], d);
    }
}

/* S[r, j] = scale * Q[r] . K[j] for m query rows (Q contiguous, (m, d))
 * and n keys. Each key row is read once (from memory) and reused from L1
 * by every query row; a step takes two keys against four rows, so each
 * load of a query vector serves two products. */
static void KV_NAME(dot_rows)(const float *Q, int64_t m, int64_t d,
                              const void *const *K, int64_t n, float scale,
                              float *S, int64_t lds, const void *const *ahead)
{
    /* measured: 1.1-1.6x the pairwise kernel from 16 rows, slower at 8 */
    if (m >= 16 && ((m + 7) & ~(int64_t)7) * d <= DOT_T_FLOATS) {
        KV_NAME(dot_rows_t)(Q, m, d, K, n, scale, S, lds, ahead);
        return;
    }
    int64_t j = 0;
    for (; j + 2 <= n; j += 2) {
        const KV_T *k0 = K[j], *k1 = K[j + 1];
        KV_NAME(prefetch_row)(ahead, j, d);
        KV_NAME(prefetch_row)(ahead, j + 1, d);
        int64_t r = 0;
        for (; r + 4 <= m; r += 4) {
            const float *q0 = Q + r * d, *q1 = q0 + d, *q2 = q1 + d, *q3 = q2 + d;
            v8 a00 = {0}, a10 = {0}, a20 = {0}, a30 = {0};
            v8 a01 = {0}, a11 = {0}, a21 = {0}, a31 = {0};
            int64_t c = 0;
            for (; c + 8 <= d; c += 8) {
                const v8 x0 = KV_LOAD8(k0 + c), x1 = KV_LOAD8(k1 + c);
                v8 qv = load8(q0 + c);
                a00 += qv * x0;
                a01 += qv * x1;
                qv = load8(q1 + c);
                a10 += qv * x0;
                a11 += qv * x1;
                qv = load8(q2 + c);
                a20 += qv * x0;
                a21 += qv * x1;
                qv = load8(q3 + c);
                a30 += qv * x0;
                a31 += qv * x1;
            }
            v8 sums = hsum8x8(a00, a10, a20, a30, a01, a11, a21, a31);
            for (; c < d; ++c) {
                const float x0 = KV_SCALAR(k0[c]), x1 = KV_SCALAR(k1[c]);
                for (int i = 0; i < 4; ++i) {
                    sums[i] += Q[(r + i) * d + c] * x0;
                    sums[4 + i] += Q[(r + i) * d + c] * x1;
                }
            }
            sums *= scale;
            for (int i = 0; i < 4; ++i) {
                S[(r + i) * lds + j] = sums[i];
                S[(r + i) * lds + j + 1] = sums[4 + i];
            }
        }
        for (; r < m; ++r) {
            S[r * lds + j] = scale * KV_NAME(dot8)(Q + r * d, k0, d);
            S[r * lds + j + 1] = scale * KV_NAME(dot8)(Q + r * d, k1, d);
        }
    }
    for (; j < n; ++j) {
        KV_NAME(prefetch_row)(ahead, j, d);
        for (int64_t r = 0; r < m; ++r)
            S[r * lds + j] = scale * KV_NAME(dot8)(Q + r * d, K[j], d);
    }
}

/* O[r] += P[r, j] x over the c values of one value row x, for m rows. */
VEC_INLINE void KV_NAME(axpy_one)(const float *P, int64_t lds, int64_t m,
                                  const KV_T *x, int64_t dv, float *O)
{
    int64_t c = 0;
    for (; c + 8 <= dv; c += 8) {
        const v8 xv = KV_LOAD8(x + c);
        for (int64_t r = 0; r < m; ++r) {
            float *o = O + r * dv + c;
            store8(o, load8(o) + splat8(P[r * lds]) * xv);
        }
    }
    for (; c < dv; ++c)
        for (int64_t r = 0; r < m; ++r)
            O[r * dv + c] += P[r * lds] * KV_SCALAR(x[c]);
}

/* O[r] += sum_j P[r, j] V[j] for m rows (O contiguous, (m, dv)) and n
 * value rows, each read once. A step takes four value rows against two
 * output rows, their eight weights held in registers, so each load and
 * store of an output vector serves four products and each value vector
 * two. */
static void KV_NAME(axpy_rows)(const float *P, int64_t lds, int64_t m,
                               int64_t n, const void *const *V, int64_t dv,
                               float *O, const void *const *ahead)
{
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const KV_T *v0 = V[j], *v1 = V[j + 1], *v2 = V[j + 2], *v3 = V[j + 3];
        for (int i = 0; i < 4; ++i)
            KV_NAME(prefetch_row)(ahead, j + i, dv);
        int64_t r = 0;
        for (; r + 2 <= m; r += 2) {
            const float *p = P + r * lds + j, *q = p + lds;
            const v8 p0 = splat8(p[0]), p1 = splat8(p[1]), p2 = splat8(p[2]),
                     p3 = splat8(p[3]), q0 = splat8(q[0]), q1 = splat8(q[1]),
                     q2 = splat8(q[2]), q3 = splat8(q[3]);
            float *o = O + r * dv, *u = o + dv;
            int64_t c = 0;
            for (; c + 8 <= dv; c += 8) {
                const v8 x0 = KV_LOAD8(v0 + c), x1 = KV_LOAD8(v1 + c),
                         x2 = KV_LOAD8(v2 + c), x3 = KV_LOAD8(v3 + c);
                store8(o + c, load8(o + c) + p0 * x0 + p1 * x1 + p2 * x2 + p3 * x3);
                store8(u + c, load8(u + c) + q0 * x0 + q1 * x1 + q2 * x2 + q3 * x3);
            }
            for (; c < dv; ++c) {
                const float x0 = KV_SCALAR(v0[c]), x1 = KV_SCALAR(v1[c]),
                            x2 = KV_SCALAR(v2[c]), x3 = KV_SCALAR(v3[c]);
                o[c] += p[0] * x0 + p[1] * x1 + p[2] * x2 + p[3] * x3;
                u[c] += q[0] * x0 + q[1] * x1 + q[2] * x2 + q[3] * x3;
            }
        }
        for (; r < m; ++r) /* an odd last row: one key at a time */
            for (int i = 0; i < 4; ++i)
                KV_NAME(axpy_one)(P + r * lds + j + i, lds, 1, V[j + i], dv,
                                  O + r * dv);
    }
    for (; j < n; ++j) {
        KV_NAME(prefetch_row)(ahead, j, dv);
        KV_NAME(axpy_one)(P + j, lds, m, V[j], dv, O);
    }
}

/* dst row i (ld apart) = row i of `rows`, widened to float: the general
 * paths' K and V tiles when the tensor cannot be handed to sgemm. */
static void KV_NAME(widen_rows)(const void *const *rows, int64_t n,
                                int64_t cols, float *dst, int64_t ld)
{
    for (int64_t i = 0; i < n; ++i) {
        const KV_T *x = rows[i];
        float *y = dst + i * ld;
        int64_t c = 0;
        for (; c + 8 <= cols; c += 8)
            store8(y + c, KV_LOAD8(x + c));
        for (; c < cols; ++c)
            y[c] = KV_SCALAR(x[c]);
    }
}
