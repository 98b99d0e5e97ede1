/*
 * The tile kernels' one body (see tile_kernels.h), written with GCC/Clang
 * vector extensions as wide as the level's registers. It is included by
 * one file per CPU level, each compiled with that level's instruction set
 * (tile_kernels_*.c) and ending in a table of its functions; nothing here
 * has external linkage.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__F16C__) || defined(__AVX2__)
#include <immintrin.h>
#endif

#include "kernels/half.h"

/* Every helper taking or returning a vector is inlined: an out-of-line
 * copy would pass 64-byte vectors with one level's ABI. */
#define VEC_INLINE static inline __attribute__((always_inline))

/* The level's register width: a wider vector type than the registers
 * makes GCC lower comparisons lane by lane, with branches. */
#if defined(__AVX512F__)
#define LANES 16
#elif defined(__AVX__)
#define LANES 8
#else
#define LANES 4
#endif
typedef float vf __attribute__((vector_size(LANES * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(LANES * sizeof(int32_t))));
typedef uint32_t vu __attribute__((vector_size(LANES * sizeof(uint32_t))));

VEC_INLINE vf splat(float x)
{
    vf v;
    for (int i = 0; i < LANES; ++i)
        v[i] = x;
    return v;
}

VEC_INLINE vf select(vi mask, vf a, vf b) /* mask ? a : b */
{
    return (vf)((mask & (vi)a) | (~mask & (vi)b));
}

VEC_INLINE vf vmax(vf a, vf b)
{
    return select(a > b, a, b);
}

/* 2^x for x <= 128 (see tile_softmax.h); NaN stays NaN, -inf gives 0.
 * Larger x give garbage, which one_pass never keeps. */
VEC_INLINE vf exp2v(vf x)
{
    const vf round = splat(12582912.0f); /* 1.5 * 2^23: adds round to integer */
    const vf lo = splat(-127.0f);
    const vf xc = select(x < lo, lo, x); /* a NaN x stays NaN (one maxps) */
    const vf t = xc + round;             /* bits: 0x4B400000 + n */
    const vf n = t - round;              /* nearest integer, |f| <= 1/2 */
    const vf f = xc - n;
    /* Taylor coefficients of 2^f = e^(f ln 2): ln2^k / k!. */
    vf p = splat(1.5252733804059841e-5f);
    p = p * f + splat(1.5403530393381606e-4f);
    p = p * f + splat(1.3333558146428443e-3f);
    p = p * f + splat(9.6181291076284772e-3f);
    p = p * f + splat(5.5504108664821580e-2f);
    p = p * f + splat(2.4022650695910071e-1f);
    p = p * f + splat(6.9314718055994531e-1f);
    p = p * f + splat(1.0f);
    /* 2^n from n's bits in t; n = -127 gives 0. A NaN made p NaN. */
    const vu bits = ((vu)t - (0x4B400000u - 127u)) << 23;
    return p * (vf)bits;
}

VEC_INLINE float hmax(vf v)
{
    float m = v[0];
    for (int i = 1; i < LANES; ++i)
        m = v[i] > m ? v[i] : m;
    return m;
}

VEC_INLINE double hsum(vf v)
{
    double s = 0.0;
    for (int i = 0; i < LANES; ++i)
        s += v[i];
    return s;
}

VEC_INLINE vf loadu(const float *x) /* a full vector, any alignment */
{
    vf v;
    memcpy(&v, x, sizeof v);
    return v;
}

VEC_INLINE void storeu(float *x, vf v)
{
    memcpy(x, &v, sizeof v);
}

/* The last n < LANES entries, padded with -inf (2^-inf = 0 adds nothing). */
VEC_INLINE vf load_tail(const float *x, int64_t n)
{
    vf v = splat(-INFINITY);
    memcpy(&v, x, (size_t)n * sizeof(float));
    return v;
}

/* The last n < LANES entries, padded with zeros. */
VEC_INLINE vf load_tail_zero(const float *x, int64_t n)
{
    vf v = splat(0.0f);
    memcpy(&v, x, (size_t)n * sizeof(float));
    return v;
}

VEC_INLINE void store_tail(float *x, vf v, int64_t n)
{
    memcpy(x, &v, (size_t)n * sizeof(float));
}

/* Row maximum; two accumulators hide the compare-and-blend latency. */
VEC_INLINE float row_max_of(const float *row, int64_t n)
{
    vf m0 = splat(-INFINITY), m1 = m0;
    int64_t j = 0;
    for (; j + 2 * LANES <= n; j += 2 * LANES) {
        m0 = vmax(m0, loadu(row + j));
        m1 = vmax(m1, loadu(row + j + LANES));
    }
    for (; j + LANES <= n; j += LANES)
        m0 = vmax(m0, loadu(row + j));
    if (j < n)
        m1 = vmax(m1, load_tail(row + j, n - j));
    return hmax(vmax(m0, m1));
}

#define LOG2E 1.4426950408889634f

/* e^(s - ref) as 2^((s - ref) log2 e): the difference first, so scores
 * near FLT_MAX never overflow. */
VEC_INLINE vf exp_from(vf s, vf ref)
{
    return exp2v((s - ref) * splat(LOG2E));
}

/* row[j] = e^(row[j] - shift); returns the sum of the results. */
VEC_INLINE vf exp_row(float *row, int64_t n, float shift)
{
    const vf s = splat(shift);
    vf sum = splat(0.0f);
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        const vf p = exp_from(loadu(row + j), s);
        sum += p;
        storeu(row + j, p);
    }
    if (j < n) {
        const vf p = exp_from(load_tail(row + j, n - j), s);
        sum += p;
        store_tail(row + j, p, n - j);
    }
    return sum;
}

