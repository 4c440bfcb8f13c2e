/*
 * peer_fcontext.c - Boost.Context's fcontext as a peer: the bare assembly
 * switch under boost::context, the usual yardstick for a fast one. Built
 * only where libboost_context is found (see bench/CMakeLists.txt).
 *
 * switch: jump_fcontext() into a context that jump_fcontext()s straight
 *         back; one round trip, two jumps.
 * create: make_fcontext() on a pooled stack, jump_fcontext() in, and the
 *         function's last act is to jump back out (a context function must
 *         never return: Boost would _exit the process); its stack is then
 *         reused, as boost::context::callcc does at the end of a context.
 */
#include <errno.h>
#include <stdlib.h>

#include "harness.h"
#include "peer_stack.h"

/*
 * Boost 1.74's C ABI (boost/context/detail/fcontext.hpp, extern "C"):
 * fcontext_t is a context's saved stack pointer, transfer_t what a jump
 * hands over. Spelled without the _t suffix here, as weft spells its types.
 */
typedef void *fcontext;
struct transfer {
    fcontext fctx; /* the context that jumped to us */
    void *data;    /* the value it passed */
};

struct transfer jump_fcontext(fcontext const to, void *vp);
fcontext make_fcontext(void *sp, size_t size, void (*fn)(struct transfer));

/* Jumps back at once, forever; abandoned when the run ends. */
static void ponger(struct transfer t)
{
    for (;;)
        t = jump_fcontext(t.fctx, t.data);
}

/* Hands its data back to the caller and is never resumed. */
static void finisher(struct transfer t)
{
    jump_fcontext(t.fctx, t.data);
    abort();
}

static int run_switch(uint64_t iters, struct bench_sample *out)
{
    char *lo = peer_stack_get();
    if (!lo)
        return -ENOMEM;
    fcontext ctx = make_fcontext(lo + PEER_STACK_SIZE, PEER_STACK_SIZE, ponger);
    struct transfer t = jump_fcontext(ctx, NULL); /* start it: now in its loop */

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        t = jump_fcontext(t.fctx, NULL);
    uint64_t t1 = bench_now_ns();

    bench_use(t.data);
    peer_stack_put(lo);
    out->ns = (double)(t1 - t0);
    return 0;
}

static int run_create(uint64_t iters, struct bench_sample *out)
{
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        char *lo = peer_stack_get();
        if (!lo)
            return -ENOMEM;
        fcontext ctx = make_fcontext(lo + PEER_STACK_SIZE, PEER_STACK_SIZE, finisher);
        struct transfer t = jump_fcontext(ctx, &i);
        peer_stack_put(lo);
        if (t.data != &i)
            return -EPROTO;
    }
    uint64_t t1 = bench_now_ns();
    out->ns = (double)(t1 - t0);
    return 0;
}

void peer_fcontext_register(void)
{
    bench_register(&(struct bench){"switch", "boost_fcontext", run_switch, 0, 0});
    bench_register(&(struct bench){"create", "boost_fcontext", run_create, 0, 0});
}
