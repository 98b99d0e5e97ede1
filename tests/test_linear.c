/*
 * attn_linear_forward and attn_linear_backward (include/attention/linear.h)
 * against a double loop (gr_linear_forward), the closed-form gradients in
 * double and central finite differences of the double loop's loss
 * L = sum(y * G).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <attention/linear.h>

#include "grad_reference.h"
#include "testutil.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* (rows, in_features, out_features): degenerate, odd, a long batch. */
static const int64_t shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 4, 9},
                                    {65, 13, 6}, {2, 1, 5}, {4, 6, 1}};

static double max_err[3];
static const char *const grad_name[3] = {"dx", "dw", "db"};

typedef struct lin {
    int64_t rows, in, out;
    float *x, *w, *b, *y, *dy;   /* (rows, in), (out, in), (out), (rows, out) */
    double *xd, *wd, *bd, *gd;   /* the same in double; gd = dy */
} lin;

static float *uniform(size_t n, tu_rng *r)
{
    float *x = tu_malloc(n, sizeof *x);
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)tu_rng_uniform(r, -1.0, 1.0);
    return x;
}

static void lin_make(lin *l, const int64_t shape[3], uint64_t seed)
{
    tu_rng r = tu_rng_make(seed);
    l->rows = shape[0];
    l->in = shape[1];
    l->out = shape[2];
    const size_t nx = (size_t)(l->rows * l->in), nw = (size_t)(l->out * l->in),
                 ny = (size_t)(l->rows * l->out);
    l->x = uniform(nx, &r);
    l->w = uniform(nw, &r);
    l->b = uniform((size_t)l->out, &r);
    l->dy = uniform(ny, &r);
    l->y = tu_malloc(ny, sizeof *l->y);
    l->xd = gr_to_double(l->x, nx);
    l->wd = gr_to_double(l->w, nw);
    l->bd = gr_to_double(l->b, (size_t)l->out);
    l->gd = gr_to_double(l->dy, ny);
}

static void lin_free(lin *l)
{
    free(l->x);
    free(l->w);
    free(l->b);
    free(l->y);
    free(l->dy);
    free(l->xd);
    free(l->wd);
    free(l->bd);
    free(l->gd);
    memset(l, 0, sizeof *l);
}

static attn_strides rows_of(int64_t cols)
{
    return tu_strides(0, 0, cols);
}

/* ---- forward ------------------------------------------------------------------ */

static void test_forward(void **state)
{
    (void)state;
    for (size_t s = 0; s < N_OF(shapes); ++s)
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
            lin l;
            lin_make(&l, shapes[s], 10 + s);
            const size_t ny = (size_t)(l.rows * l.out);
            double *ref = tu_malloc(ny, sizeof *ref);
            gr_linear_forward(l.xd, l.wd, with_bias ? l.bd : NULL, ref,
                              l.rows, l.in, l.out);
            tu_fill_nan(l.y, ny); /* every entry must be written */
            TU_CHECK_STATUS(attn_linear_forward(l.x, l.w,
                                                with_bias ? l.b : NULL, l.y,
                                                l.rows, l.in, l.out),
                            ATTN_OK);
            char what[64];
            snprintf(what, sizeof what, "forward %lldx%lldx%lld bias %d",
                     (long long)l.rows, (long long)l.in, (long long)l.out,
                     with_bias);
            TU_CHECK_REL(tu_rel_err(l.y, rows_of(l.out), 1, 1, l.rows, l.out,
                                    ref),
                         what, "y");
            free(ref);
            lin_free(&l);
        }
}

/* With a bias, y is exactly b when x is zero (nothing else is added). */
static void test_forward_bias_only(void **state)
{
    (void)state;
    const int64_t shape[3] = {3, 4, 5};
    lin l;
    lin_make(&l, shape, 20);
    memset(l.x, 0, (size_t)(l.rows * l.in) * sizeof *l.x);
    TU_CHECK_STATUS(attn_linear_forward(l.x, l.w, l.b, l.y, l.rows, l.in,
                                        l.out),
                    ATTN_OK);
    for (int64_t r = 0; r < l.rows; ++r)
        for (int64_t o = 0; o < l.out; ++o)
            assert_true(l.y[r * l.out + o] == l.b[o]);
    lin_free(&l);
}

