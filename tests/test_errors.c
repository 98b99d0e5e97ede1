/*
 * Bad input: every status of status.h is produced by some call, and a call
 * that fails leaves every buffer it was given exactly as it was
 * ("A call that returns anything but ATTN_OK has written nothing to any of
 * its outputs"; "Validates everything before writing anything").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* The highest status the header defines. */
#define LAST_STATUS ATTN_ERR_BAD_SEQLENS

/*
 * AddressSanitizer normally aborts when malloc cannot satisfy a huge
 * request; the out-of-memory test needs malloc to return NULL instead.
 * Ignored by builds without ASan.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

/* The first released descriptor ended where kv_dtype begins: a caller
 * built against that header passes this struct_size. */
#define DESC_V1_SIZE offsetof(attn_sdpa_desc, kv_dtype)

/* Every buffer is this many floats: room for the aliasing layouts below. */
#define BUF_FLOATS 4096

/*
 * A small valid problem (B 2, Hq 4, Hkv 2, Tq 5, Tk 7, d 3, dv 2) with all
 * masks, and byte snapshots of every buffer a call could write.
 */
typedef struct fixture {
    attn_sdpa_desc d;
    float *q, *k, *v, *out, *w, *lse, *bias;
    unsigned char *ws;
    size_t ws_bytes;
    int64_t *kv_lens;
    uint8_t *keep;
    unsigned char *snap[10];
} fixture;

static fixture F;

/* The buffers, in snapshot order. */
static void *fixture_buf(int i)
{
    switch (i) {
    case 0: return F.q;
    case 1: return F.k;
    case 2: return F.v;
    case 3: return F.out;
    case 4: return F.w;
    case 5: return F.lse;
    case 6: return F.bias;
    case 7: return F.ws;
    case 8: return F.kv_lens;
    default: return F.keep;
    }
}
#define NBUF 10
#define BUF_BYTES (BUF_FLOATS * sizeof(float))

static void fixture_desc(attn_sdpa_desc *d)
{
    TU_CHECK_STATUS(attn_sdpa_desc_init(d, 2, 4, 2, 5, 7, 3, 2), ATTN_OK);
    d->causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    d->kv_lens = F.kv_lens;
    d->keep_mask = F.keep;
    d->bias = F.bias;
}

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    tu_rng rng = tu_rng_make(0xe7707);
    for (int i = 0; i < NBUF; ++i) {
        unsigned char *p = malloc(BUF_BYTES);
        if (p == NULL)
            return -1;
        /* finite floats in [-1, 1) for the data buffers */
        for (size_t e = 0; e < BUF_FLOATS; ++e) {
            const float x = (float)tu_rng_uniform(&rng, -1.0, 1.0);
            memcpy(p + e * sizeof x, &x, sizeof x);
        }
        switch (i) {
        case 0: F.q = (float *)(void *)p; break;
        case 1: F.k = (float *)(void *)p; break;
        case 2: F.v = (float *)(void *)p; break;
        case 3: F.out = (float *)(void *)p; break;
        case 4: F.w = (float *)(void *)p; break;
        case 5: F.lse = (float *)(void *)p; break;
        case 6: F.bias = (float *)(void *)p; break;
        case 7: F.ws = p; break;
        case 8: F.kv_lens = (int64_t *)(void *)p; break;
        default: F.keep = p; break;
        }
        F.snap[i] = malloc(BUF_BYTES);
        if (F.snap[i] == NULL)
            return -1;
    }
    F.kv_lens[0] = 7;
    F.kv_lens[1] = 4;
    for (size_t e = 0; e < BUF_BYTES; ++e)
        F.keep[e] = (unsigned char)(e % 5 != 0);
    fixture_desc(&F.d);
    F.ws_bytes = BUF_BYTES;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NBUF; ++i) {
        free(fixture_buf(i));
        free(F.snap[i]);
    }
    memset(&F, 0, sizeof F);
    return 0;
}

static void snapshot(void)
{
    for (int i = 0; i < NBUF; ++i)
        memcpy(F.snap[i], fixture_buf(i), BUF_BYTES);
}

static void expect_unchanged(const char *what)
{
    static const char *names[NBUF] = {"q", "k", "v", "out", "weights",
                                      "lse", "bias", "workspace", "kv_lens",
                                      "keep_mask"};
    for (int i = 0; i < NBUF; ++i)
        if (memcmp(F.snap[i], fixture_buf(i), BUF_BYTES) != 0)
            fail_msg("%s: buffer %s was modified by a failing call", what,
                     names[i]);
}

#define EXPECT(call, want, what)                                          \
    do {                                                                  \
        snapshot();                                                       \
        const attn_status s_ = (call);                                    \
        if (s_ != (want))                                                 \
            fail_msg("%s: %s returned %d (%s), expected %d (%s)", (what), \
                     #call, (int)s_, attn_strerror(s_), (int)(want),      \
                     attn_strerror(want));                                \
        expect_unchanged(what);                                           \
    } while (0)

/*
 * A descriptor-level error: the size query, both forward calls and the
 * scores call all return `want` and write nothing (*bytes included).
 */
