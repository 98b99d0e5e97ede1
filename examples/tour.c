/*
 * A tour of the seed notebooks in C, in their order, through the public API
 * only: simple attention with one query, self-attention without weights,
 * scaled dot-product attention with its weights, why scaling matters,
 * trainable Q/K/V, causal and padding masks, multi-head split and concat.
 * Where a notebook's numbers are deterministic ("Cats love cozy windows",
 * np.random.seed(42)) the tour uses the same numbers; elsewhere it uses its
 * own seeded data. Next to the numbers it draws the notebooks' pictures
 * (attention_plot: PNG and SVG) into --pictures DIR, tour-pictures/ by
 * default.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/attention.h>

#include "np_random.h"
#include "tour_pictures.h"

/* ---- small helpers: seeded data, printing, error exit ------------------ */

static uint64_t rng_state = 42;

static double uniform01(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* Standard normal numbers (Box-Muller), like np.random.randn. */
static void randn(float *x /* (n) */, int n)
{
    for (int i = 0; i < n; ++i)
        x[i] = (float)(sqrt(-2.0 * log(1.0 - uniform01())) *
                       cos(6.283185307179586 * uniform01()));
}

static void check(attn_status s, const char *what)
{
    if (s != ATTN_OK) {
        fprintf(stderr, "%s: %s\n", what, attn_strerror(s));
        exit(1);
    }
}

static void print_matrix(const char *title, const float *x /* (rows, cols) */,
                         int rows, int cols)
{
    printf("%s\n", title);
    for (int r = 0; r < rows; ++r) {
        printf("  [");
        for (int c = 0; c < cols; ++c)
            printf("%s%7.4f", c ? ", " : "", x[r * cols + c]);
        printf("]\n");
    }
}

static void picture(const char *name, const plot_heatmap *h)
{
    if (tour_picture(name, h) != 0)
        exit(1);
}

/* One-batch, one-head descriptor: (T, d) inputs as in the notebooks. */
static attn_sdpa_desc single_head(int tq, int tk, int d, int dv, float scale)
{
    attn_sdpa_desc desc;
    check(attn_sdpa_desc_init(&desc, 1, 1, 1, tq, tk, d, dv), "desc");
    desc.scale = scale;
    return desc;
}

/* ---- 1. simple attention: one query vector ----------------------------- */

static void simple_attention(void)
{
    printf("\n== 1. Simple attention: one query against five word vectors\n");
    float words[5 * 10], query[10], output[10], weights[5];
    randn(words, 50);
    randn(query, 10);
    attn_sdpa_desc d = single_head(1, 5, 10, 10, 1.0f); /* the lesson does not scale */
    check(attn_sdpa_forward(&d, query, words, words, output, weights, NULL), "simple");
    print_matrix("Attention weights:", weights, 1, 5);
    double sum = 0.0;
    for (int i = 0; i < 5; ++i)
        sum += weights[i];
    printf("Sum of weights: %.4f (should be 1.0)\nOutput shape: (10,)\n", sum);
}

/* ---- 2. the self-attention matrix of "I love machine learning" -------- */

static void self_attention_matrix(void)
{
    printf("\n== 2. Self-attention matrix: \"I love machine learning\"\n");
    /* The notebook: np.random.seed(42); vecs = np.random.randn(4, 10);
     * each word's unscaled dot-product attention over all four. */
    static const char *const words[4] = {"I", "love", "machine", "learning"};
    float vecs[4 * 10], out[4 * 10], weights[16];
    np_random r;
    np_random_seed(&r, 42);
    np_random_randn(&r, vecs, 4 * 10);
    attn_sdpa_desc d = single_head(4, 4, 10, 10, 1.0f);
    check(attn_sdpa_forward(&d, vecs, vecs, vecs, out, weights, NULL), "matrix");
    print_matrix("Attention matrix (row = word, column = the word it attends to):",
                 weights, 4, 4);
    printf("Each row shows where that word 'pays attention'\n");
    const plot_panel panel = {NULL, weights};
    const plot_heatmap h = {
        .title = "Self-Attention Matrix", .x_label = "Attending to...",
        .y_label = "Word", .x_ticks = words, .y_ticks = words, .rows = 4,
        .cols = 4, .panels = &panel, .n_panels = 1,
        .bar_label = "Attention Weight", .lo = 0.0, .hi = 1.0, .values = 1,
        .note = "np.random.seed(42) word vectors (4 \u00d7 10), unscaled "
                "dot-product attention;\neach row sums to 1. Brighter = more "
                "attention."};
    picture("self_attention_matrix", &h);
}

/* ---- 3. self-attention without weights: Cats love cozy windows --------- */

static void self_attention_cats(void)
{
    printf("\n== 3. Self-attention without trainable weights: \"Cats love cozy windows\"\n");
    const float inputs[4 * 3] = {0.10f, 0.20f, 0.30f, 0.40f, 0.50f, 0.60f,
                                 0.70f, 0.80f, 0.10f, 0.90f, 0.10f, 0.20f};
    float scores[4], weights[16], context[12];
    attn_sdpa_desc one = single_head(1, 4, 3, 3, 1.0f);
    check(attn_sdpa_scores(&one, inputs + 3, inputs, scores), "scores");
    print_matrix("Attention scores of \"love\" (inputs[1] . x_i):", scores, 1, 4);
    attn_sdpa_desc all = single_head(4, 4, 3, 3, 1.0f);
    check(attn_sdpa_forward(&all, inputs, inputs, inputs, context, weights, NULL), "cats");
    print_matrix("Attention weights (softmax of inputs @ inputs.T):", weights, 4, 4);
    print_matrix("Context vector of \"love\":", context + 3, 1, 3);
    print_matrix("All context vectors (weights @ inputs):", context, 4, 3);
    static const char *const words[4] = {"Cats", "love", "cozy", "windows"};
    const plot_panel panel = {NULL, weights};
    const plot_heatmap h = {
        .title = "Self-attention weights: \"Cats love cozy windows\"",
        .x_label = "key (the word attended to)", .y_label = "query",
        .x_ticks = words, .y_ticks = words, .rows = 4, .cols = 4,
        .panels = &panel, .n_panels = 1, .bar_label = "attention weight",
        .values = 1,
        .note = "softmax(inputs @ inputs.T), unscaled, 3-d word vectors; "
                "each row sums to 1."};
    picture("cats_weights", &h);
}

/* ---- 4. scaled dot-product attention with its weights ------------------ */

static void scaled_dot_product(void)
{
    printf("\n== 4. Scaled dot-product attention: softmax(Q K^T / sqrt(d_k)) V\n");
    float emb[4 * 8], out[4 * 8], weights[16];
    randn(emb, 32);
    attn_sdpa_desc d = single_head(4, 4, 8, 8, 1.0f / sqrtf(8.0f));
    check(attn_sdpa_forward(&d, emb, emb, emb, out, weights, NULL), "sdpa");
    printf("Input shape: (4, 8)\nOutput shape: (4, 8)\nAttention weights shape: (4, 4)\n");
    print_matrix("Attention weights:", weights, 4, 4);
    printf("Each row sums to:");
    for (int r = 0; r < 4; ++r)
        printf(" %.4f", weights[4 * r] + weights[4 * r + 1] + weights[4 * r + 2] +
                            weights[4 * r + 3]);
    printf("\n");
}

/* ---- 5. why scaling matters -------------------------------------------- */

static void scaling(void)
{
    printf("\n== 5. Why scaling matters (d_k = 64; attention-bench-scaling measures it properly)\n");
    float q[3 * 64], k[3 * 64], scores[9];
    randn(q, 3 * 64);
    randn(k, 3 * 64);
    for (int scaled = 0; scaled < 2; ++scaled) {
        attn_sdpa_desc d = single_head(3, 3, 64, 64, scaled ? 1.0f / 8.0f : 1.0f);
        check(attn_sdpa_scores(&d, q, k, scores), "scores");
        float lo = scores[0], hi = scores[0];
        for (int i = 1; i < 9; ++i) {
            lo = fminf(lo, scores[i]);
            hi = fmaxf(hi, scores[i]);
        }
        printf("%s:\n  Scores: [%.4f, %.4f, %.4f]\n  Range: [%.2f, %.2f]\n",
               scaled ? "With scaling" : "Without scaling", scores[0], scores[1],
               scores[2], lo, hi);
    }
}

/* ---- 6. trainable Q/K/V projections ------------------------------------ */

static void trainable_qkv(void)
{
    printf("\n== 6. Trainable Wq, Wk, Wv: \"Your journey starts with one step\"\n");
    enum { T = 6, D_IN = 3, D_OUT = 2 };
    float x[T * D_IN], wq[D_OUT * D_IN], wk[D_OUT * D_IN], wv[D_OUT * D_IN];
    float q[T * D_OUT], k[T * D_OUT], v[T * D_OUT], context[T * D_OUT], weights[T * T];
    for (int i = 0; i < T * D_IN; ++i)
        x[i] = (float)uniform01();
    for (int i = 0; i < D_OUT * D_IN; ++i) {
        wq[i] = (float)uniform01();
        wk[i] = (float)uniform01();
        wv[i] = (float)uniform01();
    }
    /* nn.Linear(d_in, d_out, bias=False) weights are (d_out, d_in). */
    check(attn_linear_forward(x, wq, NULL, q, T, D_IN, D_OUT), "Wq");
    check(attn_linear_forward(x, wk, NULL, k, T, D_IN, D_OUT), "Wk");
    check(attn_linear_forward(x, wv, NULL, v, T, D_IN, D_OUT), "Wv");
    print_matrix("Query of x(2) \"journey\" (x(2) Wq^T):", q + D_OUT, 1, D_OUT);
    attn_sdpa_desc d = single_head(T, T, D_OUT, D_OUT, 1.0f / sqrtf((float)D_OUT));
    check(attn_sdpa_forward(&d, q, k, v, context, weights, NULL), "qkv");
    print_matrix("Attention weights of \"journey\":", weights + T, 1, T);
    print_matrix("Context vectors:", context, T, D_OUT);
}

/* ---- 7. causal and padding masks --------------------------------------- */

static void masks(void)
{
    printf("\n== 7. Masks: causal (torch.tril) and padding\n");
    enum { T = 8, C = 32, HS = 16 };
    float x[T * C], wk[HS * C], wq[HS * C], k[T * HS], q[T * HS];
    float out[T * C], wei[T * T];
    randn(x, T * C);
    const float bound = 1.0f / sqrtf((float)C); /* nn.Linear init */
    for (int i = 0; i < HS * C; ++i) {
        wk[i] = (float)(2.0 * uniform01() - 1.0) * bound;
        wq[i] = (float)(2.0 * uniform01() - 1.0) * bound;
    }
    check(attn_linear_forward(x, wk, NULL, k, T, C, HS), "key");
    check(attn_linear_forward(x, wq, NULL, q, T, C, HS), "query");
    /* wei = softmax(masked_fill(q @ k^T, tril == 0, -inf)); out = wei @ x */
    attn_sdpa_desc d = single_head(T, T, HS, C, 1.0f);
    d.causal = ATTN_CAUSAL_TOP_LEFT;
    check(attn_sdpa_forward(&d, q, k, x, out, wei, NULL), "causal");
    printf("out shape: (%d, %d)\n", T, C);
    print_matrix("wei (each token sees itself and the past):", wei, T, T);
    const plot_panel panel = {"causal (torch.tril): query i sees keys j \u2264 i", wei};
    const plot_heatmap h = {
        .title = "Causal self-attention weights (one head, T = 8)",
        .x_label = "key position", .y_label = "query position", .rows = T,
        .cols = T, .panels = &panel, .n_panels = 1,
        .bar_label = "attention weight", .lo = 0.0, .hi = 1.0, .values = 1,
        .note = "Above the diagonal the keys are in the future: masked, weight "
                "exactly 0.\nRow 0 can only see itself (weight 1); later rows "
                "share their weight over the past."};
    picture("causal_weights", &h);

    /* Padding: batch 1 has only 5 real keys; its 3 padded ones get 0. */
    int64_t lens[2] = {T, 5};
    float xb[2 * T * HS], outb[2 * T * HS], weib[2 * T * T];
    randn(xb, 2 * T * HS);
    attn_sdpa_desc p;
    check(attn_sdpa_desc_init(&p, 2, 1, 1, T, T, HS, HS), "desc");
    p.kv_lens = lens;
    check(attn_sdpa_forward(&p, xb, xb, xb, outb, weib, NULL), "padding");
    print_matrix("Batch 1, padded to 8 with 5 real keys: weights of its first query",
                 weib + T * T, 1, T);
}

/* ---- 8. multi-head: split, concat, and the full layer ------------------ */

static void multi_head(void)
{
    printf("\n== 8. Multi-head attention\n");
    enum { B = 1, T = 3, E = 12, H = 3 };
    printf("Model dimension: %d\nNumber of heads: %d\nDimension per head: %d\n", E, H, E / H);
    float x[B * T * E], heads[B * T * E], back[B * T * E], out[B * T * E];
    float weights[B * T * T], per_head[B * H * T * T];
    randn(x, B * T * E);
    check(attn_split_heads(x, heads, B, T, E, H), "split");
    check(attn_concat_heads(heads, back, B, T, E, H), "concat");
    int same = 1;
    for (int i = 0; i < B * T * E; ++i)
        same &= back[i] == x[i];
    printf("split (1, 3, 12) -> (1, 3, 3, 4) -> concat: %s\n",
           same ? "the same tensor back" : "MISMATCH");

    /* nn.MultiheadAttention(12, 3, batch_first=True): projections, heads,
     * concat and output projection in one layer. */
    attn_mha *layer;
    attn_mha_state *state;
    check(attn_mha_create(E, H, 0, 0, 1, 1337, &layer), "layer");
    check(attn_mha_state_create(layer, B, T, T, &state), "state");
    check(attn_mha_forward(layer, state, NULL, x, x, x, out, weights, 1), "mha");
    printf("Each head learns to attend to different patterns; the layer's output:\n");
    print_matrix("  out[0] (first token):", out, 1, E);
    print_matrix("  weights averaged over heads:", weights, T, T);
    /* The same call, weights per head (B, H, T, T) instead of averaged. */
    check(attn_mha_forward(layer, state, NULL, x, x, x, out, per_head, 0), "mha");
    char titles[H + 1][32];
    plot_panel panels[H + 1];
    for (int h = 0; h < H; ++h) {
        snprintf(titles[h], sizeof titles[h], "head %d", h);
        panels[h] = (plot_panel){titles[h], per_head + h * T * T};
    }
    panels[H] = (plot_panel){"mean over heads", weights};
    static const char *const tokens[T] = {"token 0", "token 1", "token 2"};
    const plot_heatmap hm = {
        .title = "Multi-head attention: the weights of each head",
        .x_label = "key", .y_label = "query", .x_ticks = tokens,
        .y_ticks = tokens, .rows = T, .cols = T, .panels = panels,
        .n_panels = H + 1, .bar_label = "attention weight", .lo = 0.0,
        .hi = 1.0, .values = 1,
        .note = "nn.MultiheadAttention(12, 3) at its initialisation (seed 1337), "
                "on 3 random tokens:\neach head has its own Wq, Wk slice and "
                "so its own pattern; the layer returns their mean."};
    picture("multi_head_weights", &hm);
    attn_mha_state_destroy(state);
    attn_mha_destroy(layer);
}

static const char usage[] =
    "usage: attention-tour [--pictures DIR | --no-pictures]\n\n"
    "Walks through the attention notebooks, printing their numbers and "
    "drawing\ntheir pictures as PNG and SVG:\n"
    "  --pictures DIR  where the pictures go (created if missing; default "
    "tour-pictures)\n"
    "  --no-pictures   numbers only\n";

int main(int argc, char **argv)
{
    const char *dir = "tour-pictures";
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], "--pictures") == 0 && i + 1 < argc && argv[i + 1][0]) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--no-pictures") == 0) {
            dir = NULL;
        } else {
            fputs(usage, strcmp(argv[i], "--help") == 0 ? stdout : stderr);
            return strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    printf("libattention %s: a tour of the attention notebooks\n", attn_version_string());
    if (tour_pictures_init(dir) != 0)
        return 1;
    simple_attention();
    self_attention_matrix();
    self_attention_cats();
    scaled_dot_product();
    scaling();
    trainable_qkv();
    masks();
    multi_head();
    plot_release();
    return 0;
}