static int row_has_nan(const float *row, int64_t n)
{
    for (int64_t j = 0; j < n; ++j)
        if (isnan(row[j]))
            return 1;
    return 0;
}

/* How far, in octaves, the reference may trail a row's maximum. */
#define LAG 8.0f
/* The largest rise one pass keeps: P <= 2^64 sums without overflow, and
 * exp2v is exact up to 128. */
#define MAX_RISE 64.0f

/* The two-pass step of one row: reference = the row's true maximum. */
VEC_INLINE void two_pass(float *row, int64_t n, float *row_max, double *row_sum,
                         float *alpha, unsigned char *has_nan)
{
    const float old = *row_max;
    float mx = row_max_of(row, n);
    mx = mx > old ? mx : old;
    if (mx == -INFINITY) { /* nothing visible yet; NaN still counts */
        *has_nan |= (unsigned char)row_has_nan(row, n);
        memset(row, 0, (size_t)n * sizeof *row);
        *alpha = 1.0f;
        return;
    }
    const double sum = hsum(exp_row(row, n, mx));
    const float a = old == -INFINITY ? 0.0f : exp_from(splat(old), splat(mx))[0];
    *alpha = a;
    *row_sum = *row_sum * a + sum;
    *row_max = mx;
}

/* The one-pass step (see tile_softmax.h); returns 0 when the row must be
 * redone from fresh scores, with nothing changed. */
