/*
 * One attention problem decoded from fuzz bytes, for fuzz_sdpa: a valid
 * descriptor (shapes, GQA, strides, scale, causal, kv_lens, keep_mask and
 * bias with broadcast strides, threads), input data, and what the run
 * should exercise (weights, lse, backward, a rerun, an error probe).
 *
 * Cases are small unless byte 8 asks for a large one (its top 6 bits all
 * set: 1 value in 64): most of the time goes into many small cases, which
 * reach every branch that does not depend on size; large ones cross the
 * 64-row boundaries (causal diagonal groups of the fused forward, query
 * blocks of the materialised path) and may have 2 batches of 3 or 4 heads.
 * Costs are bounded so that libFuzzer, which keeps inputs whose longer
 * loops give new hit counts, cannot drift to the costliest cases: a small
 * case has at most SDPA_SMALL_PAIRS (batch, head) pairs (each a task with
 * a large fixed cost in the instrumented kernels; beyond, B = 1), and
 * either kind a budget of score elements B Hq Tq Tk (SDPA_SMALL_SCORES,
 * SDPA_LARGE_SCORES): the longer of Tk and Tq is halved until it fits.
 *
 * Byte layout (each field one byte unless noted; missing bytes read as 0):
 *   0 B-1   1 Hq-1   2 Hkv (index into the divisors of Hq)
 *           (small: B = 1 when B Hq > 4)
 *   3 Tq-1  4 Tk-1   (mod 32; large: mod 70)
 *   5 d-1   6 dv-1   (mod 16; large: mod 33)
 *   7 scale (0: 1/sqrt(d), else x 2^((n%13-8)/2))
 *   8 causal (low 2 bits mod 3); top 6 bits all set (n >= 0xFC): large
 *   9 flags: 1 kv_lens, 2 keep_mask, 4 bias, 8 weights, 16 lse,
 *            32 backward, 64 guard pages, 128 special values
 *  10 layouts of q, k, v, out (2 bits each, q lowest; see layout_of)
 *  11 padding (bits 0-3), threads (bits 4-5: 1 + n % 3), rerun (bit 6:
 *     forward and backward again through the allocating entry points on
 *     another thread count, bit-identical), the path rerun (bit 7:
 *     0 the library's choice, 1 materialised)
 *  12 keep_mask strides (mod 6, see mask_strides)  13 keep density (/256)
 *  14 bias strides (mod 6)                         15 -INFINITY bias density
 *  16, 17 kv_lens[0], kv_lens[1] (mod Tk + 1)
 *  18..25 data seed (u64)
 *  26 error probe  27 probe detail
 *  28 special values: count (mod 8), then 4 bytes each: tensor, index
 *     (u16), value code (see sdpa_case.c)
 */
#ifndef ATTN_FUZZ_SDPA_CASE_H
#define ATTN_FUZZ_SDPA_CASE_H

#include <stddef.h>
#include <stdint.h>

#include <attention/sdpa.h>

#include "fuzz_check.h"
#include "fuzz_input.h"

#define SDPA_MAX_B 2
#define SDPA_MAX_H 4
#define SDPA_SMALL_T 32
#define SDPA_SMALL_D 16
#define SDPA_MAX_T 70
#define SDPA_MAX_D 33
/* Byte 8 at or above this: a large case. */
#define SDPA_LARGE_CODE 0xFC
/* At most this many (batch, head) pairs in a small case: B is 1 beyond. */
#define SDPA_SMALL_PAIRS 4
/* At most this many score elements (B Hq Tq Tk); see above. */
#define SDPA_SMALL_SCORES 256
#define SDPA_LARGE_SCORES 1024

enum {
    FLAG_KV_LENS = 1, FLAG_KEEP = 2, FLAG_BIAS = 4, FLAG_WEIGHTS = 8,
    FLAG_LSE = 16, FLAG_BACKWARD = 32, FLAG_GUARD = 64, FLAG_SPECIAL = 128
};

typedef struct sdpa_case {
    attn_sdpa_desc d;        /* valid; algo and num_threads set per call */
    int threads;             /* 1..3 */
    int large;               /* shapes beyond SDPA_SMALL_T / SDPA_SMALL_D */
    int rerun;               /* bit-identity on another thread count */
    int rerun_path;          /* 0 the library's choice, 1 materialised */
    unsigned flags;
    int64_t kv_lens[SDPA_MAX_B];

    fz_shape qs, ks, vs, os; /* q, k, v, out (out also dout) */
    fz_shape keep_sh, bias_sh;
    float *q, *k, *v;        /* spans of qs, ks, vs; gaps NaN */
    float *dout;             /* span of os */
    uint8_t *keep;           /* span of keep_sh, or NULL */
    float *bias;             /* span of bias_sh, or NULL */
    /* Copies of the inputs, to check that no call writes them. */
    float *q0, *k0, *v0, *bias0;

    /* q, k, v and (if used) bias hold only finite values, bias possibly
     * -INFINITY, all of modest size: results are comparable. */
    int finite;
    int dout_finite;

    /* Elements (1) and gaps (0) of each layout, over its span. */
    uint8_t *q_mark, *k_mark, *v_mark, *o_mark, *bias_mark;
    /* (B, Hq, Tq): 1 where the row sees no key (sdpa_row_masked). */
    uint8_t *masked;

    int probe, probe_detail;
} sdpa_case;

/* Decodes and allocates; every input decodes to some valid case. */
void sdpa_case_decode(sdpa_case *c, const uint8_t *data, size_t size);
void sdpa_case_free(sdpa_case *c);

/* Inputs still equal their copies. */
int sdpa_case_inputs_intact(const sdpa_case *c);

/* ---- sdpa_data.c: the element loops of decoding, built without coverage
 * (libFuzzer would only chase their loop comparisons). ---- */

/* A tensor's span filled with values in [-bound, bound], gaps NaN (the
 * library must never read a gap). */
float *sdpa_make_tensor(fz_shape sh, fuzz_rng *r, float bound, int guard);
/* n mask bytes, nonzero with probability density / 256. */
uint8_t *sdpa_make_keep(size_t n, fuzz_rng *r, unsigned density, int guard);
/* Elements of bias set to -INFINITY with probability p256 / 256. */
void sdpa_bias_neginf(float *bias, size_t n, fuzz_rng *r, unsigned p256);
/* After the special values: finiteness, NaN past kv_lens, copies of the
 * inputs, layout marks and masked rows. */
void sdpa_case_finish(sdpa_case *c);

#endif /* ATTN_FUZZ_SDPA_CASE_H */
