/* The tile kernels built for the avx2 level (flags in src/CMakeLists.txt). */
#include "kernels/tile_kernels.h"

#include "kernels/tile_kernels_body.h"

const attn_tile_kernels attni_tile_kernels_avx2 = ATTN_KERNEL_TABLE("avx2");