static void expect_desc_error(const attn_sdpa_desc *d, attn_status want,
                              const char *what)
{
    size_t bytes = 12345;
    EXPECT(attn_sdpa_workspace_size(d, &bytes), want, what);
    assert_int_equal(bytes, 12345);
    EXPECT(attn_sdpa_forward_ws(d, F.q, F.k, F.v, F.out, F.w, F.lse, F.ws,
                                F.ws_bytes),
           want, what);
    EXPECT(attn_sdpa_forward_ws(d, F.q, F.k, F.v, F.out, NULL, NULL, F.ws,
                                F.ws_bytes),
           want, what);
    EXPECT(attn_sdpa_forward(d, F.q, F.k, F.v, F.out, F.w, F.lse), want,
           what);
    EXPECT(attn_sdpa_scores(d, F.q, F.k, F.w), want, what);
}

/* The fixture is valid: each error test below changes exactly one thing. */
static void test_fixture_is_valid(void **state)
{
    (void)state;
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&F.d, &bytes), ATTN_OK);
    assert_true(bytes > 0 && bytes <= F.ws_bytes);
    snapshot();
    TU_CHECK_STATUS(attn_sdpa_forward_ws(&F.d, F.q, F.k, F.v, F.out, F.w,
                                         F.lse, F.ws, bytes),
                    ATTN_OK);
    /* the unchanged-check used below does notice writes */
    assert_memory_not_equal(F.snap[3], F.out, BUF_BYTES);
    assert_memory_not_equal(F.snap[4], F.w, BUF_BYTES);
    assert_memory_not_equal(F.snap[5], F.lse, BUF_BYTES);
    TU_CHECK_STATUS(attn_sdpa_forward(&F.d, F.q, F.k, F.v, F.out, F.w, F.lse),
                    ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_scores(&F.d, F.q, F.k, F.w), ATTN_OK);
}

static void test_null_pointers(void **state)
{
    (void)state;
    const attn_sdpa_desc *d = &F.d;
    size_t bytes = 7;
    EXPECT(attn_sdpa_workspace_size(NULL, &bytes), ATTN_ERR_NULL_POINTER,
           "NULL desc");
    assert_int_equal(bytes, 7);
    EXPECT(attn_sdpa_workspace_size(d, NULL), ATTN_ERR_NULL_POINTER,
           "NULL bytes");
    attn_sdpa_desc *no_desc = NULL; /* typed: the macro takes sizeof */
    EXPECT(attn_sdpa_desc_init(no_desc, 1, 1, 1, 1, 1, 1, 1),
           ATTN_ERR_NULL_POINTER, "init NULL");
    EXPECT(attn_sdpa_desc_init_sized(NULL, sizeof *d, 1, 1, 1, 1, 1, 1, 1),
           ATTN_ERR_NULL_POINTER, "init_sized NULL");

    EXPECT(attn_sdpa_forward_ws(NULL, F.q, F.k, F.v, F.out, F.w, F.lse, F.ws,
                                F.ws_bytes),
           ATTN_ERR_NULL_POINTER, "NULL desc");
    EXPECT(attn_sdpa_forward_ws(d, NULL, F.k, F.v, F.out, F.w, F.lse, F.ws,
                                F.ws_bytes),
           ATTN_ERR_NULL_POINTER, "NULL q");
    EXPECT(attn_sdpa_forward_ws(d, F.q, NULL, F.v, F.out, F.w, F.lse, F.ws,
                                F.ws_bytes),
           ATTN_ERR_NULL_POINTER, "NULL k");
    EXPECT(attn_sdpa_forward_ws(d, F.q, F.k, NULL, F.out, F.w, F.lse, F.ws,
                                F.ws_bytes),
           ATTN_ERR_NULL_POINTER, "NULL v");
    EXPECT(attn_sdpa_forward_ws(d, F.q, F.k, F.v, NULL, F.w, F.lse, F.ws,
                                F.ws_bytes),
           ATTN_ERR_NULL_POINTER, "NULL out");
    EXPECT(attn_sdpa_forward_ws(d, F.q, F.k, F.v, F.out, F.w, F.lse, NULL,
                                F.ws_bytes),
           ATTN_ERR_NULL_POINTER, "NULL workspace");

    EXPECT(attn_sdpa_forward(NULL, F.q, F.k, F.v, F.out, F.w, F.lse),
           ATTN_ERR_NULL_POINTER, "NULL desc");
    EXPECT(attn_sdpa_forward(d, NULL, F.k, F.v, F.out, F.w, F.lse),
           ATTN_ERR_NULL_POINTER, "NULL q");
    EXPECT(attn_sdpa_forward(d, F.q, NULL, F.v, F.out, F.w, F.lse),
           ATTN_ERR_NULL_POINTER, "NULL k");
    EXPECT(attn_sdpa_forward(d, F.q, F.k, NULL, F.out, F.w, F.lse),
           ATTN_ERR_NULL_POINTER, "NULL v");
    EXPECT(attn_sdpa_forward(d, F.q, F.k, F.v, NULL, F.w, F.lse),
           ATTN_ERR_NULL_POINTER, "NULL out");

    EXPECT(attn_sdpa_scores(NULL, F.q, F.k, F.w), ATTN_ERR_NULL_POINTER,
           "NULL desc");
    EXPECT(attn_sdpa_scores(d, NULL, F.k, F.w), ATTN_ERR_NULL_POINTER,
           "NULL q");
    EXPECT(attn_sdpa_scores(d, F.q, NULL, F.w), ATTN_ERR_NULL_POINTER,
           "NULL k");
    EXPECT(attn_sdpa_scores(d, F.q, F.k, NULL), ATTN_ERR_NULL_POINTER,
           "NULL scores");

    EXPECT(attn_softmax_rows(NULL, 2, 2, 2, F.lse), ATTN_ERR_NULL_POINTER,
           "softmax NULL x");
    EXPECT(attn_split_heads(NULL, F.out, 1, 2, 4, 2), ATTN_ERR_NULL_POINTER,
           "split NULL x");
    EXPECT(attn_concat_heads(F.q, NULL, 1, 2, 4, 2), ATTN_ERR_NULL_POINTER,
           "concat NULL x");
}

