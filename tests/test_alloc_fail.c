/*
 * Allocation-failure injection: every allocating entry point is run under
 * a test allocator that fails its 1st, 2nd, ... Kth allocation (K counted
 * on an unfailed run), once with only that allocation failing and once
 * with every allocation from it on failing. Each failed call must return
 * ATTN_ERR_OUT_OF_MEMORY, leave every output byte-identical (output
 * tensors, gradient buffers, object out-parameters, the layer's weights
 * and gradients, files on disk) and leak nothing. The entry points that
 * are documented never to allocate are checked to make no allocation.
 *
 * Mechanism (nothing in the library changes): this program links the
 * STATIC library with the linker's --wrap=malloc,calloc,realloc,free (see
 * tests/CMakeLists.txt), so every call from libattention.a's objects (and
 * from this file) lands in __wrap_malloc etc. below, which count, fail on
 * request, record the blocks allocated while armed and forward to
 * __real_malloc (glibc's, or ASan's under ATTENTION_SANITIZE). jansson is
 * a shared library that --wrap cannot reach; json_set_alloc_funcs routes
 * its allocations through the same functions, so the JSON code's failures
 * are injected and its blocks tracked too. OpenMP and BLAS allocate
 * internally through the real malloc; those calls are not counted.
 *
 * Defects this test found, fixed (each case below is the regression test):
 *   - attn_params_save leaked the "shape" JSON array when an allocation in
 *     entry_json failed before the array was attached;
 *   - attn_params_save returned ATTN_OK with a malformed header (a key
 *     left out) when the allocation failing was the one jansson's
 *     json_dumps makes while writing an object key (jansson 2.14's dump.c
 *     ignores that write's result): it now sizes, then json_dumpb's;
 *   - attn_params_load / attn_params_load_buffer returned
 *     ATTN_ERR_BAD_FILE, not ATTN_ERR_OUT_OF_MEMORY, for allocation
 *     failures inside json_loadb (jansson never reports them, and left the
 *     error code unset): a non-allocating grammar check now tells the two
 *     apart (src/json_grammar.c).
 *
 * The same counting allocator also measures how many bytes a load asks
 * for (fa.bytes): a load's memory must follow the parameter list, not the
 * file (test_load_sparse_file, test_load_header_memory). fsync and pread
 * are wrapped too: a save must sync the file before the rename and the
 * directory after it (test_save_syncs), and a read failing half way
 * through a load must leave every parameter as it was
 * (test_load_read_errors).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, opendir */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <malloc.h> /* malloc_usable_size (glibc, and the sanitizers') */

#include <attention/attention.h>

#include "testutil.h"

/* ---- the failing allocator ---------------------------------------------- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *ptr, size_t size);
void __real_free(void *ptr);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *ptr, size_t size);
void __wrap_free(void *ptr);

#define MAX_LIVE 4096

static pthread_mutex_t fa_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int armed;          /* counting, failing and tracking are on */
    int persistent;     /* fail every allocation from fail_at on */
    long count;         /* allocations requested while armed */
    long fail_at;       /* 1-based index of the allocation to fail; 0 none */
    long injected;      /* failures handed out */
    size_t bytes;       /* bytes asked for while armed, not failed */
    size_t live_bytes;  /* usable bytes of the tracked blocks */
    size_t peak_bytes;  /* the most live_bytes since fa_arm */
    int overflow;       /* the live table filled up */
    size_t live_n;      /* blocks allocated while armed, not yet freed */
    void *live[MAX_LIVE];
} fa;

/* Adds a granted request's size (while armed). */
static void fa_note(size_t bytes)
{
    if (fa.armed)
        fa.bytes += bytes;
}

/* One more allocation request while armed: nonzero when it must fail. */
static int fa_should_fail(void)
{
    if (!fa.armed)
        return 0;
    const long i = ++fa.count;
    if (fa.fail_at > 0 && (i == fa.fail_at || (fa.persistent && i > fa.fail_at))) {
        ++fa.injected;
        return 1;
    }
    return 0;
}

static void fa_track(void *p)
{
    if (p == NULL)
        return;
    if (fa.live_n < MAX_LIVE)
        fa.live[fa.live_n++] = p;
    else
        fa.overflow = 1;
    fa.live_bytes += malloc_usable_size(p);
    if (fa.live_bytes > fa.peak_bytes)
        fa.peak_bytes = fa.live_bytes;
}

static int fa_untrack(void *p)
{
    for (size_t i = fa.live_n; i-- > 0;)
        if (fa.live[i] == p) {
            fa.live[i] = fa.live[--fa.live_n];
            fa.live_bytes -= malloc_usable_size(p);
            return 1;
        }
    return 0;
}

void *__wrap_malloc(size_t size)
{
    pthread_mutex_lock(&fa_lock);
    void *p = NULL;
    if (!fa_should_fail()) {
        p = __real_malloc(size);
        if (fa.armed)
            fa_track(p);
        if (p != NULL)
            fa_note(size);
    }
    pthread_mutex_unlock(&fa_lock);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    pthread_mutex_lock(&fa_lock);
    void *p = NULL;
    if (!fa_should_fail()) {
        p = __real_calloc(n, size);
        if (fa.armed)
            fa_track(p);
        if (p != NULL)
            fa_note(n * size);
    }
    pthread_mutex_unlock(&fa_lock);
    return p;
}

void *__wrap_realloc(void *ptr, size_t size)
{
    pthread_mutex_lock(&fa_lock);
    void *p = NULL;
    /* A failed realloc leaves the old block allocated (and tracked). */
    if (!fa_should_fail()) {
        const int was = ptr != NULL && fa_untrack(ptr);
        p = __real_realloc(ptr, size);
        if (p != NULL)
            fa_note(size);
        if (p != NULL && (was || fa.armed))
            fa_track(p);
        else if (p == NULL && was)
            fa_track(ptr);
    }
    pthread_mutex_unlock(&fa_lock);
    return p;
}

void __wrap_free(void *ptr)
{
    if (ptr == NULL)
        return;
    pthread_mutex_lock(&fa_lock);
    fa_untrack(ptr);
    __real_free(ptr);
    pthread_mutex_unlock(&fa_lock);
}

/* Starts counting (and failing allocation fail_at, 0 = none). */
static void fa_arm(long fail_at, int persistent)
{
    pthread_mutex_lock(&fa_lock);
    fa.count = 0;
    fa.injected = 0;
    fa.bytes = 0;
    fa.peak_bytes = fa.live_bytes;
    fa.fail_at = fail_at;
    fa.persistent = persistent;
    fa.armed = 1;
    pthread_mutex_unlock(&fa_lock);
}

static void fa_disarm(void)
{
    pthread_mutex_lock(&fa_lock);
    fa.armed = 0;
    pthread_mutex_unlock(&fa_lock);
}

/* Forgets the blocks tracked so far (after a reported leak). */
static void fa_forget(void)
{
    pthread_mutex_lock(&fa_lock);
    fa.live_n = 0;
    fa.live_bytes = 0;
    fa.overflow = 0;
    pthread_mutex_unlock(&fa_lock);
}

static size_t fa_live(void)
{
    pthread_mutex_lock(&fa_lock);
    const size_t n = fa.live_n;
    pthread_mutex_unlock(&fa_lock);
    return n;
}

/* ---- fsync and pread, seen and failed ------------------------------------ */

int __real_fsync(int fd);
int __wrap_fsync(int fd);
ssize_t __real_pread(int fd, void *buf, size_t n, off_t offset);
ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t offset);

#define MAX_SYNCS 8

/* Only the single-threaded file tests below use these. */
static struct {
    int syncs;                      /* fsync calls */
    struct stat synced[MAX_SYNCS];  /* what each one synced */
    int sync_fail_at;               /* 1-based call that fails (EIO); 0 none */
    void (*on_sync)(int call);      /* runs before each fsync */
    int reads;                      /* pread calls */
    int read_short_at;              /* this call reads half of what it is asked */
    int read_fail_at;               /* this call fails: read_errno, or 0 = EOF */
    int read_errno;
} io;

static void io_reset(void)
{
    memset(&io, 0, sizeof io);
}

int __wrap_fsync(int fd)
{
    const int call = ++io.syncs;
    if (call <= MAX_SYNCS && fstat(fd, &io.synced[call - 1]) != 0)
        memset(&io.synced[call - 1], 0, sizeof io.synced[0]);
    if (io.on_sync != NULL)
        io.on_sync(call);
    if (call == io.sync_fail_at) {
        errno = EIO;
        return -1;
    }
    return __real_fsync(fd);
}

