/*
 * safetensors weight files: argument checks, a table of malformed files
 * (each loaded from memory and from disk, with the target parameters
 * checked untouched), bit-exact round trips, the writer's exact bytes, and
 * the PyTorch fixtures made by fixtures/make_mha_fixture.py.
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir, rmdir, unlink */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <attention/attention.h>

#include "safetensors_json.h"
#include "testutil.h"

#ifndef ATTN_FIXTURE_DIR
#error "ATTN_FIXTURE_DIR must name tests/fixtures"
#endif

/* ---- helpers -------------------------------------------------------------- */

/* A temporary directory for the whole group, removed at the end. */
static char tmp_dir[256];

static int make_tmp_dir(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/attn-st-XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    return mkdtemp(tmp_dir) == NULL ? -1 : 0;
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ++n;
    closedir(d);
    return n;
}

static void remove_tree_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) {
            remove_tree_files(path); /* a directory a test made */
            rmdir(path);
        }
    }
    closedir(d);
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    remove_tree_files(tmp_dir);
    return rmdir(tmp_dir);
}

/* Starts every test from an empty temporary directory. */
static int clean_tmp_dir(void **state)
{
    (void)state;
    remove_tree_files(tmp_dir);
    return 0;
}

/* tmp_dir/name; the last four results stay valid. */
static const char *tmp_path(const char *name)
{
    static char paths[4][512];
    static int next;
    char *path = paths[next++ % 4];
    snprintf(path, sizeof paths[0], "%s/%s", tmp_dir, name);
    return path;
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (size > 0)
        assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

/* The whole file in a malloc'd buffer; the file must exist. */
static unsigned char *read_file(const char *path, size_t *size)
{
    unsigned char *buf = tu_read_file(path, size);
    assert_non_null(buf);
    return buf;
}

static uint32_t bits_of(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Writes u as 4 little-endian bytes, independent of the library. */
static void put_le32(unsigned char *p, uint32_t u)
{
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(u >> (8 * i) & 0xFF);
}

/* The i-th value of the data every table file carries: distinct, exact. */
static float pattern(size_t i)
{
    return (float)i * 0.5f - 3.25f;
}

/*
 * A safetensors file in memory: the 8-byte little-endian header_len, then
 * json_len bytes of json, then data_bytes bytes of pattern() floats (a
 * partial float at the end if data_bytes is not a multiple of 4).
 */
static unsigned char *assemble(uint64_t header_len, const char *json,
                               size_t json_len, size_t data_bytes,
                               size_t *size)
{
    size_t n = 8 + json_len + data_bytes;
    unsigned char *buf = malloc(n + 4);
    assert_non_null(buf);
    for (int i = 0; i < 8; ++i)
        buf[i] = (unsigned char)(header_len >> (8 * i) & 0xFF);
    memcpy(buf + 8, json, json_len);
    for (size_t i = 0; i * 4 < data_bytes; ++i)
        put_le32(buf + 8 + json_len + 4 * i, bits_of(pattern(i)));
    *size = n;
    return buf;
}

/* ---- the two target parameters of the file table --------------------------- */

/* "a" (2, 3) and "b" (4), filled with a NaN sentinel whose bits a load
 * would have to reproduce by accident to go unnoticed. */
#define SENTINEL_BITS 0x7FC0BEEFu
#define A_NUMEL 6
#define B_NUMEL 4

typedef struct targets {
    float a[A_NUMEL];   /* (2, 3) */
    float b[B_NUMEL];   /* (4) */
    attn_param list[2];
} targets;

static void targets_init(targets *t)
{
    for (size_t i = 0; i < A_NUMEL; ++i)
        t->a[i] = float_of(SENTINEL_BITS);
    for (size_t i = 0; i < B_NUMEL; ++i)
        t->b[i] = float_of(SENTINEL_BITS);
    memset(t->list, 0, sizeof t->list);
    t->list[0].name = "a";
    t->list[0].data = t->a;
    t->list[0].ndim = 2;
    t->list[0].shape[0] = 2;
    t->list[0].shape[1] = 3;
    t->list[1].name = "b";
    t->list[1].data = t->b;
    t->list[1].ndim = 1;
    t->list[1].shape[0] = 4;
}

/* Every element still the sentinel: the call wrote nothing. */
static int targets_untouched(const targets *t)
{
    for (size_t i = 0; i < A_NUMEL; ++i)
        if (bits_of(t->a[i]) != SENTINEL_BITS)
            return 0;
    for (size_t i = 0; i < B_NUMEL; ++i)
        if (bits_of(t->b[i]) != SENTINEL_BITS)
            return 0;
    return 1;
}

/* a = pattern(0..5), b = pattern(6..9): what the valid table files hold
 * (b after a in the data section). */
static int targets_loaded(const targets *t)
{
    for (size_t i = 0; i < A_NUMEL; ++i)
        if (bits_of(t->a[i]) != bits_of(pattern(i)))
            return 0;
    for (size_t i = 0; i < B_NUMEL; ++i)
        if (bits_of(t->b[i]) != bits_of(pattern(A_NUMEL + i)))
            return 0;
    return 1;
}

/* ---- the malformed-file table (JSON fragments: safetensors_json.h) -------- */

typedef struct file_case {
    const char *what;
    const char *json;       /* the header text */
    size_t json_len;        /* 0: strlen(json); given when json holds a NUL */
    int fake_len;           /* nonzero: header_len replaces the true length */
    uint64_t header_len;
    size_t data_bytes;      /* bytes of pattern() data after the header */
    int cut;                /* nonzero: keep only the first `keep` bytes */
    size_t keep;
    attn_status want;
} file_case;

#define CASE(what, json, data, want) {what, json, 0, 0, 0, data, 0, 0, want}
#define CASE_LEN(what, json, len, data, want) \
    {what, json, 0, 1, len, data, 0, 0, want}
#define CASE_NUL(what, json, data, want) \
    {what, json, sizeof json - 1, 0, 0, data, 0, 0, want}
#define CASE_CUT(what, keep, want) {what, VALID, 0, 0, 0, 40, 1, keep, want}

#define OK ATTN_OK
#define BAD ATTN_ERR_BAD_FILE
#define MISMATCH ATTN_ERR_PARAM_MISMATCH

static const file_case file_cases[] = {
    /* Files that load: the controls, so the failures below fail for the
     * reason their name gives and not because the helper is wrong. */
    CASE("valid", VALID, 40, OK),
    CASE("padded with spaces", VALID "      ", 40, OK),
    CASE("padded with any JSON whitespace", VALID " \t\r\n", 40, OK),
    CASE("__metadata__ first", "{\"__metadata__\":{\"format\":\"pt\"}," A_OK
         "," B_OK "}", 40, OK),
    CASE("__metadata__ last, empty", "{" A_OK "," B_OK ",\"__metadata__\":{}}",
         40, OK),
    CASE("keys not in offset order", "{" B_OK "," A_OK "}", 40, OK),
    CASE("unknown field in an entry is ignored",
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24],"
         "\"x\":[1]}," B_OK "}", 40, OK),

    /* Too short for a header. */
    CASE_CUT("zero-byte file", 0, BAD),
    CASE_CUT("file of 7 bytes", 7, BAD),
    CASE_LEN("header length 0", "", 0, 0, BAD),

    /* Header length. */
    CASE_LEN("header length 2^63", VALID, UINT64_C(1) << 63, 40, BAD),
    CASE_LEN("header length 2^64 - 1", VALID, UINT64_MAX, 40, BAD),
    CASE_LEN("header length over the 100 MB cap", VALID, 100000001, 40, BAD),
    CASE_LEN("header length at the cap, past the file", VALID, 100000000, 40, BAD),
    CASE_LEN("header length one past the file", VALID,
             sizeof VALID - 1 + 40 + 1, 40, BAD),
    CASE_LEN("header length cuts the JSON", VALID, sizeof VALID - 2, 40, BAD),
    CASE_LEN("header length takes in the data", VALID, sizeof VALID - 1 + 4,
             40, BAD),

    /* Not a JSON object. */
    CASE("not JSON", "{not json}", 40, BAD),
    CASE("JSON array", "[1,2]", 40, BAD),
    CASE("JSON string", "\"a\"", 40, BAD),
    CASE("leading whitespace", " " VALID, 40, BAD),
    CASE("unterminated object", "{" A_OK "," B_OK, 40, BAD),
    CASE("trailing text after the object", VALID "x", 40, BAD),
    CASE("a second object after the first", VALID "{}", 40, BAD),
    CASE_NUL("NUL after the object", VALID "\0   ", 40, BAD),
    CASE_NUL("raw NUL inside a key",
             "{\"a\0\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
             B_OK "}", 40, BAD),
    CASE("escaped NUL in a key (would match \"a\" in C)",
         "{\"a\\u0000\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":"
         "[0,24]}," B_OK "}", 40, BAD),
    CASE("invalid UTF-8 in a key",
         "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
         B_OK "}", 40, BAD),
    CASE("lone surrogate escape in a key",
         "{\"\\ud800\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":"
         "[0,24]}," B_OK "}", 40, BAD),

    /* Duplicate keys, at every depth. */
    CASE("duplicate tensor name", "{" A_OK "," A_OK "," B_OK "}", 40, BAD),
    CASE("duplicate field in an entry",
         "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2,3],"
         "\"data_offsets\":[0,24]}," B_OK "}", 40, BAD),
    CASE("duplicate key in __metadata__",
         "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," A_OK "," B_OK "}", 40, BAD),

    /* Entries. */
    CASE("entry is an array", "{\"a\":[2,3]," B_OK "}", 40, BAD),
    CASE("entry is null", "{\"a\":null," B_OK "}", 40, BAD),
    CASE("entry is a string", "{\"a\":\"F32\"," B_OK "}", 40, BAD),
    CASE("dtype missing",
         "{\"a\":{\"shape\":[2,3],\"data_offsets\":[0,24]}," B_OK "}", 40, BAD),
    CASE("dtype a number", WITH_A("32", "[2,3]", "[0,24]"), 40, BAD),
    CASE("dtype null", WITH_A("null", "[2,3]", "[0,24]"), 40, BAD),
    CASE("shape missing",
         "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,24]}," B_OK "}", 40, BAD),
    CASE("shape a string", WITH_A("\"F32\"", "\"2,3\"", "[0,24]"), 40, BAD),
    CASE("shape an object", WITH_A("\"F32\"", "{\"0\":6}", "[0,24]"), 40, BAD),
    CASE("shape negative", WITH_A("\"F32\"", "[-2,-3]", "[0,24]"), 40, BAD),
    CASE("shape negative once", WITH_A("\"F32\"", "[-2,3]", "[0,24]"), 40, BAD),
    CASE("shape real 2.0", WITH_A("\"F32\"", "[2.0,3]", "[0,24]"), 40, BAD),
    CASE("shape real 2.5", WITH_A("\"F32\"", "[2.5,3]", "[0,24]"), 40, BAD),
    CASE("shape string element", WITH_A("\"F32\"", "[\"2\",3]", "[0,24]"), 40, BAD),
    CASE("shape null element", WITH_A("\"F32\"", "[null,3]", "[0,24]"), 40, BAD),
    CASE("shape bool element", WITH_A("\"F32\"", "[true,3]", "[0,24]"), 40, BAD),
    CASE("shape nested", WITH_A("\"F32\"", "[[2,3]]", "[0,24]"), 40, BAD),
    CASE("shape product overflows",
         WITH_A("\"F32\"", "[4294967296,4294967296,4]", "[0,24]"), 40, BAD),
    CASE("shape bytes overflow (2^62 floats)",
         WITH_A("\"F32\"", "[4611686018427387904]", "[0,24]"), 40, BAD),
    CASE("shape overflow before a zero",
         WITH_A("\"F32\"", "[4294967296,4294967296,0]", "[0,0]"), 40, BAD),
    CASE("shape entry past 64 bits",
         WITH_A("\"F32\"", "[18446744073709551616]", "[0,24]"), 40, BAD),
    CASE("data_offsets missing",
         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3]}," B_OK "}", 40, BAD),
    CASE("data_offsets a string", WITH_A("\"F32\"", "[2,3]", "\"0,24\""), 40, BAD),
    CASE("data_offsets one integer", WITH_A("\"F32\"", "[2,3]", "[24]"), 40, BAD),
    CASE("data_offsets three integers",
         WITH_A("\"F32\"", "[2,3]", "[0,24,24]"), 40, BAD),
    CASE("data_offsets empty", WITH_A("\"F32\"", "[2,3]", "[]"), 40, BAD),
    CASE("data_offsets negative begin",
         WITH_A("\"F32\"", "[2,3]", "[-24,0]"), 40, BAD),
    CASE("data_offsets real", WITH_A("\"F32\"", "[2,3]", "[0,24.0]"), 40, BAD),
    CASE("data_offsets strings",
         WITH_A("\"F32\"", "[2,3]", "[\"0\",\"24\"]"), 40, BAD),
    CASE("data_offsets null", WITH_A("\"F32\"", "[2,3]", "null"), 40, BAD),
    CASE("data_offsets begin > end", WITH_A("\"F32\"", "[2,3]", "[24,0]"), 40, BAD),
    CASE("data_offsets end past 63 bits",
         WITH_A("\"F32\"", "[2,3]", "[0,18446744073709551615]"), 40, BAD),
    CASE("data_offsets end near 2^63",
         WITH_A("\"F32\"", "[2,3]", "[0,9223372036854775807]"), 40, BAD),

    /* Sizes and the data section. */
    CASE("bytes shorter than numel * 4",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,20]") ","
         ENTRY("b", "\"F32\"", "[4]", "[20,36]") "}", 36, BAD),
    CASE("bytes longer than numel * 4",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,28]") ","
         ENTRY("b", "\"F32\"", "[4]", "[28,44]") "}", 44, BAD),
    CASE("data section shorter than the last end", VALID, 36, BAD),
    CASE("data section empty", VALID, 0, BAD),
    CASE("a tensor end far past the data",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,24]") ","
         ENTRY("b", "\"F32\"", "[1073741824]", "[24,4294967320]") "}", 40, BAD),
    CASE_CUT("file cut inside the data", 8 + sizeof VALID - 1 + 30, BAD),
    CASE_CUT("file cut inside the header", 8 + 10, BAD),
    CASE("trailing bytes after the data", VALID, 44, BAD),
    CASE("one trailing byte after the data", VALID, 41, BAD),
    CASE("data but no tensors", "{}", 40, BAD),
    CASE("overlapping tensors",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,24]") ","
         ENTRY("b", "\"F32\"", "[4]", "[16,32]") "}", 32, BAD),
    CASE("two tensors on the same bytes",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,24]") ","
         ENTRY("b", "\"F32\"", "[6]", "[0,24]") "}", 24, BAD),
    CASE("hole between tensors",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,24]") ","
         ENTRY("b", "\"F32\"", "[4]", "[28,44]") "}", 44, BAD),
    CASE("hole at the start",
         "{" ENTRY("a", "\"F32\"", "[2,3]", "[4,28]") ","
         ENTRY("b", "\"F32\"", "[4]", "[28,44]") "}", 44, BAD),

    /* Dtypes: only F32 can be read. */
    CASE("dtype F16",
         "{" ENTRY("a", "\"F16\"", "[2,3]", "[0,12]") ","
         ENTRY("b", "\"F32\"", "[4]", "[12,28]") "}", 28, BAD),
    CASE("dtype BF16",
         "{" ENTRY("a", "\"BF16\"", "[2,3]", "[0,12]") ","
         ENTRY("b", "\"F32\"", "[4]", "[12,28]") "}", 28, BAD),
    CASE("dtype F64",
         "{" ENTRY("a", "\"F64\"", "[2,3]", "[0,48]") ","
         ENTRY("b", "\"F32\"", "[4]", "[48,64]") "}", 64, BAD),
    CASE("dtype I64",
         "{" ENTRY("a", "\"I64\"", "[2,3]", "[0,48]") ","
         ENTRY("b", "\"F32\"", "[4]", "[48,64]") "}", 64, BAD),
    CASE("dtype I32 (same size as F32)", WITH_A("\"I32\"", "[2,3]", "[0,24]"),
         40, BAD),
    CASE("dtype f32 in lower case", WITH_A("\"f32\"", "[2,3]", "[0,24]"), 40, BAD),
    CASE("dtype empty", WITH_A("\"\"", "[2,3]", "[0,24]"), 40, BAD),
    CASE("dtype F32 with a space", WITH_A("\"F32 \"", "[2,3]", "[0,24]"), 40, BAD),
    CASE("dtype F16 on an extra tensor",
         "{" A_OK "," B_OK "," ENTRY("c", "\"F16\"", "[2]", "[40,44]") "}", 44, BAD),

    /* __metadata__. */
    CASE("__metadata__ a string", "{\"__metadata__\":\"pt\"," A_OK "," B_OK "}",
         40, BAD),
    CASE("__metadata__ null", "{\"__metadata__\":null," A_OK "," B_OK "}", 40, BAD),
    CASE("__metadata__ with a number",
         "{\"__metadata__\":{\"format\":1}," A_OK "," B_OK "}", 40, BAD),
    CASE("__metadata__ with an object",
         "{\"__metadata__\":{\"format\":{}}," A_OK "," B_OK "}", 40, BAD),
    CASE("invalid UTF-8 in a __metadata__ value",
         "{\"__metadata__\":{\"k\":\"\xc3\x28\"}," A_OK "," B_OK "}", 40, BAD),

    /* Well-formed files that do not fit the list. */
    CASE("missing name", "{" A_OK "}", 24, MISMATCH),
    CASE("no tensors", "{}", 0, MISMATCH),
    CASE("only __metadata__", "{\"__metadata__\":{}}", 0, MISMATCH),
    CASE("extra tensor",
         "{" A_OK "," B_OK "," ENTRY("c", "\"F32\"", "[2]", "[40,48]") "}", 48,
         MISMATCH),
    CASE("extra empty tensor",
         "{" A_OK "," B_OK "," ENTRY("c", "\"F32\"", "[0]", "[40,40]") "}", 40,
         MISMATCH),
    CASE("name differs in case",
         "{" ENTRY("A", "\"F32\"", "[2,3]", "[0,24]") "," B_OK "}", 40, MISMATCH),
    CASE("name with a trailing space",
         "{" ENTRY("a ", "\"F32\"", "[2,3]", "[0,24]") "," B_OK "}", 40, MISMATCH),
    CASE("shape transposed", WITH_A("\"F32\"", "[3,2]", "[0,24]"), 40, MISMATCH),
    CASE("shape flattened (same numel)", WITH_A("\"F32\"", "[6]", "[0,24]"), 40,
         MISMATCH),
    CASE("shape with a trailing 1", WITH_A("\"F32\"", "[2,3,1]", "[0,24]"), 40,
         MISMATCH),
    CASE("shape of rank 5", WITH_A("\"F32\"", "[1,1,1,2,3]", "[0,24]"), 40,
         MISMATCH),
    CASE("scalar shape", "{" ENTRY("a", "\"F32\"", "[]", "[0,4]") ","
         ENTRY("b", "\"F32\"", "[4]", "[4,20]") "}", 20, MISMATCH),
    CASE("shape and size both smaller",
         "{" ENTRY("a", "\"F32\"", "[2,2]", "[0,16]") ","
         ENTRY("b", "\"F32\"", "[4]", "[16,32]") "}", 32, MISMATCH),
};

