/* attention-bench-speed's variants report (issue 12): their table, and
 * their lines in the closing summary. */
#include <inttypes.h>

#include "speed.h"

/* "B4 H8 T1024 d64", or a packed row's "16 seqs, 16765 rows, H8 d64". */
static void shape(char *s, size_t size, const speed_row *r)
{
    if (r->variant == V_PACKED || r->variant == V_SEPARATE)
        snprintf(s, size, "%" PRId64 " seqs, %" PRId64 " rows, H%" PRId64
                 " d%" PRId64, r->b, r->tq, r->h, r->d);
    else
        snprintf(s, size, "B%" PRId64 " H%" PRId64 " T%" PRId64 " d%" PRId64,
                 r->b, r->h, r->tq, r->d);
}

/* Judged on the paired ratio: on a machine whose speed drifts within a
 * run, the median of same-round ratios moves less than the ratio of two
 * best repeats, each a single luckiest moment (a variant with no extra
 * work per score, sinks, has measured 0.94 best-repeat and 0.99 paired in
 * one run). */
static int met(const speed_row *r)
{
    return r->paired >= r->target;
}

void speed_variants_table(FILE *f, const speed_run *x)
{
    if (x->n_groups == 0)
        return;
    fprintf(f, "variants: fused path, %d thread%s, GFLOP/s of the query-key "
               "pairs a row's masks\nleave visible, counted exactly (forward "
               "4 d per pair; fwdbwd 3.5 x forward)\n\n",
            x->threads, x->threads == 1 ? "" : "s");
    for (size_t i = 0; i < x->n_groups; ++i) {
        const speed_group *g = &x->groups[i];
        if (i == 0 || g->title != x->groups[i - 1].title)
            fprintf(f, "  %s; pairs: %s\n  %-12s %-6s %-26s %7s  %5s %6s "
                       "%-15s %5s\n", g->title, g->unit, "row", "pass",
                    "shape", "GFLOP/s", "x ref", "paired", "target", "busy");
        for (size_t j = 0; j < g->n; ++j) {
            const speed_row *r = g->row[j];
            char s[64], t[32];
            shape(s, sizeof s, r);
            if (j == 0)
                snprintf(t, sizeof t, "reference");
            else
                snprintf(t, sizeof t, ">= %.2f %s", r->target,
                         met(r) ? "met" : "NOT met");
            fprintf(f, "  %-12s %-6s %-26s %7.1f%c %5.2f", r->product,
                    speed_passes[r->pass], s, r->gflops,
                    r->reps < 3 ? '*' : ' ', r->vs_ref);
            if (j == 0)
                fprintf(f, " %6s", "-");
            else
                fprintf(f, " %6.2f", r->paired);
            fprintf(f, " %-15s", t);
            if (r->others >= 0.0)
                fprintf(f, " %5.2f", r->others);
            else
                fprintf(f, " %5s", "-");
            fputc('\n', f);
        }
        if (i + 1 == x->n_groups || g->title != x->groups[i + 1].title)
            fputc('\n', f);
    }
    fprintf(f,
            "  Each group is one measurement: a warm-up of every row, then\n"
            "  rounds in which the reference always runs and each other row\n"
            "  runs while the timing rule (above) still wants repeats of it,\n"
            "  so the machine's noise falls on all alike. x ref: the row's\n"
            "  best-repeat GFLOP/s over the reference's; paired: the median\n"
            "  over rounds of the same ratio within one round, which the\n"
            "  target judges (it drifts less). window1024: window_left 1023,\n"
            "  window_right 0, query i sees keys i-1023..i. softcap30:\n"
            "  c = 30. alibi: attn_alibi_slopes(H). sinks: fwdbwd adds\n"
            "  attn_sdpa_sinks_backward. packed: the 16 sequences (lengths\n"
            "  64 * 2^(6k/15), k = 0..15, shuffled; --quick a quarter) in\n"
            "  one call with cu_seqlens, (rows, H, d) tensors; separate: the\n"
            "  same tensors, one call per sequence. busy: cores other\n"
            "  processes kept busy during the group.\n\n");
}

void speed_variants_summary(FILE *f, const speed_run *x)
{
    if (x->n_groups == 0)
        return;
    fprintf(f, "  variants, GFLOP/s over the reference row's in the same "
               "round (median), %d thr:\n", x->threads);
    for (size_t i = 0; i < x->n_groups; ++i) {
        const speed_group *g = &x->groups[i];
        const speed_row *ref = g->row[0];
        char s[64];
        int all = 1;
        fprintf(f, "    %-6s", speed_passes[g->pass]);
        for (size_t j = 1; j < g->n; ++j) {
            const speed_row *r = g->row[j];
            fprintf(f, "%s %s", j > 1 ? "," : "", r->product);
            if (r->variant == V_WINDOW)
                fprintf(f, " T%" PRId64, r->tq);
            fprintf(f, " %.2f", r->paired);
            all &= met(r);
        }
        shape(s, sizeof s, ref);
        fprintf(f, " (vs %s %s);\n           target >= %.2f: %s\n",
                ref->product, s, g->row[1]->target,
                all ? "met" : "NOT met");
    }
}