ssize_t __wrap_pread(int fd, void *buf, size_t n, off_t offset)
{
    const int call = ++io.reads;
    if (call == io.read_fail_at) {
        if (io.read_errno == 0)
            return 0;
        errno = io.read_errno;
        return -1;
    }
    if (call == io.read_short_at && n > 1)
        n /= 2;
    return __real_pread(fd, buf, n, offset);
}

/* ---- small helpers ------------------------------------------------------ */

static tu_rng rng = {0x0a11fa11u};

static float *fvec(size_t n)
{
    float *x = malloc((n > 0 ? n : 1) * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)tu_rng_uniform(&rng, -1.0, 1.0);
    return x;
}

static void *dup_bytes(const void *p, size_t n)
{
    void *q = malloc(n > 0 ? n : 1);
    assert_non_null(q);
    memcpy(q, p, n);
    return q;
}

/* Fills with a byte pattern no computation produces by chance. */
static void poison(void *p, size_t n)
{
    memset(p, 0xA5, n);
}

/* ---- the harness -------------------------------------------------------- */

#define MAX_REGIONS 24

/* Memory that a failed call must leave byte-identical. */
typedef struct region {
    const char *what;
    void *ptr;
    size_t bytes;
} region;

typedef struct oom_case {
    const char *name;
    void *ctx;
    /* Puts every output into its pre-call state (unarmed). */
    void (*reset)(void *ctx);
    /* The entry point (or the sequence of calls) under test. */
    attn_status (*call)(void *ctx);
    /* After ATTN_OK (unarmed): checks the results against the unfailed
     * reference and releases what the call created. Returns the number of
     * problems printed. */
    int (*after_success)(void *ctx);
    /* After a failure (unarmed), extra checks beyond the regions (files on
     * disk, the state still usable). Returns the number of problems. */
    int (*after_failure)(void *ctx);
    region regions[MAX_REGIONS];
    int region_count;
} oom_case;

static void add_region(oom_case *c, const char *what, void *ptr, size_t bytes)
{
    assert_true(c->region_count < MAX_REGIONS);
    c->regions[c->region_count++] = (region){what, ptr, bytes};
}

/* Failure runs made, for the summary. */
static long total_failures_tested;

/*
 * Problems of the running case, merged over consecutive allocation
 * indices: "failing only allocation 4-85 of 87: returned 14 ..." rather
 * than 82 lines.
 */
typedef struct problem {
    char msg[200];
    int mode;           /* -1 unfailed run, 0 only n fails, 1 n.. fail */
    long first, last;
    size_t max;         /* largest count seen (leaks) */
} problem;

#define MAX_PROBLEMS 512
static problem problems[MAX_PROBLEMS];
static int problem_count;
static int cur_mode;
static long cur_n;

/* Records a problem of the current run (cur_mode, cur_n). */
static void report_count(size_t count, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (int i = problem_count; i-- > 0;) {
        problem *p = &problems[i];
        if (p->mode == cur_mode && strcmp(p->msg, msg) == 0 &&
            (p->last == cur_n || p->last + 1 == cur_n)) {
            p->last = cur_n;
            p->max = count > p->max ? count : p->max;
            return;
        }
    }
    if (problem_count < MAX_PROBLEMS) {
        problem *p = &problems[problem_count++];
        snprintf(p->msg, sizeof p->msg, "%s", msg);
        p->mode = cur_mode;
        p->first = p->last = cur_n;
        p->max = count;
    }
}

#define report(...) report_count(0, __VA_ARGS__)

static int print_problems(const char *name, long k)
{
    for (int i = 0; i < problem_count; ++i) {
        const problem *p = &problems[i];
        char where[96];
        if (p->mode < 0)
            snprintf(where, sizeof where, "unfailed run");
        else if (p->first == p->last)
            snprintf(where, sizeof where, "failing %s allocation %ld of %ld",
                     p->mode ? "every allocation from" : "only", p->first, k);
        else
            snprintf(where, sizeof where, "failing %s allocation %ld..%ld of %ld",
                     p->mode ? "every allocation from" : "only", p->first,
                     p->last, k);
        if (p->max > 0)
            print_error("%s: %s: %s (up to %zu)\n", name, where, p->msg, p->max);
        else
            print_error("%s: %s: %s\n", name, where, p->msg);
    }
    return problem_count;
}

/*
 * Runs one case: an unfailed run to count K, then n = 1..K in both
 * failure modes. Returns K.
 */
static int case_problems; /* summed over the running test function */

static long run_case(oom_case *c)
{
    fa_forget();
    problem_count = 0;

    /* Unfailed, counted run. */
    cur_mode = -1;
    cur_n = 0;
    c->reset(c->ctx);
    fa_arm(0, 0);
    attn_status s = c->call(c->ctx);
    fa_disarm();
    const long k = fa.count;
    if (s != ATTN_OK) {
        print_error("%s: unfailed run returned %d (%s)\n", c->name, (int)s,
                    attn_strerror(s));
        ++case_problems;
        return 0;
    }
    if (c->after_success)
        c->after_success(c->ctx);
    if (fa_live() != 0) {
        report_count(fa_live(), "block(s) still allocated after cleanup");
        fa_forget();
    }

    unsigned char *snap[MAX_REGIONS];
    for (int r = 0; r < c->region_count; ++r)
        snap[r] = malloc(c->regions[r].bytes > 0 ? c->regions[r].bytes : 1);

    for (int persistent = 0; persistent <= 1; ++persistent)
        for (long n = 1; n <= k; ++n) {
            cur_mode = persistent;
            cur_n = n;
            c->reset(c->ctx);
            for (int r = 0; r < c->region_count; ++r)
                memcpy(snap[r], c->regions[r].ptr, c->regions[r].bytes);
            fa_arm(n, persistent);
            s = c->call(c->ctx);
            fa_disarm();
            ++total_failures_tested;
            if (fa.injected == 0)
                /* Fewer allocations than the counted run: the case is then
                 * not testing what it claims to. */
                report("the call made fewer allocations than the unfailed run");
            if (s != ATTN_ERR_OUT_OF_MEMORY) {
                report("returned %d (%s), expected ATTN_ERR_OUT_OF_MEMORY", (int)s,
                       attn_strerror(s));
                if (s == ATTN_OK && c->after_success)
                    c->after_success(c->ctx); /* checks, and releases what it made */
            }
            for (int r = 0; r < c->region_count; ++r)
                if (memcmp(snap[r], c->regions[r].ptr, c->regions[r].bytes) != 0)
                    report("%s changed", c->regions[r].what);
            if (c->after_failure)
                c->after_failure(c->ctx);
            const size_t live = fa_live();
            if (live != 0) {
                report_count(live, "block(s) leaked");
                fa_forget();
            }
        }
    for (int r = 0; r < c->region_count; ++r)
        free(snap[r]);
    if (fa.overflow)
        report("the allocation table overflowed (raise MAX_LIVE)");
    print_message("  %-52s K = %2ld allocation(s), %3ld failure runs\n", c->name,
                  k, 2 * k);
    case_problems += print_problems(c->name, k);
    return k;
}

/* Ends a test function: fails it if any of its cases had a problem. The
 * cases return rather than fail so that the test releases its buffers
 * first (no false leak reports under LeakSanitizer). */
static void finish_test(void)
{
    const int n = case_problems;
    case_problems = 0;
    if (n != 0)
        fail_msg("%d problem(s), listed above", n);
}

/* Counts the allocations of a call documented never to allocate. */
static void expect_no_allocation(const char *name, attn_status (*call)(void *),
                                 void *ctx)
{
    fa_forget();
    fa_arm(0, 0);
    const attn_status s = call(ctx);
    fa_disarm();
    if (s != ATTN_OK)
        print_error("%s returned %d (%s)\n", name, (int)s, attn_strerror(s)), ++case_problems;
    if (fa.count != 0)
        print_error("%s made %ld allocation(s); documented to make none\n", name,
                    fa.count), ++case_problems;
    print_message("  %-52s K = %2ld (documented: none)\n", name, fa.count);
}

/* ---- attention forward and backward ------------------------------------ */

enum { B = 2, HQ = 4, HKV = 2, TQ = 37, TK = 45, D = 16, DV = 8 };

typedef struct sdpa_ctx {
    attn_sdpa_desc d;
    float *q, *k, *v, *bias;
    uint8_t *keep;
    int64_t kv_lens[B];
    float *out, *w, *lse;           /* outputs */
    float *ref_out, *ref_w, *ref_lse;
    int want_w, want_lse;
    /* backward */
    float *dout, *dq, *dk, *dv, *dbias;
    float *ref_dq, *ref_dk, *ref_dv, *ref_dbias;
    float *init_dq, *init_dk, *init_dv, *init_dbias;
    void *ws;
    size_t ws_bytes;
} sdpa_ctx;