static void test_bad_desc(void **state)
{
    (void)state;
    attn_sdpa_desc d;

    memset(&d, 0, sizeof d); /* never initialised */
    expect_desc_error(&d, ATTN_ERR_BAD_DESC, "zeroed desc");

    fixture_desc(&d);
    d.struct_size = sizeof d + 8; /* "from a newer header" */
    expect_desc_error(&d, ATTN_ERR_BAD_DESC, "struct_size too large");
    d.struct_size = DESC_V1_SIZE - 1;
    expect_desc_error(&d, ATTN_ERR_BAD_DESC, "struct_size too small");
    d.struct_size = 0;
    expect_desc_error(&d, ATTN_ERR_BAD_DESC, "struct_size 0");

    /* init with a size below the first released descriptor: nothing
     * written to the descriptor */
    static const size_t small[] = {0, 1, sizeof(size_t), DESC_V1_SIZE - 1};
    for (size_t i = 0; i < sizeof small / sizeof small[0]; ++i) {
        attn_sdpa_desc before;
        memset(&d, 0x5A, sizeof d);
        memcpy(&before, &d, sizeof d);
        TU_CHECK_STATUS(attn_sdpa_desc_init_sized(&d, small[i], 1, 1, 1, 1, 1,
                                                  1, 1),
                        ATTN_ERR_BAD_DESC);
        assert_memory_equal(&before, &d, sizeof d);
    }
}

/* The forward's and the scores' results for d into fresh buffers (out,
 * weights and lse back to back, then the scores). */
static float *run_all(const attn_sdpa_desc *d)
{
    float *r = calloc(4 * BUF_FLOATS, sizeof *r);
    assert_non_null(r);
    TU_CHECK_STATUS(attn_sdpa_forward(d, F.q, F.k, F.v, r, r + BUF_FLOATS,
                                      r + 2 * BUF_FLOATS),
                    ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_scores(d, F.q, F.k, r + 3 * BUF_FLOATS), ATTN_OK);
    return r;
}

/*
 * A caller built against an older header passes a shorter struct_size:
 * the fields past it are not read (whatever they hold) and take their
 * defaults (fp32, not paged); fields inside it are honoured.
 */
static void test_older_caller(void **state)
{
    (void)state;
    /* init with the first release's size writes that much and no more */
    attn_sdpa_desc d, full;
    memset(&d, 0x5A, sizeof d);
    TU_CHECK_STATUS(attn_sdpa_desc_init_sized(&d, DESC_V1_SIZE, 2, 4, 2, 5,
                                              7, 3, 2),
                    ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_desc_init(&full, 2, 4, 2, 5, 7, 3, 2), ATTN_OK);
    assert_int_equal(d.struct_size, DESC_V1_SIZE);
    assert_memory_equal((char *)&d + sizeof d.struct_size,
                        (char *)&full + sizeof full.struct_size,
                        DESC_V1_SIZE - sizeof d.struct_size);
    for (size_t i = DESC_V1_SIZE; i < sizeof d; ++i)
        assert_int_equal(((unsigned char *)&d)[i], 0x5A);

    /* Appended fields that would each be an error if read: a table whose
     * every entry is a bad page, negative sizes, an unknown storage type. */
    static const int32_t bad_table[16] = {-5, -5, -5, -5, -5, -5, -5, -5,
                                          -5, -5, -5, -5, -5, -5, -5, -5};
    fixture_desc(&full);
    attn_sdpa_desc old = full;
    old.struct_size = DESC_V1_SIZE;
    old.kv_dtype = (attn_dtype)7;
    old.block_table = bad_table;
    old.max_pages = -1;
    old.page_size = -1;
    old.num_pages = -1;
    old.window_left = -5;
    old.window_right = -5;
    old.softcap = -1.0f;
    static const int32_t bad_cu[3] = {5, 1, 0};
    old.cu_seqlens_q = bad_cu; /* and no cu_seqlens_k */
    size_t want = 0, got = 1;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&full, &want), ATTN_OK);
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&old, &got), ATTN_OK);
    assert_int_equal(got, want);
    float *a = run_all(&full), *b = run_all(&old);
    assert_memory_equal(a, b, 4 * BUF_FLOATS * sizeof *a);
    free(b);

    /* A header that knew kv_dtype but not the block table: kv_dtype is
     * read, the table is not. */
    old.struct_size = offsetof(attn_sdpa_desc, block_table);
    expect_desc_error(&old, ATTN_ERR_BAD_DTYPE, "kv_dtype inside struct_size");
    old.kv_dtype = ATTN_DTYPE_F32;
    b = run_all(&old);
    assert_memory_equal(a, b, 4 * BUF_FLOATS * sizeof *a);
    free(b);

    /* A header from before the variants: the window is unbounded (-1, not
     * the zero a shorter struct leaves), the rest off. */
    old.struct_size = offsetof(attn_sdpa_desc, window_left);
    old.block_table = NULL;
    b = run_all(&old);
    assert_memory_equal(a, b, 4 * BUF_FLOATS * sizeof *a);
    free(b);
    free(a);
}