/* The bytes of case c; *size set. */
static unsigned char *case_bytes(const file_case *c, size_t *size)
{
    size_t json_len = c->json_len != 0 ? c->json_len : strlen(c->json);
    uint64_t header_len = c->fake_len ? c->header_len : json_len;
    unsigned char *bytes = assemble(header_len, c->json, json_len,
                                    c->data_bytes, size);
    if (c->cut) {
        assert_true(c->keep <= *size);
        *size = c->keep;
    }
    return bytes;
}

static void check_case(const file_case *c, const char *how, attn_status got,
                       const targets *t)
{
    if (got != c->want)
        fail_msg("%s (%s): status %d (%s), want %d", c->what, how, (int)got,
                 attn_strerror(got), (int)c->want);
    if (c->want == ATTN_OK && !targets_loaded(t))
        fail_msg("%s (%s): wrong values loaded", c->what, how);
    if (c->want != ATTN_OK && !targets_untouched(t))
        fail_msg("%s (%s): a parameter was written", c->what, how);
}

static void test_file_table(void **state)
{
    (void)state;
    const char *path = tmp_path("case.safetensors");
    for (size_t i = 0; i < sizeof file_cases / sizeof file_cases[0]; ++i) {
        const file_case *c = &file_cases[i];
        size_t size;
        unsigned char *bytes = case_bytes(c, &size);
        targets t;

        targets_init(&t);
        check_case(c, "buffer", attn_params_load_buffer(t.list, 2, bytes, size),
                   &t);

        /* At an odd address: the data section needs no alignment. */
        unsigned char *odd = malloc(size + 1);
        assert_non_null(odd);
        if (size > 0)
            memcpy(odd + 1, bytes, size);
        targets_init(&t);
        check_case(c, "unaligned buffer",
                   attn_params_load_buffer(t.list, 2, odd + 1, size), &t);
        free(odd);

        write_file(path, bytes, size);
        targets_init(&t);
        check_case(c, "file", attn_params_load(t.list, 2, path), &t);
        free(bytes);
    }
}

