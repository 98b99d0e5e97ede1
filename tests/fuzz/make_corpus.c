/*
 * Writes the seed corpora of the fuzzers into <dir>/{sdpa,mha,heads,
 * safetensors}/ (usage: fuzz_make_corpus <dir>). The files are checked in
 * under tests/fuzz/corpus/; rerun through make_corpus.sh after changing
 * an input format. Byte layouts: sdpa_case.h, fuzz_mha.c, fuzz_heads.c;
 * safetensors seeds are whole files.
 */
/* mkdir: POSIX. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <attention/mha.h>
#include <attention/safetensors.h>

#include "safetensors_json.h"

static const char *root;

static void write_seed(const char *what, const char *name, const void *bytes,
                       size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", root, what, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* ---- sdpa (see sdpa_case.h) ------------------------------------------------ */

typedef struct sdpa_seed {
    const char *name;
    unsigned B, Hq, hkv_index, Tq, Tk, d, dv, scale, causal, large, flags,
        layouts, pad, keep_mode, keep_density, bias_mode, inf_density, kv0, kv1;
    unsigned special[10]; /* count, then (tensor, index, code) */
} sdpa_seed;

/* A seed with a K/V cache: the bytes after the specials (sdpa_case.h). */
typedef struct cache_seed {
    sdpa_seed s;
    unsigned kv_n;
    unsigned char kv[40];
} cache_seed;

enum { KV = 1, KEEP = 2, BIAS = 4, W = 8, LSE = 16, BWD = 32, GUARD = 64,
       SPECIAL = 128 };
/* Byte 11 (pad): threads 1 + n % 3 in bits 4-5, a rerun of the fused or
 * the materialised path in bits 6-7. */
enum { T2 = 0x10, T3 = 0x20, RERUN_FUSED = 0x40, RERUN_MAT = 0xC0 };
/* Tensors and value codes of special values (sdpa_case.c). */
enum { SQ = 0, SK = 1, SV = 2, SBIAS = 3, SDOUT = 4 };
enum { NAN_CODE = 0, INF_CODE = 1, NEG_INF_CODE = 2, HUGE_CODE = 3 };

/* Byte +0 of the K/V cache: storage, paged, pool layout, unused entries. */
enum { F16 = 1, BF16 = 2, PAGED = 4, POOL_BTHD = 1 << 3, POOL_PADDED = 2 << 3,
       POOL_ALIASED = 3 << 3, UNUSED_PAST = 1 << 5, UNUSED_MIN = 2 << 5,
       UNUSED_ANY = 3 << 5 };

/* Byte +0 of the variants. */
enum { VAR_WINDOW = 1, VAR_ALIBI = 2, VAR_ALIBI_BATCH = 4, VAR_SOFTCAP = 8,
       VAR_SINKS = 16, VAR_SHIFT_MINUS_2 = 6 << 5 };

static void sdpa_bytes(const sdpa_seed *s, const unsigned char *kv,
                       unsigned kv_n, unsigned probe, unsigned detail,
                       unsigned char b[128], size_t *n)
{
    /* Sizes are stored as n - 1; small cases take them mod 32 (T) and 16
     * (d) within 4 (batch, head) pairs and 256 score elements, large ones
     * mod 70 and 33 within 1024 (sdpa_case.h): the seeds stay inside, so
     * they decode as written. */
    const unsigned v[] = {s->B - 1, s->Hq - 1, s->hkv_index, s->Tq - 1,
                          s->Tk - 1, s->d - 1, s->dv - 1, s->scale,
                          s->causal | (s->large ? 0xFC : 0), s->flags,
                          s->layouts, s->pad, s->keep_mode, s->keep_density,
                          s->bias_mode, s->inf_density, s->kv0, s->kv1};
    const unsigned T = s->large ? 70 : 32, D = s->large ? 33 : 16;
    const unsigned budget = s->large ? 1024 : 256; /* B Hq Tq Tk */
    if (s->Tq > T || s->Tk > T || s->d > D || s->dv > D ||
        (!s->large && s->B * s->Hq > 4) ||
        s->B * s->Hq * s->Tq * s->Tk > budget) {
        fprintf(stderr, "sdpa seed %s: sizes beyond its range\n", s->name);
        exit(1);
    }
    size_t k = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; ++i)
        b[k++] = (unsigned char)v[i];
    for (int i = 0; i < 8; ++i) /* data seed */
        b[k++] = (unsigned char)(0x5A + 17 * i + s->Tq);
    b[k++] = (unsigned char)probe;
    b[k++] = (unsigned char)detail;
    b[k++] = (unsigned char)s->special[0];
    for (unsigned i = 0; i < s->special[0] && i < 3; ++i) {
        b[k++] = (unsigned char)s->special[1 + 3 * i];
        b[k++] = (unsigned char)(s->special[2 + 3 * i] & 0xFF);
        b[k++] = (unsigned char)(s->special[2 + 3 * i] >> 8);
        b[k++] = (unsigned char)s->special[3 + 3 * i];
    }
    for (unsigned i = 0; i < kv_n; ++i)
        b[k++] = kv[i];
    *n = k;
}

