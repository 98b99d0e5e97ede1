/*
 * The multi-head layer against PyTorch 1.13's nn.MultiheadAttention: the
 * weights a state_dict saved (tests/fixtures/mha_*.safetensors, made by
 * fixtures/make_mha_fixture.py) load straight into attn_mha, and the layer
 * reproduces the outputs and attention weights PyTorch computed from them
 * (mha_*_io.safetensors): self-attention with key padding, per-head and
 * averaged weights, a causal mask, and cross-attention with kdim != vdim.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include <attention/attention.h>

#include "tolerance.h"

#define FIXTURE(name) ATTN_FIXTURE_DIR "/" name

/* A tensor of an _io file: its name, shape and a buffer of its own. */
typedef struct io_tensor {
    const char *name;
    int ndim;
    int64_t shape[4];
    float *data;
} io_tensor;

/* Loads every tensor of an _io file (the list must name them all). */
static void load_io(const char *path, io_tensor *t, size_t n)
{
    attn_param params[16];
    assert_true(n <= 16);
    for (size_t i = 0; i < n; ++i) {
        size_t numel = 1;
        for (int d = 0; d < t[i].ndim; ++d)
            numel *= (size_t)t[i].shape[d];
        t[i].data = malloc(numel * sizeof(float));
        assert_non_null(t[i].data);
        params[i] = (attn_param){t[i].name, t[i].data, NULL, t[i].ndim, {0}};
        for (int d = 0; d < t[i].ndim; ++d)
            params[i].shape[d] = t[i].shape[d];
    }
    assert_int_equal(attn_params_load(params, n, path), ATTN_OK);
}

static void free_io(io_tensor *t, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        free(t[i].data);
}

/* Normwise relative error of x against PyTorch's r, both (n). */
static double rel_err(const float *x, const float *r, size_t n)
{
    double diff = 0.0, ref = 0.0;
    for (size_t i = 0; i < n; ++i) {
        if (!isfinite(x[i]))
            return INFINITY;
        diff = fmax(diff, fabs((double)x[i] - r[i]));
        ref = fmax(ref, fabs((double)r[i]));
    }
    return diff / fmax(ref, ATTN_TEST_TINY);
}

static void check_close(const float *x, const float *r, size_t n, const char *what)
{
    const double e = rel_err(x, r, n);
    print_message("%-34s relative error %.2e\n", what, e);
    if (!(e <= ATTN_TEST_PYTORCH_TOL))
        fail_msg("%s: relative error %g > %g", what, e, ATTN_TEST_PYTORCH_TOL);
}

static attn_mha *load_layer(const char *path, int64_t kdim, int64_t vdim)
{
    attn_mha *layer;
    const attn_param *params;
    size_t count;
    /* A different seed than PyTorch's: every value must come from the file. */
    assert_int_equal(attn_mha_create(8, 2, kdim, vdim, 1, 99, &layer), ATTN_OK);
    assert_int_equal(attn_mha_params(layer, &params, &count), ATTN_OK);
    assert_int_equal(attn_params_load(params, count, path), ATTN_OK);
    return layer;
}

enum { X, PAD_MASK, PAD_LENS, OUT, W_AVG, W_HEADS, OUT_UNMASKED, CAUSAL_MASK, OUT_CAUSAL };

