/*
 * Internal helpers of libattention_mpi (not installed). The library sees
 * the core only through its public headers; nothing here is exported (the
 * objects are built with hidden visibility, internal names attni_ring_).
 */
#ifndef ATTENTION_MPI_RING_INTERNAL_H
#define ATTENTION_MPI_RING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <attention/ring.h>

/* ---- sizes and spans (ring_span.c) ---------------------------------------- */

/* *out = a * b; nonzero on overflow of int64 (operands >= 0). */
int attni_ring_mul(int64_t a, int64_t b, int64_t *out);

/* malloc of n elements of size bytes (n already known to fit: the plan's
 * checks); never a zero-size request. */
void *attni_ring_alloc(int64_t n, size_t size);

/* Bytes spanned by a strided (n0, n1, n2, last) float tensor:
 * ATTN_ERR_BAD_STRIDE for a negative stride, ATTN_ERR_SIZE_OVERFLOW. */
attn_status attni_ring_span(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                            attn_strides s, size_t *bytes);

/* A byte range [p, p + n); n == 0 or p == NULL is empty. */
typedef struct attni_ring_range {
    const void *p;
    size_t n;
} attni_ring_range;

/* Nonzero when any output overlaps another output or any input. */
int attni_ring_overlap(const attni_ring_range *outs, int n_outs,
                       const attni_ring_range *ins, int n_ins);

/* Nonzero when the (n0, n1, n2, last) layout maps two elements to one
 * place (strides sorted, each at least the extent of the ones below it is
 * sufficient; a dimension of 1 does not count). */
int attni_ring_self_overlap(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                            attn_strides s);

/* ---- layouts (ring_layout.c) ---------------------------------------------- */

/* Chunks per rank: 1 (contiguous) or 2 (zigzag). */
int attni_ring_subchunks(attn_ring_layout layout);

/* Global chunk index of rank `rank`'s local sub-chunk `sub`. */
int64_t attni_ring_chunk(attn_ring_layout layout, int world, int rank,
                         int sub);

/* The layout arguments of the helpers: ATTN_ERR_BAD_ARGUMENT (layout, rank),
 * ATTN_ERR_BAD_DIMENSION (world, local_len, odd zigzag length). */
attn_status attni_ring_check_layout(attn_ring_layout layout, int world,
                                    int rank, int64_t local_len);

/* Copies rows between a local (n0, n1, local_len, last) tensor and the
 * rank's rows of a global one; to_global selects the direction. No checks. */
void attni_ring_copy_rows(attn_ring_layout layout, int world, int rank,
                          int64_t n0, int64_t n1, int64_t local_len,
                          int64_t last, const float *src, attn_strides ss,
                          float *dst, attn_strides ds, int to_global);

/* ---- packing (ring_pack.c) ------------------------------------------------ */

/*
 * The travelling and internal layout: a local (n0, n1, nsub * c, last)
 * strided tensor as nsub contiguous (n0, n1, c, last) blocks, sub-chunk
 * major, so that one sub-chunk is one contiguous tensor.
 */
void attni_ring_pack(int64_t n0, int64_t n1, int nsub, int64_t c,
                     int64_t last, const float *src, attn_strides s,
                     float *dst);

/* dst (strided) += src (packed as above). */
void attni_ring_unpack_add(int64_t n0, int64_t n1, int nsub, int64_t c,
                           int64_t last, const float *src, float *dst,
                           attn_strides s);

/* dst (strided) = src (packed as above). */
void attni_ring_unpack(int64_t n0, int64_t n1, int nsub, int64_t c,
                       int64_t last, const float *src, float *dst,
                       attn_strides s);

/* Contiguous strides of a (n0, n1, n2, last) tensor. */
attn_strides attni_ring_contig(int64_t n1, int64_t n2, int64_t last);

/* ---- descriptors (ring_desc.c) -------------------------------------------- */

/* What forward and backward derive from a checked descriptor. */
typedef struct attni_ring_plan {
    attn_ring_desc d;       /* the caller's descriptor, defaults filled in */
    int world, rank;
    int nsub;               /* sub-chunks per rank */
    int64_t cq, ck;         /* rows per query / key sub-chunk */
    int64_t rows;           /* B * Hq * cq: query rows of one sub-chunk */
    int64_t block_floats;   /* one packed K/V block: B*Hkv*kv_len*(d + dv) */
    int64_t k_floats;       /* its K part */
    int64_t group;          /* query heads per kv head */
    int64_t tq, tk;         /* global lengths: world * q_len, world * kv_len */
    int64_t wl, wr;         /* the window, -1 where unbounded (also where
                             * wider than tq + tk: no distance reaches it) */
    /* One core call: a (query sub-chunk, key sub-chunk) pair of ONE batch
     * entry and kv head (its group of query heads). The pairs are cut this
     * fine so that the ring can let MPI move data (MPI_Testall) between
     * calls: without a progress thread a transfer advances only inside MPI
     * calls. Heads are independent, so the cut changes no result. */
    attn_sdpa_desc pair;
    size_t ws_bytes;        /* the core's workspace for `pair` */
} attni_ring_plan;

/*
 * Checks everything local about a call (desc, the core's checks of the
 * local shards and of the pair calls through its workspace-size queries,
 * kv_lens against world * kv_len) and fills *plan. backward selects the
 * backward's size query. pair gets packed K/V strides, contiguous
 * out; its q/out strides are set by the callers.
 */
attn_status attni_ring_plan_make(const attn_ring_desc *desc, int world,
                                 int rank, int backward,
                                 attni_ring_plan *plan);

/* The defaults of every field past the first released descriptor (the
 * window's -1; the others are zero). */
void attni_ring_desc_tail_defaults(attn_ring_desc *d, size_t known);

