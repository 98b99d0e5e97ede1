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

/* Four query rows against one key: their sums in lanes 0-3. */
VEC_INLINE v8 KV_NAME(dot4x1)(const float *Q, int64_t d, const KV_T *k)
{
    const float *q0 = Q, *q1 = q0 + d, *q2 = q1 + d, *q3 = q2 + d;
    v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    int64_t c = 0;
    for (; c + 8 <= d; c += 8) {
        const v8 x = KV_LOAD8(k + c);
        a0 += load8(q0 + c) * x;
        a1 += load8(q1 + c) * x;
        a2 += load8(q2 + c) * x;
        a3 += load8(q3 + c) * x;
    }
    v8 sums = hsum4x8(a0, a1, a2, a3);
    for (; c < d; ++c)
        for (int i = 0; i < 4; ++i)
            sums[i] += Q[i * d + c] * KV_SCALAR(k[c]);
    return sums;
}

/* S[r, j] = scale * Q[r] . K[j] for m query rows (Q contiguous, (m, d))
 * and n keys. Each key row is read once (from memory) and reused from L1
 * by every query row; a step takes three keys against four rows (twelve
 * sums, three key vectors: the sixteen AVX2 registers less one), so each
 * load of a query vector serves three products and each widened key
 * vector four. */
static void KV_NAME(dot_rows)(const float *Q, int64_t m, int64_t d,
                              const void *const *K, int64_t n, float scale,
                              float *S, int64_t lds, const void *const *ahead)
{
    const int64_t m4 = m & ~(int64_t)3;
    int64_t j = 0;
    for (; j + 3 <= n; j += 3) {
        const KV_T *k0 = K[j], *k1 = K[j + 1], *k2 = K[j + 2];
        for (int i = 0; i < 3; ++i)
            KV_NAME(prefetch_row)(ahead, j + i, d);
        for (int64_t r = 0; r < m4; r += 4) {
            const float *q0 = Q + r * d, *q1 = q0 + d, *q2 = q1 + d, *q3 = q2 + d;
            v8 a00 = {0}, a10 = {0}, a20 = {0}, a30 = {0};
            v8 a01 = {0}, a11 = {0}, a21 = {0}, a31 = {0};
            v8 a02 = {0}, a12 = {0}, a22 = {0}, a32 = {0};
            int64_t c = 0;
            for (; c + 8 <= d; c += 8) {
                const v8 x0 = KV_LOAD8(k0 + c), x1 = KV_LOAD8(k1 + c),
                         x2 = KV_LOAD8(k2 + c);
                v8 qv = load8(q0 + c);
                a00 += qv * x0; a01 += qv * x1; a02 += qv * x2;
                qv = load8(q1 + c);
                a10 += qv * x0; a11 += qv * x1; a12 += qv * x2;
                qv = load8(q2 + c);
                a20 += qv * x0; a21 += qv * x1; a22 += qv * x2;
                qv = load8(q3 + c);
                a30 += qv * x0; a31 += qv * x1; a32 += qv * x2;
            }
            v8 s01 = hsum8x8(a00, a10, a20, a30, a01, a11, a21, a31);
            v8 s2 = hsum4x8(a02, a12, a22, a32);
            for (; c < d; ++c) {
                const float x0 = KV_SCALAR(k0[c]), x1 = KV_SCALAR(k1[c]),
                            x2 = KV_SCALAR(k2[c]);
                for (int i = 0; i < 4; ++i) {
                    const float qc = Q[(r + i) * d + c];
                    s01[i] += qc * x0;
                    s01[4 + i] += qc * x1;
                    s2[i] += qc * x2;
                }
            }
            s01 *= scale;
            s2 *= scale;
            for (int i = 0; i < 4; ++i) {
                float *row = S + (r + i) * lds + j;
                row[0] = s01[i];
                row[1] = s01[4 + i];
                row[2] = s2[i];
            }
        }
        for (int64_t r = m4; r < m; ++r) { /* the last m % 4 rows */
            const float *q = Q + r * d;
            v8 a0 = {0}, a1 = {0}, a2 = {0};
            int64_t c = 0;
            for (; c + 8 <= d; c += 8) {
                const v8 qv = load8(q + c);
                a0 += qv * KV_LOAD8(k0 + c);
                a1 += qv * KV_LOAD8(k1 + c);
                a2 += qv * KV_LOAD8(k2 + c);
            }
            v8 sums = hsum4x8(a0, a1, a2, a2);
            for (; c < d; ++c) {
                sums[0] += q[c] * KV_SCALAR(k0[c]);
                sums[1] += q[c] * KV_SCALAR(k1[c]);
                sums[2] += q[c] * KV_SCALAR(k2[c]);
            }
            for (int i = 0; i < 3; ++i)
                S[r * lds + j + i] = scale * sums[i];
        }
    }
    for (; j < n; ++j) {
        KV_NAME(prefetch_row)(ahead, j, d);
        for (int64_t r = 0; r < m4; r += 4) {
            const v8 s = KV_NAME(dot4x1)(Q + r * d, d, K[j]) * scale;
            for (int i = 0; i < 4; ++i)
                S[(r + i) * lds + j] = s[i];
        }
        for (int64_t r = m4; r < m; ++r)
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
 * value rows, each read once. A step takes three value rows against
 * four output rows, their twelve weights held in registers (with the
 * three value vectors, fifteen of AVX2's sixteen), so each widened value
 * vector serves four rows and each load and store of an output vector
 * three products. */
static void KV_NAME(axpy_rows)(const float *P, int64_t lds, int64_t m,
                               int64_t n, const void *const *V, int64_t dv,
                               float *O, const void *const *ahead)
{
    const int64_t m4 = m & ~(int64_t)3;
    int64_t j = 0;
    for (; j + 3 <= n; j += 3) {
        const KV_T *v0 = V[j], *v1 = V[j + 1], *v2 = V[j + 2];
        for (int i = 0; i < 3; ++i)
            KV_NAME(prefetch_row)(ahead, j + i, dv);
        for (int64_t r = 0; r < m4; r += 4) {
            const float *p = P + r * lds + j;
            const v8 a0 = splat8(p[0]), a1 = splat8(p[1]), a2 = splat8(p[2]);
            p += lds;
            const v8 b0 = splat8(p[0]), b1 = splat8(p[1]), b2 = splat8(p[2]);
            p += lds;
            const v8 c0 = splat8(p[0]), c1 = splat8(p[1]), c2 = splat8(p[2]);
            p += lds;
            const v8 e0 = splat8(p[0]), e1 = splat8(p[1]), e2 = splat8(p[2]);
            float *o0 = O + r * dv, *o1 = o0 + dv, *o2 = o1 + dv, *o3 = o2 + dv;
            int64_t c = 0;
            for (; c + 8 <= dv; c += 8) {
                const v8 x0 = KV_LOAD8(v0 + c), x1 = KV_LOAD8(v1 + c),
                         x2 = KV_LOAD8(v2 + c);
                store8(o0 + c, load8(o0 + c) + a0 * x0 + a1 * x1 + a2 * x2);
                store8(o1 + c, load8(o1 + c) + b0 * x0 + b1 * x1 + b2 * x2);
                store8(o2 + c, load8(o2 + c) + c0 * x0 + c1 * x1 + c2 * x2);
                store8(o3 + c, load8(o3 + c) + e0 * x0 + e1 * x1 + e2 * x2);
            }
            for (; c < dv; ++c) {
                const float x0 = KV_SCALAR(v0[c]), x1 = KV_SCALAR(v1[c]),
                            x2 = KV_SCALAR(v2[c]);
                for (int i = 0; i < 4; ++i) {
                    const float *w = P + (r + i) * lds + j;
                    O[(r + i) * dv + c] += w[0] * x0 + w[1] * x1 + w[2] * x2;
                }
            }
        }
        for (int64_t r = m4; r < m; ++r) { /* the last m % 4 rows */
            const float *p = P + r * lds + j;
            const v8 a0 = splat8(p[0]), a1 = splat8(p[1]), a2 = splat8(p[2]);
            float *o = O + r * dv;
            int64_t c = 0;
            for (; c + 8 <= dv; c += 8)
                store8(o + c, load8(o + c) + a0 * KV_LOAD8(v0 + c) +
                                  a1 * KV_LOAD8(v1 + c) + a2 * KV_LOAD8(v2 + c));
            for (; c < dv; ++c)
                o[c] += p[0] * KV_SCALAR(v0[c]) + p[1] * KV_SCALAR(v1[c]) +
                        p[2] * KV_SCALAR(v2[c]);
        }
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
