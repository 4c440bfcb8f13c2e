/*
 * bench_memory.c - "memory" for weft: resident bytes per idle coroutine
 * with the default stack. A run creates `iters` coroutines (10,000 unless
 * --iters says otherwise), resumes each once so that it sits suspended in
 * weft_coro_yield(), and divides the growth of the resident set size by the
 * count. The page tables the stacks need are reported apart (VmPTE), as the
 * kernel does not count them in RSS. ns_per_op is the time to create and
 * first resume one coroutine with a cold pool (fresh slabs, page faults and
 * guard pages included).
 *
 * Each run happens in a child process forked for it (bench_forked()), so
 * the stacks created by one run (pooled, resident) cannot hide the cost in
 * the next. The child inherits at most the few free slots the parent's own
 * benchmarks left in its pool, which is noise against 10,000.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <weft/coro.h>

#include "harness.h"

enum {
    IDLE_COROS = 10000        /* coroutines per run, unless --iters */
};

static void *idler(void *arg, void *in)
{
    (void)arg;
    (void)in;
    weft_coro_yield(NULL, NULL); /* idle here until destroyed */
    return NULL;
}

/* Makes one coroutine and runs it to its first yield. */
static int spawn_idle(weft_coro **co)
{
    int rc = weft_coro_create(co, idler, NULL, NULL);
    if (rc < 0)
        return rc;
    rc = weft_coro_resume(*co, NULL, NULL);
    return rc == WEFT_CORO_YIELDED ? 0 : rc < 0 ? rc : -EPROTO;
}

/* The measurement, in the child (bench_forked()). */
static int measure(uint64_t n, struct bench_sample *out)
{
    int rc;
    weft_coro *warm, **cos = malloc(n * sizeof *cos);
    if (!cos)
        return -ENOMEM;
    memset(cos, 0, n * sizeof *cos); /* resident before the first reading */
    /* One-time costs (signal stack, pool set-up) stay out of the count. */
    if ((rc = spawn_idle(&warm)) < 0)
        return rc;
    weft_coro_destroy(warm);

    double rss0 = bench_rss_bytes(), pte0 = bench_status_bytes("VmPTE");
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++)
        if ((rc = spawn_idle(&cos[i])) < 0)
            return rc;
    uint64_t t1 = bench_now_ns();
    double rss1 = bench_rss_bytes(), pte1 = bench_status_bytes("VmPTE");

    bench_use(cos);
    out->ns = (double)(t1 - t0);
    out->bytes = rss0 < 0 || rss1 < 0 ? -1 : rss1 - rss0;
    out->pte_bytes = pte0 < 0 || pte1 < 0 ? -1 : pte1 - pte0;
    return 0;
}

static int run_memory(uint64_t iters, struct bench_sample *out)
{
    return bench_forked(measure, iters, out);
}

void bench_memory_register(void)
{
    bench_register(&(struct bench){"memory", "weft", run_memory, IDLE_COROS, 0});
}