/* ---- pairs of chunks (ring_band.c) ---------------------------------------- */

/*
 * One core call: query sub-chunk ga (global rows ga * cq ...) of batch
 * entry b against key sub-chunk gb (global rows gb * ck ...).
 */
typedef struct attni_ring_pair {
    int visible;        /* 0: no query of ga may see a key of gb: no call */
    attn_causal causal; /* the core call's mask */
    int64_t len;        /* the core's kv_lens: valid keys of gb, 1..ck */
    int64_t shift;      /* the core's position_shift (global alignment) */
} attni_ring_pair;

void attni_ring_pair_of(const attni_ring_plan *p, int64_t ga, int64_t gb,
                        int64_t b, attni_ring_pair *pair);

/* Sets p->pair for batch entry b, kv head g and the pair pc (mask, kv
 * length, shift, the group's ALiBi slopes and, when with_sinks, its
 * sinks); lens is where the kv length is kept (one int64). */
void attni_ring_pair_desc(attni_ring_plan *p, int64_t b, int64_t g,
                          const attni_ring_pair *pc, int with_sinks,
                          int64_t *lens);

/* ---- sinks (ring_sinks.c) ------------------------------------------------- */

/* Joins each row's sink to its merged result once, in double: lse =
 * log(e^L + e^sink), out *= e^(L - lse) (the exact merge with a part of
 * zeros whose log-sum-exp is the sink). A row with L = -INFINITY gets
 * zeros and lse = sink, as in the core. acc_out (rows, dv) and acc_lse
 * (rows), rows packed as (B, Hq, cq); nothing to do without sinks. */
void attni_ring_join_sinks(const attni_ring_plan *p,
                           float *acc_out,  /* (B, Hq, cq, dv) packed */
                           float *acc_lse); /* (B, Hq, cq) */

/* ---- communication (ring_comm.c) ------------------------------------------ */

/*
 * The start of every collective call: ATTN_ERR_NULL_POINTER for
 * MPI_COMM_NULL, ATTN_ERR_BAD_ARGUMENT when MPI is not initialised (or
 * finalised); else the size and rank, and a duplicate of comm with
 * MPI_ERRORS_RETURN in *dup (free it with attni_ring_comm_end).
 */
attn_status attni_ring_comm_begin(MPI_Comm comm, MPI_Comm *dup, int *world,
                                  int *rank);
void attni_ring_comm_end(MPI_Comm *dup);

/*
 * The collective agreement: every rank passes its local status and n
 * shape values (ignored when status != ATTN_OK); every rank gets back the
 * status of the lowest failing rank, ATTN_ERR_BAD_ARGUMENT when the ranks'
 * shape values differ, ATTN_ERR_IO when the reduction itself fails. n <= 24.
 */
attn_status attni_ring_agree(MPI_Comm comm, int rank, attn_status local,
                             const int64_t *shape, int n);

/* An MPI return code as a status. */
static inline attn_status attni_ring_mpi(int rc)
{
    return rc == MPI_SUCCESS ? ATTN_OK : ATTN_ERR_IO;
}

/* Values attni_ring_shape writes (fixed, so that every rank reduces the
 * same count even when its descriptor is unusable). */
#define ATTNI_RING_SHAPE_N 18

/* Checks a caller's stats struct (NULL is fine): ATTN_ERR_BAD_DESC for a
 * wrong struct_size, ATTN_ERR_BAD_ARGUMENT for a negative capacity. */
attn_status attni_ring_stats_check(const attn_ring_stats *st);

/*
 * Point-to-point transfers of n floats in pieces of at most 2^30 floats
 * (MPI counts are int): attni_ring_pieces(n) requests per direction.
 * post_* append their requests to reqs[*nreq...]; progress lets MPI move
 * data while the caller computes (MPI_Testall); wait completes them all
 * and resets *nreq. On an MPI error: ATTN_ERR_IO.
 */
int attni_ring_pieces(int64_t n);
attn_status attni_ring_post_recv(float *buf, int64_t n, int from, int tag,
                                 MPI_Comm comm, MPI_Request *reqs, int *nreq);
attn_status attni_ring_post_send(const float *buf, int64_t n, int to, int tag,
                                 MPI_Comm comm, MPI_Request *reqs, int *nreq);
void attni_ring_progress(MPI_Request *reqs, int nreq);
attn_status attni_ring_wait(MPI_Request *reqs, int *nreq);
/* After an error: cancels what is still pending and completes it, so
 * that no buffer is in MPI's hands when it is freed. */
void attni_ring_abandon(MPI_Request *reqs, int *nreq);

/* Message tags of the ring calls (on the call's own communicator). */
enum { ATTNI_RING_TAG_KV = 1, ATTNI_RING_TAG_DKV = 2, ATTNI_RING_TAG_ROWS = 3 };

/* A hash of n int64 values (the agreement's summary of kv_lens). */
int64_t attni_ring_hash(const int64_t *x, int64_t n);

/* A hash of n floats taken every `stride` floats, n0 times `stride0`
 * apart (the summary of the ALiBi slopes and the sinks); 0 for NULL. */
int64_t attni_ring_hash_floats(const float *x, int64_t n0, int64_t stride0,
                               int64_t n);

/* Shape values of a descriptor for attni_ring_agree; returns the count. */
int attni_ring_shape(const attn_ring_desc *d, int64_t *shape);

/* Timing helpers for attn_ring_stats (NULL-safe). */
void attni_ring_stats_begin(attn_ring_stats *st, int64_t steps);
void attni_ring_stats_step(attn_ring_stats *st, int64_t step, double compute,
                           double wait);

#endif /* ATTENTION_MPI_RING_INTERNAL_H */