/* ---- backward ----------------------------------------------------------------- */

/* dL/dx, dL/dw, dL/db of L = sum(y * G) by central differences. */
static void fd_grads(lin *l, int with_bias, double *dx, double *dw, double *db)
{
    const size_t ny = (size_t)(l->rows * l->out);
    double *y = tu_malloc(ny, sizeof *y);
    double *const bases[3] = {l->xd, l->wd, l->bd};
    double *const outs[3] = {dx, dw, db};
    const size_t n[3] = {(size_t)(l->rows * l->in), (size_t)(l->out * l->in),
                         (size_t)l->out};
    for (int t = 0; t < (with_bias ? 3 : 2); ++t)
        for (size_t e = 0; e < n[t]; ++e) {
            double *p = &bases[t][e];
            const double x0 = *p, xp = x0 + ATTN_TEST_FD_STEP,
                         xm = x0 - ATTN_TEST_FD_STEP;
            double L[2];
            for (int side = 0; side < 2; ++side) {
                *p = side ? xm : xp;
                gr_linear_forward(l->xd, l->wd, with_bias ? l->bd : NULL, y,
                                  l->rows, l->in, l->out);
                L[side] = 0.0;
                for (size_t i = 0; i < ny; ++i)
                    L[side] += y[i] * l->gd[i];
            }
            *p = x0;
            outs[t][e] = (L[0] - L[1]) / (xp - xm);
        }
    free(y);
}

/* dx = G W, dw = G^T x, db = column sums of G, in double. */
static void closed_form(const lin *l, double *dx, double *dw, double *db)
{
    for (int64_t r = 0; r < l->rows; ++r)
        for (int64_t i = 0; i < l->in; ++i) {
            double acc = 0.0;
            for (int64_t o = 0; o < l->out; ++o)
                acc += l->gd[r * l->out + o] * l->wd[o * l->in + i];
            dx[r * l->in + i] = acc;
        }
    for (int64_t o = 0; o < l->out; ++o)
        for (int64_t i = 0; i < l->in; ++i) {
            double acc = 0.0;
            for (int64_t r = 0; r < l->rows; ++r)
                acc += l->gd[r * l->out + o] * l->xd[r * l->in + i];
            dw[o * l->in + i] = acc;
        }
    for (int64_t o = 0; o < l->out; ++o) {
        double acc = 0.0;
        for (int64_t r = 0; r < l->rows; ++r)
            acc += l->gd[r * l->out + o];
        db[o] = acc;
    }
}

static void check_grad(const float *g, const double *r, int64_t rows,
                       int64_t cols, int which, const char *what)
{
    double scale = 0.0;
    const double err = gr_rel_err(g, rows_of(cols), 1, 1, rows, cols, r,
                                  ATTN_TEST_GRAD_FLOOR, &scale);
    if (err > max_err[which] || isnan(err))
        max_err[which] = err;
    if (!(err <= ATTN_TEST_GRAD_TOL))
        fail_msg("%s: %s: error %g > %g (largest reference entry %g)", what,
                 grad_name[which], err, ATTN_TEST_GRAD_TOL, scale);
}