static const size_t n_q = (size_t)B * HQ * TQ * D, n_k = (size_t)B * HKV * TK * D,
                    n_v = (size_t)B * HKV * TK * DV, n_o = (size_t)B * HQ * TQ * DV,
                    n_w = (size_t)B * HQ * TQ * TK, n_l = (size_t)B * HQ * TQ,
                    n_m = (size_t)TQ * TK;

static void sdpa_setup(sdpa_ctx *c, attn_algo algo, int masks)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(attn_sdpa_desc_init(&c->d, B, HQ, HKV, TQ, TK, D, DV), ATTN_OK);
    c->d.algo = algo;
    c->d.num_threads = 2;
    c->q = fvec(n_q);
    c->k = fvec(n_k);
    c->v = fvec(n_v);
    c->bias = fvec(n_m);
    c->keep = malloc(n_m);
    assert_non_null(c->keep);
    for (size_t i = 0; i < n_m; ++i)
        c->keep[i] = (uint8_t)(i % 7 != 3);
    c->kv_lens[0] = TK;
    c->kv_lens[1] = 30;
    if (masks) {
        c->d.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
        c->d.kv_lens = c->kv_lens;
        c->d.keep_mask = c->keep;
        c->d.bias = c->bias;
    }
    c->out = malloc(n_o * sizeof(float));
    c->w = malloc(n_w * sizeof(float));
    c->lse = malloc(n_l * sizeof(float));
    c->dout = fvec(n_o);
    c->init_dq = fvec(n_q);
    c->init_dk = fvec(n_k);
    c->init_dv = fvec(n_v);
    c->init_dbias = fvec(n_m);
    c->dq = malloc(n_q * sizeof(float));
    c->dk = malloc(n_k * sizeof(float));
    c->dv = malloc(n_v * sizeof(float));
    c->dbias = malloc(n_m * sizeof(float));
    /* The references: one plain run of each. */
    c->want_w = c->want_lse = 1;
    poison(c->out, n_o * sizeof(float));
    assert_int_equal(attn_sdpa_forward(&c->d, c->q, c->k, c->v, c->out, c->w,
                                       c->lse), ATTN_OK);
    c->ref_out = dup_bytes(c->out, n_o * sizeof(float));
    c->ref_w = dup_bytes(c->w, n_w * sizeof(float));
    c->ref_lse = dup_bytes(c->lse, n_l * sizeof(float));
    memcpy(c->dq, c->init_dq, n_q * sizeof(float));
    memcpy(c->dk, c->init_dk, n_k * sizeof(float));
    memcpy(c->dv, c->init_dv, n_v * sizeof(float));
    memcpy(c->dbias, c->init_dbias, n_m * sizeof(float));
    assert_int_equal(attn_sdpa_backward(&c->d, c->q, c->k, c->v, c->ref_out,
                                        c->ref_lse, c->dout, c->dq, c->dk,
                                        c->dv, c->dbias), ATTN_OK);
    c->ref_dq = dup_bytes(c->dq, n_q * sizeof(float));
    c->ref_dk = dup_bytes(c->dk, n_k * sizeof(float));
    c->ref_dv = dup_bytes(c->dv, n_v * sizeof(float));
    c->ref_dbias = dup_bytes(c->dbias, n_m * sizeof(float));
    size_t fb = 0, bb = 0;
    assert_int_equal(attn_sdpa_workspace_size(&c->d, &fb), ATTN_OK);
    assert_int_equal(attn_sdpa_backward_workspace_size(&c->d, &bb), ATTN_OK);
    c->ws_bytes = fb > bb ? fb : bb;
    c->ws = malloc(c->ws_bytes > 0 ? c->ws_bytes : 1);
}

static void sdpa_teardown(sdpa_ctx *c)
{
    void *all[] = {c->q, c->k, c->v, c->bias, c->keep, c->out, c->w, c->lse,
                   c->ref_out, c->ref_w, c->ref_lse, c->dout, c->dq, c->dk,
                   c->dv, c->dbias, c->ref_dq, c->ref_dk, c->ref_dv,
                   c->ref_dbias, c->init_dq, c->init_dk, c->init_dv,
                   c->init_dbias, c->ws};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        free(all[i]);
}

static void fwd_reset(void *vc)
{
    sdpa_ctx *c = vc;
    poison(c->out, n_o * sizeof(float));
    poison(c->w, n_w * sizeof(float));
    poison(c->lse, n_l * sizeof(float));
}

static attn_status fwd_call(void *vc)
{
    sdpa_ctx *c = vc;
    return attn_sdpa_forward(&c->d, c->q, c->k, c->v, c->out,
                             c->want_w ? c->w : NULL, c->want_lse ? c->lse : NULL);
}

static attn_status fwd_ws_call(void *vc)
{
    sdpa_ctx *c = vc;
    return attn_sdpa_forward_ws(&c->d, c->q, c->k, c->v, c->out, c->w, c->lse,
                                c->ws, c->ws_bytes);
}

static int fwd_check(void *vc)
{
    sdpa_ctx *c = vc;
    int bad = 0;
    if (memcmp(c->out, c->ref_out, n_o * sizeof(float)) != 0)
        report("forward: out differs from the unfailed run"), ++bad;
    if (c->want_w && memcmp(c->w, c->ref_w, n_w * sizeof(float)) != 0)
        report("forward: weights differ from the unfailed run"), ++bad;
    if (c->want_lse && memcmp(c->lse, c->ref_lse, n_l * sizeof(float)) != 0)
        report("forward: lse differs from the unfailed run"), ++bad;
    return bad;
}

static void bwd_reset(void *vc)
{
    sdpa_ctx *c = vc;
    memcpy(c->dq, c->init_dq, n_q * sizeof(float));
    memcpy(c->dk, c->init_dk, n_k * sizeof(float));
    memcpy(c->dv, c->init_dv, n_v * sizeof(float));
    memcpy(c->dbias, c->init_dbias, n_m * sizeof(float));
}

static attn_status bwd_call(void *vc)
{
    sdpa_ctx *c = vc;
    return attn_sdpa_backward(&c->d, c->q, c->k, c->v, c->ref_out, c->ref_lse,
                              c->dout, c->dq, c->dk, c->dv, c->dbias);
}

static attn_status bwd_ws_call(void *vc)
{
    sdpa_ctx *c = vc;
    return attn_sdpa_backward_ws(&c->d, c->q, c->k, c->v, c->ref_out, c->ref_lse,
                                 c->dout, c->dq, c->dk, c->dv, c->dbias, c->ws,
                                 c->ws_bytes);
}

static int bwd_check(void *vc)
{
    sdpa_ctx *c = vc;
    int bad = 0;
    if (memcmp(c->dq, c->ref_dq, n_q * sizeof(float)) != 0)
        report("backward: dq differs from the unfailed run"), ++bad;
    if (memcmp(c->dk, c->ref_dk, n_k * sizeof(float)) != 0)
        report("backward: dk differs from the unfailed run"), ++bad;
    if (memcmp(c->dv, c->ref_dv, n_v * sizeof(float)) != 0)
        report("backward: dv differs from the unfailed run"), ++bad;
    if (memcmp(c->dbias, c->ref_dbias, n_m * sizeof(float)) != 0)
        report("backward: dbias differs from the unfailed run"), ++bad;
    return bad;
}

static void sdpa_cases(attn_algo algo, const char *fwd_name,
                       const char *fwd_bare_name, const char *bwd_name)
{
    sdpa_ctx c;
    sdpa_setup(&c, algo, 1);
    oom_case f = {fwd_name, &c, fwd_reset, fwd_call, fwd_check, NULL, {{0}}, 0};
    add_region(&f, "out", c.out, n_o * sizeof(float));
    add_region(&f, "weights", c.w, n_w * sizeof(float));
    add_region(&f, "lse", c.lse, n_l * sizeof(float));
    run_case(&f);

    c.want_w = c.want_lse = 0;
    f.name = fwd_bare_name;
    run_case(&f);
    c.want_w = c.want_lse = 1;

    oom_case b = {bwd_name, &c, bwd_reset, bwd_call, bwd_check, NULL, {{0}}, 0};
    add_region(&b, "dq", c.dq, n_q * sizeof(float));
    add_region(&b, "dk", c.dk, n_k * sizeof(float));
    add_region(&b, "dv", c.dv, n_v * sizeof(float));
    add_region(&b, "dbias", c.dbias, n_m * sizeof(float));
    run_case(&b);

    fwd_reset(&c);
    expect_no_allocation("attn_sdpa_forward_ws", fwd_ws_call, &c);
    bwd_reset(&c);
    expect_no_allocation("attn_sdpa_backward_ws", bwd_ws_call, &c);
    sdpa_teardown(&c);
    finish_test();
}

