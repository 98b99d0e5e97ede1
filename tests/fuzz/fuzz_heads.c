/*
 * libFuzzer harness for attn_split_heads / attn_concat_heads (heads.h):
 * split matches its definition element by element, concat undoes it bit
 * for bit, every element is written, and bad arguments give their status
 * without touching the destination.
 *
 * Bytes: 0 B-1, 1 T-1, 2 heads-1, 3 dh-1, 4 probe, 5 probe detail,
 * 6 flags (1: guard pages, 2: adjacent buffers), 7.. data seed (u64).
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <attention/heads.h>

#include "fuzz_check.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum probe { PR_NONE, PR_NULL_SRC, PR_NULL_DST, PR_BAD_DIM, PR_MISMATCH,
             PR_OVERLAP, PR_OVERFLOW, PR_COUNT };

/* Round trip of valid arguments. x, y: (n) floats each. */
static void round_trip(float *x, float *y, int64_t B, int64_t T, int64_t H,
                       int64_t dh, int guard)
{
    const int64_t E = H * dh;
    const size_t n = (size_t)(B * T * E);
    fz_poison(y, n);
    FUZZ_REQUIRE(attn_split_heads(x, y, B, T, E, H) == ATTN_OK);
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t t = 0; t < T; ++t)
                for (int64_t i = 0; i < dh; ++i)
                    FUZZ_REQUIRE(memcmp(&y[((b * H + h) * T + t) * dh + i],
                                        &x[(b * T + t) * E + h * dh + i],
                                        sizeof(float)) == 0);
    float *back = fz_alloc(n * sizeof *back, guard);
    fz_poison(back, n);
    FUZZ_REQUIRE(attn_concat_heads(y, back, B, T, E, H) == ATTN_OK);
    FUZZ_REQUIRE(memcmp(back, x, n * sizeof *x) == 0);
    fz_free(back);
}

static int untouched(const float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!fz_is_poison(x[i]))
            return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in;
    fi_init(&in, data, size);
    int64_t B = fi_range(&in, 1, 3), T = fi_range(&in, 1, 20);
    int64_t H = fi_range(&in, 1, 8), dh = fi_range(&in, 1, 9);
    const enum probe p = (enum probe)(fi_u8(&in) % PR_COUNT);
    const unsigned x = fi_u8(&in), flags = fi_u8(&in);
    fuzz_rng rng = {fi_u64(&in)};
    const int guard = flags & 1;
    const size_t n = (size_t)(B * T * H * dh);

    /* src in an arena with room on both sides, so that dst may overlap it
     * or sit right next to it. Poison around src: never read. */
    float *arena = fz_alloc(3 * n * sizeof(float), guard);
    fz_poison(arena, 3 * n);
    float *src = arena + n;
    for (size_t i = 0; i < n; ++i)
        src[i] = (float)(fr_next(&rng) % 2001) / 8.0f - 125.0f;
    float *dst = (flags & 2) ? ((x & 1) ? src + n : src - n) /* adjacent */
                             : fz_alloc(n * sizeof(float), guard);

    const int split = (x >> 1) & 1;
    int64_t E = H * dh;
    attn_status want = ATTN_OK;
    const float *s = src;
    float *d = dst;
    switch (p) {
    case PR_NULL_SRC: s = NULL; want = ATTN_ERR_NULL_POINTER; break;
    case PR_NULL_DST: d = NULL; want = ATTN_ERR_NULL_POINTER; break;
    case PR_BAD_DIM: {
        int64_t *f[4] = {&B, &T, &E, &H};
        *f[(x >> 2) % 4] = x & 0x80 ? INT64_MIN : -(int64_t)((x >> 4) % 3);
        want = ATTN_ERR_BAD_DIMENSION;
        break;
    }
    case PR_MISMATCH:
        if (H == 1)
            break; /* every width divides by one head */
        E += 1 + (int64_t)(x >> 2) % (H - 1);
        want = ATTN_ERR_HEAD_MISMATCH;
        break;
    case PR_OVERLAP:
        d = src + (int64_t)((x >> 2) % (2 * n - 1)) - (int64_t)(n - 1);
        want = ATTN_ERR_ALIASING;
        break;
    case PR_OVERFLOW:
        /* B * T * E * 4 past SIZE_MAX; H divides E. */
        B = INT64_MAX / 2;
        T = 4 + (int64_t)(x >> 2);
        want = ATTN_ERR_SIZE_OVERFLOW;
        break;
    default:
        break;
    }

    if (want == ATTN_OK) {
        round_trip(src, dst, B, T, H, dh, guard);
    } else {
        float *s_copy = malloc(3 * n * sizeof(float));
        FUZZ_REQUIRE(s_copy != NULL);
        memcpy(s_copy, arena, 3 * n * sizeof(float));
        if (d != NULL && p != PR_OVERLAP)
            fz_poison(d, n);
        const attn_status got = split ? attn_split_heads(s, d, B, T, E, H)
                                      : attn_concat_heads(s, d, B, T, E, H);
        FUZZ_REQUIRE(got == want);
        /* Nothing written: not the destination, not the arena. */
        FUZZ_REQUIRE(memcmp(s_copy, arena, 3 * n * sizeof(float)) == 0);
        if (d != NULL && p != PR_OVERLAP && !(flags & 2))
            FUZZ_REQUIRE(untouched(d, n));
        free(s_copy);
    }
    if (!(flags & 2))
        fz_free(dst);
    fz_free(arena);
    return 0;
}
