#include "speed_csv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {"roof", "fused", "reference"};
static const char *const pass_names[] = {"fwd", "fwdbwd"};

FILE *speed_csv_open(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "attention-bench-speed: cannot open %s: %s\n", path,
                strerror(errno));
    return f;
}

int speed_csv_write(FILE *f, const char *path, const speed_rows *r)
{
    fprintf(f, "kind,pass,B,H,Tq,Tk,d,causal,threads,gflops,roof_gflops,"
               "roof_ratio,extra_bytes,product,phase,seconds,reps,others_busy,attempts\n");
    for (size_t i = 0; i < r->n; ++i) {
        const speed_row *x = &r->v[i];
        fprintf(f, "%s,%s,%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64
                   ",%" PRId64 ",%d,%d,%.6g,%.6g,%.6g,%zu,%s,%s,%.6g,%d,%.3g,%d\n",
                kind_names[x->kind], pass_names[x->pass], x->b, x->h, x->tq,
                x->tk, x->d, x->causal, x->threads, x->gflops,
                speed_rows_roof(r, x->threads), speed_rows_ratio(r, x),
                x->extra_bytes, x->product, x->phase, x->seconds, x->reps,
                x->others, x->attempts);
    }
    int bad = ferror(f) != 0;
    if (fclose(f) != 0)
        bad = 1;
    if (bad) {
        fprintf(stderr, "attention-bench-speed: cannot write %s\n", path);
        return -1;
    }
    return 0;
}
