/*
 * bench_timer_heap.c - "timer_heap": weft's internal timer min-heap
 * (src/timer_heap.h), the structure every sleep, timeout and call_later
 * goes through. A run inserts `iters` timers (1,000,000 unless --iters)
 * with random deadlines from a fixed-seed PRNG into an empty heap, then pops
 * them all; ns_per_op is that total per timer (one insert + one pop). The
 * heap's array starts empty and grows as the loop's does; the timers and
 * their deadlines are made and touched before the timing. The pops are
 * checked to come out in deadline order.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "timer_heap.h"

#include "harness.h"

enum { TIMERS = 1000000 };

/* splitmix64: a fixed seed gives every run the same deadlines. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int run_timer_heap(uint64_t iters, struct bench_sample *out)
{
    struct weft__timer_heap heap = WEFT__TIMER_HEAP_INIT;
    struct weft__timer *timers = malloc(iters * sizeof *timers);
    int64_t *deadlines = malloc(iters * sizeof *deadlines);
    uint64_t seed = 42, popped = 0;
    int64_t last = INT64_MIN;
    int rc = 0;
    if (!timers || !deadlines) {
        rc = -ENOMEM;
        goto out;
    }
    memset(timers, 0, iters * sizeof *timers); /* resident, in no heap */
    for (uint64_t i = 0; i < iters; i++)
        deadlines[i] = (int64_t)(next_random(&seed) >> 24); /* 40 bits: ~18 min in ns */

    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < iters; i++)
        if ((rc = weft__timer_heap_insert(&heap, &timers[i], deadlines[i])) < 0)
            goto out;
    struct weft__timer *t;
    while ((t = weft__timer_heap_pop(&heap))) {
        rc |= t->deadline < last; /* out of order */
        last = t->deadline;
        popped++;
    }
    uint64_t t1 = bench_now_ns();

    out->ns = (double)(t1 - t0);
    if (rc || popped != iters)
        rc = -EPROTO;
out:
    weft__timer_heap_free(&heap);
    free(deadlines);
    free(timers);
    return rc;
}

void bench_timer_heap_register(void)
{
    bench_register(&(struct bench){"timer_heap", "weft", run_timer_heap, TIMERS, 0});
}
