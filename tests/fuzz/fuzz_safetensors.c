/*
 * libFuzzer harness for attn_params_load_buffer (safetensors.h): the input
 * is a whole file. Loaded into the test suite's list ("a" (2, 3), "b"
 * (4)) and into the list its own header describes (read with jansson);
 * a failed load writes nothing, a successful one copies exactly the
 * file's bytes, and what loads can be saved and reloaded bit for bit.
 * Variations of a list that loads (a name missing or extra, a shape
 * changed, data on the buffer) give their documented status.
 */
/* mkdtemp: POSIX. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <attention/safetensors.h>

#include "fuzz_check.h"
#include "safetensors_list.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* The statuses a buffer load may give for a valid list. */
static int load_status_ok(attn_status s)
{
    return s == ATTN_OK || s == ATTN_ERR_BAD_FILE ||
           s == ATTN_ERR_PARAM_MISMATCH || s == ATTN_ERR_OUT_OF_MEMORY;
}

/* Loads and checks the all-or-nothing rule; also from an odd address. */
static attn_status load(const st_list *l, const uint8_t *data, size_t size)
{
    uint8_t *odd = malloc(size + 1);
    FUZZ_REQUIRE(odd != NULL);
    memcpy(odd + 1, data, size);
    const attn_status s = attn_params_load_buffer(l->p, l->count, odd + 1, size);
    FUZZ_REQUIRE(load_status_ok(s));
    FUZZ_REQUIRE(memcmp(odd + 1, data, size) == 0);
    if (s != ATTN_OK)
        FUZZ_REQUIRE(st_list_untouched(l));
    free(odd);
    return s;
}

/* Loaded values are the file's bytes at each tensor's data offset. */
static void check_values(const st_list *l, const uint8_t *data, size_t size)
{
    const uint64_t base = 8 + le64(data);
    for (size_t i = 0; i < l->count; ++i) {
        const size_t n = attn_param_numel(&l->p[i]);
        FUZZ_REQUIRE(base + l->begin[i] + 4 * (uint64_t)n <= size);
        for (size_t j = 0; j < n; ++j) {
            uint32_t bits;
            memcpy(&bits, &l->p[i].data[j], sizeof bits);
            FUZZ_REQUIRE(bits == le32(data + base + l->begin[i] + 4 * j));
        }
    }
}

/* A private directory for the save round trip, removed at exit. */
static char tmp_dir[256];

static void remove_tmp_dir(void)
{
    rmdir(tmp_dir);
}

static const char *tmp_path(void)
{
    static char path[300];
    if (tmp_dir[0] == '\0') {
        const char *t = getenv("TMPDIR");
        snprintf(tmp_dir, sizeof tmp_dir, "%s/attn-fuzz-XXXXXX", t ? t : "/tmp");
        FUZZ_REQUIRE(mkdtemp(tmp_dir) != NULL);
        atexit(remove_tmp_dir);
        snprintf(path, sizeof path, "%s/t.safetensors", tmp_dir);
    }
    return path;
}

static uint8_t *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    FUZZ_REQUIRE(f != NULL);
    FUZZ_REQUIRE(fseek(f, 0, SEEK_END) == 0);
    const long n = ftell(f);
    FUZZ_REQUIRE(n >= 8 && fseek(f, 0, SEEK_SET) == 0);
    uint8_t *b = malloc((size_t)n);
    FUZZ_REQUIRE(b != NULL && fread(b, 1, (size_t)n, f) == (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return b;
}

/* Save, reload from the file and from its bytes: the same bits. */
static void round_trip(const st_list *l)
{
    const char *path = tmp_path();
    FUZZ_REQUIRE(attn_params_save(l->p, l->count, path) == ATTN_OK);
    size_t n;
    uint8_t *bytes = read_all(path, &n);
    /* Header padded to a multiple of 8 bytes, as documented. */
    FUZZ_REQUIRE(le64(bytes) % 8 == 0);
    st_list again;
    memset(&again, 0, sizeof again);
    for (size_t i = 0; i < l->count; ++i)
        FUZZ_REQUIRE(st_list_add(&again, l->p[i].name, l->p[i].ndim,
                                 l->p[i].shape));
    FUZZ_REQUIRE(attn_params_load(again.p, again.count, path) == ATTN_OK);
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < l->count; ++i)
            FUZZ_REQUIRE(memcmp(again.p[i].data, l->p[i].data,
                                attn_param_numel(&l->p[i]) * sizeof(float)) == 0);
        st_list_reset(&again);
        if (pass == 0)
            FUZZ_REQUIRE(attn_params_load_buffer(again.p, again.count, bytes,
                                                 n) == ATTN_OK);
    }
    free(bytes);
    st_list_free(&again);
    unlink(path);
}