/* Past jansson's nesting limit: refused, without exhausting the stack. */
static void test_deep_nesting(void **state)
{
    (void)state;
    const size_t depth = 100000;
    size_t json_len = 6 + 2 * depth;
    char *json = malloc(json_len + 1);
    assert_non_null(json);
    memcpy(json, "{\"a\":", 5);
    memset(json + 5, '[', depth);
    memset(json + 5 + depth, ']', depth);
    json[json_len - 1] = '}';
    size_t size;
    unsigned char *bytes = assemble(json_len, json, json_len, 0, &size);
    targets t;
    targets_init(&t);
    assert_int_equal(attn_params_load_buffer(t.list, 2, bytes, size),
                     ATTN_ERR_BAD_FILE);
    assert_true(targets_untouched(&t));
    free(bytes);
    free(json);
}

/* ---- arguments -------------------------------------------------------------- */

/* A list entry broken in one way, and the status it must give. */
typedef struct list_case {
    const char *what;
    const char *name;
    int null_data;
    int ndim;
    int64_t shape[ATTN_PARAM_MAX_DIMS];
    attn_status want;
} list_case;

static const list_case list_cases[] = {
    {"NULL name", NULL, 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"empty name", "", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"name __metadata__", "__metadata__", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"name not UTF-8", "b\xff", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"name overlong UTF-8", "\xc0\xaf", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"name overlong 3-byte UTF-8", "\xe0\x80\xaf", 0, 1, {4},
     ATTN_ERR_BAD_ARGUMENT},
    {"name past U+10FFFF", "\xf4\x90\x80\x80", 0, 1, {4},
     ATTN_ERR_BAD_ARGUMENT},
    {"name UTF-8 surrogate", "\xed\xa0\x80", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"name cut UTF-8", "b\xe2\x82", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"duplicate name", "a", 0, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"NULL data", "b", 1, 1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"ndim 0", "b", 0, 0, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"ndim 5", "b", 0, 5, {4, 1, 1, 1}, ATTN_ERR_BAD_ARGUMENT},
    {"ndim negative", "b", 0, -1, {4}, ATTN_ERR_BAD_ARGUMENT},
    {"dimension 0", "b", 0, 2, {4, 0}, ATTN_ERR_BAD_ARGUMENT},
    {"dimension negative", "b", 0, 2, {-4, 1}, ATTN_ERR_BAD_ARGUMENT},
    {"numel * 4 overflows", "b", 0, 2, {INT64_MAX, INT64_MAX},
     ATTN_ERR_SIZE_OVERFLOW},
    {"valid UTF-8 name (control)", "b\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 0,
     1, {4}, ATTN_OK},
};

/* The table targets with "b" replaced by the broken entry. */
static void targets_break(targets *t, const list_case *c)
{
    targets_init(t);
    t->list[1].name = c->name;
    t->list[1].data = c->null_data ? NULL : t->b;
    t->list[1].ndim = c->ndim;
    memcpy(t->list[1].shape, c->shape, sizeof c->shape);
}

