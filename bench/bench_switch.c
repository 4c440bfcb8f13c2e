/*
 * bench_switch.c - "switch" for weft: one weft_coro_resume() into a
 * coroutine and its weft_coro_yield() back, i.e. one round trip, through the
 * public API with its checks. The coroutine yields in a loop until it is
 * closed; neither side passes a value, as in the peers' loops.
 */
#include <errno.h>

#include <weft/coro.h>

#include "harness.h"

/* Yields until weft_coro_destroy() closes it (yield returns -ECANCELED). */
static void *yielder(void *arg, void *in)
{
    (void)arg;
    (void)in;
    while (weft_coro_yield(NULL, NULL) == 0)
        ;
    return NULL;
}

static int run_switch(uint64_t iters, struct bench_sample *out)
{
    weft_coro *made;
    int rc = weft_coro_create(&made, yielder, NULL, NULL);
    if (rc < 0)
        return rc;
    weft_coro *co = made; /* address never taken: stays in a register */
    rc = weft_coro_resume(co, NULL, NULL); /* start it: now in its loop */

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        rc |= weft_coro_resume(co, NULL, NULL); /* WEFT_CORO_YIELDED is 0 */
    uint64_t t1 = bench_now_ns();

    weft_coro_destroy(co);
    out->ns = (double)(t1 - t0);
    return rc == WEFT_CORO_YIELDED ? 0 : rc < 0 ? rc : -EPROTO;
}

void bench_switch_register(void)
{
    bench_register(&(struct bench){"switch", WEFT_BENCH_IMPL, run_switch, 0, 0});
}