static void test_self_attention(void **state)
{
    (void)state;
    io_tensor io[] = {
        {"x", 3, {2, 5, 8}, NULL},
        {"key_padding_mask", 2, {2, 5}, NULL},
        {"key_padding_lens", 1, {2}, NULL},
        {"attn_output", 3, {2, 5, 8}, NULL},
        {"attn_output_weights", 3, {2, 5, 5}, NULL},
        {"attn_output_weights_per_head", 4, {2, 2, 5, 5}, NULL},
        {"unmasked_attn_output", 3, {2, 5, 8}, NULL},
        {"causal_mask", 2, {5, 5}, NULL},
        {"causal_attn_output", 3, {2, 5, 8}, NULL},
    };
    load_io(FIXTURE("mha_self_io.safetensors"), io, sizeof io / sizeof io[0]);
    attn_mha *layer = load_layer(FIXTURE("mha_self.safetensors"), 0, 0);
    attn_mha_state *st;
    assert_int_equal(attn_mha_state_create(layer, 2, 5, 5, &st), ATTN_OK);
    float out[2 * 5 * 8], w_avg[2 * 5 * 5], w_heads[2 * 2 * 5 * 5];
    const float *x = io[X].data;

    /* Key padding: PyTorch's boolean mask, turned into lengths by the
     * library's helper, which must give the fixture's lengths. */
    int64_t lens[2];
    uint8_t pad[2 * 5];
    for (int e = 0; e < 2 * 5; ++e)
        pad[e] = io[PAD_MASK].data[e] != 0.0f;
    assert_int_equal(attn_key_padding_lengths(pad, 2, 5, 5, lens), ATTN_OK);
    for (int b = 0; b < 2; ++b)
        assert_true(lens[b] == (int64_t)io[PAD_LENS].data[b]);
    attn_mha_options masks;
    assert_int_equal(attn_mha_options_init(&masks, 5), ATTN_OK);
    masks.kv_lens = lens;
    assert_int_equal(attn_mha_forward(layer, st, &masks, x, x, x, out, w_avg, 1), ATTN_OK);
    check_close(out, io[OUT].data, 80, "key padding: output");
    check_close(w_avg, io[W_AVG].data, 50, "key padding: averaged weights");
    assert_int_equal(attn_mha_forward(layer, st, &masks, x, x, x, out, w_heads, 0), ATTN_OK);
    check_close(w_heads, io[W_HEADS].data, 100, "key padding: per-head weights");

    assert_int_equal(attn_mha_forward(layer, st, NULL, x, x, x, out, NULL, 0), ATTN_OK);
    check_close(out, io[OUT_UNMASKED].data, 80, "no mask: output");

    /* PyTorch's causal attn_mask (1 = masked) is our top-left causal mask. */
    for (int i = 0; i < 5; ++i)
        for (int j = 0; j < 5; ++j)
            assert_true((io[CAUSAL_MASK].data[i * 5 + j] != 0.0f) == (j > i));
    assert_int_equal(attn_mha_options_init(&masks, 5), ATTN_OK);
    masks.causal = ATTN_CAUSAL_TOP_LEFT;
    assert_int_equal(attn_mha_forward(layer, st, &masks, x, x, x, out, NULL, 0), ATTN_OK);
    check_close(out, io[OUT_CAUSAL].data, 80, "causal: output");

    attn_mha_state_destroy(st);
    attn_mha_destroy(layer);
    free_io(io, sizeof io / sizeof io[0]);
}

static void test_cross_attention(void **state)
{
    (void)state;
    io_tensor io[] = {
        {"query", 3, {2, 4, 8}, NULL},
        {"key", 3, {2, 6, 6}, NULL},
        {"value", 3, {2, 6, 5}, NULL},
        {"attn_output", 3, {2, 4, 8}, NULL},
        {"attn_output_weights", 3, {2, 4, 6}, NULL},
    };
    load_io(FIXTURE("mha_cross_io.safetensors"), io, sizeof io / sizeof io[0]);
    attn_mha *layer = load_layer(FIXTURE("mha_cross.safetensors"), 6, 5);
    attn_mha_state *st;
    assert_int_equal(attn_mha_state_create(layer, 2, 4, 6, &st), ATTN_OK);
    float out[2 * 4 * 8], w[2 * 4 * 6];
    assert_int_equal(attn_mha_forward(layer, st, NULL, io[0].data, io[1].data,
                                      io[2].data, out, w, 1),
                     ATTN_OK);
    check_close(out, io[3].data, 64, "cross-attention: output");
    check_close(w, io[4].data, 48, "cross-attention: averaged weights");
    attn_mha_state_destroy(st);
    attn_mha_destroy(layer);
    free_io(io, sizeof io / sizeof io[0]);
}

/* Saved by the layer, loaded into a fresh one: the same outputs bit for bit. */
static void test_round_trip_through_safetensors(void **state)
{
    (void)state;
    attn_mha *a = load_layer(FIXTURE("mha_cross.safetensors"), 6, 5), *b;
    const attn_param *pa, *pb;
    size_t na, nb;
    char path[] = "/tmp/attn_mha_roundtripXXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(attn_mha_params(a, &pa, &na), ATTN_OK);
    assert_int_equal(attn_params_save(pa, na, path), ATTN_OK);
    assert_int_equal(attn_mha_create(8, 2, 6, 5, 1, 1, &b), ATTN_OK);
    assert_int_equal(attn_mha_params(b, &pb, &nb), ATTN_OK);
    assert_int_equal(attn_params_load(pb, nb, path), ATTN_OK);
    remove(path);
    for (size_t i = 0; i < na; ++i)
        assert_memory_equal(pa[i].data, pb[i].data,
                            attn_param_numel(&pa[i]) * sizeof(float));
    attn_mha_destroy(a);
    attn_mha_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_self_attention),
        cmocka_unit_test(test_cross_attention),
        cmocka_unit_test(test_round_trip_through_safetensors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