static void test_bad_lists(void **state)
{
    (void)state;
    size_t size;
    unsigned char *valid = assemble(sizeof VALID - 1, VALID, sizeof VALID - 1,
                                    40, &size);
    char good_file[512];
    snprintf(good_file, sizeof good_file, "%s", tmp_path("valid.safetensors"));
    write_file(good_file, valid, size);
    for (size_t i = 0; i < sizeof list_cases / sizeof list_cases[0]; ++i) {
        const list_case *c = &list_cases[i];
        targets t;
        /* The valid file fits only a good list, so a bad list must be
         * refused for the list, before the file; the control case then
         * differs only by its name. */
        attn_status want_load = c->want == ATTN_OK ? ATTN_ERR_PARAM_MISMATCH
                                                   : c->want;
        targets_break(&t, c);
        attn_status s = attn_params_load_buffer(t.list, 2, valid, size);
        if (s != want_load || !targets_untouched(&t))
            fail_msg("%s: load_buffer gave %d", c->what, (int)s);

        targets_break(&t, c);
        s = attn_params_load(t.list, 2, good_file);
        if (s != want_load || !targets_untouched(&t))
            fail_msg("%s: load gave %d", c->what, (int)s);

        /* Arguments are checked before the path is even opened. */
        if (c->want != ATTN_OK) {
            targets_break(&t, c);
            s = attn_params_load(t.list, 2, tmp_path("does-not-exist"));
            if (s != c->want)
                fail_msg("%s: load of a missing file gave %d", c->what, (int)s);
        }

        const char *out = tmp_path("saved.safetensors");
        targets_break(&t, c);
        s = attn_params_save(t.list, 2, out);
        if (s != c->want)
            fail_msg("%s: save gave %d", c->what, (int)s);
        if (c->want != ATTN_OK && access(out, F_OK) == 0)
            fail_msg("%s: save left a file", c->what);
        unlink(out);
        if (count_entries(tmp_dir) != 1)
            fail_msg("%s: save left a temporary file", c->what);
    }
    free(valid);
}

static void test_null_pointers(void **state)
{
    (void)state;
    targets t;
    size_t size;
    unsigned char *valid = assemble(sizeof VALID - 1, VALID, sizeof VALID - 1,
                                    40, &size);
    targets_init(&t);
    assert_int_equal(attn_params_load_buffer(t.list, 2, NULL, size),
                     ATTN_ERR_NULL_POINTER);
    assert_int_equal(attn_params_load_buffer(NULL, 2, valid, size),
                     ATTN_ERR_NULL_POINTER);
    assert_int_equal(attn_params_load(t.list, 2, NULL), ATTN_ERR_NULL_POINTER);
    assert_int_equal(attn_params_load(NULL, 1, tmp_path("x")),
                     ATTN_ERR_NULL_POINTER);
    assert_int_equal(attn_params_save(t.list, 2, NULL), ATTN_ERR_NULL_POINTER);
    assert_int_equal(attn_params_save(NULL, 1, tmp_path("x")),
                     ATTN_ERR_NULL_POINTER);
    /* A NULL pointer wins over a broken list. */
    t.list[0].name = NULL;
    assert_int_equal(attn_params_load_buffer(t.list, 2, NULL, size),
                     ATTN_ERR_NULL_POINTER);
    assert_true(targets_untouched(&t));
    assert_int_equal(count_entries(tmp_dir), 0);
    free(valid);
}

/* Loading writes every listed parameter, so two of them must not share
 * memory, nor share it with the buffer being read. */
static void test_aliasing(void **state)
{
    (void)state;
    targets t;
    size_t size;
    unsigned char *valid = assemble(sizeof VALID - 1, VALID, sizeof VALID - 1,
                                    40, &size);
    float shared[A_NUMEL];
    for (size_t i = 0; i < A_NUMEL; ++i)
        shared[i] = float_of(SENTINEL_BITS);

    targets_init(&t);
    t.list[0].data = shared;
    t.list[1].data = shared + 2;        /* inside a's (2, 3) */
    assert_int_equal(attn_params_load_buffer(t.list, 2, valid, size),
                     ATTN_ERR_ALIASING);
    assert_int_equal(attn_params_load(t.list, 2, tmp_path("missing")),
                     ATTN_ERR_ALIASING);
    for (size_t i = 0; i < A_NUMEL; ++i)
        assert_int_equal(bits_of(shared[i]), SENTINEL_BITS);

    /* b's data inside the file buffer itself (aligned for the floats). */
    float *copy = malloc(size + sizeof(float));
    assert_non_null(copy);
    memcpy(copy, valid, size);
    targets_init(&t);
    t.list[1].data = copy + 2;
    assert_int_equal(attn_params_load_buffer(t.list, 2, copy, size),
                     ATTN_ERR_ALIASING);
    assert_memory_equal(copy, valid, size);
    assert_true(targets_untouched(&t));

    /* Adjacent, not overlapping: fine. */
    float both[A_NUMEL + B_NUMEL];
    targets_init(&t);
    t.list[0].data = both;
    t.list[1].data = both + A_NUMEL;
    assert_int_equal(attn_params_load_buffer(t.list, 2, valid, size), ATTN_OK);
    for (size_t i = 0; i < A_NUMEL + B_NUMEL; ++i)
        assert_int_equal(bits_of(both[i]), bits_of(pattern(i)));
    free(copy);
    free(valid);
}

/* ---- files ------------------------------------------------------------------ */

static void test_io_errors(void **state)
{
    (void)state;
    targets t;
    targets_init(&t);
    assert_int_equal(attn_params_load(t.list, 2, tmp_path("does-not-exist")),
                     ATTN_ERR_IO);
    assert_int_equal(attn_params_load(t.list, 2, ""), ATTN_ERR_IO);
    /* A directory opens on Linux but cannot be read. */
    assert_int_equal(attn_params_load(t.list, 2, tmp_dir), ATTN_ERR_IO);
    assert_true(targets_untouched(&t));

    for (size_t i = 0; i < A_NUMEL; ++i)
        t.a[i] = 1.0f;
    for (size_t i = 0; i < B_NUMEL; ++i)
        t.b[i] = 2.0f;
    assert_int_equal(attn_params_save(t.list, 2, tmp_path("no-dir/w.safetensors")),
                     ATTN_ERR_IO);
    assert_int_equal(attn_params_save(t.list, 2, ""), ATTN_ERR_IO);
    /* The rename onto a directory fails after the data are written: the
     * temporary must go, and the directory must stay. */
    const char *dir = tmp_path("a-directory");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(attn_params_save(t.list, 2, dir), ATTN_ERR_IO);
    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(tmp_dir), 1);
    assert_int_equal(count_entries(dir), 0);
}

/* targets with a = first, first + 1, ... and b after it. */
static void targets_fill(targets *t, float first)
{
    targets_init(t);
    for (size_t i = 0; i < A_NUMEL; ++i)
        t->a[i] = first + (float)i;
    for (size_t i = 0; i < B_NUMEL; ++i)
        t->b[i] = first + (float)(A_NUMEL + i);
}

/* path loads (as a file) and holds what targets_fill(first) saved. */
static void expect_saved(const char *path, float first)
{
    targets want, got;
    targets_fill(&want, first);
    targets_init(&got);
    assert_int_equal(attn_params_load(got.list, 2, path), ATTN_OK);
    assert_memory_equal(got.a, want.a, sizeof got.a);
    assert_memory_equal(got.b, want.b, sizeof got.b);
}

static void save_values(const char *path, float first)
{
    targets t;
    targets_fill(&t, first);
    assert_int_equal(attn_params_save(t.list, 2, path), ATTN_OK);
}

/*
 * Leftovers of interrupted saves never block a later one: the old scheme
 * tried "<path>.0.tmp" .. "<path>.99.tmp" and gave ATTN_ERR_IO once all
 * existed. Neither those nor leftovers of the current scheme (mkstemp
 * names) stop a save, and a save leaves them alone.
 */
static void test_save_stale_temporaries(void **state)
{
    (void)state;
    const char *path = tmp_path("w.safetensors");
    enum { OLD_STYLE = 150, NEW_STYLE = 40 };
    char name[600];
    for (int n = 0; n < OLD_STYLE; ++n) {
        snprintf(name, sizeof name, "%s.%d.tmp", path, n);
        write_file(name, "x", 1);
    }
    for (int n = 0; n < NEW_STYLE; ++n) {
        snprintf(name, sizeof name, "%s/.attn-save.XXXXXX", tmp_dir);
        const int fd = mkstemp(name);
        assert_true(fd >= 0);
        assert_int_equal(close(fd), 0);
    }
    save_values(path, 1.0f);
    expect_saved(path, 1.0f);
    save_values(path, 2.0f); /* over the file, too */
    expect_saved(path, 2.0f);
    assert_int_equal(count_entries(tmp_dir), OLD_STYLE + NEW_STYLE + 1);
}

