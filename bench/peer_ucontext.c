/*
 * peer_ucontext.c - glibc's ucontext as a peer: swapcontext() is the
 * portable way to switch stacks in C, and saves and restores the signal
 * mask with a system call each way, which is what a switch library avoids.
 *
 * switch: swapcontext() into a context that swapcontext()s straight back;
 *         one round trip, two swapcontext() calls.
 * create: getcontext() + makecontext() on a pooled stack, swapcontext() in,
 *         the function returns and uc_link brings control back out.
 */
#include <errno.h>
#include <ucontext.h>

#include "harness.h"
#include "peer_stack.h"

static ucontext_t caller; /* the benchmark loop's context */
static ucontext_t callee; /* the context on the pooled stack */
static volatile unsigned long finished; /* bodies that ran to their end */

/* Switches back at once, forever; abandoned when the run ends. */
static void ponger(void)
{
    for (;;)
        swapcontext(&callee, &caller);
}

/* Returns at once; uc_link resumes the caller. */
static void finisher(void)
{
    finished++;
}

/* Sets up `callee` to run fn on the stack at lo, returning to `link`. */
static int prepare(void *lo, void (*fn)(void), ucontext_t *link)
{
    if (getcontext(&callee) < 0)
        return -EINVAL;
    callee.uc_stack.ss_sp = lo;
    callee.uc_stack.ss_size = PEER_STACK_SIZE;
    callee.uc_link = link;
    makecontext(&callee, fn, 0);
    return 0;
}

static int run_switch(uint64_t iters, struct bench_sample *out)
{
    void *lo = peer_stack_get();
    int rc;
    if (!lo)
        return -ENOMEM;
    if ((rc = prepare(lo, ponger, NULL)) < 0)
        goto out;
    swapcontext(&caller, &callee); /* start it: now in its loop */

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        swapcontext(&caller, &callee);
    uint64_t t1 = bench_now_ns();
    out->ns = (double)(t1 - t0);
out:
    peer_stack_put(lo);
    return rc;
}

static int run_create(uint64_t iters, struct bench_sample *out)
{
    unsigned long before = finished;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        void *lo = peer_stack_get();
        int rc;
        if (!lo)
            return -ENOMEM;
        if ((rc = prepare(lo, finisher, &caller)) < 0)
            return rc;
        swapcontext(&caller, &callee);
        peer_stack_put(lo);
    }
    uint64_t t1 = bench_now_ns();
    out->ns = (double)(t1 - t0);
    return finished - before == iters ? 0 : -EPROTO;
}

void peer_ucontext_register(void)
{
    bench_register(&(struct bench){"switch", "ucontext", run_switch, 0, 0});
    bench_register(&(struct bench){"create", "ucontext", run_create, 0, 0});
}