static void test_bad_dimensions(void **state)
{
    (void)state;
    static const int64_t bad[] = {0, -1, INT64_MIN};
    for (int field = 0; field < 7; ++field)
        for (size_t b = 0; b < 3; ++b) {
            attn_sdpa_desc d;
            fixture_desc(&d);
            int64_t *f[7] = {&d.batch, &d.q_heads, &d.kv_heads, &d.q_len,
                             &d.kv_len, &d.head_dim, &d.v_head_dim};
            *f[field] = bad[b];
            char what[64];
            snprintf(what, sizeof what, "dimension %d = %lld", field,
                     (long long)bad[b]);
            expect_desc_error(&d, ATTN_ERR_BAD_DIMENSION, what);

            /* the same through init: init accepts, the calls reject */
            int64_t dims[7] = {2, 4, 2, 5, 7, 3, 2};
            dims[field] = bad[b];
            TU_CHECK_STATUS(attn_sdpa_desc_init(&d, dims[0], dims[1], dims[2],
                                                dims[3], dims[4], dims[5],
                                                dims[6]),
                            ATTN_OK);
            expect_desc_error(&d, ATTN_ERR_BAD_DIMENSION, what);
        }
}

/*
 * Shapes whose byte counts do not fit size_t, or whose dimensions or row
 * strides do not fit the BLAS int: rejected before any memory is touched,
 * so the small fixture buffers can be passed.
 */
static void test_size_overflow(void **state)
{
    (void)state;
    const int64_t huge = (int64_t)1 << 40;
    attn_sdpa_desc d;

    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, huge, huge, huge, huge, huge, huge,
                                        huge),
                    ATTN_OK);
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "all dims 2^40");

    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, INT64_MAX, 1, 1, INT64_MAX, 2,
                                        INT64_MAX, 1),
                    ATTN_OK);
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "INT64_MAX dims");

    /* one tensor only: V's span (2^40 rows of 2^30) overflows */
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 1, huge, 1,
                                        (int64_t)1 << 30),
                    ATTN_OK);
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "V span");

    /* a huge batch stride */
    fixture_desc(&d);
    d.k_strides.batch = INT64_MAX / 2;
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "K batch stride");

    /* spans that fit size_t but exceed PTRDIFF_MAX bytes */
    fixture_desc(&d);
    d.q_strides.batch = (int64_t)1 << 61; /* B = 2: 2^63 bytes */
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "Q span > PTRDIFF_MAX");
    fixture_desc(&d);
    d.out_strides.batch = (int64_t)1 << 61;
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "out span > PTRDIFF_MAX");
    static const uint8_t one_keep[1] = {1};
    fixture_desc(&d);
    d.keep_mask = one_keep;
    d.keep_strides = tu_strides(INT64_MAX, 0, 0); /* B = 2 */
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "keep span > PTRDIFF_MAX");

    /* spans fit, but Tk = 2^31 does not fit the BLAS int */
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 1, (int64_t)1 << 31, 1,
                                        1),
                    ATTN_OK);
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "Tk > INT_MAX");
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 1, 1, (int64_t)1 << 31,
                                        1),
                    ATTN_OK);
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "d > INT_MAX");

    /* a row stride beyond INT_MAX (the BLAS leading dimension) */
    fixture_desc(&d);
    d.q_strides.row = (int64_t)INT_MAX + 1;
    d.q_strides.head = 5 * d.q_strides.row;
    d.q_strides.batch = 4 * d.q_strides.head;
    expect_desc_error(&d, ATTN_ERR_SIZE_OVERFLOW, "q row stride > INT_MAX");

    /*
     * Only the (B, Hq, Tq, Tk) weights / scores overflow: B * Hq * Tq = 2^57
     * rows of Tk = 64 floats. Every other tensor fits, so the size query
     * succeeds; asking for weights or scores must fail.
     */
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, (int64_t)1 << 20,
                                        (int64_t)1 << 17, 1, (int64_t)1 << 20,
                                        64, 1, 1),
                    ATTN_OK);
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&d, &bytes), ATTN_OK);
    assert_true(bytes > 0);
    EXPECT(attn_sdpa_forward_ws(&d, F.q, F.k, F.v, F.out, F.w, NULL, F.ws,
                                F.ws_bytes),
           ATTN_ERR_SIZE_OVERFLOW, "weights overflow (ws)");
    EXPECT(attn_sdpa_forward(&d, F.q, F.k, F.v, F.out, F.w, NULL),
           ATTN_ERR_SIZE_OVERFLOW, "weights overflow");
    EXPECT(attn_sdpa_scores(&d, F.q, F.k, F.w), ATTN_ERR_SIZE_OVERFLOW,
           "scores overflow");
}

static void test_head_mismatch(void **state)
{
    (void)state;
    static const int64_t heads[][2] = {{3, 2}, {2, 4}, {4, 3}, {5, 2}};
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; ++i) {
        attn_sdpa_desc d;
        fixture_desc(&d);
        d.q_heads = heads[i][0];
        d.kv_heads = heads[i][1];
        expect_desc_error(&d, ATTN_ERR_HEAD_MISMATCH, "Hq % Hkv != 0");
    }
    /* model width not a multiple of the heads */
    EXPECT(attn_split_heads(F.q, F.out, 1, 2, 6, 4), ATTN_ERR_HEAD_MISMATCH,
           "split E % H");
    EXPECT(attn_concat_heads(F.q, F.out, 2, 3, 10, 3), ATTN_ERR_HEAD_MISMATCH,
           "concat E % H");
}

