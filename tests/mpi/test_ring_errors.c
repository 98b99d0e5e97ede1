/*
 * Collective errors: a bad argument on one rank (or several) makes every
 * rank return the same status (the lowest failing rank's), with nothing
 * written anywhere, and nobody hangs (ctest's time limit would fail the
 * test). Also the statuses of every unsupported or inconsistent setting.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <attention/attention.h>
#include <attention/ring.h>

static int g_rank, g_world, g_fails;

enum { B = 2, H = 2, T = 8, D = 4 };
#define N (B * H * T * D)
#define SENTINEL 7.25f

static float q[N], k[N], v[N], out[N], lse[B * H * T], dout[N];
static float dq[N], dk[N], dv[N];

static void reset_outputs(void)
{
    for (int i = 0; i < N; ++i)
        out[i] = dq[i] = dk[i] = dv[i] = SENTINEL;
    for (int i = 0; i < B * H * T; ++i)
        lse[i] = SENTINEL;
}

static int outputs_untouched(void)
{
    for (int i = 0; i < N; ++i)
        if (out[i] != SENTINEL || dq[i] != SENTINEL || dk[i] != SENTINEL ||
            dv[i] != SENTINEL)
            return 0;
    for (int i = 0; i < B * H * T; ++i)
        if (lse[i] != SENTINEL)
            return 0;
    return 1;
}

/* Every rank must see `want`, and nothing written. */
static void expect(const char *what, attn_status got, attn_status want)
{
    int bad = got != want || !outputs_untouched(), any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (bad)
        fprintf(stderr, "rank %d: %s: got %s (%d), want %s (%d)%s\n", g_rank, what,
                attn_strerror(got), (int)got, attn_strerror(want), (int)want,
                outputs_untouched() ? "" : ", outputs written");
    if (g_rank == 0)
        printf("%s P=%d %s -> %s\n", any ? "FAIL" : "ok  ", g_world, what,
               attn_strerror(want));
    g_fails += any;
}

static void good_desc(attn_ring_desc *d)
{
    attn_ring_desc_init(d, B, H, H, T, T, D, D);
    d->causal = ATTN_CAUSAL_TOP_LEFT;
    d->layout = ATTN_RING_ZIGZAG;
}