/* A list that loads, changed in one way: the documented status. */
static void variation(st_list *l, const uint8_t *data, size_t size,
                      unsigned which)
{
    attn_status want = ATTN_ERR_PARAM_MISMATCH;
    size_t count = l->count;
    attn_param saved = l->p[0];
    const int64_t one[1] = {1};
    uint8_t *copy = NULL;
    switch (which % 4) {
    case 0: /* a tensor of the file is not listed */
        count--;
        break;
    case 1: /* a listed name is not in the file */
        for (size_t i = 0; i < l->count; ++i)
            if (strcmp(l->p[i].name, "\x01zz") == 0)
                return; /* the file has it after all */
        if (!st_list_add(l, "\x01zz", 1, one))
            return;
        count = l->count;
        break;
    case 2: /* a shape differs: one more dimension of 1, or the first
               dimension doubled */
        if (l->p[0].ndim < ATTN_PARAM_MAX_DIMS)
            l->p[0].shape[l->p[0].ndim++] = 1;
        else
            l->p[0].shape[0] *= 2;
        break;
    default: /* a parameter's data on the buffer itself */
        if (size < 4 * attn_param_numel(&l->p[0]))
            return;
        copy = malloc(size);
        FUZZ_REQUIRE(copy != NULL);
        memcpy(copy, data, size);
        l->p[0].data = (float *)copy;
        want = ATTN_ERR_ALIASING;
        break;
    }
    const attn_status got = attn_params_load_buffer(l->p, count,
                                                    copy ? copy : data, size);
    FUZZ_REQUIRE(got == want);
    if (copy) {
        FUZZ_REQUIRE(memcmp(copy, data, size) == 0);
        free(copy);
    }
    l->p[0] = saved;
    /* Only the spare entry may have been added: untouched as well. */
    FUZZ_REQUIRE(st_list_untouched(l));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    st_list fixed, own;
    st_list_fixed(&fixed);
    const int derived = st_list_from_file(data, size, &own);
    const attn_status s = load(&fixed, data, size);
    if (s == ATTN_OK) {
        /* The file is exactly "a" and "b": jansson must read it too. */
        FUZZ_REQUIRE(derived && own.count == 2);
        for (size_t i = 0; i < 2; ++i)
            for (size_t j = 0; j < 2; ++j)
                if (strcmp(own.p[j].name, fixed.p[i].name) == 0)
                    fixed.begin[i] = own.begin[j];
        check_values(&fixed, data, size);
        round_trip(&fixed);
    }
    if (derived) {
        const attn_status t = load(&own, data, size);
        /* Names and shapes come from the file: it fits or is malformed. */
        FUZZ_REQUIRE(t == ATTN_OK || t == ATTN_ERR_BAD_FILE);
        FUZZ_REQUIRE(t == ATTN_OK || s != ATTN_OK);
        if (t == ATTN_OK) {
            check_values(&own, data, size);
            round_trip(&own);
            st_list_reset(&own);
            variation(&own, data, size, size > 0 ? data[size - 1] : 0);
        }
        st_list_free(&own);
    }
    st_list_free(&fixed);
    return 0;
}
