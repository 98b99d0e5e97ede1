/* mmap with MAP_ANONYMOUS, sysconf: POSIX and BSD, not ISO C. */
#define _DEFAULT_SOURCE
#include "fuzz_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void fuzz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz property violated: %s (%s:%d)\n", what, file, line);
    fflush(stderr);
    __builtin_trap();
}

int fuzz_verbose(void)
{
    static int v = -1;
    if (v < 0)
        v = getenv("FUZZ_VERBOSE") != NULL;
    return v;
}

fz_shape fz_shape_of(int64_t n0, int64_t n1, int64_t n2, int64_t last,
                     attn_strides s)
{
    fz_shape sh = {n0, n1, n2, last, s};
    return sh;
}

fz_shape fz_dense(int64_t n0, int64_t n1, int64_t n2, int64_t last)
{
    attn_strides s = {n1 * n2 * last, n2 * last, last};
    return fz_shape_of(n0, n1, n2, last, s);
}

size_t fz_span(fz_shape sh)
{
    return (size_t)(sh.last + (sh.n0 - 1) * sh.s.batch +
                    (sh.n1 - 1) * sh.s.head + (sh.n2 - 1) * sh.s.row);
}

size_t fz_numel(fz_shape sh)
{
    return (size_t)(sh.n0 * sh.n1 * sh.n2 * sh.last);
}

void fz_mark(fz_shape sh, uint8_t *mark)
{
    memset(mark, 0, fz_span(sh));
    for (int64_t a = 0; a < sh.n0; ++a)
        for (int64_t b = 0; b < sh.n1; ++b)
            for (int64_t t = 0; t < sh.n2; ++t)
                memset(mark + fz_at(sh, a, b, t, 0), 1, (size_t)sh.last);
}

uint8_t *fz_mark_new(fz_shape sh)
{
    uint8_t *mark = malloc(fz_span(sh));
    FUZZ_REQUIRE(mark != NULL);
    fz_mark(sh, mark);
    return mark;
}

/* Adds one pair to the running measure; 0 when the pair is a mismatch of
 * non-finite values. */
static int measure(double x, double r, double *num, double *den)
{
    if (!isfinite(x) || !isfinite(r)) {
        if (isnan(x) && isnan(r))
            return 1;
        return x == r;
    }
    const double e = fabs(x - r);
    if (e > *num)
        *num = e;
    if (fabs(r) > *den)
        *den = fabs(r);
    return 1;
}

double fz_rel_err(const float *a, fz_shape sa, const float *b, fz_shape sb,
                  double floor)
{
    double num = 0.0, den = floor;
    for (int64_t i = 0; i < sa.n0; ++i)
        for (int64_t h = 0; h < sa.n1; ++h)
            for (int64_t t = 0; t < sa.n2; ++t)
                for (int64_t c = 0; c < sa.last; ++c)
                    if (!measure(a[fz_at(sa, i, h, t, c)],
                                 b[fz_at(sb, i, h, t, c)], &num, &den))
                        return INFINITY;
    return den > 0.0 ? num / den : num;
}

double fz_rel_err_ref(const float *a, fz_shape sa, const double *r,
                      double floor)
{
    double num = 0.0, den = floor;
    size_t n = 0;
    for (int64_t i = 0; i < sa.n0; ++i)
        for (int64_t h = 0; h < sa.n1; ++h)
            for (int64_t t = 0; t < sa.n2; ++t)
                for (int64_t c = 0; c < sa.last; ++c)
                    if (!measure(a[fz_at(sa, i, h, t, c)], r[n++], &num, &den))
                        return INFINITY;
    return den > 0.0 ? num / den : num;
}

double fz_max_abs(const float *x, fz_shape sh)
{
    double m = 0.0;
    for (int64_t i = 0; i < sh.n0; ++i)
        for (int64_t h = 0; h < sh.n1; ++h)
            for (int64_t t = 0; t < sh.n2; ++t)
                for (int64_t c = 0; c < sh.last; ++c) {
                    const double v = fabs((double)x[fz_at(sh, i, h, t, c)]);
                    if (isfinite(v) && v > m)
                        m = v;
                }
    return m;
}

int fz_all_finite(const float *x, fz_shape sh, int allow_neg_inf)
{
    for (int64_t i = 0; i < sh.n0; ++i)
        for (int64_t h = 0; h < sh.n1; ++h)
            for (int64_t t = 0; t < sh.n2; ++t)
                for (int64_t c = 0; c < sh.last; ++c) {
                    const float v = x[fz_at(sh, i, h, t, c)];
                    if (!isfinite(v) && !(allow_neg_inf && v == -INFINITY))
                        return 0;
                }
    return 1;
}

/* Guarded buffers: mappings of a body plus one PROT_NONE page, kept for
 * reuse once freed; user is where the buffer in use starts (NULL: free). */
#define FZ_MAX_MAPS 64
static struct {
    void *user;
    char *base; /* NULL: empty slot */
    size_t body;
} maps[FZ_MAX_MAPS];

static size_t page_size(void)
{
    static size_t page = 0;
    if (page == 0)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

void *fz_alloc(size_t bytes, int guard)
{
    if (!guard) {
        void *p = malloc(bytes);
        FUZZ_REQUIRE(p != NULL);
        return p;
    }
    const size_t page = page_size();
    const size_t body = (bytes + page - 1) / page * page;
    /* The smallest free mapping that fits; else a new one, in an empty
     * slot or in place of a free mapping that does not fit. */
    int best = -1, empty = -1, victim = -1;
    for (int i = 0; i < FZ_MAX_MAPS; ++i) {
        if (maps[i].base == NULL) {
            if (empty < 0)
                empty = i;
        } else if (maps[i].user == NULL) {
            if (maps[i].body < body)
                victim = i;
            else if (best < 0 || maps[i].body < maps[best].body)
                best = i;
        }
    }
    const int spare = empty >= 0 ? empty : victim;
    if (best < 0) {
        if (spare < 0)
            fuzz_fail("too many guarded buffers", __FILE__, __LINE__);
        if (maps[spare].base != NULL)
            munmap(maps[spare].base, maps[spare].body + page);
        char *base = mmap(NULL, body + page, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        FUZZ_REQUIRE(base != MAP_FAILED);
        FUZZ_REQUIRE(mprotect(base + body, page, PROT_NONE) == 0);
        maps[spare].base = base;
        maps[spare].body = body;
        best = spare;
    }
    maps[best].user = maps[best].base + maps[best].body - bytes;
    return maps[best].user;
}

void fz_free(void *p)
{
    if (p == NULL)
        return;
    for (int i = 0; i < FZ_MAX_MAPS; ++i)
        if (maps[i].user == p) {
            maps[i].user = NULL;
            return;
        }
    free(p);
}

void fz_poison(float *x, size_t n)
{
    const uint32_t bits = FZ_POISON_BITS;
    for (size_t i = 0; i < n; ++i)
        memcpy(x + i, &bits, sizeof bits);
}

int fz_all_poison(const float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!fz_is_poison(x[i]))
            return 0;
    return 1;
}

int fz_all_zero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (x[i] != 0.0f)
            return 0;
    return 1;
}

int fz_gaps_untouched_mark(const float *x, const uint8_t *mark, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!mark[i] && !fz_is_poison(x[i]))
            return 0;
    return 1;
}

int fz_gaps_untouched(const float *x, fz_shape sh)
{
    uint8_t *mark = fz_mark_new(sh);
    const int ok = fz_gaps_untouched_mark(x, mark, fz_span(sh));
    free(mark);
    return ok;
}