VEC_INLINE int one_pass(float *row, int64_t n, float *row_max, double *row_sum,
                        float *alpha)
{
    const float ref = *row_max;
    const vf s_ref = splat(ref);
    vf vm = splat(-INFINITY), sum = splat(0.0f);
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        const vf s = loadu(row + j);
        vm = vmax(vm, s);
        const vf p = exp_from(s, s_ref); /* garbage above 2^128: redone below */
        sum += p;
        storeu(row + j, p);
    }
    if (j < n) {
        const vf s = load_tail(row + j, n - j);
        vm = vmax(vm, s);
        const vf p = exp_from(s, s_ref);
        sum += p;
        store_tail(row + j, p, n - j);
    }
    const float top = hmax(vm);
    const float rise = (top - ref) * LOG2E; /* octaves; +inf on overflow */
    if (rise > MAX_RISE)
        return 0;
    double total = hsum(sum);
    float a = 1.0f;
    if (rise > LAG) { /* move the reference up to the tile's maximum */
        a = exp_from(splat(ref), splat(top))[0];
        const vf scale = splat(a);
        for (j = 0; j + LANES <= n; j += LANES)
            storeu(row + j, loadu(row + j) * scale);
        for (; j < n; ++j)
            row[j] *= a;
        total *= a;
        *row_max = top;
    }
    *alpha = a;
    *row_sum = *row_sum * a + total;
    return 1;
}

static void tile_softmax(float *S, int64_t m, int64_t n, int64_t ld, int exact,
                       float *row_max, double *row_sum, float *alpha,
                       unsigned char *has_nan, unsigned char *redo)
{
    for (int64_t r = 0; r < m; ++r) {
        float *row = S + r * ld;
        redo[r] = 0;
        if (exact || row_max[r] == -INFINITY)
            two_pass(row, n, row_max + r, row_sum + r, alpha + r, has_nan + r);
        else if (!one_pass(row, n, row_max + r, row_sum + r, alpha + r))
            redo[r] = 1;
    }
}

static void tile_exp_shift(float *S, int64_t m, int64_t n, int64_t ld,
                         const float *shift)
{
    for (int64_t r = 0; r < m; ++r)
        exp_row(S + r * ld, n, shift[r]);
}

/* dS = P * (dP - D), and 0 where P is 0 even if dP is not finite. */
VEC_INLINE vf grad_of(vf p, vf dp, vf D)
{
    const vf zero = splat(0.0f);
    return select(p == zero, zero, p * (dp - D));
}

static void tile_softmax_grad(float *P, float *dS, int64_t m, int64_t n,
                            int64_t ld, const float *lse, const float *D)
{
    for (int64_t r = 0; r < m; ++r) {
        float *p = P + r * ld, *ds = dS + r * ld;
        if (lse[r] == -INFINITY) {
            memset(p, 0, (size_t)n * sizeof *p);
            memset(ds, 0, (size_t)n * sizeof *ds);
            continue;
        }
        const vf shift = splat(lse[r]), dd = splat(D[r]);
        int64_t j = 0;
        for (; j + LANES <= n; j += LANES) {
            const vf pv = exp_from(loadu(p + j), shift);
            storeu(p + j, pv);
            storeu(ds + j, grad_of(pv, loadu(ds + j), dd));
        }
        if (j < n) {
            const vf pv = exp_from(load_tail(p + j, n - j), shift);
            store_tail(p + j, pv, n - j);
            store_tail(ds + j, grad_of(pv, load_tail_zero(ds + j, n - j), dd),
                       n - j);
        }
    }
}

/* min(lim, x), NaN staying NaN (x86's min returns its second operand
 * when either is NaN). */
VEC_INLINE vf vmin_keep_nan(vf lim, vf x)
{
#if defined(__AVX512F__)
    return (vf)_mm512_min_ps((__m512)lim, (__m512)x);
#elif defined(__AVX__)
    return (vf)_mm256_min_ps((__m256)lim, (__m256)x);
#else
    return select(x > lim, lim, x);
#endif
}

/* 2^a for 0 <= a <= 115 (NaN stays NaN), relative error below 2e-7.
 * With the x86 levels' lane permute: 2^(j/8) from an 8-entry table and a
 * degree-3 polynomial on |f| <= 1/16, half the multiply-adds of a
 * polynomial alone, which is what bounds the softcap's loop. */
