/* attention-bench-ring's output: a table per run, or CSV lines. */
#include <math.h>
#include <stdio.h>

#include "ring_bench.h"

/* The share of a step's transfer that compute hid: 1 - exposed / alone. */
static double hidden(const rb_step *s)
{
    if (!(s->comm_alone > 0.0))
        return NAN;
    const double h = 1.0 - s->wait_max / s->comm_alone;
    return h < 0.0 ? 0.0 : h > 1.0 ? 1.0 : h;
}

void rb_report(const rb_config *c, const rb_result *r)
{
    const char *layout = c->layout == ATTN_RING_ZIGZAG ? "zigzag" : "contiguous";
    const char *pass = c->backward ? "backward" : "forward";
    const double step_bytes = (double)r->block_bytes;
    if (c->csv) {
        for (int s = 0; s < r->world; ++s) {
            const rb_step *p = &r->steps[s];
            printf("%s,%s,%s,%lld,%d,%lld,%lld,%lld,%d,%.4f,%.4f,%.4f,%.4f,%.3f,%.0f,%.1f\n",
                   pass, layout, c->causal ? "causal" : "full", (long long)c->T, r->world,
                   (long long)c->heads, (long long)c->kv_heads, (long long)c->d, s,
                   1e3 * p->compute_mean, 1e3 * p->compute_max, 1e3 * p->wait_max,
                   1e3 * p->comm_alone, hidden(p), step_bytes,
                   p->compute_max > 0 ? p->flops_max / p->compute_max / 1e9 : 0.0);
        }
        return;
    }
    printf("\n%s, %s layout, %s: T %lld over P %d (%lld rows each), Hq %lld, Hkv %lld, d %lld; best of %d\n",
           pass, layout, c->causal ? "causal" : "no mask", (long long)c->T, r->world,
           (long long)(c->T / r->world), (long long)c->heads, (long long)c->kv_heads,
           (long long)c->d, c->reps);
    printf("  step | compute ms: mean  slowest | exposed wait ms | transfer alone ms | hidden | slowest rank GFLOP/s\n");
    double alone = 0.0, waited = 0.0;
    for (int s = 0; s < r->world; ++s) {
        const rb_step *p = &r->steps[s];
        const double h = hidden(p);
        alone += p->comm_alone;
        waited += p->wait_max < p->comm_alone ? p->wait_max : p->comm_alone;
        char hb[16];
        if (isnan(h))
            snprintf(hb, sizeof hb, "%6s", "-");
        else
            snprintf(hb, sizeof hb, "%5.0f%%", 100.0 * h);
        printf("  %4d | %14.2f %8.2f | %15.2f | %17.2f | %s | %8.1f\n", s,
               1e3 * p->compute_mean, 1e3 * p->compute_max, 1e3 * p->wait_max,
               1e3 * p->comm_alone, hb,
               p->compute_max > 0 ? p->flops_max / p->compute_max / 1e9 : 0.0);
    }
    printf("  exposed wait: blocked after this rank's compute: the transfer not hidden, plus\n"
           "  waiting for slower ranks (imbalance: compute slowest - mean; contiguous causal)\n");
    printf("  call %.2f ms (slowest rank); %.2f MiB sent per rank (blocks of %.2f MiB); "
           "compute %.1f GFLOP/s per rank%s\n",
           1e3 * r->total, (double)r->bytes_sent / 1048576.0, step_bytes / 1048576.0,
           r->compute_sum > 0 ? r->flops_total / r->compute_sum / 1e9 : 0.0,
           alone > 0 ? "" : "; no transfers (one rank)");
    if (alone > 0)
        printf("  communication hidden overall: %.0f%% (exposed %.2f ms of %.2f ms of transfers)\n",
               100.0 * (1.0 - waited / alone), 1e3 * waited, 1e3 * alone);
}
