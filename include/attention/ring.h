/*
 * Sequence-parallel ("ring") attention over MPI: libattention_mpi, an
 * optional component (CMake target attention::mpi, pkg-config attention-mpi;
 * README "Sequence parallelism over MPI"). The core libattention never
 * depends on MPI; this library uses only its public API.
 *
 * The sequence of every batch is cut into equal chunks, one set of chunks per
 * rank of an MPI communicator of P ranks. Each rank keeps its query rows and
 * the K/V rows of its own chunks; the K/V blocks travel round the ring (rank
 * r sends to r + 1 and receives from r - 1, modulo P) with non-blocking
 * sends and receives of the next block while the block in hand is computed
 * (attn_sdpa_forward_ws with its log-sum-exp). The partial results of the P
 * blocks are merged exactly (attn_merge_partials), in step order, so the
 * output equals single-process attention over the whole sequence to float
 * rounding, and is bit-identical between runs with the same P, layout and
 * descriptor.
 *
 * Layouts (attn_ring_layout) of a sequence of T rows over P ranks:
 *   ATTN_RING_CONTIGUOUS  rank r holds rows [r T/P, (r + 1) T/P): one chunk
 *                         of C = T/P rows (global chunk r).
 *   ATTN_RING_ZIGZAG      the sequence is cut into 2P chunks of C = T/(2P)
 *                         rows; rank r holds chunk r followed by chunk
 *                         2P - 1 - r (its local rows 0..C-1 and C..2C-1).
 * Every rank holds the same number of rows. attn_ring_positions gives the
 * global position of each local row (for RoPE); attn_ring_shard_rows /
 * attn_ring_unshard_rows cut a global tensor into a rank's rows and back,
 * attn_ring_scatter / attn_ring_gather do it over the communicator.
 *
 * Work per rank (causal, one unit = T^2/2 / P^2 score pairs, i.e. a chunk
 * pair of the contiguous layout counts 2 units, its diagonal 1):
 *   contiguous: rank r computes 2r + 1 units: rank P-1 does 2P - 1 times
 *               the work of rank 0, and since the ring advances in
 *               lockstep each of the P steps but the first costs a full
 *               chunk pair on some rank: about 2P - 1 units of time;
 *   zigzag:     every rank computes P units (step 0: its two chunks against
 *               themselves, causally; every later step: one chunk of C rows
 *               against two, or two against one): T^2/2 / P per rank, the
 *               ideal, about twice as fast as contiguous for large P.
 * Without a causal mask both layouts do T^2 / P score pairs per rank.
 *
 * What is supported across ranks: no mask; ATTN_CAUSAL_TOP_LEFT (query i
 * sees keys j <= i, positions global; needs q_len == kv_len, i.e.
 * self-attention over one sharded sequence); ATTN_CAUSAL_BOTTOM_RIGHT
 * (query i sees keys j <= i + L - T, T = P * q_len the global query count,
 * L the batch entry's global valid length; any q_len and kv_len); kv_lens
 * (key padding: batch b sees global keys j < kv_lens[b]); grouped-query
 * and multi-query heads; strided Q, K, V, out; cross-attention (q_len !=
 * kv_len, both sharded by the same layout) without a mask or with
 * bottom-right causal; and the core's variants over the global sequence:
 * sliding windows (window_left, window_right), ALiBi, softcap and sinks.
 *
 * Masks and variants across ranks. Each core call is one (query chunk, key
 * chunk) pair; bottom-right causal, the window and ALiBi align query i
 * with global key i + L - T, and the call keeps that alignment through the
 * core's position_shift: for query rows from global row qs and key rows
 * from ks, with len = min(max(L - ks, 0), key chunk) valid keys in the
 * call, shift = (qs + L - T) - (ks + len - query chunk). A pair whose key
 * chunk no query of the query chunk may see (outside every query's window,
 * past the causal diagonal, or wholly padding) is not computed, so a
 * window's compute scales with its band (the K/V blocks still travel the
 * whole ring: P - 1 hops per block whatever the window). The softcap is
 * elementwise and applies per pair as it is. A sink counts once per row:
 * the pair calls run without sinks, and after the exact merge of all keys
 * each row takes its sink once (lse = log(e^L + e^sink), out scaled by
 * e^(L - lse)), so out and lse equal the core's over the whole sequence;
 * the backward's pair calls get that global lse (and the sinks, which the
 * core uses only to tell rows that saw nothing, lse == sink, which take
 * part in no product, so NaN in their dout reaches no gradient), and the
 * sinks' own gradient is attn_ring_sinks_backward. The window, softcap,
 * slope and sink values must be the same on every rank (checked).
 *
 * Not supported across ranks (no field in attn_ring_desc): keep_mask,
 * bias, fp16/bf16 and paged K/V, and packed variable-length batches
 * (cu_seqlens): a rank's chunk is a fixed row range, which in a packed
 * tensor would hold pieces of several sequences, each needing its own
 * alignment, while the core takes one position_shift per call (pad to
 * (B, T) with kv_lens instead). Query-side padding has no field either.
 * A query row whose every key is hidden gets zeros and lse = -INFINITY
 * (the sink with sinks), as in the core.
 *
 * Collective calls: every call taking an MPI_Comm must be made by every rank
 * of it, with the same shape (batch, heads, lengths, head dimensions, causal,
 * layout, kv_lens values, window, softcap, ALiBi slope and sink values;
 * strides and pointers may differ). Arguments are
 * checked on each rank first (the same checks as the core, including the
 * core's own descriptor check through its workspace-size query), then the
 * ranks agree with one MPI_Allreduce before any data moves: if any rank
 * found an error, or the ranks' shapes differ (ATTN_ERR_BAD_ARGUMENT), every
 * rank returns the status of the lowest failing rank and nothing is written
 * anywhere. A bad argument on one rank therefore never leaves another rank
 * waiting. Outputs are written only after a second agreement at the end, so
 * an error during the ring (an MPI failure, a failed allocation) also leaves
 * every output untouched.
 *
 * MPI: MPI must be initialised (MPI_Init or MPI_Init_thread) by the caller;
 * calls come from one thread per rank (MPI_THREAD_FUNNELED is enough; the
 * core's OpenMP threads never call MPI). Each ring call duplicates the
 * communicator (MPI_Comm_dup, collective) for its own traffic, sets
 * MPI_ERRORS_RETURN on the duplicate and frees it before returning, so its
 * messages never match the caller's and an MPI error is returned as
 * ATTN_ERR_IO rather than aborting (errors inside MPI_Comm_dup itself follow
 * the caller's error handler on comm). After an MPI error the state of the
 * communication is what MPI says it is (usually unusable). A NULL
 * communicator (MPI_COMM_NULL) or MPI not initialised is a local error
 * (ATTN_ERR_NULL_POINTER / ATTN_ERR_BAD_ARGUMENT) returned without
 * communicating: it is the same on every rank when every rank passes the
 * same thing.
 *
 * Memory: each call allocates (and frees) its buffers: two K/V blocks in
 * flight, the partial outputs of one step, the core's workspace; the
 * backward also packs Q, out, dO and two travelling dK/dV blocks. Allocation
 * failures are collective too (ATTN_ERR_OUT_OF_MEMORY on every rank).
 *
 * The library never aborts, exits or prints.
 */