VEC_INLINE vf exp2_octaves(vf a)
{
#if defined(__AVX2__)
    /* bits of 2^(j/8) less j << 20, so that adding (8n + j) << 20 to them
     * gives 2^(n + j/8) */
    static const int32_t table[16] = {
        0x3f800000, 0x3f7b95c2, 0x3f7837f0, 0x3f75fed7, 0x3f7504f3, 0x3f75672a,
        0x3f7744fd, 0x3f7ac0c7, 0x3f800000, 0x3f7b95c2, 0x3f7837f0, 0x3f75fed7,
        0x3f7504f3, 0x3f75672a, 0x3f7744fd, 0x3f7ac0c7};
    const vf round = splat(1572864.0f); /* 1.5 * 2^20: rounds to 1/8 */
    const vf t = a + round, f = a - (t - round); /* t's bits: base + 8n + j */
#if defined(__AVX512F__) /* the table twice: index bit 3 is n's */
    const vu tj = (vu)_mm512_permutexvar_epi32((__m512i)t,
                                               _mm512_loadu_si512(table));
#else
    const vu tj = (vu)_mm256_permutevar8x32_epi32(
        _mm256_loadu_si256((const __m256i *)table), (__m256i)t);
#endif
    const vf scale = (vf)(tj + (((vu)t - 0x49C00000u) << 20));
    const vf p = ((splat(5.549622e-2f) * f + splat(2.4025763e-1f)) * f +
                  splat(6.9314721e-1f)) * f + splat(1.0f);
    return p * scale;
#else
    /* degree 6 by Estrin's scheme (relative error 6e-9), for a short
     * dependency chain */
    const vf round = splat(12582912.0f); /* 1.5 * 2^23: rounds to integer */
    const vf t = a + round, n = t - round, f = a - n;
    const vf f2 = f * f;
    const vf p01 = splat(6.9314718055994531e-1f) * f + splat(1.0f);
    const vf p23 = splat(5.5504108664821580e-2f) * f +
                   splat(2.4022650695910071e-1f);
    const vf p45 = splat(1.3333558146428443e-3f) * f +
                   splat(9.6181291076284772e-3f);
    const vf p03 = p23 * f2 + p01;
    const vf p46 = splat(1.5403530393381606e-4f) * f2 + p45;
    const vu bits = ((vu)t - (0x4B400000u - 127u)) << 23; /* 2^n */
    return (p46 * (f2 * f2) + p03) * (vf)bits;
#endif
}

/* The softcap of one vector of scores: c tanh(s / c) = sign(s) (c - c r2),
 * r2 = 2 / (e + 1) <= 1, e = e^(2|s| / c), with absolute error about
 * 1e-7 c (what the scores' rounding allows: the softmax sees absolute
 * differences); c r2 <= c cannot overflow. With dt, *dt = 1 - tanh^2 =
 * e r2^2, formed as (e r2) r2 so that it keeps its relative accuracy as
 * tanh saturates and never underflows early. One division either way.
 * The exponent 2|s| / c in octaves is clamped at 115 (tanh is 1 in float
 * long before; e + 1 still fits); NaN stays NaN. */
/* k = 2 log2 e / c */
VEC_INLINE vf softcap_vec(vf s, vf k, vf c, vf *dt)
{
    const vu sign = (vu)s & 0x80000000u;
    const vf e = exp2_octaves(vmin_keep_nan(
        splat(115.0f), (vf)((vu)(s * k) & 0x7fffffffu)));
    const vf r2 = splat(2.0f) / (e + splat(1.0f));
    if (dt)
        *dt = (e * r2) * r2;
    return (vf)((vu)(c - c * r2) | sign);
}

