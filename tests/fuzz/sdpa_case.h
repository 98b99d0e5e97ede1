/*
 * One attention problem decoded from fuzz bytes, for fuzz_sdpa: a valid
 * descriptor (shapes, GQA, strides, scale, causal, kv_lens, keep_mask and
 * bias with broadcast strides, threads), input data, and what the run
 * should exercise (weights, lse, backward, an error probe).
 *
 * Byte layout (each field one byte unless noted; missing bytes read as 0):
 *   0 B-1   1 Hq-1   2 Hkv (index into the divisors of Hq)   3 Tq-1
 *   4 Tk-1  5 d-1    6 dv-1   7 scale (0: 1/sqrt(d), else x 2^((n%13-8)/2))
 *   8 causal (mod 3)
 *   9 flags: 1 kv_lens, 2 keep_mask, 4 bias, 8 weights, 16 lse,
 *            32 backward, 64 guard pages, 128 special values
 *  10 layouts of q, k, v, out (2 bits each, q lowest; see layout_of)
 *  11 padding (low 4 bits) and threads (high 4 bits: 1 + n % 3)
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

#define SDPA_MAX_B 2
#define SDPA_MAX_H 4
#define SDPA_MAX_T 70
#define SDPA_MAX_D 33

enum {
    FLAG_KV_LENS = 1, FLAG_KEEP = 2, FLAG_BIAS = 4, FLAG_WEIGHTS = 8,
    FLAG_LSE = 16, FLAG_BACKWARD = 32, FLAG_GUARD = 64, FLAG_SPECIAL = 128
};

typedef struct sdpa_case {
    attn_sdpa_desc d;        /* valid; algo and num_threads set per call */
    int threads;             /* 1..3 */
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

    int probe, probe_detail;
} sdpa_case;

/* Decodes and allocates; every input decodes to some valid case. */
void sdpa_case_decode(sdpa_case *c, const uint8_t *data, size_t size);
void sdpa_case_free(sdpa_case *c);

/* Inputs still equal their copies. */
int sdpa_case_inputs_intact(const sdpa_case *c);

#endif /* ATTN_FUZZ_SDPA_CASE_H */