static void test_bad_scale(void **state)
{
    (void)state;
    const float bad[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY,
                         -1e-30f};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        attn_sdpa_desc d;
        fixture_desc(&d);
        d.scale = bad[i];
        char what[48];
        snprintf(what, sizeof what, "scale %g", (double)bad[i]);
        expect_desc_error(&d, ATTN_ERR_BAD_SCALE, what);
    }
}

static void test_bad_kv_lens(void **state)
{
    (void)state;
    const int64_t bad[] = {-1, 8 /* Tk + 1 */, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i)
        for (int b = 0; b < 2; ++b) {
            attn_sdpa_desc d;
            fixture_desc(&d);
            const int64_t saved = F.kv_lens[b];
            F.kv_lens[b] = bad[i];
            char what[48];
            snprintf(what, sizeof what, "kv_lens[%d] = %lld", b,
                     (long long)bad[i]);
            expect_desc_error(&d, ATTN_ERR_BAD_KV_LEN, what);
            F.kv_lens[b] = saved;
        }
}

static void test_workspace_too_small(void **state)
{
    (void)state;
    /* The least a workspace may have is one thread's share: the size
     * queried with num_threads = 1, whatever the call asks for. */
    size_t bytes = 0;
    attn_sdpa_desc d = F.d;
    d.num_threads = 1;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&d, &bytes), ATTN_OK);
    EXPECT(attn_sdpa_forward_ws(&d, F.q, F.k, F.v, F.out, F.w, F.lse, F.ws,
                                bytes - 1),
           ATTN_ERR_WORKSPACE_TOO_SMALL, "bytes - 1");
    d.num_threads = 4;
    EXPECT(attn_sdpa_forward_ws(&d, F.q, F.k, F.v, F.out, F.w, F.lse, F.ws,
                                bytes - 1),
           ATTN_ERR_WORKSPACE_TOO_SMALL, "bytes - 1, 4 threads asked for");
    EXPECT(attn_sdpa_forward_ws(&F.d, F.q, F.k, F.v, F.out, NULL, NULL, F.ws,
                                1),
           ATTN_ERR_WORKSPACE_TOO_SMALL, "1 byte");
    EXPECT(attn_sdpa_forward_ws(&F.d, F.q, F.k, F.v, F.out, F.w, F.lse, F.ws,
                                0),
           ATTN_ERR_WORKSPACE_TOO_SMALL, "0 bytes");
    EXPECT(attn_sdpa_forward_ws(&F.d, F.q, F.k, F.v, F.out, F.w, F.lse, NULL,
                                bytes),
           ATTN_ERR_NULL_POINTER, "NULL workspace");
    /* exactly enough is enough, at an odd address */
    TU_CHECK_STATUS(attn_sdpa_forward_ws(&F.d, F.q, F.k, F.v, F.out, F.w,
                                         F.lse, F.ws + 3, bytes),
                    ATTN_OK);
}

static void test_aliasing(void **state)
{
    (void)state;
    const attn_sdpa_desc *d = &F.d;
    float *const q = F.q, *const k = F.k, *const v = F.v;
    float *const out = F.out, *const w = F.w, *const lse = F.lse;
    unsigned char *const ws = F.ws;
    const size_t wsb = F.ws_bytes / 2;
    /* spans in floats: q 120, k 84, v 56, out 80, weights 280, lse 40 */
    const attn_status A = ATTN_ERR_ALIASING;

    EXPECT(attn_sdpa_forward_ws(d, q, k, v, (float *)q, w, lse, ws, wsb), A,
           "out == q");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, (float *)k, w, lse, ws, wsb), A,
           "out == k");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, (float *)v, w, lse, ws, wsb), A,
           "out == v");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, (float *)q + 119, w, lse, ws,
                                wsb),
           A, "out overlaps the last element of q");
    EXPECT(attn_sdpa_forward_ws(d, q + 1000, k, v, (float *)q + 921, w, lse,
                                ws, wsb),
           A, "out overlaps the first element of q");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, out, lse, ws, wsb), A,
           "weights == out");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, out + 79, lse, ws, wsb), A,
           "weights overlaps out");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, (float *)v + 10, lse, ws,
                                wsb),
           A, "weights overlaps v");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, w + 279, ws, wsb), A,
           "lse overlaps weights");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, out + 40, ws, wsb), A,
           "lse overlaps out");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, NULL, (float *)k, ws, wsb),
           A, "lse == k");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, lse,
                                (unsigned char *)out + 317, wsb),
           A, "workspace overlaps out");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, lse, (unsigned char *)w,
                                wsb),
           A, "workspace == weights");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, lse, (unsigned char *)q,
                                wsb),
           A, "workspace overlaps q");
    EXPECT(attn_sdpa_forward(d, q, k, v, (float *)v, w, lse), A,
           "forward: out == v");
    EXPECT(attn_sdpa_forward(d, q, k, v, out, (float *)q, lse), A,
           "forward: weights == q");

    /* outputs over the masks and kv_lens */
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, F.bias, w, lse, ws, wsb), A,
           "out == bias");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, (float *)(void *)F.keep, w, lse,
                                ws, wsb),
           A, "out == keep_mask");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, lse,
                                (unsigned char *)F.kv_lens, wsb),
           A, "workspace == kv_lens");
    EXPECT(attn_sdpa_forward_ws(d, q, k, v, out, w, (float *)(void *)F.kv_lens,
                                ws, wsb),
           A, "lse == kv_lens");

    /* scores against its inputs */
    EXPECT(attn_sdpa_scores(d, q, k, (float *)q + 100), A, "scores over q");
    EXPECT(attn_sdpa_scores(d, q, k, (float *)k), A, "scores == k");
    EXPECT(attn_sdpa_scores(d, q, k, F.bias), A, "scores == bias");
    EXPECT(attn_sdpa_scores(d, q, k, (float *)(void *)F.kv_lens), A,
           "scores == kv_lens");

    /* softmax: lse inside x; heads: overlapping x and y */
    EXPECT(attn_softmax_rows(out, 4, 4, 4, out + 15), A, "softmax lse in x");
    EXPECT(attn_split_heads(q, (float *)q + 5, 1, 2, 4, 2), A,
           "split overlap");
    EXPECT(attn_concat_heads(q, (float *)q, 1, 2, 4, 2), A, "concat in place");

    /* adjacent but disjoint is not aliasing */
    TU_CHECK_STATUS(attn_sdpa_forward_ws(d, q, k, v, (float *)q + 120, w,
                                         (float *)w + 280, ws, wsb),
                    ATTN_OK);
}