/* A final name component of 250 to 255 bytes (NAME_MAX on Linux file
 * systems): the temporary's own name must fit NAME_MAX too. */
static void test_save_long_name(void **state)
{
    (void)state;
    const long name_max = pathconf(tmp_dir, _PC_NAME_MAX);
    if (name_max < 255)
        skip();
    static const size_t lengths[] = {250, 254, 255};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; ++k) {
        char name[256];
        memset(name, 'n', lengths[k]);
        name[lengths[k]] = '\0';
        const char *path = tmp_path(name);
        save_values(path, (float)k);
        expect_saved(path, (float)k);
        save_values(path, (float)k + 10.0f);
        expect_saved(path, (float)k + 10.0f);
        assert_int_equal(count_entries(tmp_dir), 1);
        assert_int_equal(unlink(path), 0);
    }
}

/* path is still a symbolic link holding text. */
static void expect_link(const char *path, const char *text)
{
    struct stat st;
    char got[600];
    assert_int_equal(lstat(path, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    const ssize_t n = readlink(path, got, sizeof got - 1);
    assert_true(n >= 0);
    got[n] = '\0';
    assert_string_equal(got, text);
}

/*
 * Saving through a symbolic link writes the file it names and leaves the
 * link (the rename used to replace the link with a regular file):
 * relative and absolute links, a chain of two, a relative link in another
 * directory, a dangling link (its target is created, as writing through
 * the link would), and a loop (ATTN_ERR_IO, ELOOP, nothing created).
 */
static void test_save_through_symlink(void **state)
{
    (void)state;
    char real_dir[520], target[600], abs_text[600];
    snprintf(real_dir, sizeof real_dir, "%s", tmp_path("real"));
    assert_int_equal(mkdir(real_dir, 0700), 0);
    snprintf(target, sizeof target, "%s/w.safetensors", real_dir);
    save_values(target, 1.0f);

    assert_int_equal(symlink("real/w.safetensors", tmp_path("rel")), 0);
    save_values(tmp_path("rel"), 2.0f);
    expect_link(tmp_path("rel"), "real/w.safetensors");
    expect_saved(target, 2.0f);

    snprintf(abs_text, sizeof abs_text, "%s", target);
    assert_int_equal(symlink(abs_text, tmp_path("abs")), 0);
    save_values(tmp_path("abs"), 3.0f);
    expect_link(tmp_path("abs"), abs_text);
    expect_saved(target, 3.0f);

    assert_int_equal(symlink("rel", tmp_path("chain")), 0);
    save_values(tmp_path("chain"), 4.0f);
    expect_link(tmp_path("chain"), "rel");
    expect_link(tmp_path("rel"), "real/w.safetensors");
    expect_saved(target, 4.0f);

    /* Relative to the link's own directory, not the working directory. */
    char inner[700];
    snprintf(inner, sizeof inner, "%s/inner", real_dir);
    assert_int_equal(symlink("../outer.safetensors", inner), 0);
    save_values(inner, 5.0f);
    expect_link(inner, "../outer.safetensors");
    expect_saved(tmp_path("outer.safetensors"), 5.0f);

    assert_int_equal(symlink("real/new.safetensors", tmp_path("dangling")), 0);
    save_values(tmp_path("dangling"), 6.0f);
    expect_link(tmp_path("dangling"), "real/new.safetensors");
    char created[700];
    snprintf(created, sizeof created, "%s/new.safetensors", real_dir);
    expect_saved(created, 6.0f);

    /* real/ holds w, inner, new; tmp_dir real, rel, abs, chain, outer,
     * dangling: no temporary anywhere. */
    assert_int_equal(count_entries(real_dir), 3);
    assert_int_equal(count_entries(tmp_dir), 6);

    assert_int_equal(symlink("loop2", tmp_path("loop1")), 0);
    assert_int_equal(symlink("loop1", tmp_path("loop2")), 0);
    targets t;
    targets_fill(&t, 7.0f);
    errno = 0;
    assert_int_equal(attn_params_save(t.list, 2, tmp_path("loop1")), ATTN_ERR_IO);
    assert_int_equal(errno, ELOOP);
    expect_link(tmp_path("loop1"), "loop2");
    assert_int_equal(count_entries(tmp_dir), 8);
    assert_int_equal(count_entries(real_dir), 3);
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 07777);
}

/* An existing file keeps its permission bits (a 0600 file became 0644);
 * a new one gets what open(path, O_CREAT, 0666) would give under the
 * umask (mkstemp alone would give 0600). */
static void test_save_keeps_mode(void **state)
{
    (void)state;
    const char *path = tmp_path("m.safetensors");
    static const unsigned kept[] = {0600, 0640, 0444, 0755};
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; ++k) {
        save_values(path, 1.0f);
        assert_int_equal(chmod(path, (mode_t)kept[k]), 0);
        save_values(path, 2.0f);
        assert_int_equal(mode_of(path), kept[k]);
        expect_saved(path, 2.0f);
        assert_int_equal(unlink(path), 0);
    }
    static const unsigned masks[] = {022, 077, 0, 027};
    const mode_t old = umask(0);
    for (size_t k = 0; k < sizeof masks / sizeof masks[0]; ++k) {
        umask((mode_t)masks[k]);
        save_values(path, 3.0f);
        const unsigned got = mode_of(path);
        umask(old);
        assert_int_equal(got, 0666 & ~masks[k]);
        assert_int_equal(unlink(path), 0);
    }
    umask(old);
    assert_int_equal(count_entries(tmp_dir), 0);
}

/* The empty path: ATTN_ERR_IO with errno ENOENT, as open("") reports it
 * (the save used to leave errno at 0). */
static void test_empty_path(void **state)
{
    (void)state;
    targets t;
    targets_fill(&t, 1.0f);
    errno = 0;
    assert_int_equal(attn_params_save(t.list, 2, ""), ATTN_ERR_IO);
    assert_int_equal(errno, ENOENT);
    targets_init(&t);
    errno = 0;
    assert_int_equal(attn_params_load(t.list, 2, ""), ATTN_ERR_IO);
    assert_int_equal(errno, ENOENT);
    assert_true(targets_untouched(&t));
    assert_int_equal(count_entries(tmp_dir), 0);
}

/* ---- what the loader opens and reads ---------------------------------------- */

/* A SIGALRM guard around calls that must not block: the handler only
 * records that it ran, and without SA_RESTART it also breaks a blocked
 * open or read out with EINTR, so a regression fails instead of hanging. */
static volatile sig_atomic_t alarm_fired;

static void on_alarm(int sig)
{
    (void)sig;
    alarm_fired = 1;
}

static void guard_start(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
    alarm_fired = 0;
    alarm(seconds);
}

/* Nonzero when the guard fired: the call blocked. */
static int guard_stop(void)
{
    alarm(0);
    return alarm_fired;
}

/* A FIFO without a writer: the open used to block forever. It is refused
 * at once (not a regular file: ATTN_ERR_IO, errno EINVAL). */
static void test_load_fifo_without_writer(void **state)
{
    (void)state;
    const char *fifo = tmp_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    targets t;
    targets_init(&t);
    guard_start(5);
    errno = 0;
    const attn_status s = attn_params_load(t.list, 2, fifo);
    const int e = errno;
    assert_false(guard_stop());
    assert_int_equal(s, ATTN_ERR_IO);
    assert_int_equal(e, EINVAL);
    assert_true(targets_untouched(&t));
}

/* The header of a file whose one tensor "big" claims 16 TiB. */
static unsigned char *huge_tensor_header(size_t *size)
{
    static const char json[] =
        "{" ENTRY("big", "\"F32\"", "[4398046511104]",
                  "[0,17592186044416]") "}";
    return assemble(sizeof json - 1, json, sizeof json - 1, 0, size);
}

/*
 * A FIFO whose writer sends a valid header and then data without end (up
 * to 64 MiB here, then it waits): the loader used to read on until memory
 * ran out. It is refused before anything is read.
 */