static void test_sdpa_fused(void **state)
{
    (void)state;
    sdpa_cases(ATTN_ALGO_FUSED, "attn_sdpa_forward (fused, masks, w+lse)",
               "attn_sdpa_forward (fused, masks, out only)",
               "attn_sdpa_backward (fused, masks, +dbias)");
}

static void test_sdpa_materialized(void **state)
{
    (void)state;
    sdpa_cases(ATTN_ALGO_MATERIALIZED,
               "attn_sdpa_forward (materialized, w+lse)",
               "attn_sdpa_forward (materialized, out only)",
               "attn_sdpa_backward (materialized, +dbias)");
}

/* ---- the layer ---------------------------------------------------------- */

enum { E = 16, NH = 4, MB = 2, MTQ = 7, MTK = 9, KDIM = 12 };

typedef struct mha_ctx {
    int64_t kdim;
    int bias;
    attn_mha *layer;          /* made unarmed, for the state and forward cases */
    attn_mha *made;           /* the create case's out-parameter */
    attn_mha *sentinel_layer;
    attn_mha_state *state;
    attn_mha_state *sentinel_state;
    attn_optim *opt;          /* SGD over the layer, for the training step */
    attn_mha_options masks;
    int64_t kv_lens[MB];
    float *query, *key, *value, *dout;
    float *out, *avg_w, *dquery, *dkey, *dvalue;
    float *ref_out, *ref_avg_w;
    float *init_params;       /* the layer's parameters after create */
    float *ref_params, *ref_grads; /* after one training step */
    size_t param_floats;
    float *data0, *grad0;     /* start of the layer's parameter and grad areas */
} mha_ctx;

static size_t n_query(void) { return (size_t)MB * MTQ * E; }
static size_t n_key(const mha_ctx *c) { return (size_t)MB * MTK * (size_t)c->kdim; }
static size_t n_avg(void) { return (size_t)MB * MTQ * MTK; }

/* The layer's parameter and gradient areas (each contiguous, see mha.c:
 * one allocation holds every parameter, then every gradient). */
static void layer_areas(mha_ctx *c, attn_mha *layer)
{
    const attn_param *p;
    size_t count, total = 0;
    assert_int_equal(attn_mha_params(layer, &p, &count), ATTN_OK);
    for (size_t i = 0; i < count; ++i) {
        /* Contiguity is checked, not assumed. */
        assert_ptr_equal(p[i].data, p[0].data + total);
        total += attn_param_numel(&p[i]);
    }
    for (size_t i = 0; i < count; ++i)
        assert_ptr_equal(p[i].grad, p[0].data + total + (p[i].data - p[0].data));
    c->param_floats = total;
    c->data0 = p[0].data;
    c->grad0 = p[0].grad;
}

static void mha_setup(mha_ctx *c, int64_t kdim, int bias)
{
    memset(c, 0, sizeof *c);
    c->kdim = kdim > 0 ? kdim : E; /* 0 means embed_dim */
    c->bias = bias;
    c->sentinel_layer = (attn_mha *)&c->sentinel_layer;
    c->sentinel_state = (attn_mha_state *)&c->sentinel_state;
    assert_int_equal(attn_mha_create(E, NH, kdim, kdim, bias, 42, &c->layer), ATTN_OK);
    layer_areas(c, c->layer);
    c->init_params = dup_bytes(c->data0, c->param_floats * sizeof(float));
    c->kv_lens[0] = MTK;
    c->kv_lens[1] = 5;
    assert_int_equal(attn_mha_options_init(&c->masks, MTK), ATTN_OK);
    c->masks.causal = ATTN_CAUSAL_BOTTOM_RIGHT;
    c->masks.kv_lens = c->kv_lens;
    c->query = fvec(n_query());
    c->key = fvec(n_key(c));
    c->value = fvec(n_key(c));
    c->dout = fvec(n_query());
    c->out = malloc(n_query() * sizeof(float));
    c->avg_w = malloc(n_avg() * sizeof(float));
    c->dquery = malloc(n_query() * sizeof(float));
    c->dkey = malloc(n_key(c) * sizeof(float));
    c->dvalue = malloc(n_key(c) * sizeof(float));
}

static void mha_teardown(mha_ctx *c)
{
    attn_optim_destroy(c->opt);
    attn_mha_state_destroy(c->state);
    attn_mha_destroy(c->layer);
    void *all[] = {c->query, c->key, c->value, c->dout, c->out, c->avg_w,
                   c->dquery, c->dkey, c->dvalue, c->ref_out, c->ref_avg_w,
                   c->init_params, c->ref_params, c->ref_grads};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i)
        free(all[i]);
}

/* attn_mha_create */
static void create_reset(void *vc)
{
    mha_ctx *c = vc;
    c->made = c->sentinel_layer;
}

static attn_status create_call(void *vc)
{
    mha_ctx *c = vc;
    return attn_mha_create(E, NH, c->kdim, c->kdim, c->bias, 42, &c->made);
}

static int create_check(void *vc)
{
    mha_ctx *c = vc;
    int bad = 0;
    if (c->made == c->sentinel_layer || c->made == NULL)
        return report("attn_mha_create: no layer returned"), 1;
    mha_ctx m = *c;
    layer_areas(&m, c->made);
    if (m.param_floats != c->param_floats ||
        memcmp(m.data0, c->init_params, c->param_floats * sizeof(float)) != 0)
        report("attn_mha_create: parameters differ from the unfailed run"), ++bad;
    for (size_t i = 0; i < m.param_floats; ++i)
        if (m.grad0[i] != 0.0f) {
            report("attn_mha_create: nonzero gradient"), ++bad;
            break;
        }
    attn_mha_destroy(c->made);
    c->made = c->sentinel_layer;
    return bad;
}

/* attn_mha_state_create */
static void state_reset(void *vc)
{
    mha_ctx *c = vc;
    c->state = c->sentinel_state;
}

static attn_status state_call(void *vc)
{
    mha_ctx *c = vc;
    return attn_mha_state_create(c->layer, MB, MTQ, MTK, &c->state);
}

static int state_check(void *vc)
{
    mha_ctx *c = vc;
    if (c->state == c->sentinel_state || c->state == NULL)
        return report("attn_mha_state_create: no state returned"), 1;
    attn_mha_state_destroy(c->state);
    c->state = NULL;
    return 0;
}

/* attn_mha_forward with averaged weights on a fresh state: its one
 * allocation (the per-head weights kept in the state). */
static void fresh_state(mha_ctx *c)
{
    attn_mha_state_destroy(c->state);
    c->state = NULL;
    assert_int_equal(attn_mha_state_create(c->layer, MB, MTQ, MTK, &c->state), ATTN_OK);
}

static void avg_reset(void *vc)
{
    mha_ctx *c = vc;
    memcpy(c->data0, c->init_params, c->param_floats * sizeof(float));
    fresh_state(c);
    poison(c->out, n_query() * sizeof(float));
    poison(c->avg_w, n_avg() * sizeof(float));
}

static attn_status avg_call(void *vc)
{
    mha_ctx *c = vc;
    return attn_mha_forward(c->layer, c->state, &c->masks, c->query, c->key,
                            c->value, c->out, c->avg_w, 1);
}

static int avg_check(void *vc)
{
    mha_ctx *c = vc;
    int bad = 0;
    if (memcmp(c->out, c->ref_out, n_query() * sizeof(float)) != 0)
        report("attn_mha_forward: out differs from the unfailed run"), ++bad;
    if (memcmp(c->avg_w, c->ref_avg_w, n_avg() * sizeof(float)) != 0)
        report("attn_mha_forward: weights differ from the unfailed run"), ++bad;
    return bad;
}

/* The unfailed run: the results, then the state goes (with the buffer
 * the forward allocated in it). */
static int avg_success(void *vc)
{
    mha_ctx *c = vc;
    const int bad = avg_check(c);
    attn_mha_state_destroy(c->state);
    c->state = NULL;
    return bad;
}

/* After a failed averaged forward the state must still work: the same
 * call again, unfailed, gives the reference results. */
static int avg_after_failure(void *vc)
{
    mha_ctx *c = vc;
    const attn_status s = avg_call(c);
    if (s != ATTN_OK)
        return report("attn_mha_forward: retry after the failure returned %d",
                      (int)s), 1;
    return avg_check(c);
}

/* A training step: state, forward (averaged weights), backward, SGD step.
 * A failure anywhere must leave the weights and gradients as they were. */