#ifndef ATTENTION_RING_H
#define ATTENTION_RING_H

#include <stddef.h>
#include <stdint.h>

#include <mpi.h>

#include <attention/export_mpi.h>
#include <attention/sdpa.h>
#include <attention/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How a sequence's rows are spread over the ranks (see above). */
typedef enum attn_ring_layout {
    ATTN_RING_CONTIGUOUS = 0,
    ATTN_RING_ZIGZAG = 1
} attn_ring_layout;

/*
 * One rank's view of a ring attention call. Set it up with
 * attn_ring_desc_init, then change what you need. Fields are only ever
 * appended; struct_size tells the library which ones the caller knows.
 * Lengths are the rank's LOCAL row counts (every rank the same); the global
 * sequence has P * q_len query rows and P * kv_len key rows. A caller of
 * the first release (struct_size ending after algo) gets the appended
 * fields' init values.
 */
typedef struct attn_ring_desc {
    size_t struct_size;     /* set by attn_ring_desc_init; do not touch */

    int64_t batch;          /* B */
    int64_t q_heads;        /* Hq, a multiple of Hkv */
    int64_t kv_heads;       /* Hkv */
    int64_t q_len;          /* Tq local: query rows on this rank */
    int64_t kv_len;         /* Tk local: key rows on this rank */
    int64_t head_dim;       /* d */
    int64_t v_head_dim;     /* dv */

    float scale;            /* init: 1 / sqrt(head_dim) */

    /* The local shards; init: contiguous (B, H, T local, last). dout, dq,
     * dk and dv of the backward have the strides of out, q, k and v. */
    attn_strides q_strides;    /* over (B, Hq,  Tq, d)  */
    attn_strides k_strides;    /* over (B, Hkv, Tk, d)  */
    attn_strides v_strides;    /* over (B, Hkv, Tk, dv) */
    attn_strides out_strides;  /* over (B, Hq,  Tq, dv) */

    /* ATTN_CAUSAL_NONE (init), ATTN_CAUSAL_TOP_LEFT over global positions
     * (needs q_len == kv_len) or ATTN_CAUSAL_BOTTOM_RIGHT (global: the
     * last query of the sequence lines up with its last valid key). */
    attn_causal causal;

    attn_ring_layout layout;   /* init: ATTN_RING_CONTIGUOUS */

    /* (B) GLOBAL valid key lengths, 0 <= kv_lens[b] <= P * kv_len, the same
     * values on every rank; or NULL (init): every key valid. */
    const int64_t *kv_lens;

    int num_threads;           /* the core's threads per rank; 0: its default */
    attn_algo algo;            /* the core's algorithm; init ATTN_ALGO_AUTO */

    /* Appended with the variants ("Masks and variants across ranks"
     * above): the core's fields of the same names (<attention/sdpa.h>
     * "Variants") over the GLOBAL sequence, the same values on every
     * rank. */
    int64_t window_left;       /* keys before the aligned one; init: -1 (all) */
    int64_t window_right;      /* keys after it; init: -1 (all) */
    const float *alibi_slopes; /* (B, Hq) or (Hq) or NULL; init: NULL */
    int64_t alibi_batch_stride; /* between batches' slopes; init: 0 */
    float softcap;             /* c > 0 caps the scores; init: 0 (off) */
    const float *sinks;        /* (Hq) sink logits, or NULL; init: NULL */
} attn_ring_desc;

