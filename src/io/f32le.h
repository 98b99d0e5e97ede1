/*
 * float32 <-> little-endian bytes, as safetensors stores them.
 *
 * Written with shifts rather than a byte-order test: the shifts give the
 * same result on any host, so the one path the tests run on a
 * little-endian machine is also the path a big-endian one runs (compilers
 * turn it into plain loads and stores where the orders agree). The one
 * assumption is that float and uint32_t share a byte order, true of every
 * IEEE 754 platform C11 targets in practice.
 */
#ifndef ATTN_SRC_F32LE_H
#define ATTN_SRC_F32LE_H

#include <stddef.h>

/* dst[i] = the float whose IEEE bits are src[4i..4i+3], little-endian.
 * src needs no alignment. */
void attni_f32_from_le(float *dst,                /* (n) */
                      const unsigned char *src,  /* (4n) */
                      size_t n);

/* The inverse: src[i] as 4 little-endian bytes, bit for bit (NaN payloads
 * and signed zeros included). */
void attni_f32_to_le(unsigned char *dst,          /* (4n) */
                    const float *src,            /* (n) */
                    size_t n);

#endif /* ATTN_SRC_F32LE_H */