static void test_backward_against_references(void **state)
{
    (void)state;
    for (size_t s = 0; s < N_OF(shapes); ++s) {
        lin l;
        lin_make(&l, shapes[s], 30 + s);
        const size_t nx = (size_t)(l.rows * l.in), nw = (size_t)(l.out * l.in),
                     nb = (size_t)l.out;
        double *fd[3], *cf[3];
        const size_t n[3] = {nx, nw, nb};
        for (int t = 0; t < 3; ++t) {
            fd[t] = tu_malloc(n[t], sizeof(double));
            cf[t] = tu_malloc(n[t], sizeof(double));
        }
        fd_grads(&l, 1, fd[0], fd[1], fd[2]);
        closed_form(&l, cf[0], cf[1], cf[2]);
        /* The two references agree (finite differences of a bilinear
         * function are exact up to rounding). */
        for (int t = 0; t < 3; ++t)
            for (size_t e = 0; e < n[t]; ++e)
                if (!(fabs(fd[t][e] - cf[t][e]) <= ATTN_TEST_FD_SELF_TOL *
                                                       (1.0 + fabs(cf[t][e]))))
                    fail_msg("%s: finite difference %.17g vs closed form"
                             " %.17g", grad_name[t], fd[t][e], cf[t][e]);

        float *dx = tu_malloc(nx, sizeof *dx), *dw = tu_malloc(nw, sizeof *dw),
              *db = tu_malloc(nb, sizeof *db);
        memset(dx, 0, nx * sizeof *dx);
        memset(dw, 0, nw * sizeof *dw);
        memset(db, 0, nb * sizeof *db);
        TU_CHECK_STATUS(attn_linear_backward(l.x, l.w, l.dy, dx, dw, db,
                                             l.rows, l.in, l.out),
                        ATTN_OK);
        char what[64];
        snprintf(what, sizeof what, "backward %lldx%lldx%lld",
                 (long long)l.rows, (long long)l.in, (long long)l.out);
        check_grad(dx, fd[0], l.rows, l.in, 0, what);
        check_grad(dw, fd[1], l.out, l.in, 1, what);
        check_grad(db, fd[2], 1, l.out, 2, what);
        /* Against the closed form, with the forward's tolerance. */
        TU_CHECK_REL(tu_rel_err(dx, rows_of(l.in), 1, 1, l.rows, l.in, cf[0]),
                     what, "dx closed form");
        TU_CHECK_REL(tu_rel_err(dw, rows_of(l.in), 1, 1, l.out, l.in, cf[1]),
                     what, "dw closed form");
        TU_CHECK_REL(tu_rel_err(db, rows_of(l.out), 1, 1, 1, l.out, cf[2]),
                     what, "db closed form");
        free(dx);
        free(dw);
        free(db);
        for (int t = 0; t < 3; ++t) {
            free(fd[t]);
            free(cf[t]);
        }
        lin_free(&l);
    }
}

/* Without a bias, dx and dw are the same gradients (b does not enter). */
static void test_backward_no_bias(void **state)
{
    (void)state;
    const int64_t shape[3] = {5, 3, 4};
    lin l;
    lin_make(&l, shape, 40);
    const size_t nx = (size_t)(l.rows * l.in), nw = (size_t)(l.out * l.in);
    double *fdx = tu_malloc(nx, sizeof *fdx), *fdw = tu_malloc(nw, sizeof *fdw);
    fd_grads(&l, 0, fdx, fdw, NULL);
    float *dx = calloc(nx, sizeof *dx), *dw = calloc(nw, sizeof *dw);
    assert_non_null(dx);
    assert_non_null(dw);
    TU_CHECK_STATUS(attn_linear_backward(l.x, l.w, l.dy, dx, dw, NULL, l.rows,
                                         l.in, l.out),
                    ATTN_OK);
    check_grad(dx, fdx, l.rows, l.in, 0, "no bias");
    check_grad(dw, fdw, l.out, l.in, 1, "no bias");
    free(dx);
    free(dw);
    free(fdx);
    free(fdw);
    lin_free(&l);
}

/* += : a second call doubles, a prefill gets the gradient added; NULL
 * outputs are skipped and the others unaffected. */
