/* Self-attention over four 3-d word vectors ("Cats love cozy windows"),
 * unscaled as in the tutorial: prints the attention weights and the
 * context vectors. */
#include <attention/attention.h>
#include <stdio.h>

int main(void)
{
    const float x[4 * 3] = {0.10f, 0.20f, 0.30f,  0.40f, 0.50f, 0.60f,
                            0.70f, 0.80f, 0.10f,  0.90f, 0.10f, 0.20f};
    float context[4 * 3], weights[4 * 4];
    attn_sdpa_desc desc;
    attn_sdpa_desc_init(&desc, 1, 1, 1, 4, 4, 3, 3); /* B, Hq, Hkv, Tq, Tk, d, dv */
    desc.scale = 1.0f;                                /* the tutorial does not scale */
    attn_status s = attn_sdpa_forward(&desc, x, x, x, context, weights, NULL);
    if (s != ATTN_OK) {
        fprintf(stderr, "attention failed: %s\n", attn_strerror(s));
        return 1;
    }
    for (int i = 0; i < 4; ++i)
        printf("weights %.4f %.4f %.4f %.4f   context %.4f %.4f %.4f\n",
               weights[4 * i], weights[4 * i + 1], weights[4 * i + 2], weights[4 * i + 3],
               context[3 * i], context[3 * i + 1], context[3 * i + 2]);
    return 0;
}