/* row <- cap tanh(row / cap), and dcap <- 1 - tanh^2 when not NULL. */
VEC_INLINE void softcap_row(float *row, int64_t n, float cap, float *dcap)
{
    /* 2 log2 e / cap, at most FLT_MAX: a cap so small that this overflows
     * saturates every nonzero score anyway. */
    const double kd = 2.0 * LOG2E / (double)cap;
    const vf k = splat(kd < 0x1.fffffep127 ? (float)kd : 0x1.fffffep127f),
             c = splat(cap);
    vf dt;
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        storeu(row + j, softcap_vec(loadu(row + j), k, c,
                                    dcap ? &dt : NULL));
        if (dcap)
            storeu(dcap + j, dt);
    }
    if (j < n) {
        store_tail(row + j,
                   softcap_vec(load_tail_zero(row + j, n - j), k, c,
                               dcap ? &dt : NULL),
                   n - j);
        if (dcap)
            store_tail(dcap + j, dt, n - j);
    }
}

/* ALiBi's row[j] -= slope |dist0 - j|, the distance as a float. */
static void alibi_row(float *row, int64_t n, float slope, float dist0)
{
    vf lane;
    for (int i = 0; i < LANES; ++i)
        lane[i] = (float)i;
    const vf sl = splat(slope);
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES) {
        const vf dist = splat(dist0 - (float)j) - lane;
        storeu(row + j, loadu(row + j) - sl * (vf)((vu)dist & 0x7fffffffu));
    }
    if (j < n) {
        const vf dist = splat(dist0 - (float)j) - lane;
        store_tail(row + j,
                   load_tail_zero(row + j, n - j) -
                       sl * (vf)((vu)dist & 0x7fffffffu),
                   n - j);
    }
}

/* The score modifiers of one row's visible keys, in place: the softcap
 * (dcap, if not NULL, <- 1 - tanh^2), then ALiBi. One loop each, so that
 * each keeps its constants in registers. */
static void tile_modify_scores(float *row, int64_t n, float cap, float slope,
                               float dist0, float *dcap)
{
    if (cap > 0.0f && dcap)
        softcap_row(row, n, cap, dcap);
    else if (cap > 0.0f)
        softcap_row(row, n, cap, NULL);
    if (slope != 0.0f)
        alibi_row(row, n, slope, dist0);
}

/* The decoding kernels work on 8 lanes: a 16-lane accumulator that must
 * be summed across lanes makes GCC keep it on the stack. */
typedef float v8 __attribute__((vector_size(8 * sizeof(float))));

VEC_INLINE v8 load8(const float *x)
{
    v8 v;
    memcpy(&v, x, sizeof v);
    return v;
}

VEC_INLINE void store8(float *x, v8 v)
{
    memcpy(x, &v, sizeof v);
}

VEC_INLINE float hsum8(v8 a)
{
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
}

/* Lane i of the result: (x[2i] + x[2i+1]) of a's and then b's pairs,
 * within each half, as x86's haddps. */
VEC_INLINE v8 pairsum8(v8 a, v8 b)
{
    return __builtin_shufflevector(a, b, 0, 2, 8, 10, 4, 6, 12, 14) +
           __builtin_shufflevector(a, b, 1, 3, 9, 11, 5, 7, 13, 15);
}

/* The lane sums of eight vectors, in one vector: a tree of pairwise sums
 * instead of eight scalar reductions. */
VEC_INLINE v8 hsum8x8(v8 a0, v8 a1, v8 a2, v8 a3, v8 a4, v8 a5, v8 a6, v8 a7)
{
    const v8 lo4 = pairsum8(pairsum8(a0, a1), pairsum8(a2, a3));
    const v8 hi4 = pairsum8(pairsum8(a4, a5), pairsum8(a6, a7));
    /* lo4 = [a0..a3 over lanes 0-3 | a0..a3 over lanes 4-7], hi4 alike */
    return __builtin_shufflevector(lo4, hi4, 0, 1, 2, 3, 8, 9, 10, 11) +
           __builtin_shufflevector(lo4, hi4, 4, 5, 6, 7, 12, 13, 14, 15);
}

/* The lane sums of four vectors in lanes 0-3 (4-7: the same), summed as
 * hsum8x8 sums its first four. */