static void test_bad_strides(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    const attn_status S = ATTN_ERR_BAD_STRIDE;

    /* each stride of each tensor negative */
    for (int t = 0; t < 6; ++t)
        for (int f = 0; f < 3; ++f) {
            fixture_desc(&d);
            attn_strides *s[6] = {&d.q_strides, &d.k_strides,
                                  &d.v_strides, &d.out_strides,
                                  &d.keep_strides, &d.bias_strides};
            int64_t *field[3] = {&s[t]->batch, &s[t]->head, &s[t]->row};
            *field[f] = -1;
            char what[48];
            snprintf(what, sizeof what, "tensor %d stride %d = -1", t, f);
            expect_desc_error(&d, S, what);
        }

    /* row stride smaller than the row with more than one row */
    fixture_desc(&d);
    d.q_strides.row = 2; /* d = 3, Tq = 5 */
    expect_desc_error(&d, S, "q row stride < d");
    fixture_desc(&d);
    d.k_strides.row = 0;
    expect_desc_error(&d, S, "k row stride 0");
    fixture_desc(&d);
    d.v_strides.row = 1; /* dv = 2 */
    expect_desc_error(&d, S, "v row stride < dv");
    fixture_desc(&d);
    d.out_strides.row = 1;
    expect_desc_error(&d, S, "out row stride < dv");

    /* out layouts that write an element twice */
    fixture_desc(&d);
    d.out_strides.head = 0; /* Hq = 4 heads onto one */
    expect_desc_error(&d, S, "out head stride 0");
    fixture_desc(&d);
    d.out_strides.batch = 0;
    expect_desc_error(&d, S, "out batch stride 0");
    fixture_desc(&d);
    d.out_strides.batch = d.out_strides.head; /* batch 1 = head 1 */
    expect_desc_error(&d, S, "out batch stride == head stride");
    fixture_desc(&d);
    d.out_strides.head = 2 * d.out_strides.row; /* head 1 = row 2 */
    expect_desc_error(&d, S, "out heads overlap rows");

    /* inputs may broadcast with zero strides: not an error */
    fixture_desc(&d);
    d.q_strides.head = 0;
    d.k_strides.batch = 0;
    d.keep_strides = tu_strides(0, 0, 0);
    d.bias_strides = tu_strides(0, 0, 0);
    TU_CHECK_STATUS(attn_sdpa_forward(&d, F.q, F.k, F.v, F.out, F.w, F.lse),
                    ATTN_OK);
}

static void test_bad_causal(void **state)
{
    (void)state;
    const int bad[] = {7, 3, -1, INT_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
        attn_sdpa_desc d;
        fixture_desc(&d);
        d.causal = (attn_causal)bad[i];
        char what[32];
        snprintf(what, sizeof what, "causal = %d", bad[i]);
        expect_desc_error(&d, ATTN_ERR_BAD_CAUSAL, what);
    }
}