static void train_reset(void *vc)
{
    mha_ctx *c = vc;
    memcpy(c->data0, c->init_params, c->param_floats * sizeof(float));
    assert_int_equal(attn_mha_zero_grad(c->layer), ATTN_OK);
    /* A fresh optimizer: its momentum buffers and step count restart. */
    attn_optim_destroy(c->opt);
    c->opt = NULL;
    const attn_param *p;
    size_t count;
    assert_int_equal(attn_mha_params(c->layer, &p, &count), ATTN_OK);
    assert_int_equal(attn_sgd_create(p, count, 0.125f, 0.9f, 0.0f, 0.0f, 0, &c->opt),
                     ATTN_OK);
    poison(c->out, n_query() * sizeof(float));
    poison(c->avg_w, n_avg() * sizeof(float));
    memset(c->dquery, 0, n_query() * sizeof(float));
    memset(c->dkey, 0, n_key(c) * sizeof(float));
    memset(c->dvalue, 0, n_key(c) * sizeof(float));
}

static attn_status train_call(void *vc)
{
    mha_ctx *c = vc;
    attn_mha_state *st = NULL;
    attn_status s = attn_mha_state_create(c->layer, MB, MTQ, MTK, &st);
    if (s != ATTN_OK)
        return s;
    if ((s = attn_mha_forward(c->layer, st, &c->masks, c->query, c->key,
                              c->value, c->out, c->avg_w, 1)) == ATTN_OK &&
        (s = attn_mha_backward(c->layer, st, c->query, c->key, c->value,
                               c->dout, c->dquery, c->dkey, c->dvalue)) == ATTN_OK)
        s = attn_optim_step(c->opt);
    attn_mha_state_destroy(st);
    return s;
}

static int train_check(void *vc)
{
    mha_ctx *c = vc;
    int bad = 0;
    if (memcmp(c->data0, c->ref_params, c->param_floats * sizeof(float)) != 0)
        report("training step: weights differ from the unfailed run"), ++bad;
    if (memcmp(c->grad0, c->ref_grads, c->param_floats * sizeof(float)) != 0)
        report("training step: gradients differ from the unfailed run"), ++bad;
    return bad;
}

/* The non-allocating layer calls, on a state that already holds its
 * averaged-weights buffer. */
static attn_status mha_fwd_plain(void *vc)
{
    mha_ctx *c = vc;
    return attn_mha_forward(c->layer, c->state, &c->masks, c->query, c->key,
                            c->value, c->out, NULL, 0);
}

static attn_status mha_bwd_plain(void *vc)
{
    mha_ctx *c = vc;
    return attn_mha_backward(c->layer, c->state, c->query, c->key, c->value,
                             c->dout, c->dquery, c->dkey, c->dvalue);
}

static attn_status optim_step_plain(void *vc)
{
    return attn_optim_step(((mha_ctx *)vc)->opt);
}

static void mha_cases(int64_t kdim, int bias, const char *suffix)
{
    mha_ctx c;
    mha_setup(&c, kdim, bias);
    char names[5][96];
    snprintf(names[0], sizeof names[0], "attn_mha_create%s", suffix);
    snprintf(names[1], sizeof names[1], "attn_mha_state_create%s", suffix);
    snprintf(names[2], sizeof names[2], "attn_mha_forward (averaged weights)%s", suffix);
    snprintf(names[3], sizeof names[3], "training step%s", suffix);

    oom_case cr = {names[0], &c, create_reset, create_call, create_check, NULL, {{0}}, 0};
    add_region(&cr, "*layer", &c.made, sizeof c.made);
    run_case(&cr);

    oom_case st = {names[1], &c, state_reset, state_call, state_check, NULL, {{0}}, 0};
    add_region(&st, "*state", &c.state, sizeof c.state);
    run_case(&st);
    c.state = NULL;

    /* References for the forward and the training step. */
    avg_reset(&c);
    assert_int_equal(avg_call(&c), ATTN_OK);
    c.ref_out = dup_bytes(c.out, n_query() * sizeof(float));
    c.ref_avg_w = dup_bytes(c.avg_w, n_avg() * sizeof(float));
    train_reset(&c);
    assert_int_equal(train_call(&c), ATTN_OK);
    c.ref_params = dup_bytes(c.data0, c.param_floats * sizeof(float));
    c.ref_grads = dup_bytes(c.grad0, c.param_floats * sizeof(float));
    /* The step must have changed something, or the check means nothing. */
    assert_memory_not_equal(c.ref_params, c.init_params, c.param_floats * sizeof(float));

    oom_case fw = {names[2], &c, avg_reset, avg_call, avg_success, avg_after_failure,
                   {{0}}, 0};
    add_region(&fw, "out", c.out, n_query() * sizeof(float));
    add_region(&fw, "attn_weights", c.avg_w, n_avg() * sizeof(float));
    add_region(&fw, "layer weights", c.data0, c.param_floats * sizeof(float));
    add_region(&fw, "layer gradients", c.grad0, c.param_floats * sizeof(float));
    run_case(&fw);

    oom_case tr = {names[3], &c, train_reset, train_call, train_check, NULL, {{0}}, 0};
    add_region(&tr, "layer weights", c.data0, c.param_floats * sizeof(float));
    add_region(&tr, "layer gradients", c.grad0, c.param_floats * sizeof(float));
    add_region(&tr, "dquery", c.dquery, n_query() * sizeof(float));
    add_region(&tr, "dkey", c.dkey, n_key(&c) * sizeof(float));
    add_region(&tr, "dvalue", c.dvalue, n_key(&c) * sizeof(float));
    run_case(&tr);

    /* Documented: no allocation in these (the state already holds its
     * averaged-weights buffer). */
    avg_reset(&c);
    assert_int_equal(avg_call(&c), ATTN_OK);
    expect_no_allocation("attn_mha_forward (averaged, buffer kept)", avg_call, &c);
    expect_no_allocation("attn_mha_forward (no weights)", mha_fwd_plain, &c);
    expect_no_allocation("attn_mha_backward", mha_bwd_plain, &c);
    expect_no_allocation("attn_optim_step (SGD momentum)", optim_step_plain, &c);
    mha_teardown(&c);
}

static void test_mha(void **state)
{
    (void)state;
    mha_cases(0, 1, " (packed, bias)");
    mha_cases(KDIM, 0, " (kdim=vdim=12, no bias)");
    finish_test();
}

/* ---- optimizers --------------------------------------------------------- */

typedef struct optim_ctx {
    attn_param params[3];
    float *data, *grad;
    attn_optim *opt, *sentinel;
    int kind;   /* 0 SGD, 1 SGD momentum, 2 Adam, 3 AdamW */
    float *ref_after_step;
    float *init_data;
    size_t n;
} optim_ctx;

static attn_status optim_create(optim_ctx *c, attn_optim **out)
{
    switch (c->kind) {
    case 0: return attn_sgd_create(c->params, 3, 0.5f, 0.0f, 0.0f, 0.0f, 0, out);
    case 1: return attn_sgd_create(c->params, 3, 0.5f, 0.9f, 0.0f, 0.01f, 1, out);
    case 2: return attn_adam_create(c->params, 3, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, 0, out);
    default: return attn_adam_create(c->params, 3, 1e-2f, 0.9f, 0.999f, 1e-8f, 1e-2f, 1, out);
    }
}

static void optim_reset(void *vc)
{
    optim_ctx *c = vc;
    c->opt = c->sentinel;
    memcpy(c->data, c->init_data, c->n * sizeof(float));
}

static attn_status optim_call(void *vc)
{
    optim_ctx *c = vc;
    return optim_create(c, &c->opt);
}

/* The optimizer made must step as the one made unarmed. */
static int optim_check(void *vc)
{
    optim_ctx *c = vc;
    if (c->opt == c->sentinel || c->opt == NULL)
        return report("optimizer create: no optimizer returned"), 1;
    int bad = 0;
    assert_int_equal(attn_optim_step(c->opt), ATTN_OK);
    assert_int_equal(attn_optim_step(c->opt), ATTN_OK);
    if (memcmp(c->data, c->ref_after_step, c->n * sizeof(float)) != 0)
        report("optimizer: steps differ from the unfailed run"), ++bad;
    attn_optim_destroy(c->opt);
    c->opt = c->sentinel;
    return bad;
}

