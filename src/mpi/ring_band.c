/*
 * Which (query chunk, key chunk) pairs a ring call computes, and how each
 * core call keeps the GLOBAL sequence's alignment.
 *
 * Global alignment (<attention/sdpa.h> "Variants"): with T = world * q_len
 * query rows and L_b the batch entry's valid key length (kv_lens[b], else
 * world * kv_len), query i lines up with key i + off, off = L_b - T, for
 * bottom-right causal, the window and ALiBi.
 *
 * A core call over query rows [qs, qs + cq) and key rows [ks, ks + ck),
 * with local valid length len = clamp(L_b - ks, 0, ck), aligns local query
 * i' with local key i' + (len - cq) + shift, i.e. global key
 * ks + i' + len - cq + shift; the global alignment wants qs + i' + off, so
 *
 *     shift = (qs + off) - (ks + len - cq).
 *
 * Keys past L_b are past len in the call (hidden by its kv_lens), so they
 * stay hidden. Top-left causal is not aligned this way: it is the pair of
 * chunk indices (a key chunk after the query chunk is skipped, the same
 * chunk is top-left causal in the call, since its rows are the queries').
 *
 * Skipping: every query's visible keys form a range [begin(i), end(i))
 * whose ends never decrease with i, so the keys some query of the chunk
 * may see lie in [begin(qs), end(qs + cq - 1)). A key chunk outside it
 * (or wholly padding) is never computed: a window's cost scales with its
 * band, and causal pairs past the diagonal cost nothing.
 */
#include "ring_internal.h"

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

void attni_ring_pair_of(const attni_ring_plan *p, int64_t ga, int64_t gb,
                        int64_t b, attni_ring_pair *pc)
{
    const attn_ring_desc *d = &p->d;
    const int64_t valid = d->kv_lens != NULL ? d->kv_lens[b] : p->tk;
    const int64_t qs = ga * p->cq, ks = gb * p->ck;
    pc->visible = 0;
    pc->causal = d->causal;
    pc->len = min64(max64(valid - ks, 0), p->ck);
    pc->shift = 0;
    if (pc->len == 0)
        return; /* every key of the chunk is padding */
    const int64_t off = valid - p->tq;
    pc->shift = (qs + off) - (ks + pc->len - p->cq);
    if (d->causal == ATTN_CAUSAL_TOP_LEFT) {
        if (gb > ga)
            return; /* past the diagonal */
        pc->causal = gb == ga ? ATTN_CAUSAL_TOP_LEFT : ATTN_CAUSAL_NONE;
    }
    /* Aligned keys of the chunk's first and last query (global); all the
     * bounds below stay within a few times the global lengths (plan). */
    const int64_t first = qs + off, last = qs + p->cq - 1 + off;
    int64_t lo = ks, hi = ks + pc->len;
    if (d->causal == ATTN_CAUSAL_BOTTOM_RIGHT)
        hi = min64(hi, last + 1);
    if (p->wr >= 0)
        hi = min64(hi, last + p->wr + 1);
    if (p->wl >= 0)
        lo = max64(lo, first - p->wl);
    pc->visible = lo < hi;
}

void attni_ring_pair_desc(attni_ring_plan *p, int64_t b, int64_t g,
                          const attni_ring_pair *pc, int with_sinks,
                          int64_t *lens)
{
    const attn_ring_desc *d = &p->d;
    attn_sdpa_desc *c = &p->pair;
    *lens = pc->len;
    c->kv_lens = lens;
    c->causal = pc->causal;
    c->position_shift = pc->shift;
    c->alibi_slopes = d->alibi_slopes != NULL
                          ? d->alibi_slopes + b * d->alibi_batch_stride + g * p->group
                          : NULL;
    c->sinks = with_sinks && d->sinks != NULL ? d->sinks + g * p->group : NULL;
}
