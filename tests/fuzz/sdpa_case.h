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
 * then the forward's K/V cache (sdpa.h "K/V storage", "Paged K/V"; an
 * input that ends before it has none: fp32 tensors):
 *   +0 bits 0-1 storage (0 fp32, 1 fp16, 2 bf16, 3 fp16), bit 2 paged,
 *      bits 3-4 pool layout (layout_of over (pages, Hkv, page, last)),
 *      bits 5-6 what unused table entries hold (see sdpa_case.c)
 *   +1 page_size - 1 (mod 24)   +2 num_pages - 1 (mod pages used + 3)
 *   +3 table columns past the most any batch uses (mod 3)
 *   +4 the table, B x max_pages bytes: an entry a batch uses is its byte
 *      mod num_pages (pages may repeat), any other one a value that would
 *      be a bad page if it were read
 * then the variants (sdpa.h "Variants"; an input that ends before them has
 * none):
 *   +0 bit 0 window, bit 1 ALiBi (bit 2: per batch), bit 3 softcap,
 *      bit 4 sinks, bits 5-7 n: position_shift (n + 4) % 8 - 4 (0 for 0)
 *   +1, +2 window_left, window_right: n % (Tk + 2) - 1
 *   +3 softcap 0.125 (1 + n % 64)
 *   +4 the slopes, B x Hq bytes (n / 64), then Hq sinks ((n - 128) / 16,
 *      255: -INFINITY)
 * K and V are rounded to the storage type (the reference and the checks
 * see the stored values); paged K and V are dense (B, Hkv, Tk, last)
 * tensors whose used rows fill the pages, a row that lands on a page row
 * another one filled taking its values, every other page row NaN.
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

/* At most this many block table entries: B x (pages of one key + 2). */
#define SDPA_MAX_TABLE (SDPA_MAX_B * (SDPA_MAX_T + 2))

typedef struct sdpa_case {
    /* valid, fp32 K and V in tensors of their own (the reference's and the
     * backward's); algo and num_threads set per call */
    attn_sdpa_desc d;
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

    /* The forward's K and V: d's tensors, or (cache) the same values
     * stored as fp16 / bf16 and / or in pages. */
    int cache;               /* lib is not d: 16-bit storage or pages */
    attn_sdpa_desc lib;      /* d with kv_dtype, the table, pool strides */
    const void *lib_k, *lib_v;
    fz_shape kp, vp;         /* lib's K and V: pools, or ks and vs */
    void *kx, *vx;           /* stored copies (cache), else NULL */
    size_t kx_bytes, vx_bytes;
    int32_t *table;          /* (B, lib.max_pages), or NULL */
    size_t table_n;
    void *kx0, *vx0;         /* copies, to check that nothing writes them */
    int32_t *table0;
    float slopes[SDPA_MAX_B * SDPA_MAX_H]; /* (B, Hq) ALiBi slopes */
    float sinks[SDPA_MAX_H];
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
/* After the special values: rounding to the storage type, pages,
 * finiteness, NaN past kv_lens, the stored copies, copies of the inputs,
 * layout marks and masked rows. */
void sdpa_case_finish(sdpa_case *c);

/* Keys batch b uses: kv_lens[b] when the case has them, else Tk. */
static inline int64_t sdpa_used_keys(const sdpa_case *c, int64_t b)
{
    return c->d.kv_lens ? c->d.kv_lens[b] : c->d.kv_len;
}

#endif /* ATTN_FUZZ_SDPA_CASE_H */