static const sdpa_seed sdpa_seeds[] = {
    /* name            B Hq hi Tq Tk  d dv sc ca lg flags layouts pad km kd bm id kv0 kv1 */
    {"plain",          1, 1, 0, 8, 8, 16, 16, 0, 0, 0, W | LSE, 0, T2, 0, 0, 0, 0, 0, 0, {0}},
    {"causal-tl-bwd",  1, 1, 0, 17, 15, 8, 8, 0, 1, 0, W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 0, 0, {0}},
    {"causal-br-tk-gt-tq", 1, 1, 0, 5, 30, 12, 6, 0, 2, 0, KV | LSE | BWD, 0, T3 | RERUN_MAT, 0, 0, 0, 0, 23, 7, {0}},
    {"kv-lens-zero",   2, 1, 0, 9, 13, 4, 5, 0, 0, 0, KV | W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 0, 13, {0}},
    {"keep-per-batch", 2, 2, 0, 4, 16, 7, 7, 0, 0, 0, KEEP | W | LSE | BWD, 0, T2 | RERUN_MAT, 2, 128, 0, 0, 0, 0, {0}},
    {"keep-row-guard", 1, 3, 0, 2, 30, 5, 9, 0, 0, 0, KEEP | W | GUARD | BWD | LSE, 0, T2, 4, 200, 0, 0, 0, 0, {0}},
    {"bias-full-neginf", 1, 2, 1, 8, 12, 8, 8, 0, 0, 0, BIAS | W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 1, 64, 0, 0, {0}},
    {"all-masks",      2, 2, 0, 7, 9, 9, 11, 0, 2, 0, 0x3F, 0, 0x21 | RERUN_MAT, 3, 180, 5, 40, 5, 9, {0}},
    {"mqa-bthd",       1, 4, 0, 6, 10, 6, 6, 0, 1, 0, W | LSE | BWD, 0x55, T2, 0, 0, 0, 0, 0, 0, {0}},
    {"gqa-padded",     1, 4, 1, 7, 9, 5, 3, 0, 0, 0, LSE | BWD | GUARD, 0xAA, 0x2F | RERUN_FUSED, 0, 0, 0, 0, 0, 0, {0}},
    {"broadcast-inputs", 2, 2, 0, 6, 6, 4, 4, 0, 0, 0, W | LSE | BWD, 0xFF, T3 | RERUN_MAT, 1, 128, 0, 0, 0, 0, {0}},
    /* Large: more than 64 query rows (the causal diagonal groups of the
     * fused path, the 64-row blocks of the materialised one), 33 dims,
     * 2 batches of 4 heads. */
    {"large-blocks",   1, 2, 1, 70, 7, 33, 33, 0, 1, 1, W | LSE | BWD, 0, T3 | RERUN_FUSED, 0, 0, 0, 0, 0, 0, {0}},
    {"large-pairs",    2, 4, 1, 16, 8, 5, 7, 0, 0, 1, KV | KEEP | W | LSE | BWD, 0x1B, T3 | RERUN_MAT, 3, 160, 0, 0, 11, 6, {0}},
    {"large-causal-br-kv", 1, 1, 0, 67, 15, 9, 17, 0, 2, 1, KV | W | LSE | BWD | GUARD, 0x40, T2 | RERUN_MAT, 0, 0, 0, 0, 12, 0, {0}},
    {"tiny",           1, 1, 0, 1, 1, 1, 1, 0, 2, 0, KV | W | LSE | BWD, 0, T2, 0, 0, 0, 0, 1, 1, {0}},
    {"scale-small",    1, 1, 0, 16, 16, 16, 8, 1, 0, 0, W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 0, 0, {0}},
    {"scale-large",    1, 1, 0, 14, 70, 3, 8, 12, 1, 1, W | LSE | BWD, 0, T2, 0, 0, 0, 0, 0, 0, {0}},
    {"specials",       1, 2, 0, 8, 8, 4, 4, 0, 0, 0, BIAS | W | LSE | BWD | SPECIAL, 0, T2, 0, 0, 1, 30, 0, 0,
     {2, SQ, 5, NAN_CODE, SBIAS, 17, NEG_INF_CODE}},
    {"nan-key-masked", 2, 1, 0, 4, 12, 4, 4, 0, 1, 0, KV | W | LSE | BWD | SPECIAL, 0, T2, 0, 0, 0, 0, 3, 12,
     {1, SK, 40, NAN_CODE}},
    /* Library bug: every row masked by keep_mask (density 0), NaN in key
     * 1, in q and in dout: the backward gave dq = NaN instead of 0 (and
     * NaN in dk, dv). */
    {"regress-masked-row-nan", 1, 1, 0, 2, 2, 1, 1, 0, 0, 0, KEEP | LSE | BWD | SPECIAL, 0, T2, 0, 0, 0, 0, 0, 0,
     {3, SK, 1, NAN_CODE, SQ, 0, NAN_CODE, SDOUT, 1, NAN_CODE}},
};

