/* attention-bench-decode's roofs: reading the step's bytes as fast as a
 * plain loop can, on the run's threads. The sums are what keeps the reads
 * from being optimised away; four independent vector sums per thread (256
 * bits on CPUs with AVX, chosen at run time) leave the loads, not the
 * adds, to bound the loop. A first version summed each 64 bytes across
 * its lanes in a chain of scalar adds and measured 1.25-2x slower than
 * this on two Zen 3 cores: a roof that low made the decoding path look
 * closer to memory speed than it was. */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "decode.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ROOF_AVX 1
#endif

typedef float v4 __attribute__((vector_size(16)));

/* The sum of x[0, n), portable: four 4-lane sums. */
static float sum_portable(const float *x, size_t n)
{
    v4 a = {0}, b = {0}, c = {0}, d = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        v4 u[4];
        memcpy(u, x + i, sizeof u);
        a += u[0];
        b += u[1];
        c += u[2];
        d += u[3];
    }
    const v4 s = (a + b) + (c + d);
    float t = s[0] + s[1] + s[2] + s[3];
    for (; i < n; ++i)
        t += x[i];
    return t;
}

#ifdef ROOF_AVX
__attribute__((target("avx"))) static float sum_avx(const float *x, size_t n)
{
    __m256 a = _mm256_setzero_ps(), b = a, c = a, d = a;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(x + i + 8));
        c = _mm256_add_ps(c, _mm256_loadu_ps(x + i + 16));
        d = _mm256_add_ps(d, _mm256_loadu_ps(x + i + 24));
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a, b),
                                          _mm256_add_ps(c, d)));
    float t = 0.0f;
    for (int l = 0; l < 8; ++l)
        t += lanes[l];
    for (; i < n; ++i)
        t += x[i];
    return t;
}
#endif

static float sum_run(const float *x, size_t n)
{
#ifdef ROOF_AVX
    if (__builtin_cpu_supports("avx"))
        return sum_avx(x, n);
#endif
    return sum_portable(x, n);
}

float dec_read_all(const float *x, size_t n, int threads)
{
    float total = 0.0f;
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        /* one contiguous range per thread, as a static schedule splits */
        const size_t t = (size_t)omp_get_thread_num(),
                     nt = (size_t)omp_get_num_threads();
        const size_t per = n / nt / 64 * 64;
        total += sum_run(x + t * per, t + 1 == nt ? n - t * per : per);
    }
#else
    total = sum_run(x, n);
#endif
    return total;
}

float dec_read_pages(const char *k, const char *v, const int32_t *table,
                     int64_t n_pages, size_t page_bytes, int threads)
{
    float total = 0.0f;
    const size_t floats = page_bytes / sizeof(float);
    (void)threads;
#ifdef _OPENMP
#pragma omp parallel for num_threads(threads) reduction(+ : total) schedule(static)
#endif
    for (int64_t i = 0; i < n_pages; ++i) {
        const size_t at = (size_t)table[i] * page_bytes;
        total += sum_run((const float *)(const void *)(k + at), floats) +
                 sum_run((const float *)(const void *)(v + at), floats);
    }
    return total;
}