static void test_optim(void **state)
{
    (void)state;
    const char *names[] = {"attn_sgd_create", "attn_sgd_create (momentum)",
                           "attn_adam_create", "attn_adam_create (AdamW)"};
    for (int kind = 0; kind < 4; ++kind) {
        optim_ctx c;
        memset(&c, 0, sizeof c);
        c.kind = kind;
        c.n = 6 + 4 + 24;
        c.data = fvec(c.n);
        c.grad = fvec(c.n);
        c.init_data = dup_bytes(c.data, c.n * sizeof(float));
        c.sentinel = (attn_optim *)&c.sentinel;
        c.params[0] = (attn_param){"w", c.data, c.grad, 2, {2, 3, 0, 0}};
        c.params[1] = (attn_param){"b", c.data + 6, c.grad + 6, 1, {4, 0, 0, 0}};
        c.params[2] = (attn_param){"t", c.data + 10, c.grad + 10, 3, {2, 3, 4, 0}};
        attn_optim *ref = NULL;
        assert_int_equal(optim_create(&c, &ref), ATTN_OK);
        assert_int_equal(attn_optim_step(ref), ATTN_OK);
        assert_int_equal(attn_optim_step(ref), ATTN_OK);
        attn_optim_destroy(ref);
        c.ref_after_step = dup_bytes(c.data, c.n * sizeof(float));

        oom_case oc = {names[kind], &c, optim_reset, optim_call, optim_check, NULL,
                       {{0}}, 0};
        add_region(&oc, "*out", &c.opt, sizeof c.opt);
        add_region(&oc, "parameter data", c.data, c.n * sizeof(float));
        add_region(&oc, "parameter grads", c.grad, c.n * sizeof(float));
        run_case(&oc);
        free(c.data);
        free(c.grad);
        free(c.init_data);
        free(c.ref_after_step);
    }
    finish_test();
}

/* ---- safetensors -------------------------------------------------------- */

typedef struct st_ctx {
    char dir[256], path[300];
    attn_param src[4], dst[4];
    size_t count;
    float *src_data, *dst_data;
    size_t n;
    unsigned char *old_file, *new_file, *buffer;
    size_t old_bytes, new_bytes, buffer_bytes;
} st_ctx;

static void write_file(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, bytes, f), bytes);
    assert_int_equal(fclose(f), 0);
}

/* Entries of dir other than "." and "..", and whether only `only` is. */
static int dir_has_only(const char *dir, const char *only)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return 0;
    int ok = 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            strcmp(e->d_name, only) != 0) {
            report("unexpected file left in the directory: %s", e->d_name);
            ok = 0;
        }
    closedir(d);
    return ok;
}