/* K/V caches: kv = {storage | paged | pool | unused entries, page size - 1,
 * num_pages code, spare columns, table bytes...} (sdpa_case.h). The
 * backward is refused for each of them. */
static const cache_seed cache_seeds[] = {
    {{"cache-f16", 2, 2, 0, 3, 20, 16, 8, 0, 0, 0, KV | W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 20, 7, {0}},
     1, {F16}},
    /* strided with padding, head sizes with tails, an Inf key and a value
     * too large for fp16 (not for bf16) */
    {{"cache-bf16-tails-inf", 1, 2, 0, 4, 30, 13, 9, 0, 2, 0, KV | LSE | SPECIAL, 0x2A, T3 | RERUN_MAT, 0, 0, 0, 0, 30, 0,
      {2, SV, 40, HUGE_CODE, SK, 3, INF_CODE}},
     1, {BF16}},
    /* pages of 4, 8 pages shuffled: batch 0 (17 keys) 5, batch 1 (9) 3;
     * two columns past them */
    {{"paged-f32-shuffled", 2, 2, 0, 3, 17, 8, 8, 0, 0, 0, KV | W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 17, 9, {0}},
     18, {PAGED, 3, 7, 2, 6, 2, 7, 0, 4, 9, 200, 5, 1, 3, 0, 1, 2, 3}},
    /* pages of one row in a (pages, ps, Hkv, d) pool, 15 pages for 23
     * keys: rows share pages */
    {{"paged-f16-ps1-bthd", 1, 4, 1, 2, 30, 5, 7, 0, 2, 0, KV | LSE | W, 0, T3, 0, 0, 0, 0, 23, 0, {0}},
     28, {F16 | PAGED | POOL_BTHD | UNUSED_MIN, 0, 40, 1, 3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2,
          6, 4}},
    /* two sequences on the same three pages of 7, padded pools, masks */
    {{"paged-bf16-shared-guard", 2, 1, 0, 6, 20, 16, 16, 0, 1, 0, KEEP | BIAS | W | LSE | BWD | GUARD, 0, T2 | RERUN_MAT, 1, 200, 5, 20, 0, 0, {0}},
     10, {BF16 | PAGED | POOL_PADDED | UNUSED_ANY, 6, 2, 0, 0, 1, 2, 0, 1, 2}},
    /* large: pages of 17 in a pool whose page stride is 0 (every page the
     * same memory), GQA */
    {{"paged-large-aliased", 2, 4, 1, 2, 64, 33, 16, 0, 2, 1, KV | LSE, 0, T3 | RERUN_FUSED, 0, 0, 0, 0, 50, 64, {0}},
     14, {F16 | PAGED | POOL_ALIASED | UNUSED_PAST, 16, 5, 1, 1, 2, 3, 0, 9, 5, 4, 3, 2, 1}},
    /* The variants (fp32 tensors, then the variant bytes of sdpa_case.h:
     * code, window_left + 1, window_right + 1, softcap, 8 slopes, 4 sinks).
     * A bottom-right window of 3/0 with kv_lens, GQA and the backward: */
    {{"variants-window", 2, 2, 0, 5, 12, 8, 6, 0, 2, 0, KV | W | LSE | BWD, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 12, 3, {0}},
     17, {0, VAR_WINDOW, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 128, 128, 128, 128}},
    /* ALiBi per batch, a softcap of 2.625 and sinks (one of them -inf),
     * with keep_mask and bias: */
    {{"variants-alibi-softcap-sinks", 2, 2, 1, 6, 9, 5, 4, 0, 0, 0, KEEP | BIAS | W | LSE | BWD, 0, T3 | RERUN_MAT, 1, 170, 2, 30, 0, 0, {0}},
     17, {0, VAR_ALIBI | VAR_ALIBI_BATCH | VAR_SOFTCAP | VAR_SINKS, 0, 0, 20, 16, 32, 48, 8, 4, 64, 2, 1, 140, 255, 100, 128}},
    /* large (d 17): everything at once, MQA, top-left causal, a window
     * of 9/2, position_shift -2, kv_lens 21, and special values */
    {{"variants-everything-large", 1, 2, 0, 20, 25, 17, 9, 0, 1, 1, KV | LSE | BWD | SPECIAL, 0, T2 | RERUN_FUSED, 0, 0, 0, 0, 21, 0,
      {2, SQ, 30, HUGE_CODE, SK, 7, NAN_CODE}},
     17, {0, VAR_WINDOW | VAR_ALIBI | VAR_SOFTCAP | VAR_SINKS | VAR_SHIFT_MINUS_2, 10, 3, 40, 32, 16, 8, 4, 2, 1, 64, 128, 120, 150, 90, 200}},
};

