#include "io/f32le.h"

#include <stdint.h>
#include <string.h>

_Static_assert(sizeof(float) == sizeof(uint32_t), "float must be 32 bits");

/* memcpy moves the bits between float and uint32_t without breaking
 * strict aliasing, and never needs the bytes to be aligned. */

void attni_f32_from_le(float *dst, const unsigned char *src, size_t n)
{
    for (size_t i = 0; i < n; ++i, src += 4) {
        uint32_t u = (uint32_t)src[0] | (uint32_t)src[1] << 8 |
                     (uint32_t)src[2] << 16 | (uint32_t)src[3] << 24;
        memcpy(&dst[i], &u, sizeof u);
    }
}

void attni_f32_to_le(unsigned char *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; ++i, dst += 4) {
        uint32_t u;
        memcpy(&u, &src[i], sizeof u);
        dst[0] = (unsigned char)(u & 0xFF);
        dst[1] = (unsigned char)(u >> 8 & 0xFF);
        dst[2] = (unsigned char)(u >> 16 & 0xFF);
        dst[3] = (unsigned char)(u >> 24 & 0xFF);
    }
}