static void test_accumulate_and_null(void **state)
{
    (void)state;
    const int64_t shape[3] = {7, 5, 3};
    lin l;
    lin_make(&l, shape, 50);
    const size_t n[3] = {(size_t)(l.rows * l.in), (size_t)(l.out * l.in),
                         (size_t)l.out};
    float *g[3], *one[3], *pre[3];
    for (int t = 0; t < 3; ++t) {
        g[t] = calloc(n[t], sizeof(float));
        one[t] = tu_malloc(n[t], sizeof(float));
        pre[t] = tu_malloc(n[t], sizeof(float));
        assert_non_null(g[t]);
    }
    TU_CHECK_STATUS(attn_linear_backward(l.x, l.w, l.dy, g[0], g[1], g[2],
                                         l.rows, l.in, l.out),
                    ATTN_OK);
    for (int t = 0; t < 3; ++t)
        memcpy(one[t], g[t], n[t] * sizeof(float));
    TU_CHECK_STATUS(attn_linear_backward(l.x, l.w, l.dy, g[0], g[1], g[2],
                                         l.rows, l.in, l.out),
                    ATTN_OK);
    for (int t = 0; t < 3; ++t)
        for (size_t e = 0; e < n[t]; ++e)
            if (!(fabs((double)g[t][e] - 2.0 * one[t][e]) <=
                  ATTN_TEST_ACCUM_TOL * 2.0 * fabs((double)one[t][e])))
                fail_msg("%s[%zu]: two calls give %.9g, one %.9g",
                         grad_name[t], e, (double)g[t][e],
                         (double)one[t][e]);

    tu_rng r = tu_rng_make(51);
    for (int skip = -1; skip < 3; ++skip) {
        float *arg[3];
        for (int t = 0; t < 3; ++t) {
            for (size_t e = 0; e < n[t]; ++e)
                pre[t][e] = g[t][e] = (float)tu_rng_uniform(&r, -2.0, 2.0);
            arg[t] = t == skip ? NULL : g[t];
        }
        TU_CHECK_STATUS(attn_linear_backward(l.x, l.w, l.dy, arg[0], arg[1],
                                             arg[2], l.rows, l.in, l.out),
                        ATTN_OK);
        for (int t = 0; t < 3; ++t)
            for (size_t e = 0; e < n[t]; ++e) {
                const double want =
                    t == skip ? (double)pre[t][e]
                              : (double)pre[t][e] + (double)one[t][e];
                const double size = fabs((double)pre[t][e]) +
                                    (t == skip ? 0.0 : fabs((double)one[t][e]));
                if (!(fabs((double)g[t][e] - want) <=
                      ATTN_TEST_ACCUM_TOL * size))
                    fail_msg("skip %d: %s[%zu] = %.9g, want %.9g", skip,
                             grad_name[t], e, (double)g[t][e], want);
            }
    }
    /* All NULL: nothing to do. */
    TU_CHECK_STATUS(attn_linear_backward(l.x, l.w, l.dy, NULL, NULL, NULL,
                                         l.rows, l.in, l.out),
                    ATTN_OK);
    for (int t = 0; t < 3; ++t) {
        free(g[t]);
        free(one[t]);
        free(pre[t]);
    }
    lin_free(&l);
}

/* ---- errors: nothing written ------------------------------------------------- */

#define ARENA 2048
static float arena[ARENA], snap[ARENA];

/* rows 3, in 4, out 5 laid out in the arena. */
#define X (arena)              /* 12 */
#define W (arena + 16)         /* 20 */
#define B (arena + 40)         /* 5 */
#define Y (arena + 48)         /* 15 */
#define DY (arena + 64)        /* 15 */
#define DX (arena + 80)        /* 12 */
#define DW (arena + 96)        /* 20 */
#define DB (arena + 120)       /* 5 */

#define EXPECT(call, want)                                                \
    do {                                                                  \
        memcpy(snap, arena, sizeof arena);                                \
        TU_CHECK_STATUS(call, want);                                      \
        if (memcmp(snap, arena, sizeof arena) != 0)                       \
            fail_msg("line %d: a failing call wrote to memory", __LINE__);\
    } while (0)