static void sdpa_corpus(void)
{
    unsigned char b[128];
    size_t n;
    char name[64];
    const size_t count = sizeof sdpa_seeds / sizeof sdpa_seeds[0];
    for (size_t i = 0; i < count; ++i) {
        sdpa_bytes(&sdpa_seeds[i], NULL, 0, (unsigned)i, (unsigned)(i * 37), b, &n);
        write_seed("sdpa", sdpa_seeds[i].name, b, n);
    }
    for (size_t i = 0; i < sizeof cache_seeds / sizeof cache_seeds[0]; ++i) {
        const cache_seed *c = &cache_seeds[i];
        sdpa_bytes(&c->s, c->kv, c->kv_n, (unsigned)(count + i),
                   (unsigned)((count + i) * 37), b, &n);
        write_seed("sdpa", c->s.name, b, n);
    }
    /* Every error probe once, on a small case with every input (kv_lens,
     * keep_mask, bias: some probes alias or bend them) and no backward or
     * rerun, so that the mutations of these seeds stay cheap. */
    static const sdpa_seed probe_base =
        {"probe", 2, 2, 0, 3, 5, 3, 4, 0, 2, 0, KV | KEEP | BIAS | LSE, 0, 0, 3, 180, 5, 40, 3, 5, {0}};
    for (unsigned p = 0; p < 25; ++p) {
        sdpa_bytes(&probe_base, NULL, 0, p, p * 29 + 3, b, &n);
        snprintf(name, sizeof name, "probe-%02u", p);
        write_seed("sdpa", name, b, n);
    }
    /* Every probe again on a paged fp16 case (pages of 2, shuffled, the
     * unused entries past num_pages): the probes see the case's cache;
     * 25 and up are the cache's own. */
    static const cache_seed cache_base =
        {{"probe-cache", 2, 2, 0, 3, 5, 3, 4, 0, 2, 0, KV | KEEP | BIAS | LSE, 0, 0, 3, 180, 5, 40, 3, 5, {0}},
         12, {F16 | PAGED | UNUSED_PAST, 1, 6, 1, 4, 0, 2, 7, 5, 3, 1, 9}};
    for (unsigned p = 0; p < 32; ++p) {
        sdpa_bytes(&cache_base.s, cache_base.kv, cache_base.kv_n, p, p * 29 + 3,
                   b, &n);
        snprintf(name, sizeof name, "probe-cache-%02u", p);
        write_seed("sdpa", name, b, n);
    }
}

