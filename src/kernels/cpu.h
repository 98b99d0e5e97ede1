/*
 * CPU levels: the instruction sets the vectorised kernels are built for,
 * and the choice of one per call. Every kernel with per-level builds takes
 * its level from here, so one environment variable forces all of them.
 */
#ifndef ATTN_SRC_CPU_H
#define ATTN_SRC_CPU_H

typedef enum attn_cpu_level {
    ATTN_CPU_GENERIC = 0,   /* any CPU of the target (NEON on aarch64) */
    ATTN_CPU_AVX2 = 1,      /* x86-64-v3: AVX2 + FMA */
    ATTN_CPU_AVX512 = 2,    /* x86-64-v4: AVX-512 F/BW/CD/DQ/VL + FMA */
    ATTN_CPU_LEVELS
} attn_cpu_level;

/* The best level this build has kernels for and this CPU runs. */
attn_cpu_level attni_cpu_level_best(void);

/*
 * The level a call uses: the best one, or a lower one named by the
 * ATTN_CPU_LEVEL environment variable ("generic", "avx2", "avx512"; a
 * level above the best, or any other value, gives the best). A call reads
 * it once (attni_sdpa_plan_make).
 */
attn_cpu_level attni_cpu_level_select(void);

/* "generic", "avx2" or "avx512". */
const char *attni_cpu_level_name(attn_cpu_level level);

#endif /* ATTN_SRC_CPU_H */