/* big: a tensor past 1 MiB (several reads and writes of the data). */
static void st_setup(st_ctx *c, int big)
{
    memset(c, 0, sizeof *c);
    const char *base = getenv("TMPDIR");
    snprintf(c->dir, sizeof c->dir, "%s/attn-oom-XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    assert_non_null(mkdtemp(c->dir));
    snprintf(c->path, sizeof c->path, "%s/weights.safetensors", c->dir);
    const int64_t bign = big ? 300000 : 5;
    c->n = 15 + 5 + 8 + (size_t)bign;
    c->src_data = fvec(c->n);
    c->dst_data = malloc(c->n * sizeof(float));
    float *s = c->src_data, *d = c->dst_data;
    const attn_param shapes[4] = {
        {"layer.weight", NULL, NULL, 2, {3, 5, 0, 0}},
        {"layer.bias", NULL, NULL, 1, {5, 0, 0, 0}},
        {"t\xc3\xa9nsor", NULL, NULL, 3, {2, 2, 2, 0}},
        {"big", NULL, NULL, 1, {bign, 0, 0, 0}}};
    size_t off = 0;
    for (int i = 0; i < 4; ++i) {
        c->src[i] = shapes[i];
        c->dst[i] = shapes[i];
        c->src[i].data = s + off;
        c->dst[i].data = d + off;
        off += attn_param_numel(&shapes[i]);
    }
    c->count = 4;
    /* The file to load, and what a save must write. */
    assert_int_equal(attn_params_save(c->src, c->count, c->path), ATTN_OK);
    c->new_file = tu_read_file(c->path, &c->new_bytes);
    assert_non_null(c->new_file);
    c->buffer = dup_bytes(c->new_file, c->new_bytes);
    c->buffer_bytes = c->new_bytes;
    /* An older file at the destination, which a failed save must keep. */
    for (size_t i = 0; i < c->n; ++i)
        d[i] = (float)i;
    assert_int_equal(attn_params_save(c->dst, c->count, c->path), ATTN_OK);
    c->old_file = tu_read_file(c->path, &c->old_bytes);
    assert_non_null(c->old_file);
    assert_true(c->old_bytes == c->new_bytes &&
                memcmp(c->old_file, c->new_file, c->new_bytes) != 0);
}

static void st_teardown(st_ctx *c)
{
    unlink(c->path);
    rmdir(c->dir);
    free(c->src_data);
    free(c->dst_data);
    free(c->old_file);
    free(c->new_file);
    free(c->buffer);
}

/* attn_params_save over an existing file. */
static void save_reset(void *vc)
{
    st_ctx *c = vc;
    write_file(c->path, c->old_file, c->old_bytes);
}

static attn_status save_call(void *vc)
{
    st_ctx *c = vc;
    return attn_params_save(c->src, c->count, c->path);
}

static int file_is(const st_ctx *c, const unsigned char *want, size_t want_bytes,
                   const char *what)
{
    size_t bytes = 0;
    unsigned char *got = tu_read_file(c->path, &bytes);
    int bad = 0;
    if (got == NULL)
        report("%s: the destination file is gone", what), ++bad;
    else if (bytes != want_bytes || memcmp(got, want, bytes) != 0)
        report("%s: the destination file differs", what), ++bad;
    free(got);
    if (!dir_has_only(c->dir, "weights.safetensors"))
        ++bad;
    return bad;
}

static int save_check(void *vc)
{
    st_ctx *c = vc;
    return file_is(c, c->new_file, c->new_bytes, "attn_params_save (success)");
}

static int save_after_failure(void *vc)
{
    st_ctx *c = vc;
    return file_is(c, c->old_file, c->old_bytes, "attn_params_save (failed)");
}

/* attn_params_load and attn_params_load_buffer into dst. */
static void load_reset(void *vc)
{
    st_ctx *c = vc;
    poison(c->dst_data, c->n * sizeof(float));
}

static attn_status load_call(void *vc)
{
    st_ctx *c = vc;
    return attn_params_load(c->dst, c->count, c->path);
}

static attn_status load_buffer_call(void *vc)
{
    st_ctx *c = vc;
    return attn_params_load_buffer(c->dst, c->count, c->buffer, c->buffer_bytes);
}

static int load_check(void *vc)
{
    st_ctx *c = vc;
    if (memcmp(c->dst_data, c->src_data, c->n * sizeof(float)) != 0)
        return report("load: parameters differ from the saved ones"), 1;
    return 0;
}

/* which: 0 attn_params_save, 1 attn_params_load, 2 attn_params_load_buffer;
 * each in its own test function so that one's failure hides no other's. */
static void st_case(int big, int which)
{
    st_ctx c;
    st_setup(&c, big);
    char name[96];
    const char *fn[] = {"attn_params_save", "attn_params_load",
                        "attn_params_load_buffer"};
    snprintf(name, sizeof name, "%s (4 tensors%s)", fn[which],
             big ? ", 1.2 MB" : "");
    oom_case oc = {name, &c, NULL, NULL, NULL, NULL, {{0}}, 0};
    if (which == 0) {
        /* Over an existing file, which a failure must keep. */
        oc.reset = save_reset;
        oc.call = save_call;
        oc.after_success = save_check;
        oc.after_failure = save_after_failure;
        add_region(&oc, "parameter data", c.src_data, c.n * sizeof(float));
    } else {
        write_file(c.path, c.new_file, c.new_bytes);
        oc.reset = load_reset;
        oc.call = which == 1 ? load_call : load_buffer_call;
        oc.after_success = load_check;
        add_region(&oc, "parameter data", c.dst_data, c.n * sizeof(float));
        if (which == 2)
            add_region(&oc, "the buffer", c.buffer, c.buffer_bytes);
    }
    run_case(&oc);
    st_teardown(&c);
    finish_test();
}

static void test_save(void **state) { (void)state; st_case(0, 0); }
static void test_save_big(void **state) { (void)state; st_case(1, 0); }
static void test_load(void **state) { (void)state; st_case(0, 1); }
static void test_load_big(void **state) { (void)state; st_case(1, 1); }
static void test_load_buffer(void **state) { (void)state; st_case(0, 2); }
static void test_load_buffer_big(void **state) { (void)state; st_case(1, 2); }

/* ---- a save's syncs ------------------------------------------------------- */

static st_ctx *sync_ctx;
static int target_new_at[MAX_SYNCS]; /* the target held the new file then */

static void note_target(int call)
{
    size_t bytes = 0;
    unsigned char *got = tu_read_file(sync_ctx->path, &bytes);
    if (call <= MAX_SYNCS)
        target_new_at[call - 1] = got != NULL && bytes == sync_ctx->new_bytes &&
                                  memcmp(got, sync_ctx->new_file, bytes) == 0;
    free(got);
}

/* The target holds want and is the directory's only entry. */
static void expect_target(const st_ctx *c, const unsigned char *want,
                          size_t want_bytes)
{
    size_t bytes = 0;
    unsigned char *got = tu_read_file(c->path, &bytes);
    assert_non_null(got);
    assert_int_equal(bytes, want_bytes);
    assert_memory_equal(got, want, bytes);
    free(got);
    DIR *d = opendir(c->dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            ++n;
    closedir(d);
    assert_int_equal(n, 1);
}

/*
 * A save syncs the complete temporary before the rename (the target
 * still old, the file synced a regular file of the new size in the same
 * directory) and the directory after it (the target new); the old code
 * synced the file only. A failed file sync is ATTN_ERR_IO with fsync's
 * errno and changes nothing; the directory's sync is best effort (the
 * file is in place by then), so its failure still gives ATTN_OK.
 */
static void test_save_syncs(void **state)
{
    (void)state;
    st_ctx c;
    st_setup(&c, 0);
    struct stat dir;
    assert_int_equal(stat(c.dir, &dir), 0);
    sync_ctx = &c;

    save_reset(&c);
    io_reset();
    io.on_sync = note_target;
    assert_int_equal(save_call(&c), ATTN_OK);
    assert_int_equal(io.syncs, 2);
    assert_true(S_ISREG(io.synced[0].st_mode));
    assert_int_equal(io.synced[0].st_size, c.new_bytes);
    assert_int_equal(io.synced[0].st_dev, dir.st_dev);
    assert_false(target_new_at[0]);
    assert_true(S_ISDIR(io.synced[1].st_mode));
    assert_int_equal(io.synced[1].st_ino, dir.st_ino);
    assert_true(target_new_at[1]);
    expect_target(&c, c.new_file, c.new_bytes);

    save_reset(&c);
    io_reset();
    io.sync_fail_at = 1;
    errno = 0;
    assert_int_equal(save_call(&c), ATTN_ERR_IO);
    assert_int_equal(errno, EIO);
    expect_target(&c, c.old_file, c.old_bytes);

    save_reset(&c);
    io_reset();
    io.sync_fail_at = 2;
    assert_int_equal(save_call(&c), ATTN_OK);
    expect_target(&c, c.new_file, c.new_bytes);
    io_reset();
    st_teardown(&c);
}

/* ---- a load's reads ------------------------------------------------------- */

/*
 * Reads failing part way: 1 is the 8-byte prefix, 2 the header, 3 on the
 * tensors (1.2 MB). A short read is resumed; a read error is ATTN_ERR_IO
 * with its errno, a file ending early ATTN_ERR_BAD_FILE, and either
 * leaves every parameter byte as it was, even after the first half of
 * the tensors was read.
 */
static void test_load_read_errors(void **state)
{
    (void)state;
    st_ctx c;
    st_setup(&c, 1);
    write_file(c.path, c.new_file, c.new_bytes);
    const size_t bytes = c.n * sizeof(float);
    unsigned char *before = malloc(bytes);
    assert_non_null(before);
    static const struct {
        int short_at, fail_at, err;
        attn_status want;
    } cases[] = {
        {0, 0, 0, ATTN_OK},         /* the control: 3 reads */
        {3, 0, 0, ATTN_OK},         /* resumed after a short read */
        {1, 0, 0, ATTN_OK},
        {3, 4, EIO, ATTN_ERR_IO},   /* half the tensors read, then EIO */
        {3, 4, 0, ATTN_ERR_BAD_FILE}, /* half read, then the file ended */
        {0, 3, EIO, ATTN_ERR_IO},
        {0, 2, EIO, ATTN_ERR_IO},   /* the header */
        {0, 1, EIO, ATTN_ERR_IO},   /* the prefix */
        {0, 2, 0, ATTN_ERR_BAD_FILE},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k) {
        poison(c.dst_data, bytes);
        memcpy(before, c.dst_data, bytes);
        io_reset();
        io.read_short_at = cases[k].short_at;
        io.read_fail_at = cases[k].fail_at;
        io.read_errno = cases[k].err;
        errno = 0;
        const attn_status s = load_call(&c);
        const int e = errno;
        if (s != cases[k].want)
            fail_msg("case %zu: status %d (%s)", k, (int)s, attn_strerror(s));
        if (k == 0)
            assert_int_equal(io.reads, 3); /* the wrapper sees every read */
        if (s == ATTN_OK) {
            assert_memory_equal(c.dst_data, c.src_data, bytes);
        } else {
            assert_memory_equal(c.dst_data, before, bytes);
            if (cases[k].err != 0)
                assert_int_equal(e, cases[k].err);
        }
    }
    io_reset();
    free(before);
    st_teardown(&c);
}

/* ---- what a load allocates ------------------------------------------------ */

/* A directory and a file in it, removed by mem_done. */
typedef struct mem_file {
    char dir[256], path[300];
} mem_file;

/* Writes the 8-byte length of json, json, then extends the file with
 * zeros (a hole: no disk, no page cache) to total bytes. */
static void mem_file_make(mem_file *m, uint64_t header_len, const char *json,
                          size_t json_len, uint64_t total)
{
    const char *base = getenv("TMPDIR");
    snprintf(m->dir, sizeof m->dir, "%s/attn-mem-XXXXXX",
             base != NULL && base[0] != '\0' ? base : "/tmp");
    assert_non_null(mkdtemp(m->dir));
    snprintf(m->path, sizeof m->path, "%s/w.safetensors", m->dir);
    const int fd = open(m->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    unsigned char prefix[8];
    for (int i = 0; i < 8; ++i)
        prefix[i] = (unsigned char)(header_len >> (8 * i) & 0xFF);
    assert_int_equal(write(fd, prefix, 8), 8);
    assert_int_equal(write(fd, json, json_len), (ssize_t)json_len);
    assert_int_equal(ftruncate(fd, (off_t)total), 0);
    assert_int_equal(close(fd), 0);
}

static void mem_file_done(mem_file *m)
{
    unlink(m->path);
    rmdir(m->dir);
}

/* Bytes the call asks the allocator for in all (failing nothing), and
 * the most it holds at once (*peak). */
static size_t bytes_asked(attn_status (*call)(void *), void *ctx,
                          attn_status *status, size_t *peak)
{
    fa_forget();
    fa_arm(0, 0);
    *status = call(ctx);
    fa_disarm();
    if (peak != NULL)
        *peak = fa.peak_bytes;
    fa_forget();
    return fa.bytes;
}

typedef struct mem_ctx {
    attn_param list[2];
    float a[6], b[4];
    const char *path;
    const void *buffer;
    size_t buffer_bytes;
} mem_ctx;

/* "a" (2, 3) and "b" (4), poisoned. */
static void mem_ctx_init(mem_ctx *c)
{
    memset(c, 0, sizeof *c);
    poison(c->a, sizeof c->a);
    poison(c->b, sizeof c->b);
    c->list[0] = (attn_param){"a", c->a, NULL, 2, {2, 3, 0, 0}};
    c->list[1] = (attn_param){"b", c->b, NULL, 1, {4, 0, 0, 0}};
}

static int mem_ctx_untouched(const mem_ctx *c)
{
    unsigned char p[sizeof c->a];
    poison(p, sizeof p);
    return memcmp(c->a, p, sizeof c->a) == 0 && memcmp(c->b, p, sizeof c->b) == 0;
}

static attn_status mem_load(void *vc)
{
    mem_ctx *c = vc;
    return attn_params_load(c->list, 2, c->path);
}

static attn_status mem_load_buffer(void *vc)
{
    mem_ctx *c = vc;
    return attn_params_load_buffer(c->list, 2, c->buffer, c->buffer_bytes);
}

/* The file mapped read-only (its holes cost nothing) for the buffer load. */
static void *map_file(const char *path, size_t *bytes)
{
    const int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    assert_true(p != MAP_FAILED);
    close(fd);
    *bytes = (size_t)st.st_size;
    return p;
}

#define SMALL_BYTES ((size_t)64 << 10)

/*
 * A well-formed 6 GiB file (sparse) of one tensor that is not in the list:
 * ATTN_ERR_PARAM_MISMATCH without reading the data. The loader used to
 * read the whole data section first (6 GiB of memory, 32 s); now a few
 * KiB. The same for a file whose tensors fit the list but whose data go
 * on for 6 GiB (ATTN_ERR_BAD_FILE, judged from the size).
 */
static void test_load_sparse_file(void **state)
{
    (void)state;
    if (SIZE_MAX < UINT64_MAX)
        skip();
    const uint64_t six_gib = (uint64_t)6 << 30;
    static const char big[] =
        "{\"big\":{\"dtype\":\"F32\",\"shape\":[1610612736],"
        "\"data_offsets\":[0,6442450944]}}";
    static const char fits[] =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]}}";
    const struct {
        const char *json;
        size_t len;
        attn_status want;
    } cases[] = {
        {big, sizeof big - 1, ATTN_ERR_PARAM_MISMATCH},
        {fits, sizeof fits - 1, ATTN_ERR_BAD_FILE},
    };
    for (size_t k = 0; k < 2; ++k) {
        mem_file m;
        mem_file_make(&m, cases[k].len, cases[k].json, cases[k].len,
                      8 + cases[k].len + six_gib);
        mem_ctx c;
        mem_ctx_init(&c);
        c.path = m.path;
        c.buffer = map_file(m.path, &c.buffer_bytes);
        attn_status s;
        size_t asked = bytes_asked(mem_load, &c, &s, NULL);
        if (s != cases[k].want || asked > SMALL_BYTES)
            fail_msg("case %zu, file: status %d, %zu bytes allocated", k,
                     (int)s, asked);
        asked = bytes_asked(mem_load_buffer, &c, &s, NULL);
        if (s != cases[k].want || asked > SMALL_BYTES)
            fail_msg("case %zu, buffer: status %d, %zu bytes allocated", k,
                     (int)s, asked);
        assert_true(mem_ctx_untouched(&c));
        munmap((void *)c.buffer, c.buffer_bytes);
        mem_file_done(&m);
    }
}