/* ---- mha (see fuzz_mha.c) ---------------------------------------------------- */

static void mha_corpus(void)
{
    static const struct {
        const char *name;
        unsigned char b[21];
    } seeds[] = {
        /*          H-1 dh-1 kc vc flags B-1 Tq-1 Tk-1 ca modes dens kv0 kv1 seed */
        {"self-bias-bwd", {1, 3, 0, 0, 0x83, 1, 4, 4, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}},
        {"cross-kdim-vdim", {1, 1, 4, 6, 0xA5, 1, 3, 8, 2, 0, 0, 5, 2, 9, 8, 7, 6, 5, 4, 3, 2}},
        {"averaged-masks", {2, 2, 0, 0, 0xF9, 0, 6, 9, 1, 0x21, 170, 7, 9, 4, 4, 4, 4, 4, 4, 4, 4}},
        {"one-head-e1", {0, 0, 0, 0, 0x80, 0, 2, 3, 0, 0, 0, 0, 0, 7, 7, 7, 7, 7, 7, 7, 7}},
        {"e32-long", {3, 7, 0, 0, 0xE1, 1, 11, 11, 1, 0x13, 200, 11, 4, 1, 1, 2, 3, 5, 8, 13, 21}},
        {"kv-lens-zero", {1, 2, 3, 0, 0x85, 1, 5, 6, 0, 0, 0, 0, 6, 2, 7, 1, 8, 2, 8, 1, 8}},
        /* bottom-right causal + window, ALiBi, softcap and the sinks
         * parameter, with kv_lens and the backward */
        {"variants-sinks", {2, 2, 0, 0, 0x87, 1, 6, 6, 2 | 4 | 8 | 16 | 32, 0, 0, 3, 6, 5, 3, 5, 8, 9, 7, 9, 3}},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; ++i)
        write_seed("mha", seeds[i].name, seeds[i].b, sizeof seeds[i].b);
}

/* ---- heads (see fuzz_heads.c) -------------------------------------------------- */