static void test_strerror(void **state)
{
    (void)state;
    const char *msg[LAST_STATUS + 1];
    for (int s = 0; s <= LAST_STATUS; ++s) {
        msg[s] = attn_strerror((attn_status)s);
        assert_non_null(msg[s]);
        assert_true(msg[s][0] != '\0');
        assert_string_not_equal(msg[s], "unknown status");
        for (int t = 0; t < s; ++t)
            if (strcmp(msg[s], msg[t]) == 0)
                fail_msg("statuses %d and %d share the message \"%s\"", t, s,
                         msg[s]);
    }
    assert_string_equal(attn_strerror((attn_status)999), "unknown status");
    assert_string_equal(attn_strerror((attn_status)(LAST_STATUS + 1)),
                        "unknown status");
    assert_string_equal(attn_strerror((attn_status)-1), "unknown status");
    /* static storage: the same pointer every time */
    assert_ptr_equal(attn_strerror(ATTN_ERR_ALIASING),
                     attn_strerror(ATTN_ERR_ALIASING));
    /* the numbering is ABI */
    assert_int_equal(ATTN_OK, 0);
    assert_int_equal(ATTN_ERR_NULL_POINTER, 1);
    assert_int_equal(ATTN_ERR_BAD_DIMENSION, 2);
    assert_int_equal(ATTN_ERR_SIZE_OVERFLOW, 3);
    assert_int_equal(ATTN_ERR_HEAD_MISMATCH, 4);
    assert_int_equal(ATTN_ERR_BAD_SCALE, 5);
    assert_int_equal(ATTN_ERR_BAD_KV_LEN, 6);
    assert_int_equal(ATTN_ERR_WORKSPACE_TOO_SMALL, 7);
    assert_int_equal(ATTN_ERR_ALIASING, 8);
    assert_int_equal(ATTN_ERR_BAD_STRIDE, 9);
    assert_int_equal(ATTN_ERR_BAD_CAUSAL, 10);
    assert_int_equal(ATTN_ERR_BAD_DESC, 11);
    assert_int_equal(ATTN_ERR_OUT_OF_MEMORY, 12);
    assert_int_equal(ATTN_ERR_IO, 13);
    assert_int_equal(ATTN_ERR_BAD_FILE, 14);
    assert_int_equal(ATTN_ERR_PARAM_MISMATCH, 15);
    assert_int_equal(ATTN_ERR_BAD_ARGUMENT, 16);
    assert_int_equal(ATTN_ERR_BAD_DTYPE, 17);
    assert_int_equal(ATTN_ERR_BAD_PAGE, 18);
    assert_int_equal(ATTN_ERR_BLOCK_TABLE_SHORT, 19);
    assert_int_equal(ATTN_ERR_MISALIGNED, 20);
    assert_int_equal(ATTN_ERR_BAD_ROTARY_DIM, 21);
    assert_int_equal(ATTN_ERR_BAD_WINDOW, 22);
    assert_int_equal(ATTN_ERR_BAD_ALIBI, 23);
    assert_int_equal(ATTN_ERR_BAD_SOFTCAP, 24);
    assert_int_equal(ATTN_ERR_BAD_SINK, 25);
    assert_int_equal(ATTN_ERR_BAD_SEQLENS, 26);
}

/*
 * ATTN_ERR_OUT_OF_MEMORY, honestly: a valid shape whose workspace cannot
 * be allocated while every tensor stays tiny. The materialised path's
 * workspace grows with min(Tq, 64) * Tk floats; Tk = INT_MAX (the BLAS limit) with d = dv = 1
 * makes it ~512 GiB, while K and V only need their row stride >= d = 1 and
 * are never read because kv_lens = {0}. So the tensors are a few hundred
 * bytes, the memory layout passes the aliasing checks (K's 8 GiB span lies
 * above every output), and if the allocation did succeed the call would
 * touch nothing but out and lse.
 *
 * Whether malloc fails is up to the system (overcommit, address space
 * limits): the test first asks malloc itself for the same number of bytes
 * and is skipped, not passed, if that succeeds.
 */
static void test_out_of_memory(void **state)
{
    (void)state;
    attn_sdpa_desc d;
    TU_CHECK_STATUS(attn_sdpa_desc_init(&d, 1, 1, 1, 64, INT_MAX, 1, 1),
                    ATTN_OK);
    static int64_t zero_len[1] = {0};
    d.kv_lens = zero_len;
    d.algo = ATTN_ALGO_MATERIALIZED;
    size_t bytes = 0;
    TU_CHECK_STATUS(attn_sdpa_workspace_size(&d, &bytes), ATTN_OK);
    if (bytes < (size_t)1 << 36) {
        print_message("workspace for this shape is only %zu bytes; cannot"
                      " provoke ATTN_ERR_OUT_OF_MEMORY this way\n", bytes);
        skip();
    }
    void *probe = malloc(bytes);
    if (probe != NULL) {
        free(probe);
        print_message("malloc(%zu) succeeded on this system (overcommit);"
                      " cannot provoke ATTN_ERR_OUT_OF_MEMORY\n", bytes);
        skip();
    }

    /* Everything in one fixture buffer, K and V last: their 8 GiB span runs
     * past its end (never read), above every output. */
    float *lse = F.out, *out = F.out + 64, *q = F.out + 128;
    unsigned char *ws = (unsigned char *)(F.out + 192); /* 256 bytes */
    const float *kv = F.out + 256;
    EXPECT(attn_sdpa_forward(&d, q, kv, kv, out, NULL, lse),
           ATTN_ERR_OUT_OF_MEMORY, "512 GiB workspace");
    /* the caller-workspace variant asks for that much, too */
    EXPECT(attn_sdpa_forward_ws(&d, q, kv, kv, out, NULL, lse, ws, 256),
           ATTN_ERR_WORKSPACE_TOO_SMALL, "512 GiB workspace, small buffer");
}

/* One trigger per status in one place, so that coverage is visible. */
#define TRIGGER(call, status)                                             \
    do {                                                                  \
        TU_CHECK_STATUS(call, status);                                    \
        seen[status] = 1;                                                 \
    } while (0)