/*
 * Fills *desc with the defaults above for the given local shape; call it
 * through the attn_ring_desc_init macro, which passes sizeof *desc.
 * ATTN_ERR_NULL_POINTER, or ATTN_ERR_BAD_DESC when desc_size is smaller
 * than this first released descriptor. Shapes are checked by the calls.
 */
ATTN_MPI_EXPORT attn_status attn_ring_desc_init_sized(
    attn_ring_desc *desc, size_t desc_size, int64_t batch, int64_t q_heads,
    int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
    int64_t v_head_dim);

#define attn_ring_desc_init(desc, batch, q_heads, kv_heads, q_len, kv_len, \
                            head_dim, v_head_dim)                          \
    attn_ring_desc_init_sized((desc), sizeof *(desc), (batch), (q_heads),  \
                              (kv_heads), (q_len), (kv_len), (head_dim),   \
                              (v_head_dim))

/*
 * Optional timings of one ring call (the benchmark's view); pass NULL when
 * not wanted. Set struct_size = sizeof(attn_ring_stats) and, to get per-step
 * times, step_compute / step_wait arrays of step_capacity entries (else
 * NULL and 0). Times are MPI_Wtime seconds on this rank.
 */
typedef struct attn_ring_stats {
    size_t struct_size;
    int64_t step_capacity;  /* entries of step_compute and step_wait */
    double *step_compute;   /* (step_capacity) or NULL: compute of step s */
    double *step_wait;      /* (step_capacity) or NULL: time blocked after it */
    /* Filled by the call: */
    int64_t steps;          /* P */
    double compute_seconds; /* sum of the steps' compute (core calls, merges) */
    double wait_seconds;    /* time blocked waiting for transfers: the
                             * communication not hidden behind compute */
    double total_seconds;   /* the whole call, agreement included */
    uint64_t bytes_sent;    /* bytes this rank sent round the ring */
} attn_ring_stats;

/*
 * Ring attention forward. Every rank passes its local shards:
 *   q   (B, Hq,  Tq, d)  strided     out (B, Hq, Tq, dv) strided
 *   k   (B, Hkv, Tk, d)  strided     lse (B, Hq, Tq) contiguous, or NULL
 *   v   (B, Hkv, Tk, dv) strided
 * and gets its query rows of attention over the whole (global) sequence,
 * with the global log-sum-exp (natural log) that the backward needs.
 * Statuses: those of the core's descriptor checks (ATTN_ERR_BAD_DIMENSION,
 * _HEAD_MISMATCH, _BAD_SCALE, _BAD_STRIDE, _SIZE_OVERFLOW, ...),
 * ATTN_ERR_NULL_POINTER, ATTN_ERR_BAD_DESC, ATTN_ERR_BAD_CAUSAL,
 * ATTN_ERR_BAD_KV_LEN (kv_lens[b] outside [0, P * kv_len]),
 * ATTN_ERR_BAD_WINDOW, _BAD_ALIBI, _BAD_SOFTCAP, _BAD_SINK (the core's
 * checks of the variants), ATTN_ERR_SIZE_OVERFLOW (a global length above
 * 2^38), ATTN_ERR_BAD_DIMENSION (zigzag with an odd local length),
 * ATTN_ERR_ALIASING (out or lse overlapping an input or each other),
 * ATTN_ERR_BAD_ARGUMENT (q_len != kv_len with top-left causal, shapes or
 * variant values differing between ranks, MPI not initialised),
 * ATTN_ERR_OUT_OF_MEMORY, ATTN_ERR_IO (an MPI call failed). Collective;
 * see above.
 */
