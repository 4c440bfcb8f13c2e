/*
 * bench_sleepers.c - "sleepers" for weft: many tasks each sleeping 10 ms
 * once on the real clock. The main task of a weft_run() spawns `iters`
 * detached tasks (100,000 for one row, 1,000,000 for the other) and waits
 * on a future that the last of them to wake resolves. The whole weft_run()
 * is timed: loop set-up, the spawns, every task's first run into
 * weft_sleep(), the 10 ms, the wake-ups through the timer heap, the ends,
 * and the loop's teardown.
 *
 * Each run happens in a child process forked for it (bench_forked()), with
 * the stacks of no earlier run in weft's pool: fresh slabs, guard pages and
 * page faults are part of the time, and the memory the run needs shows.
 * Extra fields: "tasks", "wall_ms" (the whole run) and "rss_per_task", the
 * growth of the peak resident set (VmHWM; reset by clear_refs just before
 * the run) over the run, divided by the tasks. pte_bytes_per_op is the
 * growth of the page tables (VmPTE, not in RSS), which stays after the run
 * as the stacks stay pooled. ns_per_op is the wall time per task.
 */
#include <errno.h>

#include <weft/sched.h>
#include <weft/task.h>

#include "harness.h"

#define SLEEP_NS WEFT_MSEC(10)

enum {
    SLEEPERS = 100000,     /* tasks of the first row */
    SLEEPERS_BIG = 1000000,/* tasks of the second row */
    BIG_RUNS = 3           /* runs of the second row (seconds each) */
};

struct sleepers_run {
    uint64_t tasks;        /* to spawn */
    uint64_t left;         /* not yet woken */
    int failed;            /* first error of a sleeper */
    weft_future all_woken; /* resolved by the last sleeper */
};

static int sleeper(void *arg, void **result)
{
    struct sleepers_run *s = arg;
    int rc = weft_sleep(SLEEP_NS);
    (void)result;
    if (rc < 0 && !s->failed)
        s->failed = rc;
    if (--s->left == 0)
        weft_future_set_result(&s->all_woken, NULL);
    return rc;
}

static int sleepers_main(void *arg, void **result)
{
    struct sleepers_run *s = arg;
    int rc;
    (void)result;
    for (uint64_t i = 0; i < s->tasks; i++)
        if ((rc = weft_spawn(NULL, sleeper, s, NULL)) < 0)
            return rc;  /* weft_run() cancels the ones spawned */
    if ((rc = weft_future_await(&s->all_woken, NULL)) < 0)
        return rc;
    return s->failed;
}

/* One run, in the child. */
static int measure(uint64_t tasks, struct bench_sample *out)
{
    struct sleepers_run s = {tasks, tasks, 0, WEFT_FUTURE_INIT};
    bench_reset_peak_rss(); /* without it VmHWM starts at the fork's RSS */
    double rss0 = bench_rss_bytes(), pte0 = bench_status_bytes("VmPTE");
    uint64_t t0 = bench_now_ns();
    int rc = weft_run(sleepers_main, &s, NULL);
    uint64_t t1 = bench_now_ns();
    double hwm = bench_status_bytes("VmHWM"), pte1 = bench_status_bytes("VmPTE");
    if (rc < 0)
        return rc;
    out->ns = (double)(t1 - t0);
    out->pte_bytes = pte0 < 0 || pte1 < 0 ? -1 : pte1 - pte0;
    bench_sample_set(out, "tasks", (double)tasks);
    bench_sample_set(out, "wall_ms", out->ns / 1e6);
    if (rss0 >= 0 && hwm >= 0)
        bench_sample_set(out, "rss_per_task", (hwm - rss0) / (double)tasks);
    return 0;
}

static int run_sleepers(uint64_t iters, struct bench_sample *out)
{
    return bench_forked(measure, iters, out);
}

void bench_sleepers_register(void)
{
    bench_register(&(struct bench){"sleepers", "weft", run_sleepers, SLEEPERS, 0});
    bench_register(&(struct bench){"sleepers", "weft", run_sleepers, SLEEPERS_BIG,
                                   BIG_RUNS});
}
