/*
 * libFuzzer harness for scaled dot-product attention (sdpa.h,
 * sdpa_backward.h): every input decodes to a valid case (sdpa_case.h),
 * run on the fused and the materialised path and checked against each
 * other and the double reference, then one invalid variation of it.
 */
#include <stddef.h>
#include <stdint.h>

#include "sdpa_case.h"
#include "sdpa_checks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sdpa_case c;
    sdpa_case_decode(&c, data, size);
    sdpa_fwd fwd[2];
    sdpa_check_forward(&c, fwd);
    if (c.flags & FLAG_BACKWARD)
        sdpa_check_backward(&c, fwd);
    sdpa_fwd_free(&fwd[0]);
    sdpa_fwd_free(&fwd[1]);
    sdpa_check_probe(&c);
    sdpa_case_free(&c);
    return 0;
}
