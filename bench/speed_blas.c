#define _POSIX_C_SOURCE 200809L /* strncasecmp, getline, sysconf */
#include "speed_blas.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <attention/attention.h>

#include "speed_blas_file.h"

/* OpenBLAS's extensions, weak: NULL when the BLAS is something else.
 * Declared here rather than taken from cblas.h, whose declarations (if
 * any) belong to whichever CBLAS is installed. */
#pragma weak openblas_get_config
#pragma weak openblas_get_corename
#pragma weak openblas_get_parallel
#pragma weak openblas_get_num_threads
#pragma weak openblas_set_num_threads
char *openblas_get_config(void);
char *openblas_get_corename(void);
int openblas_get_parallel(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

void speed_blas_query(speed_blas_info *info)
{
    info->is_openblas = openblas_get_config != NULL;
    info->config = openblas_get_config ? openblas_get_config() : NULL;
    info->corename = openblas_get_corename ? openblas_get_corename() : NULL;
    info->parallel = openblas_get_parallel ? openblas_get_parallel() : -1;
    info->threads = openblas_get_num_threads ? openblas_get_num_threads() : -1;
}

int speed_blas_set_threads(int n)
{
    if (openblas_set_num_threads == NULL || openblas_get_num_threads == NULL)
        return -1;
    const int previous = openblas_get_num_threads();
    /* Always set: with the OpenMP build the count lives in the calling
     * thread's OpenMP setting, which the getter does not report. */
    openblas_set_num_threads(n);
    return previous;
}

void speed_blas_restore(int previous)
{
    if (previous > 0 && openblas_set_num_threads != NULL)
        openblas_set_num_threads(previous);
}

/* The CPU's model name from /proc/cpuinfo into buf ("" if unknown). */
static void cpu_model(char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        const char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) != 0 || colon == NULL)
            continue;
        snprintf(buf, n, "%s", colon + (colon[1] == ' ' ? 2 : 1));
        buf[strcspn(buf, "\n")] = '\0';
        break;
    }
    free(line);
    fclose(f);
}

/* 1 if /proc/cpuinfo lists the flag (Linux only; 0 elsewhere). */
static int cpu_has_flag(const char *flag)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return 0;
    char *line = NULL;
    size_t cap = 0;
    int found = 0;
    const size_t n = strlen(flag);
    while (!found && getline(&line, &cap, f) > 0) {
        if (strncmp(line, "flags", 5) != 0)
            continue;
        for (const char *p = strstr(line, flag); p; p = strstr(p + 1, flag))
            if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
                found = 1;
        break;  /* every core lists the same flags */
    }
    free(line);
    fclose(f);
    return found;
}

/* OpenBLAS core types whose sgemm kernels use AVX-512. */
int speed_blas_avx512_core(const char *name)
{
    static const char *const cores[] = {"SkylakeX", "Cooperlake",
                                        "SapphireRapids"};
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; ++i)
        if (strncasecmp(name, cores[i], strlen(cores[i])) == 0)
            return 1;
    return 0;
}

static const char *parallel_name(int p)
{
    switch (p) {
    case 0: return "0, sequential build";
    case 1: return "1, pthreads build";
    case 2: return "2, OpenMP build";
    default: return "unknown";
    }
}

static void env_line(FILE *f, const char *name)
{
    const char *v = getenv(name);
    fprintf(f, "            %-21s %s\n", name, v ? v : "(unset)");
}

void speed_blas_report(FILE *f, const speed_blas_info *info, int lib_threads)
{
    char model[128];
    cpu_model(model, sizeof model);
    const char *file = speed_blas_file();
    fprintf(f, "  library   libattention %s\n", attn_version_string());
    fprintf(f, "  CPU       %s, %ld online cores, AVX-512 %s\n",
            model[0] ? model : "(model unknown)", sysconf(_SC_NPROCESSORS_ONLN),
            cpu_has_flag("avx512f") ? "yes" : "no (or unknown)");
    fprintf(f, "  BLAS file %s\n", file ? file : "(unknown: linked statically?)");
    if (info->is_openblas) {
        fprintf(f, "  BLAS      %s\n", info->config ? info->config : "?");
        fprintf(f, "  core      %s (openblas_get_corename)\n",
                info->corename ? info->corename : "?");
        fprintf(f, "  parallel  %s (openblas_get_parallel)\n",
                parallel_name(info->parallel));
        fprintf(f, "  threads   BLAS %d (openblas_get_num_threads). Process-wide: "
                   "the bench changes it\n"
                   "            only around its roof measurements and restores "
                   "it before every\n"
                   "            library call; the library itself never does.\n",
                info->threads);
    } else {
        fprintf(f, "  BLAS      a CBLAS without OpenBLAS's extensions: build, "
                   "core and thread\n"
                   "            count unknown, its threads not set by the "
                   "bench\n");
        fprintf(f, "  threads   BLAS as configured\n");
    }
    fprintf(f, "            library N = %d (attn_sdpa_desc.num_threads; the "
               "1-thread columns use 1)\n", lib_threads);
    fprintf(f, "  environment\n");
    env_line(f, "ATTN_NUM_THREADS");
    env_line(f, "OPENBLAS_NUM_THREADS");
    env_line(f, "OPENBLAS_CORETYPE");
    env_line(f, "OMP_NUM_THREADS");

    if (info->parallel == 1 && info->threads > 1)
        fprintf(f, "  warning: pthread OpenBLAS with %d threads would split a "
                   "large tile product over\n"
                   "           its own threads (and serialise concurrent "
                   "threaded calls), so the\n"
                   "           library's fused path uses smaller tiles (64 "
                   "query rows, at most 2^18\n"
                   "           multiply-adds per product) that stay on the "
                   "calling thread.\n"
                   "           OPENBLAS_NUM_THREADS=1, or the OpenMP build "
                   "(libopenblas0-openmp),\n"
                   "           gives it the larger 256 x 512 tiles.\n",
                info->threads);
    if (info->corename && !speed_blas_avx512_core(info->corename) &&
        cpu_has_flag("avx512f"))
        fprintf(f, "  warning: this CPU has AVX-512 (avx512f) but OpenBLAS runs "
                   "its '%s' kernels\n"
                   "           (%s). OPENBLAS_CORETYPE=SkylakeX in the "
                   "environment\n"
                   "           before the process starts selects the AVX-512 "
                   "kernels; every number\n"
                   "           below, roof included, is for '%s'.\n",
                info->corename,
                getenv("OPENBLAS_CORETYPE")
                    ? "OPENBLAS_CORETYPE is set"
                    : "an OpenBLAS older than the CPU falls back to them",
                info->corename);
}