static void heads_corpus(void)
{
    static const struct {
        const char *name;
        unsigned char b[15];
    } seeds[] = {
        /*              B-1 T-1 H-1 dh-1 probe detail flags seed */
        {"round-trip", {1, 6, 3, 2, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}},
        {"guard-adjacent", {2, 19, 7, 8, 0, 1, 3, 9, 9, 9, 9, 9, 9, 9, 9}},
        {"null-src", {0, 2, 1, 1, 1, 2, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"null-dst", {0, 2, 1, 1, 2, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"bad-dim", {0, 2, 1, 1, 3, 0x94, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"mismatch", {1, 3, 2, 3, 4, 6, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"overlap", {1, 3, 2, 3, 5, 0x42, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"overflow", {0, 0, 1, 0, 6, 0x10, 0, 1, 1, 1, 1, 1, 1, 1, 1}},
    };
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; ++i)
        write_seed("heads", seeds[i].name, seeds[i].b, sizeof seeds[i].b);
}

/* ---- safetensors ------------------------------------------------------------------ */

/* Saved with attn_params_save, then copied into the corpus. */
static void save_seed(const char *name, const attn_param *p, size_t count)
{
    char path[512];
    snprintf(path, sizeof path, "%s/safetensors/%s", root, name);
    if (attn_params_save(p, count, path) != ATTN_OK) {
        fprintf(stderr, "cannot save %s\n", path);
        exit(1);
    }
}

static void put_le32(unsigned char *p, float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    for (int i = 0; i < 4; ++i)
        p[i] = (unsigned char)(x >> (8 * i));
}

/* As tests/test_safetensors.c assembles its table: header length (the
 * true one unless fake_len), JSON, data_bytes of (i * 0.5 - 3.25). */
static void table_seed(const char *name, const char *json, size_t json_len,
                       int fake_len, uint64_t header_len, size_t data_bytes)
{
    if (json_len == 0)
        json_len = strlen(json);
    if (!fake_len)
        header_len = json_len;
    const size_t n = 8 + json_len + data_bytes;
    unsigned char *b = calloc(n + 4, 1);
    if (b == NULL)
        exit(1);
    for (int i = 0; i < 8; ++i)
        b[i] = (unsigned char)(header_len >> (8 * i));
    memcpy(b + 8, json, json_len);
    for (size_t i = 0; i * 4 < data_bytes; ++i)
        put_le32(b + 8 + json_len + 4 * i, (float)i * 0.5f - 3.25f);
    char file[128];
    snprintf(file, sizeof file, "table-%s", name);
    write_seed("safetensors", file, b, n);
    free(b);
}

#define T(name, json, data) table_seed(name, json, 0, 0, 0, data)
#define T_LEN(name, json, len, data) table_seed(name, json, 0, 1, len, data)

static void safetensors_corpus(void)
{
    float a[6] = {1, -2, 3.5f, 0, -0.0f, 1e-40f}, b[4] = {9, 8, 7, 6};
    float w[3 * 4 * 5 * 2];
    for (size_t i = 0; i < sizeof w / sizeof w[0]; ++i)
        w[i] = (float)i / 7.0f;
    attn_param ab[2] = {{"a", a, NULL, 2, {2, 3}}, {"b", b, NULL, 1, {4}}};
    save_seed("saved-a-b", ab, 2);
    attn_param four = {"w.4d", w, NULL, 4, {3, 4, 5, 2}};
    save_seed("saved-4d", &four, 1);
    attn_param utf8 = {"caf\xc3\xa9.\xe2\x82\xac", b, NULL, 1, {4}};
    save_seed("saved-utf8-name", &utf8, 1);
    attn_mha *layer;
    const attn_param *p;
    size_t count;
    if (attn_mha_create(4, 2, 3, 5, 1, 7, &layer) != ATTN_OK ||
        attn_mha_params(layer, &p, &count) != ATTN_OK)
        exit(1);
    save_seed("saved-mha-cross", p, count);
    attn_mha_destroy(layer);

    /* A representative part of the malformed-file table. */
    T("valid", VALID, 40);
    T("padded", VALID " \t\r\n", 40);
    T("metadata-first", "{\"__metadata__\":{\"format\":\"pt\"}," A_OK "," B_OK "}", 40);
    T("reversed-keys", "{" B_OK "," A_OK "}", 40);
    T("unknown-field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":"
      "[0,24],\"x\":[1]}," B_OK "}", 40);
    write_seed("safetensors", "table-seven-bytes", "\x58\0\0\0\0\0\0", 7);
    T_LEN("header-len-0", "", 0, 0);
    T_LEN("header-len-huge", VALID, UINT64_MAX, 40);
    T_LEN("header-len-over-cap", VALID, 100000001, 40);
    T_LEN("header-len-past-file", VALID, sizeof VALID - 1 + 41, 40);
    T_LEN("header-len-cuts-json", VALID, sizeof VALID - 2, 40);
    T("not-json", "{not json}", 40);
    T("json-array", "[1,2]", 40);
    T("leading-space", " " VALID, 40);
    T("trailing-text", VALID "x", 40);
    table_seed("nul-after-object", VALID "\0   ", sizeof VALID + 3, 0, 0, 40);
    T("escaped-nul-key", "{\"a\\u0000\":{\"dtype\":\"F32\",\"shape\":[2,3],"
      "\"data_offsets\":[0,24]}," B_OK "}", 40);
    T("bad-utf8-key", "{\"\xff\":{\"dtype\":\"F32\",\"shape\":[2,3],"
      "\"data_offsets\":[0,24]}," B_OK "}", 40);
    T("duplicate-name", "{" A_OK "," A_OK "," B_OK "}", 40);
    T("duplicate-in-metadata", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"},"
      A_OK "," B_OK "}", 40);
    T("entry-null", "{\"a\":null," B_OK "}", 40);
    T("dtype-missing", "{\"a\":{\"shape\":[2,3],\"data_offsets\":[0,24]}," B_OK "}", 40);
    T("shape-negative", WITH_A("\"F32\"", "[-2,3]", "[0,24]"), 40);
    T("shape-real", WITH_A("\"F32\"", "[2.0,3]", "[0,24]"), 40);
    T("shape-overflow", WITH_A("\"F32\"", "[4294967296,4294967296,4]", "[0,24]"), 40);
    T("shape-past-64-bits", WITH_A("\"F32\"", "[18446744073709551616]", "[0,24]"), 40);
    T("offsets-three", WITH_A("\"F32\"", "[2,3]", "[0,24,24]"), 40);
    T("offsets-reversed", WITH_A("\"F32\"", "[2,3]", "[24,0]"), 40);
    T("offsets-near-2-63", WITH_A("\"F32\"", "[2,3]", "[0,9223372036854775807]"), 40);
    T("bytes-short", "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,20]") ","
      ENTRY("b", "\"F32\"", "[4]", "[20,36]") "}", 36);
    T("data-short", VALID, 36);
    T("trailing-byte", VALID, 41);
    T("overlap", "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,24]") ","
      ENTRY("b", "\"F32\"", "[4]", "[16,32]") "}", 32);
    T("hole", "{" ENTRY("a", "\"F32\"", "[2,3]", "[0,24]") ","
      ENTRY("b", "\"F32\"", "[4]", "[28,44]") "}", 44);
    T("dtype-f16", "{" ENTRY("a", "\"F16\"", "[2,3]", "[0,12]") ","
      ENTRY("b", "\"F32\"", "[4]", "[12,28]") "}", 28);
    T("dtype-i32", WITH_A("\"I32\"", "[2,3]", "[0,24]"), 40);
    T("metadata-number", "{\"__metadata__\":{\"format\":1}," A_OK "," B_OK "}", 40);
    T("missing-name", "{" A_OK "}", 24);
    T("extra-empty-tensor", "{" A_OK "," B_OK "," ENTRY("c", "\"F32\"", "[0]",
      "[40,40]") "}", 40);
    T("shape-transposed", WITH_A("\"F32\"", "[3,2]", "[0,24]"), 40);
    T("shape-rank-5", WITH_A("\"F32\"", "[1,1,1,2,3]", "[0,24]"), 40);
    T("scalar-shape", "{" ENTRY("a", "\"F32\"", "[]", "[0,4]") ","
      ENTRY("b", "\"F32\"", "[4]", "[4,20]") "}", 20);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus dir>\n", argv[0]);
        return 2;
    }
    root = argv[1];
    const char *dirs[] = {"sdpa", "mha", "heads", "safetensors"};
    char path[512];
    mkdir(root, 0777);
    for (int i = 0; i < 4; ++i) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        mkdir(path, 0777);
    }
    sdpa_corpus();
    mha_corpus();
    heads_corpus();
    safetensors_corpus();
    return 0;
}
