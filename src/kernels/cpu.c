#include "kernels/cpu.h"

#include <stdlib.h>
#include <string.h>

#include "kernels/tile_kernels.h"

static const char *const names[ATTN_CPU_LEVELS] = {"generic", "avx2", "avx512"};

const char *attni_cpu_level_name(attn_cpu_level level)
{
    return level >= 0 && level < ATTN_CPU_LEVELS ? names[level] : "unknown";
}

attn_cpu_level attni_cpu_level_best(void)
{
#if defined(ATTN_HAVE_X86_LEVELS)
    /* GCC's and clang's checks include the OS's saving of the registers. */
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return ATTN_CPU_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return ATTN_CPU_AVX2;
#endif
    return ATTN_CPU_GENERIC;
}

attn_cpu_level attni_cpu_level_select(void)
{
    const attn_cpu_level best = attni_cpu_level_best();
    const char *want = getenv("ATTN_CPU_LEVEL");
    if (want == NULL)
        return best;
    for (int l = 0; l < ATTN_CPU_LEVELS; ++l)
        if (strcmp(want, names[l]) == 0)
            return (attn_cpu_level)l < best ? (attn_cpu_level)l : best;
    return best;
}

extern const attn_tile_kernels attni_tile_kernels_generic;
#if defined(ATTN_HAVE_X86_LEVELS)
extern const attn_tile_kernels attni_tile_kernels_avx2;
extern const attn_tile_kernels attni_tile_kernels_avx512;
#endif

const attn_tile_kernels *attni_tile_kernels_for(attn_cpu_level level)
{
#if defined(ATTN_HAVE_X86_LEVELS)
    if (level == ATTN_CPU_AVX512)
        return &attni_tile_kernels_avx512;
    if (level == ATTN_CPU_AVX2)
        return &attni_tile_kernels_avx2;
#endif
    (void)level;
    return &attni_tile_kernels_generic;
}