static void test_load_fifo_streaming(void **state)
{
    (void)state;
    const char *fifo = tmp_path("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* A reader, so that the writer's open does not wait for the loader. */
    const int reader = open(fifo, O_RDONLY | O_NONBLOCK);
    assert_true(reader >= 0);
    size_t head_bytes;
    unsigned char *head = huge_tensor_header(&head_bytes);
    const pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static unsigned char zeros[65536];
        const int w = open(fifo, O_WRONLY);
        if (w < 0 || write(w, head, head_bytes) != (ssize_t)head_bytes)
            _exit(1);
        for (int i = 0; i < 1024; ++i)
            if (write(w, zeros, sizeof zeros) < 0)
                _exit(0);
        pause();
        _exit(0);
    }
    free(head);
    struct pollfd p = {reader, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1); /* the writer is writing */

    targets t;
    targets_init(&t);
    guard_start(5);
    errno = 0;
    const attn_status s = attn_params_load(t.list, 2, fifo);
    const int e = errno;
    const int blocked = guard_stop();
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    close(reader);
    assert_false(blocked);
    assert_int_equal(s, ATTN_ERR_IO);
    assert_int_equal(e, EINVAL);
    assert_true(targets_untouched(&t));
}

/* Directories and devices are not weights files either. */
static void test_load_not_regular(void **state)
{
    (void)state;
    targets t;
    targets_init(&t);
    errno = 0;
    assert_int_equal(attn_params_load(t.list, 2, tmp_dir), ATTN_ERR_IO);
    assert_int_equal(errno, EISDIR);
    struct stat st;
    if (stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode)) {
        errno = 0;
        assert_int_equal(attn_params_load(t.list, 2, "/dev/null"), ATTN_ERR_IO);
        assert_int_equal(errno, EINVAL);
    }
    assert_true(targets_untouched(&t));
}

/* A saved file cut at every byte of its data section: ATTN_ERR_BAD_FILE,
 * nothing written; and uncut, it loads. */
static void test_load_truncated_mid_tensor(void **state)
{
    (void)state;
    const char *path = tmp_path("cut.safetensors");
    save_values(path, 1.0f);
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    const size_t data_start = size - 4 * (A_NUMEL + B_NUMEL);
    for (size_t keep = data_start; keep < size; ++keep) {
        assert_int_equal(truncate(path, (off_t)keep), 0);
        targets t;
        targets_init(&t);
        const attn_status s = attn_params_load(t.list, 2, path);
        if (s != ATTN_ERR_BAD_FILE || !targets_untouched(&t))
            fail_msg("cut at %zu of %zu bytes: status %d", keep, size, (int)s);
        write_file(path, bytes, size);
    }
    expect_saved(path, 1.0f);
    free(bytes);
}

/*
 * A name may share memory with another parameter's data (nothing forbids
 * it): every tensor's place is settled before the first write. The
 * loader used to look b's name up after writing a, over the bytes of that
 * name, and found nothing (a NULL entry, dereferenced).
 */
static void test_load_name_inside_data(void **state)
{
    (void)state;
    size_t size;
    unsigned char *valid = assemble(sizeof VALID - 1, VALID, sizeof VALID - 1,
                                    40, &size);
    const char *path = tmp_path("valid.safetensors");
    write_file(path, valid, size);
    for (int how = 0; how < 2; ++how) {
        targets t;
        targets_init(&t);
        /* "b" in a's first float; a's first value, -3.25f, is 00 00 50 c0
         * little-endian: an empty string once a is loaded. */
        memcpy(t.a, "b", 2);
        t.list[1].name = (const char *)t.a;
        const attn_status s = how == 0 ? attn_params_load_buffer(t.list, 2, valid, size)
                                       : attn_params_load(t.list, 2, path);
        assert_int_equal(s, ATTN_OK);
        assert_true(targets_loaded(&t));
    }
    free(valid);
}

/* The header of a file with a and b and a "__metadata__" of keys keys
 * (values "") and one string of pad bytes; *json_len its length. */
static char *header_with_metadata(size_t keys, size_t pad, size_t *json_len)
{
    const size_t cap = 64 + sizeof VALID + keys * 16 + pad;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t n = (size_t)snprintf(json, cap, "{" A_OK "," B_OK
                                ",\"__metadata__\":{\"pad\":\"");
    memset(json + n, 'p', pad);
    n += pad;
    n += (size_t)snprintf(json + n, cap - n, "\"");
    for (size_t k = 0; k < keys; ++k)
        n += (size_t)snprintf(json + n, cap - n, ",\"%zx\":\"\"", k);
    n += (size_t)snprintf(json + n, cap - n, "}}");
    assert_true(n < cap);
    *json_len = n;
    return json;
}

static attn_status load_both_ways(const char *json, size_t json_len,
                                  const char *path)
{
    size_t size;
    unsigned char *bytes = assemble(json_len, json, json_len, 40, &size);
    write_file(path, bytes, size);
    targets t;
    targets_init(&t);
    const attn_status s = attn_params_load_buffer(t.list, 2, bytes, size);
    assert_true(s == ATTN_OK ? targets_loaded(&t) : targets_untouched(&t));
    targets_init(&t);
    const attn_status f = attn_params_load(t.list, 2, path);
    if (f != s)
        fail_msg("file %d, buffer %d", (int)f, (int)s);
    assert_true(s == ATTN_OK ? targets_loaded(&t) : targets_untouched(&t));
    free(bytes);
    return s;
}

/*
 * The header bounds for a list of 2 (safetensors.h): 16 MiB + 8 KiB + 12
 * bytes of text and 65,536 + 128 values and keys. Large metadata within them
 * loads; past either, ATTN_ERR_BAD_FILE, by file and by buffer alike.
 */
/* Tests that move tens of MiB through jansson: skipped under valgrind
 * (tests/valgrind/run.sh sets ATTN_TEST_LIGHT), where they take minutes
 * and check nothing about memory the others do not. */
static int light_run(void)
{
    return getenv("ATTN_TEST_LIGHT") != NULL;
}

static void test_header_bounds(void **state)
{
    (void)state;
    if (light_run())
        skip();
    const char *path = tmp_path("meta.safetensors");
    /* 16 MiB, 4 KiB per tensor, 6 bytes per byte of "a" and "b". */
    const size_t text_limit = ((size_t)16 << 20) + 2 * 4096 + 6 * 2;
    const size_t value_limit = 65536 + 2 * 64;
    size_t len;
    char *json = header_with_metadata(0, (size_t)8 << 20, &len);
    assert_int_equal(load_both_ways(json, len, path), ATTN_OK);
    free(json);
    /* Exactly at the text limit, and one byte past it. */
    json = header_with_metadata(0, 0, &len);
    free(json);
    const size_t pad = text_limit - len;
    json = header_with_metadata(0, pad, &len);
    assert_int_equal(len, text_limit);
    assert_int_equal(load_both_ways(json, len, path), ATTN_OK);
    free(json);
    json = header_with_metadata(0, pad + 1, &len);
    assert_int_equal(load_both_ways(json, len, path), ATTN_ERR_BAD_FILE);
    free(json);
    /* The object, a (12 values and keys) and b (11), "__metadata__" and
     * its object, "pad" and its string: 28, then 2 per key: the most keys
     * that fit, then one more. */
    const size_t keys = (value_limit - 28) / 2;
    json = header_with_metadata(keys, 0, &len);
    assert_int_equal(load_both_ways(json, len, path), ATTN_OK);
    free(json);
    json = header_with_metadata(keys + 1, 0, &len);
    assert_int_equal(load_both_ways(json, len, path), ATTN_ERR_BAD_FILE);
    free(json);
}

/* Values whose bits a careless copy would change. */
static float tricky(size_t i)
{
    static const uint32_t special[] = {
        0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, /* ±0, ±inf */
        0x7FC00001u, 0xFFBFFFFFu,                           /* NaN payloads */
        0x00000001u, 0x807FFFFFu,                           /* subnormals */
        0x7F7FFFFFu, 0x3F800000u,                           /* max, 1 */
    };
    size_t n = sizeof special / sizeof special[0];
    if (i < n)
        return float_of(special[i]);
    return float_of((uint32_t)(i * 2654435761u)); /* scattered bit patterns */
}

