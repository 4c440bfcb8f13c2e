/*
 * bench_yield.c - "yield" for weft: two tasks ping-ponging through the run
 * queue with weft_yield(). The main task of a weft_run() spawns a peer that
 * yields in a loop; each weft_yield() of either queues its caller behind
 * the other and switches to it, so one yield is one task switch (the
 * scheduler jumps from task to task without passing through the loop's
 * stack). ns_per_op is per yield; `iters` counts the yields of both tasks.
 * The run's setup (loop, spawn, first switch) and its end stay outside the
 * timing.
 */
#include <errno.h>

#include <weft/sched.h>
#include <weft/task.h>

#include "harness.h"

struct yield_run {
    uint64_t rounds;     /* yields of the main task = yields of the peer */
    volatile int stop;   /* set by main when the timing is over */
    double ns;           /* elapsed, set by main */
};

/* Yields until main says stop. */
static int peer(void *arg, void **result)
{
    struct yield_run *y = arg;
    (void)result;
    while (!y->stop)
        if (weft_yield() < 0)
            return -EPROTO;
    return 0;
}

static int yield_main(void *arg, void **result)
{
    struct yield_run *y = arg;
    weft_task *t;
    int rc = 0;
    (void)result;
    if ((rc = weft_spawn(&t, peer, y, NULL)) < 0)
        return rc;
    rc = weft_yield(); /* start the peer: it is in its loop when we return */

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < y->rounds; i++)
        rc |= weft_yield();
    uint64_t t1 = bench_now_ns();

    y->stop = 1;
    int prc = weft_task_join(t, NULL);
    weft_task_release(t);
    y->ns = (double)(t1 - t0);
    return rc < 0 ? rc : prc;
}

static int run_yield(uint64_t iters, struct bench_sample *out)
{
    /* Main yields `rounds` times and the peer answers each: 2 * rounds
       yields, the first even count >= iters; scaled back to iters. */
    struct yield_run y = {(iters + 1) / 2, 0, 0};
    int rc = weft_run(yield_main, &y, NULL);
    if (rc < 0)
        return rc;
    out->ns = y.ns * (double)iters / (double)(2 * y.rounds);
    return 0;
}

void bench_yield_register(void)
{
    bench_register(&(struct bench){"yield", WEFT_BENCH_IMPL, run_yield, 0, 0});
}