VEC_INLINE v8 hsum4x8(v8 a0, v8 a1, v8 a2, v8 a3)
{
    const v8 lo4 = pairsum8(pairsum8(a0, a1), pairsum8(a2, a3));
    return lo4 + __builtin_shufflevector(lo4, lo4, 4, 5, 6, 7, 0, 1, 2, 3);
}

VEC_INLINE v8 splat8(float x)
{
    const v8 v = {x, x, x, x, x, x, x, x};
    return v;
}

typedef uint16_t v8h __attribute__((vector_size(8 * sizeof(uint16_t))));
typedef uint32_t v8u __attribute__((vector_size(8 * sizeof(uint32_t))));

VEC_INLINE v8u load8_u16(const uint16_t *x) /* zero-extended */
{
    v8h h;
    memcpy(&h, x, sizeof h);
    return __builtin_convertvector(h, v8u);
}

/* bfloat16 is a float's upper half: widening is a shift on every level
 * (AVX512-BF16 adds no widening instruction); AVX2's zero extension and
 * shift spelled out, as GCC does not find them. */
VEC_INLINE v8 load8_bf16(const uint16_t *x)
{
#if defined(__AVX2__)
    __m128i h;
    memcpy(&h, x, sizeof h);
    return (v8)_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16);
#else
    return (v8)(load8_u16(x) << 16);
#endif
}

/* fp16: F16C's vcvtph2ps where the level has it (AVX2 and AVX-512 levels),
 * else the bit manipulation of half.h on 8 lanes. */
VEC_INLINE v8 load8_f16(const uint16_t *x)
{
#if defined(__F16C__)
    __m128i h;
    memcpy(&h, x, sizeof h);
    return (v8)_mm256_cvtph_ps(h);
#else
    const v8u w = load8_u16(x);
    const v8u sign = (w & 0x8000u) << 16, em = w & 0x7fffu;
    const v8u scaled = (v8u)((v8)(em << 13) * splat8(0x1p112f));
    const v8u special = sign | 0x7f800000u | (em & 0x3ffu) << 13;
    const v8u is_special = (v8u)(em >= 0x7c00u); /* all ones where true */
    return (v8)((is_special & special) | (~is_special & (sign | scaled)));
#endif
}

#define KV_T float
#define KV_LOAD8(p) load8(p)
#define KV_SCALAR(x) (x)
#define KV_NAME(f) f##_f32
#include "kernels/row_kernels.h"
#undef KV_T
#undef KV_LOAD8
#undef KV_SCALAR
#undef KV_NAME

#define KV_T uint16_t
#define KV_LOAD8(p) load8_f16(p)
#define KV_SCALAR(x) attni_f16_to_f32(x)
#define KV_NAME(f) f##_f16
#include "kernels/row_kernels.h"
#undef KV_LOAD8
#undef KV_SCALAR
#undef KV_NAME

#define KV_LOAD8(p) load8_bf16(p)
#define KV_SCALAR(x) attni_bf16_to_f32(x)
#define KV_NAME(f) f##_bf16
#include "kernels/row_kernels.h"
#undef KV_T
#undef KV_LOAD8
#undef KV_SCALAR
#undef KV_NAME

/* 2^x elementwise, in place: the kernels' exponential on its own, for the
 * accuracy tests. */
static void tile_exp2(float *x, int64_t n)
{
    int64_t j = 0;
    for (; j + LANES <= n; j += LANES)
        storeu(x + j, exp2v(loadu(x + j)));
    if (j < n)
        store_tail(x + j, exp2v(load_tail(x + j, n - j)), n - j);
}

#define ATTN_KERNEL_TABLE(level_name)                                       \
    {level_name, tile_softmax, tile_exp_shift, tile_softmax_grad,            \
     tile_modify_scores,                                                     \
     {dot_rows_f32, dot_rows_f16, dot_rows_bf16},                            \
     {axpy_rows_f32, axpy_rows_f16, axpy_rows_bf16},                         \
     {widen_rows_f32, widen_rows_f16, widen_rows_bf16}, tile_exp2}