static void test_round_trip(void **state)
{
    (void)state;
    enum { P = 5 };
    static const int ndim[P] = {1, 2, 3, 4, 1};
    static const int64_t shape[P][ATTN_PARAM_MAX_DIMS] = {
        {1}, {3, 5}, {2, 3, 4}, {2, 1, 3, 2}, {1000}};
    static const char *const names[P] = {
        "scale", "layers.0.attn.in_proj_weight", "k", "\xc3\xa9t\xc3\xa9", "big"};
    float *src[P], *dst[P];
    attn_param in[P], out[P];
    size_t total = 0;
    for (int p = 0; p < P; ++p) {
        size_t n = 1;
        for (int d = 0; d < ndim[p]; ++d)
            n *= (size_t)shape[p][d];
        src[p] = malloc(n * sizeof(float));
        dst[p] = malloc(n * sizeof(float));
        assert_true(src[p] != NULL && dst[p] != NULL);
        for (size_t i = 0; i < n; ++i) {
            src[p][i] = tricky(total + i);
            dst[p][i] = float_of(SENTINEL_BITS);
        }
        memset(&in[p], 0, sizeof in[p]);
        in[p].name = names[p];
        in[p].data = src[p];
        in[p].ndim = ndim[p];
        memcpy(in[p].shape, shape[p], sizeof shape[p]);
        out[p] = in[p];
        out[p].data = dst[p];
        total += n;
    }
    const char *path = tmp_path("round.safetensors");
    assert_int_equal(attn_params_save(in, P, path), ATTN_OK);
    assert_int_equal(count_entries(tmp_dir), 1); /* no temporary left */

    /* Load with the list in another order: matching is by name. */
    attn_param shuffled[P] = {out[3], out[0], out[4], out[2], out[1]};
    assert_int_equal(attn_params_load(shuffled, P, path), ATTN_OK);
    for (int p = 0; p < P; ++p)
        assert_memory_equal(dst[p], src[p], attn_param_numel(&in[p]) * 4);

    /* The same bytes from memory; and the size is what the format says. */
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i)
        header_len = header_len << 8 | bytes[i];
    assert_int_equal(header_len % 8, 0);
    assert_int_equal(size, 8 + header_len + 4 * total);
    for (int p = 0; p < P; ++p)
        memset(dst[p], 0, attn_param_numel(&in[p]) * 4);
    assert_int_equal(attn_params_load_buffer(out, P, bytes, size), ATTN_OK);
    for (int p = 0; p < P; ++p)
        assert_memory_equal(dst[p], src[p], attn_param_numel(&in[p]) * 4);

    /* A list missing one of them is strict=True's missing... */
    assert_int_equal(attn_params_load(out, P - 1, path), ATTN_ERR_PARAM_MISMATCH);
    /* ...and saving again over the file replaces it. */
    assert_int_equal(attn_params_save(in, 2, path), ATTN_OK);
    assert_int_equal(attn_params_load(out, 2, path), ATTN_OK);
    assert_int_equal(attn_params_load(out, P, path), ATTN_ERR_PARAM_MISMATCH);
    assert_int_equal(count_entries(tmp_dir), 1);

    free(bytes);
    for (int p = 0; p < P; ++p) {
        free(src[p]);
        free(dst[p]);
    }
}

/* The writer's bytes, pinned: key order = list order (not sorted),
 * compact JSON, spaces up to a multiple of 8, little-endian data. */