/* {"a":..,"b":..,"__metadata__":{"pad":"<pad bytes>"}}, and with
 * values > 0 a member "x":[0,0,...] of that many zeros instead. */
static char *big_header(size_t pad, size_t values, size_t *len)
{
    static const char head[] =
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
        "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[24,40]},";
    const size_t cap = sizeof head + 64 + pad + 2 * values;
    char *json = malloc(cap);
    assert_non_null(json);
    size_t n = sizeof head - 1;
    memcpy(json, head, n);
    if (values > 0) {
        memcpy(json + n, "\"x\":[", 5);
        n += 5;
        for (size_t i = 0; i < values; ++i) {
            json[n++] = '0';
            json[n++] = i + 1 < values ? ',' : ']';
        }
    } else {
        static const char meta[] = "\"__metadata__\":{\"pad\":\"";
        memcpy(json + n, meta, sizeof meta - 1);
        n += sizeof meta - 1;
        memset(json + n, 'p', pad);
        n += pad;
        json[n++] = '"';
        json[n++] = '}';
    }
    json[n++] = '}';
    assert_true(n <= cap);
    *len = n;
    return json;
}

/*
 * A header's memory is bounded by the list (safetensors.h): for a list of
 * 2, 16 MiB + 8 KiB + 12 bytes of text and 65,664 values and keys.
 *  - A 90,000,000-byte header length (under the format's cap, a sparse
 *    file) is refused from the length alone: a few KiB (was 90 MB).
 *  - A 15 MiB header of 7.8 million zeros is refused before jansson
 *    builds its tree: the file load asks for the header's text and little
 *    more, the buffer load for a few KiB (jansson's tree cost some 20
 *    times the text: hundreds of MB).
 *  - The control: 8 MiB of metadata text in a header that matches loads,
 *    holding at most a few times the text at once.
 */
static void test_load_header_memory(void **state)
{
    (void)state;
    mem_ctx c;
    attn_status s;
    size_t asked;
    mem_file m;

    mem_file_make(&m, 90000000, "{", 1, 8 + 90000000 + 40);
    mem_ctx_init(&c);
    c.path = m.path;
    c.buffer = map_file(m.path, &c.buffer_bytes);
    asked = bytes_asked(mem_load, &c, &s, NULL);
    if (s != ATTN_ERR_BAD_FILE || asked > SMALL_BYTES)
        fail_msg("90 MB header, file: status %d, %zu bytes", (int)s, asked);
    asked = bytes_asked(mem_load_buffer, &c, &s, NULL);
    if (s != ATTN_ERR_BAD_FILE || asked > SMALL_BYTES)
        fail_msg("90 MB header, buffer: status %d, %zu bytes", (int)s, asked);
    assert_true(mem_ctx_untouched(&c));
    munmap((void *)c.buffer, c.buffer_bytes);
    mem_file_done(&m);

    size_t len;
    char *json = big_header(0, (size_t)15 << 19, &len); /* 15 MiB of "0," */
    mem_file_make(&m, len, json, len, 8 + len + 40);
    free(json);
    mem_ctx_init(&c);
    c.path = m.path;
    c.buffer = map_file(m.path, &c.buffer_bytes);
    asked = bytes_asked(mem_load, &c, &s, NULL);
    if (s != ATTN_ERR_BAD_FILE || asked > len + SMALL_BYTES)
        fail_msg("15 MiB of values, file: status %d, %zu bytes for a %zu-byte "
                 "header", (int)s, asked, len);
    asked = bytes_asked(mem_load_buffer, &c, &s, NULL);
    if (s != ATTN_ERR_BAD_FILE || asked > SMALL_BYTES)
        fail_msg("15 MiB of values, buffer: status %d, %zu bytes", (int)s, asked);
    assert_true(mem_ctx_untouched(&c));
    munmap((void *)c.buffer, c.buffer_bytes);
    mem_file_done(&m);

    json = big_header((size_t)8 << 20, 0, &len);
    mem_file_make(&m, len, json, len, 8 + len + 40);
    free(json);
    mem_ctx_init(&c);
    c.path = m.path;
    c.buffer = map_file(m.path, &c.buffer_bytes);
    size_t peak;
    bytes_asked(mem_load, &c, &s, &peak);
    if (s != ATTN_OK || peak > 5 * len + SMALL_BYTES)
        fail_msg("8 MiB of metadata, file: status %d, %zu bytes at once for a "
                 "%zu-byte header", (int)s, peak, len);
    bytes_asked(mem_load_buffer, &c, &s, &peak);
    if (s != ATTN_OK || peak > 4 * len + SMALL_BYTES)
        fail_msg("8 MiB of metadata, buffer: status %d, %zu bytes at once",
                 (int)s, peak);
    munmap((void *)c.buffer, c.buffer_bytes);
    mem_file_done(&m);
}

/* ---- calls documented not to allocate ------------------------------------ */

typedef struct misc_ctx {
    float *x, *y, *z, *w, *b, *dy, *dx, *dw, *db;
} misc_ctx;

static attn_status heads_call(void *vc)
{
    misc_ctx *c = vc;
    attn_status s = attn_split_heads(c->x, c->y, 2, 5, 12, 3);
    return s != ATTN_OK ? s : attn_concat_heads(c->y, c->z, 2, 5, 12, 3);
}

static attn_status softmax_call(void *vc)
{
    misc_ctx *c = vc;
    return attn_softmax_rows(c->y, 10, 12, 12, c->dy);
}

static attn_status linear_call(void *vc)
{
    misc_ctx *c = vc;
    attn_status s = attn_linear_forward(c->x, c->w, c->b, c->y, 10, 12, 8);
    return s != ATTN_OK ? s
                        : attn_linear_backward(c->x, c->w, c->dy, c->dx, c->dw,
                                               c->db, 10, 12, 8);
}

static void test_non_allocating(void **state)
{
    (void)state;
    misc_ctx c = {fvec(120), fvec(120), fvec(120), fvec(96), fvec(8), fvec(80),
                  fvec(120), fvec(96), fvec(8)};
    expect_no_allocation("attn_split_heads + attn_concat_heads", heads_call, &c);
    expect_no_allocation("attn_softmax_rows", softmax_call, &c);
    expect_no_allocation("attn_linear_forward + attn_linear_backward", linear_call, &c);
    free(c.x); free(c.y); free(c.z); free(c.w); free(c.b);
    free(c.dy); free(c.dx); free(c.dw); free(c.db);
    finish_test();
}

int main(void)
{
    /* jansson allocates through the counting allocator too. */
    json_set_alloc_funcs(__wrap_malloc, __wrap_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sdpa_fused),
        cmocka_unit_test(test_sdpa_materialized),
        cmocka_unit_test(test_mha),
        cmocka_unit_test(test_optim),
        cmocka_unit_test(test_save),
        cmocka_unit_test(test_save_big),
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_big),
        cmocka_unit_test(test_load_buffer),
        cmocka_unit_test(test_load_buffer_big),
        cmocka_unit_test(test_save_syncs),
        cmocka_unit_test(test_load_read_errors),
        cmocka_unit_test(test_load_sparse_file),
        cmocka_unit_test(test_load_header_memory),
        cmocka_unit_test(test_non_allocating),
    };
    const int failed = cmocka_run_group_tests(tests, NULL, NULL);
    print_message("allocation failures injected: %ld\n", total_failures_tested);
    return failed;
}
