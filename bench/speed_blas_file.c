#define _GNU_SOURCE /* dladdr */
#include "speed_blas_file.h"

#include <string.h>

#include <cblas.h>

#if defined(__linux__) || defined(__APPLE__) || defined(__FreeBSD__)
#include <dlfcn.h>
#define HAVE_DLADDR 1
#endif

const char *speed_blas_file(void)
{
#ifdef HAVE_DLADDR
    /* ISO C has no function-to-object pointer conversion; POSIX guarantees
     * the representations match, so copy the bits. */
    void (*fn)(void) = (void (*)(void))cblas_sgemm;
    void *addr;
    _Static_assert(sizeof addr == sizeof fn, "function pointers fit void *");
    memcpy(&addr, &fn, sizeof addr);
    Dl_info info;
    if (dladdr(addr, &info) != 0 && info.dli_fname != NULL)
        return info.dli_fname;
#endif
    return NULL;
}