static void test_golden_bytes(void **state)
{
    (void)state;
    float weight[6] = {1.0f, -2.0f, 0.5f, 0.0f, -0.0f, 3.0f};  /* (2, 3) */
    float bias[4] = {1.5f, 10.0f, 0.25f, -1.0f};               /* (4) */
    attn_param list[2];
    memset(list, 0, sizeof list);
    list[0].name = "proj.weight";
    list[0].data = weight;
    list[0].ndim = 2;
    list[0].shape[0] = 2;
    list[0].shape[1] = 3;
    list[1].name = "proj.bias";
    list[1].data = bias;
    list[1].ndim = 1;
    list[1].shape[0] = 4;

    static const char header[] =
        "{\"proj.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],"
        "\"data_offsets\":[0,24]},"
        "\"proj.bias\":{\"dtype\":\"F32\",\"shape\":[4],"
        "\"data_offsets\":[24,40]}}"
        "      ";                          /* 130 bytes of JSON + 6 spaces */
    static const unsigned char prefix[8] = {136, 0, 0, 0, 0, 0, 0, 0};
    static const unsigned char data[40] = {
        0x00, 0x00, 0x80, 0x3f,  0x00, 0x00, 0x00, 0xc0,  /*  1.0, -2.0  */
        0x00, 0x00, 0x00, 0x3f,  0x00, 0x00, 0x00, 0x00,  /*  0.5,  0.0  */
        0x00, 0x00, 0x00, 0x80,  0x00, 0x00, 0x40, 0x40,  /* -0.0,  3.0  */
        0x00, 0x00, 0xc0, 0x3f,  0x00, 0x00, 0x20, 0x41,  /*  1.5, 10.0  */
        0x00, 0x00, 0x80, 0x3e,  0x00, 0x00, 0x80, 0xbf,  /* 0.25, -1.0  */
    };
    assert_int_equal(sizeof header - 1, 136);
    unsigned char expected[8 + 136 + 40];
    memcpy(expected, prefix, 8);
    memcpy(expected + 8, header, 136);
    memcpy(expected + 8 + 136, data, 40);

    const char *path = tmp_path("golden.safetensors");
    assert_int_equal(attn_params_save(list, 2, path), ATTN_OK);
    size_t size;
    unsigned char *got = read_file(path, &size);
    assert_int_equal(size, sizeof expected);
    assert_memory_equal(got, expected, sizeof expected);
    free(got);

    /* An empty list: "{}" and 6 spaces. */
    static const unsigned char empty[16] = {8, 0, 0, 0, 0, 0, 0, 0,
                                            '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    assert_int_equal(attn_params_save(NULL, 0, path), ATTN_OK);
    got = read_file(path, &size);
    assert_int_equal(size, sizeof empty);
    assert_memory_equal(got, empty, sizeof empty);
    free(got);
    assert_int_equal(attn_params_load(NULL, 0, path), ATTN_OK);
    assert_int_equal(attn_params_load(list, 2, path), ATTN_ERR_PARAM_MISMATCH);
}

/* A header over the format's 100 MB limit is never written. */
static void test_save_header_cap(void **state)
{
    (void)state;
    const size_t len = 100000000;
    char *name = malloc(len + 1);
    assert_non_null(name);
    memset(name, 'n', len);
    name[len] = '\0';
    float x = 1.0f;
    attn_param p;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.data = &x;
    p.ndim = 1;
    p.shape[0] = 1;
    const char *path = tmp_path("huge.safetensors");
    assert_int_equal(attn_params_save(&p, 1, path), ATTN_ERR_BAD_ARGUMENT);
    assert_int_equal(count_entries(tmp_dir), 0);
    free(name);
}

/*
 * The load's header bound grows with the listed names (safetensors.h), so
 * whatever a save writes loads back: a 17 MiB name, and a 3 MiB name of
 * control characters that JSON escapes to 18 MiB ("\u0001" each), both
 * past the bound's 16 MiB base.
 */
static void test_long_tensor_name_round_trip(void **state)
{
    (void)state;
    if (light_run())
        skip();
    static const struct {
        size_t len;
        char fill;
    } names[] = {{(size_t)17 << 20, 'n'}, {(size_t)3 << 20, '\x01'}};
    const char *path = tmp_path("long-name.safetensors");
    for (size_t k = 0; k < 2; ++k) {
        char *name = malloc(names[k].len + 1);
        assert_non_null(name);
        memset(name, names[k].fill, names[k].len);
        name[names[k].len] = '\0';
        float x[3] = {1.5f, -2.0f, 0.25f}, y[3];
        attn_param p = {name, x, NULL, 1, {3, 0, 0, 0}};
        assert_int_equal(attn_params_save(&p, 1, path), ATTN_OK);
        size_t size;
        unsigned char *bytes = read_file(path, &size);
        assert_true(size > ((size_t)16 << 20));
        p.data = y;
        memset(y, 0, sizeof y);
        assert_int_equal(attn_params_load(&p, 1, path), ATTN_OK);
        assert_memory_equal(y, x, sizeof x);
        memset(y, 0, sizeof y);
        assert_int_equal(attn_params_load_buffer(&p, 1, bytes, size), ATTN_OK);
        assert_memory_equal(y, x, sizeof x);
        free(bytes);
        free(name);
    }
}

/* ---- PyTorch fixtures -------------------------------------------------------- */

/* One parameter of a hand-built list. */
static attn_param make_param(const char *name, float *data, int ndim,
                             int64_t d0, int64_t d1)
{
    attn_param p;
    memset(&p, 0, sizeof p);
    p.name = name;
    p.data = data;
    p.ndim = ndim;
    p.shape[0] = d0;
    p.shape[1] = d1;
    return p;
}

/* torch.nn.MultiheadAttention(8, 2, bias=True, batch_first=True) */
static void test_fixture_self(void **state)
{
    (void)state;
    static float in_w[24 * 8], in_b[24], out_w[8 * 8], out_b[8];
    attn_param list[4] = {
        make_param("in_proj_weight", in_w, 2, 24, 8),
        make_param("in_proj_bias", in_b, 1, 24, 0),
        make_param("out_proj.weight", out_w, 2, 8, 8),
        make_param("out_proj.bias", out_b, 1, 8, 0),
    };
    const char *path = ATTN_FIXTURE_DIR "/mha_self.safetensors";
    assert_int_equal(attn_params_load(list, 4, path), ATTN_OK);
    /* Printed by make_mha_fixture.py as exact bit patterns. */
    assert_int_equal(bits_of(in_w[0 * 8 + 0]), 0x3e2e4337u);  /*  0.170178279 */
    assert_int_equal(bits_of(in_w[23 * 8 + 7]), 0x3eaa2959u); /*  0.332346708 */
    assert_int_equal(bits_of(in_b[5]), 0x3d0c3c71u);          /*  0.0342373289 */
    assert_int_equal(bits_of(out_w[3 * 8 + 4]), 0xbe63eac5u); /* -0.222575262 */
    assert_int_equal(bits_of(out_b[7]), 0xbcb65bdcu);         /* -0.0222605988 */

    /* Shapes must match exactly, transposes included. */
    float sentinel = float_of(SENTINEL_BITS);
    for (size_t i = 0; i < 8; ++i)
        out_b[i] = sentinel;
    attn_param wrong[4] = {list[0], list[1], list[2], list[3]};
    wrong[0].shape[0] = 8;
    wrong[0].shape[1] = 24;
    assert_int_equal(attn_params_load(wrong, 4, path), ATTN_ERR_PARAM_MISMATCH);
    wrong[0] = make_param("in_proj_weight", in_w, 1, 192, 0);
    assert_int_equal(attn_params_load(wrong, 4, path), ATTN_ERR_PARAM_MISMATCH);
    /* Without out_proj.bias the file has an unexpected tensor. */
    assert_int_equal(attn_params_load(list, 3, path), ATTN_ERR_PARAM_MISMATCH);
    for (size_t i = 0; i < 8; ++i)
        assert_int_equal(bits_of(out_b[i]), SENTINEL_BITS);
}

/* kdim=6, vdim=5: separate projection weights. */
static void test_fixture_cross(void **state)
{
    (void)state;
    static float q_w[8 * 8], k_w[8 * 6], v_w[8 * 5], in_b[24], out_w[64], out_b[8];
    attn_param list[6] = {
        make_param("q_proj_weight", q_w, 2, 8, 8),
        make_param("k_proj_weight", k_w, 2, 8, 6),
        make_param("v_proj_weight", v_w, 2, 8, 5),
        make_param("in_proj_bias", in_b, 1, 24, 0),
        make_param("out_proj.weight", out_w, 2, 8, 8),
        make_param("out_proj.bias", out_b, 1, 8, 0),
    };
    const char *path = ATTN_FIXTURE_DIR "/mha_cross.safetensors";
    assert_int_equal(attn_params_load(list, 6, path), ATTN_OK);
    /* Biases were refilled with random values: none may be left at 0. */
    for (size_t i = 0; i < 24; ++i)
        assert_true(in_b[i] != 0.0f);
    /* (8, 4) rather than (8, 6): a larger shape would also overlap the
     * next array and be refused as aliasing first. */
    list[2].shape[1] = 4;
    assert_int_equal(attn_params_load(list, 6, path), ATTN_ERR_PARAM_MISMATCH);
}

/* The input/output files the multi-head layer's tests will read: every
 * tensor named and shaped as make_mha_fixture.py documents. */
static void test_fixture_io(void **state)
{
    (void)state;
    static float x[2 * 5 * 8], mask[2 * 5], lens[2], out[2 * 5 * 8],
        w[2 * 5 * 5], wh[2 * 2 * 5 * 5], unmasked[2 * 5 * 8], causal[5 * 5],
        causal_out[2 * 5 * 8];
    attn_param self_io[9] = {
        {"x", x, NULL, 3, {2, 5, 8}},
        {"key_padding_mask", mask, NULL, 2, {2, 5}},
        {"key_padding_lens", lens, NULL, 1, {2}},
        {"attn_output", out, NULL, 3, {2, 5, 8}},
        {"attn_output_weights", w, NULL, 3, {2, 5, 5}},
        {"attn_output_weights_per_head", wh, NULL, 4, {2, 2, 5, 5}},
        {"unmasked_attn_output", unmasked, NULL, 3, {2, 5, 8}},
        {"causal_mask", causal, NULL, 2, {5, 5}},
        {"causal_attn_output", causal_out, NULL, 3, {2, 5, 8}},
    };
    assert_int_equal(attn_params_load(self_io, 9,
                                      ATTN_FIXTURE_DIR "/mha_self_io.safetensors"),
                     ATTN_OK);
    assert_true(lens[0] == 5.0f && lens[1] == 3.0f);
    /* Batch 1 ignores keys 3 and 4: their weights are exactly zero. */
    for (int q = 0; q < 5; ++q) {
        assert_true(mask[5 + q] == (q >= 3 ? 1.0f : 0.0f));
        assert_true(w[25 + q * 5 + 3] == 0.0f && w[25 + q * 5 + 4] == 0.0f);
    }

    static float query[2 * 4 * 8], key[2 * 6 * 6], value[2 * 6 * 5],
        cross_out[2 * 4 * 8], cross_w[2 * 4 * 6];
    attn_param cross_io[5] = {
        {"query", query, NULL, 3, {2, 4, 8}},
        {"key", key, NULL, 3, {2, 6, 6}},
        {"value", value, NULL, 3, {2, 6, 5}},
        {"attn_output", cross_out, NULL, 3, {2, 4, 8}},
        {"attn_output_weights", cross_w, NULL, 3, {2, 4, 6}},
    };
    assert_int_equal(attn_params_load(cross_io, 5,
                                      ATTN_FIXTURE_DIR "/mha_cross_io.safetensors"),
                     ATTN_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_file_table, clean_tmp_dir),
        cmocka_unit_test_setup(test_deep_nesting, clean_tmp_dir),
        cmocka_unit_test_setup(test_bad_lists, clean_tmp_dir),
        cmocka_unit_test_setup(test_null_pointers, clean_tmp_dir),
        cmocka_unit_test_setup(test_aliasing, clean_tmp_dir),
        cmocka_unit_test_setup(test_io_errors, clean_tmp_dir),
        cmocka_unit_test_setup(test_save_stale_temporaries, clean_tmp_dir),
        cmocka_unit_test_setup(test_save_long_name, clean_tmp_dir),
        cmocka_unit_test_setup(test_save_through_symlink, clean_tmp_dir),
        cmocka_unit_test_setup(test_save_keeps_mode, clean_tmp_dir),
        cmocka_unit_test_setup(test_empty_path, clean_tmp_dir),
        cmocka_unit_test_setup(test_load_fifo_without_writer, clean_tmp_dir),
        cmocka_unit_test_setup(test_load_fifo_streaming, clean_tmp_dir),
        cmocka_unit_test_setup(test_load_not_regular, clean_tmp_dir),
        cmocka_unit_test_setup(test_load_truncated_mid_tensor, clean_tmp_dir),
        cmocka_unit_test_setup(test_load_name_inside_data, clean_tmp_dir),
        cmocka_unit_test_setup(test_header_bounds, clean_tmp_dir),
        cmocka_unit_test_setup(test_round_trip, clean_tmp_dir),
        cmocka_unit_test_setup(test_golden_bytes, clean_tmp_dir),
        cmocka_unit_test_setup(test_save_header_cap, clean_tmp_dir),
        cmocka_unit_test_setup(test_long_tensor_name_round_trip, clean_tmp_dir),
        cmocka_unit_test(test_fixture_self),
        cmocka_unit_test(test_fixture_cross),
        cmocka_unit_test(test_fixture_io),
    };
    return cmocka_run_group_tests(tests, make_tmp_dir, remove_tmp_dir);
}