static attn_status fwd(const attn_ring_desc *d)
{
    reset_outputs();
    return attn_ring_forward(d, MPI_COMM_WORLD, q, k, v, out, lse);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_world);
    const int last = g_world - 1;
    for (int i = 0; i < N; ++i)
        q[i] = k[i] = v[i] = dout[i] = (float)((i * 37) % 11) / 11.0f;
    attn_ring_desc d;

    good_desc(&d);
    if (g_rank == last)
        d.scale = -1.0f;
    expect("bad scale on the last rank", fwd(&d), ATTN_ERR_BAD_SCALE);

    good_desc(&d);
    reset_outputs();
    expect("NULL q on rank 0",
           attn_ring_forward(&d, MPI_COMM_WORLD, g_rank == 0 ? NULL : q, k, v, out, lse),
           ATTN_ERR_NULL_POINTER);

    good_desc(&d);
    if (g_rank == 0)
        d.scale = -1.0f;
    reset_outputs();
    expect("bad scale on rank 0, NULL k on the last: rank 0's status",
           attn_ring_forward(&d, MPI_COMM_WORLD, q, g_rank == last ? NULL : k, v, out, lse),
           ATTN_ERR_BAD_SCALE);

    good_desc(&d);
    if (g_rank == last)
        d.q_heads = 3; /* not a multiple of kv_heads: the core's check */
    expect("q_heads 3 over kv_heads 2 on the last rank", fwd(&d), ATTN_ERR_HEAD_MISMATCH);

    if (g_world > 1) {
        good_desc(&d);
        if (g_rank == last)
            d.batch = 1; /* valid alone, inconsistent with the others */
        expect("batch differing between ranks", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
        good_desc(&d);
        if (g_rank == last)
            d.layout = ATTN_RING_CONTIGUOUS;
        expect("layout differing between ranks", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
        int64_t lens[B] = {T * g_world, g_rank == last ? 3 : 4};
        good_desc(&d);
        d.kv_lens = lens;
        expect("kv_lens differing between ranks", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
    }

    int64_t bad_lens[B] = {0, g_rank == last ? T * g_world + 1 : 1};
    good_desc(&d);
    d.kv_lens = bad_lens;
    expect("kv_lens past the global length on the last rank", fwd(&d), ATTN_ERR_BAD_KV_LEN);

    /* The variants: the core's checks of each value, agreed. */
    good_desc(&d);
    if (g_rank == last)
        d.window_left = -2;
    expect("window_left -2 on the last rank", fwd(&d), ATTN_ERR_BAD_WINDOW);
    good_desc(&d);
    if (g_rank == 0)
        d.window_right = -5;
    expect("window_right -5 on rank 0", fwd(&d), ATTN_ERR_BAD_WINDOW);
    good_desc(&d);
    if (g_rank == last)
        d.softcap = -1.0f;
    expect("negative softcap on the last rank", fwd(&d), ATTN_ERR_BAD_SOFTCAP);
    float slopes[H] = {0.5f, g_rank == last ? -0.25f : 0.25f};
    good_desc(&d);
    d.alibi_slopes = slopes;
    expect("negative ALiBi slope on the last rank", fwd(&d), ATTN_ERR_BAD_ALIBI);
    float sinks[H] = {0.0f, g_rank == last ? NAN : 1.0f};
    good_desc(&d);
    d.sinks = sinks;
    expect("NaN sink on the last rank", fwd(&d), ATTN_ERR_BAD_SINK);
    reset_outputs();
    expect("NaN sink on the last rank (backward)",
           attn_ring_backward(&d, MPI_COMM_WORLD, q, k, v, out, lse, dout, dq, dk, dv),
           ATTN_ERR_BAD_SINK);
    if (g_world > 1) {
        good_desc(&d);
        d.window_left = g_rank == last ? 3 : 4;
        expect("window differing between ranks", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
        good_desc(&d);
        d.softcap = g_rank == last ? 2.0f : 3.0f;
        expect("softcap differing between ranks", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
        float s2[H] = {0.5f, g_rank == last ? 0.75f : 0.25f};
        good_desc(&d);
        d.alibi_slopes = s2;
        expect("ALiBi slopes differing between ranks", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
        good_desc(&d);
        d.sinks = g_rank == last ? NULL : s2;
        expect("sinks on some ranks only", fwd(&d), ATTN_ERR_BAD_ARGUMENT);
    }

    /* The sinks' gradient: agreed errors, nothing written. */
    float dsinks[H] = {SENTINEL, SENTINEL};
    float good_sinks[H] = {0.5f, -1.0f};
    good_desc(&d);
    d.sinks = g_rank == last ? NULL : good_sinks;
    reset_outputs();
    attn_status ss = attn_ring_sinks_backward(&d, MPI_COMM_WORLD, out, lse, dout, dsinks);
    if (dsinks[0] != SENTINEL || dsinks[1] != SENTINEL)
        out[0] = 0.0f; /* reported as written */
    expect("sinks_backward without sinks on the last rank", ss, ATTN_ERR_BAD_ARGUMENT);
    good_desc(&d);
    d.sinks = good_sinks;
    reset_outputs();
    ss = attn_ring_sinks_backward(&d, MPI_COMM_WORLD, out, lse, dout,
                                  g_rank == 0 ? good_sinks : dsinks);
    if (dsinks[0] != SENTINEL || dsinks[1] != SENTINEL || good_sinks[0] != 0.5f)
        out[0] = 0.0f;
    expect("sinks_backward with dsinks over the sinks on rank 0", ss, ATTN_ERR_ALIASING);
    reset_outputs();
    ss = attn_ring_sinks_backward(&d, MPI_COMM_WORLD, out, lse, dout,
                                  g_rank == last ? NULL : dsinks);
    if (dsinks[0] != SENTINEL || dsinks[1] != SENTINEL)
        out[0] = 0.0f;
    expect("sinks_backward with NULL dsinks on the last rank", ss, ATTN_ERR_NULL_POINTER);

    /* A caller of the first released descriptor (it ends after algo) gets
     * the init values of the appended fields: no window, no variants. */
    good_desc(&d);
    d.struct_size = offsetof(attn_ring_desc, window_left);
    d.window_left = d.window_right = 0; /* not the caller's: ignored */
    d.softcap = -1.0f;
    reset_outputs();
    attn_status v1 = attn_ring_forward(&d, MPI_COMM_WORLD, q, k, v, out, lse);
    float out_v1 = out[N - 1];
    good_desc(&d);
    reset_outputs();
    attn_status v2 = attn_ring_forward(&d, MPI_COMM_WORLD, q, k, v, out, lse);
    int bad_v1 = v1 != ATTN_OK || v2 != ATTN_OK || out[N - 1] != out_v1, any_v1 = 0;
    MPI_Allreduce(&bad_v1, &any_v1, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("%s P=%d a first-release descriptor (struct_size up to algo)\n",
               any_v1 ? "FAIL" : "ok  ", g_world);
    g_fails += any_v1;
    attn_ring_desc_init_sized(&d, offsetof(attn_ring_desc, window_left), B, H, H, T, T, D, D);
    bad_v1 = d.struct_size != offsetof(attn_ring_desc, window_left);
    if (g_rank == 0)
        printf("%s P=%d attn_ring_desc_init_sized with the first release's size\n",
               bad_v1 ? "FAIL" : "ok  ", g_world);
    g_fails += bad_v1;

    good_desc(&d);
    if (g_rank == last)
        d.causal = (attn_causal)9;
    expect("causal 9 on the last rank", fwd(&d), ATTN_ERR_BAD_CAUSAL);

    attn_ring_desc_init(&d, B, H, H, T - 1, T - 1, D, D);
    d.layout = ATTN_RING_ZIGZAG;
    expect("zigzag with an odd local length", fwd(&d), ATTN_ERR_BAD_DIMENSION);

    attn_ring_desc_init(&d, B, H, H, T, T / 2, D, D);
    d.causal = ATTN_CAUSAL_TOP_LEFT;
    expect("causal with q_len != kv_len", fwd(&d), ATTN_ERR_BAD_ARGUMENT);

    good_desc(&d);
    if (g_rank == last)
        d.struct_size = 8;
    expect("struct_size wrong on the last rank", fwd(&d), ATTN_ERR_BAD_DESC);

    good_desc(&d);
    reset_outputs();
    expect("out overlapping q on rank 0",
           attn_ring_forward(&d, MPI_COMM_WORLD, q, k, v, g_rank == 0 ? q + 1 : out, lse),
           ATTN_ERR_ALIASING);
    /* q must still hold its values (nothing written). */

    good_desc(&d);
    reset_outputs();
    expect("backward without lse on the last rank",
           attn_ring_backward(&d, MPI_COMM_WORLD, q, k, v, out, g_rank == last ? NULL : lse,
                              dout, dq, dk, dv),
           ATTN_ERR_NULL_POINTER);

    good_desc(&d);
    reset_outputs();
    expect("backward with dk over dout on rank 0",
           attn_ring_backward(&d, MPI_COMM_WORLD, q, k, v, out, lse, dout, dq,
                              g_rank == 0 ? dout : dk, dv),
           ATTN_ERR_ALIASING);

    attn_ring_stats st;
    memset(&st, 0, sizeof st);
    st.struct_size = g_rank == last ? 3 : sizeof st;
    good_desc(&d);
    reset_outputs();
    expect("stats struct_size wrong on the last rank",
           attn_ring_forward_ex(&d, MPI_COMM_WORLD, q, k, v, out, lse, &st),
           ATTN_ERR_BAD_DESC);

    /* The root's global tensor holds P shards. */
    float *global = malloc(sizeof(float) * N * (size_t)g_world);
    for (int i = 0; global && i < N * g_world; ++i)
        global[i] = 0.5f;
    reset_outputs();
    expect("scatter with root out of range on the last rank",
           attn_ring_scatter(MPI_COMM_WORLD, g_rank == last ? g_world : 0,
                             ATTN_RING_CONTIGUOUS, B, H, T, D, global, out),
           ATTN_ERR_BAD_ARGUMENT);
    free(global);

    if (g_world > 1) {
        /* The root's global tensor (P times a shard) must stay untouched. */
        float *global = malloc(sizeof(float) * N * (size_t)g_world);
        for (int i = 0; global && i < N * g_world; ++i)
            global[i] = SENTINEL;
        reset_outputs();
        attn_status s = attn_ring_gather(MPI_COMM_WORLD, 0, ATTN_RING_CONTIGUOUS, B,
                                         g_rank == last ? 1 : H, T, D, q, global);
        for (int i = 0; global && i < N * g_world; ++i)
            if (global[i] != SENTINEL)
                out[0] = 0.0f; /* reported by expect() as written */
        expect("gather of differing shapes", s, ATTN_ERR_BAD_ARGUMENT);
        free(global);
    }

    expect("MPI_COMM_NULL (local)",
           attn_ring_forward(&d, MPI_COMM_NULL, q, k, v, out, lse), ATTN_ERR_NULL_POINTER);

    /* After all that, a good call still works on every rank. */
    good_desc(&d);
    attn_status s = fwd(&d);
    int bad = s != ATTN_OK, any = 0;
    MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("%s P=%d a good call after the errors\n", any ? "FAIL" : "ok  ", g_world);
    g_fails += any;

    if (g_rank == 0)
        printf("test_ring_errors P=%d: %d failure(s)\n", g_world, g_fails);
    MPI_Finalize();
    return g_fails ? 1 : 0;
}
