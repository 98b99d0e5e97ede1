/* The tile kernels built for the generic level (flags in src/CMakeLists.txt). */
#include "kernels/tile_kernels.h"

#include "kernels/tile_kernels_body.h"

const attn_tile_kernels attni_tile_kernels_generic = ATTN_KERNEL_TABLE("generic");
