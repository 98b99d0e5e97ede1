/*
 * Which BLAS attention-bench-speed and the library run on, and the bench's
 * control of its thread count. OpenBLAS is recognised through weak
 * references to its extensions, so any other CBLAS links and runs too
 * (reported as such, its threads left alone).
 */
#define _GNU_SOURCE /* dladdr, getline, strncasecmp */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <attention/attention.h>
#include <cblas.h>

#include "speed.h"

/* Declared here rather than taken from cblas.h, whose declarations (if
 * any) belong to whichever CBLAS is installed; NULL for another BLAS. */
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

/* Only the bench sets the (process-wide) count, around its roof
 * measurements; the library never touches BLAS settings. */
int speed_blas_set_threads(int n)
{
    if (n <= 0 || !openblas_set_num_threads || !openblas_get_num_threads)
        return -1;
    const int previous = openblas_get_num_threads();
    /* Always set: with the OpenMP build the count lives in the calling
     * thread's OpenMP setting, which the getter does not report. */
    openblas_set_num_threads(n);
    return previous;
}

/* OpenBLAS core types whose sgemm kernels use AVX-512. */
int speed_blas_avx512(void)
{
    static const char *const cores[] = {"SkylakeX", "Cooperlake",
                                        "SapphireRapids"};
    const char *name = openblas_get_corename ? openblas_get_corename() : NULL;
    for (size_t i = 0; name && i < sizeof cores / sizeof cores[0]; ++i)
        if (strncasecmp(name, cores[i], strlen(cores[i])) == 0)
            return 1;
    return 0;
}

/* The CPU's model name, and whether it has avx512f (/proc/cpuinfo). */
static int cpu_info(char *model, size_t n)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char *line = NULL;
    size_t cap = 0;
    int avx512 = 0;
    snprintf(model, n, "(model unknown)");
    while (f && getline(&line, &cap, f) > 0) {
        const char *colon = strchr(line, ':');
        if (colon && strncmp(line, "model name", 10) == 0)
            snprintf(model, n, "%.*s", (int)strcspn(colon + 2, "\n"), colon + 2);
        if (colon && strncmp(line, "flags", 5) == 0) { /* same on all cores */
            avx512 = strstr(line, " avx512f ") || strstr(line, " avx512f\n");
            break;
        }
    }
    free(line);
    if (f)
        fclose(f);
    return avx512;
}

/* The shared object that provides cblas_sgemm: Debian's alternatives and
 * run paths can swap it without a rebuild. */
static const char *blas_file(void)
{
    /* ISO C has no function-to-object pointer conversion; POSIX guarantees
     * the representations match, so copy the bits. */
    void (*fn)(void) = (void (*)(void))cblas_sgemm;
    void *addr;
    _Static_assert(sizeof addr == sizeof fn, "function pointers fit void *");
    memcpy(&addr, &fn, sizeof addr);
    Dl_info info;
    return dladdr(addr, &info) && info.dli_fname ? info.dli_fname
                                                 : "(unknown: linked statically?)";
}

void speed_blas_banner(FILE *f, int lib_threads)
{
    static const char *const parallel[] = {
        "0, sequential build", "1, pthreads build", "2, OpenMP build"};
    static const char *const env[] = {"ATTN_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                      "OPENBLAS_CORETYPE", "OMP_NUM_THREADS"};
    char model[128];
    const int avx512 = cpu_info(model, sizeof model);
    const char *core = openblas_get_corename ? openblas_get_corename() : NULL;
    const int par = openblas_get_parallel ? openblas_get_parallel() : -1;
    const int threads = openblas_get_num_threads ? openblas_get_num_threads() : -1;
    fprintf(f, "  library   libattention %s\n"
               "  CPU       %s, %ld online cores, AVX-512 %s\n"
               "  BLAS file %s\n",
            attn_version_string(), model, sysconf(_SC_NPROCESSORS_ONLN),
            avx512 ? "yes" : "no (or unknown)", blas_file());
    if (openblas_get_config)
        fprintf(f, "  BLAS      %s\n"
                   "  core      %s (openblas_get_corename)\n"
                   "  parallel  %s (openblas_get_parallel)\n"
                   "  threads   BLAS %d (openblas_get_num_threads). "
                   "Process-wide: the bench changes it\n"
                   "            only around its roof measurements and restores "
                   "it before every\n"
                   "            library call; the library itself never does.\n",
                openblas_get_config(), core ? core : "?",
                par >= 0 && par <= 2 ? parallel[par] : "unknown", threads);
    else
        fprintf(f, "  BLAS      a CBLAS without OpenBLAS's extensions: build, "
                   "core and thread\n"
                   "            count unknown, its threads not set by the "
                   "bench\n"
                   "  threads   BLAS as configured\n");
    fprintf(f, "            library N = %d (attn_sdpa_desc.num_threads; the "
               "1-thread columns use 1)\n  environment\n", lib_threads);
    for (int i = 0; i < 4; ++i)
        fprintf(f, "            %-21s %s\n", env[i],
                getenv(env[i]) ? getenv(env[i]) : "(unset)");
    if (par == 1 && threads > 1)
        fprintf(f, "  warning: pthread OpenBLAS with %d threads would split a "
                   "large tile product over\n"
                   "           its own threads (and serialise concurrent "
                   "threaded calls), so the\n"
                   "           library's fused path uses smaller tiles (64 "
                   "query rows, at most 2^18\n"
                   "           multiply-adds per product) that stay on the "
                   "calling thread.\n"
                   "           OPENBLAS_NUM_THREADS=1, or the OpenMP build "
                   "(libopenblas-openmp-dev,\n"
                   "           which a GCC build links), gives it the larger "
                   "256 x 512 tiles.\n",
                threads);
    if (core && !speed_blas_avx512() && avx512)
        fprintf(f, "  warning: this CPU has AVX-512 (avx512f) but OpenBLAS runs "
                   "its '%s' kernels\n"
                   "           (%s). OPENBLAS_CORETYPE=SkylakeX in the "
                   "environment\n"
                   "           before the process starts selects the AVX-512 "
                   "kernels; every number\n"
                   "           below, roof included, is for '%s'.\n",
                core, getenv("OPENBLAS_CORETYPE")
                          ? "OPENBLAS_CORETYPE is set"
                          : "an OpenBLAS older than the CPU falls back to them",
                core);
}
