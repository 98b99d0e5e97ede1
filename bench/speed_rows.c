#include "speed_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void speed_rows_add(speed_rows *r, const speed_row *row)
{
    if (r->n == r->cap) {
        const size_t cap = r->cap ? 2 * r->cap : 64;
        speed_row *v = realloc(r->v, cap * sizeof *v);
        if (v == NULL) {
            fprintf(stderr, "attention-bench-speed: out of memory\n");
            exit(1);
        }
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n++] = *row;
}

void speed_rows_free(speed_rows *r)
{
    free(r->v);
    r->v = NULL;
    r->n = r->cap = 0;
}

double speed_rows_roof(const speed_rows *r, int threads)
{
    double best = 0.0;
    for (size_t i = 0; i < r->n; ++i) {
        const speed_row *x = &r->v[i];
        if (x->kind == SPEED_ROOF && strcmp(x->product, "square") == 0 &&
            x->threads == threads && x->gflops > best)
            best = x->gflops;
    }
    return best;
}

double speed_rows_ratio(const speed_rows *r, const speed_row *row)
{
    const double roof = speed_rows_roof(r, row->threads);
    return roof > 0.0 ? row->gflops / roof : 0.0;
}

const speed_row *speed_rows_find(const speed_rows *r, speed_kind kind,
                                 const char *phase, speed_shape s, int causal,
                                 speed_pass pass, int threads)
{
    for (size_t i = 0; i < r->n; ++i) {
        const speed_row *x = &r->v[i];
        if (x->kind == kind && strcmp(x->phase, phase) == 0 && x->b == s.b &&
            x->h == s.h && x->tq == s.t && x->d == s.d &&
            x->causal == causal && x->pass == pass && x->threads == threads)
            return x;
    }
    return NULL;
}

const speed_row *speed_rows_find_roof(const speed_rows *r, const char *product,
                                      int64_t d, const char *phase,
                                      int threads)
{
    for (size_t i = 0; i < r->n; ++i) {
        const speed_row *x = &r->v[i];
        if (x->kind == SPEED_ROOF && strcmp(x->product, product) == 0 &&
            x->d == d && strcmp(x->phase, phase) == 0 && x->threads == threads)
            return x;
    }
    return NULL;
}