ATTN_MPI_EXPORT attn_status attn_ring_forward(
    const attn_ring_desc *desc, MPI_Comm comm,
    const float *q,       /* (B, Hq,  Tq, d)  local, strided */
    const float *k,       /* (B, Hkv, Tk, d)  local, strided */
    const float *v,       /* (B, Hkv, Tk, dv) local, strided */
    float *out,           /* (B, Hq,  Tq, dv) local, strided */
    float *lse);          /* (B, Hq,  Tq) contiguous, or NULL */

/* attn_ring_forward with timings (stats may be NULL; else its struct_size
 * must be sizeof(attn_ring_stats), ATTN_ERR_BAD_DESC, and step_capacity
 * >= 0, ATTN_ERR_BAD_ARGUMENT). stats are written once the ranks have
 * agreed (total_seconds only on success); they are not results. */
ATTN_MPI_EXPORT attn_status attn_ring_forward_ex(
    const attn_ring_desc *desc, MPI_Comm comm,
    const float *q,       /* (B, Hq,  Tq, d)  local, strided */
    const float *k,       /* (B, Hkv, Tk, d)  local, strided */
    const float *v,       /* (B, Hkv, Tk, dv) local, strided */
    float *out,           /* (B, Hq,  Tq, dv) local, strided */
    float *lse,           /* (B, Hq,  Tq) contiguous, or NULL */
    attn_ring_stats *stats);

/*
 * Ring attention backward: the gradients of the whole sequence's attention,
 * each rank's rows, ADDED (+=) into dq, dk, dv (each may be NULL to skip
 * it), as attn_sdpa_backward does. out and lse are this rank's rows of
 * attn_ring_forward's results with the same descriptor (global lse: the
 * core recomputes P = exp(s - lse) block by block from it). dout has out's
 * strides, dq q's, dk k's, dv v's. The K/V blocks travel round the ring
 * with their dK/dV accumulators, which end on their home rank after P
 * steps; dQ stays local. Statuses as the forward (lse is required).
 */
ATTN_MPI_EXPORT attn_status attn_ring_backward(
    const attn_ring_desc *desc, MPI_Comm comm,
    const float *q,       /* (B, Hq,  Tq, d)  local, strided */
    const float *k,       /* (B, Hkv, Tk, d)  local, strided */
    const float *v,       /* (B, Hkv, Tk, dv) local, strided */
    const float *out,     /* (B, Hq,  Tq, dv) local, from the ring forward */
    const float *lse,     /* (B, Hq,  Tq)     local, from the ring forward */
    const float *dout,    /* (B, Hq,  Tq, dv) local, strided like out */
    float *dq,            /* (B, Hq,  Tq, d)  strided like q, += ; or NULL */
    float *dk,            /* (B, Hkv, Tk, d)  strided like k, += ; or NULL */
    float *dv);           /* (B, Hkv, Tk, dv) strided like v, += ; or NULL */

/* attn_ring_backward with timings (stats as attn_ring_forward_ex's; the
 * final hop of the accumulators counts as the last step's wait). */
ATTN_MPI_EXPORT attn_status attn_ring_backward_ex(
    const attn_ring_desc *desc, MPI_Comm comm,
    const float *q, const float *k, const float *v, const float *out,
    const float *lse, const float *dout, float *dq, float *dk, float *dv,
    attn_ring_stats *stats);

/*
 * The gradient of the sink logits (desc->sinks) over the whole sequence,
 * ADDED (+=) into dsinks (Hq) on every rank:
 *     dsinks[h] += -sum over b and every global row i of
 *                  e^(sink[h] - lse[b, h, i]) * rowsum(dout * out)[b, h, i]
 * Each rank takes its rows' share with attn_sdpa_sinks_backward (no K or
 * V needed); the shares are gathered and summed in rank order, in double,
 * so every rank gets the same bits, the same between runs with the same P.
 * out and lse are this rank's rows of attn_ring_forward's results with the
 * same descriptor; dout has out's strides. Statuses as attn_ring_backward,
 * plus ATTN_ERR_BAD_ARGUMENT when desc->sinks is NULL and ATTN_ERR_ALIASING
 * when dsinks overlaps an input or the sinks. Collective.
 */
