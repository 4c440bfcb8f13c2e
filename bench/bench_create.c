/*
 * bench_create.c - "create" for weft: weft_coro_create(), one
 * weft_coro_resume() that runs the body to its end, weft_coro_destroy().
 * Stacks come from weft's per-thread pool, so after the first run no
 * operation makes a system call; this is the cost of a short-lived task.
 */
#include <errno.h>

#include <weft/coro.h>

#include "harness.h"

static void *returner(void *arg, void *in)
{
    (void)in;
    return arg;
}

static int run_create(uint64_t iters, struct bench_sample *out)
{
    int rc = 0;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        weft_coro *co;
        void *result;
        if ((rc = weft_coro_create(&co, returner, &rc, NULL)) < 0)
            return rc;
        rc = weft_coro_resume(co, NULL, &result);
        bench_use(result);
        weft_coro_destroy(co);
        if (rc != WEFT_CORO_RETURNED)
            return rc < 0 ? rc : -EPROTO;
    }
    uint64_t t1 = bench_now_ns();
    out->ns = (double)(t1 - t0);
    return 0;
}

void bench_create_register(void)
{
    bench_register(&(struct bench){"create", "weft", run_create, 0, 0});
}