static void test_errors(void **state)
{
    (void)state;
    tu_rng r = tu_rng_make(60);
    for (size_t e = 0; e < ARENA; ++e)
        arena[e] = (float)tu_rng_uniform(&r, -1.0, 1.0);
    const attn_status NP = ATTN_ERR_NULL_POINTER, BD = ATTN_ERR_BAD_DIMENSION,
                      AL = ATTN_ERR_ALIASING;
    /* The baseline calls are valid. */
    TU_CHECK_STATUS(attn_linear_forward(X, W, B, Y, 3, 4, 5), ATTN_OK);
    TU_CHECK_STATUS(attn_linear_backward(X, W, DY, DX, DW, DB, 3, 4, 5),
                    ATTN_OK);

    EXPECT(attn_linear_forward(NULL, W, B, Y, 3, 4, 5), NP);
    EXPECT(attn_linear_forward(X, NULL, B, Y, 3, 4, 5), NP);
    EXPECT(attn_linear_forward(X, W, B, NULL, 3, 4, 5), NP);
    EXPECT(attn_linear_backward(NULL, W, DY, DX, DW, DB, 3, 4, 5), NP);
    EXPECT(attn_linear_backward(X, NULL, DY, DX, DW, DB, 3, 4, 5), NP);
    EXPECT(attn_linear_backward(X, W, NULL, DX, DW, DB, 3, 4, 5), NP);

    static const int64_t bad[] = {0, -1, INT64_MIN};
    for (size_t i = 0; i < N_OF(bad); ++i) {
        EXPECT(attn_linear_forward(X, W, B, Y, bad[i], 4, 5), BD);
        EXPECT(attn_linear_forward(X, W, B, Y, 3, bad[i], 5), BD);
        EXPECT(attn_linear_forward(X, W, B, Y, 3, 4, bad[i]), BD);
        EXPECT(attn_linear_backward(X, W, DY, DX, DW, DB, bad[i], 4, 5), BD);
        EXPECT(attn_linear_backward(X, W, DY, DX, DW, DB, 3, bad[i], 5), BD);
        EXPECT(attn_linear_backward(X, W, DY, DX, DW, DB, 3, 4, bad[i]), BD);
    }
    /* Dimensions beyond the BLAS int: refused before anything is read. */
    EXPECT(attn_linear_forward(X, W, B, Y, (int64_t)INT_MAX + 1, 4, 5),
           ATTN_ERR_SIZE_OVERFLOW);
    EXPECT(attn_linear_backward(X, W, DY, DX, DW, DB, 3, (int64_t)INT_MAX + 1,
                                5),
           ATTN_ERR_SIZE_OVERFLOW);

    /* y must not overlap x, w or b. */
    EXPECT(attn_linear_forward(X, W, B, X, 3, 4, 5), AL);
    EXPECT(attn_linear_forward(X, W, B, X + 11, 3, 4, 5), AL);
    EXPECT(attn_linear_forward(X, W, B, W + 3, 3, 4, 5), AL);
    EXPECT(attn_linear_forward(X, W, B, B - 14, 3, 4, 5), AL);
    EXPECT(attn_linear_forward(X, W, B, B + 4, 3, 4, 5), AL);
    /* Outputs must not overlap inputs or each other. */
    EXPECT(attn_linear_backward(X, W, DY, X, DW, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, W + 8, DW, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DY + 2, DW, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, W, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, X + 1, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, DY - 5, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, DW, DY + 10, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, DW, W, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, DX + 11, DB, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DX, DW, DW + 19, 3, 4, 5), AL);
    EXPECT(attn_linear_backward(X, W, DY, DB - 2, DW, DB, 3, 4, 5), AL);
    /* Adjacent but disjoint is fine. */
    TU_CHECK_STATUS(attn_linear_forward(X, W, B, X + 12, 1, 4, 1), ATTN_OK);
}

static void test_report(void **state)
{
    (void)state;
    print_message("largest gradient errors against finite differences"
                  " (tolerance %g): dx %.3g, dw %.3g, db %.3g\n",
                  ATTN_TEST_GRAD_TOL, max_err[0], max_err[1], max_err[2]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_forward_bias_only),
        cmocka_unit_test(test_backward_against_references),
        cmocka_unit_test(test_backward_no_bias),
        cmocka_unit_test(test_accumulate_and_null),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests_name("linear", tests, NULL, NULL);
}