static void test_every_status_has_a_trigger(void **state)
{
    (void)state;
    int seen[LAST_STATUS + 1] = {0};
    attn_sdpa_desc d;
    size_t bytes;

    fixture_desc(&d);
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_OK);
    TRIGGER(attn_sdpa_workspace_size(NULL, &bytes), ATTN_ERR_NULL_POINTER);
    d.batch = 0;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_DIMENSION);
    fixture_desc(&d);
    d.kv_len = (int64_t)1 << 62;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_SIZE_OVERFLOW);
    fixture_desc(&d);
    d.kv_heads = 3;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_HEAD_MISMATCH);
    fixture_desc(&d);
    d.scale = NAN;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_SCALE);
    fixture_desc(&d);
    F.kv_lens[1] = -1;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_KV_LEN);
    F.kv_lens[1] = 4;
    TRIGGER(attn_sdpa_forward_ws(&d, F.q, F.k, F.v, F.out, NULL, NULL, F.ws,
                                 1),
            ATTN_ERR_WORKSPACE_TOO_SMALL);
    TRIGGER(attn_sdpa_forward_ws(&d, F.q, F.k, F.v, F.q, NULL, NULL, F.ws,
                                 F.ws_bytes),
            ATTN_ERR_ALIASING);
    d.out_strides.row = -1;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_STRIDE);
    fixture_desc(&d);
    d.causal = (attn_causal)7;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_CAUSAL);
    memset(&d, 0, sizeof d);
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_DESC);
    TRIGGER(attn_split_heads(F.q, F.out, 1, 1, 3, 2), ATTN_ERR_HEAD_MISMATCH);
    /* ATTN_ERR_OUT_OF_MEMORY needs a failing malloc: test_out_of_memory
     * here, and test_alloc_fail for every allocating call. */
    seen[ATTN_ERR_OUT_OF_MEMORY] = 1;

    float w = 0.0f;
    attn_param p = {"w", &w, NULL, 1, {1, 0, 0, 0}};
    TRIGGER(attn_params_load(&p, 1, "/nonexistent-dir/w.safetensors"),
            ATTN_ERR_IO);
    static const unsigned char zeros[8] = {0};
    TRIGGER(attn_params_load_buffer(&p, 1, zeros, sizeof zeros),
            ATTN_ERR_BAD_FILE);
    /* a well-formed file holding "x" while the list asks for "w" */
    static const char json[] =
        "{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char file[8 + sizeof json - 1 + 4] = {0};
    file[0] = (unsigned char)(sizeof json - 1);
    memcpy(file + 8, json, sizeof json - 1);
    TRIGGER(attn_params_load_buffer(&p, 1, file, sizeof file),
            ATTN_ERR_PARAM_MISMATCH);
    attn_optim *opt = NULL;
    TRIGGER(attn_sgd_create(&p, 1, -1.0f, 0.0f, 0.0f, 0.0f, 0, &opt),
            ATTN_ERR_BAD_ARGUMENT);
    assert_null(opt);
    assert_true(w == 0.0f);

    fixture_desc(&d);
    d.kv_dtype = (attn_dtype)7;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_DTYPE);
    /* A paged fixture: pools of 4 pages of 4 rows; batch 0 (7 keys) uses
     * row 0 of the table, batch 1 (4 keys) one entry of row 1. */
    int32_t table[4] = {0, 1, 2, -1};
    fixture_desc(&d);
    d.block_table = table;
    d.max_pages = 2;
    d.page_size = 4;
    d.num_pages = 4;
    d.k_strides = tu_contig(2, 4, 3);  /* (4, Hkv, 4, d) */
    d.v_strides = tu_contig(2, 4, 2);  /* (4, Hkv, 4, dv) */
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_OK);
    table[2] = 4;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_PAGE);
    table[2] = 2;
    d.max_pages = 1;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BLOCK_TABLE_SHORT);
    fixture_desc(&d);
    TRIGGER(attn_sdpa_forward(&d, F.q, (const char *)F.k + 2, F.v, F.out,
                              NULL, NULL),
            ATTN_ERR_MISALIGNED);
    {
        attn_rope rope = {ATTN_ROPE_NEOX, 3, 10000.0, NULL, NULL, 0};
        float x[8] = {0};
        TRIGGER(attn_rope_forward(&rope, x, 1, 1, 2, 4, tu_contig(1, 2, 4), NULL),
                ATTN_ERR_BAD_ROTARY_DIM);
    }
    fixture_desc(&d);
    d.window_left = -2;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_WINDOW);
    {
        const float slopes[4] = {0.5f, 0.25f, -0.25f, 0.125f};
        fixture_desc(&d);
        d.alibi_slopes = slopes;
        TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_ALIBI);
    }
    fixture_desc(&d);
    d.softcap = -1.0f;
    TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_SOFTCAP);
    {
        const float sinks[4] = {0.0f, 1.0f, NAN, 2.0f};
        fixture_desc(&d);
        d.sinks = sinks;
        TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_SINK);
    }
    {
        const int32_t cu[3] = {0, 3, 2}; /* decreasing */
        fixture_desc(&d);
        d.kv_lens = NULL;
        d.keep_mask = NULL;
        d.bias = NULL;
        d.cu_seqlens_q = cu;
        d.cu_seqlens_k = cu;
        TRIGGER(attn_sdpa_workspace_size(&d, &bytes), ATTN_ERR_BAD_SEQLENS);
    }
    for (int i = 0; i < (int)(sizeof seen / sizeof seen[0]); ++i)
        if (!seen[i])
            fail_msg("status %d (%s) not triggered", i,
                     attn_strerror((attn_status)i));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_is_valid),
        cmocka_unit_test(test_null_pointers),
        cmocka_unit_test(test_bad_desc),
        cmocka_unit_test(test_older_caller),
        cmocka_unit_test(test_bad_dimensions),
        cmocka_unit_test(test_size_overflow),
        cmocka_unit_test(test_head_mismatch),
        cmocka_unit_test(test_bad_scale),
        cmocka_unit_test(test_bad_kv_lens),
        cmocka_unit_test(test_workspace_too_small),
        cmocka_unit_test(test_aliasing),
        cmocka_unit_test(test_bad_strides),
        cmocka_unit_test(test_bad_causal),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_every_status_has_a_trigger),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