ATTN_MPI_EXPORT attn_status attn_ring_sinks_backward(
    const attn_ring_desc *desc, MPI_Comm comm,
    const float *out,     /* (B, Hq, Tq, dv) local, from the ring forward */
    const float *lse,     /* (B, Hq, Tq)     local, from the ring forward */
    const float *dout,    /* (B, Hq, Tq, dv) local, strided like out */
    float *dsinks);       /* (Hq) += , the same on every rank */

/* ---- layouts (local helpers: no communication) --------------------------- */

/*
 * Global positions of rank `rank`'s local_len rows under `layout` with
 * `world` ranks: positions[i] = global row of local row i (a sequence of
 * world * local_len rows). For RoPE (attn_rope_forward takes per-row
 * positions). ATTN_ERR_NULL_POINTER; ATTN_ERR_BAD_DIMENSION (world or
 * local_len < 1, zigzag with odd local_len); ATTN_ERR_BAD_ARGUMENT (rank
 * outside [0, world), unknown layout); ATTN_ERR_SIZE_OVERFLOW.
 */
ATTN_MPI_EXPORT attn_status attn_ring_positions(
    attn_ring_layout layout, int world, int rank, int64_t local_len,
    int64_t *positions);   /* (local_len) */

/*
 * Copies rank `rank`'s rows of a global (n0, n1, T, last) tensor, T = world
 * * local_len, into a local (n0, n1, local_len, last) one (shard), or the
 * local rows back into their places in the global one (unshard). Strides in
 * elements, last dimension contiguous. Statuses as attn_ring_positions,
 * plus ATTN_ERR_BAD_DIMENSION (n0, n1 or last < 1), ATTN_ERR_BAD_STRIDE (a
 * negative stride, a row stride below last, a destination layout that
 * writes one element twice) and ATTN_ERR_ALIASING (the destination
 * overlapping the source); nothing written on error.
 */
ATTN_MPI_EXPORT attn_status attn_ring_shard_rows(
    attn_ring_layout layout, int world, int rank,
    int64_t n0, int64_t n1, int64_t local_len, int64_t last,
    const float *global,  /* (n0, n1, world * local_len, last) strided */
    attn_strides global_strides,
    float *local,         /* (n0, n1, local_len, last) strided */
    attn_strides local_strides);

ATTN_MPI_EXPORT attn_status attn_ring_unshard_rows(
    attn_ring_layout layout, int world, int rank,
    int64_t n0, int64_t n1, int64_t local_len, int64_t last,
    const float *local,   /* (n0, n1, local_len, last) strided */
    attn_strides local_strides,
    float *global,        /* (n0, n1, world * local_len, last) strided */
    attn_strides global_strides);

/* ---- layouts over the communicator (collective) -------------------------- */

/*
 * Root's contiguous global (n0, n1, T, last) tensor, T = P * local_len,
 * scattered into every rank's contiguous local (n0, n1, local_len, last)
 * under `layout` (scatter), or gathered back to the root (gather). global
 * is read or written on the root only (may be NULL elsewhere). Collective
 * with agreed errors as the ring calls: ATTN_ERR_NULL_POINTER,
 * ATTN_ERR_BAD_DIMENSION, ATTN_ERR_BAD_ARGUMENT (root outside the
 * communicator, shapes differing between ranks, MPI not initialised),
 * ATTN_ERR_SIZE_OVERFLOW, ATTN_ERR_ALIASING, ATTN_ERR_OUT_OF_MEMORY,
 * ATTN_ERR_IO.
 */
ATTN_MPI_EXPORT attn_status attn_ring_scatter(
    MPI_Comm comm, int root, attn_ring_layout layout,
    int64_t n0, int64_t n1, int64_t local_len, int64_t last,
    const float *global,  /* (n0, n1, P * local_len, last) on root */
    float *local);        /* (n0, n1, local_len, last) */

ATTN_MPI_EXPORT attn_status attn_ring_gather(
    MPI_Comm comm, int root, attn_ring_layout layout,
    int64_t n0, int64_t n1, int64_t local_len, int64_t last,
    const float *local,   /* (n0, n1, local_len, last) */
    float *global);       /* (n0, n1, P * local_len, last) on root */

#ifdef __cplusplus
}
#endif

#endif /* ATTENTION_RING_H */
